"""diff_results: fixed, new, unverified and unchanged findings between two runs."""

from __future__ import annotations

from dataclasses import replace

from dicomaudit.diff import Change, diff_results
from dicomaudit.models import ErrorReason, Severity, Status, TargetResult
from dicomaudit.output.diff import render_diff
from dicomaudit.policy import FindingKey
from tests.output.builders import HOSTILE_AET, down_node, file_phi, locked_node, make_check, make_result, open_node


def _with(node: TargetResult, check_id: str, status: Status) -> TargetResult:
    code = ErrorReason.TIMEOUT if status is Status.ERROR else None
    checks = tuple(
        make_check(c.id, status, f"now {status.value}", code=code) if c.id == check_id else c for c in node.checks
    )
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
    new = make_result(
        (
            _with(open_node(), "find.unauthenticated", Status.PASS),
            _with(locked_node(), "echo.unauthenticated", Status.FAIL),
            down_node(),
        )
    )
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
        ("sample_data/us_private.dcm", "(0009,1010)", Change.FIXED)
    ]
    assert [p.path for p in diff.phi_new] == ["(0009,1011)"]


def test_text_rendering_lists_sections() -> None:
    old = make_result()
    new = make_result((_with(open_node(), "find.unauthenticated", Status.PASS), locked_node(), down_node()))
    text = render_diff(diff_results(old, new))
    assert text.startswith("0 new, 1 fixed, 0 unverified, 6 still failing")
    assert "Fixed (failed before, pass now):" in text
    assert "Radiology archive (127.0.0.1:4242/ORTHANC)  find.unauthenticated  (fail -> pass)" in text


def test_markdown_rendering_escapes_hostile_aet() -> None:
    diff = diff_results(make_result((locked_node(),)), make_result((locked_node(), open_node(HOSTILE_AET))))
    md = render_diff(diff, "markdown")
    assert "## New findings (now failing)" in md
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_diff_serialises() -> None:
    d = diff_results(make_result((locked_node(),)), make_result()).to_dict()
    assert {c["check"] for c in d["checks"]["new"]} >= {"find.unauthenticated"}
    assert d["checks"]["new"][0]["old_status"] is None


def _moved(node: TargetResult, port: int) -> TargetResult:
    """The same node answering on another port: its query responses name the new address."""
    moved = replace(node.target, port=port)
    phi = tuple(replace(p, source=p.source.replace(str(node.target), str(moved))) for p in node.phi)
    return replace(node, target=moved, phi=phi)


def test_a_named_node_that_moved_port_is_matched_by_its_inventory_name() -> None:
    """Given the inventory node 'Radiology archive' probed on port 4242, then (moved) on 4343 with C-FIND fixed
    When the runs are compared
    Then C-FIND is fixed and the other findings, and the PHI in its responses, are unchanged on that node:
    nothing is new or unverified."""
    old = make_result((open_node(),), phi=())
    new = make_result((_with(_moved(open_node(), 4343), "find.unauthenticated", Status.PASS),), phi=())
    diff = diff_results(old, new)
    assert diff.new == () and diff.unverified == ()
    assert [c.check_id for c in diff.fixed] == ["find.unauthenticated"]
    assert diff.fixed[0].node.address == "127.0.0.1:4242/ORTHANC -> 127.0.0.1:4343/ORTHANC"
    assert len(diff.unchanged) == 6
    assert diff.phi_new == diff.phi_fixed == () and len(diff.phi_unchanged) == 2


def test_nodes_without_a_name_are_matched_by_address_and_never_across_names() -> None:
    """Given an unnamed node at one address in both runs, and a named node replaced by another named node
    on the same address (a re-used IP)
    Then the unnamed node matches by address, and the two named nodes are not taken for one."""
    unnamed = replace(open_node(), target=replace(open_node().target, name=None))
    other = replace(open_node(), target=replace(open_node().target, name="Cardiology archive"))
    diff = diff_results(make_result((unnamed,), phi=()), make_result((unnamed,), phi=()))
    assert len(diff.unchanged) == 7 and diff.new == ()
    swapped = diff_results(make_result((open_node(),), phi=()), make_result((other,), phi=()))
    assert len(swapped.new) == 7 and len(swapped.unverified) == 7


def test_phi_is_summarised_by_category_and_values_listed_only_on_request() -> None:
    """Given a new run where one file finding disappeared and one appeared
    When the diff is rendered (text and Markdown)
    Then it shows counts per category and no value; with show_phi it lists the values (as masked)."""
    old_phi = file_phi()
    moved = replace(old_phi[2], path="(0009,1011)", tag="(0009,1011)", value="Q** ***")
    diff = diff_results(make_result((), phi=old_phi), make_result((), phi=(*old_phi[:2], moved)))
    for fmt in ("text", "markdown"):
        summary = render_diff(diff, fmt)  # type: ignore[arg-type]
        assert "free text" in summary and "--show-phi" in summary
        assert "Q** ***" not in summary and "J*** D** ***" not in summary
        listed = render_diff(diff, fmt, show_phi=True)  # type: ignore[arg-type]
        assert "Q\\*\\* \\*\\*\\*" in listed if fmt == "markdown" else "Q** ***" in listed
    counts = {row.category: (row.new, row.gone, row.unchanged) for row in diff.phi_by_category}
    assert counts == {"name": (0, 0, 2), "free_text": (1, 1, 0)}


def test_network_phi_of_a_node_not_queried_now_is_unverified_not_gone() -> None:
    """Given a node whose C-FIND responses carried PHI, then timed out in the next run
    Then its PHI is 'unverified', not counted as gone."""
    unreachable = replace(down_node(), target=open_node().target)
    diff = diff_results(make_result((open_node(),), phi=()), make_result((unreachable,), phi=()))
    assert diff.phi_fixed == () and len(diff.phi_unverified) == 2
