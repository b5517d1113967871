"""Wire formats spoken (and deliberately mis-spoken) by the rogue server.

Upper-layer PDUs follow PS3.8 9.3: a one-byte type, a reserved byte, a
4-byte big-endian length, then the variable field.  Well-formed
A-ASSOCIATE-RQ/AC PDUs are decoded and encoded with ``pynetdicom.pdu``;
the small fixed-size PDUs (RJ, RELEASE-RP, ABORT) and P-DATA-TF are packed
with :mod:`struct` so that the misbehaviours can bend every field.

DIMSE command sets (PS3.7 6.3, 9.3, Annex E) are always implicit VR little
endian and are encoded and decoded with pydicom; identifiers use the
transfer syntax of the presentation context they travel on (PS3.7 6.3.1).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
    UserIdentityNegotiation,
)
from pynetdicom.presentation import PresentationContext

# -- PS3.8 9.3: PDU types ------------------------------------------------------
A_ASSOCIATE_RQ_TYPE = 0x01
A_ASSOCIATE_AC_TYPE = 0x02
A_ASSOCIATE_RJ_TYPE = 0x03
P_DATA_TF_TYPE = 0x04
A_RELEASE_RQ_TYPE = 0x05
A_RELEASE_RP_TYPE = 0x06
A_ABORT_TYPE = 0x07
PDU_HEADER_LENGTH = 6
#: PS3.8 Table 9-17: the fixed part of an A-ASSOCIATE-AC's variable field
#: (protocol version, reserved, two reserved AE title fields, 32 reserved bytes).
ASSOCIATE_AC_FIXED_LENGTH = 68

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1 DICOM Application Context Name
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"  # PS3.4 K.6.1.2
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # PS3.4 B.5
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
#: Transfer syntaxes the rogue can encode identifiers in, in order of preference.
SUPPORTED_TRANSFER_SYNTAXES = (IMPLICIT_VR_LE, EXPLICIT_VR_LE)
#: Well-known transfer syntaxes a scanner is unlikely to propose for C-ECHO/C-FIND;
#: the first one not proposed is "accepted" by the unproposed-transfer-syntax rogue.
UNPROPOSED_TRANSFER_SYNTAX_CANDIDATES = (
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline (Process 1)
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Image Compression (Lossless Only)
    "1.2.840.10008.1.2.5",  # RLE Lossless
)

# A 2.25 UUID-derived UID (PS3.5 B.2) of our own, so nobody mistakes the rogue for a product.
ROGUE_IMPLEMENTATION_CLASS_UID = "2.25.271828182845904523536028747135266249"
ROGUE_IMPLEMENTATION_VERSION_NAME = "ROGUE_PEER"
#: The largest P-DATA-TF variable field the rogue sends when the requestor sets no limit.
DEFAULT_MAX_PDU = 16384


class ContextResult(enum.IntEnum):
    """PS3.8 Table 9-18: the Result/Reason of a presentation context item in an AC."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


def pdu_header(pdu_type: int, length: int) -> bytes:
    """Type, reserved byte, 4-byte big-endian length (PS3.8 9.3.1)."""
    return struct.pack(">BBI", pdu_type, 0, length)


def encode_pdu(pdu_type: int, body: bytes) -> bytes:
    return pdu_header(pdu_type, len(body)) + body


@dataclass(frozen=True)
class Pdu:
    """One PDU as read off the wire: its type and its variable field."""

    type: int
    body: bytes

    @property
    def raw(self) -> bytes:
        return encode_pdu(self.type, self.body)


