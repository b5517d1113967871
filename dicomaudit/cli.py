"""The command line: a thin typer layer over the library.

Each command parses options, calls the library, renders the result.  Library
errors (:class:`UsageError`, :class:`~dicomaudit.targets.TargetError`,
``ValueError`` from input parsing) become a one-line message on stderr and
exit status 2 here, at the boundary, never a traceback.
"""

from __future__ import annotations

import logging
import os
import shlex
import ssl
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from dicomaudit import __version__
from dicomaudit.checks.base import ProbeSettings
from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import RunInfo, RunResult, Severity, Target
from dicomaudit.net.identity import DEFAULT_CALLING_AET, validate_aet
from dicomaudit.net.tls import TlsSettings
from dicomaudit.net.web import Credentials, WebSettings
from dicomaudit.targets import TargetError, dedupe_reporting, load_inventory_rows, parse_target
from dicomaudit.textsafe import safe_text

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="dicomaudit",
    help=(
        "DICOM/PACS exposure assessment for the imaging nodes you are responsible for.\n\n"
        "Use it only on systems you own or are authorised in writing to test."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class UsageError(Exception):
    """Bad usage or unusable input: exit status 2."""


def _fail_usage(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


def _severity_option(value: str | None) -> Severity | None:
    if value is None or value.lower() == "none":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _aet_option(value: str) -> str:
    try:
        return validate_aet(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _log_option(value: Path | None) -> Path | None:
    from dicomaudit import logs

    try:
        logs.configure(value)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write the log {value}: {exc.strerror or exc}") from None
    return value


def _command_line() -> str:
    return shlex.join(["dicomaudit", *map(safe_text, sys.argv[1:])])


# -- shared options ----------------------------------------------------------
CallingAet = Annotated[
    str,
    typer.Option(
        "--calling-aet",
        callback=_aet_option,
        show_default=True,
        help="The scanner's own AE title (should not be registered on the nodes).",
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.5,
        max=600,
        show_default=True,
        help="Seconds to wait for each network step (connect, association, reply).",
    ),
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", min=1, max=256, show_default=True, help="Targets probed at the same time.")
]
LogFile = Annotated[
    Path | None,
    typer.Option(
        "--log",
        metavar="FILE",
        callback=_log_option,
        help="Write a debug log (third-party warnings, tracebacks) to FILE.",
    ),
]
FailOnUndecided = Annotated[
    bool,
    typer.Option(
        "--fail-on-undecided",
        help="Also exit 1 when a check could not be decided (status error: an unreachable "
        "node, a timeout, a malformed answer), so a CI gate never passes silently.",
    ),
]
FailOn = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        metavar="SEVERITY",
        help="Exit 1 if a finding reaches this severity: info, low, medium, high, critical (default: none, always 0).",
    ),
]


Ports = Annotated[
    str | None,
    typer.Option(
        "--ports",
        metavar="LIST",
        help="Ports to sweep, e.g. 104,11112,4000-4010 (default: 104, 11112, 2761, 2762, 4242).",
    ),
]
WebPorts = Annotated[
    str | None,
    typer.Option(
        "--web-ports",
        metavar="LIST",
        help="Also sweep these ports for PACS web APIs / DICOMweb (e.g. 80,443,8042,8080,8443); listeners found "
        "there are probed as http:// (https:// on 443, 8443, 9443) web targets. Off by default.",
    ),
]
ScopeFile = Annotated[
    Path | None,
    typer.Option(
        "--scope",
        metavar="FILE",
        help="The networks this run is authorised for (one CIDR, address or a-b range per line); any target "
        "outside is refused before a packet is sent (exit 2). Recorded in every report.",
    ),
]
AllowPublic = Annotated[
    bool, typer.Option("--allow-public", help="Allow publicly routable addresses (refused by default).")
]
MaxInFlight = Annotated[
    int,
    typer.Option(
        "--max-in-flight", min=1, max=8192, show_default=True, help="TCP connects of the sweep open at the same time."
    ),
]
Rate = Annotated[
    float,
    typer.Option("--rate", min=0, show_default=True, help="New TCP connections per second in the sweep (0: no limit)."),
]
GuessAet = Annotated[
    bool,
    typer.Option(
        "--guess-aet",
        help="Try the documented default AE titles (and the inventory's): find a node's called AE title when it "
        "rejects the placeholder, and check whether an allow-list admits a default calling title. Logged in the "
        "evidence; off by default.",
    ),
]
#: Where --web-user's password comes from when stdin is not a terminal (CI, scripts).
WEB_PASSWORD_ENV = "DICOMAUDIT_WEB_PASSWORD"
WebUser = Annotated[
    str | None,
    typer.Option(
        "--web-user",
        metavar="USER",
        help="User for an authorised, authenticated scan of web targets; the password comes from "
        f"${WEB_PASSWORD_ENV} or a prompt, never the command line. Sent only over verified HTTPS.",
    ),
]
CaBundle = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        metavar="PEM",
        help="CA certificates the endpoints' TLS certificates must chain to: judged by tls.certificate, and needed "
        "before --web-user's password is sent to an HTTPS server with a private CA.",
    ),
]
TryDefaultCredentials = Annotated[
    bool,
    typer.Option(
        "--try-default-credentials",
        help="Try the documented vendor default web credentials (e.g. Orthanc's orthanc/orthanc) where a web API "
        "asks for a password (web.default_credentials). Off by default; never any other guessing.",
    ),
]
AllowInsecureCredentials = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-credentials",
        help="Send --web-user's password over plain HTTP or to an HTTPS certificate that does not verify "
        "(anyone on the path can read it).",
    ),
]
GuessLimit = Annotated[
    int, typer.Option("--guess-limit", min=1, max=64, show_default=True, help="With --guess-aet: titles per node.")
]
GuessPause = Annotated[
    float,
    typer.Option("--guess-pause", min=0, max=60, show_default=True, help="With --guess-aet: seconds between tries."),
]
Intrusive = Annotated[
    bool,
    typer.Option(
        "--intrusive",
        help=(
            "Allow operations that write or retrieve: store one synthetic object; C-GET and C-MOVE one "
            "instance found by C-FIND (received objects are refused and discarded)."
        ),
    ),
]
TlsCert = Annotated[
    Path | None, typer.Option("--tls-cert", metavar="PEM", help="Client certificate to present to TLS nodes.")
]
TlsKey = Annotated[Path | None, typer.Option("--tls-key", metavar="PEM", help="Key of --tls-cert.")]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role",
        metavar="ROLE",
        help="Judge each node against the policy of this role (archive, modality, workstation, worklist, router, "
        "or a --policy file's name); an inventory 'role' column overrides it per node.",
    ),
]


def _scope_and_ranges(
    scope_file: Path | None, allow_public: bool, ranges: list[str] | None, targets: list[Target]
) -> tuple[Any, list[Any], dict[str, Any]]:
    """Parse ``--scope`` and the ranges, and refuse anything outside them before a packet is sent (exit 2)."""
    from dicomaudit.fleet.inventory import addresses_of
    from dicomaudit.fleet.ranges import RangeError, enforce_addresses, enforce_scope, load_scope, parse_ranges

    try:
        scope = load_scope(scope_file) if scope_file is not None else None
        parsed = parse_ranges(ranges) if ranges else []
        enforce_scope(parsed, scope, allow_public=allow_public)
        pairs = [(f"target {str(t)!r}", address) for t in targets for address in addresses_of(t.host)]
        enforce_addresses(pairs, scope, allow_public=allow_public)
    except RangeError as exc:
        raise _fail_usage(str(exc)) from None
    recorded: dict[str, Any] = {"file": None, "allow_public": allow_public}
    if scope is not None:
        recorded = {**scope.to_dict(), "allow_public": allow_public}
    return scope, parsed, recorded


