"""Every web verdict against real Orthanc 1.10 + DICOMweb configurations (tests/peers/GROUND_TRUTH.md).

One row per server configuration, one column per web check: the verdict the
configuration implies.  The scan runs with ``--try-default-credentials`` so
``web.default_credentials`` is decided too.  Servers are session-scoped.
"""

from __future__ import annotations

from typing import Any

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.models import Status, Target, TargetResult
from dicomaudit.net.web import Credentials, WebSettings
from dicomaudit.scanner import scan_target
from dicomaudit.targets import parse_target
from tests.peers.orthanc import OrthancServer

pytestmark = pytest.mark.peers

WEB_IDS = (
    "web.service",
    "web.plaintext",
    "web.unauthenticated",
    "web.cors",
    "web.default_credentials",
    "qido.unauthenticated",
    "qido.phi_exposed",
    "wado.unauthenticated",
    "stow.unauthenticated",
)
N, F, P, S = Status.INFO, Status.FAIL, Status.PASS, Status.SKIPPED  # N: info (an observation)
EXPECTED = {
    # config:            service plain unauth cors default qido phi wado stow
    "web-open": (N, F, F, P, S, F, F, F, F),
    "web-default-user": (N, F, P, P, F, P, P, P, P),
    "web-strong-user": (N, F, P, P, P, P, P, P, P),
    "web-https": (N, P, P, P, P, P, P, P, P),
    "web-cors-proxy": (N, F, P, F, P, P, P, P, P),
}


def _settings(server: OrthancServer, **web: Any) -> ProbeSettings:
    return ProbeSettings(
        timeout=5.0,
        web=WebSettings(try_default_credentials=True, ca_bundle=server.ca_bundle, **web),
    )


def _scan(server: OrthancServer, **web: Any) -> TargetResult:
    return scan_target(parse_target(server.web_url), _settings(server, **web))


@pytest.mark.parametrize("orthanc_web", list(EXPECTED), indirect=True)
def test_every_web_verdict_matches_the_configuration(orthanc_web: OrthancServer) -> None:
    """Given a real Orthanc web configuration, when its DICOMweb root is probed, then each web check reads as its configuration implies."""
    result = _scan(orthanc_web)
    got = tuple(result.check(cid).status for cid in WEB_IDS)
    expected = EXPECTED[orthanc_web.config]
    assert got == expected, {
        cid: (g.value, result.check(cid).summary) for cid, g, e in zip(WEB_IDS, got, expected, strict=True) if g != e
    }


def test_a_web_target_runs_only_the_web_inventory_and_tls_checks(orthanc_web_open: OrthancServer) -> None:
    """Given a web URL, when it is scanned, then no DIMSE check appears in its result."""
    ids = [c.id for c in _scan(orthanc_web_open).checks]
    tls = ["tls.protocols", "tls.ciphers", "tls.certificate", "tls.client_auth"]
    software = ["software.identified", "software.known_vulnerable"]
    assert ids == ["inventory.unlisted", "inventory.missing", *WEB_IDS, *tls, *software]


def test_qido_phi_is_masked_and_names_the_web_path(orthanc_web_open: OrthancServer) -> None:
    """Given an open QIDO-RS, when its answer is analysed, then findings carry the query URL as source and masked values."""
    result = _scan(orthanc_web_open)
    names = [p for p in result.phi if p.keyword == "PatientName"]
    assert names, "the QIDO answer carries the patient's name"
    assert all(p.source.startswith(f"{orthanc_web_open.web_url}/studies?limit=") for p in result.phi)
    real = {str(ds.PatientName) for ds in orthanc_web_open.datasets}
    assert not {p.value for p in names} & real
    assert all("*" in p.value for p in names)


