"""diff_results: fixed, new, unverified and unchanged findings between two runs."""

from __future__ import annotations

from dataclasses import replace

from dicomaudit.models import ErrorReason, Severity, Status, TargetResult
from dicomaudit.report import Change, FindingKey, diff_results, render_diff
from tests.output.builders import HOSTILE_AET, down_node, file_phi, locked_node, make_check, make_result, open_node


def _with(node: TargetResult, check_id: str, status: Status) -> TargetResult:
    code = ErrorReason.TIMEOUT if status is Status.ERROR else None
    checks = tuple(make_check(c.id, status, f"now {status.value}", code=code) if c.id == check_id else c
                   for c in node.checks)
    return replace(node, checks=checks)


def test_identical_runs_have_only_unchanged_findings() -> None:
    run = make_result()
    diff = diff_results(run, run)
    assert diff.new == diff.fixed == diff.unverified == ()
    assert len(diff.unchanged) == 7
    assert diff.phi_new == diff.phi_fixed == () and len(diff.phi_unchanged) == 5


def test_fail_to_pass_is_fixed_and_pass_to_fail_is_new() -> None:
    """Given C-FIND fixed on the open node and C-ECHO opened on the locked node
    Then the first is fixed, the second new, each keyed by host, port, AE title and check."""
    old = make_result()
    new = make_result((_with(open_node(), "find.unauthenticated", Status.PASS),
                       _with(locked_node(), "echo.unauthenticated", Status.FAIL), down_node()))
    diff = diff_results(old, new)
    assert [c.key for c in diff.fixed] == [FindingKey("127.0.0.1", 4242, "ORTHANC", "find.unauthenticated")]
    assert [c.key for c in diff.new] == [FindingKey("127.0.0.1", 11112, "LOCKEDPACS", "echo.unauthenticated")]
    assert diff.new[0].transition == "pass -> fail"


def test_fail_to_error_or_missing_is_unverified_not_fixed() -> None:
    """Given a failing check that now errors, and a failing node absent from the new run
    Then neither counts as fixed."""
    old = make_result((open_node(), open_node("OTHER", port=4243)))
    new = make_result((_with(open_node(), "store.unauthenticated", Status.ERROR),))
    diff = diff_results(old, new)
    assert diff.fixed == ()
    unverified = {(c.key.called_aet, c.key.check, c.transition) for c in diff.unverified}
    assert ("ORTHANC", "store.unauthenticated", "fail -> error") in unverified
    assert ("OTHER", "find.unauthenticated", "fail -> absent") in unverified
    assert len(diff.unverified) == 1 + 7


def test_new_failing_node_is_new() -> None:
    old = make_result((locked_node(),))
    diff = diff_results(old, make_result((locked_node(), open_node())))
    assert len(diff.new) == 7 and all(c.transition == "absent -> fail" for c in diff.new)
    assert diff.new[0].current.severity is Severity.CRITICAL  # worst first
    assert diff.reaches(Severity.CRITICAL) and not diff_results(old, old).reaches(Severity.INFO)


def test_phi_is_compared_by_source_and_path() -> None:
    """Given one file finding gone and a new one appearing
    Then PHI fixed/new list exactly those."""
    old_phi = file_phi()
    moved = replace(old_phi[2], path="(0009,1011)", tag="(0009,1011)")
    diff = diff_results(make_result((), phi=old_phi), make_result((), phi=(*old_phi[:2], moved)))
    assert [(p.source, p.path, p.change) for p in diff.phi_fixed] == [
        ("sample_data/us_private.dcm", "(0009,1010)", Change.FIXED)]
    assert [p.path for p in diff.phi_new] == ["(0009,1011)"]


def test_text_rendering_lists_sections() -> None:
    old = make_result()
    new = make_result((_with(open_node(), "find.unauthenticated", Status.PASS), locked_node(), down_node()))
    text = render_diff(diff_results(old, new))
    assert text.startswith("0 new, 1 fixed, 0 unverified, 6 still failing")
    assert "Fixed (failed before, pass now):" in text
    assert "127.0.0.1:4242/ORTHANC  find.unauthenticated  (fail -> pass)" in text


def test_markdown_rendering_escapes_hostile_aet() -> None:
    diff = diff_results(make_result((locked_node(),)), make_result((locked_node(), open_node(HOSTILE_AET))))
    md = render_diff(diff, "markdown")
    assert "## New findings (now failing)" in md
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_diff_serialises() -> None:
    d = diff_results(make_result((locked_node(),)), make_result()).to_dict()
    assert {c["check"] for c in d["checks"]["new"]} >= {"find.unauthenticated"}
    assert d["checks"]["new"][0]["old_status"] is None
