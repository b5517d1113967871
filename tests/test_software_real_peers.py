"""software.identified / software.known_vulnerable against real servers: DCMTK, Orthanc (DICOM and web), pynetdicom, the lab."""

from __future__ import annotations

from typing import Any

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LabPACS
from dicomaudit.models import Severity, Status, Target, TargetResult
from dicomaudit.scanner import scan_target
from dicomaudit.targets import parse_target

pytestmark = pytest.mark.peers

CHECKS = ("dicom.service", "web.service", "software.identified", "software.known_vulnerable")


def _scan(target: Target) -> TargetResult:
    return scan_target(target, ProbeSettings(timeout=5.0, checks=CHECKS))


def _identified(result: TargetResult) -> dict[str, Any]:
    check = result.check("software.identified")
    assert check.status is Status.INFO, check.summary
    return dict(check.evidence)


def test_orthancs_dicom_port_is_named_as_its_dcmtk_toolkit_not_as_orthanc(orthanc_open: Any) -> None:
    """Given Orthanc's DICOM port, when identified, then it is DCMTK 3.6.7 (likely), with Orthanc only a candidate."""
    ev = _identified(_scan(Target(orthanc_open.host, orthanc_open.port, orthanc_open.aet)))
    assert (ev["product"], ev["version"], ev["confidence"]) == ("DCMTK", "3.6.7", "likely")
    assert "Orthanc" in ev["could_also_be"]


def test_orthancs_web_api_is_orthanc_for_certain(orthanc_web_open: Any) -> None:
    """Given Orthanc's open REST API, when identified, then /system makes it Orthanc 1.10.1, certain."""
    ev = _identified(_scan(parse_target(orthanc_web_open.web_url)))
    assert (ev["product"], ev["version"], ev["confidence"]) == ("Orthanc", "1.10.1", "certain")


def test_orthanc_1_10_matches_published_advisories_with_the_backport_caveat(orthanc_web_open: Any) -> None:
    """Given Orthanc 1.10.1 identified, when advisories are matched, then they fail with the worst severity and the caveat about backports."""
    check = _scan(parse_target(orthanc_web_open.web_url)).check("software.known_vulnerable")
    assert check.status is Status.FAIL
    ids = [a["id"] for a in check.evidence["advisories"]]
    assert "CVE-2023-33466" in ids
    assert check.severity is Severity.CRITICAL  # VU#536588, CVSS 9.8
    assert "backported" in check.evidence["caveat"]


def test_a_protected_orthanc_api_identifies_nothing_beyond_the_evidence(orthanc_web_strong_user: Any) -> None:
    """Given Orthanc's API behind authentication, when identified without credentials, then no version is claimed and no advisory matched."""
    result = _scan(parse_target(orthanc_web_strong_user.web_url))
    assert result.check("software.known_vulnerable").status is Status.SKIPPED


def test_dcmtk_storescp_matches_dcmtk_advisories(storescp_server: Any) -> None:
    """Given DCMTK 3.6.7's storescp, when identified and matched, then DCMTK advisories fixed after 3.6.7 fail."""
    result = _scan(Target(storescp_server.host, storescp_server.port, storescp_server.aet))
    assert _identified(result)["product"] == "DCMTK"
    vulnerable = result.check("software.known_vulnerable")
    assert vulnerable.status is Status.FAIL
    assert "CVE-2024-28130" in [a["id"] for a in vulnerable.evidence["advisories"]]


def test_pynetdicom_qrscp_is_pynetdicom(pynetdicom_qrscp: Any) -> None:
    """Given pynetdicom's qrscp application, when identified, then it is pynetdicom with its version."""
    import pynetdicom

    ev = _identified(_scan(Target(pynetdicom_qrscp.host, pynetdicom_qrscp.port, pynetdicom_qrscp.aet)))
    assert (ev["product"], ev["version"]) == ("pynetdicom", pynetdicom.__version__)


def test_the_lab_is_the_lab() -> None:
    """Given the lab PACS, when identified, then it is the dicomaudit lab, and no advisory matches it."""
    with LabPACS(profile="open", port=0) as lab:
        result = _scan(Target(lab.host, lab.port, lab.ae_title))
    assert _identified(result)["product"] == "dicomaudit lab"
    assert result.check("software.known_vulnerable").status in (Status.PASS, Status.SKIPPED)
