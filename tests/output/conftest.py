"""Fixtures for the writer tests; the run results themselves are built in :mod:`tests.output.builders`."""

from __future__ import annotations

from datetime import date

import pytest

from dicomaudit.models import RunResult
from dicomaudit.policy import Waiver
from tests.output.builders import HOSTILE_AET, down_node, locked_node, make_result, open_node


@pytest.fixture
def result() -> RunResult:
    """A run over an open, a locked and an unreachable node, plus a file analysis."""
    return make_result()


@pytest.fixture
def hostile_result() -> RunResult:
    """The same run, but the open node's Called AE Title is an HTML payload."""
    return make_result((open_node(HOSTILE_AET), locked_node(), down_node()))


@pytest.fixture
def echo_waiver() -> Waiver:
    """An active waiver for echo on the open node."""
    return Waiver(
        "127.0.0.1:4242/ORTHANC",
        "echo.unauthenticated",
        "Echo kept open for modality connectivity tests",
        date(2025, 12, 31),
        approved_by="CISO",
    )
