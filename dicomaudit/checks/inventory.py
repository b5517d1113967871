"""``inventory.unlisted`` and ``inventory.missing``: the network against the inventory.

Both judge what the service probe saw against what the inventory says
(:class:`~dicomaudit.fleet.inventory.Listing`); neither sends anything of
its own.  "Answers" means a well-formed DICOM answer, or a TLS port that
refused us well-formedly (a client certificate required): both are
listeners someone must own.
"""

from __future__ import annotations

from typing import Any

from dicomaudit.checks.base import NO_INVENTORY_GIVEN, Endpoint, ProbeContext, check, service_problem
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Status

NO_INVENTORY = "no inventory to reconcile against (give --inventory to discover, or --targets with probe --discover)"


def _answers(ctx: ProbeContext) -> bool:
    """A listener someone must own: DICOM (or TLS that refused well-formedly), or a PACS web API that answered.

    A web port counts only when a REST API or DICOMweb answered there (open or
    asking for credentials): any other web server is not a PACS listener.
    """
    if ctx.target.is_web:
        return ctx.web_observation is not None and ctx.web_observation.api_found
    return ctx.service.answers


def _problem(ctx: ProbeContext) -> str:
    if ctx.web_observation is not None:
        return ctx.web_observation.error or "an HTTP server answered, but no PACS REST API or DICOMweb service"
    return service_problem(ctx.service)


def _kind(ctx: ProbeContext) -> str:
    return "PACS web API" if ctx.target.is_web else "DICOM listener"


def _evidence(ctx: ProbeContext) -> dict[str, Any]:
    assert ctx.listing is not None
    evidence: dict[str, Any] = {"listing": ctx.listing.to_evidence()}
    if ctx.web_observation is not None:
        evidence["answer"] = {"web": ctx.web_observation.describe()} if _answers(ctx) else {"error": ctx.service.error}
        return evidence
    attempt = ctx.service.usable_attempt
    if attempt is not None and ctx.service.answers:
        evidence["answer"] = {
            "transport": attempt.transport.value,
            "association": attempt.describe(),
            "implementation_class_uid": attempt.peer_implementation_class_uid,
            "implementation_version_name": attempt.peer_implementation_version_name,
        }
    elif ctx.service.error:
        evidence["answer"] = {"error": ctx.service.error}
    return evidence


@check("inventory.unlisted", endpoint=Endpoint.INVENTORY, needs_association=False)
def unlisted(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    listing = ctx.listing
    if listing is None:
        return d.result(Status.SKIPPED, NO_INVENTORY_GIVEN, reason=NO_INVENTORY)
    if not _answers(ctx):
        return d.result(
            Status.SKIPPED,
            f"not applicable: no {_kind(ctx)} answered here",
            reason=_problem(ctx),
            evidence=_evidence(ctx),
        )
    if listing.listed:
        return d.result(
            Status.PASS, f"listed: {listing.inventory} line {listing.line}", evidence=_evidence(ctx), enforced="listed"
        )
    attempt = ctx.service.usable_attempt
    what = attempt.peer_implementation_version_name if attempt is not None else None
    return d.result(
        Status.FAIL,
        f"a {_kind(ctx)} not on {listing.inventory}" + (f" (implementation {what})" if what else ""),
        evidence=_evidence(ctx),
    )


@check("inventory.missing", endpoint=Endpoint.INVENTORY, needs_association=False)
def missing(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    listing = ctx.listing
    if listing is None:
        return d.result(Status.SKIPPED, NO_INVENTORY_GIVEN, reason=NO_INVENTORY)
    if not listing.listed:
        return d.result(Status.SKIPPED, "not applicable: not on the inventory", reason="not listed")
    if _answers(ctx):
        return d.result(
            Status.PASS,
            f"answers as listed ({listing.inventory} line {listing.line})",
            evidence=_evidence(ctx),
            enforced="listed and answering",
        )
    return d.result(
        Status.INFO,
        f"listed ({listing.inventory} line {listing.line}) but no {'PACS web API' if ctx.target.is_web else 'DICOM'} "
        "answer: " + (f"unreachable: {ctx.service.error}" if not ctx.service.reachable else _problem(ctx)),
        reason=ctx.service.error,
        evidence=_evidence(ctx),
    )
