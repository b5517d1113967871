"""The lab PACS: a deliberately misconfigurable DICOM SCP on loopback.

Built on pynetdicom's association server.  One :class:`LabPACS` owns one
pynetdicom ``AE`` and one listening socket; handlers apply the
:class:`~dicomaudit.lab.profiles.LabProfile` per request, so the same code
shows an open node, a locked one, a stock install and a TLS-only one.

Services (PS3.4): Verification SCP (C-ECHO); Patient Root and Study Root
Query/Retrieve - FIND SCP (C-FIND, with C-CANCEL); Modality Worklist
Information Model - FIND SCP (C-FIND over synthetic scheduled procedure
steps, with C-CANCEL); Query/Retrieve - GET and - MOVE SCP for the Patient
Root, Study Root and retired Patient/Study Only models (C-GET sends the
matched instances as C-STORE sub-operations on the same association, C-MOVE
opens a sub-association to a known Move Destination; both with C-CANCEL);
Storage SCP (C-STORE, every storage SOP class pynetdicom knows).  User
Identity negotiation (PS3.7 D.3.3.7) is ignored, accepted or required, per
profile.  No Modality Performed Procedure Step, Storage Commitment or N-*
services.

With ``web_port`` the lab also serves DICOMweb (QIDO-RS, WADO-RS metadata,
STOW-RS; :mod:`dicomaudit.lab.web`) over the same archive, started and
stopped with the DICOM server.
"""

from __future__ import annotations

import copy
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
from pynetdicom.dimse_primitives import C_GET, C_MOVE
from pynetdicom.dsutils import decode
from pynetdicom.pdu_primitives import UserIdentityNegotiation
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from dicomaudit import synth
from dicomaudit.lab import matching, retrieval, worklist
from dicomaudit.lab.profiles import MOVE_DESTINATION_UNKNOWN, Access, LabProfile, get_profile
from dicomaudit.lab.tls import TLSFiles, generate_tls_files
from dicomaudit.lab.web import LabWebServer

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
#: PS3.4 C.4.2.1.5 / C.4.3.1.4 "Warning: sub-operations complete, one or more failures or warnings".
STATUS_SUBOPS_WARNING = 0xB000

#: A-ASSOCIATE-RJ for an identity the lab does not accept: rejected-permanent,
#: DICOM UL service-user, "no reason given" (PS3.8 9.3.4), as dcm4chee-arc
#: answers.  pynetdicom's own rejection (EVT_USER_ID handler returning False)
#: is rejected-transient, service-provider (ACSE), "no reason given".
USER_IDENTITY_REJECTION = (0x01, 0x01, 0x01)
#: Server response confirming a Kerberos, SAML or JWT identity in ``accept``
#: mode (PS3.7 D.3.3.7.2); usernames and passcodes get a zero-length one.
SYNTHETIC_SERVER_RESPONSE = b"DICOMLAB-SYNTHETIC-ACCEPTANCE"
#: User Identity types carrying a username (PS3.7 Table D.3-14).
_USERNAME_TYPES = (1, 2)

GET_MODELS = (
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
)
MOVE_MODELS = (
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
)

#: Seconds a TLS client gets to finish its handshake before the lab hangs up.
TLS_HANDSHAKE_TIMEOUT = 5.0
#: Transfer syntaxes the lab accepts for storage: pynetdicom's uncompressed
#: defaults plus the compressed ones modalities commonly send (PS3.5 A.4).
#: Not all ~40: pynetdicom deep-copies the supported contexts per association
#: (the lab now makes that copy cheap, see ``_SupportedContexts``), and
#: negotiation compares every proposed syntax with every supported one.
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


@functools.lru_cache(maxsize=1)
def default_worklist() -> tuple[Dataset, ...]:
    """The lab's default Modality Worklist: :func:`dicomaudit.synth.generate_worklist` (cached, never mutated)."""
    return tuple(synth.generate_worklist())


