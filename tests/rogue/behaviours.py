"""The rogue peers: one well-behaved DICOM node and the many ways to misbehave.

:class:`Behaviour` is a small, correct DICOM acceptor: it decodes the
A-ASSOCIATE-RQ, accepts every proposed presentation context in implicit
(or explicit) VR little endian, ignores User Identity negotiation (no
server response), answers C-ECHO (success), C-FIND (two synthetic matches,
then success; a Modality Worklist C-FIND gets two synthetic worklist items),
C-GET and C-MOVE (final success with all four sub-operation counters 0: the
rogue holds no images), C-STORE (success) and A-RELEASE-RQ.  Everything the
requestor sends after the AC is recorded in :attr:`Behaviour.heard`.
Each misbehaviour is a subclass that overrides exactly the step it breaks;
its ``name`` is the listener's name, its ``level`` says whether the break
happens during association negotiation (``association``) or after a
well-formed A-ASSOCIATE-AC to a plain A-ASSOCIATE-RQ (``dimse``; the User
Identity rogues misbehave only when the RQ carries a user identity).

References: PS3.8 9.3 (PDU structures), PS3.8 Annex E (message control
header), PS3.7 9.3 and Annex E (DIMSE command sets), PS3.7 D.3.3.4 and
D.3.3.7 (role selection, user identity), PS3.4 C.4.1 - C.4.3 (C-FIND,
C-MOVE, C-GET), PS3.4 K.6 (Modality Worklist).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from pydicom.dataset import Dataset

from tests.rogue import wire
from tests.rogue.server import MAX_INBOUND_PDU, Connection, PeerGone

#: Bytes of a C-STORE data set (or any request data set) the rogue is willing to buffer.
MAX_REQUEST_DATA_SET = 16 * 1024 * 1024


@dataclass(frozen=True)
class Association:
    """One association as the rogue accepted it.

    ``number`` counts the behaviour's associations from 1; ``outstanding``
    holds requests answered with Pending whose final response is still due
    (by Message ID), for the rogues that finish them later.
    """

    rq: wire.AssociateRequest
    contexts: tuple[wire.AcceptedContext, ...]
    number: int = 0
    outstanding: dict[int, wire.DimseMessage] = field(default_factory=dict)

    def context(self, context_id: int) -> wire.AcceptedContext | None:
        return next((c for c in self.contexts if c.context_id == context_id), None)

    def implicit_vr(self, context_id: int) -> bool:
        ctx = self.context(context_id)
        return ctx is None or ctx.transfer_syntax != wire.EXPLICIT_VR_LE

    def unused_context_id(self) -> int:
        """An odd context id (PS3.8 9.3.2.2) that was neither proposed nor accepted."""
        taken = {c.context_id for c in self.rq.contexts} | {c.context_id for c in self.contexts}
        return next(i for i in range(255, 0, -2) if i not in taken)


class MessageAssembler:
    """Reassembles DIMSE messages from PDV fragments (PS3.8 E.2, PS3.7 6.3.1)."""

    def __init__(self) -> None:
        self._context_id: int | None = None
        self._command = bytearray()
        self._command_set: Dataset | None = None
        self._data = bytearray()

    def _reset(self) -> None:
        self._context_id, self._command_set = None, None
        self._command, self._data = bytearray(), bytearray()

    def feed(self, pdv: wire.Pdv) -> wire.DimseMessage | None:
        """Add one fragment; the message once its last fragment arrived."""
        if self._command_set is None:
            if not pdv.is_command:
                raise ValueError("data set fragment before the command set")
            self._context_id = pdv.context_id
            self._command += pdv.data
            if not pdv.is_last:
                return None
            self._command_set = wire.decode_command(bytes(self._command))
            if int(self._command_set.get("CommandDataSetType", wire.NO_DATA_SET)) == wire.NO_DATA_SET:
                return self._complete(None)
            return None
        if pdv.is_command:
            raise ValueError("command fragment while a data set was expected")
        self._data += pdv.data
        if len(self._data) > MAX_REQUEST_DATA_SET:
            raise PeerGone("request data set too large for the rogue")
        return self._complete(bytes(self._data)) if pdv.is_last else None

    def _complete(self, data_set: bytes | None) -> wire.DimseMessage:
        assert self._command_set is not None and self._context_id is not None
        message = wire.DimseMessage(self._context_id, self._command_set, data_set)
        self._reset()  # ready for the next message
        return message


@dataclass(frozen=True)
class Heard:
    """One thing the requestor sent on an accepted association: a DIMSE message or a closing PDU."""

    association: int
    pdu_type: int
    context_id: int | None = None
    command_field: int | None = None
    message_id: int | None = None
    status: int | None = None


def garbage(n: int, seed: str) -> bytes:
    """``n`` deterministic random bytes whose first byte (0xA5) is neither a PDU type nor a TLS record type."""
    return b"\xa5" + random.Random(seed).randbytes(n - 1)


class Behaviour:
    """A well-formed DICOM acceptor; subclasses break one step of it.

    A subclass that sets ``name`` is a listener of its own (registered in
    :attr:`registry`); intermediate classes set only ``level``.
    """

    name: ClassVar[str] = ""
    level: ClassVar[str] = "control"
    summary: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Behaviour]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in Behaviour.registry:
                raise ValueError(f"rogue behaviour {cls.name!r} defined twice")
            Behaviour.registry[cls.name] = cls

    def __init__(self) -> None:
        #: What the requestor sent after each AC, in order (list.append is atomic across handler threads).
        self.heard: list[Heard] = []
        self._numbers = itertools.count(1)

    def __repr__(self) -> str:
        return f"<rogue {self.name}>"

    def heard_on(self, association: int) -> list[Heard]:
        return [h for h in self.heard if h.association == association]

    # -- association ------------------------------------------------------------
    def handle(self, conn: Connection) -> None:
        """Serve one connection: read the A-ASSOCIATE-RQ, then answer as this behaviour does."""
        pdu_type, length = conn.read_header()
        if pdu_type != wire.A_ASSOCIATE_RQ_TYPE or length > MAX_INBOUND_PDU:
            return self.on_not_dicom(conn)
        body = conn.recv_exact(length)
        rq = wire.AssociateRequest.decode(wire.pdu_header(pdu_type, length) + body)
        self.on_associate_rq(conn, rq)

    def on_not_dicom(self, conn: Connection) -> None:
        """The first bytes were no A-ASSOCIATE-RQ (e.g. a TLS ClientHello): hang up."""

    def negotiate(self, rq: wire.AssociateRequest) -> tuple[wire.AcceptedContext, ...]:
        return wire.negotiate(rq)

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        assoc = Association(rq, self.negotiate(rq), next(self._numbers))
        conn.send(self.encode_ac(assoc))
        self.serve(conn, assoc)

    def encode_ac(self, assoc: Association) -> bytes:
        return wire.encode_associate_ac(assoc.rq, assoc.contexts)

    def serve(self, conn: Connection, assoc: Association) -> None:
        """The established association: P-DATA-TF until A-RELEASE-RQ or A-ABORT."""
        assembler = MessageAssembler()
        while True:
            pdu = conn.read_pdu()
            if pdu.type != wire.P_DATA_TF_TYPE:
                self.heard.append(Heard(assoc.number, pdu.type))
            if pdu.type == wire.A_RELEASE_RQ_TYPE:
                return self.on_release(conn, assoc)
            if pdu.type != wire.P_DATA_TF_TYPE:
                return  # A-ABORT or nonsense from the requestor: hang up
            for pdv in wire.decode_pdvs(pdu.body):
                message = assembler.feed(pdv)
                if message is not None:
                    status = message.command.get("Status")
                    self.heard.append(
                        Heard(
                            assoc.number,
                            pdu.type,
                            message.context_id,
                            message.command_field,
                            message.message_id,
                            None if status is None else int(status),
                        )
                    )
                    self.on_message(conn, assoc, message)

    def on_release(self, conn: Connection, assoc: Association) -> None:
        conn.send(wire.A_RELEASE_RP_PDU)  # PS3.8 7.2; the requestor then closes

    # -- DIMSE --------------------------------------------------------------------------
    def on_message(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        field = msg.command_field
        if field == wire.CommandField.C_ECHO_RQ:
            self.on_echo(conn, assoc, msg)
        elif field == wire.CommandField.C_FIND_RQ:
            self.on_find(conn, assoc, msg)
        elif field == wire.CommandField.C_STORE_RQ:
            self.on_store(conn, assoc, msg)
        elif field == wire.CommandField.C_GET_RQ:
            self.on_get(conn, assoc, msg)
        elif field == wire.CommandField.C_MOVE_RQ:
            self.on_move(conn, assoc, msg)
        elif field == wire.CommandField.C_CANCEL_RQ:
            self.on_cancel(conn, assoc, msg)
        elif field == wire.CommandField.C_STORE_RSP:
            self.on_store_rsp(conn, assoc, msg)
        # Anything else: no response

    def on_echo(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        self.respond(conn, assoc, msg, wire.CommandField.C_ECHO_RSP, wire.STATUS_SUCCESS)

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        identifier = self.request_identifier(assoc, msg)
        implicit = assoc.implicit_vr(msg.context_id)
        build = wire.synthetic_worklist_item if msg.sop_class == wire.MODALITY_WORKLIST_FIND else wire.synthetic_match
        for i in range(len(wire.SYNTHETIC_PATIENTS)):
            match = wire.encode_dataset(build(identifier, i), implicit_vr=implicit)
            self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_PENDING, data_set=match)
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_SUCCESS)

    def on_get(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        self.on_retrieve(conn, assoc, msg, wire.CommandField.C_GET_RSP)

    def on_move(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        self.on_retrieve(conn, assoc, msg, wire.CommandField.C_MOVE_RSP)

    def on_retrieve(self, conn: Connection, assoc: Association, msg: wire.DimseMessage, field: int) -> None:
        """C-GET/C-MOVE (PS3.4 C.4.2, C.4.3): the rogue holds no images, so nothing to do, at once."""
        self.respond(conn, assoc, msg, field, wire.STATUS_SUCCESS, extra=wire.suboperation_counts())

    def on_cancel(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        """C-CANCEL (PS3.7 9.3.2.3) has no response; nothing here is ever still running."""

    def on_store_rsp(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        """A C-STORE-RSP: only the rogues that send C-STORE sub-operations expect one."""

    def on_store(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        extra = Dataset()
        if "AffectedSOPInstanceUID" in msg.command:
            extra.AffectedSOPInstanceUID = msg.command.AffectedSOPInstanceUID
        self.respond(conn, assoc, msg, wire.CommandField.C_STORE_RSP, wire.STATUS_SUCCESS, extra=extra)

    @staticmethod
    def request_identifier(assoc: Association, msg: wire.DimseMessage) -> Dataset | None:
        if msg.data_set is None:
            return None
        try:
            return wire.decode_dataset(msg.data_set, implicit_vr=assoc.implicit_vr(msg.context_id))
        except Exception:
            return None

    # -- building and sending responses (the hooks most misbehaviours override) ----------
    def response_field(self, msg: wire.DimseMessage, field: int) -> int:
        return field

    def responding_to(self, msg: wire.DimseMessage) -> int:
        return msg.message_id

    def response_status(self, msg: wire.DimseMessage, status: int) -> int | None:
        return status

    def response_context(self, assoc: Association, msg: wire.DimseMessage) -> int:
        return msg.context_id

    def encode_response(self, command: Dataset) -> bytes:
        return wire.encode_command(command)

    def response(
        self, msg: wire.DimseMessage, field: int, status: int, *, has_data_set: bool, extra: Dataset | None = None
    ) -> bytes:
        """The encoded response command set, after every hook had its say."""
        command = wire.response_command(
            self.response_field(msg, field),
            responding_to=self.responding_to(msg),
            status=self.response_status(msg, status),
            sop_class=msg.sop_class,
            has_data_set=has_data_set,
        )
        if extra is not None:
            command.update(extra)
        return self.encode_response(command)

    def respond(
        self,
        conn: Connection,
        assoc: Association,
        msg: wire.DimseMessage,
        field: int,
        status: int,
        *,
        data_set: bytes | None = None,
        extra: Dataset | None = None,
    ) -> None:
        command = self.response(msg, field, status, has_data_set=data_set is not None, extra=extra)
        self.send_message(conn, assoc, self.response_context(assoc, msg), command, data_set)

    @staticmethod
    def send_message(
        conn: Connection, assoc: Association, context_id: int, command: bytes, data_set: bytes | None
    ) -> None:
        """Command then data set, each fragmented to the requestor's maximum PDU length (one PDV per PDU)."""
        limit = assoc.rq.fragment_limit
        pdus = [
            wire.encode_p_data(wire.encode_pdv(context_id, frag, command=True, last=last))
            for frag, last in wire.fragments(command, limit)
        ]
        if data_set is not None:
            pdus += [
                wire.encode_p_data(wire.encode_pdv(context_id, frag, command=False, last=last))
                for frag, last in wire.fragments(data_set, limit)
            ]
        conn.send(b"".join(pdus))


