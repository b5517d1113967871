"""pytest fixtures: real PACS peers on loopback.

Register with ``pytest_plugins = ["tests.peers.fixtures"]`` in
``tests/conftest.py``. Every fixture skips (with the reason) only when the
peer's binary is missing; any other start-up failure is an error carrying the
server's log tail.

Scopes, chosen for a 2-core machine:

* Orthanc fixtures are **session**-scoped (start 0.2 s, but a clean stop
  takes ~3.5 s). Treat them as read-only: a test that stores must undo it
  with :meth:`OrthancServer.delete_sop_instance`, or use ``make_orthanc``
  for a private instance.
* dcmqrscp fixtures are **module**-scoped (start and stop take milliseconds;
  its store is not undoable over the network).
* ``pynetdicom_qrscp`` is **session**-scoped (a Python start-up plus seeding
  by C-STORE: ~2 s; stop is instant). Treat it as read-only.
* storescp / wlmscpfs are **function**-scoped (instant).

Every server exposes ``.port``, ``.aet``, ``.registered_aet`` and, for the
archives, ``.destinations`` (``{AE title: (host, port)}`` of the C-MOVE
destinations it knows; nothing listens at those ports).

DICOMweb / REST peers (``orthanc_web_*``, **session**-scoped, in the same
pool): Orthanc with Debian's DICOMweb plugin, seeded like the others. They
also expose ``.web_url`` (``.../dicom-web``, no trailing slash), ``.rest_url``,
``.credentials`` (``(user, password)`` or None), ``.ca_bundle`` (Path or
None) and ``.proxy`` (the nginx front or None); ``web-https`` and
``web-cors-proxy`` are reached only through their nginx front. They skip when
Orthanc, the DICOMweb plugin or (for the fronted ones) nginx is missing.

TLS peers (**session**-scoped, started on first use, stopped together at the
end; GROUND_TRUTH.md "TLS" has what each accepts), all on a throwaway RSA PKI
(``peer_certs``, a :class:`~tests.peers.certs.CertSet`):

* ``storescp_tls_<profile>`` (``bcp195_nd``, ``bcp195``, ``bcp195_ex``,
  ``aes``, ``null``): DCMTK ``storescp +tls`` with that security profile and
  the ``good`` certificate, no client certificate asked for;
  ``storescp_tls_profile`` picks one by indirect parametrisation.
* ``storescp_tls_cert``: indirect parametrisation over the certificate kinds
  (``good``, ``expired``, ``not_yet_valid``, ``self_signed``, ``short_key``,
  ``sha1``, ``wrong_name``), profile ``bcp195-nd``.
* ``storescp_tls_client_auth`` (client certificate required) and
  ``storescp_tls_client_optional`` (asked for, verified if sent).
* ``make_storescp_tls(profile, cert_kind, client_auth=...)``: any other
  combination (the same arguments give the same running server).
* ``stunnel_anon``, ``stunnel_anon_mixed``, ``stunnel_legacy``: stunnel in
  front of a plain storescp (``stunnel_tls`` by indirect parametrisation).
* ``tls_peer``: any of the above by fixture name, by indirect parametrisation.

Every TLS peer exposes ``.host``, ``.port``, ``.aet``, ``.cert_kind``,
``.cert`` (``(cert_path, key_path)``), ``.ca_bundle``, ``.client_auth``
(``"disabled"``/``"optional"``/``"required"``) and ``.accepts`` (a
:class:`~tests.peers.dcmtk.TlsAccepts`: ``.versions``, ``.labels``,
``.suites`` per ``ssl.TLSVersion``, IANA names); DCMTK ones also ``.profile``,
stunnel ones ``.config``, ``.anonymous`` and ``.spec.sslyze_can_connect``.
They skip when storescp or (for stunnel) stunnel4 is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.peers.certs import CERT_KINDS, CertSet, TlsMaterial, make_cert_set, make_tls_material
from tests.peers.data import synthetic_datasets
from tests.peers.dcmtk import (
    CLIENT_AUTH_MODES,
    DCMTK_TLS_PROFILES,
    DcmqrscpServer,
    StorescpServer,
    StorescpTlsServer,
    WlmscpfsServer,
    dcmtk_binary,
)
from tests.peers.nginx import nginx_binary
from tests.peers.orthanc import DICOMWEB_PLUGIN, PROXIED, WEB_CONFIGS, OrthancServer, orthanc_binary
from tests.peers.qrscp import QrscpServer, qrscp_available
from tests.peers.stunnel import STUNNEL_CONFIGS, StunnelServer, stunnel_binary

_INSTALL_HINT = "install the peers with scripts/install-peers.sh"


def _need_orthanc() -> None:
    if orthanc_binary() is None:
        pytest.skip(f"Orthanc binary not found on PATH or at /usr/sbin/Orthanc; {_INSTALL_HINT}")


def _need_web(config: str) -> None:
    _need_orthanc()
    if not DICOMWEB_PLUGIN.exists():
        pytest.skip(
            f"Orthanc DICOMweb plugin not found at {DICOMWEB_PLUGIN} (Debian orthanc-dicomweb); {_INSTALL_HINT}"
        )
    if config in PROXIED and nginx_binary() is None:
        pytest.skip(f"nginx not found on PATH or at /usr/sbin/nginx (front of Orthanc {config}); {_INSTALL_HINT}")


def _need_dcmtk(*tools: str) -> None:
    missing = [tool for tool in tools if dcmtk_binary(tool) is None]
    if missing:
        pytest.skip(f"DCMTK tool(s) {', '.join(missing)} not found; {_INSTALL_HINT}")


@pytest.fixture(scope="session")
def peer_datasets() -> list[Dataset]:
    """The synthetic instances every archive peer is seeded with."""
    return synthetic_datasets()


@pytest.fixture(scope="session")
def peer_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA with server and client certificates (PEM files)."""
    return make_tls_material(tmp_path_factory.mktemp("peer-pki"))


