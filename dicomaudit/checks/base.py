"""The check framework: settings, the per-target context, the registry.

A check is a function ``(ProbeContext, CheckDefinition) -> CheckResult``
registered under a catalogue id with :func:`check`.  The catalogue
(``catalogue.toml``) says *what* is asked; the function says *how*.  The
registration also says which kind of endpoint the check applies to
(:class:`Endpoint`) and whether it needs an association at all; the
framework (:meth:`CheckSpec.execute`) hands the check its catalogue entry
and answers for it when no association can be attempted, so no check
repeats that.  Checks that share a network exchange (``find.unauthenticated``
and ``find.phi_exposed``) share it through the context's memo, so the node is
asked once.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynetdicom.sop_class import Verification

from dicomaudit.checks.catalogue import CheckDefinition, load_catalogue
from dicomaudit.checks.catalogue import get as get_definition
from dicomaudit.fleet.aetitles import DEFAULT_GUESS_LIMIT, DEFAULT_GUESS_PAUSE, CalledAetGuess, Candidate
from dicomaudit.fleet.inventory import Listing
from dicomaudit.fleet.sweep import DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE
from dicomaudit.models import CheckResult, ErrorReason, PhiFinding, Status, Target
from dicomaudit.net.association import Session, associate, sop_name
from dicomaudit.net.identity import DEFAULT_CALLING_AET, PLACEHOLDER_CALLED_AET, random_aet
from dicomaudit.net.outcome import AssociationAttempt, Outcome, Transport
from dicomaudit.net.pdu import UserIdentity
from dicomaudit.net.service import ServiceObservation
from dicomaudit.net.tls import TlsSettings
from dicomaudit.net.web import WebSession, WebSettings
from dicomaudit.net.webservice import WebObservation
from dicomaudit.net.wire import Budget, PeerError

CheckFunc = Callable[["ProbeContext", CheckDefinition], CheckResult]

AMBIGUOUS_CALLED_AET_REASON = (
    "peer check: rejected as 'called AE title not recognised' although the target's own AE title was used "
    "(DCMTK's dcmqrscp reports an unregistered calling AE or host this way; if the AE title given for the "
    "target is wrong, give the right one)"
)
_REGISTRY: dict[str, CheckSpec] = {}
T = TypeVar("T")


@dataclass(frozen=True)
class ProbeSettings:
    """How to probe: identities, bounds and what is allowed.

    ``timeout`` bounds every network step (TCP connect, TLS handshake, each
    PDU read, each write); ``target_budget`` bounds everything done for one
    target, the service probe and PHI analysis included, and
    ``target_bytes`` caps what one target may send.
    """

    calling_aet: str = DEFAULT_CALLING_AET
    listen_port: int | None = None  # intrusive C-MOVE: where the scanner's storage SCP listens
    timeout: float = 10.0
    target_budget: float | None = None  # default: 12 x timeout
    target_bytes: int = 16 * 1024 * 1024
    concurrency: int = 8
    find_cap: int = 10
    intrusive: bool = False
    tls: TlsSettings = field(default_factory=TlsSettings)
    checks: tuple[str, ...] | None = None  # None = every catalogue check
    show_values: bool = False
    # Fleet scale: the connect sweep that runs before the association work (dicomaudit.fleet.sweep).
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    rate: float = DEFAULT_RATE
    # --guess-aet (never on by default): titles tried per node, the pause between tries, the inventory's titles.
    guess_aet: bool = False
    guess_limit: int = DEFAULT_GUESS_LIMIT
    guess_pause: float = DEFAULT_GUESS_PAUSE
    guess_names: tuple[Candidate, ...] = ()
    # Web targets (http:// and https://): credentials, CA bundle, caps, --try-default-credentials.
    web: WebSettings = field(default_factory=WebSettings)

    @property
    def budget(self) -> float:
        return self.target_budget if self.target_budget is not None else 12 * self.timeout

    def to_dict(self) -> dict[str, Any]:
        return {
            "calling_aet": self.calling_aet,
            "timeout": self.timeout,
            "target_budget": self.budget,
            "target_bytes": self.target_bytes,
            "concurrency": self.concurrency,
            "find_cap": self.find_cap,
            "intrusive": self.intrusive,
            "listen_port": self.listen_port,
            "tls_client_certificate": str(self.tls.client_cert) if self.tls.client_cert else None,
            "checks": list(self.checks) if self.checks else "all",
            "show_values": self.show_values,
            "max_in_flight": self.max_in_flight,
            "rate": self.rate,
            "guess_aet": self.guess_aet,
            **self.web.to_dict(),
            **(
                {
                    "guess_limit": self.guess_limit,
                    "guess_pause": self.guess_pause,
                    "guess_names": [c.aet for c in self.guess_names],
                }
                if self.guess_aet
                else {}
            ),
        }


class ProbeContext:
    """What one target's checks share: target, settings, the service observation, a memo."""

    def __init__(
        self,
        target: Target,
        settings: ProbeSettings,
        service: ServiceObservation,
        budget: Budget | None = None,
        *,
        listing: Listing | None = None,
        called_aet_guess: CalledAetGuess | None = None,
        web_session: WebSession | None = None,
        web_observation: WebObservation | None = None,
    ) -> None:
        self.target = target
        self.web_session = web_session  # web targets: the bounded HTTP session every web check uses
        self.web_observation = web_observation  # web targets: what answered at the URL
        self.settings = settings
        self.service = service
        self.budget = budget or new_budget(settings)
        self.listing = listing  # what the inventory says about this target (inventory.* checks); None: no inventory
        self.called_aet_guess = called_aet_guess  # how --guess-aet searched for the called AE title
        self.phi: list[PhiFinding] = []
        self.warnings: list[str] = []
        self._memo: dict[str, Any] = {}
        self._lock = threading.RLock()  # memoised computations may use other memos

    def associate(
        self,
        abstract_syntaxes: Sequence[str],
        *,
        calling_aet: str | None = None,
        called_aet: str | None = None,
        user_identity: UserIdentity | None = None,
        scp_roles: Sequence[str] = (),
    ) -> AbstractContextManager[Session]:
        """The one way a check opens an association: this target, its transport, its budget."""
        return associate(
            self.target.host,
            self.target.port,
            calling_aet=calling_aet or self.settings.calling_aet,
            called_aet=called_aet or self.called_aet,
            abstract_syntaxes=abstract_syntaxes,
            budget=self.budget,
            transport=self.transport,
            tls=self.settings.tls,
            user_identity=user_identity,
            scp_roles=scp_roles,
        )

    # -- identities ---------------------------------------------------------
    @property
    def called_aet(self) -> str:
        return self.target.called_aet or PLACEHOLDER_CALLED_AET

    @property
    def called_aet_known(self) -> bool:
        return self.target.called_aet is not None

    @property
    def transport(self) -> Transport:
        return self.service.transport or Transport.PLAINTEXT

    def random_calling(self) -> tuple[str, AssociationAttempt]:
        """One association from a random calling AE title, asked once per target.

        It is ``assoc.any_calling_aet``'s evidence, and it tells whether the
        scanner's own ``--calling-aet`` is registered on the node.
        """

        def attempt() -> tuple[str, AssociationAttempt]:
            aet = random_aet()
            with self.associate([Verification], calling_aet=aet) as session:
                return aet, session.attempt

        return self.memo("random_calling", attempt)

    @property
    def unregistered_aet(self) -> str:
        """The calling AE title that asks as an outsider (echo, find, store).

        Normally ``--calling-aet``.  But when the node accepted the scanner's
        own title while refusing a random one, the scanner's title is
        registered there: a C-ECHO or C-FIND that then succeeds shows what a
        *registered* peer may do, not an unauthenticated exposure.  Those
        checks then ask as the random (demonstrably unregistered) title, and
        the target carries a warning saying so.
        """
        return self.memo("unregistered_aet", self._pick_unregistered_aet)

    def _pick_unregistered_aet(self) -> str:
        own = self.service.usable_attempt
        scanner = self.settings.calling_aet
        if own is None or own.outcome is not Outcome.ACCEPTED:
            return scanner
        aet, attempt = self.random_calling()
        if attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED):
            self.warnings.append(
                f"the scanner's calling AE title {scanner!r} is registered on this node (its association was "
                f"accepted while the random calling AE title {aet!r} was {attempt.describe()}); the echo, find and "
                f"store checks asked as {aet!r}, an unregistered AE, instead"
            )
            return aet
        return scanner

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    # -- preconditions -------------------------------------------------------
    def association_blocker(self, definition: CheckDefinition) -> CheckResult | None:
        """A ``skipped``/``error`` result when no association can be attempted, else ``None``."""
        svc = self.service
        if not svc.reachable:
            return definition.result(
                Status.ERROR,
                f"not checked: target unreachable ({svc.error})",
                reason=f"target unreachable: {svc.error}",
                code=svc.error_code or ErrorReason.CONNECTIVITY,
            )
        if svc.transport is None:
            return definition.result(
                Status.ERROR,
                f"not checked: {service_problem(svc)}",
                reason=svc.error or "no DICOM answer",
                code=svc.error_code or ErrorReason.PROTOCOL_VIOLATION,
            )
        if svc.transport is Transport.TLS:
            attempt = svc.tls
            if attempt is not None and attempt.outcome is Outcome.TLS_FAILED:
                tls = attempt.tls
                if tls is not None and tls.client_certificate_required:
                    return definition.result(
                        Status.SKIPPED,
                        "not applicable: the node requires a TLS client certificate before any DICOM exchange",
                        reason=(
                            "TLS client certificate required: peers without a trusted certificate cannot "
                            "associate at all (give --tls-cert/--tls-key to test what a certified peer may do)"
                        ),
                        enforced="TLS client certificate required",
                        evidence={"tls": attempt.to_evidence()},
                    )
                return definition.result(
                    Status.ERROR,
                    "not checked: TLS session could not be established",
                    reason=attempt.detail or "TLS failed",
                    evidence={"tls": attempt.to_evidence()},
                    code=ErrorReason.TLS,
                )
        if self.budget.expired:
            why = self.budget.exhausted()
            return definition.result(Status.ERROR, f"not checked: {why.text}", reason=why.text, code=why.code)
        return None

    def web_blocker(self, definition: CheckDefinition) -> CheckResult | None:
        """A web check's ``error`` when the URL does not speak HTTP (or TLS failed) or the budget is spent."""
        obs = self.web_observation
        if obs is None or obs.transport is None:
            error = obs.error if obs is not None else "no web observation"
            code = obs.error_code if obs is not None and obs.error_code else ErrorReason.CONNECTIVITY
            what = "target unreachable" if obs is not None and not obs.reachable else "no HTTP answer"
            return definition.result(Status.ERROR, f"not checked: {what} ({error})", reason=error, code=code)
        if self.budget.expired:
            why = self.budget.exhausted()
            return definition.result(Status.ERROR, f"not checked: {why.text}", reason=why.text, code=why.code)
        return None

    def undecided(
        self, definition: CheckDefinition, attempt: AssociationAttempt, evidence: dict[str, Any] | None = None
    ) -> CheckResult:
        """An association that was neither accepted nor refused well-formedly decides nothing."""
        code = attempt.outcome.error_code or ErrorReason.PROTOCOL_VIOLATION
        return definition.result(
            Status.ERROR,
            f"undecided: association {attempt.describe()}",
            reason=attempt.detail or attempt.outcome.value,
            code=code,
            evidence={"association": attempt.to_evidence(), **(evidence or {})},
        )

    def inconclusive_called_aet(self, definition: CheckDefinition, attempt: AssociationAttempt) -> CheckResult | None:
        """The node rejected our *called* AE title, so a check about something else learns nothing."""
        rej = attempt.rejection
        if attempt.outcome is Outcome.REJECTED and rej is not None and rej.called_aet_unrecognised:
            if self.called_aet_known:
                # The operator vouches for the AE title: a refusal, reported with its
                # ambiguity by refusal_control().
                return None
            hint = (
                f"no AE title was given for this target and the node rejects the placeholder "
                f"{self.called_aet!r}; give it as HOST:PORT/AET"
            )
            if self.called_aet_guess is not None:
                hint += f" (--guess-aet tried {len(self.called_aet_guess.tried)} title(s), none was accepted)"
            return definition.result(
                Status.ERROR,
                f"inconclusive: {hint}",
                reason=hint,
                code=ErrorReason.INCONCLUSIVE,
                enforced=rej.control,
                evidence={"association": attempt.to_evidence()},
            )
        return None

    def refusal_control(self, attempt: AssociationAttempt, *, called_is_targets: bool = True) -> str | None:
        """The control a refusal shows; ``called_is_targets``: the request used the target's own AE title.

        Then "called AE title not recognised" is ambiguous: DCMTK's dcmqrscp answers an
        unregistered calling AE or host that way (tests/peers/GROUND_TRUTH.md).
        """
        rej = attempt.rejection
        if called_is_targets and self.called_aet_known and rej is not None and rej.called_aet_unrecognised:
            return AMBIGUOUS_CALLED_AET_REASON
        return attempt.enforced_control


