"""The ``diff`` command's output: terminal text or Markdown for a pull request or ticket.

Both are Jinja2 templates (``diff.txt.j2``, ``diff.md.j2``); the Markdown one
uses the report's escaping environment, so a hostile AE title cannot open a
table cell, a link or raw HTML.  Identifying data is summarised per category;
values are listed only on request (``show_phi``), and then as masked in the
results.  Lines are never wrapped here: the caller writes the text as is.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined

from dicomaudit.diff import Diff
from dicomaudit.output.markdown import markdown_environment
from dicomaudit.output.view import category_label
from dicomaudit.textsafe import scrub

SECTIONS = (
    ("new", "New findings (now failing)"),
    ("fixed", "Fixed (failed before, pass now)"),
    ("unverified", "Unverified (failed before, not confirmed fixed now)"),
    ("unchanged", "Still failing"),
)
PHI_SECTIONS = (
    ("phi_new", "New PHI findings"),
    ("phi_fixed", "PHI findings no longer seen"),
    ("phi_unverified", "PHI findings not verified (node's queries not decided in the new run)"),
)


@cache
def _text_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("dicomaudit.output", "templates"),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["category"] = category_label
    return env


def headline(diff: Diff) -> str:
    return (
        f"{len(diff.new)} new, {len(diff.fixed)} fixed, {len(diff.unverified)} unverified, "
        f"{len(diff.unchanged)} still failing; PHI: {len(diff.phi_new)} new, {len(diff.phi_fixed)} gone, "
        f"{len(diff.phi_unchanged)} unchanged"
        + (f", {len(diff.phi_unverified)} unverified" if diff.phi_unverified else "")
    )


def render_diff(diff: Diff, fmt: Literal["text", "markdown"] = "text", *, show_phi: bool = False) -> str:
    """Render a :class:`~dicomaudit.diff.Diff` for the terminal (``text``) or a ticket (``markdown``).

    ``show_phi`` lists every identifying value that appeared or disappeared
    (masked as in the results); by default only counts per category are shown.
    """
    if fmt == "markdown":
        env = markdown_environment()
        name = "diff.md.j2"
    elif fmt == "text":
        env = _text_environment()
        name = "diff.txt.j2"
    else:
        raise ValueError(f"unknown diff format {fmt!r} (expected text or markdown)")
    text = env.get_template(name).render(
        diff_headline=headline(diff),
        sections=[(title, getattr(diff, attr)) for attr, title in SECTIONS],
        phi_counts=diff.phi_by_category,
        phi_sections=[(title, getattr(diff, attr)) for attr, title in PHI_SECTIONS],
        show_phi=show_phi,
    )
    return scrub(text).rstrip() + "\n"
