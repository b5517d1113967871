"""The rogue peers do what they claim, on the wire (no scanner code involved).

Each misbehaviour is checked with a raw-socket requestor (:mod:`tests.rogue.client`);
the open node is also checked with pynetdicom, a real DICOM implementation.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.pdu import A_ASSOCIATE_AC

from tests.rogue import RogueFleet, RogueServer, all_behaviours, behaviour_names, get_behaviour, wire
from tests.rogue.behaviours import DRIP_INTERVAL, HugeValueFind, MovePendingThenCancel, TlsGarbage
from tests.rogue.client import (
    MODALITY_WORKLIST,
    PATIENT_ROOT_FIND,
    PATIENT_ROOT_GET,
    SECONDARY_CAPTURE,
    STUDY_ROOT_GET,
    STUDY_ROOT_MOVE,
    VERIFICATION,
    Closed,
    RawClient,
)

StartRogue = Callable[[str], RogueServer]


@pytest.fixture
def rogue() -> Iterator[StartRogue]:
    """``rogue(name)`` starts that listener; all are stopped (and checked for leftovers) afterwards."""
    servers: list[RogueServer] = []

    def start(name: str) -> RogueServer:
        servers.append(RogueServer(get_behaviour(name)).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
        assert not server.leftover_threads, f"{server.name}: threads left behind"
        assert not server.errors, f"{server.name} handler failed:\n" + "\n".join(server.errors)


def _accepted(port: int, *abstract_syntaxes: str) -> RawClient:
    client = RawClient(port)
    ac = client.request_association(abstract_syntaxes or (VERIFICATION,))
    assert ac.type == wire.A_ASSOCIATE_AC_TYPE
    return client


IDENTITY = (b"someone", b"secret")  # (username, passcode) for the User Identity rogues
COUNTERS = (
    "NumberOfRemainingSuboperations",
    "NumberOfCompletedSuboperations",
    "NumberOfFailedSuboperations",
    "NumberOfWarningSuboperations",
)


def _counters(rsp: wire.DimseMessage) -> tuple[int, ...]:
    return tuple(int(rsp.command[k].value) for k in COUNTERS)


def _user_sub_items(ac: wire.Pdu) -> list[tuple[int, bytes]]:
    """(type, value) of each sub-item of the AC's user information item (PS3.8 9.3.3.3, PS3.7 Annex D)."""
    body, offset = ac.body, wire.ASSOCIATE_AC_FIXED_LENGTH
    while offset < len(body):
        item_type, length = body[offset], int.from_bytes(body[offset + 2 : offset + 4], "big")
        if item_type == wire.USER_INFORMATION_ITEM:
            subs, i, end = [], offset + 4, offset + 4 + length
            while i < end:
                sub_length = int.from_bytes(body[i + 2 : i + 4], "big")
                subs.append((body[i], body[i + 4 : i + 4 + sub_length]))
                i += 4 + sub_length
            return subs
        offset += 4 + length
    raise AssertionError("no user information item")


def _ac_contexts(ac: wire.Pdu) -> list[tuple[int, int, str]]:
    pdu = A_ASSOCIATE_AC()
    pdu.decode(ac.raw)
    return [
        (int(c.context_id), int(c.result), str(c.transfer_syntax[0]))
        for c in pdu.to_primitive().presentation_context_definition_results_list
    ]


# -- the registry and the server's lifecycle ------------------------------------------------
def test_every_behaviour_has_a_unique_name_a_level_and_a_summary() -> None:
    """Given the registry, every listener is named, levelled and described (the report lists them)."""
    names = behaviour_names()
    assert len(names) == len(set(names)) >= 30
    for behaviour in all_behaviours():
        assert behaviour.level in ("association", "dimse", "control"), behaviour
        assert behaviour.summary, behaviour


def test_server_listens_on_loopback_port_0_and_refuses_after_stop() -> None:
    """Given a rogue, when started it has a free loopback port; when stopped the port refuses."""
    with RogueServer(get_behaviour("open")) as server:
        assert server.host == "127.0.0.1" and server.port > 0
        with socket.create_connection(server.address, timeout=2):
            pass
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=2)


