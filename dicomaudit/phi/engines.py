"""Where chunks of files are analysed: in this process, a local process pool, or a Dask cluster.

One engine interface behind :func:`dicomaudit.phi.runner.analyze_paths`:
the runner hands an engine :class:`ChunkTask` objects (a few dozen files
each, with their index in the input listing) and polls for
:class:`ChunkResult` objects; every engine runs the same function,
:func:`run_chunk`, so the findings are the same whatever the engine.

* :class:`SerialEngine` -- in the calling process (small inputs, one worker);
* :class:`PoolEngine` -- a ``ProcessPoolExecutor`` on this machine (the
  default for large inputs: the work is CPU-bound pure Python);
* :class:`DaskEngine` -- an existing Dask distributed scheduler
  (``tcp://HOST:PORT``) or a ``LocalCluster`` it starts (``local``).  Dask is
  an optional dependency (``pip install 'dicomaudit[dask]'``); every worker
  must be able to import dicomaudit, and read the files by the same paths.

A chunk's result carries its files' outcomes (findings as plain tuples: the
frozen models hold read-only mappings, which do not pickle, and tuples are
cheaper to send), a partial :class:`~dicomaudit.phi.summary.PhiSummary`
computed where the chunk ran, and, with Parquet, the names of the parts the
worker wrote instead of sending the findings back.

A worker that dies (killed by the system, out of memory) does not lose the
run: Dask reschedules its tasks on other workers (and gives up on a task
that killed :data:`MAX_ATTEMPTS` workers, its ``allowed-failures``); the
pool engine starts a new pool and resubmits the chunks in flight, up to
:data:`MAX_ATTEMPTS` times each.  A chunk given up on becomes one error per
file ("the worker process analysing it died"), like any unreadable file.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dicomaudit.models import InputError, PhiFinding
from dicomaudit.phi.analyzer import PhiAnalysisError, Wire, dataset_wires, from_wire
from dicomaudit.phi.inputs import InputFile, NotDicom, UnreadableInput, exception_message, read_dataset
from dicomaudit.phi.roles import RoleSet
from dicomaudit.phi.summary import FindingKey, PhiSummary, SummaryAccumulator, summarize_file
from dicomaudit.textsafe import scrub

#: How often a chunk is tried when the process analysing it dies (Dask's own default allowed-failures is 3 too).
MAX_ATTEMPTS = 3

#: After Ctrl-C, how long the pool workers get to finish the file in hand before they are terminated.
STOP_GRACE = 1.0

#: The reason given for each file of a chunk whose worker died :data:`MAX_ATTEMPTS` times.
WORKER_DIED = "cannot analyse: the worker process analysing it died {n} times (killed by the system: out of memory?)"

log = logging.getLogger(__name__)


class EngineError(Exception):
    """The engine cannot be used (Dask not installed, scheduler unreachable); ``str()`` is one line."""


# -- what workers run --------------------------------------------------------


@dataclass(frozen=True)
class ChunkTask:
    """Files to analyse, each with its index in the input listing, and how."""

    items: tuple[tuple[int, InputFile], ...]
    show_values: bool = False
    regions: tuple[str, ...] = ()
    parquet: str | None = None  # write the findings here instead of sending them back

    @property
    def first(self) -> int:
        return self.items[0][0]


@dataclass(frozen=True)
class FileOutcome:
    """One file: its findings (``keys`` instead when they went to Parquet), or why not; size and mtime as read."""

    index: int
    findings: tuple[Wire, ...] = ()
    error: str | None = None
    skipped: bool = False  # found in a folder and plainly not DICOM
    size: int = -1
    mtime_ns: int = -1
    keys: tuple[tuple[str, str, str, int], ...] = ()  # (category, rule, severity, count), with Parquet only
    #: The findings themselves, when the chunk ran in the calling process (the embedded engine with one
    #: process): the runner keeps them as they are instead of rebuilding them from ``findings``.  Never
    #: pickled to another process; the wire form above stays the result's definition.
    objects: tuple[PhiFinding, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk gave: outcomes in input order (fewer than its files when the run was stopped)."""

    outcomes: tuple[FileOutcome, ...]
    summary: PhiSummary
    parts: tuple[str, ...] = ()


