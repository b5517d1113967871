"""Associations and DIMSE operations against a node the scanner does not trust.

One way to associate for every check: :func:`associate` opens a connection
(plaintext or TLS) under the target's :class:`~dicomaudit.net.wire.Budget`,
sends an A-ASSOCIATE-RQ, and decodes the answer strictly
(:mod:`dicomaudit.net.pdu`); the operations (:func:`echo`, :func:`find`,
:func:`store`) send requests encoded by pynetdicom and accept only responses
that :mod:`dicomaudit.net.dimse` validates.

Every operation returns a reply with exactly one of: a status (the node
answered well-formedly), an ``abort`` (the node sent a well-formed A-ABORT,
a refusal), or a ``failure`` (a :class:`~dicomaudit.net.wire.PeerError`:
nothing was decided, and its ``code`` says why).  No thread is started; the
association is released (or aborted, after a failure) before the context
manager exits, and the socket is always closed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import status as status_tables
from pynetdicom.status import code_to_category

from dicomaudit.net import dimse
from dicomaudit.net.outcome import Abort, AssociationAttempt, Outcome, Rejection, TlsInfo, Transport
from dicomaudit.net.pdu import (
    MAX_ASSOCIATION_PDU,
    MAX_PDU,
    RESULT_TEXT,
    Acceptance,
    ContextResult,
    Pdv,
    Proposal,
    UserIdentity,
    decode_abort,
    decode_ac,
    decode_p_data,
    decode_rj,
    encode_abort,
    encode_p_data,
    encode_release_rq,
)
from dicomaudit.net.tls import TlsSettings, describe_certificate
from dicomaudit.net.wire import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_RELEASE_RP,
    P_DATA_TF,
    Budget,
    BudgetExhausted,
    ConnectionLost,
    Interrupted,
    NotAPdu,
    PeerClosed,
    PeerError,
    PeerStream,
    PeerTimeout,
    ProtocolViolation,
    TlsFailure,
    hex_evidence,
    looks_like_tls,
)

#: Waiting for A-RELEASE-RP never takes longer than this (or the step timeout).
RELEASE_WAIT = 2.0
#: A C-STORE sub-operation of a C-GET carries a whole object; the target's
#: byte allowance bounds it too.
MAX_SUBOPERATION_BYTES = 64 * 1024 * 1024
#: A C-GET/C-MOVE answers with a few pending responses per sub-operation; a
#: node still streaming after this many is aborted.
MAX_RETRIEVE_RESPONSES = 500

#: Called with each C-STORE sub-operation a node sends (request, data set bytes,
#: transfer syntax); returns the C-STORE-RSP status to answer with.
StoreHandler = Callable[[dimse.IncomingStore, bytes, str], int]


def sop_name(uid: str) -> str:
    """Human name of a SOP class UID from pydicom's UID dictionary, or the UID itself."""
    name = UID(uid).name
    return name if name and name != uid else uid


def describe_status(code: int | None, service: str = "verification") -> dict[str, Any]:
    """A DIMSE status with pynetdicom's category and description for the service (PS3.4, PS3.7 Annex C)."""
    if code is None:
        return {"code": None, "category": "no response"}
    table = dimse.SERVICE_STATUS.get(service, status_tables.GENERAL_STATUS)
    category, description = table.get(code, (code_to_category(code), ""))
    d: dict[str, Any] = {"code": f"0x{code:04X}", "category": category}
    if description:
        d["description"] = description
    return d


class PeerAborted(Exception):
    """The node sent a well-formed A-ABORT during an operation."""

    def __init__(self, abort: Abort) -> None:
        super().__init__(abort.text)
        self.abort = abort


def _outcome_of(error: PeerError) -> Outcome:
    if isinstance(error, Interrupted):
        return Outcome.INTERRUPTED  # the operator's Ctrl-C, not anything the node did
    if isinstance(error, ProtocolViolation):
        return Outcome.PROTOCOL_VIOLATION
    if isinstance(error, PeerTimeout):
        return Outcome.TIMEOUT
    if isinstance(error, BudgetExhausted):
        return Outcome.BUDGET_EXHAUSTED
    if isinstance(error, TlsFailure):
        return Outcome.TLS_FAILED
    if isinstance(error, ConnectionLost):
        if error.refused:
            return Outcome.REFUSED
        if error.unreachable:
            return Outcome.UNREACHABLE
        return Outcome.CLOSED
    return Outcome.PROTOCOL_VIOLATION


