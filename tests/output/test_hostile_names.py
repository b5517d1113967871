"""Writers and the console given file names that are not UTF-8, hold escape sequences or markup.

File sources arrive escaped by the analyzer (safe_text); everything else a
writer gets (a command line, settings, an error built elsewhere) may still
hold lone surrogates and control characters.  No writer may raise, and no
raw control character may land in a file or on the terminal.
"""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from dicomaudit.console import print_phi_summary, print_written
from dicomaudit.models import InputError, PhiFinding, RunInfo, RunResult, Severity
from dicomaudit.output import write_json, write_reports
from dicomaudit.output.tables import write_phi_csv
from dicomaudit.phi import AnalysisResult
from dicomaudit.textsafe import safe_text
from tests.output.helpers import parse_html

RAW_NAMES = [
    b"scans/bad\xff\xfe.dcm",
    b"scans/esc\x1b[31mred.dcm",
    b"scans/new\nline.dcm",
    b"scans/[bold]x[red].dcm",
    "scans/bidi\u202eevil.dcm".encode(),
]
SOURCES = [safe_text(name) for name in RAW_NAMES]
# What a careless caller could still hand a writer: a raw (unescaped) name.
RAW_TEXT = os.fsdecode(b"raw\xff\x1b[2J\x07.dcm")


def _finding(source: str) -> PhiFinding:
    return PhiFinding(
        source=source,
        path="PatientName",
        tag="(0010,0010)",
        keyword="PatientName",
        vr="PN",
        category="direct_identifier",
        rule="annex-e",
        severity=Severity.HIGH,
        value="D*****",
    )


def _result() -> RunResult:
    return RunResult(
        tool_version="0.1.0",
        run=RunInfo(
            command="dicomaudit analyze " + RAW_TEXT,
            started_at="2025-03-03T09:00:00+00:00",
            finished_at="2025-03-03T09:00:01+00:00",
            settings={"paths": [RAW_TEXT], RAW_TEXT: RAW_TEXT},
        ),
        targets=(),
        phi=tuple(_finding(s) for s in SOURCES),
        errors=(
            InputError(SOURCES[1], "malformed DICOM file: No tag to read at file position 1A4"),
            InputError(RAW_TEXT, "reason with \x1b[31m and \udcff"),
        ),
    )


def _assert_clean(data: bytes) -> str:
    text = data.decode("utf-8")  # strict: valid UTF-8
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    return text


def test_every_format_writes_hostile_names_escaped(tmp_path: Path) -> None:
    written = write_reports(_result(), tmp_path / "out", formats="all")
    written.append(write_phi_csv(_result(), tmp_path / "phi.csv"))
    written.append(write_json(_result(), tmp_path / "result.json"))
    texts = {path.name: _assert_clean(path.read_bytes()) for path in written}

    data = json.loads(texts["result.json"])
    assert [p["source"] for p in data["phi"]] == SOURCES
    assert data["errors"][0]["source"] == "scans/esc\\x1b[31mred.dcm"
    assert data["run"]["settings"]["paths"] == ["raw\\xff\x1b[2J\x07.dcm"]  # JSON escapes controls itself

    rows = list(csv.DictReader(io.StringIO(texts["phi.csv"])))
    assert [r["source"] for r in rows] == SOURCES

    html_text = " ".join(parse_html(texts["report.html"]).text)
    assert "scans/bad\\xff\\xfe.dcm" in html_text and "scans/[bold]x[red].dcm" in html_text
    assert "scans/new\\x0aline.dcm" in texts["report.md"].replace("\\\\", "\\")

    suites = ET.fromstring(texts["junit.xml"].encode("utf-8"))
    assert {s.get("name") for s in suites} >= {f"phi: {s}" for s in SOURCES}


def test_console_summary_prints_names_escaped_and_never_as_markup() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False, color_system=None)
    analysis = AnalysisResult(
        findings=(), files_scanned=1, errors=(InputError(SOURCES[3], "empty file"), InputError(RAW_TEXT, "x\x1b[2Jy"))
    )
    print_phi_summary(console, analysis, [Path(os.fsdecode(b"out/[bold]r\xff\x1b[7m.json"))])
    shown = buffer.getvalue()
    _assert_clean(shown.encode("utf-8"))
    assert "not analysed: scans/[bold]x[red].dcm: empty file" in shown
    assert "raw\\xff\\x1b[2J\\x07.dcm: x\\x1b[2Jy" in shown
    assert "wrote out/[bold]r\\xff\\x1b[7m.json" in shown


def test_a_terminal_that_cannot_show_a_name_gets_code_points_not_a_crash() -> None:
    """Given a console whose encoding is ASCII and a file name in Japanese
    Then the summary prints the name as code points instead of failing with UnicodeEncodeError."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    console = Console(file=stream, width=200, color_system=None)
    analysis = AnalysisResult(files_scanned=1, errors=(InputError("in/壊れた.dcm", "empty file"),))
    print_phi_summary(console, analysis, [Path("out/Müller.json")])
    stream.flush()
    shown = stream.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]
    assert "not analysed: in/\\u58ca\\u308c\\u305f.dcm: empty file" in shown
    assert "wrote out/M\\u00fcller.json" in shown


def test_written_paths_with_markup_are_printed_literally() -> None:
    buffer = io.StringIO()
    print_written(Console(file=buffer, width=200, color_system=None), [Path("[red]x[/red]\\[b].csv")])
    assert buffer.getvalue() == "wrote [red]x[/red]\\\\[b].csv\n"
