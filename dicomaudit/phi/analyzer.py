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
``safe-harbor.age``
    An age (AS: PatientAge) over 89 years, HIPAA Safe Harbor
    164.514(b)(2)(i)(C): ``090Y`` and above, or the same in months, weeks or
    days (a value without a unit is read as years).  Younger ages are not
    findings.
``vr-pn``
    Any other non-empty PN value: a person name, wherever it is.
``person-code``
    The Code Meaning (a name, kind ``name``) and Code Value (an ID, kind
    ``id``) of a code that identifies a person (PS3.3 10.1, 10.2): items of
    Person Identification Code Sequence (0040,1101), Verifying Observer
    Identification Code Sequence (0040,A088), Human Performer Code Sequence
    (0040,4009), of the sequences built on the Person Identification Macro
    (Operator, Referring/Performing/Requesting Physician, Physicians of
    Record/Reading Study, Intended Recipients, Content Creator Identification
    sequences) when they hold a code directly, and the Concept Code Sequence
    of an SR CODE item whose concept name is a person's name (Person Observer
    Name 121008, Person Name 113870, Subject Name 121029...).  The concept
    names themselves (``Person Observer Name``) are vocabulary, never findings.
``free-text.<kind>``
    A descriptor, comment or SR TEXT item holding an identifier: the data
    set's own name parts, IDs or birth date (``free-text.propagation``,
    matched across accents and scripts: see :mod:`~dicomaudit.phi.propagation`),
    a caret-form name (``free-text.caret-name``: see
    :mod:`~dicomaudit.phi.roles`) or a detected date, phone, e-mail, SSN,
    MRN-like ID, address or titled name.  An SR TEXT item whose concept is a
    person's name or ID (Person Observer's Login Name...) is one of those.
``private.<kind>``
    A private element holding the same, whatever its VR (LO, UN, OB text),
    or named as identifying in pydicom's private dictionary
    (``private.creator``).
``propagation`` / ``caret-name``
    Any other textual element holding the data set's own identifiers, or a
    caret-form name (LO, SH, LT, ST, UT, UC).

Placeholders written by de-identifiers (``ANONYMOUS``, ``00010101``...) are
never findings, nor are person names that are only a role (``SELF^REFERRED``,
``TECH``: :mod:`~dicomaudit.phi.roles`, extensible with a TOML file named by
``DICOMAUDIT_PHI_ROLES`` or passed as ``roles=``); in a data set that declares
de-identification and holds no direct identifier, replaced UIDs (and, with
modified dates, dates) are not findings either.

Broken sequences are errors, not junk (:class:`PhiAnalysisError`, which a
file run reports in ``errors`` as ``malformed DICOM file: <reason>``).
pydicom reads leniently, and :mod:`dicomaudit.structure` has already
rejected a file whose encoding does not hold together (a sequence of
undefined length without its delimiter, bytes that are not items in a
sequence of defined length...).  What the walk adds, for files and network
data sets alike:

* a public attribute that the data dictionary makes a sequence (SQ) but that
  is encoded with another VR than SQ or UN (``OB``, ``LO``...): pydicom would
  read the items' bytes as a blob or as text;
* a public sequence encoded as UN (PS3.5 6.2.2: its value is then implicit
  VR little endian) whose bytes are not well-formed items: pydicom would turn
  them into made-up items.  Well-formed, it is walked like any sequence;
* a sequence value that pydicom cannot read, or reads as something other
  than a sequence of data sets.

