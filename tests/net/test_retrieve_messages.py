"""C-GET/C-MOVE responses and C-STORE sub-operation requests, judged strictly (PS3.7 9.3.1-9.3.4).

Responses are encoded with pynetdicom's DIMSE messages, as a real node would
send them, then passed to :func:`dicomaudit.net.dimse.judge_response`.
"""

from __future__ import annotations

import io

import pytest
from pynetdicom import dimse_messages, dimse_primitives
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import CTImageStorage
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

from dicomaudit.net import dimse
from dicomaudit.net.wire import ProtocolViolation


def _move_rsp(message_id: int, status: int, **counts: int) -> bytes:
    p = dimse_primitives.C_MOVE()
    p.MessageIDBeingRespondedTo = message_id
    p.AffectedSOPClassUID = MOVE
    p.Status = status
    for name, value in counts.items():
        setattr(p, dimse.SUBOPERATION_KEYWORDS[name], value)
    msg = dimse_messages.C_MOVE_RSP()
    msg.primitive_to_message(p)
    raw = encode(msg.command_set, True, True)
    assert raw is not None
    return raw


def _judge(raw: bytes, *, message_id: int = 7, cancelled: bool = False) -> dimse.Response:
    return dimse.judge_response(
        dimse.decode_command(raw), raw, None, service="move", message_id=message_id, sop_class=MOVE, cancelled=cancelled
    )


def test_a_final_move_response_with_counters_is_read() -> None:
    """Given a C-MOVE-RSP success with zero sub-operations, then status and counters are read."""
    rsp = _judge(_move_rsp(7, 0x0000, remaining=0, completed=0, failed=0, warning=0))
    assert (rsp.category, rsp.suboperations) == ("Success", {"remaining": 0, "completed": 0, "failed": 0, "warning": 0})


def test_move_destination_unknown_is_a_failure_status_of_move() -> None:
    assert _judge(_move_rsp(7, 0xA801)).status == dimse.MOVE_DESTINATION_UNKNOWN


def test_a_move_response_to_another_message_is_a_violation() -> None:
    with pytest.raises(ProtocolViolation, match="answers Message ID 8"):
        _judge(_move_rsp(8, 0x0000))


def test_cancel_before_any_cancel_request_is_a_violation() -> None:
    with pytest.raises(ProtocolViolation, match="before any C-CANCEL"):
        _judge(_move_rsp(7, 0xFE00))


def test_cancel_after_a_cancel_request_is_accepted() -> None:
    assert _judge(_move_rsp(7, 0xFE00), cancelled=True).category == "Cancel"


def test_a_move_response_judged_as_a_get_is_a_violation() -> None:
    raw = _move_rsp(7, 0x0000)
    with pytest.raises(ProtocolViolation, match="C-MOVE-RSP received in answer to a C-GET-RQ"):
        dimse.judge_response(dimse.decode_command(raw), raw, None, service="get", message_id=7, sop_class=None)


def _store_rq(sop_class: str, instance: str = "1.2.3.4", with_data: bool = True) -> bytes:
    p = dimse_primitives.C_STORE()
    p.MessageID = 5
    p.AffectedSOPClassUID = sop_class
    p.AffectedSOPInstanceUID = instance
    p.Priority = 2
    if with_data:
        p.DataSet = io.BytesIO(b"\x00")
    msg = dimse_messages.C_STORE_RQ()
    msg.primitive_to_message(p)
    raw = encode(msg.command_set, True, True)
    assert raw is not None
    return raw


def test_a_store_sub_operation_on_its_own_context_is_read() -> None:
    raw = _store_rq(CTImageStorage)
    incoming = dimse.judge_store_request(dimse.decode_command(raw), raw, CTImageStorage)
    assert (incoming.message_id, incoming.sop_class, incoming.sop_instance) == (5, CTImageStorage, "1.2.3.4")


def test_a_store_sub_operation_naming_another_sop_class_is_a_violation() -> None:
    raw = _store_rq(CTImageStorage)
    with pytest.raises(ProtocolViolation, match="names SOP class"):
        dimse.judge_store_request(dimse.decode_command(raw), raw, "1.2.840.10008.5.1.4.1.1.7")


def test_the_scanners_answer_to_a_sub_operation_is_a_refusal() -> None:
    """Given a C-STORE sub-operation, when the scanner answers, then the status is 0xA700 (refused)."""
    rsp = dimse.decode_command(dimse.store_rsp(5, CTImageStorage, "1.2.3.4", dimse.STORE_REFUSED))
    assert (rsp.CommandField, rsp.Status, rsp.MessageIDBeingRespondedTo) == (0x8001, 0xA700, 5)


def _with_failed_uid_list(raw: bytes) -> bytes:
    """DCMTK's way: (0008,0058) Failed SOP Instance UID List appended to the command set, after group 0000."""
    uid = b"1.2.3.4\x00"
    return raw + b"\x08\x00\x58\x00" + len(uid).to_bytes(4, "little") + uid


def test_a_failed_uid_list_after_the_command_elements_is_tolerated_in_retrieve_responses() -> None:
    """Given a C-MOVE-RSP carrying status detail after its command group (Orthanc, dcmqrscp), then it is read."""
    raw = _with_failed_uid_list(_move_rsp(7, 0xFF00, remaining=0, completed=0, failed=1, warning=0))
    rsp = dimse.judge_response(
        dimse.decode_command(raw, status_detail=True), raw, None, service="move", message_id=7, sop_class=MOVE
    )
    assert rsp.suboperations["failed"] == 1


def test_status_detail_is_not_tolerated_elsewhere() -> None:
    raw = _with_failed_uid_list(_move_rsp(7, 0x0000))
    with pytest.raises(ProtocolViolation, match="Command Group Length says"):
        dimse.decode_command(raw)


def test_a_command_element_after_the_status_detail_is_a_violation() -> None:
    raw = _with_failed_uid_list(_move_rsp(7, 0x0000)) + b"\x00\x00\x02\x09\x02\x00\x00\x00\x00\x00"
    with pytest.raises(ProtocolViolation):
        dimse.decode_command(raw, status_detail=True)
