"""User Identity negotiation (PS3.7 D.3.3.7): ignored, accepted and confirmed, or required."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import UserIdentityNegotiation
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomaudit.lab import IDENTITY_PROFILE_USERS, REFUSED_NOT_AUTHORIZED, LabPACS
from tests.lab.conftest import CLIENT_TIMEOUT

USERNAME, PASSCODE = IDENTITY_PROFILE_USERS[0]


def _identity(
    username: str = "bogus-7f3a", passcode: str = "not-a-password", kind: int = 2, positive: bool = True
) -> UserIdentityNegotiation:
    item = UserIdentityNegotiation()
    item.user_identity_type = kind
    item.primary_field = username.encode()
    if kind == 2:
        item.secondary_field = passcode.encode()
    item.positive_response_requested = positive
    return item


def _associate(
    lab: LabPACS, identity: UserIdentityNegotiation | None, calling_aet: str = "VIEWER9", called_aet: str = "ANY-SCP"
) -> Association:
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = CLIENT_TIMEOUT
    ae.add_requested_context(Verification)
    return ae.associate(lab.host, lab.port, ae_title=called_aet, ext_neg=[identity] if identity else [])


def test_open_accepts_a_bogus_identity_and_confirms_it(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when a bogus username and passcode come with a positive response requested,
    then the association is accepted and the A-ASSOCIATE-AC carries a User Identity server response
    (zero-length for a username and passcode, PS3.7 Table D.3-15)."""
    lab = start_lab("open")
    assoc = _associate(lab, _identity())
    assert assoc.is_established
    response = assoc.acceptor.user_identity
    assoc.release()
    assert response is not None and response.server_response == b""
    event = [e for e in lab.events if e["kind"] == "user_identity"][-1]
    assert (event["outcome"], event["response_sent"], event["username"]) == ("accepted", True, "bogus-7f3a")
    assert "not-a-password" not in repr(lab.events)


def test_open_confirms_a_jwt_with_a_server_response(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when a JSON Web Token (type 5) comes with a positive response requested,
    then the A-ASSOCIATE-AC carries a non-empty server response."""
    lab = start_lab("open")
    assoc = _associate(lab, _identity("eyJhbGciOiJub25lIn0.e30.", kind=5))
    response = assoc.acceptor.user_identity
    assoc.release()
    assert response is not None and response.server_response


def test_open_sends_no_response_when_none_was_requested(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when the identity asks for no positive response, then the AC carries none."""
    lab = start_lab("open")
    assoc = _associate(lab, _identity(positive=False))
    assert assoc.is_established
    assert assoc.acceptor.user_identity is None
    assoc.release()


@pytest.mark.parametrize(
    ("profile", "calling_aet", "called_aet"), [("stock", "VIEWER9", "ANY-SCP"), ("locked", "PACSADMIN", "DICOMLAB")]
)
def test_ignoring_profiles_accept_without_a_response(
    start_lab: Callable[..., LabPACS], profile: str, calling_aet: str, called_aet: str
) -> None:
    """Given a stock or locked lab (User Identity not supported), when a bogus identity asks for a response,
    then the association is accepted as it would be without it, and the AC carries no User Identity item."""
    lab = start_lab(profile)
    assoc = _associate(lab, _identity(), calling_aet=calling_aet, called_aet=called_aet)
    assert assoc.is_established
    assert assoc.acceptor.user_identity is None
    assoc.release()
    assert [e["outcome"] for e in lab.events if e["kind"] == "user_identity"] == ["ignored"]


@pytest.mark.parametrize(
    "identity",
    [_identity(), _identity(USERNAME, "wrong"), _identity(USERNAME, kind=1)],
    ids=["bogus", "wrong-passcode", "username-only"],
)
def test_identity_profile_rejects_an_unknown_identity_at_association(
    start_lab: Callable[..., LabPACS], identity: UserIdentityNegotiation
) -> None:
    """Given the identity profile, when the identity is bogus, has a wrong passcode or no passcode,
    then A-ASSOCIATE-RJ: rejected-permanent, service-user, "no reason given"."""
    lab = start_lab("identity")
    assoc = _associate(lab, identity)
    assert assoc.is_rejected
    rj = assoc.acceptor.primitive
    assert (rj.result, rj.result_source, rj.diagnostic) == (0x01, 0x01, 0x01)
    rejected = [e for e in lab.events if e["outcome"] == "rejected"]
    assert [e["kind"] for e in rejected] == ["user_identity", "association"]
    assert rejected[0]["calling_aet"] == "VIEWER9"


def test_identity_profile_accepts_the_right_credentials(start_lab: Callable[..., LabPACS]) -> None:
    """Given the identity profile, when its username and passcode are sent, then the association is accepted,
    the identity confirmed, and C-ECHO succeeds."""
    lab = start_lab("identity")
    assoc = _associate(lab, _identity(USERNAME, PASSCODE))
    assert assoc.is_established
    assert assoc.acceptor.user_identity is not None
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000


def test_identity_profile_refuses_every_request_without_an_identity(start_lab: Callable[..., LabPACS]) -> None:
    """Given the identity profile, when an association carries no User Identity,
    then it is accepted but C-ECHO is refused with 0x0124."""
    lab = start_lab("identity")
    assoc = _associate(lab, None)
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == REFUSED_NOT_AUTHORIZED
    echo = [e for e in lab.events if e["kind"] == "C-ECHO"][-1]
    assert (echo["outcome"], echo["reason"]) == ("refused", "no user identity")
