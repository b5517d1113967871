"""The lab's DICOMweb endpoint (PS3.18): QIDO-RS, WADO-RS metadata and STOW-RS on loopback.

A deliberately small origin server over the same synthetic studies the lab's
DICOM side serves, so that ``dicomaudit demo`` can show the web checks and the
tests can point them at a configurable server.  Its behaviour comes from the
profile's ``web_*`` fields (:class:`~dicomaudit.lab.profiles.LabProfile`):
HTTP Basic authentication or none, CORS headers (none, a wildcard or the
request's Origin reflected, both with credentials allowed) and whether STOW-RS
stores.

Resources, under :data:`ROOT` (``/dicom-web``):

- ``GET /studies``: QIDO-RS Search for Studies (PS3.18 10.6), matched by
  :mod:`dicomaudit.lab.matching` (the C-FIND matcher: wildcards, ranges, UID
  lists, PN case-insensitive), with ``limit``, ``offset``, ``includefield``
  (names, tags or ``all``) and ``fuzzymatching`` (accepted, ignored, with the
  standard's Warning header);
- ``GET /studies/{study}/series`` and ``/studies/{study}/instances``: QIDO-RS
  within one study, same parameters;
- ``GET /studies/{study}/metadata``: WADO-RS metadata (PS3.18 10.4) with the
  bulk data (Pixel Data and every other OB/OD/OF/OL/OV/OW/UN element) *omitted*,
  not replaced by a BulkDataURI: the lab serves no bulk data or instance
  retrieval, so such a link would lead nowhere;
- ``POST /studies``: STOW-RS (PS3.18 10.5) of ``multipart/related;
  type="application/dicom"`` bodies.

``HEAD`` is served wherever ``GET`` is, ``OPTIONS`` on every resource (204
with ``Allow``); any other path is 404.  No WADO-RS retrieval (of studies,
series, instances, frames or bulk data): the Retrieve URLs in QIDO-RS results
follow PS3.18 but lead to 404 here.

Order of decisions, which the scanner's non-intrusive checks rely on:

1. ``OPTIONS`` (CORS preflight or not) is answered first, without
   authentication: browsers send preflights without credentials.
2. Authentication (``web_auth="basic"``): a request without valid credentials
   gets ``401`` with ``WWW-Authenticate: Basic realm="dicomaudit lab"`` before
   anything else is looked at, even an unknown path.
3. Routing: ``404`` for an unknown resource, ``405`` (with ``Allow``) for a
   method the resource does not offer; ``POST /studies`` is such a method when
   the profile does not store (``web_stow=False``): STOW-RS is not offered.
4. Validation: ``415`` for a content type other than multipart/related of
   application/dicom, ``411``/``413`` for a body without a length or larger than
   :data:`MAX_BODY_BYTES`, ``400`` for a malformed body or one with no parts
   ("no DICOM parts"), ``400`` for an unknown or invalid query parameter.
5. Processing.

So an empty STOW-RS body (``--X--``) tells a scanner, without storing
anything, whether anonymous clients may store (``400``), must authenticate
(``401``) or cannot store at all (``405``).

Every request is recorded as an ``"HTTP"`` event (method, path without the
query, the *names* of the query parameters, status, whether credentials were
presented and for which user; never a password, never a query value), and a
failed TLS handshake as a ``"tls"`` event with ``service="DICOMweb"``.

Bounds: a socket timeout per connection (:data:`SOCKET_TIMEOUT`), a deadline
for reading a body (:data:`BODY_TIMEOUT`), at most :data:`MAX_CONNECTIONS`
connections at a time, :data:`MAX_STOW_PARTS` parts per STOW-RS request;
:meth:`LabWebServer.stop` shuts every open connection down and joins its
thread.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import io
import json
import logging
import re
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from pydicom import dcmread
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from dicomaudit import __version__
from dicomaudit.lab import matching
from dicomaudit.lab.profiles import LabProfile
from dicomaudit.textsafe import safe_text

log = logging.getLogger(__name__)

Event = dict[str, Any]

#: Path prefix of every DICOMweb resource (the "service root" of PS3.18 8.2).
ROOT = "/dicom-web"
#: The realm of the ``WWW-Authenticate`` challenge.
REALM = "dicomaudit lab"
#: ``Server`` header of every response.
SERVER_SOFTWARE = f"dicomaudit-lab/{__version__}"
#: Media type of every DICOM JSON answer (PS3.18 F.2).
DICOM_JSON = "application/dicom+json"
#: Largest request body read (a STOW-RS request); larger ones get 413 unread.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Most parts one STOW-RS request may carry (413 beyond).
MAX_STOW_PARTS = 100
#: Seconds a connection may stay silent (between requests or inside one).
SOCKET_TIMEOUT = 10.0
#: Seconds a client gets to send a whole body, however it trickles in.
BODY_TIMEOUT = 60.0
#: Seconds a client gets to finish its TLS handshake (the ``tls`` profile).
TLS_HANDSHAKE_TIMEOUT = 5.0
#: Connections served at once; more are closed on accept.
MAX_CONNECTIONS = 64
#: Bodies up to this size are read and discarded when the answer does not need
#: them (401, 404, 405, ...), so the connection stays usable; larger ones close it.
DRAIN_LIMIT = 1024 * 1024
#: Seconds a CORS preflight answer may be cached by the browser.
PREFLIGHT_MAX_AGE = 600

#: VRs of bulk data: left out of WADO-RS metadata and refused as QIDO-RS includefield.
BULK_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: Warning header texts from PS3.18 8.3.4.1 / 8.3.4.4.
WARNING_FUZZY = (
    f'299 {SERVER_SOFTWARE}: "The fuzzymatching parameter is not supported. Only literal matching has been performed."'
)
WARNING_MORE = f'299 {SERVER_SOFTWARE}: "There are additional results that can be requested."'
#: PS3.18 Table 10.5.3-2 "Cannot understand": a STOW-RS part that is not a readable DICOM file.
FAILURE_CANNOT_UNDERSTAND = 0xC000

_CONTROL_PARAMS = ("limit", "offset", "includefield", "fuzzymatching")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_DA_VALUE = r"\d{8}"
_TM_VALUE = r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?"
_RANGE = {
    "DA": re.compile(rf"^(?:{_DA_VALUE}|{_DA_VALUE}-(?:{_DA_VALUE})?|-{_DA_VALUE})$"),
    "TM": re.compile(rf"^(?:{_TM_VALUE}|{_TM_VALUE}-(?:{_TM_VALUE})?|-{_TM_VALUE})$"),
}
_MAX_VALUE_LENGTH = 64
_EVENT_TEXT_LENGTH = 200


@dataclass(frozen=True)
class QueryLevel:
    """One QIDO-RS resource: which attributes it returns and which may be matched.

    Attributes
    ----------
    name
        Query/Retrieve Level given to :func:`dicomaudit.lab.matching.find`.
    defaults
        Attributes every result carries (PS3.18 Tables 10.6.3-3 to -5), besides
        *Retrieve URL*, which the lab adds itself.
    matching
        Attributes accepted as matching keys; any other DICOM attribute in the
        query string is a 400 (the lab says so rather than silently ignoring it).
    extra
        What ``includefield=all`` adds.
    """

    name: str
    defaults: tuple[str, ...]
    matching: frozenset[str]
    extra: tuple[str, ...] = ()


STUDY_LEVEL = QueryLevel(
    "STUDY",
    (
        "SpecificCharacterSet",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
        "StudyDescription",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    frozenset(
        {
            "StudyDate",
            "StudyTime",
            "AccessionNumber",
            "ModalitiesInStudy",
            "ReferringPhysicianName",
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "PatientSex",
            "StudyInstanceUID",
            "StudyID",
            "StudyDescription",
        }
    ),
    (
        "IssuerOfPatientID",
        "OtherPatientIDsSequence",
        "PatientAge",
        "PatientSize",
        "PatientWeight",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "SOPClassesInStudy",
    ),
)
SERIES_LEVEL = QueryLevel(
    "SERIES",
    (
        "SpecificCharacterSet",
        "Modality",
        "SeriesDescription",
        "SeriesNumber",
        "SeriesInstanceUID",
        "NumberOfSeriesRelatedInstances",
    ),
    frozenset({"Modality", "SeriesDescription", "SeriesNumber", "SeriesInstanceUID"}),
    (
        "SeriesDate",
        "SeriesTime",
        "BodyPartExamined",
        "Manufacturer",
        "ManufacturerModelName",
        "StationName",
        "InstitutionName",
        "InstitutionAddress",
        "PerformingPhysicianName",
        "OperatorsName",
        "DeviceSerialNumber",
        "SoftwareVersions",
    ),
)
INSTANCE_LEVEL = QueryLevel(
    "IMAGE",
    (
        "SpecificCharacterSet",
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "BitsAllocated",
        "NumberOfFrames",
        "Modality",
        "SeriesInstanceUID",
        "SeriesNumber",
    ),
    frozenset({"SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Modality", "SeriesInstanceUID", "SeriesNumber"}),
    (
        "ImageType",
        "ContentDate",
        "ContentTime",
        "AcquisitionDate",
        "AcquisitionTime",
        "ImageComments",
        "PhotometricInterpretation",
        "SamplesPerPixel",
        "BitsStored",
    ),
)
_LEVELS = {"studies": STUDY_LEVEL, "series": SERIES_LEVEL, "instances": INSTANCE_LEVEL}


class BadRequest(Exception):
    """A request the lab answers with a 4xx and a one-line message.

    `message` goes into the event (so it never holds a query value or a
    client-chosen name); `detail` is appended for the client only.
    """

    def __init__(self, message: str, detail: str = "", status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.status = int(status)


@dataclass
class Query:
    """A parsed QIDO-RS query string: the C-FIND identifier it amounts to, and paging."""

    identifier: Dataset
    limit: int | None = None
    offset: int = 0
    fuzzy: bool = False


def _attribute(name: str) -> BaseTag | None:
    """The tag a QIDO-RS attribute name stands for (keyword or 8 hex digits), or ``None``."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        tag = Tag(int(name, 16))
        return tag if keyword_for_tag(tag) else None
    found = tag_for_keyword(name)
    return Tag(found) if found is not None else None


