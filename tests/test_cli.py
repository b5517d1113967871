"""The command line, run as a user runs it: a real process, real exit codes.

Exit status (CONTRACT): 0 completed and nothing reached --fail-on; 1 a
finding reached it; 2 bad usage or unusable input, one line on stderr, no
traceback.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.lab import LabPACS

ROOT = Path(__file__).resolve().parent.parent


def run(
    *args: str, cwd: Path | None = None, timeout: float = 120, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "dicomaudit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def lab_target(lab: LabPACS) -> str:
    return f"{lab.host}:{lab.port}/{lab.ae_title}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "127.0.0.1:99999"], "out of range"),
        (["probe", "no-such-host.invalid:104"], "does not resolve"),
        (["probe", "127.0.0.1:abc/AE"], "not a number"),
        (["probe"], "no targets"),
        (["probe", "--targets", "does/not/exist.csv"], "no such file"),
        (["probe", "127.0.0.1", "--fail-on", "severe"], "unknown severity"),
        (["probe", "127.0.0.1", "--check", "nope.nothing"], "unknown check"),
        (["probe", "127.0.0.1", "--calling-aet", "WAY-TOO-LONG-AE-TITLE"], "longer than 16"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_no_traceback(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_malformed_inventory_exits_2(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_bytes(b"\xff\xfe\x00garbage")
    result = run("probe", "--targets", str(inv))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_unreachable_node_is_an_error_in_the_result_not_a_crash(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "r.json"
    result = run("probe", f"127.0.0.1:{port}", "--json", str(out), "--timeout", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    checks = {c["id"]: c for c in data["targets"][0]["checks"]}
    assert checks["dicom.service"]["status"] == "error"
    assert "refused" in checks["dicom.service"]["reason"]


def test_open_node_reaches_fail_on_high(lab_open: LabPACS, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run("probe", lab_target(lab_open), "--fail-on", "high", "--json", str(out), "--timeout", "5")
    assert result.returncode == 1, result.stderr
    data = json.loads(out.read_text())
    assert data["schema"] == "dicomaudit/1"
    assert data["tool"]["name"] == "dicomaudit"
    statuses = {c["id"]: c["status"] for c in data["targets"][0]["checks"]}
    assert statuses["find.unauthenticated"] == "fail"


def test_locked_node_does_not_reach_fail_on_high(lab_locked: LabPACS) -> None:
    result = run("probe", lab_target(lab_locked), "--fail-on", "high", "--timeout", "5")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_fail_on_the_exit_status_is_0_even_with_findings(lab_open: LabPACS) -> None:
    result = run("probe", lab_target(lab_open), "--timeout", "5")
    assert result.returncode == 0


def test_no_unmasked_identifying_value_in_default_output(lab_open: LabPACS, tmp_path: Path) -> None:
    """Given an open node full of synthetic patients, then neither console nor JSON shows their names."""
    out = tmp_path / "r.json"
    result = run("probe", lab_target(lab_open), "--json", str(out), "--timeout", "5")
    blob = result.stdout + result.stderr + out.read_text()
    for ds in lab_open.datasets:
        for value in (str(ds.PatientName), str(ds.PatientID), str(ds.get("PatientBirthDate", ""))):
            if len(value) > 3:
                assert value not in blob, f"unmasked value {value!r} in output"


def test_show_values_reveals_them(lab_open: LabPACS, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run(
        "probe",
        lab_target(lab_open),
        "--json",
        str(out),
        "--show-values",
        "--check",
        "find.unauthenticated",
        "--check",
        "find.phi_exposed",
        "--timeout",
        "5",
    )
    text = out.read_text()
    assert any(str(ds.PatientID) in text for ds in lab_open.datasets)


def test_inventory_probe_records_extra_columns(lab_open: LabPACS, tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(
        f"host,port,called_aet,name,owner\n{lab_open.host},{lab_open.port},{lab_open.ae_title},lab,radiology-it\n"
    )
    out = tmp_path / "r.json"
    result = run("probe", "--targets", str(inv), "--json", str(out), "--check", "echo.unauthenticated")
    assert result.returncode == 0, result.stderr
    target = json.loads(out.read_text())["targets"][0]
    assert target["name"] == "lab" and target["attributes"]["owner"] == "radiology-it"


def test_demo_exits_0_and_writes_fails_for_the_open_lab(tmp_path: Path) -> None:
    result = run("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "demo" / "result.json").read_text())
    by_name = {(t["name"], "url" in t): {c["id"]: c["status"] for c in t["checks"]} for t in data["targets"]}
    assert by_name[("lab-open", False)]["find.unauthenticated"] == "fail"
    assert by_name[("lab-open", False)]["find.phi_exposed"] == "fail"
    assert by_name[("lab-locked", False)]["find.unauthenticated"] == "pass"
    # The same nodes' DICOMweb roots: open answers QIDO-RS with identifying data, locked asks for credentials.
    assert by_name[("lab-open", True)]["qido.phi_exposed"] == "fail"
    assert by_name[("lab-locked", True)]["qido.unauthenticated"] == "pass"
    assert by_name[("lab-locked", True)]["web.unauthenticated"] == "pass"


def _registered_commands() -> list[str]:
    """Every command the app registers, sub-commands as "group name" (sqlite-utils' walk of its CLI)."""
    import typer.core
    import typer.main

    from dicomaudit.cli import app

    def walk(group: typer.core.TyperGroup, prefix: str) -> list[str]:
        names = []
        for name, command in sorted(group.commands.items()):
            if isinstance(command, typer.core.TyperGroup):
                names.extend(walk(command, f"{prefix}{name} "))
            else:
                names.append(prefix + name)
        return names

    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    return walk(root, "")


def test_the_contract_commands_are_all_registered() -> None:
    # Given the commands of the outside contract (../shared/CONTRACT.md)
    contract = {"demo", "probe", "analyze", "report", "lab", "diff", "discover", "accept", "history",
                "advisories update"}  # fmt: skip
    # Then each is a command of the app
    assert contract <= set(_registered_commands())


@pytest.mark.parametrize("command", _registered_commands())
def test_every_command_has_help_with_an_example(command: str) -> None:
    from typer.testing import CliRunner

    from dicomaudit.cli import app

    # When its help is asked for
    result = CliRunner().invoke(app, [*command.split(), "--help"], terminal_width=120)
    # Then it is shown, with at least one example
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"dicomaudit {command} --help shows no example"
    assert f"dicomaudit {command}" in result.output


def test_report_renders_a_saved_result_and_gates(lab_open: LabPACS, tmp_path: Path) -> None:
    saved = tmp_path / "r.json"
    run("probe", lab_target(lab_open), "--json", str(saved), "--timeout", "5")
    result = run("report", str(saved), "--format", "html,csv", "--out", str(tmp_path / "rep"), "--fail-on", "high")
    assert result.returncode == 1
    assert (tmp_path / "rep" / "report.html").is_file() and (tmp_path / "rep" / "checks.csv").is_file()


def test_report_of_a_file_that_is_not_a_result_exits_2(tmp_path: Path) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}')
    result = run("report", str(bogus), "--out", str(tmp_path / "rep"))
    assert result.returncode == 2 and "not a dicomaudit result" in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_shows_a_finding_fixed_after_the_node_is_reconfigured(tmp_path: Path) -> None:
    """Given an open node that is then locked down on the same port, then diff lists its exposures as fixed."""
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    with LabPACS(profile="open", port=0) as lab:
        port = lab.port
        run("probe", lab_target(lab), "--json", str(before), "--timeout", "5")
    with LabPACS(profile="locked", port=port) as lab:
        run("probe", lab_target(lab), "--json", str(after), "--timeout", "5")
    result = run("diff", str(before), str(after))
    assert result.returncode == 0
    fixed_section = result.stdout.split("Fixed", 1)[1]
    assert "find.unauthenticated" in fixed_section


