"""Every catalogue check, pass and fail, against the lab PACS in its profiles.

Each module-scoped fixture probes one lab node once; each test states one
behaviour of one check (Given a node configured like X, When it is probed,
Then check Y says Z).
"""

from __future__ import annotations

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LabPACS
from dicomaudit.models import Status, Target, TargetResult
from dicomaudit.scanner import scan_target
from tests.conftest import TEST_TIMEOUT, target_of


def _scan(target: Target, **kw: object) -> TargetResult:
    return scan_target(target, ProbeSettings(timeout=TEST_TIMEOUT, **kw))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def open_result(lab_open: LabPACS) -> TargetResult:
    return _scan(target_of(lab_open))


@pytest.fixture(scope="module")
def locked_result(lab_locked: LabPACS) -> TargetResult:
    return _scan(target_of(lab_locked))


@pytest.fixture(scope="module")
def stock_result(lab_stock: LabPACS) -> TargetResult:
    return _scan(target_of(lab_stock))


@pytest.fixture(scope="module")
def readonly_result(lab_readonly: LabPACS) -> TargetResult:
    return _scan(target_of(lab_readonly))


@pytest.fixture(scope="module")
def tls_result(lab_tls: LabPACS) -> TargetResult:
    return _scan(target_of(lab_tls))


# -- dicom.service -------------------------------------------------------------
def test_service_is_info_with_plaintext_transport_on_open_node(open_result: TargetResult) -> None:
    """Given an open lab, when probed, then dicom.service reports DICOM in plaintext and the peer implementation."""
    check = open_result.check("dicom.service")
    assert check.status is Status.INFO
    assert check.evidence["plaintext"]["outcome"] == "accepted"
    assert check.evidence["plaintext"]["peer"]["implementation_version_name"]


def test_service_reports_rejection_reason_on_locked_node(locked_result: TargetResult) -> None:
    """Given a locked lab, when probed, then dicom.service still says DICOM and names the rejection reason."""
    check = locked_result.check("dicom.service")
    assert check.status is Status.INFO
    assert check.evidence["plaintext"]["rejection"]["reason"] == 3
    assert check.enforced == "calling AE title allow-list"


# -- assoc.any_called_aet --------------------------------------------------------
def test_any_called_aet_fails_on_open_node(open_result: TargetResult) -> None:
    check = open_result.check("assoc.any_called_aet")
    assert check.status is Status.FAIL
    assert check.evidence["association"]["request"]["called_aet"] == check.evidence["random_called_aet"]


def test_any_called_aet_passes_when_called_aet_checked(lab_locked: LabPACS) -> None:
    """Given a locked lab probed from a registered calling AE, then the refusal is attributed to the called-AE check."""
    result = _scan(target_of(lab_locked), calling_aet="PACSADMIN", checks=("assoc.any_called_aet",))
    check = result.check("assoc.any_called_aet")
    assert check.status is Status.PASS
    assert check.enforced == "called AE title check"
    assert check.evidence["association"]["rejection"]["reason"] == 7


def test_any_called_aet_pass_is_attributed_to_the_called_aet_check(locked_result: TargetResult) -> None:
    """Given a locked lab (pynetdicom checks the called AE title first), then the pass names that control."""
    check = locked_result.check("assoc.any_called_aet")
    assert check.status is Status.PASS
    assert check.enforced == "called AE title check"


# -- assoc.any_calling_aet -------------------------------------------------------
def test_any_calling_aet_fails_on_open_node(open_result: TargetResult) -> None:
    assert open_result.check("assoc.any_calling_aet").status is Status.FAIL


def test_any_calling_aet_passes_on_locked_node(locked_result: TargetResult) -> None:
    check = locked_result.check("assoc.any_calling_aet")
    assert check.status is Status.PASS
    assert check.enforced == "calling AE title allow-list"
    assert check.evidence["association"]["rejection"]["reason"] == 3


