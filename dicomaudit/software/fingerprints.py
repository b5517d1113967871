"""Which product answers: identification from what a node says about itself.

The evidence is what the scanner observed and nothing else:

* the A-ASSOCIATE-AC's Implementation Class UID and Implementation Version
  Name (PS3.7 D.3.3.2): self-declared, and inherited by every product built on
  a toolkit, so a DICOM answer alone names a *toolkit* at most "likely";
* optionally Orthanc's ``GET /system`` answer (``Version``, ``ApiVersion``):
  the one answer that names Orthanc itself, "certain";
* optionally the HTTP ``Server`` header (recorded; no sourced row uses it yet).

The trap this module exists for: Orthanc sets no Implementation Class UID of
its own, so an Orthanc DICOM port announces the DCMTK it was built with
(``1.2.276.0.7230010.3.0.3.6.7`` / ``OFFIS_DCMTK_367`` for Orthanc 1.10.1 on
Debian 12). From DIMSE alone that is "DCMTK 3.6.7 toolkit", likely, with
Orthanc among the candidates, never "Orthanc".

The rows live in ``fingerprints.toml``; each cites its source and carries an
example that the tests run. Nothing is guessed beyond the evidence: an unknown
UID gives ``product=None, confidence=None`` and lists what was observed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

Confidence = Literal["certain", "likely", "possible"]
CONFIDENCES: tuple[Confidence, ...] = ("certain", "likely", "possible")  # strongest first
VersionFormat = Literal["dotted", "packed"]
KINDS = frozenset({"toolkit", "library", "server", "viewer", "scanner", "lab"})
#: Behaviour flags other probes may pass to :func:`identify`.
HINTS = frozenset({"orthanc_system"})

FORMAT = 1
_ROW_KEYS = frozenset(
    {
        "id",
        "product",
        "kind",
        "uid",
        "uid_pattern",
        "uid_version",
        "name_pattern",
        "name_version",
        "server_pattern",
        "orthanc_system",
        "confidence",
        "candidates",
        "note",
        "source",
        "example",
    }
)
_EXAMPLE_KEYS = frozenset(
    {
        "implementation_class_uid",
        "implementation_version_name",
        "server_header",
        "orthanc_system",
        "product",
        "version",
        "confidence",
    }
)
_DOTTED = re.compile(r"\d+(\.\d+)*")
#: Orthanc's ``Version`` for a build from the development branch ("mainline", "mainline-<changeset>").
_ORTHANC_DEVELOPMENT = re.compile(r"mainline\b.*")


class FingerprintError(ValueError):
    """``fingerprints.toml`` (or a table given for tests) is malformed; the message names the row."""


@dataclass(frozen=True)
class FingerprintExample:
    """What a row must identify: the observation and the expected answer."""

    implementation_class_uid: str | None = None
    implementation_version_name: str | None = None
    server_header: str | None = None
    orthanc_system: Mapping[str, Any] | None = None
    product: str = ""
    version: str | None = None
    confidence: Confidence = "likely"


@dataclass(frozen=True)
class Fingerprint:
    """One row of ``fingerprints.toml``: how a product shows itself, and where that is written."""

    id: str
    product: str
    kind: str
    confidence: Confidence
    source: str
    uids: tuple[str, ...] = ()
    uid_pattern: re.Pattern[str] | None = None
    uid_version: VersionFormat = "dotted"
    name_pattern: re.Pattern[str] | None = None
    name_version: VersionFormat = "dotted"
    server_pattern: re.Pattern[str] | None = None
    orthanc_system: bool = False
    candidates: tuple[str, ...] = ()
    note: str = ""
    example: FingerprintExample | None = None

    def match_uid(self, uid: str) -> tuple[bool, str | None]:
        """``(matched, version read from the UID)``."""
        if uid in self.uids:
            return True, None
        return _read(self.uid_pattern, uid, self.uid_version)

    def match_name(self, name: str) -> tuple[bool, str | None]:
        """``(matched, version read from the Implementation Version Name)``."""
        return _read(self.name_pattern, name, self.name_version)

    def match_server(self, header: str) -> tuple[bool, str | None]:
        """``(matched, version read from the HTTP Server header)``."""
        return _read(self.server_pattern, header, "dotted")


@dataclass(frozen=True)
class Identification:
    """The answer: which product (if any), how sure, and on what evidence.

    ``product``/``confidence`` are None when nothing matched ("not identified");
    ``basis`` then lists the observed values. ``candidates`` names products that
    look the same on this evidence (Orthanc behind a DCMTK identity); ``note``
    is the matching row's background (what the identity means, where it comes from).
    """

    product: str | None
    version: str | None
    confidence: Confidence | None
    basis: list[str]
    candidates: list[str] = field(default_factory=list)
    source: str | None = None
    kind: str | None = None
    fingerprint: str | None = None
    observed: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def identified(self) -> bool:
        return self.product is not None

    @property
    def label(self) -> str:
        """E.g. ``DCMTK 3.6.7 toolkit``, ``Orthanc 1.10.1``, ``not identified``."""
        if self.product is None:
            return "not identified"
        text = self.product if self.version is None else f"{self.product} {self.version}"
        return f"{text} toolkit" if self.kind == "toolkit" else text


# -- loading -----------------------------------------------------------------------------------
def _read(pattern: re.Pattern[str] | None, value: str, fmt: VersionFormat) -> tuple[bool, str | None]:
    if pattern is None:
        return False, None
    m = pattern.fullmatch(value)
    if m is None:
        return False, None
    raw = m.groupdict().get("version")
    return True, (None if raw is None else unpack_version(raw, fmt))


def unpack_version(raw: str, fmt: VersionFormat) -> str | None:
    """``dotted`` as is; ``packed`` DCMTK-style digits: ``367`` -> ``3.6.7``, ``3610`` -> ``3.6.10``."""
    if fmt == "dotted":
        return raw if _DOTTED.fullmatch(raw) else None
    if not raw.isdigit() or len(raw) < 3:
        return None
    return f"{int(raw[0])}.{int(raw[1])}.{int(raw[2:])}"


def _text(row: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise FingerprintError(f"{where}: missing {key!r}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise FingerprintError(f"{where}: {key!r} must be a non-empty string")
    return value


def _regex(row: Mapping[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    text = _text(row, key, where)
    if text is None:
        return None
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise FingerprintError(f"{where}: {key!r} is not a valid regular expression ({exc})") from exc
    if set(pattern.groupindex) - {"version"}:
        raise FingerprintError(f"{where}: {key!r} may only name a 'version' group")
    return pattern


def _version_format(row: Mapping[str, Any], key: str, where: str) -> VersionFormat:
    value = row.get(key, "dotted")
    if value not in ("dotted", "packed"):
        raise FingerprintError(f"{where}: {key!r} must be 'dotted' or 'packed', not {value!r}")
    return cast(VersionFormat, value)


def _confidence(value: Any, where: str) -> Confidence:
    if value not in CONFIDENCES:
        raise FingerprintError(f"{where}: confidence must be one of {', '.join(CONFIDENCES)}, not {value!r}")
    return cast(Confidence, value)


def _example(raw: Any, where: str) -> FingerprintExample:
    if not isinstance(raw, dict):
        raise FingerprintError(f"{where}: 'example' must be a table")
    unknown = set(raw) - _EXAMPLE_KEYS
    if unknown:
        raise FingerprintError(f"{where}: unknown example key(s) {', '.join(sorted(unknown))}")
    system = raw.get("orthanc_system")
    if system is not None and not isinstance(system, dict):
        raise FingerprintError(f"{where}: example 'orthanc_system' must be a table")
    return FingerprintExample(
        implementation_class_uid=_text(raw, "implementation_class_uid", where),
        implementation_version_name=_text(raw, "implementation_version_name", where),
        server_header=_text(raw, "server_header", where),
        orthanc_system=system,
        product=_text(raw, "product", f"{where} example", required=True) or "",
        version=_text(raw, "version", where),
        confidence=_confidence(raw.get("confidence", "likely"), f"{where} example"),
    )


def _row(raw: Any, index: int) -> Fingerprint:
    if not isinstance(raw, dict):
        raise FingerprintError(f"fingerprint #{index}: not a table")
    where = f"fingerprint #{index} ({raw.get('id', raw.get('product', '?'))!s})"
    unknown = set(raw) - _ROW_KEYS
    if unknown:
        raise FingerprintError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    source = _text(raw, "source", where)
    if source is None:
        raise FingerprintError(f"{where}: no 'source': every row must cite where its values are written")
    if not source.startswith(("https://", "http://")):
        raise FingerprintError(f"{where}: 'source' must be a URL, not {source!r}")
    uids = raw.get("uid", [])
    if not isinstance(uids, list) or not all(isinstance(u, str) and u for u in uids):
        raise FingerprintError(f"{where}: 'uid' must be a list of UIDs")
    candidates = raw.get("candidates", [])
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise FingerprintError(f"{where}: 'candidates' must be a list of strings")
    kind = _text(raw, "kind", where, required=True)
    if kind not in KINDS:
        raise FingerprintError(f"{where}: kind must be one of {', '.join(sorted(KINDS))}, not {kind!r}")
    orthanc_system = raw.get("orthanc_system", False)
    if not isinstance(orthanc_system, bool):
        raise FingerprintError(f"{where}: 'orthanc_system' must be true or false")
    row = Fingerprint(
        id=_text(raw, "id", where, required=True) or "",
        product=_text(raw, "product", where, required=True) or "",
        kind=kind,
        confidence=_confidence(raw.get("confidence"), where),
        source=source,
        uids=tuple(uids),
        uid_pattern=_regex(raw, "uid_pattern", where),
        uid_version=_version_format(raw, "uid_version", where),
        name_pattern=_regex(raw, "name_pattern", where),
        name_version=_version_format(raw, "name_version", where),
        server_pattern=_regex(raw, "server_pattern", where),
        orthanc_system=orthanc_system,
        candidates=tuple(candidates),
        note=_text(raw, "note", where) or "",
        example=_example(raw["example"], where) if "example" in raw else None,
    )
    if not (row.uids or row.uid_pattern or row.name_pattern or row.server_pattern or row.orthanc_system):
        raise FingerprintError(f"{where}: no matcher (uid, uid_pattern, name_pattern, server_pattern, orthanc_system)")
    return row


def parse_fingerprints(text: str) -> tuple[Fingerprint, ...]:
    """Validate a fingerprint table given as TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FingerprintError(f"fingerprints: not valid TOML ({exc})") from exc
    if data.get("format") != FORMAT:
        raise FingerprintError(f"fingerprints: format must be {FORMAT}, not {data.get('format')!r}")
    unknown = set(data) - {"format", "fingerprint"}
    if unknown:
        raise FingerprintError(f"fingerprints: unknown top-level key(s) {', '.join(sorted(unknown))}")
    rows = tuple(_row(raw, i) for i, raw in enumerate(data.get("fingerprint", []), start=1))
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise FingerprintError(f"fingerprints: duplicate id {row.id!r}")
        seen.add(row.id)
    return rows


