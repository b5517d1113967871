"""The new DIMSE checks against the lab PACS profiles that exercise each outcome.

services.offered, worklist.*, get/move.unauthenticated, move.any_destination
and identity.user_identity: one scan per profile (module-scoped), one
behaviour per test.  The lab's own events are the ground truth for what the
scanner did on the wire.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from dicomaudit.lab import LabPACS
from dicomaudit.lab.profiles import get_profile
from dicomaudit.models import Status, TargetResult
from tests.conftest import TEST_TIMEOUT, target_of

NEW = (
    "services.offered",
    "identity.user_identity",
    "worklist.unauthenticated",
    "worklist.phi_exposed",
    "get.unauthenticated",
    "move.unauthenticated",
    "move.any_destination",
)
INFO, F, P, E, S = Status.INFO, Status.FAIL, Status.PASS, Status.ERROR, Status.SKIPPED
#                    offered ident wl  wlphi get move anydest
EXPECTED = {
    "open": (INFO, F, F, F, F, P, P),  # any destination refused with 0xA801 up front
    "stock": (INFO, INFO, P, P, P, P, S),  # 0x0124 for unregistered AEs
    "locked": (INFO, P, P, P, P, P, S),  # association rejected whatever the identity
    "retrieve": (INFO, INFO, P, P, F, F, E),  # destination checked only when something moves
    "identity": (INFO, P, P, P, P, P, S),  # bogus identity rejected; without one, every request refused
    "readonly": (INFO, INFO, F, F, P, P, P),
}


@pytest.fixture(scope="module", params=list(EXPECTED))
def scanned(request: pytest.FixtureRequest) -> Iterator[tuple[str, LabPACS, TargetResult]]:
    from dicomaudit.checks.base import ProbeSettings
    from dicomaudit.scanner import scan_target

    with LabPACS(profile=request.param) as lab:
        yield request.param, lab, scan_target(target_of(lab), ProbeSettings(timeout=TEST_TIMEOUT))


def test_each_profile_gives_the_verdicts_its_configuration_implies(scanned: tuple[str, LabPACS, TargetResult]) -> None:
    profile, _, result = scanned
    observed = tuple(result.check(cid).status for cid in NEW)
    details = {cid: result.check(cid).summary for cid in NEW}
    assert observed == EXPECTED[profile], details


def test_a_default_probe_moves_no_image(scanned: tuple[str, LabPACS, TargetResult]) -> None:
    """Given any profile, when the default checks ran, then no C-GET/C-MOVE had a sub-operation and nothing was stored."""
    _, lab, _ = scanned
    retrievals = [e for e in lab.events if e["kind"] in ("C-GET", "C-MOVE")]
    assert all(not e.get("sub_operations") for e in retrievals), retrievals
    assert lab.stored == []


def test_open_worklist_returns_items_and_their_names_are_analysed(
    lab_open: LabPACS, probe: Callable[..., TargetResult]
) -> None:
    result = probe(lab_open, checks=("worklist.unauthenticated", "worklist.phi_exposed"))
    query = result.check("worklist.unauthenticated").evidence["queries"][0]
    assert query["response"]["matches_read"] > 0 and query["response"]["cancelled_after_cap"] in (True, False)
    phi = result.check("worklist.phi_exposed")
    assert phi.status is F and "PatientName" in phi.evidence["identifying_attributes"]


def test_open_confirms_a_bogus_identity(lab_open: LabPACS, probe: Callable[..., TargetResult]) -> None:
    check = probe(lab_open, checks=("identity.user_identity",)).check("identity.user_identity")
    assert check.evidence["association"]["user_identity"]["server_response"] == "present (0 bytes)"
    event = next(e for e in reversed(lab_open.events) if e["kind"] == "user_identity")
    assert event["outcome"] == "accepted" and "passcode" not in event


def test_services_offered_groups_by_family(lab_open: LabPACS, probe: Callable[..., TargetResult]) -> None:
    check = probe(lab_open, checks=("services.offered",)).check("services.offered")
    families = check.evidence["families"]
    assert families["Modality Worklist"]["accepted_count"] == 1
    assert families["Query/Retrieve - GET"]["accepted_count"] >= 2
    assert families["Storage"]["proposed"] == 170 and families["Storage"]["accepted_count"] > 100
    assert families["Print Management"]["accepted_count"] == 0
    assert len(check.evidence["associations"]) == 2  # at most 128 presentation contexts each


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_intrusive_move_reaches_the_scanner_and_is_discarded(probe: Callable[..., TargetResult]) -> None:
    """Given a node that knows the scanner's AE as a move destination, when --intrusive --listen-port is given,
    then one instance arrives at the scanner, is refused (0xA700) and only its attribute names are kept."""
    port = _free_port()
    profile = replace(get_profile("open"), name="open-dest", move_destinations=(("DICOMAUDIT", "127.0.0.1", port),))
    with LabPACS(profile=profile) as lab:
        check = probe(lab, intrusive=True, listen_port=port, checks=("move.unauthenticated",)).check(
            "move.unauthenticated"
        )
        assert lab.stored == []
    assert check.status is F, check.summary
    assert check.evidence["requested"]["level"] == "IMAGE"
    (received,) = check.evidence["received"]
    assert "SOPInstanceUID" in received["attributes"] and received["answered"].startswith("0xA700")


def test_intrusive_any_destination_decides_where_the_default_cannot(probe: Callable[..., TargetResult]) -> None:
    """Given a node that checks the destination only when something moves ('retrieve'), when --intrusive asks for
    an existing instance to a random AE, then 0xA801 makes it a pass."""
    profile = replace(get_profile("retrieve"), find="any")
    with LabPACS(profile=profile) as lab:
        check = probe(lab, intrusive=True, checks=("move.any_destination",)).check("move.any_destination")
    assert check.status is P, check.summary


def test_a_listen_port_that_cannot_be_bound_moves_nothing(probe: Callable[..., TargetResult]) -> None:
    """Given --listen-port already taken, when the intrusive move runs, then it asks for nothing that exists."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        profile = replace(get_profile("open"), name="open-dest", move_destinations=(("DICOMAUDIT", "127.0.0.1", port),))
        with LabPACS(profile=profile) as lab:
            check = probe(lab, intrusive=True, listen_port=port, checks=("move.unauthenticated",)).check(
                "move.unauthenticated"
            )
    assert "could not listen" in check.evidence["intrusive_note"]
    assert check.evidence["requested"]["level"] == "STUDY"