class OpenNode(Behaviour):
    name = "open"
    summary = (
        "well-formed, fully open node: accepts any AE titles and every context, ignores user identity, "
        "C-ECHO 0x0000, C-FIND two synthetic matches (DOE^JANE, ROE^RICHARD) then 0x0000 (worklist: two "
        "items with a Scheduled Procedure Step), C-GET/C-MOVE 0x0000 with zero sub-operations, C-STORE 0x0000"
    )


# =====================================================================================
# Association level: the A-ASSOCIATE-RQ gets a broken answer, or none.
# =====================================================================================
class _AssociationLevel(Behaviour):
    level = "association"


class AcTruncated(_AssociationLevel):
    name = "ac_truncated"
    summary = "A-ASSOCIATE-AC whose PDU length (40) is shorter than its 68-byte fixed part (PS3.8 Table 9-17)"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        full = wire.encode_associate_ac(rq, wire.negotiate(rq))
        conn.send(wire.pdu_header(wire.A_ASSOCIATE_AC_TYPE, 40) + full[6:46])
        conn.drain()


class AcUndecodable(_AssociationLevel):
    name = "ac_undecodable"
    summary = "A-ASSOCIATE-AC whose presentation context item declares 0x7FFF bytes, overrunning the PDU"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        ac = bytearray(wire.encode_associate_ac(rq, wire.negotiate(rq)))
        # Variable items start after the header and the fixed part; the first one is
        # the application context item (type 0x10), the next a presentation context item (0x21).
        offset = wire.PDU_HEADER_LENGTH + wire.ASSOCIATE_AC_FIXED_LENGTH
        offset += 4 + int.from_bytes(ac[offset + 2 : offset + 4], "big")
        assert ac[offset] == 0x21
        ac[offset + 2 : offset + 4] = (0x7FFF).to_bytes(2, "big")
        conn.send(bytes(ac))
        conn.drain()