@cache
def _shipped() -> tuple[Fingerprint, ...]:
    return parse_fingerprints(resources.files(__package__).joinpath("fingerprints.toml").read_text(encoding="utf-8"))


def load_fingerprints(path: Path | None = None) -> tuple[Fingerprint, ...]:
    """The validated fingerprint rows: the shipped table (cached), or the one at ``path``."""
    if path is None:
        return _shipped()
    return parse_fingerprints(Path(path).read_text(encoding="utf-8"))


# -- identification ----------------------------------------------------------------------------
def _clean(value: str | None) -> str | None:
    """UI values are NUL-padded, SH values space-padded (PS3.5 6.2); empty means not observed."""
    if value is None:
        return None
    value = value.strip().rstrip("\x00").strip()
    return value or None


def _weaker(confidence: Confidence, steps: int = 1) -> Confidence:
    return CONFIDENCES[min(CONFIDENCES.index(confidence) + steps, len(CONFIDENCES) - 1)]


def _at_most(confidence: Confidence, ceiling: Confidence) -> Confidence:
    return CONFIDENCES[max(CONFIDENCES.index(confidence), CONFIDENCES.index(ceiling))]


def _looks_like_orthanc(system: Mapping[str, Any]) -> bool:
    api = system.get("ApiVersion")
    return isinstance(system.get("Version"), str) and isinstance(api, int) and not isinstance(api, bool)


