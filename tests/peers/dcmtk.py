"""DCMTK servers (dcmqrscp, storescp, wlmscpfs) as throwaway loopback peers.

* :class:`DcmqrscpServer`: an image archive with Q/R and storage, with a
  generated ``dcmqrscp.cfg`` (``open``: any peer; ``move_aetitle`` /
  ``no_get``: the same with ``--move-aetitle`` / ``--disable-get``;
  ``restricted``: one registered AE at 127.0.0.1), a HostTable holding the
  move destination ``DEST``, seeded with ``dcmqridx``.
* :class:`StorescpServer`: accepts any storage, writes to a temp folder
  (optionally on a given port, e.g. a known move destination's).
* :class:`WlmscpfsServer`: Modality Worklist SCP over a folder of synthetic
  ``.wl`` files.
* :class:`StorescpTlsServer`: ``storescp +tls`` (PS3.15 Annex B.1) with one
  of DCMTK's security profiles (:data:`DCMTK_TLS_PROFILES`), one certificate
  of a :class:`~tests.peers.certs.CertSet` and a client-certificate policy;
  :attr:`~StorescpTlsServer.accepts` says which protocol versions and cipher
  suites it was observed to accept (GROUND_TRUTH.md, "TLS").

DCMTK 3.6.7 tools take only a port, not a listening address: they listen on
all interfaces. Tests send traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import os
import ssl
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from tests.peers._process import (
    LOOPBACK,
    PeerProcess,
    PeerStartError,
    free_port,
)
from tests.peers.certs import CERT_KINDS, CertPair, CertSet
from tests.peers.data import worklist_item, write_files, write_worklist

__all__ = [
    "CLIENT_AUTH_MODES",
    "DCMQRIDX_MAX_STUDIES",
    "DCMQRSCP_CONFIGS",
    "DCMTK_TLS_PROFILES",
    "DEST_AET",
    "REGISTERED_AET",
    "STARTUP_TIMEOUT",
    "TLS_VERSION_LABELS",
    "DcmqrscpServer",
    "DcmtkTlsProfile",
    "StorescpServer",
    "StorescpTlsServer",
    "TlsAccepts",
    "WlmscpfsServer",
    "WrongTool",
    "dcmtk_binary",
    "worklist_item",  # moved to tests.peers.data; still importable from here
]

DCMQRSCP_CONFIGS = ("open", "restricted", "move_aetitle", "no_get")
#: The AE title registered in the ``restricted`` HostTable.
REGISTERED_AET = "PACSADMIN"
#: The known C-MOVE destination in every dcmqrscp HostTable (nothing listens there).
DEST_AET = "DEST"
STARTUP_TIMEOUT = 15.0
#: Seeds with more studies than this are stored over the network instead.
DCMQRIDX_MAX_STUDIES = 400


class WrongTool(RuntimeError):
    """A program of the right name is there, but it is not DCMTK's."""