def verdict_for_refusal(
    ctx: ProbeContext,
    d: CheckDefinition,
    attempt: AssociationAttempt,
    what: str,
    *,
    evidence: Mapping[str, Any] | None = None,
    called_is_targets: bool = True,
) -> CheckResult:
    """Turn an association that was *not* accepted into pass or error.

    Only a well-formed A-ASSOCIATE-RJ or A-ABORT from the node is a refusal
    (``pass``); a connection that closed without an answer, a timeout, a
    malformed answer or an exhausted budget decides nothing (``error`` with
    the outcome's reason code).  ``called_is_targets``
    says the request used the target's own AE title: a rejection of the
    placeholder title is then inconclusive (see
    :meth:`ProbeContext.inconclusive_called_aet`).  ``evidence`` is added to
    the association's.
    """
    if called_is_targets and (inconclusive := ctx.inconclusive_called_aet(d, attempt)) is not None:
        return inconclusive
    if attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED):
        control = ctx.refusal_control(attempt, called_is_targets=called_is_targets)
        return d.result(
            Status.PASS,
            f"{what}: association {attempt.describe()}",
            evidence={"association": attempt.to_evidence(), **(evidence or {})},
            enforced=control,
        )
    return ctx.undecided(d, attempt, dict(evidence or {}))


