"""Find identifying data anywhere in one DICOM data set.

One walk over the data set (file meta, every element, every sequence item at
any depth) applies, per element and in this order of precedence:

``declaration.*``
    BurnedInAnnotation = YES; PatientIdentityRemoved = YES while direct
    identifiers remain (PS3.3 C.12.1 / PS3.15 E.1.1).
``sr.pname`` / ``sr.date`` / ``sr.datetime`` / ``sr.time``
    Structured-report content items (PS3.3 C.17.3) carrying a person, a date
    or a time.
``annex-e``
    A structured attribute of PS3.15 Table E.1-1 with a real value
    (``detail.action`` holds the profile action code).
``vr-pn``
    Any other non-empty PN value: a person name, wherever it is.
``free-text.<kind>``
    A descriptor, comment or SR TEXT item holding an identifier: the data
    set's own name parts, IDs or birth date (``free-text.propagation``) or a
    detected date, phone, e-mail, SSN, MRN-like ID, address or titled name.
``private.<kind>``
    A private element holding the same, whatever its VR (LO, UN, OB text),
    or named as identifying in pydicom's private dictionary
    (``private.creator``).
``propagation``
    Any other textual element holding the data set's own identifiers.

Placeholders written by de-identifiers (``ANONYMOUS``, ``00010101``...) are
never findings; in a data set that declares de-identification and holds no
direct identifier, replaced UIDs (and, with modified dates, dates) are not
findings either.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, get_private_entry, keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.filereader import read_sequence
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from dicomaudit.models import PhiFinding
from dicomaudit.phi.categories import (
    KIND_CATEGORY,
    KIND_SEVERITY,
    Category,
    Kind,
    worst,
)
from dicomaudit.phi.detectors import (
    PLACEHOLDER_WORDS as _PLACEHOLDERS,
)
from dicomaudit.phi.detectors import (
    detect,
    has_labelled_id,
    is_dummy_date,
    is_dummy_time,
    is_placeholder,
)
from dicomaudit.phi.inputs import exception_message
from dicomaudit.phi.masking import mask_value
from dicomaudit.phi.profile import Treatment, all_rules
from dicomaudit.phi.propagation import IndexBudgetExceeded, PropagationIndex
from dicomaudit.structure import MAX_DEPTH  # one limit for the file check and the walk

_BINARY_VRS = frozenset({"OB", "UN", "OW"})
_SKIP_PRIVATE_VRS = frozenset(
    {"US", "SS", "UL", "SL", "FL", "FD", "DS", "IS", "AT", "UV", "SV", "OF", "OD", "OL", "OV"}
)

_DIRECT_KINDS = frozenset({Kind.NAME, Kind.ID, Kind.SSN, Kind.ADDRESS, Kind.PHONE, Kind.EMAIL, Kind.BIRTH_DATE})

# Attributes that feed value propagation (PS3.3 C.7.1.1 Patient Module).
_BIRTH_DATE = 0x00100030
_ID_SOURCES = frozenset(
    {0x00100020, 0x00101000, 0x00080050, 0x00101090, 0x00380010, 0x00400050, 0x00120040, 0x00102154}
)
_SR_RULES = {0x0040A123: "sr.pname", 0x0040A121: "sr.date", 0x0040A120: "sr.datetime", 0x0040A122: "sr.time"}
_SR_TEXT = 0x0040A160
_VALUE_TYPE = 0x0040A040
_CONCEPT_NAME = 0x0040A043
_BURNED_IN = 0x00280301
_IDENTITY_REMOVED = 0x00120062
_DEID_METHOD = 0x00120063
_DEID_METHOD_CODES = 0x00120064
_LONGITUDINAL = 0x00280303
_SPECIFIC_CHARSET = 0x00080005

# Names of private elements (pydicom's private dictionary) that say the
# element carries identity, e.g. MITRA "Global Patient ID", SECTRA "Request
# number", "Patient's Name Ideographic".
_PRIVATE_NAME_KINDS: tuple[tuple[re.Pattern[str], Kind], ...] = (
    (re.compile(r"birth\s*date|date of birth", re.IGNORECASE), Kind.BIRTH_DATE),
    (re.compile(r"patient'?s?\s+name|physician|operator|performer|referring|requesting|"
                r"radiologist|technologist|author|person\s+name|user\s*name|reader", re.IGNORECASE), Kind.NAME),
    (re.compile(r"patient\s*id|global patient|accession|request number|examination number|"
                r"medical record|mrn|order number|patient number|visit number", re.IGNORECASE), Kind.ID),
    (re.compile(r"address|street", re.IGNORECASE), Kind.ADDRESS),
    (re.compile(r"phone|telephone", re.IGNORECASE), Kind.PHONE),
    (re.compile(r"e-?mail", re.IGNORECASE), Kind.EMAIL),
    (re.compile(r"institution|hospital|assigning authority", re.IGNORECASE), Kind.INSTITUTION),
)  # fmt: skip

#: Private creators outside pydicom's dictionary known to carry identity:
#: RSNA Clinical Trial Processor (CTP) trial/site blocks.
_EXTRA_PRIVATE: dict[tuple[str, int], tuple[str, Kind]] = {
    ("CTP", 0x10): ("Project Name", Kind.INSTITUTION),
    ("CTP", 0x11): ("Trial Name", Kind.INSTITUTION),
    ("CTP", 0x12): ("Site Name", Kind.INSTITUTION),
    ("CTP", 0x13): ("Site ID", Kind.INSTITUTION),
}


class _RedactQuotedValues(logging.Filter):
    """Mask quoted values in pydicom's log records.

    pydicom logs (and warns) about invalid element values by quoting them
    (``Invalid value for VR DA: '1985031x'``); an application that shows
    WARNING logs would otherwise print header values unmasked.  The message
    keeps its meaning, the value is replaced by its mask.
    """

    _QUOTED = re.compile(r"'([^']{1,200})'|\"([^\"]{1,200})\"")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._QUOTED.sub(lambda m: repr(mask_value(m.group(1) or m.group(2) or "")), message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _install_log_redaction() -> None:
    logger = logging.getLogger("pydicom")
    if not any(isinstance(f, _RedactQuotedValues) for f in logger.filters):
        logger.addFilter(_RedactQuotedValues())


_install_log_redaction()


class PhiAnalysisError(ValueError):
    """The data set cannot be analysed (malformed, nested too deep...)."""


_TAG_STR_CACHE: dict[int, str] = {}


def tag_str(tag: int) -> str:
    """``0x00100010`` -> ``"(0010,0010)"`` (upper-case hex, as in the contract)."""
    text = _TAG_STR_CACHE.get(tag)
    if text is None:
        text = _TAG_STR_CACHE[tag] = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return text


_NAME_CACHE: dict[int, str] = {}
_KEYWORD_CACHE: dict[int, str] = {}


def element_keyword(tag: int) -> str:
    """pydicom keyword of a public tag; ``""`` for private and unknown tags."""
    kw = _KEYWORD_CACHE.get(tag)
    if kw is None:
        kw = "" if (tag >> 16) & 1 else keyword_for_tag(tag)
        _KEYWORD_CACHE[tag] = kw
    return kw


def element_name(tag: int) -> str:
    """Path component of a tag: its keyword, else ``(GGGG,EEEE)``."""
    name = _NAME_CACHE.get(tag)
    if name is None:
        name = element_keyword(tag) or tag_str(tag)
        _NAME_CACHE[tag] = name
    return name


def _text_of(value: Any) -> str:
    """Text of a (possibly multi-valued) element value."""
    if isinstance(value, (MultiValue, list, tuple)):
        return "\\".join(str(v) for v in value if v is not None)
    return "" if value is None else str(value)


def _private_dict_kind(creator: str | None, tag: int) -> tuple[str, Kind] | None:
    if not creator:
        return None
    extra = _EXTRA_PRIVATE.get((creator.strip(), tag & 0xFF))
    if extra:
        return extra
    try:
        _, _, name, _ = get_private_entry(tag, creator)
    except (KeyError, ValueError):
        return None
    for rx, kind in _PRIVATE_NAME_KINDS:
        if rx.search(name):
            return name, kind
    return None


_ITEM_STARTS = (b"\xfe\xff\x00\xe0",)  # (FFFE,E000) Item, little endian


def _parse_un_sequence(value: bytes, encodings: list[str]) -> Sequence | None:
    """Items of a UN value that holds an implicit-VR sequence, else None."""
    try:
        seq = read_sequence(io.BytesIO(value), True, True, len(value), encodings)
    except Exception:  # noqa: BLE001 - not a sequence after all
        return None
    return seq if len(seq) else None


def _decode_private_bytes(value: bytes, encodings: list[str]) -> str | None:
    """Text in an OB/UN private value, or None when it is binary data."""
    raw = value.rstrip(b"\x00 ").lstrip(b" ")
    # Text stored as OB/UN is padded at the end only; interior NULs mean a
    # binary vendor structure (whose stray digit groups are not identifiers).
    if len(raw) < 2 or len(raw) > 65536 or b"\x00" in raw:
        return None
    try:
        text = decode_bytes(raw, encodings, set())
    except Exception:  # noqa: BLE001 - undecodable means binary here
        return None
    visible = [c for c in text if not c.isspace()]
    printable = sum(c.isprintable() for c in visible)
    return text if visible and printable >= 0.95 * len(visible) else None


@dataclass(slots=True)
class _Pending:
    """An element whose verdict needs the data set's propagation index."""

    path: str
    tag: int
    vr: str
    text: str
    mode: str  # "text" | "private" | "other"
    action: str | None
    item: Dataset
    creator: str | None = None
    order: int = 0


