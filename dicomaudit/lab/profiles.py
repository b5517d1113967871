"""Lab PACS profiles: each one a way real nodes are (mis)configured.

A profile is data, not code: :class:`~dicomaudit.lab.server.LabPACS` reads it
to configure pynetdicom's association checks (PS3.8 7.1.1.13 A-ASSOCIATE-RJ
reasons) and the per-service policies of its event handlers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: PS3.7 Annex C general status "Refused: Not Authorized" (0124H).  Chosen for
#: service-level refusals because it says exactly what happened (the peer is
#: not allowed), it is valid for every DIMSE-C service (C-FIND: PS3.4 C.4.1.1.4
#: admits the general statuses of PS3.7 Annex C) and every SCU decodes it as a
#: failure.  A real Orthanc with ``DicomAlwaysAllowFind: false`` aborts the
#: association instead; a status is more useful evidence in a lab.
REFUSED_NOT_AUTHORIZED = 0x0124

DEFAULT_AE_TITLE = "DICOMLAB"


class Access(enum.StrEnum):
    """Who may use one DIMSE service once an association is established."""

    ANY = "any"  # any calling AE title
    LISTED = "listed"  # only ``registered_aets``; others get ``refusal_status``
    NONE = "none"  # not offered: its presentation contexts are rejected (abstract syntax not supported)


@dataclass(frozen=True)
class LabProfile:
    """How the lab PACS behaves.

    Attributes
    ----------
    name, description
        Identifier used by ``dicomaudit lab --profile NAME`` and a one-line summary.
    ae_title
        The lab's own AE title.
    require_called_aet
        Reject associations whose Called AE Title is not ``ae_title``
        (A-ASSOCIATE-RJ permanent, service-user, reason 7 "called AE title not recognised").
    allowed_calling_aets
        ``None``: any Calling AE Title may associate.  A tuple: only those
        (A-ASSOCIATE-RJ permanent, service-user, reason 3 "calling AE title not recognised").
    echo, find, store
        Service policies (:class:`Access`).  C-FIND covers Patient Root and
        Study Root; C-STORE covers every storage SOP class pynetdicom knows.
    registered_aets
        AE titles that ``Access.LISTED`` services accept (the PACS's list of
        known modalities, like Orthanc's ``DicomModalities``).
    refusal_status
        DIMSE status returned when a LISTED service refuses a caller.
    tls
        TLS only: plaintext connections fail the handshake and are closed.
    tls_require_client_cert
        Mutual TLS: the client must present a certificate signed by the lab CA.
    """

    name: str
    description: str
    ae_title: str = DEFAULT_AE_TITLE
    require_called_aet: bool = False
    allowed_calling_aets: tuple[str, ...] | None = None
    echo: Access = Access.ANY
    find: Access = Access.ANY
    store: Access = Access.ANY
    registered_aets: tuple[str, ...] = ()
    refusal_status: int = REFUSED_NOT_AUTHORIZED
    tls: bool = False
    tls_require_client_cert: bool = False

    def __post_init__(self) -> None:
        # Accept plain strings ("listed") for the policies, e.g. from a config file.
        for field_name in ("echo", "find", "store"):
            object.__setattr__(self, field_name, Access(getattr(self, field_name)))
        if self.allowed_calling_aets is not None:
            object.__setattr__(self, "allowed_calling_aets", tuple(self.allowed_calling_aets))
        object.__setattr__(self, "registered_aets", tuple(self.registered_aets))

    def may(self, service: Access, calling_aet: str) -> bool:
        """Whether `calling_aet` may use a service with policy `service`."""
        if service == Access.ANY:
            return True
        if service == Access.LISTED:
            return calling_aet.strip() in self.registered_aets
        return False


_PROFILES = (
    LabProfile(
        name="open",
        description="Anyone may do anything: any called/calling AE, C-ECHO, C-FIND and C-STORE allowed.",
    ),
    LabProfile(
        name="locked",
        description=(
            "Called AE title must be DICOMLAB and the calling AE must be PACSADMIN or MODALITY1; "
            "others are rejected at association."
        ),
        require_called_aet=True,
        allowed_calling_aets=("PACSADMIN", "MODALITY1"),
        registered_aets=("PACSADMIN", "MODALITY1"),
    ),
    LabProfile(
        name="stock",
        description=(
            "Out-of-the-box PACS defaults (like Orthanc's): any AE may associate, C-ECHO and C-STORE; "
            "C-FIND from unregistered AEs is refused with status 0x0124."
        ),
        find=Access.LISTED,
        registered_aets=("PACSADMIN",),
    ),
    LabProfile(
        name="readonly",
        description=(
            "Query archive: any AE may associate, C-ECHO and C-FIND; storage is not offered "
            "(storage presentation contexts rejected)."
        ),
        store=Access.NONE,
    ),
    LabProfile(
        name="tls",
        description=(
            "TLS only with client certificates signed by the lab CA (generated at start-up); "
            "plaintext and certificate-less connections fail the handshake."
        ),
        tls=True,
        tls_require_client_cert=True,
    ),
)

#: Profiles by name.  The profiles themselves are frozen; treat the dict as read-only.
PROFILES: dict[str, LabProfile] = {p.name: p for p in _PROFILES}


def get_profile(profile: str | LabProfile) -> LabProfile:
    """Resolve a profile name (or pass a :class:`LabProfile` through).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if isinstance(profile, LabProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown lab profile {profile!r} (known: {known})") from None
