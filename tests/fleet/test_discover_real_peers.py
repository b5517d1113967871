"""`discover` against the servers hospitals actually run: real Orthanc and DCMTK listeners on loopback.

The peers come from ``tests/peers`` (session- and module-scoped, started
once and shared with the other real-peer tests).  What they send is in
``tests/peers/GROUND_TRUTH.md``: Orthanc is built on DCMTK and announces
itself as ``OFFIS_DCMTK_xxx``; dcmqrscp rejects an unknown called AE title
(A-ASSOCIATE-RJ, which carries no implementation identity).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.test_discover import check_of, read_csv, run
from tests.peers.certs import TlsMaterial

pytestmark = pytest.mark.peers

HOST = "127.0.0.1"


def _optional(request: pytest.FixtureRequest, name: str) -> Any:
    """The peer fixture ``name``, or ``None`` when its binary is missing (the fixture skips)."""
    try:
        return request.getfixturevalue(name)
    except pytest.skip.Exception:
        return None


@pytest.fixture(scope="module")
def refused() -> Iterator[list[int]]:
    """Two loopback ports bound and never listened on: refused."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
    for sock in socks:
        sock.bind((HOST, 0))
    yield [int(s.getsockname()[1]) for s in socks]
    for sock in socks:
        sock.close()


def _discover(out: Path, ports: list[int], *extra: str) -> tuple[dict[str, Any], dict[tuple[str, int], dict[str, str]]]:
    proc = run(
        "discover", HOST, "--ports", ",".join(map(str, ports)), "--out", str(out), "--timeout", "2", "-q", *extra
    )
    assert proc.returncode == 0, proc.stderr
    _, rows = read_csv(out / "inventory.csv")
    return json.loads((out / "result.json").read_text()), {(r["host"], int(r["port"])): r for r in rows}


@pytest.fixture(scope="module")
def archives(
    request: pytest.FixtureRequest, refused: list[int], peer_tls: TlsMaterial, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One `discover` over the archive peers that are installed (Orthanc open and TLS, dcmqrscp) and the refused
    ports, presenting the peers' client certificate (Orthanc TLS requires one)."""
    servers = {name: _optional(request, name) for name in ("orthanc_open", "orthanc_tls", "dcmqrscp_open")}
    servers = {name: server for name, server in servers.items() if server is not None}
    if not servers:
        pytest.skip("neither Orthanc nor DCMTK is installed; install the peers with scripts/install-peers.sh")
    ports = [server.port for server in servers.values()] + refused
    tls = ("--tls-cert", str(peer_tls.client_cert), "--tls-key", str(peer_tls.client_key))
    result, rows = _discover(tmp_path_factory.mktemp("discover-peers"), ports, *tls)
    return {"servers": servers, "result": result, "rows": rows}


def _server(archives: dict[str, Any], name: str) -> Any:
    server = archives["servers"].get(name)
    if server is None:
        pytest.skip(f"{name} is not available on this machine")
    return server


def test_orthanc_plaintext_is_found_as_dcmtk(archives: dict[str, Any]) -> None:
    """Given a real Orthanc (open), when its port is discovered, then it is a plaintext DICOM listener announcing
    DCMTK's implementation version name."""
    server = _server(archives, "orthanc_open")
    row = archives["rows"][(HOST, server.port)]
    assert row["transport"] == "plaintext"
    assert row["implementation_version_name"].startswith("OFFIS_DCMTK_")
    assert row["implementation_class_uid"].startswith("1.2.276.0.7230010.3")


def test_orthanc_tls_is_found_over_tls(archives: dict[str, Any]) -> None:
    """Given a real Orthanc speaking DICOM over TLS only, when discovered with a trusted client certificate, then
    it is a TLS DICOM listener announcing DCMTK's implementation version name."""
    server = _server(archives, "orthanc_tls")
    row = archives["rows"][(HOST, server.port)]
    assert row["transport"] == "tls"
    assert row["implementation_version_name"].startswith("OFFIS_DCMTK_")
    assert row["dicom_service"].startswith("speaks DICOM over TLS")


def test_dcmqrscp_is_found_though_it_rejects_the_placeholder(archives: dict[str, Any]) -> None:
    """Given a real dcmqrscp, when discovered without its AE title, then it is a plaintext DICOM listener (its
    rejection is a DICOM answer) and no implementation name is claimed (an A-ASSOCIATE-RJ carries none)."""
    server = _server(archives, "dcmqrscp_open")
    row = archives["rows"][(HOST, server.port)]
    assert row["transport"] == "plaintext"
    assert "Called AE title not recognised" in row["dicom_service"]
    assert row["implementation_version_name"] == ""


def test_no_refused_port_is_reported(archives: dict[str, Any], refused: list[int]) -> None:
    """Given refused ports among the real servers' ports, when discovered, then none is a target or an inventory
    row, and every real server is."""
    targets = {(t["host"], t["port"]) for t in archives["result"]["targets"]}
    expected = {(HOST, server.port) for server in archives["servers"].values()}
    assert targets == expected
    assert set(archives["rows"]) == expected
    assert not {(HOST, port) for port in refused} & targets


def test_storescp_is_found_as_dcmtk(storescp_server: Any, refused: list[int], tmp_path: Path) -> None:
    """Given a real storescp (any called AE title accepted), when discovered, then it is a plaintext DICOM listener
    announcing DCMTK's implementation version name."""
    result, rows = _discover(tmp_path, [storescp_server.port, *refused])
    assert set(rows) == {(HOST, storescp_server.port)}
    row = rows[(HOST, storescp_server.port)]
    assert row["transport"] == "plaintext"
    assert row["implementation_version_name"].startswith("OFFIS_DCMTK_")
    assert check_of(result["targets"][0], "dicom.service")["status"] == "info"


def test_guess_aet_finds_dcmqrscps_title(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Given a real dcmqrscp answering only to DCMQRSCP, when discovered with --guess-aet, then its title is found
    among the documented defaults and written to the inventory, marked as guessed."""
    server = _optional(request, "dcmqrscp_open")
    if server is None:
        pytest.skip("DCMTK dcmqrscp is not installed")
    _, rows = _discover(tmp_path, [server.port], "--guess-aet", "--guess-pause", "0")
    row = rows[(HOST, server.port)]
    assert row["called_aet"] == server.aet == "DCMQRSCP"
    assert row["called_aet_source"].startswith("guessed:")
    assert row["implementation_version_name"].startswith("OFFIS_DCMTK_")


def test_real_listener_off_the_inventory_is_unlisted_and_a_dead_row_is_missing(
    storescp_server: Any, refused: list[int], tmp_path: Path
) -> None:
    """Given an inventory that lists a refused port but not a real storescp, when discovered, then storescp is
    inventory.unlisted (fail) and the listed row that does not answer is inventory.missing (info)."""
    inventory = tmp_path / "inv.csv"
    inventory.write_text(f"host,port,called_aet\n{HOST},{refused[0]},OLDPACS\n")
    result, _ = _discover(tmp_path / "out", [storescp_server.port, *refused], "--inventory", str(inventory))
    by_port = {t["port"]: t for t in result["targets"]}
    unlisted = check_of(by_port[storescp_server.port], "inventory.unlisted")
    assert unlisted["status"] == "fail" and unlisted["severity"] == "high"
    missing = check_of(by_port[refused[0]], "inventory.missing")
    assert missing["status"] == "info" and "line 2" in missing["summary"]