_VR_CACHE: dict[int, str] = {}


def _dictionary_vr(tag: int) -> str:
    """VR of a public tag for implicit-VR raw elements (first of "US or SS")."""
    vr = _VR_CACHE.get(tag)
    if vr is None:
        try:
            vr = dictionary_VR(tag).split(" ")[0]
        except KeyError:
            vr = "UN"
        _VR_CACHE[tag] = vr
    return vr


def _ascii(value: bytes) -> str | None:
    """Fast decode of a raw text value that is plain ASCII, else None.

    Most header text is ASCII; decoding it directly skips pydicom's element
    conversion (validation, multi-value splitting).  Anything else, and ISO
    2022 escape sequences, goes through pydicom's charset handling.
    """
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    if "\x1b" in text:
        return None
    return text.strip(" \x00")


@dataclass
class _Walk:
    source: str
    show_values: bool
    findings: list[PhiFinding] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)
    index: PropagationIndex = field(default_factory=PropagationIndex)
    kinds: dict[str, Kind] = field(default_factory=dict)  # path -> kind
    #: The data set declares de-identification (PS3.15 E.1.1): structured
    #: IDs and code-like names may be pseudonyms the de-identifier wrote.
    declared: bool = False
    pseudonyms: set[str] = field(default_factory=set)  # paths
    orders: dict[str, int] = field(default_factory=dict)  # path -> position in the walk
    position: int = 0

    # -- emitting ---------------------------------------------------------
    def emit(
        self,
        path: str,
        tag: int,
        vr: str,
        kind: Kind,
        rule: str,
        text: str,
        category: Category | None = None,
        detail: dict[str, Any] | None = None,
        mask: bool = True,
        order: int | None = None,
    ) -> None:
        self.orders[path] = self.position if order is None else order
        self.findings.append(
            PhiFinding(
                source=self.source,
                path=path,
                tag=tag_str(tag),
                keyword=element_keyword(tag),
                vr=vr,
                category=(category or KIND_CATEGORY[kind]).value,
                rule=rule,
                severity=KIND_SEVERITY[kind],
                value=text if (self.show_values or not mask) else mask_value(text),
                detail={"kind": kind.value, **(detail or {})},
            )
        )
        self.kinds[path] = kind

    # -- walking ----------------------------------------------------------
    def walk(self, ds: Dataset, prefix: str, encodings: list[str], depth: int) -> None:
        """Visit every element of ``ds`` (and its items), converting only
        the elements that can carry identity."""
        if depth > MAX_DEPTH:
            raise PhiAnalysisError(f"sequences nested deeper than {MAX_DEPTH} levels")
        store = ds._dict  # raw elements in file order; pydicom converts on access
        if _SPECIFIC_CHARSET in store:
            encodings = _encodings(ds)
        rules = all_rules()
        for key, raw in sorted(store.items()):  # files are sorted already; built data sets may not be
            self.position += 1
            tag = int(key)
            if isinstance(raw, RawDataElement):
                if raw.length == 0 or raw.value is None:
                    continue
                vr = raw.VR or ("UN" if tag & 0x10000 else _dictionary_vr(tag))
            else:
                vr = raw.VR
                if vr != "SQ" and raw.is_empty:
                    continue
            if vr == "SQ":
                name = element_name(tag)
                for i, item in enumerate(ds[tag].value or ()):
                    self.walk(item, f"{prefix}{name}[{i}].", encodings, depth + 1)
                continue
            if tag & 0x00010000:  # odd group: private
                if (tag & 0xFFFF) >= 0x0100:  # creators themselves are not data
                    self.private(ds, tag, vr, raw, prefix, encodings, depth)
                continue
            rule = rules.get(tag)
            if rule is None:
                if vr == "PN":
                    self.person(ds, tag, raw, None, prefix)
                elif vr in _OTHER_TEXT_VRS:
                    self.pending.append(_Pending(prefix + element_name(tag), tag, vr, _text(ds, tag, raw), "other",
                                                 None, ds, order=self.position))  # fmt: skip
                elif tag == _BURNED_IN and _text(ds, tag, raw).upper() == "YES":
                    self.emit(prefix + element_name(tag), tag, vr, Kind.DECLARATION, "declaration.burned-in", "YES",
                              mask=False, detail={"reason": "pixel data declared to carry burned-in annotation"})  # fmt: skip
                continue
            if vr == "PN":
                self.person(ds, tag, raw, rule.action, prefix)
            elif rule.treatment is Treatment.FIXED or (rule.treatment is Treatment.TEXT and vr in _FIXED_BY_VR):
                self.fixed(ds, tag, vr, raw, rule.kind, rule.action, prefix)
            elif rule.treatment is Treatment.TEXT and vr not in _BINARY_VRS and vr not in _SKIP_PRIVATE_VRS:
                self.pending.append(_Pending(prefix + element_name(tag), tag, vr, _text(ds, tag, raw), "text",
                                             rule.action, ds, order=self.position))  # fmt: skip

    def person(self, ds: Dataset, tag: int, raw: Any, action: str | None, prefix: str) -> None:
        """A PN value: always a person (VR rule), unless a placeholder."""
        text = _text(ds, tag, raw)
        if is_placeholder(text):
            return
        path = prefix + element_name(tag)
        if self.declared and _code_like_name(text):
            self.pseudonyms.add(path)
        else:
            self.index.add_name(text)
        if tag in _SR_RULES:
            self.emit(path, tag, "PN", Kind.NAME, "sr.pname", text, detail=_concept(ds))
        elif action:
            self.emit(path, tag, "PN", Kind.NAME, "annex-e", text, detail={"action": action})
        else:
            self.emit(path, tag, "PN", Kind.NAME, "vr-pn", text)

    def fixed(self, ds: Dataset, tag: int, vr: str, raw: Any, kind: Kind | None,
              action: str | None, prefix: str) -> None:  # fmt: skip
        """A structured Table E.1-1 attribute: any real value is a finding."""
        if kind is None:
            kind = _VR_KIND[vr]
        text = _text(ds, tag, raw)
        if not text:
            return
        if kind is Kind.DATE or kind is Kind.TIME:
            if vr == "TM" or kind is Kind.TIME:
                if all(is_dummy_time(v) for v in text.split("\\")):
                    return
            elif all(is_dummy_date(v) for v in text.split("\\")):
                return
            if tag == _BIRTH_DATE:
                kind = Kind.BIRTH_DATE
                self.index.add_birth_date(text)
        elif kind is not Kind.UID and is_placeholder(text):
            return
        path = prefix + element_name(tag)
        if kind is Kind.ID:
            if len(text) < 3:
                return  # "1", "42": a counter, identifies nothing on its own
            if self.declared:
                self.pseudonyms.add(path)
            elif tag in _ID_SOURCES:
                self.index.add_id(text)
        if tag in _SR_RULES:
            self.emit(path, tag, vr, kind, _SR_RULES[tag], text, detail={"action": action, **_concept(ds)})
        else:
            self.emit(path, tag, vr, kind, "annex-e", text, detail={"action": action})

    def private(self, ds: Dataset, tag: int, vr: str, raw: Any, prefix: str, encodings: list[str],
                depth: int) -> None:  # fmt: skip
        """Private element: dictionary identity, PN, or text to scan later."""
        if vr in _SKIP_PRIVATE_VRS:
            return
        path = prefix + element_name(tag)
        value = raw.value
        if isinstance(value, (bytes, bytearray)) and vr in ("UN", "OB", "OW"):
            if value[:4] in _ITEM_STARTS:
                # A private sequence read as UN (implicit VR, defined length;
                # PS3.5 6.2.2): parse and walk its items like any sequence.
                seq = _parse_un_sequence(bytes(value), encodings)
                if seq is not None:
                    for i, item in enumerate(seq):
                        self.walk(item, f"{path}[{i}].", encodings, depth + 1)
                    return
            text = _decode_private_bytes(bytes(value), encodings)
            if text is None:
                return
        else:
            text = _text(ds, tag, raw)
        if not text.strip() or is_placeholder(text):
            return
        creator = _private_creator(ds, tag)
        known = _private_dict_kind(creator, tag)
        detail = {"creator": creator} if creator else {}
        if known is not None:
            name, kind = known
            if kind is Kind.NAME:
                self.index.add_name(text)
            elif kind is Kind.ID:
                self.index.add_id(text)
            self.emit(path, tag, vr, kind, "private.creator", text, Category.PRIVATE, {**detail, "name": name})
            return
        if vr == "PN":
            self.index.add_name(text)
            self.emit(path, tag, vr, Kind.NAME, "vr-pn", text, Category.PRIVATE, detail)
            return
        if vr in ("DA", "DT"):
            if not all(is_dummy_date(v) for v in text.split("\\")):
                self.emit(path, tag, vr, Kind.DATE, "private.date", text, Category.PRIVATE, detail)
            return
        if vr in ("UI", "TM"):
            return  # private UIDs/times: opaque vendor data, not scanned
        self.pending.append(_Pending(path, tag, vr, text, "private", None, ds, creator, self.position))

    # -- second pass: propagation and detectors ---------------------------
    def resolve(self) -> None:
        for p in self.pending:
            found = self.index.search(p.text) if self.index else set()
            propagated = bool(found)
            if p.mode == "other":
                if found:
                    self.emit(p.path, p.tag, p.vr, worst(found), "propagation", p.text,
                              detail={"matches": sorted(k.value for k in found)}, order=p.order)  # fmt: skip
                continue
            detected = detect(p.text)
            if p.mode == "private" and Kind.ID in detected and not has_labelled_id(p.text):
                # Long bare numbers are common vendor counters in private
                # blocks; IDs there are found by propagation instead.
                detected.discard(Kind.ID)
            found |= detected
            if not found:
                continue
            kind = worst(found)
            head = "propagation" if propagated else kind.value
            detail: dict[str, Any] = {"matches": sorted(k.value for k in found)}
            if p.mode == "private":
                if p.creator:
                    detail["creator"] = p.creator
                self.emit(p.path, p.tag, p.vr, kind, f"private.{head}", p.text, Category.PRIVATE, detail,
                          order=p.order)  # fmt: skip
            else:
                if p.action:
                    detail["action"] = p.action
                if p.tag == _SR_TEXT:
                    detail.update({"value_type": "TEXT", **_concept(p.item)})
                self.emit(p.path, p.tag, p.vr, kind, f"free-text.{head}", p.text, Category.FREE_TEXT, detail,
                          order=p.order)  # fmt: skip


