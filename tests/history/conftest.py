"""Real runs for the history tests: one lab PACS address probed as it is fixed (open -> stock -> locked).

Each profile is started in turn on the same loopback port and probed with
the whole catalogue (well under a second each), once per session; the tests
then give those results the dates they need (``RunInfo.started_at``), so
appearance and fix dates can be asserted exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.history import open_store
from dicomaudit.lab import LabPACS
from dicomaudit.models import RunInfo, RunResult, Target, TargetResult
from dicomaudit.policy import Waiver, WaiverResult, apply_waivers
from dicomaudit.scanner import scan_target
from tests.conftest import TEST_TIMEOUT, target_of


@dataclass(frozen=True)
class LabRuns:
    """One node's results as its configuration changes, all on ``127.0.0.1:port/DICOMLAB``."""

    port: int
    open: TargetResult  # exposed: find, worklist, get, store, echo ... fail
    stock: TargetResult  # partly fixed: queries and retrievals refused, echo/store/any calling AE still open
    locked: TargetResult  # fixed: every unregistered caller rejected (transport.plaintext still fails)
    unreachable: TargetResult  # the node down: every check undecided (connectivity)
    moved: TargetResult  # the locked configuration on another port


def _scan(lab: LabPACS) -> TargetResult:
    return scan_target(target_of(lab), ProbeSettings(timeout=TEST_TIMEOUT))


@pytest.fixture(scope="session")
def lab_runs() -> LabRuns:
    with LabPACS(profile="open", port=0) as lab:
        port = lab.port
        exposed = _scan(lab)
    with LabPACS(profile="stock", port=port) as lab:
        partly = _scan(lab)
    with LabPACS(profile="locked", port=port) as lab:
        fixed = _scan(lab)
    down = scan_target(Target("127.0.0.1", port, "DICOMLAB"), ProbeSettings(timeout=1.0))
    with LabPACS(profile="locked", port=0) as lab:
        moved = _scan(lab)
    return LabRuns(port, exposed, partly, fixed, down, moved)


def run_at(when: str, *targets: TargetResult, incomplete: bool = False) -> RunResult:
    """A run of ``targets`` that started at ``when`` (ISO date-time)."""
    return RunResult(
        tool_version="test",
        run=RunInfo(command="dicomaudit probe (test)", started_at=when, finished_at=when, incomplete=incomplete),
        targets=targets,
    )


def named(tr: TargetResult, name: str) -> TargetResult:
    """The same observations, with the node's inventory name."""
    return replace(tr, target=replace(tr.target, name=name))


def waiver_for(tr: TargetResult, check: str, reason: str = "kept open for modality tests (CHG-1)") -> Waiver:
    return Waiver(node=str(tr.target), check=check, reason=reason, expires=date(2026, 12, 31))


def waived(result: RunResult, *waivers: Waiver) -> WaiverResult:
    day = date.fromisoformat(result.run.started_at[:10]) if result.run.started_at else None
    return apply_waivers(result, waivers, day)


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[..., Path]:
    """``make_store(run, (run, waivers), ...)``: a new SQLite store holding these runs, in this order."""

    def _make(*runs: RunResult | tuple[RunResult, WaiverResult], name: str = "audit.db") -> Path:
        path = tmp_path / name
        with open_store(path, create=True) as store:
            for item in runs:
                result, applied = item if isinstance(item, tuple) else (item, None)
                store.add_run(result, applied)
        return path

    return _make
