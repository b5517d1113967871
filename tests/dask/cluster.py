"""A real Dask cluster on loopback: ``dask scheduler`` and two ``dask worker`` processes.

The distributed package's own command-line programs, as a site would run them
(each worker under its nanny, which restarts a worker process that dies),
bound to 127.0.0.1 with no dashboard.  The workers import dicomaudit from this
checkout (their working directory and ``PYTHONPATH``).  Used by the session
fixture of ``tests/dask`` and by ``benchmarks/bench_archive.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dask(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    with log.open("wb") as out:
        # Its own session: teardown ends the process group (a nanny and its worker) in one call.
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def loopback_cluster(tmp: Path, *, start_timeout: float = 30, workers_timeout: float = 60) -> Iterator[str]:
    """``dask scheduler`` + 2 ``dask worker`` (one thread each) on 127.0.0.1, logging into ``tmp``; yields the
    scheduler's address once both workers are there, and stops every process on the way out."""
    import distributed

    scheduler_file = tmp / "scheduler.json"
    procs = [
        _dask(
            "distributed.cli.dask_scheduler",
            "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file),
            log=tmp / "scheduler.log",
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + start_timeout
        address = None
        while address is None and time.monotonic() < deadline and procs[0].poll() is None:
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        if not address:
            raise RuntimeError(f"dask scheduler did not start: {(tmp / 'scheduler.log').read_text()[-2000:]}")
        for i in range(2):
            procs.append(
                _dask(
                    "distributed.cli.dask_worker", address,
                    "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                    "--memory-limit", "0", "--local-directory", str(tmp / f"w{i}"),
                    log=tmp / f"worker{i}.log",
                )
            )  # fmt: skip
        with distributed.Client(address, timeout=10, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=workers_timeout)
        yield address
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