def test_a_bare_origin_finds_orthancs_default_dicomweb_root(orthanc_web_open: OrthancServer) -> None:
    """Given only Orthanc's origin (no /dicom-web), when it is probed, then DICOMweb is found at its documented root."""
    origin = orthanc_web_open.web_url.rsplit("/dicom-web", 1)[0]
    result = scan_target(parse_target(origin), _settings(orthanc_web_open))
    service = result.check("web.service")
    assert service.evidence["dicomweb"]["url"] == orthanc_web_open.web_url
    assert result.check("qido.unauthenticated").status is Status.FAIL


def test_orthanc_is_identified_from_its_system_route(orthanc_web_open: OrthancServer) -> None:
    """Given an open Orthanc REST API, when web.service runs, then /system names Orthanc, its version and its DICOM side."""
    product = _scan(orthanc_web_open).check("web.service").evidence["product"]
    assert product["Version"] == "1.10.1"
    assert product["DicomPort"] == orthanc_web_open.port


def test_the_operators_credentials_confirm_the_service_behind_the_refusal(orthanc_web_https: OrthancServer) -> None:
    """Given --web-user over verified HTTPS, when the refused API is asked again, then the evidence shows it serves that user."""
    assert orthanc_web_https.credentials is not None
    user, password = orthanc_web_https.credentials
    result = _scan(orthanc_web_https, credentials=Credentials(user, password))
    check = result.check("web.unauthenticated")
    assert check.status is Status.PASS
    confirmed = [s.get("confirmed_with") for s in check.evidence["services"]]
    assert any(c and user in c for c in confirmed)
    assert password not in repr(result.to_dict())


def test_the_operators_password_never_goes_over_plain_http(orthanc_web_strong_user: OrthancServer) -> None:
    """Given --web-user and a plain-HTTP URL, when scanned, then the password is not sent (no exchange claims the user)."""
    assert orthanc_web_strong_user.credentials is not None
    user, password = orthanc_web_strong_user.credentials
    result = _scan(orthanc_web_strong_user, credentials=Credentials(user, password))
    text = repr(result.to_dict())
    assert "--web-user" not in text
    assert password not in text


def test_default_credentials_are_not_tried_unless_asked(orthanc_web_default_user: OrthancServer) -> None:
    """Given no --try-default-credentials, when scanned, then web.default_credentials is skipped and no credentials are sent."""
    settings = ProbeSettings(timeout=5.0)
    result = scan_target(parse_target(orthanc_web_default_user.web_url), settings)
    assert result.check("web.default_credentials").status is Status.SKIPPED
    assert "documented default" not in repr(result.to_dict())


def test_intrusive_stow_stores_one_synthetic_object(orthanc_web_open: OrthancServer) -> None:
    """Given --intrusive on an open STOW-RS, when stow.unauthenticated runs, then one synthetic object is stored (and removed here)."""
    settings = ProbeSettings(timeout=5.0, intrusive=True, checks=("stow.unauthenticated",))
    result = scan_target(parse_target(orthanc_web_open.web_url), settings)
    check = result.check("stow.unauthenticated")
    assert check.status is Status.FAIL
    sop = check.evidence["stored_object"]["sop_instance_uid"]
    assert orthanc_web_open.delete_sop_instance(sop)


def test_a_dimse_port_and_the_web_api_of_one_orthanc_are_one_node(orthanc_web_open: OrthancServer) -> None:
    """Given the DICOM port and the DICOMweb root of one Orthanc, when both are probed, then the reports show one node with both sets of checks."""
    from dicomaudit.output.view import build_view
    from dicomaudit.policy import assess
    from dicomaudit.scanner import scan

    targets = [
        Target(host=orthanc_web_open.host, port=orthanc_web_open.port, called_aet=orthanc_web_open.aet),
        parse_target(orthanc_web_open.web_url),
    ]
    results = scan(targets, ProbeSettings(timeout=5.0))
    from dicomaudit.models import RunResult

    view = build_view(assess(RunResult(tool_version="test", targets=tuple(results))))
    assert len(view.nodes) == 1
    ids = {c.result.id for c in view.nodes[0].checks}
    assert {"find.unauthenticated", "qido.unauthenticated"} <= ids
