"""The benchmark script runs and prints the three throughputs and ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_analyze.py"


def test_benchmark_prints_files_per_second_and_ratios(tmp_path):
    out = subprocess.run(
        [sys.executable, str(BENCH), "--files", "24", "--repeat", "1", "--workers", "2",
         "--json", str(tmp_path / "b.json")],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "bare pydicom read+walk" in out and "analyze_paths workers=1" in out and "x bare time" in out
    assert (tmp_path / "b.json").exists()
