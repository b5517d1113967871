"""How the scanner identifies itself on the wire.

The scanner never pretends to be someone else: every association carries
dicomaudit's own Implementation Class UID and Version Name (PS3.7 D.3.3.2),
so a node's logs show plainly who was probing it.
"""

from __future__ import annotations

import secrets
import string
import uuid

from dicomaudit import __version__

# A UUID-derived UID (PS3.5 B.2): stable across releases, unique to this project.
IMPLEMENTATION_CLASS_UID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'https://github.com/dicomaudit/dicomaudit').int}"
# At most 16 characters (PS3.7 D.3.3.2.2).
IMPLEMENTATION_VERSION_NAME = ("DICOMAUDIT_" + __version__.replace(".", ""))[:16]

DEFAULT_CALLING_AET = "DICOMAUDIT"
# Used as the called AE title when the operator does not know the node's own;
# the name nmap's dicom-ping and many tools use, so node logs stay readable.
PLACEHOLDER_CALLED_AET = "ANY-SCP"

_AET_ALPHABET = string.ascii_uppercase + string.digits


def random_aet(prefix: str = "DA") -> str:
    """A random AE title that no real node will have registered (16 chars max)."""
    return prefix + "".join(secrets.choice(_AET_ALPHABET) for _ in range(14 - len(prefix))) + "ZZ"


def validate_aet(value: str) -> str:
    """Return ``value`` if it is a usable AE title (PS3.5 6.2: AE VR), else raise ``ValueError``."""
    if not value or not value.strip():
        raise ValueError("AE title must not be empty")
    if len(value) > 16:
        raise ValueError(f"AE title {value!r} is longer than 16 characters")
    if "\\" in value or any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
        raise ValueError(f"AE title {value!r} contains characters not allowed in an AE title")
    return value
