"""The --fail-on gate: exit 1 when a non-waived finding reaches the threshold."""

from __future__ import annotations

from datetime import date

from dicomaudit.models import RunResult, Severity
from dicomaudit.policy import Waiver, apply_waivers, blocking_findings, exit_code, reaches
from tests.output.builders import TODAY, down_node, locked_node, make_result


def test_open_node_reaches_high(result: RunResult) -> None:
    """Given a run with critical and high failures
    Then the gate at 'high' fails with exit status 1."""
    assert reaches(result, Severity.HIGH)
    assert exit_code(result, Severity.HIGH) == 1


def test_no_threshold_never_fails(result: RunResult) -> None:
    assert exit_code(result, None) == 0


def test_locked_and_unreachable_nodes_pass_the_gate() -> None:
    """Given only passes and errors (undecided is not an exposure) and no PHI
    Then even the lowest threshold does not fail."""
    quiet = make_result((locked_node(), down_node()), phi=())
    assert exit_code(quiet, Severity.INFO) == 0


def test_waived_findings_do_not_reach_the_gate(result: RunResult) -> None:
    """Given waivers accepting every critical network finding, and no file PHI
    Then the gate at 'critical' passes; without the waivers it fails."""
    run = make_result(phi=())
    waivers = [
        Waiver("*", cid, "risk accepted by board", date(2025, 6, 30))
        for cid in ("find.unauthenticated", "find.phi_exposed")
    ]
    outcome = apply_waivers(run, waivers, TODAY)
    assert exit_code(run, Severity.CRITICAL) == 1
    assert exit_code(run, Severity.CRITICAL, outcome) == 0


def test_expired_waiver_does_not_protect_the_gate() -> None:
    """Given the same waivers past their expiry
    Then the gate at 'critical' fails again."""
    run = make_result(phi=())
    waivers = [
        Waiver("*", cid, "old decision", date(2025, 1, 1)) for cid in ("find.unauthenticated", "find.phi_exposed")
    ]
    assert exit_code(run, Severity.CRITICAL, apply_waivers(run, waivers, TODAY)) == 1


def test_file_phi_counts_towards_the_gate() -> None:
    """Given a run with only file PHI findings (an analyze run), the worst of them high
    Then 'high' is reached and 'critical' is not, and the blocker names source and element."""
    run = make_result(targets=())
    assert reaches(run, Severity.HIGH) and not reaches(run, Severity.CRITICAL)
    (blocker,) = blocking_findings(run, Severity.HIGH)
    assert (blocker.kind, blocker.where, blocker.what) == ("phi", "sample_data/ct_head.dcm", "PatientName")


def test_blockers_are_listed_worst_first(result: RunResult) -> None:
    severities = [b.severity for b in blocking_findings(result, Severity.LOW)]
    assert severities == sorted(severities, key=lambda s: -s.rank)
    assert severities[0] is Severity.CRITICAL


def test_gate_agrees_with_the_model_without_waivers(result: RunResult) -> None:
    """Without waivers the gate is exactly RunResult.reaches for every threshold."""
    for threshold in Severity:
        assert reaches(result, threshold) == result.reaches(threshold)
