"""The peer-facing byte layer: bounded sockets and strictly framed PDUs.

Everything the scanner reads from a node passes through :class:`PeerStream`.
pynetdicom's own transport blocks on ``recv`` without a timeout once
connected and trusts the length a peer announces; a scanner aimed at unknown
listeners cannot.  Here:

* every wait (connect, TLS handshake, each read and write) ends at the
  earlier of the step timeout and the target's deadline (:class:`Budget`);
  sockets are non-blocking and driven with ``select``, so a peer dripping one
  byte at a time cannot stretch a step either;
* every byte read is charged to the target's byte allowance, and a PDU
  announcing more than the caller accepts is refused before it is read;
* anything that is not a well-formed PDU header raises a
  :class:`ProtocolViolation` carrying the first bytes as evidence.

PS3.8 9.3.1: a PDU is one type byte, one reserved byte and a 4-byte
big-endian length, followed by that many bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dicomaudit.models import ErrorReason

#: The longest a wait goes without looking at the operator's stop request.
_SLICE = 0.25
#: The detail of a TCP connect that got no answer (the host may not exist).
CONNECT_TIMEOUT = "TCP connect timed out"
#: How many bytes of a peer's answer go into evidence (hex).
EVIDENCE_BYTES = 48

PDU_TYPES = {
    0x01: "A-ASSOCIATE-RQ",
    0x02: "A-ASSOCIATE-AC",
    0x03: "A-ASSOCIATE-RJ",
    0x04: "P-DATA-TF",
    0x05: "A-RELEASE-RQ",
    0x06: "A-RELEASE-RP",
    0x07: "A-ABORT",
}
A_ASSOCIATE_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, P_DATA_TF, A_RELEASE_RQ, A_RELEASE_RP, A_ABORT = range(1, 8)


def hex_evidence(data: bytes, limit: int = EVIDENCE_BYTES) -> str:
    """The first ``limit`` bytes as spaced hex, with a printable rendering and the total size."""
    head = bytes(data[:limit])
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in head)
    more = f" (+{len(data) - limit} more)" if len(data) > limit else ""
    return f"{head.hex(' ')}{more} |{text}|"


class PeerError(Exception):
    """The node's answer decides nothing; ``code`` says why, ``raw`` shows what came back."""

    code: ErrorReason = ErrorReason.INTERNAL

    def __init__(self, text: str, raw: bytes | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.raw = raw

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"reason_code": self.code.value, "detail": self.text}
        if self.raw:
            d["first_bytes"] = hex_evidence(self.raw)
        return d


class ProtocolViolation(PeerError):
    """Malformed, mismatched, unexpected or undecodable data from the node."""

    code = ErrorReason.PROTOCOL_VIOLATION

    def __init__(self, text: str, raw: bytes | None = None) -> None:
        super().__init__(f"protocol violation: {text}", raw)


class NotAPdu(ProtocolViolation):
    """What came back does not even start like a DICOM PDU (an HTTP banner, a TLS record, noise)."""

    def __init__(self, text: str, raw: bytes | None = None) -> None:
        PeerError.__init__(self, text, raw)


class PeerTimeout(PeerError):
    code = ErrorReason.TIMEOUT


class ConnectionLost(PeerError):
    """Refused, reset, unreachable, or closed without the expected answer."""

    code = ErrorReason.CONNECTIVITY

    def __init__(
        self, text: str, raw: bytes | None = None, *, refused: bool = False, unreachable: bool = False
    ) -> None:
        super().__init__(text, raw)
        self.refused = refused
        self.unreachable = unreachable


class BudgetExhausted(PeerError):
    code = ErrorReason.BUDGET_EXHAUSTED


class Interrupted(PeerError):
    """The operator stopped the run."""

    code = ErrorReason.INTERRUPTED


class TlsFailure(PeerError):
    """The TLS layer failed; ``alert`` is OpenSSL's reason (e.g. TLSV13_ALERT_CERTIFICATE_REQUIRED)."""

    code = ErrorReason.TLS

    def __init__(self, text: str, alert: str, *, after_handshake: bool) -> None:
        super().__init__(text)
        self.alert = alert
        self.after_handshake = after_handshake


