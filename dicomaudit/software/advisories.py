"""Published advisories, matched only against an identified version.

``advisories.toml`` ships with dicomaudit; a newer file can be installed with
:func:`install_advisories` (validated, refused when older than the shipped
data) into the user data directory, and :func:`load_advisories` prefers it
when its ``data_date`` is newer.

Matching is by announced version only. A distribution package (Debian's
Orthanc 1.10.1+dfsg-2+deb12u1, for one) may carry a backported fix while
announcing the upstream version: every :class:`Match` says so in ``caveat``.

Version ranges use a small comparator of dotted numeric versions (``< 1.12.0``,
``>= 3.6.8, < 3.7.0``; missing components count as 0): ``packaging`` is not a
runtime dependency of dicomaudit, and the identified versions are plain
dotted numbers.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dicomaudit.models import Severity

FORMAT = 1
ADVISORIES_FILE = "advisories.toml"
#: Overrides the user data directory (tests, shared installs).
DATA_DIR_ENV = "DICOMAUDIT_DATA_DIR"
CAVEAT = (
    "matched on the announced version only: a distribution package may carry a backported fix "
    "without changing the version it announces"
)

_TOP_KEYS = frozenset({"format", "data_date", "advisory"})
_KEYS = frozenset(
    {
        "id",
        "product",
        "affected",
        "fixed",
        "cves",
        "icsma",
        "cvss",
        "severity",
        "title",
        "published",
        "source",
        "references",
        "note",
    }
)
_REQUIRED = ("id", "product", "affected", "title", "published", "source")
_CVSS_KEYS = frozenset({"score", "vector"})
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_ICSMA = re.compile(r"ICSMA-\d{2}-\d{3}-\d{2}")
_VERSION = re.compile(r"\d+(\.\d+)*")
_CLAUSE = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*(\d+(?:\.\d+)*)\s*")


class AdvisoryError(ValueError):
    """An advisory file is invalid; the message names the file and the entry."""


# -- versions ----------------------------------------------------------------------------------
def parse_version(text: str) -> tuple[int, ...] | None:
    """``"1.12.0"`` -> ``(1, 12, 0)``; None for anything but a dotted number."""
    text = text.strip()
    return tuple(int(p) for p in text.split(".")) if _VERSION.fullmatch(text) else None


def _compare(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return (a > b) - (a < b)


_OPS = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
}


@dataclass(frozen=True)
class VersionRange:
    """Comma-separated clauses, all of which must hold: ``>= 3.6.8, < 3.7.0``."""

    text: str
    clauses: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Raise ``ValueError`` unless every clause is an operator and a dotted version."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("empty version range")
        clauses = []
        for part in text.split(","):
            m = _CLAUSE.fullmatch(part)
            if m is None:
                raise ValueError(f"bad clause {part.strip()!r} (expected e.g. '< 1.12.0')")
            clauses.append((m.group(1), tuple(int(p) for p in m.group(2).split("."))))
        return cls(text=", ".join(f"{op} {'.'.join(map(str, v))}" for op, v in clauses), clauses=tuple(clauses))

    def __contains__(self, version: object) -> bool:
        parsed = parse_version(version) if isinstance(version, str) else None
        if parsed is None:
            return False
        return all(_OPS[op](_compare(parsed, bound)) for op, bound in self.clauses)

    def __str__(self) -> str:
        return self.text


# -- the data ----------------------------------------------------------------------------------
def severity_from_cvss(score: float) -> Severity:
    """CVSS base score bands: 9.0+ critical, 7.0+ high, 4.0+ medium, above 0 low, 0 info."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


@dataclass(frozen=True)
class Cvss:
    score: float
    vector: str | None = None


