"""Fixtures for the PHI analyzer tests: synthetic data only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from tests.phi.corpus import AnswerKey, generate_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AnswerKey]:
    """The labelled synthetic corpus (8 files per scenario, DICOMDIR, malformed)."""
    root = tmp_path_factory.mktemp("phi_corpus")
    key = generate_corpus(root, n_files=96, seed=2024)
    return root, key


def encode(ds: Dataset, *, implicit: bool = False) -> bytes:
    """A data set as a Part 10 file (bytes), with a minimal file meta."""
    if "SOPClassUID" not in ds:
        ds.SOPClassUID = CTImageStorage
    if "SOPInstanceUID" not in ds:
        ds.SOPInstanceUID = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture
def write_dicom(tmp_path: Path):
    """Write a data set to ``tmp_path/name`` and return the path."""

    def _write(ds: Dataset, name: str = "x.dcm", *, implicit: bool = False) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(ds, implicit=implicit))
        return path

    return _write
