"""The HTML report: one self-contained file (inline CSS and SVG, no script, no external fetch).

Rendered with Jinja2 with autoescaping on: node labels, AE titles, evidence
and PHI values are data from the network or from files and are escaped
everywhere; only the SVG charts (escaped by ElementTree) are inserted as
markup.  The rendered document passes through
:func:`~dicomaudit.textsafe.scrub` (no raw control character, always UTF-8).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from dicomaudit.models import RunResult, Severity
from dicomaudit.output.charts import bar_chart, stacked_bar_chart
from dicomaudit.output.view import SEVERITIES, STATE_LABELS, ReportView, build_view
from dicomaudit.report import WaiverResult
from dicomaudit.textsafe import scrub

PHI_ROWS_IN_HTML = 500  # beyond this the HTML points to phi.csv: a report must stay openable


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("dicomaudit.output", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(view: ReportView) -> str:
    """Render a :class:`ReportView` as one HTML document."""
    exposure_series = [s.value for s in SEVERITIES if s is not Severity.INFO] + ["accepted"]
    rows = [
        (node.label, {**{s.value: n for s, n in node.open_by_severity.items()}, "accepted": node.states["accepted"]})
        for node in view.nodes
    ]
    charts = {
        "exposures": stacked_bar_chart(
            rows,
            exposure_series,
            title="Exposures by node and severity",
            chart_id="exposures",
            notes={n.label: f"no exposure confirmed: {n.states['error']} check(s) undecided"
                   for n in view.nodes if n.states["error"] and not n.open_count and not n.states["accepted"]},
        ),
        "phi": bar_chart(list(view.summary.phi_by_category.items()), title="PHI findings by category",
                         empty_text="no identifying values found"),
    }
    return _environment().get_template("report.html.j2").render(
        view=view,
        charts=charts,
        severities=SEVERITIES,
        state_labels=STATE_LABELS,
        phi_limit=PHI_ROWS_IN_HTML,
    )


def write_html(
    result: RunResult,
    path: str | Path,
    waivers: WaiverResult | None = None,
    *,
    generated_at: datetime | None = None,
) -> Path:
    """Write the HTML report for ``result`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub(render_html(build_view(result, waivers, generated_at=generated_at))), encoding="utf-8")
    return path
