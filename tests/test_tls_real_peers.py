"""TLS quality verdicts (tls.*) against real TLS endpoints: the lab, Orthanc's DICOM TLS, nginx in front of Orthanc.

Each row is what the endpoint's configuration implies, recorded in tests/peers/GROUND_TRUTH.md ("TLS").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LabPACS
from dicomaudit.models import Status, Target, TargetResult
from dicomaudit.net.tls import TlsSettings
from dicomaudit.net.web import WebSettings
from dicomaudit.scanner import scan_target
from dicomaudit.targets import parse_target

pytestmark = pytest.mark.peers

TLS_IDS = ("tls.protocols", "tls.ciphers", "tls.certificate", "tls.client_auth")
CHECKS = ("dicom.service", "web.service", *TLS_IDS)


def _scan(target: Target, ca_bundle: Path | None = None, **kw: Any) -> TargetResult:
    settings = ProbeSettings(timeout=5.0, checks=CHECKS, web=WebSettings(ca_bundle=ca_bundle), **kw)
    return scan_target(target, settings)


def _statuses(result: TargetResult) -> tuple[Status, ...]:
    return tuple(result.check(cid).status for cid in TLS_IDS)


@pytest.fixture(scope="module")
def lab_tls() -> Any:
    with LabPACS(profile="tls", port=0, web_port=0) as lab:
        yield lab


def test_the_lab_tls_port_speaks_modern_tls_with_a_good_certificate(lab_tls: LabPACS) -> None:
    """Given the lab's DICOM TLS port and its CA, when scanned, then versions, suites and certificate pass and a client certificate is required."""
    assert lab_tls.tls_files is not None
    result = _scan(Target("127.0.0.1", lab_tls.port, "DICOMLAB"), ca_bundle=lab_tls.tls_files.ca_cert)
    assert _statuses(result) == (Status.PASS, Status.PASS, Status.PASS, Status.INFO)
    assert result.check("tls.client_auth").evidence["client_auth"] == "required"
    cert = result.check("tls.certificate").evidence["certificate"]
    assert cert["trusted_by_ca_bundle"] is True and "127.0.0.1" in cert["names"]
    assert set(result.check("tls.protocols").evidence["versions"]) == {
        "SSL 2.0",
        "SSL 3.0",
        "TLS 1.0",
        "TLS 1.1",
        "TLS 1.2",
        "TLS 1.3",
    }


def test_a_ca_bundle_the_certificate_does_not_chain_to_fails_the_certificate(lab_tls: LabPACS, tmp_path: Path) -> None:
    """Given a --ca-bundle of another CA, when the lab's TLS port is scanned, then tls.certificate fails saying so."""
    from tests.peers.certs import make_tls_material

    other = make_tls_material(tmp_path / "other-pki")
    result = _scan(Target("127.0.0.1", lab_tls.port, "DICOMLAB"), ca_bundle=other.ca_cert)
    check = result.check("tls.certificate")
    assert check.status is Status.FAIL and "does not chain to --ca-bundle" in check.summary


def test_the_lab_https_endpoint_asks_no_client_certificate(lab_tls: LabPACS) -> None:
    """Given the lab's HTTPS DICOMweb root, when scanned, then the TLS checks pass and no client certificate is asked for."""
    assert lab_tls.web_url is not None
    result = _scan(parse_target(lab_tls.web_url))
    assert _statuses(result) == (Status.PASS, Status.PASS, Status.PASS, Status.INFO)
    assert result.check("tls.client_auth").evidence["client_auth"] == "disabled"


def test_a_plaintext_endpoint_skips_the_tls_checks() -> None:
    """Given a plaintext lab node, when scanned, then every TLS check is skipped as not applicable."""
    with LabPACS(profile="open", port=0) as lab:
        result = _scan(Target("127.0.0.1", lab.port, "DICOMLAB"))
    assert _statuses(result) == (Status.SKIPPED,) * 4


def test_a_closed_port_has_no_tls_to_judge() -> None:
    """Given a port nothing listens on, when scanned, then the TLS checks are skipped and dicom.service says why."""
    from tests.peers._process import free_port

    result = _scan(Target("127.0.0.1", free_port(), "X"))
    assert _statuses(result) == (Status.SKIPPED,) * 4
    assert result.check("dicom.service").status is Status.ERROR


def test_orthanc_dicom_tls(orthanc_tls: Any) -> None:
    """Given Orthanc with DicomTlsEnabled and client certificates required, when scanned, then the verdicts match its DCMTK TLS set-up."""
    tls = orthanc_tls.tls
    result = _scan(
        Target(orthanc_tls.host, orthanc_tls.port, orthanc_tls.aet),
        ca_bundle=tls.ca_cert,
        tls=TlsSettings(client_cert=tls.client_cert, client_key=tls.client_key),
    )
    assert _statuses(result) == (Status.PASS, Status.PASS, Status.PASS, Status.INFO)
    assert result.check("tls.protocols").summary == "only TLS 1.3 accepted"  # Orthanc 1.10's DCMTK TLS layer
    assert result.check("tls.client_auth").evidence["client_auth"] == "required"


def test_nginx_https_in_front_of_orthanc(orthanc_web_https: Any) -> None:
    """Given nginx terminating TLS for Orthanc with a CA-issued certificate, when scanned, then the verdicts match nginx's configuration."""
    result = _scan(parse_target(orthanc_web_https.web_url), ca_bundle=orthanc_web_https.ca_bundle)
    assert _statuses(result) == (Status.PASS, Status.PASS, Status.PASS, Status.INFO)
    assert result.check("tls.protocols").summary == "only TLS 1.2 and TLS 1.3 accepted"  # Debian nginx defaults
    assert result.check("tls.client_auth").evidence["client_auth"] == "disabled"


