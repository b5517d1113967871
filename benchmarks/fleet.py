"""A loopback fleet of thousands of DICOM endpoints, for the discovery and audit benchmarks.

Thousands of pynetdicom servers would need thousands of threads and a lot of
memory, so the fleet is three kinds of process:

- **lab processes** (:class:`LabCluster`): a few real :class:`~dicomaudit.lab.LabPACS`
  servers (profiles ``open`` and ``locked``) on ``127.0.0.1``, port 0;
- **one fleet front** (:class:`FleetFront`): an asyncio process that listens on
  every live endpoint (``127.x.y.z:port``), relays each connection byte for byte
  to the lab server assigned to that endpoint, and also holds the *silent*
  listeners (accept, read and discard, never answer, keep the connection until
  the client closes);
- the scanner under test runs elsewhere (the benchmark's subprocess), never in
  a process that serves the fleet.

Closed endpoints are simply addresses and ports where nothing listens: the
kernel answers the SYN with a RST.  :class:`FleetSpec` is the ground truth:
one :class:`Endpoint` (host, port, role) per address and port.  The whole of
127.0.0.0/8 is local on Linux, so every ``127.x.y.z`` can be bound without
configuration.  Nothing here sends a packet beyond loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import multiprocessing
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

OPEN = "open"
LOCKED = "locked"
SILENT = "silent"
CLOSED = "closed"
ROLES = (OPEN, LOCKED, SILENT, CLOSED)
LAB_PROFILES = (OPEN, LOCKED)
#: The locked lab profile's called AE title (dicomaudit.lab.profiles.DEFAULT_AE_TITLE).
LOCKED_CALLED_AET = "DICOMLAB"

#: Discovery sweep: ~5 % DICOM listeners (half open, half locked), 2 % silent, the rest closed.
SWEEP_MIX: Mapping[str, float] = {OPEN: 0.025, LOCKED: 0.025, SILENT: 0.02}
#: Audit fleet (the issue's mix): 30 % live lab nodes, 50 % closed, 20 % silent.
AUDIT_MIX: Mapping[str, float] = {OPEN: 0.15, LOCKED: 0.15, SILENT: 0.20}

#: Listen backlog of every fleet socket (the kernel caps it at net.core.somaxconn).
BACKLOG = 4096
#: Associations one lab server accepts at once (LabPACS sets 32; a relayed fleet needs more).
LAB_MAX_ASSOCIATIONS = 1024
_MP = multiprocessing.get_context("spawn")


# --------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    role: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def dicom(self) -> bool:
        """A lab node behind the relay (it answers DICOM)."""
        return self.role in LAB_PROFILES

    @property
    def listening(self) -> bool:
        """Something accepts TCP here (a lab node or a silent listener)."""
        return self.role != CLOSED

    @property
    def called_aet(self) -> str:
        """What an inventory would list: the locked profile's AE title, nothing for the others."""
        return LOCKED_CALLED_AET if self.role == LOCKED else ""


@dataclass(frozen=True)
class FleetSpec:
    """Every endpoint of a fleet: ``addresses`` × ``ports``, each with its role."""

    addresses: tuple[str, ...]
    ports: tuple[int, ...]
    endpoints: tuple[Endpoint, ...]

    def __len__(self) -> int:
        return len(self.endpoints)

    def count(self, *roles: str) -> int:
        return sum(e.role in roles for e in self.endpoints)

    def with_role(self, *roles: str) -> list[Endpoint]:
        return [e for e in self.endpoints if e.role in roles]

    @property
    def by_key(self) -> dict[tuple[str, int], Endpoint]:
        return {e.key: e for e in self.endpoints}

    def composition(self) -> str:
        counts = Counter(e.role for e in self.endpoints)
        return ", ".join(f"{counts[r]} {r}" for r in ROLES)

    def ranges(self) -> list[str]:
        """The addresses as few ``FIRST-LAST`` range specs (one per contiguous run)."""
        values = sorted(int(ipaddress.IPv4Address(a)) for a in self.addresses)
        specs: list[str] = []
        start = prev = values[0]
        for v in values[1:] + [-1]:
            if v != prev + 1:
                first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(prev)
                specs.append(str(first) if start == prev else f"{first}-{last}")
                start = v
            prev = v
        return specs