def test_lab_command_serves_until_interrupted(tmp_path: Path) -> None:
    """Given `dicomaudit lab` running, when probed and then interrupted, then it answered and stops cleanly."""
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicomaudit", "lab", "--profile", "locked", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        result = run("probe", f"127.0.0.1:{port}/DICOMLAB", "--fail-on", "high", "--timeout", "5")
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert "listening on 127.0.0.1:" in stdout
    assert "Traceback" not in stderr


def test_lab_refuses_a_non_loopback_address() -> None:
    result = run("lab", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_analyze_reports_masked_findings_and_unreadable_inputs(tmp_path: Path) -> None:
    """Given the synthetic sample data plus a broken file, then findings are masked and the broken file is an error."""
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff")
    out, csv = tmp_path / "phi.json", tmp_path / "phi.csv"
    result = run("analyze", "sample_data", str(broken), "--json", str(out), "--csv", str(csv))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["schema"] == "dicomaudit/1"
    paths = {p["path"] for p in data["phi"]}
    assert "PatientName" in paths and "RequestAttributesSequence[0].RequestingPhysician" in paths
    assert any(e["source"] == str(broken) for e in data["errors"])
    assert "DOE^JANE" not in out.read_text() + csv.read_text() + result.stdout


def test_analyze_show_values_reveals_values(tmp_path: Path) -> None:
    out = tmp_path / "phi.json"
    run("analyze", "sample_data", "--json", str(out), "--show-values")
    assert "DOE^JANE" in out.read_text()


def test_analyze_fail_on_high_exits_1() -> None:
    assert run("analyze", "sample_data", "--fail-on", "high", "-q").returncode == 1


def test_analyze_with_nothing_readable_exits_2(tmp_path: Path) -> None:
    result = run("analyze", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "no DICOM file could be read" in result.stderr and "Traceback" not in result.stderr


def _one_clean_line(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "╭" not in stderr
    for python_text in ("Error:", "Exception", "'list' object", "NoneType"):
        assert python_text not in lines[0].split("error:", 1)[-1], stderr


@pytest.mark.parametrize(
    "content",
    [
        "[]",
        "null",
        '"a string"',
        "42",
        '{"schema": "dicomaudit/1", "targets": [1]}',
        '{"schema": "dicomaudit/1", "targets": [{"host": "h", "checks": [{}]}]}',
    ],
)
@pytest.mark.parametrize("command", ["report", "diff"])
def test_valid_json_that_is_not_a_result_is_unusable_input(tmp_path: Path, command: str, content: str) -> None:
    """Given JSON that parses but is not a result object, when report/diff reads it, then exit 2 with one line."""
    path = tmp_path / "r.json"
    path.write_text(content)
    args = [str(path), str(path)] if command == "diff" else [str(path), "--out", str(tmp_path / "out")]
    result = run(command, *args)
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "not a dicomaudit result" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("probe", "--timeout", "abc", "127.0.0.1"), ("nosuchcommand",), ("analyze", "--workers", "0", "."), ("report",)],
)
def test_usage_errors_from_the_option_parser_are_one_line_too(args: tuple[str, ...]) -> None:
    """Given a malformed command line, then the parser's error is one plain line (no box), exit 2."""
    result = run(*args)
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "--help" in result.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_node_fails_the_gate_only_when_asked(tmp_path: Path) -> None:
    """Given a node that does not answer, then probe exits 0 by default and 1 with --fail-on-undecided."""
    target = f"127.0.0.1:{_closed_port()}"
    assert run("probe", target, "-q", "--timeout", "1", "--fail-on", "high").returncode == 0
    gated = run("probe", target, "-q", "--timeout", "1", "--fail-on-undecided", "--json", str(tmp_path / "r.json"))
    assert gated.returncode == 1
    assert "could not be decided" in gated.stderr
    report = run("report", str(tmp_path / "r.json"), "--out", str(tmp_path / "out"), "--fail-on-undecided")
    assert report.returncode == 1


def test_ctrl_c_writes_partial_results_marked_incomplete_and_exits_130(tmp_path: Path) -> None:
    """Given a probe stuck on silent nodes, when the operator presses Ctrl-C once, then within a couple of
    seconds the results gathered so far are written, marked incomplete, and the exit status is 130."""
    import signal
    import socket
    import time

    listeners = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # accepts (kernel backlog) but never answers
        listeners.append(s)
    try:
        out = tmp_path / "r.json"
        targets = [f"127.0.0.1:{s.getsockname()[1]}" for s in listeners]
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dicomaudit",
                "probe",
                *targets,
                "--timeout",
                "20",
                "--concurrency",
                "1",
                "-q",
                "--json",
                str(out),
            ],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        for s in listeners:
            s.close()
    assert proc.returncode == 130, stderr
    assert took < 5.0
    assert "Traceback" not in stderr and "interrupted" in stderr and "stopping" in stderr
    data = json.loads(out.read_text())
    assert data["run"]["incomplete"] is True
    assert len(data["targets"]) == 3
    codes = {c.get("reason_code") for t in data["targets"] for c in t["checks"] + t.get("not_checked", [])}
    assert "interrupted" in codes