@functools.cache
def dcmtk_binary(name: str) -> str | None:
    """Path of DCMTK's tool ``name`` (``dcmqrscp``, ``echoscu`` ...), or None when absent.

    pynetdicom installs its own ``echoscu``, ``findscu``, ``storescp`` ... into
    the virtualenv's ``bin``; with the venv activated they shadow DCMTK's on
    PATH.  Every candidate (each PATH entry, then /usr/bin) is asked for its
    version and only one that says ``$dcmtk:`` is taken.  Raises
    :class:`WrongTool` when only impostors are found.
    """
    candidates = [os.path.join(d, name) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    candidates.append(f"/usr/bin/{name}")
    impostors = []
    for path in dict.fromkeys(candidates):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        try:
            probe = subprocess.run(
                [path, "--version"],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=10,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "$dcmtk:" in probe.stdout + probe.stderr:
            return path
        impostors.append(path)
    if impostors:
        raise WrongTool(
            f"{name}: only non-DCMTK programs of that name were found ({', '.join(impostors)}); "
            "install DCMTK (scripts/install-peers.sh)"
        )
    return None


class _DcmtkServer(PeerProcess):
    """Common life cycle: start a DCMTK listener, wait for its port, stop it."""

    tool = ""
    startup_timeout = STARTUP_TIMEOUT

    def __init__(self, tmp_path: Path, name: str) -> None:
        binary = dcmtk_binary(self.tool)
        if binary is None:
            raise FileNotFoundError(f"{self.tool} is not installed (run scripts/install-peers.sh)")
        self.binary = binary
        self.what = self.tool
        self.root = Path(tmp_path) / name
        self.host = LOOPBACK
        self.port = 0
        self.aet = ""
        self.registered_aet: str | None = None
        self.log_path = self.root / f"{self.tool}.log"
        #: Listen here instead of on a free port (e.g. a known move destination's).
        self.fixed_port: int | None = None

    def choose_ports(self) -> None:
        self.port = self.fixed_port or free_port()


class DcmqrscpServer(_DcmtkServer):
    """``dcmqrscp`` (DCMTK's Q/R archive) with a generated configuration.

    Parameters
    ----------
    config
        ``open``: the archive AE is ``RW`` for peers ``ANY``; C-MOVE to any
        HostTable destination (``--move-unrestricted``, DCMTK's default).
        ``move_aetitle``: as ``open`` with ``--move-aetitle`` (the move
        destination must be the requesting AE title).
        ``no_get``: as ``open`` with ``--disable-get`` (no C-GET contexts).
        ``restricted``: peers limited to the HostTable entry
        ``(PACSADMIN, 127.0.0.1, port)``.
    tmp_path
        Folder for ``dcmqrscp.cfg``, the storage area and the log.
    datasets
        Synthetic instances indexed into the storage area with
        ``dcmqridx`` before start-up; :meth:`load` adds more over the
        network with ``storescu``.
    destinations
        Known C-MOVE destinations written to the HostTable,
        ``{AE title: port}`` at 127.0.0.1; default one, :data:`DEST_AET`
        on a free port where nothing listens (start a storescp there
        with ``StorescpServer(..., aet="DEST", port=...)`` to receive).

    Attributes
    ----------
    destinations
        ``{AE title: (host, port)}`` of the HostTable's move destinations
        (``restricted`` also has PACSADMIN there, its only allowed peer).
    """

    tool = "dcmqrscp"

    def __init__(
        self,
        config: str,
        tmp_path: Path,
        datasets: Sequence[Dataset] = (),
        destinations: Mapping[str, int] | None = None,
    ) -> None:
        if config not in DCMQRSCP_CONFIGS:
            raise ValueError(f"unknown dcmqrscp config {config!r}; expected one of {DCMQRSCP_CONFIGS}")
        super().__init__(tmp_path, f"dcmqrscp-{config}")
        self.config = config
        self.aet = "DCMQRSCP"
        self.registered_aet = REGISTERED_AET if config == "restricted" else None
        self.datasets = list(datasets)
        self.config_path = self.root / "dcmqrscp.cfg"
        self.storage = self.root / "storage"
        ports = dict(destinations) if destinations is not None else {DEST_AET: free_port()}
        self.destinations: dict[str, tuple[str, int]] = {aet: (LOOPBACK, port) for aet, port in ports.items()}
        if config == "restricted":
            # The registered peer's port is only used for C-MOVE destinations.
            self.destinations[REGISTERED_AET] = (LOOPBACK, 11112)

    def config_text(self) -> str:
        """``dcmqrscp.cfg`` (format: DCMTK's dcmqrcnf.txt)."""
        # HostTable lines: symbolic name = (AE title, host, port).
        hosts = "".join(f"{aet.lower()} = ({aet}, {host}, {port})\n" for aet, (host, port) in self.destinations.items())
        peers = REGISTERED_AET.lower() if self.config == "restricted" else "ANY"
        return (
            f"# generated by tests/peers/dcmtk.py ({self.config})\n"
            f"NetworkTCPPort  = {self.port}\n"
            "MaxPDUSize      = 16384\n"
            "MaxAssociations = 16\n"
            "\n"
            "HostTable BEGIN\n"
            f"{hosts}"
            "HostTable END\n"
            "\n"
            "VendorTable BEGIN\n"
            "VendorTable END\n"
            "\n"
            "AETable BEGIN\n"
            # AE title, storage area, access, (max studies, max bytes per study), peers.
            # 500 studies is DCMTK's upper limit; the quota is never reached here.
            f"{self.aet} {self.storage} RW (500, 1024mb) {peers}\n"
            "AETable END\n"
        )

    def prepare(self) -> None:
        self.storage.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text())
        if self._index_seedable() and not (self.storage / "index.dat").exists():
            self.seed_index(self.datasets)

    def _index_seedable(self) -> bool:
        # dcmqridx and dcmqrscp 3.6.7 cap an archive at 500 studies
        # (DB_UpperMaxStudies) and crash ("double free") once their quota
        # starts deleting; keep seeds well below it.
        return 0 < len({ds.StudyInstanceUID for ds in self.datasets}) <= DCMQRIDX_MAX_STUDIES

    def after_start(self) -> None:
        if self.datasets and not self._index_seedable():
            self.load(self.datasets)

    def seed_index(self, datasets: Sequence[Dataset]) -> None:
        """Register *datasets* in the archive with ``dcmqridx`` before start-up.

        DCMTK's own indexer writes ``index.dat`` directly: ~30 ms for the
        sample set, where seeding through ``storescu`` costs ~0.1 s per
        instance (dcmqrscp rewrites its index on every store).
        """
        dcmqridx = dcmtk_binary("dcmqridx")
        if dcmqridx is None:
            raise FileNotFoundError("dcmqridx is not installed (run scripts/install-peers.sh)")
        paths = write_files(datasets, self.storage / "seed")
        proc = subprocess.run(
            [dcmqridx, str(self.storage), *paths], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            raise PeerStartError(f"dcmqridx could not index the seed data:\n{proc.stdout}{proc.stderr}")

    def argv(self) -> list[str]:
        # Fork mode (the default): dcmqrscp 3.6.7 with --single-process
        # segfaults after the first association is released. Children end
        # with their association, so stopping the parent is enough.
        # --disable-host-lookup keeps peer host names as IP strings, so the
        # HostTable entry 127.0.0.1 matches.
        flags = {"move_aetitle": ["--move-aetitle"], "no_get": ["--disable-get"]}.get(self.config, [])
        return [
            self.binary,
            "--disable-host-lookup",
            "--verbose",
            *flags,
            "-c",
            str(self.config_path),
            str(self.port),
        ]

    def load(self, datasets: Sequence[Dataset]) -> None:
        """Store *datasets* into the running archive with ``storescu``.

        Sent from the registered AE in ``restricted`` (the only one allowed).
        """
        if not datasets:
            return
        folder = self.root / f"load-{len(list(self.root.glob('load-*')))}"
        write_files(datasets, folder)
        storescu = dcmtk_binary("storescu")
        if storescu is None:
            raise FileNotFoundError("storescu is not installed (run scripts/install-peers.sh)")
        argv = [
            storescu,
            "-aet",
            self.registered_aet or "SEEDER",
            "-aec",
            self.aet,
            "+sd",
            "+r",
            LOOPBACK,
            str(self.port),
            str(folder),
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise PeerStartError(
                f"storescu could not seed dcmqrscp (status {proc.returncode}):\n"
                f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}\ndcmqrscp log tail:\n{self.log_tail()}"
            )


class StorescpServer(_DcmtkServer):
    """``storescp``: accepts storage from anyone, writes files under ``received/``."""

    tool = "storescp"

    def __init__(self, tmp_path: Path, aet: str = "STORESCP", port: int | None = None) -> None:
        super().__init__(tmp_path, "storescp" if aet == "STORESCP" else f"storescp-{aet.lower()}")
        self.aet = aet
        self.fixed_port = port
        self.output = self.root / "received"

    def prepare(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--disable-host-lookup",
            "--verbose",
            "-aet",
            self.aet,
            "--output-directory",
            str(self.output),
            str(self.port),
        ]

    def received(self) -> list[Path]:
        """Files written by storescp so far."""
        return sorted(p for p in self.output.rglob("*") if p.is_file())


class WlmscpfsServer(_DcmtkServer):
    """``wlmscpfs``: Modality Worklist C-FIND over ``worklists/<AET>/*.wl``.

    wlmscpfs serves the subfolder named like the Called AE Title, so the
    worklist is found only when called as :attr:`aet`.
    """

    tool = "wlmscpfs"

    def __init__(self, tmp_path: Path, items: int = 1, aet: str = "WLMSCP") -> None:
        super().__init__(tmp_path, "wlmscpfs")
        self.aet = aet
        self.items = items
        self.worklists = self.root / "worklists"

    def prepare(self) -> None:
        folder = self.worklists / self.aet
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "lockfile").touch()  # wlmscpfs locks this file while reading
        write_worklist(folder, self.items)

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--single-process",
            "--disable-host-lookup",
            "--verbose",
            "-dfp",
            str(self.worklists),
            str(self.port),
        ]


