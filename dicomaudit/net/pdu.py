"""Association PDUs: the request we send, and strict decoding of what comes back.

The A-ASSOCIATE-RQ is encoded with pynetdicom's own encoder.  The answers are
decoded here, by hand and field by field, because a scanner must never let a
peer's bytes reach a decoder that asserts (pynetdicom's ``A_ASSOCIATE_AC``
does, on a truncated fixed part or an item that overruns the PDU): every
length is checked against what is left, every value against what the
standard allows and what we proposed, and anything else raises
:class:`~dicomaudit.net.wire.ProtocolViolation` with the raw bytes.

References: PS3.8 9.3.2 (A-ASSOCIATE-RQ), 9.3.3 (A-ASSOCIATE-AC), 9.3.4
(A-ASSOCIATE-RJ, Table 9-21), 9.3.5 (P-DATA-TF), 9.3.8 (A-ABORT); PS3.7
Annex D (user information sub-items).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.pdu import A_ASSOCIATE_RQ as _RQ_ENCODER
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
    UserIdentityNegotiation,
)
from pynetdicom.presentation import PresentationContext

from dicomaudit.net.identity import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dicomaudit.net.wire import Pdu, ProtocolViolation

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1
#: What we announce as our Maximum Length Received (PS3.8 D.1): a P-DATA-TF
#: body longer than this is a protocol violation.
MAX_PDU = 16384
#: A-ASSOCIATE-AC with 128 contexts and every user-information sub-item is
#: a few kilobytes; anything near this bound is not an association answer.
MAX_ASSOCIATION_PDU = 64 * 1024
#: The transfer syntaxes proposed for every abstract syntax (PS3.5 10.1, A.2).
TRANSFER_SYNTAXES = (ImplicitVRLittleEndian, ExplicitVRLittleEndian)
#: PS3.8 9.3.2.2: at most 128 presentation contexts (odd ids 1..255).
MAX_CONTEXTS = 128

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")

# PS3.8 Table 9-21: the reasons each source may give.
_RJ_REASONS = {1: {1, 2, 3, 7}, 2: {1, 2}, 3: {1, 2}}
# PS3.8 Table 9-26: A-ABORT reasons when the source is the service provider (2).
_ABORT_PROVIDER_REASONS = {0, 1, 2, 4, 5, 6}


@dataclass(frozen=True)
class ProposedContext:
    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...] = TRANSFER_SYNTAXES


@dataclass(frozen=True)
class UserIdentity:
    """A User Identity negotiation sub-item to propose (PS3.7 D.3.3.7.1).

    ``kind``: 1 username, 2 username and passcode (the only kinds the
    scanner sends; it never sends a real credential).
    """

    kind: int
    primary: bytes
    secondary: bytes = b""
    positive_response_requested: bool = True


@dataclass(frozen=True)
class Proposal:
    """What an A-ASSOCIATE-RQ asked for; the answer is judged against it.

    ``scp_roles``: abstract syntaxes for which the scanner proposes to act
    as SCP (SCP/SCU Role Selection, PS3.7 D.3.3.4), needed before a node may
    send C-STORE sub-operations of a C-GET on this association.
    """

    calling_aet: str
    called_aet: str
    contexts: tuple[ProposedContext, ...]
    user_identity: UserIdentity | None = None
    scp_roles: tuple[str, ...] = ()

    @classmethod
    def for_syntaxes(
        cls,
        calling_aet: str,
        called_aet: str,
        abstract_syntaxes: Sequence[str],
        *,
        user_identity: UserIdentity | None = None,
        scp_roles: Sequence[str] = (),
    ) -> Proposal:
        uids = list(dict.fromkeys(str(u) for u in abstract_syntaxes))
        if not uids or len(uids) > MAX_CONTEXTS:
            raise ValueError(f"an association proposes 1 to {MAX_CONTEXTS} presentation contexts, not {len(uids)}")
        roles = tuple(dict.fromkeys(str(u) for u in scp_roles))
        if unknown := [u for u in roles if u not in uids]:
            raise ValueError(f"role selection for syntaxes that are not proposed: {', '.join(unknown)}")
        return cls(
            calling_aet,
            called_aet,
            tuple(ProposedContext(2 * i + 1, uid) for i, uid in enumerate(uids)),
            user_identity,
            roles,
        )

    def by_id(self) -> dict[int, ProposedContext]:
        return {c.context_id: c for c in self.contexts}

    def encode(self) -> bytes:
        """The A-ASSOCIATE-RQ PDU (PS3.8 9.3.2), encoded by pynetdicom."""
        primitive = A_ASSOCIATE()
        primitive.application_context_name = APPLICATION_CONTEXT
        primitive.calling_ae_title = self.calling_aet
        primitive.called_ae_title = self.called_aet
        contexts = []
        for proposed in self.contexts:
            ctx = PresentationContext()
            ctx.context_id = proposed.context_id
            ctx.abstract_syntax = proposed.abstract_syntax
            ctx.transfer_syntax = list(proposed.transfer_syntaxes)
            contexts.append(ctx)
        primitive.presentation_context_definition_list = contexts
        max_len = MaximumLengthNotification()
        max_len.maximum_length_received = MAX_PDU
        impl_uid = ImplementationClassUIDNotification()
        impl_uid.implementation_class_uid = IMPLEMENTATION_CLASS_UID
        impl_ver = ImplementationVersionNameNotification()
        impl_ver.implementation_version_name = IMPLEMENTATION_VERSION_NAME
        items: list[Any] = [max_len, impl_uid, impl_ver]
        for uid in self.scp_roles:
            role = SCP_SCU_RoleSelectionNegotiation()
            role.sop_class_uid = uid
            role.scu_role = False
            role.scp_role = True
            items.append(role)
        if self.user_identity is not None:
            ident = UserIdentityNegotiation()
            ident.user_identity_type = self.user_identity.kind
            ident.positive_response_requested = self.user_identity.positive_response_requested
            ident.primary_field = self.user_identity.primary
            if self.user_identity.kind == 2:
                ident.secondary_field = self.user_identity.secondary
            items.append(ident)
        primitive.user_information = items
        pdu = _RQ_ENCODER()
        pdu.from_primitive(primitive)
        return bytes(pdu.encode())


@dataclass(frozen=True)
class ContextResult:
    """One presentation context of an A-ASSOCIATE-AC (PS3.8 9.3.3.2)."""

    context_id: int
    abstract_syntax: str
    result: int  # 0 acceptance, 1 user-rejection, 2 no reason, 3 abstract syntax not supported, 4 TS not supported
    transfer_syntax: str | None  # only significant when accepted

    @property
    def accepted(self) -> bool:
        return self.result == 0


RESULT_TEXT = {
    0: "acceptance",
    1: "user-rejection",
    2: "no-reason (provider rejection)",
    3: "abstract-syntax-not-supported (provider rejection)",
    4: "transfer-syntaxes-not-supported (provider rejection)",
}


@dataclass(frozen=True)
class Acceptance:
    """A decoded, validated A-ASSOCIATE-AC.

    ``user_identity_response``: the server response of a User Identity
    sub-item (PS3.7 D.3.3.7.2), ``None`` when the node sent none.
    ``scp_roles``: the abstract syntaxes for which the node accepted the
    scanner acting as SCP (PS3.7 D.3.3.4).
    """

    contexts: tuple[ContextResult, ...]
    max_pdu: int  # the peer's Maximum Length Received; 0 = unlimited (PS3.8 D.1)
    implementation_class_uid: str | None
    implementation_version_name: str | None
    user_identity_response: bytes | None = None
    scp_roles: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[ContextResult, ...]:
        return tuple(c for c in self.contexts if c.accepted)

    def context_for(self, abstract_syntax: str) -> ContextResult | None:
        return next((c for c in self.contexts if c.accepted and c.abstract_syntax == abstract_syntax), None)


def _uid(raw: bytes, what: str, data: bytes) -> str:
    # PS3.8 9.3.2.2.1 / Annex F: UIDs are not padded in PDUs, but some
    # implementations pad with NUL as in data sets; tolerate exactly that.
    text = raw.rstrip(b"\x00").decode("ascii", "replace")
    if not text or len(text) > 64 or not _UID_RE.match(text):
        raise ProtocolViolation(f"{what} is not a valid UID ({raw[:64]!r})", data)
    return text


def _items(data: bytes, start: int, end: int, what: str, whole: bytes) -> list[tuple[int, bytes]]:
    """Split ``data[start:end]`` into (type, value) items with 2-byte lengths (PS3.8 9.3.2.x)."""
    items = []
    i = start
    while i < end:
        if end - i < 4:
            raise ProtocolViolation(f"{what}: {end - i} stray byte(s) where an item header was expected", whole)
        item_type = data[i]
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if i + 4 + length > end:
            raise ProtocolViolation(
                f"{what}: item 0x{item_type:02X} announces {length} bytes, only {end - i - 4} remain", whole
            )
        items.append((item_type, data[i + 4 : i + 4 + length]))
        i += 4 + length
    return items


def decode_ac(pdu: Pdu, proposal: Proposal) -> Acceptance:
    """Validate and decode an A-ASSOCIATE-AC against the request that caused it."""
    body, raw = pdu.body, pdu.raw
    if len(body) < 68:
        raise ProtocolViolation(f"A-ASSOCIATE-AC truncated: {len(body)} bytes, the fixed part alone is 68", raw)
    (version,) = struct.unpack(">H", body[0:2])
    if not version & 1:
        raise ProtocolViolation(f"A-ASSOCIATE-AC protocol version 0x{version:04X} does not include version 1", raw)
    app_context: str | None = None
    results: dict[int, ContextResult] = {}
    user_info: bytes | None = None
    proposed = proposal.by_id()
    for item_type, value in _items(body, 68, len(body), "A-ASSOCIATE-AC", raw):
        if item_type == 0x10:
            if app_context is not None:
                raise ProtocolViolation("A-ASSOCIATE-AC has two application context items", raw)
            app_context = _uid(value, "application context name", raw)
        elif item_type == 0x21:
            ctx = _decode_context_result(value, proposed, raw)
            if ctx.context_id in results:
                raise ProtocolViolation(f"A-ASSOCIATE-AC answers presentation context {ctx.context_id} twice", raw)
            results[ctx.context_id] = ctx
        elif item_type == 0x50:
            if user_info is not None:
                raise ProtocolViolation("A-ASSOCIATE-AC has two user information items", raw)
            user_info = value
        else:
            raise ProtocolViolation(
                f"A-ASSOCIATE-AC contains an item of type 0x{item_type:02X}, not allowed there", raw
            )
    if app_context is None:
        raise ProtocolViolation("A-ASSOCIATE-AC has no application context item", raw)
    if app_context != APPLICATION_CONTEXT:
        raise ProtocolViolation(
            f"A-ASSOCIATE-AC names application context {app_context}, not the DICOM one that was proposed", raw
        )
    if not results:
        raise ProtocolViolation("A-ASSOCIATE-AC has no presentation context results", raw)
    missing = sorted(set(proposed) - set(results))
    if missing:
        raise ProtocolViolation(f"A-ASSOCIATE-AC leaves proposed presentation context(s) {missing} unanswered", raw)
    if user_info is None:
        raise ProtocolViolation("A-ASSOCIATE-AC has no user information item", raw)
    info = _decode_user_info(user_info, proposal, raw)
    ordered = tuple(results[c.context_id] for c in proposal.contexts)
    return Acceptance(
        ordered,
        info.max_pdu,
        info.implementation_class_uid,
        info.implementation_version_name,
        info.user_identity_response,
        info.scp_roles,
    )


def _decode_context_result(value: bytes, proposed: dict[int, ProposedContext], raw: bytes) -> ContextResult:
    if len(value) < 4:
        raise ProtocolViolation(f"presentation context result item of {len(value)} bytes (at least 4)", raw)
    context_id, result = value[0], value[2]
    if context_id not in proposed:
        raise ProtocolViolation(
            f"A-ASSOCIATE-AC answers presentation context {context_id}, which was not proposed", raw
        )
    if result not in RESULT_TEXT:
        raise ProtocolViolation(f"presentation context {context_id}: result {result} is not defined (0-4)", raw)
    abstract = proposed[context_id].abstract_syntax
    if result != 0:
        # PS3.8 9.3.3.2: the transfer syntax sub-item is not significant unless accepted.
        return ContextResult(context_id, abstract, result, None)
    subs = _items(value, 4, len(value), f"presentation context {context_id}", raw)
    syntaxes = [v for t, v in subs if t == 0x40]
    if len(syntaxes) != 1 or len(subs) != 1:
        raise ProtocolViolation(
            f"accepted presentation context {context_id} must carry exactly one transfer "
            f"syntax sub-item, it has {len(syntaxes)} (and {len(subs) - len(syntaxes)} other)",
            raw,
        )
    ts = _uid(syntaxes[0], f"transfer syntax of presentation context {context_id}", raw)
    if ts not in proposed[context_id].transfer_syntaxes:
        raise ProtocolViolation(
            f"presentation context {context_id} accepted with transfer syntax {ts}, which was not proposed", raw
        )
    return ContextResult(context_id, abstract, 0, ts)


@dataclass(frozen=True)
class _UserInfo:
    max_pdu: int
    implementation_class_uid: str | None
    implementation_version_name: str | None
    user_identity_response: bytes | None
    scp_roles: tuple[str, ...]


def _decode_user_info(value: bytes, proposal: Proposal, raw: bytes) -> _UserInfo:
    max_pdu: int | None = None
    impl_uid = impl_version = None
    identity: bytes | None = None
    roles: list[str] = []
    for sub_type, sub in _items(value, 0, len(value), "user information", raw):
        if sub_type == 0x51:
            if len(sub) != 4:
                raise ProtocolViolation(f"maximum length sub-item of {len(sub)} bytes (must be 4)", raw)
            (max_pdu,) = struct.unpack(">I", sub)
        elif sub_type == 0x52:
            impl_uid = _uid(sub, "implementation class UID", raw)
        elif sub_type == 0x55:
            if not 1 <= len(sub) <= 16:
                raise ProtocolViolation(f"implementation version name of {len(sub)} bytes (1-16)", raw)
            impl_version = sub.decode("ascii", "replace").strip()
        elif sub_type == 0x54:
            uid, scp = _decode_role(sub, proposal, raw)
            if scp:
                roles.append(uid)
        elif sub_type == 0x59:
            identity = _decode_identity_response(sub, proposal, raw)
        # Other sub-items (asynchronous operations window, extended
        # negotiation: 0x53, 0x56, 0x57) are structurally checked by _items
        # and otherwise not needed by the checks.
    if max_pdu is None:
        # PS3.7 D.3.3.1: the maximum length sub-item is mandatory in the AC.
        raise ProtocolViolation("A-ASSOCIATE-AC user information has no maximum length sub-item", raw)
    return _UserInfo(max_pdu, impl_uid, impl_version, identity, tuple(roles))


def _decode_role(sub: bytes, proposal: Proposal, raw: bytes) -> tuple[str, bool]:
    """SCP/SCU Role Selection in the AC (PS3.7 D.3.3.4.2): only for a proposed one, roles 0 or 1."""
    if len(sub) < 4:
        raise ProtocolViolation(f"role selection sub-item of {len(sub)} bytes", raw)
    (uid_length,) = struct.unpack(">H", sub[0:2])
    if len(sub) != 2 + uid_length + 2:
        raise ProtocolViolation(
            f"role selection sub-item: a {uid_length}-byte UID does not fit its {len(sub)} bytes", raw
        )
    uid = _uid(sub[2 : 2 + uid_length], "role selection SOP class UID", raw)
    scu, scp = sub[2 + uid_length], sub[3 + uid_length]
    if scu not in (0, 1) or scp not in (0, 1):
        raise ProtocolViolation(f"role selection for {uid}: roles {scu}/{scp} (each must be 0 or 1)", raw)
    if uid not in proposal.scp_roles:
        raise ProtocolViolation(f"A-ASSOCIATE-AC answers a role selection for {uid}, which was not proposed", raw)
    return uid, bool(scp)


def _decode_identity_response(sub: bytes, proposal: Proposal, raw: bytes) -> bytes:
    """User Identity server response (PS3.7 D.3.3.7.2): only when a positive response was asked for."""
    asked = proposal.user_identity
    if asked is None or not asked.positive_response_requested:
        raise ProtocolViolation("A-ASSOCIATE-AC carries a user identity response that was not requested", raw)
    if len(sub) < 2:
        raise ProtocolViolation(f"user identity response sub-item of {len(sub)} bytes", raw)
    (length,) = struct.unpack(">H", sub[0:2])
    if len(sub) != 2 + length:
        raise ProtocolViolation(
            f"user identity response announces {length} bytes, the sub-item holds {len(sub) - 2}", raw
        )
    return sub[2:]


@dataclass(frozen=True)
class RejectFields:
    result: int
    source: int
    reason: int


def decode_rj(pdu: Pdu) -> RejectFields:
    """A-ASSOCIATE-RJ (PS3.8 9.3.4): 4 bytes; values from Table 9-21 only."""
    if len(pdu.body) != 4:
        raise ProtocolViolation(f"A-ASSOCIATE-RJ of {len(pdu.body)} bytes (must be 4)", pdu.raw)
    result, source, reason = pdu.body[1], pdu.body[2], pdu.body[3]
    if result not in (1, 2):
        raise ProtocolViolation(f"A-ASSOCIATE-RJ result {result} is not defined (1 or 2)", pdu.raw)
    if source not in _RJ_REASONS:
        raise ProtocolViolation(f"A-ASSOCIATE-RJ source {source} is not defined (1-3)", pdu.raw)
    if reason not in _RJ_REASONS[source]:
        raise ProtocolViolation(f"A-ASSOCIATE-RJ reason {reason} is reserved for source {source}", pdu.raw)
    return RejectFields(result, source, reason)


@dataclass(frozen=True)
class AbortFields:
    source: int
    reason: int


def decode_abort(pdu: Pdu) -> AbortFields:
    """A-ABORT (PS3.8 9.3.8): 4 bytes; source 0 (service user) or 2 (provider, Table 9-26 reasons)."""
    if len(pdu.body) != 4:
        raise ProtocolViolation(f"A-ABORT of {len(pdu.body)} bytes (must be 4)", pdu.raw)
    source, reason = pdu.body[2], pdu.body[3]
    if source not in (0, 2):
        raise ProtocolViolation(f"A-ABORT source {source} is reserved", pdu.raw)
    if source == 2 and reason not in _ABORT_PROVIDER_REASONS:
        raise ProtocolViolation(f"A-ABORT reason {reason} is not defined", pdu.raw)
    # Source 0: the reason "shall not be significant" and is not tested.
    return AbortFields(source, reason if source == 2 else 0)


@dataclass(frozen=True)
class Pdv:
    """One presentation data value item of a P-DATA-TF (PS3.8 9.3.5.1, Annex E.2)."""

    context_id: int
    is_command: bool
    is_last: bool
    fragment: bytes


def decode_p_data(pdu: Pdu) -> list[Pdv]:
    """Split a P-DATA-TF body into PDV items; every length must add up exactly."""
    body, items, i = pdu.body, [], 0
    if not body:
        raise ProtocolViolation("P-DATA-TF without any presentation data value", pdu.raw)
    while i < len(body):
        if len(body) - i < 6:
            raise ProtocolViolation(f"P-DATA-TF: {len(body) - i} stray byte(s) after the last PDV", pdu.raw)
        (length,) = struct.unpack(">I", body[i : i + 4])
        if length < 2 or i + 4 + length > len(body):
            raise ProtocolViolation(f"P-DATA-TF: a PDV announces {length} bytes, {len(body) - i - 4} remain", pdu.raw)
        context_id, control = body[i + 4], body[i + 5]
        items.append(Pdv(context_id, bool(control & 1), bool(control & 2), body[i + 6 : i + 4 + length]))
        i += 4 + length
    return items


def encode_release_rq() -> bytes:
    return b"\x05\x00" + struct.pack(">I", 4) + b"\x00" * 4


def encode_abort(source: int = 0, reason: int = 0) -> bytes:
    return b"\x07\x00" + struct.pack(">I", 4) + bytes([0, 0, source, reason])


def encode_p_data(context_id: int, is_command: bool, fragments: bytes, max_pdu: int) -> list[bytes]:
    """P-DATA-TF PDUs carrying one message part, each within the peer's maximum length.

    PS3.8 D.1: the peer's Maximum Length Received bounds the PDU's variable
    field (PDV header included); 0 means no limit.
    """
    limit = (max_pdu or MAX_PDU) - 6  # 4-byte PDV length + context id + control header
    limit = max(limit, 1)
    pdus = []
    chunks = [fragments[i : i + limit] for i in range(0, len(fragments), limit)] or [b""]
    for n, chunk in enumerate(chunks):
        control = (1 if is_command else 0) | (2 if n == len(chunks) - 1 else 0)
        pdv = struct.pack(">I", len(chunk) + 2) + bytes([context_id, control]) + chunk
        pdus.append(b"\x04\x00" + struct.pack(">I", len(pdv)) + pdv)
    return pdus
