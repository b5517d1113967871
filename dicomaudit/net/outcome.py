"""What came back when we asked a node for an association, decoded precisely.

nmap's ``dicom-ping`` reports every rejection as "called AET check enabled".
The standard is more specific (PS3.8 9.3.4, Table 9-21): an A-ASSOCIATE-RJ
carries a result (permanent / transient), a source (service user, ACSE
provider, presentation provider) and a reason, and "calling AE title not
recognised" is a different control from "called AE title not recognised".
:class:`AssociationAttempt` keeps all of it, plus everything short of an
association (TCP refused, timeout, TLS only, not DICOM), and turns it into
evidence.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.pdu_primitives import A_ASSOCIATE

from dicomaudit.models import ErrorReason, freeze, thaw


@contextlib.contextmanager
def _quiet_pynetdicom():
    logger = logging.getLogger("pynetdicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class Transport(enum.StrEnum):
    """How DICOM is carried: plain TCP, or TLS (PS3.15 Annex B)."""

    PLAINTEXT = "plaintext"
    TLS = "tls"


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # A-ASSOCIATE-AC
    REJECTED = "rejected"  # A-ASSOCIATE-RJ
    ABORTED = "aborted"  # the peer sent A-ABORT
    CLOSED = "closed"  # the peer closed the connection without a DICOM answer
    REFUSED = "refused"  # TCP connection refused
    TIMEOUT = "timeout"  # no TCP connection or no answer in time
    UNREACHABLE = "unreachable"  # no route, name does not resolve, ...
    TLS = "tls"  # the port answered a plaintext request with TLS
    TLS_FAILED = "tls_failed"  # TLS handshake or session refused us (e.g. client certificate required)
    NOT_DICOM = "not_dicom"  # something answered, but not with a DICOM PDU
    PROTOCOL_VIOLATION = "protocol_violation"  # a DICOM PDU came back, but malformed or mismatched
    BUDGET_EXHAUSTED = "budget_exhausted"  # the target's time or byte budget ran out first
    INTERRUPTED = "interrupted"  # the operator stopped the run (Ctrl-C) before the node answered

    @property
    def speaks_dicom(self) -> bool:
        """A well-formed association answer: the only outcomes a verdict may rest on."""
        return self in (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ABORTED)

    @property
    def error_code(self) -> ErrorReason | None:
        """Why this outcome decides nothing (``None`` for a well-formed answer)."""
        return _OUTCOME_CODES.get(self)


_OUTCOME_CODES = {
    Outcome.CLOSED: ErrorReason.CONNECTIVITY,
    Outcome.REFUSED: ErrorReason.CONNECTIVITY,
    Outcome.UNREACHABLE: ErrorReason.CONNECTIVITY,
    Outcome.TIMEOUT: ErrorReason.TIMEOUT,
    Outcome.TLS: ErrorReason.TLS,
    Outcome.TLS_FAILED: ErrorReason.TLS,
    Outcome.NOT_DICOM: ErrorReason.PROTOCOL_VIOLATION,
    Outcome.PROTOCOL_VIOLATION: ErrorReason.PROTOCOL_VIOLATION,
    Outcome.BUDGET_EXHAUSTED: ErrorReason.BUDGET_EXHAUSTED,
    Outcome.INTERRUPTED: ErrorReason.INTERRUPTED,
}


# (source, reason) -> the access control a rejection shows (PS3.8 Table 9-21).
_REJECT_CONTROLS: dict[tuple[int, int], str] = {
    (1, 3): "calling AE title allow-list",
    (1, 7): "called AE title check",  # DCMTK's dcmqrscp also uses it for unknown calling AEs/hosts
    (1, 2): "application context check",
    (1, 1): "association refused by the service user (no reason given)",
    (2, 1): "association refused by the ACSE provider (no reason given)",
    (2, 2): "protocol version check",
    (3, 1): "temporary congestion (not an access control)",
    (3, 2): "local limit exceeded (not an access control)",
}


@dataclass(frozen=True)
class Rejection:
    """The A-ASSOCIATE-RJ fields (PS3.8 9.3.4)."""

    result: int
    source: int
    reason: int

    @functools.cached_property
    def _texts(self) -> tuple[str, str, str]:
        # pynetdicom's own tables (pdu_primitives.A_ASSOCIATE); a peer may send
        # values the standard reserves, which the setters refuse.
        prim = A_ASSOCIATE()
        try:
            prim.result = self.result
            prim.result_source = self.source
            prim.diagnostic = self.reason
            with _quiet_pynetdicom():
                return prim.result_str, prim.source_str, prim.reason_str
        except (ValueError, TypeError):
            return (f"result {self.result}", f"source {self.source}", f"reserved reason {self.reason}")

    @property
    def result_text(self) -> str:
        return self._texts[0]

    @property
    def source_text(self) -> str:
        return self._texts[1]

    @property
    def reason_text(self) -> str:
        return self._texts[2]

    @property
    def called_aet_unrecognised(self) -> bool:
        """Reason 7, "called AE title not recognised" (DCMTK's dcmqrscp also uses it for unknown peers)."""
        return (self.source, self.reason) == (1, 7)

    @property
    def calling_aet_unrecognised(self) -> bool:
        """Reason 3, "calling AE title not recognised"."""
        return (self.source, self.reason) == (1, 3)

    @property
    def control(self) -> str:
        return _REJECT_CONTROLS.get((self.source, self.reason), f"rejection {self.source}/{self.reason}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "result_text": self.result_text,
            "source": self.source,
            "source_text": self.source_text,
            "reason": self.reason,
            "reason_text": self.reason_text,
        }


@dataclass(frozen=True)
class Abort:
    """The A-ABORT fields (PS3.8 9.3.8)."""

    source: int
    reason: int

    @property
    def text(self) -> str:
        # pynetdicom's own tables (pdu.A_ABORT_RQ); a reason only exists for the provider source.
        pdu = A_ABORT_RQ()
        pdu.source, pdu.reason_diagnostic = self.source, self.reason
        with _quiet_pynetdicom():
            source, reason = pdu.source_str, pdu.reason_str
        return f"{source}: {reason}" if self.source == 2 else source

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "reason": self.reason, "text": self.text}


