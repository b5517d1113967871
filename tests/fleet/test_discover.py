"""`discover` and `probe --discover`: every DICOM listener in a range found, reconciled, scoped, and cheap at scale.

Run as a user runs them (a real process, real exit codes, as in
``tests/test_cli.py``) against lab nodes on their own loopback addresses
(127.77.0.x): an open plaintext node, a TLS node, a silent listener (the
kernel completes the handshake; nobody ever reads or answers) and ports that
are bound but never listened on (refused at once).  A few fleet-scale
properties are pinned through the library (``scan_target``, ``scan``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LAB_IMPLEMENTATION_CLASS_UID, LAB_IMPLEMENTATION_VERSION_NAME, LabPACS
from dicomaudit.models import RunResult, Target
from dicomaudit.scanner import applicable_checks, scan_target

ROOT = Path(__file__).resolve().parents[2]
NET = "127.77.0"  # this module's loopback addresses: 127.77.0.1-4
RANGE = f"{NET}.1-4"

#: A sitecustomize that logs and refuses every connect of the process it is loaded into.
_CONNECT_GUARD = """
import os
import socket

_LOG = os.environ["DICOMAUDIT_TEST_CONNECT_LOG"]


def _refuse(self, address, *args, **kwargs):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(repr(address) + "\\n")
    raise PermissionError("test guard: no connection may leave this process")


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
"""


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m dicomaudit ARGS`` from the repository root, as tests/test_cli.py runs it."""
    return subprocess.run(
        [sys.executable, "-m", "dicomaudit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def closed_port(host: str) -> socket.socket:
    """A port bound but never listened on: a connect is refused, and nothing else can listen there meanwhile."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


def silent_listener(host: str) -> socket.socket:
    """A listener that accepts (the kernel completes every handshake) and never reads or answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(128)
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def by_endpoint(result: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(t["host"], t["port"]): t for t in result["targets"]}


def check_of(target: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in target["checks"] if c["id"] == check_id)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def html_check_tables(html: str) -> dict[str, list[str]]:
    """Per node heading (``host:port``), the check ids of its results table, in the order shown."""
    tables = {}
    for article in re.findall(r'<article class="node".*?</article>', html, re.S):
        heading = re.search(r"<h3>4\.\d+ (\S+)", article)
        table = re.search(r'<table class="checks">.*?</table>', article, re.S)
        assert heading is not None and table is not None
        tables[heading.group(1).split("/")[0]] = re.findall(r'<code class="muted">([\w.]+)</code>', table.group(0))
    return tables


@dataclass
class Net:
    """The module's network: lab nodes, a silent listener and refused ports on 127.77.0.1-4 (and one node on
    127.0.0.1, the address `localhost` names)."""

    plain: LabPACS  # 127.77.0.1, open profile
    tls: LabPACS  # 127.77.0.2, TLS with client certificates
    local: LabPACS  # 127.0.0.1, open profile
    silent: socket.socket  # 127.77.0.3
    closed_a: socket.socket  # 127.77.0.1
    closed_b: socket.socket  # 127.77.0.4

    @property
    def plain_ep(self) -> tuple[str, int]:
        return (self.plain.host, self.plain.port)

    @property
    def tls_ep(self) -> tuple[str, int]:
        return (self.tls.host, self.tls.port)

    @property
    def silent_ep(self) -> tuple[str, int]:
        return (f"{NET}.3", port_of(self.silent))

    @property
    def closed_eps(self) -> list[tuple[str, int]]:
        return [(f"{NET}.1", port_of(self.closed_a)), (f"{NET}.4", port_of(self.closed_b))]

    @property
    def ports(self) -> list[int]:
        return [self.plain.port, self.tls.port, port_of(self.silent), port_of(self.closed_a), port_of(self.closed_b)]

    def port_list(self, *ports: int) -> str:
        return ",".join(map(str, ports or self.ports))


def join_pending_associations(limit: float = 11.0) -> None:
    """Wait, bounded, for pynetdicom acceptor threads still holding a bare sweep connection.

    A lab node keeps each connection the sweep opened and closed as a pending association until its ACSE timeout
    (10 s), whatever stop() does; left behind, those threads would count as leaked lab threads in the tests that
    run next (tests/lab/test_lab_lifecycle.py).
    """
    deadline = time.monotonic() + limit
    for thread in [t for t in threading.enumerate() if t.name.startswith("AcceptorThread")]:
        thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    """Stopped with a short join, then the pending sweep connections are waited for once, at the module's end (the
    tests that touch no lab node run last, so little of their 10 s is left by then)."""
    labs = [LabPACS("open", host=f"{NET}.1"), LabPACS("tls", host=f"{NET}.2"), LabPACS("open", host="127.0.0.1")]
    socks = [silent_listener(f"{NET}.3"), closed_port(f"{NET}.1"), closed_port(f"{NET}.4")]
    try:
        for lab in labs:
            lab.start()
        yield Net(*labs, *socks)
    finally:
        for lab in labs:
            lab.stop(timeout=0.5)
        for sock in socks:
            sock.close()
        join_pending_associations()


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    out: Path

    @property
    def result(self) -> dict[str, Any]:
        return json.loads((self.out / "result.json").read_text())


def _discover(out: Path, *args: str) -> Run:
    proc = run("discover", *args, "--out", str(out), "--timeout", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    return Run(proc, out)


@pytest.fixture(scope="module")
def discovered(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`discover 127.77.0.1-4` on every port of the module's network, no inventory."""
    return _discover(tmp_path_factory.mktemp("discover"), RANGE, "--ports", net.port_list())


@pytest.fixture(scope="module")
def reconciled(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`discover --inventory` listing the plain node (line 2) and a refused port (line 3); the TLS node is unlisted."""
    out = tmp_path_factory.mktemp("reconciled")
    inventory = out.parent / f"{out.name}-inventory.csv"
    closed_b = net.closed_eps[1]
    inventory.write_text(
        "host,port,called_aet,owner\n"
        f"{net.plain.host},{net.plain.port},,radiology\n"
        f"{closed_b[0]},{closed_b[1]},RETIRED,cardiology\n"
    )
    return _discover(out, RANGE, "--ports", net.port_list(), "--inventory", str(inventory))


# ---------------------------------------------------------------------------- discover: what is found


def test_discover_finds_every_listener_plaintext_and_tls(net: Net, discovered: Run) -> None:
    """Given a plaintext node, a TLS node, a silent listener and refused ports, when the range is discovered,
    then every listener is a target, and the plaintext and TLS nodes answer DICOM."""
    targets = by_endpoint(discovered.result)
    assert set(targets) == {net.plain_ep, net.tls_ep, net.silent_ep}
    assert check_of(targets[net.plain_ep], "dicom.service")["status"] == "info"
    assert check_of(targets[net.tls_ep], "dicom.service")["status"] == "info"
    assert all(t["attributes"]["source"] == "discovered" for t in targets.values())


def test_discover_reports_no_closed_port_and_no_silent_port_as_dicom(net: Net, discovered: Run) -> None:
    """Given the same network, when discovered, then no refused port is a target and the silent one is no DICOM."""
    targets = by_endpoint(discovered.result)
    assert not set(net.closed_eps) & set(targets)
    silent = check_of(targets[net.silent_ep], "dicom.service")
    assert (silent["status"], silent["reason_code"]) == ("error", "timeout")
    _, rows = read_csv(discovered.out / "inventory.csv")
    assert {(r["host"], int(r["port"])) for r in rows} == {net.plain_ep, net.tls_ep}


def test_discover_writes_the_inventory_csv_probe_reads(net: Net, discovered: Run) -> None:
    """Given the discovery run, when its inventory.csv is read, then host,port,called_aet come first, the
    transport says plaintext/tls and the plaintext node's implementation class UID is recorded."""
    header, rows = read_csv(discovered.out / "inventory.csv")
    assert header[:3] == ["host", "port", "called_aet"]
    found = {(r["host"], int(r["port"])): r for r in rows}
    plain, tls = found[net.plain_ep], found[net.tls_ep]
    assert (plain["transport"], tls["transport"]) == ("plaintext", "tls")
    assert plain["implementation_class_uid"] == LAB_IMPLEMENTATION_CLASS_UID
    assert plain["implementation_version_name"] == LAB_IMPLEMENTATION_VERSION_NAME
    assert plain["called_aet"] == tls["called_aet"] == ""  # not known: nothing was guessed


def test_discovered_inventory_is_accepted_by_probe_as_is(net: Net, discovered: Run, tmp_path: Path) -> None:
    """Given the inventory.csv discover wrote, when `probe --targets` reads it unchanged, then it exits 0 with
    --fail-on none and probes every row."""
    out = tmp_path / "probe.json"
    inventory = discovered.out / "inventory.csv"
    proc = run("probe", "--targets", str(inventory), "--fail-on", "none", "--json", str(out), "--timeout", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    assert set(by_endpoint(json.loads(out.read_text()))) == {net.plain_ep, net.tls_ep}


def test_run_stats_count_each_phase(net: Net, discovered: Run) -> None:
    """Given the discovery run over 4 addresses x 5 ports, when its run.stats are read, then the sweep, confirm
    and audit phases hold the counts: 3 open and 17 refused; 2 DICOM and 1 silent; 3 targets."""
    stats = discovered.result["run"]["stats"]
    assert stats["endpoints"] == 20
    phases = stats["phases"]
    assert set(phases) == {"sweep", "confirm", "audit"}
    sweep = phases["sweep"]
    assert (sweep["endpoints"], sweep["open"], sweep["closed"], sweep["filtered"], sweep["unreachable"]) == (
        20,
        3,
        17,
        0,
        0,
    )
    confirm = phases["confirm"]
    assert (confirm["endpoints"], confirm["dicom"], confirm["silent"], confirm["not_dicom"]) == (3, 2, 1, 0)
    assert phases["audit"]["targets"] == 3


def test_run_stats_count_each_endpoint_once_whatever_the_concurrency(net: Net, tmp_path: Path) -> None:
    """Given the plain and TLS nodes and two refused ports over 4 addresses, when discovered with --concurrency 1,
    then the sweep phase still counts 16 endpoints, 2 open and 14 refused."""
    ports = net.port_list(net.plain.port, net.tls.port, *(port for _, port in net.closed_eps))
    done = _discover(tmp_path, RANGE, "--ports", ports, "--concurrency", "1")
    sweep = done.result["run"]["stats"]["phases"]["sweep"]
    assert (sweep["endpoints"], sweep["open"], sweep["closed"]) == (16, 2, 14), sweep


# ---------------------------------------------------------------------------- discover --inventory


def test_unlisted_listener_fails_inventory_unlisted(net: Net, reconciled: Run) -> None:
    """Given an inventory without the TLS node, when the range is discovered, then the TLS node fails
    inventory.unlisted (severity high) and the evidence says how it was found."""
    unlisted = check_of(by_endpoint(reconciled.result)[net.tls_ep], "inventory.unlisted")
    assert (unlisted["status"], unlisted["severity"]) == ("fail", "high")
    assert unlisted["evidence"]["listing"]["line"] is None
    assert unlisted["evidence"]["listing"]["found_by"].startswith(f"sweep of {RANGE}")


def test_listed_row_that_does_not_answer_is_inventory_missing_info(net: Net, reconciled: Run) -> None:
    """Given an inventory row whose port refuses, when the range is discovered, then that row is a target whose
    inventory.missing is info, naming its line."""
    target = by_endpoint(reconciled.result)[net.closed_eps[1]]
    missing = check_of(target, "inventory.missing")
    assert missing["status"] == "info"
    assert missing["evidence"]["listing"]["line"] == 3
    assert target["called_aet"] == "RETIRED" and target["attributes"]["owner"] == "cardiology"


def test_listed_listener_passes_unlisted_and_missing(net: Net, reconciled: Run) -> None:
    """Given an inventory row for the plaintext node, when the range is discovered, then the node passes both
    inventory checks, is audited once (as its row) and keeps the row's columns."""
    targets = [t for t in reconciled.result["targets"] if (t["host"], t["port"]) == net.plain_ep]
    assert len(targets) == 1
    (target,) = targets
    assert check_of(target, "inventory.unlisted")["status"] == "pass"
    assert check_of(target, "inventory.missing")["status"] == "pass"
    assert target["attributes"] == {"owner": "radiology"}


def test_silent_listener_is_not_reported_unlisted(net: Net, reconciled: Run) -> None:
    """Given a silent listener not on the inventory, when discovered, then inventory.unlisted does not fail it
    (no DICOM listener answered there)."""
    assert check_of(by_endpoint(reconciled.result)[net.silent_ep], "inventory.unlisted")["status"] == "skipped"


def test_row_matched_by_host_name_counts_as_listed(net: Net, tmp_path: Path) -> None:
    """Given an inventory naming a node `localhost`, when discover finds it as 127.0.0.1, then it is listed: one
    target, the row's, passing inventory.unlisted."""
    port = net.local.port
    inventory = tmp_path / "inv.csv"
    inventory.write_text(f"host,port,called_aet\nlocalhost,{port},\n")
    result = _discover(tmp_path / "out", "127.0.0.1", "--ports", str(port), "--inventory", str(inventory))
    targets = result.result["targets"]
    assert [(t["host"], t["port"]) for t in targets] == [("localhost", port)]
    assert check_of(targets[0], "inventory.unlisted")["status"] == "pass"
    assert check_of(targets[0], "inventory.missing")["status"] == "pass"


def test_inventory_checks_come_first_in_the_result_json(reconciled: Run) -> None:
    """Given the reconciled run, when its result JSON is read, then every target's checks start with
    inventory.unlisted, inventory.missing."""
    for target in reconciled.result["targets"]:
        assert [c["id"] for c in target["checks"]][:2] == ["inventory.unlisted", "inventory.missing"]


def test_inventory_checks_come_first_in_the_html_report_of_answering_nodes(net: Net, reconciled: Run) -> None:
    """Given the reconciled run, when its HTML report is read, then the results table of each node that answers
    DICOM starts with its inventory verdict."""
    tables = html_check_tables((reconciled.out / "report.html").read_text())
    for host, port in (net.plain_ep, net.tls_ep):
        assert tables[f"{host}:{port}"][0] == "inventory.unlisted", tables[f"{host}:{port}"]
    assert tables["{}:{}".format(*net.plain_ep)][:2] == ["inventory.unlisted", "inventory.missing"]


def test_inventory_checks_come_first_in_the_html_report_of_a_missing_node(net: Net, reconciled: Run) -> None:
    """Given the reconciled run, when its HTML report is read, then the table of the listed node that does not
    answer starts with its inventory checks too."""
    tables = html_check_tables((reconciled.out / "report.html").read_text())
    host, port = net.closed_eps[1]
    assert tables[f"{host}:{port}"][:2] == ["inventory.unlisted", "inventory.missing"], tables[f"{host}:{port}"]


# ---------------------------------------------------------------------------- the scope, recorded


def test_scope_is_recorded_in_the_result_and_the_reports(net: Net, tmp_path: Path) -> None:
    """Given a scope file covering the range, when discover runs with --scope, then the file, its SHA-256 and its
    networks are in run.scope and on the cover of report.md and report.html."""
    scope = tmp_path / "scope.txt"
    scope.write_bytes(b"# change 4711, signed 2026-11-01\n127.77.0.0/24\n")
    digest = hashlib.sha256(scope.read_bytes()).hexdigest()
    done = _discover(tmp_path / "out", f"{NET}.1", "--ports", str(net.plain.port), "--scope", str(scope))
    recorded = done.result["run"]["scope"]
    assert recorded["file"] == str(scope)
    assert recorded["sha256"] == digest
    assert recorded["networks"] == ["127.77.0.0/24"]
    assert recorded["allow_public"] is False
    for report in ("report.md", "report.html"):
        text = (done.out / report).read_text()
        cover = next(line for line in text.splitlines() if "Network scope" in line)
        assert scope.name in cover and digest[:16] in cover and "127.77.0.0/24" in cover, cover


# ---------------------------------------------------------------------------- probe --discover, nmap input


@pytest.fixture(scope="module")
def probed_fleet(net: Net, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`probe --discover 127.77.0.1-4 --targets inv.csv`: the plain node and a refused port listed (lines 2, 3)."""
    work = tmp_path_factory.mktemp("probe-discover")
    inventory = work / "inv.csv"
    closed_b = net.closed_eps[1]
    inventory.write_text(
        f"host,port,called_aet\n{net.plain.host},{net.plain.port},\n{closed_b[0]},{closed_b[1]},RETIRED\n"
    )
    out = work / "result.json"
    proc = run(
        "probe",
        "--discover",
        RANGE,
        "--ports",
        net.port_list(net.plain.port, net.tls.port, closed_b[1]),
        "--targets",
        str(inventory),
        "--json",
        str(out),
        "--timeout",
        "2",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def test_probe_discover_audits_listed_and_discovered_listeners(net: Net, probed_fleet: dict[str, Any]) -> None:
    """Given an inventory with the plain node and a range holding the TLS node too, when `probe --discover` runs,
    then both are audited in full in one run (decided checks beyond dicom.service)."""
    targets = by_endpoint(probed_fleet)
    assert set(targets) == {net.plain_ep, net.tls_ep, net.closed_eps[1]}
    assert check_of(targets[net.plain_ep], "echo.unauthenticated")["status"] == "fail"
    assert check_of(targets[net.plain_ep], "transport.plaintext")["status"] == "fail"
    assert check_of(targets[net.tls_ep], "transport.plaintext")["status"] == "pass"
    assert targets[net.tls_ep]["attributes"]["source"] == "discovered"


def test_probe_discover_reconciles_against_the_targets_file(net: Net, probed_fleet: dict[str, Any]) -> None:
    """Given the same run, when the inventory checks are read, then the unlisted TLS node fails, the listed plain
    node passes both, and the listed refused port is inventory.missing info."""
    targets = by_endpoint(probed_fleet)
    assert check_of(targets[net.tls_ep], "inventory.unlisted")["status"] == "fail"
    assert check_of(targets[net.plain_ep], "inventory.unlisted")["status"] == "pass"
    assert check_of(targets[net.plain_ep], "inventory.missing")["status"] == "pass"
    assert check_of(targets[net.closed_eps[1]], "inventory.missing")["status"] == "info"


def test_probe_discover_names_the_inventory_line(net: Net, probed_fleet: dict[str, Any]) -> None:
    """Given the same run, when the listing evidence is read, then it names each row's line (header = line 1)."""
    targets = by_endpoint(probed_fleet)
    assert check_of(targets[net.plain_ep], "inventory.unlisted")["evidence"]["listing"]["line"] == 2
    assert check_of(targets[net.closed_eps[1]], "inventory.missing")["evidence"]["listing"]["line"] == 3


def test_probe_discover_does_not_count_a_command_line_target_as_listed(net: Net, tmp_path: Path) -> None:
    """Given a TARGET on the command line that the --targets file does not list, when `probe --discover` runs,
    then inventory.unlisted does not claim the file lists it."""
    inventory = tmp_path / "inv.csv"
    inventory.write_text(f"host,port,called_aet\n{net.plain.host},{net.plain.port},\n")
    out = tmp_path / "result.json"
    proc = run(
        "probe",
        f"{net.tls.host}:{net.tls.port}",
        "--discover",
        f"{NET}.1",
        "--ports",
        str(net.plain.port),
        "--targets",
        str(inventory),
        "--check",
        "inventory.unlisted",
        "--check",
        "dicom.service",
        "--json",
        str(out),
        "--timeout",
        "2",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    unlisted = check_of(by_endpoint(json.loads(out.read_text()))[net.tls_ep], "inventory.unlisted")
    assert unlisted["status"] != "pass", unlisted["summary"]


_NMAP_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<!-- Nmap 7.93 scan initiated Sun Nov 22 00:28:40 2026 as: nmap -sT -Pn -n -p {port} -oX - {host} -->
<nmaprun scanner="nmap" args="nmap -sT -Pn -n -p {port} -oX - {host}" start="1795307320" \
startstr="Sun Nov 22 00:28:40 2026" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="1" services="{port}"/>
<verbose level="0"/>
<debugging level="0"/>
<host starttime="1795307320" endtime="1795307320"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="{host}" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><port protocol="tcp" portid="{port}"><state state="open" reason="syn-ack" reason_ttl="0"/></port>
</ports>
<times srtt="56" rttvar="5000" to="100000"/>
</host>
<runstats><finished time="1795307320" timestr="Sun Nov 22 00:28:40 2026" summary="Nmap done at Sun Nov 22 \
00:28:40 2026; 1 IP address (1 host up) scanned in 0.02 seconds" elapsed="0.02" exit="success"/>\
<hosts up="1" down="0" total="1"/>
</runstats>
</nmaprun>
"""


def nmap_xml(path: Path, host: str, port: int) -> Path:
    """nmap's -oX output for one open port: from the real nmap when installed, else its 7.93 output verbatim."""
    nmap = shutil.which("nmap")
    if nmap is not None:
        cmd = [nmap, "-sT", "-Pn", "-n", "-p", str(port), "-oX", str(path), host]
        subprocess.run(cmd, capture_output=True, timeout=30, check=True)
    else:
        path.write_text(_NMAP_XML.format(host=host, port=port))
    return path


def test_probe_reads_nmap_xml_targets(net: Net, tmp_path: Path) -> None:
    """Given nmap -sT -oX output naming the plaintext node's port open, when `probe --targets scan.xml` runs, then
    the node is probed and its attributes say it came from nmap."""
    xml = nmap_xml(tmp_path / "scan.xml", net.plain.host, net.plain.port)
    out = tmp_path / "result.json"
    proc = run("probe", "--targets", str(xml), "--check", "dicom.service", "--json", str(out), "--timeout", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    (target,) = json.loads(out.read_text())["targets"]
    assert (target["host"], target["port"]) == net.plain_ep
    assert target["attributes"]["source"] == "nmap"
    assert check_of(target, "dicom.service")["status"] == "info"


# ---------------------------------------------------------------------------- refusals before any packet
# (these and the tests below touch no lab node: they run last, while pending sweep connections expire)


@pytest.mark.parametrize("command", ["discover", "probe"])
def test_range_outside_the_scope_exits_2_and_contacts_nothing(command: str, tmp_path: Path) -> None:
    """Given a listener on 127.50.0.1 and a scope of 127.60.0.0/24, when its address is discovered (or probed),
    then exit 2 says it is outside the scope and the listener's accept queue stays empty."""
    scope = tmp_path / "scope.txt"
    scope.write_text("127.60.0.0/24\n")
    listener = silent_listener("127.50.0.1")
    listener.setblocking(False)
    port = port_of(listener)
    args = ("127.50.0.1", "--ports", str(port)) if command == "discover" else (f"127.50.0.1:{port}",)
    try:
        proc = run(command, *args, "--scope", str(scope), "--timeout", "1")
        assert proc.returncode == 2
        assert "outside the scope" in proc.stderr
        assert "Traceback" not in proc.stderr
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize(
    "args",
    [("discover", "8.8.8.0/30", "--ports", "104"), ("probe", "8.8.8.8:104")],
    ids=["discover-range", "probe-target"],
)
def test_public_addresses_without_allow_public_exit_2_before_anything_is_sent(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    """Given a public range or target and no --allow-public, when the command runs (every connect of the process
    logged and refused by a guard), then it exits 2 saying nothing was contacted, and no connect was attempted."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(_CONNECT_GUARD)
    log = tmp_path / "connects.log"
    path = os.pathsep.join(p for p in (str(guard), os.environ.get("PYTHONPATH", "")) if p)
    proc = run(*args, "--timeout", "1", env={"PYTHONPATH": path, "DICOMAUDIT_TEST_CONNECT_LOG": str(log)})
    assert proc.returncode == 2
    assert "public" in proc.stderr and "--allow-public" in proc.stderr and "nothing was contacted" in proc.stderr
    assert not log.exists(), log.read_text()


# ---------------------------------------------------------------------------- compact results, fleet bounds


def test_closed_target_result_is_compact_and_round_trips(net: Net, tmp_path: Path) -> None:
    """Given a probe of two refused ports, when the result JSON is written and re-rendered by `report --format json`,
    then each target holds its undecided checks in one not_checked group, and every catalogue check is back after
    RunResult.from_dict."""
    out = tmp_path / "result.json"
    endpoints = [f"{host}:{port}" for host, port in net.closed_eps]
    proc = run("probe", *endpoints, "--json", str(out), "--timeout", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    written = json.loads(out.read_text())
    grouped: dict[tuple[str, int], list[str]] = {}
    for target in written["targets"]:
        (group,) = target["not_checked"]
        assert group["status"] == "error" and group["reason_code"] == "connectivity"
        assert len(group["checks"]) >= 10
        assert not {c["id"] for c in target["checks"]} & set(group["checks"])
        grouped[(target["host"], target["port"])] = group["checks"]

    rendered = tmp_path / "rendered"
    proc = run("report", str(out), "--format", "json", "--out", str(rendered))
    assert proc.returncode == 0, proc.stderr
    again = RunResult.from_dict(json.loads((rendered / "result.json").read_text()))
    catalogue = applicable_checks(again.targets[0].target)  # a DICOM port's checks: no web checks
    assert len(again.targets) == 2
    for target in again.targets:
        assert [c.id for c in target.checks] == catalogue
        undecided = grouped[(target.target.host, target.target.port)]
        assert all(c.status.value == "error" for c in target.checks if c.id in undecided)


def test_silent_listener_costs_one_timeout(net: Net) -> None:
    """Given a listener that never answers, when scan_target probes it with a 1 s timeout, then it is done within
    one timeout (no second wait over TLS) and dicom.service is an error with reason timeout."""
    host, port = net.silent_ep
    started = time.monotonic()
    result = scan_target(Target(host, port), ProbeSettings(timeout=1.0))
    elapsed = time.monotonic() - started
    service = result.check("dicom.service")
    assert (service.status.value, service.reason_code) == ("error", "timeout")
    assert elapsed < 1.8, elapsed


def test_fleet_run_is_bounded_by_its_silent_listeners(tmp_path: Path) -> None:
    """Given 40 refused ports and 4 silent listeners in an inventory, when probed with --concurrency 2 and
    --timeout 1, then the run takes about ceil(4/2) timeouts (under 3.5 s) and every refused port is a
    connectivity error."""
    silent = [silent_listener(f"127.77.1.{i}") for i in range(1, 5)]
    closed = [closed_port("127.77.2.1") for _ in range(40)]
    silent_eps = [(f"127.77.1.{i}", port_of(s)) for i, s in enumerate(silent, 1)]
    closed_eps = [("127.77.2.1", port_of(s)) for s in closed]
    try:
        inventory = tmp_path / "fleet.csv"
        rows = [f"{host},{port}," for host, port in closed_eps + silent_eps]
        inventory.write_text("host,port,called_aet\n" + "\n".join(rows) + "\n")
        out = tmp_path / "result.json"
        args = ("--json", str(out), "--concurrency", "2", "--timeout", "1", "-q")
        proc = run("probe", "--targets", str(inventory), *args)
        assert proc.returncode == 0, proc.stderr
    finally:
        for sock in silent + closed:
            sock.close()
    result = json.loads(out.read_text())
    assert result["run"]["stats"]["phases"]["audit"]["seconds"] < math.ceil(4 / 2) * 1 + 1.5
    targets = by_endpoint(result)
    assert len(targets) == 44
    for endpoint in closed_eps:
        service = check_of(targets[endpoint], "dicom.service")
        assert (service["status"], service["reason_code"]) == ("error", "connectivity")
    for endpoint in silent_eps:
        assert check_of(targets[endpoint], "dicom.service")["reason_code"] == "timeout"
