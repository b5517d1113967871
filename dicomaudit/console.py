"""Terminal rendering: a progress bar while scanning, a readable summary after.

Everything fits an 80-column terminal whatever the number of targets: the
verdicts are a table with one row per target and one short symbol per check
(a legend names the checks and the symbols), then one block per target with
what failed (worst first) and what could not be decided (with its reason
code), then one line of totals.  ``-q`` prints only that line.

Identifying values reach the terminal only with ``--show-values`` (findings
arrive masked from the analyzer otherwise), and the summary says which of
the two it shows.  Names from the file system or an inventory and text from
the network are printed escaped (:func:`dicomaudit.textsafe.safe_text`,
:func:`~dicomaudit.textsafe.scrub`: no control character, no byte that is
not UTF-8) and never as Rich markup (a file may be called ``[bold]x.dcm``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from dicomaudit.checks.base import RUN_LEVEL_SKIPS, ProbeSettings
from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import CheckResult, PhiFinding, RunResult, Severity, Status, Target, TargetResult
from dicomaudit.textsafe import safe_text, scrub

if TYPE_CHECKING:
    from dicomaudit.fleet.inventory import Listing
    from dicomaudit.phi import AnalysisResult
    from dicomaudit.scanner import ScanMonitor

STATUS_STYLE = {
    Status.FAIL: "bold red",
    Status.PASS: "green",
    Status.ERROR: "yellow",
    Status.SKIPPED: "dim",
    Status.INFO: "cyan",
}

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}

#: One character per verdict in the table: a failed check shows its severity.
FAIL_SYMBOL = {Severity.CRITICAL: "C", Severity.HIGH: "H", Severity.MEDIUM: "M", Severity.LOW: "L", Severity.INFO: "I"}
STATUS_SYMBOL = {Status.PASS: ".", Status.ERROR: "E", Status.SKIPPED: "s", Status.INFO: "i"}
LEGEND = (
    "fail: C critical  H high  M medium  L low  I info",
    ". pass  E error (undecided)  s skipped  i info  - not run",
)

#: At most this many errors (analyze) and identifying values (--show-values) are listed on the console.
MAX_LISTED_ERRORS = 10
MAX_LISTED_VALUES = 50
#: The target column of the verdict table needs at least this much room; below it, counts replace symbols.
_MIN_TARGET_WIDTH = 24


def one_line(text: object) -> str:
    """``text`` scrubbed (no control character) and on one line."""
    return " ".join(scrub(str(text)).split())


class _LiveColumn(ProgressColumn):
    """What the run is doing now, read from the scanner's monitor at every refresh (not only when a check ends)."""

    def __init__(self, monitor: ScanMonitor, console: Console) -> None:
        super().__init__()
        self.monitor = monitor
        self.console = console

    def render(self, task: Task) -> Text:
        m = self.monitor
        parts = []
        if m.sweep is None and m.swept:
            parts.append(f"swept {m.swept}")
        parts.append(f"{m.in_flight} in flight")
        silent = m.silent_so_far()
        if silent:
            parts.append(f"{silent} silent")
        slow = m.slowest(1)
        if slow and slow[0][3] >= 2.0:
            target, what, in_step, _ = slow[0]
            parts.append(f"slowest {target} {what} {in_step:.0f}s")
        return Text(shown(self.console, one_line(" · ".join(parts))), style="dim")


