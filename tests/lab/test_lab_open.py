"""The ``open`` profile: anyone may associate, echo, query and store."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind as PATIENT_ROOT,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind as STUDY_ROOT,
)

from dicomaudit.synth import TEST_PATIENT_ID, synthetic_test_instance


def _query(**keys: object) -> Dataset:
    ds = Dataset()
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def _find(assoc, query: Dataset, model) -> tuple[list[Dataset], int]:
    """All pending identifiers and the final status."""
    matches, final = [], None
    for status, identifier in assoc.send_c_find(query, model):
        if status.Status in (0xFF00, 0xFF01):
            matches.append(identifier)
        else:
            final = status.Status
    return matches, final


def test_any_called_and_calling_aet_is_accepted(start_lab, scu):
    # Given an open lab
    lab = start_lab("open")
    # When a random calling AE associates with a random called AE
    assoc = scu("RANDOM7Q2").associate(lab.host, lab.port, ae_title="NOT-THE-LAB")
    # Then the association is accepted and logged
    assert assoc.is_established
    assoc.release()
    accepted = [e for e in lab.events if e["kind"] == "association" and e["outcome"] == "accepted"]
    assert accepted[0]["calling_aet"] == "RANDOM7Q2"
    assert accepted[0]["called_aet"] == "NOT-THE-LAB"


def test_echo_succeeds(start_lab, scu):
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000


def test_patient_level_find_returns_every_patient_with_only_requested_keys(start_lab, scu):
    # Given an open lab holding the six synthetic patients
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    # When a universal PATIENT-level query asks for name and ID
    matches, final = _find(assoc, _query(QueryRetrieveLevel="PATIENT", PatientName="", PatientID=""), PATIENT_ROOT)
    assoc.release()
    # Then six pending matches then success, each carrying only the requested keys
    assert final == 0x0000
    assert sorted(str(m.PatientID) for m in matches) == [f"SYN-000{i}" for i in range(1, 7)]
    allowed = {"QueryRetrieveLevel", "SpecificCharacterSet", "PatientName", "PatientID"}
    for m in matches:
        assert {e.keyword for e in m} <= allowed
        assert "PatientBirthDate" not in m


def test_study_root_study_level_find_with_counts(start_lab, scu):
    # Given an open lab
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    # When a STUDY-level Study Root query asks for computed attributes of DOE^JANE
    query = _query(
        QueryRetrieveLevel="STUDY",
        PatientID="SYN-0001",
        StudyInstanceUID="",
        ModalitiesInStudy="",
        NumberOfStudyRelatedInstances="",
    )
    matches, final = _find(assoc, query, STUDY_ROOT)
    assoc.release()
    # Then her two studies come back with modalities and instance counts
    assert final == 0x0000
    got = sorted((m.ModalitiesInStudy, int(m.NumberOfStudyRelatedInstances)) for m in matches)
    assert got == [("CR", 2), ("CT", 5)]


def test_series_and_image_levels(start_lab, scu):
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    # When SERIES then IMAGE level queries are scoped to one patient's MR study
    series, _ = _find(
        assoc,
        _query(QueryRetrieveLevel="SERIES", PatientID="SYN-0002", SeriesInstanceUID="", Modality=""),
        PATIENT_ROOT,
    )
    images, _ = _find(assoc, _query(QueryRetrieveLevel="IMAGE", PatientID="SYN-0002", SOPInstanceUID=""), PATIENT_ROOT)
    assoc.release()
    # Then 3 series and 7 instances
    assert len(series) == 3 and {s.Modality for s in series} == {"MR"}
    assert len(images) == 7


def test_wildcard_and_case_insensitive_name_matching(start_lab, scu):
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    matches, _ = _find(assoc, _query(QueryRetrieveLevel="PATIENT", PatientName="d*", PatientID=""), PATIENT_ROOT)
    assoc.release()
    # "d*" matches DOE^JANE and DUPONT^HÉLÈNE (PN matching is case-insensitive here)
    assert sorted(str(m.PatientName) for m in matches) == ["DOE^JANE", "DUPONT^HÉLÈNE"]


def test_date_range_matching(start_lab, scu):
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    everything, _ = _find(assoc, _query(QueryRetrieveLevel="STUDY", StudyDate=""), STUDY_ROOT)
    dates = sorted(str(m.StudyDate) for m in everything)
    # When the range covers all but the earliest study
    in_range, _ = _find(assoc, _query(QueryRetrieveLevel="STUDY", StudyDate=f"{dates[1]}-"), STUDY_ROOT)
    assoc.release()
    # Then exactly the others match (open-ended upper bound)
    assert len(in_range) == len(dates) - 1
    assert all(str(m.StudyDate) >= dates[1] for m in in_range)


def test_accented_names_keep_their_character_set(start_lab, scu):
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    matches, _ = _find(assoc, _query(QueryRetrieveLevel="PATIENT", PatientID="SYN-0003", PatientName=""), PATIENT_ROOT)
    assoc.release()
    assert str(matches[0].PatientName) == "DUPONT^HÉLÈNE"
    assert matches[0].SpecificCharacterSet == "ISO_IR 192"


def test_patient_level_in_study_root_is_refused_with_a900(start_lab, scu):
    # PS3.4 C.6.2: the Study Root model has no PATIENT level
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    matches, final = _find(assoc, _query(QueryRetrieveLevel="PATIENT", PatientID=""), STUDY_ROOT)
    assoc.release()
    assert matches == []
    assert final == 0xA900


def test_store_is_accepted_kept_and_queryable(start_lab, scu):
    # Given an open lab
    lab = start_lab("open")
    assoc = scu().associate(lab.host, lab.port)
    # When the synthetic test instance is stored
    instance = synthetic_test_instance(seed=11)
    status = assoc.send_c_store(instance)
    # Then it succeeds, is kept, and a later query finds it
    found, _ = _find(assoc, _query(QueryRetrieveLevel="PATIENT", PatientID=TEST_PATIENT_ID), PATIENT_ROOT)
    assoc.release()
    assert status.Status == 0x0000
    assert [str(ds.SOPInstanceUID) for ds in lab.stored] == [str(instance.SOPInstanceUID)]
    assert len(found) == 1


def test_cancel_stops_the_responses(start_lab, scu):
    # Given a slow lab (50 ms per match) with 28 instances
    lab = start_lab("open", response_delay=0.05)
    assoc = scu().associate(lab.host, lab.port)
    # When the client cancels after a cap of 3 matches
    pending, final = 0, None
    for status, _ in assoc.send_c_find(_query(QueryRetrieveLevel="IMAGE", SOPInstanceUID=""), PATIENT_ROOT, msg_id=5):
        if status.Status == 0xFF00:
            pending += 1
            if pending == 3:
                assoc.send_c_cancel(5, query_model=PATIENT_ROOT)
        else:
            final = status.Status
    assoc.release()
    # Then the lab answers Cancel (0xFE00) well before the 28 matches
    assert final == 0xFE00
    assert pending < 28
    find_event = [e for e in lab.events if e["kind"] == "C-FIND"][-1]
    assert find_event["outcome"] == "cancelled"
