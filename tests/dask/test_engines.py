"""One analysis, several engines: the same findings, byte for byte, on this process, a process pool, a
LocalCluster and a real ``dask scheduler`` + ``dask worker`` cluster; Parquet output; checkpoints and resume;
dead workers; the streamed listing."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dicomaudit.phi import AnalysisInterrupted, AnalysisResult, analyze_paths
from dicomaudit.phi import runner as runner_module
from dicomaudit.phi.engines import ChunkTask, DaskEngine, PoolEngine
from dicomaudit.phi.inputs import InputFile, discover, iter_inputs
from tests.dask.cluster import ROOT
from tests.dask.conftest import DaskCluster

pytest.importorskip("pyarrow", reason="the dask extra: pip install -e '.[test,dask]'")


def _paths(archive: Path) -> list[Path]:
    # The folder, and a DICOMDIR inside it named again: listed once, its references not "from a folder".
    return [archive, archive / "site-a" / "dicomdir_set" / "DICOMDIR"]


def canonical(result: AnalysisResult) -> str:
    """What the JSON says of the analysis: findings, errors, skipped files, the summary."""
    assert result.phi_summary is not None
    return json.dumps(
        {
            "phi": [f.to_dict() for f in result.findings],
            "errors": [e.to_dict() for e in result.errors],
            "skipped": list(result.skipped),
            "files_scanned": result.files_scanned,
            "summary": result.phi_summary.to_dict(),
        },
        ensure_ascii=False,
        indent=1,
    )


@pytest.fixture(scope="module")
def reference(archive: Path) -> str:
    """The analysis in this process, one file after another: what every engine must give."""
    return canonical(analyze_paths(_paths(archive), workers=1))


def test_reference_run_lists_unreadable_files_with_reasons_and_skips_plain_non_dicom(reference: str) -> None:
    """Given the archive with malformed files and a README, then the reference run lists every malformed
    file with a reason and counts the README as skipped (the other engines are compared to this run)."""
    data = json.loads(reference)
    assert data["phi"] and data["files_scanned"] > 200
    assert any(e["error"].startswith(("malformed", "truncated", "empty")) for e in data["errors"])
    assert all(e["error"] for e in data["errors"])
    assert any(s.endswith("README.txt") for s in data["skipped"])


def test_process_pool_gives_the_same_json(archive: Path, reference: str) -> None:
    """Given the archive, when two pool processes analyse it in small chunks, then the JSON is identical."""
    assert canonical(analyze_paths(_paths(archive), workers=2, chunk_size=7)) == reference


def test_local_cluster_gives_the_same_json(archive: Path, reference: str) -> None:
    """Given the archive, when a Dask LocalCluster of two workers analyses it, then the JSON is identical."""
    assert canonical(analyze_paths(_paths(archive), scheduler="local", workers=2)) == reference


def test_real_cluster_gives_the_same_json(archive: Path, reference: str, dask_cluster: DaskCluster) -> None:
    """Given a running dask scheduler with two dask worker processes, when the archive is analysed there
    (chunks of 16 files: many tasks on both workers), then the JSON is identical."""
    result = analyze_paths(_paths(archive), scheduler=dask_cluster.address, chunk_size=16)
    assert result.engine["engine"] == "dask" and result.engine["worker_threads"] == 2
    assert canonical(result) == reference


def test_cli_on_the_real_cluster_writes_the_same_phi_and_errors(
    archive: Path, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """Given the real cluster, when `analyze --scheduler tcp://...` and the default engine write their JSON,
    then the phi and errors sections and the summary are the same bytes."""

    def run(*extra: str) -> dict[str, Any]:
        out = tmp_path / f"{len(extra)}.json"
        subprocess.run(
            [sys.executable, "-m", "dicomaudit", "analyze", *map(str, _paths(archive)), "-q", "--json", str(out),
             *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return json.loads(out.read_text())

    embedded, dask = run(), run("--scheduler", dask_cluster.address)
    assert dask["run"]["settings"]["engine"] == "dask" and embedded["run"]["settings"]["engine"] == "embedded"
    for part in ("phi", "errors"):
        assert json.dumps(dask[part]) == json.dumps(embedded[part])
    assert dask["run"]["stats"]["phi"] == embedded["run"]["stats"]["phi"]


def test_parquet_on_the_real_cluster_holds_every_finding_and_the_summary_agrees(
    archive: Path, reference: str, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """Given the real cluster, when it analyses the archive with Parquet output, then the workers wrote
    partitioned parts holding exactly the reference's findings and errors, nothing came back to the client,
    and the summary made on the workers equals the one counted from the reference's findings."""
    import pandas as pd

    from dicomaudit.phi.parquet import read_errors, read_findings

    out = tmp_path / "pq"
    result = analyze_paths(_paths(archive), scheduler=dask_cluster.address, parquet=out, chunk_size=32)
    ref = json.loads(reference)
    assert result.findings == () and result.parquet == str(out)
    assert len(list((out / "findings").glob("part-*.parquet"))) > 1
    assert [f.to_dict() for f in read_findings(out)] == ref["phi"]
    assert [e.to_dict() for e in read_errors(out)] == [e for e in ref["errors"] if not e["error"].startswith("no ")]
    frame = pd.read_parquet(out / "findings")
    assert result.phi_summary is not None
    summary = result.phi_summary.to_dict()
    assert summary == ref["summary"]
    assert frame.groupby("category").size().to_dict() == {k: v for k, v in summary["by_category"].items() if v}
    assert frame.groupby("rule").size().to_dict() == summary["by_rule"]
    assert frame["source"].nunique() == summary["files_with_phi"]


