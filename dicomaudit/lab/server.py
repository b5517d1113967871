"""The lab PACS: a deliberately misconfigurable DICOM SCP on loopback.

Built on pynetdicom's association server.  One :class:`LabPACS` owns one
pynetdicom ``AE`` and one listening socket; handlers apply the
:class:`~dicomaudit.lab.profiles.LabProfile` per request, so the same code
shows an open node, a locked one, a stock install and a TLS-only one.

Services (PS3.4): Verification SCP (C-ECHO), Patient Root and Study Root
Query/Retrieve - FIND SCP (C-FIND, with C-CANCEL), Storage SCP (C-STORE, every
storage SOP class pynetdicom knows).  No C-MOVE/C-GET.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import shutil
import socket
import socketserver
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import (
    JPEG2000,
    UID,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
)
from pynetdicom import (
    AE,
    DEFAULT_TRANSFER_SYNTAXES,
    StoragePresentationContexts,
    build_context,
    evt,
)
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from dicomaudit import synth
from dicomaudit.lab import matching
from dicomaudit.lab.profiles import Access, LabProfile, get_profile
from dicomaudit.lab.tls import TLSFiles, generate_tls_files

log = logging.getLogger(__name__)

#: The lab's own Implementation Class UID (PS3.7 D.3.3.2), distinct from the scanner's.
LAB_IMPLEMENTATION_CLASS_UID = UID(f"2.25.{uuid.uuid5(synth.PROJECT_NAMESPACE, 'dicomaudit.lab').int}")
LAB_IMPLEMENTATION_VERSION_NAME = "DICOMAUDIT_LAB"

#: PS3.4 C.4.1.1.4 "Unable to process" (pynetdicom's convention for a bad identifier).
STATUS_UNABLE_TO_PROCESS = 0xC310
#: PS3.4 B.2.3 "Cannot understand" for a C-STORE data set that does not decode.
STATUS_CANNOT_UNDERSTAND = 0xC210
STATUS_CANCEL = 0xFE00
STATUS_PENDING = 0xFF00

#: Seconds a TLS client gets to finish its handshake before the lab hangs up.
TLS_HANDSHAKE_TIMEOUT = 5.0
#: Transfer syntaxes the lab accepts for storage: pynetdicom's uncompressed
#: defaults plus the compressed ones modalities commonly send (PS3.5 A.4).
#: Not all ~40: pynetdicom deep-copies the supported contexts per association,
#: and 120 SOP classes x 40 syntaxes makes every association ~50 ms slower.
STORAGE_TRANSFER_SYNTAXES = (
    *DEFAULT_TRANSFER_SYNTAXES,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)
#: Repo root = parent of the ``dicomaudit`` package directory.
REPO_SAMPLE_DATA = Path(__file__).resolve().parent.parent.parent / "sample_data"

Event = dict[str, Any]


@functools.lru_cache(maxsize=1)
def default_datasets() -> tuple[Dataset, ...]:
    """The lab's seed data: the repo's ``sample_data/`` if present, else generated.

    Cached per process; the lab never mutates these datasets (responses are
    built from copies), so sharing them between labs is safe.
    """
    if REPO_SAMPLE_DATA.is_dir():
        loaded = synth.load_datasets(REPO_SAMPLE_DATA)
        if loaded:
            return tuple(loaded)
    return tuple(synth.generate_studies())


@functools.lru_cache(maxsize=8)
def _supported_contexts(echo: bool, find: bool, store: bool) -> tuple[PresentationContext, ...]:
    """The SCP presentation contexts for a set of offered services (built once per process).

    A service with :attr:`Access.NONE` is simply not offered, so its contexts
    are rejected with "abstract syntax not supported" (PS3.8 9.3.3.2).
    pynetdicom only reads these (it deep-copies them per association).
    """
    contexts: list[PresentationContext] = []
    if echo:
        contexts.append(build_context(Verification))
    if find:
        contexts.append(build_context(PatientRootQueryRetrieveInformationModelFind))
        contexts.append(build_context(StudyRootQueryRetrieveInformationModelFind))
    if store:
        # The lab keeps objects as received and never decodes pixel data.
        contexts.extend(
            build_context(cx.abstract_syntax, list(STORAGE_TRANSFER_SYNTAXES))
            for cx in StoragePresentationContexts
            if cx.abstract_syntax is not None
        )
    return tuple(contexts)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _quiet_pynetdicom() -> None:
    """pynetdicom logs every PDU at INFO/DEBUG; keep it at WARNING unless the app chose a level."""
    logger = logging.getLogger("pynetdicom")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


class _LabServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with the TLS handshake moved off the accept loop.

    pynetdicom wraps each accepted socket in ``get_request``, i.e. in the one
    thread that accepts connections, with no timeout: a client that connects
    and stays silent would freeze the whole server.  Here the handshake runs in
    the per-connection thread with a timeout, and failures are reported to the
    lab (they are evidence: "plaintext refused", "no client certificate").
    """

    on_tls_failure: Callable[[Any, BaseException], None] | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        assert self.socket is not None
        return self.socket.accept()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is not None:
            raw = request
            try:
                raw.settimeout(TLS_HANDSHAKE_TIMEOUT)
                request = self.ssl_context.wrap_socket(raw, server_side=True)
                request.settimeout(None)
            except (OSError, ValueError) as exc:
                if self.on_tls_failure is not None:
                    self.on_tls_failure(client_address, exc)
                raw.close()
                return
        super().process_request_thread(request, client_address)

    def shutdown(self) -> None:
        # The parent also removes itself from ``ae._servers``; this server was
        # never registered there (LabPACS drives it), so only stop and close.
        socketserver.BaseServer.shutdown(self)
        self.server_close()


