"""The TLS quality checks: versions, cipher suites, certificate, client authentication.

They run on every endpoint that speaks TLS: a DICOM port whose service probe
found TLS (PS3.15 Annex B), and an ``https://`` web endpoint.  One sslyze
scan per endpoint (:func:`dicomaudit.net.tlsscan.scan_tls`, memoised in the
context) answers all four.  A plaintext endpoint is ``skipped`` (its
transport is judged by ``transport.plaintext`` / ``web.plaintext``); an
endpoint that could not be reached is ``error`` like every other check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dicomaudit.checks.base import NO_TLS, NO_TLS_ANSWER, Endpoint, ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, ErrorReason, Status
from dicomaudit.net.outcome import Outcome, Transport
from dicomaudit.net.tlsscan import LEGACY_VERSIONS, TlsReport, name_matches, scan_tls

#: Smallest RSA key a certificate may have (NIST SP 800-131A: 2048 bits since 2014).
MIN_RSA_BITS = 2048
WEAK_SIGNATURE_HASHES = frozenset({"sha1", "md5", "md2"})


def _transport(ctx: ProbeContext) -> Transport | None:
    """The endpoint's transport as its first contact found it (``None``: it did not answer)."""
    if ctx.target.is_web:
        return ctx.web_observation.transport if ctx.web_observation is not None else None
    return ctx.service.transport


def _ca_bundle(ctx: ProbeContext) -> Path | None:
    return ctx.settings.web.ca_bundle or ctx.settings.tls.ca_file


def _report(ctx: ProbeContext) -> TlsReport:
    def scan() -> TlsReport:
        # No client certificate is presented, even with --tls-cert: sslyze reads a suite as accepted once the
        # server hello arrives, and only an anonymous handshake shows whether a certificate is required.
        return scan_tls(ctx.target.host, ctx.target.port, ctx.budget, ca_bundle=_ca_bundle(ctx))

    return ctx.memo("tls_scan", scan)


def _precondition(ctx: ProbeContext, d: CheckDefinition) -> CheckResult | TlsReport:
    """The sslyze report, or the result when there is nothing to scan or the scan failed."""
    transport = _transport(ctx)
    if transport is None:
        # Whether the endpoint answers at all is dicom.service's / web.service's question (an error there).
        return d.result(Status.SKIPPED, NO_TLS_ANSWER, reason=ctx.service.error or "no answer from the endpoint")
    if ctx.budget.expired:
        why = ctx.budget.exhausted()
        return d.result(Status.ERROR, f"not checked: {why.text}", reason=why.text, code=why.code)
    attempt = None if ctx.target.is_web else ctx.service.tls
    if (
        attempt is not None
        and attempt.outcome is Outcome.TLS_FAILED
        and not (attempt.tls is not None and attempt.tls.client_certificate_required)
    ):
        # The service probe's own handshake failed (not for want of a client certificate): nothing to grade.
        return d.result(
            Status.ERROR,
            "undecided: the TLS session could not be established",
            reason=attempt.detail or "TLS failed",
            code=ErrorReason.TLS,
            evidence={"tls": attempt.to_evidence()},
        )
    if transport is not Transport.TLS:
        return d.result(Status.SKIPPED, NO_TLS, reason="plaintext endpoint (see transport.plaintext / web.plaintext)")
    report = _report(ctx)
    if report.error is not None:
        return d.result(
            Status.ERROR,
            f"undecided: the TLS scan failed: {report.error}",
            reason=report.error,
            code=report.error_code or ErrorReason.TLS,
            evidence={"scan": {"host": report.host, "port": report.port, "elapsed_ms": round(report.elapsed_ms, 1)}},
        )
    return report


