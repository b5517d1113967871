"""Obviously synthetic DICOM instances to seed the peers.

The fallback studies are used only when :mod:`dicomaudit.synth` is not
importable; :func:`many_patients` bulks up a peer for C-CANCEL probes. Every value is
made up (``SYNTHETIC^...`` names, ``SYN...`` ids); UIDs are derived
deterministically from a seed so runs are reproducible.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
)

#: (PatientName, PatientID, PatientBirthDate, PatientSex, StudyDescription)
_PATIENTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("SYNTHETIC^ALPHA", "SYN0001", "19700101", "F", "SYNTHETIC CT HEAD"),
    ("SYNTHETIC^BRAVO", "SYN0002", "19800202", "M", "SYNTHETIC CT CHEST"),
)


def _uid(seed: int, *parts: object) -> str:
    """Deterministic UID in the 2.25 (UUID-derived) form, PS3.5 §B.2.

    pydicom's ``generate_uid(prefix=None)`` ignores ``entropy_srcs``, so the
    128-bit value is hashed here from the seed and the element's path.
    """
    digest = hashlib.sha256("/".join(map(str, (seed, *parts))).encode()).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def _ct_instance(seed: int, patient: int, number: int) -> Dataset:
    """One tiny CT Image Storage instance (PS3.3 A.3) with 4x4 pixels."""
    name, pid, birth, sex, description = _PATIENTS[patient]
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = _uid(seed, patient, "instance", number)
    ds.StudyInstanceUID = _uid(seed, patient, "study")
    ds.SeriesInstanceUID = _uid(seed, patient, "series")
    ds.FrameOfReferenceUID = _uid(seed, patient, "frame")
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = birth
    ds.PatientSex = sex
    ds.StudyID = f"S{patient + 1}"
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.StudyDescription = description
    ds.AccessionNumber = f"SYNACC{patient + 1:04d}"
    ds.ReferringPhysicianName = "SYNTHETIC^REFERRER"
    ds.InstitutionName = "SYNTHETIC HOSPITAL"
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = number + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 4
    ds.Columns = 4
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.PixelData = bytes(range(32))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return ds


def many_patients(count: int, seed: int = 1000) -> list[Dataset]:
    """*count* extra synthetic patients (``SYNTHETIC^PNNNN``), one instance each.

    Enough matches to observe C-CANCEL (PS3.7 §9.3.2.3) mid-stream.
    """
    out = []
    for n in range(count):
        ds = _ct_instance(seed, 0, 0)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(seed, "p", n, "instance")
        ds.StudyInstanceUID = _uid(seed, "p", n, "study")
        ds.SeriesInstanceUID = _uid(seed, "p", n, "series")
        ds.PatientName = f"SYNTHETIC^P{n:04d}"
        ds.PatientID = f"SYNX{n:04d}"
        out.append(ds)
    return out


def fallback_studies(seed: int = 0) -> list[Dataset]:
    """Two synthetic patients, one CT study each, 2 + 1 instances."""
    return [_ct_instance(seed, 0, 0), _ct_instance(seed, 0, 1), _ct_instance(seed, 1, 0)]


def synthetic_datasets(seed: int | None = None) -> list[Dataset]:
    """The project's synthetic studies, or the fallback ones above.

    Prefers ``dicomaudit.synth.generate_studies`` (the project's generator)
    so the peers hold the same data as the lab; falls back to
    :func:`fallback_studies` while that module does not exist.
    """
    try:
        from dicomaudit.synth import generate_studies  # type: ignore[import-not-found]
    except ImportError:
        return fallback_studies(seed or 0)
    # The generator's default seed is the one sample_data/ was written with.
    return list(generate_studies() if seed is None else generate_studies(seed))


#: SOP Class UID of Modality Worklist Information Model - FIND (PS3.4 K.6.1).
_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
#: (PatientName, PatientSex, Modality, ScheduledStationAETitle) per item, cycled.
_WORKLIST_PATIENTS: tuple[tuple[str, str, str, str], ...] = (
    ("SYNTHETIC^WORKLIST^ONE", "O", "CT", "SYNCT01"),
    ("SYNTHETIC^WORKLIST^TWO", "F", "MR", "SYNMR01"),
    ("SYNTHETIC^WORKLIST^THREE", "M", "US", "SYNUS01"),
)


def worklist_item(seed: int = 0) -> Dataset:
    """One synthetic Modality Worklist item (PS3.4 K.6.1.2, status SCHEDULED).

    Carries the attributes a worklist leaks (PatientName, PatientID,
    PatientBirthDate, PatientSex, ReferringPhysicianName, AccessionNumber)
    and one Scheduled Procedure Step with Modality, ScheduledStationAETitle,
    start/end date and time; every value is made up.
    """
    name, sex, modality, station = _WORKLIST_PATIENTS[seed % len(_WORKLIST_PATIENTS)]
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.AccessionNumber = f"SYNWL{seed:04d}"
    ds.ReferringPhysicianName = "SYNTHETIC^REFERRER"
    ds.PatientName = name
    ds.PatientID = f"SYNWL-{seed:04d}"
    ds.PatientBirthDate = f"{1950 + seed % 50:04d}0101"
    ds.PatientSex = sex
    ds.StudyInstanceUID = _uid(seed, "worklist", "study")
    ds.RequestedProcedureID = f"RP{seed:04d}"
    ds.RequestedProcedureDescription = f"SYNTHETIC {modality}"
    step = Dataset()
    step.ScheduledStationAETitle = station
    step.ScheduledProcedureStepStartDate = "20240101"
    step.ScheduledProcedureStepStartTime = f"{9 + seed % 8:02d}0000"
    step.ScheduledProcedureStepEndDate = "20240101"
    step.ScheduledProcedureStepEndTime = f"{10 + seed % 8:02d}0000"
    step.Modality = modality
    step.ScheduledPerformingPhysicianName = "SYNTHETIC^TECH"
    step.ScheduledProcedureStepDescription = f"SYNTHETIC {modality}"
    step.ScheduledProcedureStepID = f"SPS{seed:04d}"
    step.ScheduledProcedureStepStatus = "SCHEDULED"
    ds.ScheduledProcedureStepSequence = [step]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = _WORKLIST_FIND
    ds.file_meta.MediaStorageSOPInstanceUID = _uid(seed, "worklist", "file")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return ds


def write_worklist(folder: os.PathLike[str] | str, items: int) -> list[str]:
    """Write *items* synthetic worklist items as ``<folder>/itemNNN.wl``; return the paths.

    The ``.wl`` files are DICOM Part 10 files, as read by DCMTK's wlmscpfs
    and Orthanc's ModalityWorklists plugin.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    for n in range(items):
        path = os.path.join(folder, f"item{n:03d}.wl")
        worklist_item(n).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def to_part10(ds: Dataset) -> bytes:
    """Encode *ds* as a DICOM Part 10 file (PS3.10 §7), adding file meta if absent."""
    if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write_files(datasets: Sequence[Dataset], folder: os.PathLike[str] | str) -> list[str]:
    """Write each dataset as ``<folder>/NNNN.dcm``; return the paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        path = os.path.join(folder, f"{i:04d}.dcm")
        with open(path, "wb") as fh:
            fh.write(to_part10(ds))
        paths.append(path)
    return paths
