"""The TLS peers start and speak TLS as GROUND_TRUTH.md ("TLS") records.

Handshakes with Python's ``ssl`` (OpenSSL 3.0, at security level 0 where a
test needs legacy suites), DICOM associations with pynetdicom through
``tests.peers.probe``, and one sslyze scan per scannable peer pinning the
recorded ``.accepts`` tables.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.peers import probe
from tests.peers.certs import CERT_KINDS, CertSet
from tests.peers.dcmtk import DCMTK_TLS_PROFILES, StorescpTlsServer
from tests.peers.stunnel import SSLYZE_BLIND_SUITES, StunnelServer

pytestmark = [
    pytest.mark.peers,
    # Talking TLS 1.0/1.1 to legacy peers is the point here.
    pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning"),
]

TlsPeer = StorescpTlsServer | StunnelServer
CALLING = "DICOMAUDIT"
#: Every suite OpenSSL 3.0 still knows, including the ones security level 2 forbids.
EVERYTHING = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
VERSIONS = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)


def _ctx(*, version: ssl.TLSVersion | None = None, ciphers: str = EVERYTHING) -> ssl.SSLContext:
    """A non-verifying client context offering *ciphers* (default: everything) at *version* (default: TLS 1.0-1.3)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers(ciphers)
    return ctx


def _verifying_ctx(ca_bundle: Path) -> ssl.SSLContext:
    """Python's default client context (security level 2, hostname check) trusting *ca_bundle*."""
    return ssl.create_default_context(cafile=str(ca_bundle))


def _handshake(server: TlsPeer, ctx: ssl.SSLContext) -> tuple[str, str, bytes | None]:
    """Handshake with *server*; return (version, OpenSSL suite name, the server's DER certificate or None)."""
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            version, cipher = tls.version(), tls.cipher()
            assert version is not None and cipher is not None
            return version, cipher[0], tls.getpeercert(binary_form=True)


def _accepted(server: TlsPeer, version: ssl.TLSVersion) -> bool:
    try:
        _handshake(server, _ctx(version=version))
    except (ssl.SSLError, ConnectionError):
        return False
    return True


# -- DCMTK profiles -----------------------------------------------------------------


@pytest.mark.parametrize("storescp_tls_profile", list(DCMTK_TLS_PROFILES), indirect=True)
def test_dcmtk_profile_accepts_exactly_its_recorded_versions(storescp_tls_profile: StorescpTlsServer) -> None:
    """Given a storescp TLS profile, when a client tries TLS 1.0 to 1.3 one at a time, then exactly the recorded ones succeed."""
    accepted = tuple(v for v in VERSIONS if _accepted(storescp_tls_profile, v))
    assert accepted == storescp_tls_profile.accepts.versions, storescp_tls_profile.log_tail()


def test_dcmtk_bcp195_nd_refuses_tls11(storescp_tls_bcp195_nd: StorescpTlsServer) -> None:
    """Given DCMTK's default (non-downgrading) profile, when a TLS 1.1 client connects, then the handshake fails."""
    with pytest.raises(ssl.SSLError, match="VERSION"):
        _handshake(storescp_tls_bcp195_nd, _ctx(version=ssl.TLSVersion.TLSv1_1))


def test_dcmtk_bcp195_allows_tls10_only_with_rsa_key_transport(storescp_tls_bcp195: StorescpTlsServer) -> None:
    """Given the BCP 195 profile, when TLS 1.0 offers ECDHE then RSA key transport, then only AES128-SHA gets through."""
    with pytest.raises(ssl.SSLError):
        _handshake(storescp_tls_bcp195, _ctx(version=ssl.TLSVersion.TLSv1, ciphers="ECDHE-RSA-AES128-SHA:@SECLEVEL=0"))
    version, suite, _ = _handshake(storescp_tls_bcp195, _ctx(version=ssl.TLSVersion.TLSv1))
    assert (version, suite) == ("TLSv1", "AES128-SHA")


