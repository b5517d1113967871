"""Episodes and trend from real lab runs: appearance, fix and waiver dates, undecided runs, moved nodes."""

from __future__ import annotations

from datetime import UTC, datetime

from dicomaudit.history import EpisodeState, EventKind, build_timeline, open_store
from dicomaudit.history.timeline import Episode, Timeline
from dicomaudit.models import Severity
from tests.history.conftest import LabRuns, named, run_at, waived, waiver_for

MAR2, MAR9, MAR16 = "2026-03-02T09:00:00+00:00", "2026-03-09T09:00:00+00:00", "2026-03-16T09:00:00+00:00"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _episodes(timeline: Timeline, check: str) -> list[Episode]:
    return [e for e in timeline.episodes if e.check == check]


def _one(timeline: Timeline, check: str) -> Episode:
    (episode,) = _episodes(timeline, check)
    return episode


def test_three_stored_runs_give_exact_appearance_and_fix_dates(lab_runs: LabRuns, make_store) -> None:
    # Given the node probed exposed (2 March), partly fixed (9 March) and fixed (16 March), stored in a store
    path = make_store(run_at(MAR2, lab_runs.open), run_at(MAR9, lab_runs.stock), run_at(MAR16, lab_runs.locked))
    # When the history is read back from the store
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then what the stock configuration fixed is fixed on 9 March, the rest on 16 March, and plaintext stays open
    for check in ("find.unauthenticated", "find.phi_exposed", "worklist.unauthenticated", "get.unauthenticated"):
        e = _one(timeline, check)
        assert (e.appeared.started_at, e.fixed and e.fixed.started_at) == (_at(MAR2), _at(MAR9)), check
    for check in ("echo.unauthenticated", "store.unauthenticated", "assoc.any_calling_aet", "assoc.any_called_aet"):
        e = _one(timeline, check)
        assert (e.appeared.started_at, e.fixed and e.fixed.started_at) == (_at(MAR2), _at(MAR16)), check
    plaintext = _one(timeline, "transport.plaintext")
    assert plaintext.state is EpisodeState.OPEN and plaintext.fixed is None
    assert plaintext.appeared.started_at == _at(MAR2)
    assert [p.id for p in plaintext.failing] == [1, 2, 3]
    # And the trend counts what was open at each run, by severity
    assert [t.open[Severity.CRITICAL] for t in timeline.trend] == [5, 0, 0]
    assert [t.open_total for t in timeline.trend] == [11, 6, 1]


def test_an_undecided_run_neither_fixes_nor_opens_a_finding(lab_runs: LabRuns, make_store) -> None:
    # Given the node exposed, then down (every check undecided), then fixed
    path = make_store(run_at(MAR2, lab_runs.open), run_at(MAR9, lab_runs.unreachable), run_at(MAR16, lab_runs.locked))
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then the finding is fixed only by the run that saw the check pass, and unverified in between
    find = _one(timeline, "find.unauthenticated")
    assert find.fixed is not None and find.fixed.started_at == _at(MAR16)
    kinds = [(e.kind, e.run.id) for e in find.events]
    assert kinds == [(EventKind.APPEARED, 1), (EventKind.UNVERIFIED, 2), (EventKind.FIXED, 3)]
    assert find.events[1].detail == "connectivity"
    # And the down run still counts every finding as open, none of them re-verified
    down = timeline.trend[1]
    assert down.open_total == 11 and down.not_reverified == 11
    # And the undecided run opened nothing new
    assert all(e.appeared.id == 1 for e in timeline.episodes)


def test_a_finding_that_fails_again_after_a_fix_is_a_new_episode(lab_runs: LabRuns, make_store) -> None:
    # Given the node exposed, fixed, then exposed again (a configuration rolled back)
    path = make_store(run_at(MAR2, lab_runs.open), run_at(MAR9, lab_runs.locked), run_at(MAR16, lab_runs.open))
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then the finding has two episodes, each with its own appearance date
    first, again = sorted(_episodes(timeline, "find.unauthenticated"), key=lambda e: e.appeared)
    assert (first.appeared.id, first.fixed and first.fixed.id) == (1, 2)
    assert (again.appeared.started_at, again.fixed, again.state) == (_at(MAR16), None, EpisodeState.OPEN)


def test_a_waiver_is_dated_and_its_end_is_seen(lab_runs: LabRuns, make_store) -> None:
    # Given echo exposed on 2 March, accepted by a waiver on 9 March, the waiver gone on 16 March
    second = run_at(MAR9, lab_runs.open)
    path = make_store(
        run_at(MAR2, lab_runs.open),
        (second, waived(second, waiver_for(lab_runs.open, "echo.unauthenticated"))),
        run_at(MAR16, lab_runs.open),
    )
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then the history says when it was waived, why, and that it counts as open again
    echo = _one(timeline, "echo.unauthenticated")
    assert echo.waived is not None and echo.waived.started_at == _at(MAR9)
    assert echo.waiver_reason == "kept open for modality tests (CHG-1)"
    assert [e.kind for e in echo.events] == [EventKind.APPEARED, EventKind.WAIVED, EventKind.WAIVER_ENDED]
    assert echo.state is EpisodeState.OPEN
    # And the trend counts it as accepted on 9 March only
    assert [t.accepted for t in timeline.trend] == [0, 1, 0]
    assert [t.open[Severity.LOW] for t in timeline.trend] == [1, 0, 1]