class AcNoContexts(_AssociationLevel):
    name = "ac_no_contexts"
    summary = "A-ASSOCIATE-AC without any presentation context result item"

    def negotiate(self, rq: wire.AssociateRequest) -> tuple[wire.AcceptedContext, ...]:
        return ()


class AcForeignContextIds(_AssociationLevel):
    name = "ac_foreign_context_ids"
    summary = "A-ASSOCIATE-AC accepting presentation context ids that were never proposed"

    def negotiate(self, rq: wire.AssociateRequest) -> tuple[wire.AcceptedContext, ...]:
        proposed = {c.context_id for c in rq.contexts}
        free = (i for i in range(255, 0, -2) if i not in proposed)
        return tuple(
            wire.AcceptedContext(next(free), c.result, c.transfer_syntax, c.abstract_syntax) for c in wire.negotiate(rq)
        )


class AcUnproposedTransferSyntax(_AssociationLevel):
    name = "ac_unproposed_transfer_syntax"
    summary = "A-ASSOCIATE-AC accepting each context in a transfer syntax that was not proposed for it"

    def negotiate(self, rq: wire.AssociateRequest) -> tuple[wire.AcceptedContext, ...]:
        results = []
        for ctx in rq.contexts:
            ts = next(t for t in wire.UNPROPOSED_TRANSFER_SYNTAX_CANDIDATES if t not in ctx.transfer_syntaxes)
            results.append(wire.AcceptedContext(ctx.context_id, wire.ContextResult.ACCEPTANCE, ts, ctx.abstract_syntax))
        return tuple(results)


