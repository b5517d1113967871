"""Does the port speak DICOM, and over which transport?

This is the one place where the scanner drives the socket itself instead of
letting pynetdicom's state machine do it: to tell an A-ABORT sent by the node
from a connection that simply closed, a TLS alert from a DICOM PDU, or an
HTTP banner from either, we need the first bytes that came back.  The PDUs
themselves are still encoded and decoded by pynetdicom (``pynetdicom.pdu``),
so nothing of the protocol is re-implemented here.

PS3.8 9.3 (PDU structures): every PDU starts with a one-byte type, a reserved
byte and a 4-byte big-endian length.  A TLS record starts with a content type
(0x15 alert, 0x16 handshake) followed by the 0x03 major version.
"""

from __future__ import annotations

import errno
import socket
import ssl
import struct
import time
from dataclasses import dataclass

from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ, A_RELEASE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification

from dicomaudit.net.identity import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dicomaudit.net.outcome import Abort, AssociationAttempt, Outcome, Rejection, TlsInfo
from dicomaudit.net.tls import TlsSettings, describe_certificate

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1
MAX_PDU = 16384
# A reply larger than this is not a plausible association answer; never read it.
_MAX_REPLY = 256 * 1024
_PDU_A_ASSOCIATE_AC, _PDU_A_ASSOCIATE_RJ, _PDU_A_RELEASE_RP, _PDU_A_ABORT = 0x02, 0x03, 0x06, 0x07


@dataclass(frozen=True)
class ServiceObservation:
    """Everything learnt about a port before any check runs.

    ``transport`` is ``"plaintext"`` or ``"tls"`` when the port speaks DICOM
    (or at least TLS), ``None`` otherwise; ``plaintext`` and ``tls`` are the
    raw attempts made over each transport.
    """

    reachable: bool
    transport: str | None
    plaintext: AssociationAttempt | None
    tls: AssociationAttempt | None
    error: str | None = None

    @property
    def speaks_dicom(self) -> bool:
        return any(a is not None and a.outcome.speaks_dicom for a in (self.plaintext, self.tls))

    @property
    def usable_attempt(self) -> AssociationAttempt | None:
        """The attempt whose transport the checks should use."""
        if self.plaintext is not None and self.plaintext.outcome.speaks_dicom:
            return self.plaintext
        return self.tls


