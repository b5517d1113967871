"""The web checks: a PACS REST API or DICOMweb root, its transport, authentication, CORS and data.

They run on ``http://`` and ``https://`` targets (:attr:`Endpoint.WEB`), on
the observation the scanner made once before them
(:func:`dicomaudit.net.webservice.observe_web`), through the target's
bounded :class:`~dicomaudit.net.web.WebSession`.  The rule is the DIMSE
side's: only a well-formed refusal (401 with a challenge, or 403) is a
``pass``; only a well-formed service (a 2xx with DICOM JSON, a store request
processed) is a ``fail``; an answer that decides nothing is ``error`` with a
reason code, and a service that is not there is ``skipped``.

Safety: queries are capped with ``limit`` (``--find-cap``), metadata is read
for one study, no pixel data is asked for and nothing is stored without
``--intrusive``; vendor default credentials are tried only with
``--try-default-credentials``.
"""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dicomaudit.checks.base import NEEDS_DEFAULT_CREDENTIALS, Endpoint, ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.checks.query import phi_verdict
from dicomaudit.models import CheckResult, ErrorReason, Status
from dicomaudit.net.web import Answer, Credentials, ResponseTooLarge, WebSession
from dicomaudit.net.webservice import (
    DICOM_JSON,
    Access,
    ServiceProbe,
    WebObservation,
    call,
    datasets_from_json,
    evidence_of,
    fresh_study_uid,
    raw_json,
)
from dicomaudit.net.wire import PeerError, ProtocolViolation

REFUSAL = "HTTP authentication (401 with a challenge, or 403)"
_NO_ANSWER_CODES = (301, 302, 303, 307, 308)


def _web(ctx: ProbeContext) -> tuple[WebSession, WebObservation]:
    if ctx.web_session is None or ctx.web_observation is None:
        raise RuntimeError("a web check ran on a target without a web session")
    return ctx.web_session, ctx.web_observation


def _undecided(d: CheckDefinition, failure: PeerError, what: str, evidence: dict[str, Any]) -> CheckResult:
    return d.result(
        Status.ERROR, f"undecided: {what}: {failure.text}", reason=failure.text, code=failure.code, evidence=evidence
    )


def _no_dicomweb(d: CheckDefinition, obs: WebObservation) -> CheckResult:
    """The DICOMweb checks where no DICOMweb service was found: skipped when absent, undecided when unclear."""
    probe = obs.dicomweb
    tried = list(obs.tried_roots) or [obs.url]
    evidence = {"dicomweb": probe.to_evidence() if probe else None, "roots_tried": tried}
    if probe is not None and probe.access is Access.REDIRECTED:
        return d.result(
            Status.ERROR,
            f"inconclusive: the DICOMweb query was redirected ({probe.detail}); probe the URL it redirects to",
            reason=probe.detail,
            code=ErrorReason.INCONCLUSIVE,
            evidence=evidence,
        )
    if probe is not None and probe.access is Access.UNCLEAR:
        return d.result(
            Status.ERROR,
            f"undecided: {probe.url} gave no usable DICOMweb answer ({probe.detail})",
            reason=probe.detail,
            code=probe.code or ErrorReason.INCONCLUSIVE,
            evidence=evidence,
        )
    return d.result(
        Status.SKIPPED,
        "not applicable: no DICOMweb service found at this URL",
        reason="QIDO-RS was not served at " + ", ".join(tried),
        evidence=evidence,
    )