Legal encodings are never errors: a sequence of zero items (length 0, or an
undefined length that ends with its delimiter at once), an empty item, an
empty UN value.  A *private* value that starts like an item but does not hold
well-formed items is vendor data (a private VR UN may hold anything) and is
treated as bytes, not as an error.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import DicomDictionary, dictionary_VR, get_private_entry, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.filereader import read_sequence
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from dicomaudit.models import PhiFinding, Severity
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
from dicomaudit.phi.locale import DetectionContext, context_for
from dicomaudit.phi.masking import mask_value
from dicomaudit.phi.profile import Treatment, all_rules
from dicomaudit.phi.propagation import IndexBudgetExceeded, PropagationIndex
from dicomaudit.phi.roles import RoleSet, default_roles
from dicomaudit.structure import (
    MAX_DEPTH,  # one limit for the file check and the walk
    StructureError,
    check_encoded,
)

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
_CONCEPT_CODE = 0x0040A168
_CODE_MEANING = 0x00080104
#: Code Value, Long Code Value, URN Code Value, Code Meaning (PS3.3 8.8).
_CODE_VALUE = 0x00080100
_CODING_SCHEME = 0x00080102
_CODE_TAGS = frozenset({_CODE_VALUE, 0x00080119, 0x00080120, _CODE_MEANING})


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(t for t in map(tag_for_keyword, keywords) if t is not None)


#: Sequences whose items are codes of a person (their Code Meaning "may be
#: encoded according to the rules of the PN VR", PS3.3 10.1/10.2), and those
#: built on the Person Identification Macro (PS3.3 Table 10-1), whose items
#: should nest a Person Identification Code Sequence but sometimes hold the
#: code directly.
_PERSON_CODE_SEQUENCES = _tags(
    "PersonIdentificationCodeSequence",
    "VerifyingObserverIdentificationCodeSequence",
    "HumanPerformerCodeSequence",
    "OperatorIdentificationSequence",
    "ReferringPhysicianIdentificationSequence",
    "PerformingPhysicianIdentificationSequence",
    "PhysiciansOfRecordIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence",
    "RequestingPhysicianIdentificationSequence",
    "ScheduledPerformingPhysicianIdentificationSequence",
    "IntendedRecipientsOfResultsIdentificationSequence",
    "ContentCreatorIdentificationCodeSequence",
)

#: SR concept names (DCM code, and meaning for local codes) whose value is a
#: person's name or identifier (PS3.16 TID 1003, 1007, 1020...).
_PERSON_CONCEPT_CODES: dict[str, Kind] = {
    "121008": Kind.NAME,  # Person Observer Name
    "113870": Kind.NAME,  # Person Name
    "121029": Kind.NAME,  # Subject Name
    "121114": Kind.NAME,  # Performing Physician
    "121152": Kind.NAME,  # Person administering drug/contrast
    "113871": Kind.ID,  # Person ID
    "121030": Kind.ID,  # Subject ID
    "128774": Kind.ID,  # Person Observer's Login Name
    "128775": Kind.ID,  # Identifier within Person Observer's Role
    "121009": Kind.INSTITUTION,  # Person Observer's Organization Name (TID 1003): an Annex E InstitutionName
}
_PERSON_CONCEPT_MEANINGS: dict[str, Kind] = {
    "person observer name": Kind.NAME,
    "person name": Kind.NAME,
    "subject name": Kind.NAME,
    "performing physician": Kind.NAME,
    "person administering drug/contrast": Kind.NAME,
    "recording observer": Kind.NAME,
    "verifying observer": Kind.NAME,
    "verifying observer name": Kind.NAME,
    "observer name": Kind.NAME,
    "referring physician": Kind.NAME,
    "requesting physician": Kind.NAME,
    "person id": Kind.ID,
    "subject id": Kind.ID,
    "person observer's login name": Kind.ID,
    "identifier within person observer's role": Kind.ID,
    "person observer's organization name": Kind.INSTITUTION,
}

#: Public attributes the data dictionary makes sequences.
_SQ_TAGS = frozenset(tag for tag, entry in DicomDictionary.items() if entry[0] == "SQ")
#: A plain public sequence, the stand-in under which a UN value's items are checked.
_SURROGATE_SQ = 0x00081110  # ReferencedStudySequence
#: VRs in which a caret-form name is looked for (private OB/UN hold decoded text here).
_CARET_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC", "UN", "OB", "OW"})

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
    (re.compile(r"institution|hospital|assigning authority|station\s*name", re.IGNORECASE), Kind.INSTITUTION),
)  # fmt: skip

