"""The `report` and `diff` commands as a user runs them: a real process, real streams, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from dicomaudit.models import Status
from dicomaudit.output import write_json
from tests.output.builders import down_node, locked_node, make_check, make_result, open_node

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "dicomaudit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


WAIVERS = """\
[[waiver]]
node = "*"
check = "transport.plaintext"
reason = "TLS rollout planned"
expires = 2025-01-31

[[waiver]]
node = "127.0.0.1:4242/OTHER"
check = "store.unauthenticated"
reason = "Other AE"
expires = 2099-12-31
"""


def test_report_prints_expired_and_unused_waivers_on_stderr(tmp_path: Path) -> None:
    """Given a saved result and a waiver file with one expired and one unused waiver
    When `report --waivers` renders it
    Then stderr has one plain line for each, and the exit status is 0."""
    saved = write_json(make_result(), tmp_path / "r.json")
    (tmp_path / "w.toml").write_text(WAIVERS, encoding="utf-8")
    done = run(
        "report",
        str(saved),
        "--waivers",
        str(tmp_path / "w.toml"),
        "--format",
        "md",
        "--out",
        str(tmp_path / "out"),
        columns=40,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert (
        "waiver expired on 2025-01-31 (w.toml:1): * transport.plaintext; 1 finding(s) count again: "
        "127.0.0.1:4242/ORTHANC transport.plaintext"
    ) in lines
    assert any(
        line.startswith("waiver unused (w.toml:7): 127.0.0.1:4242/OTHER store.unauthenticated") for line in lines
    )


def test_report_with_a_mistyped_waiver_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    """Given a waiver file that uses [[waivers]] instead of [[waiver]]
    Then `report` exits 2 with one line naming the file and line, and writes nothing."""
    saved = write_json(make_result(), tmp_path / "r.json")
    (tmp_path / "w.toml").write_text(WAIVERS.replace("[[waiver]]", "[[waivers]]", 1), encoding="utf-8")
    done = run("report", str(saved), "--waivers", str(tmp_path / "w.toml"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "w.toml:1: unknown table 'waivers'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_diff_markdown_is_not_wrapped_by_a_narrow_terminal(tmp_path: Path) -> None:
    """Given two results and a 40-column terminal
    When `diff --format markdown` prints
    Then every table row is one line (starts and ends with '|'), however long."""
    old = write_json(make_result((locked_node(),)), tmp_path / "old.json")
    new = write_json(make_result((locked_node(), open_node(), down_node())), tmp_path / "new.json")
    done = run("diff", str(old), str(new), "--format", "markdown", columns=40)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert len(rows) > 7 and max(len(r) for r in rows) > 80
    assert all(r.endswith("|") for r in rows)
    lines = done.stdout.splitlines()
    assert any(line.startswith("Values are not listed here;") and line.endswith("results).") for line in lines)


def test_diff_lists_phi_values_only_with_show_phi(tmp_path: Path) -> None:
    """Given a node whose query responses carry PHI in the new run only
    Then `diff` shows PHI counts by category, and the (masked) values only with --show-phi."""
    fixed = replace(
        open_node(), checks=tuple(make_check(c.id, Status.PASS, "refused") for c in open_node().checks), phi=()
    )
    old = write_json(make_result((fixed,), phi=()), tmp_path / "old.json")
    new = write_json(make_result((open_node(),), phi=()), tmp_path / "new.json")
    plain = run("diff", str(old), str(new))
    assert "name" in plain.stdout and "D**^J***" not in plain.stdout and "--show-phi" in plain.stdout
    shown = run("diff", str(old), str(new), "--show-phi")
    assert "D**^J***" in shown.stdout and "New PHI findings:" in shown.stdout