def finding_keys(outcome: FileOutcome) -> list[FindingKey]:
    """(category, rule, severity) of each of the file's findings, for the summary."""
    if outcome.keys:
        return [(c, r, s) for c, r, s, n in outcome.keys for _ in range(n)]
    return [(w[4], w[5], w[6]) for w in outcome.findings]


def analyze_one(
    item: InputFile, show_values: bool, roles: RoleSet | None = None, regions: tuple[str, ...] = ()
) -> tuple[list[Wire], InputError | None, bool]:
    """Findings of one file (as :data:`~dicomaudit.phi.analyzer.Wire`), or why it could not be analysed; and
    whether it is plainly not DICOM.

    A file is either analysed completely or reported as an error, never
    both: partial results from a malformed file would be misleading.
    """
    try:
        ds = read_dataset(item.path)
        return dataset_wires(ds, show_values=show_values, roles=roles, regions=regions), None, False
    except UnreadableInput as exc:
        return [], InputError(item.source, scrub(str(exc))), isinstance(exc, NotDicom)
    except PhiAnalysisError as exc:
        return [], InputError(item.source, scrub(f"malformed DICOM file: {exc}")), False
    except RecursionError:
        return [], InputError(item.source, "malformed DICOM file: sequences nested too deep"), False
    except MemoryError:
        return [], InputError(item.source, "malformed DICOM file: absurd element length"), False
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
        return [], InputError(item.source, cannot_analyse(exc)), False


def cannot_analyse(exc: BaseException) -> str:
    """The reason for an unexpected exception (a dicomaudit bug or a worker crash), value-free."""
    message = exception_message(exc)
    return f"cannot analyse: {type(exc).__name__}" + (f": {message}" if message else "")


def run_chunk(
    task: ChunkTask,
    roles: RoleSet | None = None,
    *,
    stop: Any = None,
    on_file: Callable[[FileOutcome], None] | None = None,
    in_process: bool = False,
) -> ChunkResult:
    """Analyse a chunk's files in order; summarise them; with Parquet, write their findings and errors.

    ``stop`` (an event) is looked at before each file: once set, the chunk
    ends early with what it did.  ``on_file`` sees each outcome as it is made.
    ``in_process``: the result stays in this process, so each outcome also
    carries its finding objects (:attr:`FileOutcome.objects`).
    """
    outcomes: list[FileOutcome] = []
    to_write: list[tuple[int, str, tuple[Wire, ...]]] = []  # with Parquet: kept until the parts are written
    acc = SummaryAccumulator()
    for index, item in task.items:
        if stop is not None and stop.is_set():
            break
        try:
            st = os.stat(item.path)
            size, mtime = st.st_size, st.st_mtime_ns
        except (OSError, ValueError):
            size, mtime = -1, -1
        found, error, not_dicom = analyze_one(item, task.show_values, roles, task.regions)
        wires = tuple(found)
        skipped = error is not None and not_dicom and item.from_folder
        outcome = FileOutcome(
            index,
            () if task.parquet else wires,
            None if error is None or skipped else error.error,
            skipped,
            size,
            mtime,
            _counted_keys(wires) if task.parquet else (),
            tuple(from_wire(item.source, w) for w in wires) if in_process and not task.parquet else (),
        )
        keys = [(w[4], w[5], w[6]) for w in wires]
        acc.add(summarize_file(index, item.source, keys, error=outcome.error is not None, skipped=skipped))
        outcomes.append(outcome)
        if task.parquet and wires:
            to_write.append((index, item.source, wires))
        if on_file is not None:
            on_file(outcome)
    parts: tuple[str, ...] = ()
    if task.parquet and outcomes:
        from dicomaudit.phi.parquet import write_chunk

        sources = dict(task.items)
        errors = [(o.index, sources[o.index].source, o.error) for o in outcomes if o.error is not None]
        parts = tuple(write_chunk(task.parquet, outcomes[0].index, to_write, errors))
    return ChunkResult(tuple(outcomes), acc.summary(), parts)


def _counted_keys(wires: Sequence[Wire]) -> tuple[tuple[str, str, str, int], ...]:
    counts = Counter((w[4], w[5], w[6]) for w in wires)
    return tuple((c, r, s, n) for (c, r, s), n in sorted(counts.items()))