def test_lab_help_lists_every_profile() -> None:
    from dicomaudit.lab import PROFILES

    result = run("lab", "--help")
    assert result.returncode == 0
    assert all(name in result.stdout for name in PROFILES)


def test_lab_on_a_non_loopback_host_gets_a_hint() -> None:
    result = run("lab", "--host", "10.0.0.1", "--port", "0")
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "loopback" in result.stderr and "--host 127.0.0.1" in result.stderr


def test_tls_lab_removes_its_key_material_on_sigterm() -> None:
    """Given `dicomaudit lab --profile tls`, when it gets SIGTERM, then it stops and deletes its TLS files."""
    import re
    import signal

    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicomaudit", "lab", "--profile", "tls", "--port", "0"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        directory = None
        assert proc.stdout is not None
        for _ in range(20):
            line = proc.stdout.readline()
            if m := re.search(r"TLS material .*: (\S+)", line):
                directory = Path(m.group(1))
                break
        assert directory is not None and directory.is_dir()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert not directory.exists()


# -- console output, Ctrl-C in analyze, folders with other files, duplicate inventory rows ----------------------
def run80(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Like :func:`run`, on an 80-column terminal."""
    return run(*args, cwd=cwd, timeout=timeout, columns=80)


def _assert_fits_80(text: str) -> None:
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, "\n".join(too_long)
    assert "…" not in text, text  # nothing cut off: every name and id shown in full


def test_analyze_show_values_shows_the_values_on_the_console() -> None:
    """Given the sample data, when analyze runs with --show-values, then the console shows the unmasked
    values and does not claim that they are masked."""
    result = run("analyze", "sample_data", "--show-values")
    assert result.returncode == 0, result.stderr
    assert "DOE^JANE" in result.stdout
    assert "values masked" not in result.stdout and "values shown" in result.stdout


def test_analyze_without_show_values_says_the_values_are_masked_and_shows_none() -> None:
    """Given the sample data, when analyze runs without --show-values, then the console says masked and
    lists no value."""
    result = run("analyze", "sample_data")
    assert "values masked" in result.stdout
    assert "DOE^JANE" not in result.stdout and "identifying values" not in result.stdout


def test_probe_show_values_shows_the_values_on_the_console(lab_open: LabPACS) -> None:
    """Given an open node, when probe runs with --show-values, then the console shows a patient's ID from
    the C-FIND responses and does not claim the values are masked."""
    result = run(
        "probe",
        lab_target(lab_open),
        "--show-values",
        "--check",
        "find.unauthenticated",
        "--check",
        "find.phi_exposed",
        "--timeout",
        "5",
    )
    assert result.returncode == 0, result.stderr
    assert any(str(ds.PatientID) in result.stdout for ds in lab_open.datasets)
    assert "values masked" not in result.stdout and "values shown" in result.stdout


def test_analyze_counts_files_that_are_not_dicom_in_a_folder_as_skipped(tmp_path: Path) -> None:
    """Given a folder with a DICOM file, a README, a CSV and a PNG, when analyze runs, then the three are
    counted as skipped (console and JSON), not listed as unreadable inputs, and the exit status is 0."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "one.dcm").write_bytes(next((ROOT / "sample_data").rglob("*.dcm")).read_bytes())
    (folder / "README.md").write_text("# tumour board export\n")
    (folder / "list.csv").write_text("accession,modality\nA1,CT\n")
    (folder / "key.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    out = tmp_path / "phi.json"
    result = run("analyze", str(folder), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "0 unreadable input(s), 3 skipped (not DICOM)" in result.stdout
    assert "not analysed" not in result.stdout
    data = json.loads(out.read_text())
    assert data["errors"] == [] and data["run"]["settings"]["files_skipped_not_dicom"] == 3


def test_analyze_writes_the_json_even_when_every_input_failed(tmp_path: Path) -> None:
    """Given only broken inputs, when analyze runs with --json, then it exits 2 with one line on stderr,
    and the JSON was written first, listing every input with its reason."""
    broken = [tmp_path / f"b{i}.dcm" for i in range(5)]
    for path in broken:
        path.write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff")
    out = tmp_path / "phi.json"
    result = run("analyze", *map(str, broken), "--json", str(out))
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "no DICOM file could be read" in result.stderr
    data = json.loads(out.read_text())
    assert {e["source"] for e in data["errors"]} == {str(p) for p in broken}


def test_analyze_nothing_readable_line_says_how_many_more_errors(tmp_path: Path) -> None:
    """Given five broken files, when nothing can be read, then the one-line message names three and says
    'and 2 more'."""
    broken = [tmp_path / f"b{i}.dcm" for i in range(5)]
    for path in broken:
        path.write_bytes(b"")
    result = run("analyze", *map(str, broken))
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "and 2 more" in result.stderr


def test_analyze_console_names_ten_errors_then_says_how_many_more(tmp_path: Path) -> None:
    """Given a folder with one good and twelve empty DICOM files, then the console names ten of them and
    says '... and 2 more'."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.dcm").write_bytes(next((ROOT / "sample_data").rglob("*.dcm")).read_bytes())
    for i in range(12):
        (folder / f"empty{i:02d}.dcm").write_bytes(b"")
    result = run("analyze", str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("not analysed:") == 10
    assert "... and 2 more unreadable input(s)" in result.stdout


BIG_FOLDER_FILES = 30_000  # tens of seconds of analysis here; the tests interrupt it after a second or two


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Many small synthetic DICOM files: time enough to press Ctrl-C, even on a much faster machine."""
    import shutil

    folder = tmp_path_factory.mktemp("big") / "in"
    folder.mkdir()
    originals = [p.read_bytes() for p in sorted((ROOT / "sample_data").rglob("*.dcm"))]
    for i in range(BIG_FOLDER_FILES):
        (folder / f"{i:05d}.dcm").write_bytes(originals[i % len(originals)])
    yield folder
    shutil.rmtree(folder, ignore_errors=True)  # ~100 MB: not kept with pytest's last runs


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _interrupt_analyze(
    folder: Path, out: Path, workers: int, signals: int = 1
) -> tuple[subprocess.CompletedProcess[str], float, list[int]]:
    """Start analyze on ``folder``, wait until it is busy, send SIGINT ``signals`` times; return the run,
    the seconds from the first SIGINT to the exit, and the worker processes seen before it."""
    import signal
    import time

    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    args = [
        sys.executable,
        "-m",
        "dicomaudit",
        "analyze",
        str(folder),
        "--workers",
        str(workers),
        "-q",
        "--json",
        str(out),
    ]
    # Its own session: whatever it leaves behind can be killed as a group, and never blocks this test.
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        if workers > 1:  # busy once its pool is up (after listing the folder), then a second of work
            deadline = time.monotonic() + 20
            while len(_children(proc.pid)) < workers and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(1.0)
        else:
            time.sleep(2.0)
        workers_seen = _children(proc.pid)
        sent = time.monotonic()
        for _ in range(signals):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    except subprocess.TimeoutExpired:
        # Still running, or exited with orphaned workers holding its output open.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("analyze did not finish within 30 s of Ctrl-C (or left processes holding its output)")
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr), took, workers_seen


def _gone(pids: list[int]) -> bool:
    """Whether every process of ``pids`` has ended (within 3 s); survivors are killed before saying no."""
    import signal
    import time

    def alive() -> list[int]:
        running = []
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    running.append(pid)
            except OSError:
                pass
        return running

    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        if not alive():
            return True
        time.sleep(0.1)
    for pid in alive():
        os.kill(pid, signal.SIGKILL)
    return False


def test_ctrl_c_during_parallel_analyze_writes_partial_results_and_leaves_no_worker(
    big_folder: Path, tmp_path: Path
) -> None:
    """Given analyze busy with two worker processes, when the operator presses Ctrl-C once, then it says it
    is stopping, exits 130 within a couple of seconds, writes the findings gathered so far marked
    incomplete with the number of files not analysed, and no worker process is left running."""
    out = tmp_path / "phi.json"
    result, took, workers = _interrupt_analyze(big_folder, out, workers=2)
    assert result.returncode == 130, result.stderr
    assert took < 5.0
    assert len(workers) == 2 and _gone(workers)
    assert "stopping" in result.stderr and "Traceback" not in result.stderr
    data = json.loads(out.read_text())
    assert data["run"]["incomplete"] is True
    not_analysed = data["run"]["settings"]["files_not_analysed"]
    analysed = len({p["source"] for p in data["phi"]})  # every sample file has findings
    assert 0 < not_analysed < BIG_FOLDER_FILES and analysed + not_analysed == BIG_FOLDER_FILES
    assert f"{not_analysed} file(s) not analysed" in result.stdout


def test_ctrl_c_during_serial_analyze_writes_partial_results(big_folder: Path, tmp_path: Path) -> None:
    """Given analyze busy in one process, when Ctrl-C is pressed once, then it exits 130 promptly with the
    partial results written, marked incomplete, and the count of files not analysed."""
    out = tmp_path / "phi.json"
    result, took, _ = _interrupt_analyze(big_folder, out, workers=1)
    assert result.returncode == 130, result.stderr
    assert took < 5.0
    data = json.loads(out.read_text())
    assert data["run"]["incomplete"] is True
    assert len({p["source"] for p in data["phi"]}) + data["run"]["settings"]["files_not_analysed"] == BIG_FOLDER_FILES


def test_second_ctrl_c_during_analyze_exits_at_once_and_leaves_no_worker(big_folder: Path, tmp_path: Path) -> None:
    """Given analyze busy with two workers, when Ctrl-C is pressed twice in quick succession, then it
    exits 130 within a couple of seconds, without a traceback, and no worker process is left running."""
    result, took, workers = _interrupt_analyze(big_folder, tmp_path / "phi.json", workers=2, signals=2)
    assert result.returncode == 130, result.stderr
    assert took < 5.0
    assert len(workers) == 2 and _gone(workers)
    assert "Traceback" not in result.stderr


def _probe80(targets: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run80("probe", *targets, "--timeout", "5", *extra)


@pytest.fixture(scope="module")
def twelve_targets(lab_open: LabPACS, lab_locked: LabPACS) -> list[str]:
    """Twelve distinct targets: the open lab under six AE titles, the locked lab under three, three closed ports."""
    open_ = [
        f"{lab_open.host}:{lab_open.port}/{aet}"
        for aet in ("DICOMLAB", "PACS_A", "PACS_B", "ARCHIVE", "RADIOLOGY_MAIN", "X")
    ]
    locked = [f"{lab_locked.host}:{lab_locked.port}/{aet}" for aet in ("DICOMLAB", "WRONG", "ANOTHER")]
    return open_ + locked + [f"127.0.0.1:{_closed_port()}" for _ in range(3)]


@pytest.mark.parametrize("n", [1, 3, 12])
def test_probe_console_fits_80_columns(twelve_targets: list[str], n: int) -> None:
    """Given 1, 3 or 12 targets, when probe prints its summary on an 80-column terminal, then no line is
    longer than 80 characters, nothing is cut off, and every target is named in full."""
    targets = [twelve_targets[0], twelve_targets[6], twelve_targets[9]][:n] if n < 12 else twelve_targets
    result = _probe80(targets)
    assert result.returncode == 0, result.stderr
    _assert_fits_80(result.stdout)
    for target in targets:
        assert target in result.stdout
    assert "1 dicom.service" in result.stdout and ". pass" in result.stdout  # the legend


def test_probe_console_lists_failures_worst_first_and_errors_with_reason_codes(twelve_targets: list[str]) -> None:
    """Given an open node and a closed port, then the open node's failures are listed critical first, low
    last, and the closed port's undecided checks carry their reason code."""
    result = _probe80([twelve_targets[0], twelve_targets[9]])
    block = result.stdout.split(twelve_targets[0] + "\n", 1)[1]
    order = [line.split()[0] for line in block.splitlines() if line.startswith("  ") and line.split()]
    severities = [s for s in order if s in ("critical", "high", "medium", "low", "info")]
    assert severities and severities == sorted(severities, key=["critical", "high", "medium", "low", "info"].index)
    assert "[connectivity]" in result.stdout


def test_probe_quiet_prints_one_line_with_severities_in_order(lab_open: LabPACS, tmp_path: Path) -> None:
    """Given an open node, when probe runs with -q, then stdout is one line: the totals, severities worst
    first, and the file written."""
    out = tmp_path / "r.json"
    result = run80("probe", lab_target(lab_open), "-q", "--timeout", "5", "--json", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(
        "1 target(s): 11 fail (5 critical, 3 high, 2 medium, 1 low), 2 pass, 0 error, 1 skipped, 3 info"
    )
    assert lines[0].endswith(f"; wrote {out}")


def test_duplicate_inventory_rows_are_reported_with_their_line_numbers(lab_open: LabPACS, tmp_path: Path) -> None:
    """Given an inventory whose lines 2 and 4 name the same node, when probe reads it, then stderr names
    both lines and the node is probed once."""
    inv = tmp_path / "inv.csv"
    row = f"{lab_open.host},{lab_open.port},{lab_open.ae_title}"
    inv.write_text(f"host,port,called_aet\n{row}\n{lab_open.host},{lab_open.port},OTHER\n{row}\n")
    out = tmp_path / "r.json"
    result = run("probe", "--targets", str(inv), "--json", str(out), "-q", "--check", "echo.unauthenticated")
    assert result.returncode == 0, result.stderr
    assert "inventory inv.csv lines 2 and 4" in result.stderr
    assert len(json.loads(out.read_text())["targets"]) == 2


def test_analyze_quiet_prints_one_line_of_totals() -> None:
    """Given the sample data, when analyze runs with -q, then stdout is one line with the totals, severities
    worst first, and the two non-DICOM files of sample_data/ counted as skipped."""
    result = run80("analyze", "sample_data", "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert "file(s) analysed" in lines[0] and "2 skipped (not DICOM)" in lines[0]
    severities = [w.rstrip(",)") for w in lines[0].split("(", 1)[1].split(")", 1)[0].split()[1::2]]
    assert severities == sorted(severities, key=["critical", "high", "medium", "low", "info"].index)


def _console80() -> Any:
    from rich.console import Console

    return Console(width=80, record=True, color_system=None, file=io.StringIO())


def test_console_summary_keeps_target_warnings_and_error_reason_codes() -> None:
    """Given a node with a warning and a node that timed out, when the summary is printed at 80 columns,
    then the warning is shown under its node and the undecided checks carry their reason code."""
    from dataclasses import replace

    from dicomaudit.console import print_summary
    from tests.output.builders import down_node, make_result, open_node

    warned = replace(open_node(), warnings=("the scanner's AE title PACSADMIN is registered on this node",))
    console = _console80()
    print_summary(console, make_result((warned, down_node())))
    text = console.export_text()
    _assert_fits_80(text)
    assert "warning" in text and "PACSADMIN is registered" in text
    assert f"[timeout] all {len(load_catalogue())} checks undecided" in text


def test_console_summary_prints_hostile_inventory_names_literally() -> None:
    """Given a target whose inventory name holds Rich markup and an escape sequence, when the summary is
    printed, then the name appears escaped and literally, and no raw control character reaches the terminal."""
    from dataclasses import replace

    from dicomaudit.console import print_summary
    from dicomaudit.models import Target
    from tests.output.builders import make_result, open_node

    node = open_node()
    hostile = replace(
        node,
        target=Target(node.target.host, node.target.port, node.target.called_aet, name="[bold]ward\x1b[31m 3[/bold]"),
    )
    console = _console80()
    print_summary(console, make_result((hostile,)))
    text = console.export_text()
    assert "\x1b" not in text
    assert "[bold]ward\\x1b[31m 3[/bold]" in text


@pytest.mark.parametrize("n", [1, 3, 12])
def test_console_summary_of_built_results_fits_80_columns(n: int) -> None:
    """Given 1, 3 or 12 hand-built results (open, locked, timed-out nodes), then every line of the summary
    fits 80 columns and the severities in the totals are worst first."""
    from dicomaudit.console import print_summary
    from tests.output.builders import down_node, locked_node, make_result, open_node

    nodes = [open_node(), locked_node(), down_node()]
    console = _console80()
    print_summary(console, make_result(tuple(nodes[i % 3] for i in range(n))))
    text = console.export_text()
    _assert_fits_80(text)
    assert re.search(r"fail \(\d+ critical, \d+ high, \d+ medium, \d+ low\)", " ".join(text.split()))
