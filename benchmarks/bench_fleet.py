"""Fleet discovery and audit at scale: thousands of loopback endpoints, checked against ground truth.

A loopback fleet (benchmarks/fleet.py) puts lab PACS nodes (profiles open and
locked, relayed to a few real LabPACS servers), silent listeners (accept, never
answer) and closed ports on many 127.x.y.z addresses, each address with the
same port set.  Then, with the scanner always in a subprocess:

- **discover**: ``dicomaudit discover RANGE... --ports LIST`` over a ~5,000
  endpoint sweep (~5 % DICOM, 2 % silent, the rest closed): every listener
  found, nothing closed or silent called DICOM, closed endpoints per second of
  the sweep phase (goal >= 3,000/s);
- **nmap**: the same sweep by ``nmap -sT -Pn -n --script dicom-ping``, the
  baseline (goal: nmap takes >= 3x dicomaudit's wall time), and whether it
  found the same listeners;
- **audit**: ``dicomaudit probe --targets fleet.csv`` over a 30 % live / 50 %
  closed / 20 % silent fleet; wall time against the lower bound
  ceil(silent / concurrency) x timeout (goal <= 1.3x), the scanner's peak RSS,
  the JSON size, and every verdict checked;
- **memory**: the same over 10,000 endpoints with two checks (goal: peak RSS
  < 400 MB).

Exit 0 when every verdict is right and every listener was found, whether or
not the goals were met (this is a measurement); exit 1 for a wrong verdict or
a missed listener; exit 2 when the fleet cannot be built.  Traffic stays on
127.0.0.0/8.

    .venv/bin/python benchmarks/bench_fleet.py --quick
    .venv/bin/python benchmarks/bench_fleet.py
    .venv/bin/python benchmarks/bench_fleet.py --phases audit --size 2000 --concurrency 64
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import (  # noqa: E402 - the helper lives next to this script
    AUDIT_MIX,
    CLOSED,
    LOCKED,
    OPEN,
    SILENT,
    SWEEP_MIX,
    FleetFront,
    FleetSpec,
    LabCluster,
    ProcUsage,
    check_closed,
    plan_fleet,
    proc_usage,
    wildcard_listeners,
)

ROOT_PORTS = (104, 11112, 4242, 2762)
USER_PORTS = (1104, 11112, 4242, 2762)
SWEEP_GOAL = 3000.0  # closed endpoints per second of the sweep phase
NMAP_GOAL = 3.0  # nmap wall / dicomaudit wall
AUDIT_GOAL = 1.3  # audit wall / lower bound
RSS_GOAL_MB = 400.0
PHASES = ("discover", "nmap", "audit", "memory")
MEMORY_CHECKS = ("dicom.service", "assoc.any_calling_aet")


# ------------------------------------------------------------------ helpers


@dataclass
class Row:
    phase: str
    endpoints: int
    wall: float | None
    throughput: str
    ratio: str
    target: str
    ok: bool | None  # None: no goal, or not measurable


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # wrong verdicts and missed listeners: exit 1
    notes: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    returncode: int
    wall: float
    peak_rss_mb: float
    cpu_s: float
    stdout: str
    stderr: str


def _children() -> resource.struct_rusage:
    return resource.getrusage(resource.RUSAGE_CHILDREN)


def run_monitored(cmd: Sequence[str], workdir: Path, name: str, limit: float) -> RunResult:
    """Run `cmd`, polling its VmHWM; peak RSS also from RUSAGE_CHILDREN when that can tell.

    ru_maxrss of RUSAGE_CHILDREN is the maximum over every child reaped so far
    (the fleet processes of earlier phases included), so it names this child's
    peak only when it grew during the run; the polled VmHWM covers the rest.
    """
    print("  $ " + shlex.join(str(c) for c in cmd), flush=True)
    out_path, err_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    before = _children()
    t0 = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        hwm = 0.0
        while proc.poll() is None:
            usage = proc_usage(proc.pid)
            if usage is not None:
                hwm = max(hwm, usage.hwm_mb)
            if time.perf_counter() - t0 > limit:
                print(f"  ! {name} still running after {limit:.0f} s: terminating it", flush=True)
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                break
            time.sleep(0.05)
    wall = time.perf_counter() - t0
    after = _children()
    if after.ru_maxrss > before.ru_maxrss:
        hwm = max(hwm, after.ru_maxrss / 1024)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return RunResult(proc.returncode, wall, hwm, cpu, out_path.read_text(), err_path.read_text())


class FleetUsage:
    """CPU seconds and peak RSS of the fleet's own processes over one phase."""

    def __init__(self, labs: LabCluster, front: FleetFront) -> None:
        self.pids = {f"lab{i}": pid for i, pid in enumerate(labs.pids)}
        if front.pid is not None:
            self.pids["front"] = front.pid
        self.start = self._sample()

    def _sample(self) -> dict[str, ProcUsage]:
        return {name: u for name, pid in self.pids.items() if (u := proc_usage(pid)) is not None}

    def summary(self, wall: float) -> str:
        end = self._sample()
        parts = []
        for name in self.pids:
            if name in end and name in self.start:
                cpu = end[name].cpu_s - self.start[name].cpu_s
                parts.append(
                    f"{name} {cpu:.1f} s CPU ({cpu / wall * 100 if wall else 0:.0f} % of a core), "
                    f"RSS {end[name].rss_mb:.0f} MB (peak {end[name].hwm_mb:.0f})"
                )
        return "; ".join(parts)


