#!/usr/bin/env python3
"""Archive-scale PHI analysis: every engine against a bare pydicom walk, on the same files, in the same run.

Generates (once, cached) a synthetic archive of ``--files`` DICOM headers in
folders of 1,000 -- the labelled corpora of the tests: plain, nested
sequences, SR trees, private and implicit-VR private elements, declared and
burned-in flags, de-identified decoys, and, for one file in ten, the
international corpus (Latin-1, Cyrillic, Greek, Japanese and Korean
character sets); invented values only -- then measures, over the same files:

* ``bare``: ``dcmread(stop_before_pixels=True)`` and a walk touching every
  element value, one process: the floor any header analysis pays;
* ``embedded x1`` / ``embedded x2``: ``analyze_paths`` with 1 and 2 local
  processes;
* ``LocalCluster x2``: ``--scheduler local`` with 2 worker processes;
* ``dask scheduler + 2 workers``: a real ``dask scheduler`` and two
  ``dask worker`` processes (one thread each) on 127.0.0.1, and the same on
  the first 10,000 files, for the peak memory of a worker at both sizes.

Every analyzer run writes Parquet (``--parquet``), as an archive-scale run
would.  For each: files/s, the ratio to the bare walk's files/s, and the
peak resident memory of the busiest worker process (sampled every 0.2 s).
Targets: the distributed engine at >= 1.6x the bare walk's files/s on 2
cores; a worker's peak memory at 100,000 files within 1.2x of its peak at
10,000.

Usage::

    python benchmarks/bench_archive.py [--files 100000] [--only bare,embedded1,embedded2,local,cluster]
                                       [--corpus DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
from pydicom import dcmread

from dicomaudit.phi import analyze_paths
from dicomaudit.phi.inputs import iter_inputs

# The corpus generators are test tooling (tests/phi/), not part of the package.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_analyze import touch  # noqa: E402 - the same element walk as the analyzer benchmark's baseline
from tests.dask.cluster import loopback_cluster  # noqa: E402 - the same cluster the tests start
from tests.phi.corpus import generate_corpus  # noqa: E402
from tests.phi.corpus_intl import generate_intl_corpus  # noqa: E402

#: Bump when the corpus changes: the cache is keyed by it.
GENERATOR_VERSION = 1
BATCH = 1000
SMALL = 10_000
ENGINES = ("bare", "embedded1", "embedded2", "local", "cluster")
BARE = "bare pydicom read+walk (1 core)"


# -- corpus ------------------------------------------------------------------
def _batch(args: tuple[str, int, int]) -> None:
    root, index, n = args
    folder = Path(root) / f"batch-{index:04d}"
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    intl = n // 10
    generate_corpus(tmp, n_files=n - intl, seed=1000 + index, dicomdir=index == 0, malformed=index == 0)
    if intl:
        generate_intl_corpus(tmp / "intl", n_files=intl, seed=5000 + index)
    tmp.rename(folder)  # a batch is there whole or not at all: an interrupted generation resumes


def corpus(n_files: int, where: Path | None) -> Path:
    """The cached archive of ``n_files`` (generated in parallel where missing)."""
    root = where or Path(tempfile.gettempdir()) / f"dicomaudit-bench-archive-v{GENERATOR_VERSION}-{n_files}"
    root.mkdir(parents=True, exist_ok=True)
    sizes = [min(BATCH, n_files - i) for i in range(0, n_files, BATCH)]
    missing = [(str(root), i, n) for i, n in enumerate(sizes) if not (root / f"batch-{i:04d}").is_dir()]
    print(f"corpus: {root} ({n_files} files in {len(sizes)} folders; {len(missing)} folder(s) to generate)")
    if missing:
        started = time.monotonic()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for k, _ in enumerate(pool.map(_batch, missing), 1):
                if k % 10 == 0 or k == len(missing):
                    print(f"  generated {k}/{len(missing)} folders ({time.monotonic() - started:.0f} s)", flush=True)
    return root


def batches(root: Path, n_files: int) -> list[Path]:
    return [root / f"batch-{i:04d}" for i in range(-(-n_files // BATCH))]


# -- measurements ------------------------------------------------------------
def bare_walk(paths: list[Path]) -> int:
    """Read every header with pydicom and touch every element (file meta too): the baseline, one process."""
    files = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in iter_inputs(paths):
            if not hasattr(item, "path"):
                continue
            files += 1
            try:
                ds = dcmread(item.path, stop_before_pixels=True, force=True)
                touch(ds)
                touch(ds.file_meta) if hasattr(ds, "file_meta") else None
            except Exception:  # noqa: BLE001 - malformed files cost their read, like in the analyzer
                pass
    return files


class PeakMemory:
    """Samples the resident memory of the worker processes every 0.2 s; keeps the peak per process."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                pids = self.pids()
            except Exception:  # noqa: BLE001 - a cluster mid-restart: sample next time
                continue
            for pid in pids:
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peak[pid] = max(self.peak.get(pid, 0), rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def worst_mib(self) -> float:
        return max(self.peak.values(), default=0) / 2**20


def _children() -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True)]