class AcHugeLength(_AssociationLevel):
    name = "ac_huge_length"
    summary = "A-ASSOCIATE-AC header announcing 0xFFFFFFF0 bytes, then its fixed part, then silence"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        full = wire.encode_associate_ac(rq, wire.negotiate(rq))
        conn.send(wire.pdu_header(wire.A_ASSOCIATE_AC_TYPE, 0xFFFFFFF0) + full[6 : 6 + wire.ASSOCIATE_AC_FIXED_LENGTH])
        conn.drain()


class CloseAfterRq(_AssociationLevel):
    name = "close_after_rq"
    summary = "reads the A-ASSOCIATE-RQ and closes the connection without any reply"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        return


class RjReservedReason(_AssociationLevel):
    name = "rj_reserved_reason"
    summary = "A-ASSOCIATE-RJ with source 1 and the reserved reason 5 (PS3.8 Table 9-21)"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        conn.send(wire.encode_associate_rj(result=1, source=1, reason=5))
        conn.drain()


class RjWrongLength(_AssociationLevel):
    name = "rj_wrong_length"
    summary = "A-ASSOCIATE-RJ with PDU length 10 instead of the fixed 4 (plausible result/source/reason first)"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        conn.send(wire.pdu_header(wire.A_ASSOCIATE_RJ_TYPE, 10) + bytes([0, 1, 1, 1]) + bytes(6))
        conn.drain()


class AbortBadLength(_AssociationLevel):
    name = "abort_bad_length"
    summary = "A-ABORT with PDU length 2 (too short for source and reason; PS3.8 Table 9-26), then close"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        conn.send(wire.pdu_header(wire.A_ABORT_TYPE, 2) + bytes(2))


class UnknownPduReply(_AssociationLevel):
    name = "unknown_pdu_reply"
    summary = "answers the A-ASSOCIATE-RQ with a PDU of the undefined type 0x09"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        conn.send(wire.encode_pdu(0x09, bytes(4)))
        conn.drain()


class Silent(_AssociationLevel):
    name = "silent"
    summary = "accepts the connection, reads everything, never answers"

    def handle(self, conn: Connection) -> None:
        conn.drain()


DRIP_INTERVAL = 0.5


class Drip(_AssociationLevel):
    name = "drip"
    summary = f"after the first bytes, sends one byte every {DRIP_INTERVAL} s forever (an AC header, then zeros)"

    def handle(self, conn: Connection) -> None:
        conn.recv_some()  # the A-ASSOCIATE-RQ, or a TLS ClientHello: the answer is the same
        for byte in self._stream():
            conn.send(byte)
            conn.sleep(DRIP_INTERVAL)

    @staticmethod
    def _stream() -> Iterator[bytes]:
        for b in wire.pdu_header(wire.A_ASSOCIATE_AC_TYPE, 0x1000):
            yield bytes([b])
        while True:
            yield b"\x00"


