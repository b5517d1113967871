"""``dicomaudit accept`` and ``probe --role/--policy`` as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomaudit.lab import LabPACS
from dicomaudit.output.manifest import verify_manifest
from tests.acceptance.test_judge import NO_TLS, closed_port
from tests.test_cli import run


@pytest.fixture(scope="module")
def locked() -> Iterator[LabPACS]:
    with LabPACS(profile="locked", port=0, web_port=0) as lab:
        yield lab


def endpoints(lab: LabPACS) -> list[str]:
    assert lab.web_url is not None
    return [f"{lab.host}:{lab.port}/{lab.ae_title}", lab.web_url]


ASKED = ["--guess-aet", "--guess-pause", "0", "--try-default-credentials", "--timeout", "5"]


def test_accept_help_has_an_example() -> None:
    result = run("accept", "--help")
    assert result.returncode == 0
    assert "dicomaudit accept" in result.stdout and "Example" in result.stdout


def test_accept_on_a_closed_port_is_undecided_and_exits_1(tmp_path: Path) -> None:
    # Given a loopback port nothing listens on
    # When it is accepted as an archive
    result = run("accept", f"127.0.0.1:{closed_port()}/CT01", "--role", "archive", "--out", str(tmp_path), "-q")
    # Then the verdict is undecided and the exit status 1, never 0
    assert result.returncode == 1, result.stderr
    record = json.loads((tmp_path / "acceptance.json").read_text())
    assert record["verdict"] == "undecided"
    assert verify_manifest(tmp_path / "MANIFEST.sha256") == []


def test_accept_writes_a_signable_record_for_a_compliant_device(locked: LabPACS, tmp_path: Path) -> None:
    # Given the locked lab and a site policy extending archive without TLS
    policy = tmp_path / "vlan.toml"
    policy.write_text(NO_TLS, encoding="utf-8")
    out = tmp_path / "record"
    # When it is accepted with the device's identity and the tester's name
    result = run(
        "accept", *endpoints(locked), "--role", "archive", "--policy", str(policy), "--out", str(out), *ASKED,
        "--name", "PACS-2", "--manufacturer", "Lab Inc.", "--model", "LabPACS", "--serial", "SN-0042",
        "--tested-by", "A. Tester", "-q",
    )  # fmt: skip
    # Then it is compliant (exit 0) and the record holds identity, policy hash, requirements and blank signatures
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((out / "acceptance.json").read_text())
    assert record["verdict"] == "compliant"
    assert record["device"]["serial"] == "SN-0042" and record["device"]["ae_titles"] == ["DICOMLAB"]
    assert record["policy"]["name"] == "archive-in-vlan" and len(record["policy"]["sha256"]) == 64
    assert record["signoff"] == {"tested_by": "A. Tester", "approved_by": "", "date": ""}
    assert all(r["evidence"] for r in record["requirements"] if r["outcome"] == "met")
    html = (out / "acceptance.html").read_text()
    assert "SN-0042" in html and record["policy"]["sha256"] in html and "@media print" in html
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
    assert verify_manifest(out / "MANIFEST.sha256") == []


def test_accept_against_the_shipped_archive_policy_is_non_compliant(locked: LabPACS, tmp_path: Path) -> None:
    result = run("accept", *endpoints(locked), "--role", "archive", "--out", str(tmp_path), *ASKED, "-q")
    assert result.returncode == 1
    record = json.loads((tmp_path / "acceptance.json").read_text())
    assert record["verdict"] == "non-compliant"
    assert {r["id"] for r in record["requirements"] if r["outcome"] == "violated"} == {
        "setting:tls_required",
        "setting:https_required",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "archve"], "unknown role 'archve' (did you mean 'archive'?)"),
        (["--role", "archive", "--policy", "no/such.toml"], "no such policy file"),
        ([], "--role is required"),
        (["--role", "archive", "--date", "15/01/2026"], "is not a date"),
    ],
)
def test_unusable_input_exits_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = run("accept", "127.0.0.1:1/X", *args, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "acceptance.json").exists()


def test_probe_judges_each_node_by_its_inventory_role(locked: LabPACS, tmp_path: Path) -> None:
    # Given an inventory naming the locked lab an archive (TLS required) and a workstation... by role column
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(
        "host,port,called_aet,name,role,url\n"
        f"{locked.host},{locked.port},{locked.ae_title},pacs,archive,{locked.web_url}\n"
        f"127.0.0.1,{closed_port()},CT01,ct-1,modality,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    # When the fleet is probed with reports and JUnit
    result = run("probe", "--targets", str(inventory), "--out", str(out), "--junit", str(tmp_path / "j.xml"), *ASKED)
    # Then each node has its verdict in the result JSON, and probe exits 1 (no --fail-on given)
    assert result.returncode == 1, result.stderr
    assert "not compliant with their role policy" in result.stderr
    data = json.loads((out / "result.json").read_text())
    verdicts = {n["label"]: (n["role"], n["verdict"]) for n in data["policy_judgement"]["nodes"]}
    assert verdicts == {"pacs": ("archive", "non-compliant"), "ct-1": ("modality", "undecided")}
    # and the reports and JUnit show them
    assert "Role policies" in (out / "report.html").read_text()
    assert "| pacs | archive" in (out / "report.md").read_text()
    names = [s.get("name") for s in ET.parse(tmp_path / "j.xml").getroot().iter("testsuite")]
    assert "policy archive: pacs (archive)" in names


def test_probe_with_a_compliant_policy_exits_0_and_fail_on_is_unchanged(locked: LabPACS, tmp_path: Path) -> None:
    policy = tmp_path / "vlan.toml"
    policy.write_text(NO_TLS, encoding="utf-8")
    base = ["probe", *endpoints(locked), "--policy", str(policy), "-q", *ASKED]
    assert run(*base).returncode == 0
    # --fail-on still gates on findings (the plaintext transport is a medium finding) whatever the policy says
    assert run(*base, "--fail-on", "medium").returncode == 1


def test_probe_refuses_an_unknown_inventory_role_before_probing(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("host,port,called_aet,role\n127.0.0.1,1,X,archiv\n", encoding="utf-8")
    result = run("probe", "--targets", str(inventory))
    assert result.returncode == 2
    assert "line 2: unknown role 'archiv'" in result.stderr