# -- DICOM over TLS ------------------------------------------------------------

#: How the TLS peers name protocol versions in messages (the lead's evidence uses the same labels).
TLS_VERSION_LABELS: dict[ssl.TLSVersion, str] = {
    ssl.TLSVersion.SSLv3: "SSL 3.0",
    ssl.TLSVersion.TLSv1: "TLS 1.0",
    ssl.TLSVersion.TLSv1_1: "TLS 1.1",
    ssl.TLSVersion.TLSv1_2: "TLS 1.2",
    ssl.TLSVersion.TLSv1_3: "TLS 1.3",
}

_V10, _V11, _V12, _V13 = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
#: TLS 1.3 suites OpenSSL 3.0 enables by default (DCMTK does not restrict them).
_TLS13_DEFAULT = frozenset({"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"})
#: DCMTK's BCP 195 TLS 1.2 suites that an RSA certificate can serve.
_BCP195_TLS12 = frozenset(
    {
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    }
)
_RSA_AES128_SHA = frozenset({"TLS_RSA_WITH_AES_128_CBC_SHA"})
_RSA_NULL_SHA = frozenset({"TLS_RSA_WITH_NULL_SHA"})


@dataclass(frozen=True)
class TlsAccepts:
    """What a TLS peer was observed to accept: cipher suites (IANA names, as sslyze reports them) per version.

    Observed on Debian 12 (OpenSSL 3.0.x, DCMTK 3.6.7, stunnel 5.68) with an
    RSA 2048 server certificate; see GROUND_TRUTH.md, "TLS". A version that
    is absent (or maps to nothing) is refused. SSL 2.0/3.0 are never
    accepted: Debian's libssl is built without them.
    """

    suites: Mapping[ssl.TLSVersion, frozenset[str]] = field(default_factory=dict)

    @property
    def versions(self) -> tuple[ssl.TLSVersion, ...]:
        """The accepted protocol versions, oldest first."""
        return tuple(sorted((v for v, names in self.suites.items() if names), key=lambda v: v.value))

    @property
    def labels(self) -> tuple[str, ...]:
        """:attr:`versions` as ``"TLS 1.2"`` style labels."""
        return tuple(TLS_VERSION_LABELS[v] for v in self.versions)

    def accepts(self, version: ssl.TLSVersion) -> bool:
        return bool(self.suites.get(version))

    @property
    def all_suites(self) -> frozenset[str]:
        """Every suite accepted under any version."""
        return frozenset().union(*self.suites.values()) if self.suites else frozenset()