def test_dcmtk_bcp195_ex_refuses_tls13(storescp_tls_bcp195_ex: StorescpTlsServer) -> None:
    """Given the extended BCP 195 profile, when a TLS 1.3-only client connects, then the handshake fails."""
    with pytest.raises(ssl.SSLError):
        _handshake(storescp_tls_bcp195_ex, _ctx(version=ssl.TLSVersion.TLSv1_3))


def test_dcmtk_aes_profile_negotiates_rsa_aes128_cbc_sha(storescp_tls_aes: StorescpTlsServer) -> None:
    """Given the retired AES profile, when a client offers every suite up to TLS 1.3, then TLS 1.2 AES128-SHA."""
    version, suite, _ = _handshake(storescp_tls_aes, _ctx())
    assert (version, suite) == ("TLSv1.2", "AES128-SHA")


def test_dcmtk_null_profile_negotiates_null_cipher(storescp_tls_null: StorescpTlsServer) -> None:
    """Given the retired NULL profile, when a client offers every suite, then NULL-SHA: authenticated, not encrypted."""
    version, suite, cert = _handshake(storescp_tls_null, _ctx())
    assert (version, suite) == ("TLSv1.2", "NULL-SHA")
    assert cert is not None


def test_dcmtk_tls_echo_succeeds(storescp_tls_bcp195_nd: StorescpTlsServer, peer_certs: CertSet) -> None:
    """Given storescp over TLS, when a verifying client sends C-ECHO, then 0x0000 (a real DICOM node behind TLS)."""
    peer = probe.Peer(storescp_tls_bcp195_nd.port, storescp_tls_bcp195_nd.aet, peer_certs.client_context())
    assert probe.c_echo(peer, CALLING).final_status == 0x0000


def test_dcmtk_tls_drops_plaintext_association(storescp_tls_bcp195_nd: StorescpTlsServer) -> None:
    """Given storescp over TLS, when a plaintext A-ASSOCIATE-RQ arrives, then no byte comes back, the TCP connection is reset."""
    out = probe.plaintext_rq(storescp_tls_bcp195_nd.port, storescp_tls_bcp195_nd.aet)
    assert out.first_read == b"", out.summary()
    assert "ConnectionResetError" in out.error or out.closed, out.summary()


# -- certificates ---------------------------------------------------------------------

#: What a verifying client (CA bundle, hostname ``localhost``) is told, by certificate kind.
VERIFY_MESSAGES = {
    "expired": "certificate has expired",
    "not_yet_valid": "certificate is not yet valid",
    "self_signed": "self-signed certificate",
    "short_key": "EE certificate key too weak",
    "sha1": "CA signature digest algorithm too weak",
    "wrong_name": "Hostname mismatch",
}


@pytest.mark.parametrize("storescp_tls_cert", CERT_KINDS, indirect=True)
def test_dcmtk_presents_the_certificate_of_its_kind(storescp_tls_cert: StorescpTlsServer) -> None:
    """Given storescp with a certificate kind, when a non-verifying client connects, then it gets exactly that certificate."""
    _, _, der = _handshake(storescp_tls_cert, _ctx())
    on_disk = x509.load_pem_x509_certificate(storescp_tls_cert.cert.cert.read_bytes())
    assert der is not None and x509.load_der_x509_certificate(der) == on_disk


@pytest.mark.parametrize("storescp_tls_cert", ["good"], indirect=True)
def test_verifying_client_accepts_good_certificate(storescp_tls_cert: StorescpTlsServer) -> None:
    """Given the good certificate, when a client verifies against the CA bundle and 'localhost', then the handshake succeeds."""
    version, _, _ = _handshake(storescp_tls_cert, _verifying_ctx(storescp_tls_cert.ca_bundle))
    assert version == "TLSv1.3"


@pytest.mark.parametrize("storescp_tls_cert", list(VERIFY_MESSAGES), indirect=True)
def test_verifying_client_refuses_flawed_certificate(storescp_tls_cert: StorescpTlsServer) -> None:
    """Given a flawed certificate, when a client verifies against the CA bundle, then OpenSSL names the flaw."""
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _handshake(storescp_tls_cert, _verifying_ctx(storescp_tls_cert.ca_bundle))
    assert VERIFY_MESSAGES[storescp_tls_cert.cert_kind] in str(caught.value.verify_message)