def refused_before_operation(
    ctx: ProbeContext,
    d: CheckDefinition,
    session: Session,
    sop_classes: Sequence[str],
    what: str,
    *,
    evidence: Mapping[str, Any] | None = None,
) -> CheckResult | None:
    """The one refusal rule before a DIMSE operation: the association, then the presentation contexts.

    ``None`` when the association was accepted with at least one of
    ``sop_classes``; otherwise the verdict (a refusal is ``pass``, anything
    else undecided, see :func:`verdict_for_refusal`).
    """
    attempt = session.attempt
    if attempt.outcome is not Outcome.ACCEPTED:
        return verdict_for_refusal(ctx, d, attempt, what, evidence=evidence)
    if any(session.accepted(uid) for uid in sop_classes):
        return None
    names = ", ".join(sop_name(uid) for uid in sop_classes)
    return d.result(
        Status.PASS,
        f"{what}: association accepted, but {names} refused for this AE",
        evidence={"association": attempt.to_evidence(), **(evidence or {})},
        enforced="service not offered to this AE (presentation context rejected)",
    )


def aborted_by_node(d: CheckDefinition, operation: str, evidence: Mapping[str, Any]) -> CheckResult:
    """A well-formed A-ABORT in answer to a request is a refusal."""
    return d.result(
        Status.PASS,
        f"the node aborted the association instead of answering the {operation}",
        evidence=evidence,
        enforced="association aborted by the node",
    )