def test_fleet_stops_within_a_second_with_every_kind_of_busy_connection() -> None:
    """Given connections held by silent, dripping, streaming and release-hanging rogues,
    when the fleet stops, then it is done within ~1 s and leaves no thread behind."""
    names = [
        "silent",
        "drip",
        "endless_pending_find",
        "endless_pending_retrieve",
        "huge_value_find",
        "no_release_rp",
        "tls_garbage",
    ]
    before = set(threading.enumerate())
    fleet = RogueFleet(get_behaviour(n) for n in names).start()
    clients = []
    try:
        for name in names:
            client = RawClient(fleet[name].port)
            clients.append(client)
            if name == "endless_pending_retrieve":
                client.request_association([STUDY_ROOT_GET])
                client.c_get(1)  # and never read: the rogue's send blocks
            elif fleet[name].behaviour.level == "dimse":
                client.request_association([PATIENT_ROOT_FIND])
                if name == "no_release_rp":
                    client.send(wire.A_RELEASE_RQ_PDU)
                else:
                    client.c_find(1)  # and never read: the rogue's send blocks
            else:
                client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        time.sleep(0.5)
        started = time.monotonic()
        fleet.stop()
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            client.close()
    assert elapsed < 1.5
    for server in fleet:
        assert not server.leftover_threads, server.name
        assert not server.errors, server.errors
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive() and t.name.startswith("rogue-")]


def test_server_records_the_first_connection_time(rogue: StartRogue) -> None:
    """Given a rogue, when a client connects, then first_accept_at and connections say so."""
    server = rogue("silent")
    assert server.first_accept_at is None
    t0 = time.monotonic()
    with RawClient(server.port):
        time.sleep(0.2)
    assert server.first_accept_at is not None and server.first_accept_at >= t0
    assert server.connections == 1


# -- the control: a well-formed open node ----------------------------------------------------
def test_open_node_serves_pynetdicom_echo_find_and_store(rogue: StartRogue) -> None:
    """Given the open rogue, when pynetdicom echoes, finds and stores, then all succeed and the
    C-FIND returns DOE^JANE and ROE^RICHARD then success."""
    server = rogue("open")
    ae = AE(ae_title="PYNETDICOM")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 3
    for uid in (VERIFICATION, PATIENT_ROOT_FIND, SECONDARY_CAPTURE):
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", server.port, ae_title="ANYTHING")
    try:
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        query = Dataset()
        query.QueryRetrieveLevel = "PATIENT"
        query.PatientName = "*"
        query.PatientID = ""
        answers = list(assoc.send_c_find(query, PATIENT_ROOT_FIND))
        assert [int(status.Status) for status, _ in answers] == [0xFF00, 0xFF00, 0x0000]
        assert [str(ident.PatientName) for _, ident in answers[:2]] == ["DOE^JANE", "ROE^RICHARD"]
        instance = Dataset()
        instance.SOPClassUID = SECONDARY_CAPTURE
        instance.SOPInstanceUID = "2.25.1234"
        instance.PatientName = "TEST^ROGUE"
        instance.file_meta = Dataset()
        instance.file_meta.TransferSyntaxUID = wire.IMPLICIT_VR_LE
        assert assoc.send_c_store(instance).Status == 0x0000
        assoc.release()
        assert assoc.is_released
    finally:
        if assoc.is_established:
            assoc.abort()
        ae.shutdown()


def test_open_node_serves_pynetdicom_get_move_and_worklist(rogue: StartRogue) -> None:
    """Given the open rogue, when pynetdicom sends C-GET, C-MOVE and a Modality Worklist C-FIND, then
    C-GET and C-MOVE end at once with success and four zero counters, and the worklist returns two items
    with a Scheduled Procedure Step (no Query/Retrieve Level), then success."""
    server = rogue("open")
    ae = AE(ae_title="PYNETDICOM")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 3
    for uid in (STUDY_ROOT_GET, STUDY_ROOT_MOVE, MODALITY_WORKLIST):
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", server.port, ae_title="ANYTHING")
    try:
        assert assoc.is_established
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = "2.25.1"
        for answers in (
            list(assoc.send_c_get(query, STUDY_ROOT_GET)),
            list(assoc.send_c_move(query, "ANYWHERE", STUDY_ROOT_MOVE)),
        ):
            assert len(answers) == 1
            status, _ = answers[0]
            assert int(status.Status) == 0x0000
            assert [int(status[k].value) for k in COUNTERS] == [0, 0, 0, 0]
        worklist = Dataset()
        worklist.PatientName = "*"
        worklist.AccessionNumber = ""
        step = Dataset()
        step.Modality = ""
        step.ScheduledProcedureStepStartDate = ""
        worklist.ScheduledProcedureStepSequence = [step]
        items = list(assoc.send_c_find(worklist, MODALITY_WORKLIST))
        assert [int(status.Status) for status, _ in items] == [0xFF00, 0xFF00, 0x0000]
        matches = [item for _, item in items[:2] if item is not None]
        assert [str(item.PatientName) for item in matches] == ["DOE^JANE", "ROE^RICHARD"]
        for item in matches:
            assert "QueryRetrieveLevel" not in item
            (sps,) = item.ScheduledProcedureStepSequence
            assert (sps.Modality, sps.ScheduledProcedureStepStartDate) == ("CT", "20240102")
        assoc.release()
    finally:
        if assoc.is_established:
            assoc.abort()
        ae.shutdown()


