"""A real Dask cluster on loopback (:func:`tests.dask.cluster.loopback_cluster`), started once per session, and a
small archive to analyse on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dask.cluster import loopback_cluster
from tests.phi.corpus import generate_corpus

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


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """``dask scheduler`` + 2 ``dask worker`` (one thread each) on 127.0.0.1; stopped at the end of the session."""
    with loopback_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield DaskCluster(address)


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small archive: the labelled corpus (every scenario, sequences, SR, private tags, character sets),
    a DICOMDIR file-set, malformed and not-DICOM files, in nested folders."""
    root = tmp_path_factory.mktemp("archive")
    generate_corpus(root / "site-a", n_files=150, seed=7)
    generate_corpus(root / "site-b" / "export", n_files=90, seed=8, dicomdir=False)
    (root / "site-b" / "README.txt").write_text("not DICOM\n")
    return root
