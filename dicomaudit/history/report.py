"""Writers of ``dicomaudit history``: text, JSON, CSV (pandas) and the HTML trend page.

Each renders a :class:`~dicomaudit.history.timeline.Timeline` (already
filtered); none reads the store.  Node names and addresses come from
inventories and AE titles a node chose: text output passes through
:func:`~dicomaudit.textsafe.scrub`, CSV cells through
:func:`~dicomaudit.output.tables.defuse` (no formula injection), HTML
through Jinja2's autoescaping (the chart is ElementTree-escaped SVG from
:mod:`dicomaudit.output.charts`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from dicomaudit import __version__
from dicomaudit.history.timeline import Episode, EpisodeState, RunPoint, Timeline, TrendPoint
from dicomaudit.models import Severity
from dicomaudit.output import json_text
from dicomaudit.output.charts import MAX_ROWS, stacked_bar_chart
from dicomaudit.output.tables import defuse
from dicomaudit.textsafe import scrub

FORMATS = ("text", "csv", "html", "json")
JSON_SCHEMA = "dicomaudit-history/1"
SEVERITIES = tuple(sorted(Severity, reverse=True))  # worst first
FILE_NAMES = {"text": "history.txt", "csv": "history.csv", "html": "history.html", "json": "history.json"}
EPISODE_COLUMNS = [
    "node_name", "address", "host", "port", "called_aet", "url", "check_id", "severity", "title", "state",
    "appeared_at", "appeared_run", "waived_at", "waived_run", "waiver_reason", "fixed_at", "fixed_run",
    "unverified_since", "unverified_since_run", "last_failing_at", "runs_failing",
]  # fmt: skip
TREND_COLUMNS = [
    "run", "started_at", "incomplete", "nodes_probed", *(f"open_{s.value}" for s in SEVERITIES), "open_total",
    "accepted", "not_reverified",
]  # fmt: skip


@dataclass(frozen=True)
class HistoryView:
    """A timeline with what it was read from and how it was filtered: what every writer shows."""

    timeline: Timeline
    store: str
    runs_stored: int
    since: datetime | None = None
    nodes: Sequence[str] = ()
    checks: Sequence[str] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def filters(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
            "nodes": list(self.nodes),
            "checks": list(self.checks),
        }

    @property
    def counts(self) -> dict[EpisodeState, int]:
        out = dict.fromkeys(EpisodeState, 0)
        for e in self.timeline.episodes:
            out[e.state] += 1
        return out

    @property
    def headline(self) -> str:
        t = self.timeline
        c = self.counts
        if not t.runs:
            window = f" since {self.since.date().isoformat()}" if self.since else ""
            return f"{self.runs_stored} run(s) stored, none{window}"
        span = f"{_when(t.runs[0])} to {_when(t.runs[-1])} UTC" if len(t.runs) > 1 else f"{_when(t.runs[0])} UTC"
        incomplete = sum(r.incomplete for r in t.runs)
        return (
            f"{len(t.runs)} run(s) {span}"
            + (f" ({incomplete} interrupted)" if incomplete else "")
            + f"; {len({e.node.index for e in t.episodes})} node(s) with findings; {len(t.episodes)} finding(s): "
            f"{c[EpisodeState.OPEN]} open, {c[EpisodeState.ACCEPTED]} accepted, {c[EpisodeState.FIXED]} fixed"
        )

    def by_node(self) -> list[tuple[str, list[Episode]]]:
        """Episodes grouped by node (nodes in order of first sighting), worst first within a node."""
        groups: dict[int, tuple[str, list[Episode]]] = {}
        for e in self.timeline.episodes:  # already worst first
            groups.setdefault(e.node.index, (e.node.label, []))[1].append(e)
        return [groups[i] for i in sorted(groups)]


def _when(run: RunPoint) -> str:
    return run.started_at.strftime("%Y-%m-%d %H:%M")


def _at(run: RunPoint | None) -> str | None:
    return run.started_at.isoformat(timespec="seconds") if run else None


# ---------------------------------------------------------------------------
# text


def render_text(view: HistoryView) -> str:
    """Plain text for the terminal: the trend per run, then per node each finding's dates."""
    lines = [f"dicomaudit history of {view.store}: {view.headline}"]
    if view.timeline.trend:
        lines += ["", "Open findings at each run (UTC; a finding stays open until a run sees its check pass)"]
        head = ["run", "started", "nodes", *(s.value for s in SEVERITIES), "accepted", "not re-verified"]
        rows = [
            [
                f"{t.run.id}{'*' if t.run.incomplete else ''}",
                _when(t.run),
                str(t.nodes_probed),
                *(str(t.open[s]) for s in SEVERITIES),
                str(t.accepted),
                str(t.not_reverified),
            ]
            for t in view.timeline.trend
        ]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            lines.append(
                "  ".join(
                    cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))
                )
            )
        if any(t.run.incomplete for t in view.timeline.trend):
            lines.append("* interrupted run (incomplete): its unfinished checks neither open nor fix a finding")
    groups = view.by_node()
    if groups:
        lines += ["", "Findings per node (worst first)"]
        width = max(len(e.check) for _, eps in groups for e in eps)
        for label, episodes in groups:
            lines.append(label)
            for e in episodes:
                lines.append(f"  {e.severity.value:<8}  {e.check:<{width}}  {_episode_line(e)}")
    elif view.timeline.runs:
        lines += ["", "No finding in these runs."]
    return scrub("\n".join(lines)) + "\n"