def build_associate_rq(calling_aet: str, called_aet: str, abstract_syntaxes: tuple[str, ...] = (Verification,)) -> bytes:
    """Encode an A-ASSOCIATE-RQ PDU (PS3.8 9.3.2) with pynetdicom's encoder."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = APPLICATION_CONTEXT
    primitive.calling_ae_title = calling_aet
    primitive.called_ae_title = called_aet
    contexts = []
    for i, uid in enumerate(abstract_syntaxes):
        ctx = build_context(uid)
        ctx.context_id = 2 * i + 1
        contexts.append(ctx)
    primitive.presentation_context_definition_list = contexts
    max_len = MaximumLengthNotification()
    max_len.maximum_length_received = MAX_PDU
    impl_uid = ImplementationClassUIDNotification()
    impl_uid.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    impl_ver = ImplementationVersionNameNotification()
    impl_ver.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    primitive.user_information = [max_len, impl_uid, impl_ver]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return bytes(pdu.encode())


class _Closed(Exception):
    def __init__(self, received: bytes) -> None:
        super().__init__("connection closed")
        self.received = received


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = b""
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise _Closed(buf)
        buf += chunk
    return buf


def _looks_like_tls(data: bytes) -> bool:
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


def _printable(data: bytes, limit: int = 24) -> str:
    head = data[:limit]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in head)
    return f"first bytes {head.hex(' ')} ({text!r})"


def _exchange(sock: socket.socket, calling: str, called: str, transport: str, timeout: float,
              started: float, tls: TlsInfo | None = None) -> AssociationAttempt:
    """Send an A-ASSOCIATE-RQ on a connected socket and decode the answer."""

    def attempt(outcome: Outcome, **kw: object) -> AssociationAttempt:
        return AssociationAttempt(outcome=outcome, calling_aet=calling, called_aet=called, transport=transport,
                                  elapsed_ms=(time.monotonic() - started) * 1000, tls=tls, **kw)  # type: ignore[arg-type]

    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    sock.sendall(build_associate_rq(calling, called))
    try:
        header = _recv_exact(sock, 6, deadline)
    except _Closed as closed:
        if _looks_like_tls(closed.received):
            return attempt(Outcome.TLS, detail="TLS record in reply to a plaintext A-ASSOCIATE-RQ")
        detail = "connection closed without a reply" if not closed.received else _printable(closed.received)
        return attempt(Outcome.CLOSED if not closed.received else Outcome.NOT_DICOM, detail=detail)
    if _looks_like_tls(header):
        return attempt(Outcome.TLS, detail="TLS record in reply to a plaintext A-ASSOCIATE-RQ")
    pdu_type = header[0]
    (length,) = struct.unpack(">I", header[2:6])
    if pdu_type not in (_PDU_A_ASSOCIATE_AC, _PDU_A_ASSOCIATE_RJ, _PDU_A_ABORT) or length > _MAX_REPLY:
        return attempt(Outcome.NOT_DICOM, detail=_printable(header))
    try:
        body = _recv_exact(sock, length, deadline)
    except _Closed as closed:
        return attempt(Outcome.NOT_DICOM, detail=f"PDU truncated: {len(closed.received)} of {length} bytes")
    data = header + body

    if pdu_type == _PDU_A_ASSOCIATE_RJ:
        rj = A_ASSOCIATE_RJ()
        rj.decode(data)
        return attempt(Outcome.REJECTED, rejection=Rejection(rj.result, rj.source, rj.reason_diagnostic))
    if pdu_type == _PDU_A_ABORT:
        ab = A_ABORT_RQ()
        ab.decode(data)
        return attempt(Outcome.ABORTED, abort=Abort(ab.source, ab.reason_diagnostic))

    ac = A_ASSOCIATE_AC()
    ac.decode(data)
    primitive = ac.to_primitive()
    accepted = tuple(
        "Verification" for ctx in primitive.presentation_context_definition_results_list if ctx.result == 0
    )
    rejected = tuple(
        ("Verification", str(ctx.result)) for ctx in primitive.presentation_context_definition_results_list
        if ctx.result != 0
    )
    impl_uid = impl_ver = None
    max_pdu = None
    for item in primitive.user_information:
        if isinstance(item, ImplementationClassUIDNotification):
            impl_uid = str(item.implementation_class_uid)
        elif isinstance(item, ImplementationVersionNameNotification):
            impl_ver = item.implementation_version_name
            impl_ver = impl_ver.decode("ascii", "replace") if isinstance(impl_ver, bytes) else impl_ver
        elif isinstance(item, MaximumLengthNotification):
            max_pdu = item.maximum_length_received
    # Release cleanly (PS3.8 7.2): A-RELEASE-RQ, then wait briefly for the RP.
    detail = None
    try:
        sock.sendall(bytes(A_RELEASE_RQ().encode()))
        rp = _recv_exact(sock, 6, min(deadline, time.monotonic() + 2.0))
        if rp[0] != _PDU_A_RELEASE_RP:
            detail = f"unexpected PDU 0x{rp[0]:02X} in reply to A-RELEASE-RQ"
    except (TimeoutError, _Closed, OSError):
        detail = "no A-RELEASE-RP received"
    return attempt(Outcome.ACCEPTED, accepted_contexts=accepted, rejected_contexts=rejected,
                   peer_implementation_class_uid=impl_uid, peer_implementation_version_name=impl_ver,
                   peer_max_pdu=max_pdu, detail=detail)


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def classify_os_error(exc: BaseException) -> tuple[Outcome, str]:
    """Map a socket error to an outcome and a plain-language reason."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return Outcome.TIMEOUT, "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return Outcome.REFUSED, "TCP connection refused (nothing listening on the port)"
    if isinstance(exc, socket.gaierror):
        return Outcome.UNREACHABLE, f"host name does not resolve ({exc.strerror})"
    if isinstance(exc, ConnectionResetError):
        return Outcome.CLOSED, "connection reset by the node"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Outcome.UNREACHABLE, f"no route to host ({exc.strerror})"
    return Outcome.UNREACHABLE, f"{type(exc).__name__}: {exc}"


def probe_plaintext(host: str, port: int, calling: str, called: str, timeout: float) -> AssociationAttempt:
    started = time.monotonic()

    def failed(outcome: Outcome, detail: str) -> AssociationAttempt:
        return AssociationAttempt(outcome=outcome, calling_aet=calling, called_aet=called, transport="plaintext",
                                  elapsed_ms=(time.monotonic() - started) * 1000, detail=detail)

    try:
        sock = _connect(host, port, timeout)
    except (OSError, TimeoutError) as exc:
        outcome, reason = classify_os_error(exc)
        return failed(outcome, "TCP connect timed out" if outcome is Outcome.TIMEOUT else reason)
    with sock:
        try:
            return _exchange(sock, calling, called, "plaintext", timeout, started)
        except (OSError, TimeoutError) as exc:
            outcome, reason = classify_os_error(exc)
            if outcome is Outcome.TIMEOUT:
                return failed(Outcome.TIMEOUT, f"no answer to A-ASSOCIATE-RQ within {timeout:g} s")
            return failed(outcome, reason)


def _ssl_reason(exc: ssl.SSLError) -> str:
    return (getattr(exc, "reason", None) or str(exc)).upper()


