"""The check framework: settings, the per-target context, the registry.

A check is a function ``(ProbeContext) -> CheckResult`` registered under a
catalogue id with :func:`check`.  The catalogue (``catalogue.toml``) says
*what* is asked; the function says *how*.  Checks that share a network
exchange (``find.unauthenticated`` and ``find.phi_exposed``) share it through
the context's memo, so the node is asked once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dicomaudit.checks.catalogue import CheckDefinition, load_catalogue
from dicomaudit.models import CheckResult, PhiFinding, Status, Target
from dicomaudit.net.identity import DEFAULT_CALLING_AET, PLACEHOLDER_CALLED_AET
from dicomaudit.net.outcome import AssociationAttempt, Outcome
from dicomaudit.net.service import ServiceObservation
from dicomaudit.net.tls import TlsSettings

CheckFunc = Callable[["ProbeContext"], CheckResult]

AMBIGUOUS_CALLED_AET_REASON = (
    "peer check: rejected as 'called AE title not recognised' although the target's own AE title was used "
    "(DCMTK's dcmqrscp reports an unregistered calling AE or host this way; if the AE title given for the "
    "target is wrong, give the right one)"
)
_REGISTRY: dict[str, CheckFunc] = {}
T = TypeVar("T")


@dataclass(frozen=True)
class ProbeSettings:
    """How to probe: identities, bounds and what is allowed.

    ``timeout`` bounds every network step (TCP connect, association, each
    DIMSE response); ``target_budget`` bounds all checks of one target.
    """

    calling_aet: str = DEFAULT_CALLING_AET
    timeout: float = 10.0
    target_budget: float | None = None  # default: 12 x timeout
    concurrency: int = 8
    find_cap: int = 10
    intrusive: bool = False
    tls: TlsSettings = field(default_factory=TlsSettings)
    checks: tuple[str, ...] | None = None  # None = every catalogue check
    show_values: bool = False

    @property
    def budget(self) -> float:
        return self.target_budget if self.target_budget is not None else 12 * self.timeout

    def to_dict(self) -> dict[str, Any]:
        return {
            "calling_aet": self.calling_aet,
            "timeout": self.timeout,
            "target_budget": self.budget,
            "concurrency": self.concurrency,
            "find_cap": self.find_cap,
            "intrusive": self.intrusive,
            "tls_client_certificate": str(self.tls.client_cert) if self.tls.client_cert else None,
            "checks": list(self.checks) if self.checks else "all",
            "show_values": self.show_values,
        }


class ProbeContext:
    """What one target's checks share: target, settings, the service observation, a memo."""

    def __init__(self, target: Target, settings: ProbeSettings, service: ServiceObservation) -> None:
        self.target = target
        self.settings = settings
        self.service = service
        self.phi: list[PhiFinding] = []
        self._memo: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.deadline = time.monotonic() + settings.budget

    # -- identities ---------------------------------------------------------
    @property
    def called_aet(self) -> str:
        return self.target.called_aet or PLACEHOLDER_CALLED_AET

    @property
    def called_aet_known(self) -> bool:
        return self.target.called_aet is not None

    @property
    def transport(self) -> str:
        return self.service.transport or "plaintext"

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
            return definition.result(Status.ERROR, f"not checked: target unreachable ({svc.error})",
                                     reason=f"target unreachable: {svc.error}")
        if svc.transport is None:
            return definition.result(Status.ERROR, "not checked: the port does not speak DICOM",
                                     reason=svc.error or "the port does not speak DICOM")
        if svc.transport == "tls":
            attempt = svc.tls
            if attempt is not None and attempt.outcome is Outcome.TLS_FAILED:
                tls = attempt.tls
                if tls is not None and tls.client_certificate_required:
                    return definition.result(
                        Status.SKIPPED,
                        "not applicable: the node requires a TLS client certificate before any DICOM exchange",
                        reason=("TLS client certificate required: peers without a trusted certificate cannot "
                                "associate at all (give --tls-cert/--tls-key to test what a certified peer may do)"),
                        enforced="TLS client certificate required",
                        evidence={"tls": attempt.to_evidence()},
                    )
                return definition.result(Status.ERROR, "not checked: TLS session could not be established",
                                         reason=attempt.detail or "TLS failed",
                                         evidence={"tls": attempt.to_evidence()})
        if time.monotonic() > self.deadline:
            return definition.result(Status.ERROR, "not checked: time budget for this target used up",
                                     reason=f"target time budget of {self.settings.budget:g} s exhausted")
        return None

    def inconclusive_called_aet(self, definition: CheckDefinition, attempt: AssociationAttempt) -> CheckResult | None:
        """The node rejected our *called* AE title, so a check about something else learns nothing."""
        rej = attempt.rejection
        if attempt.outcome is Outcome.REJECTED and rej is not None and rej.called_aet_unrecognised:
            if self.called_aet_known:
                # The operator vouches for the AE title: a refusal, reported with its
                # ambiguity by refusal_control().
                return None
            hint = (f"no AE title was given for this target and the node rejects the placeholder "
                    f"{self.called_aet!r}; give it as HOST:PORT/AET")
            return definition.result(Status.ERROR, f"inconclusive: {hint}", reason=hint,
                                     enforced=rej.control, evidence={"association": attempt.to_evidence()})
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


def check(check_id: str) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``func`` as the implementation of catalogue check ``check_id``."""

    def register(func: CheckFunc) -> CheckFunc:
        if check_id not in load_catalogue():
            raise ValueError(f"check {check_id!r} is not in the catalogue")
        if check_id in _REGISTRY:
            raise ValueError(f"check {check_id!r} registered twice")
        _REGISTRY[check_id] = func
        return func

    return register


def registry() -> dict[str, CheckFunc]:
    """``{check id: implementation}`` in catalogue order; every catalogue entry must be implemented."""
    from dicomaudit.checks import implementations  # noqa: F401 - registers the checks

    missing = [cid for cid in load_catalogue() if cid not in _REGISTRY]
    if missing:
        raise RuntimeError(f"catalogue checks without an implementation: {', '.join(missing)}")
    return {cid: _REGISTRY[cid] for cid in load_catalogue()}