def _port_list(ports: str | None, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
    from dicomaudit.fleet.ranges import DEFAULT_PORTS, RangeError, parse_ports

    if ports is None:
        return DEFAULT_PORTS if default is None else default
    try:
        return parse_ports(ports)
    except RangeError as exc:
        raise _fail_usage(str(exc)) from None


def _guess_names(given: list[tuple[str, Target]]) -> tuple[Any, ...]:
    """The inventory's own AE titles, tried first by --guess-aet: sites reuse their naming scheme."""
    from dicomaudit.fleet.aetitles import Candidate

    seen: dict[str, Any] = {}
    for where, t in given:
        if t.called_aet and t.called_aet not in seen:
            seen[t.called_aet] = Candidate(t.called_aet, f"from the inventory ({where})")
    return tuple(seen.values())


def _web_settings(
    web_user: str | None, ca_bundle: Path | None, try_default_credentials: bool, allow_insecure_credentials: bool
) -> WebSettings:
    """The web checks' settings; the password is read from the environment or a prompt, never from argv."""
    if ca_bundle is not None and not ca_bundle.is_file():
        raise _fail_usage(f"--ca-bundle {ca_bundle}: no such file")
    if ca_bundle is not None:
        try:
            ssl.create_default_context(cafile=str(ca_bundle))
        except (ssl.SSLError, ValueError) as exc:
            raise _fail_usage(f"--ca-bundle {ca_bundle}: not PEM CA certificates ({exc})") from None
    credentials = None
    if web_user is not None:
        password = os.environ.get(WEB_PASSWORD_ENV)
        if password is None:
            if not sys.stdin.isatty():
                raise _fail_usage(f"--web-user {web_user}: set {WEB_PASSWORD_ENV} (no terminal to ask the password on)")
            import getpass

            password = getpass.getpass(f"password for {web_user} (web targets): ")
        if not password:
            raise _fail_usage(f"--web-user {web_user}: empty password")
        credentials = Credentials(web_user, password)
    return WebSettings(
        credentials=credentials,
        ca_bundle=ca_bundle,
        try_default_credentials=try_default_credentials,
        allow_insecure_credentials=allow_insecure_credentials,
    )


def _tls_settings(tls_cert: Path | None, tls_key: Path | None) -> TlsSettings:
    if (tls_cert is None) != (tls_key is None):
        raise _fail_usage("--tls-cert and --tls-key go together")
    for p in (tls_cert, tls_key):
        if p is not None and not p.is_file():
            raise _fail_usage(f"{p}: no such file")
    tls = TlsSettings(client_cert=tls_cert, client_key=tls_key)
    if tls_cert is not None:
        try:
            tls.client_context()  # a certificate that does not load is bad input, found before any target
        except ssl.SSLError as exc:
            why = exc.reason or "not a PEM certificate with its matching private key"
            raise _fail_usage(f"--tls-cert/--tls-key: cannot load the client certificate ({why})") from None
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise _fail_usage(f"--tls-cert/--tls-key: cannot load the client certificate ({why})") from None
    return tls


def _emit_reports(
    result: RunResult,
    json_path: Path | None,
    out_dir: Path | None,
    *,
    formats: tuple[str, ...] | None = None,
    waivers: Any = None,
    junit: Path | None = None,
) -> list[Path]:
    from dicomaudit import output
    from dicomaudit.output.junit import write_junit
    from dicomaudit.policy import assess

    written: list[Path] = []
    try:
        if json_path is not None:
            written.append(output.write_json(result, json_path))
        if out_dir is not None:
            chosen = formats if formats else output.DEFAULT_FORMATS
            written.extend(output.write_reports(result, out_dir, chosen, waivers=waivers))
        if junit is not None:
            write_junit(assess(result, waivers), junit)
            written.append(junit)
    except OSError as exc:
        raise _fail_usage(
            f"cannot write reports: {exc.strerror or 'I/O error'} ({safe_text(str(exc.filename or ''))})"
        ) from None
    return written


def _load_waivers(path: Path | None) -> Any:
    if path is None:
        return None
    from dicomaudit.policy import WaiverError, load_waivers

    try:
        return load_waivers(path)
    except (WaiverError, OSError) as exc:
        raise _fail_usage(str(exc)) from None


def _apply_waivers(result: RunResult, waivers: Any, as_of: date | None = None) -> Any:
    if waivers is None:
        return None
    from dicomaudit.policy import apply_waivers

    return apply_waivers(result, waivers, as_of)


def _gate(result: RunResult, severity: Severity | None, applied: Any, *, undecided: bool = False) -> None:
    """Exit 1 when a finding that is not an accepted risk reaches ``--fail-on``,
    or (``--fail-on-undecided``) when a check could not be decided."""
    from dicomaudit.policy import blocking_findings, exit_code

    code = exit_code(result, severity, applied)
    if code:
        blockers = blocking_findings(result, severity, applied)  # type: ignore[arg-type]
        err.print(f"{len(blockers)} finding(s) at or above --fail-on {severity}: exit 1")
        raise typer.Exit(EXIT_FINDINGS)
    if undecided:
        open_questions = result.undecided()
        if open_questions:
            nodes = len({str(t) for t, _ in open_questions})
            err.print(
                f"{len(open_questions)} check(s) on {nodes} node(s) could not be decided (--fail-on-undecided): exit 1"
            )
            raise typer.Exit(EXIT_FINDINGS)


def _read_result(path: Path) -> RunResult:
    from dicomaudit.output import read_json

    try:
        return read_json(path)
    except FileNotFoundError:
        raise _fail_usage(f"{path}: no such file") from None
    except IsADirectoryError:
        raise _fail_usage(f"{path}: is a folder, not a result JSON") from None
    except UnicodeDecodeError:
        raise _fail_usage(f"{path}: not a dicomaudit result (not a UTF-8 text file)") from None
    except OSError as exc:
        raise _fail_usage(f"{path}: cannot read ({exc.strerror or 'I/O error'})") from None
    except ValueError as exc:
        raise _fail_usage(f"{path}: not a dicomaudit result ({str(exc).removeprefix(f'{path}: ')})") from None


# -- probe -------------------------------------------------------------------
@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit probe 127.0.0.1:4242/ORTHANC --json result.json\n\n"
        "  dicomaudit probe --targets sample_data/inventory.csv --out reports/today --fail-on high\n\n"
        "  dicomaudit probe pacs.example.org:11112/ARCHIVE --check find.unauthenticated --check find.phi_exposed"
    )
)
def probe(
    target: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TARGET...",
            show_default=False,
            help="HOST\\[:PORT]\\[/CALLED_AET] (port defaults to 104), or the http(s):// URL of a PACS web API "
            "or DICOMweb root.",
        ),
    ] = None,
    targets_file: Annotated[
        Path | None,
        typer.Option(
            "--targets",
            metavar="FILE",
            help="Inventory CSV with at least host,port,called_aet, or nmap XML output (-oX).",
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the result JSON here.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Write the full report set (JSON, HTML, Markdown, CSV) here."),
    ] = None,
    fail_on: FailOn = None,
    calling_aet: CallingAet = DEFAULT_CALLING_AET,
    timeout: Timeout = 10.0,
    concurrency: Concurrency = 8,
    check: Annotated[
        list[str] | None, typer.Option("--check", metavar="ID", help="Run only this check (repeatable); default: all.")
    ] = None,
    find_cap: Annotated[
        int,
        typer.Option(
            "--find-cap",
            min=1,
            max=1000,
            show_default=True,
            help="Read at most this many C-FIND matches per query, then C-CANCEL.",
        ),
    ] = 10,
    intrusive: Intrusive = False,
    listen_port: Annotated[
        int | None,
        typer.Option(
            "--listen-port",
            min=1,
            max=65535,
            metavar="PORT",
            help="With --intrusive: port of the scanner's storage SCP that receives the C-MOVE test (its AE title "
            "is --calling-aet).",
        ),
    ] = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    show_values: Annotated[
        bool, typer.Option("--show-values", help="Show identifying values unmasked (never the default).")
    ] = False,
    operator: Annotated[str | None, typer.Option("--operator", help="Who ran the audit (recorded in reports).")] = None,
    scope_ref: Annotated[
        str | None, typer.Option("--scope-ref", metavar="REF", help="Ticket or authorisation reference (recorded).")
    ] = None,
    waivers_path: Annotated[
        Path | None,
        typer.Option("--waivers", metavar="FILE", help="Accepted risks (TOML); waived findings do not gate."),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="FILE", help="Also write JUnit XML (one test case per node and check)."),
    ] = None,
    store_path: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="FILE",
            help="Also add this run to a results store for `dicomaudit history` (an SQLite file, created if "
            "missing; or a postgresql:// URL): one transaction per run, an interrupted run marked incomplete.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table: one line of totals.")] = False,
    fail_on_undecided: FailOnUndecided = False,
    discover_ranges: Annotated[
        list[str] | None,
        typer.Option(
            "--discover",
            metavar="RANGE",
            help="Also sweep this range (CIDR, a.b.c.d-e, host name or file; repeatable) on --ports and audit "
            "every DICOM listener found; with --targets, listeners not on it are reported (inventory.unlisted) "
            "and rows that do not answer too (inventory.missing).",
        ),
    ] = None,
    ports: Ports = None,
    web_ports: WebPorts = None,
    scope_file: ScopeFile = None,
    allow_public: AllowPublic = False,
    max_in_flight: MaxInFlight = 512,
    rate: Rate = 4000.0,
    guess_aet: GuessAet = False,
    guess_limit: GuessLimit = 12,
    guess_pause: GuessPause = 0.5,
    web_user: WebUser = None,
    ca_bundle: CaBundle = None,
    try_default_credentials: TryDefaultCredentials = False,
    allow_insecure_credentials: AllowInsecureCredentials = False,
    role: RoleOption = None,
    policy_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            help="A role policy (TOML; repeatable): its name is a role for --role and the inventory's role column, "
            "in place of a shipped policy of that name. Nodes not compliant with their role's policy exit 1.",
        ),
    ] = None,
    log: LogFile = None,
) -> None:
    """Run the network checks against each TARGET (your own nodes only)."""
    severity = _severity_option(fail_on)
    waivers = _load_waivers(waivers_path)
    try:
        given: list[tuple[str, Target]] = [(f"argument {i}", parse_target(t)) for i, t in enumerate(target or [], 1)]
        rows: list[tuple[int, Target]] = []
        if targets_file is not None:
            rows = read_targets_file(targets_file)
            given += [(f"{_source_name(targets_file)} line {n}", t) for n, t in rows]
    except TargetError as exc:
        raise _fail_usage(str(exc)) from None
    targets, duplicates = dedupe_reporting(given)
    for message in duplicates:  # reported, never dropped silently
        from dicomaudit.textsafe import scrub

        err.print(f"[yellow]warning:[/] {escape(scrub(message))}", soft_wrap=True)
    if not targets and not discover_ranges:
        raise _fail_usage("no targets: give TARGET... (HOST[:PORT][/CALLED_AET]), --targets FILE or --discover RANGE")
    _, ranges, scope_record = _scope_and_ranges(scope_file, allow_public, discover_ranges, targets)
    port_list = _port_list(ports)
    known = load_catalogue()
    if check:
        unknown = [c for c in check if c not in known]
        if unknown:
            raise _fail_usage(f"unknown check id(s): {', '.join(unknown)} (known: {', '.join(known)})")
    if listen_port is not None and not intrusive:
        raise _fail_usage("--listen-port only serves the intrusive C-MOVE test: give --intrusive too")
    roles = _role_plan(role, policy_files, given)  # a bad policy or unknown role is refused before any packet
    tls = _tls_settings(tls_cert, tls_key)
    settings = ProbeSettings(
        calling_aet=calling_aet,
        timeout=timeout,
        concurrency=concurrency,
        find_cap=find_cap,
        intrusive=intrusive,
        listen_port=listen_port,
        tls=tls,
        checks=tuple(check) if check else None,
        show_values=show_values,
        max_in_flight=max_in_flight,
        rate=rate,
        guess_aet=guess_aet,
        guess_limit=guess_limit,
        guess_pause=guess_pause,
        guess_names=_guess_names(given) if guess_aet else (),
        web=_web_settings(web_user, ca_bundle, try_default_credentials, allow_insecure_credentials),
    )
    store = _open_store(store_path)  # an unusable store is refused before a packet is sent, not after the run
    fleet = (
        _discover_plan(
            ranges, port_list, settings, targets, rows, targets_file, quiet=quiet, web_ports=_port_list(web_ports, ())
        )
        if ranges
        else None
    )
    result = run_probe(
        targets,
        settings,
        command=_command_line(),
        operator=operator,
        scope_ref=scope_ref,
        quiet=quiet,
        plan=fleet,
        scope=scope_record,
    )
    result = _judge(result, roles)
    applied = _apply_waivers(result, waivers)
    written = _emit_reports(result, json_path, out_dir, waivers=applied, junit=junit)
    written += _store_run(store, result, applied)
    from dicomaudit.console import print_one_line, print_summary, probe_line

    if quiet:
        print_one_line(out, probe_line(result), written)
    else:
        print_summary(out, result, written)
    from dicomaudit.output.terminal import print_waiver_notes

    print_waiver_notes(err, applied)
    _print_judgement(result, quiet=quiet)
    _interrupted_exit(result, written)
    _gate(result, severity, applied, undecided=fail_on_undecided)
    _policy_gate(result)


