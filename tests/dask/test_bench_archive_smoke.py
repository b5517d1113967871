"""The archive benchmark runs end to end on a tiny corpus and prints files/s, ratios and worker memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_archive.py"


def test_archive_benchmark_prints_throughput_ratios_and_worker_memory(tmp_path: Path) -> None:
    """Given a 30-file corpus, when the benchmark runs the bare walk, one embedded process and a real
    scheduler with two workers, then it prints files/s, the ratio to the bare walk and the workers' peak
    memory for each, and writes the figures as JSON."""
    out = subprocess.run(
        [sys.executable, str(BENCH), "--files", "30", "--only", "bare,embedded1,cluster",
         "--corpus", str(tmp_path / "corpus"), "--json", str(tmp_path / "b.json")],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    assert "bare pydicom read+walk" in out and "x bare files/s" in out and "worker peak" in out
    assert "dask scheduler + 2 workers" in out and "target: distributed engine" in out
    runs = json.loads((tmp_path / "b.json").read_text())["runs"]
    assert [r["engine"] for r in runs] == [
        "bare pydicom read+walk (1 core)",
        "embedded x1",
        "dask scheduler + 2 workers",
    ]
    assert all(r["files"] > 30 and r["files_per_s"] > 0 for r in runs)  # 30 headers + malformed + not DICOM
