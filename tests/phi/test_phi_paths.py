"""analyze_paths: files, folders, DICOMDIRs, errors, workers, progress."""

from __future__ import annotations

import os
from pathlib import Path

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
    """Given a good file next to empty, text and missing inputs, then the good
    file is analysed and each bad input has a reason."""
    write_dicom(_patient(), "in/good.dcm")
    (tmp_path / "in" / "empty.dcm").write_bytes(b"")
    (tmp_path / "in" / "notes.txt").write_text("not dicom\n")
    result = analyze_paths([tmp_path / "in", tmp_path / "missing.dcm"])
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
