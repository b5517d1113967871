"""A real Dask cluster on loopback, started once per session: ``dask scheduler`` and two ``dask worker`` processes.

The distributed package's own command-line programs, as a site would run them
(each worker under its nanny, which restarts a worker process that dies),
bound to 127.0.0.1 with no dashboard.  The workers import dicomaudit from this
checkout (their working directory and ``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.phi.corpus import generate_corpus

ROOT = Path(__file__).resolve().parents[2]

distributed = pytest.importorskip("distributed", reason="the dask extra: pip install -e '.[test,dask]'")


@dataclass(frozen=True)
class DaskCluster:
    address: str

    def worker_pids(self) -> list[int]:
        """The worker processes (not their nannies), as the scheduler knows them."""
        with distributed.Client(self.address, timeout=10, set_as_default=False) as client:
            return sorted(client.run(os.getpid).values())

    def wait_for_workers(self, n: int = 2, timeout: float = 60) -> None:
        with distributed.Client(self.address, timeout=10, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)


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


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """``dask scheduler`` + 2 ``dask worker`` (one thread each) on 127.0.0.1; stopped at the end of the session."""
    tmp = tmp_path_factory.mktemp("dask")
    scheduler_file = tmp / "scheduler.json"
    procs = [
        _dask(
            "distributed.cli.dask_scheduler",
            "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file),
            log=tmp / "scheduler.log",
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        address = None
        while address is None and time.monotonic() < deadline and procs[0].poll() is None:
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        assert address, f"dask scheduler did not start: {(tmp / 'scheduler.log').read_text()[-2000:]}"
        for i in range(2):
            procs.append(
                _dask(
                    "distributed.cli.dask_worker", address,
                    "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                    "--memory-limit", "0", "--local-directory", str(tmp / f"w{i}"),
                    log=tmp / f"worker{i}.log",
                )
            )  # fmt: skip
        cluster = DaskCluster(address)
        cluster.wait_for_workers(2, timeout=60)
        yield cluster
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


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small archive: the labelled corpus (every scenario, sequences, SR, private tags, character sets),
    a DICOMDIR file-set, malformed and not-DICOM files, in nested folders."""
    root = tmp_path_factory.mktemp("archive")
    generate_corpus(root / "site-a", n_files=150, seed=7)
    generate_corpus(root / "site-b" / "export", n_files=90, seed=8, dicomdir=False)
    (root / "site-b" / "README.txt").write_text("not DICOM\n")
    return root