class LabPACS:
    """A lab PACS on loopback, configured by a profile.

    Parameters
    ----------
    profile : str or LabProfile
        A name from :data:`~dicomaudit.lab.PROFILES` or a custom profile.
    host : str
        Address to bind; loopback only unless `allow_remote` is true.
    port : int
        TCP port; ``0`` picks a free one (read it back from :attr:`port`).
    datasets : sequence of Dataset, optional
        What the archive holds.  ``None``: the repo's ``sample_data/`` or, for
        an installed package, :func:`dicomaudit.synth.generate_studies`.
    response_delay : float
        Seconds to wait before each C-FIND pending response (a slow archive;
        lets tests cancel mid-stream deterministically).
    on_event : callable, optional
        Called with each event dict as it happens (``run_forever`` prints them).
    allow_remote : bool
        Permit a non-loopback `host`.  Off by default: the lab is insecure by design.

    Examples
    --------
    >>> with LabPACS(profile="open") as lab:          # doctest: +SKIP
    ...     print(lab.host, lab.port, lab.ae_title)
    """

    def __init__(
        self,
        profile: str | LabProfile = "open",
        host: str = "127.0.0.1",
        port: int = 0,
        datasets: Sequence[Dataset] | None = None,
        *,
        response_delay: float = 0.0,
        on_event: Callable[[Event], None] | None = None,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"the lab PACS binds to loopback only (got {host!r}); pass allow_remote=True to override")
        self.profile: LabProfile = get_profile(profile)
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._seed = list(datasets) if datasets is not None else None
        self.response_delay = response_delay
        self._on_event = on_event
        self._lock = threading.Lock()
        self._archive: list[Dataset] = []
        self._stored: list[Dataset] = []
        self._events: list[Event] = []
        self._ae: AE | None = None
        self._server: _LabServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self.tls_files: TLSFiles | None = None

    # ------------------------------------------------------------------ API

    @property
    def ae_title(self) -> str:
        return self.profile.ae_title

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the lab PACS is not running")
        return self._port

    @property
    def target(self) -> str:
        """``HOST:PORT/AET`` as the CLI's TARGET argument expects it (after :meth:`start`)."""
        return f"{self.host}:{self.port}/{self.ae_title}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def stored(self) -> list[Dataset]:
        """Datasets received by C-STORE, in arrival order (a copy of the list)."""
        with self._lock:
            return list(self._stored)

    @property
    def events(self) -> list[Event]:
        """What happened, as simple dicts (a copy of the list).

        ``kind`` is ``"association"`` (``outcome`` accepted / rejected with
        ``reason`` / released / aborted), ``"tls"`` (``outcome``
        handshake_failed with ``reason``) or a DIMSE service ``"C-ECHO"``,
        ``"C-FIND"``, ``"C-STORE"`` (``outcome`` success / refused / cancelled
        / failed, ``status``).  Association and service events carry
        ``calling_aet``, ``called_aet`` and ``peer``.
        """
        with self._lock:
            return [dict(e) for e in self._events]

    @property
    def datasets(self) -> list[Dataset]:
        """What a C-FIND searches: the seed data plus everything stored since start."""
        with self._lock:
            return list(self._archive)

    def __enter__(self) -> LabPACS:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port else "stopped"
        return f"<LabPACS profile={self.profile.name!r} ae={self.ae_title!r} {where}>"

    def start(self) -> LabPACS:
        """Bind, start serving in a background thread, return self."""
        if self._server is not None:
            raise RuntimeError("the lab PACS is already running")
        _quiet_pynetdicom()
        with self._lock:
            self._archive = list(self._seed if self._seed is not None else default_datasets())
            self._stored = []
            self._events = []

        ae = self._make_ae()
        ssl_context = None
        try:
            if self.profile.tls:
                self._tmpdir = Path(tempfile.mkdtemp(prefix="dicomaudit-lab-tls-"))
                self.tls_files = generate_tls_files(self._tmpdir)
                ssl_context = self.tls_files.server_context(self.profile.tls_require_client_cert)
            server = ae.make_server(
                (self.host, self._requested_port),
                ae_title=self.profile.ae_title,
                ssl_context=ssl_context,
                contexts=list(
                    _supported_contexts(
                        self.profile.echo != Access.NONE,
                        self.profile.find != Access.NONE,
                        self.profile.store != Access.NONE,
                    )
                ),
                evt_handlers=self._handlers(),  # type: ignore[arg-type]  # pynetdicom types the events narrowly
                server_class=_LabServer,
            )
        except Exception:
            self._cleanup_tmp()
            raise
        assert isinstance(server, _LabServer)  # make_server builds the server_class it is given
        server.on_tls_failure = self._tls_failed
        self._ae, self._server = ae, server
        self._port = int(server.server_address[1])
        # A short poll interval makes stop() take ~50 ms instead of pynetdicom's 0.5 s.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LabPACS-{self.profile.name}@{self._port}",
            daemon=True,
        )
        self._thread.start()
        log.debug("lab PACS %r listening on %s:%s", self.profile.name, self.host, self._port)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, abort open associations, close the socket; idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        # Stop the accept loop first so no new association starts during teardown.
        server.shutdown()
        for assoc in server.active_associations:
            assoc.abort()
        for assoc in server.active_associations:
            assoc.join(timeout)
        if thread is not None:
            thread.join(timeout)
        self._server = self._thread = self._ae = None
        self._port = None
        self._cleanup_tmp()

    # --------------------------------------------------------- construction

    def _make_ae(self) -> AE:
        profile = self.profile
        ae = AE(ae_title=profile.ae_title)
        ae.implementation_class_uid = LAB_IMPLEMENTATION_CLASS_UID
        ae.implementation_version_name = LAB_IMPLEMENTATION_VERSION_NAME
        # pynetdicom rejects with A-ASSOCIATE-RJ (1, 1, 7) / (1, 1, 3) (PS3.8 9.3.4).
        ae.require_called_aet = profile.require_called_aet
        ae.require_calling_aet = list(profile.allowed_calling_aets or [])
        # Bounded waits so a stuck peer cannot pin lab threads for long.
        ae.acse_timeout = 10
        ae.dimse_timeout = 10
        ae.network_timeout = 30
        # pynetdicom's default of 10 is low for a scanner running checks concurrently.
        ae.maximum_associations = 32
        return ae

    def _handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        return [
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_STORE, self._on_store),
        ]

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # ---------------------------------------------------------------- events

    def _record(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
        if self._on_event is not None:
            try:
                self._on_event(dict(event))
            except Exception:  # noqa: BLE001 - a console printer must not break the server
                log.exception("lab on_event callback failed")

    @staticmethod
    def _who(assoc: Any) -> Event:
        rq = assoc.requestor
        primitive = rq.primitive
        return {
            "calling_aet": str(rq.ae_title or "").strip(),
            "called_aet": str(getattr(primitive, "called_ae_title", "") or "").strip(),
            "peer": f"{rq.address}:{rq.port}",
        }

    def _on_accepted(self, event: Any) -> None:
        self._record({"kind": "association", "outcome": "accepted", **self._who(event.assoc)})

    def _on_rejected(self, event: Any) -> None:
        rj = event.assoc.acceptor.primitive
        self._record(
            {
                "kind": "association",
                "outcome": "rejected",
                **self._who(event.assoc),
                "result": rj.result,
                "source": rj.result_source,
                "diagnostic": rj.diagnostic,
                "reason": rj.reason_str.lower(),
            }
        )

    def _on_released(self, event: Any) -> None:
        self._record({"kind": "association", "outcome": "released", **self._who(event.assoc)})

    def _on_aborted(self, event: Any) -> None:
        self._record({"kind": "association", "outcome": "aborted", **self._who(event.assoc)})

    def _tls_failed(self, client_address: Any, exc: BaseException) -> None:
        host, port = client_address[0], client_address[1]
        self._record(
            {
                "kind": "tls",
                "outcome": "handshake_failed",
                "peer": f"{host}:{port}",
                "reason": getattr(exc, "reason", None) or str(exc) or type(exc).__name__,
            }
        )

    def _service_event(self, kind: str, event: Any, status: int, **more: Any) -> None:
        outcome = {0x0000: "success", STATUS_CANCEL: "cancelled"}.get(
            status, "refused" if status == self.profile.refusal_status else "failed"
        )
        self._record({"kind": kind, "outcome": outcome, "status": status, **self._who(event.assoc), **more})

    # -------------------------------------------------------------- services

    def _allowed(self, policy: Access, event: Any) -> bool:
        return self.profile.may(policy, str(event.assoc.requestor.ae_title))

    def _on_echo(self, event: Any) -> int:
        """C-ECHO (PS3.7 9.1.5): success, or the profile's refusal status."""
        status = 0x0000 if self._allowed(self.profile.echo, event) else self.profile.refusal_status
        self._service_event("C-ECHO", event, status)
        return status

    def _on_store(self, event: Any) -> int:
        """C-STORE (PS3.4 B.2.3): keep the object in memory and make it queryable."""
        if not self._allowed(self.profile.store, event):
            self._service_event("C-STORE", event, self.profile.refusal_status)
            return self.profile.refusal_status
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception as exc:  # noqa: BLE001 - a malformed object is the peer's problem, not a crash
            self._service_event("C-STORE", event, STATUS_CANNOT_UNDERSTAND, error=str(exc))
            return STATUS_CANNOT_UNDERSTAND
        with self._lock:
            self._stored.append(ds)
            self._archive.append(ds)
        self._service_event("C-STORE", event, 0x0000, sop_instance_uid=str(ds.get("SOPInstanceUID", "")))
        return 0x0000

    def _on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        """C-FIND (PS3.4 C.4.1): pending 0xFF00 per match, 0xFE00 on C-CANCEL, then success."""
        if not self._allowed(self.profile.find, event):
            self._service_event("C-FIND", event, self.profile.refusal_status)
            yield self.profile.refusal_status, None
            return
        model = str(event.request.AffectedSOPClassUID)
        try:
            identifier = event.identifier
            matches = matching.find(self.datasets, identifier, model, extra=self._retrieve_keys())
            first = next(matches, None)
        except matching.QueryError as exc:
            self._service_event("C-FIND", event, exc.status, error=str(exc))
            yield exc.status, None
            return
        except Exception as exc:  # noqa: BLE001 - undecodable identifier
            self._service_event("C-FIND", event, STATUS_UNABLE_TO_PROCESS, error=str(exc))
            yield STATUS_UNABLE_TO_PROCESS, None
            return
        sent = 0
        status = 0x0000
        try:
            response = first
            while response is not None:
                if self.response_delay:
                    time.sleep(self.response_delay)
                if event.is_cancelled:
                    status = STATUS_CANCEL
                    yield STATUS_CANCEL, None
                    return
                yield STATUS_PENDING, response
                sent += 1
                response = next(matches, None)
        finally:
            # Also reached when the association dies mid-stream (generator closed).
            self._service_event(
                "C-FIND", event, status, matches=sent, level=str(identifier.get("QueryRetrieveLevel", "")), model=model
            )

    def _retrieve_keys(self) -> dict[Any, DataElement]:
        """Attributes the SCP itself answers: where to retrieve from, and availability."""
        return {
            Tag("RetrieveAETitle"): DataElement(Tag("RetrieveAETitle"), "AE", self.profile.ae_title),
            Tag("InstanceAvailability"): DataElement(Tag("InstanceAvailability"), "CS", "ONLINE"),
        }