@dataclass
class Session:
    """An association attempt and, if accepted, the live association."""

    attempt: AssociationAttempt
    budget: Budget
    stream: PeerStream | None = None
    acceptance: Acceptance | None = None
    broken: bool = False  # an operation failed or was aborted: no further request on this association
    ended: bool = False  # A-ABORT sent or received, or released: nothing more to send
    release_note: str | None = None
    _message_id: int = 0
    _pdvs: deque[Pdv] = field(default_factory=deque)

    def context(self, abstract_syntax: str) -> ContextResult | None:
        return self.acceptance.context_for(abstract_syntax) if self.acceptance else None

    def accepted(self, abstract_syntax: str) -> bool:
        return self.context(abstract_syntax) is not None

    def next_message_id(self) -> int:
        self._message_id = self._message_id % 0xFFFF + 1
        return self._message_id

    # -- sending -----------------------------------------------------------------
    def send_message(self, context: ContextResult, command: bytes, data_set: bytes | None = None) -> None:
        assert self.stream is not None and self.acceptance is not None
        for pdu in encode_p_data(context.context_id, True, command, self.acceptance.max_pdu):
            self.stream.send(pdu, "sending a DIMSE request")
        if data_set is not None:
            for pdu in encode_p_data(context.context_id, False, data_set, self.acceptance.max_pdu):
                self.stream.send(pdu, "sending a data set")

    # -- receiving ---------------------------------------------------------------
    def _next_pdv(self) -> Pdv:
        assert self.stream is not None
        while not self._pdvs:
            pdu = self.stream.read_pdu(MAX_PDU, "waiting for a DIMSE response")
            if pdu.type == P_DATA_TF:
                self._pdvs.extend(decode_p_data(pdu))
            elif pdu.type == A_ABORT:
                fields = decode_abort(pdu)
                raise PeerAborted(Abort(fields.source, fields.reason))
            else:
                raise ProtocolViolation(f"{pdu.name} received while waiting for a DIMSE response", pdu.raw)
        return self._pdvs.popleft()

    def _reassemble(
        self, first: Pdv, limit: int, *, status_detail: bool = False
    ) -> tuple[Dataset, bytes, bytes | None]:
        """One whole message starting with ``first``: (command, raw command, data set or ``None``).

        PS3.8 Annex E.2: a message's fragments arrive in order on one
        presentation context, the command before the data set, and are not
        interleaved with another message's.
        """
        context_id = first.context_id
        command = bytearray()
        data: bytearray | None = None
        parsed: Dataset | None = None
        size = 0
        pdv = first
        while True:
            if pdv.context_id != context_id:
                raise ProtocolViolation(
                    f"a fragment on presentation context {pdv.context_id} inside a message on {context_id}",
                    pdv.fragment,
                )
            size += len(pdv.fragment)
            if size > limit:
                raise dimse.MessageTooLarge(limit)
            if pdv.is_command:
                if parsed is not None:
                    raise ProtocolViolation("command fragment after the command set was complete", pdv.fragment)
                command += pdv.fragment
                if len(command) > dimse.MAX_COMMAND_BYTES:
                    raise ProtocolViolation(f"command set larger than {dimse.MAX_COMMAND_BYTES} bytes", bytes(command))
                if pdv.is_last:
                    parsed = dimse.decode_command(bytes(command), status_detail=status_detail)
                    if not dimse.announces_data_set(parsed, bytes(command)):
                        return parsed, bytes(command), None
                    data = bytearray()
            else:
                if parsed is None or data is None:
                    raise ProtocolViolation("data set fragment before the command set", pdv.fragment)
                data += pdv.fragment
                if pdv.is_last:
                    return parsed, bytes(command), bytes(data)
            pdv = self._next_pdv()

    def _serving_context(self, context_id: int) -> ContextResult | None:
        """An accepted context on which the node may send the scanner requests (SCP role accepted)."""
        if self.acceptance is None:
            return None
        for ctx in self.acceptance.accepted:
            if ctx.context_id == context_id and ctx.abstract_syntax in self.acceptance.scp_roles:
                return ctx
        return None

    def read_response(
        self,
        context: ContextResult,
        *,
        service: str,
        message_id: int,
        sop_class: str | None,
        cancelled: bool = False,
        on_store: StoreHandler | None = None,
    ) -> dimse.Response:
        """Reassemble and judge the next response on ``context`` (PS3.8 Annex E.2).

        With ``on_store`` (a C-GET), C-STORE-RQs the node sends on a context
        where the scanner accepted the SCP role are passed to it and answered
        with the status it returns; any other message is a protocol violation.
        """
        while True:
            first = self._next_pdv()
            if first.context_id == context.context_id:
                parsed, raw, data = self._reassemble(
                    first, dimse.MAX_MESSAGE_BYTES, status_detail=service in ("get", "move")
                )
                return dimse.judge_response(
                    parsed,
                    raw,
                    data,
                    service=service,
                    message_id=message_id,
                    sop_class=sop_class,
                    cancelled=cancelled,
                )
            serving = self._serving_context(first.context_id) if on_store is not None else None
            if serving is None or on_store is None:
                raise ProtocolViolation(
                    f"response fragment on presentation context {first.context_id}; the request "
                    f"used {context.context_id}",
                    first.fragment,
                )
            parsed, raw, data = self._reassemble(first, MAX_SUBOPERATION_BYTES)
            incoming = dimse.judge_store_request(parsed, raw, serving.abstract_syntax)
            assert data is not None and serving.transfer_syntax is not None
            status = on_store(incoming, data, serving.transfer_syntax)
            self.send_message(
                serving, dimse.store_rsp(incoming.message_id, incoming.sop_class, incoming.sop_instance, status)
            )

    # -- ending ------------------------------------------------------------------
    def abort(self) -> None:
        """A-ABORT (PS3.8 7.3.1), once; never raises."""
        if self.stream is not None and not self.ended:
            try:
                self.stream.send(encode_abort(), "sending A-ABORT")
            except PeerError:
                pass
        self.broken = self.ended = True

    def release(self) -> None:
        """A-RELEASE-RQ and a short, bounded wait for the RP (PS3.8 7.2); abort if it does not come."""
        assert self.stream is not None
        try:
            self.stream.send(encode_release_rq(), "sending A-RELEASE-RQ")
            pdu = self.stream.read_pdu(
                MAX_ASSOCIATION_PDU, "waiting for A-RELEASE-RP", step=min(self.budget.step, RELEASE_WAIT)
            )
            if pdu.type != A_RELEASE_RP:
                self.release_note = f"{pdu.name} in reply to A-RELEASE-RQ; the scanner aborted"
                self.abort()
            self.ended = True
        except PeerError as exc:
            self.release_note = f"no A-RELEASE-RP ({exc.text}); the scanner aborted"
            self.abort()


