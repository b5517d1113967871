"""Never wrong, never stuck: the scanner against hostile and broken DICOM peers.

Every rogue of :mod:`tests.rogue` listens on loopback; ONE scan of all of
them (``timeout=1.0``, ``concurrency=8``) is cached for the module and each
test asserts on its own target's result:

* a check whose decision rests on a malformed, mismatched, truncated or late
  answer is ``error`` (never ``pass``/``fail``) with the matching
  ``reason_code``;
* misbehaviours after a well-formed A-ASSOCIATE-AC are judged on the checks
  that exercise the broken part (the association checks may well ``fail``);
  a rogue that breaks one operation only leaves every other check exactly as
  on the open node;
* the well-formed open node and the endless-but-valid C-FIND are real
  exposures and must ``fail``; well-formed answers of the other rogues get
  the verdict they show (:data:`VERDICTS`);
* a C-STORE sub-operation the scanner did not ask for is never acknowledged,
  and a C-MOVE that reports sub-operations is cancelled;
* every target is done within ``12 x timeout + 3 s`` and the scanner leaves
  no connection open behind it.

Scanner bugs the rogues expose are listed in :data:`KNOWN_BUGS`: those
tests are ``xfail(strict=True)`` until the scanner is fixed.

The CLI test runs ``dicomaudit probe`` in a child process against a few of
the worst rogues plus the open node and bounds its time and memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.models import CheckResult, ErrorReason, Status, Target, TargetResult
from dicomaudit.scanner import scan
from tests.rogue import RogueFleet, all_behaviours, get_behaviour, wire
from tests.rogue.behaviours import HugeValueFind, MovePendingThenCancel

TIMEOUT = 1.0
#: Per-target bound: the target budget (12 x timeout) plus slack for a loaded 2-core box.
TARGET_BOUND = 12 * TIMEOUT + 3.0
#: The whole scan must end long before this, or the module fails instead of hanging.
SCAN_GUARD = 300.0
CALLED_AET = "ROGUE"

R = ErrorReason
PROTOCOL = frozenset({R.PROTOCOL_VIOLATION})
SILENCE = frozenset({R.TIMEOUT, R.BUDGET_EXHAUSTED})
# A length beyond the Maximum Length the scanner announced (PS3.8 D.1) may be
# called out at once as a protocol violation, or waited out: both are right.
HUGE_HEADER = SILENCE | {R.PROTOCOL_VIOLATION}
TLS_GARBAGE = frozenset({R.PROTOCOL_VIOLATION, R.TLS})

ECHO = ("echo.unauthenticated",)
FIND = ("find.unauthenticated", "find.phi_exposed")
WORKLIST = ("worklist.unauthenticated", "worklist.phi_exposed")
GET = ("get.unauthenticated",)
MOVE = ("move.unauthenticated", "move.any_destination")
IDENTITY = ("identity.user_identity",)
QUERIES = FIND + WORKLIST
RETRIEVE = GET + MOVE
#: Every check that sends a DIMSE request (store.unauthenticated only negotiates, without --intrusive).
EVERY_OPERATION = ECHO + QUERIES + RETRIEVE

#: Association level: no verdict at all; dicom.service is error with one of these codes.
ASSOCIATION_LEVEL: dict[str, frozenset[ErrorReason]] = {
    "ac_truncated": PROTOCOL,
    "ac_undecodable": PROTOCOL,
    "ac_no_contexts": PROTOCOL,
    "ac_foreign_context_ids": PROTOCOL,
    "ac_unproposed_transfer_syntax": PROTOCOL,
    "ac_huge_length": HUGE_HEADER,
    "close_after_rq": frozenset({R.CONNECTIVITY}),
    "rj_reserved_reason": PROTOCOL,
    "rj_wrong_length": PROTOCOL,
    "abort_bad_length": PROTOCOL,
    "unknown_pdu_reply": PROTOCOL,
    "silent": SILENCE,
    "drip": SILENCE,
    "garbage": PROTOCOL,
    "tls_garbage": TLS_GARBAGE,
    "tls_record_garbage": TLS_GARBAGE,
    "ac_unrequested_identity_response": PROTOCOL,
    "ac_unrequested_role_selection": PROTOCOL,
}


@dataclass(frozen=True)
class Broken:
    """A post-AC misbehaviour: which checks exercise it and which error codes fit."""

    checks: tuple[str, ...]
    reasons: frozenset[ErrorReason]


DIMSE_LEVEL: dict[str, Broken] = {
    "echo_pending": Broken(ECHO, PROTOCOL),
    "wrong_command_field": Broken(EVERY_OPERATION, PROTOCOL),
    "wrong_message_id": Broken(EVERY_OPERATION, PROTOCOL),
    "foreign_context_pdata": Broken(EVERY_OPERATION, PROTOCOL),
    "find_overrun_identifier": Broken(QUERIES, PROTOCOL),
    "pdata_huge_header": Broken(EVERY_OPERATION, HUGE_HEADER),
    "pdata_unknown_pdu": Broken(EVERY_OPERATION, PROTOCOL),
    "endless_undecodable_find": Broken(QUERIES, PROTOCOL),
    "huge_value_find": Broken(QUERIES, frozenset({R.BUDGET_EXHAUSTED})),
    "cmd_bad_group_length": Broken(EVERY_OPERATION, PROTOCOL),
    "cmd_truncated": Broken(EVERY_OPERATION, PROTOCOL),
    "dimse_close": Broken(EVERY_OPERATION, frozenset({R.CONNECTIVITY})),
    "rsp_missing_status": Broken(EVERY_OPERATION, PROTOCOL),
    # One operation broken, the rest answered like the open node (see OPEN_OTHERWISE).
    "worklist_overrun_item": Broken(WORKLIST, PROTOCOL),
    "get_wrong_message_id": Broken(GET, PROTOCOL),
    "get_undefined_status": Broken(GET, PROTOCOL),
    "move_undefined_status": Broken(MOVE, PROTOCOL),
    "move_unknown_status": Broken(MOVE, PROTOCOL),
    "move_premature_cancel": Broken(MOVE, PROTOCOL),
    "move_counter_wrong_length": Broken(MOVE, PROTOCOL),
    "get_store_on_get_context": Broken(GET, PROTOCOL),
    "get_store_on_foreign_context": Broken(GET, PROTOCOL),
    "get_store_on_other_context": Broken(GET, PROTOCOL),
    "endless_pending_retrieve": Broken(RETRIEVE, SILENCE),
    "identity_response_bad_length": Broken(IDENTITY, PROTOCOL),
}

#: Scanner bugs found by these rogues: (rogue, check) -> what goes wrong (the test is xfail, strict).
#: Empty: the C-GET/C-MOVE status-table bug they found is fixed (dimse._DEFINED_STATUSES).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _known_bug(name: str, check_id: str) -> tuple[pytest.MarkDecorator, ...]:
    reason = KNOWN_BUGS.get((name, check_id))
    return (pytest.mark.xfail(strict=True, reason=reason),) if reason else ()


#: Well-formed answers that decide a check: the verdict it must reach.
VERDICTS: dict[str, dict[str, Status]] = {
    # Sub-operations reported for a study that cannot exist: the node moves on request.
    "move_pending_then_cancel": {"move.unauthenticated": Status.FAIL, "move.any_destination": Status.FAIL},
    "identity_response": {"identity.user_identity": Status.FAIL},
    "rj_on_user_identity": {"identity.user_identity": Status.PASS},
}

#: Rogues that misbehave in one operation only: every check outside it is as on the open node.
ONE_OPERATION_BROKEN = (
    "worklist_overrun_item",
    "get_wrong_message_id",
    "get_undefined_status",
    "move_undefined_status",
    "move_unknown_status",
    "move_premature_cancel",
    "move_counter_wrong_length",
    "get_store_on_get_context",
    "get_store_on_foreign_context",
    "get_store_on_other_context",
    "endless_pending_retrieve",
    "identity_response_bad_length",
)
OPEN_OTHERWISE: dict[str, tuple[str, ...]] = {
    **{n: DIMSE_LEVEL[n].checks for n in ONE_OPERATION_BROKEN},
    **{n: tuple(checks) for n, checks in VERDICTS.items()},
}

#: Well-formed answers that show real exposures.
OPEN_NODE_FAILS = (
    "assoc.any_called_aet",
    "assoc.any_calling_aet",
    "echo.unauthenticated",
    "find.unauthenticated",
    "find.phi_exposed",
    "worklist.unauthenticated",
    "worklist.phi_exposed",
    "get.unauthenticated",
    "move.unauthenticated",
    "store.unauthenticated",
    "transport.plaintext",
)
#: Well-formed answers that show no exposure by themselves.
OPEN_NODE_INFO = ("dicom.service", "services.offered", "identity.user_identity")
ALL_NAMES = [b.name for b in all_behaviours()]
WELL_FORMED_AC = [*DIMSE_LEVEL, *VERDICTS, "endless_pending_find", "no_release_rp"]


def test_expectation_tables_cover_every_rogue() -> None:
    """Given the rogue registry, every listener has an expectation in this module (none forgotten)."""
    covered = set(ASSOCIATION_LEVEL) | set(WELL_FORMED_AC) | {"open"}
    assert covered == set(ALL_NAMES)
    assert all(get_behaviour(n).level == "association" for n in ASSOCIATION_LEVEL)
    assert all(get_behaviour(n).level == "dimse" for n in WELL_FORMED_AC)
    assert not set(VERDICTS) & set(DIMSE_LEVEL)
    assert all(name in DIMSE_LEVEL for name, check_id in KNOWN_BUGS)


# -- the one scan ------------------------------------------------------------------------------
@dataclass
class ScanRun:
    """The module's single scan: targets and results by rogue name, and when each target finished."""

    fleet: RogueFleet
    targets: dict[str, Target]
    results: dict[str, TargetResult] = field(default_factory=dict)
    finished_at: dict[str, float] = field(default_factory=dict)
    ordered: list[TargetResult] = field(default_factory=list)
    elapsed: float = 0.0

    def result(self, name: str) -> TargetResult:
        return self.results[name]

    def check(self, name: str, check_id: str) -> CheckResult:
        return self.results[name].check(check_id)

    def wall_time(self, name: str) -> float:
        """From the scanner's first connection to the rogue until the scanner said the target was done."""
        started = self.fleet[name].first_accept_at
        assert started is not None, f"{name}: the scanner never connected"
        assert name in self.finished_at, f"{name}: the scanner never reported the target done"
        return self.finished_at[name] - started