def plan_fleet(
    size: int, ports: Sequence[int], mix: Mapping[str, float], base: str = "127.10.0.1", seed: int = 1
) -> FleetSpec:
    """A fleet of at least `size` endpoints on consecutive addresses from `base`, each with every port.

    `mix` gives the fraction of each role other than ``closed`` (which takes the
    rest); roles are spread over the endpoints by a seeded shuffle, so a run is
    reproducible.  The endpoint count is rounded up to a whole number of addresses.
    """
    if not ports:
        raise ValueError("no ports")
    base_ip = ipaddress.IPv4Address(base)
    n_addresses = max(1, math.ceil(size / len(ports)))
    addresses = tuple(str(base_ip + i) for i in range(n_addresses))
    for a in (addresses[0], addresses[-1]):
        if not ipaddress.IPv4Address(a).is_loopback:
            raise ValueError(f"fleet address {a} is outside 127.0.0.0/8")
    keys = [(a, p) for a in addresses for p in ports]
    roles: list[str] = []
    for role, fraction in mix.items():
        if role not in ROLES or role == CLOSED:
            raise ValueError(f"unknown role {role!r} in the mix")
        roles += [role] * round(fraction * len(keys))
    if len(roles) > len(keys):
        raise ValueError("the mix adds up to more than 100 %")
    roles += [CLOSED] * (len(keys) - len(roles))
    random.Random(seed).shuffle(roles)
    endpoints = tuple(Endpoint(h, p, r) for (h, p), r in zip(keys, roles, strict=True))
    return FleetSpec(addresses=addresses, ports=tuple(ports), endpoints=endpoints)


def wildcard_listeners(ports: Iterable[int]) -> list[str]:
    """Sockets listening on 0.0.0.0 / :: (or anywhere in 127/8 outside a /32) on one of `ports`.

    Such a listener would answer on every 127.x.y.z "closed" endpoint and
    falsify the ground truth.  Read from /proc/net/tcp{,6} (state 0A = LISTEN).
    """
    wanted = set(ports)
    found: list[str] = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 4 or cols[3] != "0A":
                continue
            addr_hex, port_hex = cols[1].split(":")
            port = int(port_hex, 16)
            if port in wanted and set(addr_hex) == {"0"}:
                found.append(f"{'0.0.0.0' if name.endswith('tcp') else '[::]'}:{port}")
    return sorted(set(found))


# ------------------------------------------------------------ process usage


@dataclass(frozen=True)
class ProcUsage:
    """CPU seconds (user + system) and memory of one live process, from /proc."""

    cpu_s: float
    rss_mb: float
    hwm_mb: float


_TICKS = os.sysconf("SC_CLK_TCK")


def proc_usage(pid: int) -> ProcUsage | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of stat)
    mem = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            mem[key] = int(value.split()[0]) / 1024
    return ProcUsage(cpu, mem.get("VmRSS", 0.0), mem.get("VmHWM", 0.0))


# ----------------------------------------------------------- lab processes


def _lab_main(profiles: Sequence[str], conn: Connection) -> None:
    """Child process: run one LabPACS per profile on 127.0.0.1 until told to stop (or the parent goes)."""
    import logging

    from dicomaudit.lab import LabPACS

    logging.basicConfig(level=logging.ERROR)
    labs = []
    try:
        for profile in profiles:
            lab = LabPACS(profile=profile, host="127.0.0.1", port=0).start()
            # Benchmark tuning from outside the class: a relayed fleet sends many
            # associations to one server, more than LabPACS's limit of 32, and in
            # bursts deeper than socketserver's listen backlog of 5.
            ae = getattr(lab, "_ae", None)
            if ae is not None:
                ae.maximum_associations = LAB_MAX_ASSOCIATIONS
            server = getattr(lab, "_server", None)
            if server is not None and server.socket is not None:
                server.socket.listen(BACKLOG)
            labs.append(lab)
        conn.send([(lab.profile.name, lab.port) for lab in labs])
        try:
            conn.recv()  # "stop", or EOFError when the parent is gone
        except (EOFError, OSError):
            pass
    finally:
        for lab in labs:
            lab.stop(timeout=2.0)


class LabCluster:
    """A few real LabPACS servers in `processes` child processes (profiles spread evenly)."""

    def __init__(self, profiles: Sequence[str] = (OPEN, OPEN, LOCKED, LOCKED), processes: int = 2) -> None:
        self.profiles = tuple(profiles)
        self.n_processes = max(1, min(processes, len(self.profiles)))
        self.backends: dict[str, list[int]] = {}
        self._procs: list[tuple[Any, Connection]] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p, _ in self._procs if p.pid is not None]

    def start(self, timeout: float = 60.0) -> LabCluster:
        for i in range(self.n_processes):
            mine = self.profiles[i :: self.n_processes]
            parent, child = _MP.Pipe()
            proc = _MP.Process(target=_lab_main, args=(mine, child), name=f"fleet-labs-{i}", daemon=True)
            proc.start()
            child.close()
            self._procs.append((proc, parent))
        for proc, conn in self._procs:
            try:
                if not conn.poll(timeout):
                    raise RuntimeError(f"lab process {proc.pid} did not start within {timeout:.0f} s")
                started = conn.recv()
            except (EOFError, OSError) as exc:
                self.stop()
                raise RuntimeError(f"lab process {proc.pid} exited before its servers started ({exc!r})") from None
            except RuntimeError:
                self.stop()
                raise
            for profile, port in started:
                self.backends.setdefault(profile, []).append(port)
        return self

    def stop(self) -> None:
        for _proc, conn in self._procs:
            try:
                conn.send("stop")
            except OSError:
                pass
        for proc, conn in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            conn.close()
        self._procs = []

    def __enter__(self) -> LabCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------- fleet front


