"""What an analysis has done, kept so that a rerun resumes (``analyze --checkpoint FILE``).

A SQLite database (the standard library's ``sqlite3``): one row per file
analysed, keyed by its resolved path and recorded with the size and
modification time (ns) it had when it was read, and its outcome -- the
findings (without their values when they went to Parquet: the summary needs
only their category, rule and severity), or the reason it could not be
read, or that it was skipped as not DICOM.  Each chunk of files is one
transaction, committed with ``synchronous=FULL`` in WAL mode: a crash of the
client, a dead worker or Ctrl-C loses at most the chunks in flight, never
a torn record.

A rerun with the same checkpoint takes every file whose path, size and
modification time still match from it instead of analysing it again, so a
resumed run's result is the same as an uninterrupted one's, byte for byte; a
file changed since is analysed again.  A checkpoint records the settings
that change outcomes (masked or shown values, Parquet or not, regions, role
placeholders, tool version): resuming with others is refused
(:class:`CheckpointError`), since it would mix results of two analyses.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = 1


class CheckpointError(Exception):
    """The checkpoint cannot be used (not one, unreadable, other settings); ``str()`` says why."""


@dataclass(frozen=True)
class Outcome:
    """One file's outcome as the checkpoint keeps it.

    ``findings`` are wire tuples (see :mod:`dicomaudit.phi.engines`), or,
    when they went to Parquet, only ``keys``: (category, rule, severity,
    count); ``error`` the reason it could not be read; ``skipped`` plainly
    not DICOM in a folder.
    """

    findings: tuple[tuple[Any, ...], ...] = ()
    error: str | None = None
    skipped: bool = False
    keys: tuple[tuple[str, str, str, int], ...] = ()


def fingerprint(settings: dict[str, Any]) -> str:
    """A stable digest of the settings that change outcomes."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Checkpoint:
    """An open checkpoint; use as a context manager, or :meth:`close` it."""

    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = settings
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS done (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                "mtime_ns INTEGER NOT NULL, outcome TEXT NOT NULL)"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS parts (name TEXT PRIMARY KEY)")
            stored = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError as exc:  # cannot open or write it (a folder, no permission, read-only)
            raise CheckpointError(f"{path}: cannot use as a checkpoint ({exc})") from None
        except sqlite3.DatabaseError as exc:  # a file that is not SQLite
            raise CheckpointError(f"{path}: not a dicomaudit checkpoint ({exc})") from None
        wanted = {"schema": str(_SCHEMA), "settings": fingerprint(settings), "described": json.dumps(settings)}
        if not stored:
            with self._transaction():
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", wanted.items())
        elif stored.get("schema") != wanted["schema"]:
            raise CheckpointError(f"{path}: checkpoint format {stored.get('schema')!r}, expected {_SCHEMA}")
        elif stored.get("settings") != wanted["settings"]:
            raise CheckpointError(
                f"{path}: this checkpoint was written with other settings ({_differences(stored, settings)}); "
                "resume with the same options, or give a new checkpoint file"
            )

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    @property
    def done_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM done").fetchone()[0])

    def lookup(self, real_path: str) -> Outcome | None:
        """The recorded outcome of the file at ``real_path``, if it is unchanged since (size and mtime)."""
        row = self._db.execute("SELECT size, mtime_ns, outcome FROM done WHERE path = ?", (real_path,)).fetchone()
        if row is None:
            return None
        try:
            st = os.stat(real_path)
        except OSError:
            return None  # gone or unreadable now: analyse again, which says why
        if (st.st_size, st.st_mtime_ns) != (row[0], row[1]):
            return None
        data = json.loads(row[2])
        return Outcome(
            tuple(tuple(f) for f in data.get("f", ())),
            data.get("e"),
            bool(data.get("s")),
            tuple((str(c), str(r), str(s), int(n)) for c, r, s, n in data.get("k", ())),
        )

    def record(self, rows: Iterable[tuple[str, int, int, Outcome]], parts: Iterable[str] = ()) -> None:
        """Record one chunk's files ``(real path, size, mtime_ns, outcome)`` and Parquet parts, atomically."""
        encoded = [
            (
                path,
                size,
                mtime,
                json.dumps(
                    {"f": [list(f) for f in o.findings], "e": o.error, "s": o.skipped, "k": [list(k) for k in o.keys]},
                    ensure_ascii=False,
                    separators=(",", ":"),
                ),
            )
            for path, size, mtime, o in rows
        ]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?)", encoded)
            self._db.executemany("INSERT OR IGNORE INTO parts VALUES (?)", [(p,) for p in parts])

    def parts(self) -> list[str]:
        """The Parquet parts of the chunks recorded so far."""
        return [r[0] for r in self._db.execute("SELECT name FROM parts ORDER BY name")]


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _differences(stored: dict[str, str], settings: dict[str, Any]) -> str:
    try:
        before = json.loads(stored.get("described", "{}"))
    except json.JSONDecodeError:
        before = {}
    changed = [k for k in sorted(set(before) | set(settings)) if before.get(k) != settings.get(k)]
    return ", ".join(changed) or "unknown"
