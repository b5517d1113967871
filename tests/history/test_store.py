"""The results store: what it keeps, what it refuses, and that one run is one transaction."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dicomaudit.history import SCHEMA_VERSION, StoreError, open_store
from dicomaudit.models import Status
from tests.history.conftest import LabRuns, named, run_at, waived, waiver_for


def test_a_stored_run_reads_back_with_its_times_verdicts_and_waivers(lab_runs: LabRuns, make_store) -> None:
    # Given one run of the exposed node with echo waived, and an interrupted one
    first = run_at("2026-03-02T10:00:00+01:00", named(lab_runs.open, "pacs-1"))
    path = make_store(
        (first, waived(first, waiver_for(lab_runs.open, "echo.unauthenticated"))),
        run_at("2026-03-09T09:00:00+00:00", lab_runs.unreachable, incomplete=True),
    )
    # When the runs are loaded
    with open_store(path) as store:
        one, two = store.load()
    # Then times are UTC, every check's status and severity is kept, and the waiver decision with it
    assert one.started_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    (tr,) = one.result.targets
    assert tr.target.name == "pacs-1" and tr.target.port == lab_runs.port
    assert [(c.id, c.status, c.severity) for c in tr.checks] == [
        (c.id, c.status, c.severity) for c in lab_runs.open.checks
    ]
    waiver = one.waivers.waiver_for(tr.target, "echo.unauthenticated")
    assert waiver is not None and waiver.reason.startswith("kept open")
    assert one.waivers.waiver_for(tr.target, "find.unauthenticated") is None
    # And the interrupted run is marked so, its undecided checks with their reason code
    assert two.incomplete and not one.incomplete
    assert {c.reason_code.value for c in two.result.targets[0].checks if c.status is Status.ERROR} == {"connectivity"}


def test_a_store_of_a_newer_schema_is_refused_politely(lab_runs: LabRuns, make_store) -> None:
    path = make_store(run_at("2026-03-02T09:00:00+00:00", lab_runs.open))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE dicomaudit_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer than .*use a newer dicomaudit"):
        open_store(path)
    with pytest.raises(StoreError, match="newer"):
        open_store(path, create=True)  # probe --store must not write into it either


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"host,port,called_aet\n", "not an SQLite database"),
        (b"", "an empty file"),
    ],
)
def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        open_store(path)


def test_an_sqlite_database_of_something_else_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE patients (id INTEGER)")
    with pytest.raises(StoreError, match="not a dicomaudit results store .*patients"):
        open_store(path, create=True)
    with sqlite3.connect(path) as db:  # untouched
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["patients"]


def test_a_missing_store_is_created_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with pytest.raises(StoreError, match="no such file"):
        open_store(path)
    assert not path.exists()
    with open_store(path, create=True) as store:
        assert store.runs() == []
    with open_store(path) as store:  # now it is a store, with no run yet
        assert store.load() == []


def test_each_run_is_one_transaction_a_failing_write_leaves_nothing(lab_runs: LabRuns, make_store) -> None:
    # Given a store with one run, and a trigger that makes the next write fail half-way through its check rows
    # (after the run row and its targets were inserted: a full disk or a lost connection would do the same)
    path = make_store(run_at("2026-03-02T09:00:00+00:00", lab_runs.open))
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON check_results WHEN NEW.check_id = 'transport.plaintext' "
            "BEGIN SELECT RAISE(ABORT, 'disk full (simulated by a trigger)'); END"
        )
    with open_store(path) as store:
        with pytest.raises(StoreError, match="cannot store the run .*disk full"):
            store.add_run(run_at("2026-03-09T09:00:00+00:00", lab_runs.locked))
        # Then neither the run row nor its targets nor any of its checks were kept
        assert [r.id for r in store.runs()] == [1]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM targets WHERE run_id != 1").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM check_results WHERE run_id != 1").fetchone() == (0,)
