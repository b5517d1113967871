"""The service probe tells DICOM from everything else that can sit on a port.

Real sockets on loopback: a silent listener, one that closes at once, an
HTTP server, a TLS server that is not DICOM, a closed port.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dicomaudit.lab import LabPACS
from dicomaudit.models import ErrorReason
from dicomaudit.net import service
from dicomaudit.net.outcome import Outcome
from dicomaudit.net.tls import TlsSettings
from dicomaudit.net.wire import Budget

TIMEOUT = 2.0


def _budget() -> Budget:
    return Budget.start(step=TIMEOUT, total=12 * TIMEOUT, byte_allowance=16 * 1024 * 1024)


def observe_service(host: str, port: int, calling: str, called: str, timeout: float, tls: TlsSettings):
    return service.observe_service(host, port, calling, called, _budget(), tls)


def probe_plaintext(host: str, port: int, calling: str, called: str, timeout: float):
    return service.probe(host, port, calling, called, _budget(), "plaintext")


class _TcpServer:
    """A one-behaviour TCP server on a free loopback port."""

    def __init__(self, behaviour: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                try:
                    self.behaviour(conn)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def tcp_server() -> Iterator[Callable[[Callable[[socket.socket], None]], _TcpServer]]:
    servers: list[_TcpServer] = []

    def start(behaviour: Callable[[socket.socket], None]) -> _TcpServer:
        servers.append(_TcpServer(behaviour))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _http(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _close_at_once(conn: socket.socket) -> None:
    conn.recv(4096)


def _silent(conn: socket.socket) -> None:
    conn.recv(4096)
    threading.Event().wait(TIMEOUT + 1)


def test_http_server_is_not_dicom(tcp_server) -> None:
    """Given an HTTP server, when probed, then the port is reachable but not DICOM, with the bytes as evidence."""
    server = tcp_server(_http)
    obs = observe_service("127.0.0.1", server.port, "DICOMAUDIT", "ANY-SCP", TIMEOUT, TlsSettings())
    assert obs.reachable and obs.transport is None
    assert obs.plaintext.outcome is Outcome.NOT_DICOM
    assert "HTTP" in obs.plaintext.detail


def test_listener_that_closes_is_not_dicom(tcp_server) -> None:
    server = tcp_server(_close_at_once)
    attempt = probe_plaintext("127.0.0.1", server.port, "DICOMAUDIT", "ANY-SCP", TIMEOUT)
    assert attempt.outcome is Outcome.CLOSED


def test_silent_listener_times_out(tcp_server) -> None:
    server = tcp_server(_silent)
    attempt = probe_plaintext("127.0.0.1", server.port, "DICOMAUDIT", "ANY-SCP", TIMEOUT)
    assert attempt.outcome is Outcome.TIMEOUT
    assert "no answer" in attempt.detail


def test_ctrl_c_while_a_port_is_silent_is_an_interruption_not_a_protocol_violation(tcp_server) -> None:
    """Given a listener that accepts and never answers, when the operator stops the run while the association
    request waits, then the attempt is ``interrupted`` (reason code ``interrupted``), no TLS attempt follows,
    and nothing says the port spoke malformed DICOM."""
    server = tcp_server(_silent)
    stop = threading.Event()
    budget = Budget.start(step=TIMEOUT, total=12 * TIMEOUT, byte_allowance=1 << 20, stop=stop)
    threading.Timer(0.3, stop.set).start()
    obs = service.observe_service("127.0.0.1", server.port, "DICOMAUDIT", "ANY-SCP", budget, TlsSettings())
    assert obs.plaintext.outcome is Outcome.INTERRUPTED
    assert obs.tls is None
    assert obs.error_code is ErrorReason.INTERRUPTED
    assert "interrupted" in (obs.error or "")


def test_closed_port_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    obs = observe_service("127.0.0.1", port, "DICOMAUDIT", "ANY-SCP", TIMEOUT, TlsSettings())
    assert not obs.reachable
    assert obs.plaintext.outcome is Outcome.REFUSED


def test_tls_server_that_is_not_dicom_is_not_a_dicom_service(tcp_server, tmp_path: Path) -> None:
    """Given a TLS server speaking something else, then the probe sees the TLS handshake but no DICOM.

    Nothing may be built on it: the checks must not treat it as a TLS DICOM port.
    """
    from dicomaudit.lab.tls import generate_tls_files

    files = generate_tls_files(tmp_path)
    ctx = files.server_context(require_client_cert=False)

    def tls_http(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        except ssl.SSLError:
            pass

    server = tcp_server(tls_http)
    obs = observe_service("127.0.0.1", server.port, "DICOMAUDIT", "ANY-SCP", TIMEOUT, TlsSettings())
    assert obs.transport is None
    assert obs.error_code is ErrorReason.PROTOCOL_VIOLATION
    assert obs.tls is not None and obs.tls.tls.handshake
    assert obs.tls.outcome is Outcome.NOT_DICOM


def test_tls_lab_requires_client_certificate(lab_tls: LabPACS) -> None:
    obs = observe_service(lab_tls.host, lab_tls.port, "DICOMAUDIT", lab_tls.ae_title, TIMEOUT, TlsSettings())
    assert obs.transport == "tls"
    assert obs.tls.outcome is Outcome.TLS_FAILED
    assert obs.tls.tls.client_certificate_required is True
    assert obs.tls.tls.peer_certificate["subject"]


def test_release_is_clean_after_accept(lab_open: LabPACS) -> None:
    """Given an open lab, when the raw probe is accepted, then it releases (A-RELEASE-RP seen, no abort)."""
    attempt = probe_plaintext(lab_open.host, lab_open.port, "DICOMAUDIT", lab_open.ae_title, TIMEOUT)
    assert attempt.outcome is Outcome.ACCEPTED
    assert attempt.detail is None


def test_a_silent_port_is_reported_as_a_timeout_not_as_something_else(tcp_server) -> None:
    """Given a listener that accepts and never answers, when scanned, then dicom.service says it timed out
    (reason code ``timeout``), not that "the port answers, but not with DICOM"."""
    from dicomaudit.checks.base import ProbeSettings
    from dicomaudit.models import Status, Target
    from dicomaudit.scanner import scan_target

    server = tcp_server(_silent)
    result = scan_target(Target("127.0.0.1", server.port), ProbeSettings(timeout=1.0, checks=("dicom.service",)))
    check = result.check("dicom.service")
    assert check.status is Status.ERROR and check.reason_code is ErrorReason.TIMEOUT
    assert "never answered" in check.summary and "not with DICOM" not in check.summary
