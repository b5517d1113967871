"""Policy on results: accepted risks (waivers), the verdict of every finding, pipeline gates.

Everything here works on a finished :class:`~dicomaudit.models.RunResult`;
nothing talks to the network or renders anything (writers live in
:mod:`dicomaudit.output`, run-to-run comparison in :mod:`dicomaudit.diff`).

Whether a failing check is an accepted risk is decided **once**, here, by
:func:`assess`: it joins a result with a :class:`WaiverResult` into an
:class:`Assessment` of frozen :class:`AssessedCheck` records (prowler's one
``Finding`` model).  Every writer (JSON waiver record, CSV, HTML, Markdown,
JUnit, console) and the ``--fail-on`` gate read the :class:`Verdict` from
there and never look at waivers themselves.

Waivers are kept *beside* the result rather than inside it: the result JSON
stays the raw observation, and the same run can be re-rendered with another
waiver file (e.g. after the risk owner approves an exception).

Waiver file (TOML: comments allowed, dates native; ``expires`` may also be a
quoted ISO date).  Anything else in the file (another table such as
``[[waivers]]``, a field not listed here, a check id the catalogue does not
know) is an error that names the line, so a typo never silently waives
nothing::

    # Accepted risks for the radiology network, reviewed quarterly
    [[waiver]]
    node = "10.20.0.15:104/ARCHIVE"   # "*", "host:port" (any AE title) or "host:port/AET"
    check = "echo.unauthenticated"    # a catalogue check id
    reason = "Echo kept open for modality connectivity tests (CHG-1234)"
    expires = 2025-12-31              # applies through this date, then counts again
    approved_by = "J. Doe, CISO"      # optional
"""

from __future__ import annotations

import difflib
import enum
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from dicomaudit.models import CheckResult, RunResult, Severity, Status, Target, TargetResult

# ---------------------------------------------------------------------------
# Finding identity


class FindingKey(NamedTuple):
    """Identity of one (node, check) finding: ``(host, port, called_aet, check id)``."""

    host: str
    port: int
    called_aet: str | None
    check: str

    @classmethod
    def of(cls, target: Target, check_id: str) -> FindingKey:
        return cls(target.host, target.port, _aet(target.called_aet), check_id)

    @property
    def node(self) -> str:
        return node_label(self.host, self.port, self.called_aet)

    def __str__(self) -> str:
        return f"{self.node} {self.check}"


def _aet(value: str | None) -> str | None:
    # PS3.5 6.2: leading and trailing spaces of an AE value are not significant.
    value = (value or "").strip()
    return value or None


def node_label(host: str, port: int, called_aet: str | None = None) -> str:
    """``host:port[/AET]`` as a user writes a target (IPv6 hosts bracketed)."""
    h = f"[{host}]" if ":" in host else host
    return f"{h}:{port}/{called_aet}" if called_aet else f"{h}:{port}"


# ---------------------------------------------------------------------------
# Waivers (accepted risks)


class WaiverError(ValueError):
    """The waiver file is unusable; the message names the file and line."""


WAIVER_FIELDS = ("node", "check", "reason", "expires", "approved_by")
_REQUIRED = ("node", "check", "reason", "expires")


@dataclass(frozen=True)
class Waiver:
    """An accepted risk: one check on one node (or on every node), until a date.

    ``node`` is ``*`` (every node), ``host:port`` (any Called AE Title on that
    port) or ``host:port/AET``.  The waiver applies up to and including
    ``expires``.
    """

    node: str
    check: str
    reason: str
    expires: date
    approved_by: str | None = None
    origin: str | None = None  # "file.toml:3": where it was written, for the auditor

    def __post_init__(self) -> None:
        _parse_node(self.node)  # validate early: a typo must not silently match nothing
        if not self.check or not self.check.strip():
            raise WaiverError("waiver without a check id")
        if not self.reason or not self.reason.strip():
            raise WaiverError(f"waiver for {self.node} {self.check} has no reason")

    @property
    def specificity(self) -> int:
        """2 for host:port/AET, 1 for host:port, 0 for ``*``: the most specific waiver wins."""
        parsed = _parse_node(self.node)
        return 0 if parsed is None else (2 if parsed[2] else 1)

    def matches(self, target: Target, check_id: str) -> bool:
        if check_id != self.check:
            return False
        parsed = _parse_node(self.node)
        if parsed is None:
            return True
        host, port, aet = parsed
        if host.lower() != target.host.lower() or port != target.port:
            return False
        return aet is None or aet == _aet(target.called_aet)

    def is_active(self, today: date) -> bool:
        return today <= self.expires

    def __str__(self) -> str:
        return f"{self.node} {self.check}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "node": self.node,
            "check": self.check,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
            "approved_by": self.approved_by,
        }
        if self.origin:
            d["origin"] = self.origin
        return d