def checks_by_id(target: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("id")): c for c in target.get("checks") or [] if isinstance(c, dict)}


def load_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"  ! cannot read {path}: {exc}")
        return None
    return data if isinstance(data, dict) else None


def phase_stats(result: dict[str, Any]) -> dict[str, Any]:
    stats = (result.get("run") or {}).get("stats") or {}
    phases = stats.get("phases") if isinstance(stats, dict) else None
    return phases if isinstance(phases, dict) else {}


def _fmt_keys(keys: Iterable[tuple[str, int]], limit: int = 5) -> str:
    keys = sorted(keys)
    text = ", ".join(f"{h}:{p}" for h, p in keys[:limit])
    return text + (f" ... and {len(keys) - limit} more" if len(keys) > limit else "")


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "MISSED")


def _target_key(t: dict[str, Any]) -> tuple[str, int] | None:
    try:
        return (str(t["host"]), int(t["port"]))
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- discovery


def phase_discover(
    args: argparse.Namespace, spec: FleetSpec, workdir: Path, usage: FleetUsage, report: Report
) -> float | None:
    out = workdir / "discover.json"
    cmd = [sys.executable, "-m", "dicomaudit", "discover", *spec.ranges()]
    cmd += ["--ports", ",".join(map(str, spec.ports)), "--json", str(out), "--quiet", "--timeout", str(args.timeout)]
    cmd += shlex.split(args.discover_args)
    run = run_monitored(cmd, workdir, "discover", args.run_limit)
    print(
        f"  exit {run.returncode}, wall {run.wall:.2f} s, scanner CPU {run.cpu_s:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB"
    )
    if run.stdout.strip():
        print("  stdout: " + run.stdout.strip().splitlines()[-1][:300])
    print(f"  fleet: {usage.summary(run.wall)}")
    result = load_json(out) if run.returncode in (0, 1) else None
    if result is None:
        print("  ! discover failed: " + (run.stderr.strip()[-600:] or "no result JSON"))
        report.wrong.append(f"discover: exit {run.returncode}, no result")
        report.rows.append(Row("discover sweep", len(spec), run.wall, "failed", "-", "-", False))
        return None

    truth = spec.by_key
    dicom_truth = {e.key for e in spec.with_role(OPEN, LOCKED)}
    targets = [t for t in result.get("targets") or [] if isinstance(t, dict)]
    reported: dict[tuple[str, int], dict[str, Any]] = {}
    for t in targets:
        key = _target_key(t)
        if key is not None:
            reported[key] = t
    found = {k for k, t in reported.items() if checks_by_id(t).get("dicom.service", {}).get("status") == "info"}
    missed = dicom_truth - found
    false_dicom = found - dicom_truth
    outside = {k for k in reported if k not in truth}
    by_role = Counter(truth[k].role for k in reported if k in truth)
    print(
        f"  result: {len(targets)} target(s) reported ({', '.join(f'{n} {r}' for r, n in by_role.items()) or 'none'}); "
        f"confirmed DICOM {len(found)} of {len(dicom_truth)}"
    )
    silent_codes = Counter(
        str(checks_by_id(reported[e.key]).get("dicom.service", {}).get("reason_code"))
        for e in spec.with_role(SILENT)
        if e.key in reported
    )
    if silent_codes:
        print(f"  silent endpoints reported with dicom.service reason codes: {dict(silent_codes)}")
    if missed:
        report.wrong.append(f"discover missed {len(missed)} DICOM listener(s): {_fmt_keys(missed)}")
    if false_dicom:
        roles = Counter(truth[k].role if k in truth else "outside the fleet" for k in false_dicom)
        report.wrong.append(
            f"discover called {len(false_dicom)} non-DICOM endpoint(s) DICOM ({dict(roles)}): {_fmt_keys(false_dicom)}"
        )
    if outside:
        report.notes.append(f"discover reported {len(outside)} endpoint(s) outside the fleet: {_fmt_keys(outside)}")

    phases = phase_stats(result)
    sweep, confirm = phases.get("sweep") or {}, phases.get("confirm") or {}
    expected = {
        ("sweep", "open"): spec.count(OPEN, LOCKED, SILENT),
        ("sweep", "closed"): spec.count(CLOSED),
        ("sweep", "endpoints"): len(spec),
        ("confirm", "dicom"): len(dicom_truth),
        ("confirm", "silent"): spec.count(SILENT),
        ("confirm", "not_dicom"): 0,
    }
    if phases:
        shown = []
        for (phase, stat), want in expected.items():
            got = (phases.get(phase) or {}).get(stat)
            shown.append(f"{phase}.{stat} {got}{'' if got == want else f' (expected {want})'}")
            if got != want:
                report.notes.append(f"discover stats: {phase}.{stat} is {got}, the fleet has {want}")
        print("  stats: " + ", ".join(shown))
        print(
            "  phase seconds: "
            + ", ".join(f"{p} {float(v.get('seconds', 0)):.2f}" for p, v in phases.items() if isinstance(v, dict))
        )
    else:
        report.notes.append("discover: no run.stats.phases in the result JSON")
        print("  ! no run.stats.phases in the result JSON")
    sweep_s = sweep.get("seconds")
    closed_n = sweep.get("closed", spec.count(CLOSED))
    if isinstance(sweep_s, (int, float)) and sweep_s > 0:
        rate: float | None = closed_n / sweep_s
        rate_text = f"{rate:,.0f} closed/s (sweep {sweep_s:.2f} s)"
    else:
        rate = spec.count(CLOSED) / run.wall if run.wall else None
        rate_text = f"{rate:,.0f} closed/s (whole run; no sweep stats)" if rate else "-"
    print(f"  sweep: {rate_text}; wall {run.wall:.2f} s for {len(spec)} endpoints")
    report.rows.append(
        Row(
            "discover sweep",
            len(spec),
            run.wall,
            rate_text.split(" (")[0],
            "-",
            f">= {SWEEP_GOAL:,.0f} closed/s",
            None if rate is None else rate >= SWEEP_GOAL,
        )
    )
    report.rows.append(
        Row(
            "discover listeners",
            len(dicom_truth),
            None,
            f"found {len(found & dicom_truth)}/{len(dicom_truth)}",
            f"false {len(false_dicom)}",
            "all, no false",
            not missed and not false_dicom,
        )
    )
    if confirm:
        print(f"  confirm: {confirm}")
    return run.wall