def test_any_calling_aet_is_inconclusive_when_called_aet_unknown(lab_locked: LabPACS) -> None:
    """Given a locked lab probed without its AE title, then the calling-AE question is an error, not a pass."""
    result = _scan(target_of(lab_locked, called_aet=None), calling_aet="PACSADMIN", checks=("assoc.any_calling_aet",))
    check = result.check("assoc.any_calling_aet")
    assert check.status is Status.ERROR
    assert "HOST:PORT/AET" in (check.reason or "")


# -- echo.unauthenticated --------------------------------------------------------
def test_echo_fails_on_open_node(open_result: TargetResult) -> None:
    check = open_result.check("echo.unauthenticated")
    assert check.status is Status.FAIL
    assert check.evidence["c_echo"]["status"]["code"] == "0x0000"


def test_echo_passes_on_locked_node(locked_result: TargetResult) -> None:
    assert locked_result.check("echo.unauthenticated").status is Status.PASS


# -- find.unauthenticated --------------------------------------------------------
def test_find_fails_on_open_node_with_capped_matches(open_result: TargetResult) -> None:
    check = open_result.check("find.unauthenticated")
    assert check.status is Status.FAIL
    for q in check.evidence["queries"]:
        assert 1 <= q["response"]["matches_read"] <= 10
        assert "PatientName" in q["response"]["attributes_returned"]


def test_find_passes_on_locked_node(locked_result: TargetResult) -> None:
    check = locked_result.check("find.unauthenticated")
    assert check.status is Status.PASS
    assert all(q["verdict"] == "refused" for q in check.evidence["queries"])


def test_find_refused_by_status_is_pass_not_fail(stock_result: TargetResult) -> None:
    """Given a node that accepts the association but refuses C-FIND by status, then nothing leaked: pass."""
    check = stock_result.check("find.unauthenticated")
    assert check.status is Status.PASS
    assert {q["response"]["final_status"]["code"] for q in check.evidence["queries"]} == {"0x0124"}


def test_find_cap_is_respected_and_cancel_sent(lab_open: LabPACS) -> None:
    """Given an open lab with more matches than the cap, then at most cap matches are read and C-CANCEL is sent."""
    result = _scan(target_of(lab_open), find_cap=2, checks=("find.unauthenticated",))
    for q in result.check("find.unauthenticated").evidence["queries"]:
        assert q["response"]["matches_read"] == 2
        assert q["response"]["cancelled_after_cap"] is True


# -- find.phi_exposed ------------------------------------------------------------
def test_phi_exposed_fails_on_open_node_and_masks_values(open_result: TargetResult) -> None:
    check = open_result.check("find.phi_exposed")
    assert check.status is Status.FAIL
    assert open_result.phi, "findings are attached to the target"
    names = {str(p.value) for p in open_result.phi if p.keyword == "PatientName"}
    lab_names = {str(ds.PatientName) for ds in LabPACS(profile="open").datasets}
    assert names and not names & lab_names, "values are masked by default"


def test_phi_exposed_passes_when_nothing_returned(locked_result: TargetResult) -> None:
    assert locked_result.check("find.phi_exposed").status is Status.PASS
    assert locked_result.phi == ()


# -- store.unauthenticated -------------------------------------------------------
def test_store_fails_on_open_node_without_storing(lab_open: LabPACS, open_result: TargetResult) -> None:
    check = open_result.check("store.unauthenticated")
    assert check.status is Status.FAIL
    assert check.evidence["object_stored"] is False
    assert not any(str(ds.PatientName) == "DICOMAUDIT^TEST" for ds in lab_open.stored)


def test_store_passes_on_locked_node(locked_result: TargetResult) -> None:
    assert locked_result.check("store.unauthenticated").status is Status.PASS


def test_store_passes_when_storage_classes_refused(readonly_result: TargetResult) -> None:
    check = readonly_result.check("store.unauthenticated")
    assert check.status is Status.PASS
    assert list(check.evidence["storage_contexts_accepted"]) == []
    assert check.evidence["association"]["rejected_contexts"]