class Garbage(_AssociationLevel):
    name = "garbage"
    summary = "answers whatever arrives first with 512 random bytes, then closes"

    def handle(self, conn: Connection) -> None:
        conn.recv_some()
        conn.send(garbage(512, self.name))


class TlsGarbage(_AssociationLevel):
    name = "tls_garbage"
    summary = "a 'TLS port' answering everything (plaintext RQ or ClientHello) with random bytes, keeping the line open"

    def handle(self, conn: Connection) -> None:
        while True:
            conn.recv_some()
            conn.send(self.answer())

    def answer(self) -> bytes:
        return garbage(256, self.name)


class TlsRecordGarbage(TlsGarbage):
    name = "tls_record_garbage"
    summary = "like tls_garbage, but each answer starts like a TLS 1.2 handshake record (16 03 03 ...)"

    def answer(self) -> bytes:
        body = garbage(256, self.name)
        return bytes([0x16, 0x03, 0x03]) + len(body).to_bytes(2, "big") + body


class AcUnrequestedIdentityResponse(_AssociationLevel):
    name = "ac_unrequested_identity_response"
    summary = "every A-ASSOCIATE-AC carries a User Identity server response (0x59), requested or not"

    def encode_ac(self, assoc: Association) -> bytes:
        return wire.with_user_sub_items(super().encode_ac(assoc), wire.user_identity_response_item())


class AcUnrequestedRoleSelection(_AssociationLevel):
    name = "ac_unrequested_role_selection"
    summary = "every A-ASSOCIATE-AC answers an SCP/SCU role selection (0x54) for a SOP class nobody proposed one for"

    def encode_ac(self, assoc: Association) -> bytes:
        uid = next(
            (c.abstract_syntax for c in assoc.rq.contexts if c.abstract_syntax not in assoc.rq.role_selections),
            wire.SECONDARY_CAPTURE,
        )
        return wire.with_user_sub_items(super().encode_ac(assoc), wire.role_selection_item(uid, scu=0, scp=1))


# =====================================================================================
# After a well-formed A-ASSOCIATE-AC: the DIMSE exchange or the release goes wrong.
# =====================================================================================
class _DimseLevel(Behaviour):
    level = "dimse"


class EchoPending(_DimseLevel):
    name = "echo_pending"
    summary = "C-ECHO answered with status 0xFF00 (Pending), which C-ECHO does not have"

    def on_echo(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        self.respond(conn, assoc, msg, wire.CommandField.C_ECHO_RSP, wire.STATUS_PENDING)


class WrongCommandField(_DimseLevel):
    name = "wrong_command_field"
    summary = "C-ECHO answered with a C-FIND-RSP command field, C-FIND and C-STORE with a C-ECHO-RSP"

    def response_field(self, msg: wire.DimseMessage, field: int) -> int:
        if field == wire.CommandField.C_ECHO_RSP:
            return wire.CommandField.C_FIND_RSP
        return wire.CommandField.C_ECHO_RSP

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_SUCCESS)


class WrongMessageId(_DimseLevel):
    name = "wrong_message_id"
    summary = "every response carries MessageIDBeingRespondedTo = the request's MessageID + 1"

    def responding_to(self, msg: wire.DimseMessage) -> int:
        return (msg.message_id + 1) & 0xFFFF


class ForeignContextPData(_DimseLevel):
    name = "foreign_context_pdata"
    summary = "every response travels in P-DATA on a presentation context id that was not accepted"

    def response_context(self, assoc: Association, msg: wire.DimseMessage) -> int:
        return assoc.unused_context_id()


class FindOverrunIdentifier(_DimseLevel):
    name = "find_overrun_identifier"
    summary = "C-FIND pending response whose PatientName declares 0x1000 bytes but has 10, then success"

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        level = wire.requested_level(self.request_identifier(assoc, msg))
        broken = wire.overrun_identifier(level, implicit_vr=assoc.implicit_vr(msg.context_id))
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_PENDING, data_set=broken)
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_SUCCESS)


