"""The peer fixtures start, answer as GROUND_TRUTH.md records, and stop.

Each test asks one question with plain pynetdicom (through
``tests.peers.probe``) and checks the answer recorded in
``tests/peers/GROUND_TRUTH.md``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.peers import probe
from tests.peers._process import tcp_open
from tests.peers.data import fallback_studies
from tests.peers.dcmtk import DcmqrscpServer, StorescpServer, WlmscpfsServer, dcmtk_binary
from tests.peers.orthanc import OrthancServer, orthanc_binary
from tests.peers.qrscp import QrscpServer

pytestmark = pytest.mark.peers

UNREGISTERED = "DICOMAUDIT"
RANDOM_CALLED = "XSKZZXBQVHD4"
RANDOM_CALLING = "YVFMHBNWARVV"
ALL_CONTEXTS = tuple(probe.CONTEXTS)


def _peer(
    server: OrthancServer | DcmqrscpServer | StorescpServer | WlmscpfsServer | QrscpServer,
    tls: ssl.SSLContext | None = None,
) -> probe.Peer:
    return probe.Peer(server.port, server.aet, tls)


def _patients(datasets: list[Dataset]) -> int:
    return len({ds.PatientID for ds in datasets})


def _studies(datasets: list[Dataset]) -> int:
    return len({ds.StudyInstanceUID for ds in datasets})


#: A StudyInstanceUID that exists nowhere (fixed: the servers are fresh per session).
NO_SUCH_STUDY = "2.25.301234567890123456789012345678901234"


def _fresh_ct(seed: int) -> Dataset:
    """A synthetic CT not among the seeded data (undone after storing)."""
    return fallback_studies(seed=seed)[0]


# -- Orthanc: open -------------------------------------------------------------


def test_orthanc_open_accepts_random_called_aet_with_every_context(orthanc_open: OrthancServer) -> None:
    """Given the open Orthanc, when called with a random Called AE, then AC with all contexts."""
    out = probe.associate(_peer(orthanc_open), UNREGISTERED, RANDOM_CALLED)
    assert out.kind == "accepted", out.summary()
    assert out.accepted == ALL_CONTEXTS


def test_orthanc_open_patient_root_find_returns_every_patient(
    orthanc_open: OrthancServer, peer_datasets: list[Dataset]
) -> None:
    """Given the open Orthanc, when an unregistered AE asks PatientName=*, then every patient matches."""
    out = probe.c_find(_peer(orthanc_open), UNREGISTERED, "PatientRootFind")
    assert out.final_status == 0x0000, out.summary()
    assert out.matches == _patients(peer_datasets)
    assert {"PatientName", "PatientID", "PatientBirthDate"} <= set(out.keywords)


def test_orthanc_open_c_find_after_c_cancel_ends_cleanly(orthanc_open: OrthancServer) -> None:
    """Given the open Orthanc, when C-CANCEL follows the first match, then the stream still ends with a final status."""
    out = probe.c_find(_peer(orthanc_open), UNREGISTERED, "StudyRootFind", cancel_after=1)
    # Orthanc streams the whole answer before it reads the C-CANCEL (0x0000);
    # a peer honouring it would end with 0xFE00. Either is a clean ending.
    assert out.final_status in (0x0000, 0xFE00), out.summary()


def test_orthanc_open_stores_from_unregistered_ae(orthanc_open: OrthancServer) -> None:
    """Given the open Orthanc, when an unregistered AE stores a CT, then status 0x0000."""
    ds = _fresh_ct(seed=501)
    try:
        out = probe.c_store(_peer(orthanc_open), UNREGISTERED, ds)
        assert out.final_status == 0x0000, out.summary()
    finally:
        assert orthanc_open.delete_sop_instance(ds.SOPInstanceUID)


def test_orthanc_open_serves_worklist_to_unregistered_ae(orthanc_open: OrthancServer) -> None:
    """Given the worklist plugin and DicomAlwaysAllowFindWorklist, when an unregistered AE asks, then every item."""
    assert orthanc_open.worklist_items == 3
    out = probe.worklist_find(_peer(orthanc_open), UNREGISTERED)
    assert out.final_status == 0x0000, out.summary()
    assert out.matches == orthanc_open.worklist_items
    assert "ScheduledProcedureStepSequence>Modality" in out.keywords


# -- Orthanc: stock Debian defaults -------------------------------------------


def test_orthanc_stock_accepts_random_called_and_calling_aet(orthanc_stock: OrthancServer) -> None:
    """Given stock Orthanc, when both AE titles are random, then A-ASSOCIATE-AC."""
    out = probe.associate(_peer(orthanc_stock), RANDOM_CALLING, RANDOM_CALLED)
    assert out.kind == "accepted", out.summary()
    assert out.accepted == ALL_CONTEXTS


def test_orthanc_stock_echo_from_unregistered_succeeds(orthanc_stock: OrthancServer) -> None:
    """Given stock Orthanc (DicomAlwaysAllowEcho), when an unregistered AE echoes, then 0x0000."""
    assert probe.c_echo(_peer(orthanc_stock), UNREGISTERED).final_status == 0x0000


def test_orthanc_stock_find_from_unregistered_is_aborted(orthanc_stock: OrthancServer) -> None:
    """Given stock Orthanc (DicomAlwaysAllowFind false), when an unregistered AE queries, then A-ABORT, no match."""
    out = probe.c_find(_peer(orthanc_stock), UNREGISTERED, "StudyRootFind")
    assert out.assoc.kind == "accepted"
    assert out.statuses == [] and out.matches == 0
    assert "A-ABORT source=0 reason=0" in out.note, out.summary()


def test_orthanc_stock_stores_from_unregistered_ae(orthanc_stock: OrthancServer) -> None:
    """Given stock Orthanc (DicomAlwaysAllowStore), when an unregistered AE stores, then 0x0000."""
    ds = _fresh_ct(seed=502)
    try:
        assert probe.c_store(_peer(orthanc_stock), UNREGISTERED, ds).final_status == 0x0000
    finally:
        assert orthanc_stock.delete_sop_instance(ds.SOPInstanceUID)


def test_orthanc_stock_worklist_from_unregistered_is_aborted(orthanc_stock: OrthancServer) -> None:
    """Given stock Orthanc plus the worklist plugin, when an unregistered AE asks the worklist, then A-ABORT."""
    out = probe.worklist_find(_peer(orthanc_stock), UNREGISTERED)
    assert out.statuses == [] and "A-ABORT source=0 reason=0" in out.note, out.summary()


# -- Orthanc: allow-list -------------------------------------------------------


def test_orthanc_allowlist_rejects_unregistered_calling_aet(orthanc_allowlist: OrthancServer) -> None:
    """Given the allow-list, when DICOMAUDIT calls, then RJ permanent / service-user / calling AE not recognised."""
    out = probe.associate(_peer(orthanc_allowlist), UNREGISTERED)
    assert (out.kind, out.result, out.source, out.reason) == ("rejected", 1, 1, 3), out.summary()


def test_orthanc_allowlist_rejects_random_called_aet(orthanc_allowlist: OrthancServer) -> None:
    """Given DicomCheckCalledAet, when the registered AE calls a random AE, then RJ reason 7."""
    assert orthanc_allowlist.registered_aet
    out = probe.associate(_peer(orthanc_allowlist), orthanc_allowlist.registered_aet, RANDOM_CALLED)
    assert (out.kind, out.result, out.source, out.reason) == ("rejected", 1, 1, 7), out.summary()


def test_orthanc_allowlist_rejects_registered_aet_from_other_host(orthanc_allowlist: OrthancServer) -> None:
    """Given DicomCheckModalityHost, when PACSADMIN calls from 127.0.0.2, then RJ reason 3."""
    assert orthanc_allowlist.registered_aet
    out = probe.associate(_peer(orthanc_allowlist), orthanc_allowlist.registered_aet, source="127.0.0.2")
    assert (out.kind, out.reason) == ("rejected", 3), out.summary()


def test_orthanc_allowlist_answers_registered_aet(
    orthanc_allowlist: OrthancServer, peer_datasets: list[Dataset]
) -> None:
    """Given the allow-list, when PACSADMIN queries Study Root, then every study matches."""
    assert orthanc_allowlist.registered_aet
    out = probe.c_find(_peer(orthanc_allowlist), orthanc_allowlist.registered_aet, "StudyRootFind")
    assert out.final_status == 0x0000, out.summary()
    assert out.matches == _studies(peer_datasets)


def test_orthanc_allowlist_knows_move_destination(orthanc_allowlist: OrthancServer) -> None:
    """Given the allow-list, then PACSADMIN and DEST are its known move destinations."""
    assert set(orthanc_allowlist.destinations) == {"PACSADMIN", "DEST"}


# -- Orthanc: retrieve ------------------------------------------------------------


def test_orthanc_retrieve_processes_get_but_aborts_worklist(orthanc_retrieve: OrthancServer) -> None:
    """Given Get/Move always allowed, when DICOMAUDIT gets a missing study, then 0xC000; the worklist is aborted."""
    assert orthanc_retrieve.registered_aet == UNREGISTERED
    assert orthanc_retrieve.destinations[UNREGISTERED][0] == "127.0.0.1"
    peer = _peer(orthanc_retrieve)
    get = probe.c_get(peer, UNREGISTERED, "StudyRootGet", probe.retrieve_identifier(NO_SUCH_STUDY))
    # Orthanc answers a C-GET it is allowed to process but cannot match with 0xC000.
    assert get.final_status == 0xC000, get.summary()
    worklist = probe.worklist_find(peer, UNREGISTERED)
    assert worklist.statuses == [] and "A-ABORT" in worklist.note, worklist.summary()


# -- Orthanc: TLS --------------------------------------------------------------


def test_orthanc_tls_drops_plaintext_association(orthanc_tls: OrthancServer) -> None:
    """Given TLS-only Orthanc, when a plaintext A-ASSOCIATE-RQ arrives, then the TCP connection is reset, no PDU."""
    out = probe.plaintext_rq(orthanc_tls.port, orthanc_tls.aet)
    assert out.first_read == b""
    assert "ConnectionResetError" in out.error or out.closed, out.summary()


def test_orthanc_tls_refuses_client_without_certificate(orthanc_tls: OrthancServer) -> None:
    """Given a required client cert, when TLS 1.3 comes without one, then the first read gets alert certificate_required."""
    assert orthanc_tls.tls is not None
    ctx = orthanc_tls.tls.client_context(with_client_cert=False)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    out = probe.tls_rq(orthanc_tls.port, ctx, orthanc_tls.aet)
    # TLS 1.3: the client's handshake completes; the refusal is the alert.
    assert out.handshake.startswith("ok"), out.summary()
    assert "CERTIFICATE_REQUIRED" in out.error, out.summary()


def test_orthanc_tls_refuses_tls12_client_without_certificate_at_handshake(orthanc_tls: OrthancServer) -> None:
    """Given a required client cert, when TLS 1.2 comes without one, then the handshake fails."""
    assert orthanc_tls.tls is not None
    ctx = orthanc_tls.tls.client_context(with_client_cert=False)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    out = probe.tls_rq(orthanc_tls.port, ctx, orthanc_tls.aet)
    assert out.handshake.startswith("failed") and "HANDSHAKE_FAILURE" in out.handshake, out.summary()


def test_orthanc_tls_echo_with_client_certificate_succeeds(orthanc_tls: OrthancServer) -> None:
    """Given TLS-only Orthanc, when the client presents its certificate, then C-ECHO succeeds."""
    assert orthanc_tls.tls is not None
    peer = _peer(orthanc_tls, orthanc_tls.tls.client_context())
    assert probe.c_echo(peer, UNREGISTERED).final_status == 0x0000


# -- Orthanc life cycle -----------------------------------------------------------


def test_orthanc_stops_cleanly(tmp_path: Path) -> None:
    """Given a started Orthanc, when stopped, then it exits 0 after SIGTERM and frees its port."""
    if orthanc_binary() is None:
        pytest.skip("Orthanc binary not found; install with scripts/install-peers.sh")
    server = OrthancServer("open", tmp_path).start()
    assert server.running and tcp_open(server.port)
    assert server.stop() == 0
    assert not tcp_open(server.port)


# -- dcmqrscp ------------------------------------------------------------------


def test_dcmqrscp_open_rejects_random_called_aet(dcmqrscp_open: DcmqrscpServer) -> None:
    """Given dcmqrscp, when the Called AE is not in its AETable, then RJ reason 7."""
    out = probe.associate(_peer(dcmqrscp_open), UNREGISTERED, RANDOM_CALLED)
    assert (out.kind, out.result, out.source, out.reason) == ("rejected", 1, 1, 7), out.summary()


def test_dcmqrscp_open_study_find_returns_every_study(
    dcmqrscp_open: DcmqrscpServer, peer_datasets: list[Dataset]
) -> None:
    """Given peers ANY, when an unregistered AE queries Study Root, then every study matches."""
    out = probe.c_find(_peer(dcmqrscp_open), UNREGISTERED, "StudyRootFind")
    assert out.final_status == 0x0000, out.summary()
    assert out.matches == _studies(peer_datasets)


def test_dcmqrscp_open_stores_from_unregistered_ae(dcmqrscp_open: DcmqrscpServer) -> None:
    """Given RW access for ANY, when an unregistered AE stores, then 0x0000."""
    assert probe.c_store(_peer(dcmqrscp_open), UNREGISTERED, _fresh_ct(seed=503)).final_status == 0x0000


def test_dcmqrscp_restricted_rejects_unregistered_calling_aet(dcmqrscp_restricted: DcmqrscpServer) -> None:
    """Given peers limited to PACSADMIN, when DICOMAUDIT calls, then RJ reason 7 (DCMTK's choice, not 3)."""
    out = probe.associate(_peer(dcmqrscp_restricted), UNREGISTERED)
    assert (out.kind, out.result, out.source, out.reason) == ("rejected", 1, 1, 7), out.summary()


def test_dcmqrscp_restricted_answers_registered_aet(dcmqrscp_restricted: DcmqrscpServer) -> None:
    """Given peers limited to PACSADMIN, when PACSADMIN echoes from 127.0.0.1, then 0x0000."""
    assert dcmqrscp_restricted.registered_aet
    assert probe.c_echo(_peer(dcmqrscp_restricted), dcmqrscp_restricted.registered_aet).final_status == 0x0000


def test_dcmqrscp_move_aetitle_refuses_other_destination(
    dcmqrscp_move_aetitle: DcmqrscpServer, peer_datasets: list[Dataset]
) -> None:
    """Given --move-aetitle, when DICOMAUDIT moves a study to the known DEST, then 0xA801 (destination unknown)."""
    assert "DEST" in dcmqrscp_move_aetitle.destinations
    ident = probe.retrieve_identifier(peer_datasets[0].StudyInstanceUID)
    out = probe.c_move(_peer(dcmqrscp_move_aetitle), UNREGISTERED, "StudyRootMove", ident, "DEST")
    assert out.final_status == 0xA801, out.summary()


def test_dcmqrscp_no_get_refuses_get_contexts(dcmqrscp_no_get: DcmqrscpServer) -> None:
    """Given --disable-get, when every service is proposed, then the GET contexts are refused, MOVE accepted."""
    out = probe.negotiate(_peer(dcmqrscp_no_get), UNREGISTERED)
    assert out.kind == "accepted", out.summary()
    assert {"StudyRootGet", "PatientRootGet"} <= set(out.refused)
    assert "StudyRootMove" in out.accepted


def test_dcmqrscp_stops_on_sigterm(tmp_path: Path) -> None:
    """Given a dcmqrscp, when stopped, then it ends by SIGTERM (not SIGKILL) and frees its port."""
    if dcmtk_binary("dcmqrscp") is None:
        pytest.skip("dcmqrscp not found; install with scripts/install-peers.sh")
    server = DcmqrscpServer("open", tmp_path).start()
    assert server.stop() == -15
    assert not tcp_open(server.port)


# -- storescp / wlmscpfs -----------------------------------------------------------


def test_storescp_accepts_random_called_aet_and_writes_file(storescp_server: StorescpServer) -> None:
    """Given storescp, when a random-AE peer stores a CT, then 0x0000 and a file appears."""
    peer = probe.Peer(storescp_server.port, RANDOM_CALLED)
    assert probe.c_store(peer, RANDOM_CALLING, _fresh_ct(seed=504)).final_status == 0x0000
    assert len(storescp_server.received()) == 1


def test_wlmscpfs_returns_worklist_to_unregistered_ae(wlmscpfs_server: WlmscpfsServer) -> None:
    """Given wlmscpfs with two items, when an unregistered AE queries the worklist, then two matches."""
    out = probe.c_find(_peer(wlmscpfs_server), UNREGISTERED, "WorklistFind")
    assert out.final_status == 0x0000, out.summary()
    assert out.matches == wlmscpfs_server.items


def test_wlmscpfs_items_carry_scheduled_step(wlmscpfs_server: WlmscpfsServer) -> None:
    """Given the synthetic items, when the wildcard worklist query asks SPS keys, then they come back filled."""
    out = probe.worklist_find(_peer(wlmscpfs_server), UNREGISTERED)
    assert out.matches == 2, out.summary()
    step = out.identifiers[0].ScheduledProcedureStepSequence[0]
    assert step.Modality and step.ScheduledStationAETitle and step.ScheduledProcedureStepStartDate


def test_wlmscpfs_rejects_unknown_called_aet(wlmscpfs_server: WlmscpfsServer) -> None:
    """Given wlmscpfs, when called with an AE that has no worklist folder, then RJ reason 7."""
    out = probe.associate(probe.Peer(wlmscpfs_server.port, RANDOM_CALLED), UNREGISTERED)
    assert (out.kind, out.reason) == ("rejected", 7), out.summary()


# -- pynetdicom qrscp ----------------------------------------------------------------


def test_pynetdicom_qrscp_echoes_and_holds_the_seed(
    pynetdicom_qrscp: QrscpServer, peer_datasets: list[Dataset]
) -> None:
    """Given qrscp seeded by C-STORE, when an unregistered AE echoes, then 0x0000; every instance was stored."""
    assert probe.c_echo(_peer(pynetdicom_qrscp), UNREGISTERED).final_status == 0x0000
    assert pynetdicom_qrscp.stored == len(peer_datasets)
    assert set(pynetdicom_qrscp.destinations) == {"DEST"}


# -- skipping ----------------------------------------------------------------------


def test_fixtures_skip_only_when_binary_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given no Orthanc binary, when a fixture checks for it, then the test is skipped with an install hint."""
    from tests.peers import fixtures

    monkeypatch.setattr(fixtures, "orthanc_binary", lambda: None)
    with pytest.raises(pytest.skip.Exception, match="install-peers.sh"):
        fixtures._need_orthanc()