def _parse_node(node: str) -> tuple[str, int, str | None] | None:
    node = node.strip()
    if node == "*":
        return None
    addr, _, aet = node.partition("/")  # host:port never contains "/"; the AE title may
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else ""
    else:
        host, _, port_text = addr.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise WaiverError(f"waiver node {node!r} is not '*', 'host:port' or 'host:port/AET'")
    return host, int(port_text), _aet(aet)


def _checked_node(value: Any) -> str:
    _parse_node(str(value))
    return str(value)


def _checked_reason(value: Any) -> str:
    if not str(value).strip():
        raise WaiverError("reason is empty: say why the risk is accepted")
    return str(value).strip()


def _parse_date(value: Any) -> date:
    if isinstance(value, date):  # TOML local date (also accepts a datetime: its date part)
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise WaiverError(f"expires {value!r} is not an ISO date (YYYY-MM-DD)") from None


# tomllib gives values without positions; this light scan of the text finds the line of each
# [[waiver]] entry and of each key in it, so that every error can name the line to edit.
_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]*?)\s*\]\]?")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|=)""")


@dataclass
class _Lines:
    """Where things are in a waiver file: top-level keys, other tables, and each entry's keys."""

    top: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    entries: list[tuple[int, dict[str, int]]] = field(default_factory=list)

    @classmethod
    def scan(cls, text: str) -> _Lines:
        found = cls()
        current: dict[str, int] | None = found.top
        in_multiline: str | None = None
        for lineno, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            table = _TABLE.match(line)
            if table:
                name = table.group(2).strip().strip("\"'")
                if table.group(1) == "[[" and name == "waiver":
                    current = {}
                    found.entries.append((lineno, current))
                else:
                    found.tables.setdefault(name.split(".", 1)[0], lineno)
                    current = None
                continue
            key = _KEY.match(line)
            if key and current is not None:
                current.setdefault(key.group(1).strip("\"'"), lineno)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_multiline = quote
        return found

    def entry(self, index: int) -> tuple[int | None, dict[str, int]]:
        if index < len(self.entries):
            return self.entries[index]
        return self.top.get("waiver"), {}  # an inline array: only its key has a line


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_waivers(
    data: Mapping[str, Any],
    origin: str = "<waivers>",
    *,
    text: str | None = None,
    known_checks: Collection[str] | None = None,
) -> tuple[Waiver, ...]:
    """Build waivers from a decoded waiver document (``{"waiver": [{...}, ...]}``).

    Parameters
    ----------
    data
        The decoded TOML document.
    origin
        The file name used in messages and recorded in :attr:`Waiver.origin`.
    text
        The document's text, to name lines in messages (``origin:LINE:``);
        without it messages name the entry number only.
    known_checks
        Check ids a waiver may name (default: the catalogue's); anything else
        is an error, since a mistyped id would waive nothing.

    Raises
    ------
    WaiverError
        On the first problem, naming the line.
    """
    if known_checks is None:
        from dicomaudit.checks.catalogue import load_catalogue

        known_checks = load_catalogue().keys()
    lines = _Lines.scan(text) if text is not None else _Lines()

    def where(line: int | None) -> str:
        return f"{origin}:{line}" if line else origin

    for key in data:
        if key != "waiver":
            line = lines.tables.get(key) or lines.top.get(key)
            raise WaiverError(
                f"{where(line)}: unknown {'table' if key in lines.tables else 'key'} {key!r}{_suggest(key, ['waiver'])}"
                " (a waiver file holds only [[waiver]] entries)"
            )
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise WaiverError(
            f"{where(lines.tables.get('waiver') or lines.top.get('waiver'))}: "
            "'waiver' must be an array of tables ([[waiver]])"
        )
    waivers = []
    for i, entry in enumerate(entries):
        head, keys = lines.entry(i)
        label = f"waiver #{i + 1}"
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{where(head)}: {label} must be a table")
        for name in entry:
            if name not in WAIVER_FIELDS:
                raise WaiverError(
                    f"{where(keys.get(name, head))}: {label}: unknown field {name!r}"
                    f"{_suggest(name, WAIVER_FIELDS)} (fields: {', '.join(WAIVER_FIELDS)})"
                )
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise WaiverError(f"{where(head)}: {label}: missing field(s) {', '.join(missing)}")
        check = str(entry["check"]).strip()
        if check not in known_checks:
            raise WaiverError(
                f"{where(keys.get('check', head))}: {label}: unknown check {check!r}{_suggest(check, known_checks)}"
            )
        values: dict[str, Any] = {}
        for name, parse in (("node", _checked_node), ("reason", _checked_reason), ("expires", _parse_date)):
            try:
                values[name] = parse(entry[name])
            except WaiverError as exc:
                raise WaiverError(f"{where(keys.get(name, head))}: {label}: {exc}") from None
        waivers.append(
            Waiver(
                check=check,
                approved_by=(str(entry["approved_by"]) if entry.get("approved_by") else None),
                origin=where(head),
                **values,
            )
        )
    return tuple(waivers)


