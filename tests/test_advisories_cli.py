"""``dicomaudit advisories update FILE`` and ``advisories show``: offline updates of the advisory data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

from tests.test_cli import ROOT


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dicomaudit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "DICOMAUDIT_DATA_DIR": str(data_dir)},
        stdin=subprocess.DEVNULL,
    )


def _shipped() -> str:
    return resources.files("dicomaudit.software").joinpath("advisories.toml").read_text(encoding="utf-8")


def _dated(text: str, date: str) -> str:
    return re.sub(r"(?m)^data_date\s*=\s*\S+", f"data_date = {date}", text, count=1)


def test_a_newer_valid_file_is_installed_and_then_in_effect(tmp_path: Path) -> None:
    """Given a valid advisories file dated after the shipped data, when updated, then it is installed and show reports its date."""
    newer = tmp_path / "new.toml"
    newer.write_text(_dated(_shipped(), "2099-01-01"))
    proc = run("advisories", "update", str(newer), data_dir=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "data" / "advisories.toml").exists()
    show = run("advisories", "show", data_dir=tmp_path / "data")
    assert "dated 2099-01-01" in show.stdout


def test_an_older_file_is_refused(tmp_path: Path) -> None:
    """Given an advisories file older than the shipped data, when updated, then exit 2 says so and nothing is installed."""
    older = tmp_path / "old.toml"
    older.write_text(_dated(_shipped(), "2000-01-01"))
    proc = run("advisories", "update", str(older), data_dir=tmp_path / "data")
    assert proc.returncode == 2 and "older than the shipped" in proc.stderr
    assert not (tmp_path / "data" / "advisories.toml").exists()


def test_an_invalid_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """Given a file whose advisory has no source, when updated, then exit 2 names the entry and no traceback is shown."""
    text = _dated(_shipped(), "2099-01-01")
    broken = re.sub(r'(?m)^source\s*=\s*"[^"]*"\n', "", text, count=1)
    bad = tmp_path / "bad.toml"
    bad.write_text(broken)
    proc = run("advisories", "update", str(bad), data_dir=tmp_path / "data")
    assert proc.returncode == 2
    assert "advisory #1" in proc.stderr and "Traceback" not in proc.stderr


def test_analyze_refuses_an_unknown_region_before_reading_anything(tmp_path: Path) -> None:
    """Given --region XX, when analyze runs, then exit 2 names the code and no traceback is shown."""
    proc = run("analyze", "sample_data", "--region", "xx", "-q", data_dir=tmp_path)
    assert proc.returncode == 2 and "unknown region" in proc.stderr and "Traceback" not in proc.stderr


def test_analyze_takes_regions_and_extra_roles_and_records_them(tmp_path: Path) -> None:
    """Given --region fr,de and a roles file, when analyze writes its JSON, then both are in the run settings."""
    import json

    roles = tmp_path / "roles.toml"
    roles.write_text('values = ["NIGHT^SHIFT"]\n')
    out = tmp_path / "phi.json"
    proc = run(
        "analyze",
        "sample_data",
        "--region",
        "fr,de",
        "--roles",
        str(roles),
        "--json",
        str(out),
        "-q",
        data_dir=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(out.read_text())["run"]["settings"]
    assert settings["regions"] == ["FR", "DE"] and settings["extra_roles"][0].endswith("roles.toml")
