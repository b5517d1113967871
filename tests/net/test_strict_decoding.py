"""Strict decoding of what a node sends: well-formed answers decode, anything else is a violation.

Pure byte-level tests of :mod:`dicomaudit.net.pdu` and :mod:`dicomaudit.net.dimse`
(the rogue-server tests exercise the same rules over real sockets).
"""

from __future__ import annotations

import struct

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelFind, Verification

from dicomaudit.net import dimse
from dicomaudit.net.pdu import (
    APPLICATION_CONTEXT,
    Proposal,
    decode_abort,
    decode_ac,
    decode_p_data,
    decode_rj,
)
from dicomaudit.net.wire import Pdu, ProtocolViolation
from dicomaudit.structure import MAX_DEPTH

PROPOSAL = Proposal.for_syntaxes("DICOMAUDIT", "ANY-SCP", [Verification, PatientRootQueryRetrieveInformationModelFind])


def _item(item_type: int, value: bytes) -> bytes:
    return bytes([item_type, 0]) + struct.pack(">H", len(value)) + value


def _context(context_id: int, result: int, ts: str = ImplicitVRLittleEndian) -> bytes:
    return _item(0x21, bytes([context_id, 0, result, 0]) + _item(0x40, ts.encode()))


def _user_info(max_pdu: bool = True) -> bytes:
    subs = (_item(0x51, struct.pack(">I", 16384)) if max_pdu else b"") + _item(0x52, b"1.2.3.4")
    return _item(0x50, subs)


def _ac(items: bytes, fixed: bytes | None = None) -> Pdu:
    fixed = (
        fixed
        if fixed is not None
        else struct.pack(">H", 1) + b"\0\0" + b"ANY-SCP".ljust(16) + b"DICOMAUDIT".ljust(16) + b"\0" * 32
    )
    return Pdu(0x02, fixed + items)


def _good_items(**overrides: bytes) -> bytes:
    parts = {
        "app": _item(0x10, APPLICATION_CONTEXT.encode()),
        "ctx": _context(1, 0) + _context(3, 3),
        "user": _user_info(),
    }
    parts.update(overrides)
    return parts["app"] + parts["ctx"] + parts["user"]


def test_a_well_formed_ac_decodes_against_the_proposal() -> None:
    """Given an AC answering both proposed contexts, then both results are decoded in proposal order."""
    acc = decode_ac(_ac(_good_items()), PROPOSAL)
    assert [(c.context_id, c.result) for c in acc.contexts] == [(1, 0), (3, 3)]
    assert acc.context_for(Verification) is not None
    assert acc.context_for(PatientRootQueryRetrieveInformationModelFind) is None
    assert acc.max_pdu == 16384 and acc.implementation_class_uid == "1.2.3.4"


@pytest.mark.parametrize(
    "pdu, why",
    [
        (_ac(b"", fixed=b"\0\1" + b"\0" * 20), "truncated"),
        (_ac(_good_items(ctx=b"")), "no presentation context results"),
        (_ac(_good_items(ctx=_context(1, 0) + _context(99, 0))), "not proposed"),
        (_ac(_good_items(ctx=_context(1, 0))), "unanswered"),
        (_ac(_good_items(ctx=_context(1, 0, "1.2.840.10008.1.2.2") + _context(3, 3))), "not proposed"),
        (_ac(_good_items(ctx=_context(1, 0) + _context(1, 3))), "twice"),
        (_ac(_good_items(ctx=_context(1, 9) + _context(3, 3))), "not defined"),
        (_ac(_good_items(user=_user_info(max_pdu=False))), "maximum length"),
        (_ac(_good_items(app=_item(0x10, b"1.2.3"))), "application context"),
        (_ac(_good_items()[:-3]), "remain"),
        (_ac(_good_items() + b"\x77\x00\x00\x00"), "not allowed"),
    ],
)
def test_a_malformed_or_mismatched_ac_is_a_protocol_violation(pdu: Pdu, why: str) -> None:
    """Given an AC broken in one way, when decoded, then it is a violation naming the problem, with the bytes."""
    with pytest.raises(ProtocolViolation, match=why) as info:
        decode_ac(pdu, PROPOSAL)
    assert info.value.raw


@pytest.mark.parametrize(
    "body, ok",
    [
        (bytes([0, 1, 1, 3]), True),  # permanent, service user, calling AE title not recognised
        (bytes([0, 2, 3, 1]), True),  # transient, presentation provider, temporary congestion
        (bytes([0, 1, 1, 4]), False),  # reason 4 is reserved for source 1
        (bytes([0, 3, 1, 3]), False),  # result 3 is not defined
        (bytes([0, 1, 1, 3, 0]), False),  # wrong length
    ],
)
def test_only_a_defined_rejection_decodes(body: bytes, ok: bool) -> None:
    pdu = Pdu(0x03, body)
    if ok:
        assert decode_rj(pdu).source == body[2]
    else:
        with pytest.raises(ProtocolViolation):
            decode_rj(pdu)


