"""``dicom.service`` and ``transport.plaintext``: what answers on the port, and how."""

from __future__ import annotations

from typing import Any

from dicomaudit.checks.base import ProbeContext, check, service_problem
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, ErrorReason, Status
from dicomaudit.net.outcome import Outcome, Transport


def _service_evidence(ctx: ProbeContext) -> dict[str, Any]:
    svc = ctx.service
    evidence: dict[str, Any] = {}
    if svc.plaintext is not None:
        evidence["plaintext"] = svc.plaintext.to_evidence()
    if svc.tls is not None:
        evidence["tls"] = svc.tls.to_evidence()
    if ctx.called_aet_guess is not None:
        evidence["called_aet_guess"] = ctx.called_aet_guess.to_evidence()
    elif not ctx.called_aet_known:
        evidence["note"] = f"no AE title given for the target; the placeholder {ctx.called_aet!r} was used"
    return evidence


def _service_error(ctx: ProbeContext, d: CheckDefinition, evidence: dict[str, Any], prefix: str = "") -> CheckResult:
    """The port could not be assessed: unreachable, silent, not (well-formed) DICOM, TLS failure."""
    svc = ctx.service
    if not svc.reachable:
        summary, code = f"unreachable: {svc.error}", svc.error_code or ErrorReason.CONNECTIVITY
    else:
        summary, code = service_problem(svc), svc.error_code or ErrorReason.PROTOCOL_VIOLATION
    return d.result(Status.ERROR, prefix + summary, reason=svc.error, evidence=evidence, code=code)


@check("dicom.service", needs_association=False)
def dicom_service(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    svc = ctx.service
    evidence = _service_evidence(ctx)
    if not svc.reachable or svc.transport is None:
        return _service_error(ctx, d, evidence)
    attempt = svc.usable_attempt
    assert attempt is not None
    impl = attempt.peer_implementation_version_name or attempt.peer_implementation_class_uid
    impl_text = f"; implementation {impl}" if impl else ""
    if svc.transport is Transport.PLAINTEXT:
        summary = f"speaks DICOM in plaintext: A-ASSOCIATE-RQ {attempt.describe()}{impl_text}"
    elif attempt.outcome.speaks_dicom:
        summary = (
            f"speaks DICOM over TLS ({attempt.tls.version if attempt.tls else 'TLS'}): {attempt.describe()}{impl_text}"
        )
    elif svc.error_code is None:
        summary = f"speaks TLS; no DICOM exchange possible without credentials: {attempt.describe()}"
    else:
        return d.result(
            Status.ERROR,
            f"speaks TLS, but the TLS session failed: {attempt.describe()}",
            reason=svc.error,
            evidence=evidence,
            code=svc.error_code,
        )
    guess = ctx.called_aet_guess
    if guess is not None:
        summary += (
            f"; called AE title found by guessing: {guess.found!r}"
            if guess.found is not None
            else f"; called AE title unknown ({len(guess.tried)} title(s) tried with --guess-aet)"
        )
    return d.result(Status.INFO, summary, evidence=evidence, enforced=ctx.refusal_control(attempt))


@check("transport.plaintext", needs_association=False)
def transport_plaintext(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    svc = ctx.service
    evidence = _service_evidence(ctx)
    if not svc.reachable:
        return _service_error(ctx, d, evidence, "not checked: ")
    if svc.transport is Transport.PLAINTEXT:
        assert svc.plaintext is not None
        return d.result(
            Status.FAIL,
            f"DICOM is spoken without TLS: a plaintext A-ASSOCIATE-RQ was {svc.plaintext.describe()}",
            evidence=evidence,
        )
    if svc.transport is Transport.TLS and svc.error_code is None:
        plain = svc.plaintext
        how = plain.describe() if plain is not None else "not attempted"
        if plain is not None and plain.outcome is Outcome.TLS:
            how = "answered with a TLS record"
        return d.result(
            Status.PASS,
            f"only TLS is spoken: a plaintext A-ASSOCIATE-RQ was {how}",
            evidence=evidence,
            enforced="TLS required",
        )
    return _service_error(ctx, d, evidence, "not checked: ")