_OTHER_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC"})
_FIXED_BY_VR = frozenset({"DA", "DT", "TM", "UI"})
_VR_KIND = {"DA": Kind.DATE, "DT": Kind.DATE, "TM": Kind.TIME, "UI": Kind.UID}


def _text(ds: Dataset, tag: int, raw: Any) -> str:
    """Decoded text of an element, raw or converted (multi-values joined by ``\\``)."""
    if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes):
        fast = _ascii(raw.value)
        if fast is not None:
            return fast
        raw = ds[tag]  # pydicom decodes per SpecificCharacterSet (PS3.5 6.1)
    return _text_of(raw.value).strip(" \x00")


def _private_creator(ds: Dataset, tag: int) -> str | None:
    """The Private Creator of a private element (PS3.5 7.8.1)."""
    creator_tag = (tag & 0xFFFF0000) | ((tag >> 8) & 0xFF)
    raw = ds._dict.get(creator_tag)  # type: ignore[call-overload]
    if raw is None:
        return None
    value = raw.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00") or None
    return str(value).strip() or None


_HAS_DIGIT = re.compile(r"\d")


def _code_like_name(value: str) -> bool:
    """A PN value made of codes (``CQ500-CT-310``), as pseudonymisers write."""
    parts = [p for p in re.split(r"[\^=\s\\]+", value) if p]
    return bool(parts) and all(_HAS_DIGIT.search(p) or p.upper() in _PLACEHOLDERS for p in parts)