@dataclass
class _Dimse:
    """What the DICOM identity says, before the web evidence is weighed in."""

    row: Fingerprint | None
    version: str | None
    confidence: Confidence | None
    basis: list[str]
    candidates: list[str]


def _dimse(uid: str | None, name: str | None, rows: tuple[Fingerprint, ...]) -> _Dimse | None:
    if uid is None and name is None:
        return None
    uid_hits = [(r, *r.match_uid(uid)) for r in rows] if uid is not None else []
    name_hits = [(r, *r.match_name(name)) for r in rows] if name is not None else []
    by_uid = {r.id: v for r, ok, v in uid_hits if ok}
    by_name = {r.id: v for r, ok, v in name_hits if ok}
    observed = []
    if uid is not None:
        observed.append(f"Implementation Class UID {uid}")
    if name is not None:
        observed.append(f"Implementation Version Name {name!r}")
    both = [r for r in rows if r.id in by_uid and r.id in by_name]
    basis: list[str] = []
    candidates: list[str] = []
    if both:
        row = both[0]
        confidence = row.confidence
        basis.append(f"{' and '.join(observed)}: {row.product}'s identity")
    elif by_uid:
        row = next(r for r in rows if r.id in by_uid)
        confidence = row.confidence
        basis.append(f"{observed[0]}: {row.product}'s UID")
        others = [r.product for r in rows if r.id in by_name]
        if name is not None and (row.name_pattern is not None or others):
            confidence = _at_most(confidence, "possible")
            basis.append(
                f"Implementation Version Name {name!r} is not {row.product}'s: the UID may be borrowed or the "
                "name customised" + (f" (the name is {', '.join(others)}'s)" if others else "")
            )
            candidates.extend(others)
        elif name is not None:
            basis.append(f"Implementation Version Name {name!r}")
    elif by_name:
        row = next(r for r in rows if r.id in by_name)
        basis.append(f"Implementation Version Name {name!r}: {row.product}'s")
        if uid is not None:
            confidence = _at_most(row.confidence, "possible")
            basis.append(f"Implementation Class UID {uid} is not {row.product}'s: the name alone is weak evidence")
        else:
            confidence = _weaker(row.confidence)
            basis.append("no Implementation Class UID observed")
    else:
        return _Dimse(None, None, None, [f"{' and '.join(observed)}: in no fingerprint row"], [])
    from_uid, from_name = by_uid.get(row.id), by_name.get(row.id)
    version = from_uid or from_name
    if from_uid and from_name and from_uid != from_name:
        version = None
        confidence = _at_most(confidence, "possible")
        basis.append(f"the UID says version {from_uid}, the version name {from_name}: no version claimed")
    candidates = [*row.candidates, *(c for c in candidates if c not in row.candidates and c != row.product)]
    return _Dimse(row, version, confidence, basis, candidates)


