"""Findings over time: from stored runs to per (node, check) episodes and a trend of open findings.

Pure: no store, no I/O.  The input is a sequence of :class:`RunRecord` (a
run's result and the waiver decisions taken when it ran), oldest first; the
output is a :class:`Timeline`.

The readings are those of the rest of dicomaudit, reused rather than
restated:

* **Which node.**  A node in a run is matched to the nodes seen before by
  :func:`dicomaudit.diff.match_nodes` (inventory name first, then
  ``host:port/AET``), against the *last sighting* of every node so far, so
  a node left out of one run is still recognised in the next one and a
  named node that moved keeps its history.
* **What a check means.**  :func:`dicomaudit.policy.assess` gives each check
  its verdict under the waivers of its run (``fail``, ``accepted`` for a
  waived fail, ``pass``, ``error``, ``skipped``, ``info``).
* **What counts as fixed.**  As in :func:`dicomaudit.diff.diff_results`,
  only a ``pass`` fixes a finding.  ``error``, ``skipped``, ``info`` or a
  check missing from a run that probed the node leave it open and
  *unverified*; the next ``pass`` fixes it, the next ``fail`` confirms it.

An **episode** is one stretch of a finding: it appears with the first
failing verdict, may be waived (and the waiver may end), and ends with the
first ``pass``.  A finding that fails again after being fixed starts a new
episode (a regression), so the appearance date of each is exact.

The **trend** counts, at every run, the findings open at that moment, by
severity: open (nobody accepted them) and accepted (waived).  A finding of a
node the run did not probe is still counted (nobody saw it fixed), and is
part of the run's ``not re-verified`` count, as is every open finding the
run did not see failing.
"""

from __future__ import annotations

import enum
import fnmatch
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from types import MappingProxyType

from dicomaudit.diff import match_nodes
from dicomaudit.models import RunResult, Severity, Target, TargetResult
from dicomaudit.policy import NO_WAIVERS, AssessedCheck, FindingKey, Verdict, WaiverResult, assess, node_label


@dataclass(frozen=True)
class RunRecord:
    """One stored run: its result (checks without evidence) and the waiver decisions taken when it ran.

    ``started_at`` is timezone-aware (UTC); it orders the runs and dates
    every event of the timeline.
    """

    id: int
    started_at: datetime
    result: RunResult
    waivers: WaiverResult = NO_WAIVERS
    finished_at: datetime | None = None
    stored_at: datetime | None = None

    @property
    def incomplete(self) -> bool:
        return self.result.run.incomplete

    @property
    def point(self) -> RunPoint:
        return RunPoint(started_at=self.started_at, id=self.id, incomplete=self.incomplete)


@dataclass(frozen=True, order=True)
class RunPoint:
    """A run as a point in time: what every event and trend row refers to."""

    started_at: datetime  # first: runs order by time (a run stored later may have started earlier)
    id: int
    incomplete: bool = False

    @property
    def date(self) -> str:
        return self.started_at.date().isoformat()

    def __str__(self) -> str:
        return f"{self.started_at.strftime('%Y-%m-%d %H:%M')} (run {self.id})"


class EventKind(enum.StrEnum):
    """What happened to a finding in one run."""

    APPEARED = "appeared"  # the first failing verdict of the episode
    WAIVED = "waived"  # failing, and a waiver accepted it in this run (not in the previous sighting)
    WAIVER_ENDED = "waiver_ended"  # failing, accepted before, not any more (expired or removed)
    UNVERIFIED = "unverified"  # the node was probed, the check was not decided (error/skipped/info/absent)
    CONFIRMED = "confirmed"  # failing again after being unverified
    FIXED = "fixed"  # the check passed: the episode ends


@dataclass(frozen=True)
class Event:
    kind: EventKind
    run: RunPoint
    status: str  # the verdict seen in that run ("absent" when the check was not in it)
    detail: str | None = None  # the waiver's reason, the undecided check's reason code

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "event": self.kind.value,
            "run": self.run.id,
            "at": _iso(self.run.started_at),
            "status": self.status,
        }
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass(frozen=True)
class NodeRef:
    """A node across runs: its inventory name and the address it had when last seen."""

    index: int  # order of first sighting
    target: Target

    @property
    def name(self) -> str | None:
        return self.target.name

    @property
    def address(self) -> str:
        return str(self.target)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address

    def matches(self, pattern: str) -> bool:
        """``--node``: the name, the address (``host:port/AET`` or URL), ``host:port`` or the host, as a glob."""
        key = FindingKey.of(self.target, "")
        names = {self.address, node_label(key.host, key.port), self.target.host, self.label}
        if self.name:
            names.add(self.name)
        return any(fnmatch.fnmatchcase(n.lower(), pattern.lower()) for n in names)


