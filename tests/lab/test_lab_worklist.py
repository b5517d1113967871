"""Modality Worklist C-FIND (PS3.4 K.6.1): matching, return keys, C-CANCEL and refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind as WORKLIST  # type: ignore[attr-defined]

from dicomaudit import synth
from dicomaudit.lab import REFUSED_NOT_AUTHORIZED, LabPACS
from tests.lab.conftest import CLIENT_TIMEOUT

ITEMS = synth.generate_worklist()


def _client(calling_aet: str = "MODALITY9") -> AE:
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = CLIENT_TIMEOUT
    ae.add_requested_context(WORKLIST)
    return ae


def _query(sps: dict[str, str] | None = None, **keys: object) -> Dataset:
    """A worklist identifier; `sps` becomes the one Scheduled Procedure Step Sequence item."""
    ds = Dataset()
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    if sps is not None:
        item = Dataset()
        for keyword, value in sps.items():
            setattr(item, keyword, value)
        ds.ScheduledProcedureStepSequence = Sequence([item])
    return ds


def _worklist_find(lab: LabPACS, query: Dataset, calling_aet: str = "MODALITY9") -> tuple[list[Dataset], int]:
    assoc = _client(calling_aet).associate(lab.host, lab.port)
    assert assoc.is_established
    matches, final = [], None
    for status, identifier in assoc.send_c_find(query, WORKLIST):
        if status.Status in (0xFF00, 0xFF01):
            matches.append(identifier)
        else:
            final = status.Status
    assoc.release()
    return matches, final


def test_wildcard_query_returns_every_item_then_success(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab with the six synthetic worklist items,
    when a modality asks PatientName "*" with empty SPS keys,
    then six pending responses come back, then Success."""
    lab = start_lab("open")
    matches, final = _worklist_find(lab, _query(PatientName="*", PatientID="", sps={"Modality": ""}))
    assert final == 0x0000
    assert sorted(str(m.PatientID) for m in matches) == sorted(str(i.PatientID) for i in ITEMS)
    event = [e for e in lab.events if e["kind"] == "C-FIND"][-1]
    assert (event["outcome"], event["matches"], event["model"]) == ("success", 6, str(WORKLIST))


