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
from dicomaudit.fleet.aetitles import CALLING_DEFAULTS, candidates, pause_between
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


@check("assoc.guessable_calling_aet")
def guessable_calling_aet(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Only with ``--guess-aet``: does the calling AE allow-list admit a tool or product default title?"""
    settings = ctx.settings
    if not settings.guess_aet:
        return d.result(
            Status.SKIPPED, "not requested: needs --guess-aet", reason="guessing AE titles needs --guess-aet"
        )
    calling, random_attempt = ctx.random_calling()
    if random_attempt.outcome is Outcome.ACCEPTED:
        return d.result(
            Status.SKIPPED,
            "not applicable: any calling AE title is accepted (see assoc.any_calling_aet)",
            reason="no calling AE title allow-list to guess past",
            evidence={"random_calling_aet": calling, "association": random_attempt.to_evidence()},
        )
    if random_attempt.outcome not in (Outcome.REJECTED, Outcome.ABORTED):
        return ctx.undecided(d, random_attempt, {"random_calling_aet": calling})
    if (inconclusive := ctx.inconclusive_called_aet(d, random_attempt)) is not None:
        return inconclusive
    tried: list[dict[str, str]] = []
    pause = settings.guess_pause
    # ``tried`` grows in the loop; each result freezes the evidence as it stands when it is made.
    evidence = {
        "random_calling_aet": calling,
        "random_calling_outcome": random_attempt.describe(),
        "tried": tried,
        "limit": settings.guess_limit,
        "pause_s": pause,
    }
    for i, candidate in enumerate(candidates(CALLING_DEFAULTS, (), settings.guess_limit, skip=(settings.calling_aet,))):
        if i and pause_between(ctx.budget, pause):
            break
        attempt = _attempt(ctx, candidate.aet, ctx.called_aet)
        tried.append({"aet": candidate.aet, "source": candidate.source, "outcome": attempt.describe()})
        if attempt.outcome is Outcome.ACCEPTED:
            return d.result(
                Status.FAIL,
                f"the allow-list refuses a random calling AE title but admits {candidate.aet!r} ({candidate.source})",
                evidence={**evidence, "admitted": candidate.aet, "association": attempt.to_evidence()},
            )
        if attempt.outcome not in (Outcome.REJECTED, Outcome.ABORTED):
            return ctx.undecided(d, attempt, evidence)
    if ctx.budget.stopped:
        why = ctx.budget.exhausted()
        return d.result(Status.ERROR, f"undecided: {why.text}", reason=why.text, code=why.code, evidence=evidence)
    return d.result(
        Status.PASS,
        f"none of the {len(tried)} default calling AE titles tried was admitted",
        evidence=evidence,
        enforced=random_attempt.enforced_control,
    )