def run_probe(
    targets: list[Target],
    settings: ProbeSettings,
    *,
    command: str,
    operator: str | None = None,
    scope_ref: str | None = None,
    quiet: bool = False,
    plan: Any = None,
    scope: dict[str, Any] | None = None,
) -> RunResult:
    """Scan with a progress bar on a terminal; return the run's result with its per-phase figures.

    With a discovery ``plan`` (:class:`dicomaudit.fleet.discover.Plan`) its targets replace ``targets``,
    with what the inventory says about each and which the sweep already found open.
    """
    listings = known_open = swept = None
    if plan is not None:
        targets, listings, known_open, swept = list(plan.targets), plan.listings, plan.known_open, plan.sweep
    import time

    from dicomaudit.console import scan_with_progress
    from dicomaudit.scanner import ScanInterrupted, ScanMonitor, now_iso, run_stats

    started = now_iso()
    incomplete = False
    monitor = ScanMonitor(len(targets))
    t0 = time.monotonic()
    try:
        target_results = scan_with_progress(
            err,
            targets,
            settings,
            show=not quiet and err.is_terminal,
            listings=listings,
            known_open=known_open,
            monitor=monitor,
        )
    except ScanInterrupted as stopped:
        target_results, incomplete = stopped.results, True
    info = RunInfo(
        command=command,
        started_at=started,
        finished_at=now_iso(),
        settings=settings.to_dict(),
        operator=operator,
        scope_ref=scope_ref,
        incomplete=incomplete,
        scope=scope,
        stats=run_stats(monitor, time.monotonic() - t0, len(target_results), swept),
    )
    return RunResult(tool_version=__version__, run=info, targets=tuple(target_results))


def _source_name(path: Path) -> str:
    from dicomaudit.fleet.nmap import looks_like_nmap_xml

    kind = "nmap" if looks_like_nmap_xml(path) else "inventory"
    return f"{kind} {safe_text(path.name)}"


def read_targets_file(path: Path) -> list[tuple[int, Target]]:
    """An inventory CSV, or nmap's XML output (-oX: its open ports, with dicom-ping's results as attributes)."""
    from dicomaudit.fleet.nmap import load_nmap, looks_like_nmap_xml, to_targets

    if path.is_file() and looks_like_nmap_xml(path):
        return list(enumerate(to_targets(load_nmap(path)), start=1))
    return load_inventory_rows(path)