# --------------------------------------------------------------------- nmap


def parse_nmap(path: Path) -> dict[str, set[tuple[str, int]]]:
    """Open ports and dicom-ping outcomes from nmap's XML output."""
    outcome: dict[str, set[tuple[str, int]]] = {"open": set(), "dicom": set(), "any_aet": set(), "aet_check": set()}
    root = ET.parse(path).getroot()
    for host in root.iter("host"):
        addr = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"), None)
        if addr is None:
            continue
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            key = (addr, int(port.get("portid", "0")))
            outcome["open"].add(key)
            script = port.find("script[@id='dicom-ping']")
            if script is None:
                continue
            elems = {e.get("key"): (e.text or "") for e in script.iter("elem")}
            if "discovered" in elems.get("dicom", ""):
                outcome["dicom"].add(key)
                config = elems.get("config", "")
                if "Any AET" in config:
                    outcome["any_aet"].add(key)
                elif "Called AET check" in config:
                    outcome["aet_check"].add(key)
    return outcome


def phase_nmap(
    args: argparse.Namespace,
    spec: FleetSpec,
    workdir: Path,
    usage: FleetUsage,
    report: Report,
    discover_wall: float | None,
) -> None:
    nmap = shutil.which("nmap")
    if nmap is None:
        print("  nmap not installed: ratio skipped")
        report.rows.append(Row("nmap sweep", len(spec), None, "not installed", "skipped", f">= {NMAP_GOAL:.0f}x", None))
        return
    hosts = workdir / "hosts.txt"
    hosts.write_text("".join(a + "\n" for a in spec.addresses))
    # For reference: nmap's connect sweep alone, without the DICOM script.
    plain_xml = workdir / "nmap-sweep.xml"
    ports = ",".join(map(str, spec.ports))
    cmd = [
        nmap,
        "-sT",
        "-Pn",
        "-n",
        "-p",
        ports,
        "-iL",
        str(hosts),
        "-oX",
        str(plain_xml),
        *shlex.split(args.nmap_args),
    ]
    plain = run_monitored(cmd, workdir, "nmap-sweep", args.run_limit)
    try:
        plain_open = len(parse_nmap(plain_xml)["open"])
    except (OSError, ET.ParseError):
        plain_open = -1
    closed = spec.count(CLOSED)
    print(
        f"  connect sweep only: exit {plain.returncode}, wall {plain.wall:.2f} s = {closed / plain.wall:,.0f} closed/s, "
        f"{plain_open} open found"
    )
    report.rows.append(
        Row("nmap -sT only", len(spec), plain.wall, f"{closed / plain.wall:,.0f} closed/s", "no script", "-", None)
    )
    xml = workdir / "nmap.xml"
    cmd = [nmap, "-sT", "-Pn", "-n", "-p", ports, "--script", "dicom-ping"]
    cmd += ["-iL", str(hosts), "-oX", str(xml), *shlex.split(args.nmap_args)]
    run = run_monitored(cmd, workdir, "nmap", args.run_limit)
    print(f"  exit {run.returncode}, wall {run.wall:.2f} s, CPU {run.cpu_s:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB")
    print(f"  fleet: {usage.summary(run.wall)}")
    try:
        seen = parse_nmap(xml)
    except (OSError, ET.ParseError) as exc:
        print(f"  ! cannot read nmap's XML: {exc}; stderr: {run.stderr.strip()[-300:]}")
        report.rows.append(Row("nmap sweep", len(spec), run.wall, "failed", "-", f">= {NMAP_GOAL:.0f}x", None))
        return
    want = {
        "open": {e.key for e in spec.with_role(OPEN, LOCKED, SILENT)},
        "dicom": {e.key for e in spec.with_role(OPEN, LOCKED)},
        "any_aet": {e.key for e in spec.with_role(OPEN)},
        "aet_check": {e.key for e in spec.with_role(LOCKED)},
    }
    labels = {
        "open": "open ports (lab + silent)",
        "dicom": "dicom-ping: DICOM",
        "any_aet": "dicom-ping: any AET accepted (open)",
        "aet_check": "dicom-ping: called AET check (locked)",
    }
    same = True
    for key, label in labels.items():
        got, exp = seen[key], want[key]
        missing, extra = exp - got, got - exp
        same = same and not missing and not extra
        detail = "" if not (missing or extra) else f"; missed {len(missing)}, extra {len(extra)}"
        if missing:
            detail += f" (missed e.g. {_fmt_keys(missing, 3)})"
        print(f"  nmap {label}: {len(got & exp)}/{len(exp)}{detail}")
    print(f"  nmap found the same listeners as the ground truth: {'yes' if same else 'NO'}")
    if discover_wall:
        ratio = run.wall / discover_wall
        print(f"  wall nmap / wall dicomaudit discover = {run.wall:.2f} / {discover_wall:.2f} = {ratio:.2f}x")
        report.rows.append(
            Row(
                "nmap sweep",
                len(spec),
                run.wall,
                f"{len(spec) / run.wall:,.0f} endpoints/s",
                f"{ratio:.2f}x dicomaudit",
                f">= {NMAP_GOAL:.0f}x",
                ratio >= NMAP_GOAL,
            )
        )
    else:
        report.rows.append(
            Row(
                "nmap sweep",
                len(spec),
                run.wall,
                f"{len(spec) / run.wall:,.0f} endpoints/s",
                "no dicomaudit wall",
                f">= {NMAP_GOAL:.0f}x",
                None,
            )
        )


