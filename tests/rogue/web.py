"""Rogue HTTP servers: loopback web endpoints that answer the web checks wrongly, late, or never.

:class:`WebRogue` listens on ``127.0.0.1`` port 0 (plain HTTP, or TLS with a
server context) and serves every connection in a daemon thread.  Requests
are parsed by hand (request line, headers, a ``Content-Length`` body, all
capped) and handed with the raw :class:`~tests.rogue.server.Connection` to
a *responder*, which writes whatever bytes it likes: a well-formed answer, a
truncated body, a header line every 0.3 s, nothing at all.  The connection
is closed when the responder returns.

:class:`Site` is the responder of a well-formed, open DICOMweb node
(``/dicom-web``: QIDO-RS answers two studies, WADO-RS metadata answers for
them, STOW-RS processes anything, ``/system`` is absent) in which one route
at a time can be replaced by a misbehaviour: ``Site(qido=not_json)``.  The
misbehaviours are the module-level functions below, each with a one-line
docstring; :func:`http_answer` writes a well-formed answer.

Bounds: every server accepts at most :data:`MAX_CONNECTIONS` connections,
lives at most :data:`LIFETIME` seconds, reads at most
:data:`MAX_REQUEST_BYTES` per request, and :meth:`WebRogue.stop` ends every
handler (even one dripping forever) within about a second, leaving no thread
behind.  Every request is recorded (``WebRogue.requests``); ``connections``
counts the accepted sockets.

Usage::

    with WebRogue(Site(qido=not_json)) as rogue:
        result = scan_target(parse_target(rogue.url("/dicom-web")), settings)
"""

from __future__ import annotations

import gzip
import json
import re
import select
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.rogue.server import STOP_DEADLINE, Connection, PeerGone

HOST = "127.0.0.1"  # the rogue never listens anywhere else
#: Connections one server accepts in its life (the scanner opens about ten per target).
MAX_CONNECTIONS = 64
#: A server stops serving this long after it started, whatever its handlers do.
LIFETIME = 30.0
#: The request line, the headers and the body of one request together.
MAX_REQUEST_BYTES = 64 * 1024
#: How long a TLS handshake may take on the server side.
HANDSHAKE_TIMEOUT = 2.0
#: The drip misbehaviours send at most this many pieces (then stop, still without finishing).
MAX_DRIPS = 200

DICOM_JSON = "application/dicom+json"
ROOT = "/dicom-web"
_METHOD = re.compile(rb"^[A-Z]{3,10} ")


@dataclass(frozen=True)
class Request:
    """One request as the rogue read it: method, target (path and query), headers (lower-case names), body."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


Responder = Callable[[Request, Connection], None]


class NotHttp(Exception):
    """What arrived is not an HTTP request (e.g. a TLS ClientHello on the plain port)."""


def read_request(conn: Connection) -> Request:
    """One request from ``conn``; ``NotHttp`` when the first bytes are not an HTTP request line."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        buf += conn.recv_some()
        if not _METHOD.match(bytes(buf[:12])) and (len(buf) >= 12 or not bytes(buf).isascii()):
            raise NotHttp(bytes(buf[:16]).hex())
        if len(buf) > MAX_REQUEST_BYTES:
            raise NotHttp("request head too large")
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    if length > MAX_REQUEST_BYTES:
        raise NotHttp(f"request body of {length} bytes")
    body = bytearray(rest)
    while len(body) < length:
        body += conn.recv_some(length - len(body))
    return Request(method, target, headers, bytes(body[:length]))


# -- writing answers -------------------------------------------------------------------------------
REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


