"""Inventory reconciliation and the inventory CSV a sweep writes.

The inventory is what hospital IT believes listens; a sweep is what does.
:class:`Reconciliation` indexes the inventory by resolved address and port,
so ``pacs.example.org:104`` on the inventory and ``10.0.0.5:104`` found by a
sweep are the same node, and tells each target what the inventory says
about it (:class:`Listing`): the ``inventory.unlisted`` and
``inventory.missing`` checks judge from that.

:func:`write_inventory` writes the listeners a run found in the CSV shape
``probe --targets`` reads (``host,port,called_aet`` first; every other
column is carried through to the reports untouched).
"""

from __future__ import annotations

import csv
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomaudit.models import Status, Target, TargetResult


@dataclass(frozen=True)
class Listing:
    """What the inventory says about one endpoint: ``line`` is ``None`` when no row lists it."""

    inventory: str
    line: int | None
    swept: str | None = None  # how the endpoint came to be looked at, e.g. "sweep of 10.0.0.0/24 ports 104,11112"

    @property
    def listed(self) -> bool:
        return self.line is not None

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"inventory": self.inventory, "line": self.line}
        if self.swept:
            d["found_by"] = self.swept
        return d


def addresses_of(host: str) -> tuple[str, ...]:
    """Every address ``host`` stands for (itself when it is an address); ``()`` when it does not resolve."""
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return ()
    return tuple(dict.fromkeys(str(ipaddress.ip_address(info[4][0])) for info in infos))


class Reconciliation:
    """An inventory indexed by (address, port), host names resolved once."""

    def __init__(self, inventory: str, rows: Sequence[tuple[int, Target]], swept: str | None = None) -> None:
        self.inventory = inventory
        self.swept = swept
        self.rows = list(rows)
        self._index: dict[tuple[str, int], int] = {}
        for line, target in self.rows:
            for address in addresses_of(target.host) or (target.host,):
                self._index.setdefault((address, target.port), line)

    def line_of(self, host: str, port: int) -> int | None:
        for address in addresses_of(host) or (host,):
            line = self._index.get((address, port))
            if line is not None:
                return line
        return None

    def listing(self, target: Target, *, swept: bool = False) -> Listing:
        return Listing(self.inventory, self.line_of(target.host, target.port), self.swept if swept else None)

    def to_dict(self) -> dict[str, Any]:
        return {"inventory": self.inventory, "rows": len(self.rows), **({"swept": self.swept} if self.swept else {})}


#: The inventory CSV's columns: ``probe --targets`` needs the first three; the rest is what the run learnt.
INVENTORY_COLUMNS = (
    "host",
    "port",
    "called_aet",
    "name",
    "url",
    "transport",
    "implementation_class_uid",
    "implementation_version_name",
    "called_aet_source",
    "listed",
    "dicom_service",
)


def _web_row(tr: TargetResult) -> dict[str, str] | None:
    """A web listener's row: ``url`` set and ``port`` empty (``port`` is a DICOM port: ``probe`` reads it so)."""
    try:
        service = tr.check("web.service")
    except KeyError:
        return None
    if service.status is not Status.INFO:
        return None
    return {
        "host": tr.target.host,
        "port": "",
        "called_aet": "",
        "name": tr.target.name or "",
        "url": tr.target.url or "",
        "transport": "tls" if (tr.target.url or "").startswith("https:") else "plaintext",
        "listed": _listed(tr),
        "dicom_service": service.summary,
    }


def _listed(tr: TargetResult) -> str:
    try:
        unlisted = tr.check("inventory.unlisted")
    except KeyError:
        return ""
    return {Status.FAIL: "no", Status.PASS: "yes"}.get(unlisted.status, "")


def inventory_row(tr: TargetResult) -> dict[str, str] | None:
    """One CSV row for a target that answered DICOM or HTTP (or TLS that refused us well-formedly); else ``None``."""
    if tr.target.is_web:
        return _web_row(tr)
    try:
        service = tr.check("dicom.service")
    except KeyError:
        return None
    if service.status is not Status.INFO:
        return None
    evidence = service.evidence
    attempt: Any = evidence.get("tls") if evidence.get("tls") else evidence.get("plaintext")
    plain = evidence.get("plaintext") or {}
    if plain.get("outcome") in ("accepted", "rejected", "aborted"):
        attempt, transport = plain, "plaintext"
    else:
        transport = "tls"
    peer = (attempt or {}).get("peer") or {}
    listed = _listed(tr)
    return {
        "host": tr.target.host,
        "port": str(tr.target.port),
        "called_aet": tr.target.called_aet or "",
        "name": tr.target.name or "",
        "transport": transport,
        "implementation_class_uid": str(peer.get("implementation_class_uid") or ""),
        "implementation_version_name": str(peer.get("implementation_version_name") or ""),
        "called_aet_source": str(tr.target.attributes.get("called_aet_source", "")),
        "listed": listed,
        "dicom_service": service.summary,
    }


def write_inventory(path: Path, results: Iterable[TargetResult]) -> int:
    """Write the DICOM listeners among ``results`` as an inventory CSV; returns the number of rows."""
    from dicomaudit.output.tables import defuse

    # Columns probe --targets parses are validated on the way in; the free text
    # (what a node calls itself, our summaries of its answers) is defused like
    # every CSV this tool writes: a spreadsheet must not run it as a formula.
    parsed = {"host", "port", "called_aet"}
    rows = [
        {k: (v if k in parsed else str(defuse(v))) for k, v in row.items()}
        for tr in results
        if (row := inventory_row(tr)) is not None
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=INVENTORY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