def _tls_info(stream: PeerStream, settings: TlsSettings) -> TlsInfo | None:
    if stream.handshake is None:
        return None
    version, cipher, der = stream.handshake
    return TlsInfo(
        handshake=True,
        version=version,
        cipher=cipher,
        client_certificate_sent=settings.has_client_certificate,
        peer_certificate=describe_certificate(der) if der else {},
    )


def client_certificate_required(alert: str, sent_cert: bool) -> bool | None:
    """Whether a TLS failure shows that the node wants a client certificate (PS3.15 B.1)."""
    if "CERTIFICATE_REQUIRED" in alert:  # TLS 1.3 alert 116, after the handshake
        return True
    if not sent_cert and ("HANDSHAKE_FAILURE" in alert or "PEER_DID_NOT_RETURN_A_CERTIFICATE" in alert):
        # OpenSSL servers answer a missing certificate with handshake_failure in TLS 1.2.
        return True
    return None


def _outcome_for(exc: PeerError, transport: Transport) -> tuple[Outcome, str]:
    """The outcome and the wording for an association request that ended in ``exc``."""
    if isinstance(exc, NotAPdu):
        if exc.raw and looks_like_tls(exc.raw) and transport is Transport.PLAINTEXT:
            return Outcome.TLS, "TLS record in reply to a plaintext A-ASSOCIATE-RQ"
        return Outcome.NOT_DICOM, exc.text
    if isinstance(exc, PeerClosed) and exc.received:
        if looks_like_tls(exc.received) and transport is Transport.PLAINTEXT:
            return Outcome.TLS, "TLS record in reply to a plaintext A-ASSOCIATE-RQ"
        return Outcome.NOT_DICOM, f"{len(exc.received)} byte(s) that are not a DICOM PDU, then the connection closed"
    if isinstance(exc, PeerClosed):
        return Outcome.CLOSED, "connection closed by the node without a DICOM answer"
    if isinstance(exc, ProtocolViolation) and exc.text.startswith("protocol violation: no TLS handshake"):
        return Outcome.NOT_DICOM, exc.text.removeprefix("protocol violation: ")
    return _outcome_of(exc), exc.text


