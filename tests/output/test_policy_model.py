"""One finding model: whether a finding is an accepted risk is decided once, and every writer reads it."""

from __future__ import annotations

import ast
import csv
import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dicomaudit.compliance.evaluate import ControlVerdict
from dicomaudit.diff import Change
from dicomaudit.models import RunResult, Severity, Status
from dicomaudit.output import write_reports
from dicomaudit.output.view import NodeVerdict, build_view
from dicomaudit.policy import Verdict, Waiver, WaiverResult, apply_waivers, assess, blocking_findings
from tests.output.builders import TODAY

PACKAGE = Path(__file__).resolve().parents[2] / "dicomaudit"


def test_the_waiver_decision_is_made_once_for_every_writer(
    result: RunResult, echo_waiver: Waiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a waiver outcome and the full report set (JSON, HTML, Markdown, CSV, JUnit)
    When every format is written
    Then the waivers are consulted once per failing finding (by `assess`), never again by a writer."""
    outcome = apply_waivers(result, [echo_waiver], TODAY)
    calls: list[str] = []
    original = WaiverResult.waiver_for

    def counting(self: WaiverResult, target: object, check_id: str) -> Waiver | None:
        calls.append(check_id)
        return original(self, target, check_id)  # type: ignore[arg-type]

    monkeypatch.setattr(WaiverResult, "waiver_for", counting)
    write_reports(result, tmp_path, "all", waivers=outcome)
    failing = [c.id for _, c in result.all_checks if c.status is Status.FAIL]
    assert sorted(calls) == sorted(failing)


def test_every_writer_and_the_gate_show_the_same_accepted_risk(
    result: RunResult, echo_waiver: Waiver, tmp_path: Path
) -> None:
    """Given an active waiver for echo on the open node
    Then CSV (verdict), JUnit (skipped), HTML and Markdown (ACCEPTED RISK) and the gate all treat it as accepted."""
    outcome = apply_waivers(result, [echo_waiver], TODAY)
    write_reports(result, tmp_path, "all", waivers=outcome)
    rows = [r for r in csv.DictReader((tmp_path / "checks.csv").open(encoding="utf-8")) if r["verdict"] == "accepted"]
    assert [(r["port"], r["check_id"]) for r in rows] == [("4242", "echo.unauthenticated")]
    skipped = [
        case.get("name")
        for case in ET.parse(tmp_path / "junit.xml").iter("testcase")
        if case.find("skipped") is not None and "accepted risk" in (case.find("skipped").get("message") or "")
    ]
    assert len(skipped) == 1 and skipped[0].startswith("echo.unauthenticated")
    assert 'class="check state-accepted" id="node-1-echo-unauthenticated"' in (tmp_path / "report.html").read_text()
    assert "**ACCEPTED RISK** C-ECHO" in (tmp_path / "report.md").read_text()
    assert "echo.unauthenticated" not in {b.what for b in blocking_findings(result, Severity.LOW, outcome)}


def test_assessed_checks_are_frozen(result: RunResult) -> None:
    """An assessed finding cannot be changed after the decision: writers only read it."""
    finding = assess(result).checks[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.verdict = Verdict.PASS  # type: ignore[misc]


def test_policy_and_diff_load_without_any_writer() -> None:
    """Given a fresh interpreter
    When the policy and diff modules are imported
    Then no writer module is loaded (rendering depends on policy, never the other way round)."""
    code = (
        "import sys, dicomaudit.policy, dicomaudit.diff, dicomaudit.compliance.evaluate; "
        "print(sorted(m for m in sys.modules if m.startswith('dicomaudit.output')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dicomaudit"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("dicomaudit")}
    return found


def test_no_import_cycle_between_policy_and_rendering() -> None:
    """Given every import (also the deferred ones inside functions) of the policy, diff, compliance and
    output modules
    Then policy, diff and compliance never import the writers, and the old report module is gone."""
    modules = [PACKAGE / "policy.py", PACKAGE / "diff.py", *sorted((PACKAGE / "compliance").glob("*.py"))]
    for path in modules:
        assert not {m for m in _imports(path) if m.startswith("dicomaudit.output")}, path.name
    for path in sorted((PACKAGE / "output").glob("*.py")):
        assert "dicomaudit.report" not in _imports(path), path.name
    assert not (PACKAGE / "report.py").exists()


def test_verdicts_are_enums_not_strings(result: RunResult) -> None:
    """Given a rendered view of a run
    Then the verdict of each check, each node and each control is an enum member, and diff changes are too."""
    view = build_view(assess(result))
    assert all(isinstance(c.verdict, Verdict) for n in view.nodes for c in n.checks)
    assert [n.verdict for n in view.nodes] == [NodeVerdict.EXPOSED, NodeVerdict.CLEAR, NodeVerdict.INCOMPLETE]
    assert all(isinstance(c.verdict, ControlVerdict) for fw in view.frameworks for c in fw.controls)
    assert {c.value for c in Change} == {"fixed", "new", "unchanged", "unverified"}


def test_report_code_orders_severities_by_comparison_not_by_rank() -> None:
    """Severity orders by rank itself: the policy and report code neither sorts by nor compares `.rank`."""
    files = [
        PACKAGE / "policy.py",
        PACKAGE / "diff.py",
        *(PACKAGE / "output").rglob("*.py"),
        *(PACKAGE / "output" / "templates").glob("*.j2"),
    ]
    offenders = [f.name for f in files if ".rank" in f.read_text(encoding="utf-8")]
    assert offenders == []
