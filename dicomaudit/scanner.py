"""Run the catalogue against targets: connectivity first, then each check.

As in sslyze: the service is observed first; an unreachable target yields
one ``error`` per check with the reason and is not probed further; an
exception inside a check becomes an ``error`` result with the reason, never
a crashed scan.  Targets run concurrently (bounded), checks within a target
run one after another so a node sees a handful of short associations, not a
burst.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dicomaudit.checks.base import NOT_REQUESTED, CheckSpec, ProbeContext, ProbeSettings, new_budget, registry
from dicomaudit.checks.catalogue import get, load_catalogue
from dicomaudit.fleet.aetitles import CalledAetGuess, guess_called_aet, needs_called_aet
from dicomaudit.fleet.inventory import Listing
from dicomaudit.fleet.sweep import PortProbe, PortState, SweepStats, sweep
from dicomaudit.models import CheckResult, ErrorReason, Status, Target, TargetResult
from dicomaudit.net.identity import PLACEHOLDER_CALLED_AET
from dicomaudit.net.outcome import AssociationAttempt, Outcome, Transport
from dicomaudit.net.service import ServiceObservation, observe_service
from dicomaudit.net.web import WebSession
from dicomaudit.net.webservice import WebObservation, observe_web

LOGGER = logging.getLogger(__name__)

# progress(target, check_id or None when the target is done, result or None)
ProgressFunc = Callable[[Target, str | None, CheckResult | None], None]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def selected_checks(settings: ProbeSettings) -> list[str]:
    ids = list(load_catalogue())
    if settings.checks is None:
        return ids
    unknown = [c for c in settings.checks if c not in ids]
    if unknown:
        raise ValueError(f"unknown check id(s): {', '.join(unknown)}")
    return [c for c in ids if c in settings.checks]


def applicable_checks(target: Target) -> list[str]:
    """The catalogue ids that apply to ``target``'s kind of endpoint (DICOM port or web URL), in order."""
    impls = registry()
    return [cid for cid in load_catalogue() if impls[cid].endpoint.applies_to(target)]


def _all_errors(
    target: Target,
    settings: ProbeSettings,
    summary: str,
    reason: str,
    code: ErrorReason,
    evidence: dict[str, Any] | None = None,
) -> list[CheckResult]:
    wanted = selected_checks(settings)
    results = []
    for check_id in applicable_checks(target):
        definition = get(check_id)
        if check_id in wanted:
            results.append(definition.result(Status.ERROR, summary, reason=reason, code=code, evidence=evidence))
        else:
            results.append(_not_requested(check_id))
    return results


def _internal(exc: BaseException, where: str) -> tuple[str, str, dict[str, Any]]:
    LOGGER.debug("%s raised", where, exc_info=exc)
    text = f"{type(exc).__name__}: {exc}"
    return (
        f"{where} failed with an internal error: {text}",
        text,
        {"exception": traceback.format_exception_only(exc)[-1].strip()},
    )


def _blocked(ctx: ProbeContext, spec: CheckSpec) -> CheckResult | None:
    """The result of a check that cannot even be attempted, shared between targets when it carries no evidence.

    A fleet run has thousands of closed or silent endpoints whose checks all
    end the same way; one frozen result per (check, reason) keeps memory flat.
    """
    svc = ctx.service
    if not spec.needs_association or svc.transport is not None or ctx.budget.expired:
        return None
    key = (spec.id, svc.reachable, svc.error, svc.error_code)
    with _BLOCKED_LOCK:
        cached = _BLOCKED.get(key)
    if cached is None:
        cached = spec.execute(ctx)
        with _BLOCKED_LOCK:
            if len(_BLOCKED) > 4096:
                _BLOCKED.clear()
            _BLOCKED[key] = cached
    return cached


_BLOCKED: dict[tuple[Any, ...], CheckResult] = {}
_BLOCKED_LOCK = threading.Lock()