class EpisodeState(enum.StrEnum):
    OPEN = "open"  # failing, nobody accepted it
    ACCEPTED = "accepted"  # failing, a waiver accepted it in the last run that saw it
    FIXED = "fixed"  # a later run saw the check pass


@dataclass(frozen=True)
class Episode:
    """One stretch of a finding on one node: from the first failing verdict to the first pass."""

    node: NodeRef
    check: str
    title: str
    severity: Severity
    events: tuple[Event, ...]
    failing: tuple[RunPoint, ...] = ()  # every run that saw it failing (fail or accepted)

    def _first(self, kind: EventKind) -> Event | None:
        return next((e for e in self.events if e.kind is kind), None)

    def _last(self, *kinds: EventKind) -> Event | None:
        return next((e for e in reversed(self.events) if e.kind in kinds), None)

    @property
    def appeared(self) -> RunPoint:
        return self.events[0].run

    @property
    def fixed(self) -> RunPoint | None:
        e = self._first(EventKind.FIXED)
        return e.run if e else None

    @property
    def waived(self) -> RunPoint | None:
        """The first run in which a waiver accepted the finding (``None``: never waived)."""
        e = self._first(EventKind.WAIVED)
        return e.run if e else None

    @property
    def waiver_reason(self) -> str | None:
        e = self._last(EventKind.WAIVED)
        return e.detail if e else None

    @property
    def accepted(self) -> bool:
        """The last failing sighting was waived."""
        last = self._last(EventKind.WAIVED, EventKind.WAIVER_ENDED)
        return last is not None and last.kind is EventKind.WAIVED

    @property
    def state(self) -> EpisodeState:
        if self.fixed is not None:
            return EpisodeState.FIXED
        return EpisodeState.ACCEPTED if self.accepted else EpisodeState.OPEN

    @property
    def unverified_since(self) -> RunPoint | None:
        """For an episode not fixed: the run since which the node was probed but the finding not seen failing."""
        if self.fixed is not None:
            return None
        last = self._last(EventKind.UNVERIFIED, EventKind.CONFIRMED, EventKind.APPEARED)
        return last.run if last is not None and last.kind is EventKind.UNVERIFIED else None

    def open_at(self, run: RunPoint) -> bool:
        return self.appeared <= run and (self.fixed is None or run < self.fixed)

    def to_dict(self) -> dict[str, object]:
        key = FindingKey.of(self.node.target, self.check)
        return {
            "node": self.node.name,
            "address": self.node.address,
            "host": key.host,
            "port": key.port,
            "called_aet": key.called_aet,
            "url": self.node.target.url,
            "check": self.check,
            "severity": self.severity.value,
            "title": self.title,
            "state": self.state.value,
            "appeared": _point(self.appeared),
            "waived": _point(self.waived),
            "waiver_reason": self.waiver_reason,
            "fixed": _point(self.fixed),
            "unverified_since": _point(self.unverified_since),
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True)
class TrendPoint:
    """The findings open at one run, by severity, apart from the accepted ones."""

    run: RunPoint
    open: Mapping[Severity, int]
    accepted: int
    not_reverified: int  # open or accepted, but not seen failing in this run
    nodes_probed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "open", MappingProxyType({s: self.open.get(s, 0) for s in Severity}))

    @property
    def open_total(self) -> int:
        return sum(self.open.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "run": self.run.id,
            "started_at": _iso(self.run.started_at),
            "incomplete": self.run.incomplete,
            "nodes_probed": self.nodes_probed,
            "open": {s.value: n for s, n in sorted(self.open.items(), reverse=True)},
            "open_total": self.open_total,
            "accepted": self.accepted,
            "not_reverified": self.not_reverified,
        }


