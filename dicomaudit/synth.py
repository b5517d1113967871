"""Deterministic, entirely synthetic DICOM studies.

Everything here is invented: the patients are placeholder names (``DOE^JANE``,
``MUSTERMANN^ERIKA``...), telephone numbers come from ranges reserved for
fiction (NANP 555-01xx, Ofcom's 020 7946 0xxx drama range, ARCEP's 01 99 00
xx xx), addresses are on "Example" streets in "Testville", institutions are
"Synthetic ...".  The data still *looks* like what a real archive holds,
because the point is to exercise the PHI analyzer and the lab PACS the way a
real node would.

Reproducibility: no clock and no global RNG is read.  Every varying value
(dates, accession numbers, pixel patterns) and every UID comes from SHA-256 /
UUIDv5 over ``(seed, role, key)``, so the same seed gives byte-identical files
on every machine and Python version.  UIDs use the ``2.25.`` root, i.e. a UUID
written as a decimal integer (PS3.5 B.2).
"""

from __future__ import annotations

import hashlib
import logging
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

log = logging.getLogger(__name__)

DEFAULT_SEED = 20261121

#: UUIDv5 namespace of the project; the Implementation Class UID is derived from it.
PROJECT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/dicomaudit/dicomaudit")
#: dicomaudit's Implementation Class UID (PS3.7 D.3.3.2), ``2.25.`` + UUID as integer.
IMPLEMENTATION_CLASS_UID = UID(f"2.25.{PROJECT_NAMESPACE.int}")
#: Implementation Version Name written to file meta (max 16 chars, PS3.7 D.3.3.2).
#: A constant rather than derived from ``__version__`` on purpose: the committed
#: sample files must stay byte-identical across releases unless the generator changes.
IMPLEMENTATION_VERSION_NAME = "DICOMAUDIT_010"
#: Bumped when the generator's output changes (then re-run scripts/make_sample_data.py).
SYNTH_FORMAT = 1

#: Marker values of the prober's intrusive test instance (see :func:`synthetic_test_instance`).
TEST_PATIENT_NAME = "DICOMAUDIT^TEST"
TEST_PATIENT_ID = "DICOMAUDIT-TEST"

# Storage SOP Class UIDs (PS3.4 B.5)
CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
CR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1")
US_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.6.1")
SC_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.7")

_SOP_CLASS = {
    "CT": CT_IMAGE_STORAGE,
    "MR": MR_IMAGE_STORAGE,
    "CR": CR_IMAGE_STORAGE,
    "US": US_IMAGE_STORAGE,
    "SC": SC_IMAGE_STORAGE,
}

#: Side of the tiny square pixel matrix; 16x16 keeps each file around 2-3 KiB.
MATRIX = 16

#: Suffixes that are never DICOM: skipped silently by :func:`load_datasets`
#: (sample_data/ holds a README and an inventory next to the images).
_NON_DICOM_SUFFIXES = frozenset({".md", ".csv", ".txt", ".json", ".html", ".py", ".toml", ".zip"})


# --------------------------------------------------------------------------
# Deterministic value derivation
# --------------------------------------------------------------------------


def _digest(seed: int, *parts: object) -> int:
    """A stable 64-bit integer for ``(seed, *parts)`` (SHA-256, not ``hash()``)."""
    text = "/".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def make_uid(seed: int, *parts: object) -> UID:
    """A ``2.25.`` UID from a UUIDv5 over ``(seed, *parts)`` in the project namespace.

    PS3.5 B.2: a UUID may be turned into a UID by writing its 128-bit value as
    a decimal integer under the root ``2.25``; the result is at most 44 chars.
    """
    name = "/".join([str(seed), *map(str, parts)])
    return UID(f"2.25.{uuid.uuid5(PROJECT_NAMESPACE, name).int}")


def _day(seed: int, key: str, start: date, span_days: int) -> date:
    return start + timedelta(days=_digest(seed, "day", key) % span_days)


def _time(seed: int, key: str) -> str:
    """A TM value within working hours (08:00-17:59)."""
    n = _digest(seed, "time", key)
    return f"{8 + n % 10:02d}{(n >> 8) % 60:02d}{(n >> 16) % 60:02d}"


# --------------------------------------------------------------------------
# The roster: who exists in the synthetic archive
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    modality: str
    description: str
    body_part: str
    instances: int


