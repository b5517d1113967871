"""Reports of an `analyze` run (DICOM files only): they speak about what was assessed, the files."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from dicomaudit.compliance.evaluate import ControlVerdict
from dicomaudit.models import RunResult
from dicomaudit.output.html import render_html
from dicomaudit.output.markdown import render_markdown
from dicomaudit.output.view import build_view
from dicomaudit.phi.summary import merge_all, summarize_file
from dicomaudit.policy import assess
from tests.output.builders import make_result

WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def _analyze_only() -> RunResult:
    """Three identifying values in two files and one unreadable file; no network target."""
    return make_result(targets=())


def _section(html: str, anchor: str) -> str:
    return html.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def test_summary_speaks_about_the_files_not_about_exposures() -> None:
    """Given an analyze-only run that found identifying data
    When the HTML report is rendered
    Then its summary and findings speak about the files (values, files, the worst severity)
    and never say 'No open exposures' or 'not assessed'."""
    html = render_html(build_view(assess(_analyze_only()), generated_at=WHEN))
    summary, actions = _section(html, "summary"), _section(html, "actions")
    assert "PHI analysis of DICOM files: 3 identifying value(s) in 2 file(s), worst high." in summary
    assert "No network node was assessed in this run." in summary
    assert "sample_data/ct_head.dcm" in actions and "sample_data/us_private.dcm" in actions
    for text in (summary, actions, _section(html, "statement")):
        assert not re.search(r"no open exposure|not assessed\b(?! in this run)", text, re.IGNORECASE)


def test_framework_sections_judge_only_the_controls_the_file_analysis_bears_on() -> None:
    """Given an analyze-only run that found identifying data
    When the frameworks are judged
    Then the de-identification controls get evidence with follow-up, and every network control is listed
    apart as not assessed in this run (no row claims a network verdict)."""
    view = build_view(assess(_analyze_only()), generated_at=WHEN)
    judged = {(fw.framework.key, c.control.id): c.verdict for fw in view.frameworks for c in fw.assessed}
    assert judged[("HIPAA", "164.514(b)")] is ControlVerdict.FOLLOW_UP
    assert judged[("NIST SP 800-53", "SI-19")] is ControlVerdict.FOLLOW_UP
    assert ("HIPAA", "164.312(a)(1)") not in judged
    hipaa = next(fw for fw in view.frameworks if fw.framework.key == "HIPAA")
    assert "164.312(a)(1)" in {c.control.id for c in hipaa.not_assessed}
    html = render_html(view)
    compliance = _section(html, "compliance")
    assert "NOT ASSESSED" not in compliance and "Not assessed in this run:" in compliance
    assert "3 identifying value(s) in 2 file(s)" in compliance


def test_markdown_summary_speaks_about_the_files() -> None:
    """Given the same analyze-only run rendered as Markdown
    Then its summary names the file analysis and says no node was assessed, not that nothing is exposed."""
    md = render_markdown(build_view(assess(_analyze_only()), generated_at=WHEN))
    summary = md.split("## 2.", 1)[0]
    assert "PHI analysis of DICOM files: 3 identifying value(s) in 2 file(s), worst high." in summary
    assert "No network node was assessed in this run." in summary
    assert "No open exposure" not in md


def _parquet_run() -> RunResult:
    """An analyze-only run whose findings went to Parquet: none in the result, the workers' summary in its stats."""
    summary = merge_all(
        summarize_file(i, f"archive/batch-{i // 2}/{i:04d}.dcm", keys)
        for i, keys in enumerate(
            [[("direct_identifier", "annex-e", "high")] * 3, [("free_text", "free-text.name", "high")], []] * 2
        )
    )
    result = make_result(targets=(), phi=())
    run = replace(result.run, settings={"paths": ["archive/"]}, stats={"phi": summary.to_dict()})
    return replace(result, run=run)


def test_compliance_of_a_parquet_run_counts_the_summary_not_the_empty_findings() -> None:
    """Given an analyze run whose 8 identifying values in 4 files went to Parquet (no finding in the result)
    When the frameworks are judged and the report rendered
    Then the de-identification controls call for follow-up on those counts; nothing says no value was found."""
    view = build_view(assess(_parquet_run()), generated_at=WHEN)
    judged = {(fw.framework.key, c.control.id): c for fw in view.frameworks for c in fw.assessed}
    hipaa = judged[("HIPAA", "164.514(b)")]
    assert hipaa.verdict is ControlVerdict.FOLLOW_UP
    assert (hipaa.files.values, hipaa.files.files) == (8, 4)  # type: ignore[union-attr]
    compliance = _section(render_html(view), "compliance")
    assert "8 identifying value(s) in 4 file(s)" in compliance
    assert "no identifying value found" not in compliance
