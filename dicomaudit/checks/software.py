"""Which software answers, and whether a published advisory covers it.

``software.identified`` reads what the endpoint already said (the
A-ASSOCIATE-AC's Implementation Class UID and Version Name; a web API's
``/system`` answer and ``Server`` header) through the fingerprint table
(:mod:`dicomaudit.software.fingerprints`, every row with its source): no
extra request is sent.  ``software.known_vulnerable`` matches the shipped
(or ``advisories update``-installed) advisories against an identified
version only; the result takes the worst matching advisory's severity.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dicomaudit.checks.base import NO_SOFTWARE_ANSWER, Endpoint, ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Severity, Status
from dicomaudit.software.advisories import load_advisories, match
from dicomaudit.software.fingerprints import Identification, identify

NO_ANSWER = NO_SOFTWARE_ANSWER


def _observed(ctx: ProbeContext) -> dict[str, Any]:
    """What the endpoint said about itself, as the fingerprint table reads it."""
    if ctx.target.is_web:
        obs = ctx.web_observation
        if obs is None:
            return {}
        return {"server_header": obs.server, "orthanc_system": dict(obs.product) or None}
    attempt = ctx.service.usable_attempt
    if attempt is None:
        return {}
    return {
        "implementation_class_uid": attempt.peer_implementation_class_uid,
        "implementation_version_name": attempt.peer_implementation_version_name,
    }


def _identification(ctx: ProbeContext) -> Identification | None:
    return ctx.memo("software", lambda: identify(**_observed(ctx)))


def _evidence(ident: Identification) -> dict[str, Any]:
    d: dict[str, Any] = {
        "product": ident.product,
        "version": ident.version,
        "confidence": ident.confidence,
        "basis": list(ident.basis),
        "observed": dict(ident.observed),
    }
    if ident.candidates:
        d["could_also_be"] = list(ident.candidates)
    if ident.source:
        d["fingerprint_source"] = ident.source
    if ident.note:
        d["note"] = ident.note
    return d


@check("software.identified", endpoint=Endpoint.SOFTWARE, needs_association=False)
def software_identified(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Product and version with a confidence; "not identified" (with what was seen) when no row matches."""
    ident = _identification(ctx)
    if ident is None:
        return d.result(Status.SKIPPED, NO_ANSWER, reason=ctx.service.error or "the endpoint said nothing about itself")
    if not ident.identified:
        seen = ", ".join(f"{k}: {v}" for k, v in ident.observed.items()) or "nothing"
        return d.result(Status.INFO, f"not identified (observed {seen})", evidence=_evidence(ident))
    also = f"; could also be {', '.join(ident.candidates)}" if ident.candidates else ""
    return d.result(
        Status.INFO,
        f"{ident.label} ({ident.confidence} from {'; '.join(ident.basis)}){also}",
        evidence=_evidence(ident),
    )


@check("software.known_vulnerable", endpoint=Endpoint.SOFTWARE, needs_association=False)
def software_known_vulnerable(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Advisories matching the identified product and version; never matched on a guess."""
    ident = _identification(ctx)
    if ident is None:
        return d.result(Status.SKIPPED, NO_ANSWER, reason=ctx.service.error or "nothing identified")
    if not ident.identified or ident.version is None:
        return d.result(
            Status.SKIPPED,
            "not applicable: no product version was identified, and advisories are matched on a version only",
            reason=ident.label,
            evidence={"identification": _evidence(ident)},
        )
    data = load_advisories()
    found = match(ident.product, ident.version, data)
    evidence: dict[str, Any] = {
        "identification": _evidence(ident),
        "advisory_data": {"date": data.data_date.isoformat(), "origin": data.origin, "count": len(data.advisories)},
    }
    if data.warnings:
        evidence["advisory_data"]["warnings"] = list(data.warnings)
    if not found:
        return d.result(
            Status.PASS,
            f"no advisory in the data of {data.data_date.isoformat()} matches {ident.label}",
            evidence=evidence,
        )
    evidence["advisories"] = [
        {
            "id": m.advisory.id,
            "title": m.advisory.title,
            "cves": list(m.advisory.cves),
            "icsma": list(m.advisory.icsma),
            "cvss": m.advisory.cvss.score if m.advisory.cvss else None,
            "severity": m.advisory.severity.value if m.advisory.severity else None,
            "fixed": m.advisory.fixed,
            "published": m.advisory.published.isoformat(),
            "source": m.advisory.source,
            "why": m.why,
        }
        for m in found
    ]
    evidence["caveat"] = found[0].caveat
    if ident.confidence != "certain":
        evidence["identification_confidence"] = (
            f"{ident.confidence}: the version is read from the {'; '.join(ident.basis)}, which names "
            f"{ident.label}" + (f" (possibly {', '.join(ident.candidates)})" if ident.candidates else "")
        )
    worst = max((m.advisory.severity for m in found if m.advisory.severity is not None), default=d.severity)
    ids = ", ".join(m.advisory.id for m in found)
    result = d.result(
        Status.FAIL,
        f"{len(found)} published advisor{'y' if len(found) == 1 else 'ies'} match {ident.label}: {ids} "
        f"(fixed in {', '.join(sorted({m.advisory.fixed for m in found if m.advisory.fixed}))})",
        evidence=evidence,
    )
    return replace(result, severity=Severity(worst))
