"""The Markdown report: the HTML report's structure, as text for tickets, wikis and diffs.

Markdown has no autoescape, so the environment *finalizes* every ``{{ }}``
expression through :func:`md_escape`: a hostile AE title or evidence string
cannot open a table cell, a link, emphasis or raw HTML.  Template-authored
markup that must pass through unescaped is wrapped in :class:`Raw`.  The
rendered document passes through :func:`~dicomaudit.textsafe.scrub` (no raw
control character, always UTF-8).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from dicomaudit.models import RunResult
from dicomaudit.output.view import SEVERITIES, STATE_LABELS, ReportView, build_view
from dicomaudit.report import WaiverResult
from dicomaudit.textsafe import scrub

PHI_ROWS_IN_MARKDOWN = 500

# The punctuation that opens markup anywhere in a line (emphasis, code, links, table cells,
# strikethrough).  "(" "!" "#" "+" "-" matter only after "]" or at a line start, and no value
# is written at a line start by the template, so they stay readable.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


class Raw(str):
    """Text the template produced on purpose (fences, badges): not escaped again."""


def md_escape(value: Any) -> str:
    """Escape a value for inline Markdown (also safe inside a table cell).

    Backslash-escapes CommonMark punctuation, turns ``<``/``>``/``&`` into
    entities (no raw HTML), and folds newlines into spaces.
    """
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return ""
    text = str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.split())


def code_block(text: str, lang: str = "") -> Raw:
    """A fenced code block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return Raw(f"{fence}{lang}\n{text}\n{fence}")


def code_span(text: Any) -> Raw:
    """Inline code for identifiers; falls back to escaped text when a backtick or newline would break the span."""
    text = str(text)
    if "`" in text or "\n" in text or not text:
        return Raw(md_escape(text))
    return Raw(f"`{text}`")


def _state(state: str) -> Raw:
    return Raw(f"**{STATE_LABELS[state]}**")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("dicomaudit.output", "templates"),
        autoescape=False,
        finalize=md_escape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["codeblock"] = code_block
    env.filters["code"] = code_span
    env.filters["raw"] = Raw
    env.globals["state"] = _state
    return env


def render_markdown(view: ReportView) -> str:
    """Render a :class:`ReportView` as a Markdown document (GitHub-flavoured tables)."""
    text = _environment().get_template("report.md.j2").render(
        view=view, severities=SEVERITIES, state_labels=STATE_LABELS, phi_limit=PHI_ROWS_IN_MARKDOWN
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def write_markdown(
    result: RunResult,
    path: str | Path,
    waivers: WaiverResult | None = None,
    *,
    generated_at: datetime | None = None,
) -> Path:
    """Write the Markdown report for ``result`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub(render_markdown(build_view(result, waivers, generated_at=generated_at))), encoding="utf-8")
    return path
