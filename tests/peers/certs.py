"""Throwaway PKI for DICOM TLS peers (PS3.15 Annex B.1, TLS Secure Transport).

:func:`make_tls_material` generates a private CA, a server certificate for
``127.0.0.1``/``localhost`` and a client certificate, all short-lived and
written as unencrypted PEM files into a temporary folder.

:func:`make_cert_set` generates an RSA CA with one good and six flawed server
certificates (expired, not yet valid, self-signed, 1024-bit key, SHA-1
signature, wrong name) for the TLS-quality checks. Nothing here is meant to
leave a test run.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the PEM files of one throwaway PKI."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self, *, with_client_cert: bool = True) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for a DICOM TLS client of the peer.

        Parameters
        ----------
        with_client_cert
            Present the client certificate (mutual TLS). Without it, a peer
            that requires a remote certificate refuses the handshake.
        """
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_cert))
        if with_client_cert:
            ctx.load_cert_chain(str(self.client_cert), str(self.client_key))
        return ctx


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dicomaudit test PKI (synthetic)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_tls_material(folder: Path) -> TlsMaterial:
    """Create a CA, a server and a client certificate under *folder*.

    ECDSA P-256 keys keep generation in the millisecond range; both DCMTK
    (OpenSSL) and Python's ``ssl`` accept them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("dicomaudit synthetic test CA")
    ca_cert = _issue("dicomaudit synthetic test CA", ca_key, ca_name, ca_key, ca=True)

    material = TlsMaterial(
        ca_cert=folder / "ca.crt",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        client_cert=folder / "client.crt",
        client_key=folder / "client.key",
    )
    material.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for subject, cert_path, key_path, usage in (
        ("localhost", material.server_cert, material.server_key, ExtendedKeyUsageOID.SERVER_AUTH),
        ("DICOMAUDIT", material.client_cert, material.client_key, ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(subject, key, ca_name, ca_key, ca=False, usage=usage)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
    return material


# -- A certificate set for TLS-quality checks ---------------------------------

#: The server certificates of :class:`CertSet`, by name.
CERT_KINDS = ("good", "expired", "not_yet_valid", "self_signed", "short_key", "sha1", "wrong_name")
#: The only name in the ``wrong_name`` certificate (CN and SAN).
WRONG_NAME = "pacs.example.invalid"

# DER of the signatureAlgorithm OIDs (same length: 06 09 2A 86 48 86 F7 0D 01 01 xx).
_OID_SHA256_RSA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"
_OID_SHA1_RSA = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05"


class CertPair(NamedTuple):
    """One server (or client) certificate: ``(cert_path, key_path)``."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class CertSet:
    """PEM files of a throwaway RSA PKI with one good and six flawed server certificates.

    Every server certificate but ``self_signed`` is issued by one CA
    (:attr:`ca_bundle`, RSA 2048, SHA-256). All use RSA keys so that DCMTK's
    RSA-only profiles (``aes``: TLS_RSA_WITH_AES_*, ``null``:
    TLS_RSA_WITH_NULL_SHA) can serve them.

    =================  ===========================================================
    ``good``           RSA 2048, sha256WithRSAEncryption, CN ``localhost``, SAN
                       ``DNS:localhost, IP:127.0.0.1``, EKU serverAuth, valid
                       from 1 h ago for 365 days (below the 398-day maximum)
    ``expired``        as good, valid from 30 days ago until **yesterday**
    ``not_yet_valid``  as good, valid from **tomorrow** for 30 days
    ``self_signed``    as good but issuer = subject, signed by its own key
    ``short_key``      as good with an **RSA 1024** key
    ``sha1``           as good, signed **sha1WithRSAEncryption**
    ``wrong_name``     as good, CN and SAN ``DNS:pacs.example.invalid`` only
    =================  ===========================================================

    ``client`` is a client certificate (CN ``DICOMAUDIT``, EKU clientAuth)
    from the same CA, for peers that require one.
    """

    folder: Path
    ca_bundle: Path
    ca_key: Path
    good: CertPair
    expired: CertPair
    not_yet_valid: CertPair
    self_signed: CertPair
    short_key: CertPair
    sha1: CertPair
    wrong_name: CertPair
    client: CertPair

    def __getitem__(self, kind: str) -> CertPair:
        """The server certificate of *kind* (one of :data:`CERT_KINDS`)."""
        if kind not in CERT_KINDS:
            raise KeyError(f"unknown certificate kind {kind!r}; expected one of {CERT_KINDS}")
        pair = getattr(self, kind)
        assert isinstance(pair, CertPair)
        return pair

    def client_context(self, *, verify: bool = True, with_client_cert: bool = False) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` trusting :attr:`ca_bundle` (or nothing, with ``verify=False``)."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_bundle))
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if with_client_cert:
            ctx.load_cert_chain(str(self.client.cert), str(self.client.key))
        return ctx


def _rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _leaf_builder(
    common_name: str,
    names: list[x509.GeneralName],
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    usage: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,  # TLS_RSA_* key exchange (DCMTK's aes / null profiles)
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder


def _sign_sha1(builder: x509.CertificateBuilder, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Sign *builder* with sha1WithRSAEncryption.

    cryptography 46 refuses SHA-1 in ``CertificateBuilder.sign``
    (``UnsupportedAlgorithm: Hash algorithm "sha1" not supported for
    signatures``) but still signs raw data with PKCS#1 v1.5 + SHA-1. So the
    certificate is built and signed with SHA-256, its two signatureAlgorithm
    OIDs (in the TBS and outside it) are swapped for sha1WithRSAEncryption's
    (DER of equal length), and the TBS is re-signed with SHA-1; an RSA
    signature has the modulus' length whatever the hash, so no DER length
    changes.
    """
    draft = builder.sign(issuer_key, hashes.SHA256())
    der = draft.public_bytes(serialization.Encoding.DER)
    tbs = draft.tbs_certificate_bytes
    if tbs.count(_OID_SHA256_RSA) != 1 or der.count(_OID_SHA256_RSA) != 2 or not der.endswith(draft.signature):
        raise RuntimeError("unexpected DER layout while re-signing with SHA-1")
    new_tbs = tbs.replace(_OID_SHA256_RSA, _OID_SHA1_RSA)
    signature = issuer_key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())
    assert len(signature) == len(draft.signature)
    body = der[: -len(signature)].replace(_OID_SHA256_RSA, _OID_SHA1_RSA)
    cert = x509.load_der_x509_certificate(body + signature)
    # Self-check: the result parses as SHA-1 and the CA's key verifies it.
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    issuer_key.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())
    return cert


def make_cert_set(folder: Path) -> CertSet:
    """Write a CA and the server certificates of :data:`CERT_KINDS` (plus a client one) under *folder*.

    Files: ``ca.crt``/``ca.key`` and ``<kind>.crt``/``<kind>.key`` for every
    kind and ``client``. RSA key generation makes this take ~0.2 s.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    server_names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]

    ca_key = _rsa_key(2048)
    ca_name = _name("dicomaudit synthetic TLS CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 60 * day)
        .not_valid_after(now + 3650 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_bundle = folder / "ca.crt"
    ca_bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key_path = folder / "ca.key"
    _write_key(ca_key, ca_key_path)

    server_key = _rsa_key(2048)
    server_auth = ExtendedKeyUsageOID.SERVER_AUTH
    valid = (now - dt.timedelta(hours=1), now + 365 * day)

    def issue(
        kind: str,
        *,
        key: rsa.RSAPrivateKey = server_key,
        common_name: str = "localhost",
        names: list[x509.GeneralName] = server_names,
        window: tuple[dt.datetime, dt.datetime] = valid,
        usage: x509.ObjectIdentifier = server_auth,
        self_signed: bool = False,
        sha1: bool = False,
    ) -> CertPair:
        issuer, issuer_key = (_name(common_name), key) if self_signed else (ca_name, ca_key)
        builder = _leaf_builder(common_name, names, key, issuer, issuer_key, *window, usage)
        cert = _sign_sha1(builder, issuer_key) if sha1 else builder.sign(issuer_key, hashes.SHA256())
        pair = CertPair(folder / f"{kind}.crt", folder / f"{kind}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, pair.key)
        return pair

    return CertSet(
        folder=folder,
        ca_bundle=ca_bundle,
        ca_key=ca_key_path,
        good=issue("good"),
        expired=issue("expired", window=(now - 30 * day, now - day)),
        not_yet_valid=issue("not_yet_valid", window=(now + day, now + 31 * day)),
        self_signed=issue("self_signed", self_signed=True),
        short_key=issue("short_key", key=_rsa_key(1024)),
        sha1=issue("sha1", sha1=True),
        wrong_name=issue("wrong_name", common_name=WRONG_NAME, names=[x509.DNSName(WRONG_NAME)]),
        client=issue(
            "client", key=_rsa_key(2048), common_name="DICOMAUDIT", names=[], usage=ExtendedKeyUsageOID.CLIENT_AUTH
        ),
    )