@dataclass(frozen=True)
class Advisory:
    """One published advisory: which versions of which product, fixed where, how bad, said by whom."""

    id: str
    product: str
    affected: VersionRange
    title: str
    published: dt.date
    source: str
    fixed: str | None = None
    cves: tuple[str, ...] = ()
    icsma: tuple[str, ...] = ()
    cvss: Cvss | None = None
    severity: Severity | None = None  # None: the sources give no CVSS score
    references: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class AdvisoryData:
    """A validated advisory file: its date, its advisories, where it was read, and what was set aside."""

    data_date: dt.date
    advisories: tuple[Advisory, ...]
    origin: str = "shipped"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """An advisory that applies to an identified product version, and why."""

    advisory: Advisory
    why: str
    caveat: str = CAVEAT


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise AdvisoryError(f"{what} must be a date (YYYY-MM-DD), not {value!r}")


def _url(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise AdvisoryError(f"{what} must be a URL, not {value!r}")
    return value


def _strings(entry: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdvisoryError(f"{where}: {key!r} must be a list of strings")
    if pattern is not None:
        bad = [v for v in value if not pattern.fullmatch(v)]
        if bad:
            raise AdvisoryError(f"{where}: {key!r} has malformed id(s) {', '.join(bad)}")
    return tuple(value)


def _cvss(value: Any, where: str) -> Cvss | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AdvisoryError(f"{where}: 'cvss' must be a table {{ score = 9.8, vector = \"CVSS:3.1/...\" }}")
    unknown = set(value) - _CVSS_KEYS
    if unknown:
        raise AdvisoryError(f"{where}: unknown cvss key(s) {', '.join(sorted(unknown))}")
    score = value.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 10.0:
        raise AdvisoryError(f"{where}: cvss score must be a number from 0.0 to 10.0, not {score!r}")
    vector = value.get("vector")
    if vector is not None and (not isinstance(vector, str) or not vector.startswith("CVSS:")):
        raise AdvisoryError(f"{where}: cvss vector must be a 'CVSS:...' string, not {vector!r}")
    return Cvss(score=float(score), vector=vector)


def _advisory(entry: Any, index: int) -> Advisory:
    if not isinstance(entry, dict):
        raise AdvisoryError(f"advisory #{index}: not a table")
    where = f"advisory #{index} ({entry.get('id', '?')!s})"
    unknown = set(entry) - _KEYS
    if unknown:
        raise AdvisoryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in _REQUIRED:
        if key not in entry:
            raise AdvisoryError(f"{where}: missing {key!r}")
    for key in ("id", "product", "title"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise AdvisoryError(f"{where}: {key!r} must be a non-empty string")
    try:
        affected = VersionRange.parse(entry["affected"])
    except ValueError as exc:
        raise AdvisoryError(f"{where}: bad version range {entry['affected']!r}: {exc}") from exc
    fixed = entry.get("fixed")
    if fixed is not None:
        if not isinstance(fixed, str) or parse_version(fixed) is None:
            raise AdvisoryError(f"{where}: 'fixed' must be a dotted version, not {fixed!r}")
        if fixed in affected:
            raise AdvisoryError(f"{where}: the fixed version {fixed} is inside the affected range {affected}")
    cvss = _cvss(entry.get("cvss"), where)
    severity = None
    if "severity" in entry:
        try:
            severity = Severity(entry["severity"])
        except ValueError:
            raise AdvisoryError(
                f"{where}: bad severity {entry['severity']!r} (one of {', '.join(s.value for s in Severity)})"
            ) from None
    if cvss is not None:
        derived = severity_from_cvss(cvss.score)
        if severity is not None and severity is not derived:
            raise AdvisoryError(f"{where}: bad severity {severity.value!r}: CVSS {cvss.score} is {derived.value!r}")
        severity = derived
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise AdvisoryError(f"{where}: 'note' must be a string")
    return Advisory(
        id=entry["id"],
        product=entry["product"],
        affected=affected,
        title=entry["title"],
        published=_date(entry["published"], f"{where}: 'published'"),
        source=_url(entry["source"], f"{where}: 'source'"),
        fixed=fixed,
        cves=_strings(entry, "cves", where, _CVE),
        icsma=_strings(entry, "icsma", where, _ICSMA),
        cvss=cvss,
        severity=severity,
        references=tuple(_url(u, f"{where}: reference") for u in _strings(entry, "references", where)),
        note=note,
    )


def parse_advisories(text: str, origin: str = "shipped") -> AdvisoryData:
    """Validate advisory data given as TOML text; ``origin`` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AdvisoryError(f"{origin}: not valid TOML ({exc})") from exc
    try:
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise AdvisoryError(f"unknown top-level key(s) {', '.join(sorted(unknown))}")
        if data.get("format") != FORMAT:
            raise AdvisoryError(f"format must be {FORMAT}, not {data.get('format')!r}")
        if "data_date" not in data:
            raise AdvisoryError("missing data_date")
        data_date = _date(data["data_date"], "data_date")
        entries = data.get("advisory", [])
        if not isinstance(entries, list):
            raise AdvisoryError("'advisory' must be an array of tables ([[advisory]])")
        advisories = tuple(_advisory(entry, i) for i, entry in enumerate(entries, start=1))
        seen: set[str] = set()
        for adv in advisories:
            if adv.id in seen:
                raise AdvisoryError(f"duplicate advisory id {adv.id!r}")
            seen.add(adv.id)
    except AdvisoryError as exc:
        raise AdvisoryError(f"{origin}: {exc}") from None
    return AdvisoryData(data_date=data_date, advisories=advisories, origin=origin)


def shipped_advisories() -> AdvisoryData:
    """The advisory data shipped with this dicomaudit."""
    text = resources.files(__package__).joinpath(ADVISORIES_FILE).read_text(encoding="utf-8")
    return parse_advisories(text, origin="shipped")


def data_dir() -> Path:
    """Where installed data lives: ``$DICOMAUDIT_DATA_DIR``, else ``$XDG_DATA_HOME/dicomaudit``,
    else ``~/.local/share/dicomaudit``."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "dicomaudit"


def installed_path() -> Path:
    return data_dir() / ADVISORIES_FILE


def _read_file(path: Path) -> AdvisoryData:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdvisoryError(f"{path}: cannot be read ({exc})") from exc
    return parse_advisories(text, origin=str(path))


def load_advisories(path: Path | str | None = None) -> AdvisoryData:
    """The advisory data in effect.

    With ``path``: that file, validated. Without: the installed file when it is
    valid and newer than the shipped data, else the shipped data (an installed
    file that no longer validates is set aside with a warning, not silently).
    """
    if path is not None:
        return _read_file(Path(path))
    shipped = shipped_advisories()
    installed = installed_path()
    if not installed.exists():
        return shipped
    try:
        user = _read_file(installed)
    except AdvisoryError as exc:
        return AdvisoryData(
            shipped.data_date, shipped.advisories, shipped.origin, (f"installed advisories ignored: {exc}",)
        )
    return user if user.data_date > shipped.data_date else shipped


def install_advisories(file: Path | str) -> Path:
    """Validate ``file`` and copy it to the user data directory; return where it was written.

    Refused (:class:`AdvisoryError`) when the file is invalid or its
    ``data_date`` is older than the shipped data.
    """
    source = Path(file)
    candidate = _read_file(source)
    shipped = shipped_advisories()
    if candidate.data_date < shipped.data_date:
        raise AdvisoryError(
            f"{source}: data_date {candidate.data_date.isoformat()} is older than the shipped advisories "
            f"({shipped.data_date.isoformat()}): not installed"
        )
    target = installed_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".advisories-", suffix=".toml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# -- matching ----------------------------------------------------------------------------------
def match(product: str | None, version: str | None, data: AdvisoryData | None = None) -> list[Match]:
    """The advisories whose range contains ``version`` of ``product``.

    Nothing matches without a product and a dotted version: an unknown version
    is never taken as vulnerable.
    """
    if not product or version is None or parse_version(version) is None:
        return []
    data = load_advisories() if data is None else data
    wanted = product.casefold()
    found = []
    for adv in data.advisories:
        if adv.product.casefold() != wanted or version not in adv.affected:
            continue
        fixed = f"fixed in {adv.fixed}" if adv.fixed else "no fixed release published"
        found.append(Match(adv, f"{adv.product} {version} is in {adv.affected}; {fixed}"))
    return found
