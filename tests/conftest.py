"""Shared fixtures: lab PACS nodes on free loopback ports, and a probe helper.

Real servers, no mocks: each fixture starts a :class:`~dicomaudit.lab.LabPACS`
(or a real Orthanc/DCMTK via ``tests.peers``) and stops it in teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LabPACS
from dicomaudit.models import Target, TargetResult
from dicomaudit.scanner import scan_target

pytest_plugins = ["tests.peers.fixtures"] if (Path(__file__).parent / "peers" / "fixtures.py").exists() else []

# Short enough that a hung test fails fast, long enough for a loaded 2-core CI box.
TEST_TIMEOUT = 5.0


def _lab(profile: str) -> Iterator[LabPACS]:
    lab = LabPACS(profile=profile, host="127.0.0.1", port=0)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def lab_open() -> Iterator[LabPACS]:
    yield from _lab("open")


@pytest.fixture(scope="module")
def lab_locked() -> Iterator[LabPACS]:
    yield from _lab("locked")


@pytest.fixture(scope="module")
def lab_stock() -> Iterator[LabPACS]:
    yield from _lab("stock")


@pytest.fixture(scope="module")
def lab_readonly() -> Iterator[LabPACS]:
    yield from _lab("readonly")


@pytest.fixture(scope="module")
def lab_tls() -> Iterator[LabPACS]:
    yield from _lab("tls")


def target_of(lab: LabPACS, called_aet: str | None = "__lab__") -> Target:
    return Target(host=lab.host, port=lab.port, called_aet=lab.ae_title if called_aet == "__lab__" else called_aet)


@pytest.fixture
def probe() -> Callable[..., TargetResult]:
    """``probe(lab_or_target, **settings)``: run the whole catalogue against one node."""

    def _probe(node: LabPACS | Target, **kw: object) -> TargetResult:
        target = node if isinstance(node, Target) else target_of(node)
        kw.setdefault("timeout", TEST_TIMEOUT)
        return scan_target(target, ProbeSettings(**kw))  # type: ignore[arg-type]

    return _probe
