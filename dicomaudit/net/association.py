"""Associations and DIMSE operations through pynetdicom, observed closely.

pynetdicom's ``associate()`` always returns an :class:`Association`; we branch
on ``is_established`` / ``is_rejected`` / ``is_aborted`` and, because
``is_aborted`` covers both an A-ABORT sent by the node and a connection that
failed or closed, we also listen to the association's events (connection
opened, PDUs received) to say which it was.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE, Association, evt
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_RJ
from pynetdicom import status as status_tables
from pynetdicom.status import code_to_category

from dicomaudit.net.identity import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dicomaudit.net.outcome import Abort, AssociationAttempt, Outcome, Rejection
from dicomaudit.net.service import classify_os_error
from dicomaudit.net.tls import TlsSettings

LOGGER = logging.getLogger(__name__)


def quiet_pynetdicom(level: int = logging.CRITICAL) -> None:
    """pynetdicom logs every refused association as an ERROR; for a scanner those are results, not errors."""
    logging.getLogger("pynetdicom").setLevel(level)


def sop_name(uid: str) -> str:
    """Human name of a SOP class UID from pydicom's UID dictionary, or the UID itself."""
    name = UID(uid).name
    return name if name and name != uid else uid


_SERVICE_STATUS = {
    "verification": status_tables.VERIFICATION_SERVICE_CLASS_STATUS,
    "find": status_tables.QR_FIND_SERVICE_CLASS_STATUS,
    "store": status_tables.STORAGE_SERVICE_CLASS_STATUS,
}


def describe_status(code: int | None, service: str = "verification") -> dict[str, Any]:
    """A DIMSE status with pynetdicom's category and description for the service (PS3.4, PS3.7 Annex C)."""
    if code is None:
        return {"code": None, "category": "no response"}
    table = _SERVICE_STATUS.get(service, status_tables.GENERAL_STATUS)
    category, description = table.get(code, (code_to_category(code), ""))
    d: dict[str, Any] = {"code": f"0x{code:04X}", "category": category}
    if description:
        d["description"] = description
    return d


@dataclass
class _Recorder:
    """Collects what the association's events showed."""

    connected: bool = False
    abort_pdu: A_ABORT_RQ | None = None
    reject_pdu: A_ASSOCIATE_RJ | None = None

    def handlers(self) -> list[tuple[Any, Any]]:
        return [(evt.EVT_CONN_OPEN, self._on_open), (evt.EVT_PDU_RECV, self._on_pdu)]

    def _on_open(self, event: Any) -> None:
        self.connected = True

    def _on_pdu(self, event: Any) -> None:
        pdu = event.pdu
        if isinstance(pdu, A_ABORT_RQ):
            self.abort_pdu = pdu
        elif isinstance(pdu, A_ASSOCIATE_RJ):
            self.reject_pdu = pdu


@dataclass
class Session:
    """An association attempt and, if accepted, the live association."""

    attempt: AssociationAttempt
    assoc: Association | None
    recorder: _Recorder

    def accepted(self, abstract_syntax: str) -> bool:
        return self.assoc is not None and any(
            c.abstract_syntax == abstract_syntax for c in self.assoc.accepted_contexts
        )

    def peer_aborted(self) -> bool:
        return self.recorder.abort_pdu is not None

    def abort_info(self) -> dict[str, Any] | None:
        if self.recorder.abort_pdu is None:
            return None
        pdu = self.recorder.abort_pdu
        return Abort(pdu.source, pdu.reason_diagnostic).to_dict()