def _concept(item: Dataset) -> dict[str, Any]:
    """SR content item context: value type and concept name meaning."""
    out: dict[str, Any] = {}
    vt = item.get(_VALUE_TYPE)
    if vt is not None and vt.value:
        out["value_type"] = str(vt.value)
    cn = item.get(_CONCEPT_NAME)
    if cn is not None and cn.value:
        meaning = cn.value[0].get("CodeMeaning")
        if meaning:
            out["concept"] = str(meaning)
    return out


def _encodings(ds: Dataset) -> list[str]:
    """Python codecs for a data set's SpecificCharacterSet (PS3.5 6.1).

    A missing or misspelt value falls back to pydicom's handling (which
    warns and uses the default repertoire) so the element is still scanned.
    """
    value = ds.get(_SPECIFIC_CHARSET)
    try:
        return convert_encodings(value.value if value is not None else None)
    except Exception:  # noqa: BLE001
        return ["iso8859"]


def _is_declared(ds: Dataset) -> bool:
    """Does the data set declare de-identification (PS3.3 C.7.1.1)?"""
    removed = ds.get(_IDENTITY_REMOVED)
    if removed is not None and str(removed.value).strip().upper() == "YES":
        return True
    return any(ds.get(t) is not None and ds[t].value for t in (_DEID_METHOD, _DEID_METHOD_CODES))


