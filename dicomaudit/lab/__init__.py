"""The built-in lab PACS: a deliberately misconfigurable DICOM node on loopback.

Used by ``dicomaudit demo``, ``dicomaudit lab`` and the test-suite::

    from dicomaudit.lab import LabPACS, PROFILES

    with LabPACS(profile="stock") as lab:   # port=0: a free port
        ...  # probe lab.host, lab.port, lab.ae_title

    with LabPACS(profile="open", web_port=0) as lab:   # DICOMweb too
        ...  # lab.web_url == "http://127.0.0.1:PORT/dicom-web"

Profiles (:data:`PROFILES`): ``open``, ``locked``, ``stock``, ``readonly``, ``tls``,
``retrieve``, ``identity``.  All data served is synthetic (``sample_data/`` or
:mod:`dicomaudit.synth`, including the Modality Worklist), and so are the
built-in accounts (:data:`IDENTITY_PROFILE_USERS`, :data:`LAB_WEB_PASSWORD`).
"""

from dicomaudit.lab.profiles import (
    DEFAULT_AE_TITLE,
    IDENTITY_PROFILE_USERS,
    LAB_WEB_PASSWORD,
    LAB_WEB_USER,
    MOVE_DESTINATION_CHECKS,
    MOVE_DESTINATION_UNKNOWN,
    PROFILES,
    REFUSED_NOT_AUTHORIZED,
    SYNTHETIC_WEB_USERS,
    USER_IDENTITY_MODES,
    WEB_AUTH_MODES,
    WEB_CORS_MODES,
    WEB_PROFILE_USERS,
    Access,
    LabProfile,
    get_profile,
)
from dicomaudit.lab.runner import describe_event, describe_web, run_forever
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
from dicomaudit.lab.web import (
    DICOM_JSON,
    MAX_BODY_BYTES,
    MAX_STOW_PARTS,
    REALM,
    ROOT,
    SERVER_SOFTWARE,
    LabWebServer,
)

__all__ = [
    "DEFAULT_AE_TITLE",
    "DICOM_JSON",
    "IDENTITY_PROFILE_USERS",
    "LAB_IMPLEMENTATION_CLASS_UID",
    "LAB_IMPLEMENTATION_VERSION_NAME",
    "LAB_WEB_PASSWORD",
    "LAB_WEB_USER",
    "MAX_BODY_BYTES",
    "MAX_STOW_PARTS",
    "MOVE_DESTINATION_CHECKS",
    "MOVE_DESTINATION_UNKNOWN",
    "PROFILES",
    "REALM",
    "REFUSED_NOT_AUTHORIZED",
    "ROOT",
    "SERVER_SOFTWARE",
    "SYNTHETIC_WEB_USERS",
    "USER_IDENTITY_MODES",
    "USER_IDENTITY_REJECTION",
    "WEB_AUTH_MODES",
    "WEB_CORS_MODES",
    "WEB_PROFILE_USERS",
    "Access",
    "Event",
    "LabPACS",
    "LabProfile",
    "LabWebServer",
    "TLSFiles",
    "default_datasets",
    "default_worklist",
    "describe_event",
    "describe_web",
    "generate_tls_files",
    "get_profile",
    "run_forever",
]