def _check_text(value: str) -> None:
    if len(value) > _MAX_VALUE_LENGTH or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise BadRequest("invalid matching value", "too long or with control characters")


def parse_query(pairs: Iterable[tuple[str, str]], level: QueryLevel) -> Query:
    """Turn QIDO-RS query parameters (PS3.18 8.3.4) into a C-FIND identifier for `level`.

    An attribute with a value is a matching key, one without a value a return
    key.  UIDs may be a comma list (or repeated); Modalities in Study a comma
    or backslash list; DA and TM values a single value or a range ``A-B``,
    ``A-``, ``-B``.

    Raises
    ------
    BadRequest
        For an unknown parameter, an attribute that is not a matching key of
        `level`, a repeated parameter, or a malformed value.
    """
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level.name
    returned: list[str] = list(level.defaults)
    keys: dict[BaseTag, list[str]] = {}
    query = Query(identifier)
    seen: set[str] = set()
    for name, value in pairs:
        control = name.lower()
        if control in _CONTROL_PARAMS:
            if control != "includefield" and control in seen:
                raise BadRequest(f"{control} given more than once")
            seen.add(control)
            if control in ("limit", "offset"):
                if not re.fullmatch(r"\d{1,9}", value) or (control == "limit" and int(value) == 0):
                    raise BadRequest(
                        f"invalid value for {control}",
                        f"expected a {'positive' if control == 'limit' else 'non-negative'} integer",
                    )
                if control == "limit":
                    query.limit = int(value)
                else:
                    query.offset = int(value)
            elif control == "fuzzymatching":
                if value.lower() not in ("true", "false"):
                    raise BadRequest("invalid value for fuzzymatching", "expected true or false")
                query.fuzzy = value.lower() == "true"
            else:
                returned.extend(_include_fields(value, level))
            continue
        tag = _attribute(name)
        if tag is None:
            raise BadRequest("unknown query parameter", repr(name[:64]))
        keyword = keyword_for_tag(tag)
        if keyword not in level.matching:
            raise BadRequest(f"{keyword} is not a matching key at the {level.name} level")
        values = _matching_values(keyword, dictionary_VR(tag), value)
        if tag in keys and dictionary_VR(tag) != "UI":
            raise BadRequest(f"{keyword} given more than once")
        keys.setdefault(tag, []).extend(values)
    for keyword in returned:
        tag = Tag(keyword)
        if tag not in keys:
            identifier.add(DataElement(tag, dictionary_VR(tag), None))
    for tag, values in keys.items():
        vr = dictionary_VR(tag)
        element_value: Any = values if len(values) > 1 else (values[0] if values else None)
        identifier.add(DataElement(tag, vr, element_value))
    return query


