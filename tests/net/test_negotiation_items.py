"""User Identity and SCP/SCU Role Selection: what the scanner proposes, and how the answer is judged.

Byte-level tests of :mod:`dicomaudit.net.pdu` (PS3.7 D.3.3.4, D.3.3.7).
The request is checked with pynetdicom's own decoder; the answers are built
by hand so that each malformation is exactly one byte-level fault.
"""

from __future__ import annotations

import struct

import pytest
from pynetdicom.pdu import A_ASSOCIATE_RQ
from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelGet, Verification

from dicomaudit.net.pdu import APPLICATION_CONTEXT, Proposal, UserIdentity, decode_ac
from dicomaudit.net.wire import Pdu, ProtocolViolation

IDENTITY = UserIdentity(kind=2, primary=b"bogus-user", secondary=b"bogus-pass")


def _item(item_type: int, value: bytes) -> bytes:
    return bytes([item_type, 0]) + struct.pack(">H", len(value)) + value


def _ac(proposal: Proposal, *user_subs: bytes) -> Pdu:
    fixed = struct.pack(">H", 1) + b"\0\0" + b"ANY-SCP".ljust(16) + b"DICOMAUDIT".ljust(16) + b"\0" * 32
    contexts = b"".join(
        _item(0x21, bytes([c.context_id, 0, 0, 0]) + _item(0x40, c.transfer_syntaxes[0].encode()))
        for c in proposal.contexts
    )
    user = _item(0x50, _item(0x51, struct.pack(">I", 16384)) + b"".join(user_subs))
    return Pdu(0x02, fixed + _item(0x10, APPLICATION_CONTEXT.encode()) + contexts + user)


def _identity_response(response: bytes, declared: int | None = None) -> bytes:
    length = len(response) if declared is None else declared
    return _item(0x59, struct.pack(">H", length) + response)


def _role(uid: str, scu: int, scp: int) -> bytes:
    return _item(0x54, struct.pack(">H", len(uid)) + uid.encode() + bytes([scu, scp]))


def test_the_request_carries_the_identity_and_the_scp_role_as_pynetdicom_reads_them() -> None:
    """Given a proposal with a user identity and an SCP role, when pynetdicom decodes the RQ, then both are there."""
    proposal = Proposal.for_syntaxes(
        "DICOMAUDIT",
        "ANY-SCP",
        [StudyRootQueryRetrieveInformationModelGet, CTImageStorage],
        user_identity=IDENTITY,
        scp_roles=[CTImageStorage],
    )
    rq = A_ASSOCIATE_RQ()
    rq.decode(proposal.encode())
    items = {type(i).__name__: i for i in rq.user_information.user_data}
    identity = items["UserIdentitySubItemRQ"]
    assert (identity.user_identity_type, identity.primary_field, identity.secondary_field) == (
        2,
        b"bogus-user",
        b"bogus-pass",
    )
    assert identity.positive_response_requested == 1
    role = items["SCP_SCU_RoleSelectionSubItem"]
    assert (role.sop_class_uid, role.scu_role, role.scp_role) == (CTImageStorage, 0, 1)


def test_a_role_can_only_be_proposed_for_a_proposed_syntax() -> None:
    """Given a role for a SOP class not in the contexts, when the proposal is built, then it is refused."""
    with pytest.raises(ValueError, match="not proposed"):
        Proposal.for_syntaxes("A", "B", [Verification], scp_roles=[CTImageStorage])


def test_a_requested_identity_response_is_decoded() -> None:
    """Given an AC answering the identity with a server response, then the response is kept."""
    proposal = Proposal.for_syntaxes("A", "B", [Verification], user_identity=IDENTITY)
    acceptance = decode_ac(_ac(proposal, _identity_response(b"ok")), proposal)
    assert acceptance.user_identity_response == b"ok"


def test_an_empty_identity_response_is_still_a_response() -> None:
    """Given a zero-length server response (username identities have no ticket), then it counts as a response."""
    proposal = Proposal.for_syntaxes("A", "B", [Verification], user_identity=IDENTITY)
    assert decode_ac(_ac(proposal, _identity_response(b"")), proposal).user_identity_response == b""


def test_no_identity_response_is_none() -> None:
    proposal = Proposal.for_syntaxes("A", "B", [Verification], user_identity=IDENTITY)
    assert decode_ac(_ac(proposal), proposal).user_identity_response is None


def test_an_identity_response_nobody_asked_for_is_a_violation() -> None:
    """Given no identity proposed, when the AC carries a 0x59 response, then it is a protocol violation."""
    proposal = Proposal.for_syntaxes("A", "B", [Verification])
    with pytest.raises(ProtocolViolation, match="not requested"):
        decode_ac(_ac(proposal, _identity_response(b"x")), proposal)


def test_an_identity_response_with_a_wrong_inner_length_is_a_violation() -> None:
    proposal = Proposal.for_syntaxes("A", "B", [Verification], user_identity=IDENTITY)
    with pytest.raises(ProtocolViolation, match="announces 9 bytes"):
        decode_ac(_ac(proposal, _identity_response(b"abc", declared=9)), proposal)


def test_an_accepted_scp_role_is_reported() -> None:
    proposal = Proposal.for_syntaxes("A", "B", [CTImageStorage], scp_roles=[CTImageStorage])
    assert decode_ac(_ac(proposal, _role(CTImageStorage, 0, 1)), proposal).scp_roles == (CTImageStorage,)


def test_a_refused_scp_role_is_not_reported() -> None:
    proposal = Proposal.for_syntaxes("A", "B", [CTImageStorage], scp_roles=[CTImageStorage])
    assert decode_ac(_ac(proposal, _role(CTImageStorage, 0, 0)), proposal).scp_roles == ()


def test_a_role_answer_for_an_unproposed_syntax_is_a_violation() -> None:
    proposal = Proposal.for_syntaxes("A", "B", [CTImageStorage])
    with pytest.raises(ProtocolViolation, match="not proposed"):
        decode_ac(_ac(proposal, _role(CTImageStorage, 0, 1)), proposal)


def test_a_role_value_other_than_0_or_1_is_a_violation() -> None:
    proposal = Proposal.for_syntaxes("A", "B", [CTImageStorage], scp_roles=[CTImageStorage])
    with pytest.raises(ProtocolViolation, match="must be 0 or 1"):
        decode_ac(_ac(proposal, _role(CTImageStorage, 0, 7)), proposal)