def load_waivers(path: str | Path, known_checks: Collection[str] | None = None) -> tuple[Waiver, ...]:
    """Read a TOML waiver file (see the module docs of :mod:`dicomaudit.policy` for the format).

    Raises
    ------
    WaiverError
        File unreadable, not TOML, or anything in it invalid (the message names the line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read waiver file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError:
        raise WaiverError(f"{path}: not a waiver file (not UTF-8 text)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"{path}: not valid TOML ({exc})") from exc
    return parse_waivers(data, origin=path.name, text=text, known_checks=known_checks)


@dataclass(frozen=True)
class ExpiredWaiver:
    """A waiver past its expiry and the failing findings it would otherwise cover."""

    waiver: Waiver
    findings: tuple[FindingKey, ...]


@dataclass(frozen=True)
class WaiverResult:
    """The outcome of :func:`apply_waivers`: which failing findings are accepted risks.

    ``accepted`` maps a failing finding to the active waiver covering it;
    ``expired`` lists waivers past their date (their findings count again);
    ``unused`` lists active waivers that covered no failing finding (stale or
    mistyped: worth a look).  Writers do not read this directly: they read
    the :class:`Verdict` of each :class:`AssessedCheck` built by :func:`assess`.
    """

    today: date
    waivers: tuple[Waiver, ...] = ()
    accepted: Mapping[FindingKey, Waiver] = field(default_factory=dict)
    expired: tuple[ExpiredWaiver, ...] = ()
    unused: tuple[Waiver, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted", MappingProxyType(dict(self.accepted)))

    def waiver_for(self, target: Target, check_id: str) -> Waiver | None:
        """The active waiver accepting this finding, if any (only ``fail`` findings are ever accepted)."""
        return self.accepted.get(FindingKey.of(target, check_id))

    def expired_for(self, target: Target, check_id: str) -> Waiver | None:
        key = FindingKey.of(target, check_id)
        return next((e.waiver for e in self.expired if key in e.findings), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "accepted": [
                {"host": k.host, "port": k.port, "called_aet": k.called_aet, "check": k.check, "waiver": w.to_dict()}
                for k, w in self.accepted.items()
            ],
            "expired": [{"waiver": e.waiver.to_dict(), "findings": [str(k) for k in e.findings]} for e in self.expired],
            "unused": [w.to_dict() for w in self.unused],
        }


NO_WAIVERS = WaiverResult(today=date.min)


def apply_waivers(result: RunResult, waivers: Sequence[Waiver], today: date | None = None) -> WaiverResult:
    """Mark failing findings covered by an active waiver as accepted risks.

    Only ``fail`` findings are accepted: a waiver never hides an ``error``
    (undecided) or changes a ``pass``.  When several active waivers match, the
    most specific wins (``host:port/AET`` over ``host:port`` over ``*``), then
    the first in the file.

    Parameters
    ----------
    result
        The run to assess.
    waivers
        From :func:`load_waivers`.
    today
        The date expiry is judged against; defaults to the local date today.
        Pass the run's date to re-render an old result as it was judged then.
    """
    today = today or date.today()
    active = sorted((w for w in waivers if w.is_active(today)), key=lambda w: -w.specificity)
    expired = [w for w in waivers if not w.is_active(today)]
    accepted: dict[FindingKey, Waiver] = {}
    expired_hits: dict[int, list[FindingKey]] = {id(w): [] for w in expired}
    for target, check in result.all_checks:
        if check.status is not Status.FAIL:
            continue
        key = FindingKey.of(target, check.id)
        waiver = next((w for w in active if w.matches(target, check.id)), None)
        if waiver is not None:
            accepted.setdefault(key, waiver)
            continue
        for w in expired:
            if w.matches(target, check.id):
                expired_hits[id(w)].append(key)
    used = {id(w) for w in accepted.values()}
    return WaiverResult(
        today=today,
        waivers=tuple(waivers),
        accepted=accepted,
        expired=tuple(ExpiredWaiver(w, tuple(dict.fromkeys(expired_hits[id(w)]))) for w in expired),
        unused=tuple(w for w in waivers if w.is_active(today) and id(w) not in used),
    )


# ---------------------------------------------------------------------------
# The one finding model: every check on every node with its verdict


class Verdict(enum.StrEnum):
    """What one check on one node means once policy is applied: its status, or ``accepted`` for a waived fail."""

    FAIL = "fail"
    ACCEPTED = "accepted"
    ERROR = "error"
    PASS = "pass"
    SKIPPED = "skipped"
    INFO = "info"

    @property
    def label(self) -> str:
        return "ACCEPTED RISK" if self is Verdict.ACCEPTED else self.value.upper()

    @property
    def meaning(self) -> str:
        return _VERDICT_MEANING[self]

    @property
    def order(self) -> int:
        """Reading order: open exposures first, then accepted risks, undecided, passes."""
        return list(Verdict).index(self)

    @property
    def is_exposure(self) -> bool:
        """The exposure is present (open or accepted)."""
        return self in (Verdict.FAIL, Verdict.ACCEPTED)


_VERDICT_MEANING = {
    Verdict.FAIL: "the exposure is present, and the evidence shows it",
    Verdict.ACCEPTED: "the exposure is present; a documented, unexpired waiver accepts the risk",
    Verdict.ERROR: "could not be decided (timeout, abort, unexpected answer); the reason is given",
    Verdict.PASS: "the node refused: no exposure seen",
    Verdict.SKIPPED: "not applicable or not requested; the reason is given",
    Verdict.INFO: "an observation, not a verdict",
}


@dataclass(frozen=True)
class AssessedCheck:
    """One check on one node with its verdict and the waiver decision behind it."""

    target: Target
    check: CheckResult
    verdict: Verdict
    waiver: Waiver | None = None  # the active waiver that accepts it (verdict ACCEPTED)
    expired_waiver: Waiver | None = None  # a waiver that would have, had it not expired

    @property
    def id(self) -> str:
        return self.check.id

    @property
    def severity(self) -> Severity:
        return self.check.severity

    @property
    def key(self) -> FindingKey:
        return FindingKey.of(self.target, self.check.id)

    @property
    def is_open(self) -> bool:
        """An exposure nobody accepted: what the gate counts and the reader acts on."""
        return self.verdict is Verdict.FAIL


@dataclass(frozen=True)
class AssessedNode:
    """A node's result with its assessed checks, in run order."""

    result: TargetResult
    checks: tuple[AssessedCheck, ...]

    @property
    def target(self) -> Target:
        return self.result.target


