"""write_reports: the report set and its SHA-256 manifest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dicomaudit.models import RunResult
from dicomaudit.output import parse_formats, read_json, write_reports
from dicomaudit.output.manifest import verify_manifest
from dicomaudit.policy import Waiver, apply_waivers
from tests.output.builders import RAW_NAMES, TODAY


def test_default_formats_write_every_file_and_a_manifest(result: RunResult, tmp_path: Path) -> None:
    """Given a run
    When the default report set is written
    Then json, html, md and both csv files exist, the manifest lists exactly them, last."""
    written = write_reports(result, tmp_path / "out")
    names = [p.name for p in written]
    assert names == ["result.json", "report.html", "report.md", "checks.csv", "phi.csv", "MANIFEST.sha256"]
    listed = [line.split("  ", 1)[1] for line in (tmp_path / "out" / "MANIFEST.sha256").read_text().splitlines()]
    assert sorted(listed) == sorted(names[:-1])


def test_result_json_round_trips(result: RunResult, tmp_path: Path) -> None:
    write_reports(result, tmp_path, ["json"])
    assert read_json(tmp_path / "result.json") == result


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_manifest_verifies_with_sha256sum(result: RunResult, tmp_path: Path) -> None:
    """Then `sha256sum -c MANIFEST.sha256` run in the folder succeeds."""
    write_reports(result, tmp_path, "all")
    proc = subprocess.run(
        ["sha256sum", "--strict", "-c", "MANIFEST.sha256"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": OK") == 6  # json, html, md, two csv, junit


def test_tampering_is_detected(result: RunResult, tmp_path: Path) -> None:
    """Given a report set whose HTML was edited afterwards and whose CSV was removed
    Then verification names both files."""
    write_reports(result, tmp_path)
    with open(tmp_path / "report.html", "a", encoding="utf-8") as fh:
        fh.write("<!-- edited -->")
    (tmp_path / "phi.csv").unlink()
    assert verify_manifest(tmp_path / "MANIFEST.sha256") == ["phi.csv: missing", "report.html: digest mismatch"]


def test_selected_formats_only(result: RunResult, tmp_path: Path) -> None:
    written = write_reports(result, tmp_path, "html,junit")
    assert [p.name for p in written] == ["report.html", "junit.xml", "MANIFEST.sha256"]


def test_waiver_outcome_is_part_of_the_evidence(result: RunResult, tmp_path: Path, echo_waiver: Waiver) -> None:
    """Given waivers
    Then waivers.json records the decisions that applied, and the manifest covers it."""
    written = write_reports(result, tmp_path, ["md"], waivers=apply_waivers(result, [echo_waiver], TODAY))
    assert [p.name for p in written] == ["report.md", "waivers.json", "MANIFEST.sha256"]
    assert "waivers.json" in (tmp_path / "MANIFEST.sha256").read_text()
    assert verify_manifest(tmp_path / "MANIFEST.sha256") == []


def test_no_output_file_carries_an_unmasked_value(result: RunResult, tmp_path: Path) -> None:
    """Given PHI findings whose values are masked
    Then no file of the full report set contains an unmasked name."""
    for path in write_reports(result, tmp_path, "all"):
        text = path.read_text(encoding="utf-8")
        assert not [n for n in RAW_NAMES if n in text], path.name


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("html,md", ("html", "md")),
        ("markdown, HTML,html", ("md", "html")),
        (["csv", "xml"], ("csv", "junit")),
        ("all", ("json", "html", "md", "csv", "junit")),
    ],
)
def test_parse_formats(spec: str | list[str], expected: tuple[str, ...]) -> None:
    assert parse_formats(spec) == expected


def test_unknown_format_is_rejected(result: RunResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        write_reports(result, tmp_path, "html,pdf")
    assert not list(tmp_path.iterdir())  # nothing half-written
