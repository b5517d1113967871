"""``assoc.any_called_aet`` and ``assoc.any_calling_aet``: does the node check AE titles?

Each question gets its own association with exactly one random title, so a
rejection can be attributed: PS3.8 Table 9-21 distinguishes "called AE
title not recognised" (reason 7) from "calling AE title not recognised"
(reason 3), and so do we.
"""

from __future__ import annotations

from pynetdicom.sop_class import Verification

from dicomaudit.checks.base import ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition, get
from dicomaudit.models import CheckResult, Status
from dicomaudit.net.association import associate
from dicomaudit.net.identity import random_aet
from dicomaudit.net.outcome import AssociationAttempt, Outcome


def _attempt(ctx: ProbeContext, calling: str, called: str) -> AssociationAttempt:
    with associate(ctx.target.host, ctx.target.port, calling_aet=calling, called_aet=called,
                   abstract_syntaxes=[Verification], timeout=ctx.settings.timeout,
                   transport=ctx.transport, tls=ctx.settings.tls) as session:
        return session.attempt


AMBIGUOUS_CALLED_AET_REASON = (
    "peer check: rejected as 'called AE title not recognised' although the target's own AE title was used "
    "(DCMTK's dcmqrscp reports an unregistered calling AE or host this way; if the AE title given for the "
    "target is wrong, give the right one)"
)


def verdict_for_refusal(d: CheckDefinition, attempt: AssociationAttempt, what: str,
                        *, called_is_targets: bool = True) -> CheckResult:
    """Turn an association that was *not* accepted into pass or error.

    A rejection or an A-ABORT from the node is a refusal (``pass``); a
    connection that just closed is too, since nothing was accepted; a timeout
    or an unreachable node decides nothing (``error``).  ``called_is_targets``
    says the request used the target's own AE title, which makes a "called AE
    title not recognised" rejection ambiguous (see GROUND_TRUTH for DCMTK).
    """
    evidence = {"association": attempt.to_evidence()}
    if attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED, Outcome.CLOSED):
        control = attempt.enforced_control or "connection closed without accepting"
        rej = attempt.rejection
        if called_is_targets and rej is not None and (rej.source, rej.reason) == (1, 7):
            control = AMBIGUOUS_CALLED_AET_REASON
        return d.result(Status.PASS, f"{what}: association {attempt.describe()}", evidence=evidence,
                        enforced=control)
    return d.result(Status.ERROR, f"undecided: association {attempt.describe()}",
                    reason=attempt.detail or attempt.outcome.value, evidence=evidence)


@check("assoc.any_called_aet")
def any_called_aet(ctx: ProbeContext) -> CheckResult:
    d = get("assoc.any_called_aet")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    called = random_aet()
    attempt = _attempt(ctx, ctx.settings.calling_aet, called)
    evidence = {"association": attempt.to_evidence(), "random_called_aet": called}
    if attempt.outcome is Outcome.ACCEPTED:
        return d.result(Status.FAIL, f"association accepted for the random called AE title {called!r}",
                        evidence=evidence)
    result = verdict_for_refusal(d, attempt, f"random called AE title {called!r} refused", called_is_targets=False)
    rej = attempt.rejection
    if result.status is Status.PASS and rej is not None and (rej.source, rej.reason) == (1, 3):
        # The node refused our calling AE first: the called-AE check itself was not observable.
        return d.result(Status.PASS,
                        f"refused, by the calling AE title allow-list: {attempt.describe()} (whether the called "
                        "AE title is also checked cannot be seen from an unregistered AE)",
                        evidence=evidence, enforced=rej.control)
    return d.result(result.status, result.summary, evidence=evidence, enforced=result.enforced, reason=result.reason)


@check("assoc.any_calling_aet")
def any_calling_aet(ctx: ProbeContext) -> CheckResult:
    d = get("assoc.any_calling_aet")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    calling = random_aet()
    attempt = _attempt(ctx, calling, ctx.called_aet)
    evidence = {"association": attempt.to_evidence(), "random_calling_aet": calling}
    if attempt.outcome is Outcome.ACCEPTED:
        return d.result(Status.FAIL, f"association accepted from the random calling AE title {calling!r}",
                        evidence=evidence)
    if (inconclusive := ctx.inconclusive_called_aet(d, attempt)) is not None:
        return inconclusive
    result = verdict_for_refusal(d, attempt, f"random calling AE title {calling!r} refused")
    return d.result(result.status, result.summary, evidence=evidence, enforced=result.enforced, reason=result.reason)
