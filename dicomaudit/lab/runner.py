"""Run the lab PACS in the foreground (``dicomaudit lab``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from dicomaudit.lab.profiles import SYNTHETIC_WEB_USERS, LabProfile
from dicomaudit.lab.server import Event, LabPACS
from dicomaudit.lab.worklist import MODALITY_WORKLIST_FIND


def describe_event(event: Event) -> str:
    """One console line for a lab event (AE titles and outcome; never patient data)."""
    kind, outcome = event.get("kind", "?"), event.get("outcome", "?")
    peer = event.get("peer", "?")
    if kind == "tls":
        service = f" ({event['service']})" if event.get("service") else ""
        return f"{peer}  TLS handshake failed{service}: {event.get('reason', '')}"
    if kind == "HTTP":
        return _describe_http(event)
    who = f"{event.get('calling_aet', '')!r} -> {event.get('called_aet', '')!r}"
    if kind == "association":
        reason = f" ({event['reason']})" if event.get("reason") else ""
        return f"{peer}  association {who} {outcome}{reason}"
    if kind == "user_identity":
        confirmed = ", confirmed to the requestor" if event.get("response_sent") else ""
        return f"{peer}  user identity (type {event.get('identity_type', '?')}) from {who} {outcome}{confirmed}"
    status = event.get("status")
    detail = f" status 0x{status:04X}" if isinstance(status, int) else ""
    if kind == "C-FIND" and "matches" in event:
        if event.get("model") == MODALITY_WORKLIST_FIND:
            detail += f", {event['matches']} worklist item(s)"
        else:
            detail += f", {event['matches']} match(es) at {event.get('level') or '?'} level"
    if kind == "C-MOVE" and "move_destination" in event:
        detail += f", destination {event['move_destination']!r}"
    if kind in ("C-GET", "C-MOVE") and "sub_operations" in event:
        detail += f", {event['sub_operations']} sub-operation(s)"
        if event["sub_operations"]:
            detail += f" ({event.get('completed', 0)} completed, {event.get('failed', 0)} failed)"
    if event.get("reason"):
        detail += f" ({event['reason']})"
    return f"{peer}  {kind} from {event.get('calling_aet', '')!r}: {outcome}{detail}"


def _describe_http(event: Event) -> str:
    """A DICOMweb request: method, path, parameter names, status, who (the web server made every field one-line safe)."""
    params = event.get("params") or []
    if event.get("other_params"):
        params = [*params, f"+{event['other_params']} other"]
    query = f"?{'&'.join(params)}" if params else ""
    line = f"{event.get('peer', '?')}  HTTP {event.get('method', '?')} {event.get('path', '?')}{query}"
    line += f" -> {event.get('status', '?')} {event.get('outcome', '?')}"
    if event.get("user") is not None:
        authenticated = event.get("authenticated")
        verdict = "" if authenticated is None else ", authenticated" if authenticated else ", not authenticated"
        line += f" (user {event['user']!r}{verdict})"
    elif event.get("credentials", "none") != "none":
        line += f" ({event['credentials']} credentials)"
    if event.get("origin") is not None:
        line += f", Origin {event['origin']!r}"
    if "matches" in event:
        line += f", {event['matches']} match(es) at {event.get('level', '?')} level"
    if "instances" in event:
        line += f", {event['instances']} instance(s)"
    if "stored" in event:
        line += f", {event['stored']} stored, {event.get('failed', 0)} failed"
    if event.get("preflight"):
        line += ", CORS preflight"
    if event.get("reason"):
        line += f" ({event['reason']})"
    return line


def describe_web(profile: LabProfile) -> str:
    """What the profile's DICOMweb server does, for the start-up banner.

    The password is shown only for the built-in accounts (:data:`SYNTHETIC_WEB_USERS`),
    which are published in the source and protect nothing but the lab: the
    operator needs them to try the endpoint.  A custom profile's password may
    be a real one, so only its user names are shown.
    """
    if profile.web_auth == "basic":
        accounts = [
            f"{user!r} / {password!r} (synthetic)" if (user, password) in SYNTHETIC_WEB_USERS else repr(user)
            for user, password in profile.web_users
        ]
        auth = f"HTTP Basic, user {', '.join(accounts)}" if accounts else "HTTP Basic, no user (every request 401)"
    else:
        auth = "no authentication"
    cors = {"none": "no CORS headers", "wildcard": "CORS: any origin (*)", "reflect": "CORS: any Origin reflected"}
    stow = "STOW-RS stores" if profile.web_stow else "STOW-RS not offered"
    return f"{auth}; {cors.get(profile.web_cors, profile.web_cors)}; {stow}"


def run_forever(
    profile: str | LabProfile = "open",
    host: str = "127.0.0.1",
    port: int = 11112,
    *,
    echo: Callable[[str], None] = print,
    stop_event: threading.Event | None = None,
    web_port: int | None = None,
) -> None:
    """Start a lab, print each association and request, block until Ctrl-C.

    Parameters
    ----------
    profile, host, port
        As for :class:`LabPACS` (port ``0`` picks a free one; the line printed
        at start-up says which).
    echo : callable
        Where lines go (``print`` by default; the CLI may pass a rich console).
    stop_event : threading.Event, optional
        Returns when set, as well as on KeyboardInterrupt (for tests/embedding).
    web_port : int, optional
        Also serve DICOMweb on this port (``0``: a free one); its URL and
        settings are printed at start-up (see :func:`describe_web`).
    """
    stop = stop_event or threading.Event()
    lab = LabPACS(profile=profile, host=host, port=port, on_event=lambda e: echo(describe_event(e)), web_port=web_port)
    lab.start()
    # SIGTERM (systemd, docker stop, kill) stops the lab like Ctrl-C does, so the
    # generated TLS key material is removed either way.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        p = lab.profile
        echo(f"dicomaudit lab PACS, profile {p.name!r}: {p.description}")
        scheme = "DICOM over TLS" if p.tls else "DICOM"
        echo(
            f"listening on {lab.host}:{lab.port} ({scheme}), AE title {lab.ae_title!r}, "
            f"{len(lab.datasets)} synthetic instances, {len(lab.worklist)} worklist items; Ctrl-C to stop"
        )
        if lab.web_url is not None:
            echo(f"DICOMweb (QIDO-RS, WADO-RS metadata, STOW-RS) at {lab.web_url}: {describe_web(p)}")
        if lab.tls_files is not None:
            echo(f"TLS material (CA, server and client cert/key): {lab.tls_files.directory}")
        # Event.wait with a timeout keeps the main thread responsive to Ctrl-C.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        lab.stop()
        echo("lab PACS stopped")