def head_bytes(status: int, headers: Mapping[str, str] | list[tuple[str, str]] = ()) -> bytes:
    """A status line and header block (``Connection: close`` added unless given)."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if not any(k.lower() == "connection" for k, _ in items):
        items.append(("Connection", "close"))
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"] + [f"{k}: {v}" for k, v in items]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_answer(
    conn: Connection,
    status: int,
    body: bytes | str | Any = b"",
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """A well-formed answer: ``body`` as bytes, text, or (anything else) JSON; ``Content-Length`` set."""
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
        content_type = content_type or DICOM_JSON
    data = body.encode("utf-8") if isinstance(body, str) else body
    items = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    items["Content-Length"] = str(len(data))
    conn.send(head_bytes(status, items) + data)


# -- the well-formed open node ------------------------------------------------------------------------
STUDY_UIDS = ("1.2.826.0.1.3680043.8.498.10001", "1.2.826.0.1.3680043.8.498.10002")


def study(uid: str, name: str, patient_id: str) -> dict[str, Any]:
    """A QIDO-RS study match in DICOM JSON (PS3.18 F.2), synthetic identifying data."""
    return {
        "00080020": {"vr": "DA", "Value": ["20240102"]},
        "00080050": {"vr": "SH", "Value": ["ACC0001"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
        "00100020": {"vr": "LO", "Value": [patient_id]},
        "00100030": {"vr": "DA", "Value": ["19700101"]},
        "0020000D": {"vr": "UI", "Value": [uid]},
    }


STUDIES = [study(STUDY_UIDS[0], "DOE^JANE", "PID0001"), study(STUDY_UIDS[1], "ROE^RICHARD", "PID0002")]


def instance(study_uid: str) -> dict[str, Any]:
    """WADO-RS metadata of one instance of ``study_uid`` (no pixel data)."""
    return {
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]},
        "00080018": {"vr": "UI", "Value": [study_uid + ".1.1"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]},
        "0020000D": {"vr": "UI", "Value": [study_uid]},
        "0020000E": {"vr": "UI", "Value": [study_uid + ".1"]},
    }


def open_qido(req: Request, conn: Connection) -> None:
    """QIDO-RS: the two studies (one when ``limit=1``), or none for a StudyInstanceUID it does not hold."""
    wanted = req.query.get("StudyInstanceUID")
    matches = [s for s in STUDIES if not wanted or s["0020000D"]["Value"][0] in wanted]
    limit = int(req.query.get("limit", ["100"])[0])
    http_answer(conn, 200, matches[:limit])


def open_wado(req: Request, conn: Connection) -> None:
    """WADO-RS metadata: one instance for a study it holds, 404 for any other."""
    uid = req.path.split("/")[-2]
    if uid in STUDY_UIDS:
        http_answer(conn, 200, [instance(uid)])
    else:
        http_answer(conn, 404, "no such study\n", "text/plain")


def open_stow(req: Request, conn: Connection) -> None:
    """STOW-RS: processes anything; zero parts stored, answered with an empty store response."""
    http_answer(conn, 200, {})


def not_found(req: Request, conn: Connection) -> None:
    """404: not served here."""
    http_answer(conn, 404, "not found\n", "text/plain")


def plain_page(req: Request, conn: Connection) -> None:
    """200 text/plain: a web server that names nothing."""
    http_answer(conn, 200, "rogue web server\n", "text/plain", {"Server": "rogue/1.0"})


def no_content(req: Request, conn: Connection) -> None:
    """204 without any CORS header (a preflight that allows nothing)."""
    conn.send(head_bytes(204, {"Content-Length": "0"}))


@dataclass
class Site:
    """A well-formed open DICOMweb node at ``/dicom-web`` with any route replaced.

    ``root`` answers ``GET /dicom-web`` (and any path not routed), ``qido``
    ``GET /dicom-web/studies``, ``wado`` ``GET /dicom-web/studies/{uid}/metadata``,
    ``stow`` ``POST /dicom-web/studies``, ``system`` ``GET /system``,
    ``options`` any ``OPTIONS``; ``routes`` maps further exact paths to
    responders (checked first).  ``cors(request)`` gives headers added to
    every answer (the CORS rogues).
    """

    root: Responder = plain_page
    qido: Responder = open_qido
    wado: Responder = open_wado
    stow: Responder = open_stow
    system: Responder = not_found
    options: Responder = no_content
    routes: dict[str, Responder] = field(default_factory=dict)
    cors: Callable[[Request], dict[str, str]] | None = None

    def __call__(self, req: Request, conn: Connection) -> None:
        path = req.path.rstrip("/") or "/"
        if self.cors is not None:
            conn = _HeaderAdding(conn, self.cors(req))
        if path in self.routes:
            return self.routes[path](req, conn)
        if req.method == "OPTIONS":
            return self.options(req, conn)
        if path == "/system":
            return self.system(req, conn)
        if path == f"{ROOT}/studies":
            return (self.stow if req.method == "POST" else self.qido)(req, conn)
        if path.startswith(f"{ROOT}/studies/") and path.endswith("/metadata"):
            return self.wado(req, conn)
        return self.root(req, conn)


class _HeaderAdding(Connection):
    """A connection that adds headers to the first header block written through it."""

    def __init__(self, inner: Connection, extra: dict[str, str]) -> None:  # no super().__init__: it wraps inner
        self.sock = inner.sock
        self._inner = inner
        self._extra = extra

    def send(self, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        if self._extra and data.startswith(b"HTTP/1.1 ") and b"\r\n" in data:
            status_line, _, rest = data.partition(b"\r\n")
            added = "".join(f"{k}: {v}\r\n" for k, v in self._extra.items()).encode("latin-1")
            data, self._extra = status_line + b"\r\n" + added + rest, {}
        self._inner.send(data)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def recv_some(self, limit: int = 65536) -> bytes:
        return self._inner.recv_some(limit)


# -- misbehaviours ----------------------------------------------------------------------------------------
def answer(status: int, body: bytes | str | Any = b"", content_type: str | None = None, **headers: str) -> Responder:
    """A responder giving one fixed well-formed answer (header names with ``_`` for ``-``)."""

    def respond(req: Request, conn: Connection) -> None:
        http_answer(conn, status, body, content_type, {k.replace("_", "-"): v for k, v in headers.items()})

    respond.__doc__ = f"{status} {content_type or ''}: a fixed answer"
    return respond


def not_json(req: Request, conn: Connection) -> None:
    """200 application/dicom+json whose body is not JSON."""
    http_answer(conn, 200, b"<<this is not JSON at all>>", DICOM_JSON)


def object_not_array(req: Request, conn: Connection) -> None:
    """200 application/dicom+json: a JSON object (not an array, not a DICOM dataset)."""
    http_answer(conn, 200, {"studies": STUDIES, "count": 2})


def bare_dataset(req: Request, conn: Connection) -> None:
    """200 application/dicom+json: one DICOM JSON dataset, not inside an array (PS3.18 F.2 wants an array)."""
    http_answer(conn, 200, STUDIES[0])


def array_of_strings(req: Request, conn: Connection) -> None:
    """200 application/dicom+json: an array of strings."""
    http_answer(conn, 200, ["DOE^JANE", "ROE^RICHARD"])


def non_tag_keys(req: Request, conn: Connection) -> None:
    """200 application/dicom+json: an array of objects keyed by names, not tags."""
    http_answer(conn, 200, [{"PatientName": "DOE^JANE", "PatientID": "PID0001"}])


def bad_vr(req: Request, conn: Connection) -> None:
    """200 application/dicom+json: tag keys, but a VR that does not exist."""
    http_answer(conn, 200, [{"00100010": {"vr": "QQ", "Value": ["DOE^JANE"]}, "0020000D": {"vr": "ZZ", "Value": [1]}}])


def bad_value_shape(req: Request, conn: Connection) -> None:
    """200 application/dicom+json: tag keys, valid VRs, values of the wrong shape (a string, not an array)."""
    http_answer(
        conn,
        200,
        [{"00100010": {"vr": "PN", "Value": "DOE^JANE"}, "00100030": {"vr": "DA", "Value": {"year": 1970}}}],
    )


def truncated_body(req: Request, conn: Connection) -> None:
    """200 application/dicom+json announcing 4000 bytes, sending the start of a match, then closing."""
    body = json.dumps(STUDIES).encode()[:120]
    conn.send(head_bytes(200, {"Content-Type": DICOM_JSON, "Content-Length": "4000"}) + body)


def chunked_cut(req: Request, conn: Connection) -> None:
    """200 chunked application/dicom+json: one whole chunk, then half of the next, then closing."""
    body = json.dumps(STUDIES).encode()
    first, second = body[:100], body[100:]
    conn.send(head_bytes(200, {"Content-Type": DICOM_JSON, "Transfer-Encoding": "chunked"}))
    conn.send(f"{len(first):x}\r\n".encode() + first + b"\r\n")
    conn.send(f"{len(second):x}\r\n".encode() + second[: len(second) // 2])


def login_page(req: Request, conn: Connection) -> None:
    """200 text/html: a login form instead of a refusal (a "soft" authentication page)."""
    page = "<html><body><form action='/login' method='post'><input name='user'><input name='password' type='password'>"
    http_answer(conn, 200, page + "</form></body></html>", "text/html; charset=utf-8")


def redirect_to(
    location: str, status: int = 302, body: bytes | str | Any = b"", content_type: str | None = None
) -> Responder:
    """A redirect to ``location`` (with a body, if given)."""

    def respond(req: Request, conn: Connection) -> None:
        http_answer(conn, status, body, content_type, {"Location": location})

    respond.__doc__ = f"{status} to {location}"
    return respond


def redirect_loop(req: Request, conn: Connection) -> None:
    """307 (the method is kept) to the same path with one more query parameter, forever (same origin)."""
    hop = len(req.query.get("hop", [])) + 1
    sep = "&" if "?" in req.target else "?"
    http_answer(conn, 307, b"", None, {"Location": f"{req.target}{sep}hop={hop}"})


def drip_headers(req: Request, conn: Connection) -> None:
    """A status line, then one header line every 0.3 s, never the blank line that ends the headers."""
    conn.send(b"HTTP/1.1 200 OK\r\n")
    for i in range(MAX_DRIPS):
        conn.sleep(0.3)
        conn.send(f"X-Drip-{i}: {'x' * 8}\r\n".encode())
    conn.sleep(LIFETIME)


def silent(req: Request, conn: Connection) -> None:
    """Read the request, never answer (until the client hangs up or the server stops)."""
    conn.drain()


def huge_body(size: int) -> Responder:
    """200 application/dicom+json, ``size`` bytes of a well-formed array of matches."""

    def respond(req: Request, conn: Connection) -> None:
        item = json.dumps(STUDIES[0]).encode()
        count = max(1, size // (len(item) + 1))
        conn.send(head_bytes(200, {"Content-Type": DICOM_JSON, "Content-Length": str(count * (len(item) + 1) + 1)}))
        conn.send(b"[")
        for i in range(count):
            conn.send(item + (b"," if i < count - 1 else b"]"))

    respond.__doc__ = f"200 application/dicom+json of {size} bytes"
    return respond


#: A gzip member holding 1 MiB of spaces; many members make one stream (RFC 1952 2.2): a bomb of small bytes.
_MEMBER = gzip.compress(b" " * (1024 * 1024), compresslevel=9)


def gzip_bomb(members: int) -> Responder:
    """200 application/dicom+json, Content-Encoding gzip (although ``identity`` was asked): ``members`` MiB inflated."""

    def respond(req: Request, conn: Connection) -> None:
        payload = gzip.compress(b"[", compresslevel=9) + _MEMBER * members + gzip.compress(b"]", compresslevel=9)
        headers = {"Content-Type": DICOM_JSON, "Content-Encoding": "gzip", "Content-Length": str(len(payload))}
        conn.send(head_bytes(200, headers) + payload)

    respond.__doc__ = f"a gzip bomb of {members} MiB"
    return respond


def reflect_origin(req: Request) -> dict[str, str]:
    """CORS: Access-Control-Allow-Origin echoes whatever Origin came, credentials allowed."""
    origin = req.header("origin")
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"} if origin else {}


def star_with_credentials(req: Request) -> dict[str, str]:
    """CORS: ``*`` together with Access-Control-Allow-Credentials: true."""
    return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}


def star_alone(req: Request) -> dict[str, str]:
    """CORS: ``*`` without credentials (public data, no cookies or Authorization)."""
    return {"Access-Control-Allow-Origin": "*"}


# -- raw (before any request is parsed) -----------------------------------------------------------------
RawHandler = Callable[[Connection], None]
#: An A-ABORT PDU (PS3.8 9.3.8): what a DICOM port answers to bytes it cannot read.
A_ABORT = bytes([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00])


def dicom_banner(conn: Connection) -> None:
    """A DICOM port: read what comes, answer an A-ABORT PDU, close."""
    conn.recv_some()
    conn.send(A_ABORT)


def close_at_once(conn: Connection) -> None:
    """Accept, then close without reading or writing a byte."""


# -- the server ----------------------------------------------------------------------------------------------
class WebRogue:
    """A loopback HTTP(S) listener whose every request is answered by ``responder``.

    ``raw`` (instead of a responder) takes each connection before anything is
    parsed (non-HTTP ports).  ``tls`` wraps each accepted socket in a TLS
    server session first.  ``requests`` lists every request read, in order;
    ``not_http`` counts connections whose first bytes were no HTTP request
    (answered ``400`` like a real server); ``errors`` collects handler
    tracebacks (fixture bugs).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        raw: RawHandler | None = None,
        tls: ssl.SSLContext | None = None,
        name: str = "web",
    ) -> None:
        if (responder is None) == (raw is None):
            raise ValueError("give a responder or a raw handler")
        self.responder = responder
        self.raw = raw
        self.tls = tls
        self.name = name
        self.port = 0
        self.connections = 0
        self.not_http = 0
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self.leftover_threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._live: dict[threading.Thread, socket.socket] = {}
        self._accept_thread: threading.Thread | None = None
        self._started = 0.0

    @property
    def host(self) -> str:
        return HOST

    def url(self, path: str = ROOT, scheme: str = "http") -> str:
        return f"{scheme}://{HOST}:{self.port}{path}"

    def paths(self) -> list[str]:
        with self._lock:
            return [f"{r.method} {r.path}" for r in self.requests]

    @property
    def live_connections(self) -> int:
        with self._lock:
            return len(self._live)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> WebRogue:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        listener.listen(16)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._started = time.monotonic()
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"rogue-web-{self.name}", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection; join every thread within :data:`STOP_DEADLINE`."""
        deadline = time.monotonic() + STOP_DEADLINE
        self._stopping.set()
        threads: list[threading.Thread] = []
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
            threads.append(self._accept_thread)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            live = dict(self._live)
        for sock in live.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))
        threads.extend(live)
        self.leftover_threads = [t for t in threads if t.is_alive()]

    def __enter__(self) -> WebRogue:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            if time.monotonic() - self._started > LIFETIME:
                self._stopping.set()  # every handler winds down too
                return
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if not ready or self._stopping.is_set():
                continue
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                if self.connections > MAX_CONNECTIONS:
                    sock.close()
                    continue
                thread = threading.Thread(
                    target=self._serve, args=(sock,), daemon=True, name=f"rogue-web-{self.name}-{self.connections}"
                )
                self._live[thread] = sock
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn: Connection | None = None
        try:
            if self.tls is not None:
                sock.settimeout(HANDSHAKE_TIMEOUT)
                try:
                    sock = self.tls.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # not a TLS client (or it gave up): nothing more to say
            conn = Connection(sock, self._stopping)
            if self.raw is not None:
                self.raw(conn)
                return
            assert self.responder is not None
            try:
                req = read_request(conn)
            except NotHttp:
                with self._lock:
                    self.not_http += 1
                http_answer(conn, 400, "Bad Request\n", "text/plain")
                return
            with self._lock:
                self.requests.append(req)
            self.responder(req, conn)
        except PeerGone:
            pass
        except Exception:  # a fixture bug: kept for the tests to see
            self.errors.append(traceback.format_exc())
        finally:
            if conn is not None:
                conn.close()
            else:
                sock.close()
            with self._lock:
                self._live.pop(threading.current_thread(), None)
