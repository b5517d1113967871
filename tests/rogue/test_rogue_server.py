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
from tests.rogue.behaviours import DRIP_INTERVAL, HugeValueFind, TlsGarbage
from tests.rogue.client import (
    PATIENT_ROOT_FIND,
    SECONDARY_CAPTURE,
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
    names = ["silent", "drip", "endless_pending_find", "huge_value_find", "no_release_rp", "tls_garbage"]
    before = set(threading.enumerate())
    fleet = RogueFleet(get_behaviour(n) for n in names).start()
    clients = []
    try:
        for name in names:
            client = RawClient(fleet[name].port)
            clients.append(client)
            if fleet[name].behaviour.level == "dimse":
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