# -------------------------------------------------------------------- audit


def write_inventory(spec: FleetSpec, path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["host", "port", "called_aet"])
        for e in spec.endpoints:
            writer.writerow([e.host, e.port, e.called_aet])


def verify_audit(spec: FleetSpec, result: dict[str, Any]) -> list[str]:
    """Every verdict the fleet's ground truth decides; one line per mismatch."""
    reported: dict[tuple[str, int], dict[str, Any]] = {}
    for t in result.get("targets") or []:
        if isinstance(t, dict) and (key := _target_key(t)) is not None:
            reported[key] = t
    wrong: list[str] = []
    for e in spec.endpoints:
        t = reported.get(e.key)
        if t is None:
            wrong.append(f"{e.host}:{e.port} ({e.role}): absent from the result")
            continue
        checks = checks_by_id(t)
        if e.role in (OPEN, LOCKED):
            want = "fail" if e.role == OPEN else "pass"
            c = checks.get("assoc.any_calling_aet")
            got = c.get("status") if c else "absent"
            if got != want:
                why = f" [{c.get('reason_code')}] {str(c.get('summary', ''))[:120]}" if c else ""
                wrong.append(f"{e.host}:{e.port} ({e.role}): assoc.any_calling_aet {got}, expected {want}{why}")
        else:
            want_code = "timeout" if e.role == SILENT else "connectivity"
            c = checks.get("dicom.service")
            got = (c.get("status"), c.get("reason_code")) if c else ("absent", None)
            if got != ("error", want_code):
                why = f" {str(c.get('summary', ''))[:120]}" if c else ""
                wrong.append(
                    f"{e.host}:{e.port} ({e.role}): dicom.service {got[0]}/{got[1]}, expected error/{want_code}{why}"
                )
    return wrong


