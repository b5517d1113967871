"""``dicomaudit history STORE`` as a user runs it: real processes, real exit codes, every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.history.conftest import LabRuns, named, run_at, waived, waiver_for
from tests.test_cli import _one_clean_line, run

MAR2, MAR9, MAR16 = "2026-03-02T09:00:00+00:00", "2026-03-09T09:00:00+00:00", "2026-03-16T09:00:00+00:00"


@pytest.fixture
def three_runs(lab_runs: LabRuns, make_store) -> Path:
    """Exposed (2 March), partly fixed with echo waived (9 March), fixed (16 March)."""
    second = run_at(MAR9, lab_runs.stock)
    return make_store(
        run_at(MAR2, lab_runs.open),
        (second, waived(second, waiver_for(lab_runs.stock, "echo.unauthenticated"))),
        run_at(MAR16, lab_runs.locked),
    )


def test_history_has_help_with_an_example() -> None:
    result = run("history", "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "dicomaudit history" in result.stdout


def test_history_shows_when_each_finding_appeared_was_waived_and_was_fixed(three_runs: Path) -> None:
    # When the history of the three stored runs is shown
    result = run("history", str(three_runs))
    # Then each finding's line carries its dates and runs
    assert result.returncode == 0, result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert "appeared 2026-03-02 09:00 (run 1); fixed 2026-03-09 09:00 (run 2)" in lines["find.unauthenticated"]
    assert (
        "appeared 2026-03-02 09:00 (run 1); waived 2026-03-09 09:00 (run 2) (kept open for modality tests (CHG-1)); "
        "fixed 2026-03-16 09:00 (run 3)" in lines["echo.unauthenticated"]
    )
    assert lines["transport.plaintext"].endswith("appeared 2026-03-02 09:00 (run 1); OPEN")
    # And the trend table counts the open findings at each run (critical, high, medium, low, info; accepted)
    rows = [line.split() for line in result.stdout.splitlines() if line[:2] in ("1 ", "2 ", "3 ")]
    assert [r[3:10] for r in rows] == [
        ["1", "5", "3", "2", "1", "0", "0"],
        ["1", "0", "3", "2", "0", "0", "1"],
        ["1", "0", "0", "1", "0", "0", "0"],
    ]


def test_since_as_csv_lists_what_was_open_then_with_its_true_dates(three_runs: Path) -> None:
    result = run("history", str(three_runs), "--since", "2026-03-09", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = {r["check_id"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    # Fixed on 9 March: inside the window; appeared before it: the true date is kept
    assert rows["find.unauthenticated"]["appeared_at"] == "2026-03-02T09:00:00+00:00"
    assert rows["find.unauthenticated"]["fixed_at"] == "2026-03-09T09:00:00+00:00"
    assert rows["echo.unauthenticated"]["waived_run"] == "2" and rows["echo.unauthenticated"]["state"] == "fixed"
    assert rows["transport.plaintext"]["state"] == "open" and rows["transport.plaintext"]["fixed_at"] == ""
    assert rows["transport.plaintext"]["runs_failing"] == "3"
    # And after the last fix only the open finding is left
    later = run("history", str(three_runs), "--since", "2026-03-17", "--format", "csv")
    assert [r["check_id"] for r in csv.DictReader(io.StringIO(later.stdout))] == ["transport.plaintext"]


def test_csv_cells_cannot_become_spreadsheet_formulas(lab_runs: LabRuns, make_store) -> None:
    path = make_store(run_at(MAR2, named(lab_runs.open, '=HYPERLINK("http://x")')))
    result = run("history", str(path), "--format", "csv", "--check", "find.unauthenticated")
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert row["node_name"] == '\'=HYPERLINK("http://x")'


def test_html_trend_page_is_written_into_a_folder_with_the_chart(lab_runs: LabRuns, make_store, tmp_path: Path) -> None:
    # Given a node whose inventory name is markup
    hostile = named(lab_runs.open, "<script>alert(1)</script>")
    path = make_store(run_at(MAR2, hostile), run_at(MAR9, named(lab_runs.locked, "<script>alert(1)</script>")))
    out = tmp_path / "trend"
    # When the HTML page is asked for, into a folder that does not exist yet
    result = run("history", str(path), "--format", "html", "--out", f"{out}/")
    # Then history.html is written, with the trend chart, and the name is shown as text
    assert result.returncode == 0, result.stderr
    page = (out / "history.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Open findings at each run, by severity" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "2026-03-02 09:00 · run 1" in page


def test_json_carries_runs_trend_and_episodes(three_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    result = run("history", str(three_runs), "--format", "json", "--out", str(out), "--check", "find.*")
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["schema"] == "dicomaudit-history/1" and data["runs_stored"] == 3
    assert [t["open_total"] for t in data["trend"]] == [2, 0, 0]
    find = next(e for e in data["episodes"] if e["check"] == "find.unauthenticated")
    assert (find["appeared"]["at"], find["fixed"]["at"]) == (MAR2, MAR9)
    assert [e["event"] for e in find["events"]] == ["appeared", "fixed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "{tmp}/missing.db"], "no such file"),
        (["history", "README.md"], "not a dicomaudit results store"),
        (["history", "{store}", "--check", "find.nothing"], "unknown check id"),
        (["history", "{store}", "--since", "last week"], "not a date"),
        (["probe", "127.0.0.1:9/X", "--store", "README.md"], "not a dicomaudit results store"),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, lab_runs: LabRuns, make_store
) -> None:
    store = make_store(run_at(MAR2, lab_runs.open))
    result = run(*(a.format(tmp=tmp_path, store=store) for a in args))
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert message in result.stderr
