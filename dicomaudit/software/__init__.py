"""What software answers, and which published advisories apply to it.

* :mod:`~dicomaudit.software.fingerprints`: product and version from the
  Implementation Class UID / Version Name and Orthanc's ``/system`` answer,
  with a confidence and the evidence used (``fingerprints.toml``);
* :mod:`~dicomaudit.software.advisories`: advisories (``advisories.toml``)
  matched only against an identified version, and the installation of a
  newer advisory file.
"""

from dicomaudit.software.advisories import (
    Advisory,
    AdvisoryData,
    AdvisoryError,
    Match,
    install_advisories,
    load_advisories,
    match,
)
from dicomaudit.software.fingerprints import (
    Fingerprint,
    FingerprintError,
    Identification,
    identify,
    load_fingerprints,
)

__all__ = [
    "Advisory",
    "AdvisoryData",
    "AdvisoryError",
    "Fingerprint",
    "FingerprintError",
    "Identification",
    "Match",
    "identify",
    "install_advisories",
    "load_advisories",
    "load_fingerprints",
    "match",
]