@pytest.fixture(scope="module")
def fleet() -> Iterator[RogueFleet]:
    with RogueFleet(all_behaviours()) as rogues:
        yield rogues
    for server in rogues:
        assert not server.leftover_threads, f"rogue {server.name} left threads behind"


@pytest.fixture(scope="module")
def run(fleet: RogueFleet) -> ScanRun:
    """Scan every rogue once; a scan that hangs fails the module instead of hanging it."""
    targets = {s.name: Target(host=s.host, port=s.port, called_aet=CALLED_AET) for s in fleet}
    by_port = {t.port: name for name, t in targets.items()}
    state = ScanRun(fleet, targets)
    outcome: dict[str, object] = {}

    def progress(target: Target, check_id: str | None, result: CheckResult | None) -> None:
        if check_id is None:
            state.finished_at[by_port[target.port]] = time.monotonic()

    def work() -> None:
        try:
            outcome["results"] = scan(list(targets.values()), ProbeSettings(timeout=TIMEOUT, concurrency=8), progress)
        except BaseException as exc:  # reported in the main thread
            outcome["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=work, name="rogue-scan", daemon=True)
    worker.start()
    worker.join(SCAN_GUARD)
    state.elapsed = time.monotonic() - started
    if worker.is_alive():
        pytest.fail(f"scan of {len(targets)} rogues still running after {SCAN_GUARD:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    state.ordered = list(outcome["results"])  # type: ignore[call-overload]
    state.results = {by_port[r.target.port]: r for r in state.ordered}
    return state


def _statuses(result: TargetResult) -> dict[str, str]:
    return {c.id: f"{c.status.value}/{c.reason_code.value if c.reason_code else '-'}" for c in result.checks}


# -- every target ------------------------------------------------------------------------------
def test_scan_returns_one_result_per_target_in_input_order(run: ScanRun) -> None:
    """Given all rogues scanned at once, the results come back one per target, in input order."""
    assert [r.target for r in run.ordered] == list(run.targets.values())


@pytest.mark.parametrize("name", ALL_NAMES)
def test_no_rogue_ever_gets_a_pass(run: ScanRun, name: str) -> None:
    """Given a rogue (none of them refuses anything, but rj_on_user_identity a user identity), when scanned,
    then no check says pass unless VERDICTS expects it."""
    expected = {c for c, status in VERDICTS.get(name, {}).items() if status is Status.PASS}
    passed = {c.id for c in run.result(name).checks if c.status is Status.PASS}
    assert passed <= expected, f"{name}: {_statuses(run.result(name))}"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_error_says_which_kind_of_problem_it_was(run: ScanRun, name: str) -> None:
    """Given a rogue, when scanned, then every error carries a reason code, and never 'internal'."""
    errors = [c for c in run.result(name).checks if c.status is Status.ERROR]
    assert all(c.reason_code not in (None, R.INTERNAL) for c in errors), _statuses(run.result(name))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_target_finishes_within_its_budget(run: ScanRun, name: str) -> None:
    """Given a rogue, when scanned, then its wall time (first connection to 'done') and its checks'
    summed durations stay within 12 x timeout + 3 s."""
    wall = run.wall_time(name)
    summed = sum(c.duration_ms or 0.0 for c in run.result(name).checks) / 1000
    assert wall <= TARGET_BOUND, f"{name}: {wall:.1f} s wall"
    assert summed <= TARGET_BOUND, f"{name}: {summed:.1f} s summed over checks"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_scanner_leaves_no_connection_open(run: ScanRun, name: str) -> None:
    """Given a rogue that holds connections open (or streams forever), when the scan is over,
    then the scanner has hung up every connection it opened."""
    server = run.fleet[name]
    deadline = time.monotonic() + 1.0
    while server.live_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.live_connections == 0, f"{name}: {server.live_connections} connection(s) still open"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_rogue_handlers_did_not_fail(run: ScanRun, name: str) -> None:
    """Given the scan, the rogue itself worked as designed (a failure here is a fixture bug)."""
    assert not run.fleet[name].errors, "\n".join(run.fleet[name].errors)


# -- association level ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ASSOCIATION_LEVEL))
def test_association_level_rogue_is_not_called_dicom(run: ScanRun, name: str) -> None:
    """Given a rogue that botches the association answer, when scanned, then dicom.service is error
    (not info) with the reason code that names the problem."""
    service = run.check(name, "dicom.service")
    assert service.status is Status.ERROR, f"{name}: {_statuses(run.result(name))}"
    assert service.reason_code in ASSOCIATION_LEVEL[name], f"{name}: {_statuses(run.result(name))}"


@pytest.mark.parametrize("name", list(ASSOCIATION_LEVEL))
def test_association_level_rogue_gets_no_verdict(run: ScanRun, name: str) -> None:
    """Given a rogue that botches the association answer, when scanned, then no check is pass or fail,
    and every error's code is the service's kind of problem (or the budget running out)."""
    result = run.result(name)
    allowed = ASSOCIATION_LEVEL[name] | {R.BUDGET_EXHAUSTED}
    for check in result.checks:
        assert check.status in (Status.ERROR, Status.SKIPPED), f"{name}: {_statuses(result)}"
        if check.status is Status.ERROR:
            assert check.reason_code in allowed, f"{name}: {_statuses(result)}"


# -- after a well-formed A-ASSOCIATE-AC -----------------------------------------------------------
@pytest.mark.parametrize("name", WELL_FORMED_AC)
def test_rogue_with_a_well_formed_ac_is_recognised_as_dicom(run: ScanRun, name: str) -> None:
    """Given a rogue whose A-ASSOCIATE-AC is well-formed, when scanned, then dicom.service is info."""
    assert run.check(name, "dicom.service").status is Status.INFO, _statuses(run.result(name))


@pytest.mark.parametrize(
    ("name", "check_id"),
    [pytest.param(n, c, marks=_known_bug(n, c)) for n, b in DIMSE_LEVEL.items() for c in b.checks],
)
def test_broken_dimse_exchange_is_an_error(run: ScanRun, name: str, check_id: str) -> None:
    """Given a rogue that breaks the DIMSE exchange a check relies on, when scanned, then that check is
    error with the reason code of the breakage, never pass or fail."""
    check = run.check(name, check_id)
    assert check.status is Status.ERROR, f"{name}/{check_id}: {_statuses(run.result(name))}"
    assert check.reason_code in DIMSE_LEVEL[name].reasons, f"{name}/{check_id}: {_statuses(run.result(name))}"


@pytest.mark.parametrize(("name", "check_id"), [(n, c) for n, checks in VERDICTS.items() for c in checks])
def test_well_formed_answer_gets_its_verdict(run: ScanRun, name: str, check_id: str) -> None:
    """Given a rogue whose answer to one check is well-formed and telling (sub-operations reported, an
    identity confirmed, an identity refused), when scanned, then that check reaches the verdict it shows."""
    assert run.check(name, check_id).status is VERDICTS[name][check_id], _statuses(run.result(name))


@pytest.mark.parametrize("name", list(OPEN_OTHERWISE))
def test_one_broken_operation_leaves_every_other_check_as_on_the_open_node(run: ScanRun, name: str) -> None:
    """Given a rogue that misbehaves in one operation only, when scanned, then every check outside that
    operation has exactly the open node's status and reason code (nothing leaks from one check to another)."""
    open_node = _statuses(run.result("open"))
    others = {c: v for c, v in _statuses(run.result(name)).items() if c not in OPEN_OTHERWISE[name]}
    assert others == {c: v for c, v in open_node.items() if c not in OPEN_OTHERWISE[name]}


@pytest.mark.parametrize(
    "name", ["get_store_on_get_context", "get_store_on_foreign_context", "get_store_on_other_context"]
)
def test_unsolicited_c_store_is_never_acknowledged(run: ScanRun, name: str) -> None:
    """Given a node that answers C-GET with a C-STORE-RQ on a context where the scanner is no storage SCP,
    when scanned, then the scanner never sends a C-STORE-RSP (let alone a success): it aborts the association,
    and the rogue recorded everything it sent after the C-STORE-RQ."""
    behaviour = run.fleet[name].behaviour
    assert behaviour.stores_sent, f"{name}: the scanner never sent a C-GET"  # type: ignore[attr-defined]
    store_rsps = [h for h in behaviour.heard if h.command_field == wire.CommandField.C_STORE_RSP]
    assert not store_rsps, store_rsps
    for number in behaviour.stores_sent:  # type: ignore[attr-defined]
        heard = behaviour.heard_on(number)
        get_rq = [h for h in heard if h.command_field == wire.CommandField.C_GET_RQ]
        assert len(get_rq) == 1, heard
        after = heard[heard.index(get_rq[0]) + 1 :]
        assert [h.pdu_type for h in after] == [wire.A_ABORT_TYPE], heard


def test_move_reporting_sub_operations_is_cancelled(run: ScanRun) -> None:
    """Given a node that reports 5 remaining sub-operations for a study that cannot exist, when scanned,
    then each C-MOVE of the scan (both move checks) was followed by a C-CANCEL for that C-MOVE's Message ID."""
    behaviour = run.fleet["move_pending_then_cancel"].behaviour
    assert isinstance(behaviour, MovePendingThenCancel)
    moves = {(h.association, h.message_id) for h in behaviour.heard if h.command_field == wire.CommandField.C_MOVE_RQ}
    assert len(moves) == 2, behaviour.heard
    assert set(behaviour.cancels) == moves


@pytest.mark.parametrize("name", ["identity_response", "identity_response_bad_length", "rj_on_user_identity"])
def test_identity_rogues_were_asked_with_a_user_identity(run: ScanRun, name: str) -> None:
    """Given a rogue that answers only a user identity differently, when scanned, then exactly one
    association (identity.user_identity's) carried one (the fixture saw what it reacts to)."""
    assert run.fleet[name].behaviour.identity_asked == 1  # type: ignore[attr-defined]


def test_huge_value_is_not_read_to_the_end(run: ScanRun) -> None:
    """Given a C-FIND match carrying one 50 MiB value, when scanned, then the scanner hangs up before
    the rogue could hand the whole value to the socket (its per-message byte cap cut it)."""
    behaviour = run.fleet["huge_value_find"].behaviour
    assert isinstance(behaviour, HugeValueFind)
    assert behaviour.streamed, "the scanner never sent a C-FIND"
    assert max(behaviour.streamed) < behaviour.value_bytes, behaviour.streamed


def test_no_release_rp_still_shows_the_open_echo(run: ScanRun) -> None:
    """Given a node that answers C-ECHO with success but never answers A-RELEASE-RQ, when scanned, then
    echo.unauthenticated is fail: the verdict rests on the echo, which was well-formed."""
    assert run.check("no_release_rp", "echo.unauthenticated").status is Status.FAIL, _statuses(
        run.result("no_release_rp")
    )


# -- real exposures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("check_id", OPEN_NODE_FAILS)
def test_open_node_fails_every_exposure_check(run: ScanRun, check_id: str) -> None:
    """Given a well-formed node that accepts anyone and answers everything (C-GET and C-MOVE with success and
    zero sub-operations, worklist with two items), when scanned, then each exposure check fails."""
    assert run.check("open", check_id).status is Status.FAIL, _statuses(run.result("open"))


@pytest.mark.parametrize("check_id", OPEN_NODE_INFO)
def test_open_node_is_dicom_offers_everything_and_ignores_identity(run: ScanRun, check_id: str) -> None:
    """Given the well-formed open node (no User Identity response), when scanned, then dicom.service,
    services.offered and identity.user_identity are info."""
    assert run.check("open", check_id).status is Status.INFO, _statuses(run.result("open"))


def test_open_node_move_destination_check_is_inconclusive(run: ScanRun) -> None:
    """Given the open node, which answers a C-MOVE to any destination with success and zero sub-operations,
    when scanned, then move.any_destination is error/inconclusive (nothing was there to move)."""
    check = run.check("open", "move.any_destination")
    assert (check.status, check.reason_code) == (Status.ERROR, R.INCONCLUSIVE), _statuses(run.result("open"))


def test_open_node_phi_is_found(run: ScanRun) -> None:
    """Given the open node's matches (DOE^JANE, ROE^RICHARD), when scanned, then PHI findings are recorded."""
    assert run.result("open").phi


@pytest.mark.parametrize("check_id", FIND)
def test_endless_valid_find_is_an_exposure(run: ScanRun, check_id: str) -> None:
    """Given a node that streams well-formed matches forever and ignores C-CANCEL, when scanned, then
    the C-FIND checks fail (the matches were real) and the scanner stopped reading on its own."""
    assert run.check("endless_pending_find", check_id).status is Status.FAIL, _statuses(
        run.result("endless_pending_find")
    )


# -- the command line ------------------------------------------------------------------------------
CLI_ROGUES = (
    "ac_undecodable",
    "silent",
    "drip",
    "tls_record_garbage",
    "endless_pending_find",
    "huge_value_find",
    "no_release_rp",
    "open",
)
CLI_BOUND = 12 * TIMEOUT + 10.0
CLI_MAX_RSS_KIB = 300 * 1024


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    elapsed: float
    max_rss_kib: int
    stderr: str
    timed_out: bool


#: Runs argv[1:] as a grandchild and writes its own ru_maxrss (KiB) to $DICOMAUDIT_RSS_FILE. A process the test
#: starts directly would inherit pytest's memory high-water mark: Linux records the old image's peak RSS in the
#: task's maxrss at exec, and subprocess may vfork, so a large test session would look like a large CLI run.
_RSS_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
with open(os.environ["DICOMAUDIT_RSS_FILE"], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_child(cmd: list[str], cwd: Path, timeout: float) -> ChildRun:
    """Run ``cmd`` in its own session; its peak RSS is measured by a small wrapper (see :data:`_RSS_WRAPPER`)."""
    err_path = cwd / "stderr.txt"
    rss_path = cwd / "maxrss.txt"
    started = time.monotonic()
    env = {**os.environ, "DICOMAUDIT_RSS_FILE": str(rss_path)}
    with open(err_path, "wb") as err, open(cwd / "stdout.txt", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _RSS_WRAPPER, *cmd],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    maxrss = int(rss_path.read_text()) if rss_path.exists() else 0
    return ChildRun(
        proc.returncode, time.monotonic() - started, maxrss, err_path.read_text(errors="replace"), timed_out
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux only")
def test_cli_probe_of_rogues_ends_in_time_within_memory_and_without_traceback(tmp_path: Path) -> None:
    """Given a few of the worst rogues and the open node, when `dicomaudit probe ... --timeout 1 --json OUT -q`
    runs, then it exits 0 or 1 within 12 x 1 + 10 s, under 300 MB of RSS, with no traceback, and the JSON
    lists every target."""
    out = tmp_path / "result.json"
    with RogueFleet(get_behaviour(n) for n in CLI_ROGUES) as rogues:
        specs = [f"{rogues[n].host}:{rogues[n].port}/{CALLED_AET}" for n in CLI_ROGUES]
        cmd = [
            sys.executable,
            "-c",
            "from dicomaudit.cli import main; main()",
            "probe",
            *specs,
            "--timeout",
            "1",
            "--json",
            str(out),
            "-q",
        ]
        child = _run_child(cmd, tmp_path, CLI_BOUND + 30)
    assert not child.timed_out and child.elapsed <= CLI_BOUND, f"{child.elapsed:.1f} s"
    assert child.returncode in (0, 1), child.stderr
    assert "Traceback" not in child.stderr and "Exception" not in child.stderr, child.stderr
    assert 0 < child.max_rss_kib < CLI_MAX_RSS_KIB, f"peak RSS {child.max_rss_kib / 1024:.0f} MiB"
    listed = {(t["host"], t["port"], t["called_aet"]) for t in json.loads(out.read_text())["targets"]}
    assert listed == {(rogues[n].host, rogues[n].port, CALLED_AET) for n in CLI_ROGUES}
