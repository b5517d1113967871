"""Server-side SVG charts for the HTML report: no JavaScript, no external assets.

Built with :mod:`xml.etree.ElementTree`, which escapes every text node and
attribute, so a hostile node label (an AE title is attacker-influenced data)
cannot break out of the SVG.  Colours get darker with severity so that the
bars still read in greyscale print, and every segment carries its count as
text: colour is never the only cue.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from markupsafe import Markup

from dicomaudit.models import Severity

# Fill, text colour on it: luminance falls monotonically from info to critical.
SEVERITY_COLOURS: dict[str, tuple[str, str]] = {
    Severity.CRITICAL.value: ("#6b0f1a", "#ffffff"),
    Severity.HIGH.value: ("#b8420f", "#ffffff"),
    Severity.MEDIUM.value: ("#e8a317", "#111111"),
    Severity.LOW.value: ("#f6e3a1", "#111111"),
    Severity.INFO.value: ("#dde7f3", "#111111"),
    "accepted": ("url(#{prefix}-hatch)", "#111111"),
}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
MAX_ROWS = 40
_LABEL_CHARS = 34


def _svg(width: int, height: int, title: str, desc: str) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": "100%",
            "role": "img",
            "font-family": FONT,
            "font-size": "12",
            "class": "chart",
        },
    )
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "desc").text = desc
    return svg


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, "text", {"x": f"{x:g}", "y": f"{y:g}", **attrs})
    el.text = text
    return el


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _to_markup(svg: ET.Element) -> Markup:
    # ElementTree has escaped every text and attribute value: the string is safe to embed.
    return Markup(ET.tostring(svg, encoding="unicode", short_empty_elements=True))


def stacked_bar_chart(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    series: Sequence[str],
    *,
    title: str,
    chart_id: str = "exposures",
    width: int = 760,
    notes: Mapping[str, str] | None = None,
) -> Markup:
    """Horizontal stacked bars, one row per label, one segment per series.

    Parameters
    ----------
    rows
        ``(label, {series name: count})`` in display order; only the first
        :data:`MAX_ROWS` rows are drawn (the caption says so).
    series
        Series names in stacking order; colours from :data:`SEVERITY_COLOURS`.
    notes
        ``{label: text}`` written inside an empty bar, e.g. "8 checks undecided":
        a node without exposures is not the same as a node that could not be assessed.
    """
    shown = list(rows)[:MAX_ROWS]
    label_w, count_w, row_h, top = 250, 50, 26, 34
    bar_w = width - label_w - count_w - 10
    legend_y = top + max(len(shown), 1) * row_h + 16
    height = legend_y + 34 + (18 if len(rows) > MAX_ROWS else 0)
    totals = [sum(counts.get(s, 0) for s in series) for _, counts in shown]
    scale_max = max([*totals, 1])
    desc = "; ".join(
        f"{label}: " + (", ".join(f"{counts.get(s, 0)} {s}" for s in series if counts.get(s, 0)) or "none")
        for label, counts in shown
    )
    svg = _svg(width, height, title, desc)
    defs = ET.SubElement(svg, "defs")
    pattern = ET.SubElement(
        defs,
        "pattern",
        {
            "id": f"{chart_id}-hatch",
            "width": "6",
            "height": "6",
            "patternUnits": "userSpaceOnUse",
            "patternTransform": "rotate(45)",
        },
    )
    ET.SubElement(pattern, "rect", {"width": "6", "height": "6", "fill": "#ffffff"})
    ET.SubElement(
        pattern, "line", {"x1": "0", "y1": "0", "x2": "0", "y2": "6", "stroke": "#555555", "stroke-width": "2"}
    )
    _text(svg, 0, 18, title, **{"font-size": "14", "font-weight": "600"})
    if not shown:
        _text(svg, label_w, top + 17, "no nodes in this run", fill="#555555")
    for i, ((label, counts), total) in enumerate(zip(shown, totals, strict=True)):
        y = top + i * row_h
        row = ET.SubElement(svg, "g")
        ET.SubElement(row, "title").text = f"{label}: {total} finding(s)"
        _text(row, label_w - 8, y + 17, _short(label), **{"text-anchor": "end"})
        ET.SubElement(
            row, "rect", {"x": str(label_w), "y": f"{y + 3}", "width": f"{bar_w}", "height": "20", "fill": "#f4f4f4"}
        )
        x = float(label_w)
        for s in series:
            n = counts.get(s, 0)
            if not n:
                continue
            w = bar_w * n / scale_max
            fill, ink = SEVERITY_COLOURS.get(s, ("#888888", "#ffffff"))
            ET.SubElement(
                row,
                "rect",
                {
                    "x": f"{x:.1f}",
                    "y": f"{y + 3}",
                    "width": f"{w:.1f}",
                    "height": "20",
                    "fill": fill.format(prefix=chart_id),
                    "stroke": "#ffffff",
                    "stroke-width": "1",
                    "class": f"seg seg-{s}",
                },
            )
            if w >= 16:
                halo = {"stroke": "#ffffff", "stroke-width": "3", "paint-order": "stroke"} if s == "accepted" else {}
                _text(
                    row,
                    x + w / 2,
                    y + 17,
                    str(n),
                    **{"text-anchor": "middle", "fill": ink, "font-weight": "600", **halo},
                )
            x += w
        _text(row, label_w + bar_w + 8, y + 17, str(total), fill="#333333")
        if note := (notes or {}).get(label):
            _text(row, label_w + 8, y + 17, note, fill="#555555", **{"font-style": "italic"})
    lx = float(label_w)
    for s in series:
        fill, _ = SEVERITY_COLOURS.get(s, ("#888888", "#ffffff"))
        ET.SubElement(
            svg,
            "rect",
            {
                "x": f"{lx}",
                "y": f"{legend_y}",
                "width": "14",
                "height": "14",
                "fill": fill.format(prefix=chart_id),
                "stroke": "#333333",
                "stroke-width": "0.5",
            },
        )
        _text(svg, lx + 19, legend_y + 12, s)
        lx += 34 + 7.5 * len(s)
    if len(rows) > MAX_ROWS:
        _text(
            svg,
            label_w,
            legend_y + 32,
            f"{len(rows) - MAX_ROWS} more node(s) not drawn; see the tables below.",
            fill="#555555",
        )
    return _to_markup(svg)


def bar_chart(
    rows: Sequence[tuple[str, int]],
    *,
    title: str,
    width: int = 760,
    fill: str = "#2f3e55",
    empty_text: str = "nothing to show",
) -> Markup:
    """Horizontal bars with the count written beside each bar."""
    shown = list(rows)[:MAX_ROWS]
    label_w, count_w, row_h, top = 250, 50, 24, 34
    bar_w = width - label_w - count_w - 10
    height = top + max(len(shown), 1) * row_h + 14
    scale_max = max([n for _, n in shown] + [1])
    svg = _svg(width, height, title, "; ".join(f"{label}: {n}" for label, n in shown) or empty_text)
    _text(svg, 0, 18, title, **{"font-size": "14", "font-weight": "600"})
    if not shown:
        _text(svg, label_w, top + 15, empty_text, fill="#555555")
    for i, (label, n) in enumerate(shown):
        y = top + i * row_h
        row = ET.SubElement(svg, "g")
        ET.SubElement(row, "title").text = f"{label}: {n}"
        _text(row, label_w - 8, y + 15, _short(label), **{"text-anchor": "end"})
        w = bar_w * n / scale_max
        ET.SubElement(
            row, "rect", {"x": str(label_w), "y": f"{y + 3}", "width": f"{w:.1f}", "height": "17", "fill": fill}
        )
        _text(row, label_w + w + 6, y + 15, str(n), fill="#333333")
    return _to_markup(svg)