@dataclass(frozen=True)
class Assessment:
    """A run with the verdict of every finding decided: the input of every writer and gate."""

    result: RunResult
    waivers: WaiverResult
    nodes: tuple[AssessedNode, ...]

    @property
    def checks(self) -> tuple[AssessedCheck, ...]:
        return tuple(c for n in self.nodes for c in n.checks)

    def with_verdict(self, *verdicts: Verdict) -> list[AssessedCheck]:
        return [c for c in self.checks if c.verdict in verdicts]

    @property
    def open_findings(self) -> list[AssessedCheck]:
        """Open exposures, worst first (run order within a severity)."""
        return sorted(self.with_verdict(Verdict.FAIL), key=lambda c: c.severity, reverse=True)


def _verdict(check: CheckResult, waiver: Waiver | None) -> Verdict:
    if check.status is Status.FAIL and waiver is not None:
        return Verdict.ACCEPTED
    return Verdict(check.status.value)


def assess(result: RunResult, waivers: WaiverResult | None = None) -> Assessment:
    """Decide the verdict of every check of ``result`` under ``waivers`` (the one place this is decided)."""
    waivers = waivers or NO_WAIVERS
    nodes = []
    for t in result.targets:
        checks = []
        for c in t.checks:
            failing = c.status is Status.FAIL
            waiver = waivers.waiver_for(t.target, c.id) if failing else None
            checks.append(
                AssessedCheck(
                    target=t.target,
                    check=c,
                    verdict=_verdict(c, waiver),
                    waiver=waiver,
                    expired_waiver=waivers.expired_for(t.target, c.id) if failing and waiver is None else None,
                )
            )
        nodes.append(AssessedNode(t, tuple(checks)))
    return Assessment(result=result, waivers=waivers, nodes=tuple(nodes))


