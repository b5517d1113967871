"""The built-in lab PACS: a deliberately misconfigurable DICOM node on loopback.

Used by ``dicomaudit demo``, ``dicomaudit lab`` and the test-suite::

    from dicomaudit.lab import LabPACS, PROFILES

    with LabPACS(profile="stock") as lab:   # port=0: a free port
        ...  # probe lab.host, lab.port, lab.ae_title

Profiles (:data:`PROFILES`): ``open``, ``locked``, ``stock``, ``readonly``, ``tls``,
``retrieve``, ``identity``.  All data served is synthetic (``sample_data/`` or
:mod:`dicomaudit.synth`, including the Modality Worklist).
"""

from dicomaudit.lab.profiles import (
    DEFAULT_AE_TITLE,
    IDENTITY_PROFILE_USERS,
    MOVE_DESTINATION_CHECKS,
    MOVE_DESTINATION_UNKNOWN,
    PROFILES,
    REFUSED_NOT_AUTHORIZED,
    USER_IDENTITY_MODES,
    Access,
    LabProfile,
    get_profile,
)
from dicomaudit.lab.runner import describe_event, run_forever
from dicomaudit.lab.server import (
    LAB_IMPLEMENTATION_CLASS_UID,
    LAB_IMPLEMENTATION_VERSION_NAME,
    USER_IDENTITY_REJECTION,
    Event,
    LabPACS,
    default_datasets,
    default_worklist,
)
from dicomaudit.lab.tls import TLSFiles, generate_tls_files

__all__ = [
    "DEFAULT_AE_TITLE",
    "IDENTITY_PROFILE_USERS",
    "LAB_IMPLEMENTATION_CLASS_UID",
    "LAB_IMPLEMENTATION_VERSION_NAME",
    "MOVE_DESTINATION_CHECKS",
    "MOVE_DESTINATION_UNKNOWN",
    "PROFILES",
    "REFUSED_NOT_AUTHORIZED",
    "USER_IDENTITY_MODES",
    "USER_IDENTITY_REJECTION",
    "Access",
    "Event",
    "LabPACS",
    "LabProfile",
    "TLSFiles",
    "default_datasets",
    "default_worklist",
    "describe_event",
    "generate_tls_files",
    "get_profile",
    "run_forever",
]