def _include_fields(value: str, level: QueryLevel) -> list[str]:
    fields: list[str] = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        if item.lower() == "all":
            fields.extend(level.extra)
            continue
        tag = _attribute(item)
        if tag is None:
            raise BadRequest("unknown includefield attribute", repr(item[:64]))
        if tag.group in (0x0000, 0x0002) or dictionary_VR(tag) in BULK_VRS or tag == Tag("PixelData"):
            raise BadRequest(f"{keyword_for_tag(tag)} cannot be included in a query result")
        fields.append(keyword_for_tag(tag))
    return fields


def _matching_values(keyword: str, vr: str, value: str) -> list[str]:
    value = value.strip()
    if not value:
        return []
    if vr == "UI":
        uids = [v.strip() for v in value.split(",") if v.strip()]
        for uid in uids:
            if len(uid) > 64 or not _UID.match(uid):
                raise BadRequest(f"invalid UID for {keyword}", repr(uid[:64]))
        return uids
    _check_text(value)
    if vr in _RANGE and value != "*":
        if not _RANGE[vr].match(value):
            raise BadRequest(f"invalid {vr} value for {keyword}", "expected a value or a range A-B, A- or -B")
        return [value]
    if vr in ("IS", "US"):
        if not re.fullmatch(r"[+-]?\d{1,9}", value):
            raise BadRequest(f"invalid integer value for {keyword}")
        return [value]
    if keyword == "ModalitiesInStudy":
        return [v.strip() for v in re.split(r"[,\\]", value) if v.strip()]
    return [value]