def _orthanc(
    system: Mapping[str, Any] | None, hinted: bool, rows: tuple[Fingerprint, ...], dimse: _Dimse | None
) -> Identification | None:
    row = next((r for r in rows if r.orthanc_system), None)
    if row is None:
        return None
    if system is not None and _looks_like_orthanc(system):
        raw_version = str(system["Version"])
        version = raw_version if _DOTTED.fullmatch(raw_version) else None
        parts = [f"Version={raw_version!r}", f"ApiVersion={system['ApiVersion']}"]
        if isinstance(system.get("Name"), str):
            parts.append(f"Name={system['Name']!r} (the configured name, not the product)")
        basis = [f"GET /system answered as Orthanc: {', '.join(parts)}"]
        if version is None:
            basis.append(f"Version {raw_version!r} is a development build, not a release: no version claimed")
    elif hinted:
        version = None
        basis = ["GET /system answered like Orthanc (web probe hint); no Version observed: no version claimed"]
    else:
        return None
    candidates: list[str] = []
    if dimse is not None:
        if dimse.row is not None and row.product in dimse.row.candidates:
            dv = f" {dimse.version}" if dimse.version else ""
            basis.append(f"the DICOM port announced {dimse.row.product}{dv}, the toolkit {row.product} is built on")
        elif dimse.row is not None:
            basis.append(
                f"the DICOM port announced {dimse.row.product}, not the identity {row.product} carries: the DICOM "
                "port and the web API may be different products"
            )
            candidates.append(dimse.row.product)
        else:
            basis.extend(dimse.basis)
    return Identification(
        product=row.product,
        version=version,
        confidence=row.confidence,
        basis=basis,
        candidates=candidates,
        source=row.source,
        kind=row.kind,
        fingerprint=row.id,
        note=row.note,
    )