# -- client certificates -------------------------------------------------------------------


def test_client_auth_refuses_tls12_client_without_certificate(storescp_tls_client_auth: StorescpTlsServer) -> None:
    """Given a required client certificate, when a TLS 1.2 client comes without one, then the handshake fails."""
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(storescp_tls_client_auth, _ctx(version=ssl.TLSVersion.TLSv1_2))


def test_client_auth_echo_with_client_certificate_succeeds(
    storescp_tls_client_auth: StorescpTlsServer, peer_certs: CertSet
) -> None:
    """Given a required client certificate, when the client presents the CA's client certificate, then C-ECHO succeeds."""
    ctx = peer_certs.client_context(with_client_cert=True)
    peer = probe.Peer(storescp_tls_client_auth.port, storescp_tls_client_auth.aet, ctx)
    assert probe.c_echo(peer, CALLING).final_status == 0x0000


def test_client_optional_echo_without_certificate_succeeds(
    storescp_tls_client_optional: StorescpTlsServer, peer_certs: CertSet
) -> None:
    """Given an optional client certificate, when the client presents none, then C-ECHO still succeeds."""
    peer = probe.Peer(storescp_tls_client_optional.port, storescp_tls_client_optional.aet, peer_certs.client_context())
    assert probe.c_echo(peer, CALLING).final_status == 0x0000


# -- stunnel ------------------------------------------------------------------------------


def test_stunnel_anon_negotiates_anonymous_suite_without_certificate(stunnel_anon: StunnelServer) -> None:
    """Given the anonymous-only tunnel, when a client offers aNULL suites, then TLS 1.2 with ADH/AECDH and no certificate."""
    version, suite, cert = _handshake(stunnel_anon, _ctx(ciphers="aNULL:@SECLEVEL=0"))
    assert version == "TLSv1.2"
    assert suite.startswith(("ADH-", "AECDH-")), suite
    assert cert is None