def _declarations(ds: Dataset, walk: _Walk) -> None:
    """De-identification declarations versus what the walk found."""
    removed = ds.get(_IDENTITY_REMOVED)
    removed_yes = removed is not None and str(removed.value).strip().upper() == "YES"
    remaining = [p for p, k in walk.kinds.items() if k in _DIRECT_KINDS and p not in walk.pseudonyms]
    if walk.declared and not remaining:
        # PS3.15 E.1.1: a de-identifier replaces UIDs (action U), may write
        # pseudonymous IDs and names (action D) and, with the Modified Dates
        # option, shifts dates; their presence is expected.
        modified = ds.get(_LONGITUDINAL)
        drop = {Kind.UID}
        if modified is not None and str(modified.value).strip().upper() == "MODIFIED":
            drop |= {Kind.DATE, Kind.TIME}
        walk.findings = [
            f for f in walk.findings if Kind(f.detail["kind"]) not in drop and f.path not in walk.pseudonyms
        ]
    if removed_yes and remaining:
        walk.emit(
            "PatientIdentityRemoved", _IDENTITY_REMOVED, "CS", Kind.DECLARATION, "declaration.identity-removed", "YES",
            detail={"reason": "declared de-identified but direct identifiers remain",
                    "remaining": len(remaining)},
            mask=False,
        )  # fmt: skip


