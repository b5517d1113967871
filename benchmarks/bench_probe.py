"""Probe throughput: targets per second against lab PACS nodes on loopback.

Starts N lab nodes (alternating open and locked profiles), scans them all
sequentially (concurrency 1, the baseline) and with the requested
concurrency in the same process, and prints both rates and the speed-up.
Traffic goes to 127.0.0.1 only; every run is bounded by the node count.

    .venv/bin/python benchmarks/bench_probe.py --nodes 16 --concurrency 8
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.lab import LabPACS
from dicomaudit.models import Status, Target
from dicomaudit.scanner import scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=16, help="lab nodes to start (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="targets in flight for the measured run")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    with ExitStack() as stack:
        labs = [
            stack.enter_context(LabPACS(profile="open" if i % 2 == 0 else "locked", port=0)) for i in range(args.nodes)
        ]
        targets = [Target(host=lab.host, port=lab.port, called_aet=lab.ae_title) for lab in labs]
        rates = {}
        for concurrency in (1, args.concurrency):
            settings = ProbeSettings(timeout=args.timeout, concurrency=concurrency)
            t0 = time.perf_counter()
            results = scan(targets, settings)
            elapsed = time.perf_counter() - t0
            errors = sum(c.status is Status.ERROR for r in results for c in r.checks)
            rates[concurrency] = len(targets) / elapsed
            print(
                f"concurrency {concurrency:3d}: {len(targets)} targets in {elapsed:6.2f} s "
                f"= {rates[concurrency]:6.1f} targets/s ({errors} undecided checks)"
            )
        print(
            f"speed-up with concurrency {args.concurrency}: {rates[args.concurrency] / rates[1]:.2f}x "
            "the sequential baseline"
        )


if __name__ == "__main__":
    main()
