"""DIMSE messages: requests encoded by pynetdicom, responses judged strictly.

Requests are built from pynetdicom's DIMSE primitives and message classes
(``pynetdicom.dimse_primitives`` / ``dimse_messages``) and encoded with
pydicom; what comes back is reassembled from PDVs and validated here before
anything rests on it:

* every PDV of a response is on the presentation context of the request,
  command fragments before data fragments (PS3.8 Annex E.2);
* the command set is well formed Implicit VR Little Endian in group 0000,
  its Command Group Length matches (PS3.7 6.3.1, 9.3, E.1);
* the command field is the response to the request, the Message ID Being
  Responded To is the request's Message ID, the status is one the service
  defines for that response (PS3.4 Annex A, B, C; PS3.7 Annex C) and the
  data set is present exactly when the service says so;
* an identifier's encoding is walked element by element before pydicom
  decodes it (:mod:`dicomaudit.structure`): every declared length must fit,
  nesting is bounded, and the bytes must end exactly where the last element
  does (PS3.5 7.1, 7.5).

A message larger than :data:`MAX_MESSAGE_BYTES` is not read to the end.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import ImplicitVRLittleEndian
from pynetdicom import dimse_messages, dimse_primitives
from pynetdicom import status as status_tables
from pynetdicom.dsutils import encode
from pynetdicom.status import code_to_category

from dicomaudit.net.wire import BudgetExhausted, ProtocolViolation
from dicomaudit.structure import StructureError, check_encoded

#: A C-FIND identifier is a few hundred bytes; a C-ECHO/C-STORE response has
#: no data set at all.  Nothing a check needs comes near this.
MAX_MESSAGE_BYTES = 1024 * 1024
#: A command set is a handful of short elements.
MAX_COMMAND_BYTES = 64 * 1024

C_STORE_RQ = 0x0001
C_STORE_RSP, C_FIND_RSP, C_ECHO_RSP, C_GET_RSP, C_MOVE_RSP = 0x8001, 0x8020, 0x8030, 0x8010, 0x8021
NO_DATA_SET = 0x0101
#: PS3.4 B.2.3 "Refused: Out of Resources": how the scanner answers every
#: C-STORE sub-operation a node sends it; the object is discarded.
STORE_REFUSED = 0xA700
#: PS3.7 C.5.x general statuses and PS3.4 C.4.2.1.5 that are *refusals*:
#: the node did not serve the request (as opposed to serving it and failing).
REFUSAL_STATUSES = {
    0x0124: "Refused: Not Authorized",
    0x0122: "Refused: SOP Class Not Supported",
    0x0211: "Unrecognized Operation",
}
MOVE_DESTINATION_UNKNOWN = 0xA801
#: Sub-operation counters of C-GET/C-MOVE responses (PS3.7 9.3.3.2, 9.3.4.2).
SUBOPERATION_KEYWORDS = {
    "remaining": "NumberOfRemainingSuboperations",
    "completed": "NumberOfCompletedSuboperations",
    "failed": "NumberOfFailedSuboperations",
    "warning": "NumberOfWarningSuboperations",
}

# Status categories (pynetdicom.status.code_to_category) each response may carry.
_ALLOWED = {
    # PS3.7 9.3.5 / PS3.4 A.4: success, or a general failure.
    "verification": {"Success", "Failure"},
    # PS3.4 C.4.1.1.4: pending, success, cancel (only after C-CANCEL), failure.
    "find": {"Pending", "Success", "Cancel", "Failure"},
    # PS3.4 B.2.3: success, warning (coercion, elements discarded), failure.
    "store": {"Success", "Warning", "Failure"},
    # PS3.4 C.4.2.1.5 / C.4.3.1.4: pending, success, warning (some sub-operations
    # failed), cancel (only after C-CANCEL), failure.
    "move": {"Pending", "Success", "Warning", "Cancel", "Failure"},
    "get": {"Pending", "Success", "Warning", "Cancel", "Failure"},
}
_RESPONSE_FIELD = {
    "verification": C_ECHO_RSP,
    "find": C_FIND_RSP,
    "store": C_STORE_RSP,
    "move": C_MOVE_RSP,
    "get": C_GET_RSP,
}
_COMMAND_NAMES = {
    0x0001: "C-STORE-RQ",
    0x8001: "C-STORE-RSP",
    0x0010: "C-GET-RQ",
    0x8010: "C-GET-RSP",
    0x0020: "C-FIND-RQ",
    0x8020: "C-FIND-RSP",
    0x0021: "C-MOVE-RQ",
    0x8021: "C-MOVE-RSP",
    0x0030: "C-ECHO-RQ",
    0x8030: "C-ECHO-RSP",
    0x0FFF: "C-CANCEL-RQ",
    0x0100: "N-EVENT-REPORT-RQ",
    0x8100: "N-EVENT-REPORT-RSP",
    0x0110: "N-GET-RQ",
    0x8110: "N-GET-RSP",
    0x0120: "N-SET-RQ",
    0x8120: "N-SET-RSP",
    0x0130: "N-ACTION-RQ",
    0x8130: "N-ACTION-RSP",
    0x0140: "N-CREATE-RQ",
    0x8140: "N-CREATE-RSP",
    0x0150: "N-DELETE-RQ",
    0x8150: "N-DELETE-RSP",
}


#: Each service's statuses with pynetdicom's category and description (PS3.4, PS3.7 Annex C);
#: they include the general statuses and the 0xCxxx "Unable to process" range.
SERVICE_STATUS = {
    "verification": status_tables.VERIFICATION_SERVICE_CLASS_STATUS,
    "find": status_tables.QR_FIND_SERVICE_CLASS_STATUS,
    "store": status_tables.STORAGE_SERVICE_CLASS_STATUS,
    "get": status_tables.QR_GET_SERVICE_CLASS_STATUS,
    "move": status_tables.QR_MOVE_SERVICE_CLASS_STATUS,
}
#: Services whose responses must carry a status from their own table; the
#: others are judged by status category (as measured on the real peers).
_STRICT_STATUS = frozenset({"get", "move"})


def command_name(field: int) -> str:
    return _COMMAND_NAMES.get(field, f"command field 0x{field:04X}")


# -- requests -------------------------------------------------------------------
def _command_bytes(message: dimse_messages.DIMSEMessage, primitive: object) -> bytes:
    message.primitive_to_message(primitive)  # type: ignore[arg-type]
    data = encode(message.command_set, True, True)
    assert data is not None
    return data


def echo_rq(message_id: int, sop_class: str) -> bytes:
    p = dimse_primitives.C_ECHO()
    p.MessageID = message_id
    p.AffectedSOPClassUID = sop_class
    return _command_bytes(dimse_messages.C_ECHO_RQ(), p)


def find_rq(message_id: int, sop_class: str) -> bytes:
    p = dimse_primitives.C_FIND()
    p.MessageID = message_id
    p.AffectedSOPClassUID = sop_class
    p.Priority = 2  # LOW (PS3.7 9.3.2.1): an audit never jumps the queue
    p.Identifier = io.BytesIO(b"\x00")  # marks "a data set follows"; the real one is sent separately
    return _command_bytes(dimse_messages.C_FIND_RQ(), p)


def store_rq(message_id: int, sop_class: str, sop_instance: str) -> bytes:
    p = dimse_primitives.C_STORE()
    p.MessageID = message_id
    p.AffectedSOPClassUID = sop_class
    p.AffectedSOPInstanceUID = sop_instance
    p.Priority = 2
    p.DataSet = io.BytesIO(b"\x00")
    return _command_bytes(dimse_messages.C_STORE_RQ(), p)


def get_rq(message_id: int, sop_class: str) -> bytes:
    p = dimse_primitives.C_GET()
    p.MessageID = message_id
    p.AffectedSOPClassUID = sop_class
    p.Priority = 2
    p.Identifier = io.BytesIO(b"\x00")
    return _command_bytes(dimse_messages.C_GET_RQ(), p)


def move_rq(message_id: int, sop_class: str, destination: str) -> bytes:
    p = dimse_primitives.C_MOVE()
    p.MessageID = message_id
    p.AffectedSOPClassUID = sop_class
    p.MoveDestination = destination
    p.Priority = 2
    p.Identifier = io.BytesIO(b"\x00")
    return _command_bytes(dimse_messages.C_MOVE_RQ(), p)


def store_rsp(message_id: int, sop_class: str, sop_instance: str, status: int) -> bytes:
    """The C-STORE-RSP the scanner sends for a sub-operation it refuses (PS3.7 9.3.1.2)."""
    p = dimse_primitives.C_STORE()
    p.MessageIDBeingRespondedTo = message_id
    p.AffectedSOPClassUID = sop_class
    p.AffectedSOPInstanceUID = sop_instance
    p.Status = status
    return _command_bytes(dimse_messages.C_STORE_RSP(), p)


def cancel_rq(message_id: int) -> bytes:
    p = dimse_primitives.C_CANCEL()
    p.MessageIDBeingRespondedTo = message_id
    return _command_bytes(dimse_messages.C_CANCEL_RQ(), p)


def encode_dataset(ds: Dataset, transfer_syntax: str) -> bytes:
    data = encode(ds, transfer_syntax == ImplicitVRLittleEndian, True)
    if data is None:
        raise ValueError("the data set cannot be encoded")
    return data


# -- responses -------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    """A validated DIMSE response."""

    command_field: int
    status: int
    category: str
    command: Dataset
    data_set: bytes | None

    @property
    def error_comment(self) -> str | None:
        value = self.command.get("ErrorComment")
        return str(value) if value else None

    @property
    def suboperations(self) -> dict[str, int]:
        """The C-GET/C-MOVE sub-operation counters the response carries (validated in :func:`judge_response`)."""
        return {
            name: int(self.command[keyword].value)
            for name, keyword in SUBOPERATION_KEYWORDS.items()
            if keyword in self.command
        }


def _walk_command(data: bytes, *, status_detail: bool = False) -> None:
    """PS3.7 6.3.1: a command set is group 0000 only, Implicit VR LE, led by its group length.

    With ``status_detail`` (C-GET/C-MOVE responses), elements of other groups
    may *follow* the complete group 0000: DCMTK-based nodes (Orthanc,
    dcmqrscp) carry the Failed SOP Instance UID List (0008,0058) there
    instead of in an identifier.  They must still be well-formed elements, in
    ascending order after the group the Command Group Length covers exactly.
    """
    i = 0
    first = True
    command_end: int | None = None
    while i < len(data):
        if len(data) - i < 8:
            raise ProtocolViolation(f"command set ends inside an element header ({len(data) - i} bytes left)", data)
        group, element, length = struct.unpack("<HHI", data[i : i + 8])
        if group != 0x0000 and not (status_detail and command_end is not None and i >= command_end):
            raise ProtocolViolation(f"command set holds element ({group:04X},{element:04X}) outside group 0000", data)
        if i + 8 + length > len(data):
            raise ProtocolViolation(
                f"command element ({group:04X},{element:04X}) announces {length} bytes, {len(data) - i - 8} remain",
                data,
            )
        if first:
            if element != 0x0000 or length != 4:
                raise ProtocolViolation("command set does not start with its Command Group Length", data)
            (group_length,) = struct.unpack("<I", data[8:12])
            command_end = 12 + group_length
            if command_end > len(data) or (command_end != len(data) and not status_detail):
                raise ProtocolViolation(
                    f"Command Group Length says {group_length} bytes, the command set has {len(data) - 12}", data
                )
            first = False
        elif group == 0x0000 and command_end is not None and i + 8 + length > command_end:
            raise ProtocolViolation("a command element runs past the Command Group Length", data)
        i += 8 + length
    if first:
        raise ProtocolViolation("empty command set", data)


def _single_us(ds: Dataset, keyword: str, data: bytes) -> int:
    value = ds.get(keyword)
    if value is None:
        raise ProtocolViolation(f"response command set has no {keyword}", data)
    if not isinstance(value, int):
        raise ProtocolViolation(f"{keyword} is not a single unsigned short", data)
    return int(value)


def decode_command(command: bytes, *, status_detail: bool = False) -> Dataset:
    """A response's command set, decoded only once its structure is known to be sound.

    ``status_detail``: tolerate well-formed elements of other groups after
    the command elements (see :func:`_walk_command`).
    """
    _walk_command(command, status_detail=status_detail)
    try:
        ds = read_dataset(io.BytesIO(command), True, True)
        for _ in ds:  # converts every raw element
            pass
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the peer's malformed data
        raise ProtocolViolation(f"command set does not decode ({type(exc).__name__})", command) from None
    return ds


def announces_data_set(command: Dataset, raw: bytes) -> bool:
    """PS3.7 E.1: Command Data Set Type 0x0101 means no data set follows; any other value, one does."""
    return _single_us(command, "CommandDataSetType", raw) != NO_DATA_SET


def judge_response(
    command: Dataset,
    raw: bytes,
    data_set: bytes | None,
    *,
    service: str,
    message_id: int,
    sop_class: str | None,
    cancelled: bool = False,
) -> Response:
    """Judge one reassembled response to request ``message_id`` of ``service``."""
    field = _single_us(command, "CommandField", raw)
    expected = _RESPONSE_FIELD[service]
    if field != expected:
        raise ProtocolViolation(f"{command_name(field)} received in answer to a {command_name(expected & 0x0FFF)}", raw)
    responded_to = _single_us(command, "MessageIDBeingRespondedTo", raw)
    if responded_to != message_id:
        raise ProtocolViolation(
            f"{command_name(field)} answers Message ID {responded_to}, the request was {message_id}", raw
        )
    affected = command.get("AffectedSOPClassUID")
    if sop_class is not None and affected and str(affected).rstrip("\x00 ") != sop_class:
        raise ProtocolViolation(f"{command_name(field)} names SOP class {affected}, the request was {sop_class}", raw)
    status = _single_us(command, "Status", raw)
    category = code_to_category(status)
    if service in _STRICT_STATUS and status not in SERVICE_STATUS[service]:
        # C-GET/C-MOVE: only the statuses PS3.4 C.4.2.1.5 / C.4.3.1.4 and PS3.7 Annex C
        # define (pynetdicom's tables); e.g. 0xB007 is a C-STORE warning, 0xFF01 C-FIND's.
        raise ProtocolViolation(f"status 0x{status:04X} is not one a {command_name(field)} may carry", raw)
    if category not in _ALLOWED[service] or (category == "Cancel" and not cancelled):
        why = "before any C-CANCEL was sent" if category == "Cancel" else f"({category.lower()} status)"
        raise ProtocolViolation(f"status 0x{status:04X} makes no sense for a {command_name(field)} {why}", raw)
    has_data = data_set is not None
    wants_data = service == "find" and category == "Pending"
    may_carry = wants_data or (service == "find" and category == "Failure") or service in ("get", "move")
    if has_data and not may_carry:
        # PS3.4 C.4.1.3.1: only pending C-FIND responses (and, optionally,
        # failures) carry an identifier; echo and store responses never do.
        # C-GET/C-MOVE responses may carry one (Failed SOP Instance UID List).
        raise ProtocolViolation(f"{command_name(field)} with status 0x{status:04X} carries a data set", raw)
    if wants_data and not has_data:
        raise ProtocolViolation("pending C-FIND response without an identifier", raw)
    if service in ("get", "move"):
        for keyword in SUBOPERATION_KEYWORDS.values():
            if keyword in command:
                _single_us(command, keyword, raw)
    return Response(field, status, category, command, data_set)


@dataclass(frozen=True)
class IncomingStore:
    """A C-STORE-RQ the node sent on the scanner's association (a C-GET sub-operation)."""

    message_id: int
    sop_class: str
    sop_instance: str