@functools.lru_cache(maxsize=16)
def _supported_contexts(
    echo: bool, find: bool, store: bool, worklist: bool = False, get: bool = False, move: bool = False
) -> tuple[PresentationContext, ...]:
    """The SCP presentation contexts for a set of offered services (built once per process).

    A service with :attr:`Access.NONE` is simply not offered, so its contexts
    are rejected with "abstract syntax not supported" (PS3.8 9.3.3.2).
    pynetdicom only reads these (each association gets a copy, see
    :class:`_SupportedContexts`).

    With C-GET offered the storage contexts also accept the SCU role
    (SCP/SCU Role Selection, PS3.7 D.3.3.4): a C-GET requestor proposes the
    SCP role for the storage classes it wants to receive, and the lab must be
    able to send them back on the same association.  Without role selection
    the usual roles apply, so plain C-STORE is unaffected.
    """
    contexts: list[PresentationContext] = []
    if echo:
        contexts.append(build_context(Verification))
    if find:
        contexts.append(build_context(PatientRootQueryRetrieveInformationModelFind))
        contexts.append(build_context(StudyRootQueryRetrieveInformationModelFind))
    if worklist:
        contexts.append(build_context(ModalityWorklistInformationFind))
    if get:
        contexts.extend(build_context(uid) for uid in GET_MODELS)
    if move:
        contexts.extend(build_context(uid) for uid in MOVE_MODELS)
    if store:
        # The lab keeps objects as received and never decodes pixel data.
        for cx in StoragePresentationContexts:
            if cx.abstract_syntax is None:
                continue
            storage = build_context(cx.abstract_syntax, list(STORAGE_TRANSFER_SYNTAXES))
            if get:
                storage.scu_role = True
                storage.scp_role = True
            contexts.append(storage)
    return tuple(contexts)


