"""Address ranges, port lists and the authorised scope of a discovery sweep.

A sweep contacts addresses the operator never named one by one, so everything
that decides *which* addresses is settled here, before the first packet: the
ranges are parsed exactly (CIDR blocks, never address lists, so a /12 costs
microseconds), counted against a limit, checked against the written
authorisation (the scope file, whose SHA-256 goes into the report so an auditor
can match it to the signed paper) and against the public internet.  Anything
wrong is a :class:`RangeError` with a one-line message that ends in "nothing was
contacted" where that matters; the CLI turns it into exit status 2.

Default ports (:data:`DEFAULT_PORTS`), and why each one:

* 104 -- IANA well-known port "dicom", the port PS3.8 and PS3.15 name for DICOM
  Upper Layer associations; most hospital PACS and modalities listen here.
* 11112 -- IANA registered port "dicom": the non-privileged alternative (no root
  needed to bind it), default of DCMTK's tools and of dcm4chee.
* 2761 -- IANA "dicom-iscl": DICOM Integrated Secure Communication Layer.
* 2762 -- IANA "dicom-tls": DICOM over TLS (PS3.15 Annex B.1).
* 4242 -- Orthanc's default DICOM port, common on research and small-site nodes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

DEFAULT_PORTS: tuple[int, ...] = (104, 11112, 2761, 2762, 4242)

#: Most ports one sweep may try per address: more is a port scan, not a DICOM discovery.
MAX_PORTS = 1024

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class RangeError(ValueError):
    """Bad range, port list, scope or out-of-scope target: one-line message, CLI exit 2."""


class _Reason(Exception):
    """Why one spec is unusable; the caller prefixes where it came from (argument, file line)."""


# ---------------------------------------------------------------------------- ports


def parse_ports(text: str) -> tuple[int, ...]:
    """Parse ``--ports`` (``104,11112,2761-2762``): sorted, unique, each 1-65535, at most :data:`MAX_PORTS`.

    The size is checked on the merged intervals before any list is built, so
    ``1-65535`` is refused without materialising 65,535 ports.
    """
    if not text.strip():
        raise RangeError("--ports: no ports given (e.g. 104,11112,2761-2762)")
    spans: list[tuple[int, int]] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise RangeError(f"--ports: empty entry in {text.strip()!r}")
        low_text, dash, high_text = item.partition("-")
        low = _port_number(low_text.strip(), item)
        high = _port_number(high_text.strip(), item) if dash else low
        if low > high:
            raise RangeError(f"--ports: {item!r} is reversed ({low} > {high})")
        spans.append((low, high))
    total = _union_size(spans)
    if total > MAX_PORTS:
        raise RangeError(f"--ports: {total} ports given, more than the limit of {MAX_PORTS}")
    return tuple(sorted({port for low, high in spans for port in range(low, high + 1)}))


def _port_number(text: str, item: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise RangeError(f"--ports: {item!r} is not a port or port range (e.g. 104,11112,2761-2762)")
    port = int(text)
    if not 1 <= port <= 65535:
        raise RangeError(f"--ports: {text!r} is out of range (1-65535)")
    return port


def _union_size(spans: Iterable[tuple[int, int]]) -> int:
    """Number of integers in the union of inclusive intervals."""
    total, reach = 0, -1
    for low, high in sorted(spans):
        if high > reach:
            total += high - max(low, reach + 1) + 1
            reach = high
    return total


# ---------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class AddressRange:
    """One range of a sweep, as given and as exact CIDR blocks.

    Iteration order and content: an IPv4 CIDR written with a prefix of /30 or
    shorter (``10.0.0.0/24``) yields its hosts only, without the network and
    broadcast addresses (``ipaddress`` ``hosts()`` semantics: nothing listens
    there and some routers answer them); every other form (an IPv4 /31 or /32,
    any IPv6 network, a single address, an ``a-b`` range, a host name's
    addresses) yields every address.  Which rule applies is read from
    :attr:`spec` (a ``/`` means CIDR), so a range built by hand behaves like the
    text it claims to be.  :attr:`networks` always holds every address
    (network and broadcast included): scope and public-address checks are
    about what the blocks contain, not what the sweep skips.

    A host name's addresses are kept as one /32 or /128 each, so
    ``n.network_address`` lists exactly what the name resolved to.  With
    ``parse_ranges(..., resolve=False)`` a host name has no networks at all
    (for ``--help`` examples and tests); :func:`enforce_scope` refuses it.
    """

    spec: str
    networks: tuple[IPNetwork, ...]
    hostname: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "networks", tuple(self.networks))

    @property
    def _hosts_only(self) -> bool:
        return (
            self.hostname is None
            and "/" in self.spec
            and len(self.networks) == 1
            and self.networks[0].version == 4
            and self.networks[0].prefixlen <= 30
        )

    @property
    def size(self) -> int:
        """Number of addresses :meth:`__iter__` yields; unlike ``len()`` not limited to ``sys.maxsize``."""
        if self._hosts_only:
            return self.networks[0].num_addresses - 2
        return sum(n.num_addresses for n in self.networks)

    def __len__(self) -> int:
        """Computed from the blocks, never by iterating (an IPv6 /64 overflows ``len()``: use :attr:`size`)."""
        return self.size

    def __iter__(self) -> Iterator[IPAddress]:
        """Every address to try, lazily, in ascending order (see the class docstring for which)."""
        if self._hosts_only:
            yield from self.networks[0].hosts()
            return
        for network in self.networks:
            yield from network

    def __str__(self) -> str:
        return self.spec


def parse_ranges(specs: Sequence[str], *, resolve: bool = True, max_addresses: int = 1 << 20) -> list[AddressRange]:
    """Parse sweep ranges; refuse the lot if they hold more than `max_addresses` addresses in all.

    Each spec is a CIDR (``10.1.0.0/16``, ``fd00::/120``), an address
    (``10.0.0.5``), a last-octet range (``10.0.0.5-20``, IPv4 only), a full range
    (``10.0.0.5-10.0.1.20``), a ranges file (``@nets.txt``, or the path of an
    existing file; one spec per line, ``#`` comments, no nested files) or a
    host name (resolved now to all its addresses, so a typo is a usage error,
    not an empty sweep).  IP literals win over file names, file names over
    host names.  The limit counts what the ranges yield, overlaps included:
    the default, 1,048,576, is exactly one /12.
    """
    if not specs:
        raise RangeError("no ranges given")
    ranges: list[AddressRange] = []
    for spec in specs:
        ranges.extend(_parse_spec(spec, resolve))
    total = sum(r.size for r in ranges)
    if total > max_addresses:
        raise RangeError(
            f"the ranges hold {total:,} addresses, more than the limit of {max_addresses:,}{_as_prefix(max_addresses)}; "
            "split the sweep into smaller ranges"
        )
    return ranges


def _as_prefix(count: int) -> str:
    """`` (an IPv4 /12)`` when a count is exactly one IPv4 block, else nothing."""
    if count > 0 and count & (count - 1) == 0 and count <= 1 << 32:
        return f" (an IPv4 /{33 - count.bit_length()})"
    return ""


def _parse_spec(spec: str, resolve: bool) -> list[AddressRange]:
    text = spec.strip()
    where = f"range {spec!r}"
    if not text:
        raise RangeError(f"{where}: empty")
    if text.startswith("@"):
        return _ranges_file(text[1:], resolve)
    try:
        literal = _parse_literal(text)
        if literal is not None:
            return [AddressRange(spec=text, networks=literal)]
        if _is_file(text):
            return _ranges_file(text, resolve)
        return [_parse_host(text, resolve)]
    except _Reason as exc:
        raise RangeError(f"{where}: {exc}") from None


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system is not a file
        return False


def _ranges_file(name: str, resolve: bool) -> list[AddressRange]:
    where = f"ranges file {name!r}"
    text = _read_text(Path(name), where)
    ranges: list[AddressRange] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        entry = _strip_comment(line)
        if not entry:
            continue
        try:
            if entry.startswith("@"):
                raise _Reason(f"{entry!r}: a ranges file cannot name another file")
            literal = _parse_literal(entry)
            ranges.append(
                AddressRange(spec=entry, networks=literal) if literal is not None else _parse_host(entry, resolve)
            )
        except _Reason as exc:
            raise RangeError(f"{where} line {lineno}: {exc}") from None
    if not ranges:
        raise RangeError(f"{where}: no ranges (one CIDR, address, range or host name per line)")
    return ranges


def _read_text(path: Path, where: str) -> str:
    try:
        return _decode(path.read_bytes(), where)
    except FileNotFoundError:
        raise RangeError(f"{where}: no such file") from None
    except OSError as exc:
        raise RangeError(f"{where}: cannot read ({exc.strerror or exc})") from None


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RangeError(f"{where}: not UTF-8 text") from None


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


_IPV4ISH = re.compile(r"[0-9.]+")
_HOST_PORT = re.compile(r"[^:\s]+:[0-9]+")


def _ipish(text: str) -> bool:
    """Meant as an IP literal: only digits and dots (with a dot), or any colon (host names have none)."""
    return ":" in text or ("." in text and _IPV4ISH.fullmatch(text) is not None)


def _parse_literal(text: str) -> tuple[IPNetwork, ...] | None:
    """The exact blocks of a CIDR, address or range; ``None`` when `text` is not meant as an IP literal."""
    if "/" in text:
        address, _, _ = text.partition("/")
        return (_parse_cidr(text),) if _ipish(address.strip()) else None
    if "-" in text:
        start_text, _, end_text = text.partition("-")
        if not _ipish(start_text.strip()):
            return None  # a host name with a hyphen
        return _parse_span(start_text.strip(), end_text.strip())
    if not _ipish(text):
        return None
    return (ipaddress.ip_network(_parse_address(text)),)


def _parse_cidr(text: str) -> IPNetwork:
    address = text.partition("/")[0].strip()
    cls: type[ipaddress.IPv4Network] | type[ipaddress.IPv6Network]
    cls = ipaddress.IPv6Network if ":" in address else ipaddress.IPv4Network
    try:
        return cls(text.replace(" ", ""), strict=True)
    except ValueError as exc:
        try:
            meant = cls(text.replace(" ", ""), strict=False)
        except ValueError:
            raise _Reason(f"{text!r} is not a valid network ({_python_reason(exc)})") from None
        raise _Reason(f"{text!r} has host bits set (did you mean {meant}?)") from None


def _parse_address(text: str) -> IPAddress:
    if _HOST_PORT.fullmatch(text) and text.count(":") == 1:
        raise _Reason(f"{text!r} has a port: give ports with --ports")
    cls: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]
    cls = ipaddress.IPv6Address if ":" in text else ipaddress.IPv4Address
    try:
        address = cls(text)
    except ValueError as exc:
        raise _Reason(f"{text!r} is not a valid IPv{6 if ':' in text else 4} address ({_python_reason(exc)})") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise _Reason(f"{text!r} has a zone index (%{address.scope_id}); give the address without it")
    return address


def _python_reason(exc: ValueError) -> str:
    """``ipaddress``'s own explanation, e.g. ``octet 300 (> 255) not permitted``, without the repeated input."""
    reason = re.sub(r" in '[^']*'$", "", str(exc))
    return reason[:1].lower() + reason[1:]


def _parse_span(start_text: str, end_text: str) -> tuple[IPNetwork, ...]:
    start = _parse_address(start_text)
    end: IPAddress
    if re.fullmatch(r"[0-9]+", end_text):
        if not isinstance(start, ipaddress.IPv4Address):
            raise _Reason(f"a last-octet range (a.b.c.d-e) is IPv4 only; give the full end address, not {end_text!r}")
        octet = int(end_text)
        if octet > 255:
            raise _Reason(f"last octet {octet} is out of range (0-255)")
        end = ipaddress.IPv4Address((int(start) & ~0xFF) | octet)
    elif _ipish(end_text):
        end = _parse_address(end_text)
    else:
        raise _Reason(f"{end_text!r} is neither an end address nor a last octet")
    if start.version != end.version:
        raise _Reason(f"{start} and {end} are different IP versions")
    if int(start) > int(end):
        raise _Reason(f"start {start} is after end {end}")
    return tuple(ipaddress.summarize_address_range(start, end))


_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")  # as dicomaudit.targets._host


def _parse_host(text: str, resolve: bool) -> AddressRange:
    if not _HOST_NAME.fullmatch(text):
        raise _Reason(f"{text!r} is not an address, network, range, host name or existing file")
    if not resolve:
        return AddressRange(spec=text, networks=(), hostname=text)
    return AddressRange(spec=text, networks=tuple(ipaddress.ip_network(a) for a in _resolve(text)), hostname=text)


def _resolve(host: str) -> list[IPAddress]:
    """Every address `host` resolves to, deduplicated, IPv4 first, each family in ascending order."""
    # RFC 6761 6.4: ".invalid" never resolves and resolver libraries should say so
    # without asking a DNS server; glibc does ask, so answer here (no traffic).
    if host.lower() == "invalid" or host.lower().endswith(".invalid"):
        raise _Reason(f"host {host!r} does not resolve")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise _Reason(f"host {host!r} does not resolve") from None
    addresses: set[IPAddress] = set()
    for _family, _type, _proto, _canon, sockaddr in infos:
        try:
            addresses.add(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError:
            continue  # not an IP family (cannot happen for AF_INET/AF_INET6 results)
    if not addresses:
        raise _Reason(f"host {host!r} does not resolve")
    return sorted(addresses, key=lambda a: (a.version, int(a)))


# ---------------------------------------------------------------------------- block sets


class _BlockSet:
    """A set of addresses as collapsed CIDR blocks per IP version, for exact, fast membership questions.

    Why collapsing makes "is this block inside the set?" exact with one
    ``subnet_of``: ``collapse_addresses`` returns disjoint blocks with no two
    siblings left (siblings are merged into their parent).  If a CIDR block B
    lay inside the set but inside no single block, B would be tiled by at least
    two smaller blocks of the set; the smallest of those has its sibling inside
    B too, which can only be covered by a block of the same size at the
    sibling's place -- two siblings, contradiction.  So B is inside the set iff
    it is a subnet of one collapsed block, and since the blocks are sorted and
    disjoint, that block is the last one starting at or before B (bisect).
    """

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        networks = list(networks)
        v4 = sorted(ipaddress.collapse_addresses(n for n in networks if isinstance(n, ipaddress.IPv4Network)))
        v6 = sorted(ipaddress.collapse_addresses(n for n in networks if isinstance(n, ipaddress.IPv6Network)))
        self.networks: tuple[IPNetwork, ...] = (*v4, *v6)
        self._blocks: dict[int, list[tuple[int, int]]] = {4: [_span(n) for n in v4], 6: [_span(n) for n in v6]}
        self._starts: dict[int, list[int]] = {v: [b[0] for b in blocks] for v, blocks in self._blocks.items()}

    def covers(self, network: IPNetwork) -> bool:
        """Every address of `network` is in the set."""
        blocks, (first, last) = self._blocks[network.version], _span(network)
        i = bisect_right(self._starts[network.version], first) - 1
        # Inside the candidate block (range containment of aligned blocks is subnet_of).
        return i >= 0 and blocks[i][1] >= last

    def overlaps(self, network: IPNetwork) -> bool:
        """Some address of `network` is in the set."""
        blocks, (first, last) = self._blocks[network.version], _span(network)
        i = bisect_right(self._starts[network.version], last) - 1
        return i >= 0 and blocks[i][1] >= first

    def first_outside(self, network: IPNetwork) -> IPAddress | None:
        """The lowest address of `network` not in the set (``None``: covered); walks adjacent blocks."""
        blocks, (cur, last) = self._blocks[network.version], _span(network)
        i = max(bisect_right(self._starts[network.version], cur) - 1, 0)
        while i < len(blocks) and cur <= last:
            start, end = blocks[i]
            if start > cur:
                break
            cur = max(cur, end + 1)
            i += 1
        if cur > last:
            return None
        return ipaddress.IPv4Address(cur) if network.version == 4 else ipaddress.IPv6Address(cur)


def _span(network: IPNetwork) -> tuple[int, int]:
    """First and last address of `network` as integers."""
    return int(network.network_address), int(network.broadcast_address)


# ---------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """The networks the operator is authorised to test, from a scope file.

    ``sha256`` is of the file's bytes, recorded in reports so an auditor can
    match the run to the signed authorisation.  ``networks`` is collapsed (per
    IP version, IPv4 first) whatever was passed in.
    """

    source: str
    sha256: str
    networks: tuple[IPNetwork, ...]
    _blocks: _BlockSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        blocks = _BlockSet(self.networks)
        object.__setattr__(self, "_blocks", blocks)
        object.__setattr__(self, "networks", blocks.networks)

    def contains(self, address: IPAddress | str) -> bool:
        """`address` is in scope; a string that is not an IP address is a :class:`RangeError`."""
        if isinstance(address, str):
            try:
                address = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                raise RangeError(f"{address!r} is not an IP address") from None
        return self._blocks.covers(ipaddress.ip_network(address))

    def covers(self, network: IPNetwork) -> bool:
        """Every address of `network` is in scope (exact, see :class:`_BlockSet` for why one block suffices)."""
        return self._blocks.covers(network)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.source, "sha256": self.sha256, "networks": [str(n) for n in self.networks]}

    def describe(self, limit: int = 5) -> str:
        """``10.0.0.0/16, 127.0.0.0/8`` (at most `limit` networks, then ``...``) for messages."""
        shown = [str(n) for n in self.networks[:limit]]
        return ", ".join(shown + (["..."] if len(self.networks) > limit else []))


def load_scope(path: str | Path) -> Scope:
    """Read a scope file: one CIDR, address or ``a-b`` range per line, ``#`` comments; no host names.

    Host names are refused because what they resolve to can change between
    the authorisation and the run; a scope is a list of addresses.
    """
    source = str(path)
    where = f"scope {source!r}"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise RangeError(f"{where}: no such file") from None
    except OSError as exc:
        raise RangeError(f"{where}: cannot read ({exc.strerror or exc})") from None
    networks: list[IPNetwork] = []
    for lineno, line in enumerate(_decode(data, where).splitlines(), start=1):
        entry = _strip_comment(line)
        if not entry:
            continue
        try:
            literal = _parse_literal(entry)
        except _Reason as exc:
            raise RangeError(f"{where} line {lineno}: {exc}") from None
        if literal is None:
            raise RangeError(
                f"{where} line {lineno}: {entry!r} is not an address, network or range "
                "(a scope lists addresses, not host names or files)"
            )
        networks.extend(literal)
    if not networks:
        raise RangeError(f"{where}: no networks (one CIDR, address or range per line)")
    return Scope(source=source, sha256=hashlib.sha256(data).hexdigest(), networks=tuple(networks))


# ---------------------------------------------------------------------------- public addresses

# Not globally reachable, from the IANA IPv4 and IPv6 Special-Purpose Address
# Registries (iana.org/assignments/iana-ipv4-special-registry and
# iana-ipv6-special-registry, column "Globally Reachable" = False).  Written out
# rather than taken from ``ipaddress``: its lists are private and changed
# within 3.11 patch releases (CVE-2024-4032, fixed in 3.11.10), so the answer
# would depend on the interpreter.  Where IANA says "N/A" (Teredo 2001::/32,
# 6to4 2002::/16, the deprecated 6to4 relay anycast 192.88.99.0/24) the block
# counts as public: a sweep of it reaches the internet.  Multicast is in no
# special-purpose registry and counts as public, as for ``is_global``.
_IPV4_NOT_GLOBAL = (
    "0.0.0.0/8",  # "this network" (RFC 791)
    "10.0.0.0/8",  # private-use (RFC 1918)
    "100.64.0.0/10",  # shared address space, carrier-grade NAT (RFC 6598)
    "127.0.0.0/8",  # loopback (RFC 1122)
    "169.254.0.0/16",  # link-local (RFC 3927)
    "172.16.0.0/12",  # private-use (RFC 1918)
    "192.0.0.0/24",  # IETF protocol assignments (RFC 6890), but see the exceptions
    "192.0.2.0/24",  # documentation TEST-NET-1 (RFC 5737)
    "192.168.0.0/16",  # private-use (RFC 1918)
    "198.18.0.0/15",  # benchmarking (RFC 2544)
    "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",  # documentation TEST-NET-3 (RFC 5737)
    "240.0.0.0/4",  # reserved (RFC 1112), includes limited broadcast 255.255.255.255
)
_IPV4_GLOBAL_EXCEPTIONS = (
    "192.0.0.9/32",  # Port Control Protocol anycast (RFC 7723)
    "192.0.0.10/32",  # Traversal Using Relays around NAT anycast (RFC 8155)
)
_IPV6_NOT_GLOBAL = (
    "::/128",  # unspecified (RFC 4291)
    "::1/128",  # loopback (RFC 4291)
    # ::ffff:0:0/96 (IPv4-mapped, RFC 4291) is handled by mapping the IPv4 list:
    # connecting to ::ffff:8.8.8.8 reaches 8.8.8.8, so it is as public as that.
    "64:ff9b:1::/48",  # IPv4-IPv6 translation, local use (RFC 8215)
    "100::/64",  # discard-only (RFC 6666)
    "2001::/23",  # IETF protocol assignments (RFC 2928), but see the exceptions
    "2001:db8::/32",  # documentation (RFC 3849)
    "3fff::/20",  # documentation (RFC 9637)
    "5f00::/16",  # segment routing SIDs (RFC 9602)
    "fc00::/7",  # unique local (RFC 4193)
    "fe80::/10",  # link-local unicast (RFC 4291)
)
_IPV6_GLOBAL_EXCEPTIONS = (
    "2001::/32",  # Teredo (RFC 4380): "N/A", tunnels to the internet
    "2001:1::1/128",  # Port Control Protocol anycast (RFC 7723)
    "2001:1::2/128",  # TURN anycast (RFC 8155)
    "2001:1::3/128",  # DNS-SD service registration protocol anycast (RFC 9665)
    "2001:3::/32",  # AMT (RFC 7450)
    "2001:4:112::/48",  # AS112-v6 (RFC 7535)
    "2001:20::/28",  # ORCHIDv2 (RFC 7343)
    "2001:30::/28",  # drone remote ID entity tags (RFC 9374)
)
_IPV4_MAPPED = int(ipaddress.IPv6Address("::ffff:0:0"))


def _subtract(blocks: Iterable[str], holes: Iterable[str]) -> list[IPNetwork]:
    """`blocks` minus `holes`, as CIDR blocks."""
    result: list[IPNetwork] = [ipaddress.ip_network(b) for b in blocks]
    for hole_text in holes:
        hole = ipaddress.ip_network(hole_text)
        remaining: list[IPNetwork] = []
        for block in result:
            if block.version != hole.version or not block.overlaps(hole):
                remaining.append(block)
            elif hole.subnet_of(block):  # type: ignore[arg-type]  # same version
                remaining.extend(block.address_exclude(hole))  # type: ignore[arg-type]  # same version
            # else: the block lies inside the hole and goes
        result = remaining
    return result


def _not_global() -> _BlockSet:
    v4 = _subtract(_IPV4_NOT_GLOBAL, _IPV4_GLOBAL_EXCEPTIONS)
    v6 = _subtract(_IPV6_NOT_GLOBAL, _IPV6_GLOBAL_EXCEPTIONS)
    mapped = [ipaddress.IPv6Network((_IPV4_MAPPED + int(n.network_address), 96 + n.prefixlen)) for n in v4]
    return _BlockSet([*v4, *v6, *mapped])


_NOT_GLOBAL = _not_global()


def is_public(network: IPNetwork | IPAddress) -> bool:
    """Some address of `network` is globally reachable: it is not wholly inside the non-global blocks.

    Block arithmetic, never iteration: ``is_public(IPv4Network("0.0.0.0/0"))``
    is as cheap as ``is_public(IPv4Address("10.0.0.1"))``.
    """
    if isinstance(network, ipaddress.IPv4Address | ipaddress.IPv6Address):
        network = ipaddress.ip_network(network)
    return not _NOT_GLOBAL.covers(network)


# ---------------------------------------------------------------------------- enforcement

_NOTHING = "nothing was contacted"


def enforce_scope(
    ranges: Sequence[AddressRange], scope: Scope | None, *, allow_public: bool, what: str = "range"
) -> None:
    """Refuse, before anything is contacted, a range outside `scope` or holding public addresses.

    Works on the CIDR blocks, so a /12 is checked as fast as one address.  A
    range whose host name was not resolved cannot be checked and is refused
    whenever there is something to check.
    """
    for r in ranges:
        label = f"{what} {r.spec!r}"
        if not r.networks and r.hostname is not None and (scope is not None or not allow_public):
            raise RangeError(f"{label}: host {r.hostname!r} was not resolved, so it cannot be checked; {_NOTHING}")
        _enforce(label, r.networks, scope, allow_public, plural=r.size != 1)


def enforce_addresses(addresses: Sequence[tuple[str, str]], scope: Scope | None, *, allow_public: bool) -> None:
    """:func:`enforce_scope` for explicit targets: ``(label, address)`` pairs, e.g. ``("target 'pacs:104'", "10.0.0.5")``.

    The address is added to the message when the label does not show it (a
    target given by host name).
    """
    for label, text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise RangeError(f"{label}: {text!r} is not an IP address") from None
        shown = label if str(address) in label else f"{label} ({address})"
        _enforce(shown, (ipaddress.ip_network(address),), scope, allow_public, plural=False)


def _enforce(
    label: str, networks: Sequence[IPNetwork], scope: Scope | None, allow_public: bool, *, plural: bool
) -> None:
    if scope is not None:
        for network in networks:
            if scope.covers(network):
                continue
            where = f"the scope in {scope.source} ({scope.describe()})"
            if any(scope._blocks.overlaps(n) for n in networks):
                gap = scope._blocks.first_outside(network)
                raise RangeError(f"{label} is partly outside {where}: {gap} is not in it; {_NOTHING}")
            raise RangeError(f"{label} is outside {where}; {_NOTHING}")
    if not allow_public:
        for network in networks:
            if is_public(network):
                if plural:
                    raise RangeError(
                        f"{label} includes public addresses: give --allow-public if you are authorised "
                        f"to test them; {_NOTHING}"
                    )
                raise RangeError(
                    f"{label} is a public address: give --allow-public if you are authorised to test it; {_NOTHING}"
                )
