"""Run-to-run comparison: which findings were fixed, are new, still fail, or could not be verified.

Nodes are matched by their inventory ``name`` when both runs have one (a
node that moved to another address or port is still the same node), then by
``host:port/AET``.  A finding is fixed only on positive evidence (the check
now passes); a node that timed out or was left out is never called fixed.

Rendering (terminal text, Markdown) lives with the writers in
:mod:`dicomaudit.output.diff`.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dicomaudit.models import CheckResult, PhiFinding, RunResult, Severity, Status, Target, TargetResult
from dicomaudit.policy import FindingKey


class Change(enum.StrEnum):
    """The state of a finding between two runs."""

    FIXED = "fixed"  # failed before, passes now
    NEW = "new"  # fails now, did not before (or was not assessed)
    UNCHANGED = "unchanged"  # failed before and fails now
    UNVERIFIED = "unverified"  # failed before; now error, skipped, info or not assessed


@dataclass(frozen=True)
class NodeMatch:
    """One node as seen in the old run, the new run, or both."""

    old: Target | None
    new: Target | None

    @property
    def current(self) -> Target:
        return self.new or self.old  # type: ignore[return-value]  # one of them always exists

    @property
    def name(self) -> str | None:
        return self.current.name or (self.old.name if self.old else None)

    @property
    def address(self) -> str:
        """``host:port/AET``; ``old -> new`` when a named node moved."""
        if self.old and self.new and _address(self.old) != _address(self.new):
            return f"{self.old} -> {self.new}"
        return str(self.current)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address

    def __str__(self) -> str:
        return self.label


def _address(target: Target) -> tuple[str, int, str | None]:
    key = FindingKey.of(target, "")
    return key.host.lower(), key.port, key.called_aet


def match_nodes(
    old: Iterable[TargetResult], new: Iterable[TargetResult]
) -> list[tuple[NodeMatch, TargetResult | None, TargetResult | None]]:
    """Pair the nodes of two runs: by inventory name when both have one, then by address; new-run order first."""
    olds, news = list(old), list(new)
    used_old: set[int] = set()
    pairs: list[tuple[TargetResult | None, TargetResult | None]] = []
    by_name = {t.target.name: i for i, t in reversed(list(enumerate(olds))) if t.target.name}
    by_addr = {_address(t.target): i for i, t in reversed(list(enumerate(olds)))}
    pending: list[TargetResult] = []
    for t in news:  # first pass: names
        i = by_name.get(t.target.name) if t.target.name else None
        if i is not None and i not in used_old:
            used_old.add(i)
            pairs.append((olds[i], t))
        else:
            pending.append(t)
            pairs.append((None, t))
    for t in pending:  # second pass: addresses, for nodes without a common name
        i = by_addr.get(_address(t.target))
        if i is None or i in used_old:
            continue
        if t.target.name and olds[i].target.name and olds[i].target.name != t.target.name:
            continue  # two different named nodes on one address (re-used IP): not the same node
        used_old.add(i)
        index = next(k for k, (o, n) in enumerate(pairs) if n is t and o is None)
        pairs[index] = (olds[i], t)
    pairs += [(o, None) for i, o in enumerate(olds) if i not in used_old]
    return [(NodeMatch(o.target if o else None, n.target if n else None), o, n) for o, n in pairs]


@dataclass(frozen=True)
class CheckChange:
    node: NodeMatch
    check_id: str
    change: Change
    old: CheckResult | None
    new: CheckResult | None

    @property
    def current(self) -> CheckResult:
        return self.new or self.old  # type: ignore[return-value]  # one of them always exists

    @property
    def key(self) -> FindingKey:
        """The finding's identity at its current address."""
        return FindingKey.of(self.node.current, self.check_id)

    @property
    def transition(self) -> str:
        return f"{self.old.status.value if self.old else 'absent'} -> {self.new.status.value if self.new else 'absent'}"

    def to_dict(self) -> dict[str, Any]:
        key = self.key
        return {
            "node": self.node.name,
            "host": key.host,
            "port": key.port,
            "called_aet": key.called_aet,
            "previous_address": str(self.node.old) if self.node.old and self.node.new else None,
            "check": self.check_id,
            "change": self.change.value,
            "old_status": self.old.status.value if self.old else None,
            "new_status": self.new.status.value if self.new else None,
            "severity": self.current.severity.value,
            "title": self.current.title,
            "summary": self.current.summary,
        }


@dataclass(frozen=True)
class PhiChange:
    where: str  # node label, or the file for file findings
    path: str
    change: Change
    finding: PhiFinding

    @property
    def source(self) -> str:
        return self.finding.source

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change.value, "where": self.where, **self.finding.to_dict()}