def search(datasets: list[Dataset], query: Query, level: QueryLevel, base_url: str) -> tuple[list[Dataset], bool]:
    """QIDO-RS results for `query` (already paged) and whether more could be requested."""
    results: list[Dataset] = []
    more = False
    skipped = 0
    for response in matching.find(datasets, query.identifier, matching.STUDY_ROOT_FIND):
        if skipped < query.offset:
            skipped += 1
            continue
        if query.limit is not None and len(results) >= query.limit:
            more = True
            break
        del response.QueryRetrieveLevel
        response.RetrieveURL = _retrieve_url(base_url, response, level)
        results.append(response)
    return results, more


def _retrieve_url(base_url: str, ds: Dataset, level: QueryLevel) -> str:
    url = f"{base_url}/studies/{ds.get('StudyInstanceUID', '')}"
    if level is STUDY_LEVEL:
        return url
    url += f"/series/{ds.get('SeriesInstanceUID', '')}"
    if level is SERIES_LEVEL:
        return url
    return url + f"/instances/{ds.get('SOPInstanceUID', '')}"


def without_bulk_data(ds: Dataset) -> Dataset:
    """A shallow copy of `ds` without its bulk data elements (:data:`BULK_VRS`), in sequences too."""
    out = Dataset()
    for elem in ds:
        if elem.VR in BULK_VRS:
            continue
        if elem.VR == "SQ":
            out.add(DataElement(elem.tag, "SQ", Sequence([without_bulk_data(item) for item in elem.value or []])))
        else:
            out.add(copy.copy(elem))
    return out


def dicom_json(ds: Dataset) -> dict[str, Any]:
    """``ds`` as a DICOM JSON object (PS3.18 F.2), attributes in tag order."""
    return dict(sorted(ds.to_json_dict(suppress_invalid_tags=True).items()))


# --------------------------------------------------------------------------
# multipart/related (RFC 2387) for STOW-RS
# --------------------------------------------------------------------------


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes


def split_multipart(body: bytes, boundary: str, max_parts: int = MAX_STOW_PARTS) -> list[Part]:
    """The parts of a multipart body (RFC 2046 5.1.1); preamble and epilogue are ignored.

    Raises
    ------
    BadRequest
        400 when the body does not follow the boundary syntax, 413 beyond `max_parts`.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    if body.startswith(delimiter):
        pos = 0
    else:
        first = body.find(b"\r\n" + delimiter)
        if first < 0:
            raise BadRequest("malformed multipart body", "the boundary does not occur")
        pos = first + 2
    parts: list[Part] = []
    while True:
        pos += len(delimiter)
        if body[pos : pos + 2] == b"--":
            return parts
        eol = body.find(b"\r\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t"):
            raise BadRequest("malformed multipart body", "bad boundary line")
        start = eol + 2
        end = body.find(b"\r\n" + delimiter, start)
        if end < 0:
            raise BadRequest("malformed multipart body", "no closing boundary")
        if len(parts) >= max_parts:
            raise BadRequest("too many parts", f"at most {max_parts}", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        parts.append(_part(body[start:end]))
        pos = end + 2


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):
        return Part({}, raw[2:])
    head, sep, content = raw.partition(b"\r\n\r\n")
    if not sep:
        raise BadRequest("malformed multipart body", "a part has no header/body separator")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest("malformed multipart body", "bad part header")
        headers[name.strip().lower()] = value.strip()
    return Part(headers, content)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------


@dataclass
class _Connections:
    """Open connections and their threads, so that stop() can end them all."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sockets: dict[threading.Thread, socket.socket] = field(default_factory=dict)
    stopping: bool = False


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with bounded connections, TLS off the accept loop and a bounded stop.

    The stock server joins its request threads without a timeout on close, and
    a keep-alive client would hold one for the whole socket timeout; here
    :meth:`close_connections` shuts the sockets down so every thread ends at once.
    """

    daemon_threads = True
    block_on_close = False
    request_queue_size = 32

    def __init__(self, app: LabWebServer, address: tuple[str, int], ssl_context: ssl.SSLContext | None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.connections = _Connections()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up with socket.getfqdn, which may
        # ask a DNS server: the lab talks to loopback only, so skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections.lock:
            refuse = self.connections.stopping or len(self.connections.sockets) >= MAX_CONNECTIONS
            if not refuse:
                thread = threading.Thread(
                    target=self.process_request_thread,
                    args=(request, client_address),
                    name=f"LabPACS-web-conn@{self.server_port}",
                    daemon=True,
                )
                self.connections.sockets[thread] = request
        if refuse:
            self.shutdown_request(request)
            return
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        me = threading.current_thread()
        try:
            if self.ssl_context is not None:
                request = self._handshake(request, client_address)
                if request is None:
                    return
            super().process_request_thread(request, client_address)
        finally:
            with self.connections.lock:
                self.connections.sockets.pop(me, None)

    def _handshake(self, raw: socket.socket, client_address: Any) -> ssl.SSLSocket | None:
        """The TLS handshake, bounded, in the connection's thread (a silent client cannot stall accept)."""
        assert self.ssl_context is not None
        try:
            wrapped = self.ssl_context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError) as exc:
            self.app.tls_failed(client_address, exc)
            raw.close()
            return None
        with self.connections.lock:
            if self.connections.stopping:
                wrapped.close()
                return None
            # wrap_socket detached the raw socket: stop() must shut the wrapped one down.
            self.connections.sockets[threading.current_thread()] = wrapped
        try:
            wrapped.settimeout(TLS_HANDSHAKE_TIMEOUT)
            wrapped.do_handshake()
            wrapped.settimeout(None)
        except (OSError, ValueError) as exc:
            if not self.connections.stopping:  # else stop() cut it: not the client's doing
                self.app.tls_failed(client_address, exc)
            wrapped.close()
            return None
        return wrapped

    def close_connections(self) -> list[threading.Thread]:
        """Refuse new connections, shut every open one down (its thread then ends), return the threads."""
        with self.connections.lock:
            self.connections.stopping = True
            open_ = dict(self.connections.sockets)
        for sock in open_.values():
            try:
                # socket.socket's own shutdown, also for an SSLSocket: another thread
                # may be inside its read, and only the file descriptor is ours to cut.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        return list(open_)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback on stderr; a peer hanging up mid-answer is routine.
        log.debug("DICOMweb connection from %s ended with an error", client_address, exc_info=True)


