"""Bounded HTTP for the web checks: one session per web endpoint, every exchange recorded.

The web checks talk to a PACS web API or a DICOMweb root through ``requests``
(and ``dicomweb-client`` on top of it for QIDO-RS, WADO-RS and STOW-RS).
``requests`` trusts the server more than a scanner may; this module closes
the gaps, the same way :mod:`dicomaudit.net.wire` does for DIMSE:

* **Time.** Each connect and each read waits at most the step timeout, and a
  watchdog shuts the connection down when the target's deadline passes (or
  the operator interrupts), so a server dripping one header line every few
  seconds cannot stretch a request past the target's budget.
* **Bytes.** A response body is read in slices and refused past
  ``max_response_bytes`` (and charged to the target's byte allowance);
  ``Accept-Encoding: identity`` keeps compression bombs out.
* **Where.** Redirects are followed only on the target's own scheme, host and
  port (at most ``max_redirects``); anything else is recorded and not
  followed.  ``trust_env`` is off: no proxy from the environment, no
  ``.netrc`` credentials.
* **Credentials.** The operator's ``--web-user`` password goes only over
  HTTPS with a verified certificate, unless the operator forces it
  (``--allow-insecure-credentials``).  Vendor default credentials (public
  knowledge, sent only with ``--try-default-credentials``) are exempt: they
  disclose nothing.  No password is ever recorded: an exchange names the
  user and where the credentials came from.
* **Evidence.** Every request and answer (method, URL, status, the headers
  that matter, size, time) becomes an :class:`Exchange`.

Errors are the DIMSE side's :class:`~dicomaudit.net.wire.PeerError` family,
so a check judges a web answer with the same reason codes.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from dicomaudit import __version__
from dicomaudit.models import ErrorReason
from dicomaudit.net.tls import TlsSettings
from dicomaudit.net.wire import (
    CONNECT_TIMEOUT,
    Budget,
    BudgetExhausted,
    ConnectionLost,
    PeerError,
    PeerTimeout,
    ProtocolViolation,
    TlsFailure,
)

# Anonymous requests do not verify certificates on purpose (an auditor must reach a self-signed server; the
# certificate is judged on its own): urllib3's warning about it would only be noise on every HTTPS request.
warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)

MIB = 1024 * 1024
#: The largest response body one request may return (a capped QIDO answer or one study's metadata fit easily).
DEFAULT_MAX_RESPONSE_BYTES = 4 * MIB
DEFAULT_MAX_REDIRECTS = 3
USER_AGENT = f"dicomaudit/{__version__} (DICOM exposure audit; +https://github.com/dicomaudit)"
#: Headers that go into evidence: who answers, what it answered, how it asks for credentials, CORS.
EVIDENCE_HEADERS = (
    "server",
    "x-powered-by",
    "content-type",
    "content-length",
    "www-authenticate",
    "location",
    "warning",
    "strict-transport-security",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "vary",
)
_READ_SLICE = 64 * 1024
_WATCH_SLICE = 0.1


class CredentialsWithheld(PeerError):
    """The request would have sent the operator's password where it could be read: it was not sent."""

    code = ErrorReason.INCONCLUSIVE


class ResponseTooLarge(BudgetExhausted):
    """A response body beyond the per-response cap; ``status`` is the HTTP status that came with it."""

    def __init__(self, text: str, raw: bytes | None = None, status: int | None = None) -> None:
        super().__init__(text, raw)
        self.status = status


@dataclass(frozen=True)
class Credentials:
    """HTTP Basic credentials and where they came from; the password never leaves this object."""

    user: str
    password: str = field(repr=False)
    source: str = "--web-user"
    public: bool = False  # a documented vendor default: nothing secret to protect in transit

    def describe(self) -> str:
        return f"{self.user!r} ({self.source})"