@dataclass(frozen=True)
class PhiCount:
    """How many identifying values of one category appeared, disappeared or stayed."""

    category: str
    new: int
    gone: int
    unchanged: int
    unverified: int


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
    phi_unverified: tuple[PhiChange, ...] = ()  # seen before on a node whose queries were not decided now

    def reaches(self, threshold: Severity) -> bool:
        """True when a *new* finding reaches ``threshold`` (gate on regressions only)."""
        return any(c.current.severity >= threshold for c in self.new) or any(
            p.finding.severity >= threshold for p in self.phi_new
        )

    @property
    def phi_by_category(self) -> list[PhiCount]:
        """Counts per PHI category (most values first): the summary a diff shows by default."""
        counts: dict[Change, Counter[str]] = {
            Change.NEW: Counter(p.finding.category for p in self.phi_new),
            Change.FIXED: Counter(p.finding.category for p in self.phi_fixed),
            Change.UNCHANGED: Counter(p.finding.category for p in self.phi_unchanged),
            Change.UNVERIFIED: Counter(p.finding.category for p in self.phi_unverified),
        }
        total = sum(counts.values(), Counter())
        return [
            PhiCount(
                cat,
                counts[Change.NEW][cat],
                counts[Change.FIXED][cat],
                counts[Change.UNCHANGED][cat],
                counts[Change.UNVERIFIED][cat],
            )
            for cat, _ in total.most_common()
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": {
                name: [c.to_dict() for c in getattr(self, name)] for name in ("new", "fixed", "unverified", "unchanged")
            },
            "phi": {
                name: [p.to_dict() for p in getattr(self, f"phi_{name}")]
                for name in ("new", "fixed", "unverified", "unchanged")
            },
        }


def _by_severity(changes: list[CheckChange]) -> tuple[CheckChange, ...]:
    by_place = sorted(changes, key=lambda c: (c.node.label, c.check_id))
    return tuple(sorted(by_place, key=lambda c: c.current.severity, reverse=True))  # stable: worst first


def _checks_of(t: TargetResult | None) -> dict[str, CheckResult]:
    out: dict[str, CheckResult] = {}
    for c in t.checks if t else ():
        out.setdefault(c.id, c)
    return out


def _queries_decided(t: TargetResult | None) -> bool:
    """Whether the node's C-FIND question was answered in this run (so PHI no longer seen is really gone)."""
    if t is None:
        return False
    checks = _checks_of(t)
    find = checks.get("find.unauthenticated")
    return find is not None and find.status in (Status.PASS, Status.FAIL)


def _phi_index(
    findings: Iterable[PhiFinding], where: str | None = None, target: Target | None = None
) -> dict[tuple[str, str, str], PhiFinding]:
    """Key PHI findings by (node or file, query, element); the first of duplicates wins.

    A network source names the node's address ("dicom://host:port/AET C-FIND ... match 3"): it is dropped, so
    that a node matched by name across an address change compares its query responses, not its address.
    """
    out: dict[tuple[str, str, str], PhiFinding] = {}
    for p in findings:
        source = p.source.replace(str(target), "") if target is not None else p.source
        out.setdefault((where or p.source, source, p.path), p)
    return out


def _phi_changes(
    before: Mapping[tuple[str, str, str], PhiFinding],
    after: Mapping[tuple[str, str, str], PhiFinding],
    gone_is_verified: bool,
) -> dict[Change, list[PhiChange]]:
    out: dict[Change, list[PhiChange]] = {c: [] for c in Change}
    for key, p in after.items():
        change = Change.UNCHANGED if key in before else Change.NEW
        out[change].append(PhiChange(key[0], p.path, change, p))
    gone = Change.FIXED if gone_is_verified else Change.UNVERIFIED
    out[gone] += [PhiChange(key[0], p.path, gone, p) for key, p in before.items() if key not in after]
    return out


def diff_results(old: RunResult, new: RunResult) -> Diff:
    """Compare two runs finding by finding.

    ``fixed`` needs positive evidence (the check now ``pass``es); a finding
    that failed before and is now ``error``/``skipped``/``info``, or whose
    node or check was not assessed, is ``unverified``, never silently fixed.
    PHI seen in a node's query responses counts as gone only when the new run
    decided that node's C-FIND question; otherwise it is ``unverified``.
    """
    buckets: dict[Change, list[CheckChange]] = {c: [] for c in Change}
    phi: dict[Change, list[PhiChange]] = {c: [] for c in Change}
    for node, o, n in match_nodes(old.targets, new.targets):
        before, after = _checks_of(o), _checks_of(n)
        for check_id in dict.fromkeys([*after, *before]):
            b, a = before.get(check_id), after.get(check_id)
            was = b is not None and b.status is Status.FAIL
            now = a is not None and a.status is Status.FAIL
            if was and now:
                change = Change.UNCHANGED
            elif now:
                change = Change.NEW
            elif was and a is not None and a.status is Status.PASS:
                change = Change.FIXED
            elif was:
                change = Change.UNVERIFIED
            else:
                continue
            buckets[change].append(CheckChange(node, check_id, change, b, a))
        label = node.label
        for change, items in _phi_changes(
            _phi_index(o.phi if o else (), label, node.old),
            _phi_index(n.phi if n else (), label, node.new),
            gone_is_verified=_queries_decided(n),
        ).items():
            phi[change] += items
    for change, items in _phi_changes(
        _phi_index(old.phi),
        _phi_index(new.phi),
        gone_is_verified=True,
    ).items():
        phi[change] += items
    return Diff(
        fixed=_by_severity(buckets[Change.FIXED]),
        new=_by_severity(buckets[Change.NEW]),
        unchanged=_by_severity(buckets[Change.UNCHANGED]),
        unverified=_by_severity(buckets[Change.UNVERIFIED]),
        phi_fixed=tuple(phi[Change.FIXED]),
        phi_new=tuple(phi[Change.NEW]),
        phi_unchanged=tuple(phi[Change.UNCHANGED]),
        phi_unverified=tuple(phi[Change.UNVERIFIED]),
    )
