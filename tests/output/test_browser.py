"""Optional: render the HTML report in headless Chromium (skipped when no browser is installed).

Proves the self-contained file renders and prints in a real engine; the
screenshot is left in the test's tmp folder for a person to look at.
CI installs Debian's ``chromium`` to run it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dicomaudit.models import RunResult
from dicomaudit.output import write_reports

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No sandbox (containers), no network side channels: the page must render from the file alone.
    cmd = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def test_report_renders_and_prints_in_chromium(result: RunResult, tmp_path: Path) -> None:
    """Given the HTML report of a realistic run
    When headless Chromium screenshots it and prints it to PDF
    Then both files are produced and non-trivial."""
    (html,) = [p for p in write_reports(result, tmp_path / "out", ["html"]) if p.suffix == ".html"]
    png, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    shot = _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={png}", html.as_uri())
    assert png.is_file() and png.stat().st_size > 50_000, shot.stderr[-2000:]
    printed = _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri())
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF"), printed.stderr[-2000:]
    assert pdf.stat().st_size > 20_000


def test_report_logs_no_console_message_and_fetches_nothing(result: RunResult, tmp_path: Path) -> None:
    """Given the HTML report opened in headless Chromium with every host name unresolvable
    Then the page logs nothing to the console (no errors, no failed loads) and renders its DOM."""
    (html,) = [p for p in write_reports(result, tmp_path / "out", ["html"]) if p.suffix == ".html"]
    run = _chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND",
                    "--dump-dom", html.as_uri())
    assert "</html>" in run.stdout
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
