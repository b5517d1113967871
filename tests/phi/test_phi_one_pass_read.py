"""The one-pass read (``structure.read_header``): what it gives the analyzer is what pydicom's read gives.

The analyzer reads a file and checks its encoding in one walk; only files
that walk does not take (no DICM prefix, a deflated or private transfer
syntax, a command set, elements after the pixel data, a broken encoding)
go through pydicom's lenient read and the separate check.  These tests hold
the two paths to the same result, file by file, over the project's corpora,
a fixed-seed fuzz of them and pydicom's own test files.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_charset_files, get_testdata_files
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian

import dicomaudit.phi.inputs as inputs
from dicomaudit.phi.engines import analyze_one
from dicomaudit.phi.inputs import InputFile, iter_inputs
from dicomaudit.structure import read_header
from tests.phi import test_file_fuzz as fuzz
from tests.phi.conftest import encode
from tests.phi.corpus import generate_corpus
from tests.phi.corpus_hospital import generate_hospital_corpus
from tests.phi.corpus_intl import generate_intl_corpus
from tests.phi.corpus_structure import generate_structure_corpus
from tests.phi.dicombytes import element

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = 400


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpora, and fixed-seed mutants of their files and of sample_data/."""
    root = tmp_path_factory.mktemp("one_pass")
    out = {
        "corpus": root / "corpus",
        "intl": root / "intl",
        "hospital": root / "hospital",
        "structure": root / "structure",
        "fuzz": root / "fuzz",
    }
    generate_corpus(out["corpus"], n_files=96, seed=7)
    generate_intl_corpus(out["intl"], n_files=52, seed=8)
    generate_hospital_corpus(out["hospital"], n_files=120, seed=1)
    generate_structure_corpus(out["structure"], n_files=56, seed=9)
    rng = random.Random(16)
    sources = sorted((ROOT / "sample_data").rglob("*.dcm")) + sorted(out["hospital"].rglob("*.dcm"))[:60]
    originals = [data for data in (p.read_bytes() for p in sources) if len(data) > 300]
    out["fuzz"].mkdir()
    for i in range(MUTANTS):
        (out["fuzz"] / f"{i:04d}.dcm").write_bytes(rng.choice(fuzz.MUTATIONS)(rng, rng.choice(originals)))
    return out


def _files(*paths: Path | str) -> list[InputFile]:
    return [item for item in iter_inputs([str(p) for p in paths]) if isinstance(item, InputFile)]


def _both_ways(item: InputFile, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """(outcome through the one-pass read, outcome through pydicom's read and the check) of one file."""

    def outcome() -> object:
        wires, error, not_dicom = analyze_one(item, False)
        return wires, error.error if error else None, not_dicom

    one_pass = outcome()
    with monkeypatch.context() as m:
        m.setattr(inputs, "read_header", lambda path: None)
        lenient = outcome()
    return one_pass, lenient


def test_every_file_analyses_the_same_through_either_read(
    folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the corpora, their mutants and pydicom's test files, when each file is analysed through the
    one-pass read and through pydicom's read plus the check, then findings and reasons are identical."""
    items = _files(*folders.values(), ROOT / "sample_data", *get_testdata_files(), *get_charset_files())
    assert len(items) > 900
    different = []
    for item in items:
        one_pass, lenient = _both_ways(item, monkeypatch)
        if one_pass != lenient:
            different.append(item.source)
    assert different == []


@pytest.mark.parametrize("name", ["corpus", "intl", "hospital"])
def test_every_readable_file_of_a_corpus_takes_the_one_pass_read(folders: dict[str, Path], name: str) -> None:
    """Given a corpus (its deliberately broken files aside), when each file is read, then the one-pass read
    takes every file the analysis accepts: the lenient read is for the exceptions."""
    items = _files(folders[name])
    accepted = [item for item in items if analyze_one(item, False)[1] is None]
    assert len(accepted) >= 0.9 * len(items)
    assert [item.source for item in accepted if read_header(item.path) is None] == []


def _file(tmp_path: Path, data: bytes, name: str = "x.dcm") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _patient() -> Dataset:
    ds = Dataset()
    ds.PatientName = "ZZTEST^ONEPASS"
    ds.PatientID = "OP-77310"
    return ds


def test_big_endian_file_is_read_in_one_pass_with_the_same_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given an explicit VR big endian file, when it is analysed, then the one-pass read takes it and the
    findings equal the lenient read's."""
    ds = _patient()
    ds.PatientBirthDate = "19580214"
    buf = io.BytesIO()
    encode(ds)  # file meta and UIDs
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds.save_as(buf, enforce_file_format=True)
    path = _file(tmp_path, buf.getvalue())
    assert read_header(path) is not None
    one_pass, lenient = _both_ways(InputFile(path, path), monkeypatch)
    assert one_pass == lenient
    assert {w[2] for w in one_pass[0]} >= {"PatientName", "PatientID", "PatientBirthDate"}  # type: ignore[index]


def test_deflated_file_is_left_to_the_lenient_read(tmp_path: Path) -> None:
    """Given a deflated file, when it is read, then the one-pass read declines it (pydicom inflates it)."""
    ds = _patient()
    encode(ds)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    path = _file(tmp_path, buf.getvalue())
    assert read_header(path) is None
    assert dcmread(path).PatientID == "OP-77310"


def test_file_without_dicm_prefix_is_left_to_the_lenient_read(tmp_path: Path) -> None:
    """Given a data set saved without preamble and file meta, when it is read, then the one-pass read
    declines it."""
    buf = io.BytesIO()
    _patient().save_as(buf, implicit_vr=True, little_endian=True)
    assert read_header(_file(tmp_path, buf.getvalue())) is None


def test_elements_after_the_pixel_data_are_left_to_the_lenient_read(tmp_path: Path) -> None:
    """Given a file with an element after its pixel data, when it is read, then the one-pass read declines it
    (the lenient path reads those elements apart)."""
    ds = _patient()
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = b"\x00\x01\x02\x03"
    data = encode(ds) + element(0x7FE10010, b"LO", b"ZZTEST^AFTER")
    assert read_header(_file(tmp_path, data)) is None


def test_broken_file_is_left_to_the_lenient_read_which_gives_the_reason(tmp_path: Path) -> None:
    """Given a file whose last value is declared longer than the file, when it is analysed, then the one-pass
    read declines it and the reason is the check's."""
    data = encode(_patient())
    path = _file(tmp_path, data[:-3])
    assert read_header(path) is None
    _, error, _ = analyze_one(InputFile(path, path), False)
    assert error is not None and error.error.startswith("truncated DICOM file")


def test_items_are_data_sets_with_their_own_containers(tmp_path: Path) -> None:
    """Given a file with a two-item sequence, when it is read in one pass, then each item has the attributes a
    new pydicom Dataset has, its own private-block cache, and the charset it inherits."""
    ds = _patient()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ReferencedStudySequence = [Dataset(), Dataset()]
    for i, item in enumerate(ds.ReferencedStudySequence):
        item.ReferencedSOPInstanceUID = f"1.2.3.{i}"
    header = read_header(_file(tmp_path, encode(ds)))
    assert header is not None
    first, second = header.ReferencedStudySequence
    assert set(vars(first)) == set(vars(Dataset()))
    assert first._private_blocks is not second._private_blocks
    assert first._character_set == ["latin_1"]
    assert second.ReferencedSOPInstanceUID == "1.2.3.1"
