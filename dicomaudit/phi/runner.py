"""Analyse files, folders and DICOMDIRs: streamed, in chunks, on the engine of your choice.

The input listing is streamed (:func:`~dicomaudit.phi.inputs.iter_inputs`)
and cut into chunks of files, each with its index in the listing; an engine
(:mod:`dicomaudit.phi.engines`: this process, a local process pool, or a Dask
cluster) analyses the chunks, at most :attr:`~dicomaudit.phi.engines.Engine.slots`
in flight (backpressure: the listing is read only as fast as the engine
works, so memory stays flat however large the archive).  Every engine runs
the same chunk function; findings are put back in input order (the file's
index, then the order within the file), so the result is the same, byte for
byte in the JSON, whatever the engine.  Each chunk also brings a partial
summary made where it ran (:mod:`dicomaudit.phi.summary`); the run's summary
is their merge.  With ``parquet``, the workers write the findings
(:mod:`dicomaudit.phi.parquet`) and send back only the summary, the
unreadable files and their counts.  With ``checkpoint``
(:mod:`dicomaudit.phi.checkpoint`) every finished chunk is recorded, and a
rerun takes from it each file that has not changed since.

A file found while walking a folder that is plainly not DICOM (a README, a
CSV, an image: :class:`~dicomaudit.phi.inputs.NotDicom`) is counted as
skipped, not reported as an error; named directly, it stays an error.

Role placeholders (``SELF^REFERRED``...: :mod:`dicomaudit.phi.roles`) are
resolved once, before any file is read -- the packaged list, the files named
by ``DICOMAUDIT_PHI_ROLES`` and ``extra_roles`` -- so a role file that cannot
be read stops the run at once (:class:`~dicomaudit.phi.roles.RolesFileError`)
instead of failing every file; the workers receive the resolved set.

Ctrl-C (``KeyboardInterrupt``) stops the run: no new chunk is started, pool
workers finish the file in hand (or are terminated after
:data:`~dicomaudit.phi.engines.STOP_GRACE` seconds), Dask tasks not finished
are cancelled, no process is left behind, what finished is in the checkpoint,
and :class:`AnalysisInterrupted` carries what was gathered.  A second Ctrl-C
while stopping skips the grace period.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomaudit.models import InputError, PhiFinding, Severity
from dicomaudit.phi.categories import Category
from dicomaudit.phi.checkpoint import Checkpoint, Outcome
from dicomaudit.phi.engines import (
    STOP_GRACE,
    ChunkResult,
    ChunkTask,
    DaskEngine,
    Engine,
    EngineError,
    FileOutcome,
    PoolEngine,
    SerialEngine,
    WorkerDied,
    analyze_one,
    cannot_analyse,
    fewer_collections,
    finding_keys,
    from_wire,
)
from dicomaudit.phi.inputs import InputFile, ListingProblem, iter_inputs
from dicomaudit.phi.locale import normalize_regions, preload
from dicomaudit.phi.roles import ExtraRoles, RoleSet, resolve_roles
from dicomaudit.phi.summary import PhiSummary, SummaryAccumulator, summarize_file

__all__ = [
    "STOP_GRACE",
    "AnalysisInterrupted",
    "AnalysisResult",
    "EngineError",
    "analyze_file",
    "analyze_paths",
    "default_workers",
    "summarize",
    "summarize_severity",
]

#: Below this many files a pool costs more (start-up, pickling) than it saves.
PARALLEL_THRESHOLD = 64
#: Files per chunk: the embedded engines' (a pool round trip costs little) and Dask's (a task costs the
#: scheduler and the client several ms: 64 files a task cost 15% of a 2-core run, 256 about 5%).
CHUNK = 32
DASK_CHUNK = 256
#: After Ctrl-C, how long the rest of the listing may be counted (for "N files not analysed").
COUNT_GRACE = 1.0

#: ``progress(done, total)``: files done so far; the total once the listing has finished, ``None`` before.
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyze_paths` found: findings, unusable inputs, file counts, the summary.

    ``skipped`` lists the files found in folders that are plainly not DICOM
    (not errors); ``show_values`` says whether the findings' values are
    unmasked; ``interrupted`` is true when the run was stopped (Ctrl-C)
    before every file was analysed, ``not_analysed`` how many were left.
    ``phi_summary`` is the merge of the chunks' partial summaries; with
    ``parquet`` the findings are in that folder, not in ``findings``.
    ``resumed`` counts the files taken from the checkpoint; ``engine`` says
    what ran the analysis; ``seconds`` how long it took.
    """

    findings: tuple[PhiFinding, ...] = ()
    errors: tuple[InputError, ...] = ()
    files_scanned: int = 0
    skipped: tuple[str, ...] = ()
    show_values: bool = False
    interrupted: bool = False
    not_analysed: int = 0
    phi_summary: PhiSummary | None = None
    parquet: str | None = None
    resumed: int = 0
    engine: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, int]:
        """Findings per category (see :func:`summarize`)."""
        if self.phi_summary is not None:
            return self.phi_summary.categories()
        return summarize(self.findings)

    @property
    def findings_count(self) -> int:
        return self.phi_summary.findings if self.phi_summary is not None else len(self.findings)

    @property
    def files_with_findings(self) -> int:
        if self.phi_summary is not None:
            return self.phi_summary.files_with_phi
        return len({f.source for f in self.findings})

    def worst(self) -> Severity | None:
        """Highest severity among the findings, if any."""
        if self.phi_summary is not None:
            return self.phi_summary.worst
        return max((f.severity for f in self.findings), default=None)

    def severities(self) -> dict[str, int]:
        """Findings per severity, worst first."""
        if self.phi_summary is not None:
            return self.phi_summary.severities()
        return summarize_severity(self.findings)

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
    wires, error, _ = analyze_one(item, show_values, roles)
    return [from_wire(item.source, w) for w in wires], error


