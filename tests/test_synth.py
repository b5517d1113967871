"""The synthetic data generator and the committed sample_data/ it produced."""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import uuid
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomaudit import synth

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_sample_data", REPO / "scripts" / "make_sample_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def studies() -> list[Dataset]:
    return synth.generate_studies()


# -- reproducibility --------------------------------------------------------


def test_committed_sample_data_is_exactly_what_the_script_generates(tmp_path):
    # Given the committed sample_data/ folder
    assert SAMPLE_DATA.is_dir(), "run scripts/make_sample_data.py"
    # When the script regenerates into a temporary folder
    _load_script().main(["--out", str(tmp_path)])
    # Then every file (DICOM, inventory, README) is byte-identical, and nothing is missing or extra
    committed, regenerated = _tree(SAMPLE_DATA), _tree(tmp_path)
    assert sorted(committed) == sorted(regenerated)
    changed = [name for name in committed if committed[name] != regenerated[name]]
    assert changed == [], "sample_data/ is stale: run scripts/make_sample_data.py"


def test_script_wipes_old_dicom_files_first(tmp_path):
    # Given an output folder with a stale DICOM file from an older layout
    stale = tmp_path / "OLD" / "x.dcm"
    stale.parent.mkdir()
    stale.write_bytes(b"stale")
    # When the script runs
    _load_script().main(["--out", str(tmp_path)])
    # Then the stale file and its empty folder are gone
    assert not stale.exists() and not stale.parent.exists()


def test_generation_is_deterministic_and_seeded():
    first = [_encode(ds) for ds in synth.generate_studies(seed=7)]
    again = [_encode(ds) for ds in synth.generate_studies(seed=7)]
    other = synth.generate_studies(seed=8)
    assert first == again
    # A different seed keeps the roster but changes every UID
    assert [str(ds.PatientName) for ds in other] == [str(ds.PatientName) for ds in synth.generate_studies(seed=7)]
    assert not {str(ds.SOPInstanceUID) for ds in other} & {str(ds.SOPInstanceUID) for ds in synth.generate_studies(7)}


# -- shape of the archive ---------------------------------------------------


def test_roster_shape(studies):
    patients = Counter(str(ds.PatientID) for ds in studies)
    studies_per_patient = {pid: {str(ds.StudyInstanceUID) for ds in studies if ds.PatientID == pid} for pid in patients}
    series_sets: dict[str, set[str]] = {}
    for ds in studies:
        series_sets.setdefault(str(ds.StudyInstanceUID), set()).add(str(ds.SeriesInstanceUID))
    assert 5 <= len(patients) <= 6
    assert all(1 <= len(s) <= 2 for s in studies_per_patient.values())
    assert all(1 <= len(s) <= 3 for s in series_sets.values())
    assert {str(ds.SOPClassUID) for ds in studies} == {
        synth.CT_IMAGE_STORAGE,
        synth.MR_IMAGE_STORAGE,
        synth.CR_IMAGE_STORAGE,
        synth.US_IMAGE_STORAGE,
        synth.SC_IMAGE_STORAGE,
    }


def test_every_instance_carries_the_expected_header_attributes(studies):
    required = [
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "ReferringPhysicianName",
        "InstitutionName",
        "AccessionNumber",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "SeriesDescription",
        "Modality",
        "StudyID",
        "SeriesNumber",
        "InstanceNumber",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "PixelData",
    ]
    for ds in studies:
        missing = [k for k in required if k not in ds or ds[k].is_empty]
        assert missing == [], f"{ds.PatientID}: {missing}"
        assert (ds.Rows, ds.Columns, ds.PhotometricInterpretation) == (16, 16, "MONOCHROME2")
    assert any("PatientAddress" in ds for ds in studies)
    assert any("PatientTelephoneNumbers" in ds for ds in studies)


def test_uids_are_unique_2_25_values(studies):
    sop = [str(ds.SOPInstanceUID) for ds in studies]
    assert len(set(sop)) == len(sop)
    for ds in studies:
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            uid = str(ds[keyword].value)
            assert re.fullmatch(r"2\.25\.(0|[1-9]\d*)", uid) and len(uid) <= 64


def test_file_meta_identifies_dicomaudit(studies):
    expected_uid = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'https://github.com/dicomaudit/dicomaudit').int}"
    for ds in studies:
        meta = ds.file_meta
        assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert meta.ImplementationClassUID == expected_uid
        assert meta.ImplementationVersionName == "DICOMAUDIT_010"


def test_accented_names_are_encoded_with_their_character_set():
    # Given the files on disk
    helene = (SAMPLE_DATA / "SYN-0003" / "study1" / "series1" / "0001.dcm").read_bytes()
    jose = (SAMPLE_DATA / "SYN-0004" / "study1" / "series1" / "0001.dcm").read_bytes()
    # Then UTF-8 (ISO_IR 192) and Latin-1 (ISO_IR 100) bytes are what is stored
    assert b"ISO_IR 192" in helene and "DUPONT^HÉLÈNE".encode() in helene
    assert b"ISO_IR 100" in jose and "FULANO DE TAL^JOSÉ".encode("latin-1") in jose


def test_files_stay_small():
    sizes = [p.stat().st_size for p in SAMPLE_DATA.rglob("*.dcm")]
    assert sizes and max(sizes) < 4096