#: Private elements the vendor's dictionary names as a version stamp
#: (Siemens "CSA Image Header Version" = "20100114", GE "software_version"):
#: product data written like a date, identifying nobody.
_PRIVATE_VERSION_NAME = re.compile(r"version", re.IGNORECASE)

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


@functools.lru_cache(maxsize=4096)
def _private_entry(creator: str, tag: int) -> tuple[str, str] | None:
    """``(VR, name)`` of a private element in pydicom's private dictionary; None when it is not there."""
    try:
        vr, _, name, _ = get_private_entry(tag, creator)
    except (KeyError, ValueError):
        return None
    return str(vr), str(name)


def _private_dict_kind(creator: str | None, tag: int) -> tuple[str, Kind] | None:
    if not creator:
        return None
    extra = _EXTRA_PRIVATE.get((creator.strip(), tag & 0xFF))
    if extra:
        return extra
    entry = _private_entry(creator, tag)
    if entry is None:
        return None
    name = entry[1]
    for rx, kind in _PRIVATE_NAME_KINDS:
        if rx.search(name):
            return name, kind
    return None


_ITEM_STARTS = (b"\xfe\xff\x00\xe0",)  # (FFFE,E000) Item, little endian


def _un_items(value: bytes, encodings: list[str]) -> Sequence:
    """The items of a UN value holding a sequence (implicit VR little endian, PS3.5 6.2.2).

    Raises :class:`StructureError` unless the bytes are well-formed items
    (:func:`~dicomaudit.structure.check_encoded` under a stand-in sequence
    tag): pydicom's reader would make items out of anything.
    """
    header = struct.pack("<HHI", _SURROGATE_SQ >> 16, _SURROGATE_SQ & 0xFFFF, len(value))
    check_encoded(header + value, implicit_vr=True)
    return read_sequence(io.BytesIO(value), True, True, len(value), encodings)


def _parse_un_sequence(value: bytes, encodings: list[str]) -> Sequence | None:
    """Items of a private UN value that holds an implicit-VR sequence, else None (vendor bytes)."""
    try:
        seq = _un_items(value, encodings)
    except StructureError as exc:
        if "nested deeper" in str(exc):
            raise PhiAnalysisError(_reason(exc)) from None
        return None
    except Exception:  # noqa: BLE001 - not a sequence after all
        return None
    return seq if len(seq) else None


_FOREIGN_TAG = re.compile(r"\((?!FFFE)[0-9A-F]{4},[0-9A-F]{4}\) at offset 0x[0-9a-f]+")
_OFFSET = re.compile(r"at offset 0x([0-9a-f]+)")


def _value_reason(exc: StructureError) -> str:
    """:func:`_reason` for a check of one value under a stand-in header: offsets into the value, no bytes of it."""
    # The "tag" where an item should start is the value's own bytes (text, perhaps a name): not shown.
    text = _FOREIGN_TAG.sub("other bytes", _reason(exc))
    return _OFFSET.sub(lambda m: f"at offset {max(0, int(m.group(1), 16) - 8):#x} of the value", text)


def _reason(exc: StructureError) -> str:
    """A structure check's reason without its ``malformed DICOM file:`` lead (the runner adds it)."""
    text = str(exc)
    for lead in ("malformed DICOM file: ", "truncated DICOM file: "):
        if text.startswith(lead):
            return text[len(lead) :]
    return text


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


#: One finding as workers hand it over: (path, tag, keyword, vr, category, rule, severity, value, detail);
#: :func:`from_wire` makes the :class:`~dicomaudit.models.PhiFinding`.
Wire = tuple[str, str, str, str, str, str, str, str, dict[str, Any]]


def from_wire(source: str, wire: tuple[Any, ...] | list[Any]) -> PhiFinding:
    """The finding a :data:`Wire` stands for, found in ``source``."""
    path, tag, keyword, vr, category, rule, severity, value, detail = wire
    return PhiFinding(source, path, tag, keyword, vr, category, rule, Severity(severity), value, detail)


