"""Fixtures for lab PACS tests: real servers on free loopback ports, plain pynetdicom clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pynetdicom import AE
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
