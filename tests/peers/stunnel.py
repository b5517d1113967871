"""stunnel (Debian ``stunnel4`` 5.68) as a TLS front of a plain DICOM node, with TLS set-ups DCMTK cannot make.

``StunnelServer(config, tmp_path, certs)`` starts a plain ``storescp`` (its
*backend*, AE ``STORESCP``) and an stunnel in front of it: ``[dicom-<config>]
accept = 127.0.0.1:<port>``, ``connect = 127.0.0.1:<backend port>``, in the
foreground (``foreground = yes``: the log goes to stderr, i.e. ``stunnel.log``),
with its configuration, pid file and ``server.pem`` (certificate + static DH
parameters) under its own folder. Whatever completes the handshake is
passed to storescp byte for byte, so a DICOM association works through it.

Configurations (:data:`STUNNEL_CONFIGS`), all with the CertSet's ``good``
certificate and ``@SECLEVEL=0`` in the cipher string (OpenSSL 3 refuses
anonymous suites, MD5 MACs, 1024-bit DH and TLS 1.0/1.1 (E)DHE signatures at
Debian's default level 2):

* ``anon``: TLS 1.2 only, anonymous suites only (``aNULL:!eNULL``): no
  certificate is ever sent. sslyze 6.3 cannot connect at all (its TLS 1.2
  connectivity probe runs at security level 1, which drops aNULL suites);
  Python's ``ssl`` with ``set_ciphers("aNULL:@SECLEVEL=0")`` can.
* ``anon_mixed``: TLS 1.2 only, two ECDHE-RSA-GCM suites *and* the anonymous
  ones: an ordinary client gets ECDHE-RSA, an anonymous one gets ADH/AECDH.
* ``legacy``: TLS 1.0, 1.1 and 1.2 (no 1.3) with CBC-SHA1 suites (RSA key
  transport, ECDHE, DHE with a **1024-bit** group: RFC 5114's) and
  **NULL-MD5**. Debian 12's OpenSSL has no 3DES, RC4, DES, IDEA, SEED or
  export suites at all (``openssl ciphers 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'``
  lists none), nor SSL 3.0: NULL-MD5 is the weakest suite it can still offer.

Static DH parameters keep stunnel from generating its own at start-up (its
cron thread does that in the background otherwise: seconds to minutes of CPU).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.peers._process import LOOPBACK, PeerProcess, which
from tests.peers.certs import CertPair, CertSet
from tests.peers.dcmtk import StorescpServer, TlsAccepts

#: RFC 7919 ffdhe2048 (``openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048``).
FFDHE2048_PEM = """\
-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""
#: RFC 5114 section 2.1, the 1024-bit MODP group (``... -pkeyopt group:dh_1024_160``): a weak DHE group.
DH1024_PEM = """\
-----BEGIN DH PARAMETERS-----
MIIBCAKBgQCxC4+WoIDgHd6S3l6uXVTsUsmfvPsGo8aaap3KUtI7YWBz4oZ1oj0Y
mDjvHi7mUsAT7LSuqQYRIySXXDzUm4O/rMvdfZDEvXCYSI6cIZpzck7/1vrlZEc4
+qMaT/VbzMChUa9fDci0vUW/N982XBpl5oz9p21NpwjfH7K8LkpDcQKBgQCk0cvV
w/00EmdlpELvuZkF+BBN0lisUH/WQGz/FCZtMSZv6h5cQVZLd35pD1UE8hMWAhe0
sBuIal6RVH+eJ0n01/vX07mpLuGQnQ0iY/gKdqaiTAh6CR9THb8KAWm2oorWYqTR
jnOvoy13nVkY0IvIhY9Nzvl8KiSFXm7rIrOy5Q==
-----END DH PARAMETERS-----
"""

_V10, _V11, _V12 = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2

