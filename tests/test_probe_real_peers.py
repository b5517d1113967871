"""The prober's verdicts against the servers hospitals actually run.

Real Orthanc 1.10 and DCMTK 3.6 processes on loopback (fixtures in
``tests/peers``), in the configurations they are found in.  The expected
status of every catalogue check is written down per configuration; the
observed wire behaviour behind each expectation is in
``tests/peers/GROUND_TRUTH.md``.  The invariant under test: a node that
refuses is never reported ``fail``, a node that leaks is never ``pass``.
"""

from __future__ import annotations

from typing import Any

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.models import Target, TargetResult
from dicomaudit.net.tls import TlsSettings
from dicomaudit.scanner import scan_target

pytestmark = pytest.mark.peers

CHECKS = (
    "dicom.service",
    "assoc.any_called_aet",
    "assoc.any_calling_aet",
    "echo.unauthenticated",
    "find.unauthenticated",
    "find.phi_exposed",
    "store.unauthenticated",
    "transport.plaintext",
)


def expected(*statuses: str) -> dict[str, str]:
    assert len(statuses) == len(CHECKS)
    return dict(zip(CHECKS, statuses, strict=True))


#                           service  called   calling  echo    find    phi     store   plaintext
EXPECTED = {
    "orthanc_open": expected("info", "fail", "fail", "fail", "fail", "fail", "fail", "fail"),
    # Orthanc's shipped defaults: called-AE check off, echo and store open to any AE,
    # C-FIND from an unknown AE answered with A-ABORT (a refusal: nothing leaked).
    "orthanc_stock": expected("info", "fail", "fail", "fail", "pass", "pass", "fail", "fail"),
    "orthanc_allowlist": expected("info", "pass", "pass", "pass", "pass", "pass", "pass", "fail"),
    # TLS only with client certificates: nothing can be asked without a trusted certificate.
    "orthanc_tls": expected("info", "skipped", "skipped", "skipped", "skipped", "skipped", "skipped", "pass"),
    "dcmqrscp_open": expected("info", "pass", "fail", "fail", "fail", "fail", "fail", "fail"),
    "dcmqrscp_restricted": expected("info", "pass", "pass", "pass", "pass", "pass", "pass", "fail"),
    # storescp accepts any AE title and offers no query service.
    "storescp_server": expected("info", "fail", "fail", "fail", "pass", "pass", "fail", "fail"),
    # wlmscpfs checks the called AE (worklist folder), offers Verification and worklist only.
    "wlmscpfs_server": expected("info", "pass", "fail", "fail", "pass", "pass", "pass", "fail"),
}


def _scan(server: Any, **kw: Any) -> TargetResult:
    target = Target(host="127.0.0.1", port=server.port, called_aet=server.aet)
    return scan_target(target, ProbeSettings(timeout=8.0, **kw))


@pytest.mark.parametrize("server_fixture", list(EXPECTED))
def test_every_check_gives_the_expected_status(server_fixture: str, request: pytest.FixtureRequest) -> None:
    """Given a real server in a known configuration, when probed, then each check has the expected status."""
    server = request.getfixturevalue(server_fixture)
    result = _scan(server)
    observed = {c.id: c.status.value for c in result.checks}
    details = {c.id: c.summary for c in result.checks if observed[c.id] != EXPECTED[server_fixture][c.id]}
    assert observed == EXPECTED[server_fixture], details


def test_orthanc_stock_find_refusal_is_recorded_as_an_abort(orthanc_stock: Any) -> None:
    result = _scan(orthanc_stock, checks=("find.unauthenticated",))
    check = result.check("find.unauthenticated")
    assert check.enforced == "association aborted by the node"
    assert all(q["response"]["aborted_by_node"] for q in check.evidence["queries"])


def test_orthanc_allowlist_rejections_name_the_control(orthanc_allowlist: Any) -> None:
    result = _scan(orthanc_allowlist)
    assert result.check("assoc.any_called_aet").enforced == "called AE title check"
    assert result.check("assoc.any_calling_aet").enforced == "calling AE title allow-list"


def test_orthanc_open_find_evidence_lists_returned_attributes_not_values(
    orthanc_open: Any, peer_datasets: list
) -> None:
    result = _scan(orthanc_open, checks=("find.unauthenticated", "find.phi_exposed"))
    find = result.check("find.unauthenticated")
    attrs = set(find.evidence["queries"][0]["response"]["attributes_returned"])
    assert {"PatientName", "PatientID", "PatientBirthDate"} <= attrs
    text = repr(result.to_dict())
    assert not any(str(ds.PatientID) in text for ds in peer_datasets)


def test_orthanc_tls_is_audited_with_a_client_certificate(orthanc_tls: Any) -> None:
    """Given TLS-only Orthanc and a trusted client certificate, then the checks run over TLS and find it open."""
    tls = TlsSettings(client_cert=orthanc_tls.tls.client_cert, client_key=orthanc_tls.tls.client_key)
    result = _scan(orthanc_tls, tls=tls)
    statuses = {c.id: c.status.value for c in result.checks}
    assert statuses["find.unauthenticated"] == "fail"
    assert statuses["transport.plaintext"] == "pass"
    assert result.check("echo.unauthenticated").evidence["association"]["request"]["transport"] == "tls"


def test_orthanc_tls_reports_certificate_required(orthanc_tls: Any) -> None:
    result = _scan(orthanc_tls, checks=("dicom.service",))
    tls = result.check("dicom.service").evidence["tls"]
    assert tls["tls"]["client_certificate_required"] is True
    assert tls["tls"]["handshake"] in (True, False)


def test_intrusive_store_on_orthanc_stores_one_synthetic_object(orthanc_open: Any) -> None:
    result = _scan(orthanc_open, intrusive=True, checks=("store.unauthenticated",))
    check = result.check("store.unauthenticated")
    try:
        assert check.status.value == "fail"
        assert check.evidence["object_stored"] is True
    finally:
        uid = check.evidence.get("stored_object", {}).get("sop_instance_uid")
        if uid:
            orthanc_open.delete_sop_instance(uid)


@pytest.mark.parametrize("server_fixture", ["orthanc_allowlist", "dcmqrscp_restricted"])
def test_a_registered_calling_aet_is_not_reported_as_an_outsider(
    server_fixture: str, request: pytest.FixtureRequest
) -> None:
    """Given an allow-listing server and --calling-aet set to the AE title it has registered,
    when probed, then echo/find/store are asked as an unregistered AE (all refused) and a warning says why."""
    server = request.getfixturevalue(server_fixture)
    result = _scan(server, calling_aet="PACSADMIN")
    for check_id in ("echo.unauthenticated", "find.unauthenticated", "find.phi_exposed", "store.unauthenticated"):
        assert result.check(check_id).status.value == "pass", result.check(check_id).summary
    assert any("PACSADMIN" in w for w in result.warnings)
