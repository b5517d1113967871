"""Analyse files, folders and DICOMDIRs; in parallel for large trees.

Each file is read once (header only) and walked once.  With more than one
worker the file list is split into chunks handed to a process pool: the work
is CPU-bound in pure Python, so processes (not threads) are what scale.
Workers send findings back as plain tuples (the frozen models hold read-only
mappings, which do not pickle).

A file found while walking a folder that is plainly not DICOM (a README, a
CSV, an image: :class:`~dicomaudit.phi.inputs.NotDicom`) is counted as
skipped, not reported as an error; named directly, it stays an error.

Role placeholders (``SELF^REFERRED``...: :mod:`dicomaudit.phi.roles`) are
resolved once, before any file is read -- the packaged list, the files named
by ``DICOMAUDIT_PHI_ROLES`` and ``extra_roles`` -- so a role file that cannot
be read stops the run at once (:class:`~dicomaudit.phi.roles.RolesFileError`)
instead of failing every file; the workers receive the resolved set.

Ctrl-C (``KeyboardInterrupt``) stops the run: no new file is started, the
workers finish the file in hand (or are terminated after
:data:`STOP_GRACE` seconds), the pool is shut down with no process left
behind, and :class:`AnalysisInterrupted` carries what was gathered.  A
second Ctrl-C while stopping skips the grace period.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomaudit.models import InputError, PhiFinding, Severity
from dicomaudit.phi.analyzer import PhiAnalysisError, analyze_dataset
from dicomaudit.phi.categories import Category
from dicomaudit.phi.inputs import InputFile, NotDicom, UnreadableInput, discover, exception_message, read_dataset
from dicomaudit.phi.locale import normalize_regions, preload
from dicomaudit.phi.roles import ExtraRoles, RoleSet, resolve_roles
from dicomaudit.textsafe import scrub

#: Below this many files a pool costs more (start-up, pickling) than it saves.
PARALLEL_THRESHOLD = 64
_CHUNK = 32

ProgressCallback = Callable[[int, int], None]

#: After Ctrl-C, how long the workers get to finish the file in hand before they are terminated.
STOP_GRACE = 1.0


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyze_paths` found: findings, unusable inputs, file counts.

    ``skipped`` lists the files found in folders that are plainly not DICOM
    (not errors); ``show_values`` says whether the findings' values are
    unmasked; ``interrupted`` is true when the run was stopped (Ctrl-C)
    before every file was analysed, ``not_analysed`` how many were left.
    """

    findings: tuple[PhiFinding, ...] = ()
    errors: tuple[InputError, ...] = ()
    files_scanned: int = 0
    skipped: tuple[str, ...] = ()
    show_values: bool = False
    interrupted: bool = False
    not_analysed: int = 0

    def summary(self) -> dict[str, int]:
        """Findings per category (see :func:`summarize`)."""
        return summarize(self.findings)

    @property
    def files_with_findings(self) -> int:
        return len({f.source for f in self.findings})

    def worst(self) -> Severity | None:
        """Highest severity among the findings, if any."""
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_scanned": self.files_scanned,
            "files_skipped": len(self.skipped),
            "files_not_analysed": self.not_analysed,
            "interrupted": self.interrupted,
            "summary": self.summary(),
            "phi": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
            "skipped": list(self.skipped),
        }


class AnalysisInterrupted(KeyboardInterrupt):
    """The operator interrupted :func:`analyze_paths`; ``result`` holds what was gathered.

    A ``KeyboardInterrupt``: a caller that does not look for it stops as it
    would on Ctrl-C.  ``result.interrupted`` is true and
    ``result.not_analysed`` counts the files left out (absent from findings
    and errors alike).
    """

    def __init__(self, result: AnalysisResult) -> None:
        super().__init__("interrupted")
        self.result = result


def summarize(findings: Sequence[PhiFinding]) -> dict[str, int]:
    """Count findings per category, every category present, in table order."""
    counts = {c.value: 0 for c in Category}
    for f in findings:
        counts[f.category] = counts.get(f.category, 0) + 1
    return counts