@dataclass(frozen=True)
class _Study:
    description: str
    institution: str
    referring: str
    series: tuple[_Series, ...]


@dataclass(frozen=True)
class _Patient:
    patient_id: str
    name: str
    sex: str
    birth: date
    charset: str | None
    address: str | None
    phone: str | None
    studies: tuple[_Study, ...]
    comments: str | None = None
    private_copy: bool = False  # write a vendor private block that repeats the name


_SGH = "Synthetic General Hospital"
_EIC = "Example Imaging Centre"
_CTE = "Clinique Testville (synthétique)"

# Placeholder names only: the "John Doe" of several countries.  Each one is a
# well-known stand-in, so nobody real is named; two carry accents so character
# set handling (ISO_IR 192 = UTF-8, ISO_IR 100 = Latin-1) is exercised.
_ROSTER: tuple[_Patient, ...] = (
    _Patient(
        "SYN-0001",
        "DOE^JANE",
        "F",
        date(1980, 3, 14),
        None,
        "12 Example Street, Testville, ZZ 00000",
        "+1 202-555-0143",
        (
            _Study(
                "CT CHEST WITH CONTRAST",
                _SGH,
                "REFERRER^ALEX^^DR",
                (_Series("CT", "AXIAL 5MM", "CHEST", 3), _Series("CT", "CORONAL MPR", "CHEST", 2)),
            ),
            _Study(
                "XR CHEST 2 VIEWS",
                _SGH,
                "REFERRER^ALEX^^DR",
                (_Series("CR", "PA", "CHEST", 1), _Series("CR", "LATERAL", "CHEST", 1)),
            ),
        ),
    ),
    _Patient(
        "SYN-0002",
        "ROE^RICHARD",
        "M",
        date(1955, 11, 2),
        None,
        None,
        None,
        (
            _Study(
                "MR BRAIN WITHOUT CONTRAST",
                _EIC,
                "SAMPLE^MORGAN^^DR",
                (
                    _Series("MR", "T1 SAG", "HEAD", 2),
                    _Series("MR", "T2 AX", "HEAD", 3),
                    _Series("MR", "FLAIR AX", "HEAD", 2),
                ),
            ),
        ),
    ),
    _Patient(
        "SYN-0003",
        "DUPONT^HÉLÈNE",
        "F",
        date(1992, 7, 30),
        "ISO_IR 192",
        "1 Rue de l'Exemple, 75000 Testville",
        "+33199001234",
        (
            _Study(
                "US ABDOMEN COMPLET",
                _CTE,
                "EXEMPLE^CLAUDE^^DR",
                (_Series("US", "FOIE", "ABDOMEN", 2), _Series("US", "REINS", "ABDOMEN", 2)),
            ),
        ),
    ),
    _Patient(
        "SYN-0004",
        "FULANO DE TAL^JOSÉ",
        "M",
        date(1971, 1, 9),
        "ISO_IR 100",
        "Calle Ejemplo 123, 00000 Testville",
        None,
        (
            _Study("RX TORAX PA", _SGH, "MENGANO^ANA^^DRA", (_Series("CR", "PA", "CHEST", 1),)),
            _Study("RX TORAX CONTROL", _SGH, "MENGANO^ANA^^DRA", (_Series("CR", "PA", "CHEST", 1),)),
        ),
    ),
    _Patient(
        "SYN-0005",
        "BLOGGS^JOE",
        "M",
        date(1963, 5, 21),
        None,
        "7 Sample Road, Testville TE1 1ST",
        "020 7946 0018",
        (
            _Study(
                "CT ABDOMEN PELVIS", _EIC, "PLACEHOLDER^SAM^^DR", (_Series("CT", "PORTAL VENOUS 3MM", "ABDOMEN", 3),)
            ),
            _Study(
                "DOSE REPORT SCREEN", _EIC, "PLACEHOLDER^SAM^^DR", (_Series("SC", "DOSE SCREEN CAPTURE", "ABDOMEN", 1),)
            ),
        ),
        comments="Prefers morning appointments; call 020 7946 0018 (synthetic).",
    ),
    _Patient(
        "SYN-0006",
        "MUSTERMANN^ERIKA",
        "F",
        date(1988, 12, 1),
        None,
        "Beispielstrasse 1, 00000 Testhausen",
        None,
        (
            _Study(
                "MR KNEE RIGHT",
                _EIC,
                "BEISPIEL^MAX^^DR",
                (_Series("MR", "PD FS COR", "KNEE", 2), _Series("MR", "T1 SAG", "KNEE", 2)),
            ),
        ),
        private_copy=True,
    ),
)