@dataclass
class Budget:
    """One target's allowance: a hard deadline, a per-step timeout and bytes to read.

    A step (connect, handshake, one PDU, one write) may take ``step`` seconds
    but never past ``deadline``; the whole target may read at most
    ``byte_allowance`` bytes.  One budget is shared by every connection of a
    target, which is probed by one thread at a time.
    """

    step: float
    deadline: float
    byte_allowance: int
    bytes_read: int = 0
    total: float = field(default=0.0)
    stop: threading.Event | None = None  # set when the operator interrupts the run

    @classmethod
    def start(cls, step: float, total: float, byte_allowance: int, stop: threading.Event | None = None) -> Budget:
        return cls(step=step, deadline=time.monotonic() + total, byte_allowance=byte_allowance, total=total, stop=stop)

    @property
    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    @property
    def expired(self) -> bool:
        return self.stopped or time.monotonic() >= self.deadline

    def step_until(self, step: float | None = None) -> float:
        """The absolute time the next step must end by; raise if the target's time is up."""
        now = time.monotonic()
        if self.stopped or now >= self.deadline:
            raise self.exhausted()
        return min(now + (self.step if step is None else step), self.deadline)

    def exhausted(self) -> PeerError:
        if self.stopped:
            return Interrupted("the run was interrupted")
        return BudgetExhausted(f"the target's time budget of {self.total:g} s was used up")

    def timed_out(self, until: float, what: str) -> PeerError:
        """The error for a wait that reached ``until``: the step's timeout or the target's deadline."""
        if until >= self.deadline or self.stopped:
            return self.exhausted()
        return PeerTimeout(f"{what}: no answer within {self.step:g} s")

    def charge(self, n: int) -> None:
        self.bytes_read += n
        if self.bytes_read > self.byte_allowance:
            raise BudgetExhausted(
                f"the node sent more than the {self.byte_allowance // (1024 * 1024)} MiB a target may send"
            )