def scan_with_progress(
    console: Console,
    targets: Sequence[Target],
    settings: ProbeSettings,
    show: bool,
    *,
    listings: Sequence[Listing | None] | None = None,
    known_open: Sequence[bool] | None = None,
    monitor: ScanMonitor | None = None,
) -> list[TargetResult]:
    """Run the scanner, showing a progress bar (targets done) and what is slow and why, when ``show``.

    The first Ctrl-C is acknowledged at once on ``console`` (the scanner then
    winds down and raises :class:`~dicomaudit.scanner.ScanInterrupted`).
    """
    from dicomaudit.scanner import ScanMonitor, scan

    monitor = monitor or ScanMonitor(len(targets))

    def on_interrupt() -> None:
        console.print(
            "stopping: writing the results gathered so far (Ctrl-C again to quit at once)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    kw = {"listings": listings, "known_open": known_open, "monitor": monitor}
    if not show:
        return scan(targets, settings, on_interrupt=on_interrupt, **kw)  # type: ignore[arg-type]
    with Progress(
        TextColumn("[bold]probing[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        _LiveColumn(monitor, console),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(targets))
        finished = threading.Event()

        def follow() -> None:
            while not finished.wait(0.2):
                progress.update(task, completed=monitor.done)

        threading.Thread(target=follow, name="dicomaudit-progress", daemon=True).start()
        try:
            return scan(targets, settings, on_interrupt=on_interrupt, **kw)  # type: ignore[arg-type]
        finally:
            finished.set()


def analyze_with_progress(
    console: Console,
    paths: Sequence[Path],
    *,
    show_values: bool,
    workers: int | None,
    show: bool,
    on_interrupt: Callable[[], None] | None = None,
    regions: Sequence[str] = (),
    extra_roles: Sequence[Path] = (),
    **engine: Any,
) -> AnalysisResult:
    """Run the PHI analyzer, with a progress line when ``show``: files done, files/s, and the total and ETA
    once the (streamed) listing has finished.

    ``on_interrupt`` is called at the first Ctrl-C; the analyzer then raises
    :class:`~dicomaudit.phi.AnalysisInterrupted` with what it gathered.
    ``engine`` (``scheduler``, ``parquet``, ``checkpoint``, ``connect_timeout``)
    goes to :func:`~dicomaudit.phi.analyze_paths` as is.
    """
    from dicomaudit.phi import analyze_paths

    if not show:
        return analyze_paths(
            paths,
            show_values=show_values,
            workers=workers,
            on_interrupt=on_interrupt,
            regions=regions,
            extra_roles=list(extra_roles) or None,
            **engine,
        )
    with Progress(
        TextColumn("[bold]analysing[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def on_progress(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        return analyze_paths(
            paths,
            show_values=show_values,
            workers=workers,
            progress=on_progress,
            on_interrupt=on_interrupt,
            regions=regions,
            extra_roles=list(extra_roles) or None,
            **engine,
        )


class _RateColumn(ProgressColumn):
    """Files per second (Rich's own speed estimate, over its recent updates)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} files/s" if speed else "", style="progress.data.speed")


# -- analyze -----------------------------------------------------------------
def _severity_counts(severities: Iterable[Severity]) -> str:
    """``2 critical, 1 high`` -- worst first, only those present."""
    counts = Counter(severities)
    return ", ".join(f"{counts[s]} {s.value}" for s in sorted(counts, reverse=True))


def analysis_line(analysis: AnalysisResult) -> str:
    """One line: files analysed, with findings, findings by severity, unreadable, skipped, not analysed."""
    by_sev = ", ".join(f"{n} {sev}" for sev, n in analysis.severities().items() if n)
    line = (
        f"{analysis.files_scanned} file(s) analysed, {analysis.files_with_findings} with identifying data, "
        f"{analysis.findings_count} finding(s)"
        + (f" ({by_sev})" if by_sev else "")
        + f", {len(analysis.errors)} unreadable input(s)"
    )
    if analysis.skipped:
        line += f", {len(analysis.skipped)} skipped (not DICOM)"
    if analysis.resumed:
        line += f", {analysis.resumed} from the checkpoint"
    if analysis.interrupted:
        line += f"; interrupted: {analysis.not_analysed} file(s) not analysed"
    return line


def print_phi_summary(console: Console, analysis: AnalysisResult, written: Sequence[Path] = ()) -> None:
    """Findings per category (worst severity first), the values when shown, the totals, unreadable inputs."""
    from dicomaudit.phi import CATEGORY_SEVERITY
    from dicomaudit.phi.categories import Category

    shown_how = "values shown: --show-values" if analysis.show_values else "values masked"
    table = Table(title=f"identifying data found ({shown_how})", title_justify="left")
    table.add_column("category")
    table.add_column("typical severity")
    table.add_column("findings", justify="right")
    rows = [
        (category, count, CATEGORY_SEVERITY.get(Category(category))) for category, count in analysis.summary().items()
    ]
    rows.sort(key=lambda row: row[2].rank if row[2] is not None else -1, reverse=True)
    for category, count, sev in rows:
        table.add_row(
            Text(one_line(category)),
            Text(getattr(sev, "value", str(sev or ""))),
            Text(str(count), style="bold red" if count else "dim"),
        )
    console.print(table)
    if analysis.show_values and analysis.findings:
        _print_values(console, analysis.findings)
    console.print(Text(shown(console, analysis_line(analysis))))
    for e in analysis.errors[:MAX_LISTED_ERRORS]:
        # Sources and reasons arrive escaped; scrub again so that an InputError
        # built elsewhere cannot put a control character on the terminal.
        console.print(Text(shown(console, f"  not analysed: {scrub(e.source)}: {scrub(e.error)}"), style="yellow"))
    if len(analysis.errors) > MAX_LISTED_ERRORS:
        console.print(
            Text(
                f"  ... and {len(analysis.errors) - MAX_LISTED_ERRORS} more unreadable input(s) "
                "(all of them under 'errors' in the result JSON, --json FILE)",
                style="yellow",
            )
        )
    print_written(console, written)


def _print_values(console: Console, findings: Sequence[PhiFinding]) -> None:
    """Where each identifying value is and the value itself (``--show-values`` only).

    Grouped by source (in input order), worst severity first within a
    source; at most :data:`MAX_LISTED_VALUES` lines, then how many more.
    """
    console.print(Text("identifying values (--show-values):", style="bold"))
    by_source: dict[str, list[PhiFinding]] = {}
    for f in findings:
        by_source.setdefault(f.source, []).append(f)
    listed = 0
    for source, found in by_source.items():
        if listed >= MAX_LISTED_VALUES:
            break
        console.print(Text(shown(console, one_line(source)), style="bold"), overflow="fold")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, min_width=8)
        grid.add_column(overflow="fold", max_width=max(12, console.width // 2 - 10))
        grid.add_column(overflow="fold", ratio=1)
        for f in sorted(found, key=lambda f: f.severity, reverse=True)[: MAX_LISTED_VALUES - listed]:
            grid.add_row(
                Text("  " + f.severity.value, style=SEVERITY_STYLE[f.severity]),
                Text(shown(console, one_line(f.path))),
                Text(shown(console, one_line(f.value))),
            )
            listed += 1
        console.print(grid)
    if len(findings) > listed:
        console.print(
            Text(
                f"  ... and {len(findings) - listed} more value(s) "
                "(all of them in the result JSON or CSV: --json FILE, --csv FILE)"
            )
        )


# -- written files -----------------------------------------------------------
def print_written(console: Console, written: Sequence[Path]) -> None:
    """``wrote <path>`` per file: the path escaped for the terminal and for Rich markup."""
    for path in written:
        console.print(f"wrote {escape(shown(console, safe_text(path)))}", soft_wrap=True)


def print_one_line(console: Console, line: str, written: Sequence[Path] = ()) -> None:
    """``line`` plus ``; wrote a, b`` on one line, whatever the width (``-q``: for scripts and logs)."""
    if written:
        line += "; wrote " + ", ".join(safe_text(p) for p in written)
    console.print(Text(shown(console, line)), soft_wrap=True)


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


# -- probe -------------------------------------------------------------------
def _symbol(check: CheckResult | None) -> Text:
    if check is None:
        return Text("-", style="dim")
    if check.status is Status.FAIL:
        return Text(FAIL_SYMBOL[check.severity], style=SEVERITY_STYLE[check.severity])
    return Text(STATUS_SYMBOL[check.status], style=STATUS_STYLE[check.status])


def _check_ids(result: RunResult) -> list[str]:
    """The checks that ran, in catalogue order (ids the catalogue does not know last)."""
    # A check skipped for the whole run (not asked for, no inventory, no --guess-aet) gets no column.
    present = {c.id for _, c in result.all_checks if not (c.status is Status.SKIPPED and c.summary in RUN_LEVEL_SKIPS)}
    ordered = [cid for cid in load_catalogue() if cid in present]
    return ordered + sorted(present - set(ordered))


def _target_cell(console: Console, tr: TargetResult) -> Text:
    cell = Text(shown(console, one_line(tr.target)))
    if tr.target.name:
        cell.append("\n" + shown(console, one_line(tr.target.name)), style="dim")
    return cell


def probe_line(result: RunResult) -> str:
    """``3 target(s): 7 fail (2 critical, 2 high, ...), 6 pass, 8 error, 1 skipped, 2 info``.

    Fail, pass and error are always counted; skipped and info only when present.
    """
    counts = Counter(
        c.status for _, c in result.all_checks if not (c.status is Status.SKIPPED and c.summary in RUN_LEVEL_SKIPS)
    )
    fails = _severity_counts(c.severity for _, c in result.all_checks if c.status is Status.FAIL)
    parts = [
        f"{counts[Status.FAIL]} fail" + (f" ({fails})" if fails else ""),
        f"{counts[Status.PASS]} pass",
        f"{counts[Status.ERROR]} error",
    ]
    parts += [f"{counts[s]} {s.value}" for s in (Status.SKIPPED, Status.INFO) if counts[s]]
    line = f"{len(result.targets)} target(s): " + ", ".join(parts)
    if result.run.incomplete:
        line += " (interrupted: incomplete)"
    return line


def discover_line(result: RunResult) -> str:
    """``swept 5000 endpoint(s) in 1.4 s: 250 open, 240 speak DICOM (12 not on the inventory, 1 listed missing)``."""
    stats = result.run.stats or {}
    sweep = (stats.get("phases") or {}).get("sweep") or {}
    listeners = sum(1 for tr in result.targets if _assessed(tr) and not tr.target.is_web)
    web = sum(1 for tr in result.targets if _assessed(tr) and tr.target.is_web)

    def count(check_id: str, status: Status) -> int:
        return sum(1 for tr in result.targets for c in tr.checks if c.id == check_id and c.status is status)

    line = (
        f"swept {sweep.get('endpoints', 0)} endpoint(s) in {sweep.get('seconds', 0):.1f} s: "
        f"{sweep.get('open', 0)} open, {listeners} answer DICOM"
    )
    if web or any(tr.target.is_web for tr in result.targets):
        line += f", {web} answer HTTP"
    unlisted, missing = count("inventory.unlisted", Status.FAIL), count("inventory.missing", Status.INFO)
    if any(c.id == "inventory.unlisted" and c.status is not Status.SKIPPED for tr in result.targets for c in tr.checks):
        line += f" ({unlisted} not on the inventory, {missing} listed but not answering)"
    if result.run.incomplete:
        line += " (interrupted: incomplete)"
    return line


def _verdict_table(console: Console, result: RunResult, ids: list[str]) -> None:
    """Targets as rows, one symbol per check (numbered columns, legend below); counts if that cannot fit."""
    width = len(str(len(ids)))
    fits = _MIN_TARGET_WIDTH + len(ids) * (width + 1) <= console.width  # a column: its number, one space
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 1),
        title=f"dicomaudit results: {len(result.targets)} target(s)",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("target", overflow="fold", ratio=1, min_width=min(_MIN_TARGET_WIDTH, console.width // 2))
    if fits:
        for i in range(len(ids)):
            table.add_column(str(i + 1), justify="center", no_wrap=True)
        for tr in result.targets:
            by_id = {c.id: c for c in tr.checks}
            table.add_row(_target_cell(console, tr), *[_symbol(by_id.get(cid)) for cid in ids])
        console.print(table)
        legend = Table.grid(padding=(0, 2))
        entries = [f"{i + 1:>{width}} {cid}" for i, cid in enumerate(ids)]
        per_row = max(1, console.width // (max(map(len, entries), default=1) + 2))
        for _ in range(per_row):
            legend.add_column(no_wrap=True)
        for start in range(0, len(entries), per_row):
            row = entries[start : start + per_row]
            legend.add_row(*row, *[""] * (per_row - len(row)))
        console.print(legend)
        for line in LEGEND:
            console.print(Text(line, style="dim"))
        return
    for name in ("fail", "worst", "pass", "error", "skip"):
        table.add_column(name, justify="right", no_wrap=True)
    for tr in result.targets:
        counts = Counter(c.status for c in tr.checks)
        worst = max((c.severity for c in tr.checks if c.status is Status.FAIL), default=None)
        table.add_row(
            _target_cell(console, tr),
            str(counts[Status.FAIL]),
            Text(worst.value, style=SEVERITY_STYLE[worst]) if worst else Text("-", style="dim"),
            str(counts[Status.PASS]),
            str(counts[Status.ERROR]),
            str(counts[Status.SKIPPED]),
        )
    console.print(table)


def _target_block(console: Console, tr: TargetResult) -> None:
    """What failed on one target (worst first), what stayed undecided (with reason codes), its warnings."""
    order = {cid: i for i, cid in enumerate(load_catalogue())}
    fails = sorted(
        (c for c in tr.checks if c.status is Status.FAIL), key=lambda c: (-c.severity.rank, order.get(c.id, len(order)))
    )
    errors = [c for c in tr.checks if c.status is Status.ERROR]
    if not (fails or errors or tr.warnings):
        return
    header = Text(shown(console, one_line(tr.target)), style="bold")
    if tr.target.name:
        header.append("  " + shown(console, one_line(tr.target.name)), style="dim")
    console.print(header)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=10)  # "  critical", "  error", "  warning": the same in every block
    grid.add_column(overflow="fold", ratio=1)
    for c in fails:
        grid.add_row(
            Text(f"  {c.severity.value}", style=SEVERITY_STYLE[c.severity]),
            Text(shown(console, f"{c.id}: {one_line(c.summary)}")),
        )
    codes = {c.reason_code for c in errors}
    if len(errors) > 1 and len(errors) == len(tr.checks) and len(codes) == 1:
        # The node could not be assessed at all (unreachable, timed out): one line, not one per check.
        first = errors[0]
        code = f"[{first.reason_code.value}] " if first.reason_code is not None else ""
        grid.add_row(
            Text("  error", style=STATUS_STYLE[Status.ERROR]),
            Text(shown(console, f"{code}all {len(errors)} checks undecided: {one_line(first.summary)}")),
        )
    else:
        for c in errors:
            code = f"[{c.reason_code.value}] " if c.reason_code is not None else ""
            grid.add_row(
                Text("  error", style=STATUS_STYLE[Status.ERROR]),
                Text(shown(console, f"{code}{c.id}: {one_line(c.summary)}")),
            )
    for warning in tr.warnings:
        grid.add_row(Text("  warning", style="bold yellow"), Text(shown(console, one_line(warning)), style="yellow"))
    console.print(grid)


#: Above this many targets the console shows a fleet summary (per check, then the worst nodes), not one row each.
FLEET_ROWS = 40
#: How many nodes the fleet summary lists by name.
FLEET_LISTED = 15


def _assessed(tr: TargetResult) -> bool:
    """The endpoint gave a DICOM (or well-formed TLS) or HTTP answer, so its checks say something about it."""
    try:
        return tr.check("web.service" if tr.target.is_web else "dicom.service").status is Status.INFO
    except KeyError:
        return False


def _fleet_summary(console: Console, result: RunResult, assessed: list[TargetResult], ids: list[str]) -> None:
    """Many targets: how each check went across the fleet, the worst nodes, and why the rest were not assessed."""
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        title=f"dicomaudit results: {len(result.targets)} target(s), {len(assessed)} answered DICOM",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("check", overflow="fold", ratio=1)
    for name in ("fail", "pass", "error", "skip", "info"):
        table.add_column(name, justify="right", no_wrap=True)
    catalogue = load_catalogue()
    by_check: dict[str, Counter[Status]] = {}
    for tr in result.targets:  # one pass: 10,000 targets x 18 checks
        for c in tr.checks:
            by_check.setdefault(c.id, Counter())[c.status] += 1
    for cid in ids:
        counts = by_check.get(cid, Counter())
        if not counts or set(counts) == {Status.SKIPPED}:
            continue
        sev = catalogue[cid].severity if cid in catalogue else None
        label = Text(cid)
        if counts[Status.FAIL] and sev is not None:
            label.append(f" ({sev.value})", style=SEVERITY_STYLE[sev])
        table.add_row(
            label,
            *[
                Text(str(counts[s]), style=STATUS_STYLE[s] if counts[s] else "dim")
                for s in (Status.FAIL, Status.PASS, Status.ERROR, Status.SKIPPED, Status.INFO)
            ],
        )
    console.print(table)
    worst = sorted(
        (tr for tr in assessed if any(c.status is Status.FAIL for c in tr.checks)),
        key=lambda tr: (
            -max(c.severity.rank for c in tr.checks if c.status is Status.FAIL),
            -sum(c.status is Status.FAIL for c in tr.checks),
        ),
    )
    if worst:
        console.print(
            Text(f"worst nodes ({min(len(worst), FLEET_LISTED)} of {len(worst)} with findings):", style="bold")
        )
        for tr in worst[:FLEET_LISTED]:
            fails = [c for c in tr.checks if c.status is Status.FAIL]
            top = max(c.severity for c in fails)
            line = Text(f"  {top.value:<8} ", style=SEVERITY_STYLE[top])
            line.append(shown(console, one_line(f"{tr.target}: {len(fails)} finding(s): ")))
            line.append(shown(console, ", ".join(c.id for c in fails[:4]) + (" ..." if len(fails) > 4 else "")))
            console.print(line)
    unassessed = Counter(
        (c.reason_code.value if c.reason_code else "error", service_kind(c.summary))
        for tr in result.targets
        if not _assessed(tr)
        for c in tr.checks
        if c.id == "dicom.service"
    )
    if unassessed:
        console.print(Text("not assessed:", style="bold"))
        for (code, kind), n in unassessed.most_common():
            console.print(Text(f"  {n:>6}  [{code}] {kind}", style=STATUS_STYLE[Status.ERROR]))
    console.print(Text("every node's verdicts and evidence are in the report files", style="dim"))


def service_kind(summary: str) -> str:
    """The kind of a dicom.service error, without the per-node details (port numbers, timings)."""
    text = one_line(summary)
    for prefix, kind in (
        ("unreachable: TCP connection refused", "refused: nothing listens"),
        ("unreachable: TCP connect timed out", "no TCP answer (filtered or no host)"),
        ("the port accepts connections but never answered", "silent: accepts TCP, never answers an association"),
        ("the port answered, but not with well-formed DICOM", "answers, but not DICOM"),
    ):
        if text.startswith(prefix):
            return kind
    return text.split(":")[0]


def print_summary(console: Console, result: RunResult, written: Sequence[Path] = ()) -> None:
    """The verdict table, then per target what failed (worst first) and why, then the totals.

    Readable at 80 columns for any number of targets; identifying values
    from C-FIND responses are listed only when the run was asked to show
    them (``--show-values``: the result's settings say so).
    """
    ids = _check_ids(result)
    assessed = [tr for tr in result.targets if _assessed(tr)]
    if len(result.targets) <= FLEET_ROWS:
        _verdict_table(console, result, ids)
        for tr in result.targets:
            _target_block(console, tr)
    else:
        _fleet_summary(console, result, assessed, ids)
    console.print(Text(probe_line(result), style="bold"))
    phi = result.all_phi
    if phi:
        show_values = bool(result.run.settings.get("show_values"))
        by_cat = Counter(p.category for p in phi)
        console.print(
            Text(
                shown(
                    console,
                    "PHI exposed: "
                    + ", ".join(f"{n} {one_line(c)}" for c, n in by_cat.most_common())
                    + (" (values shown: --show-values)" if show_values else " (values masked)"),
                )
            )
        )
        if show_values:
            _print_values(console, phi)
    print_written(console, written)
