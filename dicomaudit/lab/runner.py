"""Run the lab PACS in the foreground (``dicomaudit lab``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from dicomaudit.lab.profiles import LabProfile
from dicomaudit.lab.server import Event, LabPACS
from dicomaudit.lab.worklist import MODALITY_WORKLIST_FIND


def describe_event(event: Event) -> str:
    """One console line for a lab event (AE titles and outcome; never patient data)."""
    kind, outcome = event.get("kind", "?"), event.get("outcome", "?")
    peer = event.get("peer", "?")
    if kind == "tls":
        return f"{peer}  TLS handshake failed: {event.get('reason', '')}"
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


def run_forever(
    profile: str | LabProfile = "open",
    host: str = "127.0.0.1",
    port: int = 11112,
    *,
    echo: Callable[[str], None] = print,
    stop_event: threading.Event | None = None,
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
    """
    stop = stop_event or threading.Event()
    lab = LabPACS(profile=profile, host=host, port=port, on_event=lambda e: echo(describe_event(e)))
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