def probe_tls(host: str, port: int, calling: str, called: str, timeout: float,
              settings: TlsSettings) -> AssociationAttempt:
    """TLS handshake, then the same A-ASSOCIATE-RQ over TLS.

    With TLS 1.3 a server that requires a client certificate only says so
    after the handshake (alert ``certificate_required``), i.e. on the first
    read; so the association exchange is part of the probe.
    """
    started = time.monotonic()
    context = settings.client_context()
    sent_cert = settings.has_client_certificate

    def failed(outcome: Outcome, info: TlsInfo, detail: str) -> AssociationAttempt:
        return AssociationAttempt(outcome=outcome, calling_aet=calling, called_aet=called, transport="tls",
                                  elapsed_ms=(time.monotonic() - started) * 1000, tls=info, detail=detail)

    try:
        raw = _connect(host, port, timeout)
    except (OSError, TimeoutError) as exc:
        outcome, reason = classify_os_error(exc)
        return failed(outcome, TlsInfo(handshake=False, error=reason), reason)
    with raw:
        try:
            sock = context.wrap_socket(raw, server_hostname=host if settings.verify_server else None)
        except ssl.SSLError as exc:
            reason = _ssl_reason(exc)
            if not _from_tls_peer(reason):
                # e.g. WRONG_VERSION_NUMBER: what came back was not a TLS record at all.
                return failed(Outcome.NOT_DICOM, TlsInfo(handshake=False, error=reason),
                              f"no TLS handshake: {reason}")
            info = TlsInfo(handshake=False, client_certificate_sent=sent_cert, error=reason,
                           client_certificate_required=_cert_required(reason, sent_cert))
            return failed(Outcome.TLS_FAILED, info, f"TLS handshake failed: {reason}")
        except (OSError, TimeoutError) as exc:
            outcome, reason = classify_os_error(exc)
            if outcome is Outcome.CLOSED or outcome is Outcome.TIMEOUT:
                outcome = Outcome.NOT_DICOM if outcome is Outcome.CLOSED else outcome
            return failed(outcome, TlsInfo(handshake=False, error=reason), f"no TLS handshake: {reason}")
        with sock:
            der = sock.getpeercert(binary_form=True)
            info = TlsInfo(handshake=True, version=sock.version(), cipher=(sock.cipher() or (None,))[0],
                           client_certificate_sent=sent_cert,
                           peer_certificate=describe_certificate(der) if der else {})
            try:
                result = _exchange(sock, calling, called, "tls", timeout, started, tls=info)
            except ssl.SSLError as exc:
                reason = _ssl_reason(exc)
                if isinstance(exc, ssl.SSLEOFError):
                    # TLS 1.3: the server checks our (absent) certificate after the handshake and
                    # closes; its alert can still be waiting to be read behind the failed write.
                    reason = _pending_alert(sock, timeout) or reason
                info = TlsInfo(handshake=True, version=info.version, cipher=info.cipher,
                               client_certificate_sent=sent_cert, peer_certificate=info.peer_certificate,
                               client_certificate_required=_cert_required(reason, sent_cert), error=reason)
                return failed(Outcome.TLS_FAILED, info, f"TLS session refused: {reason}")
            except (OSError, TimeoutError) as exc:
                outcome, reason = classify_os_error(exc)
                return failed(outcome, info, reason)
            return result


def _pending_alert(sock: ssl.SSLSocket, timeout: float) -> str | None:
    try:
        sock.settimeout(min(timeout, 2.0))
        sock.recv(1)
    except ssl.SSLError as exc:
        return _ssl_reason(exc)
    except (OSError, TimeoutError):
        return None
    return None


def _from_tls_peer(reason: str) -> bool:
    """Whether an SSL error shows a TLS speaker on the other end (it sent an alert, or a certificate)."""
    return "ALERT" in reason or "CERTIFICATE_VERIFY_FAILED" in reason


def _cert_required(reason: str, sent_cert: bool) -> bool | None:
    if "CERTIFICATE_REQUIRED" in reason:
        return True
    if not sent_cert and ("HANDSHAKE_FAILURE" in reason or "PEER_DID_NOT_RETURN_A_CERTIFICATE" in reason):
        # OpenSSL servers answer a missing certificate with handshake_failure in TLS 1.2.
        return True
    return None


def observe_service(host: str, port: int, calling: str, called: str, timeout: float,
                    tls_settings: TlsSettings) -> ServiceObservation:
    """Plaintext first; TLS when the port is open but gave no DICOM answer in plaintext."""
    plain = probe_plaintext(host, port, calling, called, timeout)
    if plain.outcome.speaks_dicom:
        return ServiceObservation(reachable=True, transport="plaintext", plaintext=plain, tls=None)
    if plain.outcome in (Outcome.REFUSED, Outcome.UNREACHABLE) or plain.detail == "TCP connect timed out":
        return ServiceObservation(reachable=False, transport=None, plaintext=plain, tls=None, error=plain.detail)
    tls = probe_tls(host, port, calling, called, timeout, tls_settings)
    talks_tls = (
        tls.outcome.speaks_dicom
        or (tls.tls is not None and tls.tls.handshake)
        or (tls.outcome is Outcome.TLS_FAILED)
        or plain.outcome is Outcome.TLS
    )
    if talks_tls:
        return ServiceObservation(reachable=True, transport="tls", plaintext=plain, tls=tls)
    return ServiceObservation(reachable=True, transport=None, plaintext=plain, tls=tls,
                              error=f"not DICOM: plaintext {plain.describe()}; TLS {tls.describe()}")
