"""JUnit XML: one suite per node, one case per check, PHI in suites per source."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import RunResult, Status, Target, TargetResult
from dicomaudit.output.junit import write_junit
from dicomaudit.policy import Waiver, apply_waivers, assess
from tests.output.builders import TODAY, down_node, locked_node, make_check, make_result


def _suites(result: RunResult, tmp_path: Path, waivers: list[Waiver] | None = None) -> dict[str, ET.Element]:
    path = write_junit(assess(result, apply_waivers(result, waivers or [], TODAY)), tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return {s.get("name"): s for s in root.findall("testsuite")}


def _outcomes(suite: ET.Element) -> list[str]:
    out = []
    for case in suite.findall("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        out.append(kinds[0] if kinds else "passed")
    return out


def test_one_suite_per_node_and_per_phi_source(result: RunResult, tmp_path: Path) -> None:
    suites = _suites(result, tmp_path)
    assert list(suites) == [
        "127.0.0.1:4242/ORTHANC",
        "127.0.0.1:11112/LOCKEDPACS",
        "127.0.0.1:10404",
        "phi: 127.0.0.1:4242/ORTHANC C-FIND STUDY",
        "phi: sample_data/ct_head.dcm",
        "phi: sample_data/us_private.dcm",
    ]
    assert [len(suites[n].findall("testcase")) for n in list(suites)[:3]] == [8, 8, len(load_catalogue())]


def test_statuses_map_to_junit_outcomes(result: RunResult, tmp_path: Path) -> None:
    """fail -> failure, error -> error, skipped -> skipped, pass/info -> passing; counts agree."""
    suites = _suites(result, tmp_path)
    assert _outcomes(suites["127.0.0.1:4242/ORTHANC"]) == ["passed"] + ["failure"] * 7
    assert _outcomes(suites["127.0.0.1:11112/LOCKEDPACS"]).count("skipped") == 1
    assert set(_outcomes(suites["127.0.0.1:10404"])) == {"error"}
    open_suite = suites["127.0.0.1:4242/ORTHANC"]
    assert (open_suite.get("tests"), open_suite.get("failures"), open_suite.get("errors")) == ("8", "7", "0")


def test_failure_carries_summary_severity_and_evidence(result: RunResult, tmp_path: Path) -> None:
    suites = _suites(result, tmp_path)
    case = next(
        c
        for c in suites["127.0.0.1:4242/ORTHANC"].findall("testcase")
        if c.get("name", "").startswith("find.unauthenticated")
    )
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    assert failure.get("message") == "[critical] Wildcard C-FIND returned 2 matches (capped at 5)"
    assert '"model": "StudyRoot"' in (failure.text or "")


def test_waived_failure_is_skipped_with_reason(result: RunResult, tmp_path: Path, echo_waiver: Waiver) -> None:
    suites = _suites(result, tmp_path, [echo_waiver])
    case = next(
        c
        for c in suites["127.0.0.1:4242/ORTHANC"].findall("testcase")
        if c.get("name", "").startswith("echo.unauthenticated")
    )
    skipped = case.find("skipped")
    assert skipped is not None and "accepted risk until 2025-12-31" in skipped.get("message", "")


def test_phi_findings_fail_with_masked_values(result: RunResult, tmp_path: Path) -> None:
    suite = _suites(result, tmp_path)["phi: sample_data/ct_head.dcm"]
    assert _outcomes(suite) == ["failure", "failure"]
    messages = [c.find("failure").get("message") for c in suite.findall("testcase")]  # type: ignore[union-attr]
    assert messages[0] == "[high] name in PatientName: S****^J***"


def test_control_characters_from_the_network_keep_the_xml_valid(tmp_path: Path) -> None:
    """Given evidence holding NUL and escape bytes (as a hostile node could send)
    Then the JUnit file still parses."""
    check = make_check("echo.unauthenticated", Status.FAIL, "echo\x00ok\x1b[31m", evidence={"raw": "\x07bell"})
    run = make_result((TargetResult(Target("127.0.0.1", 104, "X"), (check,)), locked_node(), down_node()), phi=())
    assert _suites(run, tmp_path)["127.0.0.1:104/X"] is not None