def _make_ae(calling_aet: str, timeout: float) -> AE:
    ae = AE(ae_title=calling_aet)
    ae.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    ae.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def _attempt_from(assoc: Association, rec: _Recorder, calling: str, called: str, transport: str,
                  started: float, timeout: float, host: str, port: int) -> AssociationAttempt:
    elapsed = (time.monotonic() - started) * 1000
    base = {"calling_aet": calling, "called_aet": called, "transport": transport, "elapsed_ms": elapsed}
    if assoc.is_established:
        acc = assoc.acceptor
        return AssociationAttempt(
            outcome=Outcome.ACCEPTED,
            accepted_contexts=tuple(sop_name(c.abstract_syntax) for c in assoc.accepted_contexts),
            rejected_contexts=tuple(
                (sop_name(c.abstract_syntax), c.status) for c in assoc.rejected_contexts
            ),
            peer_implementation_class_uid=str(acc.implementation_class_uid) if acc.implementation_class_uid else None,
            peer_implementation_version_name=acc.implementation_version_name,
            peer_max_pdu=acc.maximum_length,
            **base,
        )
    prim = assoc.acceptor.primitive
    if prim is not None and prim.result == 0:
        # A-ASSOCIATE-AC with every presentation context rejected: pynetdicom
        # then aborts (nothing can be exchanged), but the node did accept.
        return AssociationAttempt(
            outcome=Outcome.ACCEPTED,
            rejected_contexts=tuple((sop_name(c.abstract_syntax), c.status) for c in assoc.rejected_contexts),
            detail="no presentation context accepted; the scanner aborted the empty association",
            **base,
        )
    if assoc.is_rejected:
        prim = assoc.acceptor.primitive
        return AssociationAttempt(
            outcome=Outcome.REJECTED,
            rejection=Rejection(int(prim.result), int(prim.result_source), int(prim.diagnostic)),
            **base,
        )
    if rec.reject_pdu is not None:
        # The node sent A-ASSOCIATE-RJ and closed at once; pynetdicom may see the close first.
        rj = rec.reject_pdu
        return AssociationAttempt(outcome=Outcome.REJECTED,
                                  rejection=Rejection(rj.result, rj.source, rj.reason_diagnostic), **base)
    if rec.abort_pdu is not None:
        return AssociationAttempt(
            outcome=Outcome.ABORTED, abort=Abort(rec.abort_pdu.source, rec.abort_pdu.reason_diagnostic), **base
        )
    if not rec.connected:
        # pynetdicom swallows the socket error; reproduce it to name it.
        try:
            with socket.create_connection((host, port), timeout=timeout):
                detail = "connection failed during set-up (TLS handshake or reset)"
                outcome = Outcome.CLOSED
        except (OSError, TimeoutError) as exc:
            outcome, detail = classify_os_error(exc)
        return AssociationAttempt(outcome=outcome, detail=detail, **base)
    if elapsed >= timeout * 1000 * 0.95:
        return AssociationAttempt(outcome=Outcome.TIMEOUT, detail=f"no answer within {timeout:g} s", **base)
    return AssociationAttempt(outcome=Outcome.CLOSED, detail="connection closed by the node without a DICOM answer",
                              **base)


@contextmanager
def associate(
    host: str,
    port: int,
    *,
    calling_aet: str,
    called_aet: str,
    abstract_syntaxes: Sequence[str],
    timeout: float,
    transport: str = "plaintext",
    tls: TlsSettings | None = None,
) -> Iterator[Session]:
    """Request an association; yield a :class:`Session`; always release or abort on exit."""
    ae = _make_ae(calling_aet, timeout)
    for uid in abstract_syntaxes:
        ae.add_requested_context(uid)
    tls_args = None
    if transport == "tls":
        tls_args = ((tls or TlsSettings()).client_context(), host)
    # A close without any PDU is the one outcome a transient glitch can fake; a
    # verdict rests on it only if it happens twice.
    for try_no in range(2):
        if try_no:
            time.sleep(0.2)
        rec = _Recorder()
        started = time.monotonic()
        assoc = ae.associate(host, port, ae_title=called_aet, evt_handlers=rec.handlers(), tls_args=tls_args)
        attempt = _attempt_from(assoc, rec, calling_aet, called_aet, transport, started, timeout, host, port)
        if not (attempt.outcome is Outcome.CLOSED and rec.connected):
            break
    session = Session(attempt=attempt, assoc=assoc if assoc.is_established else None, recorder=rec)
    try:
        yield session
    finally:
        if assoc.is_established:
            assoc.release()
            if assoc.is_established:  # pragma: no cover - release timed out
                assoc.abort()
        ae.shutdown()


