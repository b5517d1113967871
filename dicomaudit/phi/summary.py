"""The summary of a PHI analysis as a reduction of partial summaries.

At millions of findings the client cannot hold every row to count them.
Each chunk of files is summarised where it is analysed (a worker process, a
Dask worker) into a :class:`PhiSummary` of bounded size, and the run's
summary is the merge of those partials.  :meth:`PhiSummary.merge` is
associative and commutative, and everything it keeps is ordered by content
or by the file's index in the input listing, never by arrival: the summary is
the same whatever the engine, the number of workers, the chunk size or the
order in which chunks finish.

What it holds: files analysed / with identifying data / with a finding of
high severity or worse / unreadable / skipped; findings per category, per
severity and per rule; per folder (the folder of each file's source: a study
or series folder in an export) files, files with identifying data, findings
and the worst severity; and the :data:`WORST_FILES` worst files (worst
severity, then most findings, then input order).
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dicomaudit.models import Severity
from dicomaudit.phi.categories import Category

#: How many of the worst files a summary keeps (the reports list them; every file is in the findings).
WORST_FILES = 50

_RANK = {s.value: s.rank for s in Severity}
_BY_RANK = {s.rank: s for s in Severity}
_HIGH = Severity.HIGH.rank


@dataclass(frozen=True, order=True)
class WorstFile:
    """One file in the worst-files list; the order of the dataclass is the list's order (worst first)."""

    sort_key: tuple[int, int, int]  # (-worst rank, -findings, input index)
    source: str = field(compare=False)
    findings: int = field(compare=False)
    worst: str = field(compare=False)
    categories: tuple[tuple[str, int], ...] = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "worst": self.worst,
            "findings": self.findings,
            "categories": dict(self.categories),
        }


@dataclass(frozen=True)
class FolderCounts:
    """Files, files with identifying data, findings and the worst severity (rank) in one folder."""

    files: int = 0
    files_with_phi: int = 0
    findings: int = 0
    worst_rank: int = -1

    def __add__(self, other: FolderCounts) -> FolderCounts:
        return FolderCounts(
            self.files + other.files,
            self.files_with_phi + other.files_with_phi,
            self.findings + other.findings,
            max(self.worst_rank, other.worst_rank),
        )


@dataclass(frozen=True)
class PhiSummary:
    """Counts of one chunk of files, or of a whole run (the merge of its chunks' summaries)."""

    files_scanned: int = 0
    files_with_phi: int = 0
    files_high: int = 0
    files_unreadable: int = 0
    files_skipped: int = 0
    findings: int = 0
    by_category: Mapping[str, int] = field(default_factory=dict)
    by_severity: Mapping[str, int] = field(default_factory=dict)
    by_rule: Mapping[str, int] = field(default_factory=dict)
    by_folder: Mapping[str, FolderCounts] = field(default_factory=dict)
    worst_files: tuple[WorstFile, ...] = ()

    @property
    def worst(self) -> Severity | None:
        """The highest severity found, if any."""
        ranks = [_RANK[s] for s, n in self.by_severity.items() if n]
        return _BY_RANK[max(ranks)] if ranks else None

    def categories(self) -> dict[str, int]:
        """Findings per category, every category present, in table order (then any other, by name)."""
        counts = {c.value: 0 for c in Category}
        for name in sorted(self.by_category):
            counts[name] = counts.get(name, 0) + self.by_category[name]
        return counts

    def severities(self) -> dict[str, int]:
        """Findings per severity, worst first, every severity present."""
        return {s.value: self.by_severity.get(s.value, 0) for s in sorted(Severity, reverse=True)}

    def merge(self, other: PhiSummary) -> PhiSummary:
        """This summary and ``other`` as one (associative, commutative)."""
        folders = dict(self.by_folder)
        for name, counts in other.by_folder.items():
            folders[name] = folders[name] + counts if name in folders else counts
        return PhiSummary(
            files_scanned=self.files_scanned + other.files_scanned,
            files_with_phi=self.files_with_phi + other.files_with_phi,
            files_high=self.files_high + other.files_high,
            files_unreadable=self.files_unreadable + other.files_unreadable,
            files_skipped=self.files_skipped + other.files_skipped,
            findings=self.findings + other.findings,
            by_category=_add(self.by_category, other.by_category),
            by_severity=_add(self.by_severity, other.by_severity),
            by_rule=_add(self.by_rule, other.by_rule),
            by_folder=folders,
            worst_files=tuple(heapq.nsmallest(WORST_FILES, self.worst_files + other.worst_files)),
        )

    def to_dict(self, folders: int | None = None) -> dict[str, Any]:
        """As JSON: keys sorted, the categories in table order, severities worst first.

        ``folders`` limits the folders listed (those with the most findings
        first; ``folders_listed`` says how many of how many).
        """
        ranked = sorted(self.by_folder.items(), key=lambda kv: (-kv[1].findings, -kv[1].files, kv[0]))
        shown = ranked if folders is None else ranked[:folders]
        return {
            "files_scanned": self.files_scanned,
            "files_with_phi": self.files_with_phi,
            "files_high_or_worse": self.files_high,
            "files_unreadable": self.files_unreadable,
            "files_skipped": self.files_skipped,
            "findings": self.findings,
            "by_category": self.categories(),
            "by_severity": self.severities(),
            "by_rule": dict(sorted(self.by_rule.items())),
            "folders": len(self.by_folder),
            "by_folder": [
                {
                    "folder": name,
                    "files": c.files,
                    "files_with_phi": c.files_with_phi,
                    "findings": c.findings,
                    "worst": _BY_RANK[c.worst_rank].value if c.worst_rank >= 0 else None,
                }
                for name, c in shown
            ],
            "worst_files": [w.to_dict() for w in self.worst_files],
        }


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, n in b.items():
        out[k] = out.get(k, 0) + n
    return out


