"""AE title guessing: nothing without --guess-aet; with it, the called title is found or honestly reported unknown.

Lab nodes on loopback whose called AE title must be given (``locked``
profile, retitled): the lab's event log shows every association request it
saw, so "nothing was guessed" and "at most --guess-limit tries, --guess-pause
apart" are read from the node's side, not the scanner's.
"""

from __future__ import annotations

import json
import secrets
import socket
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.fleet.aetitles import CALLED_DEFAULTS, CALLING_DEFAULTS
from dicomaudit.lab import LabPACS
from dicomaudit.lab.profiles import LabProfile, get_profile
from dicomaudit.models import Status, Target, TargetResult
from dicomaudit.scanner import scan_target
from tests.fleet.test_discover import check_of, run

HOST = "127.77.3.1"
#: Checks that cannot be asked without the node's called AE title (each opens its own association).
NEEDS_CALLED_AET = (
    "services.offered",
    "assoc.any_calling_aet",
    "identity.user_identity",
    "echo.unauthenticated",
    "find.unauthenticated",
    "worklist.unauthenticated",
    "get.unauthenticated",
    "move.unauthenticated",
    "store.unauthenticated",
)


def titled(ae_title: str) -> LabProfile:
    """The locked lab, answering only to ``ae_title`` (and PACSADMIN / MODALITY1 as callers)."""
    return replace(get_profile("locked"), ae_title=ae_title)