def _request(
    host: str, port: int, proposal: Proposal, budget: Budget, transport: Transport, tls: TlsSettings | None
) -> tuple[AssociationAttempt, PeerStream | None, Acceptance | None]:
    """One association request; the stream is returned open only when the association was accepted."""
    started = time.monotonic()
    settings = tls or TlsSettings()

    def attempt(outcome: Outcome, stream: PeerStream | None = None, **kw: Any) -> AssociationAttempt:
        info = kw.pop("tls", None) or (_tls_info(stream, settings) if stream is not None else None)
        return AssociationAttempt(
            outcome=outcome,
            calling_aet=proposal.calling_aet,
            called_aet=proposal.called_aet,
            transport=transport,
            elapsed_ms=(time.monotonic() - started) * 1000,
            tls=info,
            user_identity_proposed=proposal.user_identity.kind if proposal.user_identity else None,
            **kw,
        )

    stream: PeerStream | None = None
    try:
        stream = PeerStream.connect(host, port, budget)
        if transport is Transport.TLS:
            stream.start_tls(settings.client_context(), host if settings.verify_server else None)
        try:
            stream.send(proposal.encode(), "sending A-ASSOCIATE-RQ")
        except (TlsFailure, ConnectionLost):
            if transport is not Transport.TLS:
                raise
            # TLS 1.3: a node that wants a client certificate says so after the
            # handshake, and closes; its alert can still be read behind the failed write.
        pdu = stream.read_pdu(MAX_ASSOCIATION_PDU, "waiting for the association answer")
        if pdu.type == A_ASSOCIATE_AC:
            acc = decode_ac(pdu, proposal)
            result = attempt(
                Outcome.ACCEPTED,
                stream,
                accepted_contexts=tuple(sop_name(c.abstract_syntax) for c in acc.accepted),
                rejected_contexts=tuple(
                    (sop_name(c.abstract_syntax), RESULT_TEXT[c.result]) for c in acc.contexts if not c.accepted
                ),
                peer_implementation_class_uid=acc.implementation_class_uid,
                peer_implementation_version_name=acc.implementation_version_name,
                peer_max_pdu=acc.max_pdu,
                user_identity_response=acc.user_identity_response,
                scp_roles_accepted=tuple(sop_name(uid) for uid in acc.scp_roles),
            )
            return result, stream, acc
        if pdu.type == A_ASSOCIATE_RJ:
            rj = decode_rj(pdu)
            result = attempt(Outcome.REJECTED, stream, rejection=Rejection(rj.result, rj.source, rj.reason))
        elif pdu.type == A_ABORT:
            ab = decode_abort(pdu)
            result = attempt(Outcome.ABORTED, stream, abort=Abort(ab.source, ab.reason))
        else:
            raise ProtocolViolation(f"{pdu.name} in reply to A-ASSOCIATE-RQ", pdu.raw)
    except PeerError as exc:
        outcome, detail = _outcome_for(exc, transport)
        info = None
        if isinstance(exc, TlsFailure):
            base = _tls_info(stream, settings) if stream is not None and exc.after_handshake else None
            info = TlsInfo(
                handshake=exc.after_handshake,
                version=base.version if base else None,
                cipher=base.cipher if base else None,
                client_certificate_sent=settings.has_client_certificate,
                peer_certificate=base.peer_certificate if base else {},
                error=exc.alert,
                client_certificate_required=client_certificate_required(exc.alert, settings.has_client_certificate),
            )
        result = attempt(outcome, stream, detail=detail, raw=hex_evidence(exc.raw) if exc.raw else None, tls=info)
        if stream is not None and isinstance(exc, ProtocolViolation) and not isinstance(exc, NotAPdu):
            # The node may believe an association exists: end it explicitly (PS3.8 7.3.1).
            try:
                stream.send(encode_abort(), "sending A-ABORT")
            except PeerError:
                pass
    except BaseException:  # e.g. a client certificate that does not load: the scanner's guard reports it
        if stream is not None:
            stream.close()
        raise
    if stream is not None:
        stream.close()
    return result, None, None


