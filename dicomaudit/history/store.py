"""The results store: every run of ``probe --store``, kept for ``dicomaudit history``.

An embedded SQLite file by default (no server), through SQLAlchemy Core, so
the same code runs on PostgreSQL when given a ``postgresql://`` URL instead
of a path (only SQLite is tested).

What is kept per run (the result JSON stays the full evidence; the store
keeps what a history needs):

``dicomaudit_schema``
    One row: the schema version, when and by which dicomaudit the store was
    made.  A store of a newer version is refused with a plain message rather
    than misread.
``runs``
    When it started and finished, the command, operator and scope reference,
    the dicomaudit version, whether it was interrupted (``incomplete``), and
    how many targets and check results it holds.
``targets``
    Every endpoint probed in the run: host, port, called AE title or URL,
    inventory name and columns, how many identifying values its responses
    carried.
``check_results``
    Every check on every endpoint: status, severity, title, summary,
    reason code, and the waiver that accepted it in that run, if any.
    Titles and summaries are kept once in ``texts`` (most repeat across
    nodes and runs: a 1,000-node run takes about 1.4 MB).
``waivers``
    The waivers that accepted a finding in a run, as written in the waiver
    file.

**One run, one transaction.**  :meth:`ResultStore.add_run` writes a run and
everything in it in a single transaction (SQLite: ``BEGIN IMMEDIATE``, so
two writers queue instead of failing).  A process killed while writing
(SIGKILL, power loss) leaves no trace of that run: SQLite's journal rolls
the transaction back the next time the file is opened.  A run interrupted
by Ctrl-C (exit 130) is stored, marked ``incomplete``: its decided checks
are real observations, its unfinished ones are ``error/interrupted`` and
change nothing in the history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from dicomaudit import __version__
from dicomaudit.history.timeline import RunRecord
from dicomaudit.models import CheckResult, ErrorReason, RunInfo, RunResult, Severity, Status, Target, TargetResult
from dicomaudit.policy import FindingKey, Waiver, WaiverResult

#: The schema this dicomaudit writes and reads.  A later version that changes it adds a migration from each
#: earlier version (run inside the transaction that opens the store); a store newer than this is refused.
SCHEMA_VERSION = 1

_SQLITE_MAGIC = b"SQLite format 3\x00"

metadata = MetaData()

schema_table = Table(
    "dicomaudit_schema",
    metadata,
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
)

runs_table = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime, nullable=False),  # UTC, naive: both SQLite and PostgreSQL compare it the same way
    Column("finished_at", DateTime),
    Column("stored_at", DateTime, nullable=False),
    Column("tool_version", String(64), nullable=False),
    Column("command", Text, nullable=False),
    Column("operator", Text),
    Column("scope_ref", Text),
    Column("incomplete", Boolean, nullable=False),
    Column("settings", JSON),
    Column("targets", Integer, nullable=False),
    Column("checks", Integer, nullable=False),
    Index("ix_runs_started_at", "started_at"),
)

waivers_table = Table(
    "waivers",
    metadata,
    Column("run_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("node", Text, nullable=False),
    Column("check_id", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires", Date, nullable=False),
    Column("approved_by", Text),
    Column("origin", Text),
    ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    PrimaryKeyConstraint("run_id", "position"),
)

targets_table = Table(
    "targets",
    metadata,
    Column("run_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),  # order in the run
    Column("host", Text, nullable=False),
    Column("port", Integer, nullable=False),
    Column("called_aet", String(64)),
    Column("url", Text),
    Column("name", Text),
    Column("attributes", JSON),
    Column("phi_count", Integer, nullable=False),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
    PrimaryKeyConstraint("run_id", "position"),
)

texts_table = Table(
    "texts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False, unique=True),
)

checks_table = Table(
    "check_results",
    metadata,
    Column("run_id", Integer, nullable=False),
    Column("target", Integer, nullable=False),  # targets.position
    Column("seq", Integer, nullable=False),  # order of the check in the target's results
    Column("check_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    # Titles and summaries repeat across nodes and runs ("not checked: refused"): kept once in texts.
    Column("title", Integer, nullable=False),
    Column("summary", Integer, nullable=False),
    Column("reason_code", String(32)),
    Column("waiver", Integer),  # waivers.position in the same run: the waiver that accepted this fail
    ForeignKeyConstraint(["run_id", "target"], ["targets.run_id", "targets.position"], ondelete="CASCADE"),
    ForeignKeyConstraint(["title"], ["texts.id"]),
    ForeignKeyConstraint(["summary"], ["texts.id"]),
    PrimaryKeyConstraint("run_id", "target", "seq"),  # a check id appears once per target (add_run keeps the first)
    sqlite_with_rowid=False,  # the primary key is the table: no second copy of every key in an index
)


class StoreError(ValueError):
    """The store cannot be used: missing, not a dicomaudit store, newer schema, unwritable.  One line, naming it."""


@dataclass(frozen=True)
class StoredRunInfo:
    """One run as listed by :meth:`ResultStore.runs` (no checks loaded)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    incomplete: bool
    targets: int
    checks: int
    command: str