_CATEGORY_OF = {kind: category.value for kind, category in KIND_CATEGORY.items()}
_SEVERITY_OF = {kind: severity.value for kind, severity in KIND_SEVERITY.items()}


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
    show_values: bool
    roles: RoleSet = field(default_factory=default_roles)
    context: DetectionContext | None = None  # regions for phone numbers (locale.context_for)
    findings: list[Wire] = field(default_factory=list)
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
            (
                path,
                tag_str(tag),
                element_keyword(tag),
                vr,
                _CATEGORY_OF[kind] if category is None else category.value,
                rule,
                _SEVERITY_OF[kind],
                text if (self.show_values or not mask) else mask_value(text),
                {"kind": kind.value, **detail} if detail else {"kind": kind.value},
            )
        )
        self.kinds[path] = kind

    # -- walking ----------------------------------------------------------
    def walk(self, ds: Dataset, prefix: str, encodings: list[str], depth: int, person: str | None = None) -> None:
        """Visit every element of ``ds`` (and its items), converting only
        the elements that can carry identity.  ``person`` names the sequence
        when ``ds`` is the code of a person (see ``person-code``)."""
        if depth > MAX_DEPTH:
            raise PhiAnalysisError(f"sequences nested deeper than {MAX_DEPTH} levels")
        store = ds._dict  # raw elements in file order; pydicom converts on access
        if _SPECIFIC_CHARSET in store:
            encodings = _encodings(ds)
        rules = all_rules()
        for key in sorted(store):  # files are sorted already; built data sets may not be
            raw = store[key]
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
                self.sequence(ds, tag, prefix, encodings, depth)
                continue
            if tag & 0x00010000:  # odd group: private
                if (tag & 0xFFFF) >= 0x0100:  # creators themselves are not data
                    self.private(ds, tag, vr, raw, prefix, encodings, depth)
                continue
            if tag in _SQ_TAGS:  # a public sequence encoded with another VR
                self.not_sq(ds, tag, vr, raw, prefix, encodings, depth)
                continue
            if person is not None and tag in _CODE_TAGS:
                self.person_code(ds, tag, vr, raw, prefix, person)
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
            elif rule.treatment is Treatment.AGE:
                self.age(ds, tag, vr, raw, rule.action, prefix)

    def sequence(self, ds: Dataset, tag: int, prefix: str, encodings: list[str], depth: int,
                 items: Any = None) -> None:  # fmt: skip
        """Walk a sequence's items; a value that is not a sequence of data sets is an error."""
        name = element_name(tag)
        if items is None:
            try:
                items = ds[tag].value
            except (PhiAnalysisError, RecursionError, MemoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - pydicom's reading of the items failed
                message = exception_message(exc)
                raise PhiAnalysisError(
                    f"sequence {tag_str(tag)} {name} cannot be read as items: {type(exc).__name__}"
                    + (f": {message}" if message else "")
                ) from None
        if items is None:
            return  # an empty value (length 0)
        if not isinstance(items, Sequence):
            raise PhiAnalysisError(f"sequence {tag_str(tag)} {name} does not hold items ({type(items).__name__})")
        person: str | None = None
        if tag in _PERSON_CODE_SEQUENCES or (tag == _CONCEPT_CODE and _person_concept(ds, code=True)):
            person = name
        for i, item in enumerate(items):
            if not isinstance(item, Dataset):
                raise PhiAnalysisError(f"sequence {tag_str(tag)} {name} holds an item that is not a data set")
            self.walk(item, f"{prefix}{name}[{i}].", encodings, depth + 1, person)

    def not_sq(self, ds: Dataset, tag: int, vr: str, raw: Any, prefix: str, encodings: list[str],
               depth: int) -> None:  # fmt: skip
        """A public sequence (per the dictionary) encoded with another VR: UN is walked if well-formed."""
        name = element_name(tag)
        value = raw.value
        if vr != "UN" or not isinstance(value, (bytes, bytearray)):
            raise PhiAnalysisError(
                f"element {tag_str(tag)} {name} is a sequence (SQ) in the data dictionary but is encoded as {vr}"
            )
        try:
            items = _un_items(bytes(value), encodings)
        except StructureError as exc:
            raise PhiAnalysisError(
                f"sequence {tag_str(tag)} {name} encoded as UN does not hold well-formed items: {_value_reason(exc)}"
            ) from None
        self.sequence(ds, tag, prefix, encodings, depth, items)

    def person_code(self, ds: Dataset, tag: int, vr: str, raw: Any, prefix: str, sequence: str) -> None:
        """Code Meaning or Code Value of a code that identifies a person (``person-code``)."""
        text = _text(ds, tag, raw)
        if not text or is_placeholder(text) or self.roles.is_role(text):
            return
        path = prefix + element_name(tag)
        if tag == _CODE_MEANING:
            kind = Kind.NAME
            if self.declared and _code_like_name(text):
                self.pseudonyms.add(path)
            else:
                self.index.add_name(text)
        else:
            kind = Kind.ID
            if len(text) < 3:
                return  # "1", "42": a counter, identifies nobody
            if self.declared:
                self.pseudonyms.add(path)
            else:
                self.index.add_id(text)
        self.emit(path, tag, vr, kind, "person-code", text, detail={"sequence": sequence})

    def age(self, ds: Dataset, tag: int, vr: str, raw: Any, action: str | None, prefix: str) -> None:
        """An AS value over 89 years (``safe-harbor.age``)."""
        text = _text(ds, tag, raw)
        years = max((y for y in map(_age_years, text.split("\\")) if y is not None), default=None)
        if years is not None and years >= SAFE_HARBOR_AGE:
            self.emit(prefix + element_name(tag), tag, vr, Kind.AGE, "safe-harbor.age", text,
                      detail={"action": action, "years": int(years), "reason": "age over 89 (HIPAA Safe Harbor)"})  # fmt: skip

    def person(self, ds: Dataset, tag: int, raw: Any, action: str | None, prefix: str) -> None:
        """A PN value: always a person (VR rule), unless a placeholder or only a role."""
        text = _text(ds, tag, raw)
        if is_placeholder(text) or self.roles.is_role(text):
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
        entry = _private_entry(creator, tag) if creator else None
        if entry is not None:
            if _PRIVATE_VERSION_NAME.search(entry[1]):
                return
            if vr == "UN" and entry[0] in ("PN", "DA", "DT"):
                vr = entry[0]  # implicit VR: the vendor's dictionary knows what the bytes are
        known = _private_dict_kind(creator, tag)
        detail = {"creator": creator} if creator else {}
        if known is not None:
            name, kind = known
            if kind is Kind.NAME:
                if self.roles.is_role(text):
                    return
                self.index.add_name(text)
            elif kind is Kind.ID:
                self.index.add_id(text)
            self.emit(path, tag, vr, kind, "private.creator", text, Category.PRIVATE, {**detail, "name": name})
            return
        if vr == "PN":
            if self.roles.is_role(text):
                return
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
            caret = "^" in p.text and p.vr in _CARET_VRS and self.roles.caret_name(p.text)
            if p.mode == "other":
                if found:
                    self.emit(p.path, p.tag, p.vr, worst(found), "propagation", p.text,
                              detail={"matches": sorted(k.value for k in found)}, order=p.order)  # fmt: skip
                elif caret:
                    self.emit(p.path, p.tag, p.vr, Kind.NAME, "caret-name", p.text,
                              detail={"matches": [Kind.NAME.value]}, order=p.order)  # fmt: skip
                continue
            detected = detect(p.text, self.context)
            if p.mode == "private" and Kind.ID in detected and not has_labelled_id(p.text):
                # Long bare numbers are common vendor counters in private
                # blocks; IDs there are found by propagation instead.
                detected.discard(Kind.ID)
            named = caret and Kind.NAME not in detected
            if caret:
                detected.add(Kind.NAME)
            if p.tag == _SR_TEXT:
                concept = _person_concept(p.item, code=False)
                if concept is not None and len(p.text) >= 3 and not self.roles.is_role(p.text):
                    detected.add(concept)
            found |= detected
            if not found:
                continue
            kind = worst(found)
            head = "propagation" if propagated else ("caret-name" if named and kind is Kind.NAME else kind.value)
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
    """A PN value made of codes, as pseudonymisers write: ``CQ500-CT-310``, or a study label and a number (``SUBJ^104``).

    At most one part may be a word without digits (the label): a person's
    name has two or more.
    """
    parts = [p for p in re.split(r"[\^=\s\\]+", value) if p]
    words = [p for p in parts if not _HAS_DIGIT.search(p) and p.upper() not in _PLACEHOLDERS]
    return len(words) < len(parts) and len(words) <= 1


#: HIPAA Safe Harbor: ages over 89 are identifiers (45 CFR 164.514(b)(2)(i)(C)).
SAFE_HARBOR_AGE = 90
_AGE = re.compile(r"\s*0*(\d{1,6})\s*([DWMYdwmy]?)\s*")
_AGE_UNIT_YEARS = {"D": 365.25, "W": 365.25 / 7, "M": 12.0, "Y": 1.0}


def _age_years(value: str) -> float | None:
    """Years in an AS value (``092Y``, ``1100M``, ``95``: no unit reads as years); None when it is no age."""
    m = _AGE.fullmatch(value)
    if m is None:
        return None
    return int(m.group(1)) / _AGE_UNIT_YEARS[(m.group(2) or "Y").upper()]


def _person_concept(item: Dataset, *, code: bool) -> Kind | None:
    """The kind of person identity an SR content item's value holds, from its concept name; None for others.

    ``code=True`` asks about a CODE item (its Concept Code Sequence codes the
    person), ``code=False`` about a TEXT item.
    """
    vt = _element(item, _VALUE_TYPE)
    if vt is None or str(vt.value).strip().upper() != ("CODE" if code else "TEXT"):
        return None
    cn = _element(item, _CONCEPT_NAME)
    if cn is None or not isinstance(cn.value, Sequence) or not len(cn.value):
        return None
    concept = cn.value[0]
    value, scheme = _value(concept, _CODE_VALUE), _value(concept, _CODING_SCHEME)
    kind: Kind | None
    if value is not None and str(scheme).strip() == "DCM" and str(value).strip() in _PERSON_CONCEPT_CODES:
        kind = _PERSON_CONCEPT_CODES[str(value).strip()]
    else:
        meaning = _value(concept, _CODE_MEANING)
        kind = _PERSON_CONCEPT_MEANINGS.get(str(meaning).strip().lower()) if meaning is not None else None
    if kind is None or (code and kind is not Kind.NAME and kind is not Kind.ID):
        return None
    return kind


def _element(ds: Dataset, tag: int) -> Any:
    """``ds.get(tag)``: the (converted) element, or None; an absent tag costs a dict lookup, not the
    KeyError pydicom raises and catches."""
    return ds[tag] if tag in ds._dict else None


def _value(ds: Dataset, tag: int) -> Any:
    """The value of ``ds``'s element ``tag`` (as ``ds.get(keyword)`` gives it), or None when absent."""
    return ds[tag].value if tag in ds._dict else None


def _concept(item: Dataset) -> dict[str, Any]:
    """SR content item context: value type and concept name meaning."""
    out: dict[str, Any] = {}
    vt = _element(item, _VALUE_TYPE)
    if vt is not None and vt.value:
        out["value_type"] = str(vt.value)
    cn = _element(item, _CONCEPT_NAME)
    if cn is not None and cn.value:
        meaning = _value(cn.value[0], _CODE_MEANING)
        if meaning:
            out["concept"] = str(meaning)
    return out


def _encodings(ds: Dataset) -> list[str]:
    """Python codecs for a data set's SpecificCharacterSet (PS3.5 6.1).

    A missing or misspelt value falls back to pydicom's handling (which
    warns and uses the default repertoire) so the element is still scanned.
    """
    value = _element(ds, _SPECIFIC_CHARSET)
    try:
        return convert_encodings(value.value if value is not None else None)
    except Exception:  # noqa: BLE001
        return ["iso8859"]


def _is_declared(ds: Dataset) -> bool:
    """Does the data set declare de-identification (PS3.3 C.7.1.1)?"""
    removed = _element(ds, _IDENTITY_REMOVED)
    if removed is not None and str(removed.value).strip().upper() == "YES":
        return True
    return any(_value(ds, t) for t in (_DEID_METHOD, _DEID_METHOD_CODES))


def _declarations(ds: Dataset, walk: _Walk) -> None:
    """De-identification declarations versus what the walk found."""
    removed = _element(ds, _IDENTITY_REMOVED)
    removed_yes = removed is not None and str(removed.value).strip().upper() == "YES"
    remaining = [p for p, k in walk.kinds.items() if k in _DIRECT_KINDS and p not in walk.pseudonyms]
    # The de-identifier's pseudonyms (SUBJ^104, ONCO0102) identify no one,
    # also in a file that leaks a name elsewhere (a comment, a private tag):
    # the leak is reported, with the declaration it contradicts.  When the
    # patient's own name is still there, the de-identifier never touched the
    # identity: its code-like IDs are the real ones and stay findings.
    own_name_kept = walk.kinds.get("PatientName") is Kind.NAME and "PatientName" not in walk.pseudonyms
    if walk.pseudonyms and not own_name_kept:
        walk.findings = [f for f in walk.findings if f[0] not in walk.pseudonyms]
    if walk.declared and not remaining:
        # PS3.15 E.1.1: a de-identifier replaces UIDs (action U), may write
        # pseudonymous IDs and names (action D) and, with the Modified Dates
        # option, shifts dates; their presence is expected.
        modified = _element(ds, _LONGITUDINAL)
        drop = {Kind.UID}
        if modified is not None and str(modified.value).strip().upper() == "MODIFIED":
            drop |= {Kind.DATE, Kind.TIME}
        dropped = {k.value for k in drop}
        walk.findings = [f for f in walk.findings if f[8]["kind"] not in dropped]
    if removed_yes and remaining:
        walk.emit(
            "PatientIdentityRemoved", _IDENTITY_REMOVED, "CS", Kind.DECLARATION, "declaration.identity-removed", "YES",
            detail={"reason": "declared de-identified but direct identifiers remain",
                    "remaining": len(remaining)},
            mask=False,
        )  # fmt: skip


def analyze_dataset(
    ds: Dataset,
    source: str,
    *,
    show_values: bool = False,
    roles: RoleSet | None = None,
    regions: Iterable[str] = (),
) -> list[PhiFinding]:
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
    regions
        Countries whose national phone formats the free-text detectors accept, on top of those
        :func:`~dicomaudit.phi.locale.infer_regions` reads from the data set (character set, addresses).
    roles
        Role placeholders and not-name words
        (:class:`~dicomaudit.phi.roles.RoleSet`); default
        :func:`~dicomaudit.phi.roles.default_roles` (the packaged list plus the
        files named by ``DICOMAUDIT_PHI_ROLES``).  Use
        :func:`~dicomaudit.phi.roles.resolve_roles` to add a file of your own.

    Returns
    -------
    list of PhiFinding
        One finding per identifying element, in data set order.

    Raises
    ------
    PhiAnalysisError
        When the data set cannot be walked (nesting deeper than
        :data:`MAX_DEPTH`, an element pydicom cannot decode, a broken
        sequence: see the module docstring).
    RolesFileError
        When ``roles`` is not given and a file named by
        ``DICOMAUDIT_PHI_ROLES`` cannot be read.
    """
    return [from_wire(source, w) for w in dataset_wires(ds, show_values=show_values, roles=roles, regions=regions)]


def dataset_wires(
    ds: Dataset,
    *,
    show_values: bool = False,
    roles: RoleSet | None = None,
    regions: Iterable[str] = (),
) -> list[Wire]:
    """:func:`analyze_dataset`'s findings as plain tuples (:data:`Wire`, without the source), as engines
    hand them over: a Parquet run never needs the objects."""
    walk = _Walk(show_values=show_values, roles=default_roles() if roles is None else roles)
    try:
        walk.context = context_for(ds, regions)
    except Exception:  # noqa: BLE001 - an unreadable address or character set only costs the regional phone rule
        walk.context = None
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
            walk.findings.sort(key=lambda f: walk.orders.get(f[0], 0))
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