def _episode_line(e: Episode) -> str:
    parts = [f"appeared {e.appeared}"]
    if e.waived:
        parts.append(f"waived {e.waived}" + (f" ({e.waiver_reason})" if e.waiver_reason else ""))
    if e.fixed:
        parts.append(f"fixed {e.fixed}")
    else:
        parts.append("ACCEPTED" if e.state is EpisodeState.ACCEPTED else "OPEN")
        if e.unverified_since:
            parts.append(f"not re-verified since {e.unverified_since}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# JSON


def history_dict(view: HistoryView) -> dict[str, Any]:
    return {
        "schema": JSON_SCHEMA,
        "tool": {"name": "dicomaudit", "version": __version__},
        "store": view.store,
        "generated_at": view.generated_at.isoformat(timespec="seconds"),
        "runs_stored": view.runs_stored,
        "filters": view.filters,
        **view.timeline.to_dict(),
    }


def render_json(view: HistoryView) -> str:
    return json_text(history_dict(view))


# ---------------------------------------------------------------------------
# CSV


def episodes_frame(view: HistoryView) -> pd.DataFrame:
    """One row per finding episode (appearance, waiver, fix dates), worst first."""
    rows = []
    for e in view.timeline.episodes:
        d = e.to_dict()
        rows.append(
            {
                "node_name": e.node.name,
                "address": e.node.address,
                "host": d["host"],
                "port": d["port"],
                "called_aet": d["called_aet"],
                "url": e.node.target.url,
                "check_id": e.check,
                "severity": e.severity.value,
                "title": e.title,
                "state": e.state.value,
                "appeared_at": _at(e.appeared),
                "appeared_run": e.appeared.id,
                "waived_at": _at(e.waived),
                "waived_run": e.waived.id if e.waived else None,
                "waiver_reason": e.waiver_reason,
                "fixed_at": _at(e.fixed),
                "fixed_run": e.fixed.id if e.fixed else None,
                "unverified_since": _at(e.unverified_since),
                "unverified_since_run": e.unverified_since.id if e.unverified_since else None,
                "last_failing_at": _at(e.failing[-1]) if e.failing else None,
                "runs_failing": len(e.failing),
            }
        )
    frame = pd.DataFrame(rows, columns=EPISODE_COLUMNS)
    for col in ("port", "appeared_run", "waived_run", "fixed_run", "unverified_since_run", "runs_failing"):
        frame[col] = frame[col].astype("Int64")  # whole numbers, empty where none (not 2.0 / NaN)
    return frame.map(defuse)


def trend_frame(view: HistoryView) -> pd.DataFrame:
    """One row per run: the findings open at that run by severity, accepted, not re-verified."""
    rows = [
        {
            "run": t.run.id,
            "started_at": _at(t.run),
            "incomplete": t.run.incomplete,
            "nodes_probed": t.nodes_probed,
            **{f"open_{s.value}": t.open[s] for s in SEVERITIES},
            "open_total": t.open_total,
            "accepted": t.accepted,
            "not_reverified": t.not_reverified,
        }
        for t in view.timeline.trend
    ]
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def render_csv(view: HistoryView) -> str:
    return str(episodes_frame(view).to_csv(index=False, lineterminator="\n"))


# ---------------------------------------------------------------------------
# HTML


@cache
def _environment() -> Environment:
    # The report's own stylesheet (dicomaudit/output/templates/report.css) is included as is.
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("dicomaudit.history", "templates"), PackageLoader("dicomaudit.output", "templates")]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def trend_chart(trend: Sequence[TrendPoint]) -> Any:
    """Open findings per run (newest last), stacked by severity, accepted risks hatched."""
    shown = list(trend)[-MAX_ROWS:]  # the chart draws at most MAX_ROWS rows: the latest runs
    series = [s.value for s in SEVERITIES] + ["accepted"]
    rows = [
        (
            f"{_when(t.run)} · run {t.run.id}{' (interrupted)' if t.run.incomplete else ''}",
            {**{s.value: t.open[s] for s in SEVERITIES}, "accepted": t.accepted},
        )
        for t in shown
    ]
    notes = {
        label: "no open finding"
        for (label, _), t in zip(rows, shown, strict=True)
        if not t.open_total and not t.accepted
    }
    return stacked_bar_chart(
        rows, series, title="Open findings at each run, by severity", chart_id="trend", notes=notes
    )


def render_html(view: HistoryView) -> str:
    """One self-contained page: the trend chart and table, then every finding's dates per node."""
    trend = view.timeline.trend
    return scrub(
        _environment()
        .get_template("history.html.j2")
        .render(
            view=view,
            chart=trend_chart(trend) if trend else None,
            chart_rows=MAX_ROWS,
            severities=SEVERITIES,
            states=EpisodeState,
            version=__version__,
        )
    )


RENDERERS = {"text": render_text, "csv": render_csv, "html": render_html, "json": render_json}


def render(view: HistoryView, fmt: str) -> str:
    """``view`` in one of :data:`FORMATS`."""
    try:
        return RENDERERS[fmt](view)
    except KeyError:
        raise ValueError(f"unknown history format {fmt!r} (expected one of: {', '.join(FORMATS)})") from None


def write(view: HistoryView, fmt: str, out: str | Path) -> list[Path]:
    """Write ``view`` to ``out``: a file, or a folder (existing, or given as text ending in a separator).

    In a folder the file is ``history.<ext>``; the CSV format also writes
    ``trend.csv`` there (one row per run).
    """
    text = render(view, fmt)
    folder = Path(out).is_dir() or (isinstance(out, str) and out.endswith(("/", os.sep)))
    path = Path(out) / FILE_NAMES[fmt] if folder else Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    written = [path]
    if folder and fmt == "csv":
        trend = path.parent / "trend.csv"
        trend.write_text(str(trend_frame(view).to_csv(index=False, lineterminator="\n")), encoding="utf-8")
        written.append(trend)
    return written