@dataclass(frozen=True)
class DimseReply:
    """The outcome of one DIMSE request: a status or why there was none."""

    status: int | None
    elapsed_ms: float
    service: str
    peer_aborted: bool = False
    abort: dict[str, Any] | None = None

    @property
    def category(self) -> str:
        return code_to_category(self.status) if self.status is not None else "no response"

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": describe_status(self.status, self.service),
                             "elapsed_ms": round(self.elapsed_ms, 1)}
        if self.peer_aborted:
            d["aborted_by_node"] = self.abort or True
        return d


def _status_of(ds: Dataset | None) -> int | None:
    if ds is None or "Status" not in ds:
        return None
    return int(ds.Status)


def echo(session: Session) -> DimseReply:
    assert session.assoc is not None
    started = time.monotonic()
    rsp = session.assoc.send_c_echo()
    return DimseReply(status=_status_of(rsp), elapsed_ms=(time.monotonic() - started) * 1000, service="verification",
                      peer_aborted=session.peer_aborted(), abort=session.abort_info())


def store(session: Session, dataset: Dataset) -> DimseReply:
    assert session.assoc is not None
    started = time.monotonic()
    rsp = session.assoc.send_c_store(dataset)
    return DimseReply(status=_status_of(rsp), elapsed_ms=(time.monotonic() - started) * 1000, service="store",
                      peer_aborted=session.peer_aborted(), abort=session.abort_info())


@dataclass(frozen=True)
class FindReply:
    """What a C-FIND returned, capped: matches read, statuses, whether we cancelled."""

    matches: tuple[Dataset, ...]
    final_status: int | None
    cancelled: bool
    responses_read: int
    elapsed_ms: float
    peer_aborted: bool = False
    abort: dict[str, Any] | None = None
    stopped_reading: bool = False  # the node ignored C-CANCEL and we aborted

    @property
    def final_category(self) -> str:
        return code_to_category(self.final_status) if self.final_status is not None else "no response"


def find(session: Session, identifier: Dataset, model: str, *, cap: int, drain_limit: int = 100) -> FindReply:
    """Send a C-FIND, keep at most ``cap`` matches, then C-CANCEL (PS3.7 9.3.2.3).

    After the cancel, at most ``drain_limit`` further responses are read; a
    node that keeps streaming past that gets an A-ABORT, so the scanner never
    reads an archive's worth of data.
    """
    assert session.assoc is not None
    assoc = session.assoc
    started = time.monotonic()
    matches: list[Dataset] = []
    cancelled = False
    final: int | None = None
    read = 0
    stopped = False
    msg_id = 1
    context_id = next(c.context_id for c in assoc.accepted_contexts if c.abstract_syntax == model)
    for status, ident in assoc.send_c_find(identifier, model, msg_id=msg_id):
        code = _status_of(status)
        if code is None:
            break  # timeout, abort or invalid response: pynetdicom yields an empty Dataset
        read += 1
        if code in (0xFF00, 0xFF01):
            if not cancelled:
                if ident is not None:
                    matches.append(ident)
                if len(matches) >= cap:
                    assoc.send_c_cancel(msg_id, context_id)
                    cancelled = True
            elif read > cap + drain_limit:
                assoc.abort()
                stopped = True
                break
            continue
        final = code
        break
    return FindReply(
        matches=tuple(matches), final_status=final, cancelled=cancelled, responses_read=read,
        elapsed_ms=(time.monotonic() - started) * 1000, peer_aborted=session.peer_aborted(),
        abort=session.abort_info(), stopped_reading=stopped,
    )