def scan_target(
    target: Target,
    settings: ProbeSettings,
    progress: ProgressFunc | None = None,
    stop: threading.Event | None = None,
    *,
    service: ServiceObservation | None = None,
    listing: Listing | None = None,
    monitor: ScanMonitor | None = None,
) -> TargetResult:
    """Every selected check against one target, within the target's budget.

    ``service`` is what the connect sweep already knows (a closed or filtered
    port): the service probe is then not repeated.  ``listing`` says what the
    inventory says about the target (``inventory.*`` checks).  Nothing raised
    here escapes: an exception in the service probe or TLS set-up makes every
    check of this target an ``internal`` error; one in a check makes that
    check one.
    """
    started = now_iso()
    budget = new_budget(settings, stop)  # the service probe draws on it too
    wanted = selected_checks(settings)
    guess: CalledAetGuess | None = None
    web_session: WebSession | None = None
    web_observation: WebObservation | None = None
    try:
        impls = registry()
        if target.is_web:
            assert target.url is not None
            web_session = WebSession(target.url, budget, settings.web, settings.tls)
            if service is None:
                if monitor is not None:
                    monitor.step(target, "web.service")
                web_observation = observe_web(web_session, settings.find_cap)
                service = web_observation.as_service()
            else:  # the connect sweep found the port closed, filtered or unreachable
                web_observation = WebObservation(
                    url=target.url,
                    transport=None,
                    error=service.error,
                    error_code=service.error_code,
                    reachable=service.reachable,
                )
        elif service is None:
            if monitor is not None:
                monitor.step(target, "dicom.service")
            service = observe_service(
                target.host,
                target.port,
                settings.calling_aet,
                target.called_aet or PLACEHOLDER_CALLED_AET,
                budget,
                settings.tls,
            )
            if settings.guess_aet and target.called_aet is None and needs_called_aet(service):
                if monitor is not None:
                    monitor.step(target, "guessing the called AE title")
                guess = guess_called_aet(
                    target,
                    service,
                    calling_aet=settings.calling_aet,
                    extra=settings.guess_names,
                    limit=settings.guess_limit,
                    pause=settings.guess_pause,
                    budget=budget,
                    tls=settings.tls,
                )
                if guess.found is not None and guess.observation is not None:
                    target, service = guess.apply(target), guess.observation
    except Exception as exc:  # noqa: BLE001 - isolation: this target's problem stays this target's
        if web_session is not None:
            web_session.close()
        summary, reason, evidence = _internal(exc, "the service probe")
        failed = _all_errors(target, settings, summary, reason, ErrorReason.INTERNAL, evidence)
        if progress:
            for r in failed:
                progress(target, r.id, r)
            progress(target, None, None)
        return TargetResult(target=target, checks=tuple(failed), started_at=started, finished_at=now_iso())
    if monitor is not None:
        monitor.observed(service)
    ctx = ProbeContext(
        target,
        settings,
        service,
        budget,
        listing=listing,
        called_aet_guess=guess,
        web_session=web_session,
        web_observation=web_observation,
    )
    results: list[CheckResult] = []
    try:
        results = _run_checks(ctx, impls, wanted, progress, monitor)
    finally:
        if web_session is not None:
            web_session.close()
    if progress:
        progress(target, None, None)
    LOGGER.debug("target %s done: %d bytes read", target, budget.bytes_read)
    warnings = list(ctx.warnings)
    if guess is not None:
        warnings.insert(0, guess.warning())
    return TargetResult(
        target=target,
        checks=tuple(results),
        phi=tuple(ctx.phi),
        started_at=started,
        finished_at=now_iso(),
        warnings=tuple(warnings),
    )