class PDataHugeHeader(_DimseLevel):
    name = "pdata_huge_header"
    summary = "any DIMSE request answered by a P-DATA-TF header announcing 0xFFFFFFF0 bytes, then silence"

    def on_message(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        conn.send(wire.pdu_header(wire.P_DATA_TF_TYPE, 0xFFFFFFF0))
        conn.drain()


class PDataUnknownPdu(_DimseLevel):
    name = "pdata_unknown_pdu"
    summary = "any DIMSE request answered by a PDU of the undefined type 0x09"

    def on_message(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        conn.send(wire.encode_pdu(0x09, bytes(4)))


class EndlessUndecodableFind(_DimseLevel):
    name = "endless_undecodable_find"
    summary = "C-FIND answered by endless Pending responses with undecodable identifiers; C-CANCEL ignored"

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        level = wire.requested_level(self.request_identifier(assoc, msg))
        broken = wire.overrun_identifier(level, implicit_vr=assoc.implicit_vr(msg.context_id))
        while True:  # until the scanner hangs up or the server stops
            self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_PENDING, data_set=broken)


class EndlessPendingFind(_DimseLevel):
    name = "endless_pending_find"
    summary = "C-FIND answered by endless well-formed Pending matches; C-CANCEL ignored (a real exposure)"

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        identifier = self.request_identifier(assoc, msg)
        implicit = assoc.implicit_vr(msg.context_id)
        index = 0
        while True:  # until the scanner hangs up or the server stops
            match = wire.encode_dataset(wire.synthetic_match(identifier, index), implicit_vr=implicit)
            self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_PENDING, data_set=match)
            index += 1


HUGE_VALUE_BYTES = 50 * 1024 * 1024


class HugeValueFind(_DimseLevel):
    name = "huge_value_find"
    summary = "C-FIND pending response whose identifier ends in one 50 MiB Text Value, streamed in <=16 KiB PDVs"

    def __init__(self, value_bytes: int = HUGE_VALUE_BYTES) -> None:
        super().__init__()
        self.value_bytes = value_bytes
        self.streamed: list[int] = []  # bytes of P-DATA handed to the kernel, per C-FIND served

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        identifier = self.request_identifier(assoc, msg)
        implicit = assoc.implicit_vr(msg.context_id)
        context_id = msg.context_id
        limit = assoc.rq.fragment_limit
        command = self.response(msg, wire.CommandField.C_FIND_RSP, wire.STATUS_PENDING, has_data_set=True)
        head = wire.huge_identifier_head(identifier, self.value_bytes, implicit_vr=implicit)
        self.send_message(conn, assoc, context_id, command, None)
        conn.send(wire.encode_p_data(wire.encode_pdv(context_id, head, command=False, last=False)))
        filler = b"A" * limit  # the one buffer reused for the whole value: nothing of 50 MiB is built
        remaining = self.value_bytes
        batch: list[bytes] = []
        self.streamed.append(0)
        while remaining:
            size = min(limit, remaining)
            remaining -= size
            batch.append(
                wire.encode_p_data(wire.encode_pdv(context_id, filler[:size], command=False, last=remaining == 0))
            )
            if len(batch) == 16 or not remaining:
                conn.send(b"".join(batch))
                self.streamed[-1] += sum(len(p) for p in batch)
                batch.clear()
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_SUCCESS)


class NoReleaseRp(_DimseLevel):
    name = "no_release_rp"
    summary = "serves well, but never answers A-RELEASE-RQ (holds the connection open silently)"

    def on_release(self, conn: Connection, assoc: Association) -> None:
        conn.drain()


class CommandBadGroupLength(_DimseLevel):
    name = "cmd_bad_group_length"
    summary = "every response's CommandGroupLength (0000,0000) is 8 bytes too large"

    def encode_response(self, command: Dataset) -> bytes:
        return wire.encode_command(command, group_length_error=8)


class CommandTruncated(_DimseLevel):
    name = "cmd_truncated"
    summary = "every response command set is cut 3 bytes short inside its last element (group length intact)"

    def encode_response(self, command: Dataset) -> bytes:
        return wire.encode_command(command)[:-3]