@dataclass
class FrontStats:
    accepted: Counter[str] = field(default_factory=Counter)
    relayed: Counter[str] = field(default_factory=Counter)
    backend_failures: int = 0
    bytes_relayed: int = 0
    open_now: int = 0
    open_peak: int = 0
    bind_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": dict(self.accepted),
            "relayed": dict(self.relayed),
            "backend_failures": self.backend_failures,
            "bytes_relayed": self.bytes_relayed,
            "concurrent_peak": self.open_peak,
            "bind_seconds": round(self.bind_seconds, 3),
        }


class _Silent(asyncio.Protocol):
    """Accept, read and discard, never answer; close when the client closes."""

    def __init__(self, stats: FrontStats) -> None:
        self.stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.stats.accepted[SILENT] += 1
        self.stats.open_now += 1
        self.stats.open_peak = max(self.stats.open_peak, self.stats.open_now)

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # the client is done: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open_now -= 1


class _Side(asyncio.Protocol):
    """One side of a relayed connection; `peer` is the other side's transport."""

    def __init__(self, stats: FrontStats) -> None:
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.other: _Side | None = None
        self.pending: list[bytes] = []
        self.eof = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_relayed += len(data)
        if self.peer is None:
            self.pending.append(data)
        else:
            self.peer.write(data)

    def eof_received(self) -> bool:
        # Pass the half-close on; keep reading the other direction until it closes too.
        self.eof = True
        if self.peer is not None and not self.peer.is_closing():
            if self.peer.can_write_eof():
                self.peer.write_eof()
        if self.other is not None and self.other.eof:
            self._close_both()
            return False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.peer is not None:
            self.peer.close()

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()

    def _close_both(self) -> None:
        for t in (self.transport, self.peer):
            if t is not None:
                t.close()

    def attach(self, other: _Side) -> None:
        """Join two sides: each writes into the other; bytes that arrived early are flushed."""
        assert self.transport is not None and other.transport is not None
        self.other, other.other = other, self
        self.peer, other.peer = other.transport, self.transport
        for side in (self, other):
            assert side.peer is not None
            for chunk in side.pending:
                side.peer.write(chunk)
            side.pending.clear()
            if side.eof and side.peer.can_write_eof():
                side.peer.write_eof()


class _Front(_Side):
    """The client's side: on the client's first byte, connect to the assigned lab server and relay.

    The lab connection waits for data because a few lab servers stand in for
    thousands of nodes: a connect sweep's bare connect-and-close costs a real
    node only a kernel accept, but relayed at once it would make one lab server
    start hundreds of association threads in a burst and slow every real
    association behind them.  A DICOM client always speaks first (A-ASSOCIATE-RQ).
    """

    def __init__(self, stats: FrontStats, role: str, backend_port: int) -> None:
        super().__init__(stats)
        self.role = role
        self.backend_port = backend_port
        self.connecting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.stats.accepted[self.role] += 1
        self.stats.open_now += 1
        self.stats.open_peak = max(self.stats.open_peak, self.stats.open_now)

    def data_received(self, data: bytes) -> None:
        if not self.connecting:
            self.connecting = True
            self.stats.relayed[self.role] += 1
            asyncio.get_running_loop().create_task(self._connect())
        super().data_received(data)

    def eof_received(self) -> bool:
        if not self.connecting:
            return False  # connected and closed without a byte (a sweep): nothing to relay
        return super().eof_received()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        stats = self.stats
        try:
            _, backend = await loop.create_connection(lambda: _Side(stats), "127.0.0.1", self.backend_port)
        except OSError:
            stats.backend_failures += 1
            if self.transport is not None:
                self.transport.abort()
            return
        assert isinstance(backend, _Side)
        if self.lost:
            assert backend.transport is not None
            backend.transport.close()
            return
        self.attach(backend)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.stats.open_now -= 1


