"""How well an endpoint speaks TLS: protocol versions, cipher suites, certificate, client authentication.

The ``tls.*`` checks do not hand-roll handshakes: sslyze (with its own
OpenSSL builds, which still speak SSL 2/3 and the legacy suites a modern
OpenSSL refuses to offer) enumerates what the server accepts, one scan per
TLS endpoint, shared by the four checks.  The same scan serves a DICOM TLS
port (PS3.15 Annex B) and an HTTPS web endpoint: TLS is spoken from the first
byte on both.

Bounds: every connection sslyze makes waits at most the step timeout
(``network_timeout``, no retries), at most five connections at a time; the
scan is not started when the target's budget is already spent.  The report
keeps only facts (names, sizes, dates, fingerprints), never the server's
answers themselves.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomaudit.models import ErrorReason
from dicomaudit.net.wire import Budget

#: The protocol versions sslyze is asked about, oldest first, with the name used in evidence.
VERSIONS = (
    ("ssl_2_0_cipher_suites", "SSL 2.0"),
    ("ssl_3_0_cipher_suites", "SSL 3.0"),
    ("tls_1_0_cipher_suites", "TLS 1.0"),
    ("tls_1_1_cipher_suites", "TLS 1.1"),
    ("tls_1_2_cipher_suites", "TLS 1.2"),
    ("tls_1_3_cipher_suites", "TLS 1.3"),
)
#: Versions whose acceptance is a finding (BCP 195 / RFC 8996: SSL 2/3, TLS 1.0 and 1.1 must not be used).
LEGACY_VERSIONS = frozenset({"SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1"})
_SCAN_LOCK = threading.Lock()  # sslyze's import and its trust store set-up are not thread-safe the first time


def weak_reasons(name: str, key_size: int, anonymous: bool) -> list[str]:
    """Why a cipher suite is weak (empty: not weak): NULL, anonymous, export, RC4, DES/3DES, MD5, < 112-bit keys."""
    upper = name.upper()
    reasons = []
    if "NULL" in upper or key_size == 0:
        reasons.append("NULL encryption")
    if anonymous or "_ANON_" in upper or "ADH" in upper or "AECDH" in upper:
        reasons.append("anonymous (no server authentication)")
    if "EXPORT" in upper or "EXP-" in upper:
        reasons.append("export grade")
    if "RC4" in upper:
        reasons.append("RC4")
    if "3DES" in upper or "DES_EDE" in upper or "DES-CBC3" in upper:
        reasons.append("3DES (64-bit block)")
    elif "_DES_" in upper or "DES40" in upper or "DES-CBC" in upper:
        reasons.append("DES")
    if upper.endswith("_MD5") or upper.endswith("-MD5"):
        reasons.append("MD5 MAC")
    if 0 < key_size < 112 and not reasons:
        reasons.append(f"{key_size}-bit key")
    return reasons


@dataclass(frozen=True)
class SuiteInfo:
    name: str
    key_size: int
    weak: tuple[str, ...] = ()

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "key_size": self.key_size}
        if self.weak:
            d["weak"] = list(self.weak)
        return d


@dataclass(frozen=True)
class CertificateInfo:
    """The leaf certificate and what was judged of it."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    key: str  # e.g. "RSA 2048", "EC secp256r1"
    rsa_bits: int | None
    signature_hash: str | None
    sha256: str
    names: tuple[str, ...]  # subjectAltName DNS names and IP addresses (or the CN when there is none)
    self_signed: bool
    chain_length: int
    trusted_by_ca_bundle: bool | None  # None: no --ca-bundle given
    ca_bundle_error: str | None = None

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "key": self.key,
            "signature_hash": self.signature_hash,
            "sha256": self.sha256,
            "names": list(self.names),
            "self_signed": self.self_signed,
            "chain_length": self.chain_length,
        }
        if self.trusted_by_ca_bundle is not None:
            d["trusted_by_ca_bundle"] = self.trusted_by_ca_bundle
        if self.ca_bundle_error:
            d["ca_bundle_error"] = self.ca_bundle_error
        return d