# --------------------------------------------------------------------------
# Building datasets
# --------------------------------------------------------------------------


def _pixel_data(seed: int, key: str, bits: int) -> bytes:
    """A small deterministic gradient with a per-instance offset, little endian."""
    offset = _digest(seed, "pixels", key) % 64
    values = [(x * 13 + y * 7 + offset) for y in range(MATRIX) for x in range(MATRIX)]
    if bits == 8:
        return bytes(v & 0xFF for v in values)
    # 12 stored bits in 16 allocated: keep values well inside 0..4095.
    return struct.pack(f"<{len(values)}H", *(v * 9 & 0x0FFF for v in values))


def _file_meta(sop_class: UID, sop_instance: UID) -> FileMetaDataset:
    """PS3.10 7.1 File Meta Information identifying dicomaudit as the writer."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _add_image_pixel(ds: Dataset, seed: int, key: str, modality: str) -> None:
    """Image Pixel module (PS3.3 C.7.6.3), MONOCHROME2; US uses 8 bits as its IOD expects."""
    bits = 8 if modality == "US" else 16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = MATRIX
    ds.Columns = MATRIX
    ds.BitsAllocated = bits
    ds.BitsStored = 8 if bits == 8 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = _pixel_data(seed, key, bits)


def _add_modality_modules(ds: Dataset, modality: str, n: int, seed: int, key: str) -> None:
    """The IOD-specific attributes a real device of that modality writes."""
    if modality in ("CT", "MR"):
        ds.PatientPosition = "HFS" if ds.BodyPartExamined != "KNEE" else "FFS"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-120, -120, -100 + 5 * n]
        ds.SliceLocation = -100 + 5 * n
        ds.SliceThickness = 5
        ds.PixelSpacing = [0.8, 0.8]
        ds.FrameOfReferenceUID = make_uid(seed, "for", key.rsplit("/", 1)[0])
        ds.PositionReferenceIndicator = ""
        ds.WindowCenter = 40 if modality == "CT" else 600
        ds.WindowWidth = 400 if modality == "CT" else 1200
    if modality == "CT":
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP = 120
        ds.AcquisitionNumber = 1
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
    elif modality == "MR":
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.RepetitionTime = 500
        ds.EchoTime = 15
        ds.EchoTrainLength = 1
        ds.MagneticFieldStrength = 1.5
        ds.ImagedNucleus = "1H"
        if ds.BodyPartExamined == "KNEE":
            ds.Laterality = "R"
    elif modality == "CR":
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.ViewPosition = "LL" if "LAT" in ds.SeriesDescription else "PA"
        ds.PatientOrientation = ["A", "F"] if ds.ViewPosition == "LL" else ["L", "F"]
        ds.ImagerPixelSpacing = [0.2, 0.2]
        ds.KVP = 110
    elif modality == "US":
        ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
        ds.PatientOrientation = ""
        ds.LossyImageCompression = "00"
        # Ultrasound screens carry burned-in patient names: the flag tells
        # de-identification tools the pixels themselves are not clean.
        ds.BurnedInAnnotation = "YES"
    elif modality == "SC":
        ds.ImageType = ["DERIVED", "SECONDARY"]
        ds.ConversionType = "WSD"
        ds.PatientOrientation = ""
        ds.BurnedInAnnotation = "YES"


def _instance(
    seed: int, patient: _Patient, s_idx: int, study: _Study, r_idx: int, series: _Series, i_idx: int
) -> Dataset:
    study_key = f"{patient.patient_id}/{s_idx}"
    series_key = f"{study_key}/{r_idx}"
    key = f"{series_key}/{i_idx}"
    sop_class = _SOP_CLASS[series.modality]
    sop_instance = make_uid(seed, "sop", key)
    study_date = _day(seed, study_key, date(2023, 1, 2), 700)
    study_time = _time(seed, study_key)
    age_years = (study_date - patient.birth).days // 365

    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_instance)
    if patient.charset:
        ds.SpecificCharacterSet = patient.charset
    # SOP Common (PS3.3 C.12.1)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.InstanceCreationDate = study_date.strftime("%Y%m%d")
    ds.InstanceCreationTime = study_time
    # General Study / Patient Study (C.7.2.1, C.7.2.2)
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = study_time
    ds.AccessionNumber = f"SYNACC{_digest(seed, 'acc', study_key) % 10**6:06d}"
    ds.StudyDescription = study.description
    ds.StudyInstanceUID = make_uid(seed, "study", study_key)
    ds.StudyID = f"S{s_idx + 1}"
    ds.ReferringPhysicianName = study.referring
    ds.PatientAge = f"{age_years:03d}Y"
    ds.PatientSize = 1.70 if patient.sex == "F" else 1.80
    ds.PatientWeight = 65 if patient.sex == "F" else 80
    # Patient (C.7.1.1)
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = "SYNTHETIC-MRN"
    ds.PatientBirthDate = patient.birth.strftime("%Y%m%d")
    ds.PatientSex = patient.sex
    if patient.address:
        ds.PatientAddress = patient.address
    if patient.phone:
        ds.PatientTelephoneNumbers = patient.phone
    if patient.comments:
        ds.PatientComments = patient.comments
    other = Dataset()
    other.PatientID = f"OLD-{patient.patient_id[4:]}"
    other.IssuerOfPatientID = "SYNTHETIC-LEGACY"
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    # General Series (C.7.3.1)
    # Secondary Capture is a SOP class, not a Modality defined term (PS3.3
    # C.7.3.1.1.1): screen captures are written as "OT" by real converters.
    ds.Modality = "OT" if series.modality == "SC" else series.modality
    ds.SeriesInstanceUID = make_uid(seed, "series", series_key)
    ds.SeriesNumber = r_idx + 1
    ds.SeriesDescription = series.description
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = study_time
    ds.BodyPartExamined = series.body_part
    ds.OperatorsName = "TECH^ROBIN"
    ds.PerformingPhysicianName = study.referring
    # General Equipment (C.7.5.1)
    ds.Manufacturer = "DICOMAUDIT SYNTHETIC"
    ds.ManufacturerModelName = f"SYNTH-{series.modality}"
    ds.InstitutionName = study.institution
    ds.InstitutionAddress = "1 Synthetic Way, Testville"
    ds.StationName = f"SYN{series.modality}01"
    ds.DeviceSerialNumber = f"SN-SYN-{series.modality}-0001"
    ds.SoftwareVersions = f"dicomaudit-synth {SYNTH_FORMAT}"
    # General Image / Acquisition (C.7.6.1)
    ds.InstanceNumber = i_idx + 1
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = study_time
    ds.AcquisitionDate = ds.StudyDate
    ds.AcquisitionTime = study_time
    # Free text is where PHI hides in practice (typed by technologists).
    ds.ImageComments = f"Synthetic image for {patient.name.replace('^', ' ').title()}; not a real patient."
    # Request Attributes (C.7.3.1): the contract's example PHI path.
    request = Dataset()
    request.RequestedProcedureID = f"RP{s_idx + 1}"
    request.RequestingPhysician = study.referring
    request.ScheduledProcedureStepID = f"SPS{s_idx + 1}"
    ds.RequestAttributesSequence = Sequence([request])
    _add_modality_modules(ds, series.modality, i_idx, seed, key)
    _add_image_pixel(ds, seed, key, series.modality)
    if patient.private_copy:
        # A vendor private block that repeats the patient's name: PHI that
        # keyword-based de-identification misses (PS3.15 E.3.8 "retain private tags").
        block = ds.private_block(0x0009, "DICOMAUDIT SYNTH VENDOR", create=True)
        block.add_new(0x10, "LO", patient.name)
        block.add_new(0x11, "LO", "workstation SYNWS01")
    return ds


def _iter_roster(seed: int) -> Iterator[tuple[tuple[str, int, int, int], Dataset]]:
    for patient in _ROSTER:
        for s_idx, study in enumerate(patient.studies):
            for r_idx, series in enumerate(study.series):
                for i_idx in range(series.instances):
                    ds = _instance(seed, patient, s_idx, study, r_idx, series, i_idx)
                    yield (patient.patient_id, s_idx, r_idx, i_idx), ds


def generate_studies(seed: int = DEFAULT_SEED) -> list[Dataset]:
    """Generate the synthetic archive: 6 patients, 9 studies, 5 modalities.

    Parameters
    ----------
    seed : int
        Drives UIDs, dates, accession numbers and pixel patterns.  Names and
        structure are fixed, so tests can name patients; the seed only changes
        values a real archive would never repeat (UIDs, dates).

    Returns
    -------
    list of pydicom.dataset.Dataset
        One dataset per instance, each with File Meta (Explicit VR Little
        Endian) and pixel data, ordered patient/study/series/instance.
    """
    return [ds for _, ds in _iter_roster(seed)]


# --------------------------------------------------------------------------
# Modality Worklist
# --------------------------------------------------------------------------

#: Orders a scheduler hands to modalities: (modality, procedure, scheduled station AE title).
_WORKLIST_ORDERS: tuple[tuple[str, str, str], ...] = (
    ("CT", "CT HEAD WITHOUT CONTRAST", "SYNCT01"),
    ("MR", "MR LUMBAR SPINE", "SYNMR01"),
    ("US", "US ABDOMEN COMPLET", "SYNUS01"),
    ("CR", "XR CHEST 2 VIEWS", "SYNCR01"),
    ("CT", "CT ABDOMEN PELVIS", "SYNCT01"),
    ("MR", "MR KNEE RIGHT", "SYNMR01"),
)
#: First day of the synthetic schedule; steps fall within the following week.
WORKLIST_START = date(2026, 3, 2)


def generate_worklist(n: int = 6, seed: int = DEFAULT_SEED) -> list[Dataset]:
    """Generate `n` synthetic Modality Worklist items (PS3.4 K.6.1, Table K.6-1).

    Each item is one Requested Procedure with one Scheduled Procedure Step, for
    a patient of the synthetic roster (cycled): Patient Name, ID, Birth Date,
    Sex, Accession Number, Requested Procedure ID and Description, Study
    Instance UID (``2.25.``), Referring Physician, and a Scheduled Procedure
    Step Sequence item with Modality, Scheduled Station AE Title, Start
    Date/Time (within the week from :data:`WORKLIST_START`), Performing
    Physician, Description, ID and Status.

    Parameters
    ----------
    n : int
        Number of items.
    seed : int
        Drives the Study Instance UIDs and the scheduled dates and times; the
        names, IDs and orders are fixed so tests can name them.
    """
    items: list[Dataset] = []
    for i in range(n):
        patient = _ROSTER[i % len(_ROSTER)]
        modality, procedure, station = _WORKLIST_ORDERS[i % len(_WORKLIST_ORDERS)]
        key = f"worklist/{i}"
        step = Dataset()
        step.Modality = modality
        step.ScheduledStationAETitle = station
        step.ScheduledProcedureStepStartDate = _day(seed, key, WORKLIST_START, 7).strftime("%Y%m%d")
        step.ScheduledProcedureStepStartTime = _time(seed, key)
        step.ScheduledPerformingPhysicianName = "TECH^ROBIN"
        step.ScheduledProcedureStepDescription = procedure
        step.ScheduledProcedureStepID = f"SYNSPS{i + 1:04d}"
        step.ScheduledProcedureStepStatus = "SCHEDULED"

        ds = Dataset()
        if patient.charset:
            ds.SpecificCharacterSet = patient.charset
        ds.PatientName = patient.name
        ds.PatientID = patient.patient_id
        ds.PatientBirthDate = patient.birth.strftime("%Y%m%d")
        ds.PatientSex = patient.sex
        ds.AccessionNumber = f"SYNWL{i + 1:04d}"
        ds.ReferringPhysicianName = patient.studies[0].referring
        ds.RequestedProcedureID = f"SYNRP{i + 1:04d}"
        ds.RequestedProcedureDescription = procedure
        ds.StudyInstanceUID = make_uid(seed, "worklist", i, "study")
        ds.ScheduledProcedureStepSequence = Sequence([step])
        items.append(ds)
    return items


def relative_path(ds: Dataset) -> Path:
    """Where a generated instance lives under ``sample_data/``.

    ``<PatientID>/study<N>/series<N>/<NNNN>.dcm``: human-browsable and stable
    (the synthetic PatientID is not identifying; a real export would use UIDs).
    """
    return (
        Path(str(ds.PatientID))
        / f"study{ds.StudyID[1:]}"
        / f"series{int(ds.SeriesNumber)}"
        / f"{int(ds.InstanceNumber):04d}.dcm"
    )


def write_sample_data(out_dir: str | Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write :func:`generate_studies` output as DICOM Part 10 files under `out_dir`.

    Files are written with ``enforce_file_format=True`` (128-byte zero
    preamble, ``DICM``, File Meta group 0002) and no volatile values, so two
    runs produce byte-identical trees.

    Returns
    -------
    list of pathlib.Path
        The written files, sorted.
    """
    root = Path(out_dir)
    written: list[Path] = []
    for ds in generate_studies(seed):
        path = root / relative_path(ds)
        path.parent.mkdir(parents=True, exist_ok=True)
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        written.append(path)
    return sorted(written)