def _discover_plan(
    ranges: list[Any],
    ports: tuple[int, ...],
    settings: ProbeSettings,
    given: list[Target],
    rows: list[tuple[int, Target]],
    inventory: Path | None,
    *,
    quiet: bool,
    web_ports: tuple[int, ...] = (),
) -> Any:
    """Sweep the ranges (with a progress line on a terminal), then plan the targets: those given and the listeners.

    Only ``rows`` (the inventory file's, with their line numbers) make an
    endpoint listed; a target typed on the command line does not.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dicomaudit.fleet.discover import describe_sweep, find_open, plan
    from dicomaudit.fleet.inventory import Reconciliation
    from dicomaudit.fleet.sweep import PortProbe

    ports = tuple(dict.fromkeys(ports + web_ports))
    total = sum(len(r) for r in ranges) * len(ports)
    reconciliation = (
        Reconciliation(safe_text(inventory.name), rows, describe_sweep(ranges, ports))
        if inventory is not None
        else None
    )
    show = not quiet and err.is_terminal
    if not show:
        found, stats = find_open(
            ranges, ports, timeout=settings.timeout, max_in_flight=settings.max_in_flight, rate=settings.rate
        )
        return plan(found, stats, given, reconciliation, frozenset(web_ports))
    with Progress(
        TextColumn("[bold]sweeping[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)
        opened = [0]

        def on_result(probe: PortProbe) -> None:
            if probe.state.value == "open":
                opened[0] += 1
            progress.update(task, advance=1, description=f"{opened[0]} open")

        found, stats = find_open(
            ranges,
            ports,
            timeout=settings.timeout,
            max_in_flight=settings.max_in_flight,
            rate=settings.rate,
            on_result=on_result,
        )
    return plan(found, stats, given, reconciliation, frozenset(web_ports))


def _interrupted_exit(result: RunResult, written: list[Path]) -> None:
    """After a Ctrl-C the partial results are written; say so and exit 130 (CONTRACT)."""
    if result.run.incomplete:
        where = f" to {', '.join(str(p) for p in written[:1])}" if written else ""
        err.print(f"interrupted: the results gathered so far were written{where}, marked incomplete", soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED)


# -- role policies (probe --role/--policy) and accept ----------------------------------------------------------------
def _role_plan(role: str | None, policy_files: list[Path] | None, given: list[tuple[str, Target]]) -> Any:
    """The run's role policies, or ``None`` when nothing asks for a judgement; exit 2 on a bad policy or role."""
    from dicomaudit.acceptance.policy import PolicyError
    from dicomaudit.acceptance.roles import ROLE_COLUMN, RolePlan

    if role is None and not policy_files and not any(t.attributes.get(ROLE_COLUMN) for _, t in given):
        return None
    try:
        plan = RolePlan.load(role, policy_files or [])
        plan.assign(given)
    except PolicyError as exc:
        raise _fail_usage(str(exc)) from None
    return plan


def _judge(result: RunResult, plan: Any) -> RunResult:
    """The result with every node that has a role judged against its policy (``policy_judgement``)."""
    if plan is None:
        return result
    from dataclasses import replace

    from dicomaudit.acceptance.judge import judge_run
    from dicomaudit.acceptance.policy import PolicyError

    try:
        roles = plan.assign((str(t.target), t.target) for t in result.targets)
    except PolicyError as exc:  # discovered listeners carry no role column: only a conflict can land here
        raise _fail_usage(str(exc)) from None
    return replace(result, policy_judgement=judge_run(result.targets, roles).to_dict())


def _print_judgement(result: RunResult, *, quiet: bool) -> None:
    from dicomaudit.acceptance.judge import read_judgement
    from dicomaudit.output.acceptance import print_judgement

    judgement = read_judgement(result)
    if judgement is not None and not quiet:
        print_judgement(out, judgement)


def _policy_gate(result: RunResult) -> None:
    """Exit 1 when a judged node is non-compliant or undecided (``--role``/``--policy``; --fail-on is unchanged)."""
    from dicomaudit.acceptance.judge import read_judgement

    judgement = read_judgement(result)
    if judgement is None or not judgement.blocking:
        return
    shown = ", ".join(f"{n.label} ({n.verdict.value})" for n in judgement.blocking[:5])
    more = f" and {len(judgement.blocking) - 5} more" if len(judgement.blocking) > 5 else ""
    err.print(
        f"{len(judgement.blocking)} node(s) not compliant with their role policy: {escape(shown)}{more}: exit 1",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_FINDINGS)


def _device_targets(
    target: list[str] | None, targets_file: Path | None, node: str | None, name: str | None
) -> list[Target]:
    """The endpoints of the one device ``accept`` judges, all named alike so that they form one node."""
    from dataclasses import replace

    try:
        found = [parse_target(t) for t in target or []]
        if targets_file is not None:
            rows = [t for _, t in read_targets_file(targets_file)]
            if node is not None:
                rows = [t for t in rows if t.name == node]
                if not rows:
                    raise TargetError(f"{targets_file}: no row named {node!r}")
            nodes = list(dict.fromkeys(t.node_key for t in rows))
            if len(nodes) > 1:
                names = ", ".join(k.split(":", 1)[1] for k in nodes[:8])
                raise TargetError(f"{targets_file}: {len(nodes)} nodes ({names}); choose the device with --node NAME")
            found += rows
    except TargetError as exc:
        raise _fail_usage(str(exc)) from None
    if not found:
        raise _fail_usage(
            "no target: give the device's TARGET (HOST[:PORT][/CALLED_AET] and/or its web URL) or --targets"
        )
    label = name or next((t.name for t in found if t.name), None) or found[0].host
    attributes: dict[str, str] = {}
    for t in found:
        attributes.update(t.attributes)
    unique = {str(t): replace(t, name=label, attributes=attributes) for t in found}  # one endpoint given twice
    return list(unique.values())


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit accept 10.1.2.30:104/CT01 --role modality --manufacturer Acme --model CT-9 --serial 1234 "
        "--out reports/accept-ct01\n\n"
        "  dicomaudit accept 127.0.0.1:11113/DICOMLAB http://127.0.0.1:8043/dicom-web --role archive "
        "--policy site-archive.toml --guess-aet --try-default-credentials --tested-by 'J. Doe' --out reports/accept\n\n"
        "  dicomaudit accept --targets inventory.csv --node PACS-2 --role archive --out reports/accept-pacs2\n\n"
        "Exit status: 0 compliant; 1 non-compliant or undecided (never accepted); 2 unusable input."
    )
)
def accept(
    target: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TARGET...",
            show_default=False,
            help="The device: its DICOM port HOST\\[:PORT]\\[/CALLED_AET] and/or the http(s):// URL of its web API "
            "(endpoints of one device).",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            metavar="ROLE",
            show_default=False,
            help="The device's role: archive, modality, workstation, worklist or router (its shipped policy), "
            "or any name with --policy.",
        ),
    ] = "",
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", metavar="FILE", help="Judge against this policy (TOML) instead of the role's shipped one."
        ),
    ] = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out", metavar="DIR", show_default=True, help="Where to write the acceptance record."),
    ] = Path("reports/acceptance"),
    targets_file: Annotated[
        Path | None,
        typer.Option("--targets", metavar="FILE", help="Inventory CSV holding the device's row(s) (with --node)."),
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", metavar="NAME", help="With --targets: the inventory name of the device.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The device's name in the record (default: inventory name, or host).")
    ] = None,
    manufacturer: Annotated[str | None, typer.Option("--manufacturer", help="Recorded as given.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Recorded as given.")] = None,
    serial: Annotated[str | None, typer.Option("--serial", help="Serial number, recorded as given.")] = None,
    tested_by: Annotated[
        str | None, typer.Option("--tested-by", help="Who tested (left blank for signature when not given).")
    ] = None,
    approved_by: Annotated[
        str | None, typer.Option("--approved-by", help="Who approves (left blank for signature when not given).")
    ] = None,
    sign_date: Annotated[
        str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="Date of the sign-off (blank when not given).")
    ] = None,
    scope_ref: Annotated[
        str | None, typer.Option("--scope-ref", metavar="REF", help="Ticket or change reference (recorded).")
    ] = None,
    calling_aet: CallingAet = DEFAULT_CALLING_AET,
    timeout: Timeout = 10.0,
    intrusive: Intrusive = False,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    guess_aet: GuessAet = False,
    guess_limit: GuessLimit = 12,
    guess_pause: GuessPause = 0.5,
    web_user: WebUser = None,
    ca_bundle: CaBundle = None,
    try_default_credentials: TryDefaultCredentials = False,
    allow_insecure_credentials: AllowInsecureCredentials = False,
    scope_file: ScopeFile = None,
    allow_public: AllowPublic = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar: the verdict line only.")] = False,
    log: LogFile = None,
) -> None:
    """Pre-deployment acceptance record of one device against the policy of its role (your own devices only)."""
    from dataclasses import replace

    from dicomaudit.acceptance.judge import judge_run
    from dicomaudit.acceptance.policy import PolicyError, load_policy, load_role
    from dicomaudit.acceptance.record import Signoff, build_record
    from dicomaudit.output.acceptance import print_judgement, write_record

    if not role:
        raise _fail_usage("--role is required (archive, modality, workstation, worklist, router, or a --policy's role)")
    if sign_date is not None:
        try:
            date.fromisoformat(sign_date)
        except ValueError:
            raise _fail_usage(f"--date {sign_date!r} is not a date (YYYY-MM-DD)") from None
    try:
        policy = load_policy(policy_file) if policy_file is not None else load_role(role)
    except PolicyError as exc:
        raise _fail_usage(str(exc)) from None
    targets = _device_targets(target, targets_file, node, name)
    _scope_and_ranges(scope_file, allow_public, None, targets)
    settings = ProbeSettings(
        calling_aet=calling_aet,
        timeout=timeout,
        concurrency=max(1, len(targets)),
        intrusive=intrusive,
        tls=_tls_settings(tls_cert, tls_key),
        guess_aet=guess_aet,
        guess_limit=guess_limit,
        guess_pause=guess_pause,
        guess_names=_guess_names([("argument", t) for t in targets]) if guess_aet else (),
        web=_web_settings(web_user, ca_bundle, try_default_credentials, allow_insecure_credentials),
    )
    result = run_probe(targets, settings, command=_command_line(), operator=tested_by, scope_ref=scope_ref, quiet=quiet)
    judgement = judge_run(result.targets, {targets[0].node_key: (role, policy)})
    result = replace(result, policy_judgement=judgement.to_dict())
    record = build_record(
        result,
        judgement.nodes[0],
        policy,
        manufacturer=manufacturer,
        model=model,
        serial=serial,
        signoff=Signoff(tested_by=tested_by or "", approved_by=approved_by or "", date=sign_date or ""),
    )
    try:
        written = write_record(record, out_dir)
    except OSError as exc:
        raise _fail_usage(
            f"cannot write the record: {exc.strerror or 'I/O error'} ({safe_text(str(exc.filename or ''))})"
        ) from None
    from dicomaudit.console import print_one_line

    if not quiet:
        print_judgement(out, judgement)
    verdict = judgement.nodes[0].verdict
    print_one_line(out, f"{record.device.name} as {role}: {verdict.value}", written)
    _interrupted_exit(result, written)
    if verdict.value != "compliant":
        raise typer.Exit(EXIT_FINDINGS)