# -- association negotiation (PS3.8 9.3.2 - 9.3.4) -----------------------------
@dataclass(frozen=True)
class ProposedContext:
    """A presentation context item of an A-ASSOCIATE-RQ (PS3.8 9.3.2.2)."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True)
class UserIdentityRequest:
    """The User Identity sub-item of an A-ASSOCIATE-RQ (PS3.7 D.3.3.7.1), without its credentials."""

    kind: int  # User-Identity-Type: 1 username, 2 username and passcode, 3 Kerberos, 4 SAML, 5 JWT
    positive_response_requested: bool


@dataclass(frozen=True)
class AssociateRequest:
    """What the rogue learns from the requestor's A-ASSOCIATE-RQ."""

    called_aet: str
    calling_aet: str
    contexts: tuple[ProposedContext, ...]
    max_pdu: int  # Maximum Length Received (PS3.8 D.1); 0 means unlimited
    user_identity: UserIdentityRequest | None = None
    role_selections: tuple[str, ...] = ()  # SOP classes with an SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4)

    @classmethod
    def decode(cls, raw: bytes) -> AssociateRequest:
        """Decode a complete A-ASSOCIATE-RQ PDU (header included) with pynetdicom."""
        pdu = A_ASSOCIATE_RQ()
        pdu.decode(raw)
        primitive = pdu.to_primitive()
        contexts = tuple(
            ProposedContext(int(c.context_id), str(c.abstract_syntax), tuple(str(ts) for ts in c.transfer_syntax))
            for c in primitive.presentation_context_definition_list
        )
        identity = None
        roles = []
        for item in primitive.user_information:
            if isinstance(item, UserIdentityNegotiation):
                identity = UserIdentityRequest(int(item.user_identity_type), bool(item.positive_response_requested))
            elif isinstance(item, SCP_SCU_RoleSelectionNegotiation):
                roles.append(str(item.sop_class_uid))
        return cls(
            called_aet=str(primitive.called_ae_title).strip(),
            calling_aet=str(primitive.calling_ae_title).strip(),
            contexts=contexts,
            max_pdu=int(primitive.maximum_length_received or 0),
            user_identity=identity,
            role_selections=tuple(roles),
        )

    @property
    def fragment_limit(self) -> int:
        """The largest PDV value (fragment) the requestor accepts in one P-DATA-TF.

        The negotiated maximum length bounds the P-DATA-TF variable field;
        one PDV item costs 4 bytes of length plus 2 of header (PS3.8 9.3.5.1).
        """
        limit = self.max_pdu if self.max_pdu else DEFAULT_MAX_PDU
        return max(1, min(limit, DEFAULT_MAX_PDU) - 6)


@dataclass(frozen=True)
class AcceptedContext:
    """One presentation context result to put in an A-ASSOCIATE-AC."""

    context_id: int
    result: int
    transfer_syntax: str
    abstract_syntax: str = ""  # what the rogue thinks the context is for (not sent)

    @property
    def accepted(self) -> bool:
        return self.result == ContextResult.ACCEPTANCE


def negotiate(rq: AssociateRequest) -> tuple[AcceptedContext, ...]:
    """Accept every proposed context in the first transfer syntax the rogue can encode."""
    results = []
    for ctx in rq.contexts:
        usable = [ts for ts in ctx.transfer_syntaxes if ts in SUPPORTED_TRANSFER_SYNTAXES]
        if usable:
            results.append(AcceptedContext(ctx.context_id, ContextResult.ACCEPTANCE, usable[0], ctx.abstract_syntax))
        else:
            results.append(
                AcceptedContext(
                    ctx.context_id,
                    ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED,
                    ctx.transfer_syntaxes[0] if ctx.transfer_syntaxes else IMPLICIT_VR_LE,
                    ctx.abstract_syntax,
                )
            )
    return tuple(results)


def _user_information(max_pdu: int = DEFAULT_MAX_PDU) -> list[object]:
    max_len = MaximumLengthNotification()
    max_len.maximum_length_received = max_pdu
    impl_uid = ImplementationClassUIDNotification()
    impl_uid.implementation_class_uid = ROGUE_IMPLEMENTATION_CLASS_UID
    impl_ver = ImplementationVersionNameNotification()
    impl_ver.implementation_version_name = ROGUE_IMPLEMENTATION_VERSION_NAME
    return [max_len, impl_uid, impl_ver]