@dataclass(frozen=True)
class DcmtkTlsProfile:
    """One of storescp's ``security profile`` options and what it accepts on Debian 12."""

    option: str
    short: str
    accepts: TlsAccepts
    note: str


#: DCMTK 3.6.7 security profiles (``storescp --help``) by the name used here, with what each was
#: observed to accept on Debian 12 + OpenSSL 3.0.19 with an RSA 2048 certificate.
#: TLS 1.0/1.1 in ``bcp195``/``aes``/``null``: only RSA key transport survives; (E)DHE there would need an
#: MD5+SHA-1 ServerKeyExchange signature, which DCMTK 3.6.7 on OpenSSL 3 does not make.
DCMTK_TLS_PROFILES: dict[str, DcmtkTlsProfile] = {
    "bcp195-nd": DcmtkTlsProfile(
        "--profile-bcp195-nd",
        "+py",
        TlsAccepts({_V12: _BCP195_TLS12, _V13: _TLS13_DEFAULT}),
        "Non-downgrading BCP 195 (DCMTK's default): TLS 1.2+ only",
    ),
    "bcp195": DcmtkTlsProfile(
        "--profile-bcp195",
        "+px",
        TlsAccepts(
            {_V10: _RSA_AES128_SHA, _V11: _RSA_AES128_SHA, _V12: _BCP195_TLS12 | _RSA_AES128_SHA, _V13: _TLS13_DEFAULT}
        ),
        "BCP 195: also TLS 1.0/1.1 with TLS_RSA_WITH_AES_128_CBC_SHA (the downgrade allowance)",
    ),
    "bcp195-ex": DcmtkTlsProfile(
        "--profile-bcp195-ex",
        "+pz",
        TlsAccepts({_V12: _BCP195_TLS12}),
        "Extended BCP 195: TLS 1.2 only, no TLS 1.3",
    ),
    "aes": DcmtkTlsProfile(
        "--profile-aes",
        "+pa",
        TlsAccepts({_V10: _RSA_AES128_SHA, _V11: _RSA_AES128_SHA, _V12: _RSA_AES128_SHA}),
        "retired AES profile: TLS_RSA_WITH_AES_128_CBC_SHA only, TLS 1.0-1.2, no forward secrecy",
    ),
    "null": DcmtkTlsProfile(
        "--profile-null",
        "+pn",
        TlsAccepts({_V10: _RSA_NULL_SHA, _V11: _RSA_NULL_SHA, _V12: _RSA_NULL_SHA}),
        "retired authentication-only profile: TLS_RSA_WITH_NULL_SHA only (no encryption), TLS 1.0-1.2",
    ),
}
#: Client-certificate policies: storescp ``-ic`` (ignore), ``-vc`` (verify if sent), ``-rc`` (require;
#: DCMTK's default with ``+tls``). The names follow sslyze's ``ClientAuthRequirementEnum``.
CLIENT_AUTH_MODES = {
    "disabled": "--ignore-peer-cert",
    "optional": "--verify-peer-cert",
    "required": "--require-peer-cert",
}


