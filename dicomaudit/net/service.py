"""Does the port speak DICOM, and over which transport?

The first contact with a port is an association request like any other
(:func:`dicomaudit.net.association.associate`, proposing Verification only),
so it is bounded, strictly decoded and released the same way.  What this
module adds is the interpretation: an HTTP banner or noise is "not DICOM", a
TLS record in reply to a plaintext request means "try TLS", a TLS alert
after the handshake means "client certificate required", and a malformed
association answer is a protocol violation that no check may build on.

PS3.8 9.3 (PDU structures): every PDU starts with a one-byte type, a reserved
byte and a 4-byte big-endian length.  A TLS record starts with a content type
(0x15 alert, 0x16 handshake) followed by the 0x03 major version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pynetdicom.sop_class import Verification

from dicomaudit.models import ErrorReason
from dicomaudit.net.association import associate
from dicomaudit.net.outcome import AssociationAttempt, Outcome, Transport
from dicomaudit.net.tls import TlsSettings
from dicomaudit.net.wire import CONNECT_TIMEOUT, Budget


@dataclass(frozen=True)
class ServiceObservation:
    """Everything learnt about a port before any check runs.

    ``transport`` is :class:`Transport` ``PLAINTEXT`` or ``TLS`` when the port speaks DICOM
    (or at least TLS that refused us well-formedly), ``None`` otherwise;
    ``plaintext`` and ``tls`` are the attempts made over each transport;
    ``error``/``error_code`` say why nothing can be built on the port.
    """

    reachable: bool
    transport: Transport | None
    plaintext: AssociationAttempt | None
    tls: AssociationAttempt | None
    error: str | None = None
    error_code: ErrorReason | None = None

    @property
    def speaks_dicom(self) -> bool:
        return any(a is not None and a.outcome.speaks_dicom for a in (self.plaintext, self.tls))

    @property
    def answers(self) -> bool:
        """A listener someone must own: a DICOM answer, or a TLS port that refused us well-formedly."""
        return self.speaks_dicom or (self.transport is not None and self.error_code is None)

    @property
    def usable_attempt(self) -> AssociationAttempt | None:
        """The attempt whose transport the checks should use."""
        if self.plaintext is not None and self.plaintext.outcome.speaks_dicom:
            return self.plaintext
        return self.tls


def probe(
    host: str,
    port: int,
    calling: str,
    called: str,
    budget: Budget,
    transport: Transport,
    tls_settings: TlsSettings | None = None,
) -> AssociationAttempt:
    """One Verification-only association request over ``transport``, released cleanly if accepted."""
    with associate(
        host,
        port,
        calling_aet=calling,
        called_aet=called,
        abstract_syntaxes=[Verification],
        budget=budget,
        transport=transport,
        tls=tls_settings,
    ) as session:
        pass
    attempt = session.attempt
    if session.release_note and attempt.detail is None:
        attempt = replace(attempt, detail=session.release_note)
    return attempt


def _unusable(
    failed: AssociationAttempt, plain: AssociationAttempt, tls: AssociationAttempt | None, *, reachable: bool = True
) -> ServiceObservation:
    """A port nothing can be built on, for the reason ``failed`` gives."""
    return ServiceObservation(
        reachable=reachable,
        transport=None,
        plaintext=plain,
        tls=tls,
        error=failed.detail,
        error_code=failed.outcome.error_code,
    )


def observe_service(
    host: str, port: int, calling: str, called: str, budget: Budget, tls_settings: TlsSettings
) -> ServiceObservation:
    """Plaintext first; TLS when the port is open but gave no DICOM answer in plaintext."""
    plain = probe(host, port, calling, called, budget, Transport.PLAINTEXT)
    if plain.outcome.speaks_dicom:
        return ServiceObservation(reachable=True, transport=Transport.PLAINTEXT, plaintext=plain, tls=None)
    if plain.outcome in (Outcome.REFUSED, Outcome.UNREACHABLE) or plain.detail == CONNECT_TIMEOUT:
        return _unusable(plain, plain, None, reachable=False)
    if plain.outcome is Outcome.TIMEOUT:
        # Connected, then silence.  A TLS port answers a plaintext request at
        # once (an alert, or a close: the first byte is no TLS record type), so
        # a TLS attempt would only wait a second time.  A silent endpoint
        # costs one timeout, which is what keeps a fleet run near its bound.
        return ServiceObservation(
            reachable=True,
            transport=None,
            plaintext=plain,
            tls=None,
            error=f"no DICOM answer: plaintext {plain.describe()}; TLS not tried (a TLS port does not stay silent)",
            error_code=ErrorReason.TIMEOUT,
        )
    if plain.outcome in (Outcome.PROTOCOL_VIOLATION, Outcome.BUDGET_EXHAUSTED, Outcome.INTERRUPTED):
        # It framed its answer as DICOM, but the answer is malformed (or the time is up, or the operator
        # stopped the run): nothing is to be gained from TLS, and nothing may be built on it.
        return _unusable(plain, plain, None)
    tls = probe(host, port, calling, called, budget, Transport.TLS, tls_settings)
    if tls.outcome.speaks_dicom:
        return ServiceObservation(reachable=True, transport=Transport.TLS, plaintext=plain, tls=tls)
    if tls.outcome is Outcome.TLS_FAILED:
        # A TLS peer that refused us with an alert: a TLS port, not (yet) a DICOM exchange.
        code = None if tls.tls is not None and tls.tls.client_certificate_required else ErrorReason.TLS
        error = None if code is None else tls.detail
        return ServiceObservation(
            reachable=True, transport=Transport.TLS, plaintext=plain, tls=tls, error=error, error_code=code
        )
    if tls.outcome in (Outcome.PROTOCOL_VIOLATION, Outcome.BUDGET_EXHAUSTED, Outcome.INTERRUPTED):
        return _unusable(tls, plain, tls)
    # Neither transport gave a DICOM answer: say what each did.  Silence on
    # both is a timeout, not "something that is not DICOM".
    if plain.outcome is Outcome.TIMEOUT and tls.outcome is Outcome.TIMEOUT:
        code = ErrorReason.TIMEOUT
    elif Outcome.NOT_DICOM in (plain.outcome, tls.outcome) or plain.outcome is Outcome.TLS:
        code = ErrorReason.PROTOCOL_VIOLATION
    else:
        code = plain.outcome.error_code or tls.outcome.error_code or ErrorReason.CONNECTIVITY
    return ServiceObservation(
        reachable=True,
        transport=None,
        plaintext=plain,
        tls=tls,
        error=f"no DICOM answer: plaintext {plain.describe()}; TLS {tls.describe()}",
        error_code=code,
    )