def _run_checks(
    ctx: ProbeContext,
    impls: dict[str, CheckSpec],
    wanted: list[str],
    progress: ProgressFunc | None,
    monitor: ScanMonitor | None,
) -> list[CheckResult]:
    """Every check that applies to the target's kind of endpoint, in catalogue order, each isolated."""
    target = ctx.target
    results: list[CheckResult] = []
    for check_id in applicable_checks(target):
        definition = get(check_id)
        if check_id not in wanted:
            result = _not_requested(check_id)
        elif (blocked := _blocked(ctx, impls[check_id])) is not None:
            result = blocked
        else:
            if monitor is not None:
                monitor.step(target, check_id)
            t0 = time.monotonic()
            try:
                result = impls[check_id].execute(ctx)
            except Exception as exc:  # noqa: BLE001 - a bug or an unexpected peer must not stop the scan
                summary, reason, evidence = _internal(exc, f"the check {check_id}")
                result = definition.result(
                    Status.ERROR, summary, reason=reason, code=ErrorReason.INTERNAL, evidence=evidence
                )
            result = replace(result, duration_ms=(time.monotonic() - t0) * 1000)
        results.append(result)
        if progress:
            progress(target, check_id, result)
    return results


@functools.lru_cache(maxsize=256)
def _not_requested(check_id: str) -> CheckResult:
    return get(check_id).result(Status.SKIPPED, NOT_REQUESTED, reason="not selected for this run")


#: How long past its budget a target may run before the scanner gives up on it.
#: Every wait inside is bounded by the budget already; this only guards
#: against a bug (or a name lookup the resolver holds on to).
OVERRUN_GRACE = 5.0


class ScanInterrupted(Exception):
    """The operator interrupted the scan; ``results`` holds every target, unfinished ones as ``interrupted``."""

    def __init__(self, results: list[TargetResult]) -> None:
        super().__init__("interrupted")
        self.results = results


#: After an interrupt, how long in-flight targets get to wind down (their waits end within 0.25 s).
STOP_GRACE = 2.0


