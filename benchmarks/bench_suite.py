"""The full safe check suite on one live loopback node: how long, and where the time goes.

Goal (issue 10): the whole non-intrusive suite against one live node stays
under 1 s in-process.  For each lab profile the suite is run ``--runs``
times on the same node; the median is printed with the slowest checks,
and as a ratio against a baseline measured in the same run: the eight checks
dicomaudit had before the DIMSE surface grew (association, echo, find,
store, plaintext).  Traffic goes to 127.0.0.1 only.

    .venv/bin/python benchmarks/bench_suite.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LabPACS
from dicomaudit.models import Target
from dicomaudit.scanner import scan_target

BASELINE = (
    "dicom.service",
    "assoc.any_called_aet",
    "assoc.any_calling_aet",
    "echo.unauthenticated",
    "find.unauthenticated",
    "find.phi_exposed",
    "store.unauthenticated",
    "transport.plaintext",
)
GOAL_SECONDS = 1.0


def _time(target: Target, settings: ProbeSettings, runs: int) -> tuple[float, dict[str, float]]:
    totals: list[float] = []
    per_check: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        t0 = time.perf_counter()
        result = scan_target(target, settings)
        totals.append(time.perf_counter() - t0)
        for check in result.checks:
            if check.duration_ms is not None:
                per_check[check.id].append(check.duration_ms)
    return statistics.median(totals), {cid: statistics.median(v) for cid, v in per_check.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profiles", nargs="+", default=["open", "stock", "locked", "retrieve"])
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    for profile in args.profiles:
        with LabPACS(profile=profile, port=0) as lab:
            target = Target(host=lab.host, port=lab.port, called_aet=lab.ae_title)
            scan_target(target, ProbeSettings(timeout=args.timeout))  # warm-up: imports, caches
            base, _ = _time(target, ProbeSettings(timeout=args.timeout, checks=BASELINE), args.runs)
            full, per_check = _time(target, ProbeSettings(timeout=args.timeout), args.runs)
        slowest = sorted(per_check.items(), key=lambda kv: -kv[1])[:4]
        verdict = "within" if full < GOAL_SECONDS else "OVER"
        print(
            f"{profile:9s} full suite {full * 1000:6.0f} ms ({verdict} the {GOAL_SECONDS:.0f} s goal); "
            f"baseline 8 checks {base * 1000:6.0f} ms; ratio {full / base:4.2f}x"
        )
        print("          slowest: " + ", ".join(f"{cid} {ms:.0f} ms" for cid, ms in slowest))


if __name__ == "__main__":
    main()