def encode_associate_ac(rq: AssociateRequest, results: Sequence[AcceptedContext]) -> bytes:
    """A well-formed A-ASSOCIATE-AC (PS3.8 9.3.3) with exactly ``results`` as its context items."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT
    primitive.called_ae_title = rq.called_aet or "ROGUE"
    primitive.calling_ae_title = rq.calling_aet or "ROGUE"
    primitive.result = 0
    items = []
    for r in results:
        item = PresentationContext()
        item.context_id = r.context_id
        item.result = r.result
        item.transfer_syntax = [r.transfer_syntax]
        items.append(item)
    primitive.presentation_context_definition_results_list = items
    primitive.user_information = _user_information()
    pdu = A_ASSOCIATE_AC()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


def encode_associate_rq(
    called_aet: str,
    calling_aet: str,
    abstract_syntaxes: Sequence[str],
    transfer_syntaxes: Sequence[str] = SUPPORTED_TRANSFER_SYNTAXES,
    max_pdu: int = DEFAULT_MAX_PDU,
    user_identity: tuple[bytes, bytes] | None = None,
) -> bytes:
    """An A-ASSOCIATE-RQ with contexts 1, 3, 5, ... (for the fixture's own raw clients).

    ``user_identity``: a (username, passcode) User Identity sub-item (type 2), positive response requested.
    """
    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT
    primitive.called_ae_title = called_aet
    primitive.calling_ae_title = calling_aet
    contexts = []
    for i, uid in enumerate(abstract_syntaxes):
        ctx = PresentationContext()
        ctx.context_id = 2 * i + 1
        ctx.abstract_syntax = uid
        ctx.transfer_syntax = list(transfer_syntaxes)
        contexts.append(ctx)
    primitive.presentation_context_definition_list = contexts
    user_information = _user_information(max_pdu)
    if user_identity is not None:
        identity = UserIdentityNegotiation()
        identity.user_identity_type = 2
        identity.positive_response_requested = True
        identity.primary_field, identity.secondary_field = user_identity
        user_information.append(identity)
    primitive.user_information = user_information
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


# -- raw user information sub-items (PS3.7 Annex D), for the rogues that bend them --------
USER_INFORMATION_ITEM = 0x50
ROLE_SELECTION_SUB_ITEM = 0x54
USER_IDENTITY_RESPONSE_SUB_ITEM = 0x59


def user_identity_response_item(response: bytes = b"", *, declared_length: int | None = None) -> bytes:
    """User Identity server response (PS3.7 D.3.3.7.2): type 0x59, reserved, item length, then the
    2-byte Server-response-length and the response; ``declared_length`` lies about the latter."""
    inner = struct.pack(">H", len(response) if declared_length is None else declared_length) + response
    return struct.pack(">BBH", USER_IDENTITY_RESPONSE_SUB_ITEM, 0, len(inner)) + inner


def role_selection_item(sop_class: str, *, scu: int, scp: int) -> bytes:
    """SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4): type 0x54, UID length, UID, SCU role, SCP role."""
    uid = sop_class.encode("ascii")
    inner = struct.pack(">H", len(uid)) + uid + bytes([scu, scp])
    return struct.pack(">BBH", ROLE_SELECTION_SUB_ITEM, 0, len(inner)) + inner


def with_user_sub_items(ac: bytes, *sub_items: bytes) -> bytes:
    """The A-ASSOCIATE-AC ``ac`` with raw ``sub_items`` appended to its user information item.

    The user information item's length and the PDU length are recomputed,
    so the AC stays well-formed at every level but the sub-items' own.
    """
    body = bytearray(ac[PDU_HEADER_LENGTH:])
    offset = ASSOCIATE_AC_FIXED_LENGTH
    while offset + 4 <= len(body):
        item_type = body[offset]
        length = int.from_bytes(body[offset + 2 : offset + 4], "big")
        if item_type == USER_INFORMATION_ITEM:
            extra = b"".join(sub_items)
            body[offset + 2 : offset + 4] = (length + len(extra)).to_bytes(2, "big")
            end = offset + 4 + length
            body[end:end] = extra
            return encode_pdu(A_ASSOCIATE_AC_TYPE, bytes(body))
        offset += 4 + length
    raise ValueError("the A-ASSOCIATE-AC has no user information item")


def encode_associate_rj(result: int, source: int, reason: int) -> bytes:
    """A-ASSOCIATE-RJ (PS3.8 9.3.4, Table 9-21): reserved, result, source, reason."""
    return encode_pdu(A_ASSOCIATE_RJ_TYPE, bytes([0, result, source, reason]))


def encode_abort(source: int = 0, reason: int = 0) -> bytes:
    """A-ABORT (PS3.8 9.3.8, Table 9-26): two reserved bytes, source, reason."""
    return encode_pdu(A_ABORT_TYPE, bytes([0, 0, source, reason]))


A_RELEASE_RQ_PDU = encode_pdu(A_RELEASE_RQ_TYPE, bytes(4))  # PS3.8 9.3.6
A_RELEASE_RP_PDU = encode_pdu(A_RELEASE_RP_TYPE, bytes(4))  # PS3.8 9.3.7


# -- P-DATA-TF (PS3.8 9.3.5, message control header: PS3.8 E.2) ----------------
MCH_COMMAND = 0x01  # bit 0: 1 = command, 0 = data set
MCH_LAST = 0x02  # bit 1: 1 = last fragment of the command / data set


@dataclass(frozen=True)
class Pdv:
    """A presentation data value item: context id, message control header, fragment."""

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes


def encode_pdv(context_id: int, data: bytes, *, command: bool, last: bool) -> bytes:
    """Item length (4 bytes, counts context id + header + fragment), context id, header, fragment."""
    mch = (MCH_COMMAND if command else 0) | (MCH_LAST if last else 0)
    return struct.pack(">IBB", len(data) + 2, context_id, mch) + data


def encode_p_data(*pdvs: bytes) -> bytes:
    return encode_pdu(P_DATA_TF_TYPE, b"".join(pdvs))


def decode_pdvs(body: bytes) -> list[Pdv]:
    """Split a P-DATA-TF variable field into its PDV items; ``ValueError`` when malformed."""
    pdvs: list[Pdv] = []
    offset = 0
    while offset < len(body):
        if len(body) - offset < 6:
            raise ValueError("truncated PDV item header")
        (length,) = struct.unpack_from(">I", body, offset)
        if length < 2 or offset + 4 + length > len(body):
            raise ValueError(f"PDV item length {length} does not fit the PDU")
        context_id, mch = body[offset + 4], body[offset + 5]
        pdvs.append(
            Pdv(context_id, bool(mch & MCH_COMMAND), bool(mch & MCH_LAST), body[offset + 6 : offset + 4 + length])
        )
        offset += 4 + length
    return pdvs


def fragments(data: bytes, limit: int) -> Iterator[tuple[bytes, bool]]:
    """``(fragment, is_last)`` pairs of at most ``limit`` bytes; one empty fragment for empty data."""
    if not data:
        yield b"", True
        return
    for start in range(0, len(data), limit):
        yield data[start : start + limit], start + limit >= len(data)


# -- DIMSE (PS3.7 9.3 and Annex E) ---------------------------------------------
class CommandField(enum.IntEnum):
    """PS3.7 Table E.1-1: (0000,0100) Command Field values used here."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    C_CANCEL_RQ = 0x0FFF


