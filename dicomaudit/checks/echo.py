"""``echo.unauthenticated``: does C-ECHO (PS3.4 Annex A) from an unregistered AE succeed?"""

from __future__ import annotations

from typing import Any

from pynetdicom.sop_class import Verification

from dicomaudit.checks.association import verdict_for_refusal
from dicomaudit.checks.base import ProbeContext, check, undecided_operation
from dicomaudit.checks.catalogue import get
from dicomaudit.models import CheckResult, Status
from dicomaudit.net import association as net
from dicomaudit.net.outcome import Outcome


@check("echo.unauthenticated")
def echo_unauthenticated(ctx: ProbeContext) -> CheckResult:
    d = get("echo.unauthenticated")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    calling = ctx.unregistered_aet
    with ctx.associate([Verification], calling_aet=calling) as session:
        attempt = session.attempt
        evidence: dict[str, Any] = {"association": attempt.to_evidence()}
        if attempt.outcome is not Outcome.ACCEPTED:
            return verdict_for_refusal(ctx, d, attempt, f"C-ECHO from unregistered AE {calling!r} impossible")
        if not session.accepted(Verification):
            return d.result(
                Status.PASS,
                "association accepted but the Verification SOP Class was refused",
                evidence=evidence,
                enforced="Verification service not offered to this AE",
            )
        reply = net.echo(session, Verification)
    evidence["c_echo"] = reply.to_evidence()
    if reply.failure is not None:
        return undecided_operation(d, "C-ECHO", reply.failure, evidence)
    if reply.abort is not None:
        return d.result(
            Status.PASS,
            "the node aborted the association instead of answering C-ECHO",
            evidence=evidence,
            enforced="association aborted by the node",
        )
    assert reply.status is not None
    if reply.status == 0x0000:
        return d.result(
            Status.FAIL, f"C-ECHO from unregistered AE {calling!r} succeeded (status 0x0000)", evidence=evidence
        )
    return d.result(
        Status.PASS,
        f"C-ECHO refused with status 0x{reply.status:04X}",
        evidence=evidence,
        enforced="C-ECHO refused by status",
    )