# -- engines -----------------------------------------------------------------
Polled = list[tuple[int, ChunkResult | BaseException]]


class Engine:
    """Runs chunks; the runner submits at most :attr:`slots` at a time (backpressure) and polls."""

    name = "engine"
    slots = 1

    def submit(self, key: int, task: ChunkTask) -> None:
        raise NotImplementedError

    def poll(self, timeout: float) -> Polled:
        """Results (or the exception a chunk ended with) of chunks finished since the last poll."""
        raise NotImplementedError

    def interrupt(self, interrupts: Any) -> Polled:
        """Stop after Ctrl-C: no new chunk starts; return what finished (running pool chunks stop early)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release everything (processes, connections); no process outlives the run."""

    def describe(self) -> dict[str, Any]:
        """What ran the analysis, for the run settings."""
        return {"engine": self.name}


class SerialEngine(Engine):
    """In the calling process, one chunk per poll; Ctrl-C arrives as ``KeyboardInterrupt`` from :meth:`poll`."""

    name = "embedded"

    def __init__(self, roles: RoleSet | None, on_file: Callable[[FileOutcome], None] | None = None) -> None:
        self.roles = roles
        self.on_file = on_file
        self.queue: list[tuple[int, ChunkTask]] = []
        self.partial: Polled = []

    def submit(self, key: int, task: ChunkTask) -> None:
        self.queue.append((key, task))

    def poll(self, timeout: float) -> Polled:
        if not self.queue:
            return []
        key, task = self.queue.pop(0)
        done: list[FileOutcome] = []

        def seen(outcome: FileOutcome) -> None:
            done.append(outcome)
            if self.on_file is not None:
                self.on_file(outcome)

        try:
            return [(key, run_chunk(task, self.roles, on_file=seen, in_process=True))]
        except KeyboardInterrupt:
            # Keep the files finished before the one in hand -- unless their findings were on their way to
            # Parquet, never written: then the whole chunk counts as not analysed.
            self.partial = [(key, _resummarise(task, done))] if done and not task.parquet else []
            raise

    def interrupt(self, interrupts: Any) -> Polled:
        self.queue.clear()
        partial, self.partial = self.partial, []
        return partial

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "workers": 1}


def _resummarise(task: ChunkTask, outcomes: list[FileOutcome]) -> ChunkResult:
    """A result for the files of ``task`` that finished (a chunk interrupted in this process)."""
    sources = dict(task.items)
    acc = SummaryAccumulator()
    for o in outcomes:
        acc.add(
            summarize_file(
                o.index, sources[o.index].source, finding_keys(o), error=o.error is not None, skipped=o.skipped
            )
        )
    return ChunkResult(tuple(outcomes), acc.summary())


# Pool workers: set in each worker by the initializer.
_STOP: Any = None
_ROLES: RoleSet | None = None


#: The first generation's collection threshold during an analysis (Python's default: 700).  An analysis
#: allocates millions of small container objects that live until the end of a file or of the run: with the
#: default, the collector runs so often, over a growing heap, that it costs about 8% of the run.
GC_THRESHOLD = 10_000


def _raise_gc_threshold() -> tuple[int, ...]:
    """Raise the first generation's threshold to :data:`GC_THRESHOLD`; return the thresholds before."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_THRESHOLD), *old[1:])
    return old


_gc_lock = threading.Lock()
_gc_blocks = 0  # blocks inside fewer_collections(), in any thread
_gc_before: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """:func:`_raise_gc_threshold` for a block; restore the thresholds when the last such block ends.

    Counted, so that blocks overlapping in several threads (a Dask worker
    running chunks side by side) restore what was there before the first.
    """
    global _gc_blocks, _gc_before
    with _gc_lock:
        if not _gc_blocks:
            _gc_before = _raise_gc_threshold()
        _gc_blocks += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_blocks -= 1
            if not _gc_blocks:
                gc.set_threshold(*_gc_before)


def _worker_init(stop: Any, roles: RoleSet | None) -> None:
    """Pool worker set-up: Ctrl-C is the parent's business; remember the stop flag and the roles."""
    global _STOP, _ROLES
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _raise_gc_threshold()  # for good: a process of this pool does nothing else (see GC_THRESHOLD)
    _STOP = stop
    _ROLES = roles