def new_budget(settings: ProbeSettings, stop: threading.Event | None = None) -> Budget:
    """A target's budget, started now: every step of the target, the service probe included, draws on it."""
    return Budget.start(step=settings.timeout, total=settings.budget, byte_allowance=settings.target_bytes, stop=stop)


def undecided_operation(
    definition: CheckDefinition, operation: str, failure: PeerError, evidence: dict[str, Any]
) -> CheckResult:
    """A DIMSE operation whose answer was malformed, mismatched, late or missing: ``error``, never a verdict."""
    return definition.result(
        Status.ERROR,
        f"undecided: {operation}: {failure.text}",
        reason=failure.text,
        code=failure.code,
        evidence=evidence,
    )


def service_problem(svc: ServiceObservation) -> str:
    """What the service probe saw, in words that follow the evidence (a timeout is not "not DICOM")."""
    code = svc.error_code
    if code is ErrorReason.TIMEOUT:
        return "the port accepts connections but never answered an association request"
    if code is ErrorReason.PROTOCOL_VIOLATION:
        return "the port answered, but not with well-formed DICOM"
    if code is ErrorReason.BUDGET_EXHAUSTED:
        return "the target's time or byte budget ran out before the port gave a DICOM answer"
    if code is ErrorReason.TLS:
        return "the TLS session could not be established"
    if code is ErrorReason.INTERRUPTED:
        return "the run was interrupted before the port gave a DICOM answer"
    return "the port gave no DICOM answer"


