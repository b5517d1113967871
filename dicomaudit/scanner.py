"""Run the catalogue against targets: connectivity first, then each check.

As in sslyze: the service is observed first; an unreachable target yields
one ``error`` per check with the reason and is not probed further; an
exception inside a check becomes an ``error`` result with the reason, never
a crashed scan.  Targets run concurrently (bounded), checks within a target
run one after another so a node sees a handful of short associations, not a
burst.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dicomaudit.checks.base import ProbeContext, ProbeSettings, new_budget, registry
from dicomaudit.checks.catalogue import get, load_catalogue
from dicomaudit.models import CheckResult, ErrorReason, Status, Target, TargetResult
from dicomaudit.net.identity import PLACEHOLDER_CALLED_AET
from dicomaudit.net.service import observe_service

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
    for check_id in load_catalogue():
        definition = get(check_id)
        if check_id in wanted:
            results.append(definition.result(Status.ERROR, summary, reason=reason, code=code, evidence=evidence))
        else:
            results.append(definition.result(Status.SKIPPED, "not requested", reason="not selected for this run"))
    return results


def _internal(exc: BaseException, where: str) -> tuple[str, str, dict[str, Any]]:
    LOGGER.debug("%s raised", where, exc_info=exc)
    text = f"{type(exc).__name__}: {exc}"
    return (
        f"{where} failed with an internal error: {text}",
        text,
        {"exception": traceback.format_exception_only(exc)[-1].strip()},
    )


def scan_target(
    target: Target, settings: ProbeSettings, progress: ProgressFunc | None = None, stop: threading.Event | None = None
) -> TargetResult:
    """Every selected check against one target, within the target's budget.

    Nothing raised here escapes: an exception in the service probe or TLS
    set-up makes every check of this target an ``internal`` error; one in a
    check makes that check one.
    """
    started = now_iso()
    budget = new_budget(settings, stop)  # the service probe draws on it too
    wanted = selected_checks(settings)
    try:
        impls = registry()
        service = observe_service(
            target.host,
            target.port,
            settings.calling_aet,
            target.called_aet or PLACEHOLDER_CALLED_AET,
            budget,
            settings.tls,
        )
    except Exception as exc:  # noqa: BLE001 - isolation: this target's problem stays this target's
        summary, reason, evidence = _internal(exc, "the service probe")
        failed = _all_errors(target, settings, summary, reason, ErrorReason.INTERNAL, evidence)
        if progress:
            for r in failed:
                progress(target, r.id, r)
            progress(target, None, None)
        return TargetResult(target=target, checks=tuple(failed), started_at=started, finished_at=now_iso())
    ctx = ProbeContext(target, settings, service, budget)
    results: list[CheckResult] = []
    for check_id in load_catalogue():
        definition = get(check_id)
        if check_id not in wanted:
            result = definition.result(Status.SKIPPED, "not requested", reason="not selected for this run")
        else:
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
    if progress:
        progress(target, None, None)
    LOGGER.debug("target %s done: %d bytes read", target, budget.bytes_read)
    return TargetResult(
        target=target,
        checks=tuple(results),
        phi=tuple(ctx.phi),
        started_at=started,
        finished_at=now_iso(),
        warnings=tuple(ctx.warnings),
    )


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


def scan(
    targets: Sequence[Target],
    settings: ProbeSettings,
    progress: ProgressFunc | None = None,
    on_interrupt: Callable[[], None] | None = None,
) -> list[TargetResult]:
    """Scan targets with at most ``settings.concurrency`` in flight; results keep input order.

    Workers are daemon threads: a target that overruns its budget by more
    than :data:`OVERRUN_GRACE` gets ``budget_exhausted`` errors, a fresh
    worker takes its place, and nothing left behind can keep the process
    alive once the results are written.

    On ``KeyboardInterrupt`` ``on_interrupt`` is called (to acknowledge it),
    every wait in flight ends within a fraction of a second, no new target starts, and :class:`ScanInterrupted` carries what
    was gathered (a second interrupt propagates at once).
    """
    selected_checks(settings)  # fail early on unknown ids
    n = len(targets)
    results: dict[int, TargetResult] = {}
    running: dict[int, float] = {}
    pending = list(range(n - 1, -1, -1))  # popped from the end: input order
    cond = threading.Condition()
    stop = threading.Event()
    limit = settings.budget + OVERRUN_GRACE

    def worker() -> None:
        while True:
            with cond:
                if not pending or stop.is_set():
                    return
                i = pending.pop()
                running[i] = time.monotonic()
            try:
                result = scan_target(targets[i], settings, progress, stop)
            except Exception as exc:  # noqa: BLE001 - e.g. a progress callback that raised
                summary, reason, evidence = _internal(exc, "scanning the target")
                result = TargetResult(
                    target=targets[i],
                    checks=tuple(_all_errors(targets[i], settings, summary, reason, ErrorReason.INTERNAL, evidence)),
                )
            with cond:
                if running.pop(i, None) is not None:  # not given up on meanwhile
                    results[i] = result
                cond.notify_all()

    def start_worker() -> None:
        threading.Thread(target=worker, name="dicomaudit-scan", daemon=True).start()

    def placeholder(i: int, text: str, code: ErrorReason) -> TargetResult:
        t = targets[i]
        return TargetResult(target=t, checks=tuple(_all_errors(t, settings, f"undecided: {text}", text, code)))

    for _ in range(max(1, min(settings.concurrency, n))):
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
                        LOGGER.debug("gave up on %s after %.1f s", targets[i], now - began)
                        if pending:
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
    return [results[i] for i in range(n)]
