"""The connect sweep: open/closed/filtered in the service probe's words, bounded in flight, rate-limited, stoppable.

Real sockets on loopback: an open listener, a bound port nobody listens on
(refused at once), and a black hole made from a listener whose accept queue
is full (Linux then drops further SYNs, so a connect sees no answer at all).
"""

from __future__ import annotations

import asyncio
import errno
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomaudit.fleet import sweep as sweep_module
from dicomaudit.fleet.sweep import PortProbe, PortState, connect_once, sweep

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


def _closed_port(host: str = HOST) -> socket.socket:
    """A port bound but never listened on: nothing else can listen there, and a connect is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(64)
    yield sock
    sock.close()


@pytest.fixture
def closed() -> Iterator[socket.socket]:
    sock = _closed_port()
    yield sock
    sock.close()


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that drops SYNs: a ``listen(0)`` socket whose accept queue is filled with connections never accepted.

    Skips (with the reason) when the kernel completes the handshake anyway or refuses instead of dropping.
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((HOST, 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # Linux admits backlog + 1 connections; a few more for other kernels
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setblocking(False)
            fillers.append(client)
            client.connect_ex((HOST, port))
            # Bounded wait for the handshake: writable means it finished (or failed), not writable means dropped.
            _, writable, _ = select.select([], [client], [], 0.3)
            if not writable:
                yield port  # the SYN went unanswered: a black hole
                return
            if client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED:
                pytest.skip("this kernel refuses connections to a full accept queue instead of dropping them")
        pytest.skip("this kernel completed every handshake to a full accept queue: no black hole to test against")
    finally:
        for client in fillers:
            client.close()
        server.close()


def _collect(endpoints: list[tuple[str, int]], **kw: object) -> tuple[list[PortProbe], sweep_module.SweepStats]:
    results: list[PortProbe] = []
    lock = threading.Lock()

    def on_result(probe: PortProbe) -> None:
        with lock:
            results.append(probe)

    kw.setdefault("timeout", 1.0)
    stats = sweep(endpoints, on_result=on_result, **kw)  # type: ignore[arg-type]
    return results, stats


def test_open_listener_is_open(listener: socket.socket) -> None:
    """Given a listening socket, when one connect is made to it, then the endpoint is OPEN with no detail."""
    port = listener.getsockname()[1]
    probe = asyncio.run(connect_once(HOST, port, 1.0))
    assert probe.state is PortState.OPEN
    assert (probe.host, probe.port, probe.detail) == (HOST, port, "")


def test_closed_port_is_closed_in_the_service_probes_words(closed: socket.socket) -> None:
    """Given a port nothing listens on, when one connect is made, then it is CLOSED, worded as the service probe."""
    port = closed.getsockname()[1]
    probe = asyncio.run(connect_once(HOST, port, 1.0))
    assert probe.state is PortState.CLOSED
    assert probe.detail == f"TCP connection refused (nothing listening on port {port})"


def test_every_endpoint_yields_exactly_one_result(listener: socket.socket, closed: socket.socket) -> None:
    """Given open and closed endpoints, when swept, then each endpoint gets exactly one result and the counts add up."""
    open_port, closed_port = listener.getsockname()[1], closed.getsockname()[1]
    endpoints = [(HOST, open_port), (HOST, closed_port), ("127.0.0.2", closed_port), ("127.0.0.3", closed_port)]
    results, stats = _collect(endpoints)
    assert sorted((p.host, p.port) for p in results) == sorted(endpoints)
    states = {(p.host, p.port): p.state for p in results}
    assert states[(HOST, open_port)] is PortState.OPEN
    assert [states[e] for e in endpoints[1:]] == [PortState.CLOSED] * 3
    assert (stats.endpoints, stats.open, stats.closed, stats.filtered, stats.unreachable) == (4, 1, 3, 0, 0)
    assert not stats.interrupted


def test_black_hole_is_filtered_after_one_timeout(black_hole: int) -> None:
    """Given a port that drops SYNs, when swept with a 0.5 s timeout, then it is FILTERED after about one timeout."""
    started = time.monotonic()
    results, stats = _collect([(HOST, black_hole)], timeout=0.5)
    elapsed = time.monotonic() - started
    assert [p.state for p in results] == [PortState.FILTERED]
    assert results[0].detail == "TCP connect timed out"
    assert stats.filtered == 1
    assert 0.45 <= elapsed < 0.95, elapsed


def test_max_in_flight_bounds_concurrent_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given connects that each take a while, when 60 endpoints are swept with max_in_flight 5, then at most 5 run
    at once (and the bound is actually used)."""
    in_flight = 0
    peak = 0

    async def slow_connect(host: str, port: int, timeout: float) -> PortProbe:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)  # the connect's duration, not synchronisation
        finally:
            in_flight -= 1
        return PortProbe(host, port, PortState.CLOSED, 10.0, "refused")

    monkeypatch.setattr(sweep_module, "connect_once", slow_connect)
    results, stats = _collect([(HOST, p) for p in range(1000, 1060)], max_in_flight=5, rate=0)
    assert len(results) == 60 and stats.endpoints == 60
    assert peak == 5


