"""Raw observations of how a DICOM peer answers (the ground-truth instrument).

Plain pynetdicom (and, for TLS corner cases, raw sockets) with every received
PDU recorded, so the answers can be written down exactly: A-ASSOCIATE-AC,
A-ASSOCIATE-RJ with result/source/reason (PS3.8 §9.3.4), A-ABORT with
source/reason (PS3.8 §9.3.8), a bare TCP close, or a TLS failure.

Only ever used against servers started by the test suite on loopback.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (
    CTImageStorage,
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from tests.peers._process import LOOPBACK

#: The presentation contexts asked for in every association probe.
CONTEXTS: dict[str, str] = {
    "Verification": Verification,
    "PatientRootFind": PatientRootQueryRetrieveInformationModelFind,
    "StudyRootFind": StudyRootQueryRetrieveInformationModelFind,
    "CTImageStorage": CTImageStorage,
    "SecondaryCapture": SecondaryCaptureImageStorage,
}
#: Further contexts a probe may add (asked for only by the probe that needs it).
EXTRA_CONTEXTS: dict[str, str] = {"WorklistFind": ModalityWorklistInformationFind}
_NAMES = {uid: name for name, uid in {**CONTEXTS, **EXTRA_CONTEXTS}.items()}
TIMEOUT = 5.0


@dataclass(frozen=True)
class Peer:
    """Where to probe: loopback port, Called AE Title, optional TLS client context."""

    port: int
    aet: str
    tls: ssl.SSLContext | None = None
    host: str = LOOPBACK


@dataclass
class AssocOutcome:
    """What came back to an A-ASSOCIATE-RQ.

    ``kind`` is ``accepted``, ``rejected``, ``aborted`` (A-ABORT PDU),
    ``closed`` (TCP closed with no PDU) or ``failed`` (no connection / TLS).
    """

    kind: str
    result: int | None = None
    source: int | None = None
    reason: int | None = None
    detail: str = ""
    accepted: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    #: Every PDU received on the connection, live: DIMSE probes read what
    #: arrived after the AC (an A-ABORT, say) from here.
    pdus: list[Any] = field(default_factory=list, repr=False)
    closed: list[bool] = field(default_factory=list, repr=False)

    def after_accept(self) -> str:
        """How the connection ended after the AC: release, A-ABORT (with reason) or close."""
        names = [type(p).__name__ for p in self.pdus]
        for pdu in self.pdus:
            if isinstance(pdu, A_ABORT_RQ):
                return f"peer sent A-ABORT source={pdu.source} reason={pdu.reason_diagnostic} ({pdu.source_str}, {pdu.reason_str})"
        if "A_RELEASE_RP" in names:
            return "released"
        return "TCP closed by peer without A-ABORT" if self.closed else "no further PDU"

    def summary(self) -> str:
        """One line for the ground-truth table."""
        if self.kind == "accepted":
            refused = ", ".join(f"{k} ({v})" for k, v in self.refused.items())
            return (
                "A-ASSOCIATE-AC; accepted: "
                + (", ".join(self.accepted) or "none")
                + (f"; refused: {refused}" if refused else "")
            )
        if self.kind == "rejected":
            return f"A-ASSOCIATE-RJ result={self.result} source={self.source} reason={self.reason} ({self.detail})"
        if self.kind == "aborted":
            return f"A-ABORT source={self.source} reason={self.reason} ({self.detail})"
        if self.kind == "closed":
            return "TCP closed, no PDU"
        return f"no association: {self.detail}"


def _ae(calling: str, extra: tuple[str, ...] = ()) -> AE:
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    ae.connection_timeout = TIMEOUT
    for uid in (*CONTEXTS.values(), *(EXTRA_CONTEXTS[name] for name in extra)):
        ae.add_requested_context(uid)
    return ae


def _associate(
    peer: Peer,
    calling: str,
    called: str | None = None,
    source: str | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[Any, AssocOutcome]:
    """Open an association and classify the answer; the caller releases it.

    *source* binds the local end to another loopback address (e.g.
    ``127.0.0.2``) to see whether the peer checks the caller's host.
    """
    pdus: list[Any] = []
    closed: list[bool] = []
    handlers = [
        (evt.EVT_PDU_RECV, lambda event: pdus.append(event.pdu)),
        (evt.EVT_CONN_CLOSE, lambda event: closed.append(True)),
    ]
    tls_args = (peer.tls, "localhost") if peer.tls is not None else None
    try:
        assoc = _ae(calling, extra).associate(
            peer.host,
            peer.port,
            ae_title=called or peer.aet,
            evt_handlers=handlers,
            tls_args=tls_args,
            bind_address=(source or "", 0),
        )
    except (OSError, ssl.SSLError) as exc:  # pragma: no cover - depends on peer
        return None, AssocOutcome("failed", detail=f"{type(exc).__name__}: {exc}")
    for pdu in list(pdus):
        if isinstance(pdu, A_ASSOCIATE_AC):
            out = AssocOutcome("accepted", pdus=pdus, closed=closed)
            out.accepted = tuple(_NAMES[cx.abstract_syntax] for cx in assoc.accepted_contexts)
            out.refused = {_NAMES[cx.abstract_syntax]: str(cx.status) for cx in assoc.rejected_contexts}
            return assoc, out
        if isinstance(pdu, A_ASSOCIATE_RJ):
            return assoc, AssocOutcome(
                "rejected",
                pdu.result,
                pdu.source,
                pdu.reason_diagnostic,
                detail=f"{pdu.result_str}, {pdu.source_str}, {pdu.reason_str}",
                pdus=pdus,
            )
        if isinstance(pdu, A_ABORT_RQ):
            return assoc, AssocOutcome(
                "aborted",
                None,
                pdu.source,
                pdu.reason_diagnostic,
                detail=f"{pdu.source_str}, {pdu.reason_str}",
                pdus=pdus,
            )
    names = [type(p).__name__ for p in pdus]
    if not pdus:
        return assoc, AssocOutcome("closed" if closed else "failed", detail="no PDU", pdus=pdus, closed=closed)
    return assoc, AssocOutcome("failed", detail=f"unexpected PDUs {names}", pdus=pdus, closed=closed)


def associate(peer: Peer, calling: str, called: str | None = None, source: str | None = None) -> AssocOutcome:
    """Request all :data:`CONTEXTS`, classify the answer, release if accepted."""
    assoc, out = _associate(peer, calling, called, source)
    if assoc is not None and assoc.is_established:
        assoc.release()
    return out


@dataclass
class DimseOutcome:
    """Association outcome plus the DIMSE statuses and identifiers seen."""

    assoc: AssocOutcome
    statuses: list[int] = field(default_factory=list)
    matches: int = 0
    keywords: tuple[str, ...] = ()
    identifiers: list[Dataset] = field(default_factory=list)
    note: str = ""

    @property
    def final_status(self) -> int | None:
        """The last status received (the final response), if any."""
        return self.statuses[-1] if self.statuses else None

    def summary(self) -> str:
        """One line for the ground-truth table."""
        if self.assoc.kind != "accepted":
            return self.assoc.summary()
        if not self.statuses:
            return f"no DIMSE response ({self.note})" if self.note else "no DIMSE response"
        text = "statuses " + ", ".join(f"0x{s:04X}" for s in _squash(self.statuses))
        if self.matches or self.keywords:
            text += f"; {self.matches} match(es); keys: {', '.join(self.keywords)}"
        return text + (f"; {self.note}" if self.note else "")


def _squash(statuses: list[int]) -> list[int]:
    """Statuses with runs of repeated Pending collapsed for readability."""
    out: list[int] = []
    for s in statuses:
        if not out or out[-1] != s:
            out.append(s)
    return out


def c_echo(peer: Peer, calling: str) -> DimseOutcome:
    """C-ECHO (PS3.7 §9.1.5) from *calling*."""
    assoc, out = _associate(peer, calling)
    result = DimseOutcome(out)
    if assoc is not None and assoc.is_established:
        if "Verification" in out.accepted:
            status = assoc.send_c_echo()
            if "Status" in status:
                result.statuses.append(int(status.Status))
            else:
                result.note = "no C-ECHO-RSP; " + out.after_accept()
        else:
            result.note = "Verification context refused"
        _close(assoc)
    return result


def find_query(model: str) -> Dataset:
    """The wildcard identifier used by the probes for *model* (PS3.4 C.6)."""
    ds = Dataset()
    if model == "WorklistFind":
        step = Dataset()
        step.Modality = ""
        step.ScheduledStationAETitle = ""
        step.ScheduledProcedureStepStartDate = ""
        ds.PatientName = "*"
        ds.PatientID = ""
        ds.AccessionNumber = ""
        ds.ScheduledProcedureStepSequence = [step]
    elif model == "PatientRootFind":
        ds.QueryRetrieveLevel = "PATIENT"
        ds.PatientName = "*"
        ds.PatientID = ""
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
    else:
        ds.QueryRetrieveLevel = "STUDY"
        ds.PatientName = "*"
        ds.PatientID = ""
        ds.StudyInstanceUID = ""
        ds.StudyDate = ""
        ds.AccessionNumber = ""
        ds.StudyDescription = ""
    return ds


def c_find(peer: Peer, calling: str, model: str, cancel_after: int | None = None, cap: int = 1000) -> DimseOutcome:
    """Wildcard C-FIND on *model* (``PatientRootFind``, ``StudyRootFind``, ``WorklistFind``).

    With *cancel_after*, a C-CANCEL (PS3.7 §9.3.2.3) is sent after that many
    Pending responses; the statuses that follow show whether it was honoured
    (a final 0xFE00 Cancel) or ignored (more Pendings, then 0x0000).
    """
    extra = (model,) if model in EXTRA_CONTEXTS else ()
    assoc, out = _associate(peer, calling, extra=extra)
    result = DimseOutcome(out)
    if assoc is None or not assoc.is_established:
        return result
    if model not in out.accepted:
        result.note = f"{model} context refused"
        _close(assoc)
        return result
    keywords: set[str] = set()
    pending = 0
    uid = {**CONTEXTS, **EXTRA_CONTEXTS}[model]
    responses = assoc.send_c_find(find_query(model), uid, msg_id=7)
    for status, identifier in responses:
        if "Status" not in status:
            result.note = "no C-FIND-RSP; " + out.after_accept()
            break
        code = int(status.Status)
        result.statuses.append(code)
        if code in (0xFF00, 0xFF01):
            pending += 1
            if identifier is not None:
                result.identifiers.append(identifier)
                keywords.update(e.keyword or str(e.tag) for e in identifier)
            if cancel_after is not None and pending == cancel_after:
                assoc.send_c_cancel(7, query_model=uid)
                result.note = f"C-CANCEL sent after {pending} pending"
            if pending >= cap:
                break
    result.matches = pending
    result.keywords = tuple(sorted(keywords))
    _close(assoc)
    return result


def c_store(peer: Peer, calling: str, ds: Dataset) -> DimseOutcome:
    """C-STORE (PS3.7 §9.1.1) of *ds* from *calling*."""
    assoc, out = _associate(peer, calling)
    result = DimseOutcome(out)
    if assoc is None or not assoc.is_established:
        return result
    name = _NAMES.get(ds.SOPClassUID)
    if name not in out.accepted:
        result.note = f"{name} context refused"
    else:
        status = assoc.send_c_store(ds)
        if "Status" in status:
            result.statuses.append(int(status.Status))
        else:
            result.note = "no C-STORE-RSP; " + out.after_accept()
    _close(assoc)
    return result


def _close(assoc: Any) -> None:
    if assoc.is_established:
        assoc.release()


# -- raw socket probes (for what pynetdicom would hide) ------------------------


def associate_rq_bytes(called: str, calling: str) -> bytes:
    """An encoded A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2) asking for Verification."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title = calling
    primitive.called_ae_title = called
    max_len = MaximumLengthNotification()
    max_len.maximum_length_received = 16382
    impl = ImplementationClassUIDNotification()
    impl.implementation_class_uid = "1.2.826.0.1.3680043.9.3811.3.0.4"
    primitive.user_information = [max_len, impl]
    context = build_context(Verification)
    context.context_id = 1
    primitive.presentation_context_definition_list = [context]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return pdu.encode()