#: (0000,0800) Command Data Set Type: 0x0101 means no data set follows (PS3.7 E.1).
NO_DATA_SET = 0x0101
DATA_SET_PRESENT = 0x0000
STATUS_SUCCESS = 0x0000
STATUS_PENDING = 0xFF00  # PS3.4 C.4.1.1.4: pending, matches are continuing
STATUS_CANCEL = 0xFE00  # PS3.4 C.4.1.1.4, C.4.2.1.5: terminated by C-CANCEL
#: (0000,1021) Number of Completed Sub-operations, US (PS3.7 Table E.1-1).
NUMBER_OF_COMPLETED_SUBOPERATIONS = 0x00001021


def encode_dataset(ds: Dataset, *, implicit_vr: bool = True) -> bytes:
    """Little-endian encoding of ``ds`` with pydicom."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit_vr
    write_dataset(fp, ds)
    return fp.getvalue()


def decode_dataset(data: bytes, *, implicit_vr: bool = True) -> Dataset:
    return read_dataset(BytesIO(data), is_implicit_VR=implicit_vr, is_little_endian=True)


def encode_command(command: Dataset, *, group_length_error: int = 0) -> bytes:
    """A command set in implicit VR LE with its (0000,0000) CommandGroupLength (PS3.7 E.1).

    The group length counts the bytes after the group length element itself;
    ``group_length_error`` is added to it, for the rogues that lie about it.
    """
    body = Dataset()
    for elem in command:
        if elem.tag != 0x00000000:
            body.add(elem)
    length = len(encode_dataset(body))
    body.CommandGroupLength = length + group_length_error
    return encode_dataset(body)


def decode_command(data: bytes) -> Dataset:
    return decode_dataset(data, implicit_vr=True)


def response_command(
    command_field: int, *, responding_to: int, status: int | None, sop_class: str | None, has_data_set: bool = False
) -> Dataset:
    """A DIMSE response command set (PS3.7 9.3.x.2); ``status=None`` leaves Status out."""
    ds = Dataset()
    if sop_class:
        ds.AffectedSOPClassUID = sop_class
    ds.CommandField = command_field
    ds.MessageIDBeingRespondedTo = responding_to
    ds.CommandDataSetType = DATA_SET_PRESENT if has_data_set else NO_DATA_SET
    if status is not None:
        ds.Status = status
    return ds


def request_command(
    command_field: int, *, message_id: int, sop_class: str, has_data_set: bool, sop_instance: str | None = None
) -> Dataset:
    """A DIMSE request command set (PS3.7 9.3.x.1), e.g. the C-STORE-RQ of a C-GET sub-operation."""
    ds = Dataset()
    ds.AffectedSOPClassUID = sop_class
    ds.CommandField = command_field
    ds.MessageID = message_id
    ds.Priority = 0
    ds.CommandDataSetType = DATA_SET_PRESENT if has_data_set else NO_DATA_SET
    if sop_instance is not None:
        ds.AffectedSOPInstanceUID = sop_instance
    return ds


def suboperation_counts(*, remaining: int = 0, completed: int = 0, failed: int = 0, warning: int = 0) -> Dataset:
    """The four sub-operation counters of a C-GET/C-MOVE response (PS3.7 9.3.3.2, 9.3.4.2)."""
    ds = Dataset()
    ds.NumberOfRemainingSuboperations = remaining
    ds.NumberOfCompletedSuboperations = completed
    ds.NumberOfFailedSuboperations = failed
    ds.NumberOfWarningSuboperations = warning
    return ds


def replace_command_value(encoded: bytes, tag: int, value: bytes) -> bytes:
    """An encoded command set with the raw value of ``tag`` replaced (its length field follows it)
    and the CommandGroupLength recomputed: only that one element is wrong."""
    elements = []
    offset = 0
    while offset < len(encoded):
        group, element, length = struct.unpack_from("<HHI", encoded, offset)
        elem_tag = group << 16 | element
        raw = encoded[offset + 8 : offset + 8 + length]
        offset += 8 + length
        if elem_tag == 0x00000000:
            continue
        elements.append(
            element_header(elem_tag, "", len(value), implicit_vr=True) + value
            if elem_tag == tag
            else element_header(elem_tag, "", len(raw), implicit_vr=True) + raw
        )
    body = b"".join(elements)
    return element_header(0x00000000, "UL", 4, implicit_vr=True) + struct.pack("<I", len(body)) + body


@dataclass(frozen=True)
class DimseMessage:
    """A reassembled DIMSE request: its context, command set and (undecoded) data set."""

    context_id: int
    command: Dataset
    data_set: bytes | None

    @property
    def command_field(self) -> int:
        return int(self.command.get("CommandField", -1))

    @property
    def message_id(self) -> int:
        """(0000,0110) MessageID, or for C-CANCEL (0000,0120) MessageIDBeingRespondedTo."""
        if "MessageID" in self.command:
            return int(self.command.MessageID)
        return int(self.command.get("MessageIDBeingRespondedTo", 0))

    @property
    def sop_class(self) -> str | None:
        uid = self.command.get("AffectedSOPClassUID")
        return str(uid) if uid else None


# -- identifiers (PS3.4 C.4.1.1.3; PS3.5 7.1 data element encoding) ----------------
#: VRs whose explicit-VR length field is 4 bytes after 2 reserved bytes (PS3.5 Table 7.1-1).
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


def element_header(tag: int, vr: str, length: int, *, implicit_vr: bool) -> bytes:
    """The header of one little-endian data element, with whatever length it is told to declare."""
    group, element = tag >> 16, tag & 0xFFFF
    if implicit_vr:
        return struct.pack("<HHI", group, element, length)
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", group, element, vr.encode(), 0, length)
    return struct.pack("<HH2sH", group, element, vr.encode(), length)


SYNTHETIC_PATIENTS = (
    # PatientName, PatientID, PatientBirthDate, PatientSex: obviously invented people.
    ("DOE^JANE", "ROGUE-0001", "19700101", "F"),
    ("ROE^RICHARD", "ROGUE-0002", "19650312", "M"),
)
_STUDY_VALUES = {
    "StudyDate": "20240102",
    "StudyTime": "101500",
    "AccessionNumber": "ROGUEACC1",
    "StudyID": "1",
    "StudyDescription": "ROGUE SYNTHETIC STUDY",
    "ReferringPhysicianName": "WHO^DOCTOR",
    "ModalitiesInStudy": "CT",
}


def requested_level(identifier: Dataset | None) -> str:
    level = identifier.get("QueryRetrieveLevel", "") if identifier is not None else ""
    return str(level) or "PATIENT"


def synthetic_match(identifier: Dataset | None, index: int) -> Dataset:
    """A C-FIND match built from the request's keys (PS3.4 C.2.2.1), filled with synthetic values."""
    name, patient_id, birth, sex = SYNTHETIC_PATIENTS[index % len(SYNTHETIC_PATIENTS)]
    values = {
        "PatientName": name,
        "PatientID": patient_id if index < len(SYNTHETIC_PATIENTS) else f"ROGUE-{index + 1:06d}",
        "PatientBirthDate": birth,
        "PatientSex": sex,
        "StudyInstanceUID": f"2.25.{10**20 + index}",
        **_STUDY_VALUES,
    }
    match = Dataset()
    match.QueryRetrieveLevel = requested_level(identifier)
    keys = [e.keyword for e in identifier if e.keyword] if identifier is not None else []
    for keyword in keys or ["PatientName", "PatientID", "PatientBirthDate", "PatientSex"]:
        if keyword == "QueryRetrieveLevel":
            continue
        setattr(match, keyword, values.get(keyword, ""))
    return match


