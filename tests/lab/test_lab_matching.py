"""C-FIND key matching rules (PS3.4 C.2.2.2), tested without a network."""

from __future__ import annotations

import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dicomaudit.lab.matching import (
    PATIENT_ROOT_FIND,
    STUDY_ROOT_FIND,
    QueryError,
    element_matches,
    find,
)


def _el(keyword: str, value: object, vr: str | None = None) -> DataElement:
    from pydicom.datadict import dictionary_VR

    tag = Tag(keyword)
    return DataElement(tag, vr or dictionary_VR(tag), value)


@pytest.mark.parametrize(
    ("keyword", "query", "value", "expected"),
    [
        ("PatientName", "", "DOE^JANE", True),  # universal
        ("PatientName", "*", "DOE^JANE", True),
        ("PatientName", "DOE^J?NE", "DOE^JANE", True),  # ? = one char
        ("PatientName", "doe^jane", "DOE^JANE", True),  # PN case-insensitive
        ("PatientName", "DOE", "DOE^JANE", False),  # single value matching is exact
        ("PatientID", "syn-0001", "SYN-0001", False),  # LO is case-sensitive
        ("PatientID", "SYN-*", "SYN-0001", True),
        ("StudyDate", "20230101-20231231", "20230615", True),
        ("StudyDate", "20230101-20231231", "20240102", False),
        ("StudyDate", "-20230101", "20230101", True),  # inclusive upper bound
        ("StudyDate", "20230615", "20230615", True),
        ("StudyTime", "0800-1200", "113000", True),
        ("StudyTime", "0800-1200", "121500", False),
        ("StudyInstanceUID", ["1.2.3", "1.2.4"], "1.2.4", True),  # list of UID matching
        ("StudyInstanceUID", "1.2.3*", "1.2.34", False),  # no wildcards on UI
        ("ModalitiesInStudy", ["CT", "MR"], ["CR", "MR"], True),  # any value of multi-valued
        ("SeriesNumber", "2", "2", True),
    ],
)
@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_element_matches(keyword, query, value, expected):
    assert element_matches(_el(keyword, query), _el(keyword, value)) is expected


def test_missing_attribute_never_matches_a_specific_key():
    assert element_matches(_el("PatientName", "DOE*"), None) is False
    assert element_matches(_el("PatientName", ""), None) is True


def _ds(patient_id: str, study: str, series: str, sop: str, modality: str) -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = patient_id, study, series, sop
    ds.Modality = modality
    ds.PatientName = f"{patient_id}^TEST"
    return ds


ARCHIVE = [
    _ds("P1", "1.1", "1.1.1", "1.1.1.1", "CT"),
    _ds("P1", "1.1", "1.1.1", "1.1.1.2", "CT"),
    _ds("P1", "1.1", "1.1.2", "1.1.2.1", "SR"),
    _ds("P2", "2.1", "2.1.1", "2.1.1.1", "MR"),
]


def test_study_level_groups_instances_and_computes_attributes():
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    q.ModalitiesInStudy = ""
    q.NumberOfStudyRelatedSeries = ""
    results = list(find(ARCHIVE, q, STUDY_ROOT_FIND))
    got = [(r.StudyInstanceUID, r["ModalitiesInStudy"].value, int(r.NumberOfStudyRelatedSeries)) for r in results]
    assert got == [("1.1", ["CT", "SR"], 2), ("2.1", "MR", 1)]


def test_response_holds_only_requested_keys_and_empty_ones_for_missing_attributes():
    q = Dataset()
    q.QueryRetrieveLevel = "PATIENT"
    q.PatientID = "P2"
    q.PatientBirthDate = ""
    (result,) = list(find(ARCHIVE, q, PATIENT_ROOT_FIND))
    assert {e.keyword for e in result} == {"QueryRetrieveLevel", "PatientID", "PatientBirthDate"}
    assert result["PatientBirthDate"].is_empty


@pytest.mark.parametrize(
    ("model", "level"), [(STUDY_ROOT_FIND, "PATIENT"), (PATIENT_ROOT_FIND, ""), (PATIENT_ROOT_FIND, "FRAME")]
)
def test_invalid_level_raises_a900(model, level):
    q = Dataset()
    q.QueryRetrieveLevel = level
    with pytest.raises(QueryError) as info:
        list(find(ARCHIVE, q, model))
    assert info.value.status == 0xA900