@dataclass
class RawOutcome:
    """What a raw socket saw: handshake result, first bytes read, or the error."""

    handshake: str = ""
    first_read: bytes = b""
    error: str = ""
    send_error: str = ""
    closed: bool = False

    def summary(self) -> str:
        """One line for the ground-truth table."""
        parts = []
        if self.handshake:
            parts.append(f"handshake: {self.handshake}")
        if self.send_error:
            parts.append(f"send error: {self.send_error}")
        if self.first_read:
            head = self.first_read[:16].hex(" ")
            parts.append(f"read {len(self.first_read)} bytes [{head}{' ...' if len(self.first_read) > 16 else ''}]")
        if self.error:
            parts.append(f"read error: {self.error}")
        if self.closed:
            parts.append("then TCP close (EOF)")
        return "; ".join(parts)


def _pdu_complete(data: bytes) -> bool:
    """True when *data* starts with one whole DICOM PDU (type 1-7, PS3.8 §9.3)."""
    if len(data) < 6 or not 1 <= data[0] <= 7:
        return False
    return len(data) >= 6 + int.from_bytes(data[2:6], "big")


def _read_all(sock: socket.socket | ssl.SSLSocket, out: RawOutcome) -> None:
    """Read until EOF, an error, or one complete PDU (an AC leaves the peer waiting)."""
    chunks: list[bytes] = []
    try:
        while not _pdu_complete(b"".join(chunks)):
            chunk = sock.recv(65536)
            if not chunk:
                out.closed = True
                break
            chunks.append(chunk)
    except (OSError, ssl.SSLError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    out.first_read = b"".join(chunks)


def plaintext_rq(port: int, called: str, calling: str = "DICOMAUDIT") -> RawOutcome:
    """Send a plaintext A-ASSOCIATE-RQ and record every byte until close/timeout."""
    out = RawOutcome()
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as sock:
        sock.sendall(associate_rq_bytes(called, calling))
        _read_all(sock, out)
    return out


def tls_rq(port: int, ctx: ssl.SSLContext, called: str, calling: str = "DICOMAUDIT") -> RawOutcome:
    """TLS handshake, then an A-ASSOCIATE-RQ; record where a failure shows up.

    Under TLS 1.3 the client finishes its handshake before the server has
    checked the client certificate, so a refusal arrives as an alert on the
    first read rather than as a handshake error.
    """
    out = RawOutcome()
    raw = socket.create_connection((LOOPBACK, port), timeout=TIMEOUT)
    try:
        sock = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
        try:
            sock.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            out.handshake = f"failed {type(exc).__name__}: {exc}"
            return out
        out.handshake = f"ok ({sock.version()})"
        try:
            sock.sendall(associate_rq_bytes(called, calling))
        except (OSError, ssl.SSLError) as exc:
            # The peer may already have closed; its alert can still be read.
            out.send_error = f"{type(exc).__name__}: {exc}"
        _read_all(sock, out)
        return out
    finally:
        raw.close()