@contextmanager
def associate(
    host: str,
    port: int,
    *,
    calling_aet: str,
    called_aet: str,
    abstract_syntaxes: Sequence[str],
    budget: Budget,
    transport: Transport = Transport.PLAINTEXT,
    tls: TlsSettings | None = None,
    user_identity: UserIdentity | None = None,
    scp_roles: Sequence[str] = (),
) -> Iterator[Session]:
    """Request an association; yield a :class:`Session`; release (or abort) and close on exit.

    ``user_identity`` adds a User Identity sub-item (PS3.7 D.3.3.7);
    ``scp_roles`` proposes the scanner as SCP for those syntaxes (C-GET).
    """
    proposal = Proposal.for_syntaxes(
        calling_aet, called_aet, abstract_syntaxes, user_identity=user_identity, scp_roles=scp_roles
    )
    # A close without any PDU is the one outcome a transient glitch can fake;
    # it is tried once more before it is reported.
    for try_no in range(2):
        if try_no:
            time.sleep(0.2)
        attempt, stream, acceptance = _request(host, port, proposal, budget, transport, tls)
        if not (
            attempt.outcome is Outcome.CLOSED
            and attempt.detail
            and "without a DICOM answer" in attempt.detail
            and not budget.expired
        ):
            break
    session = Session(attempt=attempt, budget=budget, stream=stream, acceptance=acceptance)
    try:
        yield session
    finally:
        if session.stream is not None:
            if not session.broken:
                session.release()
            session.abort()  # no-op once released or aborted
            session.stream.close()


# -- operations -------------------------------------------------------------------
@dataclass(frozen=True)
class DimseReply:
    """One DIMSE request's outcome: a status, the node's A-ABORT, or why neither."""

    service: str
    elapsed_ms: float
    status: int | None = None
    abort: Abort | None = None
    failure: PeerError | None = None
    error_comment: str | None = None

    @property
    def category(self) -> str:
        return code_to_category(self.status) if self.status is not None else "no response"

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"elapsed_ms": round(self.elapsed_ms, 1)}
        if self.status is not None:
            d["status"] = describe_status(self.status, self.service)
        if self.error_comment:
            d["error_comment"] = self.error_comment
        if self.abort is not None:
            d["aborted_by_node"] = self.abort.to_dict()
        if self.failure is not None:
            d["undecided"] = self.failure.to_evidence()
        return d


def _fail(session: Session, exc: PeerError | PeerAborted) -> tuple[Abort | None, PeerError | None]:
    if isinstance(exc, PeerAborted):
        session.broken = session.ended = True  # the node ended it; nothing to send back (PS3.8 7.3.2)
        return exc.abort, None
    session.abort()
    return None, exc


def _simple_operation(
    session: Session, abstract_syntax: str, service: str, command: bytes, data_set: bytes | None, message_id: int
) -> DimseReply:
    context = session.context(abstract_syntax)
    assert context is not None and session.stream is not None
    started = time.monotonic()
    try:
        session.send_message(context, command, data_set)
        rsp = session.read_response(context, service=service, message_id=message_id, sop_class=abstract_syntax)
    except (PeerError, PeerAborted) as exc:
        abort, failure = _fail(session, exc)
        return DimseReply(service, (time.monotonic() - started) * 1000, abort=abort, failure=failure)
    return DimseReply(service, (time.monotonic() - started) * 1000, status=rsp.status, error_comment=rsp.error_comment)


def echo(session: Session, sop_class: str) -> DimseReply:
    """C-ECHO (PS3.7 9.1.5) on the accepted context of ``sop_class``."""
    msg_id = session.next_message_id()
    return _simple_operation(session, sop_class, "verification", dimse.echo_rq(msg_id, sop_class), None, msg_id)