def _interrupt_after_first_chunk() -> Any:
    """A progress callback that presses Ctrl-C (SIGINT to this process) once, when the first files are done."""
    state = {"sent": False}

    def progress(done: int, total: int | None) -> None:
        if done and not state["sent"]:
            state["sent"] = True
            os.kill(os.getpid(), signal.SIGINT)

    return progress


@pytest.mark.parametrize("workers", [1, 2])
def test_resumed_run_after_ctrl_c_gives_the_same_json_as_an_uninterrupted_one(
    archive: Path, reference: str, tmp_path: Path, workers: int
) -> None:
    """Given a run with a checkpoint stopped by Ctrl-C after its first chunk, when it is run again with the
    same checkpoint, then the second run analyses only what was left and its JSON is the uninterrupted one."""
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(AnalysisInterrupted) as stopped:
        analyze_paths(_paths(archive), workers=workers, checkpoint=ckpt, progress=_interrupt_after_first_chunk())
    first = stopped.value.result
    assert first.interrupted and first.not_analysed > 0
    resumed = analyze_paths(_paths(archive), workers=workers, checkpoint=ckpt)
    assert 0 < resumed.resumed == first.files_scanned + len(first.skipped) + len(first.errors)
    assert canonical(resumed) == reference


def test_parquet_resume_after_ctrl_c_keeps_every_finding_once(archive: Path, reference: str, tmp_path: Path) -> None:
    """Given a Parquet run with a checkpoint stopped by Ctrl-C, when it is resumed, then the Parquet parts
    hold every finding exactly once and the summary is the uninterrupted one."""
    from dicomaudit.phi.parquet import read_findings

    out, ckpt = tmp_path / "pq", tmp_path / "run.ckpt"
    with pytest.raises(AnalysisInterrupted):
        analyze_paths(_paths(archive), workers=2, parquet=out, checkpoint=ckpt, progress=_interrupt_after_first_chunk())
    resumed = analyze_paths(_paths(archive), workers=2, parquet=out, checkpoint=ckpt)
    ref = json.loads(reference)
    assert resumed.resumed > 0
    assert [f.to_dict() for f in read_findings(out)] == ref["phi"]
    assert resumed.phi_summary is not None and resumed.phi_summary.to_dict() == ref["summary"]