# -- DCMTK storescp TLS profiles, certificates and client authentication; stunnel fronts -------------------------
P, F, N = Status.PASS, Status.FAIL, Status.INFO  # N: info (an observation)
PROFILE_EXPECTED = {
    # profile: (tls.protocols, tls.ciphers); DCMTK's TLS set-up on Debian 12 (GROUND_TRUTH.md "TLS")
    "bcp195-nd": (P, P),  # TLS 1.2 ECDHE/DHE AES-GCM and TLS 1.3
    "bcp195": (F, P),  # adds TLS_RSA_WITH_AES_128_CBC_SHA on TLS 1.0 and 1.1
    "bcp195-ex": (P, P),  # TLS 1.2 only, AES-GCM
    "aes": (F, P),  # the retired AES profile: TLS 1.0-1.2, RSA key transport
    "null": (F, F),  # authentication only: TLS_RSA_WITH_NULL_SHA
}


def _peer_scan(peer: Any, **kw: Any) -> TargetResult:
    return _scan(Target(peer.host, peer.port, peer.aet), ca_bundle=peer.ca_bundle, **kw)


@pytest.mark.parametrize("storescp_tls_profile", list(PROFILE_EXPECTED), indirect=True)
def test_dcmtk_tls_profiles(storescp_tls_profile: Any) -> None:
    """Given storescp with a DCMTK TLS profile, when scanned, then versions and suites read as the profile implies."""
    result = _peer_scan(storescp_tls_profile)
    got = (result.check("tls.protocols").status, result.check("tls.ciphers").status)
    assert got == PROFILE_EXPECTED[storescp_tls_profile.profile], {cid: result.check(cid).summary for cid in TLS_IDS}
    assert result.check("tls.certificate").status is P


def test_the_null_profile_is_named_as_no_encryption(storescp_tls_null: Any) -> None:
    """Given DCMTK's NULL profile, when scanned, then tls.ciphers names the NULL suite and why it is weak."""
    check = _peer_scan(storescp_tls_null).check("tls.ciphers")
    assert "TLS_RSA_WITH_NULL_SHA" in check.summary and "NULL encryption" in check.summary


CERT_REASONS = {
    "good": None,
    "expired": "expired on",
    "not_yet_valid": "not valid before",
    "self_signed": "self-signed",
    "short_key": "RSA key of 1024 bits",
    "sha1": "signed with SHA1",
    "wrong_name": "not for 127.0.0.1",
}


@pytest.mark.parametrize("storescp_tls_cert", list(CERT_REASONS), indirect=True)
def test_certificate_flaws_are_named(storescp_tls_cert: Any) -> None:
    """Given storescp presenting a good or flawed certificate, when scanned with the CA bundle, then tls.certificate fails naming the flaw (or passes)."""
    check = _peer_scan(storescp_tls_cert).check("tls.certificate")
    reason = CERT_REASONS[storescp_tls_cert.cert_kind]
    if reason is None:
        assert check.status is P, check.summary
    else:
        assert check.status is F and reason in check.summary, check.summary
    assert len(check.evidence["certificate"]["sha256"]) == 64


def test_a_required_client_certificate_is_reported(storescp_tls_client_auth: Any) -> None:
    """Given storescp requiring a client certificate, when scanned, then tls.client_auth says required."""
    check = _peer_scan(storescp_tls_client_auth).check("tls.client_auth")
    assert check.status is N and check.evidence["client_auth"] == "required"


def test_an_optional_client_certificate_is_reported(storescp_tls_client_optional: Any) -> None:
    """Given storescp asking for an optional client certificate, when scanned, then tls.client_auth says optional."""
    check = _peer_scan(storescp_tls_client_optional).check("tls.client_auth")
    assert check.evidence["client_auth"] == "optional"


STUNNEL_EXPECTED = {
    # config: (tls.protocols, tls.ciphers, tls.certificate)
    "anon": (Status.ERROR, F, F),  # anonymous suites only: sslyze cannot connect, the scanner's own handshake can
    "anon_mixed": (P, F, P),  # anonymous suites beside ECDHE-RSA
    "legacy": (F, F, P),  # TLS 1.0/1.1 and NULL-MD5 at OpenSSL security level 0
}


@pytest.mark.parametrize("stunnel_tls", list(STUNNEL_EXPECTED), indirect=True)
def test_stunnel_fronts(stunnel_tls: Any) -> None:
    """Given stunnel in front of a plain DICOM node with anonymous or legacy TLS, when scanned, then the verdicts name the weakness."""
    result = _peer_scan(stunnel_tls)
    got = tuple(result.check(cid).status for cid in ("tls.protocols", "tls.ciphers", "tls.certificate"))
    assert got == STUNNEL_EXPECTED[stunnel_tls.config], {cid: result.check(cid).summary for cid in TLS_IDS}
    if stunnel_tls.config.startswith("anon"):
        assert "anonymous" in result.check("tls.ciphers").summary


def test_a_host_name_target_is_scanned_by_name_and_matched_by_name(lab_tls: LabPACS) -> None:
    """Given the lab's TLS port addressed as localhost, when scanned, then sslyze resolves the name and the certificate matches it."""
    result = _scan(Target("localhost", lab_tls.port, "DICOMLAB"))
    check = result.check("tls.certificate")
    assert check.status is Status.PASS and check.evidence["checked_name"] == "localhost"