def _looks_like_dataset(ds: Dataset) -> bool:
    return "SOPClassUID" in ds or "SOPInstanceUID" in ds


def read_dataset(path: str | Path) -> Dataset:
    """Read one DICOM file, tolerating a missing preamble (raw datasets).

    Raises
    ------
    pydicom.errors.InvalidDicomError
        When the file is not DICOM or carries no SOP Class/Instance UID.
        ``force=True`` alone would "succeed" on any bytes, hence the check.
    """
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        ds = pydicom.dcmread(path, force=True)
        if not _looks_like_dataset(ds):
            raise InvalidDicomError("not a DICOM file") from None
    if not _looks_like_dataset(ds):
        # pydicom stops quietly at EOF, so a file cut short can parse as a
        # near-empty data set; without SOP identifiers it is of no use here.
        raise InvalidDicomError("no SOP Class/Instance UID (truncated file or not a composite object)")
    # Touch every element now so a truncated/corrupt file fails here, inside
    # the caller's error handling, rather than later in a server thread.
    for _ in ds.iterall():
        pass
    return ds


def load_datasets(path_or_dir: str | Path) -> list[Dataset]:
    """Read DICOM files from a file or a folder (recursively).

    Files that are not DICOM are skipped with a logged warning; a bad file
    never stops the load.  Hidden files and obvious text files (``.md``,
    ``.csv``...) are skipped silently.

    Returns
    -------
    list of pydicom.dataset.FileDataset
        In sorted path order; each has ``filename`` set.
    """
    root = Path(path_or_dir)
    if root.is_file():
        candidates = [root]
    elif root.is_dir():
        candidates = sorted(p for p in root.rglob("*") if p.is_file())
    else:
        log.warning("no such file or directory: %s", root)
        return []
    datasets: list[Dataset] = []
    for path in candidates:
        if path.name.startswith(".") or path.suffix.lower() in _NON_DICOM_SUFFIXES:
            log.debug("skipping non-DICOM file %s", path)
            continue
        try:
            datasets.append(read_dataset(path))
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the load
            log.warning("skipping %s: %s", path, exc)
    return datasets