class ScanMonitor:
    """The live state of a run, for the progress display: what is done, what is slow, and why.

    Written by the scanner's threads, read by the display; every method holds
    the lock for a few dictionary operations only.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()
        self.sweep: SweepStats | None = None
        self.swept = 0
        self.done = 0
        self.observed_counts: Counter[str] = Counter()
        self.confirm_finished: float | None = None
        # id(target) -> (target, step, step since, target since); targets are not hashable (attributes)
        self._steps: dict[int, tuple[Target, str, float, float]] = {}
        self._lock = threading.Lock()

    def step(self, target: Target, what: str) -> None:
        now = time.monotonic()
        with self._lock:
            _, _, _, since = self._steps.get(id(target), (target, "", now, now))
            self._steps[id(target)] = (target, what, now, since)

    def observed(self, service: ServiceObservation) -> None:
        with self._lock:
            self.observed_counts[_observed_kind(service)] += 1
            self.confirm_finished = time.monotonic()

    def finished(self, target: Target | None) -> None:
        with self._lock:
            if target is not None:
                self._steps.pop(id(target), None)
            self.done += 1

    def swept_one(self) -> None:
        with self._lock:
            self.swept += 1

    def slowest(self, n: int = 1) -> list[tuple[Target, str, float, float]]:
        """The ``n`` targets in flight the longest: (target, current step, seconds in step, seconds in target)."""
        now = time.monotonic()
        with self._lock:
            items = [(t, what, now - step_since, now - since) for t, what, step_since, since in self._steps.values()]
        return sorted(items, key=lambda x: -x[3])[:n]

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._steps)

    def silent_so_far(self) -> int:
        with self._lock:
            return self.observed_counts["silent"]


def _observed_kind(service: ServiceObservation) -> str:
    if service.answers:
        return "dicom"
    if not service.reachable:
        return "unreachable"
    if service.error_code is ErrorReason.TIMEOUT:
        return "silent"
    return "not_dicom"


def _swept_observation(probe: PortProbe, settings: ProbeSettings, target: Target) -> ServiceObservation:
    """A port the sweep found closed, filtered or unreachable, in the words the service probe would use."""
    outcome = {
        PortState.CLOSED: Outcome.REFUSED,
        PortState.FILTERED: Outcome.TIMEOUT,
        PortState.UNREACHABLE: Outcome.UNREACHABLE,
    }[probe.state]
    attempt = AssociationAttempt(
        outcome=outcome,
        calling_aet=settings.calling_aet,
        called_aet=target.called_aet or PLACEHOLDER_CALLED_AET,
        transport=Transport.PLAINTEXT,
        elapsed_ms=probe.elapsed_ms,
        detail=probe.detail or None,
    )
    return ServiceObservation(
        reachable=False,
        transport=None,
        plaintext=attempt,
        tls=None,
        error=probe.detail or outcome.value,
        error_code=outcome.error_code,
    )


def scan(
    targets: Sequence[Target],
    settings: ProbeSettings,
    progress: ProgressFunc | None = None,
    on_interrupt: Callable[[], None] | None = None,
    *,
    listings: Sequence[Listing | None] | None = None,
    known_open: Sequence[bool] | None = None,
    monitor: ScanMonitor | None = None,
    presweep: bool | None = None,
) -> list[TargetResult]:
    """Scan targets with at most ``settings.concurrency`` in flight; results keep input order.

    With more targets than worker slots (or ``presweep=True``) an asyncio
    connect sweep (:mod:`dicomaudit.fleet.sweep`) runs first, pipelined with
    the workers: open ports go to the workers as they are found; closed,
    filtered and unreachable ones are decided by the sweep at once and never
    take a worker slot.  ``known_open[i]`` marks a target a discovery sweep
    has just found open: it goes to the workers without a second connect.
    ``listings[i]`` is what the inventory says about target ``i``.

    Workers are daemon threads: a target that overruns its budget by more
    than :data:`OVERRUN_GRACE` gets ``budget_exhausted`` errors, a fresh
    worker takes its place, and nothing left behind can keep the process
    alive once the results are written.

    On ``KeyboardInterrupt`` ``on_interrupt`` is called (to acknowledge it),
    every wait in flight ends within a fraction of a second, no new target
    starts, and :class:`ScanInterrupted` carries what was gathered (a second
    interrupt propagates at once).
    """
    selected_checks(settings)  # fail early on unknown ids
    n = len(targets)
    monitor = monitor or ScanMonitor(n)
    results: dict[int, TargetResult] = {}
    running: dict[int, float] = {}
    work: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    cond = threading.Condition()
    stop = threading.Event()
    limit = settings.budget + OVERRUN_GRACE
    workers = max(1, min(settings.concurrency, n))
    use_sweep = presweep if presweep is not None else n > workers

    def listing(i: int) -> Listing | None:
        return listings[i] if listings is not None else None

    def worker() -> None:
        while True:
            i = work.get()
            if i is None or stop.is_set():
                return
            with cond:
                running[i] = time.monotonic()
            try:
                result = scan_target(targets[i], settings, progress, stop, listing=listing(i), monitor=monitor)
            except Exception as exc:  # noqa: BLE001 - e.g. a progress callback that raised
                summary, reason, evidence = _internal(exc, "scanning the target")
                result = TargetResult(
                    target=targets[i],
                    checks=tuple(_all_errors(targets[i], settings, summary, reason, ErrorReason.INTERNAL, evidence)),
                )
            with cond:
                if running.pop(i, None) is not None:  # not given up on meanwhile (then it was counted there)
                    results[i] = result
                    monitor.finished(targets[i])
                cond.notify_all()

    def start_worker() -> None:
        threading.Thread(target=worker, name="dicomaudit-scan", daemon=True).start()

    def placeholder(i: int, text: str, code: ErrorReason) -> TargetResult:
        t = targets[i]
        return TargetResult(target=t, checks=tuple(_all_errors(t, settings, f"undecided: {text}", text, code)))

    sweep_thread: threading.Thread | None = None
    if use_sweep:
        by_endpoint: dict[tuple[str, int], list[int]] = {}
        for i, t in enumerate(targets):
            if known_open is not None and known_open[i]:
                work.put(i)
            else:
                by_endpoint.setdefault((t.host, t.port), []).append(i)

        def swept(probe: PortProbe) -> None:
            monitor.swept_one()
            for i in by_endpoint[(probe.host, probe.port)]:
                if probe.state is PortState.OPEN:
                    work.put(i)
                    continue
                service = _swept_observation(probe, settings, targets[i])
                try:
                    result = scan_target(targets[i], settings, progress, stop, service=service, listing=listing(i))
                except Exception as exc:  # noqa: BLE001 - as in a worker
                    summary, reason, evidence = _internal(exc, "scanning the target")
                    result = placeholder(i, reason, ErrorReason.INTERNAL)
                monitor.observed(service)
                monitor.finished(None)
                with cond:
                    results[i] = result
                    cond.notify_all()

        def run_sweep() -> None:
            try:
                monitor.sweep = sweep(
                    by_endpoint,
                    timeout=settings.timeout,
                    on_result=swept,
                    max_in_flight=settings.max_in_flight,
                    rate=settings.rate,
                    stop=stop,
                )
            except Exception as exc:  # noqa: BLE001 - e.g. out of file descriptors: undecided, never a crash
                summary, reason, _ = _internal(exc, "the connect sweep")
                with cond:
                    for i in range(n):
                        if i not in results and i not in running:
                            results[i] = placeholder(i, reason, ErrorReason.INTERNAL)
                    cond.notify_all()
            finally:
                for _ in range(workers + 64):
                    work.put(None)

        sweep_thread = threading.Thread(target=run_sweep, name="dicomaudit-sweep", daemon=True)
        sweep_thread.start()
    else:
        for i in range(n):
            work.put(i)
        for _ in range(workers + 64):
            work.put(None)

    for _ in range(workers):
        start_worker()
    try:
        with cond:
            while len(results) < n:
                cond.wait(timeout=0.25)
                now = time.monotonic()
                for i, began in list(running.items()):
                    if now - began > limit:
                        del running[i]
                        results[i] = placeholder(
                            i,
                            f"the target did not finish within its budget of {settings.budget:g} s",
                            ErrorReason.BUDGET_EXHAUSTED,
                        )
                        monitor.finished(targets[i])
                        LOGGER.debug("gave up on %s after %.1f s", targets[i], now - began)
                        start_worker()
    except KeyboardInterrupt:
        stop.set()
        if on_interrupt is not None:
            on_interrupt()
        deadline = time.monotonic() + STOP_GRACE
        with cond:
            while running and time.monotonic() < deadline:
                cond.wait(timeout=0.1)
            for i in range(n):
                if i not in results:
                    results[i] = placeholder(
                        i, "the run was interrupted before this target was finished", ErrorReason.INTERRUPTED
                    )
            running.clear()
        raise ScanInterrupted([results[i] for i in range(n)]) from None
    finally:
        stop.set()
        if sweep_thread is not None:
            sweep_thread.join(timeout=STOP_GRACE)
    return [results[i] for i in range(n)]


def run_stats(monitor: ScanMonitor, seconds: float, targets: int, swept: SweepStats | None = None) -> dict[str, Any]:
    """Per-phase figures of a run (``run.stats`` in the result JSON): what was swept, confirmed and audited.

    ``swept`` is a discovery sweep that ran before the scan; the scan's own
    connect sweep (over its targets) is ``monitor.sweep``.
    """
    phases: dict[str, Any] = {}
    if swept is not None:
        phases["sweep"] = swept.to_dict()
        if monitor.sweep is not None:  # the targets given (inventory rows) were swept apart
            phases["sweep"]["listed_endpoints"] = monitor.sweep.endpoints
    elif monitor.sweep is not None:
        phases["sweep"] = monitor.sweep.to_dict()
    counts = monitor.observed_counts
    confirm_end = monitor.confirm_finished
    phases["confirm"] = {
        "seconds": round((confirm_end - monitor.started) if confirm_end else 0.0, 3),
        "endpoints": sum(counts[k] for k in ("dicom", "silent", "not_dicom")),
        "dicom": counts["dicom"],
        "silent": counts["silent"],
        "not_dicom": counts["not_dicom"],
    }
    phases["audit"] = {"seconds": round(seconds, 3), "targets": targets}
    endpoints = swept.endpoints if swept is not None else monitor.total
    return {"endpoints": endpoints, "phases": phases}