def default_workers(n_files: int) -> int:
    """One process for small inputs, else one per CPU."""
    if n_files < PARALLEL_THRESHOLD:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def analyze_paths(
    paths: Sequence[str | Path],
    *,
    show_values: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    on_interrupt: Callable[[], None] | None = None,
    extra_roles: ExtraRoles = None,
    regions: Sequence[str] = (),
    scheduler: str | None = None,
    parquet: str | Path | None = None,
    checkpoint: str | Path | None = None,
    chunk_size: int | None = None,
    connect_timeout: float = 10.0,
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
        Processes to use on this machine; ``None`` picks 1 for fewer than
        :data:`PARALLEL_THRESHOLD` files, else one per CPU.  With
        ``scheduler="local"``: the number of Dask workers.
    progress
        Called as ``progress(done, total)`` after each file (one process)
        or chunk of files; ``total`` is ``None`` until the listing has
        finished (it is streamed).
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
    scheduler
        Run on Dask: ``tcp://HOST:PORT`` of an existing scheduler, or
        ``local`` to start a ``LocalCluster`` (see :class:`~dicomaudit.phi.engines.DaskEngine`).
    parquet
        Folder where the workers write the findings and errors as Parquet
        parts (:mod:`dicomaudit.phi.parquet`) instead of sending the
        findings back: ``findings`` stays empty, ``phi_summary`` has the counts.
    checkpoint
        SQLite file recording each finished chunk; files recorded there and
        unchanged since are not analysed again (:mod:`dicomaudit.phi.checkpoint`).
    chunk_size
        Files per chunk (default :data:`CHUNK`, :data:`DASK_CHUNK` on Dask); the result does not depend on it.
    connect_timeout
        Seconds to reach a Dask scheduler.

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
    EngineError
        Before any file is read, when Dask is missing or the scheduler cannot be reached.
    CheckpointError
        Before any file is read, when the checkpoint is not one or was written with other settings.
    ParquetUnavailable
        Before any file is read, when ``parquet`` is given and pyarrow is not installed.
    """
    started = time.monotonic()
    roles = resolve_roles(extra_roles)
    region_codes = normalize_regions(regions)  # ValueError on an unknown code, before any file is read
    preload()  # the locale tables, loaded once here rather than in every worker
    parquet_dir = os.path.abspath(os.fspath(parquet)) if parquet is not None else None
    if parquet_dir is not None:
        from dicomaudit.phi import parquet as pq

        pq.require()
        os.makedirs(parquet_dir, exist_ok=True)
    ckpt = None
    if checkpoint is not None:
        from dicomaudit import __version__

        ckpt = Checkpoint(
            checkpoint,
            {
                "tool": __version__,
                "show_values": show_values,
                "parquet": parquet_dir is not None,
                "regions": list(region_codes),
                "roles": _canonical(roles),
            },
        )
    try:
        if parquet_dir is not None:
            # Parts of an earlier run, or of chunks that never reached the checkpoint, would be counted twice.
            pq.remove_parts(parquet_dir, ckpt.parts() if ckpt is not None else ())
        run = _Run(paths, show_values, region_codes, parquet_dir, ckpt, progress)
        with fewer_collections():
            return run.go(
                workers=workers,
                roles=roles,
                scheduler=scheduler,
                chunk_size=chunk_size,
                connect_timeout=connect_timeout,
                on_interrupt=on_interrupt,
                started=started,
            )
    finally:
        if ckpt is not None:
            ckpt.close()


def _canonical(value: Any) -> Any:
    """A stable, JSON-able form of the role set (frozensets iterate in a per-process order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


# What the client keeps per file until the end (by index): source, findings (wire), error, skipped.
_Kept = tuple[str, tuple[Any, ...], str | None, bool]


class _Run:
    """One analysis: the streamed listing, what is in flight, what came back."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        show_values: bool,
        regions: tuple[str, ...],
        parquet: str | None,
        ckpt: Checkpoint | None,
        progress: ProgressCallback | None,
    ) -> None:
        self.listing: Iterator[InputFile | ListingProblem] = iter_inputs(paths)
        self.ahead: list[InputFile] = []
        self.listing_done = False
        self.listed = 0
        self.taken = 0  # files handed to chunks or taken from the checkpoint
        self.done = 0
        self.in_chunk = 0  # files finished in the chunk running in this process
        self.per_file_progress = False
        self.problems: list[InputError] = []
        self.kept: dict[int, _Kept] = {}
        self.scanned = 0
        self.resumed = 0
        self.acc = SummaryAccumulator()
        self.show_values = show_values
        self.regions = regions
        self.parquet = parquet
        self.ckpt = ckpt
        self.progress = progress

    @property
    def total(self) -> int | None:
        return self.listed if self.listing_done else None

    # -- listing ----------------------------------------------------------------
    def _pull(self) -> bool:
        """Read one more file from the listing into :attr:`ahead`; False when it has ended."""
        for item in self.listing:
            if isinstance(item, ListingProblem):
                self.problems.append(InputError(item.source, item.reason))
                continue
            self.ahead.append(item)
            self.listed += 1
            return True
        self.listing_done = True
        return False

    def read_ahead(self, n: int) -> None:
        while len(self.ahead) < n and not self.listing_done:
            self._pull()

    def next_task(self, size: int) -> ChunkTask | None:
        """The next chunk of files not in the checkpoint (those are taken from it on the way)."""
        items: list[tuple[int, InputFile]] = []
        restored = 0
        while len(items) < size:
            if not self.ahead and not self._pull():
                break
            item = self.ahead.pop(0)
            index = self.taken
            self.taken += 1
            if self.ckpt is not None:
                recorded = self.ckpt.lookup(os.path.realpath(item.path))
                if recorded is not None:
                    self._restore(index, item, recorded)
                    restored += 1
                    continue
            items.append((index, item))
        if restored:
            self._report()
        if not items:
            return None
        return ChunkTask(tuple(items), self.show_values, self.regions, self.parquet)

    def _restore(self, index: int, item: InputFile, o: Outcome) -> None:
        out = FileOutcome(index, tuple(o.findings), o.error, o.skipped, keys=o.keys)
        self._keep(index, item.source, out)
        self.acc.add(
            summarize_file(index, item.source, finding_keys(out), error=o.error is not None, skipped=o.skipped)
        )
        self.resumed += 1
        self.done += 1

    # -- results ----------------------------------------------------------------
    def _keep(self, index: int, source: str, o: FileOutcome) -> None:
        if o.error is not None:
            self.kept[index] = (source, (), o.error, False)
        elif o.skipped:
            self.kept[index] = (source, (), None, True)
        else:
            self.scanned += 1
            if o.objects:  # in this process already: no rebuilding from the wire form
                self.kept[index] = (source, o.objects, None, False)
            elif o.findings:  # with Parquet nothing comes back: nothing is kept
                self.kept[index] = (source, o.findings, None, False)

    def take(self, task: ChunkTask, res: ChunkResult | BaseException) -> None:
        """Fold a finished chunk in: keep its outcomes, merge its summary, record it in the checkpoint."""
        sources = dict(task.items)
        if isinstance(res, BaseException):
            # The chunk failed as a whole (its worker died, or a bug): each of its files is an error.
            reason = str(res) if isinstance(res, WorkerDied) else cannot_analyse(res)
            acc = SummaryAccumulator()
            outcomes = tuple(FileOutcome(i, error=reason) for i, _ in task.items)
            for i, item in task.items:
                acc.add(summarize_file(i, item.source, (), error=True))
            res = ChunkResult(outcomes, acc.summary())
        for o in res.outcomes:
            self._keep(o.index, sources[o.index].source, o)
        self.acc.add(res.summary)
        if self.ckpt is not None:
            self.ckpt.record(
                (
                    (
                        os.path.realpath(sources[o.index].path),
                        o.size,
                        o.mtime_ns,
                        Outcome(o.findings, o.error, o.skipped, o.keys),
                    )
                    for o in res.outcomes
                ),
                res.parts,
            )
        self.done += len(res.outcomes)
        self.in_chunk = 0
        if not self.per_file_progress:
            self._report()

    def on_file(self, outcome: FileOutcome) -> None:
        self.in_chunk += 1
        if self.progress:
            self.progress(self.done + self.in_chunk, self.total)

    def _report(self) -> None:
        if self.progress:
            self.progress(self.done, self.total)

    def result(self, *, interrupted: bool = False, engine: dict[str, Any], started: float) -> AnalysisResult:
        findings: list[PhiFinding] = []
        errors = list(self.problems)
        skipped: list[str] = []
        for index in sorted(self.kept):
            source, wires, error, is_skipped = self.kept[index]
            if error is not None:
                errors.append(InputError(source, error))
            elif is_skipped:
                skipped.append(source)
            elif wires and isinstance(wires[0], PhiFinding):
                findings.extend(wires)
            else:
                findings.extend(from_wire(source, w) for w in wires)
        return AnalysisResult(
            findings=tuple(findings),
            errors=tuple(errors),
            files_scanned=self.scanned,
            skipped=tuple(skipped),
            show_values=self.show_values,
            interrupted=interrupted,
            not_analysed=self.listed - self.done,
            phi_summary=self.acc.summary(),
            parquet=self.parquet,
            resumed=self.resumed,
            engine=engine,
            seconds=time.monotonic() - started,
        )

    # -- the run -----------------------------------------------------------------
    def go(
        self,
        *,
        workers: int | None,
        roles: RoleSet | None,
        scheduler: str | None,
        chunk_size: int | None,
        connect_timeout: float,
        on_interrupt: Callable[[], None] | None,
        started: float,
    ) -> AnalysisResult:
        try:
            # Enough of the listing to choose: a pool costs more than it saves on a few files.
            self.read_ahead(PARALLEL_THRESHOLD)
        except KeyboardInterrupt:
            if on_interrupt:
                on_interrupt()
            raise AnalysisInterrupted(
                AnalysisResult(show_values=self.show_values, interrupted=True, parquet=self.parquet)
            ) from None
        engine: Engine
        if scheduler:
            engine = DaskEngine(scheduler, roles, workers=workers, connect_timeout=connect_timeout)
            size = chunk_size or DASK_CHUNK
        else:
            size = chunk_size or CHUNK
            n = default_workers(len(self.ahead) if self.listing_done else PARALLEL_THRESHOLD)
            n = n if workers is None else max(1, int(workers))
            if self.listing_done:
                n = min(n, -(-len(self.ahead) // size))
            if n <= 1:
                self.per_file_progress = True
                engine = SerialEngine(roles, self.on_file)
            else:
                engine = PoolEngine(n, roles)
        try:
            return self._loop(engine, size, on_interrupt, started)
        finally:
            engine.close()

    def _loop(
        self, engine: Engine, size: int, on_interrupt: Callable[[], None] | None, started: float
    ) -> AnalysisResult:
        in_flight: dict[int, ChunkTask] = {}
        key = 0
        stopped = False
        with _CountedInterrupts(enabled=not isinstance(engine, SerialEngine)) as interrupts:
            try:
                while not interrupts.count:
                    while len(in_flight) < engine.slots and not interrupts.count:
                        task = self.next_task(size)
                        if task is None:
                            break
                        engine.submit(key, task)
                        in_flight[key] = task
                        key += 1
                    if not in_flight:
                        break
                    for k, res in engine.poll(0.1):
                        self.take(in_flight.pop(k), res)
            except KeyboardInterrupt:  # the serial engine: Ctrl-C arrives in the file in hand
                stopped = True
            if interrupts.count or stopped:
                if on_interrupt:
                    on_interrupt()
                for k, res in engine.interrupt(interrupts):
                    self.take(in_flight.pop(k), res)
                engine.close()
                if interrupts.count > 1:
                    raise KeyboardInterrupt  # a second Ctrl-C: stop now, nothing to hand back
                self._count_rest(interrupts)
                if interrupts.count > 1:
                    raise KeyboardInterrupt
                raise AnalysisInterrupted(self.result(interrupted=True, engine=engine.describe(), started=started))
        return self.result(engine=engine.describe(), started=started)

    def _count_rest(self, interrupts: _CountedInterrupts) -> None:
        """After Ctrl-C: count the rest of the listing (for "N not analysed"), for at most :data:`COUNT_GRACE` s."""
        deadline = time.monotonic() + COUNT_GRACE
        while not self.listing_done and interrupts.count < 2 and time.monotonic() < deadline:
            self._pull()
        self.ahead.clear()


class _CountedInterrupts:
    """While active, Ctrl-C (SIGINT) is counted instead of raising ``KeyboardInterrupt``.

    A ``KeyboardInterrupt`` raised in the middle of
    :func:`concurrent.futures.wait` can leave a future's lock held (``wait``
    takes the locks one by one), and the pool's manager thread then blocks on
    it for ever: the process would never exit; a Dask client interrupted
    inside a call may leave its event loop in an unknown state.  The run's
    loop looks at :attr:`count` between short waits instead.  Only in the
    main thread and over Python's default handler (elsewhere no
    ``KeyboardInterrupt`` comes, or the caller handles SIGINT its own way),
    and only when ``enabled`` (in-process analysis is interrupted directly).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.count = 0
        self.enabled = enabled
        self._previous: Any = None

    def __enter__(self) -> _CountedInterrupts:
        if (
            self.enabled
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._counted)
        return self

    def _counted(self, signum: int, frame: Any) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
