"""Findings and errors of an analysis as partitioned Parquet (``analyze --parquet DIR``).

At millions of findings one JSON document is no longer a format.  Each chunk
of files is written by the process that analysed it (a pool worker, a Dask
worker) as ``DIR/findings/part-NNNNNNNNN.parquet`` and, when some of its
files could not be read, ``DIR/errors/part-NNNNNNNNN.parquet``; ``NNNNNNNNN``
is the index of the chunk's first file in the input listing, so a chunk that
is retried (a worker died) overwrites its own part.  A part is written under a
hidden temporary name and renamed into place: a reader (pyarrow, pandas,
DuckDB, Spark, Dask) never sees half a file, and skips the temporary names.

Rows carry ``file_index`` (the file's place in the input listing) and
``seq`` (the finding's place within the file): sorting by both gives the
order of the JSON's ``phi`` list whatever the engine.  With a Dask cluster,
``DIR`` must be a path every worker can write (a shared file system).

pyarrow is an optional dependency (``pip install 'dicomaudit[parquet]'``, or
the ``dask`` extra): it is imported only when Parquet is written or read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dicomaudit.models import InputError, PhiFinding, Severity

FINDINGS = "findings"
ERRORS = "errors"
_PART_PREFIX = "part-"

FINDING_COLUMNS = (
    "file_index",
    "seq",
    "source",
    "path",
    "tag",
    "keyword",
    "vr",
    "category",
    "rule",
    "severity",
    "value",
    "detail",
)
ERROR_COLUMNS = ("file_index", "source", "error")


class ParquetUnavailable(RuntimeError):
    """pyarrow is not installed."""


def _pyarrow() -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        raise ParquetUnavailable(
            "--parquet needs pyarrow: pip install 'dicomaudit[parquet]' (or 'dicomaudit[dask]')"
        ) from None
    return pq


def require() -> None:
    """Raise :class:`ParquetUnavailable` now (before any file is read) when pyarrow is missing."""
    _pyarrow()


def part_name(first_index: int) -> str:
    """The part file of the chunk whose first file has ``first_index`` in the listing."""
    return f"{_PART_PREFIX}{first_index:09d}.parquet"


#: One finding as the runner's workers hand it over: (path, tag, keyword, vr, category, rule, severity, value, detail).
WireFinding = tuple[str, str, str, str, str, str, str, str, dict[str, Any]]


def write_chunk(
    root: str,
    first_index: int,
    findings: Iterable[tuple[int, str, Sequence[WireFinding]]],
    errors: Iterable[tuple[int, str, str]],
) -> list[str]:
    """Write one chunk's parts; return their names relative to ``root`` (``findings/part-....parquet``).

    ``findings`` is ``(file index, source, the file's findings)`` per analysed
    file; ``errors`` ``(file index, source, reason)`` per unreadable file.
    Empty tables are not written.
    """
    pq = _pyarrow()
    import pyarrow as pa

    rows = [
        (index, seq, source, *wire[:8], _DETAIL.encode(wire[8]) if wire[8] else "")
        for index, source, wires in findings
        for seq, wire in enumerate(wires)
    ]
    written = []
    name = part_name(first_index)
    if rows:
        schema = pa.schema(
            [(c, pa.int64()) for c in ("file_index", "seq")] + [(c, pa.string()) for c in FINDING_COLUMNS[2:]]
        )
        columns = dict(zip(FINDING_COLUMNS, (list(c) for c in zip(*rows, strict=True)), strict=True))
        written.append(_write(pq, pa.table(columns, schema=schema), root, FINDINGS, name))
    unreadable = list(errors)
    if unreadable:
        table = pa.table(
            {
                "file_index": [r[0] for r in unreadable],
                "source": [r[1] for r in unreadable],
                "error": [r[2] for r in unreadable],
            },
            schema=pa.schema([("file_index", pa.int64()), ("source", pa.string()), ("error", pa.string())]),
        )
        written.append(_write(pq, table, root, ERRORS, name))
    return written


#: One encoder for every detail (``json.dumps`` with options builds one per call).
_DETAIL = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def _write(pq: Any, table: Any, root: str, kind: str, name: str) -> str:
    folder = os.path.join(root, kind)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, os.path.join(folder, name))  # atomic: a reader sees the whole part or none
    return f"{kind}/{name}"


def existing_parts(root: str | Path) -> list[str]:
    """Part files (and stray temporary files) under ``root``'s findings/ and errors/, relative to ``root``."""
    out = []
    for kind in (FINDINGS, ERRORS):
        folder = os.path.join(root, kind)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        out += [f"{kind}/{n}" for n in sorted(names) if n.startswith((_PART_PREFIX, f".{_PART_PREFIX}"))]
    return out


def remove_parts(root: str | Path, keep: Iterable[str] = ()) -> int:
    """Delete the parts under ``root`` not in ``keep`` (a previous run's, or a crashed chunk's); return how many."""
    kept = set(keep)
    removed = 0
    for rel in existing_parts(root):
        if rel not in kept:
            os.remove(os.path.join(root, rel))
            removed += 1
    return removed


def read_findings(root: str | Path) -> list[PhiFinding]:
    """Every finding under ``root``, in the order of the JSON's ``phi`` list (file index, then in-file order)."""
    pq = _pyarrow()
    folder = Path(root) / FINDINGS
    if not folder.is_dir() or not any(folder.glob(f"{_PART_PREFIX}*")):
        return []
    table = pq.read_table(folder).sort_by([("file_index", "ascending"), ("seq", "ascending")])
    return [
        PhiFinding(
            r["source"],
            r["path"],
            r["tag"],
            r["keyword"],
            r["vr"],
            r["category"],
            r["rule"],
            Severity(r["severity"]),
            r["value"],
            json.loads(r["detail"]) if r["detail"] else {},
        )
        for r in table.to_pylist()
    ]


def read_errors(root: str | Path) -> list[InputError]:
    """Every unreadable file under ``root``, in input order."""
    pq = _pyarrow()
    folder = Path(root) / ERRORS
    if not folder.is_dir() or not any(folder.glob(f"{_PART_PREFIX}*")):
        return []
    table = pq.read_table(folder).sort_by([("file_index", "ascending")])
    return [InputError(r["source"], r["error"]) for r in table.to_pylist()]
