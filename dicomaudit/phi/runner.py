"""Analyse files, folders and DICOMDIRs; in parallel for large trees.

Each file is read once (header only) and walked once.  With more than one
worker the file list is split into chunks handed to a process pool: the work
is CPU-bound in pure Python, so processes (not threads) are what scale.
Workers send findings back as plain dicts (the frozen models hold read-only
mappings, which do not pickle).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomaudit.models import InputError, PhiFinding, Severity
from dicomaudit.phi.analyzer import PhiAnalysisError, analyze_dataset
from dicomaudit.phi.categories import Category
from dicomaudit.phi.inputs import InputFile, UnreadableInput, discover, exception_message, read_dataset
from dicomaudit.textsafe import scrub

#: Below this many files a pool costs more (start-up, pickling) than it saves.
PARALLEL_THRESHOLD = 64
_CHUNK = 32

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyze_paths` found: findings, unusable inputs, file count."""

    findings: tuple[PhiFinding, ...] = ()
    errors: tuple[InputError, ...] = ()
    files_scanned: int = 0

    def summary(self) -> dict[str, int]:
        """Findings per category (see :func:`summarize`)."""
        return summarize(self.findings)

    @property
    def files_with_findings(self) -> int:
        return len({f.source for f in self.findings})

    def worst(self) -> Severity | None:
        """Highest severity among the findings, if any."""
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_scanned": self.files_scanned,
            "summary": self.summary(),
            "phi": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
        }


def summarize(findings: Sequence[PhiFinding]) -> dict[str, int]:
    """Count findings per category, every category present, in table order."""
    counts = {c.value: 0 for c in Category}
    for f in findings:
        counts[f.category] = counts.get(f.category, 0) + 1
    return counts


def summarize_severity(findings: Sequence[PhiFinding]) -> dict[str, int]:
    """Count findings per severity, worst first."""
    counts = {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}
    for f in findings:
        counts[f.severity.value] += 1
    return counts


def analyze_file(item: InputFile, show_values: bool = False) -> tuple[list[PhiFinding], InputError | None]:
    """Findings of one file, or the reason it could not be analysed.

    A file is either analysed completely or reported as an error, never
    both: partial results from a malformed file would be misleading.
    """
    try:
        ds = read_dataset(item.path)
        return analyze_dataset(ds, item.source, show_values=show_values), None
    except UnreadableInput as exc:
        return [], InputError(item.source, scrub(str(exc)))
    except PhiAnalysisError as exc:
        return [], InputError(item.source, scrub(f"malformed DICOM file: {exc}"))
    except RecursionError:
        return [], InputError(item.source, "malformed DICOM file: sequences nested too deep")
    except MemoryError:
        return [], InputError(item.source, "malformed DICOM file: absurd element length")
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
        return [], InputError(item.source, _cannot_analyse(exc))


def _cannot_analyse(exc: BaseException) -> str:
    """The reason for an unexpected exception (a dicomaudit bug or a worker crash), value-free."""
    message = exception_message(exc)
    return f"cannot analyse: {type(exc).__name__}" + (f": {message}" if message else "")


# Findings cross the process boundary as plain tuples: the frozen models hold
# read-only mappings (which do not pickle) and tuples pickle faster than dicts.
_Wire = tuple[str, str, str, str, str, str, str, str, dict[str, Any]]


def _to_wire(f: PhiFinding) -> _Wire:
    return (f.path, f.tag, f.keyword, f.vr, f.category, f.rule, f.severity.value, f.value, dict(f.detail))


def _from_wire(source: str, w: _Wire) -> PhiFinding:
    path, tag, keyword, vr, category, rule, severity, value, detail = w
    return PhiFinding(source, path, tag, keyword, vr, category, rule, Severity(severity), value, detail)


def _analyze_chunk(items: list[InputFile], show_values: bool) -> list[tuple[list[_Wire], str | None]]:
    out = []
    for item in items:
        findings, error = analyze_file(item, show_values)
        out.append(([_to_wire(f) for f in findings], error.error if error else None))
    return out


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers in milliseconds with pydicom already imported;
    # fall back to the platform default where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def default_workers(n_files: int) -> int:
    """One process for small inputs, else one per CPU."""
    if n_files < PARALLEL_THRESHOLD:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def analyze_paths(
    paths: Sequence[str | Path],
    *,
    show_values: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> AnalysisResult:
    """PHI analysis of files, folders (recursive) and DICOMDIRs.

    Parameters
    ----------
    paths
        What the user named; each finding's ``source`` is the path as given
        (joined with the relative path inside a folder).
    show_values
        Keep identifying values unmasked (default: masked).
    workers
        Processes to use; ``None`` picks 1 for fewer than
        :data:`PARALLEL_THRESHOLD` files, else one per CPU.
    progress
        Called as ``progress(done, total)`` after each file (serial) or
        chunk of files (parallel).

    Returns
    -------
    AnalysisResult
        Findings in input order, then every unusable input with a reason.
    """
    files, problems = discover(paths)
    errors: list[InputError] = [InputError(s, r) for s, r in problems]
    findings: list[PhiFinding] = []
    total = len(files)
    n_workers = default_workers(total) if workers is None else max(1, int(workers))
    scanned = 0

    if n_workers == 1 or total <= 1:
        for done, item in enumerate(files, 1):
            found, error = analyze_file(item, show_values)
            findings.extend(found)
            if error is None:
                scanned += 1
            else:
                errors.append(error)
            if progress:
                progress(done, total)
        return AnalysisResult(tuple(findings), tuple(errors), scanned)

    chunks = [files[i : i + _CHUNK] for i in range(0, total, _CHUNK)]
    results: list[list[tuple[list[_Wire], str | None]] | None] = [None] * len(chunks)
    done = 0
    with ProcessPoolExecutor(max_workers=min(n_workers, len(chunks)), mp_context=_pool_context()) as pool:
        futures = {pool.submit(_analyze_chunk, chunk, show_values): i for i, chunk in enumerate(chunks)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a crashed worker
                    results[i] = [([], _cannot_analyse(exc)) for _ in chunks[i]]
                done += len(chunks[i])
                if progress:
                    progress(done, total)
    for chunk, chunk_result in zip(chunks, results):
        for item, (wires, error) in zip(chunk, chunk_result or ()):
            findings.extend(_from_wire(item.source, w) for w in wires)
            if error is None:
                scanned += 1
            else:
                errors.append(InputError(item.source, error))
    return AnalysisResult(tuple(findings), tuple(errors), scanned)
