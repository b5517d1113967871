"""Policy on results: accepted risks (waivers), pipeline gates and run-to-run diffs.

Everything here works on a finished :class:`~dicomaudit.models.RunResult`;
nothing talks to the network or renders a report (see :mod:`dicomaudit.output`).

A finding is identified across runs by :class:`FindingKey`
``(host, port, called_aet, check id)``; PHI findings by ``(source, path)``.

Waivers are kept *beside* the result rather than inside it: the result JSON
stays the raw observation, and the same run can be re-rendered with another
waiver file (e.g. after the risk owner approves an exception).

Waiver file (TOML: comments allowed, dates native; ``expires`` may also be a
quoted ISO date)::

    # Accepted risks for the radiology network, reviewed quarterly
    [[waiver]]
    node = "10.20.0.15:104/ARCHIVE"   # "*", "host:port" (any AE title) or "host:port/AET"
    check = "echo.unauthenticated"    # a catalogue check id
    reason = "Echo kept open for modality connectivity tests (CHG-1234)"
    expires = 2025-12-31              # applies through this date, then counts again
    approved_by = "J. Doe, CISO"      # optional
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from dicomaudit.models import CheckResult, PhiFinding, RunResult, Severity, Status, Target

# ---------------------------------------------------------------------------
# Finding identity


class FindingKey(NamedTuple):
    """Identity of one (node, check) finding, stable across runs."""

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
    """The waiver file is unusable; the message names the file and entry."""


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
    origin: str | None = None  # "file.toml#3": where it was written, for the auditor

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


def _parse_date(value: Any) -> date:
    if isinstance(value, date):  # TOML local date (also accepts a datetime: its date part)
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise WaiverError(f"expires {value!r} is not an ISO date (YYYY-MM-DD)") from None


def parse_waivers(data: Mapping[str, Any], origin: str = "<waivers>") -> tuple[Waiver, ...]:
    """Build waivers from a decoded waiver document (``{"waiver": [{...}, ...]}``)."""
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise WaiverError(f"{origin}: 'waiver' must be an array of tables ([[waiver]])")
    waivers = []
    for i, entry in enumerate(entries, start=1):
        where = f"{origin}#{i}"
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{where}: a waiver must be a table")
        unknown = set(entry) - {"node", "check", "reason", "expires", "approved_by"}
        if unknown:
            raise WaiverError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        missing = [k for k in ("node", "check", "reason", "expires") if k not in entry]
        if missing:
            raise WaiverError(f"{where}: missing field(s) {', '.join(missing)}")
        try:
            waivers.append(
                Waiver(
                    node=str(entry["node"]),
                    check=str(entry["check"]).strip(),
                    reason=str(entry["reason"]).strip(),
                    expires=_parse_date(entry["expires"]),
                    approved_by=(str(entry["approved_by"]) if entry.get("approved_by") else None),
                    origin=where,
                )
            )
        except WaiverError as exc:
            raise WaiverError(f"{where}: {exc}") from None
    return tuple(waivers)


def load_waivers(path: str | Path) -> tuple[Waiver, ...]:
    """Read a TOML waiver file (see the module docs of :mod:`dicomaudit.report` for the format).

    Raises
    ------
    WaiverError
        File unreadable, not TOML, or an entry invalid (message names the entry).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read waiver file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"{path}: not valid TOML ({exc})") from exc
    return parse_waivers(data, origin=path.name)


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
    mistyped: worth a look).
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
            "expired": [
                {"waiver": e.waiver.to_dict(), "findings": [str(k) for k in e.findings]} for e in self.expired
            ],
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
# Gates


@dataclass(frozen=True)
class Blocker:
    """A finding that makes the gate fail."""

    kind: Literal["check", "phi"]
    severity: Severity
    where: str  # node label or PHI source
    what: str  # check id or PHI path
    summary: str

    def __str__(self) -> str:
        return f"[{self.severity.value}] {self.where} {self.what}: {self.summary}"


def blocking_findings(
    result: RunResult, threshold: Severity, waivers: WaiverResult | None = None
) -> list[Blocker]:
    """Findings at or above ``threshold`` that no active waiver accepts, worst first.

    Counts what :meth:`RunResult.reaches` counts (failed checks and the
    run-level PHI findings of ``analyze``); PHI seen in C-FIND responses is
    already represented by the ``find.phi_exposed`` check.
    """
    waivers = waivers or NO_WAIVERS
    out = [
        Blocker("check", c.severity, str(t), c.id, c.summary)
        for t, c in result.all_checks
        if c.status is Status.FAIL and c.severity.rank >= threshold.rank and waivers.waiver_for(t, c.id) is None
    ]
    out += [
        Blocker("phi", p.severity, p.source, p.path, f"{p.category} ({p.rule})")
        for p in result.phi
        if p.severity.rank >= threshold.rank
    ]
    return sorted(out, key=lambda b: -b.severity.rank)