def judge_store_request(command: Dataset, raw: bytes, abstract_syntax: str) -> IncomingStore:
    """PS3.7 9.3.1.1: a C-STORE-RQ names its SOP class (that of its context) and instance, and has a data set."""
    field = _single_us(command, "CommandField", raw)
    if field != C_STORE_RQ:
        raise ProtocolViolation(f"{command_name(field)} received on a storage context", raw)
    message_id = _single_us(command, "MessageID", raw)
    sop_class = str(command.get("AffectedSOPClassUID", "")).rstrip("\x00 ")
    sop_instance = str(command.get("AffectedSOPInstanceUID", "")).rstrip("\x00 ")
    if sop_class != abstract_syntax:
        raise ProtocolViolation(f"C-STORE-RQ names SOP class {sop_class!r} on a {abstract_syntax} context", raw)
    if not sop_instance:
        raise ProtocolViolation("C-STORE-RQ without an Affected SOP Instance UID", raw)
    if not announces_data_set(command, raw):
        raise ProtocolViolation("C-STORE-RQ without a data set", raw)
    return IncomingStore(message_id, sop_class, sop_instance)


# -- data sets ---------------------------------------------------------------------
def decode_identifier(data: bytes, transfer_syntax: str) -> Dataset:
    """An identifier (query match, worklist item) decoded only if every byte of it is accounted for.

    The encoding is walked first (:func:`dicomaudit.structure.check_encoded`,
    the same walker that checks files): a length that overruns its element,
    item or sequence, a missing delimiter, a repeated tag or nesting beyond
    the limit is a protocol violation, and pydicom never sees the bytes.
    """
    implicit = transfer_syntax == ImplicitVRLittleEndian
    if not data:
        raise ProtocolViolation("empty identifier")
    try:
        check_encoded(data, implicit_vr=implicit)
    except StructureError as exc:
        raise ProtocolViolation(f"identifier: {str(exc).removeprefix('malformed DICOM file: ')}", data) from None
    try:
        ds = read_dataset(io.BytesIO(data), implicit, True)
        for _ in ds.iterall():  # converts every raw element, sequences included
            pass
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the peer's malformed data
        raise ProtocolViolation(f"identifier does not decode ({type(exc).__name__})", data) from None
    return ds


class MessageTooLarge(BudgetExhausted):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the response is larger than the {limit // 1024} KiB a single DIMSE message may be "
            "(the scanner stopped reading it)"
        )