def folder_of(source: str) -> str:
    """The folder a finding's source is in (``.`` for a bare file name)."""
    return os.path.dirname(source) or "."


#: What the summary needs of one finding: (category, rule, severity value).
FindingKey = tuple[str, str, str]


def summarize_file(
    index: int, source: str, findings: Iterable[FindingKey], *, error: bool = False, skipped: bool = False
) -> PhiSummary:
    """The summary of one file: analysed with ``findings``, unreadable (``error``) or ``skipped`` (not DICOM)."""
    if skipped:
        return PhiSummary(files_skipped=1)
    if error:
        return PhiSummary(files_unreadable=1)
    keys = list(findings)
    folder = folder_of(source)
    if not keys:
        return PhiSummary(files_scanned=1, by_folder={folder: FolderCounts(1, 0, 0, -1)})
    categories = Counter(k[0] for k in keys)
    severities = Counter(k[2] for k in keys)
    worst = max(_RANK[s] for s in severities)
    return PhiSummary(
        files_scanned=1,
        files_with_phi=1,
        files_high=int(worst >= _HIGH),
        findings=len(keys),
        by_category=dict(categories),
        by_severity=dict(severities),
        by_rule=dict(Counter(k[1] for k in keys)),
        by_folder={folder: FolderCounts(1, 1, len(keys), worst)},
        worst_files=(
            WorstFile(
                (-worst, -len(keys), index),
                source,
                len(keys),
                _BY_RANK[worst].value,
                tuple(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
            ),
        ),
    )


def merge_all(summaries: Iterable[PhiSummary]) -> PhiSummary:
    """The merge of any number of summaries (the empty summary for none), in place: linear in their sizes."""
    acc = SummaryAccumulator()
    for s in summaries:
        acc.add(s)
    return acc.summary()


class SummaryAccumulator:
    """Merges partial summaries in place (the client folds every chunk's partial into one of these).

    :meth:`PhiSummary.merge` copies; folding thousands of chunks into a run's
    summary that way would copy its folder table each time.
    """

    def __init__(self) -> None:
        self._counts = [0] * 6
        self._category: dict[str, int] = {}
        self._severity: dict[str, int] = {}
        self._rule: dict[str, int] = {}
        self._folder: dict[str, FolderCounts] = {}
        self._worst: list[WorstFile] = []

    def add(self, s: PhiSummary) -> None:
        for i, n in enumerate(
            (s.files_scanned, s.files_with_phi, s.files_high, s.files_unreadable, s.files_skipped, s.findings)
        ):
            self._counts[i] += n
        for mine, theirs in ((self._category, s.by_category), (self._severity, s.by_severity), (self._rule, s.by_rule)):
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        for name, counts in s.by_folder.items():
            have = self._folder.get(name)
            self._folder[name] = counts if have is None else have + counts
        if s.worst_files:
            self._worst = heapq.nsmallest(WORST_FILES, self._worst + list(s.worst_files))

    def summary(self) -> PhiSummary:
        scanned, with_phi, high, unreadable, skipped, findings = self._counts
        return PhiSummary(
            scanned,
            with_phi,
            high,
            unreadable,
            skipped,
            findings,
            dict(self._category),
            dict(self._severity),
            dict(self._rule),
            dict(self._folder),
            tuple(self._worst),
        )
