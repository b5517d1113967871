"""The scanner's own storage SCP for an intrusive C-MOVE (``--intrusive --listen-port``).

It exists only while one C-MOVE runs.  Every C-STORE it receives is
answered with 0xA700 (Refused: Out of Resources) and the object is
discarded: what is kept is the SOP class, the size and the attribute *names*
(never values), as evidence that the node moved an image to whoever asked.
Built on pynetdicom's association server, with its timeouts bounded.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from pydicom.datadict import keyword_for_tag
from pynetdicom import AE, StoragePresentationContexts, evt

from dicomaudit.net.association import sop_name
from dicomaudit.net.dimse import STORE_REFUSED

log = logging.getLogger(__name__)


class StorageReceiver:
    """A storage SCP on ``port`` (all interfaces: the node connects to the address it has for the AE)."""

    def __init__(self, ae_title: str, port: int, *, timeout: float = 10.0, host: str = "0.0.0.0") -> None:
        self.ae_title = ae_title
        self.port = port
        self.host = host
        self.timeout = timeout
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        self._server: Any = None

    @property
    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)

    def _on_store(self, event: Any) -> int:
        entry: dict[str, Any] = {"sop_class": sop_name(str(event.request.AffectedSOPClassUID))}
        try:
            ds = event.dataset  # decoded lazily: values are not converted by listing tags
            entry["attributes"] = [keyword_for_tag(tag) or str(tag) for tag in ds.keys()]
        except Exception as exc:  # noqa: BLE001 - a malformed object is described, not trusted
            entry["note"] = f"not readable ({type(exc).__name__})"
        entry["answered"] = f"0x{STORE_REFUSED:04X} (refused); the object was discarded"
        with self._lock:
            self._received.append(entry)
        return STORE_REFUSED

    def start(self) -> StorageReceiver:
        ae = AE(ae_title=self.ae_title)
        ae.supported_contexts = StoragePresentationContexts
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.maximum_associations = 4
        self._server = ae.start_server(
            (self.host, self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
        )
        log.debug("storage receiver %s listening on %s:%s", self.ae_title, self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
