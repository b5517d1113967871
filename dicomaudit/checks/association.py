"""``assoc.any_called_aet`` and ``assoc.any_calling_aet``: does the node check AE titles?

Each question gets its own association with exactly one random title, so a
rejection can be attributed: PS3.8 Table 9-21 distinguishes "called AE
title not recognised" (reason 7) from "calling AE title not recognised"
(reason 3), and so do we.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynetdicom.sop_class import Verification

from dicomaudit.checks.base import ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition, get
from dicomaudit.models import CheckResult, Status
from dicomaudit.net.identity import random_aet
from dicomaudit.net.outcome import AssociationAttempt, Outcome


def _attempt(ctx: ProbeContext, calling: str, called: str) -> AssociationAttempt:
    with ctx.associate([Verification], calling_aet=calling, called_aet=called) as session:
        return session.attempt


def verdict_for_refusal(
    ctx: ProbeContext,
    d: CheckDefinition,
    attempt: AssociationAttempt,
    what: str,
    *,
    evidence: Mapping[str, Any] | None = None,
    called_is_targets: bool = True,
) -> CheckResult:
    """Turn an association that was *not* accepted into pass or error.

    Only a well-formed A-ASSOCIATE-RJ or A-ABORT from the node is a refusal
    (``pass``); a connection that closed without an answer, a timeout, a
    malformed answer or an exhausted budget decides nothing (``error`` with
    the outcome's reason code).  ``called_is_targets``
    says the request used the target's own AE title: a rejection of the
    placeholder title is then inconclusive (see
    :meth:`ProbeContext.inconclusive_called_aet`).  ``evidence`` is added to
    the association's.
    """
    if called_is_targets and (inconclusive := ctx.inconclusive_called_aet(d, attempt)) is not None:
        return inconclusive
    if attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED):
        control = ctx.refusal_control(attempt, called_is_targets=called_is_targets)
        return d.result(
            Status.PASS,
            f"{what}: association {attempt.describe()}",
            evidence={"association": attempt.to_evidence(), **(evidence or {})},
            enforced=control,
        )
    return ctx.undecided(d, attempt, dict(evidence or {}))


@check("assoc.any_called_aet")
def any_called_aet(ctx: ProbeContext) -> CheckResult:
    d = get("assoc.any_called_aet")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    called = random_aet()
    attempt = _attempt(ctx, ctx.settings.calling_aet, called)
    evidence = {"association": attempt.to_evidence(), "random_called_aet": called}
    if attempt.outcome is Outcome.ACCEPTED:
        return d.result(
            Status.FAIL, f"association accepted for the random called AE title {called!r}", evidence=evidence
        )
    rej = attempt.rejection
    if attempt.outcome is Outcome.REJECTED and rej is not None and rej.calling_aet_unrecognised:
        # The node refused our calling AE first: the called-AE check itself was not observable.
        return d.result(
            Status.PASS,
            f"refused, by the calling AE title allow-list: {attempt.describe()} (whether the called "
            "AE title is also checked cannot be seen from an unregistered AE)",
            evidence=evidence,
            enforced=rej.control,
        )
    return verdict_for_refusal(
        ctx,
        d,
        attempt,
        f"random called AE title {called!r} refused",
        evidence={"random_called_aet": called},
        called_is_targets=False,
    )


@check("assoc.any_calling_aet")
def any_calling_aet(ctx: ProbeContext) -> CheckResult:
    d = get("assoc.any_calling_aet")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    calling, attempt = ctx.random_calling()
    evidence = {"association": attempt.to_evidence(), "random_calling_aet": calling}
    if attempt.outcome is Outcome.ACCEPTED:
        return d.result(
            Status.FAIL, f"association accepted from the random calling AE title {calling!r}", evidence=evidence
        )
    return verdict_for_refusal(
        ctx, d, attempt, f"random calling AE title {calling!r} refused", evidence={"random_calling_aet": calling}
    )
