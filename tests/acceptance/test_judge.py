"""The shipped policies judge real nodes the way their configurations imply (lab profiles, Orthanc stock).

Real servers on loopback, probed with the full catalogue; the judge is pure,
so each test probes once and judges the same results against several
policies.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dicomaudit.acceptance import Outcome, Verdict, judge_node, judge_run, load_policy, load_role
from dicomaudit.checks.base import ProbeSettings
from dicomaudit.checks.catalogue import get
from dicomaudit.lab import LabPACS
from dicomaudit.models import RunResult, Status, Target, TargetResult
from dicomaudit.net.web import WebSettings
from dicomaudit.scanner import scan_target
from tests.conftest import TEST_TIMEOUT

#: What an acceptance run asks for: the opt-in questions the base policy requires to be answered.
ACCEPTANCE = {
    "timeout": TEST_TIMEOUT,
    "guess_aet": True,
    "guess_pause": 0.0,
    "web": WebSettings(try_default_credentials=True),
}

NO_TLS = 'extends = "archive"\nname = "archive-in-vlan"\n[settings]\ntls_required = false\nhttps_required = false\n'


def probe_node(lab: LabPACS, name: str, **overrides: object) -> list[TargetResult]:
    """Both endpoints of a lab PACS (DICOM port and DICOMweb root) as one named node."""
    settings = ProbeSettings(**{**ACCEPTANCE, **overrides})  # type: ignore[arg-type]
    endpoints = [Target(host=lab.host, port=lab.port, called_aet=lab.ae_title, name=name)]
    if lab.web_url is not None:
        assert lab.web_port is not None
        endpoints.append(Target(host=lab.host, port=lab.web_port, url=lab.web_url, name=name))
    return [scan_target(t, settings) for t in endpoints]


@pytest.fixture(scope="module")
def locked_node() -> Iterator[list[TargetResult]]:
    with LabPACS(profile="locked", port=0, web_port=0) as lab:
        yield probe_node(lab, "lab-locked")


@pytest.fixture(scope="module")
def open_node() -> Iterator[list[TargetResult]]:
    with LabPACS(profile="open", port=0, web_port=0) as lab:
        yield probe_node(lab, "lab-open")


def test_locked_lab_is_non_compliant_as_an_archive_because_it_speaks_plaintext(locked_node: list[TargetResult]) -> None:
    # Given the locked lab (allow-listed AEs, HTTP Basic, but plaintext DICOM and HTTP)
    # When it is judged against the shipped archive policy (TLS required, NIST SP 1800-24 PR.DS-2)
    judged = judge_node(locked_node, "archive", load_role("archive"))
    # Then it is non-compliant for exactly the two transport settings, with the evidence of each
    assert judged.verdict is Verdict.NON_COMPLIANT
    assert [r.id for r in judged.violated] == ["setting:tls_required", "setting:https_required"]
    assert judged.violated[0].evidence[0].check_id == "transport.plaintext"
    assert not judged.undecided


def test_locked_lab_is_compliant_as_an_archive_when_the_policy_drops_tls(
    locked_node: list[TargetResult], tmp_path: Path
) -> None:
    # Given a site policy that extends archive and turns TLS off (compensated by network segmentation)
    path = tmp_path / "vlan.toml"
    path.write_text(NO_TLS, encoding="utf-8")
    # When the same results are judged against it
    judged = judge_node(locked_node, "archive", load_policy(path))
    # Then every access-control requirement is met on both endpoints and the node is compliant
    assert judged.verdict is Verdict.COMPLIANT, judged.reason
    met = {r.id for r in judged.requirements if r.outcome is Outcome.MET}
    assert {"check:assoc.any_calling_aet", "check:find.unauthenticated", "check:web.unauthenticated"} <= met
    assert "check:web.default_credentials" in met and "check:assoc.guessable_calling_aet" in met


def test_open_lab_violates_every_role(open_node: list[TargetResult]) -> None:
    for role in ("archive", "modality", "workstation", "worklist", "router"):
        judged = judge_node(open_node, role, load_role(role))
        assert judged.verdict is Verdict.NON_COMPLIANT
        assert "check:find.unauthenticated" in {r.id for r in judged.violated}


def test_a_modality_must_not_offer_query_services(open_node: list[TargetResult]) -> None:
    # Given the open lab, which lets anyone negotiate C-FIND / WORKLIST / storage
    judged = judge_node(open_node, "modality", load_role("modality"))
    # Then the modality policy's forbidden services are violated, with the SOP classes as evidence
    violated = {r.id: r for r in judged.violated}
    assert "service:forbidden:Query/Retrieve - FIND" in violated
    assert "Study Root" in violated["service:forbidden:Query/Retrieve - FIND"].detail
    # and C-ECHO from anyone is tolerated for a modality (fail allowed), not a violation
    echo = next(r for r in judged.requirements if r.id == "check:echo.unauthenticated")
    assert echo.outcome is Outcome.RECORDED


def test_a_check_the_run_did_not_ask_leaves_the_node_undecided_not_compliant(
    locked_node: list[TargetResult], tmp_path: Path
) -> None:
    # Given the locked lab probed without --guess-aet (assoc.guessable_calling_aet: "not requested")
    path = tmp_path / "vlan.toml"
    path.write_text(NO_TLS, encoding="utf-8")
    skipped = get("assoc.guessable_calling_aet").result(Status.SKIPPED, "not requested: needs --guess-aet")
    without_guess = [
        replace(t, checks=tuple(skipped if c.id == skipped.id else c for c in t.checks)) for t in locked_node
    ]
    # When judged against a policy that requires it
    judged = judge_node(without_guess, "archive", load_policy(path))
    # Then the node is undecided, and the requirement says which option was missing
    assert judged.verdict is Verdict.UNDECIDED
    assert [r.id for r in judged.undecided] == ["check:assoc.guessable_calling_aet"]
    assert "--guess-aet" in judged.undecided[0].detail


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_node_is_undecided() -> None:
    # Given a loopback port nothing listens on
    result = scan_target(Target(host="127.0.0.1", port=closed_port(), called_aet="NOBODY"), ProbeSettings(timeout=2))
    # When it is judged as an archive
    judged = judge_node([result], "archive", load_role("archive"))
    # Then it is undecided, never compliant (the node could not be assessed)
    assert judged.verdict is Verdict.UNDECIDED
    assert "node:answers" in {r.id for r in judged.undecided}


def test_the_judgement_round_trips_through_the_result_json(open_node: list[TargetResult]) -> None:
    # Given a run judged against a role
    judgement = judge_run(open_node, {open_node[0].target.node_key: ("archive", load_role("archive"))})
    result = RunResult(tool_version="t", targets=tuple(open_node), policy_judgement=judgement.to_dict())
    # When it is written and read back
    again = RunResult.from_dict(result.to_dict())
    # Then the node's verdict, requirements and policy hash survive
    from dicomaudit.acceptance.judge import read_judgement

    read = read_judgement(again)
    assert read is not None and read.nodes[0] == judgement.nodes[0]
    assert read.policies[0].sha256 == load_role("archive").sha256


@pytest.mark.peers
def test_orthanc_stock_is_non_compliant_as_an_archive(orthanc_stock) -> None:  # type: ignore[no-untyped-def]
    # Given Orthanc with Debian's stock DICOM settings (any calling AE, C-ECHO and C-STORE for anyone)
    target = Target(host="127.0.0.1", port=orthanc_stock.port, called_aet=orthanc_stock.aet, name="orthanc")
    result = scan_target(target, ProbeSettings(**ACCEPTANCE))  # type: ignore[arg-type]
    # When it is judged as an archive
    judged = judge_node([result], "archive", load_role("archive"))
    # Then its defaults violate the archive policy: unregistered peers associate, echo and store
    assert judged.verdict is Verdict.NON_COMPLIANT
    violated = {r.id for r in judged.violated}
    assert {"check:assoc.any_calling_aet", "check:store.unauthenticated", "setting:tls_required"} <= violated
    # while what Orthanc refuses by default (C-FIND from unknown AEs) is met
    assert "check:find.unauthenticated" in {r.id for r in judged.requirements if r.outcome is Outcome.MET}