@pytest.fixture(scope="session")
def _orthanc_pool() -> Iterator[list[OrthancServer]]:
    """Owns the session's Orthancs and stops them together.

    An Orthanc takes ~3.5 s to stop cleanly (its listeners poll); sending
    every SIGTERM first and then waiting overlaps those waits.
    """
    pool: list[OrthancServer] = []
    yield pool
    for server in pool:
        server.request_stop()
    for server in pool:
        server.stop()


def _orthanc(
    config: str,
    factory: pytest.TempPathFactory,
    pool: list[OrthancServer],
    datasets: Sequence[Dataset],
    tls: TlsMaterial | None = None,
) -> OrthancServer:
    _need_orthanc()
    server = OrthancServer(config, factory.mktemp(f"orthanc-{config}"), datasets, tls=tls)
    pool.append(server)
    return server.start()


@pytest.fixture(scope="session")
def orthanc_open(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc open to any AE: every DicomAlwaysAllow* true, called AET unchecked."""
    return _orthanc("open", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_stock(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc with Debian's stock /etc/orthanc/orthanc.json DICOM settings."""
    return _orthanc("stock", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_allowlist(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc accepting only PACSADMIN@127.0.0.1 (every Allow* true), called AET checked; DEST is a move destination."""
    return _orthanc("allowlist", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_retrieve(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc allowing C-GET / C-MOVE from anyone, not C-FIND / worklist / store; DICOMAUDIT registered (move destination)."""
    return _orthanc("retrieve", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_tls(
    tmp_path_factory: pytest.TempPathFactory,
    _orthanc_pool: list[OrthancServer],
    peer_datasets: list[Dataset],
    peer_tls: TlsMaterial,
) -> OrthancServer:
    """Orthanc speaking DICOM over TLS only, client certificate required."""
    return _orthanc("tls", tmp_path_factory, _orthanc_pool, peer_datasets, tls=peer_tls)


def _orthanc_web(
    config: str, factory: pytest.TempPathFactory, pool: list[OrthancServer], datasets: Sequence[Dataset]
) -> OrthancServer:
    _need_web(config)
    return _orthanc(config, factory, pool, datasets)


@pytest.fixture(scope="session")
def orthanc_web_open(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc + DICOMweb, remote access allowed, authentication explicitly off: anyone reads and writes."""
    return _orthanc_web("web-open", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_web_default_user(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc + DICOMweb, authentication on, nobody registered: Orthanc's own default user orthanc/orthanc."""
    return _orthanc_web("web-default-user", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_web_strong_user(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Orthanc + DICOMweb, authentication on, one user ``orthanc`` with a random 32-character password."""
    return _orthanc_web("web-strong-user", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_web_https(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Strong-user Orthanc + DICOMweb behind an nginx TLS front (verify with ``.ca_bundle``)."""
    return _orthanc_web("web-https", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_web_cors_proxy(
    tmp_path_factory: pytest.TempPathFactory, _orthanc_pool: list[OrthancServer], peer_datasets: list[Dataset]
) -> OrthancServer:
    """Strong-user Orthanc + DICOMweb behind a plain-HTTP nginx reflecting any Origin with credentials."""
    return _orthanc_web("web-cors-proxy", tmp_path_factory, _orthanc_pool, peer_datasets)


@pytest.fixture(scope="session")
def orthanc_web(request: pytest.FixtureRequest) -> OrthancServer:
    """One of the ``orthanc_web_*`` servers, chosen by indirect parametrisation.

    ``@pytest.mark.parametrize("orthanc_web", ["web-open", "web-https"], indirect=True)``;
    the servers are the session's, shared with the named fixtures.
    """
    config = getattr(request, "param", None)
    if config not in WEB_CONFIGS:
        raise ValueError(f"parametrise orthanc_web (indirect=True) with one of {WEB_CONFIGS}, not {config!r}")
    server = request.getfixturevalue("orthanc_" + config.replace("-", "_"))
    assert isinstance(server, OrthancServer)
    return server


@pytest.fixture
def make_orthanc(tmp_path: Path, peer_datasets: list[Dataset]) -> Iterator[Callable[..., OrthancServer]]:
    """Factory for a private Orthanc: ``make_orthanc("open", datasets=[...])``."""
    _need_orthanc()
    started: list[OrthancServer] = []

    def make(config: str, datasets: Sequence[Dataset] | None = None) -> OrthancServer:
        server = OrthancServer(config, tmp_path / f"n{len(started)}", peer_datasets if datasets is None else datasets)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


def _dcmqrscp(config: str, factory: pytest.TempPathFactory, datasets: Sequence[Dataset]) -> Iterator[DcmqrscpServer]:
    _need_dcmtk("dcmqrscp", "dcmqridx")
    with DcmqrscpServer(config, factory.mktemp(f"dcmqrscp-{config}"), datasets) as server:
        yield server


@pytest.fixture(scope="module")
def dcmqrscp_open(tmp_path_factory: pytest.TempPathFactory, peer_datasets: list[Dataset]) -> Iterator[DcmqrscpServer]:
    """dcmqrscp whose archive AE is RW for peers ANY; C-MOVE to any HostTable destination (DEST)."""
    yield from _dcmqrscp("open", tmp_path_factory, peer_datasets)


@pytest.fixture(scope="module")
def dcmqrscp_move_aetitle(
    tmp_path_factory: pytest.TempPathFactory, peer_datasets: list[Dataset]
) -> Iterator[DcmqrscpServer]:
    """dcmqrscp open to ANY, ``--move-aetitle``: C-MOVE only to the requesting AE title (if in the HostTable)."""
    yield from _dcmqrscp("move_aetitle", tmp_path_factory, peer_datasets)


@pytest.fixture(scope="module")
def dcmqrscp_no_get(tmp_path_factory: pytest.TempPathFactory, peer_datasets: list[Dataset]) -> Iterator[DcmqrscpServer]:
    """dcmqrscp open to ANY with ``--disable-get``: the C-GET contexts are refused."""
    yield from _dcmqrscp("no_get", tmp_path_factory, peer_datasets)


@pytest.fixture(scope="module")
def dcmqrscp_restricted(
    tmp_path_factory: pytest.TempPathFactory, peer_datasets: list[Dataset]
) -> Iterator[DcmqrscpServer]:
    """dcmqrscp whose archive AE serves only PACSADMIN at 127.0.0.1."""
    yield from _dcmqrscp("restricted", tmp_path_factory, peer_datasets)


@pytest.fixture(scope="session")
def pynetdicom_qrscp(tmp_path_factory: pytest.TempPathFactory, peer_datasets: list[Dataset]) -> Iterator[QrscpServer]:
    """pynetdicom's qrscp (AE QRSCP, any caller) seeded by C-STORE; knows move destination DEST."""
    reason = qrscp_available()
    if reason:
        pytest.skip(reason)
    server = QrscpServer(tmp_path_factory.mktemp("qrscp"), peer_datasets)
    with server:
        yield server


@pytest.fixture
def storescp_server(tmp_path: Path) -> Iterator[StorescpServer]:
    """storescp accepting any storage, writing under ``received/``."""
    _need_dcmtk("storescp")
    with StorescpServer(tmp_path) as server:
        yield server


@pytest.fixture
def wlmscpfs_server(tmp_path: Path) -> Iterator[WlmscpfsServer]:
    """wlmscpfs serving two synthetic worklist items as AE ``WLMSCP``."""
    _need_dcmtk("wlmscpfs")
    with WlmscpfsServer(tmp_path, items=2) as server:
        yield server


# -- TLS peers -------------------------------------------------------------------

#: The fixtures ``tls_peer`` can stand for.
TLS_PEER_FIXTURES = (
    *(f"storescp_tls_{profile.replace('-', '_')}" for profile in DCMTK_TLS_PROFILES),
    "storescp_tls_client_auth",
    "storescp_tls_client_optional",
    *(f"stunnel_{config}" for config in STUNNEL_CONFIGS),
)


def _need_stunnel() -> None:
    _need_dcmtk("storescp")  # the plain node behind it
    if stunnel_binary() is None:
        pytest.skip(f"stunnel (Debian stunnel4) not found on PATH or at /usr/bin/stunnel4; {_INSTALL_HINT}")


@pytest.fixture(scope="session")
def peer_certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    """An RSA CA with one good and six flawed server certificates and a client certificate (PEM files)."""
    return make_cert_set(tmp_path_factory.mktemp("peer-certs"))


@pytest.fixture(scope="session")
def _tls_pool() -> Iterator[dict[tuple[str, ...], StorescpTlsServer | StunnelServer]]:
    """Owns the session's TLS peers (keyed by their configuration) and stops them at the end."""
    pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer] = {}
    yield pool
    for server in pool.values():
        server.stop()


@pytest.fixture(scope="session")
def make_storescp_tls(
    tmp_path_factory: pytest.TempPathFactory,
    peer_certs: CertSet,
    _tls_pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer],
) -> Callable[..., StorescpTlsServer]:
    """Factory: ``make_storescp_tls("bcp195", "expired", client_auth="required")``, started once per session.

    *profile* is a key of ``DCMTK_TLS_PROFILES`` (default ``bcp195-nd``),
    *cert_kind* one of ``CERT_KINDS`` (default ``good``), *client_auth*
    ``disabled`` (default), ``optional`` or ``required``.
    """
    _need_dcmtk("storescp")

    def make(
        profile: str = "bcp195-nd", cert_kind: str = "good", *, client_auth: str = "disabled"
    ) -> StorescpTlsServer:
        if client_auth not in CLIENT_AUTH_MODES:
            raise ValueError(f"client_auth must be one of {tuple(CLIENT_AUTH_MODES)}, not {client_auth!r}")
        key = ("storescp", profile, cert_kind, client_auth)
        server = _tls_pool.get(key)
        if server is None:
            server = StorescpTlsServer(
                tmp_path_factory.mktemp("storescp-tls"),
                peer_certs,
                profile,
                cert_kind,
                require_client_cert=client_auth == "required",
                optional_client_cert=client_auth == "optional",
            ).start()
            _tls_pool[key] = server
        assert isinstance(server, StorescpTlsServer)
        return server

    return make


def _stunnel(
    config: str,
    factory: pytest.TempPathFactory,
    certs: CertSet,
    pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer],
) -> StunnelServer:
    _need_stunnel()
    key = ("stunnel", config)
    server = pool.get(key)
    if server is None:
        server = StunnelServer(config, factory.mktemp(f"stunnel-{config}"), certs).start()
        pool[key] = server
    assert isinstance(server, StunnelServer)
    return server


@pytest.fixture(scope="session")
def storescp_tls_bcp195_nd(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls, DCMTK's default profile (non-downgrading BCP 195): TLS 1.2 (ECDHE/DHE-RSA AES-GCM) and 1.3."""
    return make_storescp_tls("bcp195-nd")


@pytest.fixture(scope="session")
def storescp_tls_bcp195(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls, BCP 195 profile: as bcp195-nd plus TLS 1.0/1.1/1.2 with TLS_RSA_WITH_AES_128_CBC_SHA."""
    return make_storescp_tls("bcp195")


@pytest.fixture(scope="session")
def storescp_tls_bcp195_ex(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls, extended BCP 195 profile: TLS 1.2 only (ECDHE/DHE-RSA AES-GCM), no TLS 1.3."""
    return make_storescp_tls("bcp195-ex")


@pytest.fixture(scope="session")
def storescp_tls_aes(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls, retired AES profile: TLS_RSA_WITH_AES_128_CBC_SHA only, TLS 1.0-1.2."""
    return make_storescp_tls("aes")


@pytest.fixture(scope="session")
def storescp_tls_null(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls, retired NULL profile: TLS_RSA_WITH_NULL_SHA only (authenticated, not encrypted), TLS 1.0-1.2."""
    return make_storescp_tls("null")


@pytest.fixture(scope="session")
def storescp_tls_profile(
    request: pytest.FixtureRequest, make_storescp_tls: Callable[..., StorescpTlsServer]
) -> StorescpTlsServer:
    """storescp +tls with the profile given by indirect parametrisation (a key of ``DCMTK_TLS_PROFILES``)."""
    profile = getattr(request, "param", None)
    if profile not in DCMTK_TLS_PROFILES:
        raise ValueError(
            f"parametrise storescp_tls_profile (indirect=True) with one of {tuple(DCMTK_TLS_PROFILES)}, not {profile!r}"
        )
    return make_storescp_tls(profile)


@pytest.fixture(scope="session")
def storescp_tls_cert(
    request: pytest.FixtureRequest, make_storescp_tls: Callable[..., StorescpTlsServer]
) -> StorescpTlsServer:
    """storescp +tls (bcp195-nd) presenting the certificate kind given by indirect parametrisation.

    ``@pytest.mark.parametrize("storescp_tls_cert", ["expired", "sha1"], indirect=True)``; kinds in ``CERT_KINDS``.
    """
    kind = getattr(request, "param", None)
    if kind not in CERT_KINDS:
        raise ValueError(f"parametrise storescp_tls_cert (indirect=True) with one of {CERT_KINDS}, not {kind!r}")
    return make_storescp_tls("bcp195-nd", kind)


@pytest.fixture(scope="session")
def storescp_tls_client_auth(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls (bcp195-nd) requiring a client certificate from ``peer_certs.ca_bundle`` (use ``peer_certs.client``)."""
    return make_storescp_tls("bcp195-nd", client_auth="required")


@pytest.fixture(scope="session")
def storescp_tls_client_optional(make_storescp_tls: Callable[..., StorescpTlsServer]) -> StorescpTlsServer:
    """storescp +tls (bcp195-nd) asking for a client certificate, verifying it if sent, accepting clients without."""
    return make_storescp_tls("bcp195-nd", client_auth="optional")


@pytest.fixture(scope="session")
def stunnel_anon(
    tmp_path_factory: pytest.TempPathFactory,
    peer_certs: CertSet,
    _tls_pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer],
) -> StunnelServer:
    """stunnel before a plain storescp: TLS 1.2 with anonymous (ADH/AECDH) suites only; sslyze cannot connect."""
    return _stunnel("anon", tmp_path_factory, peer_certs, _tls_pool)


@pytest.fixture(scope="session")
def stunnel_anon_mixed(
    tmp_path_factory: pytest.TempPathFactory,
    peer_certs: CertSet,
    _tls_pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer],
) -> StunnelServer:
    """stunnel before a plain storescp: TLS 1.2 with two ECDHE-RSA-GCM suites plus the anonymous ones."""
    return _stunnel("anon_mixed", tmp_path_factory, peer_certs, _tls_pool)


@pytest.fixture(scope="session")
def stunnel_legacy(
    tmp_path_factory: pytest.TempPathFactory,
    peer_certs: CertSet,
    _tls_pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer],
) -> StunnelServer:
    """stunnel before a plain storescp: TLS 1.0-1.2, CBC-SHA1 suites, NULL-MD5 and 1024-bit DHE; good certificate."""
    return _stunnel("legacy", tmp_path_factory, peer_certs, _tls_pool)


@pytest.fixture(scope="session")
def stunnel_tls(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    peer_certs: CertSet,
    _tls_pool: dict[tuple[str, ...], StorescpTlsServer | StunnelServer],
) -> StunnelServer:
    """The stunnel peer given by indirect parametrisation (a key of ``STUNNEL_CONFIGS``)."""
    config = getattr(request, "param", None)
    if config not in STUNNEL_CONFIGS:
        raise ValueError(
            f"parametrise stunnel_tls (indirect=True) with one of {tuple(STUNNEL_CONFIGS)}, not {config!r}"
        )
    return _stunnel(config, tmp_path_factory, peer_certs, _tls_pool)


@pytest.fixture(scope="session")
def tls_peer(request: pytest.FixtureRequest) -> StorescpTlsServer | StunnelServer:
    """Any TLS peer by fixture name, by indirect parametrisation.

    ``@pytest.mark.parametrize("tls_peer", ["storescp_tls_null", "stunnel_legacy"], indirect=True)``;
    names in ``TLS_PEER_FIXTURES``.
    """
    name = getattr(request, "param", None)
    if name not in TLS_PEER_FIXTURES:
        raise ValueError(f"parametrise tls_peer (indirect=True) with one of {TLS_PEER_FIXTURES}, not {name!r}")
    server = request.getfixturevalue(name)
    assert isinstance(server, StorescpTlsServer | StunnelServer)
    return server