def test_only_requested_keys_are_returned_inside_and_outside_the_sequence(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when the query asks for PatientName and two SPS attributes,
    then each response carries exactly those (plus Specific Character Set) and the SPS item only the two."""
    lab = start_lab("open")
    matches, _ = _worklist_find(lab, _query(PatientName="", sps={"Modality": "", "ScheduledStationAETitle": ""}))
    for m in matches:
        assert {e.keyword for e in m} <= {"PatientName", "ScheduledProcedureStepSequence", "SpecificCharacterSet"}
        (step,) = m.ScheduledProcedureStepSequence
        assert {e.keyword for e in step} == {"Modality", "ScheduledStationAETitle"}
        assert step.Modality and step.ScheduledStationAETitle


def test_zero_length_sequence_key_returns_the_whole_step(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when the SPS sequence key has no item (universal matching, PS3.4 C.2.2.2.6),
    then the whole stored Scheduled Procedure Step comes back."""
    lab = start_lab("open")
    query = _query(PatientID=str(ITEMS[0].PatientID))
    query.ScheduledProcedureStepSequence = Sequence()
    (match,) = _worklist_find(lab, query)[0]
    assert match.ScheduledProcedureStepSequence[0] == ITEMS[0].ScheduledProcedureStepSequence[0]


@pytest.mark.parametrize(
    ("keys", "sps", "expected"),
    [
        ({"PatientName": "doe*"}, None, ["SYN-0001"]),  # wildcard, PN case-insensitive
        ({"PatientID": "SYN-0003"}, None, ["SYN-0003"]),
        ({"AccessionNumber": "SYNWL0004"}, None, ["SYN-0004"]),
        ({"PatientID": ""}, {"Modality": "MR"}, ["SYN-0002", "SYN-0006"]),
        ({"PatientID": ""}, {"ScheduledStationAETitle": "SYNCT01"}, ["SYN-0001", "SYN-0005"]),
        ({"PatientID": ""}, {"Modality": "NM"}, []),
    ],
)
def test_matching_keys(
    start_lab: Callable[..., LabPACS], keys: dict[str, str], sps: dict[str, str] | None, expected: list[str]
) -> None:
    """Given an open lab, when one matching key is set (top level or inside the SPS item),
    then exactly the items with that value match."""
    lab = start_lab("open")
    matches, final = _worklist_find(lab, _query(sps=sps, **{"PatientID": "", **keys}))
    assert final == 0x0000
    assert sorted(str(m.PatientID) for m in matches) == expected


def test_scheduled_date_single_value_and_range(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when the SPS Start Date is a single date, then a range from that date,
    then the single date matches exactly the items of that day and the range those on or after it."""
    lab = start_lab("open")
    dates = sorted(str(i.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate) for i in ITEMS)
    day = dates[len(dates) // 2]
    single, _ = _worklist_find(lab, _query(PatientID="", sps={"ScheduledProcedureStepStartDate": day}))
    ranged, _ = _worklist_find(lab, _query(PatientID="", sps={"ScheduledProcedureStepStartDate": f"{day}-"}))
    assert len(single) == dates.count(day)
    assert {str(m.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate) for m in single} == {day}
    assert len(ranged) == sum(d >= day for d in dates)


def test_cancel_mid_stream_answers_fe00(start_lab: Callable[..., LabPACS]) -> None:
    """Given a slow lab (50 ms per item), when the client sends C-CANCEL after the first item,
    then the lab answers Cancel (0xFE00) before the six items."""
    lab = start_lab("open", response_delay=0.05)
    assoc = _client().associate(lab.host, lab.port)
    pending, final = 0, None
    for status, _ in assoc.send_c_find(_query(PatientName="*"), WORKLIST, msg_id=7):
        if status.Status == 0xFF00:
            pending += 1
            if pending == 1:
                assoc.send_c_cancel(7, query_model=WORKLIST)
        else:
            final = status.Status
    assoc.release()
    assert final == 0xFE00
    assert pending < len(ITEMS)
    assert [e for e in lab.events if e["kind"] == "C-FIND"][-1]["outcome"] == "cancelled"


def test_stock_refuses_unregistered_ae_with_0124_and_serves_registered(start_lab: Callable[..., LabPACS]) -> None:
    """Given a stock lab, when an unregistered AE and then the registered PACSADMIN query the worklist,
    then the first gets only "Refused: Not Authorized" and the second the items."""
    lab = start_lab("stock")
    refused, refused_final = _worklist_find(lab, _query(PatientName="*"), calling_aet="RANDOMQ9")
    served, served_final = _worklist_find(lab, _query(PatientName="*"), calling_aet="PACSADMIN")
    assert (refused, refused_final) == ([], REFUSED_NOT_AUTHORIZED)
    assert (len(served), served_final) == (len(ITEMS), 0x0000)


def test_worklist_items_can_be_seeded(start_lab: Callable[..., LabPACS]) -> None:
    """Given a lab seeded with two worklist items, when queried with a wildcard, then only those two match."""
    lab = start_lab("open", worklist_items=synth.generate_worklist(2, seed=3))
    matches, _ = _worklist_find(lab, _query(PatientName="*", StudyInstanceUID=""))
    assert [str(m.StudyInstanceUID) for m in matches] == [
        str(i.StudyInstanceUID) for i in synth.generate_worklist(2, seed=3)
    ]


def test_generate_worklist_is_deterministic_and_synthetic() -> None:
    """Given the generator, when called twice with the same seed, then the items are identical,
    use 2.25 UIDs, and each carries one complete Scheduled Procedure Step."""
    again = synth.generate_worklist()
    assert [i.to_json_dict() for i in again] == [i.to_json_dict() for i in ITEMS]
    for item in ITEMS:
        assert str(item.StudyInstanceUID).startswith("2.25.")
        assert "^" in str(item.PatientName)
        (step,) = item.ScheduledProcedureStepSequence
        for keyword in (
            "Modality",
            "ScheduledStationAETitle",
            "ScheduledProcedureStepStartDate",
            "ScheduledProcedureStepStartTime",
            "ScheduledPerformingPhysicianName",
            "ScheduledProcedureStepDescription",
            "ScheduledProcedureStepID",
        ):
            assert str(step.get(keyword, "")), keyword