def identify(
    implementation_class_uid: str | None = None,
    implementation_version_name: str | None = None,
    server_header: str | None = None,
    orthanc_system: Mapping[str, Any] | None = None,
    *,
    hints: Collection[str] = (),
    fingerprints: tuple[Fingerprint, ...] | None = None,
) -> Identification | None:
    """Identify the product behind the observed values; None when nothing was observed at all.

    ``orthanc_system`` is the decoded JSON of ``GET /system``; ``hints`` are
    behaviour flags from the other probes (:data:`HINTS`: ``"orthanc_system"``
    when /system answered like Orthanc but its JSON is not passed). An unknown
    identity gives an :class:`Identification` with ``product`` and
    ``confidence`` None whose ``basis`` lists what was seen.
    """
    unknown = set(hints) - HINTS
    if unknown:
        raise ValueError(f"unknown identification hint(s): {', '.join(sorted(unknown))}")
    rows = load_fingerprints() if fingerprints is None else fingerprints
    uid = _clean(implementation_class_uid)
    name = _clean(implementation_version_name)
    server = _clean(server_header)
    observed = {
        k: v
        for k, v in (
            ("implementation_class_uid", uid),
            ("implementation_version_name", name),
            ("server_header", server),
        )
        if v is not None
    }
    system = orthanc_system if isinstance(orthanc_system, Mapping) and orthanc_system else None
    if system is not None:
        for key in ("Name", "Version", "ApiVersion"):
            if key in system:
                observed[f"system_{key.lower()}"] = str(system[key])
    hinted = "orthanc_system" in hints
    if not observed and system is None and not hinted:
        return None

    dimse = _dimse(uid, name, rows)
    found = _orthanc(system, hinted, rows, dimse)
    if found is not None:
        return replace(found, observed=observed)
    extra: list[str] = []
    if server is not None:
        extra.append(f"HTTP Server header {server!r}")
    if system is not None:
        extra.append("a /system answer without Orthanc's Version and ApiVersion: not taken as Orthanc")
    if dimse is not None and dimse.row is not None:
        row = dimse.row
        return Identification(
            product=row.product,
            version=dimse.version,
            confidence=dimse.confidence,
            basis=[*dimse.basis, *extra],
            candidates=dimse.candidates,
            source=row.source,
            kind=row.kind,
            fingerprint=row.id,
            observed=observed,
            note=row.note,
        )
    if server is not None:
        for row in rows:
            ok, version = row.match_server(server)
            if ok:
                return Identification(
                    product=row.product,
                    version=version,
                    confidence=_at_most(row.confidence, "possible"),
                    basis=[f"HTTP Server header {server!r}: {row.product}'s", *(dimse.basis if dimse else [])],
                    candidates=list(row.candidates),
                    source=row.source,
                    kind=row.kind,
                    fingerprint=row.id,
                    observed=observed,
                    note=row.note,
                )
        extra[0] = f"HTTP Server header {server!r}: in no fingerprint row"
    basis = [*(dimse.basis if dimse else []), *extra]
    return Identification(product=None, version=None, confidence=None, basis=basis, observed=observed)
