"""Which instances a C-GET/C-MOVE identifier selects (PS3.4 C.4.2.3.1 / C.4.3.3.1), without the network."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from dicomaudit.lab.matching import (
    PATIENT_ROOT_GET,
    PATIENT_STUDY_ONLY_MOVE,
    STUDY_ROOT_MOVE,
    QueryError,
    retrieve,
)
from dicomaudit.synth import generate_studies

ARCHIVE = generate_studies()
CT = [ds for ds in ARCHIVE if ds.Modality == "CT"]


def _identifier(**keys: object) -> Dataset:
    ds = Dataset()
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def test_a_list_of_study_uids_selects_every_listed_study() -> None:
    """Given two CT study UIDs in one identifier (List of UID Matching), then both studies' instances are selected."""
    studies = sorted({str(ds.StudyInstanceUID) for ds in CT})
    selected = retrieve(ARCHIVE, _identifier(QueryRetrieveLevel="STUDY", StudyInstanceUID=studies), STUDY_ROOT_MOVE)
    assert {str(ds.StudyInstanceUID) for ds in selected} == set(studies)
    assert len(selected) == len(CT)


def test_an_upper_level_unique_key_narrows_the_selection() -> None:
    """Given a Patient Root STUDY-level identifier whose PatientID is not the study's patient, then nothing is selected."""
    study = str(CT[0].StudyInstanceUID)
    right = retrieve(
        ARCHIVE, _identifier(QueryRetrieveLevel="STUDY", PatientID="SYN-0001", StudyInstanceUID=study), PATIENT_ROOT_GET
    )
    wrong = retrieve(
        ARCHIVE, _identifier(QueryRetrieveLevel="STUDY", PatientID="SYN-0002", StudyInstanceUID=study), PATIENT_ROOT_GET
    )
    assert right and wrong == []


def test_an_instance_stored_twice_is_sent_once() -> None:
    """Given an archive holding the same SOP instance twice, then the retrieval selects it once."""
    selected = retrieve(
        [CT[0], CT[0]], _identifier(QueryRetrieveLevel="IMAGE", SOPInstanceUID=CT[0].SOPInstanceUID), PATIENT_ROOT_GET
    )
    assert selected == [CT[0]]


@pytest.mark.parametrize(
    ("model", "keys"),
    [
        (PATIENT_STUDY_ONLY_MOVE, {"QueryRetrieveLevel": "IMAGE", "SOPInstanceUID": "1.2.3"}),
        (PATIENT_ROOT_GET, {"QueryRetrieveLevel": "PATIENT", "PatientID": ""}),
        (PATIENT_ROOT_GET, {"QueryRetrieveLevel": "PATIENT", "PatientID": "SYN-*"}),
    ],
)
def test_identifiers_that_identify_nothing_precisely_are_refused_with_a900(model: str, keys: dict[str, str]) -> None:
    with pytest.raises(QueryError) as raised:
        retrieve(ARCHIVE, _identifier(**keys), model)
    assert raised.value.status == 0xA900
