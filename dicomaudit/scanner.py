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
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime

from dicomaudit.checks.base import ProbeContext, ProbeSettings, registry
from dicomaudit.checks.catalogue import get, load_catalogue
from dicomaudit.models import CheckResult, Status, Target, TargetResult
from dicomaudit.net.association import quiet_pynetdicom
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


def scan_target(target: Target, settings: ProbeSettings, progress: ProgressFunc | None = None) -> TargetResult:
    """Every selected check against one target."""
    started = now_iso()
    impls = registry()
    wanted = selected_checks(settings)
    service = observe_service(target.host, target.port, settings.calling_aet,
                              target.called_aet or PLACEHOLDER_CALLED_AET, settings.timeout, settings.tls)
    ctx = ProbeContext(target, settings, service)
    results: list[CheckResult] = []
    for check_id in load_catalogue():
        definition = get(check_id)
        if check_id not in wanted:
            result = definition.result(Status.SKIPPED, "not requested", reason="not selected for this run")
        else:
            t0 = time.monotonic()
            try:
                result = impls[check_id](ctx)
            except Exception as exc:  # a bug or an unexpected peer must not stop the scan
                LOGGER.debug("check %s on %s raised", check_id, target, exc_info=True)
                result = definition.result(
                    Status.ERROR, f"check failed with an internal error: {type(exc).__name__}: {exc}",
                    reason=f"{type(exc).__name__}: {exc}",
                    evidence={"traceback": traceback.format_exception_only(exc)},
                )
            result = CheckResult(**{**result.__dict__, "duration_ms": (time.monotonic() - t0) * 1000})
        results.append(result)
        if progress:
            progress(target, check_id, result)
    if progress:
        progress(target, None, None)
    return TargetResult(target=target, checks=tuple(results), phi=tuple(ctx.phi), started_at=started,
                        finished_at=now_iso())


def scan(targets: Sequence[Target], settings: ProbeSettings, progress: ProgressFunc | None = None) -> list[TargetResult]:
    """Scan targets with at most ``settings.concurrency`` in flight; results keep input order."""
    quiet_pynetdicom()
    selected_checks(settings)  # fail early on unknown ids
    results: dict[int, TargetResult] = {}
    workers = max(1, min(settings.concurrency, len(targets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dicomaudit-scan") as pool:
        futures = {pool.submit(scan_target, t, settings, progress): i for i, t in enumerate(targets)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
    return [results[i] for i in range(len(targets))]
