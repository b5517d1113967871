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
from tests.test_catalogue import CONTRACT_IDS

pytestmark = pytest.mark.peers

#: The DIMSE checks in catalogue order (web checks run on URLs: tests/test_web_real_peers.py; the TLS quality
#: checks have their own table: tests/test_tls_real_peers.py).
CHECKS = tuple(c for c in CONTRACT_IDS if c.split(".")[0] not in ("web", "qido", "wado", "stow", "tls", "software"))
_STATUS = {"i": "info", "F": "fail", "P": "pass", "E": "error", "s": "skipped"}


def expected(row: str) -> dict[str, str]:
    """One row of the table: a status letter per check, in :data:`CHECKS` order."""
    letters = row.split()
    assert len(letters) == len(CHECKS), row
    return {cid: _STATUS[letter] for cid, letter in zip(CHECKS, letters, strict=True)}


# i info, F fail, P pass, E error, s skipped. Columns:
#  inventory.unlisted, inventory.missing (no inventory here: skipped), service, services.offered, called,
#  calling, guessable calling (needs --guess-aet: skipped), identity, echo, find, find-phi, worklist,
#  worklist-phi, get, move, move.any_destination, store, plaintext
EXPECTED = {
    # Every DicomAlwaysAllow* true: C-GET and C-MOVE of a study that cannot exist get the generic
    # failure 0xC000 (Orthanc's answer to anything it processed and could not complete: served);
    # a move to a random destination is answered the same way: not decidable without --intrusive.
    "orthanc_open": expected("s s i i F F s i F F F F F F F E F F"),
    # Orthanc's shipped defaults: called-AE check off, echo and store open to any AE; C-FIND,
    # worklist, C-GET and C-MOVE from an unknown AE answered with A-ABORT (refusals).
    "orthanc_stock": expected("s s i i F F s i F P P P P P P s F F"),
    "orthanc_allowlist": expected("s s i i P P s P P P P P P P P s P F"),
    # Get and Move always allowed, Find/FindWorklist/Store not (those abort); the scanner's AE is a
    # registered destination, which Orthanc looks up only after the (non-existent) study.
    # store: storage is negotiated for anyone (what the non-intrusive check tests), C-STORE itself would abort.
    "orthanc_retrieve": expected("s s i i F F s i F P P P P F F E F F"),
    # TLS only with client certificates: nothing can be asked without a trusted certificate.
    "orthanc_tls": expected("s s i s s s s s s s s s s s s s s P"),
    # dcmqrscp answers a C-GET/C-MOVE of a study that cannot exist with 0x0000 and zero
    # sub-operations (served), and checks the move destination only when there is something to move.
    "dcmqrscp_open": expected("s s i i P F s i F F F P P F F E F F"),
    "dcmqrscp_move_aetitle": expected("s s i i P F s i F F F P P F F E F F"),
    # --disable-get: the C-GET presentation contexts are rejected.
    "dcmqrscp_no_get": expected("s s i i P F s i F F F P P P F E F F"),
    "dcmqrscp_restricted": expected("s s i i P P s P P P P P P P P s P F"),
    # storescp accepts any AE title and offers storage and verification only.
    "storescp_server": expected("s s i i F F s i F P P P P P P s F F"),
    # wlmscpfs checks the called AE (worklist folder), offers Verification and worklist only, and
    # rejects (RJ 1/1/1) an association in which it supports no proposed context.
    "wlmscpfs_server": expected("s s i i P F s i F P P F F P P s P F"),
    # pynetdicom's qrscp app: no access control; the only server here that checks the move
    # destination before looking for the study (0xA801); its worklist answers with no matches.
    "pynetdicom_qrscp": expected("s s i i F F s i F F F i P F P P F F"),
}


def _scan(server: Any, **kw: Any) -> TargetResult:
    target = Target(host="127.0.0.1", port=server.port, called_aet=server.aet)
    return scan_target(target, ProbeSettings(timeout=8.0, **kw))