class _SupportedContexts(list[PresentationContext]):
    """The server's supported contexts, copied cheaply for each association.

    pynetdicom deep-copies the server's contexts for every association it
    accepts, although negotiation only reads them: ~7 ms of a ~25 ms
    association for the lab's ~130 contexts.  A copy of each context object
    keeps associations apart for a fiftieth of that.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> list[PresentationContext]:
        return [copy.copy(cx) for cx in self]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _no_delay(sock: socket.socket) -> None:
    """Send each PDU at once (TCP_NODELAY, as DCMTK does by default).

    pynetdicom writes a DIMSE message as several small PDUs; with Nagle's
    algorithm the second waits for the peer's delayed ACK, ~40 ms per
    message, which made every C-GET sub-operation take ~50 ms.
    """
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # pragma: no cover - not a TCP socket
        pass


def _sub_association_no_delay(event: Any) -> None:
    """EVT_CONN_OPEN of a C-MOVE sub-association: TCP_NODELAY on its socket too."""
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        _no_delay(sock)


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
        sock, address = self.socket.accept()
        _no_delay(sock)
        return sock, address

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
    worklist_items : sequence of Dataset, optional
        The Modality Worklist (one dataset per requested procedure, with its
        Scheduled Procedure Step Sequence).  ``None``:
        :func:`dicomaudit.synth.generate_worklist`.
    response_delay : float
        Seconds to wait before each C-FIND pending response and each C-GET /
        C-MOVE sub-operation (a slow archive; lets tests cancel mid-stream
        deterministically).
    on_event : callable, optional
        Called with each event dict as it happens (``run_forever`` prints them).
    allow_remote : bool
        Permit a non-loopback `host`.  Off by default: the lab is insecure by design.
    web_port : int, optional
        Also serve DICOMweb on `host` at this port (``0``: a free one, read back
        from :attr:`web_port`; :attr:`web_url` is the service root).  ``None``
        (default): no web server.  HTTPS for a ``tls`` profile, with the same
        server certificate as DICOM over TLS.

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
        worklist_items: Sequence[Dataset] | None = None,
        response_delay: float = 0.0,
        on_event: Callable[[Event], None] | None = None,
        allow_remote: bool = False,
        web_port: int | None = None,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"the lab PACS binds to loopback only (got {host!r}); pass allow_remote=True to override")
        if web_port is not None and not 0 <= web_port <= 65535:
            raise ValueError(f"web_port {web_port} is out of range (0-65535, 0 = a free port)")
        self.profile: LabProfile = get_profile(profile)
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._seed = list(datasets) if datasets is not None else None
        self._worklist = tuple(worklist_items) if worklist_items is not None else None
        self.response_delay = response_delay
        self._on_event = on_event
        self._lock = threading.Lock()
        self._archive: list[Dataset] = []
        self._stored: list[Dataset] = []
        self._events: list[Event] = []
        # The C-GET/C-MOVE each association is performing (one at a time: DIMSE-C is synchronous here).
        self._retrievals: dict[Any, retrieval.Retrieval] = {}
        self._ae: AE | None = None
        self._server: _LabServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self.tls_files: TLSFiles | None = None
        self._requested_web_port = web_port
        self._web: LabWebServer | None = None

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
    def web_port(self) -> int | None:
        """The DICOMweb server's bound port, or ``None`` when it is not serving."""
        return self._web.port if self._web is not None else None

    @property
    def web_url(self) -> str | None:
        """The DICOMweb service root (``http://127.0.0.1:PORT/dicom-web``, ``https://`` for a TLS
        profile), or ``None`` when it is not serving."""
        return self._web.url if self._web is not None else None

    @property
    def stored(self) -> list[Dataset]:
        """Datasets received by C-STORE or STOW-RS, in arrival order (a copy of the list)."""
        with self._lock:
            return list(self._stored)

    @property
    def events(self) -> list[Event]:
        """What happened, as simple dicts (a copy of the list).

        ``kind`` is one of:

        - ``"association"``: ``outcome`` accepted / rejected (with
          ``result``, ``source``, ``diagnostic``, ``reason``) / released /
          aborted;
        - ``"tls"``: ``outcome`` handshake_failed with ``reason``;
        - ``"user_identity"``: ``outcome`` ignored / accepted / rejected, with
          ``identity_type`` (PS3.7 Table D.3-14), ``positive_response_requested``,
          ``username`` (types 1 and 2; never the passcode) and, when
          accepted, ``response_sent``;
        - a DIMSE service ``"C-ECHO"``, ``"C-FIND"``, ``"C-STORE"``,
          ``"C-GET"``, ``"C-MOVE"``: ``outcome`` success / warning / refused /
          cancelled / failed / aborted and the final ``status`` (``None`` if
          the association ended first).  C-FIND adds ``model`` (the SOP class
          UID, e.g. Modality Worklist), ``matches`` and, for Query/Retrieve,
          ``level``; C-GET and C-MOVE add ``model``, ``level``, ``matches``
          (instances selected), ``sub_operations`` and the ``completed`` /
          ``failed`` / ``warning`` counts of the final response; C-MOVE adds
          ``move_destination`` (the AE title asked for) and, when known,
          ``destination`` (``host:port``).  A refusal may carry ``reason``
          and a failure ``error``.

        - ``"HTTP"`` (the DICOMweb server): one per request, with ``outcome``
          success / warning (STOW-RS 202) / refused (401, 403, 405) / failed,
          ``method``, ``path`` (without the query), ``params`` (the names of
          the known query parameters, never their values; ``other_params``
          counts the rest), ``status``, ``credentials`` (the Authorization
          scheme, ``"none"`` without one), ``user`` (the Basic user name
          presented; never the password), ``authenticated`` (with
          ``web_auth="basic"``), ``origin`` (when sent), ``peer`` and, per
          resource, ``level`` and ``matches`` (QIDO-RS), ``instances``
          (metadata), ``stored``, ``failed`` and ``sop_instance_uids``
          (STOW-RS), ``preflight`` (a CORS preflight) or ``reason``.  A
          failed TLS handshake on the web port is a ``"tls"`` event with
          ``service="DICOMweb"``.

        Association, user identity and service events carry ``calling_aet``,
        ``called_aet`` and ``peer``.
        """
        with self._lock:
            return [dict(e) for e in self._events]

    @property
    def datasets(self) -> list[Dataset]:
        """What a C-FIND searches: the seed data plus everything stored since start."""
        with self._lock:
            return list(self._archive)

    @property
    def worklist(self) -> list[Dataset]:
        """What a Modality Worklist C-FIND searches."""
        return list(self._worklist if self._worklist is not None else default_worklist())

    def __enter__(self) -> LabPACS:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port else "stopped"
        web = f" web={self.web_url}" if self._web is not None else ""
        return f"<LabPACS profile={self.profile.name!r} ae={self.ae_title!r} {where}{web}>"

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
                contexts=_SupportedContexts(
                    _supported_contexts(
                        self.profile.echo != Access.NONE,
                        self.profile.find != Access.NONE,
                        self.profile.store != Access.NONE,
                        self.profile.worklist != Access.NONE,
                        self.profile.get != Access.NONE,
                        self.profile.move != Access.NONE,
                    )
                ),
                evt_handlers=self._handlers(),  # type: ignore[arg-type]  # pynetdicom types the events narrowly
                server_class=_LabServer,
            )
        except Exception:
            self._cleanup_tmp()
            raise
        assert isinstance(server, _LabServer)  # make_server builds the server_class it is given
        if self._requested_web_port is not None:
            try:
                self._web = self._make_web().start()
            except Exception:
                server.server_close()  # bound, never served: close only (shutdown would wait for serve_forever)
                self._cleanup_tmp()
                raise
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
        """Stop accepting, abort open associations, close the sockets (DICOM and web); idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        if self._web is not None:
            self._web.stop(timeout)
            self._web = None
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

    def _make_web(self) -> LabWebServer:
        """The DICOMweb server over this lab's archive; HTTPS when the profile is TLS-only."""
        ssl_context = None
        if self.tls_files is not None and self.profile.tls:
            # Server authentication only: DICOMweb clients authenticate with HTTP credentials.
            ssl_context = self.tls_files.server_context(require_client_cert=False)
        assert self._requested_web_port is not None
        return LabWebServer(
            self.profile,
            self.host,
            self._requested_web_port,
            datasets=lambda: self.datasets,
            store=self._store_from_web,
            record=self._record,
            ssl_context=ssl_context,
        )

    def _store_from_web(self, ds: Dataset) -> None:
        """An instance received by STOW-RS: kept like a C-STORE one (queryable over DICOM and DICOMweb)."""
        with self._lock:
            self._stored.append(ds)
            self._archive.append(ds)

    def _handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        handlers: list[tuple[Any, Callable[..., Any]]] = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_STORE, self._on_store),
        ]
        if self.profile.user_identity != "ignore":
            # Without a handler pynetdicom ignores User Identity (accepts, no response).
            handlers.append((evt.EVT_USER_ID, self._on_user_id))
        if self._retrieve_offered:
            handlers += [
                (evt.EVT_C_GET, self._on_get),
                (evt.EVT_C_MOVE, self._on_move),
                (evt.EVT_DIMSE_SENT, self._on_dimse_sent),
            ]
        return handlers

    @property
    def _retrieve_offered(self) -> bool:
        return self.profile.get != Access.NONE or self.profile.move != Access.NONE

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
        # pynetdicom copies the Calling AE Title from the A-ASSOCIATE-RQ only once
        # negotiation starts; EVT_REQUESTED handlers see it on the primitive.
        calling = rq.ae_title or getattr(primitive, "calling_ae_title", "")
        return {
            "calling_aet": str(calling or "").strip(),
            "called_aet": str(getattr(primitive, "called_ae_title", "") or "").strip(),
            "peer": f"{rq.address}:{rq.port}",
        }

    def _on_requested(self, event: Any) -> None:
        """A-ASSOCIATE-RQ received: User Identity (PS3.7 D.3.3.7) before any other negotiation.

        ``require`` rejects an identity it does not know here, with
        :data:`USER_IDENTITY_REJECTION`, through pynetdicom's documented
        EVT_REQUESTED hook (a handler may send the A-ASSOCIATE-RJ itself).
        """
        assoc = event.assoc
        identity = assoc.requestor.user_identity
        if identity is None:
            return
        details = self._identity_details(identity)
        mode = self.profile.user_identity
        if mode == "ignore":
            self._record({"kind": "user_identity", "outcome": "ignored", **self._who(assoc), **details})
            return
        if mode == "require" and not self._identity_known(identity):
            self._record({"kind": "user_identity", "outcome": "rejected", **self._who(assoc), **details})
            assoc.acse.send_reject(*USER_IDENTITY_REJECTION)
            evt.trigger(assoc, evt.EVT_REJECTED, {})
            assoc.kill()  # as pynetdicom does after its own rejections: wait for the peer to close

    def _on_user_id(self, event: Any) -> tuple[bool, bytes | None]:
        """EVT_USER_ID (``accept`` and ``require``): accept, and confirm when asked (PS3.7 D.3.3.7.2).

        pynetdicom only sends a server response for Kerberos, SAML and JWT
        identities; for a username (and passcode) the standard's response is
        a zero-length server response, added here.
        """
        assoc = event.assoc
        identity = assoc.requestor.user_identity
        if identity is None:  # pragma: no cover - pynetdicom only triggers this with an identity
            return True, None
        if self.profile.user_identity == "require" and not self._identity_known(identity):
            return False, None  # already rejected in EVT_REQUESTED; kept as a safety net
        wants_response = bool(identity.positive_response_requested)
        response: bytes | None = None
        if wants_response:
            if event.user_id_type in _USERNAME_TYPES:
                confirmation = UserIdentityNegotiation()
                confirmation.server_response = b""
                assoc.acceptor.add_negotiation_item(confirmation)
            else:
                response = SYNTHETIC_SERVER_RESPONSE
        self._record(
            {
                "kind": "user_identity",
                "outcome": "accepted",
                **self._who(assoc),
                **self._identity_details(identity),
                "response_sent": wants_response,
            }
        )
        return True, response

    def _identity_known(self, identity: UserIdentityNegotiation) -> bool:
        return identity.user_identity_type == 2 and self.profile.user_known(
            identity.primary_field, identity.secondary_field
        )

    @staticmethod
    def _identity_details(identity: UserIdentityNegotiation) -> Event:
        details: Event = {
            "identity_type": identity.user_identity_type,
            "positive_response_requested": bool(identity.positive_response_requested),
        }
        if identity.user_identity_type in _USERNAME_TYPES:
            details["username"] = (identity.primary_field or b"").decode("utf-8", "replace")
        return details

    def _on_accepted(self, event: Any) -> None:
        self._record({"kind": "association", "outcome": "accepted", **self._who(event.assoc)})
        if self._retrieve_offered:
            self._intercept_retrievals(event.assoc)

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

    def _service_event(self, kind: str, assoc: Any, status: int | None, **more: Any) -> None:
        if status is None:
            outcome = "aborted"
        elif status in (self.profile.refusal_status, MOVE_DESTINATION_UNKNOWN):
            outcome = "refused"
        else:
            outcome = {0x0000: "success", STATUS_CANCEL: "cancelled", STATUS_SUBOPS_WARNING: "warning"}.get(
                status, "failed"
            )
        self._record({"kind": kind, "outcome": outcome, "status": status, **self._who(assoc), **more})

    # -------------------------------------------------------------- services

    def _refusal(self, policy: Access, assoc: Any) -> str | None:
        """Why the requestor may not use a service with `policy`, or ``None`` if it may."""
        if self.profile.user_identity == "require" and assoc.requestor.user_identity is None:
            return "no user identity"
        if not self.profile.may(policy, str(assoc.requestor.ae_title)):
            return "calling AE title not registered"
        return None

    def _on_echo(self, event: Any) -> int:
        """C-ECHO (PS3.7 9.1.5): success, or the profile's refusal status."""
        reason = self._refusal(self.profile.echo, event.assoc)
        status = 0x0000 if reason is None else self.profile.refusal_status
        self._service_event("C-ECHO", event.assoc, status, **({"reason": reason} if reason else {}))
        return status

    def _on_store(self, event: Any) -> int:
        """C-STORE (PS3.4 B.2.3): keep the object in memory and make it queryable."""
        reason = self._refusal(self.profile.store, event.assoc)
        if reason is not None:
            self._service_event("C-STORE", event.assoc, self.profile.refusal_status, reason=reason)
            return self.profile.refusal_status
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception as exc:  # noqa: BLE001 - a malformed object is the peer's problem, not a crash
            self._service_event("C-STORE", event.assoc, STATUS_CANNOT_UNDERSTAND, error=str(exc))
            return STATUS_CANNOT_UNDERSTAND
        with self._lock:
            self._stored.append(ds)
            self._archive.append(ds)
        self._service_event("C-STORE", event.assoc, 0x0000, sop_instance_uid=str(ds.get("SOPInstanceUID", "")))
        return 0x0000

    def _on_find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        """C-FIND (PS3.4 C.4.1, K.4.1): pending 0xFF00 per match, 0xFE00 on C-CANCEL, then success."""
        model = str(event.request.AffectedSOPClassUID)
        is_worklist = model == worklist.MODALITY_WORKLIST_FIND
        reason = self._refusal(self.profile.worklist if is_worklist else self.profile.find, event.assoc)
        if reason is not None:
            self._service_event("C-FIND", event.assoc, self.profile.refusal_status, model=model, reason=reason)
            yield self.profile.refusal_status, None
            return
        details: Event = {"model": model}
        try:
            identifier = event.identifier
            if is_worklist:
                matches = worklist.find(self.worklist, identifier)
            else:
                details["level"] = str(identifier.get("QueryRetrieveLevel", ""))
                matches = matching.find(self.datasets, identifier, model, extra=self._retrieve_keys())
            first = next(matches, None)
        except matching.QueryError as exc:
            self._service_event("C-FIND", event.assoc, exc.status, error=str(exc), **details)
            yield exc.status, None
            return
        except Exception as exc:  # noqa: BLE001 - undecodable identifier
            self._service_event("C-FIND", event.assoc, STATUS_UNABLE_TO_PROCESS, error=str(exc), **details)
            yield STATUS_UNABLE_TO_PROCESS, None
            return
        sent = 0
        status: int | None = 0x0000
        try:
            response = first
            while response is not None:
                if self.response_delay:
                    time.sleep(self.response_delay)
                if event.is_cancelled:
                    status = STATUS_CANCEL
                    yield STATUS_CANCEL, None
                    return
                status = None  # until the next response is sent
                yield STATUS_PENDING, response
                status = 0x0000
                sent += 1
                response = next(matches, None)
        finally:
            # Also reached when the association dies mid-stream (generator closed).
            self._service_event("C-FIND", event.assoc, status, matches=sent, **details)

    def _retrieve_keys(self) -> dict[Any, DataElement]:
        """Attributes the SCP itself answers: where to retrieve from, and availability."""
        return {
            Tag("RetrieveAETitle"): DataElement(Tag("RetrieveAETitle"), "AE", self.profile.ae_title),
            Tag("InstanceAvailability"): DataElement(Tag("InstanceAvailability"), "CS", "ONLINE"),
        }

    # ------------------------------------------------------ C-GET and C-MOVE

    def _intercept_retrievals(self, assoc: Any) -> None:
        """Route this association's C-GET and C-MOVE requests through :meth:`_retrieve`.

        pynetdicom dispatches each DIMSE request with the association's
        ``_serve_request``; wrapping it (on this association only) lets the
        lab answer a retrieval that ends before any sub-operation with the
        exact final response (see :mod:`dicomaudit.lab.retrieval`), and hand
        the others to pynetdicom's Query/Retrieve service class unchanged.
        """
        serve = assoc._serve_request

        def serve_request(msg: Any, context_id: int) -> None:
            if isinstance(msg, (C_GET, C_MOVE)) and msg.is_valid_request:
                context = next((cx for cx in assoc.accepted_contexts if cx.context_id == context_id), None)
                if context is not None and str(context.abstract_syntax) in matching.RETRIEVE_MODELS:
                    self._retrieve(assoc, serve, msg, context)
                    return
            serve(msg, context_id)

        assoc._serve_request = serve_request

    def _retrieve(self, assoc: Any, serve: Callable[[Any, int], None], msg: C_GET | C_MOVE, context: Any) -> None:
        """One C-GET or C-MOVE (SCP behaviour, PS3.4 C.4.3.3 / C.4.2.3), in this order.

        Authorisation (0x0124), then, for C-MOVE with ``move_destination_check
        = "always"``, the Move Destination (0xA801), then the identifier
        (0xA900), then matching: nothing matched is Success with zero
        sub-operations; for C-MOVE with ``"when_matches"`` the destination is
        checked only now.  What remains is performed by pynetdicom (EVT_C_GET
        / EVT_C_MOVE), whose final status follows PS3.4 C.4.2.1.5 / C.4.3.1.4:
        0x0000 all completed, 0xB000 some failed or warned, 0xA702 all failed,
        0xFE00 cancelled.
        """
        is_get = isinstance(msg, C_GET)
        kind = "C-GET" if is_get else "C-MOVE"
        context_id = int(context.context_id)
        details: Event = {"model": str(context.abstract_syntax)}
        destination: tuple[str, int] | None = None
        if isinstance(msg, C_MOVE):
            move_destination = str(msg.MoveDestination or "").strip()
            details["move_destination"] = move_destination
            destination = self.profile.move_destination(move_destination)
            if destination is not None:
                details["destination"] = f"{destination[0]}:{destination[1]}"

        def answer(status: int, comment: str | None = None, **more: Any) -> None:
            assoc.dimse.send_msg(retrieval.final_response(msg, status, comment), context_id)
            self._service_event(kind, assoc, status, **details, **more)

        reason = self._refusal(self.profile.get if is_get else self.profile.move, assoc)
        if reason is not None:
            answer(self.profile.refusal_status, reason=reason)
            return
        if destination is None and not is_get and self.profile.move_destination_check == "always":
            answer(MOVE_DESTINATION_UNKNOWN, reason="move destination unknown")
            return
        try:
            if msg.Identifier is None:
                raise matching.QueryError(matching.STATUS_IDENTIFIER_MISMATCH, "no identifier")
            syntax = context.transfer_syntax[0]
            identifier = decode(msg.Identifier, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
            instances = matching.retrieve(self.datasets, identifier, details["model"])
        except matching.QueryError as exc:
            answer(exc.status, str(exc), error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - undecodable identifier
            answer(STATUS_UNABLE_TO_PROCESS, "unable to process the identifier", error=str(exc))
            return
        details["level"] = str(identifier.QueryRetrieveLevel).strip().upper()
        details["matches"] = len(instances)
        if not instances:
            answer(0x0000, sub_operations=0, completed=0, failed=0, warning=0)
            return
        if destination is None and not is_get:  # move_destination_check == "when_matches"
            answer(MOVE_DESTINATION_UNKNOWN, reason="move destination unknown")
            return
        plan = retrieval.Retrieval(kind, instances, details, destination)
        self._retrievals[assoc] = plan
        try:
            serve(msg, context_id)
        finally:
            del self._retrievals[assoc]
            final = plan.final
            self._service_event(
                kind,
                assoc,
                int(final.Status) if final is not None else None,
                **details,
                sub_operations=len(instances),
                **retrieval.counts(final),
            )

    def _on_get(self, event: Any) -> Iterator[Any]:
        """EVT_C_GET: the instances :meth:`_retrieve` selected, as C-STORE sub-operations on this association."""
        plan = self._retrievals.get(event.assoc)
        if plan is None:  # pragma: no cover - every C-GET goes through _retrieve
            yield 0
            return
        yield len(plan.instances)
        yield from self._sub_operations(event, plan)

    def _on_move(self, event: Any) -> Iterator[Any]:
        """EVT_C_MOVE: the known destination, then the selected instances over a sub-association."""
        plan = self._retrievals.get(event.assoc)
        if plan is None or plan.destination is None:  # pragma: no cover - every C-MOVE goes through _retrieve
            yield None, None
            return
        host, port = plan.destination
        yield (
            host,
            port,
            {
                "contexts": retrieval.store_contexts(plan.instances),
                "evt_handlers": [(evt.EVT_CONN_OPEN, _sub_association_no_delay)],
            },
        )
        yield len(plan.instances)
        yield from self._sub_operations(event, plan)

    def _sub_operations(self, event: Any, plan: retrieval.Retrieval) -> Iterator[tuple[int, Dataset | None]]:
        for ds in plan.instances:
            if self.response_delay:
                time.sleep(self.response_delay)
            if event.is_cancelled:
                yield STATUS_CANCEL, None
                return
            plan.sent += 1
            # A shallow copy: encoding must not touch the archive's (shared, cached) datasets.
            yield STATUS_PENDING, copy.copy(ds)

    def _on_dimse_sent(self, event: Any) -> None:
        """Keep the final C-GET/C-MOVE response pynetdicom sends, for the event record."""
        plan = self._retrievals.get(event.assoc)
        if plan is None:
            return
        command = event.message.command_set
        if command.get("CommandField") in retrieval.RETRIEVE_RSP_COMMAND_FIELDS:
            if int(command.Status) not in retrieval.PENDING:
                plan.final = command
