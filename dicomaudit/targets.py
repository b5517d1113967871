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


def parse_target(text: str, *, resolve: bool = True) -> Target:
    """Parse ``HOST[:PORT][/CALLED_AET]`` (port defaults to 104)."""
    where = f"target {text!r}"
    m = _TARGET_RE.match(text.strip())
    if not text.strip() or not m:
        raise TargetError(f"{where}: expected HOST[:PORT][/CALLED_AET]")
    host = m.group("ipv6") or m.group("host")
    port = _port(m.group("port"), where) if m.group("port") is not None else DEFAULT_PORT
    return Target(host=_host(host, where, resolve), port=port, called_aet=_aet(m.group("aet"), where))


def load_inventory(path: str | Path, *, resolve: bool = True) -> list[Target]:
    """Read an inventory CSV with at least ``host,port,called_aet`` columns; extra columns are kept."""
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
        raise TargetError(f"inventory {str(path)!r}: missing column(s) {', '.join(sorted(missing))} "
                          "(need at least host,port,called_aet)")
    targets: list[Target] = []
    for lineno, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()) or row.get("host", "").startswith("#"):
            continue
        where = f"inventory {path.name} line {lineno}"
        if not row.get("host"):
            raise TargetError(f"{where}: empty host")
        port = _port(row["port"], where) if row.get("port") else DEFAULT_PORT
        extra = {k: v for k, v in row.items() if k not in {"host", "port", "called_aet", "name"} and v}
        targets.append(Target(host=_host(row["host"], where, resolve), port=port,
                              called_aet=_aet(row.get("called_aet"), where), name=row.get("name") or None,
                              attributes=extra))
    if not targets:
        raise TargetError(f"inventory {str(path)!r}: no targets")
    return targets


def dedupe(targets: Iterable[Target]) -> list[Target]:
    seen: set[tuple[str, int, str | None]] = set()
    out = []
    for t in targets:
        key = (t.host, t.port, t.called_aet)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out