def test_killed_worker_on_the_real_cluster_loses_nothing_and_the_checkpoint_resumes_everything(
    archive: Path, reference: str, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """Given the real cluster busy with the archive, when one dask worker process is killed (SIGKILL) after
    the first chunk, then the scheduler reruns its tasks elsewhere, the JSON is identical, and a rerun with
    the checkpoint takes every file from it."""
    victim = dask_cluster.worker_pids()[0]
    state = {"killed": False}

    def progress(done: int, total: int | None) -> None:
        if done and not state["killed"]:
            state["killed"] = True
            os.kill(victim, signal.SIGKILL)

    ckpt = tmp_path / "run.ckpt"
    try:
        result = analyze_paths(
            _paths(archive), scheduler=dask_cluster.address, checkpoint=ckpt, chunk_size=8, progress=progress
        )
    finally:
        dask_cluster.wait_for_workers(2)  # its nanny starts a new worker: the cluster is whole for other tests
    assert state["killed"] and victim not in dask_cluster.worker_pids()
    assert canonical(result) == reference
    again = analyze_paths(_paths(archive), scheduler=dask_cluster.address, checkpoint=ckpt)
    assert again.resumed == again.files_scanned + len(again.skipped) + len(again.errors)
    assert canonical(again) == reference


def test_result_lost_with_its_worker_before_it_was_fetched_is_computed_again(
    archive: Path, dask_cluster: DaskCluster
) -> None:
    """Given a chunk that finished on the dask cluster, when every worker is killed before its result was fetched
    (Dask marks the future lost), then polling waits for the scheduler to compute it again and returns the
    chunk's result -- not "the worker died" for files that were analysed."""
    items = tuple(enumerate(item for item in iter_inputs(_paths(archive)) if isinstance(item, InputFile)))
    engine = DaskEngine(dask_cluster.address, None)
    try:
        engine.submit(0, ChunkTask(items[:4]))
        future = next(iter(engine.futures))
        deadline = time.monotonic() + 60
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.status == "finished"  # and its result still on the worker that computed it
        # Every worker: no copy of the result survives, and nothing computes it again until the nannies
        # have started new workers -- the window in which the future is "lost".
        for pid in engine.client.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while future.status == "finished" and time.monotonic() < deadline:
            time.sleep(0.05)  # until the scheduler has noticed, and told the client, that the result is lost
        assert future.status in ("lost", "pending")
        results: dict[int, Any] = {}
        while not results and time.monotonic() < deadline + 60:
            results.update(engine.poll(0.5))
    finally:
        engine.close()
        dask_cluster.wait_for_workers(2)  # its nanny starts a new worker: the cluster is whole for other tests
    assert not isinstance(results[0], BaseException)
    assert len(results[0].outcomes) == 4 and all(o.error is None for o in results[0].outcomes)


def test_killed_pool_worker_is_replaced_and_nothing_is_lost(archive: Path, reference: str) -> None:
    """Given the process pool busy with the archive, when one of its worker processes is killed, then the
    pool is replaced, the chunks it held are analysed again, and the JSON is identical."""
    state = {"killed": 0}

    def progress(done: int, total: int | None) -> None:
        if done and not state["killed"]:
            children = multiprocessing.active_children()
            if children:
                os.kill(children[0].pid, signal.SIGKILL)  # type: ignore[arg-type]
                state["killed"] = children[0].pid or 0

    result = analyze_paths(_paths(archive), workers=2, chunk_size=8, progress=progress)
    assert state["killed"]
    assert canonical(result) == reference


def test_chunk_submitted_after_a_worker_died_unseen_is_analysed(archive: Path) -> None:
    """Given a pool whose worker died after the runner last polled it (the pool is broken, no one knows yet),
    when the next chunk is submitted, then the pool is replaced and that chunk and the one the dead worker held
    are both analysed."""
    items = tuple(enumerate(item for item in iter_inputs(_paths(archive)) if isinstance(item, InputFile)))
    first, second = ChunkTask(items[:4]), ChunkTask(items[4:8])
    engine = PoolEngine(1, None)
    try:
        engine.submit(0, first)
        worker = next(iter(engine.pool._processes.values()))  # the pool's one worker process
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(10)
        deadline = time.monotonic() + 10
        while not engine.pool._broken and time.monotonic() < deadline:  # the pool notices on its own thread
            time.sleep(0.01)
        assert engine.pool._broken
        engine.submit(1, second)
        results: dict[int, Any] = {}
        while len(results) < 2 and time.monotonic() < deadline + 30:
            results.update(engine.poll(0.5))
    finally:
        engine.close()
    assert engine.restarts == 1
    assert [len(results[k].outcomes) for k in (0, 1)] == [4, 4]


def test_listing_is_streamed_not_built_before_work_starts(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a folder of 250+ files, when the analysis starts, then the first file is finished while only
    the read-ahead and one chunk have been taken from the listing (a counting generator), and the listing is
    read to its end only as the work goes on."""
    pulled = {"n": 0}
    at_first_file: list[int] = []

    def counting(paths: Any) -> Any:
        for item in iter_inputs(paths):
            pulled["n"] += 1
            yield item

    monkeypatch.setattr(runner_module, "iter_inputs", counting)

    def progress(done: int, total: int | None) -> None:
        if not at_first_file:
            at_first_file.append(pulled["n"])
            assert total is None  # the total is not known yet: the listing is not finished

    result = analyze_paths([archive], workers=1, progress=progress)
    total = result.files_scanned + len(result.errors) + len(result.skipped)
    assert total > 250
    assert at_first_file[0] <= runner_module.PARALLEL_THRESHOLD + runner_module.CHUNK + 1
    assert pulled["n"] == total


def test_discover_lists_what_the_stream_yields(archive: Path) -> None:
    """Given the archive, then the list discover() builds is the streamed listing, in the same order."""
    files, problems = discover(_paths(archive))
    streamed = list(iter_inputs(_paths(archive)))
    assert files == [i for i in streamed if hasattr(i, "path")] and problems == []
    assert len(files) == len({f.path for f in files})  # the DICOMDIR named again is listed once


def test_bad_scheduler_address_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Given nothing listening on a loopback port, when analyze is pointed at it, then it exits 2 within the
    connect timeout with one line on stderr and no traceback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "dicomaudit", "analyze", str(ROOT / "sample_data"), "-q",
         "--scheduler", f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "scheduler" in done.stderr


def test_reports_of_a_parquet_run_show_the_summary_and_the_worst_files(tmp_path: Path) -> None:
    """Given `analyze --parquet --out`, whose result JSON carries no findings, then the Markdown and HTML
    reports count the values and files from the summary made on the engine and list the worst files."""
    done = subprocess.run(
        [sys.executable, "-m", "dicomaudit", "analyze", str(ROOT / "sample_data"), "-q",
         "--parquet", str(tmp_path / "pq"), "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    summary = data["run"]["stats"]["phi"]
    assert data["phi"] == [] and summary["findings"] > 0 and data["run"]["settings"]["parquet"]
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"| PHI values found | {summary['findings']} |" in md
    assert f"| Files with identifying data | {summary['files_with_phi']} |" in md
    worst = summary["worst_files"][0]
    source = worst["source"].replace("_", "\\_")  # Markdown-escaped
    assert f"| {worst['worst']} | {source} | {worst['findings']} |" in md
    assert worst["source"] in (tmp_path / "out" / "report.html").read_text()
