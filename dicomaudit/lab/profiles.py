"""Lab PACS profiles: each one a way real nodes are (mis)configured.

A profile is data, not code: :class:`~dicomaudit.lab.server.LabPACS` reads it
to configure pynetdicom's association checks (PS3.8 7.1.1.13 A-ASSOCIATE-RJ
reasons) and the per-service policies of its event handlers, and the lab's
DICOMweb server (:mod:`dicomaudit.lab.web`) reads its ``web_*`` fields.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

#: PS3.7 Annex C general status "Refused: Not Authorized" (0124H).  Chosen for
#: service-level refusals because it says exactly what happened (the peer is
#: not allowed), it is valid for every DIMSE-C service (C-FIND: PS3.4 C.4.1.1.4
#: admits the general statuses of PS3.7 Annex C) and every SCU decodes it as a
#: failure.  A real Orthanc with ``DicomAlwaysAllowFind: false`` aborts the
#: association instead; a status is more useful evidence in a lab.
REFUSED_NOT_AUTHORIZED = 0x0124

#: PS3.4 C.4.2.1.5 "Refused: Move Destination unknown" (A801H).
MOVE_DESTINATION_UNKNOWN = 0xA801

DEFAULT_AE_TITLE = "DICOMLAB"

#: When the Move Destination of a C-MOVE is looked up (see :class:`LabProfile`).
MOVE_DESTINATION_CHECKS = ("always", "when_matches")
#: How User Identity negotiation (PS3.7 D.3.3.7) is handled (see :class:`LabProfile`).
USER_IDENTITY_MODES = ("ignore", "accept", "require")
#: The ``identity`` profile's one account (synthetic; for ``dicomaudit lab --profile identity``).
#: The same account signs in to its DICOMweb server (HTTP Basic).
IDENTITY_PROFILE_USERS = (("labuser", "labpass"),)

#: How the DICOMweb server authenticates requests (see :class:`LabProfile`).
WEB_AUTH_MODES = ("none", "basic")
#: Which CORS headers the DICOMweb server sends (see :class:`LabProfile`).
WEB_CORS_MODES = ("none", "wildcard", "reflect")
#: The DICOMweb user of the ``locked``, ``tls`` and ``retrieve`` profiles.
LAB_WEB_USER = "labadmin"
#: Its password.  SYNTHETIC: published here on purpose, so it protects nothing
#: but a lab on loopback; long and random-looking so that it is not in any
#: password list, and a scanner that gets in must have been given it (it models
#: a node with a strong password, unlike the ``identity`` profile's labpass).
LAB_WEB_PASSWORD = "wG6TNCOeNAfTeDvC2P5M9QOtkv053AYM"
#: The DICOMweb accounts of the ``locked``, ``tls`` and ``retrieve`` profiles.
WEB_PROFILE_USERS = ((LAB_WEB_USER, LAB_WEB_PASSWORD),)
#: Every built-in (published, synthetic) web account: ``dicomaudit lab`` prints
#: these passwords, and no other (a custom profile's may be real).
SYNTHETIC_WEB_USERS = frozenset(WEB_PROFILE_USERS + IDENTITY_PROFILE_USERS)


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
    worklist
        Modality Worklist Information Model - FIND (PS3.4 K.6.1.3.2, UID
        1.2.840.10008.5.1.4.31) policy.
    get, move
        Query/Retrieve - GET and - MOVE policies, for the Patient Root, Study
        Root and (retired) Patient/Study Only models.  C-GET sends the matched
        instances back as C-STORE sub-operations on the same association, so
        it needs the storage contexts: with ``store=NONE`` every sub-operation
        fails (0xA702).
    move_destinations
        Known C-MOVE destinations as ``(AE title, host, port)``, like Orthanc's
        ``DicomModalities`` or dcmqrscp's HostTable.
    move_destination_check
        ``"always"``: an unknown Move Destination is refused with 0xA801
        before any matching (dcmqrscp, pynetdicom).  ``"when_matches"``: the
        destination is looked up only when there is something to move, so a
        C-MOVE that matches nothing succeeds (0x0000, zero sub-operations)
        whatever the destination, and one that matches is refused with 0xA801.
    user_identity
        User Identity negotiation (PS3.7 D.3.3.7).  ``"ignore"``: not
        supported; the A-ASSOCIATE-AC never carries a User Identity response.
        ``"accept"``: any identity is accepted and, when the requestor asked
        for a positive response, confirmed with a User Identity sub-item in
        the A-ASSOCIATE-AC (zero-length server response for username and
        username+passcode, as PS3.7 Table D.3-15 specifies).  ``"require"``:
        only a username and passcode listed in ``users`` is accepted; any
        other identity is rejected at association (A-ASSOCIATE-RJ
        rejected-permanent, service-user, reason 1 "no reason given", as
        dcm4chee-arc does); an association without a User Identity sub-item
        is accepted but every DIMSE request on it is refused with
        ``refusal_status``.
    users
        ``(username, passcode)`` pairs ``"require"`` accepts.
    registered_aets
        AE titles that ``Access.LISTED`` services accept (the PACS's list of
        known modalities, like Orthanc's ``DicomModalities``).
    refusal_status
        DIMSE status returned when a LISTED service refuses a caller.
    tls
        TLS only: plaintext connections fail the handshake and are closed.
    tls_require_client_cert
        Mutual TLS: the client must present a certificate signed by the lab CA.
        (DICOM only: the DICOMweb server of a ``tls`` profile serves HTTPS with
        the same server certificate and authenticates users with HTTP, as
        DICOMweb deployments do, not with client certificates.)
    web_auth
        DICOMweb authentication.  ``"none"``: anyone.  ``"basic"``: HTTP Basic
        (RFC 7617) against ``web_users``; every request without valid
        credentials, except OPTIONS, gets 401 with ``WWW-Authenticate: Basic
        realm="dicomaudit lab"`` before anything else is looked at.
    web_users
        ``(user, password)`` pairs ``"basic"`` accepts.  A user may not contain
        ``:`` (RFC 7617).
    web_cors
        CORS headers on every DICOMweb response to a request with an
        ``Origin``.  ``"none"``: no CORS headers (a browser on another origin
        cannot read the answers; OPTIONS still gets 204 with ``Allow``).
        ``"wildcard"``: ``Access-Control-Allow-Origin: *`` with
        ``Access-Control-Allow-Credentials: true`` (a combination browsers
        refuse for credentialed requests, but a common misconfiguration).
        ``"reflect"``: the request's Origin echoed with credentials allowed:
        any web site may read the archive with the user's credentials.
    web_stow
        Whether STOW-RS (``POST /dicom-web/studies``) is offered and stores,
        once authentication passes.  When false, POST is not among the
        resource's methods: 405 with ``Allow``, before the body is looked at.
    """

    name: str
    description: str
    ae_title: str = DEFAULT_AE_TITLE
    require_called_aet: bool = False
    allowed_calling_aets: tuple[str, ...] | None = None
    echo: Access = Access.ANY
    find: Access = Access.ANY
    store: Access = Access.ANY
    worklist: Access = Access.ANY
    get: Access = Access.ANY
    move: Access = Access.ANY
    move_destinations: tuple[tuple[str, str, int], ...] = ()
    move_destination_check: str = "always"
    user_identity: str = "ignore"
    users: tuple[tuple[str, str], ...] = ()
    registered_aets: tuple[str, ...] = ()
    refusal_status: int = REFUSED_NOT_AUTHORIZED
    tls: bool = False
    tls_require_client_cert: bool = False
    web_auth: str = "none"
    web_users: tuple[tuple[str, str], ...] = ()
    web_cors: str = "none"
    web_stow: bool = True

    def __post_init__(self) -> None:
        # Accept plain strings ("listed") for the policies, e.g. from a config file.
        for field_name in ("echo", "find", "store", "worklist", "get", "move"):
            value = getattr(self, field_name)
            try:
                object.__setattr__(self, field_name, Access(value))
            except ValueError:
                allowed = ", ".join(repr(a.value) for a in Access)
                raise ValueError(f"{field_name}={value!r} is not one of {allowed}") from None
        _check_choice("move_destination_check", self.move_destination_check, MOVE_DESTINATION_CHECKS)
        _check_choice("user_identity", self.user_identity, USER_IDENTITY_MODES)
        if self.allowed_calling_aets is not None:
            object.__setattr__(self, "allowed_calling_aets", tuple(self.allowed_calling_aets))
        object.__setattr__(self, "registered_aets", tuple(self.registered_aets))
        destinations: list[tuple[str, str, int]] = []
        entry: Any
        for entry in self.move_destinations:
            try:
                aet, host, port = entry
                destinations.append((str(aet).strip(), str(host), int(port)))
            except (TypeError, ValueError):
                raise ValueError(f"move destination {entry!r} is not (AE title, host, port)") from None
            if not 0 < destinations[-1][2] < 65536:
                raise ValueError(f"move destination {entry!r}: port out of range")
        object.__setattr__(self, "move_destinations", tuple(destinations))
        users: list[tuple[str, str]] = []
        for entry in self.users:
            try:
                username, passcode = entry
            except (TypeError, ValueError):
                raise ValueError(f"user {entry!r} is not (username, passcode)") from None
            users.append((str(username), str(passcode)))
        object.__setattr__(self, "users", tuple(users))
        _check_choice("web_auth", self.web_auth, WEB_AUTH_MODES)
        _check_choice("web_cors", self.web_cors, WEB_CORS_MODES)
        if not isinstance(self.web_stow, bool):
            raise ValueError(f"web_stow={self.web_stow!r} is not True or False")
        web_users: list[tuple[str, str]] = []
        for entry in self.web_users:
            try:
                user, password = entry
            except (TypeError, ValueError):
                raise ValueError(f"web user {entry!r} is not (user, password)") from None
            user, password = str(user), str(password)
            if not user or ":" in user or not user.isprintable() or not password.isprintable():
                raise ValueError(f"web user {user!r}: empty, with ':' or with control characters")
            web_users.append((user, password))
        object.__setattr__(self, "web_users", tuple(web_users))

    def may(self, service: Access, calling_aet: str) -> bool:
        """Whether `calling_aet` may use a service with policy `service`."""
        if service == Access.ANY:
            return True
        if service == Access.LISTED:
            return calling_aet.strip() in self.registered_aets
        return False

    def move_destination(self, ae_title: str) -> tuple[str, int] | None:
        """``(host, port)`` of a known Move Destination, or ``None`` (AE titles compare exactly, PS3.8)."""
        wanted = ae_title.strip()
        for aet, host, port in self.move_destinations:
            if aet == wanted:
                return host, port
        return None

    def user_known(self, username: bytes | str | None, passcode: bytes | str | None) -> bool:
        """Whether a username and passcode (User Identity type 2 fields, UTF-8) are in ``users``."""

        def text(value: bytes | str | None) -> str:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")

        return (text(username), text(passcode)) in self.users