class TimedLab:
    """A lab node whose association events are stamped with the monotonic time they were seen."""

    def __init__(self, profile: LabProfile | str) -> None:
        self.stamped: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.lab = LabPACS(profile, host=HOST, port=0, on_event=self._seen)

    def _seen(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.stamped.append((time.monotonic(), event))

    def requests(self) -> list[tuple[float, str, str]]:
        """(time, calling, called) of each association request answered (accepted or rejected)."""
        with self._lock:
            return [
                (t, e["calling_aet"], e["called_aet"])
                for t, e in self.stamped
                if e["kind"] == "association" and e["outcome"] in ("accepted", "rejected")
            ]


@pytest.fixture
def orthanc_titled() -> Iterator[TimedLab]:
    node = TimedLab(titled("ORTHANC"))
    with node.lab:
        yield node


def _guess_events(node: TimedLab) -> list[tuple[float, str, str]]:
    defaults = {c.aet for c in CALLED_DEFAULTS}
    return [r for r in node.requests() if r[2] in defaults]


def _probe_cli(lab: LabPACS, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "result.json"
    proc = run("probe", f"{lab.host}:{lab.port}", "--json", str(out), "--timeout", "2", "-q", *extra)
    assert proc.returncode == 0, proc.stderr
    (target,) = json.loads(out.read_text())["targets"]
    return dict(target)


# ---------------------------------------------------------------------------- the called AE title


def test_without_guess_aet_nothing_is_guessed(orthanc_titled: TimedLab, tmp_path: Path) -> None:
    """Given a node answering only to ORTHANC, when probed without a title and without --guess-aet, then the checks
    that need the title are inconclusive errors, guessable_calling_aet is skipped for want of --guess-aet, and the
    node never saw ORTHANC as a called title."""
    target = _probe_cli(orthanc_titled.lab, tmp_path)
    for check_id in NEEDS_CALLED_AET:
        result = check_of(target, check_id)
        assert (result["status"], result["reason_code"]) == ("error", "inconclusive"), check_id
    guessable = check_of(target, "assoc.guessable_calling_aet")
    assert guessable["status"] == "skipped" and "needs --guess-aet" in guessable["summary"]
    assert target["called_aet"] is None
    requests = orthanc_titled.requests()
    assert requests, "the node saw no association request at all"
    assert not [r for r in requests if r[2] == "ORTHANC"]


def test_with_guess_aet_the_node_is_audited_fully(orthanc_titled: TimedLab, tmp_path: Path) -> None:
    """Given the same node, when probed with --guess-aet, then its called AE title becomes ORTHANC (said to be
    guessed), the evidence shows the search, and every other check is decided."""
    target = _probe_cli(orthanc_titled.lab, tmp_path, "--guess-aet", "--guess-pause", "0")
    assert target["called_aet"] == "ORTHANC"
    assert target["attributes"]["called_aet_source"].startswith("guessed:")
    guess = check_of(target, "dicom.service")["evidence"]["called_aet_guess"]
    assert guess["found"] == "ORTHANC"
    assert [t["aet"] for t in guess["tried"]] == ["ORTHANC"]
    assert any("found by guessing" in w for w in target["warnings"])
    undecided = {c["id"]: c["summary"] for c in target["checks"] if c["status"] == "error"}
    assert not undecided
    for check_id in NEEDS_CALLED_AET:
        assert check_of(target, check_id)["status"] in ("pass", "fail", "info"), check_id


@pytest.fixture
def unguessable() -> Iterator[TimedLab]:
    title = "Z" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(11))
    node = TimedLab(titled(title))
    with node.lab:
        yield node


def _guess(node: TimedLab, **kw: Any) -> TargetResult:
    settings = ProbeSettings(timeout=2.0, guess_aet=True, **kw)
    return scan_target(Target(node.lab.host, node.lab.port), settings)


def test_unguessable_title_is_reported_unknown_never_passed(unguessable: TimedLab) -> None:
    """Given a node with a random called AE title, when probed with --guess-aet (limit 3), then a warning says the
    title is unknown and every check that needs it is an inconclusive error, never a pass."""
    result = _guess(unguessable, guess_limit=3, guess_pause=0.0)
    assert result.target.called_aet is None
    assert any(w.startswith("called AE title unknown") for w in result.warnings), result.warnings
    for check_id in (*NEEDS_CALLED_AET, "assoc.guessable_calling_aet"):
        check = result.check(check_id)
        assert (check.status, check.reason_code) == (Status.ERROR, "inconclusive"), check_id
    guess = result.check("dicom.service").evidence["called_aet_guess"]
    assert guess["found"] is None and len(guess["tried"]) == 3


def test_guessing_respects_the_limit_and_the_pause(unguessable: TimedLab) -> None:
    """Given the same node, when probed with --guess-limit 3 and --guess-pause 0.2, then the node sees at most 3
    guessed titles, at least 0.2 s apart (0.4 s in all)."""
    _guess(unguessable, guess_limit=3, guess_pause=0.2, checks=("dicom.service",))
    guesses = _guess_events(unguessable)
    assert len(guesses) == 3  # the limit: an unguessable title uses all of it, no more
    assert [g[2] for g in guesses] == [c.aet for c in CALLED_DEFAULTS[: len(guesses)]]
    gaps = [b[0] - a[0] for a, b in zip(guesses, guesses[1:], strict=False)]
    assert all(gap >= 0.19 for gap in gaps), gaps
    assert guesses[-1][0] - guesses[0][0] >= 0.38


def test_titles_from_the_inventory_are_tried_first(tmp_path: Path) -> None:
    """Given an inventory whose other row uses the title RADPACS01, and a node answering only to RADPACS01, when
    the inventory is probed with --guess-aet, then RADPACS01 is the first title tried (and found), and no product
    default is tried."""
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refused.bind((HOST, 0))
    node = TimedLab(titled("RADPACS01"))
    try:
        with node.lab:
            inventory = tmp_path / "inv.csv"
            inventory.write_text(
                f"host,port,called_aet\n{HOST},{node.lab.port},\n{HOST},{refused.getsockname()[1]},RADPACS01\n"
            )
            out = tmp_path / "result.json"
            args = ("--guess-aet", "--guess-pause", "0", "--check", "dicom.service", "--json", str(out))
            proc = run("probe", "--targets", str(inventory), *args, "--timeout", "2", "-q")
            assert proc.returncode == 0, proc.stderr
    finally:
        refused.close()
    target = json.loads(out.read_text())["targets"][0]
    guess = check_of(target, "dicom.service")["evidence"]["called_aet_guess"]
    assert guess["tried"][0]["aet"] == "RADPACS01"
    assert "from the inventory" in guess["tried"][0]["source"]
    assert guess["found"] == "RADPACS01" and target["called_aet"] == "RADPACS01"
    assert not _guess_events(node)


# ---------------------------------------------------------------------------- assoc.guessable_calling_aet


def _calling_check(profile: LabProfile | str, called: str) -> Any:
    with LabPACS(profile, host=HOST, port=0) as lab:
        settings = ProbeSettings(
            timeout=2.0, guess_aet=True, guess_pause=0.0, checks=("dicom.service", "assoc.guessable_calling_aet")
        )
        return scan_target(Target(lab.host, lab.port, called), settings).check("assoc.guessable_calling_aet")


def test_allow_list_admitting_a_default_calling_title_fails() -> None:
    """Given a node whose calling AE allow-list admits STORESCU, when assoc.guessable_calling_aet runs with
    --guess-aet, then it fails and the evidence names STORESCU as the admitted title."""
    profile = replace(get_profile("locked"), allowed_calling_aets=("STORESCU",), registered_aets=("STORESCU",))
    check = _calling_check(profile, profile.ae_title)
    assert check.status is Status.FAIL
    assert check.evidence["admitted"] == "STORESCU"
    assert "STORESCU" in check.summary


def test_allow_list_of_site_titles_passes() -> None:
    """Given the locked node (PACSADMIN and MODALITY1 only), when assoc.guessable_calling_aet runs, then it passes
    after trying the default calling titles, none admitted."""
    locked = get_profile("locked")
    check = _calling_check(locked, locked.ae_title)
    assert check.status is Status.PASS
    tried = [t["aet"] for t in check.evidence["tried"]]
    assert tried and set(tried) <= {c.aet for c in CALLING_DEFAULTS}
    assert all(t["outcome"].startswith("rejected") for t in check.evidence["tried"])


def test_no_allow_list_means_nothing_to_guess() -> None:
    """Given the open node (any calling title accepted), when assoc.guessable_calling_aet runs, then it is skipped."""
    check = _calling_check("open", get_profile("open").ae_title)
    assert check.status is Status.SKIPPED
    assert "any calling AE title is accepted" in check.summary
