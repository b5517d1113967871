"""TLS client settings and certificate description.

The scanner audits; it does not trust.  By default it does not verify the
node's certificate (a self-signed or expired certificate must not stop the
audit, it is itself a finding for later checks) and records what it saw.  An
operator can hand it a client certificate (``--tls-cert``/``--tls-key``) to
test what a node offers to an authenticated peer.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TlsSettings:
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    verify_server: bool = False

    @property
    def has_client_certificate(self) -> bool:
        return self.client_cert is not None

    def client_context(self) -> ssl.SSLContext:
        """A client-side context for both the raw probe and pynetdicom's ``tls_args``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify_server:
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            if self.ca_file:
                context.load_verify_locations(cafile=str(self.ca_file))
            else:
                context.load_default_certs()
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            context.load_cert_chain(str(self.client_cert), str(self.client_key) if self.client_key else None)
        return context


def describe_certificate(der: bytes) -> dict[str, Any]:
    """Subject, issuer, validity and fingerprint of a DER certificate."""
    info: dict[str, Any] = {"sha256": hashlib.sha256(der).hexdigest()}
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - cryptography is a dependency
        return info
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        info["error"] = f"unparseable certificate: {exc}"
        return info
    info.update(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        self_signed=cert.subject == cert.issuer,
    )
    return info