#: Summaries of checks skipped for the whole run (not asked for, no inventory, no --guess-aet): the console
#: shows no column for a check skipped this way on every target.
NOT_REQUESTED = "not requested"
NO_INVENTORY_GIVEN = "not applicable: no inventory given"
NEEDS_GUESS_AET = "not requested: needs --guess-aet"
NEEDS_DEFAULT_CREDENTIALS = "not requested: needs --try-default-credentials"
NO_TLS = "not applicable: the endpoint does not speak TLS"
NO_TLS_ANSWER = "not applicable: no answer from the endpoint, so no TLS to judge"
NO_SOFTWARE_ANSWER = "not applicable: nothing answered, so nothing to identify"
RUN_LEVEL_SKIPS = frozenset(
    {
        NOT_REQUESTED,
        NO_INVENTORY_GIVEN,
        NEEDS_GUESS_AET,
        NEEDS_DEFAULT_CREDENTIALS,
        NO_TLS,
        NO_TLS_ANSWER,
        NO_SOFTWARE_ANSWER,
    }
)


class Endpoint(enum.StrEnum):
    """The kind of endpoint a check talks to; a target only runs the checks for its kind."""

    DIMSE = "dimse"  # a DICOM upper-layer port, plaintext or TLS (PS3.8, PS3.15 B.1)
    WEB = "web"  # a PACS REST API or DICOMweb root (PS3.18), over HTTP or HTTPS
    INVENTORY = "inventory"  # the endpoint against the inventory: judged from what the service probe saw
    TLS = "tls"  # any endpoint's TLS layer (DICOM TLS port or HTTPS): skipped where the endpoint speaks plaintext
    SOFTWARE = "software"  # what any endpoint says about itself (implementation UID, /system, Server header)

    def applies_to(self, target: Target) -> bool:
        """Whether a check for this kind of endpoint runs on ``target`` (inventory, TLS and software: both kinds)."""
        if self in (Endpoint.INVENTORY, Endpoint.TLS, Endpoint.SOFTWARE):
            return True
        return (self is Endpoint.WEB) == target.is_web


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its catalogue id, its implementation and what it needs."""

    id: str
    run: CheckFunc
    endpoint: Endpoint = Endpoint.DIMSE
    needs_association: bool = True  # False: it judges the service probe itself (web: a live HTTP endpoint)

    def execute(self, ctx: ProbeContext) -> CheckResult:
        """Run the check with its catalogue entry; answer for it when no association can be attempted."""
        definition = get_definition(self.id)
        if self.needs_association:
            blocked = (
                ctx.web_blocker(definition) if self.endpoint is Endpoint.WEB else ctx.association_blocker(definition)
            )
            if blocked is not None:
                return blocked
        return self.run(ctx, definition)


def check(
    check_id: str, *, endpoint: Endpoint = Endpoint.DIMSE, needs_association: bool = True
) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``func`` as the implementation of catalogue check ``check_id``."""

    def register(func: CheckFunc) -> CheckFunc:
        if check_id not in load_catalogue():
            raise ValueError(f"check {check_id!r} is not in the catalogue")
        if check_id in _REGISTRY:
            raise ValueError(f"check {check_id!r} registered twice")
        _REGISTRY[check_id] = CheckSpec(check_id, func, endpoint, needs_association)
        return func

    return register


def registry() -> dict[str, CheckSpec]:
    """``{check id: spec}`` in catalogue order; every catalogue entry must be implemented."""
    from dicomaudit.checks import implementations  # noqa: F401 - registers the checks

    missing = [cid for cid in load_catalogue() if cid not in _REGISTRY]
    if missing:
        raise RuntimeError(f"catalogue checks without an implementation: {', '.join(missing)}")
    return {cid: _REGISTRY[cid] for cid in load_catalogue()}
