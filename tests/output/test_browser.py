"""Optional: render the HTML report in headless Chromium (skipped when no browser is installed).

Proves the self-contained file renders and prints in a real engine; the
screenshot is left in the test's tmp folder for a person to look at.
CI installs Debian's ``chromium`` to run it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from dicomaudit.lab import LabPACS
from dicomaudit.models import RunInfo, RunResult, Target, TargetResult
from dicomaudit.output import write_reports

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No sandbox (containers), no network side channels: the page must render from the file alone.
    cmd = [
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
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
    run = _chromium(
        tmp_path,
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--dump-dom",
        html.as_uri(),
    )
    assert "</html>" in run.stdout
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []


def _pdf_pages(pdf: Path) -> int:
    # Every page object of a Chromium PDF is "/Type /Page" ("/Type /Pages" is the page tree).
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))


def test_printed_demo_report_fits_in_sixteen_pages_with_the_summary_on_two(
    lab_open: LabPACS, lab_locked: LabPACS, probe: Callable[..., TargetResult], tmp_path: Path
) -> None:
    """Given the demo's two lab nodes (open and locked) probed with every check, as `dicomaudit demo` does
    When headless Chromium prints the HTML report to PDF
    Then it takes at most 16 pages (15 checks on 2 nodes), and everything before the per-node detail (summary, findings to act on,
    compliance statement) prints on at most 2."""
    targets = [
        replace(
            probe(lab_open),
            target=Target(
                lab_open.host, lab_open.port, lab_open.ae_title, name="lab-open", attributes={"profile": "open"}
            ),
        ),
        replace(
            probe(lab_locked),
            target=Target(
                lab_locked.host,
                lab_locked.port,
                lab_locked.ae_title,
                name="lab-locked",
                attributes={"profile": "locked"},
            ),
        ),
    ]
    run = RunResult(
        "0.1.0",
        RunInfo(command="dicomaudit demo", operator="dicomaudit demo", scope_ref="built-in lab on loopback"),
        tuple(targets),
    )
    (html,) = [p for p in write_reports(run, tmp_path / "out", ["html"]) if p.suffix == ".html"]
    pdf = tmp_path / "report.pdf"
    printed = _chromium(tmp_path, f"--print-to-pdf={pdf}", html.as_uri())
    assert pdf.is_file(), printed.stderr[-2000:]
    assert _pdf_pages(pdf) <= 16
    # The detail starts on a page of its own: print the document without it to count the summary's pages.
    text = html.read_text(encoding="utf-8")
    summary = tmp_path / "summary.html"
    summary.write_text(text.split('<section id="nodes">', 1)[0] + "</main></div></body></html>", encoding="utf-8")
    summary_pdf = tmp_path / "summary.pdf"
    _chromium(tmp_path, f"--print-to-pdf={summary_pdf}", summary.as_uri())
    assert 1 <= _pdf_pages(summary_pdf) <= 2