def summarize_severity(findings: Sequence[PhiFinding]) -> dict[str, int]:
    """Count findings per severity, worst first."""
    counts = {s.value: 0 for s in sorted(Severity, reverse=True)}
    for f in findings:
        counts[f.severity.value] += 1
    return counts


def analyze_file(
    item: InputFile, show_values: bool = False, roles: RoleSet | None = None
) -> tuple[list[PhiFinding], InputError | None]:
    """Findings of one file, or the reason it could not be analysed.

    A file is either analysed completely or reported as an error, never
    both: partial results from a malformed file would be misleading.
    ``roles`` defaults to :func:`~dicomaudit.phi.roles.default_roles`.
    """
    findings, error, _ = _analyze_one(item, show_values, roles)
    return findings, error


def _analyze_one(
    item: InputFile, show_values: bool, roles: RoleSet | None = None, regions: tuple[str, ...] = ()
) -> tuple[list[PhiFinding], InputError | None, bool]:
    """Like :func:`analyze_file`, plus whether the file is plainly not DICOM (:class:`NotDicom`)."""
    try:
        ds = read_dataset(item.path)
        return analyze_dataset(ds, item.source, show_values=show_values, roles=roles, regions=regions), None, False
    except UnreadableInput as exc:
        return [], InputError(item.source, scrub(str(exc))), isinstance(exc, NotDicom)
    except PhiAnalysisError as exc:
        return [], InputError(item.source, scrub(f"malformed DICOM file: {exc}")), False
    except RecursionError:
        return [], InputError(item.source, "malformed DICOM file: sequences nested too deep"), False
    except MemoryError:
        return [], InputError(item.source, "malformed DICOM file: absurd element length"), False
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
        return [], InputError(item.source, _cannot_analyse(exc)), False


def _cannot_analyse(exc: BaseException) -> str:
    """The reason for an unexpected exception (a dicomaudit bug or a worker crash), value-free."""
    message = exception_message(exc)
    return f"cannot analyse: {type(exc).__name__}" + (f": {message}" if message else "")


# Findings cross the process boundary as plain tuples: the frozen models hold
# read-only mappings (which do not pickle) and tuples pickle faster than dicts.
_Wire = tuple[str, str, str, str, str, str, str, str, dict[str, Any]]


def _to_wire(f: PhiFinding) -> _Wire:
    return (f.path, f.tag, f.keyword, f.vr, f.category, f.rule, f.severity.value, f.value, dict(f.detail))


def _from_wire(source: str, w: _Wire) -> PhiFinding:
    path, tag, keyword, vr, category, rule, severity, value, detail = w
    return PhiFinding(source, path, tag, keyword, vr, category, rule, Severity(severity), value, detail)


# What a worker reports per file: (findings, error reason or None, plainly not DICOM).
_Outcome = tuple[list[_Wire], str | None, bool]

#: Set in the workers (inherited from the parent) when the run is interrupted.
_STOP: Any = None
#: The run's role placeholders, handed to each worker once.
_ROLES: RoleSet | None = None
#: The run's phone-number regions (``--region``), handed to each worker once.
_REGIONS: tuple[str, ...] = ()


def _worker_init(stop: Any, roles: RoleSet | None = None, regions: tuple[str, ...] = ()) -> None:
    """Pool worker set-up: Ctrl-C is the parent's business; remember the stop flag, the roles and the regions."""
    global _STOP, _ROLES, _REGIONS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP = stop
    _ROLES = roles
    _REGIONS = regions


def _analyze_chunk(items: list[InputFile], show_values: bool) -> list[_Outcome]:
    """Outcomes of the chunk's files, in order; shorter than ``items`` when the run was stopped."""
    out: list[_Outcome] = []
    for item in items:
        if _STOP is not None and _STOP.is_set():
            break
        findings, error, not_dicom = _analyze_one(item, show_values, _ROLES, _REGIONS)
        out.append(([_to_wire(f) for f in findings], error.error if error else None, not_dicom))
    return out


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers in milliseconds with pydicom already imported;
    # fall back to the platform default where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def default_workers(n_files: int) -> int:
    """One process for small inputs, else one per CPU."""
    if n_files < PARALLEL_THRESHOLD:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


#: One file's outcome: findings, the reason it could not be analysed, plainly not DICOM.
_Result = tuple[list[PhiFinding], InputError | None, bool]