# ---------------------------------------------------------------------------
# Gates


class BlockerKind(enum.StrEnum):
    CHECK = "check"
    PHI = "phi"


@dataclass(frozen=True)
class Blocker:
    """A finding that makes the gate fail."""

    kind: BlockerKind
    severity: Severity
    where: str  # node label or PHI source
    what: str  # check id or PHI path
    summary: str

    def __str__(self) -> str:
        return f"[{self.severity.value}] {self.where} {self.what}: {self.summary}"


def blocking_findings(
    result: RunResult | Assessment, threshold: Severity, waivers: WaiverResult | None = None
) -> list[Blocker]:
    """Findings at or above ``threshold`` that no active waiver accepts, worst first.

    Counts what :meth:`RunResult.reaches` counts (failed checks and the
    run-level PHI findings of ``analyze``); PHI seen in C-FIND responses is
    already represented by the ``find.phi_exposed`` check.
    """
    assessment = result if isinstance(result, Assessment) else assess(result, waivers)
    out = [
        Blocker(BlockerKind.CHECK, c.severity, str(c.target), c.id, c.check.summary)
        for c in assessment.open_findings
        if c.severity >= threshold
    ]
    out += [
        Blocker(BlockerKind.PHI, p.severity, p.source, p.path, f"{p.category} ({p.rule})")
        for p in assessment.result.phi
        if p.severity >= threshold
    ]
    return sorted(out, key=lambda b: b.severity, reverse=True)


def reaches(result: RunResult | Assessment, threshold: Severity, waivers: WaiverResult | None = None) -> bool:
    """True when a non-waived finding reaches ``threshold`` (the ``--fail-on`` test)."""
    return bool(blocking_findings(result, threshold, waivers))


def exit_code(result: RunResult | Assessment, threshold: Severity | None, waivers: WaiverResult | None = None) -> int:
    """The CONTRACT exit status for a completed run: 1 when ``--fail-on`` is reached, else 0."""
    return 1 if threshold is not None and reaches(result, threshold, waivers) else 0