class LabWebServer:
    """The lab's DICOMweb origin server (see the module documentation).

    Parameters
    ----------
    profile : LabProfile
        Authentication, CORS and STOW-RS policy (the ``web_*`` fields).
    host, port : str, int
        Where to listen (``port=0``: a free port, read back from :attr:`port`).
    datasets : callable
        Returns what QIDO-RS and WADO-RS serve (the lab's archive, copied).
    store : callable
        Keeps one instance received by STOW-RS.
    record : callable
        Receives each event dict.
    ssl_context : ssl.SSLContext, optional
        Serve HTTPS with it.
    """

    def __init__(
        self,
        profile: LabProfile,
        host: str,
        port: int,
        *,
        datasets: Callable[[], list[Dataset]],
        store: Callable[[Dataset], None],
        record: Callable[[Event], None],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.profile = profile
        self.host = host
        self._requested_port = port
        self.datasets = datasets
        self.store = store
        self.record = record
        self.ssl_context = ssl_context
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the lab's DICOMweb server is not running")
        return self._port

    @property
    def url(self) -> str:
        """The service root, e.g. ``http://127.0.0.1:8080/dicom-web``."""
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{ROOT}"

    def start(self) -> LabWebServer:
        """Bind (raising OSError if the port is taken) and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("the lab's DICOMweb server is already running")
        httpd = _HTTPServer(self, (self.host, self._requested_port), self.ssl_context)
        self._httpd = httpd
        self._port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LabPACS-web-{self.profile.name}@{self._port}",
            daemon=True,
        )
        self._thread.start()
        log.debug("lab DICOMweb %r listening on %s", self.profile.name, self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end open connections, join every thread (each wait bounded); idempotent."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        deadline = time.monotonic() + timeout
        if thread is not None and thread.is_alive():
            httpd.shutdown()  # returns within poll_interval: serve_forever never blocks elsewhere
        httpd.server_close()
        for worker in httpd.close_connections():
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():  # pragma: no cover - a handler stuck in computation
                log.warning("a DICOMweb connection thread did not end within %.1f s", timeout)
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._httpd = self._thread = None
        self._port = None

    def tls_failed(self, client_address: Any, exc: BaseException) -> None:
        self.record(
            {
                "kind": "tls",
                "service": "DICOMweb",
                "outcome": "handshake_failed",
                "peer": _peer(client_address),
                "reason": getattr(exc, "reason", None) or str(exc) or type(exc).__name__,
            }
        )


def _peer(client_address: Any) -> str:
    host, port = client_address[0], client_address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _event_text(value: str, limit: int = _EVENT_TEXT_LENGTH) -> str:
    """Client-chosen text made printable on one line (control characters escaped) and bounded."""
    text = safe_text(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _outcome(status: int) -> str:
    if status == HTTPStatus.ACCEPTED:
        return "warning"
    if 200 <= status < 300:
        return "success"
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.METHOD_NOT_ALLOWED):
        return "refused"
    return "failed"


class _Handler(BaseHTTPRequestHandler):
    """One connection: requests in turn (HTTP/1.1 keep-alive), each recorded as an event."""

    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    disable_nagle_algorithm = True
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"
    server: _HTTPServer

    # ------------------------------------------------------------ plumbing

    def version_string(self) -> str:
        return SERVER_SOFTWARE

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("DICOMweb %s: " + format, self.address_string(), *args)

    def _reset(self) -> None:
        self.command = ""
        self.path = ""
        self._route_path = ""
        self._param_names: list[str] = []
        self._other_params = 0
        self._scheme = "none"
        self._user: str | None = None
        self._authenticated: bool | None = None
        self._note: Event = {}
        self._body_consumed = True
        self._expect_continue = False
        self._parsed = False

    def handle_one_request(self) -> None:
        """As the base class, but every method goes to :meth:`_dispatch` (unknown ones get 405, not 501)."""
        self._reset()
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._parsed = True
            if self.server.connections.stopping:
                # stop() cut the connection mid-request: there is no one to answer.
                self.close_connection = True
                return
            try:
                self._dispatch()
            except BadRequest as exc:
                self._error(exc.status, exc.message, exc.detail)
            except (TimeoutError, ConnectionError):
                raise
            except Exception:  # noqa: BLE001 - a lab bug must answer 500, not kill the connection silently
                log.warning("DICOMweb request %s %s failed", self.command, self._route_path, exc_info=True)
                self._note["reason"] = "internal error"
                self.close_connection = True
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n")
            self.wfile.flush()
        except TimeoutError as exc:
            self.log_error("request timed out: %r", exc)
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        # Do not promise "100 Continue" before authentication and validation:
        # it is sent only when the body is actually wanted (_read_body).
        self._expect_continue = True
        return True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Called by send_response for every answer: record the request as an event."""
        try:
            status = int(code)
        except (TypeError, ValueError):
            return
        event: Event = {
            "kind": "HTTP",
            "outcome": _outcome(status),
            "method": _event_text(self.command or "?", 20),
            "path": self._route_path or _event_text(self.path.split("?", 1)[0]) or "?",
            "status": status,
            "peer": _peer(self.client_address),
            "credentials": self._scheme,
        }
        if self._param_names:
            event["params"] = list(self._param_names)
        if self._other_params:
            event["other_params"] = self._other_params
        if self._user is not None:
            event["user"] = self._user
        if self._authenticated is not None:
            event["authenticated"] = self._authenticated
        origin = self.headers.get("Origin") if self._parsed else None
        if origin is not None:
            event["origin"] = _event_text(origin)
        event.update(self._note)
        self.server.app.record(event)

    # ------------------------------------------------------------ answers

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not self._body_consumed:
            self._discard_body()
        self.send_response(status)
        for name, value in (*self._cors_headers(), *headers):
            self.send_header(name, value)
        if status != HTTPStatus.NO_CONTENT:
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str, detail: str = "", headers: Iterable[tuple[str, str]] = ()) -> None:
        self._note.setdefault("reason", message)
        text = f"{message}: {detail}" if detail else message
        self._send(status, (text + "\n").encode("utf-8"), headers=headers)

    def _json(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._send(status, body, DICOM_JSON, headers)

    def _cors_headers(self) -> list[tuple[str, str]]:
        origin = self.headers.get("Origin") if self._parsed else None
        mode = self.server.app.profile.web_cors
        if origin is None or mode == "none":
            return []
        if mode == "wildcard":
            return [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true")]
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]

    # ------------------------------------------------------------ bodies

    def _content_length(self) -> int | None:
        """The declared body length (``None`` for a chunked or otherwise unsized body)."""
        if self.headers.get("Transfer-Encoding"):
            return None
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        if not value.strip().isdigit():
            raise BadRequest("invalid Content-Length")
        return int(value)

    def _discard_body(self) -> None:
        """Read and drop a small unread body (the connection stays usable); close on a large one."""
        self._body_consumed = True
        try:
            length = self._content_length()
        except BadRequest:
            length = None
        if length == 0:
            return
        if length is None or length > DRAIN_LIMIT or self._expect_continue:
            self.close_connection = True
            return
        try:
            self._read(length)
        except (OSError, BadRequest):
            self.close_connection = True

    def _read_body(self) -> bytes:
        """The request body, after the checks that do not need it (411, 413)."""
        length = self._content_length()
        if length is None:
            raise BadRequest(
                "a Content-Length is required", "chunked bodies are not supported", HTTPStatus.LENGTH_REQUIRED
            )
        if length > MAX_BODY_BYTES:
            raise BadRequest(
                "request body too large", f"at most {MAX_BODY_BYTES} bytes", HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            )
        self._body_consumed = True
        if self._expect_continue:
            self.send_response_only(HTTPStatus.CONTINUE)
            self.end_headers()
            self._expect_continue = False
        return self._read(length)

    def _read(self, length: int) -> bytes:
        deadline = time.monotonic() + BODY_TIMEOUT
        chunks: list[bytes] = []
        remaining = length
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError("request body not received in time")
            chunk = self.rfile.read1(min(remaining, 1 << 16))
            if not chunk:
                self.close_connection = True
                raise BadRequest("incomplete request body")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------ requests

    def _dispatch(self) -> None:
        target = self.path.split("#", 1)[0]
        raw_path, _, query_string = target.partition("?")
        self._body_consumed = self._content_length_or_none() == 0
        self._route_path = _event_text(raw_path)
        pairs = parse_qsl(query_string, keep_blank_values=True)
        self._note_params(pairs)
        authorised = self._authenticate()
        route = _route(raw_path)
        if self.command == "OPTIONS":
            self._options(route)
            return
        if not authorised:
            self._error(
                HTTPStatus.UNAUTHORIZED,
                "authentication required",
                headers=[("WWW-Authenticate", f'Basic realm="{REALM}"')],
            )
            return
        if route is None:
            self._error(HTTPStatus.NOT_FOUND, "no such resource")
            return
        kind, study = route
        allowed = self._allowed(kind)
        if self.command not in allowed:
            reason = "method not allowed"
            if kind == "studies" and self.command == "POST":
                reason = "STOW-RS is not offered by this lab profile"
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, reason, headers=[("Allow", ", ".join(allowed))])
            return
        if self.command == "POST":
            self._stow(query_string)
            return
        if not self._accepts_json():
            self._error(HTTPStatus.NOT_ACCEPTABLE, f"only {DICOM_JSON} is served")
            return
        if kind == "metadata":
            self._metadata(study, pairs)
        else:
            self._search(kind, study, pairs)

    def _content_length_or_none(self) -> int | None:
        try:
            return self._content_length()
        except BadRequest:
            return None

    def _note_params(self, pairs: list[tuple[str, str]]) -> None:
        """Keep the query parameter names that are control parameters or DICOM attributes (never values)."""
        names: list[str] = []
        for name, _value in pairs:
            control = name.lower()
            tag = None if control in _CONTROL_PARAMS else _attribute(name)
            known = control if control in _CONTROL_PARAMS else (keyword_for_tag(tag) if tag is not None else None)
            if known is None:
                self._other_params += 1
            elif known not in names:
                names.append(known)
        self._param_names = names

    def _authenticate(self) -> bool:
        """Read the Authorization header (scheme and user kept for the event) and decide whether to go on."""
        profile = self.server.app.profile
        self._scheme, user, password = _credentials(self.headers.get("Authorization"))
        if user is not None:
            self._user = _event_text(user, 64)
        if profile.web_auth == "none":
            return True
        self._authenticated = user is not None and password is not None and _known(profile.web_users, user, password)
        return self._authenticated

    def _allowed(self, kind: str) -> list[str]:
        methods = ["GET", "HEAD"]
        if kind == "studies" and self.server.app.profile.web_stow:
            methods.append("POST")
        methods.append("OPTIONS")
        return methods

    def _options(self, route: tuple[str, str | None] | None) -> None:
        """OPTIONS, before authentication; a CORS preflight gets the CORS answer when the profile has CORS."""
        if route is None:
            self._error(HTTPStatus.NOT_FOUND, "no such resource")
            return
        allowed = ", ".join(self._allowed(route[0]))
        headers = [("Allow", allowed)]
        mode = self.server.app.profile.web_cors
        if (
            mode != "none"
            and self.headers.get("Origin") is not None
            and self.headers.get("Access-Control-Request-Method")
        ):
            requested = self.headers.get("Access-Control-Request-Headers")
            if mode == "reflect":
                allow_headers = requested or "Accept, Authorization, Content-Type"
            else:
                allow_headers = "*"
            headers += [
                ("Access-Control-Allow-Methods", allowed),
                ("Access-Control-Allow-Headers", allow_headers),
                ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE)),
            ]
            self._note["preflight"] = True
        self._send(HTTPStatus.NO_CONTENT, headers=headers)

    def _accepts_json(self) -> bool:
        accept = self.headers.get("Accept")
        if not accept:
            return True
        types = {_media_type(item) for item in accept.split(",")}
        return bool(types & {DICOM_JSON, "application/json", "application/*", "*/*"})

    def _study_exists(self, study: str | None, datasets: list[Dataset]) -> bool:
        return study is not None and any(str(ds.get("StudyInstanceUID", "")) == study for ds in datasets)

    def _search(self, kind: str, study: str | None, pairs: list[tuple[str, str]]) -> None:
        """QIDO-RS: studies, or the series or instances of one study."""
        level = _LEVELS[kind]
        query = parse_query(pairs, level)
        datasets = self.server.app.datasets()
        if study is not None:
            if not self._study_exists(study, datasets):
                self._error(HTTPStatus.NOT_FOUND, "unknown study")
                return
            if "StudyInstanceUID" in query.identifier:
                raise BadRequest("StudyInstanceUID is given by the path")
            query.identifier.StudyInstanceUID = study
        results, more = search(datasets, query, level, self.server.app.url)
        headers: list[tuple[str, str]] = []
        if query.fuzzy:
            headers.append(("Warning", WARNING_FUZZY))
        if more:
            headers.append(("Warning", WARNING_MORE))
        self._note.update({"level": level.name, "matches": len(results)})
        self._json(HTTPStatus.OK, [dicom_json(ds) for ds in results], headers)

    def _metadata(self, study: str | None, pairs: list[tuple[str, str]]) -> None:
        """WADO-RS metadata of one study: every instance, bulk data omitted."""
        if pairs:
            raise BadRequest("the metadata resource takes no query parameters")
        instances = [ds for ds in self.server.app.datasets() if str(ds.get("StudyInstanceUID", "")) == study]
        if not instances:
            self._error(HTTPStatus.NOT_FOUND, "unknown study")
            return
        self._note["instances"] = len(instances)
        self._json(HTTPStatus.OK, [dicom_json(without_bulk_data(ds)) for ds in instances])

    def _stow(self, query_string: str) -> None:
        """STOW-RS (PS3.18 10.5): validate the request, then keep every readable part."""
        content_type = self.headers.get("Content-Type")
        if content_type is None or self.headers.get_content_type() != "multipart/related":
            raise BadRequest(
                "unsupported media type",
                'expected multipart/related; type="application/dicom"',
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )
        part_type = self.headers.get_param("type", header="content-type")
        if isinstance(part_type, str) and _media_type(part_type) != "application/dicom":
            raise BadRequest(
                "unsupported media type",
                'only type="application/dicom" parts are accepted',
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )
        boundary = self.headers.get_param("boundary", header="content-type")
        if not isinstance(boundary, str) or not 0 < len(boundary) <= 70:
            raise BadRequest("malformed multipart body", "the boundary parameter is missing or too long")
        if query_string:
            raise BadRequest("STOW-RS takes no query parameters")
        parts = split_multipart(self._read_body(), boundary)
        if not parts:
            raise BadRequest("no DICOM parts", "the multipart body holds no part to store")
        referenced: list[Dataset] = []
        failed: list[Dataset] = []
        uids: list[str] = []
        for part in parts:
            ds = _read_part(part)
            if ds is None:
                item = Dataset()
                item.ReferencedSOPClassUID = ""
                item.ReferencedSOPInstanceUID = ""
                item.FailureReason = FAILURE_CANNOT_UNDERSTAND
                failed.append(item)
                continue
            self.server.app.store(ds)
            uids.append(str(ds.SOPInstanceUID))
            item = Dataset()
            item.ReferencedSOPClassUID = ds.SOPClassUID
            item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
            referenced.append(item)
        response = Dataset()
        if failed:
            response.FailedSOPSequence = Sequence(failed)
        if referenced:
            response.ReferencedSOPSequence = Sequence(referenced)
        status = HTTPStatus.OK if not failed else HTTPStatus.ACCEPTED if referenced else HTTPStatus.CONFLICT
        self._note.update({"stored": len(referenced), "failed": len(failed), "sop_instance_uids": uids})
        self._json(status, dicom_json(response))