def synthetic_test_instance(seed: int | None = None) -> Dataset:
    """One obviously synthetic Secondary Capture instance for an intrusive C-STORE test.

    PatientName ``DICOMAUDIT^TEST`` and PatientID ``DICOMAUDIT-TEST`` make it
    easy for a PACS administrator to find and delete afterwards.

    Parameters
    ----------
    seed : int, optional
        Source of the UIDs.  ``None`` (default) draws a random UUID so each
        call yields fresh Study/Series/SOP Instance UIDs; pass an int for a
        reproducible instance (tests).
    """
    if seed is None:
        seed = uuid.uuid4().int
    sop_instance = make_uid(seed, "test", "sop")
    ds = Dataset()
    ds.file_meta = _file_meta(SC_IMAGE_STORAGE, sop_instance)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SC_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_instance
    ds.PatientName = TEST_PATIENT_NAME
    ds.PatientID = TEST_PATIENT_ID
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = make_uid(seed, "test", "study")
    ds.StudyDate = "20000101"
    ds.StudyTime = "000000"
    ds.StudyID = "DICOMAUDIT"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "dicomaudit intrusive storage test - safe to delete"
    ds.SeriesInstanceUID = make_uid(seed, "test", "series")
    ds.SeriesNumber = 1
    ds.SeriesDescription = "dicomaudit storage test"
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.Manufacturer = "dicomaudit"
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.ImageComments = "Synthetic object written by dicomaudit --intrusive; contains no patient data."
    _add_image_pixel(ds, seed, "test", "SC")
    return ds
