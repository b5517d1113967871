"""The built-in lab PACS: a deliberately misconfigurable DICOM node on loopback.

Used by ``dicomaudit demo``, ``dicomaudit lab`` and the test-suite::

    from dicomaudit.lab import LabPACS, PROFILES

    with LabPACS(profile="stock") as lab:   # port=0: a free port
        ...  # probe lab.host, lab.port, lab.ae_title

Profiles (:data:`PROFILES`): ``open``, ``locked``, ``stock``, ``readonly``, ``tls``.
All data served is synthetic (``sample_data/`` or :mod:`dicomaudit.synth`).
"""

from dicomaudit.lab.profiles import (
    DEFAULT_AE_TITLE,
    PROFILES,
    REFUSED_NOT_AUTHORIZED,
    Access,
    LabProfile,
    get_profile,
)
from dicomaudit.lab.runner import describe_event, run_forever
from dicomaudit.lab.server import (
    LAB_IMPLEMENTATION_CLASS_UID,
    LAB_IMPLEMENTATION_VERSION_NAME,
    Event,
    LabPACS,
    default_datasets,
)
from dicomaudit.lab.tls import TLSFiles, generate_tls_files

__all__ = [
    "DEFAULT_AE_TITLE",
    "LAB_IMPLEMENTATION_CLASS_UID",
    "LAB_IMPLEMENTATION_VERSION_NAME",
    "PROFILES",
    "REFUSED_NOT_AUTHORIZED",
    "Access",
    "Event",
    "LabPACS",
    "LabProfile",
    "TLSFiles",
    "default_datasets",
    "describe_event",
    "generate_tls_files",
    "get_profile",
    "run_forever",
]