def _cluster_pids(address: str) -> Callable[[], list[int]]:
    import distributed

    with distributed.Client(address, timeout=30, set_as_default=False) as client:
        pids = sorted(client.run(os.getpid).values())
    return lambda: pids


def run_analysis(paths: list[Path], out: Path, pids: Callable[[], list[int]], **kw: object) -> tuple[float, int, float]:
    """(seconds, files, peak MiB of the busiest worker) of one analysis writing Parquet to ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    with PeakMemory(pids) as mem:
        started = time.perf_counter()
        result = analyze_paths(paths, parquet=out, **kw)  # type: ignore[arg-type]
        took = time.perf_counter() - started
    files = result.files_scanned + len(result.errors) + len(result.skipped)
    return took, files, mem.worst_mib


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--only", default=",".join(ENGINES), help=f"engines to run, of: {', '.join(ENGINES)}")
    parser.add_argument("--corpus", type=Path, help="where the corpus is (or goes); default: a cached temp folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    chosen = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = set(chosen) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    root = corpus(args.files, args.corpus)
    paths = batches(root, args.files)
    work = Path(tempfile.mkdtemp(prefix="dicomaudit-bench-"))
    rows: list[dict[str, object]] = []
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; every analyzer run writes Parquet")
    # Untimed warm-up on one folder: page cache, lazily loaded tables.
    bare_walk(paths[:1])
    analyze_paths(paths[:1], workers=1)

    def record(name: str, took: float, files: int, mib: float | None) -> None:
        row: dict[str, object] = {"engine": name, "seconds": round(took, 2), "files": files,
                                  "files_per_s": round(files / took, 1)}  # fmt: skip
        if mib is not None:
            row["worker_peak_mib"] = round(mib, 1)
        rows.append(row)
        bare = next((r for r in rows if r["engine"] == BARE), None)
        ratio = f"  {row['files_per_s'] / bare['files_per_s']:.2f}x bare files/s" if bare else ""  # type: ignore[operator]
        mem = f"  worker peak {mib:.0f} MiB" if mib is not None else ""
        print(f"{name:<32} {files:>7} files {took:>8.1f} s {row['files_per_s']:>9,.0f} files/s{ratio}{mem}", flush=True)

    try:
        if "bare" in chosen:
            started = time.perf_counter()
            files = bare_walk(paths)
            record(BARE, time.perf_counter() - started, files, None)
        if "embedded1" in chosen:
            me = os.getpid()
            record("embedded x1", *run_analysis(paths, work / "e1", lambda: [me], workers=1))
        if "embedded2" in chosen:
            record("embedded x2", *run_analysis(paths, work / "e2", _children, workers=2))
        if "local" in chosen:
            record("LocalCluster x2", *run_analysis(paths, work / "lc", _children, scheduler="local", workers=2))
        if "cluster" in chosen:
            with loopback_cluster(work, start_timeout=60, workers_timeout=120) as address:
                pids = _cluster_pids(address)
                if args.files > SMALL:
                    small = paths[: SMALL // BATCH]
                    record(f"dask scheduler+2 workers, {SMALL}", *run_analysis(small, work / "c1", pids,
                                                                               scheduler=address))  # fmt: skip
                record("dask scheduler + 2 workers", *run_analysis(paths, work / "c2", pids, scheduler=address))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by = {str(r["engine"]): r for r in rows}
    bare = by.get(BARE)
    cluster = by.get("dask scheduler + 2 workers")
    small_row = by.get(f"dask scheduler+2 workers, {SMALL}")
    if bare and cluster:
        ratio = float(cluster["files_per_s"]) / float(bare["files_per_s"])  # type: ignore[arg-type]
        print(f"target: distributed engine >= 1.6x the bare walk's files/s: {ratio:.2f}x "
              f"({'met' if ratio >= 1.6 else 'NOT met'})")  # fmt: skip
    if cluster and small_row:
        growth = float(cluster["worker_peak_mib"]) / float(small_row["worker_peak_mib"])  # type: ignore[arg-type]
        print(f"target: worker memory flat within 1.2x from {SMALL} to {args.files} files: {growth:.2f}x "
              f"({'met' if growth <= 1.2 else 'NOT met'})")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"files": args.files, "corpus": str(root), "runs": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
