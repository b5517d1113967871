"""Policy notes for the terminal: waivers that expired or matched nothing.

``probe --waivers`` and ``report --waivers`` call :func:`print_waiver_notes`
with the outcome of :func:`~dicomaudit.policy.apply_waivers`, on stderr: an
expired waiver silently turning a finding back on, or a mistyped one
silently waiving nothing, is exactly what an operator must see at once.
Plain lines, one per waiver, never wrapped and never read as Rich markup
(node values and reasons come from a file).
"""

from __future__ import annotations

from rich.console import Console

from dicomaudit.policy import WaiverResult
from dicomaudit.textsafe import scrub


def waiver_notes(applied: WaiverResult | None) -> list[str]:
    """One plain line per expired or unused waiver (empty when there is nothing to say)."""
    if applied is None:
        return []
    lines = []
    for e in applied.expired:
        w = e.waiver
        where = f" ({w.origin})" if w.origin else ""
        if e.findings:
            hits = ", ".join(str(k) for k in e.findings)
            effect = f"{len(e.findings)} finding(s) count again: {hits}"
        else:
            effect = "it covered no failing finding in this run"
        lines.append(f"waiver expired on {w.expires.isoformat()}{where}: {w.node} {w.check}; {effect}")
    for w in applied.unused:
        where = f" ({w.origin})" if w.origin else ""
        lines.append(
            f"waiver unused{where}: {w.node} {w.check} (until {w.expires.isoformat()}) matched no failing finding "
            "(fixed, not in this run, or mistyped node)"
        )
    return [scrub(line) for line in lines]


def print_waiver_notes(console: Console, applied: WaiverResult | None) -> None:
    """Print :func:`waiver_notes` on ``console`` (give it the stderr console), one unwrapped line each."""
    for line in waiver_notes(applied):
        console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