@pytest.mark.parametrize("server_fixture", list(EXPECTED))
def test_every_check_gives_the_expected_status(server_fixture: str, request: pytest.FixtureRequest) -> None:
    """Given a real server in a known configuration, when probed, then each check has the expected status."""
    server = request.getfixturevalue(server_fixture)
    result = _scan(server, checks=CHECKS)
    observed = {c.id: c.status.value for c in result.checks if c.id in CHECKS}
    details = {
        c.id: c.summary for c in result.checks if c.id in CHECKS and observed[c.id] != EXPECTED[server_fixture][c.id]
    }
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


# -- the DIMSE surface: what each reading rests on ------------------------------------------------
def test_orthanc_generic_failure_for_a_missing_study_is_read_as_served(orthanc_open: Any) -> None:
    """Given open Orthanc, when C-GET/C-MOVE ask for a study that cannot exist, then its 0xC000 is read as served."""
    result = _scan(orthanc_open, checks=("get.unauthenticated", "move.unauthenticated"))
    for check_id, key in (("get.unauthenticated", "c_get"), ("move.unauthenticated", "c_move")):
        check = result.check(check_id)
        assert check.evidence[key]["final_status"]["code"] == "0xC000"
        assert "read as a served request" in check.evidence["reading"]


def test_orthanc_stock_refuses_retrieve_by_aborting(orthanc_stock: Any) -> None:
    result = _scan(orthanc_stock, checks=("get.unauthenticated", "move.unauthenticated", "worklist.unauthenticated"))
    assert result.check("get.unauthenticated").enforced == "association aborted by the node"
    assert result.check("move.unauthenticated").enforced == "association aborted by the node"


def test_dcmqrscp_serves_a_move_of_nothing_to_any_destination_without_deciding(dcmqrscp_open: Any) -> None:
    """Given dcmqrscp (destination checked only when something moves), then move.any_destination is inconclusive."""
    check = _scan(dcmqrscp_open, checks=("move.any_destination",)).check("move.any_destination")
    assert check.reason_code is not None and check.reason_code.value == "inconclusive"
    assert check.evidence["c_move"]["final_status"]["code"] == "0x0000"


def test_dcmqrscp_checks_the_destination_when_there_is_something_to_move(dcmqrscp_open: Any) -> None:
    """Given --intrusive, when an existing instance is moved to a random AE, then 0xA801 makes it a pass."""
    check = _scan(dcmqrscp_open, intrusive=True, checks=("move.any_destination",)).check("move.any_destination")
    assert check.status.value == "pass", check.summary
    assert check.evidence["requested"]["level"] == "IMAGE"
    assert check.evidence["c_move"]["final_status"]["code"] == "0xA801"


def test_pynetdicom_qrscp_refuses_unknown_destinations_up_front(pynetdicom_qrscp: Any) -> None:
    result = _scan(pynetdicom_qrscp, checks=("move.unauthenticated", "move.any_destination"))
    for check_id in ("move.unauthenticated", "move.any_destination"):
        assert result.check(check_id).enforced == "move destination checked"


def test_worklist_evidence_names_nested_attributes_not_values(wlmscpfs_server: Any) -> None:
    result = _scan(wlmscpfs_server, checks=("worklist.unauthenticated", "worklist.phi_exposed"))
    query = result.check("worklist.unauthenticated").evidence["queries"][0]
    assert "PatientName" in query["response"]["attributes_returned"]
    assert any(a.startswith("ScheduledProcedureStepSequence>") for a in query["response"]["attributes_returned"])
    assert result.check("worklist.phi_exposed").status.value == "fail"


def test_intrusive_get_receives_one_instance_and_keeps_only_attribute_names(
    orthanc_open: Any, peer_datasets: list
) -> None:
    """Given --intrusive, when C-GET asks open Orthanc for one instance, then it arrives, is refused and discarded."""
    check = _scan(orthanc_open, intrusive=True, checks=("get.unauthenticated",)).check("get.unauthenticated")
    assert check.status.value == "fail"
    received = check.evidence["received"]
    assert len(received) == 1 and "PatientName" in received[0]["attributes"]
    assert received[0]["answered"].startswith("0xA700")
    text = repr(check.to_dict())
    assert not any(str(ds.PatientID) in text for ds in peer_datasets)