# -- discover ----------------------------------------------------------------
DISCOVER_CHECKS = ("inventory.unlisted", "inventory.missing", "dicom.service")


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit discover 10.20.0.0/16 --scope scope.txt --out reports/sweep\n\n"
        "  dicomaudit discover 10.20.1.10-250 --ports 104,11112 --inventory pacs.csv --csv found.csv\n\n"
        "  dicomaudit discover nets.txt --guess-aet --out reports/sweep && "
        "dicomaudit probe --targets reports/sweep/inventory.csv --out reports/audit"
    )
)
def discover(
    ranges: Annotated[
        list[str],
        typer.Argument(
            metavar="RANGE...",
            show_default=False,
            help="CIDR (10.0.0.0/24), a.b.c.d-e, a.b.c.d-w.x.y.z, host name, or a file with one per line.",
        ),
    ],
    ports: Ports = None,
    web_ports: WebPorts = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            metavar="FILE",
            help="Inventory CSV (host,port,called_aet) or nmap XML to reconcile against: listeners not on it are "
            "inventory.unlisted, rows that do not answer inventory.missing.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Write inventory.csv and the report set (JSON, HTML, MD, CSV) here."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the result JSON here.")
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write the inventory CSV here (probe --targets reads it as is)."),
    ] = None,
    scope_file: ScopeFile = None,
    allow_public: AllowPublic = False,
    calling_aet: CallingAet = DEFAULT_CALLING_AET,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.5, max=600, show_default=True, help="Seconds for each step (TCP connect, association)."
        ),
    ] = 5.0,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=1024, show_default=True, help="Open ports confirmed at once."),
    ] = 64,
    max_in_flight: MaxInFlight = 512,
    rate: Rate = 4000.0,
    guess_aet: GuessAet = False,
    guess_limit: GuessLimit = 12,
    guess_pause: GuessPause = 0.5,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", metavar="PEM", help="Client certificate to present to TLS nodes.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", metavar="PEM", help="Key of --tls-cert.")] = None,
    fail_on: FailOn = None,
    operator: Annotated[str | None, typer.Option("--operator", help="Who ran the sweep (recorded in reports).")] = None,
    scope_ref: Annotated[
        str | None, typer.Option("--scope-ref", metavar="REF", help="Ticket or authorisation reference (recorded).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table: one line of totals.")] = False,
    log: LogFile = None,
) -> None:
    """Find every DICOM listener (and, with --web-ports, PACS web API) in RANGE... (your own networks only) and write
    an inventory probe accepts."""
    severity = _severity_option(fail_on)
    port_list = _port_list(ports)
    web_port_list = _port_list(web_ports, default=())
    try:
        rows = read_targets_file(inventory) if inventory is not None else []
    except TargetError as exc:
        raise _fail_usage(str(exc)) from None
    _, parsed, scope_record = _scope_and_ranges(scope_file, allow_public, ranges, [t for _, t in rows])
    tls = _tls_settings(tls_cert, tls_key)
    given = [(f"{_source_name(inventory)} line {n}", t) for n, t in rows] if inventory is not None else []
    settings = ProbeSettings(
        calling_aet=calling_aet,
        timeout=timeout,
        concurrency=concurrency,
        tls=tls,
        checks=DISCOVER_CHECKS
        + (("assoc.any_calling_aet", "assoc.guessable_calling_aet") if guess_aet else ())
        + (("web.service",) if web_port_list or any(t.is_web for _, t in rows) else ()),
        max_in_flight=max_in_flight,
        rate=rate,
        guess_aet=guess_aet,
        guess_limit=guess_limit,
        guess_pause=guess_pause,
        guess_names=_guess_names(given) if guess_aet else (),
    )
    fleet = _discover_plan(
        parsed, port_list, settings, [t for _, t in rows], rows, inventory, quiet=quiet, web_ports=web_port_list
    )
    result = run_probe(
        [],
        settings,
        command=_command_line(),
        operator=operator,
        scope_ref=scope_ref,
        quiet=quiet,
        plan=fleet,
        scope=scope_record,
    )
    written = _emit_reports(result, json_path, out_dir)
    inventory_path = csv_path or (out_dir / "inventory.csv" if out_dir is not None else None)
    if inventory_path is not None:
        from dicomaudit.fleet.inventory import write_inventory

        try:
            write_inventory(inventory_path, result.targets)
        except OSError as exc:
            raise _fail_usage(f"cannot write {inventory_path}: {exc.strerror or 'I/O error'}") from None
        written.append(inventory_path)
    from dicomaudit.console import discover_line, print_one_line, print_summary

    if quiet:
        print_one_line(out, discover_line(result), written)
    else:
        print_summary(out, result, written)
        out.print(discover_line(result), markup=False, highlight=False, soft_wrap=True)
    _interrupted_exit(result, written)
    _gate(result, severity, None)


