"""The connect sweep: which endpoints accept a TCP connection, fast and bounded.

A plain TCP connect (like ``nmap -sT``; no raw packets, no privileges) per
endpoint, on one asyncio loop: at most ``max_in_flight`` connects open at
once, new connects started at no more than ``rate`` per second, every
connect bounded by ``timeout``.  An endpoint that accepts is closed again at
once (an orderly FIN, so servers log a short connection, not a reset); the
DICOM question is asked afterwards by the ordinary service probe, on the
open endpoints only.  That is what keeps closed ports (refused in
microseconds) and black holes (one ``timeout`` each, thousands in parallel)
from occupying the slots of the slower association work.

Endpoints are pulled lazily from the iterable, so a /16 on five ports never
exists as a list, and results are handed to ``on_result`` as they come (from
the sweep's own thread: the callback must be thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dicomaudit.net.wire import CONNECT_TIMEOUT, ConnectionLost, classify_connect_error

#: Defaults: polite for a hospital network, yet a /16 on five ports in minutes.
DEFAULT_MAX_IN_FLIGHT = 512
DEFAULT_RATE = 4000.0  # new connections per second
#: File descriptors kept free for everything else the process does (workers, reports, logs).
_FD_RESERVE = 256


class PortState(enum.StrEnum):
    OPEN = "open"  # the TCP handshake completed
    CLOSED = "closed"  # refused (RST): nothing listens
    FILTERED = "filtered"  # no answer within the timeout: dropped by a firewall, or no host
    UNREACHABLE = "unreachable"  # no route, the name does not resolve, or the address cannot be used


@dataclass(frozen=True, slots=True)
class PortProbe:
    """What one connect showed; ``detail`` uses the same words as the service probe."""

    host: str
    port: int
    state: PortState
    elapsed_ms: float
    detail: str = ""


@dataclass
class SweepStats:
    endpoints: int = 0
    open: int = 0
    closed: int = 0
    filtered: int = 0
    unreachable: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, probe: PortProbe) -> None:
        self.endpoints += 1
        setattr(self, probe.state.value, getattr(self, probe.state.value) + 1)

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "seconds": round(self.seconds, 3),
            "endpoints": self.endpoints,
            "open": self.open,
            "closed": self.closed,
            "filtered": self.filtered,
            "unreachable": self.unreachable,
            **({"interrupted": True} if self.interrupted else {}),
        }


def usable_in_flight(wanted: int) -> int:
    """``wanted``, or fewer when the process may not open that many files (raising the soft limit if allowed)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + _FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, int(soft) - _FD_RESERVE))


def _family(host: str) -> int:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_UNSPEC


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> tuple[int, tuple]:
    family = _family(host)
    if family != socket.AF_UNSPEC:
        return family, (host, port)
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, _, _, _, address = infos[0]
    return family, address


async def connect_once(host: str, port: int, timeout: float) -> PortProbe:
    """One TCP connect, closed again at once; never raises for a network outcome."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()

    def done(state: PortState, detail: str = "") -> PortProbe:
        return PortProbe(host, port, state, (time.monotonic() - started) * 1000, detail)

    sock: socket.socket | None = None
    try:
        async with asyncio.timeout(timeout):
            family, address = await _resolve(loop, host, port)
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        return done(PortState.OPEN)
    except TimeoutError:
        return done(PortState.FILTERED, CONNECT_TIMEOUT)
    except OSError as exc:
        error = classify_connect_error(exc, port)
        if isinstance(error, ConnectionLost) and error.refused:
            return done(PortState.CLOSED, error.text)
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            raise  # the scanner's own limit, not the endpoint's state: never report it as one
        return done(PortState.UNREACHABLE, error.text)
    finally:
        if sock is not None:
            sock.close()


async def _sweep(
    endpoints: Iterator[tuple[str, int]],
    timeout: float,
    max_in_flight: int,
    rate: float,
    on_result: Callable[[PortProbe], None],
    stop: threading.Event | None,
    stats: SweepStats,
) -> None:
    interval = 1.0 / rate if rate > 0 else 0.0
    next_start = time.monotonic()
    in_flight: set[asyncio.Task[PortProbe]] = set()
    exhausted = False

    failures: list[BaseException] = []

    def finished(task: asyncio.Task[PortProbe]) -> None:
        in_flight.discard(task)
        if task.cancelled():
            return
        # connect_once raises only for the scanner's own limits (out of file
        # descriptors): asyncio would log and drop an exception raised in a
        # done-callback, so keep it and raise it from the loop below.
        raised = task.exception()
        if raised is not None:
            failures.append(raised)
            return
        try:
            probe = task.result()
            stats.count(probe)
            on_result(probe)
        except Exception as error:  # noqa: BLE001 - the caller's callback: surface it the same way
            failures.append(error)

    try:
        while True:
            if failures:
                raise failures[0]
            if stop is not None and stop.is_set():
                stats.interrupted = True
                break
            while not exhausted and len(in_flight) < max_in_flight:
                now = time.monotonic()
                if interval and now < next_start:
                    break
                try:
                    host, port = next(endpoints)
                except StopIteration:
                    exhausted = True
                    break
                task = asyncio.ensure_future(connect_once(host, port, timeout))
                task.add_done_callback(finished)
                in_flight.add(task)
                if interval:
                    # A burst after a pause is allowed up to one in-flight window, no more.
                    next_start = max(next_start + interval, now - interval * 8)
            if exhausted and not in_flight:
                break
            wait = max(0.0, next_start - time.monotonic()) if interval and not exhausted else 0.05
            if len(in_flight) >= max_in_flight or exhausted:
                wait = 0.05
            if in_flight:
                await asyncio.wait(set(in_flight), timeout=min(max(wait, 0.0005), 0.05), return_when="FIRST_COMPLETED")
            else:
                await asyncio.sleep(min(max(wait, 0.0005), 0.05))
    finally:
        for task in list(in_flight):
            task.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)


def sweep(
    endpoints: Iterable[tuple[str, int]],
    *,
    timeout: float,
    on_result: Callable[[PortProbe], None],
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    rate: float = DEFAULT_RATE,
    stop: threading.Event | None = None,
) -> SweepStats:
    """Connect to every endpoint once; ``on_result`` gets each :class:`PortProbe` as it is known.

    Runs its own event loop in the calling thread and returns when every
    endpoint is decided or ``stop`` is set (then ``stats.interrupted``).
    """
    stats = SweepStats()
    started = time.monotonic()
    limit = usable_in_flight(max_in_flight)
    try:
        asyncio.run(_sweep(iter(endpoints), timeout, limit, rate, on_result, stop, stats))
    finally:
        stats.seconds = time.monotonic() - started
    return stats