@dataclass(frozen=True)
class TlsInfo:
    """What the TLS layer showed (only when the port speaks TLS)."""

    handshake: bool
    version: str | None = None
    cipher: str | None = None
    client_certificate_required: bool | None = None
    client_certificate_sent: bool = False
    peer_certificate: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "peer_certificate", freeze(dict(self.peer_certificate)))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "handshake": self.handshake,
            "version": self.version,
            "cipher": self.cipher,
            "client_certificate_required": self.client_certificate_required,
            "client_certificate_sent": self.client_certificate_sent,
            "peer_certificate": thaw(self.peer_certificate),
        }
        if self.error:
            d["error"] = self.error
        return d


@dataclass(frozen=True)
class AssociationAttempt:
    """One association request and everything observed about its answer."""

    outcome: Outcome
    calling_aet: str
    called_aet: str
    transport: Transport
    elapsed_ms: float
    accepted_contexts: tuple[str, ...] = ()
    rejected_contexts: tuple[tuple[str, str], ...] = ()
    rejection: Rejection | None = None
    abort: Abort | None = None
    peer_implementation_class_uid: str | None = None
    peer_implementation_version_name: str | None = None
    peer_max_pdu: int | None = None
    tls: TlsInfo | None = None
    detail: str | None = None  # human-readable extra (error text, first bytes of a non-DICOM answer)
    raw: str | None = None  # hex of the first bytes of a malformed or non-DICOM answer
    user_identity_proposed: int | None = None  # the User Identity Type proposed (PS3.7 D.3.3.7), if any
    user_identity_response: bytes | None = None  # the node's server response, if it sent one
    scp_roles_accepted: tuple[str, ...] = ()  # syntaxes the node lets the scanner serve as SCP (C-GET)

    @property
    def enforced_control(self) -> str | None:
        """The access control the node showed by refusing, if any."""
        if self.outcome is Outcome.REJECTED and self.rejection:
            return self.rejection.control
        if self.outcome is Outcome.ABORTED:
            return "association aborted by the node"
        if self.outcome is Outcome.TLS_FAILED and self.tls and self.tls.client_certificate_required:
            return "TLS client certificate required"
        return None

    def describe(self) -> str:
        """One line for summaries, e.g. ``rejected (calling-AE-title-not-recognized)``."""
        if self.outcome is Outcome.ACCEPTED:
            return "accepted"
        if self.outcome is Outcome.REJECTED and self.rejection:
            return f"rejected: {self.rejection.reason_text} ({self.rejection.result_text}, by {self.rejection.source_text})"
        if self.outcome is Outcome.ABORTED and self.abort:
            return f"aborted by the node ({self.abort.text})"
        return f"{self.outcome.value}" + (f" ({self.detail})" if self.detail else "")

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "request": {"calling_aet": self.calling_aet, "called_aet": self.called_aet, "transport": self.transport},
            "outcome": self.outcome.value,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
        if self.outcome is Outcome.ACCEPTED:
            d["accepted_contexts"] = list(self.accepted_contexts)
            if self.rejected_contexts:
                d["rejected_contexts"] = [{"abstract_syntax": a, "result": r} for a, r in self.rejected_contexts]
        if self.rejection:
            d["rejection"] = self.rejection.to_dict()
        if self.abort:
            d["abort"] = self.abort.to_dict()
        peer = {
            "implementation_class_uid": self.peer_implementation_class_uid,
            "implementation_version_name": self.peer_implementation_version_name,
            "max_pdu_length": self.peer_max_pdu,
        }
        if any(v is not None for v in peer.values()):
            d["peer"] = peer
        if self.user_identity_proposed is not None:
            response = self.user_identity_response
            d["user_identity"] = {
                "proposed_type": self.user_identity_proposed,
                # The length only: a server response may be a token.
                "server_response": None if response is None else f"present ({len(response)} bytes)",
            }
        if self.scp_roles_accepted:
            d["scp_roles_accepted"] = list(self.scp_roles_accepted)
        if self.tls:
            d["tls"] = self.tls.to_dict()
        if self.detail:
            d["detail"] = self.detail
        if self.raw:
            d["first_bytes"] = self.raw
        if self.outcome.error_code is not None:
            d["reason_code"] = self.outcome.error_code.value
        return d