def _read_part(part: Part) -> Dataset | None:
    """A STOW-RS part as a dataset, or ``None`` if it is not a readable DICOM file (PS3.10, with preamble)."""
    declared = part.headers.get("content-type")
    if declared is not None and _media_type(declared) != "application/dicom":
        return None
    try:
        ds = dcmread(io.BytesIO(part.body), force=False)
        if not str(ds.SOPClassUID) or not str(ds.SOPInstanceUID):
            return None
    except Exception:  # noqa: BLE001 - whatever a client sent, it is a failed part, not a crash
        return None
    return ds


def _credentials(header: str | None) -> tuple[str, str | None, str | None]:
    """``(scheme, user, password)`` from an Authorization header; the scheme is ``"none"`` without one.

    User and password are ``None`` unless the scheme is Basic with a
    well-formed ``user:password`` (RFC 7617, UTF-8).
    """
    if not header or not header.strip():
        return "none", None, None
    scheme, _, token = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme != "basic":
        return _event_text(scheme, 20), None, None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return scheme, None, None
    user, colon, password = decoded.partition(":")
    if not colon:
        return scheme, None, None
    return scheme, user, password


def _known(users: tuple[tuple[str, str], ...], user: str, password: str) -> bool:
    """Whether ``user:password`` is one of `users` (compared in constant time, as a real server should)."""
    found = False
    for known_user, known_password in users:
        same_user = hmac.compare_digest(known_user.encode(), user.encode())
        same_password = hmac.compare_digest(known_password.encode(), password.encode())
        found |= same_user and same_password
    return found


def _route(path: str) -> tuple[str, str | None] | None:
    """``(resource, study UID)`` for a path under :data:`ROOT`, or ``None``."""
    if not path.startswith(ROOT + "/"):
        return None
    segments = [unquote(s) for s in path[len(ROOT) + 1 :].rstrip("/").split("/")]
    if segments == ["studies"]:
        return "studies", None
    if len(segments) == 3 and segments[0] == "studies" and segments[2] in ("metadata", "series", "instances"):
        uid = segments[1]
        if len(uid) <= 64 and _UID.match(uid):
            return segments[2], uid
    return None