@pytest.mark.parametrize(
    "body, ok",
    [
        (bytes([0, 0, 0, 0]), True),
        (bytes([0, 0, 2, 6]), True),
        (bytes([0, 0, 1, 0]), False),
        (bytes([0, 0, 2, 3]), False),
        (bytes([0, 0, 0]), False),
    ],
)
def test_only_a_defined_abort_decodes(body: bytes, ok: bool) -> None:
    pdu = Pdu(0x07, body)
    if ok:
        decode_abort(pdu)
    else:
        with pytest.raises(ProtocolViolation):
            decode_abort(pdu)


def test_p_data_items_must_add_up() -> None:
    """Given a PDV announcing more than the PDU holds, then the P-DATA-TF is a violation."""
    good = struct.pack(">I", 4) + bytes([1, 3]) + b"ab"
    assert decode_p_data(Pdu(0x04, good))[0].fragment == b"ab"
    with pytest.raises(ProtocolViolation):
        decode_p_data(Pdu(0x04, struct.pack(">I", 40) + bytes([1, 3]) + b"ab"))


def _echo_rsp(status: int, *, msg_id: int = 7, field: int = dimse.C_ECHO_RSP, data: bool = False) -> bytes:
    ds = Dataset()
    ds.AffectedSOPClassUID = Verification
    ds.CommandField = field
    ds.MessageIDBeingRespondedTo = msg_id
    ds.CommandDataSetType = 0x0001 if data else 0x0101
    ds.Status = status
    body = dimse.encode_dataset(ds, ImplicitVRLittleEndian)
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def _judge(raw: bytes, service: str = "verification", data: bytes | None = None, cancelled: bool = False):
    cmd = dimse.decode_command(raw)
    return dimse.judge_response(
        cmd, raw, data, service=service, message_id=7, sop_class=Verification, cancelled=cancelled
    )


def test_a_well_formed_echo_response_is_accepted() -> None:
    assert _judge(_echo_rsp(0x0000)).status == 0x0000
    assert _judge(_echo_rsp(0x0122)).category == "Failure"


@pytest.mark.parametrize(
    "raw, why",
    [
        (_echo_rsp(0xFF00), "makes no sense"),
        (_echo_rsp(0xFE00), "makes no sense"),
        (_echo_rsp(0x0000, msg_id=8), "Message ID"),
        (_echo_rsp(0x0000, field=dimse.C_FIND_RSP), "C-FIND-RSP"),
        (_echo_rsp(0x0000)[:-3], "announces|ends inside|Group Length"),
        (b"\x00\x00\x00\x00\x04\x00\x00\x00\xff\x00\x00\x00" + _echo_rsp(0x0000)[12:], "Group Length"),
    ],
)
def test_a_nonsensical_echo_response_is_a_protocol_violation(raw: bytes, why: str) -> None:
    with pytest.raises(ProtocolViolation, match=why):
        _judge(raw)


def test_an_echo_response_with_a_data_set_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="carries a data set"):
        _judge(_echo_rsp(0x0000, data=True), data=b"\x08\x00\x18\x00\x00\x00\x00\x00")


def _identifier(ts: str) -> bytes:
    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "123"
    seq_item = Dataset()
    seq_item.CodeValue = "X"
    ds.ProcedureCodeSequence = [seq_item]
    return dimse.encode_dataset(ds, ts)


@pytest.mark.parametrize("ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
def test_a_well_formed_identifier_decodes(ts: str) -> None:
    ds = dimse.decode_identifier(_identifier(ts), ts)
    assert str(ds.PatientName) == "DOE^JANE" and ds.ProcedureCodeSequence[0].CodeValue == "X"


@pytest.mark.parametrize("ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
def test_an_identifier_whose_element_overruns_is_a_protocol_violation(ts: str) -> None:
    """Given a PatientName announcing 4096 bytes with 8 present, then nothing of it is decoded."""
    raw = bytearray(_identifier(ts))
    at = raw.index(b"DOE^JANE")
    if ts == ImplicitVRLittleEndian:
        raw[at - 4 : at] = struct.pack("<I", 4096)
    else:
        raw[at - 2 : at] = struct.pack("<H", 4096)
    with pytest.raises(ProtocolViolation, match="declares 4096 bytes"):
        dimse.decode_identifier(bytes(raw), ts)


def test_an_identifier_with_trailing_bytes_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="crosses the end"):
        dimse.decode_identifier(_identifier(ImplicitVRLittleEndian) + b"\x10\x00\x20", ImplicitVRLittleEndian)


def test_an_undefined_length_sequence_without_delimiter_is_a_protocol_violation() -> None:
    raw = struct.pack("<HHI", 0x0008, 0x1032, 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    with pytest.raises(ProtocolViolation, match="delimiter"):
        dimse.decode_identifier(raw, ImplicitVRLittleEndian)


def test_sequences_nested_too_deep_are_a_protocol_violation() -> None:
    inner = b""
    for _ in range(MAX_DEPTH + 3):
        item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner
        inner = struct.pack("<HHI", 0x0008, 0x1032, len(item)) + item
    with pytest.raises(ProtocolViolation, match="deeper"):
        dimse.decode_identifier(inner, ImplicitVRLittleEndian)
