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

from dicomaudit.acceptance.judge import read_judgement
from dicomaudit.output.view import EXPOSURE_SEVERITIES, SEVERITIES, ReportView, build_view, category_label
from dicomaudit.policy import Assessment, Verdict
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


def _verdict(verdict: Verdict) -> Raw:
    return Raw(f"**{verdict.label}**")


@cache
def markdown_environment() -> Environment:
    """The Jinja2 environment of every Markdown output: each ``{{ }}`` is escaped unless :class:`Raw`."""
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
    env.filters["category"] = category_label
    env.globals["verdict_label"] = _verdict
    return env


def render_markdown(view: ReportView) -> str:
    """Render a :class:`ReportView` as a Markdown document (GitHub-flavoured tables)."""
    text = (
        markdown_environment()
        .get_template("report.md.j2")
        .render(
            view=view,
            severities=SEVERITIES,
            exposure_severities=EXPOSURE_SEVERITIES,
            verdicts=Verdict,
            phi_limit=PHI_ROWS_IN_MARKDOWN,
            judgement=read_judgement(view.result),  # role policies (probe --role/--policy), or None
        )
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def write_markdown(assessment: Assessment, path: str | Path, *, generated_at: datetime | None = None) -> Path:
    """Write the Markdown report of ``assessment`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub(render_markdown(build_view(assessment, generated_at=generated_at))), encoding="utf-8")
    return path
