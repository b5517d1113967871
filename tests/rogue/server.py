"""A threaded TCP server on loopback that plays one misbehaving DICOM peer.

:class:`RogueServer` listens on ``127.0.0.1`` port 0 and hands every
accepted connection to its :class:`~tests.rogue.behaviours.Behaviour` in a
daemon thread.  All socket I/O goes through :class:`Connection`, which polls
in short slices so that :meth:`RogueServer.stop` ends every handler (even
one dripping bytes forever or streaming 50 MB) within about a second and
leaves no thread behind.

Usage::

    with RogueServer(get_behaviour("silent")) as server:
        target = Target("127.0.0.1", server.port, "ROGUE")
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from tests.rogue import wire

if TYPE_CHECKING:
    from tests.rogue.behaviours import Behaviour

LOGGER = logging.getLogger(__name__)

HOST = "127.0.0.1"  # the rogue never listens anywhere else
#: How often blocked reads/writes look at the stop flag.
POLL_INTERVAL = 0.05
#: Stop must be done within this many seconds.
STOP_DEADLINE = 1.0
#: No PDU from the scanner is anywhere near this big; a larger one is not DICOM.
MAX_INBOUND_PDU = 4 * 1024 * 1024
#: Connections served at the same time per listener (the scanner opens a few at most).
MAX_CONNECTIONS = 64


class PeerGone(Exception):
    """The client closed or reset the connection, or the server is stopping."""


class Connection:
    """One accepted socket with I/O that gives up as soon as the server stops."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self._stopping = stopping
        sock.settimeout(POLL_INTERVAL)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- reading ---------------------------------------------------------------
    def recv_some(self, limit: int = 65536) -> bytes:
        """Whatever arrives next (at least one byte); ``PeerGone`` on EOF, reset or stop."""
        while True:
            if self._stopping.is_set():
                raise PeerGone("server stopping")
            try:
                chunk = self.sock.recv(limit)
            except TimeoutError:
                continue
            except OSError as exc:
                raise PeerGone(f"recv failed: {exc}") from exc
            if not chunk:
                raise PeerGone("closed by the client")
            return chunk

    def recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            buf += self.recv_some(n - len(buf))
        return bytes(buf)

    def read_header(self) -> tuple[int, int]:
        """A PDU header (PS3.8 9.3.1): ``(type, length)``."""
        header = self.recv_exact(wire.PDU_HEADER_LENGTH)
        return header[0], int.from_bytes(header[2:6], "big")

    def read_pdu(self) -> wire.Pdu:
        """One complete PDU; ``PeerGone`` when what arrives cannot be a DICOM PDU."""
        pdu_type, length = self.read_header()
        if not wire.A_ASSOCIATE_RQ_TYPE <= pdu_type <= wire.A_ABORT_TYPE or length > MAX_INBOUND_PDU:
            raise PeerGone(f"not a DICOM PDU (type 0x{pdu_type:02X}, length {length})")
        return wire.Pdu(pdu_type, self.recv_exact(length))

    def drain(self) -> None:
        """Stay silent: read and discard until the client closes or the server stops."""
        while True:
            self.recv_some()

    # -- writing ---------------------------------------------------------------
    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send everything; ``PeerGone`` if the client went away or the server stops meanwhile."""
        view = memoryview(data)
        while view:
            if self._stopping.is_set():
                raise PeerGone("server stopping")
            try:
                sent = self.sock.send(view)
            except TimeoutError:
                continue  # the client is not reading; look at the stop flag and try again
            except OSError as exc:
                raise PeerGone(f"send failed: {exc}") from exc
            view = view[sent:]

    def send_all(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.send(chunk)

    def sleep(self, seconds: float) -> None:
        """Wait, but not past a stop request."""
        if self._stopping.wait(seconds):
            raise PeerGone("server stopping")

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class RogueServer:
    """A loopback listener whose every connection is served by ``behaviour``.

    ``first_accept_at`` is the monotonic time of the first connection (the
    scanner connects first thing when it starts on a target), ``connections``
    counts them, ``errors`` collects tracebacks of handler failures (bugs of
    the fixture, not of the scanner).
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.name = behaviour.name
        self.port = 0
        self.connections = 0
        self.first_accept_at: float | None = None
        self.errors: list[str] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._live: dict[threading.Thread, Connection] = {}
        self._accept_thread: threading.Thread | None = None
        self.leftover_threads: list[threading.Thread] = []

    @property
    def host(self) -> str:
        return HOST

    @property
    def live_connections(self) -> int:
        """Connections still being served (the client has not hung up yet)."""
        with self._lock:
            return len(self._live)

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> RogueServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(32)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"rogue-{self.name}-accept", daemon=True)
        self._accept_thread.start()
        return self

    def request_stop(self) -> None:
        """Ask every handler to wind down (returns at once; :meth:`stop` waits)."""
        self._stopping.set()

    def stop(self) -> None:
        """Close the listener and every connection; join all threads within :data:`STOP_DEADLINE`."""
        deadline = time.monotonic() + STOP_DEADLINE
        self._stopping.set()
        threads: list[threading.Thread] = []
        if self._accept_thread is not None:
            # Joined first, so no connection can be accepted behind the snapshot below.
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
            threads.append(self._accept_thread)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            live = dict(self._live)
        for conn in live.values():
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/send at once
            except OSError:
                pass
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))
        threads.extend(live)
        self.leftover_threads = [t for t in threads if t.is_alive()]

    def __enter__(self) -> RogueServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._listener], [], [], POLL_INTERVAL)
            if not ready or self._stopping.is_set():
                continue
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                if self.first_accept_at is None:
                    self.first_accept_at = time.monotonic()
                self.connections += 1
                if len(self._live) >= MAX_CONNECTIONS:
                    sock.close()
                    continue
                conn = Connection(sock, self._stopping)
                thread = threading.Thread(
                    target=self._serve, args=(conn,), daemon=True, name=f"rogue-{self.name}-conn{self.connections}"
                )
                self._live[thread] = conn
            thread.start()

    def _serve(self, conn: Connection) -> None:
        try:
            self.behaviour.handle(conn)
        except PeerGone:
            pass
        except Exception:  # a fixture bug: keep it for the tests to see, never crash the thread noisily
            self.errors.append(traceback.format_exc())
            LOGGER.debug("rogue %s handler failed", self.name, exc_info=True)
        finally:
            conn.close()
            with self._lock:
                self._live.pop(threading.current_thread(), None)


class RogueFleet:
    """Several rogue servers started and stopped together (one per behaviour name)."""

    def __init__(self, behaviours: Iterable[Behaviour]) -> None:
        self.servers = {b.name: RogueServer(b) for b in behaviours}

    def __getitem__(self, name: str) -> RogueServer:
        return self.servers[name]

    def __iter__(self) -> Iterator[RogueServer]:
        return iter(self.servers.values())

    def start(self) -> RogueFleet:
        try:
            for server in self.servers.values():
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.request_stop()  # every handler starts winding down at once
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> RogueFleet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
