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
"""

from __future__ import annotations

import json
import signal
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

CONFIG_DIR = Path(__file__).parent / "configs"
ORTHANC_CONFIGS = ("open", "stock", "allowlist", "retrieve", "tls")
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


class OrthancServer(PeerProcess):
    """A running Orthanc instance on loopback; use as a context manager.

    Parameters
    ----------
    config
        One of :data:`ORTHANC_CONFIGS`; selects ``configs/<config>.json``.
    tmp_path
        Folder for the configuration, storage, log and (for ``tls``) PEM files.
    datasets
        Synthetic instances to load over REST once the server is up.
    tls
        TLS material to use for the ``tls`` configuration; generated under
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
    """

    def __init__(
        self,
        config: str,
        tmp_path: Path,
        datasets: Sequence[Dataset] = (),
        *,
        tls: TlsMaterial | None = None,
    ) -> None:
        if config not in ORTHANC_CONFIGS:
            raise ValueError(f"unknown Orthanc config {config!r}; expected one of {ORTHANC_CONFIGS}")
        binary = orthanc_binary()
        if binary is None:
            raise FileNotFoundError("Orthanc is not installed (run scripts/install-peers.sh)")
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

    # -- configuration ----------------------------------------------------
    def build_config(self) -> dict[str, object]:
        """The full configuration: template plus run-time keys."""
        cfg: dict[str, object] = json.loads(json.dumps(self.template))
        storage = self.root / "storage"
        cfg.update(
            {
                "StorageDirectory": str(storage),
                "IndexDirectory": str(storage),
                "DicomPort": self.port,
                "HttpPort": self.http_port,
                "DicomServerEnabled": True,
                # The REST API is only the loader: loopback only, no
                # credentials (none are registered).
                "HttpServerEnabled": True,
                "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False,
                # Only the worklist plugin (stock Debian loads the whole
                # plugin folder, i.e. ServeFolders too, which adds nothing here).
                "Plugins": [str(WORKLIST_PLUGIN)] if self.worklist_items else [],
                "SaveJobs": False,
            }
        )
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

    # -- REST ---------------------------------------------------------------
    def rest(self, method: str, path: str, body: bytes | None = None) -> object:
        """Call the loopback REST API and decode its JSON answer."""
        req = urllib.request.Request(f"http://{LOOPBACK}:{self.http_port}{path}", data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/dicom" if path == "/instances" else "text/plain")
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
        ids = [m["ID"] for m in matches or [] if m.get("Type") == "Instance"]  # type: ignore[union-attr]
        for orthanc_id in ids:
            self.rest("DELETE", f"/instances/{orthanc_id}")
        return bool(ids)