def describe_location(location: str | Path) -> str:
    """The store as shown to the user: the path, or the URL without its password."""
    text = str(location)
    if _is_url(text):
        try:
            return make_url(text).render_as_string(hide_password=True)
        except ArgumentError:
            return text.split("@")[-1]
    return text


def _is_url(text: str) -> bool:
    return "://" in text


def _utc(moment: datetime) -> datetime:
    """Aware UTC from an aware or naive (taken as UTC) datetime."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive_utc(moment: datetime) -> datetime:
    return _utc(moment).replace(tzinfo=None)


def parse_moment(text: str | None) -> datetime | None:
    """An ISO date or date-time (RunInfo's ``started_at``) as aware UTC; naive values are UTC."""
    if not text:
        return None
    return _utc(datetime.fromisoformat(text))


class ResultStore:
    """A results store; use :func:`open_store`.  A context manager (closes its connections)."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location  # as shown to the user (no password)

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.info["write"] = write  # read by the SQLite "begin" hook: BEGIN IMMEDIATE for writers
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("write", None)

    # ------------------------------------------------------------------ writing

    def add_run(
        self, result: RunResult, waivers: WaiverResult | None = None, *, stored_at: datetime | None = None
    ) -> int:
        """Store one run and every check in it in one transaction; return its id.

        Parameters
        ----------
        result
            The run (``probe``'s result, complete or interrupted).
        waivers
            The waiver decisions taken for this run (:func:`dicomaudit.policy.apply_waivers`): each accepted
            finding is stored with the waiver that accepted it.
        stored_at
            When it was stored (default: now).
        """
        now = _naive_utc(stored_at or datetime.now(UTC))
        started = parse_moment(result.run.started_at)
        finished = parse_moment(result.run.finished_at)
        accepted: Mapping[FindingKey, Waiver] = waivers.accepted if waivers is not None else {}
        used = list(dict.fromkeys(accepted.values()))  # each waiver once per run, in file order of first use
        waiver_pos = {w: i for i, w in enumerate(used)}
        target_rows: list[dict[str, Any]] = []
        check_rows: list[dict[str, Any]] = []
        for position, tr in enumerate(result.targets):
            t = tr.target
            target_rows.append(
                {
                    "position": position,
                    "host": t.host,
                    "port": t.port,
                    "called_aet": t.called_aet,
                    "url": t.url,
                    "name": t.name,
                    "attributes": dict(t.attributes) or None,
                    "phi_count": len(tr.phi),
                    "started_at": tr.started_at,
                    "finished_at": tr.finished_at,
                }
            )
            seen: set[str] = set()
            for c in tr.checks:
                if c.id in seen:  # the first of duplicates wins, as everywhere else
                    continue
                seen.add(c.id)
                waiver = accepted.get(FindingKey.of(t, c.id)) if c.status is Status.FAIL else None
                check_rows.append(
                    {
                        "target": position,
                        "seq": len(seen),
                        "check_id": c.id,
                        "status": c.status.value,
                        "severity": c.severity.value,
                        "title": c.title,  # replaced by its texts.id when written
                        "summary": c.summary,
                        "reason_code": c.reason_code.value if c.reason_code else None,
                        "waiver": waiver_pos[waiver] if waiver is not None else None,
                    }
                )
        try:
            with self._transaction(write=True) as conn:
                _check_schema(conn, self.location)
                inserted = conn.execute(
                    runs_table.insert().values(
                        started_at=_naive_utc(started) if started else now,
                        finished_at=_naive_utc(finished) if finished else None,
                        stored_at=now,
                        tool_version=result.tool_version,
                        command=result.run.command,
                        operator=result.run.operator,
                        scope_ref=result.run.scope_ref,
                        incomplete=result.run.incomplete,
                        settings=json.loads(json.dumps(dict(result.run.to_dict()["settings"]), default=str)),
                        targets=len(target_rows),
                        checks=len(check_rows),
                    )
                ).inserted_primary_key
                assert inserted is not None  # an INSERT of one row always has it
                run_id = inserted[0]
                if used:
                    conn.execute(
                        waivers_table.insert(),
                        [
                            {
                                "run_id": run_id,
                                "position": i,
                                "node": w.node,
                                "check_id": w.check,
                                "reason": w.reason,
                                "expires": w.expires,
                                "approved_by": w.approved_by,
                                "origin": w.origin,
                            }
                            for i, w in enumerate(used)
                        ],
                    )
                if target_rows:
                    conn.execute(targets_table.insert(), [{"run_id": run_id, **r} for r in target_rows])
                if check_rows:
                    ids = _text_ids(conn, {r[k] for r in check_rows for k in ("title", "summary")})
                    conn.execute(
                        checks_table.insert(),
                        [
                            {**r, "run_id": run_id, "title": ids[r["title"]], "summary": ids[r["summary"]]}
                            for r in check_rows
                        ],
                    )
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: cannot store the run ({_reason(exc)})") from exc
        return int(run_id)

    # ------------------------------------------------------------------ reading

    def runs(self) -> list[StoredRunInfo]:
        """Every run, oldest first (no checks loaded)."""
        try:
            with self._transaction(write=False) as conn:
                rows = conn.execute(select(runs_table).order_by(runs_table.c.started_at, runs_table.c.id)).mappings()
                return [
                    StoredRunInfo(
                        id=r["id"],
                        started_at=_utc(r["started_at"]),
                        finished_at=_utc(r["finished_at"]) if r["finished_at"] else None,
                        incomplete=bool(r["incomplete"]),
                        targets=r["targets"],
                        checks=r["checks"],
                        command=r["command"],
                    )
                    for r in rows
                ]
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: cannot read the store ({_reason(exc)})") from exc

    def load(self) -> list[RunRecord]:
        """Every run with its checks and waiver decisions, oldest first, as :class:`RunRecord` for the timeline.

        The results carry what the store keeps (no evidence, no PHI values:
        those are in each run's result JSON).
        """
        try:
            with self._transaction(write=False) as conn:
                runs = list(
                    conn.execute(select(runs_table).order_by(runs_table.c.started_at, runs_table.c.id)).mappings()
                )
                waiver_rows = conn.execute(
                    select(waivers_table).order_by(waivers_table.c.run_id, waivers_table.c.position)
                ).mappings()
                waivers: dict[int, dict[int, Waiver]] = {}
                for w in waiver_rows:
                    waivers.setdefault(w["run_id"], {})[w["position"]] = Waiver(
                        node=w["node"],
                        check=w["check_id"],
                        reason=w["reason"],
                        expires=w["expires"],
                        approved_by=w["approved_by"],
                        origin=w["origin"],
                    )
                texts = {id_: text for id_, text in conn.execute(select(texts_table.c.id, texts_table.c.text))}
                checks: dict[tuple[int, int], list[tuple[CheckResult, int | None]]] = {}
                # A check result is immutable: one object per distinct row, shared by every node that had it.
                made: dict[tuple[Any, ...], CheckResult] = {}
                columns = [checks_table.c[n] for n in ("run_id", "target", "waiver", *_CHECK_FIELDS)]
                in_order = select(*columns).order_by(checks_table.c.run_id, checks_table.c.target, checks_table.c.seq)
                for run_id, target, waiver, *fields in conn.execute(in_order):
                    key = tuple(fields)
                    check = made.get(key)
                    if check is None:
                        check = made[key] = _check(key, texts)
                    checks.setdefault((run_id, target), []).append((check, waiver))
                targets: dict[int, list[tuple[TargetResult, list[tuple[CheckResult, int | None]]]]] = {}
                rows = conn.execute(
                    select(targets_table).order_by(targets_table.c.run_id, targets_table.c.position)
                ).mappings()
                for t in rows:
                    found = checks.get((t["run_id"], t["position"]), [])
                    target = Target(
                        host=t["host"],
                        port=t["port"],
                        called_aet=t["called_aet"],
                        name=t["name"],
                        attributes=t["attributes"] or {},
                        url=t["url"],
                    )
                    tr = TargetResult(
                        target=target,
                        checks=tuple(c for c, _ in found),
                        started_at=t["started_at"],
                        finished_at=t["finished_at"],
                    )
                    targets.setdefault(t["run_id"], []).append((tr, found))
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: cannot read the store ({_reason(exc)})") from exc
        except (ValueError, TypeError) as exc:  # a value this dicomaudit does not know (status, severity, ...)
            raise StoreError(f"{self.location}: the store holds a value dicomaudit does not know ({exc})") from exc
        records = []
        for r in runs:
            in_run = targets.get(r["id"], [])
            run_waivers = waivers.get(r["id"], {})
            accepted = {
                FindingKey.of(tr.target, c.id): run_waivers[w]
                for tr, found in in_run
                for c, w in found
                if w is not None and w in run_waivers
            }
            started = _utc(r["started_at"])
            finished = _utc(r["finished_at"]) if r["finished_at"] else None
            result = RunResult(
                tool_version=r["tool_version"],
                run=RunInfo(
                    command=r["command"],
                    started_at=started.isoformat(timespec="seconds"),
                    finished_at=finished.isoformat(timespec="seconds") if finished else None,
                    settings=r["settings"] or {},
                    operator=r["operator"],
                    scope_ref=r["scope_ref"],
                    incomplete=bool(r["incomplete"]),
                ),
                targets=tuple(tr for tr, _ in in_run),
            )
            records.append(
                RunRecord(
                    id=r["id"],
                    started_at=started,
                    result=result,
                    waivers=WaiverResult(today=started.date(), waivers=tuple(run_waivers.values()), accepted=accepted),
                    finished_at=finished,
                    stored_at=_utc(r["stored_at"]),
                )
            )
        return records


_CHECK_FIELDS = ("check_id", "status", "severity", "title", "summary", "reason_code")


def _check(fields: tuple[Any, ...], texts: Mapping[int, str]) -> CheckResult:
    check_id, status, severity, title, summary, reason_code = fields
    return CheckResult(
        id=check_id,
        status=Status(status),
        severity=Severity(severity),
        title=texts[title],
        summary=texts[summary],
        reason_code=ErrorReason(reason_code) if reason_code else None,
    )


def _text_ids(conn: Connection, wanted: set[str]) -> dict[str, int]:
    """The ``texts`` id of each string, adding the new ones (inside the caller's transaction)."""
    ids: dict[str, int] = {}
    pending = sorted(wanted)
    for i in range(0, len(pending), 500):  # bounded IN lists: SQLite caps bound parameters per statement
        chunk = pending[i : i + 500]
        ids.update(
            (text, id_)
            for id_, text in conn.execute(
                select(texts_table.c.id, texts_table.c.text).where(texts_table.c.text.in_(chunk))
            )
        )
    for text in pending:
        if text not in ids:
            inserted = conn.execute(texts_table.insert().values(text=text)).inserted_primary_key
            assert inserted is not None  # an INSERT of one row always has it
            ids[text] = int(inserted[0])
    return ids


def _reason(exc: SQLAlchemyError) -> str:
    """The database's own words, without SQLAlchemy's statement dump and link."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    return str(exc).splitlines()[0]


def _check_schema(conn: Connection, location: str) -> int:
    """The store's schema version; refuses a store this dicomaudit cannot read."""
    version = conn.execute(select(func.max(schema_table.c.version))).scalar()
    if version is None:
        raise StoreError(f"{location}: not a dicomaudit results store (no schema version recorded)")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{location}: the store has schema version {version}, newer than this dicomaudit {__version__} "
            f"reads (version {SCHEMA_VERSION}); use a newer dicomaudit"
        )
    return int(version)


def _sqlite_engine(path: Path) -> Engine:
    # timeout: a second writer waits for the first (up to 30 s) instead of failing "database is locked".
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 (before 3.12's autocommit) opens transactions only before DML and commits DDL at
        # once; with isolation_level None it leaves BEGIN to us, so a run and its rows are one transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock at BEGIN: two probes storing at once queue (busy timeout) instead of
        # one failing when both upgrade a read lock.  Readers keep a deferred BEGIN and never block a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    return engine


def open_store(location: str | Path, *, create: bool = False) -> ResultStore:
    """Open a results store, creating it (file and schema) when ``create`` is true.

    Parameters
    ----------
    location
        A file path (SQLite), or a database URL SQLAlchemy understands, such as
        ``postgresql+psycopg://user@host/dicomaudit`` (its driver installed;
        the database must exist; the tables are created on first use).
    create
        ``probe --store``: a missing file or an empty database becomes a new
        store.  ``history``: false, a missing file is an error.

    Raises
    ------
    StoreError
        Missing (without ``create``), a folder, not an SQLite file, a
        database with other tables, a newer schema, a driver not installed.
    """
    text = str(location)
    shown = describe_location(text)
    if _is_url(text) and text.startswith("sqlite:"):  # an SQLite URL: the file, with the SQLite transaction hooks
        database = _sqlite_url_path(text, shown)
        if database is not None:
            location, text = database, database
    if _is_url(text):
        try:
            engine = create_engine(make_url(text))
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StoreError(f"{shown}: not a database URL dicomaudit can use ({exc})") from None
        except ImportError as exc:
            raise StoreError(f"{shown}: the database driver is not installed ({exc})") from None
    else:
        path = Path(location)
        if path.is_dir():
            raise StoreError(f"{shown}: is a folder, not a results store")
        if path.exists():
            try:
                with path.open("rb") as fh:
                    head = fh.read(len(_SQLITE_MAGIC))
            except OSError as exc:
                raise StoreError(f"{shown}: cannot read ({exc.strerror or exc})") from None
            if head and head != _SQLITE_MAGIC:
                raise StoreError(f"{shown}: not a dicomaudit results store (not an SQLite database)")
            if not head and not create:
                raise StoreError(f"{shown}: not a dicomaudit results store (an empty file)")
        elif not create:
            raise StoreError(f"{shown}: no such file")
        elif not path.parent.is_dir():
            raise StoreError(f"{shown}: no such folder {path.parent}")
        engine = _sqlite_engine(path)
    store = ResultStore(engine, shown)
    try:
        _prepare(store, create=create)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"{shown}: cannot open the store ({_reason(exc)})") from None
    return store


def _sqlite_url_path(text: str, shown: str) -> str | None:
    """The file of an ``sqlite:///path`` URL (``None`` for an in-memory database)."""
    try:
        database = make_url(text).database
    except ArgumentError as exc:
        raise StoreError(f"{shown}: not a database URL dicomaudit can use ({exc})") from None
    return database if database and database != ":memory:" else None


def _prepare(store: ResultStore, *, create: bool) -> None:
    with store._transaction(write=create) as conn:
        tables = set(inspect(conn).get_table_names())
        if schema_table.name in tables:
            _check_schema(conn, store.location)
            return
        if tables:
            shown = ", ".join(sorted(tables)[:5])
            raise StoreError(f"{store.location}: not a dicomaudit results store (it holds other tables: {shown})")
        if not create:
            raise StoreError(f"{store.location}: not a dicomaudit results store (an empty database)")
        metadata.create_all(conn)
        conn.execute(
            schema_table.insert().values(
                version=SCHEMA_VERSION, created_at=_naive_utc(datetime.now(UTC)), created_by=__version__
            )
        )