def test_intrusive_store_stores_one_synthetic_object_and_reports_its_uids(lab_open: LabPACS) -> None:
    result = _scan(target_of(lab_open), intrusive=True, checks=("store.unauthenticated",))
    check = result.check("store.unauthenticated")
    assert check.status is Status.FAIL
    uid = check.evidence["stored_object"]["sop_instance_uid"]
    assert uid.startswith("2.25.")
    stored = [ds for ds in lab_open.stored if ds.SOPInstanceUID == uid]
    assert len(stored) == 1 and str(stored[0].PatientName) == "DICOMAUDIT^TEST"


# -- transport.plaintext ---------------------------------------------------------
def test_plaintext_fails_on_plaintext_node(open_result: TargetResult) -> None:
    assert open_result.check("transport.plaintext").status is Status.FAIL


def test_plaintext_passes_on_tls_only_node(tls_result: TargetResult) -> None:
    check = tls_result.check("transport.plaintext")
    assert check.status is Status.PASS


def test_tls_node_with_client_cert_required_skips_association_checks(tls_result: TargetResult) -> None:
    """Given a TLS-only node requiring client certificates, then association checks are skipped with the reason."""
    for cid in (
        "assoc.any_called_aet",
        "assoc.any_calling_aet",
        "echo.unauthenticated",
        "find.unauthenticated",
        "store.unauthenticated",
    ):
        check = tls_result.check(cid)
        assert check.status is Status.SKIPPED, cid
        assert "certificate" in (check.reason or "")
    service = tls_result.check("dicom.service")
    assert service.status is Status.INFO
    assert service.evidence["tls"]["tls"]["client_certificate_required"] is True


def test_tls_node_is_audited_over_tls_with_a_client_certificate(lab_tls: LabPACS) -> None:
    """Given a client certificate the node trusts, then the checks run over TLS and see the open services."""
    from dicomaudit.net.tls import TlsSettings

    files = lab_tls.tls_files
    result = _scan(target_of(lab_tls), tls=TlsSettings(client_cert=files.client_cert, client_key=files.client_key))
    assert result.check("echo.unauthenticated").status is Status.FAIL
    assert result.check("echo.unauthenticated").evidence["association"]["request"]["transport"] == "tls"
    assert result.check("transport.plaintext").status is Status.PASS


# -- never a fail without evidence -------------------------------------------------
@pytest.mark.parametrize("fixture", ["locked_result", "tls_result"])
def test_refusing_nodes_never_fail_an_access_check(fixture: str, request: pytest.FixtureRequest) -> None:
    result: TargetResult = request.getfixturevalue(fixture)
    access = [c for c in result.checks if c.id != "transport.plaintext"]
    assert not [c.id for c in access if c.status is Status.FAIL]


# -- a registered --calling-aet ---------------------------------------------------
@pytest.fixture(scope="module")
def registered_result(lab_locked: LabPACS) -> TargetResult:
    return _scan(target_of(lab_locked), calling_aet="PACSADMIN")


@pytest.mark.parametrize("check_id", ["echo.unauthenticated", "find.unauthenticated", "store.unauthenticated"])
def test_registered_scanner_aet_is_not_reported_as_unauthenticated_exposure(
    registered_result: TargetResult, check_id: str
) -> None:
    """Given a locked lab on which the scanner's --calling-aet is registered, when probed,
    then echo/find/store are judged as a random, unregistered AE (refused), not as the registered one."""
    check = registered_result.check(check_id)
    assert check.status is Status.PASS, check.summary
    assert "PACSADMIN" not in check.summary
    calling = check.evidence.get("association", check.evidence.get("queries", [{}])[0].get("association"))
    assert calling["request"]["calling_aet"] != "PACSADMIN"


def test_registered_scanner_aet_is_stated_as_a_warning(registered_result: TargetResult) -> None:
    """Given the same probe, then the target carries a warning that names the registered AE title."""
    assert any("PACSADMIN" in w and "registered" in w for w in registered_result.warnings)
    assert registered_result.check("assoc.any_calling_aet").status is Status.PASS


def test_unregistered_scanner_aet_carries_no_warning(locked_result: TargetResult, open_result: TargetResult) -> None:
    assert locked_result.warnings == () and open_result.warnings == ()