def test_a_default_probe_never_transfers_an_image(orthanc_retrieve: Any) -> None:
    """Given Orthanc serving C-GET/C-MOVE to anyone and knowing the scanner's AE as a move destination with a
    storage SCP listening there, when every default check runs, then nothing arrives anywhere."""
    from pynetdicom import AE, StoragePresentationContexts, evt

    host, port = orthanc_retrieve.destinations["DICOMAUDIT"]
    arrived: list[str] = []

    def on_store(event: Any) -> int:
        arrived.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    ae = AE("DICOMAUDIT")
    ae.supported_contexts = StoragePresentationContexts
    server = ae.start_server((host, port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        result = _scan(orthanc_retrieve)
    finally:
        server.shutdown()
    assert result.check("move.unauthenticated").status.value == "fail"  # served, yet nothing moved
    assert arrived == []
    for check_id in ("get.unauthenticated", "move.unauthenticated", "move.any_destination"):
        evidence = result.check(check_id).evidence
        reply = evidence.get("c_get") or evidence.get("c_move") or {}
        assert "c_store_suboperations_received" not in reply
        assert "received" not in evidence


def test_services_offered_differ_as_the_configurations_say(orthanc_stock: Any, lab_open: Any, lab_locked: Any) -> None:
    """Given stock Orthanc and the open and locked lab profiles, then services.offered shows their differences."""

    def families(server: Any) -> dict[str, int]:
        aet = getattr(server, "aet", None) or server.ae_title
        target = Target(host="127.0.0.1", port=server.port, called_aet=aet)
        check = scan_target(target, ProbeSettings(timeout=8.0, checks=("services.offered",))).check("services.offered")
        return {name: f["accepted_count"] for name, f in check.evidence.get("families", {}).items()}

    orthanc, lab_open_families, lab_locked_families = families(orthanc_stock), families(lab_open), families(lab_locked)
    assert lab_locked_families == {}  # the association itself is refused to an unregistered AE
    assert orthanc["Modality Worklist"] == 1 and orthanc["Query/Retrieve - GET"] >= 2
    assert "Print Management" not in {k for k, v in orthanc.items() if v}
    assert lab_open_families["Storage"] > 100 and lab_open_families["Query/Retrieve - MOVE"] >= 2


# -- AE titles: --guess-aet on real servers ------------------------------------------------------
def test_guess_aet_finds_orthancs_default_called_title_and_audits_it(orthanc_allowlist: Any) -> None:
    """Given Orthanc checking the called AE title (its default ORTHANC) and no title given, when probed with
    guessing, then ORTHANC is found from the documented defaults, recorded, and the checks are decided with it."""
    target = Target(host="127.0.0.1", port=orthanc_allowlist.port)
    result = scan_target(target, ProbeSettings(timeout=8.0, guess_aet=True, guess_pause=0.05))
    assert result.target.called_aet == "ORTHANC"
    assert result.target.attributes["called_aet_source"].startswith("guessed: product default (Orthanc)")
    guess = result.check("dicom.service").evidence["called_aet_guess"]
    assert guess["found"] == "ORTHANC" and guess["tried"][-1]["aet"] == "ORTHANC"
    assert result.check("assoc.any_calling_aet").status.value == "pass"
    assert not [c.id for c in result.checks if c.reason_code is not None and c.reason_code.value == "inconclusive"]


@pytest.mark.parametrize("server_fixture", ["orthanc_allowlist", "dcmqrscp_restricted"])
def test_an_allow_list_of_real_peers_admits_no_default_calling_title(
    server_fixture: str, request: pytest.FixtureRequest
) -> None:
    """Given a real allow-list (PACSADMIN only), when the default calling titles are tried, then none is admitted."""
    server = request.getfixturevalue(server_fixture)
    result = _scan(server, guess_aet=True, guess_pause=0.0, checks=("assoc.guessable_calling_aet",))
    check = result.check("assoc.guessable_calling_aet")
    assert check.status.value == "pass", check.summary
    assert [t["aet"] for t in check.evidence["tried"]][:3] == ["STORESCU", "FINDSCU", "ECHOSCU"]
