"""Server-side SVG charts: valid XML, escaped labels, counts in text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dicomaudit.output.charts import MAX_ROWS, bar_chart, stacked_bar_chart

NS = {"svg": "http://www.w3.org/2000/svg"}


def test_stacked_bar_is_valid_svg_with_counts() -> None:
    svg = stacked_bar_chart(
        [("node-a", {"critical": 2, "high": 1}), ("node-b", {})], ["critical", "high"], title="Exposures"
    )
    root = ET.fromstring(str(svg))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "2" in texts and "1" in texts and "node-a" in texts
    assert len(root.findall(".//svg:rect[@class='seg seg-critical']", NS)) == 1


def test_hostile_label_is_escaped() -> None:
    svg = str(bar_chart([("<script>alert(1)</script>", 3)], title="PHI"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)


def test_many_rows_are_capped_and_said() -> None:
    rows = [(f"n{i}", {"high": 1}) for i in range(MAX_ROWS + 5)]
    svg = str(stacked_bar_chart(rows, ["high"], title="x"))
    assert "5 more node(s) not drawn" in svg


def test_empty_chart_says_so() -> None:
    assert "no identifying values found" in str(bar_chart([], title="PHI", empty_text="no identifying values found"))