def _listen_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def _serve_front(assignments: Sequence[tuple[str, int, str, int]], conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stats = FrontStats()
    servers: list[asyncio.AbstractServer] = []
    failures: list[str] = []
    t0 = time.perf_counter()
    for host, port, role, backend in assignments:
        try:
            sock = _listen_socket(host, port)
        except OSError as exc:
            failures.append(f"{host}:{port}: {exc}")
            continue
        if role == SILENT:
            factory: Any = lambda: _Silent(stats)  # noqa: E731
        else:
            factory = lambda role=role, backend=backend: _Front(stats, role, backend)  # noqa: E731
        servers.append(await loop.create_server(factory, sock=sock, backlog=BACKLOG))
    stats.bind_seconds = time.perf_counter() - t0
    conn.send({"listening": len(servers), "failures": failures, "bind_seconds": stats.bind_seconds})

    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)  # "stop" or EOF (the parent is gone)
    await stop.wait()
    loop.remove_reader(conn.fileno())
    for server in servers:
        server.close()
    try:
        conn.send(stats.as_dict())
    except OSError:
        pass


def _front_main(assignments: Sequence[tuple[str, int, str, int]], conn: Connection) -> None:
    asyncio.run(_serve_front(assignments, conn))


class FleetFront:
    """The fleet's one listening process: relays live endpoints to the labs, holds the silent ones."""

    def __init__(self, spec: FleetSpec, backends: Mapping[str, Sequence[int]]) -> None:
        self.spec = spec
        assignments: list[tuple[str, int, str, int]] = []
        turn: Counter[str] = Counter()
        for e in spec.endpoints:
            if e.role == CLOSED:
                continue
            backend = 0
            if e.dicom:
                ports = backends.get(e.role)
                if not ports:
                    raise ValueError(f"no lab server with profile {e.role!r}")
                backend = ports[turn[e.role] % len(ports)]
                turn[e.role] += 1
            assignments.append((e.host, e.port, e.role, backend))
        self.assignments = assignments
        self.ready: dict[str, Any] = {}
        self.stats: dict[str, Any] = {}
        self._proc: Any = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 120.0) -> FleetFront:
        parent, child = _MP.Pipe()
        self._proc = _MP.Process(target=_front_main, args=(self.assignments, child), name="fleet-front", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        try:
            if not parent.poll(timeout):
                raise RuntimeError(f"the fleet front did not bind within {timeout:.0f} s")
            self.ready = parent.recv()
        except (EOFError, OSError) as exc:
            self.stop()
            raise RuntimeError(f"the fleet front exited before it was ready ({exc!r})") from None
        except RuntimeError:
            self.stop()
            raise
        if self.ready["failures"]:
            first = "; ".join(self.ready["failures"][:3])
            self.stop()
            raise RuntimeError(f"{len(self.ready['failures'])} fleet endpoint(s) could not be bound: {first}")
        return self

    def stop(self) -> dict[str, Any]:
        if self._proc is None or self._conn is None:
            return self.stats
        try:
            self._conn.send("stop")
            if self._conn.poll(10):
                self.stats = self._conn.recv()
        except (OSError, EOFError):
            pass
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        self._conn.close()
        self._proc = self._conn = None
        return self.stats

    def __enter__(self) -> FleetFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_closed(spec: FleetSpec, sample: int = 8, timeout: float = 1.0) -> list[str]:
    """Connect to a few closed endpoints: each must be refused (else something else listens there)."""
    wrong: list[str] = []
    closed = spec.with_role(CLOSED)
    step = max(1, len(closed) // sample)
    for e in closed[::step][:sample]:
        try:
            with socket.create_connection(e.key, timeout=timeout):
                wrong.append(f"{e.host}:{e.port} accepted a connection")
        except ConnectionRefusedError:
            pass
        except OSError as exc:
            wrong.append(f"{e.host}:{e.port}: {exc}")
    return wrong


def _selftest() -> None:  # pragma: no cover - a manual smoke test: python benchmarks/fleet.py
    spec = plan_fleet(40, (11112, 4242), {OPEN: 0.1, LOCKED: 0.1, SILENT: 0.1}, base="127.99.0.1")
    print(spec.composition(), spec.ranges())
    with LabCluster(processes=1) as labs, FleetFront(spec, labs.backends) as front:
        print("backends", labs.backends, "front", front.ready)
        print("closed sample:", check_closed(spec) or "all refused")
        silent = spec.with_role(SILENT)[0]
        with socket.create_connection(silent.key, timeout=2) as s:
            s.sendall(b"hello")
            s.settimeout(0.5)
            try:
                print("silent answered:", s.recv(10))
            except TimeoutError:
                print("silent: no answer (good)")
        results: list[str] = []

        def echo(e: Endpoint) -> None:
            from pynetdicom import AE

            ae = AE(ae_title="BENCH")
            ae.add_requested_context("1.2.840.10008.1.1")
            assoc = ae.associate(e.host, e.port, ae_title=e.called_aet or "ANY")
            results.append(f"{e.role}:{'accepted' if assoc.is_established else 'rejected'}")
            if assoc.is_established:
                assoc.release()

        threads = [threading.Thread(target=echo, args=(e,)) for e in spec.with_role(OPEN, LOCKED)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(sorted(results))
    print("front stats", front.stats)


if __name__ == "__main__":
    _selftest()