@dataclass(frozen=True)
class TlsReport:
    """What sslyze found on one TLS endpoint (or why it could not say)."""

    host: str
    port: int
    accepted: Mapping[str, tuple[SuiteInfo, ...]] = field(default_factory=dict)  # version -> accepted suites
    version_errors: Mapping[str, str] = field(default_factory=dict)  # version -> why it was not decided
    certificate: CertificateInfo | None = None
    certificate_error: str | None = None
    client_auth: str | None = None  # "required", "optional", "disabled"
    error: str | None = None
    error_code: ErrorReason | None = None
    elapsed_ms: float = 0.0
    anonymous_only: bool = False  # sslyze could not connect; a handshake offering only anonymous suites succeeded

    @property
    def versions_accepted(self) -> list[str]:
        return [v for _, v in VERSIONS if self.accepted.get(v)]

    def weak_suites(self) -> dict[str, list[SuiteInfo]]:
        return {v: [s for s in suites if s.weak] for v, suites in self.accepted.items() if any(s.weak for s in suites)}

    def versions_evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _, v in VERSIONS:
            if v in self.version_errors:
                out[v] = f"not decided: {self.version_errors[v]}"
            else:
                n = len(self.accepted.get(v, ()))
                out[v] = f"accepted ({n} cipher suite(s))" if n else "refused"
        return out


def _key_description(cert: Any) -> tuple[str, int | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", None
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}", None
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return type(key).__name__.replace("PublicKey", ""), None
    return type(key).__name__, None


def _names(cert: Any) -> tuple[str, ...]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        if names:
            return tuple(names)
    except x509.ExtensionNotFound:
        pass
    return tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))


def name_matches(host: str, names: tuple[str, ...]) -> bool:
    """Does ``host`` (an address or a DNS name) match one of the certificate's names (RFC 6125, left-most wildcard)?"""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for name in names:
        if address is not None:
            try:
                if ipaddress.ip_address(name) == address:
                    return True
            except ValueError:
                continue
            continue
        pattern, wanted = name.lower().rstrip("."), host.lower().rstrip(".")
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def chains_to(chain: list[Any], ca_bundle: Path) -> tuple[bool, str | None]:
    """Does the received chain lead, signature by signature, to a certificate of ``ca_bundle``?

    The path follows issuer names and checks each signature
    (``verify_directly_issued_by``); dates are judged apart.  Returns
    ``(trusted, why not)``.
    """
    from cryptography import x509

    try:
        anchors = x509.load_pem_x509_certificates(ca_bundle.read_bytes())
    except (OSError, ValueError) as exc:
        return False, f"the CA bundle could not be read: {exc}"
    pool = list(chain[1:]) + anchors
    current = chain[0]
    for _ in range(8):
        if any(current == a for a in anchors):
            return True, None
        issuers = [c for c in pool if c.subject == current.issuer and c is not current]
        for issuer in issuers:
            try:
                current.verify_directly_issued_by(issuer)
            except Exception:  # noqa: BLE001 - a wrong signature or an unsupported algorithm: not this issuer
                continue
            if any(issuer == a for a in anchors):
                return True, None
            current = issuer
            break
        else:
            return False, f"no certificate of the bundle issued {current.issuer.rfc4514_string()}"
    return False, "the chain is longer than 8 certificates"


def _certificate(deployment: Any, ca_bundle: Path | None) -> CertificateInfo:
    from cryptography.hazmat.primitives import serialization

    chain = deployment.received_certificate_chain
    leaf = chain[0]
    der = leaf.public_bytes(serialization.Encoding.DER)
    key, bits = _key_description(leaf)
    try:
        sig = leaf.signature_hash_algorithm.name if leaf.signature_hash_algorithm is not None else None
    except Exception:  # noqa: BLE001 - an algorithm cryptography does not know
        sig = "unknown"
    trusted: bool | None = None
    error: str | None = None
    if ca_bundle is not None:
        trusted, error = chains_to(chain, ca_bundle)
        custom = [r for r in deployment.path_validation_results if Path(r.trust_store.path) == ca_bundle]
        if trusted and custom and not custom[0].was_validation_successful:
            # Signatures chain to the bundle, but a strict RFC 5280 validator (cryptography's) refuses the path,
            # e.g. a certificate without an Authority Key Identifier: worth knowing, not a broken chain.
            error = f"chains by signature; a strict RFC 5280 validation refuses it: {custom[0].validation_error}"
    return CertificateInfo(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=leaf.not_valid_after_utc.isoformat(),
        key=key,
        rsa_bits=bits,
        signature_hash=sig,
        sha256=hashlib.sha256(der).hexdigest(),
        names=_names(leaf),
        self_signed=leaf.subject == leaf.issuer,
        chain_length=len(chain),
        trusted_by_ca_bundle=trusted,
        ca_bundle_error=error,
    )