class StorescpTlsServer(_DcmtkServer):
    """``storescp +tls``: a storage SCP speaking DICOM over TLS only (single process, one association at a time).

    Parameters
    ----------
    tmp_path
        Folder for the log and received files.
    certs
        The PKI; the server presents ``certs[cert_kind]``.
    profile
        A key of :data:`DCMTK_TLS_PROFILES` (default ``bcp195-nd``, DCMTK's own default).
    cert_kind
        A key of :data:`~tests.peers.certs.CERT_KINDS` (default ``good``).
    require_client_cert
        Refuse clients without a certificate from ``certs.ca_bundle`` (``-rc``);
        present ``certs.client`` to get in.
    optional_client_cert
        Ask for a client certificate and verify it if one is sent (``-vc``).
        Neither flag: never ask (``-ic``).
    aet
        The AE title.

    Attributes
    ----------
    host, port, aet
        Where it listens (``127.0.0.1``, a free port) and as which AE.
    profile, cert_kind, cert, ca_bundle
        The profile name, the certificate kind, its ``(cert, key)`` pair and
        the CA file a client verifies it with (the ``self_signed`` certificate
        does not chain to it).
    client_auth
        ``"disabled"``, ``"optional"`` or ``"required"``.
    accepts
        The :class:`TlsAccepts` of the profile (the certificate kind does not
        change it: DCMTK serves every kind, warning about ``short_key`` and
        ``sha1`` in its log).
    """

    tool = "storescp"
    #: storescp waits this long for an A-ASSOCIATE-RQ after a handshake (DCMTK: 30 s); a scanner
    #: that only handshakes closes at once, but a stuck client must not block the single process long.
    acse_timeout = 10

    def __init__(
        self,
        tmp_path: Path,
        certs: CertSet,
        profile: str = "bcp195-nd",
        cert_kind: str = "good",
        *,
        require_client_cert: bool = False,
        optional_client_cert: bool = False,
        aet: str = "STORESCP",
    ) -> None:
        if profile not in DCMTK_TLS_PROFILES:
            raise ValueError(f"unknown DCMTK TLS profile {profile!r}; expected one of {tuple(DCMTK_TLS_PROFILES)}")
        if cert_kind not in CERT_KINDS:
            raise ValueError(f"unknown certificate kind {cert_kind!r}; expected one of {CERT_KINDS}")
        if require_client_cert and optional_client_cert:
            raise ValueError("require_client_cert and optional_client_cert exclude each other")
        self.client_auth = "required" if require_client_cert else "optional" if optional_client_cert else "disabled"
        super().__init__(tmp_path, f"storescp-tls-{profile}-{cert_kind}-{self.client_auth}")
        self.what = f"storescp +tls ({profile}, {cert_kind}, client cert {self.client_auth})"
        self.aet = aet
        self.certs = certs
        self.profile = profile
        self.cert_kind = cert_kind
        self.cert: CertPair = certs[cert_kind]
        self.ca_bundle = certs.ca_bundle
        self.accepts = DCMTK_TLS_PROFILES[profile].accepts
        self.output = self.root / "received"

    @property
    def require_client_cert(self) -> bool:
        return self.client_auth == "required"

    def prepare(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        trust = ["--add-cert-file", str(self.ca_bundle)] if self.client_auth != "disabled" else []
        return [
            self.binary,
            "--disable-host-lookup",
            "--verbose",
            "--acse-timeout",
            str(self.acse_timeout),
            "-aet",
            self.aet,
            "--output-directory",
            str(self.output),
            "--enable-tls",
            str(self.cert.key),
            str(self.cert.cert),
            DCMTK_TLS_PROFILES[self.profile].option,
            CLIENT_AUTH_MODES[self.client_auth],
            *trust,
            str(self.port),
        ]

    def received(self) -> list[Path]:
        """Files written by storescp so far."""
        return sorted(p for p in self.output.rglob("*") if p.is_file())
