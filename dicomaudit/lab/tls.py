"""Throwaway PKI for the lab's ``tls`` profile.

DICOM over TLS (PS3.15 B.1, "Basic TLS Secure Transport Connection Profile")
with mutual authentication: the lab generates a CA, a server certificate for
``localhost``/``127.0.0.1`` and a client certificate, all short-lived and
written to a temporary folder that :class:`~dicomaudit.lab.server.LabPACS`
removes on stop.  EC P-256 keys keep generation in the millisecond range.

``cryptography`` is imported lazily so the rest of the lab works without it.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

#: Certificates are valid from an hour ago (clock skew) for this long.
VALIDITY = _dt.timedelta(days=2)
SERVER_HOSTNAME = "localhost"


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of one lab run.  Keys are unencrypted (test material only)."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self, require_client_cert: bool = True) -> ssl.SSLContext:
        """An SSL context for the lab's listening side (TLS 1.2 or later)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.load_verify_locations(cafile=self.ca_cert)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        return ctx

    def client_context(self, with_client_cert: bool = True) -> ssl.SSLContext:
        """An SSL context a client uses to talk to the lab.

        Verifies the server against the lab CA (hostname ``localhost`` or
        ``127.0.0.1``); presents the lab client certificate unless
        `with_client_cert` is false.  Pass it to pynetdicom as
        ``ae.associate(host, port, tls_args=(ctx, "localhost"))``.
        """
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_cert))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if with_client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


def generate_tls_files(directory: str | Path, client_cn: str = "PACSADMIN") -> TLSFiles:
    """Create a CA, a server and a client certificate under `directory`.

    Parameters
    ----------
    directory : str or Path
        Existing folder to write the PEM files into.
    client_cn : str
        Common Name of the client certificate (by convention the client's AE title).
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the lab's TLS profile needs the 'cryptography' package (pip install cryptography)") from exc

    folder = Path(directory)
    now = _dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=1)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dicomaudit lab (synthetic)"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def write_cert(cert: x509.Certificate, path: Path) -> None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("dicomaudit lab CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName] | None):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server_cert = leaf(
        SERVER_HOSTNAME,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName(SERVER_HOSTNAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key, client_cert = leaf(client_cn, ExtendedKeyUsageOID.CLIENT_AUTH, None)

    files = TLSFiles(
        directory=folder,
        ca_cert=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        client_cert=folder / "client.pem",
        client_key=folder / "client-key.pem",
    )
    write_cert(ca_cert, files.ca_cert)
    write_cert(server_cert, files.server_cert)
    write_key(server_key, files.server_key)
    write_cert(client_cert, files.client_cert)
    write_key(client_key, files.client_key)
    return files