def test_open_node_ignores_a_user_identity_and_records_what_it_heard(rogue: StartRogue) -> None:
    """Given the open rogue, when an RQ carries a user identity, then the AC has no 0x59 server response;
    and the C-ECHO and the A-RELEASE-RQ sent after it are recorded in order."""
    server = rogue("open")
    with RawClient(server.port) as client:
        ac = client.request_association(user_identity=IDENTITY)
        assert ac.type == wire.A_ASSOCIATE_AC_TYPE
        assert wire.USER_IDENTITY_RESPONSE_SUB_ITEM not in [t for t, _ in _user_sub_items(ac)]
        client.c_echo()
        client.read_message()
        client.release()
    heard = server.behaviour.heard
    assert [(h.association, h.command_field, h.pdu_type) for h in heard] == [
        (1, wire.CommandField.C_ECHO_RQ, wire.P_DATA_TF_TYPE),
        (1, None, wire.A_RELEASE_RQ_TYPE),
    ]


def test_open_node_accepts_every_proposed_context_in_a_proposed_syntax(rogue: StartRogue) -> None:
    """Given the open rogue, when two contexts are proposed, then both are accepted in implicit VR LE."""
    with RawClient(rogue("open").port) as client:
        ac = client.request_association([VERIFICATION, PATIENT_ROOT_FIND])
        assert _ac_contexts(ac) == [(1, 0, wire.IMPLICIT_VR_LE), (3, 0, wire.IMPLICIT_VR_LE)]
        assert client.release().type == wire.A_RELEASE_RP_TYPE


def test_open_node_encodes_identifiers_in_explicit_vr_when_that_was_accepted(rogue: StartRogue) -> None:
    """Given a context proposed in explicit VR LE only, when C-FIND runs, then matches are explicit VR LE."""
    with RawClient(rogue("open").port) as client:
        ac = client.request_association([PATIENT_ROOT_FIND], transfer_syntaxes=[wire.EXPLICIT_VR_LE])
        assert _ac_contexts(ac) == [(1, 0, wire.EXPLICIT_VR_LE)]
        client.c_find(1, implicit_vr=False)
        first = client.read_message()
        assert first.data_set is not None and first.data_set[4:6] == b"CS"  # (0008,0052) with its VR
        assert str(wire.decode_dataset(first.data_set, implicit_vr=False).PatientName) == "DOE^JANE"


def test_open_node_command_sets_carry_the_right_group_length(rogue: StartRogue) -> None:
    """Given the open rogue, when echoed, then CommandGroupLength counts the rest of the command set."""
    with _accepted(rogue("open").port) as client:
        client.c_echo()
        pdv = client.read_pdvs()[0]
        assert pdv.is_command and pdv.is_last
        assert int.from_bytes(pdv.data[8:12], "little") == len(pdv.data) - 12


# -- association-level misbehaviours --------------------------------------------------------------
def test_ac_truncated_sends_an_ac_shorter_than_its_fixed_part(rogue: StartRogue) -> None:
    """Given ac_truncated, when associating, then the AC's PDU length is below 68 and nothing follows."""
    with RawClient(rogue("ac_truncated").port) as client:
        reply = client.request_association()
        assert reply.type == wire.A_ASSOCIATE_AC_TYPE and len(reply.body) == 40 < wire.ASSOCIATE_AC_FIXED_LENGTH
        assert client.silent_for(0.3)


def test_ac_undecodable_chokes_pynetdicoms_decoder(rogue: StartRogue) -> None:
    """Given ac_undecodable, when its AC is decoded with pynetdicom, then the decoder raises."""
    with RawClient(rogue("ac_undecodable").port) as client:
        reply = client.request_association()
    assert reply.type == wire.A_ASSOCIATE_AC_TYPE
    # Whatever pynetdicom raises (an assertion, an index or struct error):
    # the point is that it does not decode; dicomaudit never hands it such bytes.
    with pytest.raises(Exception):  # noqa: B017
        A_ASSOCIATE_AC().decode(reply.raw)


def test_ac_no_contexts_has_no_presentation_context_item(rogue: StartRogue) -> None:
    """Given ac_no_contexts, when associating, then the AC decodes and has no context result items."""
    with RawClient(rogue("ac_no_contexts").port) as client:
        assert _ac_contexts(client.request_association()) == []


def test_ac_foreign_context_ids_match_nothing_proposed(rogue: StartRogue) -> None:
    """Given ac_foreign_context_ids, when contexts 1 and 3 are proposed, then the AC answers other ids."""
    with RawClient(rogue("ac_foreign_context_ids").port) as client:
        contexts = _ac_contexts(client.request_association([VERIFICATION, PATIENT_ROOT_FIND]))
    assert len(contexts) == 2 and not {cid for cid, _, _ in contexts} & {1, 3}