# -- nothing real -------------------------------------------------------------

# The complete vocabulary of person names the generator may use.
PLACEHOLDER_NAMES = {
    "DOE^JANE",
    "ROE^RICHARD",
    "DUPONT^HÉLÈNE",
    "FULANO DE TAL^JOSÉ",
    "BLOGGS^JOE",
    "MUSTERMANN^ERIKA",
    "REFERRER^ALEX^^DR",
    "SAMPLE^MORGAN^^DR",
    "EXEMPLE^CLAUDE^^DR",
    "MENGANO^ANA^^DRA",
    "PLACEHOLDER^SAM^^DR",
    "BEISPIEL^MAX^^DR",
    "TECH^ROBIN",
}
# Ranges reserved for fiction: NANP 555-01xx, Ofcom 020 7946 0xxx, ARCEP 01 99 00 xx xx.
FICTIONAL_PHONE = re.compile(r"\+1 \d{3}-555-01\d\d|020 7946 0\d{3}|\+3319900\d{4}")


def _all_elements(studies):
    for ds in studies:
        yield from ds.iterall()


def test_person_names_are_all_placeholders(studies):
    names = {str(e.value) for e in _all_elements(studies) if e.VR == "PN" and not e.is_empty}
    assert names <= PLACEHOLDER_NAMES


def test_contact_details_are_fictional(studies):
    for ds in studies:
        if "PatientTelephoneNumbers" in ds:
            assert FICTIONAL_PHONE.fullmatch(str(ds.PatientTelephoneNumbers))
        if "PatientAddress" in ds:
            assert re.search(r"Example|Sample|Exemple|Ejemplo|Beispiel", str(ds.PatientAddress))
            assert re.search(r"Testville|Testhausen", str(ds.PatientAddress))
        assert re.search(r"Synthetic|Example|synthétique", str(ds.InstitutionName))
        assert re.fullmatch(r"SYN-\d{4}", str(ds.PatientID))


def test_no_free_text_hides_other_identifiers(studies):
    # No e-mail addresses, US SSNs or phone numbers outside the fictional ranges anywhere.
    for elem in _all_elements(studies):
        if elem.VR in ("LO", "LT", "SH", "ST", "UT") and not elem.is_empty:
            text = str(elem.value)
            assert "@" not in text
            assert not re.search(r"\b\d{3}-\d{2}-\d{4}\b", text)
            for phone_like in re.findall(r"\+?\d[\d ()-]{8,}\d", text):
                assert FICTIONAL_PHONE.fullmatch(phone_like), phone_like


# -- loading ------------------------------------------------------------------


def test_load_datasets_reads_the_sample_tree():
    loaded = synth.load_datasets(SAMPLE_DATA)
    assert len(loaded) == len(list(SAMPLE_DATA.rglob("*.dcm")))
    assert all(Path(ds.filename).suffix == ".dcm" for ds in loaded)


def test_load_datasets_skips_non_dicom_with_a_warning(tmp_path, caplog):
    # Given a folder with one good file, garbage, a truncated file and a README
    good = synth.generate_studies()[0]
    pydicom.dcmwrite(tmp_path / "good.dcm", good, enforce_file_format=True)
    (tmp_path / "junk.dcm").write_bytes(b"this is not DICOM at all" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "truncated.dcm").write_bytes((tmp_path / "good.dcm").read_bytes()[:300])
    (tmp_path / "README.md").write_text("notes")
    # When loading it
    with caplog.at_level(logging.WARNING, logger="dicomaudit.synth"):
        loaded = synth.load_datasets(tmp_path)
    # Then only the good file is returned; the two bad ones are warned about, the README is not
    assert [str(ds.SOPInstanceUID) for ds in loaded] == [str(good.SOPInstanceUID)]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "junk.dcm" in warned and "truncated.dcm" in warned and "README" not in warned


def test_load_datasets_accepts_a_file_without_preamble(tmp_path):
    # Given a raw data set (no preamble, no file meta), as some old systems write
    ds = synth.generate_studies()[0]
    raw = Dataset()
    raw.update(ds)
    pydicom.dcmwrite(tmp_path / "raw", raw, implicit_vr=True, little_endian=True)
    # Then it still loads
    (loaded,) = synth.load_datasets(tmp_path)
    assert loaded.SOPInstanceUID == ds.SOPInstanceUID


def test_load_datasets_on_a_missing_path_returns_nothing(tmp_path):
    assert synth.load_datasets(tmp_path / "nope") == []


# -- the intrusive test instance ------------------------------------------------


def test_synthetic_test_instance_is_marked_and_fresh():
    first, second = synth.synthetic_test_instance(), synth.synthetic_test_instance()
    assert str(first.PatientName) == "DICOMAUDIT^TEST"
    assert first.PatientID == "DICOMAUDIT-TEST"
    assert first.SOPClassUID == synth.SC_IMAGE_STORAGE
    assert first.SOPInstanceUID.startswith("2.25.")
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert first.StudyInstanceUID != second.StudyInstanceUID


def test_synthetic_test_instance_is_reproducible_with_a_seed_and_writable():
    a, b = synth.synthetic_test_instance(42), synth.synthetic_test_instance(42)
    assert _encode(a) == _encode(b)
    assert pydicom.dcmread(io.BytesIO(_encode(a))).file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
