"""Web targets through the command line: URLs, inventories with a url column, credentials, --web-ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dicomaudit.models import Target
from dicomaudit.targets import TargetError, load_inventory, parse_target
from tests.peers.orthanc import OrthancServer
from tests.test_cli import ROOT


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dicomaudit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


# -- parsing ------------------------------------------------------------------
def test_a_url_target_is_a_web_endpoint_with_the_urls_host_and_port() -> None:
    """Given an https URL without a port, when parsed, then the target is web, port 443, and the URL is normalised."""
    t = parse_target("https://127.0.0.1/dicom-web/", resolve=False)
    assert t.is_web and t.port == 443 and t.url == "https://127.0.0.1:443/dicom-web" and t.called_aet is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://user:secret@127.0.0.1:8042/", "credentials do not belong"),
        ("ftp://127.0.0.1/", "only http:// and https://"),
        ("http://127.0.0.1:8042/dicom-web?limit=1", "without .query"),
        ("http://127.0.0.1:70000/", "port"),
    ],
)
def test_a_url_that_cannot_be_probed_is_refused_with_a_reason(text: str, message: str) -> None:
    """Given a URL with credentials, another scheme, a query or a bad port, when parsed, then it is refused and why."""
    with pytest.raises(TargetError, match=message):
        parse_target(text, resolve=False)


def test_an_inventory_row_with_port_and_url_gives_one_node_with_two_endpoints(tmp_path: Path) -> None:
    """Given a row with a DICOM port and a url, when loaded, then a DIMSE and a web target share the node's name."""
    inv = tmp_path / "inv.csv"
    inv.write_text("host,port,called_aet,name,url,owner\n127.0.0.1,4242,ORTHANC,pacs-1,http://127.0.0.1:8042,IT\n")
    dimse, web = load_inventory(inv, resolve=False)
    assert (dimse.is_web, web.is_web) == (False, True)
    assert dimse.node_key == web.node_key == "name:pacs-1"
    assert web.attributes == {"owner": "IT"}


def test_an_inventory_row_with_only_a_url_gives_only_a_web_target(tmp_path: Path) -> None:
    """Given a row whose port is empty and url set (as discover writes it), when loaded, then only the web target exists."""
    inv = tmp_path / "inv.csv"
    inv.write_text("host,port,called_aet,url\n127.0.0.1,,,http://127.0.0.1:8042\n")
    assert load_inventory(inv, resolve=False) == [Target(host="127.0.0.1", port=8042, url="http://127.0.0.1:8042")]


# -- credentials ---------------------------------------------------------------------
def test_web_user_without_a_password_and_without_a_terminal_exits_2() -> None:
    """Given --web-user, no DICOMAUDIT_WEB_PASSWORD and no terminal, when probing, then exit 2 names the variable."""
    env = {k: v for k, v in os.environ.items() if k != "DICOMAUDIT_WEB_PASSWORD"}
    proc = subprocess.run(
        [sys.executable, "-m", "dicomaudit", "probe", "http://127.0.0.1:9/", "--web-user", "auditor"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "DICOMAUDIT_WEB_PASSWORD" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.peers
def test_the_web_users_password_appears_in_no_output(orthanc_web_https: OrthancServer, tmp_path: Path) -> None:
    """Given --web-user with its password in the environment, when probing over HTTPS, then no output or file carries it."""
    assert orthanc_web_https.credentials is not None and orthanc_web_https.ca_bundle is not None
    user, password = orthanc_web_https.credentials
    out = tmp_path / "out"
    proc = run(
        "probe",
        orthanc_web_https.web_url,
        "--web-user",
        user,
        "--ca-bundle",
        str(orthanc_web_https.ca_bundle),
        "--out",
        str(out),
        "--timeout",
        "5",
        env={"DICOMAUDIT_WEB_PASSWORD": password},
    )
    assert proc.returncode == 0, proc.stderr
    assert password not in proc.stdout + proc.stderr
    for f in out.rglob("*"):
        if f.is_file():
            assert password not in f.read_text(errors="replace"), f
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else None
    if result is not None:
        assert result["run"]["settings"]["web_user"] == user


# -- discovery -------------------------------------------------------------------------
@pytest.mark.peers
def test_discover_web_ports_lists_the_web_api_beside_the_dicom_port(
    orthanc_web_open: OrthancServer, tmp_path: Path
) -> None:
    """Given an Orthanc's DICOM and HTTP ports, when discover runs with --web-ports, then the inventory has both rows and probe reads it."""
    http_port = orthanc_web_open.web_url.split(":")[2].split("/")[0]
    csv_path = tmp_path / "inv.csv"
    proc = run(
        "discover",
        "127.0.0.1",
        "--ports",
        str(orthanc_web_open.port),
        "--web-ports",
        http_port,
        "--csv",
        str(csv_path),
        "-q",
        "--timeout",
        "3",
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 answer DICOM, 1 answer HTTP" in proc.stdout
    rows = csv_path.read_text().splitlines()
    assert any(f"http://127.0.0.1:{http_port}" in r and ",," in r for r in rows[1:])
    targets = load_inventory(csv_path)
    assert sorted(t.is_web for t in targets) == [False, True]


def test_an_unlisted_web_api_is_reported_and_a_listed_one_passes(tmp_path: Path) -> None:
    """Given a lab whose DICOM port is on the inventory and whose DICOMweb root is not, when discover sweeps both,
    then the web API is inventory.unlisted (fail) and the DICOM port passes."""
    from dicomaudit.lab import LabPACS

    with LabPACS(profile="locked", port=0, web_port=0) as lab:
        inv = tmp_path / "inv.csv"
        inv.write_text(f"host,port,called_aet\n127.0.0.1,{lab.port},{lab.ae_title}\n")
        out = tmp_path / "result.json"
        proc = run(
            "discover",
            "127.0.0.1",
            "--ports",
            str(lab.port),
            "--web-ports",
            str(lab.web_port),
            "--inventory",
            str(inv),
            "--json",
            str(out),
            "-q",
            "--timeout",
            "3",
        )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    unlisted = {
        ("url" in t): next(c for c in t["checks"] if c["id"] == "inventory.unlisted") for t in result["targets"]
    }
    assert unlisted[True]["status"] == "fail" and "PACS web API not on" in unlisted[True]["summary"]
    assert unlisted[False]["status"] == "pass"