def classify_connect_error(exc: BaseException, port: int) -> PeerError:
    """A socket error on connect as a reason a person can act on."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return PeerTimeout(CONNECT_TIMEOUT)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionLost(f"TCP connection refused (nothing listening on port {port})", refused=True)
    if isinstance(exc, socket.gaierror):
        return ConnectionLost(f"host name does not resolve ({exc.strerror})", unreachable=True)
    if isinstance(exc, ConnectionResetError):
        return ConnectionLost("connection reset by the node")
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return ConnectionLost(f"no route to host ({exc.strerror})", unreachable=True)
    return ConnectionLost(
        f"cannot connect: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}", unreachable=True
    )


def ssl_reason(exc: ssl.SSLError) -> str:
    return str(getattr(exc, "reason", None) or exc).upper()


@dataclass(frozen=True)
class Pdu:
    """One framed PDU: its type and its body (the bytes after the 6-byte header)."""

    type: int
    body: bytes

    @property
    def name(self) -> str:
        return PDU_TYPES.get(self.type, f"unknown PDU type 0x{self.type:02X}")

    @property
    def raw(self) -> bytes:
        return bytes([self.type, 0]) + struct.pack(">I", len(self.body)) + self.body


class PeerClosed(ConnectionLost):
    """The node closed the connection; ``received`` is what came before."""

    def __init__(self, text: str, received: bytes) -> None:
        super().__init__(text, received)
        self.received = received


def looks_like_tls(data: bytes) -> bool:
    """A TLS record header (PS3.15 B.1 is TLS): content type alert/handshake, major version 3."""
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


class PeerStream:
    """A connected socket (plaintext or TLS) whose every wait is bounded by a :class:`Budget`."""

    def __init__(self, sock: socket.socket, budget: Budget) -> None:
        self.sock = sock
        self.budget = budget
        # What the TLS handshake showed (version, cipher, peer certificate in
        # DER), kept because a session that fails later may no longer say.
        self.handshake: tuple[str | None, str | None, bytes | None] | None = None
        sock.setblocking(False)

    # -- opening -------------------------------------------------------------
    @classmethod
    def connect(cls, host: str, port: int, budget: Budget) -> PeerStream:
        """A non-blocking TCP connect, bounded by the step and watching for an interrupt."""
        until = budget.step_until()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise classify_connect_error(exc, port) from None
        error: BaseException = ConnectionRefusedError()
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            code = sock.connect_ex(address)
            while code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY):
                remaining = until - time.monotonic()
                if remaining <= 0 or budget.stopped:
                    sock.close()
                    if budget.stopped or until >= budget.deadline:
                        raise budget.exhausted()
                    raise PeerTimeout(CONNECT_TIMEOUT)
                _, writable, _ = select.select([], [sock], [], min(remaining, _SLICE))
                if writable:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                # Small PDUs go out at once: with Nagle on, the second write of a
                # request (command, then identifier) waits for the peer's delayed
                # ACK, ~40-100 ms per message on loopback.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return cls(sock, budget)
            sock.close()
            error = OSError(code, os.strerror(code))
            if code == errno.ECONNREFUSED:
                error = ConnectionRefusedError(code, os.strerror(code))
        raise classify_connect_error(error, port)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        """TLS handshake on the connected socket, bounded like any other step.

        Raises :class:`TlsFailure` when the peer speaks TLS and refuses us (an
        alert), :class:`ProtocolViolation` when what comes back is not TLS.
        """
        until = self.budget.step_until()
        tls = context.wrap_socket(self.sock, server_hostname=server_hostname, do_handshake_on_connect=False)
        tls.setblocking(False)
        self.sock = tls
        while True:
            try:
                tls.do_handshake()
                self.handshake = (tls.version(), (tls.cipher() or (None,))[0], tls.getpeercert(binary_form=True))
                return
            except ssl.SSLWantReadError:
                self._wait(until, read=True, what="TLS handshake")
            except ssl.SSLWantWriteError:
                self._wait(until, read=False, what="TLS handshake")
            except ssl.SSLError as exc:
                reason = ssl_reason(exc)
                if isinstance(exc, ssl.SSLEOFError) or "UNEXPECTED_EOF" in reason:
                    raise PeerClosed("connection closed by the node during the TLS handshake", b"") from None
                if "ALERT" in reason or "CERTIFICATE_VERIFY_FAILED" in reason:
                    raise TlsFailure(f"TLS handshake failed: {reason}", reason, after_handshake=False) from None
                raise ProtocolViolation(f"no TLS handshake: {reason}") from None
            except ConnectionResetError:
                raise PeerClosed("connection reset by the node during the TLS handshake", b"") from None
            except OSError as exc:
                raise ConnectionLost(f"TLS handshake failed: {exc.strerror or exc}") from None

    # -- waiting ---------------------------------------------------------------
    def _wait(self, until: float, *, read: bool, what: str) -> None:
        fd = self.sock.fileno()
        if fd < 0:
            raise ConnectionLost("connection closed")
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0 or self.budget.stopped:
                raise self.budget.timed_out(until, what)
            # Short slices, so an interrupted run stops waiting within a fraction of a second.
            r, w, _ = select.select([fd] if read else [], [] if read else [fd], [], min(remaining, _SLICE))
            if r or w:
                return

    # -- writing ---------------------------------------------------------------
    def send(self, data: bytes, what: str = "sending") -> None:
        until = self.budget.step_until()
        view = memoryview(data)
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except (BlockingIOError, ssl.SSLWantWriteError):
                self._wait(until, read=False, what=what)
            except ssl.SSLWantReadError:
                self._wait(until, read=True, what=what)
            except ssl.SSLError as exc:
                reason = ssl_reason(exc)
                raise TlsFailure(f"TLS session failed while {what}: {reason}", reason, after_handshake=True) from None
            except (BrokenPipeError, ConnectionResetError):
                raise ConnectionLost(f"connection closed by the node while {what}") from None
            except OSError as exc:
                raise ConnectionLost(f"connection failed while {what}: {exc.strerror or exc}") from None

    # -- reading ---------------------------------------------------------------
    def _recv_exact(self, n: int, until: float, what: str, received: bytes = b"") -> bytes:
        buf = bytearray(received)
        target = len(received) + n
        while len(buf) < target:
            try:
                chunk = self.sock.recv(min(65536, target - len(buf)))
            except (BlockingIOError, ssl.SSLWantReadError):
                self._wait(until, read=True, what=what)
                continue
            except ssl.SSLWantWriteError:
                self._wait(until, read=False, what=what)
                continue
            except ssl.SSLError as exc:
                reason = ssl_reason(exc)
                if isinstance(exc, ssl.SSLEOFError):
                    raise PeerClosed(f"connection closed by the node while {what}", bytes(buf)) from None
                raise TlsFailure(f"TLS session failed while {what}: {reason}", reason, after_handshake=True) from None
            except ConnectionResetError:
                raise PeerClosed(f"connection reset by the node while {what}", bytes(buf)) from None
            except OSError as exc:
                raise ConnectionLost(f"connection failed while {what}: {exc.strerror or exc}") from None
            if not chunk:
                raise PeerClosed(f"connection closed by the node while {what}", bytes(buf))
            self.budget.charge(len(chunk))
            buf += chunk
        return bytes(buf)

    def read_pdu(self, max_body: int, what: str = "waiting for a PDU", step: float | None = None) -> Pdu:
        """Read one PDU whose body may be at most ``max_body`` bytes.

        The header is validated before the body is read: an unknown type or an
        announced length above ``max_body`` is a :class:`ProtocolViolation`
        (the announced bytes are never read).  A reply that starts like a TLS
        record is reported as such.  ``step`` shortens the step timeout.
        """
        until = self.budget.step_until(step)
        header = self._recv_exact(6, until, what)
        pdu_type = header[0]
        (length,) = struct.unpack(">I", header[2:6])
        if pdu_type not in PDU_TYPES:
            if looks_like_tls(header):
                raise NotAPdu("a TLS record where a DICOM PDU was expected", header)
            seen = header + self._peek_more(EVIDENCE_BYTES - len(header))
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in seen)
            raise NotAPdu(f"not a DICOM PDU (unknown PDU type 0x{pdu_type:02X}; the answer starts {text!r})", seen)
        if length > max_body:
            raise ProtocolViolation(
                f"{PDU_TYPES[pdu_type]} announces {length} bytes, more than the {max_body} accepted here", header
            )
        body = self._recv_exact(length, until, f"reading a {length}-byte {PDU_TYPES[pdu_type]}")
        return Pdu(pdu_type, body)

    def _peek_more(self, n: int) -> bytes:
        """Whatever of the next ``n`` bytes has already arrived (evidence only; never waits)."""
        try:
            data = self.sock.recv(n)
        except (OSError, ssl.SSLError):
            return b""
        self.budget.charge(len(data))
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