def test_a_waived_finding_still_waived_is_accepted(lab_runs: LabRuns, make_store) -> None:
    # Given echo waived in the last run
    last = run_at(MAR9, lab_runs.open)
    path = make_store(
        run_at(MAR2, lab_runs.open), (last, waived(last, waiver_for(lab_runs.open, "echo.unauthenticated")))
    )
    with open_store(path) as store:
        echo = _one(build_timeline(store.load()), "echo.unauthenticated")
    # Then it is an accepted risk, waived on 9 March
    assert echo.state is EpisodeState.ACCEPTED and echo.waived is not None and echo.waived.id == 2


def test_a_named_node_that_moved_keeps_its_history(lab_runs: LabRuns, make_store) -> None:
    # Given the inventory node "pacs-1" exposed on one port, then fixed and moved to another
    path = make_store(
        run_at(MAR2, named(lab_runs.open, "pacs-1")),
        run_at(MAR9, named(lab_runs.moved, "pacs-1")),
    )
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then it is one node, its findings fixed on 9 March, shown at its new address
    find = _one(timeline, "find.unauthenticated")
    assert find.fixed is not None and find.fixed.started_at == _at(MAR9)
    assert find.node.label == f"pacs-1 (127.0.0.1:{lab_runs.moved.target.port}/DICOMLAB)"
    assert len(timeline.nodes) == 1


def test_a_node_left_out_of_a_run_keeps_its_findings_open(lab_runs: LabRuns, make_store) -> None:
    # Given two nodes in the first run and only the other one in the second
    exposed, other = named(lab_runs.open, "pacs-1"), named(lab_runs.moved, "pacs-2")
    path = make_store(run_at(MAR2, exposed, other), run_at(MAR9, other), run_at(MAR16, exposed))
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then pacs-1's findings stay open through the run that did not probe it, without an event there
    find = _one(timeline, "find.unauthenticated")
    assert find.fixed is None and [e.run.id for e in find.events] == [1]
    assert [t.nodes_probed for t in timeline.trend] == [2, 1, 1]
    assert timeline.trend[1].open[Severity.CRITICAL] == 5 and timeline.trend[1].not_reverified == 11


def test_since_keeps_the_true_appearance_date_and_drops_what_was_fixed_before(lab_runs: LabRuns, make_store) -> None:
    path = make_store(run_at(MAR2, lab_runs.open), run_at(MAR9, lab_runs.stock), run_at(MAR16, lab_runs.locked))
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # When only what happened from 10 March on is asked for
    window = timeline.filtered(since=_at("2026-03-10T00:00:00+00:00"))
    # Then the critical findings fixed on 9 March are gone, the rest keep their 2 March appearance
    assert not _episodes(window, "find.unauthenticated")
    assert _one(window, "echo.unauthenticated").appeared.started_at == _at(MAR2)
    assert [r.id for r in window.runs] == [3] and [t.open_total for t in window.trend] == [1]


def test_node_and_check_filters_are_globs(lab_runs: LabRuns, make_store) -> None:
    path = make_store(run_at(MAR2, named(lab_runs.open, "pacs-1"), named(lab_runs.moved, "pacs-2")))
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    window = timeline.filtered(nodes=["PACS-1"], checks=["find.*"])
    assert {(e.node.name, e.check) for e in window.episodes} == {
        ("pacs-1", "find.unauthenticated"),
        ("pacs-1", "find.phi_exposed"),
    }
    by_address = timeline.filtered(nodes=[f"127.0.0.1:{lab_runs.port}"])
    assert {e.node.name for e in by_address.episodes} == {"pacs-1"}


def test_runs_are_ordered_by_when_they_started_not_when_they_were_stored(lab_runs: LabRuns, make_store) -> None:
    # Given the fixed run stored first and the older, exposed run imported after it
    path = make_store(run_at(MAR16, lab_runs.locked), run_at(MAR2, lab_runs.open))
    with open_store(path) as store:
        timeline = build_timeline(store.load())
    # Then the finding appeared with the older run (id 2) and was fixed by the later one (id 1)
    find = _one(timeline, "find.unauthenticated")
    assert (find.appeared.id, find.fixed and find.fixed.id) == (2, 1)
    assert [t.open_total for t in timeline.trend] == [11, 1]