@dataclass(frozen=True)
class Timeline:
    """Every run, every episode (worst first, then by node and check) and the trend, oldest run first."""

    runs: tuple[RunPoint, ...]
    episodes: tuple[Episode, ...]
    trend: tuple[TrendPoint, ...]
    nodes: tuple[NodeRef, ...] = field(default=())

    def filtered(
        self,
        *,
        since: datetime | None = None,
        nodes: Sequence[str] = (),
        checks: Sequence[str] = (),
    ) -> Timeline:
        """The part an operator asked for; appearance dates stay those of the whole history.

        ``since`` keeps the runs from that moment on and the episodes still
        open then (or later); an episode that appeared earlier keeps its
        true appearance date.  ``nodes`` and ``checks`` are globs
        (:meth:`NodeRef.matches`; check ids such as ``find.*``); the trend is
        recounted over the episodes kept.
        """
        episodes = [
            e
            for e in self.episodes
            if (since is None or e.fixed is None or e.fixed.started_at >= since)
            and (not nodes or any(e.node.matches(p) for p in nodes))
            and (not checks or any(fnmatch.fnmatchcase(e.check, p) for p in checks))
        ]
        runs = tuple(r for r in self.runs if since is None or r.started_at >= since)
        probed = {t.run: t.nodes_probed for t in self.trend}
        kept_nodes = tuple(n for n in self.nodes if not nodes or any(n.matches(p) for p in nodes))
        return Timeline(
            runs=runs,
            episodes=tuple(episodes),
            trend=_trend(runs, episodes, probed),
            nodes=kept_nodes,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "runs": [{"run": r.id, "started_at": _iso(r.started_at), "incomplete": r.incomplete} for r in self.runs],
            "trend": [t.to_dict() for t in self.trend],
            "episodes": [e.to_dict() for e in self.episodes],
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _point(run: RunPoint | None) -> dict[str, object] | None:
    return None if run is None else {"run": run.id, "at": _iso(run.started_at)}


@dataclass
class _Open:
    """An episode being built."""

    node: int
    check: str
    title: str
    severity: Severity
    events: list[Event]
    failing: list[RunPoint] = field(default_factory=list)
    waived: bool = False
    unverified: bool = False


def build_timeline(runs: Iterable[RunRecord]) -> Timeline:
    """Walk the runs oldest first and build every episode and the trend.

    Parameters
    ----------
    runs
        In any order; they are sorted by start time (then id).
    """
    ordered = sorted(runs, key=lambda r: (r.started_at, r.id))
    nodes: list[Target] = []  # node identity -> its last sighting
    open_: dict[int, dict[str, _Open]] = {}  # node identity -> check -> the episode in progress
    done: list[_Open] = []
    probed_per_run: dict[RunPoint, int] = {}
    for record in ordered:
        point = record.point
        identity = _identify(nodes, record.result.targets)
        probed_per_run[point] = len(set(identity.values()))
        assessment = assess(record.result, record.waivers)
        observed: dict[int, dict[str, AssessedCheck]] = {}
        for node in assessment.nodes:
            checks = observed.setdefault(identity[id(node.result)], {})
            for c in node.checks:
                checks.setdefault(c.id, c)  # the first of duplicates wins, as in diff
        for index, checks in observed.items():
            in_progress = open_.setdefault(index, {})
            for c in checks.values():
                _observe(in_progress, done, index, c, point)
            for check_id, ep in in_progress.items():
                if check_id not in checks and not ep.unverified:
                    # The node was probed, this check was not run on it: not seen failing, not seen fixed.
                    ep.events.append(Event(EventKind.UNVERIFIED, point, "absent", "not checked in this run"))
                    ep.unverified = True
    refs = [NodeRef(i, t) for i, t in enumerate(nodes)]
    building = [*done, *(ep for per_node in open_.values() for ep in per_node.values())]
    episodes = [
        Episode(refs[o.node], o.check, o.title, o.severity, tuple(o.events), tuple(o.failing)) for o in building
    ]
    episodes.sort(key=lambda e: (e.node.index, e.check, e.appeared))
    episodes.sort(key=lambda e: e.severity, reverse=True)  # stable: worst first, then node order
    points = [r.point for r in ordered]
    return Timeline(
        runs=tuple(points),
        episodes=tuple(episodes),
        trend=_trend(points, episodes, probed_per_run),
        nodes=tuple(refs),
    )


def _exact(target: Target) -> tuple[object, ...]:
    return (target.name, FindingKey.of(target, "")[:3], target.url)


def _identify(nodes: list[Target], targets: Sequence[TargetResult]) -> dict[int, int]:
    """Map each target result of a run (by ``id``) to a node identity; new nodes are appended to ``nodes``.

    A target seen before under the same name and address is that node (the
    common case, kept linear for fleets); the rest are matched against the
    nodes not yet matched by :func:`dicomaudit.diff.match_nodes` (a named node
    that moved, a name added to an inventory).  Every sighting becomes the
    node's last known address.
    """
    last = {_exact(t): i for i, t in enumerate(nodes)}
    out: dict[int, int] = {}
    taken: set[int] = set()
    rest: list[TargetResult] = []
    for tr in targets:
        i = last.get(_exact(tr.target))
        if i is not None and i not in taken:
            out[id(tr)] = i
            taken.add(i)
        else:
            rest.append(tr)
    if rest:
        known = [(i, TargetResult(target=t, checks=())) for i, t in enumerate(nodes) if i not in taken]
        index_of = {id(k): i for i, k in known}
        for _, old, new in match_nodes([k for _, k in known], rest):
            if new is None:
                continue
            if old is not None:
                out[id(new)] = index_of[id(old)]
            else:
                nodes.append(new.target)
                out[id(new)] = len(nodes) - 1
    for tr in targets:
        nodes[out[id(tr)]] = tr.target
    return out


def _observe(in_progress: dict[str, _Open], done: list[_Open], node: int, c: AssessedCheck, point: RunPoint) -> None:
    ep = in_progress.get(c.id)
    verdict = c.verdict
    if verdict.is_exposure:  # fail or accepted
        if ep is None:
            ep = in_progress[c.id] = _Open(
                node, c.id, c.check.title, c.severity, [Event(EventKind.APPEARED, point, verdict.value)]
            )
        elif ep.unverified:
            ep.events.append(Event(EventKind.CONFIRMED, point, verdict.value))
        ep.unverified = False
        ep.failing.append(point)
        ep.title, ep.severity = c.check.title or ep.title, c.severity  # the latest failing sighting describes it
        if verdict is Verdict.ACCEPTED and not ep.waived:
            reason = c.waiver.reason if c.waiver else None
            ep.events.append(Event(EventKind.WAIVED, point, verdict.value, reason))
            ep.waived = True
        elif verdict is Verdict.FAIL and ep.waived:
            ep.events.append(Event(EventKind.WAIVER_ENDED, point, verdict.value))
            ep.waived = False
    elif ep is None:
        return
    elif verdict is Verdict.PASS:
        ep.events.append(Event(EventKind.FIXED, point, verdict.value))
        done.append(in_progress.pop(c.id))
    elif not ep.unverified:  # error, skipped, info: undecided, never fixed
        code = c.check.reason_code.value if c.check.reason_code else None
        ep.events.append(Event(EventKind.UNVERIFIED, point, verdict.value, code))
        ep.unverified = True


def _trend(
    runs: Sequence[RunPoint], episodes: Sequence[Episode], probed: Mapping[RunPoint, int]
) -> tuple[TrendPoint, ...]:
    """The findings open at each of ``runs`` (sorted), by severity, accepted apart.

    One sweep: each episode adds +1/-1 at the runs where it opens, closes or
    changes between open and accepted (difference arrays), so a long history
    of a large fleet costs runs + events, not runs x episodes.
    """
    n = len(runs)
    open_diff = {s: [0] * (n + 1) for s in Severity}
    accepted_diff = [0] * (n + 1)
    failing = [0] * n

    def at(run: RunPoint) -> int:
        return bisect_left(runs, run)

    for e in episodes:
        start, end = at(e.appeared), at(e.fixed) if e.fixed else n
        waived = False
        for ev in e.events:
            if ev.kind in (EventKind.WAIVED, EventKind.WAIVER_ENDED):
                i = at(ev.run)
                diff = accepted_diff if waived else open_diff[e.severity]
                diff[start] += 1
                diff[max(start, i)] -= 1
                start, waived = max(start, i), ev.kind is EventKind.WAIVED
        diff = accepted_diff if waived else open_diff[e.severity]
        if start < end:
            diff[start] += 1
            diff[end] -= 1
        for run in e.failing:
            i = at(run)
            if i < n and runs[i] == run:
                failing[i] += 1
    counts = {s: list(accumulate(open_diff[s][:n])) for s in Severity}
    accepted = list(accumulate(accepted_diff[:n]))
    out = []
    for i, run in enumerate(runs):
        by_severity = {s: counts[s][i] for s in Severity}
        total = sum(by_severity.values()) + accepted[i]
        out.append(TrendPoint(run, by_severity, accepted[i], total - failing[i], probed.get(run, 0)))
    return tuple(out)


__all__ = [
    "Episode",
    "EpisodeState",
    "Event",
    "EventKind",
    "NodeRef",
    "RunPoint",
    "RunRecord",
    "Timeline",
    "TrendPoint",
    "build_timeline",
]