# -- demo --------------------------------------------------------------------
@app.command(epilog=("[bold]Examples[/]\n\n  dicomaudit demo\n\n  dicomaudit demo --out /tmp/demo-report"))
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", show_default=True, help="Where to write the report set.")
    ] = Path("reports/demo"),
    timeout: Timeout = 5.0,
    log: LogFile = None,
) -> None:
    """Start the built-in lab PACS on loopback (open, locked and TLS nodes, DICOM and DICOMweb), audit it, write the
    reports, stop it."""
    from dicomaudit.lab import LabPACS

    err.print(
        "[bold]dicomaudit demo[/]: starting three lab PACS nodes on 127.0.0.1 "
        "(profiles [red]open[/], [green]locked[/] and [green]tls[/]), each with a DICOM port and a DICOMweb root, "
        "seeded with synthetic studies"
    )
    with (
        LabPACS(profile="open", port=0, web_port=0) as open_lab,
        LabPACS(profile="locked", port=0, web_port=0) as locked_lab,
        LabPACS(profile="tls", port=0, web_port=0) as tls_lab,
    ):
        targets = []
        for lab, name in ((open_lab, "lab-open"), (locked_lab, "lab-locked"), (tls_lab, "lab-tls")):
            attributes = {"profile": lab.profile.name, "owner": "Lab (demo)"}
            # One node, two endpoints: the DICOM port and the DICOMweb root of the same lab PACS.
            targets.append(
                Target(host=lab.host, port=lab.port, called_aet=lab.ae_title, name=name, attributes=attributes)
            )
            assert lab.web_port is not None and lab.web_url is not None
            targets.append(Target(host=lab.host, port=lab.web_port, url=lab.web_url, name=name, attributes=attributes))
        # The TLS lab's certificates come from the lab's own throwaway CA: the site CA a real audit would pass.
        ca = tls_lab.tls_files.ca_cert if tls_lab.tls_files is not None else None
        settings = ProbeSettings(timeout=timeout, concurrency=3, web=WebSettings(ca_bundle=ca))
        result = run_probe(
            targets, settings, command=_command_line(), operator="dicomaudit demo", scope_ref="built-in lab on loopback"
        )
    written = _emit_reports(result, None, out_dir)
    from dicomaudit.console import print_summary

    print_summary(out, result, written)
    _interrupted_exit(result, written)
    err.print("The lab nodes were stopped. Open the HTML report in a browser, or read the JSON.")


# -- analyze -----------------------------------------------------------------
@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit analyze sample_data/ --json phi.json --csv phi.csv\n\n"
        "  dicomaudit analyze export/DICOMDIR incoming/ --out reports/export-check --fail-on high\n\n"
        "  dicomaudit analyze /archive --scheduler tcp://10.0.0.5:8786 --parquet /shared/phi "
        "--checkpoint phi.ckpt --out reports/archive\n\n"
        "  dicomaudit analyze release/ --scheduler local --workers 2 --parquet phi-parquet/ -q"
    )
)
def analyze(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", show_default=False, help="DICOM files, folders (recursive) or DICOMDIRs."),
    ],
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the result JSON here.")
    ] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", metavar="FILE", help="Write one CSV row per finding here.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Write the full report set (JSON, HTML, Markdown, CSV) here."),
    ] = None,
    show_values: Annotated[
        bool, typer.Option("--show-values", help="Show identifying values unmasked (never the default).")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, max=64, help="Processes to use (default: 1 for small inputs, else one per CPU)."
        ),
    ] = None,
    fail_on: FailOn = None,
    region: Annotated[
        list[str] | None,
        typer.Option(
            "--region",
            metavar="CC",
            help="Countries (ISO 3166, e.g. FR, DE or FR,DE; repeatable) whose national phone formats count in free "
            "text, on top of those each file's character set and addresses imply.",
        ),
    ] = None,
    roles: Annotated[
        list[Path] | None,
        typer.Option(
            "--roles",
            metavar="TOML",
            help="More role placeholders (values that are not people, e.g. ON^CALL) in the format of "
            "dicomaudit/phi/roles.toml; repeatable. Also: DICOMAUDIT_PHI_ROLES.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Run on Dask: tcp://HOST:PORT of a running scheduler (its workers need dicomaudit and the files), "
            "or 'local' to start a LocalCluster of --workers processes. Needs: pip install 'dicomaudit[dask]'.",
        ),
    ] = None,
    scheduler_timeout: Annotated[
        float,
        typer.Option("--scheduler-timeout", metavar="SECONDS", min=0.1, help="Time to reach the Dask scheduler."),
    ] = 10.0,
    parquet: Annotated[
        Path | None,
        typer.Option(
            "--parquet",
            metavar="DIR",
            help="Write findings and errors as partitioned Parquet (DIR/findings, DIR/errors; written by the "
            "workers, never gathered: for millions of findings); the JSON and reports then carry the summary.",
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Record what was analysed (SQLite); a rerun with the same FILE skips the files done and unchanged.",
        ),
    ] = None,
    operator: Annotated[str | None, typer.Option("--operator", help="Who ran the analysis (recorded).")] = None,
    scope_ref: Annotated[str | None, typer.Option("--scope-ref", metavar="REF", help="Ticket or reference.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table: one line of totals.")] = False,
    log: LogFile = None,
) -> None:
    """Find identifying data (PHI) in DICOM headers: names, IDs, dates, addresses, free text, private tags."""
    from dicomaudit.console import analysis_line, analyze_with_progress, print_one_line, print_phi_summary
    from dicomaudit.output.tables import write_phi_csv
    from dicomaudit.phi import AnalysisInterrupted, RolesFileError, normalize_regions, resolve_roles
    from dicomaudit.phi.checkpoint import CheckpointError
    from dicomaudit.phi.engines import EngineError
    from dicomaudit.phi.parquet import ParquetUnavailable
    from dicomaudit.scanner import now_iso

    severity = _severity_option(fail_on)
    started = now_iso()
    try:
        regions = normalize_regions(region or [])
    except ValueError as exc:
        raise _fail_usage(f"--region: {exc}") from None
    for path in roles or []:
        if not path.is_file():
            raise _fail_usage(f"--roles {path}: no such file")
    try:
        resolve_roles(list(roles) if roles else None)
    except RolesFileError as exc:
        raise _fail_usage(str(exc)) from None

    if parquet is not None and csv_path is not None:
        raise _fail_usage("--csv and --parquet: with --parquet the findings are in DIR/findings (read them from there)")

    def stopping() -> None:
        err.print("stopping: writing the results gathered so far (Ctrl-C again to quit at once)")

    try:
        analysis = analyze_with_progress(
            err,
            paths,
            show_values=show_values,
            workers=workers,
            show=not quiet and err.is_terminal,
            on_interrupt=stopping,
            regions=regions,
            extra_roles=roles or (),
            scheduler=scheduler,
            connect_timeout=scheduler_timeout,
            parquet=parquet,
            checkpoint=checkpoint,
        )
    except (EngineError, CheckpointError, ParquetUnavailable) as exc:
        raise _fail_usage(str(exc)) from None
    except OSError as exc:  # --parquet DIR or --checkpoint FILE cannot be created or written
        raise _fail_usage(
            f"cannot write: {exc.strerror or 'I/O error'} ({safe_text(str(exc.filename or ''))})"
        ) from None
    except AnalysisInterrupted as stopped:  # the first Ctrl-C: partial results, written below, then exit 130
        analysis = stopped.result
    except KeyboardInterrupt:  # a second Ctrl-C while stopping: at once, nothing written
        err.print("interrupted: stopped at once, nothing written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    settings: dict[str, Any] = {
        "paths": [safe_text(p) for p in paths],
        "show_values": show_values,
        "workers": workers,
        "regions": list(regions),
        "extra_roles": [safe_text(p) for p in roles or []],
        "files_skipped_not_dicom": len(analysis.skipped),
        **analysis.engine,
    }
    if parquet is not None:
        settings["parquet"] = safe_text(parquet)
    if checkpoint is not None:
        settings["checkpoint"] = safe_text(checkpoint)
        settings["files_from_checkpoint"] = analysis.resumed
    if analysis.interrupted:
        settings["files_not_analysed"] = analysis.not_analysed
    result = RunResult(
        tool_version=__version__,
        run=RunInfo(
            command=_command_line(),
            started_at=started,
            finished_at=now_iso(),
            settings=settings,
            operator=operator,
            scope_ref=scope_ref,
            incomplete=analysis.interrupted,
            stats=_analysis_stats(analysis),
        ),
        phi=analysis.findings,
        errors=analysis.errors,
    )
    # Written first, whatever happened: when every input failed, the JSON lists why.
    written = _emit_reports(result, json_path, out_dir)
    if csv_path is not None:
        try:
            written.append(write_phi_csv(result, csv_path))
        except OSError as exc:
            raise _fail_usage(f"cannot write {safe_text(csv_path)}: {exc.strerror or 'I/O error'}") from None
    if analysis.files_scanned == 0 and not analysis.interrupted:
        raise _fail_usage(_nothing_read(analysis, written))
    if quiet:
        print_one_line(out, analysis_line(analysis), written)
    else:
        print_phi_summary(out, analysis, written)
    _interrupted_exit(result, written)
    worst = analysis.worst()  # from the summary: with --parquet the findings are not in the result
    if severity is not None and worst is not None and worst >= severity:
        raise typer.Exit(EXIT_FINDINGS)