def test_ac_unproposed_transfer_syntax_accepts_what_was_not_offered(rogue: StartRogue) -> None:
    """Given ac_unproposed_transfer_syntax, when associating, then each context is 'accepted' in a foreign syntax."""
    with RawClient(rogue("ac_unproposed_transfer_syntax").port) as client:
        contexts = _ac_contexts(client.request_association([VERIFICATION]))
    assert contexts and all(result == 0 and ts not in wire.SUPPORTED_TRANSFER_SYNTAXES for _, result, ts in contexts)


def test_ac_huge_length_announces_4gb_then_stalls(rogue: StartRogue) -> None:
    """Given ac_huge_length, when associating, then the AC header announces 0xFFFFFFF0 bytes and 68 come."""
    with RawClient(rogue("ac_huge_length").port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        assert client.read_header() == (wire.A_ASSOCIATE_AC_TYPE, 0xFFFFFFF0)
        client.recv_exact(wire.ASSOCIATE_AC_FIXED_LENGTH)
        assert client.silent_for(0.3)


def test_close_after_rq_closes_without_a_byte(rogue: StartRogue) -> None:
    """Given close_after_rq, when the RQ is sent, then the connection closes with nothing received."""
    with RawClient(rogue("close_after_rq").port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        assert client.closed_within(2.0) == b""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rj_reserved_reason", bytes.fromhex("03 00 00000004 00 01 01 05")),
        ("rj_wrong_length", bytes.fromhex("03 00 0000000a 00 01 01 01") + bytes(6)),
        ("abort_bad_length", bytes.fromhex("07 00 00000002 0000")),
        ("unknown_pdu_reply", bytes.fromhex("09 00 00000004 00000000")),
    ],
)
def test_malformed_fixed_size_replies_are_exactly_these_bytes(rogue: StartRogue, name: str, expected: bytes) -> None:
    """Given a rogue with a malformed fixed-size reply, when associating, then exactly those bytes come back."""
    with RawClient(rogue(name).port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        assert client.recv_exact(len(expected)) == expected


def test_abort_bad_length_closes_after_the_abort(rogue: StartRogue) -> None:
    """Given abort_bad_length, when associating, then the malformed A-ABORT is followed by a close."""
    with RawClient(rogue("abort_bad_length").port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        assert client.closed_within(2.0) == bytes.fromhex("07 00 00000002 0000")


def test_silent_never_answers_and_keeps_the_connection(rogue: StartRogue) -> None:
    """Given silent, when the RQ is sent, then nothing comes back and the connection stays open."""
    with RawClient(rogue("silent").port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        assert client.silent_for(0.6)


def test_drip_sends_one_byte_per_interval(rogue: StartRogue) -> None:
    """Given drip, when the RQ is sent, then an AC header arrives one byte about every 0.5 s."""
    with RawClient(rogue("drip").port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        started = time.monotonic()
        first_two = client.recv_exact(1) + client.recv_exact(1)
        elapsed = time.monotonic() - started
    assert first_two == b"\x02\x00"
    assert DRIP_INTERVAL * 0.8 <= elapsed <= DRIP_INTERVAL * 3


def test_garbage_answers_with_random_bytes_then_closes(rogue: StartRogue) -> None:
    """Given garbage, when the RQ is sent, then 512 non-DICOM, non-TLS bytes come back and the line closes."""
    with RawClient(rogue("garbage").port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        received = client.closed_within(2.0)
    assert received is not None and len(received) == 512 and received[0] == 0xA5


@pytest.mark.parametrize(("name", "prefix"), [("tls_garbage", b"\xa5"), ("tls_record_garbage", b"\x16\x03\x03")])
def test_tls_ports_answer_plaintext_with_garbage_and_stay_open(rogue: StartRogue, name: str, prefix: bytes) -> None:
    """Given a garbage 'TLS port', when a plaintext RQ is sent, then garbage with the expected prefix comes back
    and the connection stays open."""
    server = rogue(name)
    behaviour = server.behaviour
    assert isinstance(behaviour, TlsGarbage)
    with RawClient(server.port) as client:
        client.send(wire.encode_associate_rq("ROGUE", "RAW", [VERIFICATION]))
        answer = client.recv_exact(len(behaviour.answer()))
        assert answer.startswith(prefix)
        assert client.silent_for(0.3)


@pytest.mark.parametrize("name", ["tls_garbage", "tls_record_garbage"])
def test_tls_ports_fail_a_real_tls_handshake(rogue: StartRogue, name: str) -> None:
    """Given a garbage 'TLS port', when a TLS client handshakes, then the handshake fails with an SSL error."""
    server = rogue(name)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(server.address, timeout=3) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname=None)


# -- misbehaviours after a well-formed AC --------------------------------------------------------------
def test_echo_pending_answers_c_echo_with_ff00(rogue: StartRogue) -> None:
    """Given echo_pending, when C-ECHO is sent, then the C-ECHO-RSP status is 0xFF00."""
    with _accepted(rogue("echo_pending").port) as client:
        message_id = client.c_echo()
        rsp = client.read_message()
    assert rsp.command_field == wire.CommandField.C_ECHO_RSP
    assert (rsp.command.MessageIDBeingRespondedTo, rsp.command.Status) == (message_id, 0xFF00)


def test_wrong_command_field_swaps_echo_and_find_responses(rogue: StartRogue) -> None:
    """Given wrong_command_field, when C-ECHO and C-FIND are sent, then C-FIND-RSP and C-ECHO-RSP come back."""
    with _accepted(rogue("wrong_command_field").port, VERIFICATION, PATIENT_ROOT_FIND) as client:
        client.c_echo(1)
        assert client.read_message().command_field == wire.CommandField.C_FIND_RSP
        client.c_find(3)
        assert client.read_message().command_field == wire.CommandField.C_ECHO_RSP


def test_wrong_message_id_answers_another_message(rogue: StartRogue) -> None:
    """Given wrong_message_id, when C-ECHO with MessageID 1 is sent, then the response answers MessageID 2."""
    with _accepted(rogue("wrong_message_id").port) as client:
        message_id = client.c_echo()
        assert client.read_message().command.MessageIDBeingRespondedTo == message_id + 1


def test_foreign_context_pdata_answers_on_an_unaccepted_context(rogue: StartRogue) -> None:
    """Given foreign_context_pdata, when C-ECHO is sent on context 1, then the answer comes on another context."""
    with _accepted(rogue("foreign_context_pdata").port) as client:
        client.c_echo(1)
        pdvs = client.read_pdvs()
    assert pdvs and all(p.context_id not in (1,) for p in pdvs)


def test_find_overrun_identifier_declares_more_bytes_than_it_sends(rogue: StartRogue) -> None:
    """Given find_overrun_identifier, when C-FIND is sent, then the pending identifier's PatientName overruns it."""
    with _accepted(rogue("find_overrun_identifier").port, PATIENT_ROOT_FIND) as client:
        client.c_find(1)
        pending = client.read_message()
        final = client.read_message()
    assert pending.command.Status == 0xFF00 and final.command.Status == 0x0000
    data = pending.data_set
    assert data is not None
    level_length = int.from_bytes(data[4:8], "little")
    name_header = data[8 + level_length : 16 + level_length]
    assert name_header[:4] == bytes.fromhex("10001000")  # (0010,0010) little endian
    assert int.from_bytes(name_header[4:8], "little") == 0x1000 > len(data) - 16 - level_length


def test_pdata_huge_header_announces_4gb_then_stalls(rogue: StartRogue) -> None:
    """Given pdata_huge_header, when C-ECHO is sent, then a P-DATA-TF header of 0xFFFFFFF0 bytes comes, then nothing."""
    with _accepted(rogue("pdata_huge_header").port) as client:
        client.c_echo()
        assert client.read_header() == (wire.P_DATA_TF_TYPE, 0xFFFFFFF0)
        assert client.silent_for(0.3)


def test_pdata_unknown_pdu_answers_dimse_with_pdu_type_9(rogue: StartRogue) -> None:
    """Given pdata_unknown_pdu, when C-ECHO is sent, then a PDU of type 0x09 answers it."""
    with _accepted(rogue("pdata_unknown_pdu").port) as client:
        client.c_echo()
        assert client.read_pdu().type == 0x09


@pytest.mark.parametrize(("name", "decodable"), [("endless_pending_find", True), ("endless_undecodable_find", False)])
def test_endless_finds_keep_going_after_c_cancel(rogue: StartRogue, name: str, decodable: bool) -> None:
    """Given an endless C-FIND rogue, when C-CANCEL follows the first match, then pending responses keep coming."""
    with _accepted(rogue(name).port, PATIENT_ROOT_FIND) as client:
        message_id = client.c_find(1)
        client.read_message()
        client.c_cancel(message_id, 1)
        responses = [client.read_message() for _ in range(200)]
    assert all(r.command.Status == 0xFF00 and r.data_set for r in responses)
    first = responses[0].data_set
    assert first is not None
    if decodable:
        assert str(wire.decode_dataset(first).PatientName) in ("DOE^JANE", "ROE^RICHARD")
    else:
        assert int.from_bytes(first[-14:-10], "little") == 0x1000  # the overrunning PatientName


def test_huge_value_find_streams_the_value_in_small_pdvs(rogue: StartRogue) -> None:
    """Given a (1 MiB) huge-value rogue, when C-FIND is sent, then the identifier arrives in <=16 KiB PDVs,
    decodes to one Text Value of exactly that size, and the final success follows."""
    server = RogueServer(HugeValueFind(value_bytes=1024 * 1024)).start()
    try:
        with _accepted(server.port, PATIENT_ROOT_FIND) as client:
            client.c_find(1)
            assert client.read_pdvs()[0].is_command
            data = bytearray()
            while True:
                (pdv,) = client.read_pdvs()
                assert not pdv.is_command and len(pdv.data) <= 16 * 1024
                data += pdv.data
                if pdv.is_last:
                    break
            final = client.read_message()
    finally:
        server.stop()
    identifier = wire.decode_dataset(bytes(data))
    assert len(identifier[wire.HUGE_VALUE_TAG].value) == 1024 * 1024
    assert final.command.Status == 0x0000
    assert not server.errors
    assert len(server.behaviour.streamed) == 1  # type: ignore[attr-defined]


def test_huge_value_find_never_holds_the_50mb_in_memory(rogue: StartRogue) -> None:
    """Given the 50 MiB rogue, when a client reads and discards the whole stream, then the server's
    allocations peak far below the value's size (it streams)."""
    server = rogue("huge_value_find")
    tracemalloc.start()
    try:
        with _accepted(server.port, PATIENT_ROOT_FIND) as client:
            client.c_find(1)
            received = 0
            client.sock.settimeout(10)
            while received < HugeValueFind().value_bytes:
                chunk = client.sock.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received >= 50 * 1024 * 1024
    assert peak < 8 * 1024 * 1024


def test_no_release_rp_never_answers_the_release(rogue: StartRogue) -> None:
    """Given no_release_rp, when C-ECHO then A-RELEASE-RQ are sent, then the echo succeeds and the release hangs."""
    with _accepted(rogue("no_release_rp").port) as client:
        client.c_echo()
        assert client.read_message().command.Status == 0x0000
        client.send(wire.A_RELEASE_RQ_PDU)
        assert client.silent_for(0.5)


def test_cmd_bad_group_length_overstates_the_command_group(rogue: StartRogue) -> None:
    """Given cmd_bad_group_length, when C-ECHO is sent, then CommandGroupLength is 8 more than the group's bytes."""
    with _accepted(rogue("cmd_bad_group_length").port) as client:
        client.c_echo()
        pdv = client.read_pdvs()[0]
    assert int.from_bytes(pdv.data[8:12], "little") == len(pdv.data) - 12 + 8


def test_cmd_truncated_cuts_the_command_set_short(rogue: StartRogue) -> None:
    """Given cmd_truncated, when C-ECHO is sent, then the last command fragment is 3 bytes short of its group length."""
    with _accepted(rogue("cmd_truncated").port) as client:
        client.c_echo()
        pdv = client.read_pdvs()[0]
    assert pdv.is_command and pdv.is_last
    assert int.from_bytes(pdv.data[8:12], "little") == len(pdv.data) - 12 + 3


def test_dimse_close_hangs_up_on_the_first_request(rogue: StartRogue) -> None:
    """Given dimse_close, when C-ECHO is sent after a good AC, then the connection closes with no answer."""
    with _accepted(rogue("dimse_close").port) as client:
        client.c_echo()
        assert client.closed_within(2.0) == b""


def test_rsp_missing_status_leaves_status_out(rogue: StartRogue) -> None:
    """Given rsp_missing_status, when C-ECHO is sent, then the response has no Status element."""
    with _accepted(rogue("rsp_missing_status").port) as client:
        client.c_echo()
        rsp = client.read_message()
    assert rsp.command_field == wire.CommandField.C_ECHO_RSP and "Status" not in rsp.command


def test_worklist_overrun_item_runs_out_of_its_item_but_not_out_of_the_identifier(rogue: StartRogue) -> None:
    """Given worklist_overrun_item, when a worklist C-FIND is sent, then the pending item's Modality declares
    0x20 bytes inside a 10-byte item, with more than 0x20 bytes of identifier after it; a Patient Root
    C-FIND on the same association is answered well."""
    with _accepted(rogue("worklist_overrun_item").port, MODALITY_WORKLIST, PATIENT_ROOT_FIND) as client:
        client.c_find(1, MODALITY_WORKLIST)
        pending, final = client.read_message(), client.read_message()
        client.c_find(3, PATIENT_ROOT_FIND)
        match = client.read_message()
    assert (pending.command.Status, final.command.Status) == (0xFF00, 0x0000)
    data = pending.data_set
    assert data is not None
    at = data.index(bytes.fromhex("0800 6000"))  # (0008,0060) little endian, inside the item
    item_length = int.from_bytes(data[at - 4 : at], "little")
    declared = int.from_bytes(data[at + 4 : at + 8], "little")
    assert data[at - 8 : at - 4] == bytes.fromhex("feff 00e0") and item_length == 10
    assert declared == 0x20 > item_length - 8 and len(data) - at - 8 > declared
    assert match.data_set is not None and str(wire.decode_dataset(match.data_set).PatientName) == "DOE^JANE"


def test_get_wrong_message_id_answers_another_c_get_only(rogue: StartRogue) -> None:
    """Given get_wrong_message_id, when C-GET then C-ECHO are sent, then the C-GET-RSP answers MessageID + 1
    and the C-ECHO-RSP the echo's own."""
    with _accepted(rogue("get_wrong_message_id").port, STUDY_ROOT_GET, VERIFICATION) as client:
        get_id = client.c_get(1)
        rsp = client.read_message()
        echo_id = client.c_echo(3)
        echo = client.read_message()
    assert rsp.command_field == wire.CommandField.C_GET_RSP
    assert rsp.command.MessageIDBeingRespondedTo == get_id + 1 and rsp.command.Status == 0x0000
    assert echo.command.MessageIDBeingRespondedTo == echo_id


@pytest.mark.parametrize(
    ("name", "model", "status"),
    [
        ("get_undefined_status", STUDY_ROOT_GET, 0xB007),
        ("move_undefined_status", STUDY_ROOT_MOVE, 0xB007),
        ("move_unknown_status", STUDY_ROOT_MOVE, 0x1234),
        ("move_premature_cancel", STUDY_ROOT_MOVE, 0xFE00),
    ],
)
def test_retrieve_status_rogues_end_with_that_status(rogue: StartRogue, name: str, model: str, status: int) -> None:
    """Given a rogue with a status C-GET/C-MOVE does not define (or Cancel uncalled for), when the request is
    sent, then its one and final response carries that status and four zero counters."""
    with _accepted(rogue(name).port, model) as client:
        message_id = client.c_get(1, model) if model == STUDY_ROOT_GET else client.c_move(1, model)
        rsp = client.read_message()
        assert client.silent_for(0.2)
    assert (rsp.command.MessageIDBeingRespondedTo, rsp.command.Status) == (message_id, status)
    assert _counters(rsp) == (0, 0, 0, 0)


def test_move_counter_wrong_length_sends_two_values_where_one_belongs(rogue: StartRogue) -> None:
    """Given move_counter_wrong_length, when C-MOVE is sent, then the final response's (0000,1021) is 4 bytes
    long (two US values) and the CommandGroupLength still counts the command set exactly."""
    with _accepted(rogue("move_counter_wrong_length").port, STUDY_ROOT_MOVE) as client:
        client.c_move(1)
        (pdv,) = client.read_pdvs()
    data = pdv.data
    assert int.from_bytes(data[8:12], "little") == len(data) - 12
    at = data.index(bytes.fromhex("0000 2110"))
    assert int.from_bytes(data[at + 4 : at + 8], "little") == 4
    assert list(wire.decode_command(data).NumberOfCompletedSuboperations) == [0, 0]


def test_move_pending_then_cancel_waits_for_the_c_cancel(rogue: StartRogue) -> None:
    """Given move_pending_then_cancel, when C-MOVE is sent, then a pending response with 5 remaining
    sub-operations comes and nothing else; after C-CANCEL the final 0xFE00 comes and the cancel is recorded."""
    server = rogue("move_pending_then_cancel")
    with _accepted(server.port, STUDY_ROOT_MOVE) as client:
        message_id = client.c_move(1)
        pending = client.read_message()
        assert client.silent_for(0.2)
        client.c_cancel(message_id, 1)
        final = client.read_message()
    assert (pending.command.Status, _counters(pending)) == (0xFF00, (5, 0, 0, 0))
    assert (final.command.MessageIDBeingRespondedTo, final.command.Status) == (message_id, 0xFE00)
    assert isinstance(server.behaviour, MovePendingThenCancel)
    assert server.behaviour.cancels == [(1, message_id)]


def test_endless_pending_retrieve_ignores_c_cancel(rogue: StartRogue) -> None:
    """Given endless_pending_retrieve, when C-GET then C-CANCEL are sent, then pending responses with four
    zero counters keep coming."""
    with _accepted(rogue("endless_pending_retrieve").port, STUDY_ROOT_GET) as client:
        message_id = client.c_get(1)
        client.read_message()
        client.c_cancel(message_id, 1)
        responses = [client.read_message() for _ in range(200)]
    assert all(r.command.Status == 0xFF00 and _counters(r) == (0, 0, 0, 0) for r in responses)


@pytest.mark.parametrize(
    ("name", "expected_context"),
    [("get_store_on_get_context", 1), ("get_store_on_foreign_context", 255), ("get_store_on_other_context", 3)],
)
def test_get_store_rogues_send_a_c_store_rq_on_that_context(
    rogue: StartRogue, name: str, expected_context: int
) -> None:
    """Given a C-GET rogue that sends a sub-operation, when C-GET is sent on context 1 (of 1 and 3), then a
    C-STORE-RQ with a synthetic object arrives on the expected context; answered with 0xA700, the C-GET ends
    with success and 1 failed sub-operation."""
    with _accepted(rogue(name).port, STUDY_ROOT_GET, PATIENT_ROOT_GET) as client:
        message_id = client.c_get(1)
        store = client.read_message()
        assert store.command_field == wire.CommandField.C_STORE_RQ and store.context_id == expected_context
        assert store.sop_class == SECONDARY_CAPTURE and store.data_set is not None
        assert str(wire.decode_dataset(store.data_set).PatientName) == "DOE^JANE"
        client.c_store_rsp(store, 0xA700)
        final = client.read_message()
    assert (final.command.MessageIDBeingRespondedTo, final.command.Status) == (message_id, 0x0000)
    assert _counters(final) == (0, 0, 1, 0)


@pytest.mark.parametrize(
    ("name", "with_identity", "without_identity"),
    [
        ("identity_response", [(0x59, b"\x00\x00")], []),
        ("identity_response_bad_length", [(0x59, b"\x00\x08")], []),
        ("ac_unrequested_identity_response", [(0x59, b"\x00\x00")], [(0x59, b"\x00\x00")]),
        (
            "ac_unrequested_role_selection",
            [(0x54, len(VERIFICATION).to_bytes(2, "big") + VERIFICATION.encode() + b"\x00\x01")],
            [(0x54, len(VERIFICATION).to_bytes(2, "big") + VERIFICATION.encode() + b"\x00\x01")],
        ),
    ],
)
def test_ac_sub_item_rogues_add_exactly_these_sub_items(
    rogue: StartRogue, name: str, with_identity: list[tuple[int, bytes]], without_identity: list[tuple[int, bytes]]
) -> None:
    """Given a rogue that bends the AC's user information, when associating with and without a user identity,
    then exactly the expected raw 0x59/0x54 sub-items follow the usual three (0x51, 0x52, 0x55)."""
    server = rogue(name)
    for identity, expected in ((IDENTITY, with_identity), (None, without_identity)):
        with RawClient(server.port) as client:
            ac = client.request_association([VERIFICATION], user_identity=identity)
        subs = _user_sub_items(ac)
        assert [t for t, _ in subs[:3]] == [0x51, 0x52, 0x55] and subs[3:] == expected, (identity, subs)


def test_rj_on_user_identity_rejects_only_an_identity(rogue: StartRogue) -> None:
    """Given rj_on_user_identity, when an RQ carries a user identity, then A-ASSOCIATE-RJ 1/1/1 comes back;
    without one, the association is accepted."""
    server = rogue("rj_on_user_identity")
    with RawClient(server.port) as client:
        assert client.request_association(user_identity=IDENTITY).raw == bytes.fromhex("03 00 00000004 00 01 01 01")
    with RawClient(server.port) as client:
        assert client.request_association().type == wire.A_ASSOCIATE_AC_TYPE
        assert client.release().type == wire.A_RELEASE_RP_TYPE
    assert server.behaviour.identity_asked == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [n for n in behaviour_names() if get_behaviour(n).level == "dimse"])
def test_dimse_rogues_send_a_well_formed_ac_and_release(rogue: StartRogue, name: str) -> None:
    """Given any post-AC rogue, when associating, then its AC is well-formed (pynetdicom decodes it)."""
    with RawClient(rogue(name).port) as client:
        ac = client.request_association([VERIFICATION])
        assert _ac_contexts(ac) == [(1, 0, wire.IMPLICIT_VR_LE)]
        if name != "no_release_rp":
            assert client.release().type == wire.A_RELEASE_RP_TYPE


@pytest.mark.parametrize("name", [n for n in behaviour_names() if get_behaviour(n).level != "association"])
def test_non_dicom_hello_is_hung_up_on(rogue: StartRogue, name: str) -> None:
    """Given a rogue that speaks DICOM, when a TLS ClientHello arrives instead of an RQ, then it hangs up."""
    with RawClient(rogue(name).port) as client:
        client.send(bytes.fromhex("16 03 01 02 00 01 00 01 fc 03 03") + bytes(64))
        assert client.closed_within(2.0) is not None


def test_closed_helper_reports_partial_reads() -> None:
    """Given the raw client, when the peer closes mid-read, then Closed carries what arrived."""
    with RogueServer(get_behaviour("garbage")) as server, RawClient(server.port) as client:
        client.send(b"hello")
        with pytest.raises(Closed) as info:
            client.recv_exact(4096)
    assert len(info.value.received) == 512