def scan_tls(
    host: str,
    port: int,
    budget: Budget,
    *,
    server_name: str | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    ca_bundle: Path | None = None,
) -> TlsReport:
    """Enumerate versions, suites and the certificate of the TLS endpoint at ``host:port`` (sslyze)."""
    from sslyze import (
        ClientAuthenticationCredentials,
        ScanCommand,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
        ServerScanStatusEnum,
    )
    from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
    from sslyze.scanner.models import ScanCommandsExtraArguments

    started = time.monotonic()
    if budget.expired:
        why = budget.exhausted()
        return TlsReport(host, port, error=why.text, error_code=why.code)
    remaining = max(1.0, budget.deadline - time.monotonic())
    timeout = max(1, int(min(budget.step, remaining)))
    credentials = (
        ClientAuthenticationCredentials(certificate_chain_path=client_cert, key_path=client_key)
        if client_cert is not None and client_key is not None
        else None
    )
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_bundle) if ca_bundle is not None else None
    )
    commands = {getattr(ScanCommand, attr.upper()) for attr, _ in VERSIONS} | {ScanCommand.CERTIFICATE_INFO}
    with _SCAN_LOCK:
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(
                hostname=server_name or host, port=port, ip_address=_ip_or_none(host)
            ),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=server_name or host,
                tls_client_auth_credentials=credentials,
                network_timeout=timeout,
                network_max_retries=0,
            ),
            scan_commands=commands,
            scan_commands_extra_arguments=extra,
        )
        scanner = Scanner(per_server_concurrent_connections_limit=5, concurrent_server_scans_limit=1)
    scanner.queue_scans([request])
    result = list(scanner.get_results())[0]  # exhausted, so sslyze's producer thread ends
    elapsed = (time.monotonic() - started) * 1000
    if result.scan_status is not ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        trace = result.connectivity_error_trace
        text = f"sslyze could not connect: {trace.exc_type.__name__}: {trace}" if trace else "sslyze could not connect"
        # sslyze's connectivity test offers no anonymous suites: a server that speaks nothing else looks dead to it.
        anonymous = _anonymous_handshake(host, port, float(timeout))
        if anonymous is not None:
            version, suite = anonymous
            return TlsReport(
                host,
                port,
                accepted={version: (suite,)},
                version_errors={v: "not tested (sslyze could not connect)" for _, v in VERSIONS if v != version},
                certificate_error="no certificate: the endpoint negotiated an anonymous cipher suite",
                anonymous_only=True,
                elapsed_ms=(time.monotonic() - started) * 1000,
            )
        code = ErrorReason.TIMEOUT if trace and "timed out" in str(trace).lower() else ErrorReason.TLS
        return TlsReport(host, port, error=text[:500], error_code=code, elapsed_ms=elapsed)
    scan = result.scan_result
    accepted: dict[str, tuple[SuiteInfo, ...]] = {}
    errors: dict[str, str] = {}
    for attr, version in VERSIONS:
        attempt = getattr(scan, attr)
        if attempt.result is None:
            errors[version] = str(attempt.error_reason.value if attempt.error_reason else "no result")
            continue
        accepted[version] = tuple(
            SuiteInfo(
                s.cipher_suite.name,
                s.cipher_suite.key_size,
                tuple(weak_reasons(s.cipher_suite.name, s.cipher_suite.key_size, s.cipher_suite.is_anonymous)),
            )
            for s in attempt.result.accepted_cipher_suites
        )
    certificate: CertificateInfo | None = None
    cert_error: str | None = None
    info = scan.certificate_info
    if info.result is not None and info.result.certificate_deployments:
        try:
            certificate = _certificate(info.result.certificate_deployments[0], ca_bundle)
        except Exception as exc:  # noqa: BLE001 - a certificate cryptography cannot read is evidence, not a crash
            cert_error = f"the certificate could not be read: {exc}"
    else:
        cert_error = str(info.error_reason.value if info.error_reason else "no certificate received")
    client_auth = None
    if result.connectivity_result is not None:
        client_auth = result.connectivity_result.client_auth_requirement.name.lower()
    return TlsReport(
        host,
        port,
        accepted=accepted,
        version_errors=errors,
        certificate=certificate,
        certificate_error=cert_error,
        client_auth=client_auth,
        elapsed_ms=elapsed,
    )


def _ip_or_none(host: str) -> str | None:
    """The address to connect to when ``host`` is one (sslyze resolves a name itself)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


_OPENSSL_VERSIONS = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}


def _anonymous_handshake(host: str, port: int, timeout: float) -> tuple[str, SuiteInfo] | None:
    """One handshake offering only anonymous suites (Python's OpenSSL at security level 0): what it agreed on."""
    import socket
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 has no anonymous suites (nor does 1.0/1.1 here)
        context.set_ciphers("aNULL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw) as tls:
                cipher = tls.cipher()
                version = tls.version()
    except (OSError, ssl.SSLError):
        return None
    if cipher is None or version is None:
        return None
    name, _, bits = cipher
    label = _OPENSSL_VERSIONS.get(version, version)
    return label, SuiteInfo(name, bits, tuple(weak_reasons(name, bits, anonymous=True)))