def store(session: Session, dataset: Dataset) -> DimseReply:
    """C-STORE (PS3.7 9.1.1) of ``dataset`` in the transfer syntax the node accepted."""
    sop_class = str(dataset.SOPClassUID)
    context = session.context(sop_class)
    assert context is not None and context.transfer_syntax is not None
    msg_id = session.next_message_id()
    command = dimse.store_rq(msg_id, sop_class, str(dataset.SOPInstanceUID))
    return _simple_operation(
        session, sop_class, "store", command, dimse.encode_dataset(dataset, context.transfer_syntax), msg_id
    )


@dataclass(frozen=True)
class FindReply:
    """What a C-FIND returned, capped: matches kept, responses counted, how it ended."""

    matches: tuple[Dataset, ...]
    final_status: int | None
    cancelled: bool
    responses_read: int
    elapsed_ms: float
    abort: Abort | None = None
    failure: PeerError | None = None
    stopped_reading: bool = False  # the node ignored C-CANCEL and the scanner aborted

    @property
    def final_category(self) -> str:
        return code_to_category(self.final_status) if self.final_status is not None else "no response"


def find(session: Session, identifier: Dataset, model: str, *, cap: int, drain_limit: int = 100) -> FindReply:
    """Send a C-FIND, keep at most ``cap`` matches, then C-CANCEL (PS3.4 C.4.1.2.3, PS3.7 9.3.2.3).

    Every response counts towards the cap, whatever it holds.  After the
    cancel, at most ``drain_limit`` further responses are read; a node that
    keeps streaming past that gets an A-ABORT.  Each identifier is decoded
    strictly (:func:`~dicomaudit.net.dimse.decode_identifier`): one that does
    not decode ends the query as a protocol violation.
    """
    context = session.context(model)
    assert context is not None and context.transfer_syntax is not None
    started = time.monotonic()
    matches: list[Dataset] = []
    cancelled = stopped = False
    final: int | None = None
    read = 0
    msg_id = session.next_message_id()

    def reply(**kw: Any) -> FindReply:
        return FindReply(
            matches=tuple(matches),
            final_status=final,
            cancelled=cancelled,
            responses_read=read,
            elapsed_ms=(time.monotonic() - started) * 1000,
            stopped_reading=stopped,
            **kw,
        )

    try:
        session.send_message(
            context, dimse.find_rq(msg_id, model), dimse.encode_dataset(identifier, context.transfer_syntax)
        )
        while True:
            rsp = session.read_response(
                context, service="find", message_id=msg_id, sop_class=model, cancelled=cancelled
            )
            read += 1
            if rsp.category != "Pending":
                final = rsp.status
                break
            assert rsp.data_set is not None
            ident = dimse.decode_identifier(rsp.data_set, context.transfer_syntax)
            if len(matches) < cap:
                matches.append(ident)
            if read >= cap and not cancelled:
                session.send_message(context, dimse.cancel_rq(msg_id))
                cancelled = True
            elif cancelled and read >= cap + drain_limit:
                session.abort()
                stopped = True
                break
    except (PeerError, PeerAborted) as exc:
        abort, failure = _fail(session, exc)
        return reply(abort=abort, failure=failure)
    return reply()


@dataclass(frozen=True)
class RetrieveReply:
    """What a C-GET or C-MOVE answered (PS3.4 C.4.2, C.4.3).

    ``final_status`` and ``suboperations`` are from the final response;
    ``pending`` counts pending responses; ``stores`` lists the C-STORE
    sub-operations the node sent on the association (C-GET), each answered
    with a refusal; ``cancelled`` says the scanner sent C-CANCEL because
    the node started transferring objects when it was not meant to.
    """

    service: str
    elapsed_ms: float
    final_status: int | None = None
    error_comment: str | None = None
    suboperations: Mapping[str, int] = field(default_factory=dict)
    pending: int = 0
    pending_suboperations: Mapping[str, int] = field(default_factory=dict)
    stores: tuple[dimse.IncomingStore, ...] = ()
    cancelled: bool = False
    abort: Abort | None = None
    failure: PeerError | None = None
    stopped_reading: bool = False

    @property
    def category(self) -> str:
        return code_to_category(self.final_status) if self.final_status is not None else "no response"

    @property
    def transferred(self) -> bool:
        """Whether the node reported or performed any sub-operation."""
        counts = [*self.suboperations.values(), *self.pending_suboperations.values()]
        return bool(self.stores) or any(counts)

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"elapsed_ms": round(self.elapsed_ms, 1), "pending_responses": self.pending}
        if self.final_status is not None:
            d["final_status"] = describe_status(self.final_status, self.service)
            d["suboperations"] = dict(self.suboperations)
        if self.pending_suboperations:
            d["pending_suboperations"] = dict(self.pending_suboperations)
        if self.error_comment:
            d["error_comment"] = self.error_comment
        if self.stores:
            d["c_store_suboperations_received"] = len(self.stores)
        if self.cancelled:
            d["cancelled_by_scanner"] = True
        if self.abort is not None:
            d["aborted_by_node"] = self.abort.to_dict()
        if self.failure is not None:
            d["undecided"] = self.failure.to_evidence()
        if self.stopped_reading:
            d["note"] = "the node kept answering; the scanner aborted the association"
        return d


