"""The inventory: parse ``HOST[:PORT][/CALLED_AET]`` targets and inventory CSV files.

Bad input raises :class:`TargetError` with a one-line message; the CLI turns
it into exit status 2.  Host names are resolved up front so an unresolvable
name is a usage error, not a scan result.
"""

from __future__ import annotations

import csv
import ipaddress
import re
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from dicomaudit.models import DEFAULT_PORT, Target
from dicomaudit.net.identity import validate_aet


class TargetError(ValueError):
    """A target or inventory that cannot be used."""


_TARGET_RE = re.compile(
    r"""^(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:/\[\]]+))   # host or [v6]
        (?::(?P<port>[^/]*))?                                      # :port
        (?:/(?P<aet>.*))?$                                         # /AET
    """,
    re.VERBOSE,
)


def _port(value: str, where: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise TargetError(f"{where}: port {value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise TargetError(f"{where}: port {port} is out of range (1-65535)")
    return port


def _host(value: str, where: str, resolve: bool) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", value):
        raise TargetError(f"{where}: {value!r} is not a valid host name or IP address")
    if resolve:
        try:
            socket.getaddrinfo(value, None)
        except socket.gaierror:
            raise TargetError(f"{where}: host {value!r} does not resolve") from None
    return value


def _aet(value: str | None, where: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return validate_aet(value)
    except ValueError as exc:
        raise TargetError(f"{where}: {exc}") from None


WEB_SCHEMES = ("http", "https")


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


def parse_url(text: str, where: str, *, resolve: bool = True) -> tuple[str, int, str]:
    """``(host, port, url)`` of a PACS web API or DICOMweb root URL; the URL without a trailing slash."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES:
        raise TargetError(f"{where}: only http:// and https:// URLs can be probed")
    if parts.username is not None or parts.password is not None:
        raise TargetError(
            f"{where}: credentials do not belong in a target URL (use --web-user; the password is asked for)"
        )
    if parts.query or parts.fragment:
        raise TargetError(f"{where}: give the root of the web API or DICOMweb service, without ?query or #fragment")
    try:
        port = parts.port
    except ValueError:
        raise TargetError(f"{where}: the port is not a number between 1 and 65535") from None
    if not parts.hostname:
        raise TargetError(f"{where}: no host in the URL")
    host = _host(parts.hostname, where, resolve)
    port = port or (443 if scheme == "https" else 80)
    netloc = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    return host, port, f"{scheme}://{netloc}:{port}{path}"


def parse_target(text: str, *, resolve: bool = True) -> Target:
    """Parse ``HOST[:PORT][/CALLED_AET]`` (port defaults to 104) or an ``http(s)://`` URL of a web API."""
    where = f"target {text!r}"
    if is_url(text):
        host, port, url = parse_url(text, where, resolve=resolve)
        return Target(host=host, port=port, url=url)
    if "://" in text:
        raise TargetError(f"{where}: only http:// and https:// URLs can be probed (or give HOST[:PORT][/CALLED_AET])")
    m = _TARGET_RE.match(text.strip())
    if not text.strip() or not m:
        raise TargetError(f"{where}: expected HOST[:PORT][/CALLED_AET]")
    host = m.group("ipv6") or m.group("host")
    port = _port(m.group("port"), where) if m.group("port") is not None else DEFAULT_PORT
    return Target(host=_host(host, where, resolve), port=port, called_aet=_aet(m.group("aet"), where))


def load_inventory(path: str | Path, *, resolve: bool = True) -> list[Target]:
    """Read an inventory CSV with at least ``host,port,called_aet`` columns; extra columns are kept.

    A ``url`` column gives the node's web API or DICOMweb root: the row then
    yields a web target too (or only one, when ``port`` is empty), with the
    same ``name``, so the reports show both endpoints as one node.
    """
    return [target for _, target in load_inventory_rows(path, resolve=resolve)]


def load_inventory_rows(path: str | Path, *, resolve: bool = True) -> list[tuple[int, Target]]:
    """Like :func:`load_inventory`, with each target's line number (the header is line 1)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TargetError(f"inventory {str(path)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"inventory {str(path)!r}: cannot read ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = {"host", "port", "called_aet"} - set(columns)
    if missing:
        raise TargetError(
            f"inventory {str(path)!r}: missing column(s) {', '.join(sorted(missing))} "
            "(need at least host,port,called_aet)"
        )
    targets: list[tuple[int, Target]] = []
    for lineno, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()) or row.get("host", "").startswith("#"):
            continue
        where = f"inventory {path.name} line {lineno}"
        url = row.get("url")
        if not row.get("host") and not url:
            raise TargetError(f"{where}: empty host")
        extra = {k: v for k, v in row.items() if k not in {"host", "port", "called_aet", "name", "url"} and v}
        name = row.get("name") or None
        if row.get("host") and (row.get("port") or not url):
            port = _port(row["port"], where) if row.get("port") else DEFAULT_PORT
            dimse = Target(
                host=_host(row["host"], where, resolve),
                port=port,
                called_aet=_aet(row.get("called_aet"), where),
                name=name,
                attributes=extra,
            )
            targets.append((lineno, dimse))
        if url:
            host, web_port, web_url = parse_url(url, where, resolve=resolve)
            targets.append((lineno, Target(host=host, port=web_port, url=web_url, name=name, attributes=extra)))
    if not targets:
        raise TargetError(f"inventory {str(path)!r}: no targets")
    return targets


def _key(t: Target) -> tuple[str, str, int, str | None]:
    return (t.url or "", t.host, t.port, t.called_aet)


def dedupe(targets: Iterable[Target]) -> list[Target]:
    """The targets in order, each ``HOST:PORT/CALLED_AET`` once (the first occurrence is kept)."""
    seen: set[tuple[str, str, int, str | None]] = set()
    out = []
    for t in targets:
        key = _key(t)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def dedupe_reporting(entries: Iterable[tuple[str, Target]]) -> tuple[list[Target], list[str]]:
    """Like :func:`dedupe` over ``(where, target)`` pairs; also one message per target given more than once.

    ``where`` says where a target came from, e.g. ``argument 2`` or
    ``inventory hosts.csv line 7``; a message names every place, e.g.
    ``duplicate target 10.0.0.5:104/PACS: inventory hosts.csv lines 3 and 7;
    probed once (line 3 kept)``.
    """
    first: dict[tuple[str, str, int, str | None], Target] = {}
    places: dict[tuple[str, str, int, str | None], list[str]] = {}
    for where, t in entries:
        key = _key(t)
        first.setdefault(key, t)
        places.setdefault(key, []).append(where)
    messages = []
    for key, wheres in places.items():
        if len(wheres) > 1:
            kept = _describe([wheres[0]])
            messages.append(f"duplicate target {first[key]}: {_describe(wheres)}; probed once ({kept} kept)")
    return list(first.values()), messages


def _describe(wheres: list[str]) -> str:
    """``inventory a.csv lines 3 and 7, argument 1``: places grouped by their prefix."""
    groups: dict[str, list[str]] = {}
    for where in wheres:
        prefix, _, number = where.rpartition(" ")
        groups.setdefault(prefix, []).append(number)
    parts = []
    for prefix, numbers in groups.items():
        head, _, unit = prefix.rpartition(" ")
        if len(numbers) == 1:
            parts.append(f"{prefix} {numbers[0]}")
        else:
            listed = ", ".join(numbers[:-1]) + f" and {numbers[-1]}"
            parts.append(f"{head + ' ' if head else ''}{unit}s {listed}")
    return ", ".join(parts)
