"""pydicom's own test files (shipped with pydicom, the project's test data)."""

from __future__ import annotations

import pytest
from pydicom.data import get_charset_files, get_testdata_file

from dicomaudit.phi import analyze_paths


def _path(name: str) -> str:
    if name.startswith("chr"):
        (path,) = get_charset_files(name)
        return path
    return get_testdata_file(name)


def _found(name: str) -> dict[str, str]:
    result = analyze_paths([_path(name)], show_values=True)
    assert result.errors == ()
    return {f.path: f.value for f in result.findings}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"),
        ("chrX1.dcm", "Wang^XiaoDong=王^小東"),
        ("chrX2.dcm", "Wang^XiaoDong=王^小东"),
        ("chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동"),
        ("chrRuss.dcm", "Люкceмбypг"),
        ("chrGreek.dcm", "Διονυσιος"),
        ("chrArab.dcm", "قباني^لنزار"),
        ("chrHbrw.dcm", "שרון^דבורה"),
        ("chrGerm.dcm", "Äneas^Rüdiger"),
    ],
)
def test_charset_files_patient_name_is_found_decoded(name, expected):
    """Given a pydicom character-set test file, then PatientName is found, decoded per SpecificCharacterSet."""
    assert _found(name)["PatientName"] == expected


def test_names_inside_a_sequence_with_its_own_charset_are_found():
    found = _found("chrSQEncoding.dcm")
    assert found["RequestedProcedureCodeSequence[0].PatientName"] == "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"


def test_sr_file_verifying_observer_is_found():
    assert _found("test-SR.dcm")["VerifyingObserverSequence[0].VerifyingObserverName"] == "Riesmeier^Jörg"


def test_private_sequence_file_is_walked():
    """Given priv_SQ.dcm (a PN inside a private sequence), then the nested name is found."""
    assert "(3F03,1001)[0].ReferringPhysicianName" in _found("priv_SQ.dcm")


def test_rt_plan_names_and_beam_institutions_are_found():
    found = _found("rtplan.dcm")
    assert {"PatientName", "OperatorsName", "BeamSequence[0].InstitutionName"} <= found.keys()


def test_dicomdir_records_are_walked():
    found = _found("dicomdirtests/DICOMDIR")
    assert any(p.startswith("DirectoryRecordSequence[") and p.endswith(".PatientName") for p in found)