def test_rate_limits_new_connects(closed: socket.socket) -> None:
    """Given 200 refused endpoints, when swept at 400 connects per second, then the sweep takes at least ~0.4 s."""
    port = closed.getsockname()[1]
    started = time.monotonic()
    results, stats = _collect([(HOST, port)] * 200, rate=400)
    elapsed = time.monotonic() - started
    assert len(results) == 200 and stats.closed == 200
    assert elapsed >= 0.4, elapsed


def test_unlimited_rate_is_not_throttled(closed: socket.socket) -> None:
    """Given the same 200 refused endpoints, when swept with rate 0 (no limit), then it is well under the 0.4 s of
    the rate-limited sweep (the limit above is the rate's doing, not the loop's)."""
    port = closed.getsockname()[1]
    started = time.monotonic()
    results, _ = _collect([(HOST, port)] * 200, rate=0)
    assert len(results) == 200
    assert time.monotonic() - started < 0.35


def test_stop_event_ends_the_sweep_early(closed: socket.socket) -> None:
    """Given a long sweep, when the stop event is set after the first result, then it returns early, interrupted."""
    port = closed.getsockname()[1]
    stop = threading.Event()
    results: list[PortProbe] = []

    def on_result(probe: PortProbe) -> None:
        results.append(probe)
        stop.set()

    started = time.monotonic()
    stats = sweep([(HOST, port)] * 10_000, timeout=1.0, on_result=on_result, rate=100, stop=stop)
    assert stats.interrupted
    assert stats.to_dict()["interrupted"] is True
    assert 1 <= stats.endpoints < 100
    assert time.monotonic() - started < 1.0


async def _out_of_files_on_port_2(host: str, port: int, timeout: float) -> PortProbe:
    """connect_once as it behaves when the process runs out of file descriptors on one endpoint."""
    if port == 2:
        raise OSError(errno.EMFILE, "Too many open files")
    return PortProbe(host, port, PortState.CLOSED, 1.0, f"TCP connection refused (nothing listening on port {port})")


def test_running_out_of_file_descriptors_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a connect that fails with EMFILE (the scanner's own limit, not the endpoint's state), when swept, then
    sweep() raises it rather than losing the endpoint."""
    monkeypatch.setattr(sweep_module, "connect_once", _out_of_files_on_port_2)
    with pytest.raises(OSError, match="Too many open files"):
        _collect([(HOST, 1), (HOST, 2), (HOST, 3)], rate=0)


_SCAN_WITH_EMFILE = f"""
import errno
from dicomaudit.fleet import sweep
from dicomaudit.fleet.sweep import PortProbe, PortState
from dicomaudit.checks.base import ProbeSettings
from dicomaudit.models import Target
from dicomaudit.scanner import scan

async def connect_once(host, port, timeout):
    if port == 2:
        raise OSError(errno.EMFILE, "Too many open files")
    return PortProbe(host, port, PortState.CLOSED, 1.0, "refused")

sweep.connect_once = connect_once
results = scan([Target("{HOST}", p) for p in (1, 2, 3)], ProbeSettings(timeout=1.0), presweep=True)
print(len(results), results[1].check("dicom.service").reason_code)
"""


def test_scan_does_not_hang_when_the_sweep_runs_out_of_file_descriptors() -> None:
    """Given a pre-swept scan of 3 endpoints whose sweep hits EMFILE on one, when run (in a child process, bounded
    at 2 s), then it returns all 3 results, the failed one an internal error."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _SCAN_WITH_EMFILE], capture_output=True, text=True, timeout=2, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scan() did not return within 2 s")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "internal"]