def analyze_dataset(ds: Dataset, source: str, *, show_values: bool = False) -> list[PhiFinding]:
    """Every identifying value in one data set (file or C-FIND identifier).

    Parameters
    ----------
    ds
        The data set; its ``file_meta`` (if any) is walked too.
    source
        What to record as :attr:`PhiFinding.source` (path as given, or the
        target and query for network responses).
    show_values
        Keep values unmasked (``--show-values``).  Default: masked with
        :func:`~dicomaudit.phi.masking.mask_value`.

    Returns
    -------
    list of PhiFinding
        One finding per identifying element, in data set order.

    Raises
    ------
    PhiAnalysisError
        When the data set cannot be walked (nesting deeper than
        :data:`MAX_DEPTH`, an element pydicom cannot decode).
    """
    walk = _Walk(source=source, show_values=show_values)
    with warnings.catch_warnings():
        # Charset and VR warnings from pydicom: we fall back and carry on, and
        # warnings could otherwise echo raw values to the console.
        warnings.simplefilter("ignore")
        try:
            encodings = _encodings(ds)
            walk.declared = _is_declared(ds)
            meta = getattr(ds, "file_meta", None)
            if meta is not None:
                walk.walk(meta, "", encodings, 0)
            walk.walk(ds, "", encodings, 0)
            walk.resolve()
            _declarations(ds, walk)
            walk.findings.sort(key=lambda f: walk.orders.get(f.path, 0))
        except PhiAnalysisError:
            raise
        except IndexBudgetExceeded as exc:  # a crafted data set: bounded time, honest reason
            raise PhiAnalysisError(str(exc)) from None
        except RecursionError:
            raise PhiAnalysisError("sequences nested too deep to walk") from None
        except Exception as exc:  # noqa: BLE001 - any pydicom decoding failure
            message = exception_message(exc)  # pydicom's words, quoted values masked
            raise PhiAnalysisError(
                f"cannot decode data set: {type(exc).__name__}" + (f": {message}" if message else "")
            ) from None
    return walk.findings
