"""The HTML report: self-contained, escaped, complete, and honest about accepted risks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from dicomaudit.models import RunInfo, RunResult
from dicomaudit.output.html import render_html
from dicomaudit.output.view import build_view
from dicomaudit.policy import Waiver, apply_waivers, assess
from tests.output.builders import HOSTILE_AET, HOSTILE_EVIDENCE, RAW_NAMES, TODAY
from tests.output.helpers import parse_html

WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def _html(result: RunResult, waivers: list[Waiver] | None = None) -> str:
    outcome = apply_waivers(result, waivers or [], TODAY)
    return render_html(build_view(assess(result, outcome), generated_at=WHEN))


def test_hostile_aet_and_evidence_are_escaped(hostile_result: RunResult) -> None:
    """Given a node whose Called AE Title is '<script>alert(1)' and evidence holding an <img onerror>
    When the HTML report is rendered
    Then no script, img or event-handler attribute reaches the document; the text shows escaped."""
    html = _html(hostile_result)
    parsed = parse_html(html)
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags and "img" not in tags
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    assert "&lt;script&gt;alert(1)" in html
    text = "".join(parsed.text)
    assert HOSTILE_AET in text and HOSTILE_EVIDENCE in text  # shown to the reader, as text


def test_report_is_self_contained(result: RunResult) -> None:
    """Given a rendered report
    Then it loads nothing from elsewhere: no script, stylesheet link, image, font or remote URL in CSS,
    and every link is an in-page anchor."""
    html = _html(result)
    parsed = parse_html(html)
    assert {"script", "link", "img", "iframe", "object"}.isdisjoint({t for t, _ in parsed.tags})
    hrefs = [attrs.get("href") for tag, attrs in parsed.tags if tag == "a"]
    assert hrefs and all(h and h.startswith("#") for h in hrefs)
    anchors = {attrs["id"] for _, attrs in parsed.tags if attrs.get("id")}
    assert {h[1:] for h in hrefs} <= anchors  # and every anchor exists
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html


def test_report_has_inline_svg_charts(result: RunResult) -> None:
    """Then the two charts are inline SVG with accessible titles."""
    html = _html(result)
    assert html.count("<svg ") == 2
    assert "<title>Exposures by node and severity</title>" in html
    assert "<title>PHI findings by category</title>" in html


def test_report_explains_each_check(result: RunResult) -> None:
    """Given the open node's failing C-FIND check
    Then the report shows the catalogue question, rationale, product remediation and control titles."""
    html = _html(result)
    assert "What was tested" in html and "wildcard C-FIND (Patient Root and Study Root" in html
    assert "list the archive&#39;s patients" in html  # rationale, escaped apostrophe
    assert "&#34;DicomAlwaysAllowFind&#34;: false" in html  # Orthanc-specific line
    assert "164.312(a)(1)" in html and "Access control (technical safeguard)" in html
    assert "Person or entity authentication" in html


def test_report_carries_run_traceability(result: RunResult) -> None:
    """Then operator, scope reference, command, run times and settings are in the report."""
    html = _html(result)
    for text in (
        "A. Auditor",
        "CHG-2025-0142",
        "2025-03-03T09:00:00+00:00",
        "2025-03-03T09:00:07+00:00",
        "dicomaudit probe 127.0.0.1:4242/ORTHANC",
        "calling_aet",
        "DICOMAUDIT",
    ):
        assert text in html


def test_masked_values_are_shown_as_given_and_nothing_unmasked(result: RunResult) -> None:
    """Given PHI findings with masked values
    Then every masked value appears and none of the underlying names does."""
    html = _html(result)
    for p in result.all_phi:
        assert p.value in html
    assert not [n for n in RAW_NAMES if n in html]
    assert "UNMASKED" not in html


def test_unmasked_run_is_flagged(result: RunResult) -> None:
    """Given a run made with --show-values
    Then the report warns that it carries unmasked identifying values."""
    shown = RunResult(
        result.tool_version,
        RunInfo(command="dicomaudit analyze x --show-values", settings={"show_values": True}),
        result.targets,
        result.phi,
    )
    assert "contains UNMASKED identifying values" in _html(shown)


def test_accepted_risk_is_shown_with_reason_and_expiry(result: RunResult, echo_waiver: Waiver) -> None:
    """Given an active waiver for echo on the open node
    Then the finding is labelled ACCEPTED RISK with reason, expiry and approver, not hidden."""
    html = _html(result, [echo_waiver])
    assert "ACCEPTED RISK" in html
    assert echo_waiver.reason in html and "2025-12-31" in html and "approved by CISO" in html
    assert 'class="check state-accepted"' in html


def test_expired_waiver_is_reported(result: RunResult) -> None:
    """Given an expired waiver
    Then the report lists it as expired and the finding as open again."""
    expired = Waiver("*", "transport.plaintext", "Old TLS exception", date(2025, 1, 31))
    html = _html(result, [expired])
    assert "Expired waivers" in html and "Waiver expired on 2025-01-31" in html
    assert 'class="check state-accepted"' not in html


@pytest.mark.parametrize("state", ["FAIL", "PASS", "ERROR", "SKIPPED", "INFO"])
def test_statuses_are_labelled_in_text(result: RunResult, state: str) -> None:
    """Status is readable without colour: every status appears as a text label."""
    assert f"{state}</span>" in _html(result)


def test_report_has_print_css(result: RunResult) -> None:
    assert "@media print" in _html(result)


def test_empty_run_renders(result: RunResult) -> None:
    """Given a run with no targets, PHI or errors
    Then the report still renders and says so."""
    html = _html(RunResult("0.1.0"))
    assert "No network targets in this run." in html and "No identifying values were found" in html


def test_nested_evidence_is_structured_and_escaped() -> None:
    """Given evidence nested in mappings and lists, with hostile keys and values at depth
    Then it renders as nested definition lists, with every key and value escaped."""
    from dicomaudit.models import Status, Target, TargetResult
    from tests.output.builders import make_check, make_result

    evidence = {"queries": [{"<b>key</b>": {"value": "<script>x()</script>", "empty": ""}}], "flags": ["a", "b"]}
    check = make_check("find.unauthenticated", Status.FAIL, "matches", evidence=evidence)
    html = _html(make_result((TargetResult(Target("127.0.0.1", 104, "X"), (check,)),), phi=()))
    tags = {t for t, _ in parse_html(html).tags}
    assert "script" not in tags and "b" not in tags
    assert "&lt;b&gt;key&lt;/b&gt;" in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert '<ol class="ev">' in html and '<dl class="ev">' in html and "a, b" in html


def test_compliance_rows_separate_tested_safeguards_from_processes(result: RunResult) -> None:
    """Given a run with open exposures
    When the HTML report is rendered
    Then no control reads 'EXPOSURE FOUND'; the risk analysis row (a process) reads 'Evidence provided,
    follow-up needed' with its follow-up, and the access control row (a safeguard) reads 'Exception noted'."""
    html = _html(result)
    compliance = html.split('<section id="compliance">', 1)[1].split("</section>", 1)[0]
    statement = html.split('<section id="statement">', 1)[1].split("</section>", 1)[0]
    assert "EXPOSURE FOUND" not in compliance.upper() and "EXPOSURE FOUND" not in statement.upper()
    rows = {
        re.search(r"<strong>(.*?)</strong>", row).group(1): row  # type: ignore[union-attr]
        for row in compliance.split("<tr>")[1:]
        if "<strong>" in row
    }
    risk_analysis, access = rows["164.308(a)(1)(ii)(A)"], rows["164.312(a)(1)"]
    assert "Evidence for" in risk_analysis and "Evidence provided, follow-up needed" in risk_analysis
    assert "Exception" not in risk_analysis and "Follow-up:" in risk_analysis
    assert "Tested" in access and "Exception noted" in access and "127.0.0.1:4242/ORTHANC" not in access
    assert "Radiology archive" in access  # nodes named by their inventory name
