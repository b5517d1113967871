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


def _evidence(ctx: ProbeContext) -> dict[str, Any]:
    assert ctx.listing is not None
    evidence: dict[str, Any] = {"listing": ctx.listing.to_evidence()}
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
    if not ctx.service.answers:
        return d.result(
            Status.SKIPPED,
            "not applicable: no DICOM listener answered here",
            reason=service_problem(ctx.service),
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
        f"a DICOM listener not on {listing.inventory}" + (f" (implementation {what})" if what else ""),
        evidence=_evidence(ctx),
    )


@check("inventory.missing", endpoint=Endpoint.INVENTORY, needs_association=False)
def missing(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    listing = ctx.listing
    if listing is None:
        return d.result(Status.SKIPPED, NO_INVENTORY_GIVEN, reason=NO_INVENTORY)
    if not listing.listed:
        return d.result(Status.SKIPPED, "not applicable: not on the inventory", reason="not listed")
    if ctx.service.answers:
        return d.result(
            Status.PASS,
            f"answers as listed ({listing.inventory} line {listing.line})",
            evidence=_evidence(ctx),
            enforced="listed and answering",
        )
    return d.result(
        Status.INFO,
        f"listed ({listing.inventory} line {listing.line}) but no DICOM answer: "
        + (f"unreachable: {ctx.service.error}" if not ctx.service.reachable else service_problem(ctx.service)),
        reason=ctx.service.error,
        evidence=_evidence(ctx),
    )
