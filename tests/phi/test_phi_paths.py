"""analyze_paths: files, folders, DICOMDIRs, errors, workers, progress."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydicom import Dataset
from pydicom.fileset import FileSet

from dicomaudit.phi import AnalysisResult, analyze_paths, summarize
from dicomaudit.phi.categories import Category


def _patient(name: str = "Garcia^Leila") -> Dataset:
    ds = Dataset()
    ds.PatientName = name
    ds.PatientID = "P5561023"
    ds.StudyDescription = "CT CHEST W/O CONTRAST"
    return ds


def test_folder_sources_join_the_given_path_and_the_relative_path(write_dicom, tmp_path):
    """Given a folder named as ``tmp/scans`` with a nested file, then the
    finding's source is that path joined with the relative path inside it."""
    write_dicom(_patient(), "scans/a/b/one.dcm")
    given = os.path.join(str(tmp_path), "scans")
    result = analyze_paths([given])
    assert {f.source for f in result.findings} == {os.path.join(given, "a", "b", "one.dcm")}
    assert result.files_scanned == 1


def test_file_source_is_the_path_as_given(write_dicom, tmp_path, monkeypatch):
    write_dicom(_patient(), "one.dcm")
    monkeypatch.chdir(tmp_path)
    result = analyze_paths(["one.dcm"])
    assert {f.source for f in result.findings} == {"one.dcm"}