def phase_audit(
    args: argparse.Namespace,
    label: str,
    spec: FleetSpec,
    workdir: Path,
    usage: FleetUsage,
    report: Report,
    checks: Sequence[str] = (),
    rss_row: bool = False,
) -> None:
    inventory = workdir / f"{label}.csv"
    write_inventory(spec, inventory)
    out = workdir / f"{label}.json"
    cmd = [sys.executable, "-m", "dicomaudit", "probe", "--targets", str(inventory)]
    cmd += ["--concurrency", str(args.concurrency), "--timeout", str(args.timeout), "--json", str(out), "--quiet"]
    for check in checks:
        cmd += ["--check", check]
    run = run_monitored(cmd, workdir, label, args.run_limit)
    silent = spec.count(SILENT)
    bound = math.ceil(silent / args.concurrency) * args.timeout
    print(
        f"  exit {run.returncode}, wall {run.wall:.2f} s, scanner CPU {run.cpu_s:.1f} s "
        f"({run.cpu_s / run.wall * 100 if run.wall else 0:.0f} % of a core), peak RSS {run.peak_rss_mb:.0f} MB"
    )
    if run.stdout.strip():
        print("  stdout: " + run.stdout.strip().splitlines()[-1][:300])
    print(f"  fleet: {usage.summary(run.wall)}")
    result = load_json(out) if run.returncode in (0, 1) else None
    if result is None:
        print("  ! probe failed: " + (run.stderr.strip()[-600:] or "no result JSON"))
        report.wrong.append(f"{label}: exit {run.returncode}, no result")
        report.rows.append(Row(label, len(spec), run.wall, "failed", "-", "-", False))
        return
    size_mb = out.stat().st_size / 1e6
    wrong = verify_audit(spec, result)
    ratio = run.wall / bound if bound else None
    print(
        f"  {len(spec)} targets in {run.wall:.2f} s = {len(spec) / run.wall:.1f} targets/s; lower bound "
        f"ceil({silent}/{args.concurrency}) x {args.timeout:g} s = {bound:.1f} s"
        + (f"; ratio {ratio:.2f}" if ratio else "")
    )
    print(f"  result JSON {size_mb:.1f} MB; verdicts checked: {len(spec)}, wrong: {len(wrong)}")
    for line in wrong[:20]:
        print("    wrong: " + line)
    if len(wrong) > 20:
        print(f"    ... and {len(wrong) - 20} more")
    if wrong:
        report.wrong.append(f"{label}: {len(wrong)} wrong verdict(s)")
    phases = phase_stats(result)
    if phases:
        print("  stats: " + json.dumps(phases))
    report.rows.append(
        Row(
            label,
            len(spec),
            run.wall,
            f"{len(spec) / run.wall:.1f} targets/s",
            f"{ratio:.2f}x bound {bound:.0f} s" if ratio else "-",
            f"<= {AUDIT_GOAL}x bound",
            None if ratio is None else ratio <= AUDIT_GOAL,
        )
    )
    report.rows.append(
        Row(
            f"{label} RSS",
            len(spec),
            None,
            f"peak {run.peak_rss_mb:.0f} MB",
            f"JSON {size_mb:.1f} MB",
            f"< {RSS_GOAL_MB:.0f} MB" if rss_row else "-",
            (run.peak_rss_mb < RSS_GOAL_MB) if rss_row else None,
        )
    )
    report.rows.append(
        Row(
            f"{label} verdicts",
            len(spec),
            None,
            f"{len(spec) - len(wrong)} right",
            f"{len(wrong)} wrong",
            "0",
            not wrong,
        )
    )