@check("tls.protocols", endpoint=Endpoint.TLS, needs_association=False)
def tls_protocols(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """SSL 2/3 or TLS 1.0/1.1 accepted is a fail; TLS 1.2/1.3 only a pass."""
    report = _precondition(ctx, d)
    if isinstance(report, CheckResult):
        return report
    evidence: dict[str, Any] = {"versions": report.versions_evidence(), "scan_ms": round(report.elapsed_ms, 1)}
    accepted = report.versions_accepted
    legacy = [v for v in accepted if v in LEGACY_VERSIONS]
    if legacy:
        return d.result(Status.FAIL, f"legacy protocol version(s) accepted: {', '.join(legacy)}", evidence=evidence)
    if report.version_errors and not accepted:
        why = "; ".join(f"{v}: {e}" for v, e in report.version_errors.items())
        return d.result(Status.ERROR, f"undecided: {why}", reason=why, code=ErrorReason.TLS, evidence=evidence)
    if not accepted:
        return d.result(
            Status.ERROR,
            "inconclusive: no protocol version was accepted with any cipher suite",
            reason="no version accepted",
            code=ErrorReason.INCONCLUSIVE,
            evidence=evidence,
        )
    if undecided := [v for v in report.version_errors if v in LEGACY_VERSIONS]:
        reason = "; ".join(f"{v}: {report.version_errors[v]}" for v in undecided)
        return d.result(Status.ERROR, f"undecided: {reason}", reason=reason, code=ErrorReason.TLS, evidence=evidence)
    return d.result(
        Status.PASS, f"only {' and '.join(accepted)} accepted", evidence=evidence, enforced="TLS 1.2 or later only"
    )


@check("tls.ciphers", endpoint=Endpoint.TLS, needs_association=False)
def tls_ciphers(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Any NULL, anonymous, export, RC4, DES/3DES or MD5 suite accepted is a fail; the evidence lists them."""
    report = _precondition(ctx, d)
    if isinstance(report, CheckResult):
        return report
    weak = report.weak_suites()
    evidence: dict[str, Any] = {
        "accepted": {v: [s.to_evidence() for s in suites] for v, suites in report.accepted.items() if suites},
    }
    if report.version_errors:
        evidence["not_decided"] = dict(report.version_errors)
    if weak:
        names = sorted({f"{s.name} ({', '.join(s.weak)})" for suites in weak.values() for s in suites})
        evidence["weak"] = {v: [s.name for s in suites] for v, suites in weak.items()}
        return d.result(
            Status.FAIL, f"{len(names)} weak cipher suite(s) accepted: {'; '.join(names)}", evidence=evidence
        )
    total = sum(len(s) for s in report.accepted.values())
    if not total:
        return d.result(
            Status.ERROR,
            "inconclusive: no cipher suite was accepted",
            reason="no suite accepted",
            code=ErrorReason.INCONCLUSIVE,
            evidence=evidence,
        )
    return d.result(
        Status.PASS, f"{total} cipher suite(s) accepted, none weak", evidence=evidence, enforced="no weak suites"
    )


@check("tls.certificate", endpoint=Endpoint.TLS, needs_association=False)
def tls_certificate(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Expired, not yet valid, self-signed, untrusted by --ca-bundle, RSA < 2048, SHA-1, wrong name: fail with the reasons."""
    report = _precondition(ctx, d)
    if isinstance(report, CheckResult):
        return report
    cert = report.certificate
    if cert is None and report.anonymous_only:
        return d.result(
            Status.FAIL,
            "certificate: none; the endpoint negotiates anonymous TLS (no server authentication)",
            evidence={"accepted": report.versions_evidence()},
        )
    if cert is None:
        reason = report.certificate_error or "no certificate received"
        return d.result(Status.ERROR, f"undecided: {reason}", reason=reason, code=ErrorReason.TLS)
    now = datetime.now(UTC)
    problems = []
    if datetime.fromisoformat(cert.not_after) < now:
        problems.append(f"expired on {cert.not_after[:10]}")
    if datetime.fromisoformat(cert.not_before) > now:
        problems.append(f"not valid before {cert.not_before[:10]}")
    if cert.self_signed:
        problems.append("self-signed")
    ca = _ca_bundle(ctx)
    if cert.trusted_by_ca_bundle is False:
        problems.append(
            f"does not chain to --ca-bundle {ca.name if ca else ''} ({cert.ca_bundle_error or 'untrusted'})"
        )
    if cert.rsa_bits is not None and cert.rsa_bits < MIN_RSA_BITS:
        problems.append(f"RSA key of {cert.rsa_bits} bits (< {MIN_RSA_BITS})")
    if cert.signature_hash in WEAK_SIGNATURE_HASHES:
        problems.append(f"signed with {cert.signature_hash.upper()}")
    host = ctx.target.host
    if not name_matches(host, cert.names):
        problems.append(f"issued for {', '.join(cert.names) or 'no name'}, not for {host}")
    evidence: dict[str, Any] = {"certificate": cert.to_evidence(), "checked_name": host}
    if ca is not None:
        evidence["ca_bundle"] = str(ca)
    if problems:
        return d.result(Status.FAIL, "certificate: " + "; ".join(problems), evidence=evidence)
    trust = f", chains to {ca.name}" if ca is not None and cert.trusted_by_ca_bundle else ""
    return d.result(
        Status.PASS,
        f"certificate valid until {cert.not_after[:10]}, {cert.key}, {cert.signature_hash}, issued for {host}{trust}",
        evidence=evidence,
        enforced="valid certificate",
    )


@check("tls.client_auth", endpoint=Endpoint.TLS, needs_association=False)
def tls_client_auth(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    """Whether a client certificate is required, optional or not asked for (``info``)."""
    report = _precondition(ctx, d)
    if isinstance(report, CheckResult):
        return report
    evidence: dict[str, Any] = {"client_auth": report.client_auth}
    attempt = ctx.service.tls
    if attempt is not None and attempt.tls is not None:
        evidence["service_probe"] = attempt.to_evidence()
    text = {
        "required": "a client certificate is required: only peers with a certificate the node trusts can connect",
        "optional": "a client certificate is asked for but not required",
        "disabled": "no client certificate is asked for: any peer can complete the TLS handshake",
    }.get(report.client_auth or "", "the client certificate requirement could not be determined")
    return d.result(Status.INFO, text, evidence=evidence)