#: PS3.4 Table K.6-1: the Scheduled Procedure Step of every synthetic worklist item.
_SCHEDULED_STEP_VALUES = {
    "Modality": "CT",
    "ScheduledStationAETitle": "ROGUE",
    "ScheduledProcedureStepStartDate": "20240102",
    "ScheduledProcedureStepStartTime": "101500",
    "ScheduledPerformingPhysicianName": "WHO^TECHNICIAN",
    "ScheduledProcedureStepDescription": "ROGUE SYNTHETIC STEP",
    "ScheduledProcedureStepID": "SPS1",
}
_WORKLIST_VALUES = {
    "RequestedProcedureID": "RP1",
    "RequestedProcedureDescription": "ROGUE SYNTHETIC PROCEDURE",
}


def synthetic_worklist_item(identifier: Dataset | None, index: int) -> Dataset:
    """A Modality Worklist match (PS3.4 K.6.1.2): the request's keys filled with synthetic values,
    its ScheduledProcedureStepSequence answered with one filled item; no QueryRetrieveLevel."""
    base = synthetic_match(identifier, index)
    item = Dataset()
    requested = identifier.get("ScheduledProcedureStepSequence") if identifier is not None else None
    step_keys = [e.keyword for e in requested[0] if e.keyword] if requested else []
    for keyword in step_keys or list(_SCHEDULED_STEP_VALUES):
        setattr(item, keyword, _SCHEDULED_STEP_VALUES.get(keyword, ""))
    match = Dataset()
    for elem in base:
        if elem.keyword == "QueryRetrieveLevel":
            continue
        if elem.keyword == "ScheduledProcedureStepSequence":
            match.ScheduledProcedureStepSequence = [item]
        elif elem.keyword in _WORKLIST_VALUES:
            setattr(match, elem.keyword, _WORKLIST_VALUES[elem.keyword])
        else:
            match.add(elem)
    if "ScheduledProcedureStepSequence" not in match:
        match.ScheduledProcedureStepSequence = [item]
    return match


