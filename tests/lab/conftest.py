"""Fixtures for lab PACS tests: real servers on free loopback ports, plain pynetdicom clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from dicomaudit.lab import LabPACS, LabProfile

#: Client-side bounds so a broken lab fails a test quickly instead of hanging it.
CLIENT_TIMEOUT = 5


@pytest.fixture
def start_lab() -> Iterator[Callable[..., LabPACS]]:
    """Factory: ``start_lab("open", **kwargs)`` starts a lab on a free port; all are stopped at teardown."""
    labs: list[LabPACS] = []

    def _start(profile: str | LabProfile = "open", **kwargs: object) -> LabPACS:
        lab = LabPACS(profile=profile, host="127.0.0.1", port=0, **kwargs)  # type: ignore[arg-type]
        labs.append(lab)
        return lab.start()

    yield _start
    for lab in labs:
        lab.stop()


@pytest.fixture
def scu() -> Callable[[str], AE]:
    """Factory: ``scu("CALLING_AET")`` builds a client AE requesting echo, both FIND models and SC storage."""

    def _make(calling_aet: str = "DICOMAUDIT") -> AE:
        ae = AE(ae_title=calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = CLIENT_TIMEOUT
        ae.add_requested_context(Verification)
        ae.add_requested_context(PatientRootQueryRetrieveInformationModelFind)
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_requested_context(SecondaryCaptureImageStorage)
        return ae

    return _make


class StorageSCP:
    """A plain pynetdicom Storage SCP on a free loopback port that keeps what it receives."""

    def __init__(self, ae_title: str) -> None:
        self.ae_title = ae_title
        self.received: list[Dataset] = []
        ae = AE(ae_title=ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = CLIENT_TIMEOUT
        for cx in StoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax)
        self._server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)])
        self.port = int(self._server.server_address[1])

    def _on_store(self, event: evt.Event) -> int:
        self.received.append(event.dataset)
        return 0x0000

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def storage_scp() -> Iterator[Callable[[str], StorageSCP]]:
    """Factory: ``storage_scp("DEST1")`` starts a Storage SCP (a C-MOVE destination); all stopped at teardown."""
    started: list[StorageSCP] = []

    def _start(ae_title: str = "DEST1") -> StorageSCP:
        scp = StorageSCP(ae_title)
        started.append(scp)
        return scp

    yield _start
    for scp in started:
        scp.stop()