# --------------------------------------------------------------------- main


def print_table(rows: Sequence[Row]) -> None:
    header = ("phase", "endpoints", "wall s", "throughput", "ratio", "target", "ok/MISSED")
    cells = [
        (r.phase, f"{r.endpoints:,}", "-" if r.wall is None else f"{r.wall:.2f}", r.throughput, r.ratio, r.target)
        + (_mark(r.ok),)
        for r in rows
    ]
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) if cells else len(header[i]) for i in range(7)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small fleets for a smoke run (< 60 s)")
    parser.add_argument("--skip-nmap", action="store_true")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--timeout", type=float, default=2.0, help="dicomaudit --timeout (default 2 s)")
    parser.add_argument("--concurrency", type=int, default=32, help="probe --concurrency (default 32)")
    parser.add_argument("--sweep-size", type=int, default=5000, help="discovery sweep endpoints (default 5,000)")
    parser.add_argument("--size", type=int, default=1000, help="audit fleet endpoints (default 1,000)")
    parser.add_argument("--memory-size", type=int, default=10000, help="memory run endpoints (default 10,000)")
    parser.add_argument("--ports", help="comma-separated port set of every address (default 104,11112,4242,2762)")
    parser.add_argument("--labs", type=int, default=2, help="lab servers per profile (default 2)")
    parser.add_argument("--lab-processes", type=int, default=2, help="child processes for the lab servers")
    parser.add_argument("--discover-args", default="", help="extra arguments for dicomaudit discover")
    parser.add_argument("--nmap-args", default="", help="extra arguments for nmap (e.g. -T4)")
    parser.add_argument("--run-limit", type=float, default=1800.0, help="seconds before a run is terminated")
    parser.add_argument("--keep", type=Path, help="keep inputs and outputs in this directory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if args.skip_nmap and "nmap" in phases:
        phases.remove("nmap")
    if args.quick:
        args.sweep_size, args.size, args.memory_size = min(args.sweep_size, 400), min(args.size, 100), 200

    if args.ports:
        ports = tuple(int(p) for p in args.ports.split(","))
        print(f"ports: {','.join(map(str, ports))} (given)")
    elif os.geteuid() == 0:
        ports = ROOT_PORTS
        print(f"ports: {','.join(map(str, ports))} (running as root: port 104 can be bound)")
    else:
        ports = USER_PORTS
        print(f"ports: {','.join(map(str, ports))} (not root: 104 needs root, so 1104 stands in)")
    busy = wildcard_listeners(ports)
    if busy:
        print(
            f"error: something listens on every address on {', '.join(busy)}; closed endpoints would answer. "
            "Choose other --ports."
        )
        return 2
    print(
        f"timeout {args.timeout:g} s, concurrency {args.concurrency}, phases {','.join(phases)}"
        + (" (quick)" if args.quick else "")
    )

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = Report()
    profiles = [OPEN] * args.labs + [LOCKED] * args.labs
    try:
        with LabCluster(profiles, processes=args.lab_processes) as labs:
            print(f"lab servers: {dict(labs.backends)} in {len(labs.pids)} process(es) {labs.pids}")
            if "discover" in phases or "nmap" in phases:
                spec = plan_fleet(args.sweep_size, ports, SWEEP_MIX, base="127.10.0.1", seed=args.seed)
                run_sweep(args, spec, labs, workdir, report, phases)
            if "audit" in phases:
                spec = plan_fleet(args.size, ports, AUDIT_MIX, base="127.20.0.1", seed=args.seed)
                with_front(args, spec, labs, workdir, report, "audit", (), False)
            if "memory" in phases:
                spec = plan_fleet(args.memory_size, ports, AUDIT_MIX, base="127.30.0.1", seed=args.seed)
                print(f"memory run: {len(spec)} endpoints, checks {' '.join(MEMORY_CHECKS)} only")
                with_front(args, spec, labs, workdir, report, "memory", MEMORY_CHECKS, True)
    except RuntimeError as exc:
        print(f"error: {exc}")
        return 2
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print_table(report.rows)
    for note in report.notes:
        print("note: " + note)
    for line in report.wrong:
        print("WRONG: " + line)
    if args.keep:
        print(f"inputs and outputs kept in {workdir}")
    return 1 if report.wrong else 0


def _start_front(spec: FleetSpec, labs: LabCluster, title: str) -> FleetFront:
    print(f"\n== {title}: {len(spec)} endpoints on {len(spec.addresses)} addresses ({spec.composition()})")
    print(f"  ranges {' '.join(spec.ranges())}")
    front = FleetFront(spec, labs.backends).start()
    print(
        f"  fleet front pid {front.pid}: {front.ready['listening']} listeners bound in {front.ready['bind_seconds']:.2f} s"
    )
    wrong = check_closed(spec)
    if wrong:
        front.stop()
        raise RuntimeError("closed endpoints answer: " + "; ".join(wrong))
    return front


def run_sweep(
    args: argparse.Namespace, spec: FleetSpec, labs: LabCluster, workdir: Path, report: Report, phases: list[str]
) -> None:
    front = _start_front(spec, labs, "discovery sweep")
    try:
        wall = None
        if "discover" in phases:
            print("-- dicomaudit discover")
            wall = phase_discover(args, spec, workdir, FleetUsage(labs, front), report)
        if "nmap" in phases:
            print("-- nmap baseline")
            phase_nmap(args, spec, workdir, FleetUsage(labs, front), report, wall)
    finally:
        print(f"  fleet front: {front.stop()}")


def with_front(
    args: argparse.Namespace,
    spec: FleetSpec,
    labs: LabCluster,
    workdir: Path,
    report: Report,
    label: str,
    checks: Sequence[str],
    rss_row: bool,
) -> None:
    front = _start_front(spec, labs, f"{label} (30 % live / 50 % closed / 20 % silent)")
    try:
        phase_audit(args, label, spec, workdir, FleetUsage(labs, front), report, checks, rss_row)
    finally:
        print(f"  fleet front: {front.stop()}")


if __name__ == "__main__":
    sys.exit(main())
