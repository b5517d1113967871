"""Terminal rendering: a progress bar while scanning, a results table after.

Only masked values ever reach the terminal (findings arrive masked from the
analyzer unless ``--show-values`` was given).  Names from the file system are
printed escaped (:func:`dicomaudit.textsafe.safe_text`: no control character,
no byte that is not UTF-8) and never as Rich markup (a file may be called
``[bold]x.dcm``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import CheckResult, RunResult, Status, Target, TargetResult
from dicomaudit.textsafe import safe_text, scrub

if TYPE_CHECKING:
    from dicomaudit.phi import AnalysisResult

STATUS_STYLE = {
    Status.FAIL: "bold red",
    Status.PASS: "green",
    Status.ERROR: "yellow",
    Status.SKIPPED: "dim",
    Status.INFO: "cyan",
}


def scan_with_progress(console: Console, targets: Sequence[Target], settings: ProbeSettings,
                       show: bool) -> list[TargetResult]:
    """Run the scanner, showing a progress bar (one step per check) when ``show``."""
    from dicomaudit.scanner import scan

    if not show:
        return scan(targets, settings)
    total = len(targets) * len(load_catalogue())
    lock = threading.Lock()
    with Progress(TextColumn("[bold]probing[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("", total=total)

        def on_progress(target: Target, check_id: str | None, result: CheckResult | None) -> None:
            with lock:
                if check_id is None:
                    progress.update(task, description=f"done {target}")
                else:
                    progress.update(task, advance=1, description=f"{target} {check_id}")

        return scan(targets, settings, progress=on_progress)


def analyze_with_progress(console: Console, paths: Sequence[Path], *, show_values: bool, workers: int | None,
                          show: bool) -> AnalysisResult:
    """Run the PHI analyzer, with a progress bar (files done / total) when ``show``."""
    from dicomaudit.phi import analyze_paths

    if not show:
        return analyze_paths(paths, show_values=show_values, workers=workers)
    with Progress(TextColumn("[bold]analysing[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return analyze_paths(paths, show_values=show_values, workers=workers, progress=on_progress)


def print_phi_summary(console: Console, analysis: AnalysisResult, written: Sequence[Path] = ()) -> None:
    """Findings per category (with severity), then unreadable inputs."""
    from dicomaudit.phi import CATEGORY_SEVERITY, summarize_severity

    table = Table(title="identifying data found (values masked)", title_justify="left")
    table.add_column("category")
    table.add_column("typical severity")
    table.add_column("findings", justify="right")
    for category, count in analysis.summary().items():
        sev = CATEGORY_SEVERITY.get(category)
        table.add_row(str(category), getattr(sev, "value", str(sev or "")),
                      Text(str(count), style="bold red" if count else "dim"))
    console.print(table)
    by_sev = {k: v for k, v in summarize_severity(analysis.findings).items() if v}
    console.print(f"{analysis.files_scanned} file(s) analysed, {analysis.files_with_findings} with identifying "
                  f"data, {len(analysis.findings)} finding(s)"
                  + (" (" + ", ".join(f"{n} {s}" for s, n in by_sev.items()) + ")" if by_sev else "")
                  + f", {len(analysis.errors)} unreadable input(s)")
    for e in analysis.errors[:10]:
        # Sources and reasons arrive escaped; scrub again so that an InputError
        # built elsewhere cannot put a control character on the terminal.
        console.print(Text(shown(console, f"  not analysed: {scrub(e.source)}: {scrub(e.error)}"), style="yellow"))
    if len(analysis.errors) > 10:
        console.print(Text(f"  ... and {len(analysis.errors) - 10} more (see the JSON 'errors')", style="yellow"))
    print_written(console, written)


def print_written(console: Console, written: Sequence[Path]) -> None:
    """``wrote <path>`` per file: the path escaped for the terminal and for Rich markup."""
    for path in written:
        console.print(f"wrote {escape(shown(console, safe_text(path)))}", soft_wrap=True)


def shown(console: Console, text: str) -> str:
    """``text`` with what the console's encoding cannot carry as ``\\uNNNN`` (``\\UNNNNNNNN``).

    A terminal set to ASCII or Latin-1 would otherwise fail on a CJK file
    name with UnicodeEncodeError (exit status 3) when the summary is printed.
    """
    encoding = console.encoding
    try:
        text.encode(encoding)
        return text
    except LookupError:  # an encoding Python does not know: nothing to go by
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode(encoding)
            out.append(char)
        except UnicodeEncodeError:
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
    return "".join(out)


def _status_text(status: Status) -> Text:
    return Text(status.value.upper() if status is Status.FAIL else status.value, style=STATUS_STYLE[status])


def print_summary(console: Console, result: RunResult, written: Sequence[Path] = ()) -> None:
    """The verdicts (checks x targets, or targets x checks for large fleets), then what failed and why."""
    ids = list(load_catalogue())
    table = Table(title="dicomaudit results", title_justify="left")
    if len(result.targets) <= 4:
        table.add_column("check", no_wrap=True)
        for tr in result.targets:
            table.add_column(str(tr.target) + (f"\n{tr.target.name}" if tr.target.name else ""), justify="center")
        by_target = [{c.id: c for c in tr.checks} for tr in result.targets]
        for cid in ids:
            table.add_row(cid, *[_status_text(m[cid].status) if cid in m else Text("-") for m in by_target])
    else:
        table.add_column("target", no_wrap=True)
        for cid in ids:
            table.add_column(cid.replace(".", ".\n", 1), justify="center")
        for tr in result.targets:
            by_id = {c.id: c for c in tr.checks}
            table.add_row(str(tr.target), *[_status_text(by_id[c].status) if c in by_id else Text("-") for c in ids])
    console.print(table)

    notable = [(tr.target, c) for tr in result.targets for c in tr.checks
               if c.status in (Status.FAIL, Status.ERROR)]
    for target, c in notable:
        line = Text()
        line.append(f"{c.status.value.upper():5} ", style=STATUS_STYLE[c.status])
        line.append(f"{c.severity.value:8} " if c.status is Status.FAIL else " " * 9)
        line.append(f"{target} ", style="bold")
        line.append(f"{c.id}: ", style=STATUS_STYLE[c.status])
        if c.reason_code is not None:
            line.append(f"[{c.reason_code.value}] ", style=STATUS_STYLE[c.status])
        line.append(c.summary)
        console.print(line)

    for tr in result.targets:
        for warning in tr.warnings:
            console.print(Text(f"warning: {tr.target}: {warning}", style="bold yellow"))

    counts = Counter(c.status for _, c in result.all_checks)
    fails = Counter(c.severity.value for _, c in result.all_checks if c.status is Status.FAIL)
    parts = [f"{len(result.targets)} target(s)", f"{counts[Status.FAIL]} fail", f"{counts[Status.PASS]} pass",
             f"{counts[Status.ERROR]} error", f"{counts[Status.SKIPPED]} skipped"]
    console.print(", ".join(parts) + (" (" + ", ".join(f"{n} {s}" for s, n in fails.items()) + ")" if fails else ""))
    phi = result.all_phi
    if phi:
        by_cat = Counter(p.category for p in phi)
        console.print("PHI exposed: " + ", ".join(f"{n} {c}" for c, n in by_cat.most_common()) +
                      " (values masked)")
    print_written(console, written)