def test_stunnel_anon_refuses_ordinary_client(stunnel_anon: StunnelServer) -> None:
    """Given the anonymous-only tunnel, when a client with default suites connects, then the handshake fails."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises(ssl.SSLError):
        _handshake(stunnel_anon, ctx)


def test_stunnel_anon_echo_reaches_backend(stunnel_anon: StunnelServer) -> None:
    """Given the anonymous tunnel, when pynetdicom sends C-ECHO over anonymous TLS, then the storescp behind answers 0x0000."""
    peer = probe.Peer(stunnel_anon.port, stunnel_anon.aet, _ctx(ciphers="aNULL:@SECLEVEL=0"))
    assert probe.c_echo(peer, CALLING).final_status == 0x0000


def test_stunnel_anon_mixed_gives_ordinary_client_ecdhe_rsa(stunnel_anon_mixed: StunnelServer) -> None:
    """Given the mixed tunnel, when a verifying client with default suites connects, then ECDHE-RSA-AES-GCM over TLS 1.2."""
    version, suite, _ = _handshake(stunnel_anon_mixed, _verifying_ctx(stunnel_anon_mixed.ca_bundle))
    assert version == "TLSv1.2" and suite.startswith("ECDHE-RSA-AES") and "GCM" in suite


def test_stunnel_anon_mixed_gives_anonymous_client_anonymous_suite(stunnel_anon_mixed: StunnelServer) -> None:
    """Given the mixed tunnel, when a client offers only aNULL suites, then an anonymous suite and no certificate."""
    _, suite, cert = _handshake(stunnel_anon_mixed, _ctx(ciphers="aNULL:@SECLEVEL=0"))
    assert suite.startswith(("ADH-", "AECDH-")) and cert is None


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        (ssl.TLSVersion.TLSv1, True),
        (ssl.TLSVersion.TLSv1_1, True),
        (ssl.TLSVersion.TLSv1_2, True),
        (ssl.TLSVersion.TLSv1_3, False),
    ],
)
def test_stunnel_legacy_accepts_tls10_to_12(
    stunnel_legacy: StunnelServer, version: ssl.TLSVersion, accepted: bool
) -> None:
    """Given the legacy tunnel, when a client speaks one version, then TLS 1.0-1.2 succeed and TLS 1.3 fails."""
    assert _accepted(stunnel_legacy, version) is accepted


def test_stunnel_legacy_negotiates_null_md5(stunnel_legacy: StunnelServer) -> None:
    """Given the legacy tunnel, when a TLS 1.0 client offers only NULL-MD5, then NULL-MD5 is negotiated."""
    version, suite, _ = _handshake(stunnel_legacy, _ctx(version=ssl.TLSVersion.TLSv1, ciphers="NULL-MD5:@SECLEVEL=0"))
    assert (version, suite) == ("TLSv1", "NULL-MD5")


# -- sslyze pins the recorded tables ---------------------------------------------------------

_SSLYZE_VERSIONS = {
    ssl.TLSVersion.SSLv3: "ssl_3_0_cipher_suites",
    ssl.TLSVersion.TLSv1: "tls_1_0_cipher_suites",
    ssl.TLSVersion.TLSv1_1: "tls_1_1_cipher_suites",
    ssl.TLSVersion.TLSv1_2: "tls_1_2_cipher_suites",
    ssl.TLSVersion.TLSv1_3: "tls_1_3_cipher_suites",
}


def _sslyze(server: TlsPeer) -> Any:
    """One sslyze scan result (cipher suites of SSL 2.0 to TLS 1.3) of *server* at 127.0.0.1, SNI localhost."""
    from sslyze import ScanCommand, Scanner, ServerNetworkConfiguration, ServerNetworkLocation, ServerScanRequest

    request = ServerScanRequest(
        server_location=ServerNetworkLocation("localhost", server.port, server.host),
        network_configuration=ServerNetworkConfiguration("localhost", network_timeout=5, network_max_retries=1),
        scan_commands={ScanCommand.SSL_2_0_CIPHER_SUITES, *(ScanCommand(cmd) for cmd in _SSLYZE_VERSIONS.values())},
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    return result


@pytest.mark.parametrize(
    "tls_peer",
    [
        *(f"storescp_tls_{profile.replace('-', '_')}" for profile in DCMTK_TLS_PROFILES),
        "storescp_tls_client_auth",
        "stunnel_anon_mixed",
        "stunnel_legacy",
    ],
    indirect=True,
)
def test_sslyze_sees_the_recorded_suites(tls_peer: TlsPeer) -> None:
    """Given a TLS peer, when sslyze enumerates SSL 2.0 to TLS 1.3 without a client certificate, then it finds the recorded suites."""
    from sslyze import ScanCommandAttemptStatusEnum, ServerScanStatusEnum

    result = _sslyze(tls_peer)
    assert result.scan_status == ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    sslv2 = result.scan_result.ssl_2_0_cipher_suites
    assert sslv2.status == ScanCommandAttemptStatusEnum.COMPLETED and not sslv2.result.accepted_cipher_suites
    seen: dict[ssl.TLSVersion, frozenset[str]] = {}
    for version, attr in _SSLYZE_VERSIONS.items():
        attempt = getattr(result.scan_result, attr)
        assert attempt.status == ScanCommandAttemptStatusEnum.COMPLETED, attempt.error_trace
        names = frozenset(suite.cipher_suite.name for suite in attempt.result.accepted_cipher_suites)
        if names:
            seen[version] = names
    expected = {v: names - SSLYZE_BLIND_SUITES for v, names in tls_peer.accepts.suites.items() if names}
    assert seen == expected


def test_sslyze_cannot_connect_to_anonymous_only_tls12(stunnel_anon: StunnelServer) -> None:
    """Given the anonymous-only TLS 1.2 tunnel, when sslyze scans it, then it reports no connectivity (its probe drops aNULL)."""
    from sslyze import ServerScanStatusEnum

    result = _sslyze(stunnel_anon)
    assert result.scan_status == ServerScanStatusEnum.ERROR_NO_CONNECTIVITY
