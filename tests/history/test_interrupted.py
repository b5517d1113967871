"""A store survives the process writing it being killed, and an interrupted probe is stored marked incomplete.

Real ``dicomaudit probe --store`` processes against a lab PACS on loopback.
The SIGKILL lands inside the store's transaction deterministically: the
child registers an SQLAlchemy event (on every engine) that, once the run's
check rows are inserted and before the commit, says so on stdout and waits;
the test kills it then.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from dicomaudit.history import EventKind, build_timeline, open_store
from dicomaudit.lab import LabPACS
from tests.test_cli import ROOT, lab_target, run

CHECKS = ("--check", "echo.unauthenticated", "--check", "find.unauthenticated", "--timeout", "5")

# Runs the real CLI; pauses inside the store transaction, after the last INSERT, until killed.
_PAUSE_IN_TRANSACTION = textwrap.dedent(
    """
    import sys
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "after_cursor_execute")
    def _pause(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CHECK_RESULTS"):
            print("IN-TRANSACTION", flush=True)
            sys.stdin.readline()  # blocks: the parent kills this process here

    from dicomaudit.cli import main
    sys.argv = ["dicomaudit", *sys.argv[1:]]
    main()
    """
)


def _line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's next stdout line, waiting at most ``timeout`` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no output within {timeout} s")
    return proc.stdout.readline()


def _rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("runs", "targets", "check_results")}


def test_sigkill_during_the_store_transaction_leaves_only_complete_runs(tmp_path: Path) -> None:
    store = tmp_path / "audit.db"
    with LabPACS(profile="open", port=0) as lab:
        # Given a store holding one complete run
        first = run("probe", lab_target(lab), "--store", str(store), "-q", *CHECKS)
        assert first.returncode == 0, first.stderr
        before = _rows(store)
        # When a second probe is killed (SIGKILL) inside its store transaction, its rows written, not committed
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PAUSE_IN_TRANSACTION,
                "probe",
                lab_target(lab),
                "--store",
                str(store),
                "-q",
                *CHECKS,
            ],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert _line(proc, 60).strip() == "IN-TRANSACTION"
            assert Path(f"{store}-journal").exists()  # the write had begun: SQLite's rollback journal is hot
            proc.kill()
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        # Then the store opens, is intact, and holds exactly the complete run (the journal rolled the rest back)
        with sqlite3.connect(store) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert _rows(store) == before
        with open_store(store) as opened:
            (only,) = opened.runs()
            assert (only.id, only.targets, only.checks) == (1, before["targets"], before["check_results"])
        # And the next run appends as usual
        nxt = run("probe", lab_target(lab), "--store", str(store), "-q", *CHECKS)
        assert nxt.returncode == 0, nxt.stderr
    with open_store(store) as opened:
        assert [r.checks for r in opened.runs()] == [before["check_results"]] * 2
        assert len(opened.load()) == 2


def test_ctrl_c_stores_the_run_marked_incomplete_and_it_fixes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "audit.db"
    # Given a stored run of an exposed node
    with LabPACS(profile="open", port=0) as lab:
        port, target = lab.port, lab_target(lab)
        assert run("probe", target, "--store", str(store), "-q", *CHECKS).returncode == 0
    # When the node stops answering (it accepts connections, never replies) and the next probe gets Ctrl-C
    with socket.socket() as silent:
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", port))
        silent.listen(8)
        silent.settimeout(60)
        proc = subprocess.Popen(
            [sys.executable, "-m", "dicomaudit", "probe", target, "--store", str(store), "-q", *CHECKS[:-1], "20"],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            conn, _ = silent.accept()  # the probe is waiting on the node: mid-run
            with conn:
                proc.send_signal(signal.SIGINT)
                _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    # Then it exits 130 and the run is in the store, marked incomplete
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    with open_store(store) as opened:
        records = opened.load()
    assert [r.incomplete for r in records] == [False, True]
    # And its unfinished checks neither fix nor re-confirm the finding: still open, not re-verified since then
    find = next(e for e in build_timeline(records).episodes if e.check == "find.unauthenticated")
    assert find.fixed is None
    assert find.unverified_since is not None and find.unverified_since.id == 2
    assert (find.events[-1].kind, find.events[-1].status) == (EventKind.UNVERIFIED, "error")
    shown = run("history", str(store))
    assert shown.returncode == 0 and "2*" in shown.stdout and "interrupted run (incomplete)" in shown.stdout