def reaches(result: RunResult, threshold: Severity, waivers: WaiverResult | None = None) -> bool:
    """True when a non-waived finding reaches ``threshold`` (the ``--fail-on`` test)."""
    return bool(blocking_findings(result, threshold, waivers))


def exit_code(result: RunResult, threshold: Severity | None, waivers: WaiverResult | None = None) -> int:
    """The CONTRACT exit status for a completed run: 1 when ``--fail-on`` is reached, else 0."""
    return 1 if threshold is not None and reaches(result, threshold, waivers) else 0


# ---------------------------------------------------------------------------
# Diff


class Change(enum.StrEnum):
    FIXED = "fixed"  # failed before, passes now
    NEW = "new"  # fails now, did not before (or was not assessed)
    UNCHANGED = "unchanged"  # failed before and fails now
    UNVERIFIED = "unverified"  # failed before; now error, skipped, info or not assessed


@dataclass(frozen=True)
class CheckChange:
    key: FindingKey
    change: Change
    old: CheckResult | None
    new: CheckResult | None

    @property
    def current(self) -> CheckResult:
        return self.new or self.old  # type: ignore[return-value]  # one of them always exists

    @property
    def transition(self) -> str:
        return f"{self.old.status.value if self.old else 'absent'} -> {self.new.status.value if self.new else 'absent'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.key.host,
            "port": self.key.port,
            "called_aet": self.key.called_aet,
            "check": self.key.check,
            "change": self.change.value,
            "old_status": self.old.status.value if self.old else None,
            "new_status": self.new.status.value if self.new else None,
            "severity": self.current.severity.value,
            "title": self.current.title,
            "summary": self.current.summary,
        }


@dataclass(frozen=True)
class PhiChange:
    source: str
    path: str
    change: Change
    finding: PhiFinding

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change.value, **self.finding.to_dict()}


@dataclass(frozen=True)
class Diff:
    """What changed between two runs; only failing findings are listed."""

    fixed: tuple[CheckChange, ...] = ()
    new: tuple[CheckChange, ...] = ()
    unchanged: tuple[CheckChange, ...] = ()
    unverified: tuple[CheckChange, ...] = ()
    phi_fixed: tuple[PhiChange, ...] = ()
    phi_new: tuple[PhiChange, ...] = ()
    phi_unchanged: tuple[PhiChange, ...] = ()

    def reaches(self, threshold: Severity) -> bool:
        """True when a *new* finding reaches ``threshold`` (gate on regressions only)."""
        return any(c.current.severity.rank >= threshold.rank for c in self.new) or any(
            p.finding.severity.rank >= threshold.rank for p in self.phi_new
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": {
                name: [c.to_dict() for c in getattr(self, name)] for name in ("new", "fixed", "unverified", "unchanged")
            },
            "phi": {
                name: [p.to_dict() for p in getattr(self, f"phi_{name}")] for name in ("new", "fixed", "unchanged")
            },
        }


def _index_checks(result: RunResult) -> dict[FindingKey, CheckResult]:
    out: dict[FindingKey, CheckResult] = {}
    for target, check in result.all_checks:
        out.setdefault(FindingKey.of(target, check.id), check)  # first wins if a node was listed twice
    return out


def _index_phi(findings: Iterable[PhiFinding]) -> dict[tuple[str, str], PhiFinding]:
    out: dict[tuple[str, str], PhiFinding] = {}
    for p in findings:
        out.setdefault((p.source, p.path), p)
    return out


def _by_severity(changes: list[CheckChange]) -> tuple[CheckChange, ...]:
    return tuple(sorted(changes, key=lambda c: (-c.current.severity.rank, c.key.node, c.key.check)))