class _Collector:
    """Outcomes per file (by index), turned into an :class:`AnalysisResult` in input order."""

    def __init__(self, files: list[InputFile], errors: list[InputError], show_values: bool) -> None:
        self.files = files
        self.listing_errors = errors  # inputs that could not even be listed
        self.show_values = show_values
        self.outcomes: dict[int, _Result] = {}

    def result(self, *, interrupted: bool = False) -> AnalysisResult:
        findings: list[PhiFinding] = []
        errors = list(self.listing_errors)
        skipped: list[str] = []
        scanned = 0
        for i, item in enumerate(self.files):
            outcome = self.outcomes.get(i)
            if outcome is None:
                continue  # not analysed (interrupted)
            found, error, not_dicom = outcome
            if error is None:
                scanned += 1
                findings.extend(found)
            elif not_dicom and item.from_folder:
                skipped.append(item.source)
            else:
                errors.append(error)
        return AnalysisResult(
            tuple(findings),
            tuple(errors),
            scanned,
            tuple(skipped),
            self.show_values,
            interrupted,
            len(self.files) - len(self.outcomes),
        )


def analyze_paths(
    paths: Sequence[str | Path],
    *,
    show_values: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    on_interrupt: Callable[[], None] | None = None,
    extra_roles: ExtraRoles = None,
    regions: Sequence[str] = (),
) -> AnalysisResult:
    """PHI analysis of files, folders (recursive) and DICOMDIRs.

    Parameters
    ----------
    paths
        What the user named; each finding's ``source`` is the path as given
        (joined with the relative path inside a folder).
    show_values
        Keep identifying values unmasked (default: masked).
    workers
        Processes to use; ``None`` picks 1 for fewer than
        :data:`PARALLEL_THRESHOLD` files, else one per CPU.
    progress
        Called as ``progress(done, total)`` after each file (serial) or
        chunk of files (parallel).
    on_interrupt
        Called once, at the first Ctrl-C, before the run winds down (to
        say that it is stopping).
    regions
        Countries (ISO 3166 alpha-2, e.g. ``("FR", "DE")``) whose national phone formats the free-text
        detectors accept, on top of those inferred from each data set (character set, addresses).
    extra_roles
        Role placeholders to add to the packaged list and to those of the
        files named by ``DICOMAUDIT_PHI_ROLES``: a
        :class:`~dicomaudit.phi.roles.RoleSet`, or the path of a TOML file in
        the format of ``roles.toml`` (or several paths).

    Returns
    -------
    AnalysisResult
        Findings in input order, then every unusable input with a reason;
        files in folders that are plainly not DICOM are counted as skipped.

    Raises
    ------
    AnalysisInterrupted
        On Ctrl-C, with what was gathered (``result.interrupted``).
    RolesFileError
        Before any file is read, when a role file (``extra_roles`` or
        ``DICOMAUDIT_PHI_ROLES``) cannot be read or is not in the format.
    """
    roles = resolve_roles(extra_roles)
    region_codes = normalize_regions(regions)  # ValueError on an unknown code, before any file is read
    preload()  # the locale tables, loaded once here rather than in every worker
    try:
        files, problems = discover(paths)
    except KeyboardInterrupt:
        if on_interrupt:
            on_interrupt()
        raise AnalysisInterrupted(AnalysisResult(show_values=show_values, interrupted=True)) from None
    collector = _Collector(files, [InputError(s, r) for s, r in problems], show_values)
    total = len(files)
    n_workers = default_workers(total) if workers is None else max(1, int(workers))
    if n_workers == 1 or total <= 1:
        _run_serial(collector, show_values, progress, on_interrupt, roles, region_codes)
    else:
        _run_pool(collector, show_values, n_workers, progress, on_interrupt, roles, region_codes)
    return collector.result()


def _run_serial(
    collector: _Collector,
    show_values: bool,
    progress: ProgressCallback | None,
    on_interrupt: Callable[[], None] | None,
    roles: RoleSet | None = None,
    regions: tuple[str, ...] = (),
) -> None:
    total = len(collector.files)
    try:
        for i, item in enumerate(collector.files):
            collector.outcomes[i] = _analyze_one(item, show_values, roles, regions)  # one store: all or none
            if progress:
                progress(i + 1, total)
    except KeyboardInterrupt:
        if on_interrupt:
            on_interrupt()
        raise AnalysisInterrupted(collector.result(interrupted=True)) from None