def _analysis_stats(analysis: Any) -> dict[str, Any]:
    """The run's PHI summary (made on the engine) and throughput, for ``run.stats`` in the JSON."""
    stats: dict[str, Any] = {}
    if analysis.phi_summary is not None:
        stats["phi"] = analysis.phi_summary.to_dict(folders=200)
    if analysis.seconds:
        done = analysis.files_scanned + len(analysis.errors) + len(analysis.skipped) - analysis.resumed
        stats["analysis"] = {
            "seconds": round(analysis.seconds, 3),
            "files_per_second": round(done / analysis.seconds, 1),
        }
    return stats


def _nothing_read(analysis: Any, written: list[Path]) -> str:
    """The one line for ``analyze`` when no file could be analysed: the first reasons, how many more."""
    shown = [f"{e.source}: {e.error}" for e in analysis.errors[:3]]
    if len(analysis.errors) > 3:
        shown.append(f"and {len(analysis.errors) - 3} more")
    if analysis.skipped:
        shown.append(f"{len(analysis.skipped)} file(s) skipped: not DICOM")
    message = f"no DICOM file could be read ({'; '.join(shown) or 'nothing to analyse'})"
    if written:
        message += f"; wrote {', '.join(safe_text(p) for p in written)}"
    return message


# -- report ------------------------------------------------------------------
@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit report reports/demo/result.json --format html,md --out reports/for-audit\n\n"
        "  dicomaudit report result.json --waivers accepted-risks.toml --fail-on high --junit junit.xml"
    )
)
def report(
    result_path: Annotated[Path, typer.Argument(metavar="RESULT.json", help="A result written by probe/demo.")],
    formats: Annotated[
        str, typer.Option("--format", show_default=True, help="Comma-separated: html, md, csv, json, junit (or all).")
    ] = "html,md,csv,json",
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", show_default=True, help="Where to write the reports.")
    ] = Path("reports/report"),
    waivers_path: Annotated[
        Path | None, typer.Option("--waivers", metavar="FILE", help="Accepted risks (TOML).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="YYYY-MM-DD", help="Judge waiver expiry at this date (default: today)."),
    ] = None,
    fail_on: FailOn = None,
    junit: Annotated[Path | None, typer.Option("--junit", metavar="FILE", help="Also write JUnit XML.")] = None,
    fail_on_undecided: FailOnUndecided = False,
    log: LogFile = None,
) -> None:
    """Render compliance evidence (HTML, Markdown, CSV, JSON) from a saved result."""
    from dicomaudit.output import parse_formats

    severity = _severity_option(fail_on)
    try:
        fmt = parse_formats(formats)
    except ValueError as exc:
        raise _fail_usage(str(exc)) from None
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise _fail_usage(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    result = _read_result(result_path)
    applied = _apply_waivers(result, _load_waivers(waivers_path), day)
    from dicomaudit.console import print_written
    from dicomaudit.output.terminal import print_waiver_notes

    print_written(out, _emit_reports(result, None, out_dir, formats=fmt, waivers=applied, junit=junit))
    print_waiver_notes(err, applied)
    _gate(result, severity, applied, undecided=fail_on_undecided)


# -- diff --------------------------------------------------------------------
@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit diff before.json after.json\n\n"
        "  dicomaudit diff last-week.json today.json --format markdown --fail-on high   # exit 1 on new findings"
    )
)
def diff(
    old_path: Annotated[Path, typer.Argument(metavar="OLD.json")],
    new_path: Annotated[Path, typer.Argument(metavar="NEW.json")],
    fmt: Annotated[str, typer.Option("--format", show_default=True, help="text or markdown.")] = "text",
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", metavar="SEVERITY", help="Exit 1 if a NEW finding reaches this severity.")
    ] = None,
    show_phi: Annotated[
        bool,
        typer.Option(
            "--show-phi",
            help="List each identifying value that appeared or "
            "disappeared (as masked in the results); "
            "default: counts per category.",
        ),
    ] = False,
    log: LogFile = None,
) -> None:
    """List fixed, new and unchanged findings between two results: the evidence that remediation worked.

    Nodes are matched by their inventory name when both results have one, else by host:port/AET.
    """
    from dicomaudit.diff import diff_results
    from dicomaudit.output.diff import render_diff

    severity = _severity_option(fail_on)
    if fmt not in ("text", "markdown"):
        raise _fail_usage(f"--format must be text or markdown, not {fmt!r}")
    d = diff_results(_read_result(old_path), _read_result(new_path))
    # Written as is: a terminal's width must not hard-wrap Markdown table rows.
    typer.echo(render_diff(d, fmt, show_phi=show_phi), nl=False)  # type: ignore[arg-type]
    if severity is not None and d.reaches(severity):
        raise typer.Exit(EXIT_FINDINGS)


# -- history -----------------------------------------------------------------
def _open_store(location: str | None, *, create: bool = True) -> Any:
    """``probe --store`` (created when missing) / ``history STORE``: the results store, or exit 2 with one line."""
    if location is None:
        return None
    from dicomaudit.history import StoreError, open_store

    try:
        return open_store(location, create=create)
    except StoreError as exc:
        raise _fail_usage(str(exc)) from None


def _store_run(store: Any, result: RunResult, applied: Any) -> list[Path]:
    """Add the run (an interrupted one too, marked incomplete) to the store; a store file joins the files written."""
    if store is None:
        return []
    from dicomaudit.history import StoreError

    try:
        with store:
            run_id = store.add_run(result, applied)
    except StoreError as exc:
        raise _fail_usage(f"{exc}; the other outputs were written") from None
    if "://" in store.location:
        err.print(f"stored run {run_id} in {escape(store.location)}", soft_wrap=True)
        return []
    return [Path(store.location)]


