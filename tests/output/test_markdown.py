"""The Markdown report: same structure as the HTML one, hostile strings inert."""

from __future__ import annotations

from datetime import UTC, datetime

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import RunResult
from dicomaudit.output.markdown import code_block, md_escape, render_markdown
from dicomaudit.output.view import build_view
from dicomaudit.policy import Waiver, apply_waivers, assess
from tests.output.builders import RAW_NAMES, TODAY


def _md(result: RunResult, waivers: list[Waiver] | None = None) -> str:
    return render_markdown(
        build_view(
            assess(result, apply_waivers(result, waivers or [], TODAY)), generated_at=datetime(2025, 3, 3, tzinfo=UTC)
        )
    )


def test_sections_match_the_html_report(result: RunResult) -> None:
    """Given the same run rendered as HTML and Markdown
    Then the Markdown has the HTML report's sections, in the same order and with the same titles."""
    import re

    from dicomaudit.output.html import render_html

    html = render_html(build_view(assess(result), generated_at=datetime(2025, 3, 3, tzinfo=UTC)))
    html_sections = re.findall(r"<h2>(.*?)</h2>", html)
    md_sections = [line[3:] for line in _md(result).splitlines() if line.startswith("## ")]
    assert md_sections == html_sections
    assert md_sections[:4] == ["1. Summary", "2. Findings to act on", "3. Compliance statement", "4. Results by node"]


def test_hostile_aet_cannot_inject_html_or_break_tables(hostile_result: RunResult) -> None:
    """Given a '<script>' Called AE Title and evidence with '</pre><img ...>'
    Then no raw tag survives and every table row keeps its column count."""
    md = _md(hostile_result)
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;alert\\(1)" in md or "&lt;script&gt;alert(1)" in md
    for line in md.splitlines():
        if line.startswith("| Status |"):
            header_cells = line.count("|") - line.count("\\|")
        if line.startswith("| **"):
            assert line.count("|") - line.count("\\|") == header_cells


def test_escaping_neutralises_markdown_syntax() -> None:
    """Emphasis, links, code and table pipes in data become literal text."""
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("[x](http://e)") == "\\[x\\](http://e)"
    assert md_escape("D**^J***") == "D\\*\\*^J\\*\\*\\*"
    assert md_escape("`rm`\nnext") == "\\`rm\\` next"
    assert code_block("a ``` b").startswith("````")


def test_accepted_and_expired_waivers_are_reported(result: RunResult, echo_waiver: Waiver) -> None:
    from datetime import date

    expired = Waiver("*", "transport.plaintext", "Old TLS exception", date(2025, 1, 31))
    md = _md(result, [echo_waiver, expired])
    assert "**ACCEPTED RISK**" in md and "Echo kept open for modality connectivity tests" in md
    assert "### Expired waivers" in md and "Waiver expired on 2025-01-31" in md


def test_traceability_and_masking(result: RunResult) -> None:
    md = _md(result)
    assert "A. Auditor" in md and "CHG-2025-0142" in md
    assert "R\\*\\*\\*\\*\\*" in md  # masked value, escaped so it renders as typed
    assert not [n for n in RAW_NAMES if n in md]


def test_incomplete_run_and_node_warnings_are_in_the_markdown(result: RunResult) -> None:
    """Given an interrupted run with a node warning
    Then the Markdown says INCOMPLETE RUN before the summary, and the warning in the summary and the node."""
    from dataclasses import replace

    from tests.output.builders import locked_node, make_result, open_node

    warning = "the calling AE title is registered on this node"
    run = make_result((open_node(), replace(locked_node(), warnings=(warning,))))
    md = _md(replace(run, run=replace(run.run, incomplete=True)))
    head, rest = md.split("## 1. Summary", 1)
    assert "**INCOMPLETE RUN.**" in head
    summary, detail = rest.split("## 2.", 1)
    assert warning in summary and f"> **Warning:** {warning}" in detail


def test_reason_codes_are_next_to_reasons_in_the_markdown(result: RunResult) -> None:
    """Given the unreachable node (every check timed out)
    Then each of its undecided checks shows the reason code beside the reason."""
    md = _md(result)
    assert md.count("- **Reason:** `timeout` TCP connect timed out after 5.0 s") == len(load_catalogue())