def diff_results(old: RunResult, new: RunResult) -> Diff:
    """Compare two runs finding by finding.

    ``fixed`` needs positive evidence (the check now ``pass``es); a finding
    that failed before and is now ``error``/``skipped``/``info``, or whose
    node or check was not assessed, is ``unverified``, never silently fixed.
    """
    before, after = _index_checks(old), _index_checks(new)
    buckets: dict[Change, list[CheckChange]] = {c: [] for c in Change}
    for key in dict.fromkeys([*before, *after]):
        o, n = before.get(key), after.get(key)
        was = o is not None and o.status is Status.FAIL
        now = n is not None and n.status is Status.FAIL
        if was and now:
            buckets[Change.UNCHANGED].append(CheckChange(key, Change.UNCHANGED, o, n))
        elif now:
            buckets[Change.NEW].append(CheckChange(key, Change.NEW, o, n))
        elif was and n is not None and n.status is Status.PASS:
            buckets[Change.FIXED].append(CheckChange(key, Change.FIXED, o, n))
        elif was:
            buckets[Change.UNVERIFIED].append(CheckChange(key, Change.UNVERIFIED, o, n))
    phi_before, phi_after = _index_phi(old.all_phi), _index_phi(new.all_phi)
    return Diff(
        fixed=_by_severity(buckets[Change.FIXED]),
        new=_by_severity(buckets[Change.NEW]),
        unchanged=_by_severity(buckets[Change.UNCHANGED]),
        unverified=_by_severity(buckets[Change.UNVERIFIED]),
        phi_fixed=tuple(PhiChange(*k, Change.FIXED, p) for k, p in phi_before.items() if k not in phi_after),
        phi_new=tuple(PhiChange(*k, Change.NEW, p) for k, p in phi_after.items() if k not in phi_before),
        phi_unchanged=tuple(PhiChange(*k, Change.UNCHANGED, p) for k, p in phi_after.items() if k in phi_before),
    )


_SECTIONS = (
    ("new", "New findings (now failing)"),
    ("fixed", "Fixed (failed before, pass now)"),
    ("unverified", "Unverified (failed before, not confirmed fixed now)"),
    ("unchanged", "Still failing"),
)


def render_diff(diff: Diff, fmt: Literal["text", "markdown"] = "text") -> str:
    """Render a :class:`Diff` for the terminal (``text``) or a pull request / ticket (``markdown``)."""
    # The Markdown report's escaping (imported here: that module imports this one).
    from dicomaudit.output.markdown import md_escape as _md

    head = (
        f"{len(diff.new)} new, {len(diff.fixed)} fixed, {len(diff.unverified)} unverified, "
        f"{len(diff.unchanged)} still failing; PHI: {len(diff.phi_new)} new, {len(diff.phi_fixed)} gone, "
        f"{len(diff.phi_unchanged)} unchanged"
    )
    lines: list[str] = []
    if fmt == "markdown":
        lines += ["# dicomaudit diff", "", head, ""]
        for name, title in _SECTIONS:
            changes: tuple[CheckChange, ...] = getattr(diff, name)
            if not changes:
                continue
            lines += [f"## {title}", "", "| severity | node | check | status | summary |", "|---|---|---|---|---|"]
            lines += [
                f"| {c.current.severity.value} | {_md(c.key.node)} | `{c.key.check}` | {c.transition} | "
                f"{_md(c.current.summary)} |"
                for c in changes
            ]
            lines.append("")
        for name, title in (("phi_new", "New PHI findings"), ("phi_fixed", "PHI findings no longer seen")):
            phi: tuple[PhiChange, ...] = getattr(diff, name)
            if not phi:
                continue
            lines += [f"## {title}", "", "| severity | source | element | category | value |", "|---|---|---|---|---|"]
            lines += [
                f"| {p.finding.severity.value} | {_md(p.source)} | `{_md(p.path)}` | {_md(p.finding.category)} | "
                f"{_md(p.finding.value)} |"
                for p in phi
            ]
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"
    if fmt != "text":
        raise ValueError(f"unknown diff format {fmt!r} (expected text or markdown)")
    lines.append(head)
    for name, title in _SECTIONS:
        changes = getattr(diff, name)
        if changes:
            lines += ["", f"{title}:"]
            lines += [
                f"  [{c.current.severity.value:>8}] {c.key.node}  {c.key.check}  ({c.transition})  {c.current.summary}"
                for c in changes
            ]
    for name, title in (("phi_new", "New PHI findings"), ("phi_fixed", "PHI findings no longer seen")):
        phi = getattr(diff, name)
        if phi:
            lines += ["", f"{title}:"]
            lines += [
                f"  [{p.finding.severity.value:>8}] {p.source}  {p.path}  {p.finding.category}  {p.finding.value}"
                for p in phi
            ]
    return "\n".join(lines) + "\n"
