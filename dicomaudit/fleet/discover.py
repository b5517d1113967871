"""Discovery: every DICOM listener in the ranges, reconciled against the inventory.

Two phases, each bounded: the connect sweep over ranges x ports
(:mod:`dicomaudit.fleet.sweep`; lazy, so a /16 is never a list: only open
endpoints are kept), then the ordinary scanner on the open endpoints and on
every inventory row, which confirms DICOM with the same service probe
``probe`` uses (plaintext, then TLS where the port answers TLS) and runs the
selected checks.  Endpoints the sweep found closed that no row lists are not
targets: nothing listens there.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dicomaudit.fleet.inventory import Listing, Reconciliation, addresses_of
from dicomaudit.fleet.ranges import AddressRange
from dicomaudit.fleet.sweep import DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE, PortProbe, PortState, SweepStats, sweep
from dicomaudit.models import Target


def endpoints(ranges: Sequence[AddressRange], ports: Sequence[int]) -> Iterator[tuple[str, int]]:
    """Every (address, port) of the ranges, address by address, each once."""
    seen: set[str] = set()
    for r in ranges:
        for address in r:
            text = str(address)
            if len(ranges) > 1:  # overlapping ranges: each address once (only then is the set needed)
                if text in seen:
                    continue
                seen.add(text)
            for port in ports:
                yield text, port


def describe_sweep(ranges: Sequence[AddressRange], ports: Sequence[int]) -> str:
    specs = ", ".join(r.spec for r in ranges[:4]) + (f" and {len(ranges) - 4} more" if len(ranges) > 4 else "")
    return f"sweep of {specs} on port(s) {','.join(map(str, ports))}"


@dataclass(frozen=True)
class Plan:
    """The targets of a discovery run and what the inventory says about each."""

    targets: tuple[Target, ...]
    listings: tuple[Listing | None, ...]
    known_open: tuple[bool, ...]  # found open by the sweep: the scan confirms it without sweeping it again
    sweep: SweepStats


def find_open(
    ranges: Sequence[AddressRange],
    ports: Sequence[int],
    *,
    timeout: float,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    rate: float = DEFAULT_RATE,
    stop: threading.Event | None = None,
    on_result: object = None,
) -> tuple[list[tuple[str, int]], SweepStats]:
    """The open endpoints of the ranges, in sweep order, and the sweep's counts."""
    found: list[tuple[str, int]] = []
    lock = threading.Lock()
    callback = on_result if callable(on_result) else None

    def record(probe: PortProbe) -> None:
        if probe.state is PortState.OPEN:
            with lock:
                found.append((probe.host, probe.port))
        if callback is not None:
            callback(probe)

    stats = sweep(
        endpoints(ranges, ports), timeout=timeout, on_result=record, max_in_flight=max_in_flight, rate=rate, stop=stop
    )
    return _sorted(found), stats


def _sorted(found: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(found, key=lambda e: (ipaddress.ip_address(e[0]).version, ipaddress.ip_address(e[0]), e[1]))


#: Web ports whose listeners are taken as HTTPS when discovered (every other web port: plain HTTP).
HTTPS_PORTS = frozenset({443, 8443, 9443})


def web_url(host: str, port: int) -> str:
    """The URL a discovered web listener is probed at: HTTPS on the usual TLS ports, else HTTP."""
    scheme = "https" if port in HTTPS_PORTS else "http"
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}:{port}"


def plan(
    open_endpoints: Sequence[tuple[str, int]],
    stats: SweepStats,
    given: Sequence[Target],
    reconciliation: Reconciliation | None,
    web_ports: frozenset[int] = frozenset(),
) -> Plan:
    """The targets given (inventory rows in file order, command-line targets), then the open endpoints none is.

    An open endpoint on one of ``web_ports`` becomes a web target (its root
    URL, see :func:`web_url`); the others are DICOM targets.
    """
    targets: list[Target] = []
    listings: list[Listing | None] = []
    known_open: list[bool] = []
    covered: set[tuple[str, int]] = set()
    for target in given:
        targets.append(target)
        listings.append(reconciliation.listing(target) if reconciliation is not None else None)
        known_open.append(False)
        covered.update((address, target.port) for address in addresses_of(target.host))
    for host, port in open_endpoints:
        if (host, port) in covered:
            continue  # a target above stands for it, with its AE title
        url = web_url(host, port) if port in web_ports else None
        target = Target(host=host, port=port, url=url, attributes={"source": "discovered"})
        targets.append(target)
        listings.append(reconciliation.listing(target, swept=True) if reconciliation is not None else None)
        known_open.append(True)
    return Plan(tuple(targets), tuple(listings), tuple(known_open), stats)