def _pool_chunk(task: ChunkTask) -> ChunkResult:
    return run_chunk(task, _ROLES, stop=_STOP)


def _dask_chunk(task: ChunkTask, roles: RoleSet | None) -> ChunkResult:
    """A chunk as a Dask task: with fewer collections while it runs (see :data:`GC_THRESHOLD`), restored after
    (a Dask worker is shared with other work)."""
    with fewer_collections():
        return run_chunk(task, roles)


def pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers in milliseconds with pydicom already imported;
    # fall back to the platform default where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


class PoolEngine(Engine):
    """A process pool on this machine; a broken pool is replaced and its chunks resubmitted."""

    name = "embedded"

    def __init__(self, workers: int, roles: RoleSet | None, in_flight_per_worker: int = 4) -> None:
        self.workers = workers
        self.roles = roles
        self.slots = workers * in_flight_per_worker
        self.ctx = pool_context()
        self.stop = self.ctx.Event()
        self.futures: dict[Future[ChunkResult], tuple[int, ChunkTask]] = {}
        self.attempts: dict[int, int] = {}
        self.given_up: Polled = []  # chunks whose worker died too often, found while submitting
        self.restarts = 0
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=self.ctx, initializer=_worker_init, initargs=(self.stop, self.roles)
        )

    def submit(self, key: int, task: ChunkTask) -> None:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        try:
            self.futures[self.pool.submit(_pool_chunk, task)] = (key, task)
        except BrokenProcessPool:
            # A worker died since the last poll: the pool takes no more work.  Replace it now
            # (its chunks in flight with it), this one included -- counted as an attempt, so that a
            # pool that keeps dying gives up -- and poll() reports any chunk given up.
            self.given_up += self._restart([(key, task)])

    def poll(self, timeout: float) -> Polled:
        if self.given_up:
            out, self.given_up = self.given_up, []
            return out
        if not self.futures:
            return []
        finished, _ = wait(set(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        lost: list[tuple[int, ChunkTask]] = []
        for fut in finished:
            key, task = self.futures.pop(fut)
            try:
                out.append((key, fut.result()))
            except BrokenProcessPool:
                lost.append((key, task))
            except Exception as exc:  # noqa: BLE001 - a bug in a chunk: its files become errors
                out.append((key, exc))
        if lost:
            out += self._restart(lost)
        return out

    def _restart(self, lost: list[tuple[int, ChunkTask]]) -> Polled:
        """A worker died: every chunk in flight is lost with the pool; start a new one and resubmit them."""
        lost += list(self.futures.values())
        self.futures.clear()
        self._kill()
        self.restarts += 1
        log.warning("a worker process died; %d chunk(s) resubmitted to a new pool", len(lost))
        self.pool = self._new_pool()
        given_up: Polled = []
        for key, task in sorted(lost, key=lambda kt: kt[0]):
            if self.attempts.get(key, 0) >= MAX_ATTEMPTS:
                given_up.append((key, WorkerDied(self.attempts[key])))
            else:
                self.submit(key, task)
        return given_up

    def interrupt(self, interrupts: Any) -> Polled:
        self.stop.set()
        for fut in self.futures:
            fut.cancel()  # chunks no worker has taken yet
        # Running chunks stop after the file in hand and send back what they did; a second Ctrl-C (or the end
        # of the grace period) ends the wait.
        out: Polled = []
        deadline = time.monotonic() + STOP_GRACE
        while self.futures and interrupts.count < 2 and time.monotonic() < deadline:
            for key, res in self.poll(min(0.1, max(0.0, deadline - time.monotonic()))):
                if not isinstance(res, BaseException):
                    out.append((key, res))
            for fut in [f for f in self.futures if f.cancelled()]:
                del self.futures[fut]
        return out

    def close(self) -> None:
        self._kill()

    def _kill(self) -> None:
        """Terminate the pool's workers and reap them: no process outlives the run."""
        pool = self.pool
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

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "workers": self.workers}


class WorkerDied(Exception):
    """A chunk whose worker process died :data:`MAX_ATTEMPTS` times (or Dask's ``KilledWorker``)."""

    def __init__(self, attempts: int = MAX_ATTEMPTS) -> None:
        super().__init__(WORKER_DIED.format(n=attempts))


class DaskEngine(Engine):
    """Chunks as tasks on a Dask distributed cluster: an existing scheduler, or a ``LocalCluster`` it starts.

    Parameters
    ----------
    address
        ``tcp://HOST:PORT`` (or any address ``distributed.Client`` takes), or
        ``local`` to start a ``LocalCluster`` of ``workers`` processes bound
        to 127.0.0.1, without a dashboard.
    connect_timeout
        Seconds to reach the scheduler before giving up (:class:`EngineError`).
    """

    name = "dask"

    def __init__(
        self,
        address: str,
        roles: RoleSet | None,
        *,
        workers: int | None = None,
        connect_timeout: float = 10.0,
        in_flight_per_thread: int = 4,
    ) -> None:
        try:
            import distributed
        except ImportError:
            raise EngineError("--scheduler needs Dask: pip install 'dicomaudit[dask]'") from None
        self.address = address
        self.cluster: Any = None
        # Dask logs a warning per lost connection, retried task or closing comm; the run reports what matters.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        try:
            if address == "local":
                n = workers or _cpus()
                self.cluster = distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self.client = distributed.Client(self.cluster, timeout=connect_timeout, set_as_default=False)
            else:
                self.client = distributed.Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise EngineError(
                f"--scheduler {address}: cannot reach the Dask scheduler within {connect_timeout:g} s "
                f"({exception_message(exc) or type(exc).__name__})"
            ) from None
        threads = sum(self.client.nthreads().values()) or 1
        self.threads = threads
        self.slots = max(2, threads * in_flight_per_thread)
        self.roles = self.client.scatter(roles, broadcast=True, hash=False) if roles is not None else None
        self.futures: dict[Any, int] = {}
        self.finished: queue.Queue[Any] = queue.Queue()

    def submit(self, key: int, task: ChunkTask) -> None:
        fut = self.client.submit(_dask_chunk, task, self.roles, pure=False)
        self.futures[fut] = key
        fut.add_done_callback(self.finished.put)  # called from the client's thread when the task ends

    def poll(self, timeout: float) -> Polled:
        if not self.futures:
            return []
        try:
            finished = [self.finished.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                finished.append(self.finished.get_nowait())
            except queue.Empty:
                break
        return self._collect([f for f in finished if f in self.futures])

    def _collect(self, finished: Any) -> Polled:
        out: Polled = []
        ready = []
        for fut in finished:
            if fut not in self.futures:
                continue
            status = fut.status
            if status == "finished":
                ready.append(fut)
            elif status in ("error", "cancelled"):
                out.append((self.futures.pop(fut), self._failure(fut)))
            else:
                # "lost" (or "pending" again): the task finished on a worker that died before its result was
                # fetched.  The scheduler computes it again for as long as we hold the future: wait for that.
                fut.add_done_callback(self.finished.put)
        if ready:
            try:
                results = list(self.client.gather(ready))  # one round trip for every chunk that is ready
            except Exception:  # noqa: BLE001 - one went wrong meanwhile: take them one by one
                results = [None] * len(ready)
                for i, fut in enumerate(ready):
                    try:
                        results[i] = fut.result()
                    except Exception:  # noqa: BLE001
                        results[i] = self._failure(fut)
            out += [(self.futures.pop(fut), res) for fut, res in zip(ready, results, strict=True)]
        return out

    @staticmethod
    def _failure(fut: Any) -> BaseException:
        """Why a task gave no result: its error, or (workers died under it, or the scheduler cancelled it)
        :class:`WorkerDied`."""
        exc = fut.exception() if fut.status == "error" else None
        fut.release()
        if exc is None:
            return WorkerDied(1)  # cancelled by the scheduler
        return WorkerDied() if type(exc).__name__ == "KilledWorker" else exc

    def interrupt(self, interrupts: Any) -> Polled:
        done = [f for f in self.futures if f.done()]
        out = self._collect(done)
        pending = list(self.futures)
        if pending:
            self.client.cancel(pending)
        self.futures.clear()
        return out

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            try:
                client.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing a broken connection must not hide the run's outcome
                log.debug("closing the Dask client failed", exc_info=True)
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                log.debug("closing the LocalCluster failed", exc_info=True)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "scheduler": self.address, "worker_threads": self.threads}


def _cpus() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
