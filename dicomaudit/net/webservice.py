"""What answers at a web target: the first contact with a PACS web API or DICOMweb root.

The web side of :mod:`dicomaudit.net.service`.  Before any web check runs,
the scanner asks a few harmless questions, once, without credentials:

1. ``GET`` the URL itself: does the port speak HTTP, who says it answers
   (``Server``), does plain HTTP only redirect to HTTPS?
2. Where is DICOMweb?  The URL itself, or (when the URL is a bare origin)
   the products' documented default roots (:data:`DICOMWEB_DEFAULT_ROOTS`):
   a QIDO-RS studies query capped with ``limit`` tells a DICOMweb answer
   (DICOM JSON, PS3.18 F.2) from a refusal (401 with a challenge, 403) and
   from something else (404, an array that is not DICOM JSON).
3. Is there a PACS REST API?  Orthanc's ``GET /system`` (open, refused, or
   absent) names the product, its version and its DICOM AE title and port.

With the operator's ``--web-user`` (only where the password may go, see
:mod:`dicomaudit.net.web`) the refused answers are asked again, so a
``pass`` rests on a service that demonstrably exists behind the refusal.
The QIDO answer is kept for the ``qido.*`` checks: the node is asked once.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from pydicom.dataset import Dataset
from pydicom.valuerep import VR

from dicomaudit.models import ErrorReason
from dicomaudit.net.outcome import Transport
from dicomaudit.net.service import ServiceObservation
from dicomaudit.net.web import Answer, Credentials, Exchange, WebSession, answer_of
from dicomaudit.net.wire import CONNECT_TIMEOUT, ConnectionLost, PeerError, ProtocolViolation

#: Documented default DICOMweb roots, tried when the target URL is a bare origin (``http://host:8042``).
DICOMWEB_DEFAULT_ROOTS = (
    # Orthanc DICOMweb plugin: "DicomWeb": {"Root": "/dicom-web/"} (Orthanc Book, DICOMweb plugin configuration).
    ("/dicom-web", "Orthanc DICOMweb plugin default root"),
    # dcm4chee-arc-light: RESTful services of the default archive AE (dcm4chee-arc wiki, "RESTful services").
    ("/dcm4chee-arc/aets/DCM4CHEE/rs", "dcm4chee-arc-light default archive AE"),
)
#: Orthanc's REST API: ``GET /system`` names the product and its DICOM side (Orthanc Book, REST API reference).
ORTHANC_SYSTEM = "/system"
DICOM_JSON = "application/dicom+json"


class Access(enum.StrEnum):
    """How a web service answered a request without credentials."""

    OPEN = "open"  # it served the request
    PROTECTED = "protected"  # a well-formed refusal: 401 with a challenge, or 403
    ABSENT = "absent"  # not there: 404/405/501, or an answer that is not this service
    REDIRECTED = "redirected"  # sent elsewhere (another scheme, host or port): not followed
    UNCLEAR = "unclear"  # an answer that decides nothing (5xx, 400, an empty array that may be something else)


@dataclass(frozen=True)
class ServiceProbe:
    """One service looked for at one URL: how it answered, with the exchanges as evidence."""

    what: str
    url: str
    access: Access
    detail: str
    exchanges: tuple[Exchange, ...] = ()
    confirmed_with: str | None = None  # the credentials that showed the service behind a refusal
    code: ErrorReason | None = None  # why an UNCLEAR answer decided nothing (timeout, protocol_violation, ...)

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "service": self.what,
            "url": self.url,
            "without_credentials": self.access.value,
            "detail": self.detail,
        }
        if self.confirmed_with:
            d["confirmed_with"] = self.confirmed_with
        if self.code is not None:
            d["reason_code"] = self.code.value
        d["exchanges"] = [e.to_evidence() for e in self.exchanges]
        return d


@dataclass(frozen=True)
class QidoAnswer:
    """The unauthenticated QIDO-RS studies query: matches as datasets (kept in memory for the PHI analyzer only)."""

    url: str
    limit: int
    matches: tuple[Dataset, ...]
    media_type: str
    exchange: Exchange

    def attributes_returned(self) -> list[str]:
        seen: dict[str, None] = {}
        for ds in self.matches:
            for elem in ds:
                if elem.keyword and not elem.is_empty:
                    seen.setdefault(elem.keyword)
        return list(seen)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "request": self.exchange.to_evidence(),
            "limit": self.limit,
            "matches_read": len(self.matches),
            "attributes_returned": self.attributes_returned(),
        }


@dataclass(frozen=True)
class WebObservation:
    """Everything learnt about a web target before any web check runs."""

    url: str
    transport: Transport | None  # None: the port does not speak HTTP (or TLS failed)
    error: str | None = None
    error_code: ErrorReason | None = None
    reachable: bool = True
    root: Answer | None = None
    dicomweb: ServiceProbe | None = None
    rest: ServiceProbe | None = None
    product: Mapping[str, Any] = field(default_factory=dict)  # what /system said (Orthanc)
    qido: QidoAnswer | None = None
    tried_roots: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def server(self) -> str | None:
        return self.root.header("server") if self.root is not None else None

    @property
    def https_redirect(self) -> str | None:
        """Where plain HTTP sends the client, when it is an HTTPS URL of the same host."""
        if self.root is None or self.root.status not in (301, 302, 303, 307, 308):
            return None
        location = self.root.header("location") or ""
        try:
            target = urlsplit(location)
            same_host = (target.hostname or "").lower() == urlsplit(self.url).hostname
        except ValueError:  # a Location that is not a URL
            return None
        if target.scheme.lower() == "https" and same_host:
            return location
        return None

    @property
    def dicomweb_root(self) -> str | None:
        if self.dicomweb is not None and self.dicomweb.access in (Access.OPEN, Access.PROTECTED):
            return self.dicomweb.url
        return None

    @property
    def api_found(self) -> bool:
        """A PACS API answered (open or refusing): DICOMweb or the REST API."""
        return any(p is not None and p.access in (Access.OPEN, Access.PROTECTED) for p in (self.dicomweb, self.rest))

    def as_service(self) -> ServiceObservation:
        """The transport-level view shared with the DIMSE side (inventory checks, run figures)."""
        return ServiceObservation(
            reachable=self.reachable,
            transport=self.transport,
            plaintext=None,
            tls=None,
            error=self.error,
            error_code=self.error_code,
        )

    def describe(self) -> str:
        """One line: what answers here."""
        parts = []
        if self.product:
            name = f" (instance {self.product['Name']!r})" if self.product.get("Name") else ""
            parts.append(f"Orthanc {self.product.get('Version') or ''} REST API{name}".replace("  ", " "))
        elif self.rest is not None and self.rest.access is Access.PROTECTED:
            parts.append("a REST API that asks for credentials")
        if self.dicomweb is not None and self.dicomweb.access in (Access.OPEN, Access.PROTECTED):
            how = "open" if self.dicomweb.access is Access.OPEN else "asks for credentials"
            parts.append(f"DICOMweb at {self.dicomweb.url} ({how})")
        if not parts:
            parts.append("an HTTP server with no PACS API found")
        server = f"; Server: {self.server!r}" if self.server else ""
        return ", ".join(parts) + server

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"url": self.url, "transport": self.transport.value if self.transport else None}
        if self.root is not None:
            d["first_request"] = self.root.exchange.to_evidence()
        if self.server:
            d["server"] = self.server
        if self.https_redirect:
            d["redirects_to_https"] = self.https_redirect
        if self.dicomweb is not None:
            d["dicomweb"] = self.dicomweb.to_evidence()
        if self.tried_roots:
            d["dicomweb_roots_tried"] = list(self.tried_roots)
        if self.rest is not None:
            d["rest_api"] = self.rest.to_evidence()
        if self.product:
            d["product"] = dict(self.product)
        if self.notes:
            d["notes"] = list(self.notes)
        if self.error:
            d["error"] = self.error
        return d


_VRS = frozenset(vr.value for vr in VR)
_ELEMENT_KEYS = frozenset({"vr", "Value", "BulkDataURI", "InlineBinary"})
_MAX_DEPTH = 16


def _is_dicom_json(obj: Any, depth: int = 0) -> bool:
    """One DICOM JSON dataset (PS3.18 F.2): 8-hex-digit tags, each a known VR with a list ``Value`` (nested for SQ)."""
    if not isinstance(obj, dict) or depth > _MAX_DEPTH:
        return False
    for tag, element in obj.items():
        if not (isinstance(tag, str) and len(tag) == 8 and all(c in "0123456789abcdefABCDEF" for c in tag)):
            return False
        if not isinstance(element, dict) or element.get("vr") not in _VRS or not element.keys() <= _ELEMENT_KEYS:
            return False
        value = element.get("Value")
        if value is None:
            continue
        if not isinstance(value, list):
            return False
        if element["vr"] == "SQ" and not all(_is_dicom_json(item, depth + 1) for item in value):
            return False
    return True


def _no_bulk_data(tag: str, vr: str, uri: str) -> bytes:
    return b""


def datasets_from_json(items: Any, where: str) -> tuple[Dataset, ...]:
    """DICOM JSON objects as pydicom datasets; anything else is a protocol violation (never a verdict)."""
    if not isinstance(items, list):
        raise ProtocolViolation(f"{where}: expected a JSON array of DICOM datasets, got {type(items).__name__}")
    if not all(isinstance(o, dict) and o for o in items):
        raise ProtocolViolation(f"{where}: an item of the array is not a DICOM JSON dataset")
    datasets = []
    for i, obj in enumerate(items):
        if not _is_dicom_json(obj):
            raise ProtocolViolation(f"{where}: item {i + 1} is not a DICOM JSON dataset")
        try:
            # Bulk data (pixel data) stays where it is: a URI is never followed, the value is left empty.
            datasets.append(Dataset.from_json(obj, bulk_data_uri_handler=_no_bulk_data))
        except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on malformed JSON
            raise ProtocolViolation(f"{where}: item {i + 1} is not valid DICOM JSON ({exc})") from None
    return tuple(datasets)


class NotJson(ProtocolViolation):
    """A body that should have been JSON and is not."""


def call(session: WebSession, func: Any, *args: Any, **kwargs: Any) -> tuple[Any, Answer | None]:
    """Run a ``dicomweb-client`` call: ``(result, None)``, or ``(None, answer)`` when the server answered >= 400.

    JSON that does not decode is a protocol violation; network failures
    raise as :class:`~dicomaudit.net.wire.PeerError` from the session.
    """
    try:
        return func(*args, **kwargs), None
    except requests.HTTPError as exc:
        answer = answer_of(exc, session.exchanges)
        if answer is None:
            raise ConnectionLost(f"an HTTP error without an answer: {exc}") from None
        return None, answer
    except requests.JSONDecodeError as exc:
        raise NotJson(f"the answer is not JSON ({exc})") from None
    except ValueError as exc:  # dicomweb-client's own checks (a multipart answer it cannot split, ...)
        raise ProtocolViolation(f"the answer could not be decoded: {exc}") from None


def _refusal_or_absence(answer: Answer) -> tuple[Access, str]:
    if answer.asks_credentials:
        challenge = answer.header("www-authenticate")
        return Access.PROTECTED, f"{answer.status} without credentials" + (f" ({challenge})" if challenge else "")
    if answer.status in (301, 302, 303, 307, 308):
        return Access.REDIRECTED, f"{answer.status} to {answer.header('location') or '?'} (not followed)"
    if answer.status in (404, 405, 501):
        return Access.ABSENT, f"{answer.status}: not served here"
    return Access.UNCLEAR, f"{answer.status}: an answer that decides nothing"


def probe_qido(session: WebSession, root: str, limit: int) -> tuple[ServiceProbe, QidoAnswer | None]:
    """A capped QIDO-RS studies query without credentials at ``root``.

    How the answer is read: a 2xx ``application/dicom+json`` answer must be
    an array of DICOM JSON datasets, or the probe is undecided
    (protocol violation); a 2xx of another type that is not DICOM JSON (an
    HTML page, another JSON API such as Orthanc's own ``/studies``) means no
    DICOMweb here; 401 with a challenge, or 403, is a refusal; a redirect is
    recorded, not followed off the origin, and decides nothing; any other
    status decides nothing either.
    """
    what = "DICOMweb (QIDO-RS)"
    start = len(session.exchanges)

    def probe(access: Access, detail: str, code: ErrorReason | None = None) -> ServiceProbe:
        return ServiceProbe(what, root, access, detail, tuple(session.exchanges[start:]), code=code)

    try:
        client = session.dicomweb(root)
        items, refused = call(session, client.search_for_studies, limit=limit)
    except NotJson as exc:  # not JSON at all
        last = session.exchanges[-1] if session.exchanges[start:] else None
        media = _media(last)
        if media in (DICOM_JSON, "application/json"):
            return probe(Access.UNCLEAR, f"a {media} answer that is not JSON: {exc.text}", exc.code), None
        return probe(Access.ABSENT, f"not DICOMweb ({media or 'untyped'} answer)"), None
    except PeerError as exc:
        return probe(Access.UNCLEAR, exc.text, exc.code), None
    if refused is not None:
        access, detail = _refusal_or_absence(refused)
        return probe(access, detail), None
    last = session.exchanges[-1]
    media = _media(last)
    if last.status is None or not 200 <= last.status < 300:
        if last.status in (301, 302, 303, 307, 308):
            location = last.headers.get("location") or "?"
            return probe(Access.REDIRECTED, f"{last.status} to {location} (not followed)"), None
        return probe(Access.UNCLEAR, f"{last.status}: an answer that decides nothing"), None
    raw = raw_json(session.last_body)
    shaped = isinstance(raw, list) and all(_is_dicom_json(o) for o in raw)
    if not shaped:
        if media == DICOM_JSON:
            why = "not an array" if not isinstance(raw, list) else "an item is not a valid DICOM JSON dataset"
            return probe(Access.UNCLEAR, f"{media} answer that is not DICOM JSON ({why})", PROTOCOL), None
        return probe(Access.ABSENT, f"not DICOMweb: a {media or 'untyped'} answer that is not DICOM JSON"), None
    assert isinstance(raw, list)
    if not raw and media != DICOM_JSON and last.status != 204:
        return probe(Access.UNCLEAR, f"an empty {media or 'untyped'} array: not recognisably DICOMweb"), None
    try:
        datasets = datasets_from_json(raw, f"QIDO-RS {root}/studies")
    except PeerError as exc:
        return probe(Access.UNCLEAR, exc.text, exc.code), None
    qido = QidoAnswer(f"{root}/studies", limit, datasets, media, last)
    return probe(Access.OPEN, f"{last.status}: {len(datasets)} study match(es) without credentials"), qido


PROTOCOL = ErrorReason.PROTOCOL_VIOLATION


def _media(exchange: Exchange | None) -> str:
    if exchange is None:
        return ""
    return (exchange.headers.get("content-type") or "").split(";")[0].strip().lower()


def raw_json(body: bytes) -> Any:
    """The body as JSON (``[]`` when empty: 204 or an empty 200), or ``None`` when it is not JSON."""
    if not body.strip():
        return []
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def probe_rest(session: WebSession) -> tuple[ServiceProbe, dict[str, Any]]:
    """Orthanc's ``GET /system`` without credentials: the product and its DICOM side, when open."""
    url = session.url(ORTHANC_SYSTEM)
    start = len(session.exchanges)
    try:
        answer = session.request("GET", url, headers={"Accept": "application/json"})
    except PeerError as exc:
        what = "REST API (/system)"
        return ServiceProbe(what, url, Access.UNCLEAR, exc.text, tuple(session.exchanges[start:]), code=exc.code), {}
    exchanges = (answer.exchange,)
    if not answer.ok:
        access, detail = _refusal_or_absence(answer)
        return ServiceProbe("REST API (/system)", url, access, detail, exchanges), {}
    try:
        body = answer.json()
    except ProtocolViolation:
        body = None
    product = _orthanc_system(body)
    if not product:
        return ServiceProbe("REST API (/system)", url, Access.ABSENT, "not Orthanc's /system", exchanges), {}
    detail = f"{answer.status}: Orthanc {product.get('Version')} answered without credentials"
    return ServiceProbe("REST API (/system)", url, Access.OPEN, detail, exchanges), product


def _orthanc_system(body: Any) -> dict[str, Any]:
    """The identifying keys of Orthanc's /system answer (never storage paths or anything else)."""
    if not isinstance(body, dict) or "Version" not in body or not ({"DicomAet", "ApiVersion"} & body.keys()):
        return {}
    keys = ("Name", "Version", "ApiVersion", "DicomAet", "DicomPort", "HttpPort", "PluginsEnabled")
    return {k: body[k] for k in keys if k in body and isinstance(body[k], str | int | bool)}


def _confirm(session: WebSession, probe: ServiceProbe, credentials: Credentials | None, request: Any) -> ServiceProbe:
    """Ask a refused request again with the operator's credentials: a 2xx shows the service behind the refusal."""
    if probe.access is not Access.PROTECTED or credentials is None or session.credentials_problem(credentials):
        return probe
    try:
        answer = request(credentials)
    except PeerError:
        return probe
    if answer is None:
        return probe
    exchanges = probe.exchanges + (answer.exchange,)
    if answer.ok:
        return ServiceProbe(probe.what, probe.url, probe.access, probe.detail, exchanges, credentials.describe())
    if answer.status in (404, 405, 501):  # the refusal guarded nothing of this kind: the service is not there
        detail = f"{probe.detail}; with {credentials.describe()}: {answer.status}, not served here"
        return ServiceProbe(probe.what, probe.url, Access.ABSENT, detail, exchanges)
    return probe


def observe_web(session: WebSession, limit: int) -> WebObservation:
    """The first contact with a web target (see the module docstring); network failures end it early."""
    url = session.base_url
    transport = Transport.TLS if session.https else Transport.PLAINTEXT
    try:
        root = session.request("GET", url, follow_redirects=False)
    except PeerError as exc:
        no_connection = (isinstance(exc, ConnectionLost) and (exc.refused or exc.unreachable)) or (
            exc.text == CONNECT_TIMEOUT
        )
        return WebObservation(url=url, transport=None, error=exc.text, error_code=exc.code, reachable=not no_connection)
    candidates = [url]
    if urlsplit(url).path in ("", "/"):
        candidates = [session.url(path) for path, _ in DICOMWEB_DEFAULT_ROOTS] + [url]
    dicomweb: ServiceProbe | None = None
    qido: QidoAnswer | None = None
    tried = []
    for candidate in candidates:
        tried.append(candidate)
        probe, answer = probe_qido(session, candidate, limit)
        if probe.access in (Access.OPEN, Access.PROTECTED, Access.REDIRECTED):
            dicomweb, qido = probe, answer
            break
        if dicomweb is None or (dicomweb.access is Access.ABSENT and probe.access is Access.UNCLEAR):
            dicomweb = probe
    rest, product = probe_rest(session)
    credentials = session.settings.credentials
    if dicomweb is not None:
        root_url = dicomweb.url

        def ask_qido(c: Credentials) -> Answer | None:
            client = session.dicomweb(root_url, c)
            call(session, client.search_for_studies, limit=1)
            return _last_answer(session)

        dicomweb = _confirm(session, dicomweb, credentials, ask_qido)
    rest = _confirm(
        session,
        rest,
        credentials,
        lambda c: session.request("GET", rest.url, credentials=c, headers={"Accept": "application/json"}),
    )
    if not product and rest.confirmed_with and credentials is not None:
        try:
            product = _orthanc_system(
                session.request("GET", rest.url, credentials=credentials, headers={"Accept": "application/json"}).json()
            )
        except PeerError:
            product = {}
    return WebObservation(
        url=url,
        transport=transport,
        root=root,
        dicomweb=dicomweb,
        rest=rest,
        product=product,
        qido=qido,
        tried_roots=tuple(tried) if len(tried) > 1 else (),
    )


def _last_answer(session: WebSession) -> Answer | None:
    """A minimal answer for the last exchange (status and headers only): enough to read 2xx from a confirmation."""
    if not session.exchanges:
        return None
    e = session.exchanges[-1]
    if e.status is None:
        return None
    return Answer(e.status, dict(e.headers), b"", e.url, e)


def fresh_study_uid() -> str:
    """A Study Instance UID that cannot exist anywhere (PS3.5 B.2: ``2.25.`` + a random UUID as an integer)."""
    import uuid

    return f"2.25.{uuid.uuid4().int}"


def evidence_of(exchanges: Sequence[Exchange]) -> list[dict[str, Any]]:
    return [e.to_evidence() for e in exchanges]
