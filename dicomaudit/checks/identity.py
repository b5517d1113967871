"""``identity.user_identity``: does the node look at who is asking?

User Identity negotiation (PS3.7 D.3.3.7) lets an association carry a
username and passcode (or a Kerberos ticket, SAML assertion or JWT).  The
scanner proposes a *bogus* username and passcode - random values, never a
real credential - and asks for a positive response, from its own calling AE
title, with Verification only.  Three readings (PS3.7 D.3.3.7.2):

* rejected (A-ASSOCIATE-RJ or A-ABORT) while the same association without
  an identity is accepted: the node checks identity (``pass``);
* accepted with a User Identity server response: it confirmed an identity it
  cannot have verified (``fail``);
* accepted without a response: identity is ignored (``info``); the AE title
  is then the only identity the node knows.
"""

from __future__ import annotations

import secrets

from pynetdicom.sop_class import Verification

from dicomaudit.checks.base import ProbeContext, check, verdict_for_refusal
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Status
from dicomaudit.net.outcome import Outcome
from dicomaudit.net.pdu import UserIdentity

USERNAME_AND_PASSCODE = 2  # PS3.7 Table D.3-14, User-Identity-Type 2


def bogus_identity() -> UserIdentity:
    """A username and passcode no directory holds (random; never a real credential)."""
    return UserIdentity(
        kind=USERNAME_AND_PASSCODE,
        primary=f"dicomaudit-{secrets.token_hex(6)}".encode(),
        secondary=secrets.token_hex(12).encode(),
        positive_response_requested=True,
    )


@check("identity.user_identity")
def user_identity(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.settings.calling_aet
    with ctx.associate([Verification], calling_aet=calling, user_identity=bogus_identity()) as session:
        attempt = session.attempt
    control = ctx.service.usable_attempt  # the same association, without an identity
    evidence = {
        "association": attempt.to_evidence(),
        "identity_sent": "username and passcode (type 2), random values, positive response requested",
    }
    if control is not None:
        evidence["without_identity"] = control.describe()
    if attempt.outcome is Outcome.ACCEPTED:
        if attempt.user_identity_response is not None:
            return d.result(
                Status.FAIL,
                "a bogus username and passcode were accepted and confirmed (User Identity server response "
                f"of {len(attempt.user_identity_response)} bytes)",
                evidence=evidence,
            )
        return d.result(
            Status.INFO,
            "the association was accepted with a bogus username and passcode and no identity response: the node "
            f"ignores User Identity negotiation, so the calling AE title ({calling!r}) is the only identity it knows",
            evidence=evidence,
        )
    if attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED) and control is not None:
        if control.outcome is Outcome.ACCEPTED:
            return d.result(
                Status.PASS,
                f"a bogus user identity is refused (association {attempt.describe()}), while the same "
                "association without an identity is accepted",
                evidence=evidence,
                enforced="user identity checked",
            )
    return verdict_for_refusal(
        ctx,
        d,
        attempt,
        "the association is refused whether or not it carries an identity, so identity checking is not "
        "observable from this AE",
        evidence={k: v for k, v in evidence.items() if k != "association"},
    )