def test_malformed_inputs_become_errors_and_the_run_continues(write_dicom, tmp_path):
    """Given a good file next to an empty file, and a text file and a missing file named directly, then
    the good file is analysed and each bad input has a reason."""
    write_dicom(_patient(), "in/good.dcm")
    (tmp_path / "in" / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not dicom\n")
    result = analyze_paths([tmp_path / "in", tmp_path / "notes.txt", tmp_path / "missing.dcm"])
    reasons = {Path(e.source).name: e.error for e in result.errors}
    assert reasons == {
        "missing.dcm": "no such file or folder",
        "empty.dcm": "empty file",
        "notes.txt": "not a DICOM file: no DICM prefix and no parseable data set",
    }
    assert result.files_scanned == 1 and result.findings


def test_error_reasons_never_echo_header_values(tmp_path, write_dicom):
    """Given a truncated file whose header holds a name, then the error reason does not contain it."""
    path = write_dicom(_patient("Whitfield^Tobias"), "t.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"Whitfield") + 4])
    (error,) = analyze_paths([path]).errors
    assert "Whit" not in error.error and "truncated" in error.error


def test_dicomdir_named_directly_brings_its_referenced_files(tmp_path, write_dicom):
    """Given a DICOMDIR path, then its directory records and the files it references are analysed."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    ds = _patient()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", "1", "1"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20220202", "101500", "S100", "A100"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    fs = FileSet()
    fs.add(ds)
    fs.write(tmp_path / "media")
    result = analyze_paths([tmp_path / "media" / "DICOMDIR"])
    sources = {Path(f.source).name for f in result.findings}
    assert "DICOMDIR" in sources and len(sources) == 2
    assert any(f.path.startswith("DirectoryRecordSequence[") and f.keyword == "PatientName" for f in result.findings)


def test_parallel_workers_give_the_same_findings_in_the_same_order(corpus):
    root, _ = corpus
    serial = analyze_paths([root], workers=1)
    parallel = analyze_paths([root], workers=2)
    assert parallel.findings == serial.findings
    assert parallel.errors == serial.errors
    assert parallel.files_scanned == serial.files_scanned


def test_progress_reports_done_and_total(write_dicom, tmp_path):
    for i in range(3):
        write_dicom(_patient(), f"p/{i}.dcm")
    calls: list[tuple[int, int]] = []
    analyze_paths([tmp_path / "p"], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_summary_counts_every_category_in_table_order(write_dicom):
    path = write_dicom(_patient())
    result = analyze_paths([path])
    summary = summarize(result.findings)
    assert list(summary) == [c.value for c in Category]
    assert summary["direct_identifier"] == 2 and sum(summary.values()) == len(result.findings)
    assert result.summary() == summary


def test_result_is_frozen_and_serialisable(write_dicom):
    result = analyze_paths([write_dicom(_patient())])
    assert isinstance(result, AnalysisResult)
    d = result.to_dict()
    assert d["files_scanned"] == 1 and d["phi"][0]["value"].endswith("*****")


def test_files_in_a_folder_that_are_plainly_not_dicom_are_counted_as_skipped(write_dicom, tmp_path):
    """Given a folder with a DICOM file, a README, a CSV and a PNG, when it is analysed, then the three
    are counted as skipped (not errors) and the DICOM file is analysed."""
    write_dicom(_patient(), "in/good.dcm")
    (tmp_path / "in" / "README.md").write_text("# Export for the tumour board\n")
    (tmp_path / "in" / "list.csv").write_text("accession,modality\nA100,CT\n")
    (tmp_path / "in" / "key.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    result = analyze_paths([tmp_path / "in"])
    assert result.errors == ()
    assert sorted(Path(s).name for s in result.skipped) == ["README.md", "key.png", "list.csv"]
    assert result.files_scanned == 1 and result.findings


def test_a_file_named_directly_that_is_not_dicom_stays_an_error(tmp_path):
    """Given a README named directly on the command line, then it is an error with a reason, not skipped."""
    readme = tmp_path / "README.md"
    readme.write_text("# not an image\n")
    result = analyze_paths([readme])
    assert result.skipped == ()
    assert [(e.source, e.error) for e in result.errors] == [
        (str(readme), "not a DICOM file: no DICM prefix and no parseable data set")
    ]


def test_a_file_found_in_a_folder_and_also_named_directly_stays_an_error(tmp_path, write_dicom):
    """Given a folder holding notes.txt, when both the folder and notes.txt are named, then notes.txt is an
    error: naming it says it should be DICOM."""
    write_dicom(_patient(), "in/good.dcm")
    (tmp_path / "in" / "notes.txt").write_text("not dicom\n")
    result = analyze_paths([tmp_path / "in", tmp_path / "in" / "notes.txt"])
    assert result.skipped == ()
    assert [Path(e.source).name for e in result.errors] == ["notes.txt"]


def test_corrupt_dicom_in_a_folder_stays_an_error(tmp_path, write_dicom):
    """Given a folder with a raw data set (no preamble) cut off inside a value and a file whose DICM prefix
    is followed by garbage, then both are errors (damaged DICOM), not skipped."""
    from tests.phi.dicombytes import element

    write_dicom(_patient(), "in/good.dcm")
    raw = element(0x00080020, b"DA", b"20200101") + element(0x00100010, b"PN", b"DOE^JOHN")
    (tmp_path / "in" / "cut.dcm").write_bytes(raw[:-4])
    (tmp_path / "in" / "garbage.dcm").write_bytes(bytes(128) + b"DICM" + bytes(range(256)) * 2)
    result = analyze_paths([tmp_path / "in"])
    assert result.skipped == ()
    assert sorted(Path(e.source).name for e in result.errors) == ["cut.dcm", "garbage.dcm"]


def test_parallel_workers_skip_the_same_files(write_dicom, tmp_path):
    """Given a folder of DICOM files and text files, then two workers skip exactly what one worker skips."""
    for i in range(40):
        write_dicom(_patient(), f"in/{i:02d}.dcm")
        (tmp_path / "in" / f"{i:02d}.txt").write_text(f"note {i}\n")
    serial = analyze_paths([tmp_path / "in"], workers=1)
    parallel = analyze_paths([tmp_path / "in"], workers=2)
    assert len(serial.skipped) == 40 and parallel.skipped == serial.skipped
    assert parallel.findings == serial.findings and parallel.files_scanned == serial.files_scanned == 40


@pytest.mark.parametrize("named", ["the DICOMDIR", "its folder"])
def test_files_a_dicomdir_references_that_are_missing_are_errors(tmp_path, named):
    """Given a CD export whose DICOMDIR references a file that was not copied, when the DICOMDIR or its
    folder is analysed, then the missing file is listed in errors, named as the DICOMDIR would place it."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    fs = FileSet()
    for n in range(2):
        ds = _patient()
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4", "1.2.3.4.5"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", "1", str(n + 1)
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20220202", "101500", "S100", "A100"
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        fs.add(ds)
    fs.write(tmp_path / "media")
    referenced = sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file() and p.name != "DICOMDIR")
    referenced[0].unlink()
    target = tmp_path / "media" / "DICOMDIR" if named == "the DICOMDIR" else tmp_path / "media"
    result = analyze_paths([target])
    missing = [e for e in result.errors if e.error.startswith("missing:")]
    assert len(missing) == 1 and Path(missing[0].source).name == referenced[0].name
    assert "referenced by" in missing[0].error and "DICOMDIR" in missing[0].error
