"""Read nmap's XML output (``nmap -oX``) as endpoints and probe targets.

Many sites already sweep their networks with nmap, often with
``--script dicom-ping``; importing that file saves a second sweep and carries
nmap's own verdict ("Any AET is accepted (Insecure)") into the reports as
context.  Only what nmap saw as *open* TCP ports counts: ``open|filtered`` is
nmap admitting it does not know, and probing those would be guessing.

The file is untrusted input (it may have been edited or produced elsewhere):
it is parsed with the standard library's expat-based parser, which in Python
3.11 (expat >= 2.4) limits entity expansion ("billion laughs") and never
fetches external entities or DTDs; files over 256 MiB and XML whose root is
not ``<nmaprun>`` are refused before any host is read.  Errors are
:class:`~dicomaudit.targets.TargetError` with one-line messages, like every
other unusable inventory.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dicomaudit.models import Target
from dicomaudit.targets import TargetError

#: Largest nmap XML file read; a full /16 sweep with scripts is a few hundred MiB at most.
MAX_NMAP_XML_BYTES = 256 * 1024 * 1024
_MIB = 1024 * 1024
#: The NSE script whose verdict is kept (nmap's scripts/dicom-ping.nse).
DICOM_PING = "dicom-ping"


@dataclass(frozen=True)
class NmapEndpoint:
    """One open TCP port of one host, as nmap reported it.

    ``dicom_ping`` is the script's ``output`` text (stripped; ``None`` when the
    script did not run on this port), ``dicom_ping_fields`` its ``<elem>``
    key/value pairs, e.g. ``{"dicom": "DICOM Service Provider discovered!",
    "config": "Called AET check enabled"}`` (read-only).
    """

    host: str
    port: int
    hostname: str | None = None
    service: str | None = None
    tunnel: str | None = None
    dicom_ping: str | None = None
    dicom_ping_fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dicom_ping_fields", MappingProxyType(dict(self.dicom_ping_fields)))


def looks_like_nmap_xml(path: str | Path) -> bool:
    """The first 4 KiB mention ``<nmaprun``: lets ``--targets`` tell an nmap file from a CSV inventory.

    nmap writes the XML declaration, a DOCTYPE, a stylesheet line and a
    comment before the root element, all well inside 4 KiB.
    """
    try:
        with Path(path).open("rb") as fh:
            return b"<nmaprun" in fh.read(4096)
    except OSError:
        return False


def load_nmap(path: str | Path) -> list[NmapEndpoint]:
    """Every open TCP port of every host that is not down, in file order, each (host, port) once."""
    where = f"nmap file {str(path)!r}"
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise TargetError(f"{where}: is a directory")
    except FileNotFoundError:
        raise TargetError(f"{where}: no such file") from None
    except OSError as exc:
        raise TargetError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_NMAP_XML_BYTES:
        raise TargetError(
            f"{where}: {size / _MIB:.0f} MiB is more than the {MAX_NMAP_XML_BYTES // _MIB} MiB limit for nmap XML"
        )
    if size == 0:
        raise TargetError(f"{where}: empty file, not nmap XML")

    endpoints: list[NmapEndpoint] = []
    seen: set[tuple[str, int]] = set()
    root: ET.Element | None = None
    try:
        with path.open("rb") as fh:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if root is None:
                    root = elem
                    if elem.tag != "nmaprun":
                        raise TargetError(f"{where}: not nmap XML (root element <{elem.tag}>, expected <nmaprun>)")
                    continue
                if event == "end" and elem.tag == "host":
                    for endpoint in _host_endpoints(elem, where):
                        if (endpoint.host, endpoint.port) not in seen:
                            seen.add((endpoint.host, endpoint.port))
                            endpoints.append(endpoint)
                    # Drop what was read: memory stays flat however many hosts the sweep had.
                    root.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        if root is None:
            raise TargetError(f"{where}: not nmap XML ({reason} at line {line}, column {column})") from None
        if reason == "no element found":
            raise TargetError(f"{where}: the XML ends early at line {line} (did nmap finish?)") from None
        raise TargetError(f"{where}: malformed XML at line {line}, column {column} ({reason})") from None
    except OSError as exc:
        raise TargetError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if not endpoints:
        raise TargetError(f"{where}: no open TCP ports")
    return endpoints


def _host_endpoints(host: ET.Element, where: str) -> list[NmapEndpoint]:
    status = host.find("status")
    if status is not None and status.get("state") == "down":
        return []
    address_text = next(
        (a.get("addr") for a in host.findall("address") if a.get("addrtype") in ("ipv4", "ipv6")),
        None,
    )
    if not address_text:
        return []  # only a MAC address: nothing to connect to
    try:
        address = str(ipaddress.ip_address(address_text))
    except ValueError:
        raise TargetError(f"{where}: host address {address_text!r} is not an IP address") from None
    hostname_elem = host.find("hostnames/hostname")
    hostname = (hostname_elem.get("name") or None) if hostname_elem is not None else None

    endpoints = []
    for port in host.findall("ports/port"):
        state = port.find("state")
        if port.get("protocol") != "tcp" or state is None or state.get("state") != "open":
            continue
        portid = port.get("portid", "")
        if not portid.isdigit() or not 1 <= int(portid) <= 65535:
            raise TargetError(f"{where}: host {address}: port {portid!r} is not a TCP port number")
        service = port.find("service")
        script = next((s for s in port.findall("script") if s.get("id") == DICOM_PING), None)
        endpoints.append(
            NmapEndpoint(
                host=address,
                port=int(portid),
                hostname=hostname,
                service=(service.get("name") or None) if service is not None else None,
                tunnel=(service.get("tunnel") or None) if service is not None else None,
                dicom_ping=script.get("output", "").strip() if script is not None else None,
                dicom_ping_fields=(
                    {e.get("key", ""): (e.text or "").strip() for e in script.findall("elem") if e.get("key")}
                    if script is not None
                    else {}
                ),
            )
        )
    return endpoints


def to_targets(endpoints: Sequence[NmapEndpoint]) -> list[Target]:
    """Probe targets for the endpoints: no called AE title (nmap cannot know it), nmap's view as attributes.

    Attributes (only those with a value): ``source`` = ``nmap``,
    ``nmap_service``, ``nmap_tunnel``, ``nmap_dicom_ping`` (the script's fields
    as ``key: value; key: value``, or its output text on one line).  The
    targets are not checked against any scope here: see
    :func:`dicomaudit.fleet.ranges.enforce_addresses`.
    """
    targets = []
    for ep in endpoints:
        if ep.dicom_ping_fields:
            ping: str | None = "; ".join(f"{k}: {v}" for k, v in ep.dicom_ping_fields.items())
        else:
            ping = "; ".join(line.strip() for line in (ep.dicom_ping or "").splitlines() if line.strip())
        attributes = {"source": "nmap", "nmap_service": ep.service, "nmap_tunnel": ep.tunnel, "nmap_dicom_ping": ping}
        targets.append(
            Target(
                host=ep.host,
                port=ep.port,
                called_aet=None,
                name=ep.hostname,
                attributes={k: v for k, v in attributes.items() if v},
            )
        )
    return targets