class DimseClose(_DimseLevel):
    name = "dimse_close"
    summary = "accepts the association, then closes the connection on the first DIMSE request"

    def on_message(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        raise PeerGone("closing on purpose")


class ResponseWithoutStatus(_DimseLevel):
    name = "rsp_missing_status"
    summary = "every response command set lacks the mandatory Status (0000,0900)"

    def response_status(self, msg: wire.DimseMessage, status: int) -> int | None:
        return None


class WorklistOverrunItem(_DimseLevel):
    name = "worklist_overrun_item"
    summary = (
        "Modality Worklist C-FIND: a pending item whose Scheduled Procedure Step item holds a Modality "
        "declaring 0x20 bytes (it has 2), then success; other C-FINDs answered well"
    )

    def on_find(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        if msg.sop_class != wire.MODALITY_WORKLIST_FIND:
            return super().on_find(conn, assoc, msg)
        broken = wire.overrun_worklist_item(implicit_vr=assoc.implicit_vr(msg.context_id))
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_PENDING, data_set=broken)
        self.respond(conn, assoc, msg, wire.CommandField.C_FIND_RSP, wire.STATUS_SUCCESS)


# -- C-GET and C-MOVE ------------------------------------------------------------------
class GetWrongMessageId(_DimseLevel):
    name = "get_wrong_message_id"
    summary = "C-GET-RSP (success, zero sub-operations) answers the request's MessageID + 1; all else well"

    def responding_to(self, msg: wire.DimseMessage) -> int:
        if msg.command_field == wire.CommandField.C_GET_RQ:
            return (msg.message_id + 1) & 0xFFFF
        return super().responding_to(msg)


class GetUndefinedStatus(_DimseLevel):
    name = "get_undefined_status"
    summary = "C-GET answered with final status 0xB007 (a C-STORE warning, not a C-GET status) and zero sub-operations"

    def on_get(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        extra = wire.suboperation_counts()
        self.respond(conn, assoc, msg, wire.CommandField.C_GET_RSP, 0xB007, extra=extra)


class MoveUndefinedStatus(_DimseLevel):
    name = "move_undefined_status"
    summary = (
        "C-MOVE answered with final status 0xB007 (a C-STORE warning, not a C-MOVE status) and zero sub-operations"
    )
    status: ClassVar[int] = 0xB007  # PS3.4 B.2.3 "Data Set does not match SOP Class"; PS3.4 C.4.2.1.5 has no 0xB007

    def on_move(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        extra = wire.suboperation_counts()
        self.respond(conn, assoc, msg, wire.CommandField.C_MOVE_RSP, self.status, extra=extra)


class MoveUnknownStatus(MoveUndefinedStatus):
    name = "move_unknown_status"
    summary = "C-MOVE answered with final status 0x1234 (assigned to nothing in DICOM) and zero sub-operations"
    status = 0x1234


class MovePrematureCancel(MoveUndefinedStatus):
    name = "move_premature_cancel"
    summary = "C-MOVE answered at once with final status 0xFE00 (Cancel) although no C-CANCEL was sent"
    status = wire.STATUS_CANCEL


class MoveCounterWrongLength(_DimseLevel):
    name = "move_counter_wrong_length"
    summary = (
        "final C-MOVE-RSP (success) whose NumberOfCompletedSuboperations (US) is 4 bytes long: two values, "
        "not one (group length intact)"
    )

    def encode_response(self, command: Dataset) -> bytes:
        encoded = super().encode_response(command)
        if command.get("CommandField") != wire.CommandField.C_MOVE_RSP:
            return encoded
        return wire.replace_command_value(encoded, wire.NUMBER_OF_COMPLETED_SUBOPERATIONS, bytes(4))


class MovePendingThenCancel(_DimseLevel):
    name = "move_pending_then_cancel"
    summary = (
        "C-MOVE of anything: Pending with 5 remaining sub-operations, then on C-CANCEL the final 0xFE00 "
        "(C-CANCELs received are recorded)"
    )
    remaining: ClassVar[int] = 5

    def __init__(self) -> None:
        super().__init__()
        self.cancels: list[tuple[int, int]] = []  # (association number, MessageIDBeingRespondedTo)

    def on_move(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        assoc.outstanding[msg.message_id] = msg
        extra = wire.suboperation_counts(remaining=self.remaining)
        self.respond(conn, assoc, msg, wire.CommandField.C_MOVE_RSP, wire.STATUS_PENDING, extra=extra)

    def on_cancel(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        self.cancels.append((assoc.number, msg.message_id))
        original = assoc.outstanding.pop(msg.message_id, None)
        if original is not None:  # PS3.4 C.4.2.3.2: the final response to a cancelled C-MOVE is Cancel
            extra = wire.suboperation_counts(remaining=self.remaining)
            self.respond(conn, assoc, original, wire.CommandField.C_MOVE_RSP, wire.STATUS_CANCEL, extra=extra)


class EndlessPendingRetrieve(_DimseLevel):
    name = "endless_pending_retrieve"
    summary = "C-GET and C-MOVE answered by endless Pending responses with all four counters 0; C-CANCEL ignored"

    def on_retrieve(self, conn: Connection, assoc: Association, msg: wire.DimseMessage, field: int) -> None:
        command = self.response(msg, field, wire.STATUS_PENDING, has_data_set=False, extra=wire.suboperation_counts())
        burst = b"".join(
            wire.encode_p_data(wire.encode_pdv(msg.context_id, command, command=True, last=True)) for _ in range(64)
        )
        while True:  # until the scanner hangs up or the server stops
            conn.send(burst)


class _GetSendsStore(_DimseLevel):
    """Answers C-GET with a C-STORE-RQ sub-operation (a synthetic object) on :meth:`store_context`.

    ``stores_sent`` lists the associations where it did; should a C-STORE-RSP
    come back, the C-GET is finished with success (1 completed) or failure
    (1 failed), so a scanner that plays along reaches a verdict.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stores_sent: list[int] = []

    def store_context(self, assoc: Association, msg: wire.DimseMessage) -> int:
        raise NotImplementedError

    def on_get(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        assoc.outstanding[msg.message_id] = msg
        instance = f"2.25.{10**21 + assoc.number}"
        command = wire.request_command(
            wire.CommandField.C_STORE_RQ,
            message_id=0x7E00 + assoc.number % 0x100,
            sop_class=wire.SECONDARY_CAPTURE,
            has_data_set=True,
            sop_instance=instance,
        )
        obj = Dataset()
        obj.SOPClassUID = wire.SECONDARY_CAPTURE
        obj.SOPInstanceUID = instance
        obj.PatientName, obj.PatientID = wire.SYNTHETIC_PATIENTS[0][:2]
        context_id = self.store_context(assoc, msg)
        data = wire.encode_dataset(obj, implicit_vr=assoc.implicit_vr(context_id))
        self.stores_sent.append(assoc.number)
        self.send_message(conn, assoc, context_id, wire.encode_command(command), data)

    def on_store_rsp(self, conn: Connection, assoc: Association, msg: wire.DimseMessage) -> None:
        for original in list(assoc.outstanding.values()):
            del assoc.outstanding[original.message_id]
            stored = int(msg.command.get("Status", 0xFFFF)) == wire.STATUS_SUCCESS
            extra = wire.suboperation_counts(completed=int(stored), failed=int(not stored))
            self.respond(conn, assoc, original, wire.CommandField.C_GET_RSP, wire.STATUS_SUCCESS, extra=extra)


class GetStoreOnGetContext(_GetSendsStore):
    name = "get_store_on_get_context"
    summary = "C-GET answered by a C-STORE-RQ sub-operation on the C-GET's own presentation context"

    def store_context(self, assoc: Association, msg: wire.DimseMessage) -> int:
        return msg.context_id


class GetStoreOnForeignContext(_GetSendsStore):
    name = "get_store_on_foreign_context"
    summary = "C-GET answered by a C-STORE-RQ sub-operation on a presentation context id that was not accepted"

    def store_context(self, assoc: Association, msg: wire.DimseMessage) -> int:
        return assoc.unused_context_id()


class GetStoreOnOtherContext(_GetSendsStore):
    name = "get_store_on_other_context"
    summary = (
        "C-GET answered by a C-STORE-RQ sub-operation on another accepted context (no SCP role was negotiated for it)"
    )

    def store_context(self, assoc: Association, msg: wire.DimseMessage) -> int:
        others = [c.context_id for c in assoc.contexts if c.accepted and c.context_id != msg.context_id]
        return others[0] if others else assoc.unused_context_id()


# -- User Identity (PS3.7 D.3.3.7): only an RQ with a User Identity sub-item is answered differently --------
class _IdentityAware(_DimseLevel):
    """Well-formed AC to a plain RQ; ``identity_asked`` counts the RQs that carried a user identity."""

    def __init__(self) -> None:
        super().__init__()
        self.identity_asked = 0

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        if rq.user_identity is not None:
            self.identity_asked += 1
        super().on_associate_rq(conn, rq)


class IdentityResponse(_IdentityAware):
    name = "identity_response"
    summary = "accepts a user identity with a well-formed, empty server response (0x59) when one is requested"

    def encode_ac(self, assoc: Association) -> bytes:
        ac = super().encode_ac(assoc)
        identity = assoc.rq.user_identity
        if identity is None or not identity.positive_response_requested:
            return ac
        # PS3.7 D.3.3.7.2: for a username (and passcode) the server response is empty.
        return wire.with_user_sub_items(ac, wire.user_identity_response_item())


class IdentityResponseBadLength(_IdentityAware):
    name = "identity_response_bad_length"
    summary = (
        "when a user identity is requested, the AC's 0x59 says its server response has 8 bytes and carries 0 "
        "(the sub-item length itself is right)"
    )

    def encode_ac(self, assoc: Association) -> bytes:
        ac = super().encode_ac(assoc)
        if assoc.rq.user_identity is None:
            return ac
        return wire.with_user_sub_items(ac, wire.user_identity_response_item(b"", declared_length=8))


class RjOnUserIdentity(_IdentityAware):
    name = "rj_on_user_identity"
    summary = "rejects (A-ASSOCIATE-RJ 1/1/1) only an RQ that carries a user identity; open otherwise"

    def on_associate_rq(self, conn: Connection, rq: wire.AssociateRequest) -> None:
        if rq.user_identity is None:
            return super().on_associate_rq(conn, rq)
        self.identity_asked += 1
        conn.send(wire.encode_associate_rj(result=1, source=1, reason=1))
        conn.drain()


# =====================================================================================
def behaviour_names() -> list[str]:
    return list(Behaviour.registry)


def get_behaviour(name: str) -> Behaviour:
    """A fresh instance of the behaviour called ``name``."""
    try:
        return Behaviour.registry[name]()
    except KeyError:
        raise KeyError(f"unknown rogue behaviour {name!r} (known: {', '.join(Behaviour.registry)})") from None


def all_behaviours() -> list[Behaviour]:
    return [cls() for cls in Behaviour.registry.values()]