def _retrieve(
    session: Session,
    service: str,
    msg_id: int,
    command: bytes,
    identifier: Dataset,
    model: str,
    *,
    on_store: StoreHandler | None,
    cancel_on_transfer: bool,
) -> RetrieveReply:
    context = session.context(model)
    assert context is not None and context.transfer_syntax is not None
    started = time.monotonic()
    stores: list[dimse.IncomingStore] = []
    pending = 0
    pending_counts: dict[str, int] = {}
    cancelled = stopped = False

    def handler(incoming: dimse.IncomingStore, data: bytes, transfer_syntax: str) -> int:
        stores.append(incoming)
        return on_store(incoming, data, transfer_syntax) if on_store is not None else dimse.STORE_REFUSED

    def reply(**kw: Any) -> RetrieveReply:
        return RetrieveReply(
            service=service,
            elapsed_ms=(time.monotonic() - started) * 1000,
            pending=pending,
            pending_suboperations=pending_counts,
            stores=tuple(stores),
            cancelled=cancelled,
            stopped_reading=stopped,
            **kw,
        )

    try:
        session.send_message(context, command, dimse.encode_dataset(identifier, context.transfer_syntax))
        while True:
            rsp = session.read_response(
                context,
                service=service,
                message_id=msg_id,
                sop_class=model,
                cancelled=cancelled,
                on_store=handler if service == "get" else None,
            )
            if rsp.category != "Pending":
                return reply(final_status=rsp.status, error_comment=rsp.error_comment, suboperations=rsp.suboperations)
            pending += 1
            counts = rsp.suboperations
            for name, value in counts.items():
                pending_counts[name] = max(pending_counts.get(name, 0), value)
            if cancel_on_transfer and not cancelled and (stores or any(counts.values())):
                session.send_message(context, dimse.cancel_rq(msg_id))
                cancelled = True
            if pending >= MAX_RETRIEVE_RESPONSES:
                session.abort()
                stopped = True
                return reply()
    except (PeerError, PeerAborted) as exc:
        abort, failure = _fail(session, exc)
        return reply(abort=abort, failure=failure)


def get(
    session: Session,
    identifier: Dataset,
    model: str,
    *,
    on_store: StoreHandler | None = None,
    cancel_on_transfer: bool = True,
) -> RetrieveReply:
    """C-GET (PS3.4 C.4.3, PS3.7 9.3.3) on the accepted context of ``model``.

    Every C-STORE sub-operation the node sends is passed to ``on_store``
    (default: refused with :data:`~dicomaudit.net.dimse.STORE_REFUSED`
    unread).  With ``cancel_on_transfer`` a C-CANCEL follows the first sign
    of a transfer.
    """
    msg_id = session.next_message_id()
    return _retrieve(
        session,
        "get",
        msg_id,
        dimse.get_rq(msg_id, model),
        identifier,
        model,
        on_store=on_store,
        cancel_on_transfer=cancel_on_transfer,
    )


def move(
    session: Session, identifier: Dataset, model: str, destination: str, *, cancel_on_transfer: bool = True
) -> RetrieveReply:
    """C-MOVE (PS3.4 C.4.2, PS3.7 9.3.4) to ``destination`` on the accepted context of ``model``."""
    msg_id = session.next_message_id()
    return _retrieve(
        session,
        "move",
        msg_id,
        dimse.move_rq(msg_id, model, destination),
        identifier,
        model,
        on_store=None,
        cancel_on_transfer=cancel_on_transfer,
    )