def overrun_worklist_item(*, implicit_vr: bool) -> bytes:
    """A worklist item whose Scheduled Procedure Step item holds a Modality declaring 0x20 bytes but
    carrying 2: it runs out of its item and its sequence into the elements that follow, yet stays
    inside the identifier (PS3.5 7.5.1 violated; only a walk of the nesting sees it)."""
    name = b"DOE^JANE"
    patient_id = b"ROGUE-0001"
    inner = element_header(0x00080060, "CS", 0x20, implicit_vr=implicit_vr) + b"CT"
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner
    reason = _even(b"ROGUE SYNTHETIC REASON FOR THE REQUEST")
    return (
        element_header(0x00100010, "PN", len(name), implicit_vr=implicit_vr)
        + name
        + element_header(0x00100020, "LO", len(patient_id), implicit_vr=implicit_vr)
        + patient_id
        + element_header(0x00400100, "SQ", len(item), implicit_vr=implicit_vr)
        + item
        + element_header(0x00401002, "LO", len(reason), implicit_vr=implicit_vr)
        + reason
    )


def overrun_identifier(level: str, *, implicit_vr: bool) -> bytes:
    """An identifier whose PatientName declares 0x1000 bytes but carries 10 (PS3.5 7.1.1 violated)."""
    level_value = _even(level.encode())
    name = b"DOE^JANE  "
    return (
        element_header(0x00080052, "CS", len(level_value), implicit_vr=implicit_vr)
        + level_value
        + element_header(0x00100010, "PN", 0x1000, implicit_vr=implicit_vr)
        + name
    )


#: (0040,A160) Text Value, UT: a 4-byte length in explicit VR too, so it can carry any size.
HUGE_VALUE_TAG = 0x0040A160


def huge_identifier_head(identifier: Dataset | None, value_length: int, *, implicit_vr: bool) -> bytes:
    """The first bytes of an identifier whose last element is a ``value_length``-byte Text Value.

    The caller streams the value itself; nothing of its size is built here.
    """
    head = Dataset()
    head.QueryRetrieveLevel = requested_level(identifier)
    head.PatientName = SYNTHETIC_PATIENTS[0][0]
    head.PatientID = SYNTHETIC_PATIENTS[0][1]
    return encode_dataset(head, implicit_vr=implicit_vr) + element_header(
        HUGE_VALUE_TAG, "UT", value_length, implicit_vr=implicit_vr
    )


def _even(value: bytes) -> bytes:
    return value + b" " if len(value) % 2 else value