# -- web.service ----------------------------------------------------------------
@check("web.service", endpoint=Endpoint.WEB, needs_association=False)
def web_service(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """What answers at the URL: the server, the REST API, DICOMweb (``info``); not HTTP at all is ``error``."""
    _, obs = _web(ctx)
    if obs.transport is None:
        return d.result(
            Status.ERROR,
            f"no web service: {obs.error}",
            reason=obs.error or "no HTTP answer",
            code=obs.error_code or ErrorReason.PROTOCOL_VIOLATION,
            evidence=obs.to_evidence(),
        )
    return d.result(Status.INFO, obs.describe(), evidence=obs.to_evidence())


# -- web.plaintext --------------------------------------------------------------
@check("web.plaintext", endpoint=Endpoint.WEB)
def web_plaintext(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Is the PACS API (open or asking for credentials) served over plain HTTP?"""
    session, obs = _web(ctx)
    evidence = {"url": obs.url, "scheme": obs.url.split(":", 1)[0]}
    if session.https:
        return d.result(Status.PASS, "the API is served over HTTPS", evidence=evidence, enforced="HTTPS (TLS)")
    found = [p for p in (obs.dicomweb, obs.rest) if p is not None and p.access in (Access.OPEN, Access.PROTECTED)]
    if found:
        what = " and ".join(f"{p.what} ({p.access.value})" for p in found)
        verb = "answer" if len(found) > 1 else "answers"
        protected = any(p.access is Access.PROTECTED for p in found)
        extra = "; credentials (HTTP Basic) would cross the network in clear" if protected else ""
        return d.result(
            Status.FAIL,
            f"{what} {verb} over plain HTTP{extra}",
            evidence={**evidence, "services": [p.to_evidence() for p in found]},
        )
    if obs.https_redirect:
        return d.result(
            Status.PASS,
            f"plain HTTP only redirects to HTTPS ({obs.https_redirect})",
            evidence={**evidence, "redirect": obs.https_redirect},
            enforced="redirect to HTTPS",
        )
    return d.result(
        Status.ERROR,
        "inconclusive: the URL speaks plain HTTP, but no PACS API was found there",
        reason="no REST API or DICOMweb service answered at this URL",
        code=ErrorReason.INCONCLUSIVE,
        evidence={**evidence, "observation": obs.to_evidence()},
    )


# -- web.unauthenticated -----------------------------------------------------------
@check("web.unauthenticated", endpoint=Endpoint.WEB)
def web_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Does the REST API or DICOMweb serve a request without credentials?"""
    _, obs = _web(ctx)
    probes = [p for p in (obs.dicomweb, obs.rest) if p is not None]
    evidence = {"services": [p.to_evidence() for p in probes]}
    open_ = [p for p in probes if p.access is Access.OPEN]
    if open_:
        return d.result(
            Status.FAIL,
            "answers without credentials: " + "; ".join(f"{p.what} at {p.url}: {p.detail}" for p in open_),
            evidence=evidence,
        )
    protected = [p for p in probes if p.access is Access.PROTECTED]
    unclear = [p for p in probes if p.access in (Access.UNCLEAR, Access.REDIRECTED)]
    if protected and not unclear:
        confirmed = [p.confirmed_with for p in protected if p.confirmed_with]
        note = f" (and served with {confirmed[0]})" if confirmed else ""
        return d.result(
            Status.PASS,
            "every request without credentials was refused: "
            + "; ".join(f"{p.what}: {p.detail}" for p in protected)
            + note,
            evidence=evidence,
            enforced=REFUSAL,
        )
    reason = "; ".join(f"{p.what} at {p.url}: {p.detail}" for p in unclear) or "no REST API or DICOMweb service found"
    code = next((p.code for p in unclear if p.code is not None), ErrorReason.INCONCLUSIVE)
    return d.result(Status.ERROR, f"undecided: {reason}", reason=reason, code=code, evidence=evidence)


# -- qido.* --------------------------------------------------------------------------
@check("qido.unauthenticated", endpoint=Endpoint.WEB)
def qido_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Does a capped QIDO-RS studies query without credentials return matches?"""
    _, obs = _web(ctx)
    probe = obs.dicomweb
    if probe is None or probe.access not in (Access.OPEN, Access.PROTECTED):
        return _no_dicomweb(d, obs)
    evidence: dict[str, Any] = {"dicomweb": probe.to_evidence(), "limit": ctx.settings.find_cap}
    if probe.access is Access.PROTECTED:
        return d.result(
            Status.PASS, f"QIDO-RS refused without credentials ({probe.detail})", evidence=evidence, enforced=REFUSAL
        )
    qido = obs.qido
    assert qido is not None  # an open DICOMweb probe carries its answer
    evidence["response"] = qido.to_evidence()
    if qido.matches:
        return d.result(
            Status.FAIL,
            f"a QIDO-RS studies query without credentials returned {len(qido.matches)} match(es) "
            f"(limit {qido.limit}) from {qido.url}",
            evidence=evidence,
        )
    return d.result(
        Status.INFO,
        "QIDO-RS answers without credentials, but returned no matches "
        "(nothing leaked now; the server would answer once it holds data)",
        evidence=evidence,
    )


@check("qido.phi_exposed", endpoint=Endpoint.WEB)
def qido_phi_exposed(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Do the QIDO-RS matches returned without credentials carry identifying data?"""
    _, obs = _web(ctx)
    probe = obs.dicomweb
    if probe is None or probe.access not in (Access.OPEN, Access.PROTECTED):
        return _no_dicomweb(d, obs)
    qido = obs.qido
    if probe.access is Access.PROTECTED or qido is None or not qido.matches:
        return d.result(
            Status.PASS,
            "no QIDO-RS matches were returned without credentials, so none carried identifying data",
            evidence={"matches": 0, "see": "qido.unauthenticated"},
        )
    items = [(f"{qido.url}?limit={qido.limit} match {i + 1}", ds) for i, ds in enumerate(qido.matches)]
    return phi_verdict(ctx, d, items, operation="QIDO-RS", asker="a client without credentials")


# -- wado.unauthenticated --------------------------------------------------------------
@check("wado.unauthenticated", endpoint=Endpoint.WEB)
def wado_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Can a study's metadata be retrieved with WADO-RS without credentials (metadata only)?"""
    session, obs = _web(ctx)
    root = obs.dicomweb_root
    if root is None:
        return _no_dicomweb(d, obs)
    known = _known_study(obs)
    uid = known or fresh_study_uid()
    reading = (
        "metadata of a study the QIDO-RS answer named"
        if known
        else "metadata of a study that cannot exist (2.25 UUID): a refusal is a pass, an answer (even 404) a fail"
    )
    evidence: dict[str, Any] = {"study_instance_uid": uid, "reading": reading}
    start = len(session.exchanges)
    client = session.dicomweb(root)
    try:
        items, refused = call(session, client.retrieve_study_metadata, uid)
    except ResponseTooLarge as exc:
        evidence["exchanges"] = evidence_of(session.exchanges[start:])
        if exc.status is not None and 200 <= exc.status < 300:
            return d.result(
                Status.FAIL,
                f"WADO-RS served the metadata of study {uid} without credentials (more than the "
                f"{session.settings.max_response_bytes // 1024} KiB cap; reading stopped)",
                evidence=evidence,
            )
        return _undecided(d, exc, "WADO-RS metadata", evidence)
    except PeerError as exc:
        evidence["exchanges"] = evidence_of(session.exchanges[start:])
        return _undecided(d, exc, "WADO-RS metadata", evidence)
    evidence["exchanges"] = evidence_of(session.exchanges[start:])
    if refused is not None:
        return _judge_refused(d, refused, evidence, known=known is not None, what="WADO-RS metadata")
    if (undecided := _not_2xx(d, session, "WADO-RS metadata", evidence)) is not None:
        return undecided
    try:
        datasets = datasets_from_json(_raw_body(session), f"WADO-RS {root}/studies/{uid}/metadata")
    except PeerError as exc:
        return _undecided(d, exc, "WADO-RS metadata", evidence)
    evidence["instances"] = len(datasets)
    evidence["attributes_returned"] = sorted({e.keyword for ds in datasets for e in ds if e.keyword})[:60]
    evidence["pixel_data_requested"] = False
    if ctx.settings.intrusive and known and datasets:
        evidence["intrusive_retrieve"] = _retrieve_one(session, root, datasets[0])
    return d.result(
        Status.FAIL,
        f"WADO-RS served the metadata of {len(datasets)} instance(s) of study {uid} without credentials"
        if datasets
        else f"WADO-RS answered {refused or 'a metadata request'} without credentials (no instances for {uid})",
        evidence=evidence,
    )


def _neither(d: CheckDefinition, what: str, status: int | None, evidence: dict[str, Any]) -> CheckResult:
    """An HTTP status that is neither a refusal nor a service decides nothing."""
    return d.result(
        Status.ERROR,
        f"inconclusive: {what} answered {status}, which is neither a refusal nor a service",
        reason=f"HTTP {status}",
        code=ErrorReason.INCONCLUSIVE,
        evidence=evidence,
    )


def _not_2xx(d: CheckDefinition, session: WebSession, what: str, evidence: dict[str, Any]) -> CheckResult | None:
    """An answer below 400 that is not a 2xx (a redirect that was not followed) decides nothing."""
    status = session.exchanges[-1].status if session.exchanges else None
    if status is not None and 200 <= status < 300:
        return None
    return _neither(d, what, status, evidence)


def _raw_body(session: WebSession) -> Any:
    """The last body as JSON; not JSON is a protocol violation (dicomweb-client's lenient decoding is not relied on)."""
    raw = raw_json(session.last_body)
    if raw is None:
        raise ProtocolViolation("the answer is not JSON", session.last_body[:64])
    return raw


def _known_study(obs: WebObservation) -> str | None:
    if obs.qido is None:
        return None
    for ds in obs.qido.matches:
        uid = ds.get("StudyInstanceUID")
        if uid:
            return str(uid)
    return None


def _judge_refused(
    d: CheckDefinition, answer: Answer, evidence: dict[str, Any], *, known: bool, what: str
) -> CheckResult:
    """A >= 400 answer to a request made without credentials."""
    if answer.asks_credentials:
        return d.result(
            Status.PASS, f"{what} refused without credentials ({answer.status})", evidence=evidence, enforced=REFUSAL
        )
    if answer.status == 404 and not known:
        return d.result(
            Status.FAIL,
            f"{what} was processed without credentials: 404 for a study that cannot exist (no credentials were asked)",
            evidence=evidence,
        )
    return _neither(d, what, answer.status, evidence)


def _retrieve_one(session: WebSession, root: str, ds: Any) -> dict[str, Any]:
    """--intrusive: retrieve one instance (pixel data included), keep only its size."""
    study, series, sop = (str(ds.get(k, "")) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"))
    if not (study and series and sop):
        return {"skipped": "the metadata did not name study, series and instance"}
    client = session.dicomweb(root)
    try:
        _, refused = call(session, client.retrieve_instance, study, series, sop)
    except ResponseTooLarge:
        return {"instance": sop, "served": True, "bytes": f"more than {session.settings.max_response_bytes} (cut)"}
    except PeerError as exc:
        return {"instance": sop, "error": exc.text}
    last = session.exchanges[-1]
    if refused is not None:
        return {"instance": sop, "served": False, "status": refused.status}
    return {"instance": sop, "served": True, "bytes": last.bytes, "kept": "nothing (size only)"}


# -- stow.unauthenticated ------------------------------------------------------------------
@check("stow.unauthenticated", endpoint=Endpoint.WEB)
def stow_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Would STOW-RS accept objects without credentials?  By default asked with a body that can store nothing."""
    session, obs = _web(ctx)
    root = obs.dicomweb_root
    if root is None:
        return _no_dicomweb(d, obs)
    if ctx.settings.intrusive:
        return _stow_intrusive(ctx, d, session, root)
    boundary = f"dicomaudit-{secrets.token_hex(8)}"
    body = f"--{boundary}--\r\n".encode("ascii")
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": DICOM_JSON,
    }
    evidence: dict[str, Any] = {
        "request": "POST {root}/studies with a multipart body of zero parts (nothing can be stored)",
        "reading": "401/403: authorisation checked first (pass); 2xx/400/409/415/422: the anonymous request was "
        "processed (fail); 404/405/501: STOW-RS not offered (pass)",
    }
    try:
        answer = session.request("POST", f"{root}/studies", data=body, headers=headers, follow_redirects=False)
    except PeerError as exc:
        return _undecided(d, exc, "STOW-RS", {**evidence, "exchanges": evidence_of(session.exchanges[-1:])})
    evidence["exchange"] = answer.exchange.to_evidence()
    if 300 <= answer.status < 400:
        return d.result(
            Status.ERROR,
            f"inconclusive: STOW-RS answered {answer.status} (a redirect, not followed for a store request)",
            reason=f"HTTP {answer.status} to {answer.header('location') or '?'}",
            code=ErrorReason.INCONCLUSIVE,
            evidence=evidence,
        )
    processed = (
        f"STOW-RS processed a store request without credentials: it answered {answer.status} to a request "
        "that could store nothing, instead of asking for credentials"
    )
    return _stow_verdict(d, answer, evidence, where=f" at {root}/studies", processed=processed)


#: Statuses that show a store request was processed (past authorisation), whatever its outcome.
_STOW_PROCESSED = frozenset({400, 409, 415, 422})


def _stow_verdict(
    d: CheckDefinition, answer: Answer, evidence: dict[str, Any], *, where: str, processed: str
) -> CheckResult:
    """The one reading of a STOW-RS answer: refusal or not offered (pass), processed (fail), else undecided."""
    if answer.asks_credentials:
        return d.result(
            Status.PASS, f"STOW-RS refused without credentials ({answer.status})", evidence=evidence, enforced=REFUSAL
        )
    if answer.status in (404, 405, 501):
        return d.result(
            Status.PASS,
            f"STOW-RS is not offered{where} ({answer.status})",
            evidence=evidence,
            enforced="STOW-RS not offered",
        )
    if answer.ok or answer.status in _STOW_PROCESSED:
        return d.result(Status.FAIL, processed, evidence=evidence)
    return _neither(d, "STOW-RS", answer.status, evidence)


def _stow_intrusive(ctx: ProbeContext, d: CheckDefinition, session: WebSession, root: str) -> CheckResult:
    from dicomaudit.synth import synthetic_test_instance

    ds = synthetic_test_instance()
    uids = {"study_instance_uid": str(ds.StudyInstanceUID), "sop_instance_uid": str(ds.SOPInstanceUID)}
    evidence: dict[str, Any] = {"intrusive": True, "stored_object": uids}
    start = len(session.exchanges)
    client = session.dicomweb(root)
    try:
        _, refused = call(session, client.store_instances, [ds])
    except PeerError as exc:
        evidence["exchanges"] = evidence_of(session.exchanges[start:])
        return _undecided(
            d, exc, f"STOW-RS (the synthetic object {uids['sop_instance_uid']} may have been stored)", evidence
        )
    evidence["exchanges"] = evidence_of(session.exchanges[start:])
    if refused is None:
        return d.result(
            Status.FAIL,
            f"STOW-RS stored a synthetic object without credentials (SOP Instance UID {uids['sop_instance_uid']}; "
            "delete it from the server)",
            evidence=evidence,
        )
    processed = f"STOW-RS processed the synthetic object without credentials and answered {refused.status}"
    return _stow_verdict(d, refused, evidence, where="", processed=processed)


# -- web.cors --------------------------------------------------------------------------------
@check("web.cors", endpoint=Endpoint.WEB)
def web_cors(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Does the API let any web site read its answers (reflected Origin, or ``*`` with credentials)?"""
    session, obs = _web(ctx)
    origin = f"https://cors-probe-{secrets.token_hex(4)}.dicomaudit.invalid"
    root = obs.dicomweb_root
    if root is not None:  # a query that matches nothing: no patient data comes back
        get_url, params, pre_url = f"{root}/studies", {"StudyInstanceUID": fresh_study_uid()}, f"{root}/studies"
    elif obs.rest is not None and obs.rest.access in (Access.OPEN, Access.PROTECTED):
        get_url, params, pre_url = obs.rest.url, None, obs.rest.url
    else:
        get_url, params, pre_url = obs.url, None, obs.url
    evidence: dict[str, Any] = {"origin_sent": origin}
    answers: list[tuple[str, Answer]] = []
    try:
        answers.append(("GET", session.request("GET", get_url, params=params, headers={"Origin": origin})))
        preflight = {
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        answers.append(("OPTIONS (preflight)", session.request("OPTIONS", pre_url, headers=preflight)))
    except PeerError as exc:
        evidence["exchanges"] = evidence_of(session.exchanges[-2:])
        return _undecided(d, exc, "CORS probe", evidence)
    evidence["exchanges"] = [a.exchange.to_evidence() for _, a in answers]
    problems = []
    seen = []
    for name, a in answers:
        allow = a.header("access-control-allow-origin")
        credentials = (a.header("access-control-allow-credentials") or "").strip().lower() == "true"
        seen.append(
            f"{name}: {allow or 'no Access-Control-Allow-Origin'}" + (" with credentials" if credentials else "")
        )
        if allow is not None and allow.strip() == origin:
            problems.append(
                f"{name} reflects an arbitrary Origin" + (" with credentials allowed" if credentials else "")
            )
        elif allow is not None and allow.strip() == "*" and credentials:
            problems.append(f"{name} allows any origin ('*') together with credentials")
    evidence["seen"] = seen
    if problems:
        return d.result(Status.FAIL, "; ".join(problems), evidence=evidence)
    return d.result(
        Status.PASS,
        "no arbitrary origin is allowed to read the API (" + "; ".join(seen) + ")",
        evidence=evidence,
        enforced="CORS: arbitrary origins not allowed",
    )


# -- web.default_credentials -------------------------------------------------------------------
@dataclass(frozen=True)
class DefaultCredential:
    """A vendor's documented default web user, with the source that documents it."""

    product: str
    credentials: Credentials
    source: str


@cache
def default_credentials() -> tuple[DefaultCredential, ...]:
    """The documented vendor defaults (``default_credentials.toml``); a row without a source does not load."""
    raw = tomllib.loads(resources.files(__package__).joinpath("default_credentials.toml").read_text(encoding="utf-8"))
    rows = []
    for entry in raw.get("credential", []):
        if not entry.get("source"):
            raise ValueError(f"default credential for {entry.get('product')!r} has no source")
        rows.append(
            DefaultCredential(
                product=entry["product"],
                credentials=Credentials(
                    entry["user"], entry["password"], source=f"{entry['product']} documented default", public=True
                ),
                source=entry["source"],
            )
        )
    return tuple(rows)


@check("web.default_credentials", endpoint=Endpoint.WEB)
def web_default_credentials(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Only with --try-default-credentials: does a documented vendor default user get in?"""
    session, obs = _web(ctx)
    if not session.settings.try_default_credentials:
        return d.result(Status.SKIPPED, NEEDS_DEFAULT_CREDENTIALS, reason="vendor defaults are tried only when asked")
    probes = [p for p in (obs.dicomweb, obs.rest) if p is not None]
    asking = [p for p in probes if p.access is Access.PROTECTED and _basic_challenge(p)]
    if not asking:
        if any(p.access is Access.PROTECTED for p in probes):
            return d.result(
                Status.SKIPPED,
                "not applicable: the API asks for credentials other than a password (no HTTP Basic challenge)",
                evidence={"services": [p.to_evidence() for p in probes]},
            )
        return d.result(
            Status.SKIPPED,
            "not applicable: nothing at this URL asks for credentials",
            evidence={"services": [p.to_evidence() for p in probes]},
        )
    tried: list[dict[str, Any]] = []
    for default in default_credentials():
        for probe in asking:
            url, params = _harmless_request(probe)
            try:
                answer = session.request("GET", url, params=params, credentials=default.credentials)
            except PeerError as exc:
                return _undecided(d, exc, "default credentials", {"tried": tried})
            tried.append({**answer.exchange.to_evidence(), "documented_by": default.source})
            if answer.ok:
                return d.result(
                    Status.FAIL,
                    f"the {default.product} default user {default.credentials.user!r} (documented default password) "
                    f"was accepted by {probe.what}",
                    evidence={"tried": tried},
                )
    return d.result(
        Status.PASS,
        f"none of the {len(default_credentials())} documented default credential(s) was accepted",
        evidence={"tried": tried},
        enforced="vendor default credentials refused",
    )


def _basic_challenge(probe: ServiceProbe) -> bool:
    return any((e.headers.get("www-authenticate") or "").lower().startswith("basic") for e in probe.exchanges)


def _harmless_request(probe: ServiceProbe) -> tuple[str, dict[str, str] | None]:
    """A request that shows access without returning patient data: a QIDO for a study that cannot exist, or /system."""
    if probe.what.startswith("DICOMweb"):
        return f"{probe.url}/studies", {"StudyInstanceUID": fresh_study_uid()}
    return probe.url, None
