"""``echo.unauthenticated``: does C-ECHO (PS3.4 Annex A) from an unregistered AE succeed?"""

from __future__ import annotations

from typing import Any

from pynetdicom.sop_class import Verification

from dicomaudit.checks.base import (
    ProbeContext,
    aborted_by_node,
    check,
    refused_before_operation,
    undecided_operation,
)
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Status
from dicomaudit.net import association as net


@check("echo.unauthenticated")
def echo_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.unregistered_aet
    with ctx.associate([Verification], calling_aet=calling) as session:
        what = f"C-ECHO from unregistered AE {calling!r} impossible"
        if (refused := refused_before_operation(ctx, d, session, [Verification], what)) is not None:
            return refused
        evidence: dict[str, Any] = {"association": session.attempt.to_evidence()}
        reply = net.echo(session, Verification)
    evidence["c_echo"] = reply.to_evidence()
    if reply.failure is not None:
        return undecided_operation(d, "C-ECHO", reply.failure, evidence)
    if reply.abort is not None:
        return aborted_by_node(d, "C-ECHO", evidence)
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