def _check_choice(field_name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field_name}={value!r} is not one of {', '.join(map(repr, allowed))}")


_PROFILES = (
    LabProfile(
        name="open",
        description=(
            "Anyone may do anything: any called/calling AE; C-ECHO, C-FIND (Query/Retrieve and Modality "
            "Worklist), C-GET and C-STORE for anyone; C-MOVE offered but no destination is known (0xA801); "
            "any User Identity is accepted and, if a response is asked for, confirmed.  DICOMweb: no "
            "authentication, CORS reflects any Origin with credentials allowed, STOW-RS stores."
        ),
        user_identity="accept",
        web_cors="reflect",
    ),
    LabProfile(
        name="locked",
        description=(
            "Called AE title must be DICOMLAB and the calling AE must be PACSADMIN or MODALITY1; "
            "others are rejected at association.  Those two may use every service (C-MOVE: no destination "
            "is known, 0xA801).  DICOMweb: HTTP Basic with a strong (synthetic) password for labadmin, "
            "401 without it; no CORS headers; STOW-RS stores once authenticated."
        ),
        require_called_aet=True,
        allowed_calling_aets=("PACSADMIN", "MODALITY1"),
        registered_aets=("PACSADMIN", "MODALITY1"),
        worklist=Access.LISTED,
        get=Access.LISTED,
        move=Access.LISTED,
        web_auth="basic",
        web_users=WEB_PROFILE_USERS,
    ),
    LabProfile(
        name="stock",
        description=(
            "Out-of-the-box PACS defaults (like Orthanc's): any AE may associate, C-ECHO and C-STORE; "
            "C-FIND, Modality Worklist, C-GET and C-MOVE from unregistered AEs are refused with status 0x0124.  "
            "DICOMweb as installed: no authentication, no CORS headers, STOW-RS stores."
        ),
        find=Access.LISTED,
        worklist=Access.LISTED,
        get=Access.LISTED,
        move=Access.LISTED,
        registered_aets=("PACSADMIN",),
    ),
    LabProfile(
        name="readonly",
        description=(
            "Query archive: any AE may associate, C-ECHO, C-FIND and Modality Worklist; storage is not offered "
            "(storage presentation contexts rejected), nor is C-GET, which needs them; C-MOVE is offered but "
            "no destination is known (0xA801).  DICOMweb: no authentication, no CORS headers, QIDO-RS and "
            "WADO-RS metadata only; STOW-RS is not offered (405)."
        ),
        store=Access.NONE,
        get=Access.NONE,
        web_stow=False,
    ),
    LabProfile(
        name="tls",
        description=(
            "TLS only with client certificates signed by the lab CA (generated at start-up); "
            "plaintext and certificate-less connections fail the handshake.  DICOMweb over HTTPS only (the "
            "same server certificate; no client certificate), HTTP Basic for labadmin, no CORS headers, "
            "STOW-RS stores once authenticated."
        ),
        tls=True,
        tls_require_client_cert=True,
        web_auth="basic",
        web_users=WEB_PROFILE_USERS,
    ),
    LabProfile(
        name="retrieve",
        description=(
            "C-GET and C-MOVE open to any AE, the move destination checked only when there is something to "
            "move (no match: success; matches and an unknown destination: 0xA801); C-FIND and Modality "
            "Worklist refused (0x0124); C-ECHO and C-STORE open.  DICOMweb locked down unlike DIMSE: "
            "HTTP Basic for labadmin, no CORS headers, STOW-RS stores once authenticated."
        ),
        find=Access.LISTED,
        worklist=Access.LISTED,
        move_destination_check="when_matches",
        web_auth="basic",
        web_users=WEB_PROFILE_USERS,
    ),
    LabProfile(
        name="identity",
        description=(
            "User Identity required (username+passcode: labuser / labpass): a bogus or non-password identity "
            "is rejected at association (rejected-permanent, service-user, no reason given); without one, "
            "the association is accepted but every request is refused (0x0124).  DICOMweb: HTTP Basic with "
            "the same account, no CORS headers, STOW-RS stores once authenticated."
        ),
        user_identity="require",
        users=IDENTITY_PROFILE_USERS,
        web_auth="basic",
        web_users=IDENTITY_PROFILE_USERS,
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
