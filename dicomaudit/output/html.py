"""The HTML report: one self-contained file (inline CSS and SVG, no script, no external fetch).

Rendered with Jinja2 with autoescaping on: node labels, AE titles, evidence
and PHI values are data from the network or from files and are escaped
everywhere; only the SVG charts (escaped by ElementTree) are inserted as
markup.  The rendered document passes through
:func:`~dicomaudit.textsafe.scrub` (no raw control character, always UTF-8).

Laid out for print as much as for the screen: the first pages are what a
compliance officer signs (summary, findings to act on with their owners,
compliance statement); the per-node detail follows, with the raw evidence
collapsed (and left out on paper: it is in ``result.json``).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from dicomaudit.acceptance.judge import read_judgement
from dicomaudit.output.charts import bar_chart, stacked_bar_chart
from dicomaudit.output.view import (
    BADGE_SYMBOLS,
    EXPOSURE_SEVERITIES,
    SEVERITIES,
    ReportView,
    build_view,
    category_label,
)
from dicomaudit.policy import Assessment, Verdict
from dicomaudit.textsafe import scrub

PHI_ROWS_IN_HTML = 500  # beyond this the HTML points to phi.csv: a report must stay openable
FILES_IN_SUMMARY = 15  # files with identifying data listed on the summary page


_PATH_SLASH = re.compile(r"(?<!/)/(?!/)")  # a "/" of a path, not of "://"


def breakable(text: object) -> Markup:
    """``text`` escaped, with a line-break opportunity after each path "/": an address or URL in a narrow
    table cell then wraps between its parts, never inside one (and does not squeeze the column)."""
    return Markup(_PATH_SLASH.sub("/<wbr>", str(escape(text))))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("dicomaudit.output", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["category"] = category_label
    env.filters["breakable"] = breakable
    return env


def render_html(view: ReportView) -> str:
    """Render a :class:`ReportView` as one HTML document."""
    series = [s.value for s in EXPOSURE_SEVERITIES] + [Verdict.ACCEPTED.value]
    rows = [
        (
            node.title,
            {
                **{s.value: n for s, n in node.open_by_severity.items()},
                Verdict.ACCEPTED.value: node.counts[Verdict.ACCEPTED],
            },
        )
        for node in view.nodes
    ]
    notes = {
        n.title: f"no exposure confirmed: {n.counts[Verdict.ERROR]} check(s) undecided"
        for n in view.nodes
        if n.counts[Verdict.ERROR] and not n.open_count and not n.counts[Verdict.ACCEPTED]
    }
    charts = {
        "exposures": stacked_bar_chart(
            rows, series, title="Exposures by node and severity", chart_id="exposures", notes=notes
        ),
        "phi": bar_chart(
            [(category_label(c), n) for c, n in view.summary.phi_by_category.items()],
            title="PHI findings by category",
            empty_text="no identifying values found",
        ),
    }
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            view=view,
            charts=charts,
            severities=SEVERITIES,
            exposure_severities=EXPOSURE_SEVERITIES,
            verdicts=Verdict,
            symbols={v.value: s for v, s in BADGE_SYMBOLS.items()},
            phi_limit=PHI_ROWS_IN_HTML,
            files_in_summary=FILES_IN_SUMMARY,
            judgement=read_judgement(view.result),  # role policies (probe --role/--policy), or None
        )
    )


def write_html(assessment: Assessment, path: str | Path, *, generated_at: datetime | None = None) -> Path:
    """Write the HTML report of ``assessment`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub(render_html(build_view(assessment, generated_at=generated_at))), encoding="utf-8")
    return path