#: The anonymous TLS 1.2 suites OpenSSL 3.0 offers for ``aNULL:!eNULL`` (observed; IANA names).
ANON_TLS12_SUITES = frozenset(
    {
        "TLS_DH_anon_WITH_AES_128_CBC_SHA",
        "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
        "TLS_DH_anon_WITH_AES_256_CBC_SHA",
        "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
        "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
        "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
        "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
        "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
        "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
    }
)
#: Accepted by ``anon``/``anon_mixed`` (Python's ssl negotiates them) but never reported by sslyze 6.3.1,
#: whose client builds lack them.
SSLYZE_BLIND_SUITES = frozenset(
    {"TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256"}
)
_LEGACY_SUITES = frozenset(
    {
        "TLS_RSA_WITH_NULL_MD5",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    }
)
_MIXED_AUTHENTICATED = frozenset({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"})


@dataclass(frozen=True)
class StunnelConfig:
    """One stunnel service definition and what it was observed to accept."""

    ciphers: str
    version_min: str
    version_max: str
    dh_params: str
    accepts: TlsAccepts
    #: Whether the peer sends no certificate to a client that offers anonymous suites.
    anonymous: bool
    #: Whether sslyze 6.3 can scan it (see the module docstring).
    sslyze_can_connect: bool
    note: str


STUNNEL_CONFIGS: dict[str, StunnelConfig] = {
    "anon": StunnelConfig(
        ciphers="aNULL:!eNULL:@SECLEVEL=0",
        version_min="TLSv1.2",
        version_max="TLSv1.2",
        dh_params=FFDHE2048_PEM,
        accepts=TlsAccepts({_V12: ANON_TLS12_SUITES}),
        anonymous=True,
        sslyze_can_connect=False,
        note="TLS 1.2, anonymous (ADH/AECDH) suites only",
    ),
    "anon_mixed": StunnelConfig(
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:aNULL:!eNULL:@SECLEVEL=0",
        version_min="TLSv1.2",
        version_max="TLSv1.2",
        dh_params=FFDHE2048_PEM,
        accepts=TlsAccepts({_V12: ANON_TLS12_SUITES | _MIXED_AUTHENTICATED}),
        anonymous=True,
        sslyze_can_connect=True,
        note="TLS 1.2, ECDHE-RSA-GCM plus the anonymous suites",
    ),
    "legacy": StunnelConfig(
        ciphers=("AES128-SHA:AES256-SHA:CAMELLIA128-SHA:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA:NULL-MD5:@SECLEVEL=0"),
        version_min="TLSv1",
        version_max="TLSv1.2",
        dh_params=DH1024_PEM,
        accepts=TlsAccepts({_V10: _LEGACY_SUITES, _V11: _LEGACY_SUITES, _V12: _LEGACY_SUITES}),
        anonymous=False,
        sslyze_can_connect=True,
        note="TLS 1.0-1.2, CBC-SHA1 suites, NULL-MD5, DHE with a 1024-bit group",
    ),
}


def stunnel_binary() -> str | None:
    """Path of stunnel 5 (Debian: ``stunnel4``; elsewhere ``stunnel``), or None when it is not installed."""
    return which("stunnel4", "/usr/bin/stunnel4") or which("stunnel", "/usr/bin/stunnel", "/usr/sbin/stunnel")


class StunnelServer(PeerProcess):
    """stunnel in front of its own plain storescp; use as a context manager.

    Parameters
    ----------
    config
        A key of :data:`STUNNEL_CONFIGS`.
    tmp_path
        Parent folder: ``stunnel-<config>/`` (configuration, pid file,
        ``server.pem``, log) and ``stunnel-<config>/storescp/`` (the backend).
    certs
        The PKI; stunnel presents ``certs.good`` (to non-anonymous clients).

    Attributes
    ----------
    host, port, aet
        The TLS front (``127.0.0.1``, a free port) and the backend's AE title.
    backend
        The plain :class:`~tests.peers.dcmtk.StorescpServer` behind it.
    config, spec, accepts, anonymous
        The configuration name, its :class:`StunnelConfig`, what it accepts
        (:class:`~tests.peers.dcmtk.TlsAccepts`) and whether it serves
        anonymous suites.
    cert_kind, cert, ca_bundle
        ``"good"``, its ``(cert, key)`` pair and the CA file to verify it.
    client_auth
        Always ``"disabled"`` (stunnel does not ask for a client certificate).
    """

    what = "stunnel"
    startup_timeout = 15.0
    stop_timeout = 5.0

    def __init__(self, config: str, tmp_path: Path, certs: CertSet) -> None:
        if config not in STUNNEL_CONFIGS:
            raise ValueError(f"unknown stunnel config {config!r}; expected one of {tuple(STUNNEL_CONFIGS)}")
        binary = stunnel_binary()
        if binary is None:
            raise FileNotFoundError("stunnel is not installed (Debian stunnel4; run scripts/install-peers.sh)")
        self.binary = binary
        self.config = config
        self.spec = STUNNEL_CONFIGS[config]
        self.what = f"stunnel ({config})"
        self.root = Path(tmp_path) / f"stunnel-{config}"
        self.log_path = self.root / "stunnel.log"
        self.config_path = self.root / "stunnel.conf"
        self.pem_path = self.root / "server.pem"
        self.host = LOOPBACK
        self.port = 0
        self.certs = certs
        self.cert_kind = "good"
        self.cert: CertPair = certs.good
        self.ca_bundle = certs.ca_bundle
        self.accepts = self.spec.accepts
        self.anonymous = self.spec.anonymous
        self.client_auth = "disabled"
        self.backend = StorescpServer(self.root, aet="STORESCP")
        self.aet = self.backend.aet

    @property
    def backend_port(self) -> int:
        return self.backend.port

    def render_config(self) -> str:
        """The whole ``stunnel.conf`` for the chosen ports."""
        return "\n".join(
            [
                "; Written by tests/peers/stunnel.py for one test run; loopback only.",
                "foreground = yes",
                "syslog = no",
                "debug = info",  # info: one line with the negotiated version and suite per connection
                f"pid = {self.root / 'stunnel.pid'}",
                "",
                f"[dicom-{self.config}]",
                f"accept = {LOOPBACK}:{self.port}",
                f"connect = {LOOPBACK}:{self.backend.port}",
                f"cert = {self.pem_path}",
                f"key = {self.cert.key}",
                f"ciphers = {self.spec.ciphers}",
                f"sslVersionMin = {self.spec.version_min}",
                f"sslVersionMax = {self.spec.version_max}",
                "TIMEOUTclose = 0",
                "",
            ]
        )

    def prepare(self) -> None:
        # The DH parameters go into the certificate file: stunnel reads them from there.
        self.pem_path.write_text(self.cert.cert.read_text() + self.spec.dh_params)
        self.config_path.write_text(self.render_config())

    def argv(self) -> list[str]:
        return [self.binary, str(self.config_path)]

    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend.start()
        try:
            super().start()
        except BaseException:
            self.backend.stop()
            raise
        return self

    def stop(self) -> int | None:
        status = super().stop()
        self.backend.stop()
        return status