def _run_pool(
    collector: _Collector,
    show_values: bool,
    n_workers: int,
    progress: ProgressCallback | None,
    on_interrupt: Callable[[], None] | None,
    roles: RoleSet | None = None,
    regions: tuple[str, ...] = (),
) -> None:
    files = collector.files
    total = len(files)
    starts = list(range(0, total, _CHUNK))
    ctx = _pool_context()
    stop = ctx.Event()
    futures: dict[Future[list[_Outcome]], int] = {}
    collected: set[Future[list[_Outcome]]] = set()
    done = 0

    def collect(finished: set[Future[list[_Outcome]]]) -> None:
        nonlocal done
        for fut in finished:
            if fut in collected or fut.cancelled():
                continue
            start = futures[fut]
            chunk = files[start : start + _CHUNK]
            try:
                outcomes = fut.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker
                if stop.is_set():
                    outcomes = []  # terminated while stopping: not analysed
                else:
                    outcomes = [([], _cannot_analyse(exc), False) for _ in chunk]
            # A chunk stopped by Ctrl-C reports fewer outcomes than it has files: the rest were not analysed.
            for k, (wires, error, not_dicom) in enumerate(outcomes):
                source = chunk[k].source
                collector.outcomes[start + k] = (
                    [_from_wire(source, w) for w in wires],
                    None if error is None else InputError(source, error),
                    not_dicom,
                )
            collected.add(fut)
            done += len(outcomes)
            if progress and not stop.is_set():
                progress(done, total)

    pool: ProcessPoolExecutor | None = None
    with _CountedInterrupts() as interrupts:
        try:
            pool = ProcessPoolExecutor(
                max_workers=min(n_workers, len(starts)),
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(stop, roles, regions),
            )
            for start in starts:
                futures[pool.submit(_analyze_chunk, files[start : start + _CHUNK], show_values)] = start
            pending = set(futures)
            while pending and not interrupts.count:
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                collect(finished)
            if not interrupts.count:
                pool.shutdown(wait=True)
            else:
                stop.set()
                if on_interrupt:
                    on_interrupt()
                for fut in futures:
                    fut.cancel()  # chunks no worker has taken yet
                # Running chunks stop after the file in hand and send back what they did; a second
                # Ctrl-C (or the end of the grace period) ends the wait.
                deadline = time.monotonic() + STOP_GRACE
                collect({f for f in futures if f.done()})
                pending = {f for f in futures if not f.done()}
                while pending and interrupts.count < 2 and time.monotonic() < deadline:
                    finished, pending = wait(pending, timeout=min(0.1, max(0.0, deadline - time.monotonic())))
                    collect(finished)
                _kill_pool(pool)
        except BaseException:
            if pool is not None:
                _kill_pool(pool)
            raise
    if interrupts.count > 1:
        raise KeyboardInterrupt  # a second Ctrl-C: stop now, nothing to hand back
    if interrupts.count:
        raise AnalysisInterrupted(collector.result(interrupted=True))


class _CountedInterrupts:
    """While active, Ctrl-C (SIGINT) is counted instead of raising ``KeyboardInterrupt``.

    A ``KeyboardInterrupt`` raised in the middle of
    :func:`concurrent.futures.wait` can leave a future's lock held (``wait``
    takes the locks one by one), and the pool's manager thread then blocks on
    it for ever: the process would never exit.  The pool loop looks at
    :attr:`count` between short waits instead.  Only in the main thread and
    over Python's default handler (elsewhere no ``KeyboardInterrupt`` comes,
    or the caller handles SIGINT its own way).
    """

    def __init__(self) -> None:
        self.count = 0
        self._previous: Any = None

    def __enter__(self) -> _CountedInterrupts:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._counted)
        return self

    def _counted(self, signum: int, frame: Any) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and reap them: no process outlives the run."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 2.0
    for proc in processes:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=1.0)
