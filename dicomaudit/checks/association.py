"""``assoc.any_called_aet`` and ``assoc.any_calling_aet``: does the node check AE titles?

Each question gets its own association with exactly one random title, so a
rejection can be attributed: PS3.8 Table 9-21 distinguishes "called AE
title not recognised" (reason 7) from "calling AE title not recognised"
(reason 3), and so do we.
"""

from __future__ import annotations

from pynetdicom.sop_class import Verification

from dicomaudit.checks.base import ProbeContext, check, verdict_for_refusal
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Status
from dicomaudit.net.identity import random_aet
from dicomaudit.net.outcome import AssociationAttempt, Outcome


def _attempt(ctx: ProbeContext, calling: str, called: str) -> AssociationAttempt:
    with ctx.associate([Verification], calling_aet=calling, called_aet=called) as session:
        return session.attempt


@check("assoc.any_called_aet")
def any_called_aet(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
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
def any_calling_aet(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling, attempt = ctx.random_calling()
    evidence = {"association": attempt.to_evidence(), "random_calling_aet": calling}
    if attempt.outcome is Outcome.ACCEPTED:
        return d.result(
            Status.FAIL, f"association accepted from the random calling AE title {calling!r}", evidence=evidence
        )
    return verdict_for_refusal(
        ctx, d, attempt, f"random calling AE title {calling!r} refused", evidence={"random_calling_aet": calling}
    )
