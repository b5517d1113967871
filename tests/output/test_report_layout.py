"""The HTML report as a compliance officer prints it: summary first, detail after, evidence folded away."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from dicomaudit.models import PhiFinding, RunInfo, RunResult, Severity
from dicomaudit.output.html import render_html
from dicomaudit.output.view import build_view
from dicomaudit.policy import assess
from tests.output.builders import locked_node, make_result, open_node
from tests.output.helpers import parse_html

WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def _html(result: RunResult) -> str:
    return render_html(build_view(assess(result), generated_at=WHEN))


def _summary_part(html: str) -> str:
    """Everything before the per-node detail: what prints on the first pages."""
    return html.split('<section id="nodes">', 1)[0]


def test_summary_pages_hold_summary_actions_with_owner_and_compliance_statement(result: RunResult) -> None:
    """Given a run whose open node has an owner in the inventory
    When the HTML report is rendered
    Then before the per-node detail come, in order, the summary, the findings to act on (naming the owner)
    and the compliance statement with a sign-off block."""
    html = _html(result)
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings[:4] == ["1. Summary", "2. Findings to act on", "3. Compliance statement", "4. Results by node"]
    actions = html.split('<section id="actions">', 1)[1].split("</section>", 1)[0]
    assert "Radiology IT" in actions and "<th>Owner</th>" in actions
    summary = _summary_part(html)
    assert "Exception noted" in summary and "Reviewed by" in summary


def test_raw_evidence_is_collapsed_on_screen_and_left_out_in_print(result: RunResult) -> None:
    """Given a run with evidence on every check
    Then every evidence block is a closed <details>, and the print stylesheet hides it."""
    html = _html(result)
    evidence = [attrs for tag, attrs in parse_html(html).tags if tag == "details" and attrs.get("class") == "evidence"]
    assert evidence and all("open" not in attrs for attrs in evidence)
    print_css = html.split("@media print", 1)[1]
    assert re.search(r"details\.evidence[^{]*\{\s*display:\s*none", print_css)


def test_phi_is_shown_per_node_and_category_not_per_match() -> None:
    """Given a node whose C-FIND answered 15 matches, each carrying a name and a birth date
    When the HTML report is rendered
    Then the PHI section's summary table has one row per category of that node (2), not a table per match."""
    node = open_node()
    phi = tuple(
        PhiFinding(
            f"dicom://{node.target} C-FIND Patient Root / PATIENT match {i}",
            path,
            tag,
            path,
            vr,
            cat,
            "annex-e",
            sev,
            "D*****",
        )
        for i in range(1, 16)
        for path, tag, vr, cat, sev in (
            ("PatientName", "(0010,0010)", "PN", "direct_identifier", Severity.HIGH),
            ("PatientBirthDate", "(0010,0030)", "DA", "date_time", Severity.HIGH),
        )
    )
    html = _html(make_result((replace(node, phi=phi),), phi=()))
    section = html.split('<section id="phi">', 1)[1].split("</section>", 1)[0]
    summary_table = section.split('<table class="phi">', 1)[1].split("</table>", 1)[0]
    assert summary_table.count("<tr>") == 1 + 2  # header + one row per category
    assert "PatientName" in summary_table and ">30<" not in summary_table and ">15<" in summary_table
    assert section.count("<table") == 2  # the summary, and every value folded away in one <details>


def test_interrupted_run_has_a_banner_before_the_summary(result: RunResult) -> None:
    """Given a run interrupted by Ctrl-C (RunInfo.incomplete)
    Then the first page says so in a banner, before the summary; a complete run has none."""
    incomplete = replace(result, run=replace(result.run, incomplete=True))
    html = _html(incomplete)
    before_summary = html.split('<section id="summary">', 1)[0]
    assert "INCOMPLETE RUN" in before_summary and "interrupted" in before_summary
    assert "INCOMPLETE RUN" not in _html(result)


def test_node_warnings_are_shown_in_the_summary_and_in_the_node_section(result: RunResult) -> None:
    """Given a node with a warning (the scanner's AE title is registered on it)
    Then the warning appears in the summary and in that node's section."""
    warning = "the calling AE title DICOMAUDIT is registered on this node: its passes may be false negatives"
    node = replace(locked_node(), warnings=(warning,))
    html = _html(make_result((open_node(), node)))
    summary = _summary_part(html)
    node_section = html.split('id="node-2"', 1)[1].split("</article>", 1)[0]
    assert warning in summary and warning in node_section


def test_reason_codes_stay_next_to_reasons(result: RunResult) -> None:
    """Given a node whose checks timed out (reason code 'timeout')
    Then the code is shown beside each reason in the node's section."""
    html = _html(result)
    down = html.split('id="node-3"', 1)[1].split("</article>", 1)[0]
    assert re.search(r'<code class="code">timeout</code> TCP connect timed out', down)


def test_summary_for_a_run_without_nodes_or_files_is_honest() -> None:
    """Given a run that assessed nothing
    Then the summary says so rather than reporting no exposure."""
    html = _html(RunResult("0.1.0", RunInfo(command="dicomaudit probe")))
    summary = _summary_part(html)
    assert "assessed no node and analysed no file" in summary
    assert "No open exposure" not in summary