@dataclass(frozen=True)
class WebSettings:
    """How the web checks talk HTTP: whose credentials, which CAs, which bounds."""

    credentials: Credentials | None = None
    ca_bundle: Path | None = None
    allow_insecure_credentials: bool = False
    try_default_credentials: bool = False
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    def to_dict(self) -> dict[str, Any]:
        """The settings for the result JSON: the user name, never the password."""
        return {
            "web_user": self.credentials.user if self.credentials else None,
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
            "allow_insecure_credentials": self.allow_insecure_credentials,
            "try_default_credentials": self.try_default_credentials,
            "max_response_bytes": self.max_response_bytes,
        }


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and what came back (or why nothing did), as evidence."""

    method: str
    url: str
    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    bytes: int = 0
    elapsed_ms: float = 0.0
    credentials: str | None = None  # the user claimed and where the credentials came from; never a password
    note: str | None = None  # e.g. a redirect that was not followed
    error: str | None = None

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"request": f"{self.method} {self.url}"}
        if self.status is not None:
            d["status"] = self.status
        if self.headers:
            d["headers"] = dict(self.headers)
        if self.status is not None:
            d["bytes"] = self.bytes
        d["elapsed_ms"] = round(self.elapsed_ms, 1)
        d["credentials"] = self.credentials or "none"
        if self.note:
            d["note"] = self.note
        if self.error:
            d["error"] = self.error
        return d


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, the headers (lower-case names), the body (capped) and its exchange."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    exchange: Exchange

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower case (``""`` when absent)."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def asks_credentials(self) -> bool:
        """A well-formed refusal for want of credentials: 401 with a challenge, or 403."""
        return (self.status == 401 and bool(self.header("www-authenticate"))) or self.status == 403

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is a protocol violation (never a verdict)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolViolation(
                f"{self.exchange.method} {self.url}: the body is not JSON ({exc})", self.body
            ) from None


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, the port filled in from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


class _Guard:
    """What one session's connections share: the budget, the caps, the watchdog and the exchange log."""

    def __init__(self, budget: Budget, settings: WebSettings) -> None:
        self.budget = budget
        self.settings = settings
        self.exchanges: list[Exchange] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.killed: PeerError | None = None
        self.last_body = b""  # the last response body (dicomweb-client decodes it; shape checks read it raw)

    # -- sockets ---------------------------------------------------------------
    def watch(self, sock: socket.socket) -> socket.socket:
        """Track a socket so the watchdog can shut it down; a duplicate survives a TLS wrap of the original."""
        dup = sock.dup()
        with self._lock:
            self._sockets.append(dup)
        return dup

    def unwatch(self, dup: socket.socket) -> None:
        with self._lock:
            if dup in self._sockets:
                self._sockets.remove(dup)
        dup.close()

    def kill(self, why: PeerError) -> None:
        """End every wait on this session's sockets now (the deadline passed or the run was interrupted)."""
        self.killed = why
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @contextmanager
    def watchdog(self) -> Iterator[None]:
        """Shut the session's sockets down if the target's deadline passes while a request is under way."""
        done = threading.Event()

        def run() -> None:
            while not done.wait(_WATCH_SLICE):
                if self.budget.expired:
                    self.kill(self.budget.exhausted())
                    return

        self.killed = None
        thread = threading.Thread(target=run, name="dicomaudit-http-watchdog", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=1.0)

    def close(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            s.close()


class _WatchedConnection:
    """Mixin for urllib3 connections: register the TCP socket with the guard while it connects."""

    _guard: _Guard
    _dicomaudit_dup: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self._dicomaudit_dup = self._guard.watch(sock)
        return sock

    def close(self) -> None:
        dup = self._dicomaudit_dup
        if dup is not None:
            self._dicomaudit_dup = None
            self._guard.unwatch(dup)
        super().close()  # type: ignore[misc]


class _BoundedAdapter(HTTPAdapter):
    """A transport adapter that bounds time and bytes, and records every exchange."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard
        super().__init__(pool_connections=1, pool_maxsize=2, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        guard = self._guard
        http_conn = type("_GuardedHTTPConnection", (_WatchedConnection, HTTPConnection), {"_guard": guard})
        https_conn = type("_GuardedHTTPSConnection", (_WatchedConnection, HTTPSConnection), {"_guard": guard})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("_GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("_GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        guard = self._guard
        method, url = request.method or "GET", request.url or ""
        who = getattr(request, "dicomaudit_credentials", None)
        started = time.monotonic()
        until = guard.budget.step_until()  # raises when the target's time is already up
        step = max(0.05, until - time.monotonic())
        try:
            with guard.watchdog():
                try:
                    response = super().send(request, stream=True, timeout=(step, step), verify=verify, cert=cert)
                    body = self._read_body(response, url)
                except PeerError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every failure below requests becomes a PeerError
                    raise guard.killed or _classify(exc, url) from None
        except PeerError as failure:
            guard.exchanges.append(
                Exchange(
                    method,
                    url,
                    None,
                    elapsed_ms=(time.monotonic() - started) * 1000,
                    credentials=who,
                    error=failure.text,
                )
            )
            raise
        if guard.killed is not None:  # the watchdog ended the read: what came is cut short, whatever it looks like
            guard.exchanges.append(
                Exchange(
                    method,
                    url,
                    None,
                    elapsed_ms=(time.monotonic() - started) * 1000,
                    credentials=who,
                    error=guard.killed.text,
                )
            )
            raise guard.killed
        response._content = body
        response._content_consumed = True
        guard.last_body = body
        headers = {k: v for k in EVIDENCE_HEADERS if (v := response.headers.get(k)) is not None}
        guard.exchanges.append(
            Exchange(
                method,
                url,
                response.status_code,
                headers=headers,
                bytes=len(body),
                elapsed_ms=(time.monotonic() - started) * 1000,
                credentials=who,
            )
        )
        return response

    def _read_body(self, response: requests.Response, url: str) -> bytes:
        cap = self._guard.settings.max_response_bytes
        raw = response.raw
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                chunk = raw.read1(_READ_SLICE)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise ResponseTooLarge(
                        f"{url}: the answer is larger than the {cap // 1024} KiB a response may be",
                        b"".join(chunks)[:64],
                        status=response.status_code,
                    )
                self._guard.budget.charge(len(chunk))
                chunks.append(chunk)
                if self._guard.budget.expired:
                    raise self._guard.budget.exhausted()
        finally:
            response.close()
        return b"".join(chunks)


class _GuardedSession(requests.Session):
    """A ``requests`` session that never leaves the target's origin and never reads the environment."""

    def __init__(self, adapter: _BoundedAdapter, origin: tuple[str, str, int], max_redirects: int) -> None:
        super().__init__()
        self.trust_env = False  # no proxies from the environment, no .netrc credentials
        self.max_redirects = max_redirects
        self.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self._origin = origin
        self._guard = adapter._guard

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        try:
            absolute = urljoin(resp.url, target)
            leaves = origin_of(absolute) != self._origin
        except ValueError:  # a Location that is not a URL (e.g. "http://[::1")
            self._note(f"malformed redirect Location {target[:200]!r} not followed")
            return None
        if leaves:
            self._note(
                f"redirect to {absolute[:300]} not followed: it leaves "
                f"{self._origin[0]}://{self._origin[1]}:{self._origin[2]}"
            )
            return None
        return target

    def _note(self, note: str) -> None:
        if self._guard.exchanges:
            last = self._guard.exchanges[-1]
            self._guard.exchanges[-1] = Exchange(**{**last.__dict__, "note": note})

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Every failure above the adapter (too many redirects, a bad redirect URL) as a ``PeerError`` too."""
        try:
            return super().send(request, **kwargs)
        except PeerError:
            raise
        except requests.RequestException as exc:
            raise _classify(exc, request.url or "") from None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, exceptions passed as arguments, urllib3's retry reasons."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 16:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__, getattr(e, "reason", None)) if isinstance(x, BaseException)]
        todo += [a for a in e.args if isinstance(a, BaseException)]


def _classify(exc: BaseException, url: str) -> PeerError:
    """A failure below ``requests`` as a reason a person can act on (and a reason code)."""
    chain = list(_causes(exc))
    for e in chain:  # an answer that is not HTTP, wherever urllib3 wrapped it
        if isinstance(e, http.client.RemoteDisconnected):  # a BadStatusLine too, but it means "closed, no answer"
            break
        if isinstance(e, http.client.BadStatusLine | http.client.LineTooLong | urllib3.exceptions.HeaderParsingError):
            raw = str(e).encode("latin-1", "replace")
            return ProtocolViolation(f"{url}: the answer is not HTTP", raw)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        port = origin_of(url)[2]
        return ConnectionLost(f"TCP connection refused (nothing listening on port {port})", refused=True)
    for e in chain:
        if isinstance(e, requests.exceptions.ConnectTimeout) or (
            isinstance(e, urllib3.exceptions.ConnectTimeoutError)
            and not isinstance(e, urllib3.exceptions.NewConnectionError)
        ):
            return PeerTimeout(CONNECT_TIMEOUT)
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
            return ConnectionLost(f"no route to host ({e.strerror})", unreachable=True)
        if isinstance(e, ssl.SSLCertVerificationError):
            return TlsFailure(
                f"the server's certificate did not verify ({e.verify_message}); give --ca-bundle",
                "CERTIFICATE_VERIFY_FAILED",
                after_handshake=False,
            )
        if isinstance(e, ssl.SSLError):
            reason = str(getattr(e, "reason", None) or e).upper()
            if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason or "PACKET_LENGTH" in reason:
                return ProtocolViolation(f"{url}: the port does not speak TLS ({reason})")
            return TlsFailure(f"TLS handshake failed: {reason}", reason, after_handshake=False)
        if isinstance(e, (urllib3.exceptions.ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError)):
            return PeerTimeout(f"{url}: no answer within the step timeout")
        if isinstance(e, http.client.BadStatusLine | http.client.LineTooLong | urllib3.exceptions.HeaderParsingError):
            raw = str(e).encode("latin-1", "replace")
            return ProtocolViolation(f"{url}: the answer is not HTTP", raw)
        if isinstance(e, requests.exceptions.TooManyRedirects):
            return ProtocolViolation(f"{url}: more redirects than allowed")
        if isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
            return ConnectionLost(f"{url}: the server closed the connection without an HTTP answer")
        if isinstance(e, (urllib3.exceptions.ProtocolError, http.client.IncompleteRead)):
            return ConnectionLost(f"{url}: the answer was cut short ({e})")
        if isinstance(e, (requests.exceptions.InvalidURL, urllib3.exceptions.LocationParseError)):
            return ProtocolViolation(f"{url}: invalid URL ({e})")
    return ConnectionLost(f"{url}: {type(exc).__name__}: {exc}")


class WebSession:
    """One web endpoint's HTTP session, bounded by the target's :class:`Budget`.

    ``request`` returns an :class:`Answer` (any status) or raises a
    :class:`~dicomaudit.net.wire.PeerError`; ``dicomweb`` hands
    ``dicomweb-client`` a session with the same bounds.  ``exchanges`` is
    every request made, in order, for evidence.
    """

    def __init__(self, base_url: str, budget: Budget, settings: WebSettings, tls: TlsSettings | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        self.settings = settings
        self.tls = tls or TlsSettings()
        self._guard = _Guard(budget, settings)
        self._adapter = _BoundedAdapter(self._guard)
        self._sessions: dict[Credentials | None, _GuardedSession] = {}

    @property
    def exchanges(self) -> list[Exchange]:
        return self._guard.exchanges

    @property
    def last_body(self) -> bytes:
        """The body of the last answer, as received (capped)."""
        return self._guard.last_body

    @property
    def https(self) -> bool:
        return self.origin[0] == "https"

    def _session(self, credentials: Credentials | None) -> _GuardedSession:
        session = self._sessions.get(credentials)
        if session is None:
            session = _GuardedSession(self._adapter, self.origin, self.settings.max_redirects)
            if self.tls.client_cert is not None:
                session.cert = (
                    (str(self.tls.client_cert), str(self.tls.client_key))
                    if self.tls.client_key
                    else str(self.tls.client_cert)
                )
            session.verify = self._verify(credentials)
            if credentials is not None:
                session.auth = _NamedBasicAuth(credentials)
            self._sessions[credentials] = session
        return session

    def _verify(self, credentials: Credentials | None) -> bool | str:
        """Anonymous requests audit, they do not trust: no verification.  The operator's password needs a verified peer."""
        if credentials is None or credentials.public or self.settings.allow_insecure_credentials:
            return False  # the certificate's quality is a finding of its own, not a reason to stop the audit
        return str(self.settings.ca_bundle) if self.settings.ca_bundle else True

    def credentials_problem(self, credentials: Credentials | None) -> str | None:
        """Why ``credentials`` may not be sent to this endpoint (``None``: they may)."""
        if credentials is None or credentials.public or self.settings.allow_insecure_credentials:
            return None
        if not self.https:
            return (
                f"the password of {credentials.describe()} is not sent over plain HTTP "
                "(--allow-insecure-credentials forces it)"
            )
        return None

    def url(self, path: str = "") -> str:
        """``path`` under the base URL; an absolute path (``/system``) is taken from the origin."""
        if path.startswith("/"):
            scheme, host, port = self.origin
            netloc = f"[{host}]" if ":" in host else host
            return f"{scheme}://{netloc}:{port}{path}"
        return f"{self.base_url}/{path}" if path else self.base_url

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        credentials: Credentials | None = None,
        follow_redirects: bool = True,
    ) -> Answer:
        """One bounded request; any HTTP status is an answer, anything else raises a ``PeerError``."""
        if origin_of(url) != self.origin:
            raise ValueError(f"{url} is not on the target's origin {self.base_url}")
        if (problem := self.credentials_problem(credentials)) is not None:
            raise CredentialsWithheld(problem)
        response = self._session(credentials).request(
            method,
            url,
            params=dict(params) if params else None,
            headers=dict(headers) if headers else None,
            data=data,
            allow_redirects=follow_redirects,
        )
        return _answer(response, self.exchanges[-1])

    def dicomweb(self, root: str, credentials: Credentials | None = None) -> Any:
        """A ``dicomweb-client`` client for the DICOMweb root ``root``, on this session's bounds, never retrying."""
        from dicomweb_client.api import DICOMwebClient

        if (problem := self.credentials_problem(credentials)) is not None:
            raise CredentialsWithheld(problem)
        client = DICOMwebClient(root, session=self._session(credentials))
        client.set_http_retry_params(retry=False)
        return client

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        self._guard.close()

    def __enter__(self) -> WebSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NamedBasicAuth(requests.auth.HTTPBasicAuth):
    """HTTP Basic auth that tags the request with who it claims to be (for the exchange log)."""

    def __init__(self, credentials: Credentials) -> None:
        super().__init__(credentials.user, credentials.password)
        self._who = credentials.describe()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r = super().__call__(r)
        r.dicomaudit_credentials = self._who  # type: ignore[attr-defined]
        return r


def _answer(response: requests.Response, exchange: Exchange) -> Answer:
    return Answer(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=response.content or b"",
        url=response.url,
        exchange=exchange,
    )


def answer_of(exc: requests.HTTPError, exchanges: list[Exchange]) -> Answer | None:
    """The answer behind a ``dicomweb-client`` ``HTTPError`` (it raises on any status >= 400)."""
    response = exc.response
    if response is None or not exchanges:
        return None
    return _answer(response, exchanges[-1])