def _since_option(value: str | None) -> Any:
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail_usage(f"--since {value!r} is not a date (YYYY-MM-DD) or an ISO date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit probe --targets pacs.csv --out reports/today --store audit.db   # each run adds to the store\n\n"
        "  dicomaudit history audit.db\n\n"
        "  dicomaudit history audit.db --since 2026-01-01 --format csv --out findings.csv\n\n"
        "  dicomaudit history audit.db --format html --out reports/trend/   # reports/trend/history.html\n\n"
        "  dicomaudit history audit.db --node 'pacs-*' --check 'find.*' --format json"
    )
)
def history(
    store_location: Annotated[
        str,
        typer.Argument(
            metavar="STORE",
            show_default=False,
            help="A results store written by probe --store (an SQLite file, or a postgresql:// URL).",
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only the runs from this date (YYYY-MM-DD, UTC, or an ISO date-time) and the findings still open "
            "then; appearance dates stay those of the whole history.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", show_default=True, help="text, csv, html or json.")] = "text",
    out_path: Annotated[
        str | None,  # text, not Path: a trailing "/" (a folder to create) must survive
        typer.Option(
            "--out",
            metavar="FILE|DIR",
            help="Write here instead of to stdout; a folder gets history.<format> (and, for csv, trend.csv).",
        ),
    ] = None,
    node: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            metavar="NODE",
            help="Only this node: inventory name, host, host:port or host:port/AET; * and ? wildcards (repeatable).",
        ),
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", metavar="ID", help="Only this check id; wildcards such as 'find.*' (repeatable)."),
    ] = None,
    log: LogFile = None,
) -> None:
    """Findings over time from a results store written by probe --store: when each appeared, was waived, was fixed."""
    from dicomaudit.history import StoreError, build_timeline
    from dicomaudit.history.report import FORMATS, HistoryView, render, write

    if fmt not in FORMATS:
        raise _fail_usage(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    known = load_catalogue()
    unknown = [c for c in check or [] if not any(ch in c for ch in "*?[") and c not in known]
    if unknown:
        raise _fail_usage(f"unknown check id(s): {', '.join(unknown)} (known: {', '.join(known)})")
    moment = _since_option(since)
    store = _open_store(store_location, create=False)
    try:
        with store:
            records = store.load()
    except StoreError as exc:
        raise _fail_usage(str(exc)) from None
    view = HistoryView(
        timeline=build_timeline(records).filtered(since=moment, nodes=node or (), checks=check or ()),
        store=store.location,
        runs_stored=len(records),
        since=moment,
        nodes=tuple(node or ()),
        checks=tuple(check or ()),
    )
    if out_path is None:
        typer.echo(render(view, fmt), nl=False)
        return
    try:
        written = write(view, fmt, out_path)
    except OSError as exc:
        raise _fail_usage(f"cannot write {safe_text(out_path)}: {exc.strerror or 'I/O error'}") from None
    from dicomaudit.console import print_written

    print_written(out, written)


# -- lab ---------------------------------------------------------------------
def _profiles_help() -> str:
    from dicomaudit.lab import PROFILES

    return "Lab profile: " + ", ".join(PROFILES) + " (each described below)."


def _profiles_epilog() -> str:
    from dicomaudit.lab import PROFILES

    return "[bold]Profiles[/]\n\n" + "\n\n".join(
        f"  [bold]{name}[/]: {escape(PROFILES[name].description)}" for name in PROFILES
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit lab --profile open --port 11112\n\n"
        "  dicomaudit lab --profile locked --port 11113   # then: dicomaudit probe 127.0.0.1:11113/DICOMLAB\n\n"
        + _profiles_epilog()
    )
)
def lab(
    profile: Annotated[str, typer.Option("--profile", show_default=True, help=_profiles_help())] = "open",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, show_default=True, help="Port to listen on (0 = any free port).")
    ] = 11112,
    host: Annotated[
        str, typer.Option("--host", show_default=True, help="Address to bind; loopback unless you mean it.")
    ] = "127.0.0.1",
    web_port: Annotated[
        int | None,
        typer.Option(
            "--web-port",
            min=0,
            max=65535,
            metavar="N",
            help="Also serve DICOMweb (QIDO-RS, WADO-RS metadata, STOW-RS) on this port (0 = any free port), with "
            "the profile's web settings (authentication, CORS, STOW); off by default.",
        ),
    ] = None,
    log: LogFile = None,
) -> None:
    """Run the lab PACS alone, until interrupted (Ctrl-C)."""
    from dicomaudit.lab import PROFILES, run_forever

    if profile not in PROFILES:
        raise _fail_usage(f"unknown lab profile {profile!r} (known: {', '.join(PROFILES)})")
    try:
        run_forever(
            profile, host, port, echo=lambda line: out.print(line, markup=False, highlight=False), web_port=web_port
        )
    except OSError as exc:
        raise _fail_usage(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except ValueError:  # a non-loopback address
        raise _fail_usage(
            f"--host {host}: the lab PACS listens on loopback only (127.0.0.0/8 or ::1), "
            "because it is insecure by design; use e.g. --host 127.0.0.1"
        ) from None


# -- advisories ----------------------------------------------------------------
advisories_app = typer.Typer(
    help="The security advisories software.known_vulnerable matches (shipped with dicomaudit; updatable offline).",
    no_args_is_help=True,
)
app.add_typer(advisories_app, name="advisories")


@advisories_app.command(
    "update",
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dicomaudit advisories update advisories-2027-01.toml\n\n"
        "  DICOMAUDIT_DATA_DIR=/srv/dicomaudit dicomaudit advisories update new.toml"
    ),
)
def advisories_update(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", show_default=False, help="A newer advisories data file (TOML).")
    ],
    log: LogFile = None,
) -> None:
    """Validate FILE and install it as the advisory data (refused when invalid or older than the shipped data)."""
    from dicomaudit.software.advisories import AdvisoryError, install_advisories, load_advisories

    if not file.is_file():
        raise _fail_usage(f"{file}: no such file")
    try:
        target = install_advisories(file)
    except AdvisoryError as exc:
        raise _fail_usage(str(exc)) from None
    except OSError as exc:
        raise _fail_usage(f"cannot install {file}: {exc.strerror or exc}") from None
    data = load_advisories()
    out.print(
        f"installed {len(data.advisories)} advisories dated {data.data_date.isoformat()} to {target}",
        markup=False,
        highlight=False,
    )


@advisories_app.command("show", epilog="[bold]Examples[/]\n\n  dicomaudit advisories show")
def advisories_show(log: LogFile = None) -> None:
    """Print the advisory data in effect: its date, where it comes from, and one line per advisory."""
    from dicomaudit.software.advisories import load_advisories

    data = load_advisories()
    out.print(
        f"advisory data dated {data.data_date.isoformat()} ({data.origin}), {len(data.advisories)} advisories",
        markup=False,
        highlight=False,
    )
    for warning in data.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    for a in data.advisories:
        severity = a.severity.value if a.severity else "unscored"
        out.print(
            f"  {a.id:<18} {a.product:<10} {a.affected.text:<22} fixed {a.fixed or '-':<8} {severity:<8} {a.source}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"dicomaudit {__version__}")
        raise typer.Exit(EXIT_OK)


def main() -> None:
    """Console-script entry point: clean errors, documented exit codes."""
    from dicomaudit import logs

    logs.configure()  # nothing third-party reaches the console unless asked (--log, DICOMAUDIT_DEBUG=1)
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show a character (ASCII, Latin-1) gets an escape, not exit 3.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        # Not standalone: click's usage errors come back here and are printed as
        # one line like every other usage error (typer would draw a box).
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except typer.TyperException as exc:  # click's UsageError, BadParameter, NoSuchOption ... (vendored by typer)
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "dicomaudit"
        err.print(
            f"[bold red]error:[/] {escape(exc.format_message())} (see '{escape(command)} --help')", soft_wrap=True
        )
        sys.exit(EXIT_USAGE)
    except typer.Abort:  # Ctrl-C inside click's own handling
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside a scan: stop at once
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: say so in one line; DICOMAUDIT_DEBUG=1 shows the traceback
        logging.getLogger("dicomaudit").error("internal error", exc_info=exc)
        if logs.debug_enabled():
            raise
        err.print(
            f"[bold red]internal error:[/] {escape(f'{type(exc).__name__}: {exc}')} "
            "(set DICOMAUDIT_DEBUG=1 for details)"
        )
        sys.exit(EXIT_INTERNAL)
