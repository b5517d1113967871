"""Orthanc (1.10.x) as a throwaway loopback PACS for tests.

``OrthancServer("open", tmp_path)`` writes a JSON configuration built from
``configs/<name>.json`` plus the run-time keys (ports, storage folders, TLS
files), starts ``/usr/sbin/Orthanc``, waits for the DICOM and HTTP ports,
loads synthetic instances through the REST API and stops the process on exit.
When Debian's ModalityWorklists plugin is installed it is loaded in every
configuration, serving :data:`WORKLIST_ITEMS` synthetic ``.wl`` items.

Orthanc 1.10.1 has no option to choose the listening address: both its DICOM
and HTTP servers listen on all interfaces. ``RemoteAccessAllowed: false``
limits the REST API to loopback clients; nothing but loopback is ever sent
traffic by these tests.

The ``web-*`` configurations (:data:`WEB_CONFIGS`) add Debian's DICOMweb
plugin (``orthanc-dicomweb`` 1.7, root ``/dicom-web/``) and keep the
template's own ``RemoteAccessAllowed``/``AuthenticationEnabled``/
``RegisteredUsers``: they are the HTTP peers. A registered password written
:data:`RANDOM_PASSWORD` in the template becomes a 32-character token drawn
per run. ``web-https`` and ``web-cors-proxy`` put an nginx
(:class:`~tests.peers.nginx.NginxProxy`) in front: TLS termination, resp. a
CORS policy reflecting any Origin with credentials. Orthanc's own HTTPS
(``SslEnabled``) is not used: on Debian 12 its bundled civetweb crashes on
the first connection (it calls an OpenSSL function OpenSSL 3 removed).
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import string
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from tests.peers._process import (
    LOOPBACK,
    PeerProcess,
    PeerStartError,
    free_port,
    tcp_open,
    which,
)
from tests.peers.certs import TlsMaterial, make_tls_material
from tests.peers.data import to_part10, write_worklist
from tests.peers.nginx import NginxProxy

CONFIG_DIR = Path(__file__).parent / "configs"
ORTHANC_CONFIGS = ("open", "stock", "allowlist", "retrieve", "tls")
#: DICOMweb/REST peers: Orthanc plus the DICOMweb plugin (``configs/web-*.json``).
WEB_CONFIGS = ("web-open", "web-default-user", "web-strong-user", "web-https", "web-cors-proxy")
#: Web configurations served through an nginx front: ``{config: (TLS, reflect CORS)}``.
PROXIED: dict[str, tuple[bool, bool]] = {"web-https": (True, False), "web-cors-proxy": (False, True)}
#: A ``RegisteredUsers`` password in a template that is replaced by a per-run token.
RANDOM_PASSWORD = "<random-per-run>"
#: The user Orthanc (>= 1.5.8) creates itself when remote access is allowed,
#: authentication is on and ``RegisteredUsers`` declares nobody.
DEFAULT_USER = ("orthanc", "orthanc")
#: Debian's build of the Orthanc DICOMweb plugin (package ``orthanc-dicomweb``).
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
#: Where the DICOMweb plugin answers (its default ``DicomWeb.Root``), no trailing slash.
DICOMWEB_ROOT = "/dicom-web"
#: AE title registered in ``configs/allowlist.json`` (DicomModalities).
REGISTERED_AET = "PACSADMIN"
#: The AE title registered in ``configs/retrieve.json``: the scanner's own.
SCANNER_AET = "DICOMAUDIT"
#: The calling AE registered (DicomModalities) in each configuration.
REGISTERED = {"allowlist": REGISTERED_AET, "retrieve": SCANNER_AET}
STARTUP_TIMEOUT = 30.0
#: Debian's build of the Orthanc ModalityWorklists plugin.
WORKLIST_PLUGIN = Path("/usr/share/orthanc/plugins/libModalityWorklists.so")
#: Synthetic worklist items (``.wl`` files) each Orthanc serves.
WORKLIST_ITEMS = 3


def orthanc_binary() -> str | None:
    """Path of the Orthanc executable, or None when it is not installed."""
    return which("Orthanc", "/usr/sbin/Orthanc", "/usr/local/sbin/Orthanc")


def random_password(length: int = 32) -> str:
    """A random token of ASCII letters and digits (never a guessable password)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class OrthancServer(PeerProcess):
    """A running Orthanc instance on loopback; use as a context manager.

    Parameters
    ----------
    config
        One of :data:`ORTHANC_CONFIGS` or :data:`WEB_CONFIGS`; selects
        ``configs/<config>.json``.
    tmp_path
        Folder for the configuration, storage, log and (for ``tls``) PEM files.
    datasets
        Synthetic instances to load over REST once the server is up.
    tls
        TLS material to use for the ``tls`` configuration; generated under
        *tmp_path* when omitted.
    https
        TLS material for the nginx front of ``web-https``; generated under
        *tmp_path* when omitted.

    Attributes
    ----------
    host, port, aet
        Where and as what the DICOM server answers.
    http_port
        Loopback REST API port.
    registered_aet
        The calling AE title registered in DicomModalities: ``PACSADMIN``
        (``allowlist``), ``DICOMAUDIT`` (``retrieve``), else None.
    destinations
        ``{AE title: (host, port)}`` of every DicomModalities entry: the
        C-MOVE destinations Orthanc knows. Modalities whose template port
        is 0 get a free loopback port where nothing listens.
    worklist_items
        How many worklist items the ModalityWorklists plugin serves (0 when
        the plugin is not installed).
    template
        The parsed ``configs/<config>.json`` (modality ports filled in);
        edit it before :meth:`start` for a one-off variant.
    tls
        The PKI (CA, server, client certificate and keys) for ``tls``, else None.
    web
        True for the DICOMweb configurations (:data:`WEB_CONFIGS`).
    web_url
        The DICOMweb root as clients see it, e.g. ``http://127.0.0.1:PORT/dicom-web``
        (no trailing slash; the nginx front for ``web-https``/``web-cors-proxy``).
        Only for web configurations.
    rest_url
        The origin serving Orthanc's REST API as clients see it
        (``http://127.0.0.1:<http_port>``, or the nginx front).
    credentials
        ``(user, password)`` accepted over HTTP Basic, or None when
        authentication is off. For ``web-default-user`` it is Orthanc's own
        default user ``orthanc``/``orthanc`` (:data:`DEFAULT_USER`).
    ca_bundle
        The CA file that verifies the HTTPS front (``web-https``), else None.
    proxy
        The :class:`~tests.peers.nginx.NginxProxy` in front, else None. It is
        started after the seeding and stopped with the server.
    """

    def __init__(
        self,
        config: str,
        tmp_path: Path,
        datasets: Sequence[Dataset] = (),
        *,
        tls: TlsMaterial | None = None,
        https: TlsMaterial | None = None,
    ) -> None:
        if config not in ORTHANC_CONFIGS + WEB_CONFIGS:
            raise ValueError(f"unknown Orthanc config {config!r}; expected one of {ORTHANC_CONFIGS + WEB_CONFIGS}")
        binary = orthanc_binary()
        if binary is None:
            raise FileNotFoundError("Orthanc is not installed (run scripts/install-peers.sh)")
        self.web = config in WEB_CONFIGS
        if self.web and not DICOMWEB_PLUGIN.exists():
            raise FileNotFoundError(f"the Orthanc DICOMweb plugin is not installed ({DICOMWEB_PLUGIN})")
        self.binary = binary
        self.config = config
        self.root = Path(tmp_path) / f"orthanc-{config}"
        self.datasets = list(datasets)
        self.host = LOOPBACK
        self.port = 0
        self.http_port = 0
        self.aet = "ORTHANC"
        self.registered_aet: str | None = REGISTERED.get(config)
        self.template: dict[str, Any] = json.loads((CONFIG_DIR / f"{config}.json").read_text())
        modalities: dict[str, dict[str, Any]] = self.template.get("DicomModalities", {})
        for entry in modalities.values():
            if not entry.get("Port"):
                entry["Port"] = free_port()  # chosen once: stable across start retries
        self.destinations: dict[str, tuple[str, int]] = {
            str(m["AET"]): (str(m["Host"]), int(m["Port"])) for m in modalities.values()
        }
        self.worklists = self.root / "worklists"
        self.worklist_items = WORKLIST_ITEMS if WORKLIST_PLUGIN.exists() else 0
        self.tls: TlsMaterial | None = None
        if config == "tls":
            self.tls = tls or make_tls_material(self.root / "pki")
        self.config_path = self.root / "orthanc.json"
        self.log_path = self.root / "orthanc.log"
        self.loaded: list[str] = []
        self.credentials: tuple[str, str] | None = self._credentials() if self.web else None
        self.proxy: NginxProxy | None = None
        if config in PROXIED:
            with_tls, cors = PROXIED[config]
            front_tls = (https or make_tls_material(self.root / "pki-https")) if with_tls else None
            self.proxy = NginxProxy(self.root / "nginx", tls=front_tls, cors_reflect=cors)

    def _credentials(self) -> tuple[str, str] | None:
        """Draw the per-run passwords; return the user a client authenticates as."""
        users: dict[str, str] = self.template.get("RegisteredUsers") or {}
        for name, password in users.items():
            if password == RANDOM_PASSWORD:
                users[name] = random_password()
        if users:
            name = next(iter(users))
            return (name, users[name])
        auth = self.template.get("AuthenticationEnabled")
        remote = bool(self.template.get("RemoteAccessAllowed", False))
        # Orthanc >= 1.5.8 turns authentication on when remote access is
        # allowed and the option is absent, and then, with nobody registered,
        # creates the user orthanc/orthanc (main.cpp, "Creating a default user").
        if remote and auth is not False:
            return DEFAULT_USER
        return None

    # -- what clients see ---------------------------------------------------
    @property
    def rest_url(self) -> str:
        if self.proxy is not None:
            return self.proxy.url
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def web_url(self) -> str:
        if not self.web:
            raise RuntimeError(f"Orthanc config {self.config!r} does not load the DICOMweb plugin")
        return self.rest_url + DICOMWEB_ROOT

    @property
    def ca_bundle(self) -> Path | None:
        return self.proxy.ca_bundle if self.proxy is not None else None

    # -- configuration ----------------------------------------------------
    def build_config(self) -> dict[str, object]:
        """The full configuration: template plus run-time keys."""
        cfg: dict[str, object] = json.loads(json.dumps(self.template))
        storage = self.root / "storage"
        plugins = [str(WORKLIST_PLUGIN)] if self.worklist_items else []
        if self.web:
            plugins.insert(0, str(DICOMWEB_PLUGIN))
        cfg.update(
            {
                "StorageDirectory": str(storage),
                "IndexDirectory": str(storage),
                "DicomPort": self.port,
                "HttpPort": self.http_port,
                "DicomServerEnabled": True,
                "HttpServerEnabled": True,
                # Only the worklist plugin, plus DICOMweb for the web configs
                # (stock Debian loads the whole plugin folder, i.e. ServeFolders
                # too, which adds nothing here).
                "Plugins": plugins,
                "SaveJobs": False,
            }
        )
        if not self.web:
            # The REST API is only the loader: loopback only, no
            # credentials (none are registered). The web configs keep the
            # template's own HTTP security settings.
            cfg.update({"RemoteAccessAllowed": False, "AuthenticationEnabled": False})
        if self.worklist_items:
            cfg["Worklists"] = {
                "Enable": True,
                "Database": str(self.worklists),
                "FilterIssuerAet": False,
                "LimitAnswers": 0,
            }
        self.aet = str(cfg.get("DicomAet", "ORTHANC"))
        if self.tls is not None:
            cfg.update(
                {
                    "DicomTlsCertificate": str(self.tls.server_cert),
                    "DicomTlsPrivateKey": str(self.tls.server_key),
                    "DicomTlsTrustedCertificates": str(self.tls.ca_cert),
                }
            )
        return cfg

    # -- life cycle -------------------------------------------------------
    what = "Orthanc"
    startup_timeout = STARTUP_TIMEOUT
    stop_timeout = 10.0

    @property
    def stdout_path(self) -> Path:
        return self.root / "orthanc.stdout"  # Orthanc writes its own log to log_path

    def argv(self) -> list[str]:
        return [self.binary, f"--logfile={self.log_path}", str(self.config_path)]

    def choose_ports(self) -> None:
        self.port, self.http_port = free_port(), free_port()

    def prepare(self) -> None:
        """Write the worklist files and the configuration for the chosen ports."""
        if self.worklist_items:
            write_worklist(self.worklists, self.worklist_items)
        self.config_path.write_text(json.dumps(self.build_config(), indent=2))

    def after_start(self) -> None:
        self.load(self.datasets)
        if self.proxy is not None:
            self.proxy.upstream_port = self.http_port
            self.proxy.start()

    def ready(self) -> bool:
        if not tcp_open(self.port):
            return False
        try:
            self.rest("GET", "/system")
        except OSError:
            return False
        return True

    def request_stop(self) -> None:
        """Send SIGTERM without waiting, so several servers can wind down together."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        """Stop the nginx front (if any, instant), then Orthanc."""
        if self.proxy is not None:
            self.proxy.stop()
        return super().stop()

    # -- REST ---------------------------------------------------------------
    def rest(self, method: str, path: str, body: bytes | None = None) -> object:
        """Call the loopback REST API and decode its JSON answer.

        Goes straight to Orthanc (never through the nginx front), with HTTP
        Basic :attr:`credentials` when the configuration has a user.
        """
        req = urllib.request.Request(f"http://{LOOPBACK}:{self.http_port}{path}", data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/dicom" if path == "/instances" else "text/plain")
        if self.credentials is not None:
            token = base64.b64encode(":".join(self.credentials).encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def load(self, datasets: Sequence[Dataset]) -> list[str]:
        """Store *datasets* through ``POST /instances``; return their Orthanc ids."""
        for ds in datasets:
            answer = self.rest("POST", "/instances", to_part10(ds))
            assert isinstance(answer, dict)
            if answer.get("Status") not in ("Success", "AlreadyStored"):
                raise PeerStartError(f"Orthanc refused a synthetic instance: {answer}")
            self.loaded.append(str(answer["ID"]))
        return list(self.loaded)

    def delete_sop_instance(self, sop_instance_uid: str) -> bool:
        """Delete one instance by SOP Instance UID (undo a test's C-STORE).

        Lets a session-scoped server keep its seeded content exactly;
        returns False when Orthanc does not hold that instance.
        """
        matches = self.rest("POST", "/tools/lookup", sop_instance_uid.encode())
        found: list[dict[str, str]] = matches if isinstance(matches, list) else []
        ids = [m["ID"] for m in found if m.get("Type") == "Instance"]
        for orthanc_id in ids:
            self.rest("DELETE", f"/instances/{orthanc_id}")
        return bool(ids)
