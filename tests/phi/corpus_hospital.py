"""A labelled PHI corpus built the way a hospital's PACS export looks (issue 14).

Independent of :mod:`tests.phi.corpus`, :mod:`tests.phi.corpus_intl` and
:mod:`tests.phi.corpus_structure`: realistic rather than adversarial.  Sixteen
invented sites in Europe and Asia (their language, Specific Character Set,
national ID and phone formats, address styles, doctors' titles) export studies
of every common IOD -- CT, MR, CR/DX, US, MG, PT, NM, SR (Basic Text, Enhanced,
Comprehensive), KOS, GSPS, scanned-document SC and RT Structure Sets -- with the
modules modalities and PACS really write (request attributes, performed
procedure step, equipment, referenced sequences) and the private blocks of
real vendor creators (Siemens CSA, GE, Philips, Toshiba, Elscint, Agfa, Sectra)
holding what such blocks hold: binary, numbers, protocol text, and sometimes
a copy of the patient's name, ID or a date.  Hospital habits are in too: role
placeholders in person names, dummy dates, empty type-2 values, ages in
months, CD exports with a DICOMDIR, research exports de-identified with
pseudonyms, and a few broken files as exports really produce them.

Every value is invented from a seeded :class:`random.Random` (names are
combinations of common family and given names; phone numbers come from the
ranges reserved for fiction where a country has one that ``phonenumbers``
accepts, otherwise they are random numbers ``phonenumbers`` validates).

The labels are written by the generator from what it put in each file, never
by running the analyzer: one :class:`Label` per non-empty element, saying
whether it is identifying and why (``why``: the class of value, used to group
misses and false alarms in the report).  What counts as identifying follows
the README's PHI analyzer section: a real value of a PS3.15 Annex E attribute
that the analyzer treats as structured (names, IDs, dates, times, UIDs,
institution and device attributes), any other person name, free text and
private values holding a name, ID, date, phone number, address or e-mail, an
age over 89, BurnedInAnnotation = YES, a de-identification declaration with
identifiers left.  Roles (``SELF^REFERRED``), placeholders, dummy dates,
pseudonyms and replaced UIDs of a declared de-identified data set are not.
The few cases where the README is silent are marked ``judgment:`` in ``why``
(see :data:`JUDGMENT_CALLS`).

Usage::

    key = generate_hospital_corpus(tmp_path / "export", n_files=300, seed=14)
    result = analyze_paths([tmp_path / "export"])
    m = measure(result, key, tmp_path / "export")
    print(report(m))

``python -m tests.phi.corpus_hospital OUT_DIR`` writes the corpus, analyses it
and prints the same report.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    BasicTextSRStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalXRayImageStorageForPresentation,
    EnhancedSRStorage,
    ExplicitVRLittleEndian,
    GrayscaleSoftcopyPresentationStateStorage,
    ImplicitVRLittleEndian,
    KeyObjectSelectionDocumentStorage,
    MRImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    RTStructureSetStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    generate_uid,
)

LABELS_NAME = ".hospital_labels.json"  # a dotfile: folder walks skip it

#: Labelling decisions where the README says nothing, and what was decided (HIPAA Safe Harbor / PS3.15 Annex E).
JUDGMENT_CALLS: dict[str, str] = {
    "judgment:age-in-text": "an age over 89 written in free text ('patiente de 94 ans'): identifying, as HIPAA "
    "Safe Harbor 164.514(b)(2)(i)(C) counts every age over 89, not only the AS attribute",
    "judgment:sr-organization": "SR TEXT 'Person Observer's Organization Name' (TID 1003): identifying, the SR "
    "form of InstitutionName (Annex E X/Z/D), which the README counts",
    "judgment:private-copy": "a private element holding a copy of a public Annex E value (station name, "
    "patient record dates, exam dates): labelled as the public attribute is",
    "judgment:sr-date-no-concept": "SR DATE/DATETIME items: identifying whatever their concept (README sr.date)",
    "judgment:non-dicom-dcm": "a file named .dcm that is not DICOM (an HTML error page, a JPEG) inside an export "
    "folder: the brief requires it in errors, the README counts such files as skipped",
    "judgment:dicomdir-missing": "a DICOMDIR whose referenced files are missing: reported when the DICOMDIR or a "
    "missing file appears in errors",
    "judgment:burned-in": "BurnedInAnnotation = YES: identifying (README declaration.burned-in); NO is not",
    "judgment:private-creator-date": "a private date that is not about the patient's care (calibration, "
    "version stamps written as dates) is not identifying; one that is (patient record created, exam, "
    "injection) is",
}


# --------------------------------------------------------------------------
# Labels, the answer key and the measure
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One non-empty element of one file: identifying or not, and why (the value's class)."""

    file: str
    path: str
    identifying: bool
    why: str
    site: str = ""


@dataclass(frozen=True)
class Malformed:
    """A file that must appear in ``errors``; ``also``: other sources that count (missing files)."""

    file: str
    what: str
    also: tuple[str, ...] = ()


@dataclass
class HospitalKey:
    """Everything the generator wrote: labels, broken files, the valid files."""

    labels: list[Label] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def identifying(self) -> set[tuple[str, str]]:
        return {(lb.file, lb.path) for lb in self.labels if lb.identifying}

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": [[lb.file, lb.path, lb.identifying, lb.why, lb.site] for lb in self.labels],
            "malformed": [[m.file, m.what, list(m.also)] for m in self.malformed],
            "files": self.files,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HospitalKey:
        return cls(
            labels=[Label(f, p, bool(i), w, s) for f, p, i, w, s in d["labels"]],
            malformed=[Malformed(f, w, tuple(a)) for f, w, a in d["malformed"]],
            files=list(d["files"]),
        )

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> HospitalKey:
        return cls.from_json(json.loads(Path(root, LABELS_NAME).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class FalseAlarm:
    """A finding on an element not labelled identifying (``label`` is None when the element was not labelled)."""

    file: str
    path: str
    rule: str
    category: str
    label: Label | None


@dataclass(frozen=True)
class Measure:
    """The analyzer against the key."""

    identifying: int
    found: int
    hits: int
    misses: tuple[Label, ...]
    false_alarms: tuple[FalseAlarm, ...]
    malformed_not_reported: tuple[Malformed, ...]
    unexpected_errors: tuple[tuple[str, str], ...]
    #: Broken files the run counted as skipped (plainly not DICOM) instead of listing them in ``errors``.
    malformed_skipped: tuple[str, ...] = ()
    #: Findings in broken files the analyzer read as if whole (not counted as false alarms: the values are real).
    findings_in_malformed: tuple[tuple[str, str], ...] = ()

    @property
    def recall(self) -> float:
        return self.hits / self.identifying if self.identifying else 1.0

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 1.0

    @property
    def accepted(self) -> bool:
        """The acceptance thresholds of issue 14."""
        return self.recall >= 0.98 and len(self.false_alarms) <= 1 and not self.malformed_not_reported


def measure(result: Any, key: HospitalKey, root: str | os.PathLike[str]) -> Measure:
    """Compare an :class:`~dicomaudit.phi.AnalysisResult` of ``root`` with the key.

    A finding counts once per ``(file, element path)``; every finding whose
    pair is not labelled identifying is a false alarm.
    """
    base = os.fspath(root)

    def rel(source: str) -> str:
        return os.path.relpath(source, base).replace(os.sep, "/")

    broken = {m.file for m in key.malformed} - set(key.files)  # a DICOMDIR whose files are missing is still read
    rules: dict[tuple[str, str], tuple[str, str]] = {}
    in_broken: set[tuple[str, str]] = set()
    for f in result.findings:
        pair = (rel(f.source), f.path)
        if pair[0] in broken:
            in_broken.add(pair)
        else:
            rules.setdefault(pair, (f.rule, f.category))
    found = set(rules)
    identifying = key.identifying
    by_pair = {(lb.file, lb.path): lb for lb in key.labels}
    errored = {rel(e.source): str(getattr(e, "error", "")) for e in result.errors}
    expected_sources = {m.file for m in key.malformed} | {a for m in key.malformed for a in m.also}
    return Measure(
        identifying=len(identifying),
        found=len(found),
        hits=len(found & identifying),
        misses=tuple(sorted((by_pair[p] for p in identifying - found), key=lambda lb: (lb.why, lb.file, lb.path))),
        false_alarms=tuple(
            sorted(
                (FalseAlarm(f, p, *rules[(f, p)], by_pair.get((f, p))) for f, p in found - identifying),
                key=lambda a: (a.rule, a.file, a.path),
            )
        ),
        malformed_not_reported=tuple(
            m for m in key.malformed if m.file not in errored and not any(a in errored for a in m.also)
        ),
        unexpected_errors=tuple(sorted((s, r) for s, r in errored.items() if s not in expected_sources)),
        malformed_skipped=tuple(sorted(broken & {rel(s) for s in getattr(result, "skipped", ())})),
        findings_in_malformed=tuple(sorted(in_broken)),
    )


def report(m: Measure, root: str | os.PathLike[str] | None = None) -> str:
    """The measure as text: figures, then every miss and false alarm (values shown: synthetic data only)."""
    lines = [
        f"recall {m.recall:.4f} ({m.hits}/{m.identifying}), precision {m.precision:.4f} ({m.hits}/{m.found}), "
        f"false alarms {len(m.false_alarms)}, malformed not in errors {len(m.malformed_not_reported)}, "
        f"unexpected errors {len(m.unexpected_errors)}"
    ]

    def value(file: str, path: str) -> str:
        if root is None:
            return ""
        try:
            return f" = {_value_at(Path(root, file), path)!r}"
        except Exception as exc:  # noqa: BLE001 - a report line, not a check
            return f" (value not read: {type(exc).__name__})"

    lines.append(f"-- misses ({len(m.misses)})")
    lines += [f"MISS [{lb.why}] {lb.file} {lb.path}{value(lb.file, lb.path)}" for lb in m.misses]
    lines.append(f"-- false alarms ({len(m.false_alarms)})")
    for a in m.false_alarms:
        why = a.label.why if a.label else "unlabelled"
        lines.append(f"FALSE [{a.rule}; labelled {why}] {a.file} {a.path}{value(a.file, a.path)}")
    lines.append(f"-- malformed files not in errors ({len(m.malformed_not_reported)})")
    skipped = set(m.malformed_skipped)
    lines += [
        f"NOT REPORTED {x.file}: {x.what}" + (" (counted as skipped, not DICOM)" if x.file in skipped else "")
        for x in m.malformed_not_reported
    ]
    read_whole = sorted({f for f, _ in m.findings_in_malformed})
    lines += [f"READ AS WHOLE {f}: {sum(1 for g, _ in m.findings_in_malformed if g == f)} findings" for f in read_whole]
    lines.append(f"-- unexpected errors ({len(m.unexpected_errors)})")
    lines += [f"ERROR {s}: {r}" for s, r in m.unexpected_errors]
    return "\n".join(lines)


def _value_at(path: Path, element: str) -> Any:
    """The value at an analyzer path (``A[0].B``, ``(0029,1010)``) of a file, for reports."""
    ds = dcmread(path, force=True)
    node: Any = ds
    for part in element.split("."):
        index = None
        if part.endswith("]"):
            part, _, rest = part.partition("[")
            index = int(rest[:-1])
        tag: int | str = int(part[1:5], 16) << 16 | int(part[6:10], 16) if part.startswith("(") else part
        holder = ds.file_meta if (node is ds and isinstance(tag, str) and tag in ds.file_meta) else node
        elem = holder[tag]
        node = elem.value[index] if index is not None else elem.value
    return node


# --------------------------------------------------------------------------
# Building labelled data sets
# --------------------------------------------------------------------------

#: Attributes whose value never identifies anybody, labelled automatically (structure, coding, numbers).
_STRUCTURAL = frozenset(
    """SpecificCharacterSet SOPClassUID ImageType Modality Manufacturer ManufacturerModelName SoftwareVersions
    SeriesNumber InstanceNumber AcquisitionNumber PatientSex PatientSize PatientWeight PatientPosition
    BodyPartExamined SliceThickness KVP XRayTubeCurrent ExposureTime Exposure ConvolutionKernel
    ReconstructionDiameter DataCollectionDiameter GantryDetectorTilt TableHeight RotationDirection
    FilterType GeneratorPower FocalSpots SpacingBetweenSlices PixelSpacing ImagePositionPatient
    ImageOrientationPatient SliceLocation SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated
    BitsStored HighBit PixelRepresentation RescaleIntercept RescaleSlope RescaleType WindowCenter WindowWidth
    PixelData LossyImageCompression PositionReferenceIndicator CTDIvol ScanOptions ContrastBolusAgent
    ContrastBolusVolume ContrastBolusRoute ScanningSequence SequenceVariant MRAcquisitionType RepetitionTime
    EchoTime InversionTime FlipAngle MagneticFieldStrength ImagedNucleus EchoTrainLength NumberOfAverages
    ImagingFrequency ReceiveCoilName TransmitCoilName AcquisitionMatrix InPlanePhaseEncodingDirection
    SequenceName PercentSampling PercentPhaseFieldOfView PixelBandwidth ViewPosition ImageLaterality Laterality
    PatientOrientation DistanceSourceToDetector DistanceSourceToPatient ExposureInuAs RelativeXRayExposure
    PresentationIntentType DetectorType Grid CompressionForce BodyPartThickness OrganDose EntranceDoseInmGy
    AnodeTargetMaterial FilterMaterial BreastImplantPresent PartialView ImagerPixelSpacing
    Units DecayCorrection CorrectedImage CountsSource SeriesType RandomsCorrectionMethod ReconstructionMethod
    AttenuationCorrectionMethod FrameReferenceTime ActualFrameDuration DoseCalibrationFactor DecayFactor
    Radiopharmaceutical RadionuclideTotalDose RadionuclideHalfLife RadionuclidePositronFraction
    NumberOfSlices ImageIndex NumberOfFrames FrameIncrementPointer NumberOfEnergyWindows NumberOfDetectors
    EnergyWindowLowerLimit EnergyWindowUpperLimit EnergyWindowName RadionuclideCodeSequence
    CodeValue CodingSchemeDesignator CodeMeaning CodingSchemeVersion MappingResource ValueType RelationshipType
    ContinuityOfContent CompletionFlag VerificationFlag TemplateIdentifier NumericValue ObservationUID
    GraphicType GraphicData ReferencedSOPClassUID ReferencedFrameNumber TransferSyntaxUID MediaStorageSOPClassUID
    ImplementationClassUID ImplementationVersionName FileMetaInformationVersion FileMetaInformationGroupLength
    SourceApplicationEntityTitle ConversionType SecondaryCaptureDeviceManufacturer
    SecondaryCaptureDeviceManufacturerModelName SecondaryCaptureDeviceSoftwareVersions BurnedInAnnotation
    RecognizableVisualFeatures PresentationLUTShape ContentLabel PresentationLUTShape ImageHorizontalFlip
    ImageRotation DisplayedAreaTopLeftHandCorner DisplayedAreaBottomRightHandCorner PresentationSizeMode
    PresentationPixelSpacing GraphicLayer GraphicLayerOrder AnchorPointAnnotationUnits AnchorPoint
    AnchorPointVisibility BoundingBoxAnnotationUnits BoundingBoxTopLeftHandCorner BoundingBoxBottomRightHandCorner
    BoundingBoxTextHorizontalJustification GraphicAnnotationUnits NumberOfGraphicPoints GraphicFilled
    ROINumber ROIGenerationAlgorithm ROIDisplayColor ReferencedROINumber ObservationNumber RTROIInterpretedType
    ContourGeometricType NumberOfContourPoints ContourData ContourNumber ApprovalStatus
    RegionSpatialFormat RegionDataType RegionFlags RegionLocationMinX0 RegionLocationMinY0 RegionLocationMaxX1
    RegionLocationMaxY1 PhysicalUnitsXDirection PhysicalUnitsYDirection PhysicalDeltaX PhysicalDeltaY
    TransducerData ProcessingFunction MechanicalIndex BoneThermalIndex SoftTissueThermalIndex
    PlanarConfiguration UltrasoundColorDataPresent RequestedProcedurePriority PatientIdentityRemoved
    LongitudinalTemporalInformationModified TypeOfPatientID ReferencedFileID DirectoryRecordType
    ReferencedSOPClassUIDInFile ReferencedTransferSyntaxUIDInFile OffsetOfTheNextDirectoryRecord
    RecordInUseFlag OffsetOfReferencedLowerLevelDirectoryEntity FileSetConsistencyFlag FileSetID
    OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity
    SmokingStatus PregnancyStatus QualityControlImage ObserverType InstitutionCodeSequence
    PixelPaddingValue PixelIntensityRelationship PixelIntensityRelationshipSign AcquisitionDeviceProcessingCode
    FieldOfViewShape FieldOfViewDimensions SensitivityValue ExposureIndex TargetExposureIndex DeviationIndex
    DetectorTemperature CollimatorType EstimatedRadiographicMagnificationFactor ContentQualification
    DeidentificationMethodCodeSequence ConceptNameCodeSequence MeasurementUnitsCodeSequence
    """.split()
)

#: VRs that are numbers or binary: never identifying here unless labelled otherwise.
_QUIET_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "DS", "IS", "AT", "OB", "OW", "OF", "OD", "OL", "UN", "SQ"})


def _paths(ds: Dataset, prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, keyword, VR) of every non-empty element, in the analyzer's path syntax."""
    for elem in ds:
        name = (
            elem.keyword
            if not elem.tag.is_private and elem.keyword
            else f"({elem.tag.group:04X},{elem.tag.element:04X})"
        )
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                yield from _paths(item, f"{prefix}{name}[{i}].")
        elif not elem.is_empty:
            yield prefix + name, elem.keyword, elem.VR


class _Doc:
    """A data set under construction and the labels of what went into it."""

    def __init__(self, sop_class: str, charset: str | list[str]) -> None:
        self.ds = Dataset()
        self.ds.SpecificCharacterSet = charset
        self.sop_class = sop_class
        self.labels: dict[str, tuple[bool, str]] = {}
        self.implicit = False

    def put(
        self, keyword: str, value: Any, ident: bool, why: str, into: Dataset | None = None, prefix: str = ""
    ) -> None:
        setattr(self.ds if into is None else into, keyword, value)
        if value not in ("", None, []):
            self.labels[prefix + keyword] = (ident, why)

    def seq(self, keyword: str, n: int = 1, into: Dataset | None = None, prefix: str = "") -> list[tuple[Dataset, str]]:
        """Add a sequence of ``n`` new items; return (item, path prefix of the item)."""
        items = [Dataset() for _ in range(n)]
        setattr(self.ds if into is None else into, keyword, Sequence(items))
        return [(it, f"{prefix}{keyword}[{i}].") for i, it in enumerate(items)]

    def private(
        self, group: int, creator: str, offset: int, vr: str, value: Any, ident: bool, why: str,
        into: Dataset | None = None, prefix: str = "",
    ) -> str:  # fmt: skip
        target = self.ds if into is None else into
        block = target.private_block(group, creator, create=True)
        block.add_new(offset, vr, value)
        tag = block.get_tag(offset)
        path = f"{prefix}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if vr != "SQ":
            self.labels[path] = (ident, why)
        return path

    def finish(self, meta_extra: dict[str, Any] | None = None) -> bytes:
        """Encode (Part 10) and complete the labels: file meta, private creators, structural elements."""
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = self.ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = self.ds.SOPInstanceUID
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if self.implicit else ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.8.498.1")
        for k, v in (meta_extra or {}).items():
            setattr(meta, k, v)
        self.ds.file_meta = meta
        if self.ds.SpecificCharacterSet == ["", "ISO 2022 IR 58"]:
            _escape_ir58(self.ds)
        sop = self.labels.get("SOPInstanceUID")
        if sop is not None:
            self.labels["MediaStorageSOPInstanceUID"] = sop  # the same UID in the file meta
        buf = io.BytesIO()
        self.ds.save_as(buf, enforce_file_format=True)
        self._complete(self.ds)
        self._complete(meta)
        return buf.getvalue()

    def _complete(self, ds: Dataset) -> None:
        for path, keyword, vr in _paths(ds):
            if path in self.labels:
                continue
            last = path.rsplit(".", 1)[-1]
            if last.startswith("(") and int(last[6:10], 16) < 0x0100:
                self.labels[path] = (False, "private-creator")
            elif keyword in _STRUCTURAL or vr in _QUIET_VRS or vr == "CS":
                self.labels[path] = (False, "structural")
            else:  # every element that can carry identity is labelled where it is written
                raise AssertionError(f"unlabelled element {path} ({vr})")


_TEXT_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})
_ESC_GB2312 = b"\x1b$)A"  # ISO 2022 IR 58: GB 2312 designated to G1 (PS3.5 Table K.2-1)


def _escape_ir58(ds: Dataset) -> None:
    """Encode non-ASCII text as ISO 2022 IR 58 with its escape sequence, as Chinese modalities write it.

    pydicom 3.0 writes GB 2312 bytes without the designating escape sequence, which no reader can decode; the
    escape is written once per component, line or value (the code elements are reset at each delimiter,
    PS3.5 6.1.2.5.3).
    """
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or ():
                _escape_ir58(item)
        elif elem.VR in _TEXT_VRS and not isinstance(elem.value, bytes) and not str(elem.value).isascii():
            delimiters = "^=\\" if elem.VR == "PN" else "\r\n\t\f\\"
            out, segment = bytearray(), ""
            for ch in str(elem.value) + "\0":
                if ch in delimiters or ch == "\0":
                    if not segment.isascii():
                        out += _ESC_GB2312
                    out += segment.encode("gb2312") + (ch.encode() if ch != "\0" else b"")
                    segment = ""
                else:
                    segment += ch
            elem.value = bytes(out)


# --------------------------------------------------------------------------
# Invented people, places, numbers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    """A person's name: Latin form, optionally ideographic and phonetic groups (PS3.5 6.2.1.2)."""

    family: str
    given: str
    ideo: tuple[str, str] | None = None
    phon: tuple[str, str] | None = None
    prefix: str = ""

    def pn(self, *, prefix: bool = False) -> str:
        first = f"{self.family}^{self.given}" + (f"^^{self.prefix}" if prefix and self.prefix else "")
        if self.ideo is None:
            return first
        groups = [first, "^".join(self.ideo)]
        if self.phon is not None:
            groups.append("^".join(self.phon))
        return "=".join(groups)


@dataclass(frozen=True)
class Patient:
    name: Name
    pid: str
    birth: date
    sex: str
    other_ids: tuple[tuple[str, str, str], ...] = ()  # (id, issuer, type)


def _no_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _german_translit(text: str) -> str:
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss")):
        text = text.replace(a, b)
    return text


_GREEK_ELOT = dict(
    zip(
        "αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώ",
        "a b g d e z i th i k l m n x o p r s s t y f ch ps o a e i i o y o".split(),
        strict=True,
    )
)
_CYRILLIC_ICAO = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch ie y - e iu ia".split(),
        strict=True,
    )
)


def _romanize(text: str, table: dict[str, str]) -> str:
    out = []
    for c in _no_accents(text):  # ELOT 743 and ICAO drop the tonos and diaeresis; й and ё read as и and е
        low = c.lower()
        r = table.get(low, c)
        r = "" if r == "-" else r
        out.append(r.capitalize() if c != low and r else r)
    return "".join(out)


def _uid(rng: random.Random, root: str) -> str:
    return generate_uid(prefix=root, entropy_srcs=[str(rng.getrandbits(64))])


def _national(rng: random.Random, region: str, mobile: bool) -> str:
    """An invented number valid per phonenumbers for ``region``, written nationally."""
    example = phonenumbers.example_number_for_type(
        region, PhoneNumberType.MOBILE if mobile else PhoneNumberType.FIXED_LINE
    )
    assert example is not None
    nsn = str(example.national_number)
    for _ in range(500):
        digits = "".join(str(rng.randrange(10)) for _ in range(4))
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code,
            national_number=int(nsn[:-4] + digits),
            italian_leading_zero=example.italian_leading_zero,
        )
        if phonenumbers.is_valid_number_for_region(candidate, region):
            return str(phonenumbers.format_number(candidate, PhoneNumberFormat.NATIONAL))
    raise AssertionError(f"no valid number for {region}")  # pragma: no cover


#: Ranges reserved for fiction that phonenumbers accepts (Ofcom drama numbers, ARCEP, BNetzA).
_FICTION = {
    "GB": ("020 7946 0{:03d}", "0113 496 0{:03d}", "0161 496 0{:03d}"),
    "FR": ("01 99 00 {:02d} {:02d}",),
    "DE": ("030 23125 {:03d}", "069 90009 {:03d}", "040 66969 {:03d}", "089 99998 {:03d}"),
}


def phone(rng: random.Random, region: str, mobile: bool = False) -> str:
    """A phone number of ``region``: from a fiction range where one exists, else an invented valid one."""
    if region in _FICTION and not mobile:
        pattern = rng.choice(_FICTION[region])
        n = pattern.count("{")
        number = pattern.format(*(rng.randrange(100 if n == 2 else 1000) for _ in range(n)))
    else:
        number = _national(rng, region, mobile)
    assert phonenumbers.is_valid_number(phonenumbers.parse(number, region)), number
    return number


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _nhs_number(rng: random.Random) -> str:
    """An NHS number from the 999 test range with a valid modulus-11 check digit."""
    while True:
        body = "999" + _digits(rng, 6)
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            s = body + str(check)
            return f"{s[:3]} {s[3:6]} {s[6:]}"


# --------------------------------------------------------------------------
# Free text: what each language's departments write, labelled
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str
    ident: bool
    why: str


@dataclass(frozen=True)
class Ctx:
    """What a site's phrases may mention."""

    rng: random.Random
    patient: Patient
    doctor: Name
    other_doctor: Name
    when: date  # a date of the patient's care (prior exam, surgery...)
    site: Site


def _pick(rng: random.Random, seq: tuple[str, ...] | list[str]) -> str:
    return seq[rng.randrange(len(seq))]


MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "sv": "januari februari mars april maj juni juli augusti september oktober november december",
    "en": "January February March April May June July August September October November December",
    "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia",
    "cs": "ledna února března dubna května června července srpna září října listopadu prosince",
    "el": "Ιανουαρίου Φεβρουαρίου Μαρτίου Απριλίου Μαΐου Ιουνίου Ιουλίου Αυγούστου Σεπτεμβρίου Οκτωβρίου "
    "Νοεμβρίου Δεκεμβρίου",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
}


def _month(lang: str, d: date) -> str:
    return MONTHS[lang].split()[d.month - 1]


def _texts_fr(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Comparaison avec le scanner du {d.day} {_month('fr', d)} {d.year}.", True, "date-words"),
        Text(f"Contrôle post-opératoire (chirurgie du {d:%d/%m/%Y})", True, "date-numeric"),
        Text(f"Patiente adressée par le Dr {doc.family} pour bilan d'extension", True, "name-title"),
        Text(f"CR faxé au Pr {c.other_doctor.family}, service de pneumologie", True, "name-title"),
        Text(f"Personne de confiance : fille, tél. {phone(r, 'FR')}", True, "phone-label"),
        Text(f"Prévenir le fils au {phone(r, 'FR', mobile=True)} si résultat urgent", True, "phone-bare"),
        Text(f"Domicile : {r.randrange(2, 90)} rue des Tanneurs, 44000 Nantes", True, "address"),
        Text(
            f"{_no_accents(p.name.family).upper()} {_no_accents(p.name.given)} - allergie iode",
            True,
            "own-name-translit",
        ),
        Text(f"IPP {p.pid} (doublon fusionné)", True, "id-label"),
        Text("Patiente de 94 ans, chute à domicile", True, "judgment:age-in-text"),
        # decoys
        Text("Scanner thoraco-abdomino-pelvien avec injection", False, "decoy"),
        Text("Allergie à l'iode : prémédication selon protocole", False, "decoy"),
        Text("Injection 90 ml Omnipaque 350, débit 3 ml/s", False, "decoy"),
        Text("Nodule de 6 mm du LSD, contrôle à 3 mois", False, "decoy"),
        Text("Antécédent de cholécystectomie en 2015", False, "decoy"),
        Text("Patient non coopérant, artéfacts de mouvement", False, "decoy"),
        Text("Examen réalisé en urgence (SAU), à jeun", False, "decoy"),
    ]


def _texts_de(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Vergleich mit Voruntersuchung vom {d.day}. {_month('de', d)} {d.year}", True, "date-words"),
        Text(f"Z.n. Hemikolektomie rechts am {d:%d.%m.%Y}", True, "date-numeric"),
        Text(f"Überweisung durch Dr. med. {doc.family}, Hausarzt", True, "name-title"),
        Text(f"Befund telefonisch an OA {c.other_doctor.family} übermittelt", True, "name-title"),
        Text(f"Rückruf Station 4B unter {phone(r, 'DE')}", True, "phone-cue"),
        Text(f"Tel. Ehefrau {phone(r, 'DE', mobile=True)}", True, "phone-label"),
        Text(f"Wohnhaft Lindenstraße {r.randrange(2, 90)}, 10115 Berlin", True, "address"),
        Text(f"Pat. {_german_translit(p.name.family)}, nüchtern", True, "own-name-translit"),
        Text(f"Fallnr. {_digits(r, 9)}", True, "id-label"),
        # decoys
        Text("CT Thorax/Abdomen mit KM, portalvenöse Phase", False, "decoy"),
        Text("KM-Allergie bekannt, Prämedikation erfolgt", False, "decoy"),
        Text("Kontrolle in 3 Monaten empfohlen", False, "decoy"),
        Text("Z.n. Appendektomie 1998", False, "decoy"),
        Text("Patient unruhig, Bewegungsartefakte", False, "decoy"),
        Text("Serien-Nr. 2 von 5, Kernel Br40", False, "decoy"),
    ]


def _texts_es(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Comparado con TC previo del {d.day} de {_month('es', d)} de {d.year}", True, "date-words"),
        Text(f"Intervenido el {d:%d/%m/%Y} (colecistectomía)", True, "date-numeric"),
        Text(f"Remitido por la Dra. {doc.family} (Atención Primaria)", True, "name-title"),
        Text(f"Informado al Dr. {c.other_doctor.family} por teléfono", True, "name-title"),
        Text(f"Teléfono de contacto: {phone(r, 'ES', mobile=True)}", True, "phone-label"),
        Text(f"Domicilio: Calle Mayor {r.randrange(2, 90)}, 28013 Madrid", True, "address"),
        Text(
            f"{_no_accents(p.name.family)}, {_no_accents(p.name.given)}: alergia a contrastes",
            True,
            "own-name-translit",
        ),
        Text(f"NHC {p.pid}", True, "id-label"),
        # decoys
        Text("TC de tórax con contraste intravenoso", False, "decoy"),
        Text("Alergia a contrastes yodados, premedicado", False, "decoy"),
        Text("Control en 6 meses según Fleischner", False, "decoy"),
        Text("Paciente colaborador, apnea correcta", False, "decoy"),
    ]


def _texts_it(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Confronto con TC del {d.day} {_month('it', d)} {d.year}", True, "date-words"),
        Text(f"Intervento chirurgico in data {d:%d/%m/%Y}", True, "date-numeric"),
        Text(f"Richiesta della Dott.ssa {doc.family}", True, "name-title"),
        Text(f"Refertato con il Prof. {c.other_doctor.family}", True, "name-title"),
        Text(f"Recapito figlia: {phone(r, 'IT', mobile=True)}", True, "phone-cue"),
        Text(f"Residente in Via Garibaldi {r.randrange(2, 90)}, 20121 Milano", True, "address"),
        Text(f"Sig. {p.name.family} in terapia anticoagulante", True, "own-name"),
        # decoys
        Text("TC torace-addome con mdc, fase portale", False, "decoy"),
        Text("Allergia al mezzo di contrasto iodato", False, "decoy"),
        Text("Controllo tra 6 mesi", False, "decoy"),
        Text("Paziente poco collaborante", False, "decoy"),
    ]


def _texts_pt(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Comparação com exame de {d.day} de {_month('pt', d)} de {d.year}", True, "date-words"),
        Text(f"Pedido do Dr. {doc.family}, Medicina Interna", True, "name-title"),
        Text(f"Contacto da filha: {phone(r, 'PT', mobile=True)}", True, "phone-cue"),
        Text(f"Morada: Rua Augusta {r.randrange(2, 90)}, 1100-053 Lisboa", True, "address"),
        Text(f"Processo {p.pid}", True, "id-label"),
        # decoys
        Text("TC abdominal com contraste endovenoso", False, "decoy"),
        Text("Alergia ao iodo, pré-medicado", False, "decoy"),
        Text("Controlo dentro de 3 meses", False, "decoy"),
    ]


def _texts_nl(c: Ctx) -> list[Text]:
    r, d, doc = c.rng, c.when, c.doctor
    return [
        Text(f"Vergeleken met CT van {d.day} {_month('nl', d)} {d.year}", True, "date-words"),
        Text(f"Verwezen door dr. {doc.family}, huisarts", True, "name-title"),
        Text(f"Besproken met dhr. {c.other_doctor.family} (MDO)", True, "name-title"),
        Text(f"Tel. partner {phone(r, 'NL', mobile=True)}", True, "phone-label"),
        Text(f"Adres: Kerkstraat {r.randrange(2, 90)}, 3511 LX Utrecht", True, "address"),
        # decoys
        Text("CT thorax met contrast, arteriële fase", False, "decoy"),
        Text("Controle over 3 maanden", False, "decoy"),
        Text("Contrastallergie, premedicatie gegeven", False, "decoy"),
    ]


def _texts_sv(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Jämfört med DT {d.day} {_month('sv', d)} {d.year}", True, "date-words"),
        Text(f"Remiss från dr {doc.family}, vårdcentral", True, "name-title"),
        Text(f"Tel. anhörig {phone(r, 'SE', mobile=True)}", True, "phone-label"),
        Text(f"Bostad: Storgatan {r.randrange(2, 90)}, 111 51 Stockholm", True, "address"),
        Text(f"Pat {_no_accents(p.name.family)} fastande", True, "own-name-translit"),
        # decoys
        Text("DT buk med kontrast, portavensfas", False, "decoy"),
        Text("Kontroll om 3 månader", False, "decoy"),
        Text("Kontrastallergi, premedicinerad", False, "decoy"),
    ]


def _texts_en(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Compared with CT of {d.day} {_month('en', d)} {d.year}", True, "date-words"),
        Text(f"Previous MRI {d:%d/%m/%Y}, no change", True, "date-numeric"),
        Text(f"Referred by Dr {doc.family}, GP", True, "name-title"),
        Text(f"Discussed with Mr {c.other_doctor.family} (vascular registrar)", True, "name-title"),
        Text(f"Next of kin (daughter) {phone(r, 'GB')}", True, "phone-bare"),
        Text(f"Tel {phone(r, 'GB')} for results", True, "phone-label"),
        Text(f"Address: {r.randrange(2, 90)} Acacia Avenue, Leeds LS6 2AB", True, "address"),
        Text(f"NHS number {p.other_ids[0][0] if p.other_ids else _nhs_number(r)}", True, "id-label"),
        Text(f"Pt {p.name.family.title()} nil by mouth", True, "own-name"),
        # decoys
        Text("CT chest abdomen pelvis with contrast", False, "decoy"),
        Text("Known contrast allergy, premedicated", False, "decoy"),
        Text("Follow-up CT in 3 months", False, "decoy"),
        Text("Patient unable to breath-hold", False, "decoy"),
        Text("Discussed with the on-call registrar", False, "decoy"),
        Text("Previous cholecystectomy 2012", False, "decoy"),
    ]


def _texts_pl(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Porównano z badaniem z dnia {d.day} {_month('pl', d)} {d.year} r.", True, "date-words"),
        Text(f"Skierowanie: lek. med. {doc.family}", True, "name-title"),
        Text(f"Telefon do córki: {phone(r, 'PL', mobile=True)}", True, "phone-label"),
        Text(f"Adres: ul. Długa {r.randrange(2, 90)}, 00-238 Warszawa", True, "address"),
        Text(f"Pacjent {_no_accents(p.name.family)} na czczo", True, "own-name-translit"),
        # decoys
        Text("TK klatki piersiowej z kontrastem", False, "decoy"),
        Text("Kontrola za 3 miesiące", False, "decoy"),
        Text("Uczulenie na kontrast jodowy", False, "decoy"),
    ]


def _texts_cs(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Srovnání s CT ze dne {d.day}. {_month('cs', d)} {d.year}", True, "date-words"),
        Text(f"Konzultováno s MUDr. {doc.family}", True, "name-title"),
        Text(f"Tel. manželka {phone(r, 'CZ', mobile=True)}", True, "phone-label"),
        Text(f"Bydliště: Husova {r.randrange(2, 90)}, 110 00 Praha 1", True, "address"),
        Text(f"RČ {p.pid}", True, "id-label"),
        # decoys
        Text("CT hrudníku s kontrastem", False, "decoy"),
        Text("Kontrola za 3 měsíce", False, "decoy"),
    ]


def _texts_el(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Σύγκριση με αξονική της {d.day} {_month('el', d)} {d.year}", True, "date-words"),
        Text(f"Παραπομπή από τον Δρ. {doc.family}", True, "name-title"),
        Text(f"Τηλ. συγγενούς {phone(r, 'GR', mobile=True)}", True, "phone-label"),
        Text(f"Διεύθυνση: οδός Πατησίων {r.randrange(2, 90)}, Αθήνα", True, "address"),
        Text(f"{_romanize(p.name.family, _GREEK_ELOT).upper()} - alergia sto iodio", True, "own-name-translit"),
        # decoys
        Text("Αξονική θώρακος με σκιαγραφικό", False, "decoy"),
        Text("Επανέλεγχος σε 3 μήνες", False, "decoy"),
    ]


def _texts_ru(c: Ctx) -> list[Text]:
    r, d, p, doc = c.rng, c.when, c.patient, c.doctor
    return [
        Text(f"Сравнение с КТ от {d.day} {_month('ru', d)} {d.year} г.", True, "date-words"),
        Text(f"Направил врач {doc.family} {doc.given[0]}.", True, "name-title"),
        Text(f"Тел. дочери {phone(r, 'RU', mobile=True)}", True, "phone-label"),
        Text(f"Адрес: ул. Садовая, д. {r.randrange(2, 90)}, кв. {r.randrange(2, 200)}", True, "address"),
        Text(
            f"{_romanize(p.name.family, _CYRILLIC_ICAO).upper()} {_romanize(p.name.given, _CYRILLIC_ICAO).upper()}",
            True,
            "own-name-translit",
        ),
        # decoys
        Text("КТ органов грудной клетки с контрастом", False, "decoy"),
        Text("Контроль через 3 месяца", False, "decoy"),
    ]


def _texts_ja(c: Ctx) -> list[Text]:
    r, d, p = c.rng, c.when, c.patient
    ideo = c.other_doctor.ideo[0] if c.other_doctor.ideo else c.other_doctor.family
    return [
        Text(f"{d.year}年{d.month}月{d.day}日のCTと比較", True, "date-cjk"),
        Text(f"{ideo}先生に報告済み", True, "name-honorific"),
        Text(f"連絡先 {phone(r, 'JP', mobile=True)}", True, "phone-label"),
        Text(f"〒{r.randrange(100, 999)}-{_digits(r, 4)} 東京都千代田区", True, "address"),
        Text(f"{p.name.ideo[0] if p.name.ideo else p.name.family}様 造影剤アレルギーあり", True, "own-name"),
        # decoys
        Text("造影剤アレルギーあり 前投薬済み", False, "decoy"),
        Text("3ヶ月後に再検査", False, "decoy"),
    ]


def _texts_zh(c: Ctx) -> list[Text]:
    r, d, p = c.rng, c.when, c.patient
    ideo = c.other_doctor.ideo[0] if c.other_doctor.ideo else c.other_doctor.family
    return [
        Text(f"与{d.year}年{d.month}月{d.day}日CT比较", True, "date-cjk"),
        Text(f"{ideo}医生已阅片", True, "name-honorific"),
        Text(f"联系电话 {phone(r, 'CN', mobile=True)}", True, "phone-label"),
        Text(f"上海市徐汇区宛平南路{r.randrange(2, 900)}号", True, "address"),
        Text(f"住院号 {p.pid}", True, "id-label"),
        # decoys
        Text("胸部CT增强扫描", False, "decoy"),
        Text("3个月后复查", False, "decoy"),
    ]


def _texts_ko(c: Ctx) -> list[Text]:
    r, d = c.rng, c.when
    ideo = c.other_doctor.phon[0] + c.other_doctor.phon[1] if c.other_doctor.phon else c.other_doctor.family
    return [
        Text(f"{d.year}년 {d.month}월 {d.day}일 CT와 비교", True, "date-cjk"),
        Text(f"{ideo} 교수 판독", True, "name-honorific"),
        Text(f"연락처 {phone(r, 'KR', mobile=True)}", True, "phone-label"),
        Text(f"서울특별시 종로구 대학로 {r.randrange(2, 200)}", True, "address"),
        # decoys
        Text("흉부 CT 조영 증강", False, "decoy"),
        Text("3개월 후 추적검사", False, "decoy"),
    ]


# --------------------------------------------------------------------------
# Sites
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One hospital: language, character set, address, people and number formats."""

    code: str
    region: str
    charset: str | tuple[str, ...]
    institution: str
    address: str
    department: str
    issuer: str
    families: tuple[str, ...]
    givens: tuple[str, ...]
    doctors: tuple[tuple[str, str], ...]
    title: str  # PN prefix component of doctors
    texts: Callable[[Ctx], list[Text]]
    procedures: tuple[tuple[str, str], ...]  # (code, meaning) of the site's RIS
    pid: Callable[[random.Random, date], str]
    cjk: Callable[[random.Random], Name] | None = None
    roles: tuple[str, ...] = ()  # role placeholders this site's staff type in PN fields

    @property
    def charset_value(self) -> str | list[str]:
        return list(self.charset) if isinstance(self.charset, tuple) else self.charset


def _pid_digits(n: int, lead: str = "") -> Callable[[random.Random, date], str]:
    return lambda rng, birth: lead + _digits(rng, n - len(lead))


def _personnummer(rng: random.Random, birth: date) -> str:
    return f"{birth:%Y%m%d}-{_digits(rng, 4)}"


def _pesel(rng: random.Random, birth: date) -> str:
    return f"{birth:%y%m%d}{_digits(rng, 5)}"


def _rodne(rng: random.Random, birth: date) -> str:
    return f"{birth:%y%m%d}/{_digits(rng, 4)}"


_JA_FAMILY = (("Sato", "佐藤", "ｻﾄｳ"), ("Suzuki", "鈴木", "ｽｽﾞｷ"), ("Takahashi", "高橋", "ﾀｶﾊｼ"), ("Ito", "伊藤", "ｲﾄｳ"),
              ("Kobayashi", "小林", "ｺﾊﾞﾔｼ"), ("Yoshida", "吉田", "ﾖｼﾀﾞ"))  # fmt: skip
_JA_GIVEN = (("Haruka", "遥", "ﾊﾙｶ"), ("Kenji", "健二", "ｹﾝｼﾞ"), ("Yui", "結衣", "ﾕｲ"), ("Daiki", "大輝", "ﾀﾞｲｷ"),
             ("Aoi", "葵", "ｱｵｲ"))  # fmt: skip
_ZH_FAMILY = (("Wang", "王"), ("Li", "李"), ("Zhang", "张"), ("Liu", "刘"), ("Chen", "陈"), ("Zhou", "周"))
_ZH_GIVEN = (("Xiaoming", "晓明"), ("Yufei", "宇飞"), ("Jing", "静"), ("Haoran", "浩然"), ("Meiling", "美玲"))
_KO_FAMILY = (
    ("Kim", "金", "김"),
    ("Lee", "李", "이"),
    ("Park", "朴", "박"),
    ("Choi", "崔", "최"),
    ("Jung", "鄭", "정"),
)
_KO_GIVEN = (
    ("Minjun", "旻俊", "민준"),
    ("Seoyeon", "瑞延", "서연"),
    ("Jiho", "智浩", "지호"),
    ("Hayoon", "夏潤", "하윤"),
)


def _ja_name(rng: random.Random) -> Name:
    f, g = rng.choice(_JA_FAMILY), rng.choice(_JA_GIVEN)
    return Name(f[0].upper(), g[0].upper(), (f[1], g[1]), (f[2], g[2]))


def _zh_name(rng: random.Random) -> Name:
    f, g = rng.choice(_ZH_FAMILY), rng.choice(_ZH_GIVEN)
    return Name(f[0], g[0], (f[1], g[1]))


def _ko_name(rng: random.Random) -> Name:
    f, g = rng.choice(_KO_FAMILY), rng.choice(_KO_GIVEN)
    return Name(f[0], g[0], (f[1], g[1]), (f[2], g[2]))


_CT_PROC = (("CTTAP", "CT THORAX ABDOMEN PELVIS"), ("CTHEAD", "CT HEAD W/O"), ("MRBRAIN", "MR BRAIN"),
            ("CRCHEST", "CHEST PA"))  # fmt: skip

SITES: tuple[Site, ...] = (
    Site("fr_nantes", "FR", "ISO_IR 100", "CHU de Loire-Océan - Hôpital Nord", "12 boulevard des Aubépines, 44093 Nantes",
         "Radiologie centrale", "CHU-LO",
         ("Lefèvre", "Dupont", "Girard", "Morel", "Fournier", "Lambert", "Bonnet", "Roussel"),
         ("Hélène", "Marie-Claire", "Loïc", "François", "Élodie", "Jérôme"),
         (("MARTIN", "Sophie"), ("BERNARD", "Luc"), ("PETIT", "Anne"), ("ROBERT", "Yves")), "Dr",
         _texts_fr, (("ZCQH001", "Scanner thoraco-abdomino-pelvien"), ("ACQN001", "IRM encéphale"),
                     ("ZBQK002", "Radiographie du thorax")), _pid_digits(10, "80"),
         roles=("MANIPULATEUR", "MEDECIN^TRAITANT", "INTERNE")),
    Site("de_berlin", "DE", "ISO_IR 100", "Klinikum am Spreeufer", "Uferstraße 64, 10117 Berlin",
         "Institut für Radiologie", "KAS",
         ("Müller", "Schröder", "Weiß", "Krüger", "Bäcker", "Schmitz", "Köhler", "Groß"),
         ("Jürgen", "Günther", "Anneliese", "Jörg", "Käthe", "Björn"),
         (("Schneider", "Thomas"), ("Wagner", "Claudia"), ("Becker", "Stefan"), ("Hofmann", "Ute")), "Dr. med.",
         _texts_de, (("CT-TA", "CT Thorax/Abdomen mit KM"), ("MRT-KOPF", "MRT Schädel nativ"),
                     ("RX-THX", "Röntgen Thorax p.a.")), _pid_digits(8, "00"),
         roles=("MTRA", "ZUWEISER^EXTERN", "ARZT^VOM^DIENST")),
    Site("es_madrid", "ES", "ISO_IR 100", "Hospital Universitario Los Olivos", "Calle de los Olivos 261, 28046 Madrid",
         "Servicio de Radiodiagnóstico", "HULO",
         ("García", "Muñoz", "Martínez", "Sánchez", "Jiménez", "Domínguez"),
         ("María José", "Íñigo", "Begoña", "Rubén", "Inés"),
         (("LÓPEZ", "Carmen"), ("FERNÁNDEZ", "Pablo"), ("RUIZ", "Lucía")), "Dr.",
         _texts_es, (("TCTOR", "TC TORAX CON CONTRASTE"), ("RMCRA", "RM CRANEO")), _pid_digits(7),
         roles=("MEDICO^DE^GUARDIA", "TECNICO")),
    Site("it_milano", "IT", "ISO_IR 100", "Ospedale San Lorenzo Nord", "Viale dei Platani 3, 20162 Milano",
         "Radiologia", "OSLN",
         ("Rossi", "Bianchi", "Colombo", "Ricci", "Mancini", "Fabbri"),
         ("Niccolò", "Giulia", "Lorenzo", "Chiara", "Andrea"),
         (("FERRARI", "Giulia"), ("ROMANO", "Marco"), ("GALLO", "Elena")), "Dott.ssa",
         _texts_it, (("TCTOR", "TC TORACE CON MDC"), ("RMENC", "RM ENCEFALO")), _pid_digits(8),
         roles=("TECNICO^RADIOLOGIA", "MEDICO^ESTERNO")),
    Site("pt_lisboa", "PT", "ISO_IR 100", "Hospital da Ribeira Nova", "Avenida das Laranjeiras 40, 1649-035 Lisboa",
         "Imagiologia", "HRN", ("Gonçalves", "Conceição", "Simões", "Araújo", "Magalhães"),
         ("João", "Inês", "Sebastião", "Conceição"), (("SILVA", "Joana"), ("COSTA", "Miguel")), "Dr.",
         _texts_pt, (("TCABD", "TC ABDOMINAL"),), _pid_digits(8)),
    Site("nl_utrecht", "NL", "ISO_IR 100", "Ziekenhuis De Lindeboom", "Lindelaan 100, 3584 CX Utrecht",
         "Radiologie", "ZDL", ("de Vries", "van den Berg", "Jansen", "Bakker", "Visser"),
         ("Sanne", "Daan", "Femke", "Joris"), (("DE JONG", "Pieter"), ("SMIT", "Ilse")), "dr.",
         _texts_nl, (("CTTHX", "CT THORAX"),), _pid_digits(7)),
    Site("se_stockholm", "SE", "ISO_IR 100", "Norrviks sjukhus", "Björkvägen 3, 171 64 Solna",
         "Bild och funktion", "NVS", ("Ødegård", "Åberg", "Lindström", "Sjöberg", "Håkansson"),
         ("Åsa", "Björn", "Märta", "Sören"), (("NILSSON", "Karin"), ("LARSSON", "Erik")), "Dr",
         _texts_sv, (("CTBUK", "DT BUK MED KONTRAST"),), _personnummer),
    Site("uk_leeds", "GB", "ISO_IR 100", "Aire Valley Hospitals NHS Trust", "Millbrook Road, Leeds LS1 3EX",
         "Radiology", "AVH", ("SMITH", "O'BRIEN", "HUGHES", "PATEL", "MACKENZIE", "EDWARDS"),
         ("JAMES", "SIOBHAN", "PRIYA", "GARETH", "EILEEN"),
         (("WRIGHT", "HELEN"), ("TURNER", "DAVID"), ("WALSH", "CIARAN")), "DR",
         _texts_en, (("CCHAPC", "CT CHEST ABDOMEN PELVIS WITH CONTRAST"), ("XCHES", "XR CHEST")),
         _pid_digits(7, "K"), roles=("RADIOGRAPHER", "SELF^REFERRED", "GP^UNKNOWN")),
    Site("pl_warszawa", "PL", "ISO_IR 101", "Szpital Miejski nr 7", "ul. Lipowa 4, 02-005 Warszawa",
         "Zakład Radiologii", "SM7", ("Wiśniewska", "Wójcik", "Kamiński", "Łukasik", "Zając"),
         ("Małgorzata", "Łukasz", "Grzegorz", "Agnieszka"), (("NOWAK", "Piotr"), ("KOWALSKA", "Ewa")), "lek.",
         _texts_pl, (("TKKP", "TK KLATKI PIERSIOWEJ"),), _pesel),
    Site("cz_praha", "CZ", "ISO_IR 101", "Městská nemocnice Vltava", "Lipová 499/2, 128 08 Praha 2",
         "Radiodiagnostická klinika", "MNV", ("Dvořáková", "Černý", "Procházka", "Kučera", "Veselý"),
         ("Věra", "Jiří", "Tomáš", "Zdeňka"), (("NOVÁK", "Jan"), ("SVOBODOVÁ", "Petra")), "MUDr.",
         _texts_cs, (("CTHR", "CT HRUDNÍKU"),), _rodne),
    Site("gr_athina", "GR", "ISO_IR 126", "Γενικό Νοσοκομείο Ελαιώνα", "Λεωφόρος Ελαιών 154, 115 27 Αθήνα",
         "Ακτινολογικό Τμήμα", "GNE", ("Παπαδοπούλου", "Νικολαΐδης", "Γεωργίου", "Οικονόμου"),
         ("Ελένη", "Δημήτρης", "Μαρία", "Κωνσταντίνος"), (("ΑΝΤΩΝΙΟΥ", "ΝΙΚΟΣ"), ("ΒΛΑΧΟΥ", "ΣΟΦΙΑ")), "Δρ.",
         _texts_el, (("CTTHX", "ΑΞΟΝΙΚΗ ΘΩΡΑΚΟΣ"),), _pid_digits(11)),
    Site("ru_moskva", "RU", "ISO_IR 144", "ГКБ № 97", "ул. Берёзовая, д. 3, Москва, 123182",
         "Отделение лучевой диагностики", "GKB97", ("Кузнецова", "Соколов", "Лебедева", "Волков"),
         ("Ольга", "Сергей", "Наталья", "Дмитрий"), (("ИВАНОВ", "ПЁТР"), ("СМИРНОВА", "ЕЛЕНА")), "",
         _texts_ru, (("CTOGK", "КТ ОГК"),), _pid_digits(8)),
    Site("ch_basel", "CH", "ISO_IR 192", "Kantonsspital Rheinknie / Hôpital cantonal", "Rheinweg 4, 4031 Basel",
         "Radiologie et médecine nucléaire", "KSR", ("Müller", "Lefèvre", "Čapek", "Nikolić", "Ødegård"),
         ("Zoë", "Jürg", "Anaïs", "Dragana"), (("MEIER", "Reto"), ("FAVRE", "Nathalie")), "Dr.",
         _texts_de, (("CT-TA", "CT Thorax/Abdomen"),), _pid_digits(8)),
    Site("ja_tokyo", "JP", ("ISO 2022 IR 13", "ISO 2022 IR 87"), "Sakuragaoka General Hospital",
         "〒113-8677 東京都文京区桜丘3-18-22", "Radiology", "SGH", (), (), (), "",
         _texts_ja, (("CT001", "CT CHEST"),), _pid_digits(8), cjk=_ja_name),
    Site("zh_shanghai", "CN", "GB18030", "上海市滨江人民医院", "上海市徐汇区滨江路600号", "放射科", "SBH", (), (), (), "",
         _texts_zh, (("CT01", "胸部CT"),), _pid_digits(8, "ZY"), cjk=_zh_name),
    Site("zh_ir58", "CN", ("", "ISO 2022 IR 58"), "Beijing Eastgate Hospital", "北京市东城区东门路1号",
         "Radiology", "BEH", (), (), (), "", _texts_zh, (("CT01", "CT CHEST"),), _pid_digits(9), cjk=_zh_name),
    Site("ko_seoul", "KR", ("", "ISO 2022 IR 149"), "Hanbit General Hospital", "서울특별시 종로구 한빛로 101",
         "Radiology", "HGH", (), (), (), "", _texts_ko, (("CT01", "CHEST CT"),), _pid_digits(8), cjk=_ko_name),
)  # fmt: skip


# --------------------------------------------------------------------------
# Studies: what the RIS and the modality put in every object of a study
# --------------------------------------------------------------------------

#: Role placeholders departments type where a person's name belongs (not people).
ROLES = ("SELF^REFERRED", "UNKNOWN^PHYSICIAN", "OUTSIDE^PHYSICIAN", "ER DOCTOR", "TECH", "RESIDENT")
#: Vendors' UID roots (the suffixes are invented).
_ROOTS = {"SIEMENS": "1.3.12.2.1107.5.1.4.", "GE": "1.2.840.113619.2.55.", "PHILIPS": "1.3.46.670589.11.",
          "TOSHIBA": "1.2.392.200036.9116.2.", "AGFA": "1.3.51.0.7.", "HOLOGIC": "1.2.840.113681.2."}  # fmt: skip
_MODELS = {"SIEMENS": ("SOMATOM Force", "MAGNETOM Vida", "Biograph Vision", "Symbia Intevo"),
           "GE": ("Revolution CT", "SIGNA Premier", "Discovery MI", "Discovery NM/CT 670", "LOGIQ E10"),
           "PHILIPS": ("iCT 256", "Ingenia 3.0T", "Vereos PET/CT", "EPIQ 7G", "DigitalDiagnost"),
           "TOSHIBA": ("Aquilion ONE", "Vantage Titan", "Aplio i800"),
           "AGFA": ("DX-D 400", "CR 30-X"), "HOLOGIC": ("Selenia Dimensions",)}  # fmt: skip


@dataclass
class Study:
    """One imaging study of one patient at one site, and how it was ordered."""

    site: Site
    patient: Patient
    day: date
    time: str
    uid: str
    accession: str
    study_id: str
    procedure: tuple[str, str]
    vendor: str
    referring: tuple[str, bool, str]  # (PN value, identifying, why)
    doctor: Name
    other_doctor: Name
    prior: date
    texts: list[Text] = field(default_factory=list)
    birth_value: tuple[str, bool, str] = ("", False, "")
    age: tuple[str, bool, str] = ("", False, "")
    requested_id: str = ""
    sps_id: str = ""
    deid: str = ""  # "", "pseudonym-modified", "pseudonym-full-dates", "leaky"
    serials: dict[str, str] = field(default_factory=dict)
    n: int = 0  # the study's number: role placeholders are cycled with it

    @property
    def root(self) -> str:
        return _ROOTS[self.vendor]


def _local(rng: random.Random, s: Study, options: tuple[str, ...]) -> str:
    """One of ``options`` that the site's character set can write (a Greek modality writes no 'é')."""
    latin1 = s.site.charset in ("ISO_IR 100", "ISO_IR 192")
    return rng.choice([o for o in options if latin1 or o.isascii()])


def _tm(rng: random.Random, hour: int | None = None) -> str:
    h = rng.randrange(7, 20) if hour is None else hour
    return f"{h:02d}{rng.randrange(60):02d}{rng.randrange(60):02d}.{rng.randrange(1000):03d}"


def _da(d: date) -> str:
    return d.strftime("%Y%m%d")


def _age(study: date, birth: date) -> str:
    days = (study - birth).days
    if days < 31:
        return f"{days:03d}D"
    if days < 365 * 2:
        return f"{days * 12 // 365:03d}M"
    return f"{days // 365:03d}Y"


def _person_name(site: Site, rng: random.Random) -> Name:
    if site.cjk is not None:
        return site.cjk(rng)
    family, given = rng.choice(site.families), rng.choice(site.givens)
    if rng.random() < 0.4:  # RIS that register names in capitals (Greek capitals drop their accents)
        up = (lambda t: _no_accents(t).upper()) if site.region == "GR" else str.upper
        family, given = up(family), up(given)
    return Name(family, given)


def _doctor(site: Site, rng: random.Random) -> Name:
    if site.cjk is not None:
        return site.cjk(rng)
    family, given = rng.choice(site.doctors)
    return Name(family, given, prefix=site.title)


def _new_study(rng: random.Random, site: Site, vendor: str, n: int = 0) -> Study:
    day = date(2016, 1, 1) + timedelta(days=rng.randrange(0, 9 * 365))
    roll = rng.random()
    if roll < 0.06:
        birth = day - timedelta(days=rng.randrange(90 * 365 + 30, 99 * 365))  # over 89
    elif roll < 0.10:
        birth = day - timedelta(days=rng.randrange(3, 600))  # a neonate or an infant
    else:
        birth = day - timedelta(days=rng.randrange(18 * 365, 88 * 365))
    sex = rng.choice("MF")
    name = _person_name(site, rng)
    pid = site.pid(rng, birth)
    others: tuple[tuple[str, str, str], ...] = ()
    if site.code == "uk_leeds":
        others = ((_nhs_number(rng), "NHS", "TEXT"),)
    elif rng.random() < 0.3:
        others = ((_digits(rng, 9), f"{site.issuer}-OLD", "TEXT"),)
    patient = Patient(name, pid, birth, sex, others)
    s = Study(
        site=site, patient=patient, day=day, time=_tm(rng), uid=_uid(rng, _ROOTS[vendor]),
        accession=f"{rng.choice(('', 'A', 'RX'))}{_digits(rng, rng.choice((7, 8, 10)))}",
        study_id=_digits(rng, rng.choice((4, 5))), procedure=rng.choice(site.procedures), vendor=vendor,
        referring=("", False, ""), doctor=_doctor(site, rng), other_doctor=_doctor(site, rng),
        prior=day - timedelta(days=rng.randrange(30, 4 * 365)), n=n,
    )  # fmt: skip
    # Referring physician: a doctor, a role placeholder, or nothing (type 2, left empty by the RIS).
    roll = rng.random()
    if roll < 0.6:
        s.referring = (s.doctor.pn(prefix=rng.random() < 0.5), True, "name/annex-e")
    elif roll < 0.85:
        roles = ROLES[:4] + site.roles
        s.referring = (roles[n % len(roles)], False, "role")  # cycled: every role of the site appears
    # Birth date: real, a dummy (unknown at registration), or empty.
    roll = rng.random()
    if roll < 0.85:
        s.birth_value = (_da(birth), True, "birth-date/annex-e")
    elif roll < 0.93:
        s.birth_value = ("19000101", False, "dummy-date")
    age = _age(day, birth)
    s.age = (
        age,
        int(age[:3]) >= 90 and age.endswith("Y"),
        "age>89" if age.endswith("Y") and int(age[:3]) >= 90 else "age",
    )
    s.requested_id = f"RP{_digits(rng, 6)}"
    s.sps_id = f"SPS{_digits(rng, 6)}"
    ctx = Ctx(rng, patient, s.doctor, s.other_doctor, s.prior, site)
    s.texts = site.texts(ctx)
    return s


def _header(
    doc: _Doc,
    rng: random.Random,
    s: Study,
    modality: str,
    series_no: int,
    series_desc: str,
    series_desc_ident: tuple[bool, str] = (False, "decoy"),
) -> tuple[str, str]:
    """Patient, study, series, equipment and SOP common modules; returns (series UID, SOP instance UID)."""
    site, p = s.site, s.patient
    d = doc
    d.put("SOPClassUID", doc.sop_class, False, "structural")
    sop = _uid(rng, s.root)
    d.put("SOPInstanceUID", sop, True, "uid/annex-e")
    d.put("InstanceCreationDate", _da(s.day), True, "date/annex-e")
    d.put("InstanceCreationTime", _tm(rng), True, "time/annex-e")
    d.put("StudyDate", _da(s.day), True, "date/annex-e")
    d.put("SeriesDate", _da(s.day), True, "date/annex-e")
    d.put("ContentDate", _da(s.day), True, "date/annex-e")
    d.put("StudyTime", s.time, True, "time/annex-e")
    d.put("SeriesTime", _tm(rng), True, "time/annex-e")
    d.put("ContentTime", _tm(rng), True, "time/annex-e")
    d.put("AccessionNumber", s.accession, True, "id/annex-e")
    d.put("Modality", modality, False, "structural")
    d.put("Manufacturer", {"SIEMENS": "SIEMENS", "GE": "GE MEDICAL SYSTEMS", "PHILIPS": "Philips",
                           "TOSHIBA": "TOSHIBA", "AGFA": "Agfa", "HOLOGIC": "HOLOGIC, Inc."}[s.vendor], False, "structural")  # fmt: skip
    d.put("InstitutionName", site.institution, True, "institution/annex-e")
    if rng.random() < 0.7:
        d.put("InstitutionAddress", site.address, True, "institution/annex-e")
    d.put("ReferringPhysicianName", s.referring[0], s.referring[1], s.referring[2])
    if s.referring[1] and rng.random() < 0.35:
        d.put("ReferringPhysicianAddress", f"Cabinet médical, {site.address}" if site.region == "FR" else site.address,
              True, "address/annex-e")  # fmt: skip
        number = phone(rng, site.region)
        number = number if len(number) <= 16 else number.replace(" ", "")  # SH: 16 characters
        d.put("ReferringPhysicianTelephoneNumbers", number, True, "phone/annex-e")
    station = f"{modality}{rng.randrange(1, 9)}_{site.issuer}"[:16]
    d.put("StationName", s.serials.setdefault(modality + "station", station), True, "device/annex-e")
    d.put("StudyDescription", s.procedure[1][:64], False, "decoy")
    d.put("SeriesDescription", series_desc, *series_desc_ident)
    d.put("InstitutionalDepartmentName", site.department, True, "institution/annex-e")
    _operators(doc, rng, s)
    if rng.random() < 0.3:
        d.put("PhysiciansOfRecord", [s.doctor.pn(), s.other_doctor.pn()], True, "name/annex-e")
    if rng.random() < 0.3:
        d.put("NameOfPhysiciansReadingStudy", s.other_doctor.pn(), True, "name/annex-e")
    d.put("ManufacturerModelName", rng.choice(_MODELS[s.vendor]), False, "structural")
    # Patient module
    d.put("PatientName", p.name.pn(), True, "name/annex-e")
    d.put("PatientID", p.pid, True, "id/annex-e")
    d.put("IssuerOfPatientID", site.issuer, True, "institution/annex-e")
    d.put("PatientBirthDate", s.birth_value[0], s.birth_value[1], s.birth_value[2])
    d.put("PatientSex", p.sex, False, "structural")
    if p.other_ids:
        items = doc.seq("OtherPatientIDsSequence", len(p.other_ids))
        for (item, prefix), (oid, issuer, kind) in zip(items, p.other_ids, strict=True):
            d.put("PatientID", oid, True, "id/annex-e", item, prefix)
            d.put("IssuerOfPatientID", issuer, True, "institution/annex-e", item, prefix)
            d.put("TypeOfPatientID", kind, False, "structural", item, prefix)
    d.put("PatientAge", s.age[0], s.age[1], s.age[2])
    if rng.random() < 0.6:
        d.put("PatientSize", f"{rng.uniform(1.5, 1.95):.2f}", False, "structural")
        d.put("PatientWeight", str(rng.randrange(45, 120)), False, "structural")
    # Study / series identification
    d.put("StudyInstanceUID", s.uid, True, "uid/annex-e")
    series = s.serials.setdefault(f"series{series_no}", _uid(rng, s.root))
    d.put("SeriesInstanceUID", series, True, "uid/annex-e")
    d.put("StudyID", s.study_id, True, "id/annex-e")
    d.put("SeriesNumber", str(series_no), False, "structural")
    d.put("InstanceNumber", str(rng.randrange(1, 400)), False, "structural")
    return series, sop


def _operators(doc: _Doc, rng: random.Random, s: Study) -> None:
    roll = rng.random()
    if roll < 0.3:
        roles = s.site.roles + ("TECH", "RESIDENT")
        s.n += 1
        doc.put("OperatorsName", roles[s.n % len(roles)], False, "role")
    elif roll < 0.5:
        initials = rng.choice(("JD", "AK", "ML", "SB", "TW", "CF", "HV", "KL"))  # never a role word (MD, RN...)
        doc.put("OperatorsName", initials, True, "name-initials/annex-e")
    elif roll < 0.9:
        doc.put("OperatorsName", _person_name(s.site, rng).pn(), True, "name/annex-e")


def _equipment(doc: _Doc, rng: random.Random, s: Study, modality: str) -> None:
    serial = s.serials.setdefault(modality + "serial", str(rng.randrange(10000, 999999)))
    doc.put("DeviceSerialNumber", serial, True, "device/annex-e")
    doc.put(
        "SoftwareVersions", rng.choice(("syngo CT VA50A", "VB20A", "5.1.2", "R11.2.1", "V10.8")), False, "structural"
    )
    if rng.random() < 0.4:
        cal = s.day - timedelta(days=rng.randrange(1, 60))
        doc.put("DateOfLastCalibration", _da(cal), True, "date/annex-e")
        doc.put("TimeOfLastCalibration", _tm(rng), True, "time/annex-e")


def _place_texts(doc: _Doc, rng: random.Random, s: Study, slots: list[tuple[str, Dataset | None, str, int]],
                 n: int) -> None:  # fmt: skip
    """Put up to ``n`` of the study's phrases into free-text slots (keyword, item, prefix, max length)."""
    free = list(slots)
    rng.shuffle(free)
    pool = list(s.texts)
    rng.shuffle(pool)
    for text in pool[:n]:
        fits = [x for x in free if len(text.text) <= x[3]]
        if not fits:
            continue
        keyword, item, prefix, _ = fits[0]
        free.remove(fits[0])
        doc.put(keyword, text.text, text.ident, text.why, item, prefix)


def _image_slots(doc: _Doc) -> list[tuple[str, Dataset | None, str, int]]:
    return [
        ("PatientComments", None, "", 10240),
        ("AdditionalPatientHistory", None, "", 10240),
        ("ImageComments", None, "", 10240),
        ("StudyComments", None, "", 10240),
        ("CommentsOnThePerformedProcedureStep", None, "", 1024),
        ("ReasonForStudy", None, "", 64),
    ]


def _request(doc: _Doc, rng: random.Random, s: Study) -> list[tuple[str, Dataset | None, str, int]]:
    """Request Attributes Sequence, Referenced PPS, performed procedure step: returns free-text slots inside."""
    ((item, prefix),) = doc.seq("RequestAttributesSequence")
    doc.put("RequestedProcedureID", s.requested_id, True, "id/annex-e", item, prefix)
    doc.put("ScheduledProcedureStepID", s.sps_id, True, "id/annex-e", item, prefix)
    doc.put("ScheduledProcedureStepDescription", s.procedure[1][:64], False, "decoy", item, prefix)
    doc.put("RequestedProcedureDescription", s.procedure[1][:64], False, "decoy", item, prefix)
    if rng.random() < 0.5:
        doc.put("AccessionNumber", s.accession, True, "id/annex-e", item, prefix)
        doc.put("StudyInstanceUID", s.uid, True, "uid/annex-e", item, prefix)
    if rng.random() < 0.4 and s.referring[1]:
        doc.put("RequestingPhysician", s.doctor.pn(), True, "name/annex-e", item, prefix)
    code_items = doc.seq("ScheduledProtocolCodeSequence", 1, item, prefix)
    for c, cp in code_items:
        doc.put("CodeValue", s.procedure[0], False, "structural", c, cp)
        doc.put("CodingSchemeDesignator", "99" + s.site.issuer[:6], False, "structural", c, cp)
        doc.put("CodeMeaning", s.procedure[1][:64], False, "structural", c, cp)
    ((pc, pcp),) = doc.seq("ProcedureCodeSequence")
    doc.put("CodeValue", s.procedure[0], False, "structural", pc, pcp)
    doc.put("CodingSchemeDesignator", "99" + s.site.issuer[:6], False, "structural", pc, pcp)
    doc.put("CodeMeaning", s.procedure[1][:64], False, "structural", pc, pcp)
    doc.put("PerformedProcedureStepID", s.sps_id.replace("SPS", "PPS"), True, "id/annex-e")
    doc.put("PerformedProcedureStepStartDate", _da(s.day), True, "date/annex-e")
    doc.put("PerformedProcedureStepStartTime", s.time, True, "time/annex-e")
    doc.put("PerformedProcedureStepDescription", s.procedure[1][:64], False, "decoy")
    if rng.random() < 0.5:
        ((pps, ppsp),) = doc.seq("ReferencedPerformedProcedureStepSequence")
        doc.put("ReferencedSOPClassUID", "1.2.840.10008.3.1.2.3.3", False, "structural", pps, ppsp)
        doc.put("ReferencedSOPInstanceUID", _uid(rng, s.root), True, "uid/annex-e", pps, ppsp)
    if rng.random() < 0.3:
        doc.put("PlacerOrderNumberImagingServiceRequest", f"ORD{_digits(rng, 8)}", True, "id/annex-e")
    return [("ReasonForTheRequestedProcedure", item, prefix, 64)]


def _pixels(doc: _Doc, rng: random.Random, rows: int = 16, rgb: bool = False) -> None:
    ds = doc.ds
    ds.Rows = ds.Columns = rows
    if rgb:
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = bytes(rng.randrange(256) for _ in range(rows * rows * 3))
    else:
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = bytes(rng.randrange(256) for _ in range(rows * rows * 2))


# --------------------------------------------------------------------------
# Vendors' private blocks (real creators, invented contents)
# --------------------------------------------------------------------------


def _csa_blob(rng: random.Random, entries: tuple[tuple[str, str, str], ...]) -> bytes:
    """A Siemens CSA2 header (``SV10``): fixed-size names and values padded with NULs -- binary, not text."""
    out = bytearray(b"SV10\x04\x03\x02\x01" + struct.pack("<II", len(entries), 77))
    for name, vr, value in entries:
        out += name.encode().ljust(64, b"\0") + struct.pack("<i", 1) + vr.encode().ljust(4, b"\0")
        out += struct.pack("<iii", rng.randrange(1, 9), 1, 77)
        item = value.encode() + b"\0"
        out += struct.pack("<iiii", len(item), 77, len(item), len(item)) + item.ljust((len(item) + 3) // 4 * 4, b"\0")
    return bytes(out)


def _private_blocks(doc: _Doc, rng: random.Random, s: Study, modality: str, series_desc: tuple[str, bool, str]) -> None:
    p = s.patient
    if s.vendor == "SIEMENS":
        if modality == "CT":
            doc.private(0x0019, "SIEMENS CT VA0  COAD", 0x52, "DS", "36.0", False, "private-number")
            doc.private(0x0019, "SIEMENS CT VA0  COAD", 0xB0, "DS", "55.2", False, "private-number")
        if modality == "MR":
            doc.private(0x0019, "SIEMENS MR HEADER", 0x0F, "SH", "Normal", False, "decoy")
            doc.private(0x0051, "SIEMENS MR HEADER", 0x0B, "SH", "256p*256", False, "decoy")
            doc.private(0x0051, "SIEMENS MR HEADER", 0x0F, "LO", "HEA;HEP", False, "decoy")
            doc.private(0x0051, "SIEMENS MR HEADER", 0x11, "LO", "p2", False, "decoy")
        doc.private(0x0029, "SIEMENS CSA HEADER", 0x08, "CS", "IMAGE NUM 4", False, "structural")
        # CSA header versions are written as yyyymmdd: a software stamp, not a date of anybody's care.
        doc.private(0x0029, "SIEMENS CSA HEADER", 0x09, "LO", "20100114", False, "judgment:private-creator-date")
        blob = _csa_blob(rng, (("EchoLinePosition", "IS", "128"), ("ImaCoilString", "LO", "HE1-4"),
                               ("SliceMeasurementDuration", "DS", "182500.0"), ("ProtocolSliceNumber", "IS", "12")))  # fmt: skip
        doc.private(0x0029, "SIEMENS CSA HEADER", 0x10, "OB", blob, False, "private-binary")
        doc.private(0x0029, "SIEMENS MEDCOM HEADER2", 0x60, "LO", "com", False, "decoy")
    elif s.vendor == "GE" and modality == "PT":
        doc.private(0x0009, "GEMS_PETD_01", 0x02, "LO", p.pid, True, "private-copy:id")
        doc.private(0x0009, "GEMS_PETD_01", 0x05, "DT", f"{_da(s.day - timedelta(days=rng.randrange(0, 900)))}101500",
                    True, "private-copy:date")  # fmt: skip
        doc.private(0x0009, "GEMS_PETD_01", 0x0D, "DT", f"{_da(s.day)}{s.time[:6]}", True, "private-copy:date")
        doc.private(0x0009, "GEMS_PETD_01", 0x10, "LO", s.site.institution[:64], True, "private-copy:institution")
        doc.private(0x0009, "GEMS_PETD_01", 0x36, "LO", "FDG -- fluorodeoxyglucose", False, "decoy")
        doc.private(0x0009, "GEMS_PETD_01", 0x3B, "DT", f"{_da(s.day)}091200", True, "private-copy:date")
    elif s.vendor == "GE" and modality == "NM":
        doc.private(0x0009, "GEMS_GENIE_1", 0x10, "LO", "WB Bone", False, "decoy")
        doc.private(0x0009, "GEMS_GENIE_1", 0x40, "PN", p.name.pn(), True, "private-copy:name")
        doc.private(0x0009, "GEMS_GENIE_1", 0x42, "DA", _da(s.day - timedelta(days=rng.randrange(0, 900))), True,
                    "private-copy:date")  # fmt: skip
        doc.private(0x0011, "GEMS_GENIE_1", 0x0D, "LO", "Tc99m", False, "decoy")
        doc.private(0x0011, "GEMS_GENIE_1", 0x10, "LO", "WB ANT", False, "decoy")
    elif s.vendor == "GE":
        doc.private(0x0009, "GEMS_IDEN_01", 0x01, "LO", "GE_GENESIS_FF", False, "decoy")
        doc.private(
            0x0009, "GEMS_IDEN_01", 0x04, "SH", "CT_LIGHTSPEED" if modality == "CT" else "SIGNA", False, "decoy"
        )
        doc.private(0x0009, "GEMS_IDEN_01", 0x17, "LT", series_desc[0], series_desc[1], series_desc[2])
        doc.private(0x0009, "GEMS_IDEN_01", 0x27, "SL", rng.randrange(10**9, 2 * 10**9), False, "private-number")
        doc.private(0x0019, "GEMS_ACQU_01", 0x18, "LO", "I", False, "decoy")
        doc.private(0x0019, "GEMS_ACQU_01", 0x23, "DS", "39.37", False, "private-number")
        doc.private(0x0043, "GEMS_PARM_01", 0x27, "SH", "/1.375:1", False, "decoy")
    elif s.vendor == "PHILIPS" and modality == "CT":
        doc.private(0x00E1, "ELSCINT1", 0x40, "SH", "AX 3mm", False, "decoy")
        doc.private(0x00E1, "ELSCINT1", 0x61, "LO", "Chest_Routine.prt", False, "decoy")
        doc.private(0x00E1, "ELSCINT1", 0x63, "SH", "ENGLISH", False, "decoy")
        if rng.random() < 0.5:
            doc.private(0x00E1, "ELSCINT1", 0x65, "LO", _da(s.day - timedelta(days=rng.randrange(0, 30))), True,
                        "private-copy:date")  # fmt: skip
            doc.private(0x00E1, "ELSCINT1", 0x42, "LO", p.name.pn()[:64], True, "private-copy:name")
        doc.private(0x01F1, "ELSCINT1", 0x01, "CS", "SPIRAL", False, "structural")
        doc.private(0x01F1, "ELSCINT1", 0x27, "DS", "0.4", False, "private-number")
    elif s.vendor == "PHILIPS":
        doc.private(0x2001, "Philips Imaging DD 001", 0x03, "FL", 0.0, False, "private-number")
        doc.private(0x2001, "Philips Imaging DD 001", 0x0B, "CS", "TRANSVERSAL", False, "structural")
        doc.private(0x2001, "Philips Imaging DD 001", 0x20, "LO", "TSE", False, "decoy")
        doc.private(0x2005, "Philips MR Imaging DD 001", 0x0F, "DS", "400", False, "private-number")
    elif s.vendor == "TOSHIBA":
        doc.private(0x0019, "TOSHIBA_MEC_1.0", 0x01, "US", [1, 0, 3], False, "private-number")
        doc.private(0x7005, "TOSHIBA_MEC_CT3", 0x11, "LT", "Vol. 0.5mm FC08 AIDR3D", False, "decoy")
        if rng.random() < 0.5:
            doc.private(0x7005, "TOSHIBA_MEC_CT3", 0x24, "DA", _da(s.day), True, "private-copy:date")
    elif s.vendor == "AGFA":
        doc.private(0x0019, "AGFA", 0x13, "LO", "ThoraxPA", False, "decoy")
        doc.private(0x0019, "AGFA", 0x62, "SH", f"IDST{rng.randrange(1, 9)}_{s.site.issuer}"[:16], True,
                    "judgment:private-copy")  # fmt: skip
    # What the PACS adds on export: its own request/exam numbers, the global patient ID.
    if rng.random() < 0.25:
        doc.private(0x0009, "SECTRA_Ident_01", 0x01, "LO", f"REQ{_digits(rng, 8)}", True, "private-creator:id")
        doc.private(
            0x0009, "SECTRA_Ident_01", 0x02, "LO", s.accession or f"EX{_digits(rng, 7)}", True, "private-creator:id"
        )
    elif rng.random() < 0.2:
        doc.private(0x0031, "MITRA LINKED ATTRIBUTES 1.0", 0x20, "LO", f"{s.site.issuer}:{p.pid}", True,
                    "private-creator:id")  # fmt: skip


# --------------------------------------------------------------------------
# IODs
# --------------------------------------------------------------------------

_PROTOCOLS = {
    "CT": ("Thorax^01_ThoraxRoutine (Adult)", "Abdomen^Leber_3Phasen", "5.1 CHEST/ABD/PELVIS", "Chest HR",
           "TAP injecte", "Kopf^Routine", "PE_CTA", "Low Dose Lung"),
    "MR": ("t2_tse_tra", "Head^Routine", "AX FLAIR", "DWI b1000", "sT1W_3D_TFE", "Knie^Standard"),
}  # fmt: skip
_SERIES = {
    "CT": ("Thorax 1.0 Br40", "ABD/PEL 5mm", "AXIAL 1.25 STND", "Topogram 0.6 T20s", "Sag MPR 3mm", "Arterial 1mm"),
    "MR": ("t2_tse_tra_p2", "AX FLAIR", "DWI_b1000", "sag T1 SE", "ADC", "cor T2 STIR"),
}


def _image_common(doc: _Doc, rng: random.Random, s: Study, modality: str) -> None:
    doc.put("FrameOfReferenceUID", s.serials.setdefault("for", _uid(rng, s.root)), True, "uid/annex-e")
    doc.put("AcquisitionDate", _da(s.day), True, "date/annex-e")
    doc.put("AcquisitionTime", _tm(rng), True, "time/annex-e")
    doc.put("AcquisitionNumber", str(rng.randrange(1, 5)), False, "structural")
    doc.put("BurnedInAnnotation", "NO", False, "structural")


def _ct(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(CTImageStorage, s.site.charset_value)
    desc = (rng.choice(_SERIES["CT"]), False, "decoy")
    _header(doc, rng, s, "CT", rng.randrange(2, 8), desc[0])
    _equipment(doc, rng, s, "CT")
    slots = _image_slots(doc) + _request(doc, rng, s)
    doc.put("ProtocolName", rng.choice(_PROTOCOLS["CT"]), False, "decoy")
    doc.put("BodyPartExamined", rng.choice(("CHEST", "ABDOMEN", "HEAD")), False, "structural")
    doc.put("ImageType", ["ORIGINAL", "PRIMARY", "AXIAL"], False, "structural")
    doc.put("KVP", rng.choice(("100", "120")), False, "structural")
    doc.put("SliceThickness", rng.choice(("1", "1.25", "5")), False, "structural")
    doc.put("ConvolutionKernel", rng.choice(("Br40", "STANDARD", "FC08", "B")), False, "structural")
    _image_common(doc, rng, s, "CT")
    ((ri, rp),) = doc.seq("ReferencedImageSequence")
    doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", ri, rp)
    doc.put("ReferencedSOPInstanceUID", _uid(rng, s.root), True, "uid/annex-e", ri, rp)
    _private_blocks(doc, rng, s, "CT", desc)
    _place_texts(doc, rng, s, slots, rng.randrange(1, 4))
    if rng.random() < 0.3:
        _pixels(doc, rng)
    return doc


def _mr(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(MRImageStorage, s.site.charset_value)
    desc = (rng.choice(_SERIES["MR"]), False, "decoy")
    _header(doc, rng, s, "MR", rng.randrange(2, 12), desc[0])
    _equipment(doc, rng, s, "MR")
    slots = _image_slots(doc) + _request(doc, rng, s)
    doc.put("ProtocolName", rng.choice(_PROTOCOLS["MR"]), False, "decoy")
    doc.put("ImageType", ["ORIGINAL", "PRIMARY", "M", "ND"], False, "structural")
    doc.put("ScanningSequence", "SE", False, "structural")
    doc.put("MagneticFieldStrength", rng.choice(("1.5", "3")), False, "structural")
    doc.put("EchoTime", "98", False, "structural")
    doc.put("RepetitionTime", "4000", False, "structural")
    doc.put("SequenceName", "*tse2d1_15", False, "structural")
    doc.put("ReceiveCoilName", rng.choice(("HeadNeck_20", "Body 18", "8HRBRAIN")), False, "structural")
    _image_common(doc, rng, s, "MR")
    _private_blocks(doc, rng, s, "MR", desc)
    _place_texts(doc, rng, s, slots, rng.randrange(1, 4))
    return doc


def _cr_dx(rng: random.Random, s: Study) -> _Doc:
    dx = rng.random() < 0.5
    doc = _Doc(DigitalXRayImageStorageForPresentation if dx else ComputedRadiographyImageStorage, s.site.charset_value)
    _header(
        doc, rng, s, "DX" if dx else "CR", 1, _local(rng, s, ("Thorax pa", "CHEST PA", "Knie re. 2 Eb.", "BASSIN FACE"))
    )
    _equipment(doc, rng, s, "DX" if dx else "CR")
    slots = _image_slots(doc) + _request(doc, rng, s)
    slots.append(("AcquisitionDeviceProcessingDescription", None, "", 64))
    doc.put("BodyPartExamined", rng.choice(("CHEST", "KNEE", "PELVIS")), False, "structural")
    doc.put("ViewPosition", rng.choice(("PA", "AP", "LL")), False, "structural")
    if dx:
        doc.put("ImageType", ["ORIGINAL", "PRIMARY"], False, "structural")
        doc.put("PresentationIntentType", "FOR PRESENTATION", False, "structural")
        doc.put("DetectorID", f"DET{_digits(rng, 6)}", True, "device/annex-e")
        doc.put("ExposureIndex", str(rng.randrange(200, 800)), False, "structural")
    else:
        doc.put("PlateID", f"{_digits(rng, 8)}", True, "device/annex-e")
    doc.put("KVP", "125", False, "structural")
    _image_common(doc, rng, s, "CR")
    _private_blocks(doc, rng, s, "CR", ("", False, "decoy"))
    _place_texts(doc, rng, s, slots, rng.randrange(0, 3))
    _pixels(doc, rng)
    return doc


def _us(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(UltrasoundImageStorage, s.site.charset_value)
    _header(doc, rng, s, "US", 1, _local(rng, s, ("Abdomen", "Echographie abdominale", "Schilddrüse", "")))
    _equipment(doc, rng, s, "US")
    slots = _image_slots(doc)
    doc.ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    doc.put("TransducerData", rng.choice(("C5-1", "L12-5", "9L-D")), False, "structural")
    doc.put("ProcessingFunction", "Abdomen", False, "structural")
    burned = rng.random() < 0.75  # the operator's screen, patient banner included
    doc.put("BurnedInAnnotation", "YES" if burned else "NO", burned, "judgment:burned-in" if burned else "structural")
    ((region, rp),) = doc.seq("SequenceOfUltrasoundRegions")
    for kw, v in (("RegionSpatialFormat", 1), ("RegionDataType", 1), ("RegionFlags", 0), ("RegionLocationMinX0", 0),
                  ("RegionLocationMinY0", 0), ("RegionLocationMaxX1", 15), ("RegionLocationMaxY1", 15),
                  ("PhysicalUnitsXDirection", 3), ("PhysicalUnitsYDirection", 3), ("PhysicalDeltaX", 0.02),
                  ("PhysicalDeltaY", 0.02)):  # fmt: skip
        doc.put(kw, v, False, "structural", region, rp)
    _private_blocks(doc, rng, s, "US", ("", False, "decoy"))
    _place_texts(doc, rng, s, slots, rng.randrange(0, 3))
    _pixels(doc, rng, rgb=True)
    return doc


def _mg(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(DigitalMammographyXRayImageStorageForPresentation, s.site.charset_value)
    side, view = rng.choice("LR"), rng.choice(("CC", "MLO"))
    _header(doc, rng, s, "MG", 1, f"{side} {view}")
    _equipment(doc, rng, s, "MG")
    slots = _image_slots(doc) + _request(doc, rng, s)
    doc.put("BodyPartExamined", "BREAST", False, "structural")
    doc.put("ImageLaterality", side, False, "structural")
    doc.put("ViewPosition", view, False, "structural")
    doc.put("ImageType", ["ORIGINAL", "PRIMARY"], False, "structural")
    doc.put("PresentationIntentType", "FOR PRESENTATION", False, "structural")
    doc.put("DetectorID", f"SN{_digits(rng, 6)}", True, "device/annex-e")
    doc.put("CompressionForce", str(rng.randrange(60, 140)), False, "structural")
    doc.put("OrganDose", "1.42", False, "structural")
    doc.put("BreastImplantPresent", "NO", False, "structural")
    doc.put("AcquisitionDeviceProcessingDescription", f"{side} {view}", False, "decoy")
    _image_common(doc, rng, s, "MG")
    _private_blocks(doc, rng, s, "MG", ("", False, "decoy"))
    _place_texts(doc, rng, s, slots, rng.randrange(0, 3))
    return doc


def _radiopharmaceutical(doc: _Doc, rng: random.Random, s: Study, name: str, nuclide: tuple[str, str]) -> None:
    ((rp, rpp),) = doc.seq("RadiopharmaceuticalInformationSequence")
    doc.put("Radiopharmaceutical", name, False, "structural", rp, rpp)
    doc.put("RadiopharmaceuticalStartTime", "091200.000", True, "time/annex-e", rp, rpp)
    doc.put("RadiopharmaceuticalStartDateTime", f"{_da(s.day)}091200", True, "date/annex-e", rp, rpp)
    doc.put("RadionuclideTotalDose", str(rng.randrange(150, 400) * 1_000_000), False, "structural", rp, rpp)
    doc.put("RadionuclideHalfLife", "6586.2", False, "structural", rp, rpp)
    ((nc, ncp),) = doc.seq("RadionuclideCodeSequence", 1, rp, rpp)
    doc.put("CodeValue", nuclide[0], False, "structural", nc, ncp)
    doc.put("CodingSchemeDesignator", "SRT", False, "structural", nc, ncp)
    doc.put("CodeMeaning", nuclide[1], False, "structural", nc, ncp)


def _pt(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(PositronEmissionTomographyImageStorage, s.site.charset_value)
    desc = ("PET WB AC", False, "decoy")
    _header(doc, rng, s, "PT", 3, desc[0])
    _equipment(doc, rng, s, "PT")
    slots = _image_slots(doc) + _request(doc, rng, s)
    doc.put("ImageType", ["ORIGINAL", "PRIMARY"], False, "structural")
    doc.put("SeriesType", ["WHOLE BODY", "IMAGE"], False, "structural")
    doc.put("Units", "BQML", False, "structural")
    doc.put("DecayCorrection", "START", False, "structural")
    doc.put("CorrectedImage", ["DECY", "ATTN", "SCAT"], False, "structural")
    _radiopharmaceutical(doc, rng, s, "Fluorodeoxyglucose", ("C-111A1", "^18^Fluorine"))
    _image_common(doc, rng, s, "PT")
    _private_blocks(doc, rng, s, "PT", desc)
    _place_texts(doc, rng, s, slots, rng.randrange(1, 3))
    return doc


def _nm(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(NuclearMedicineImageStorage, s.site.charset_value)
    desc = ("WB Bone ANT/POST", False, "decoy")
    _header(doc, rng, s, "NM", 1, desc[0])
    _equipment(doc, rng, s, "NM")
    slots = _image_slots(doc) + _request(doc, rng, s)
    doc.put("ImageType", ["ORIGINAL", "PRIMARY", "WHOLE BODY", "EMISSION"], False, "structural")
    doc.put("NumberOfFrames", "1", False, "structural")
    ((ew, ewp),) = doc.seq("EnergyWindowInformationSequence")
    doc.put("EnergyWindowName", "Tc99m", False, "structural", ew, ewp)
    _radiopharmaceutical(doc, rng, s, "Tc-99m MDP", ("C-163A8", "^99m^Technetium"))
    _image_common(doc, rng, s, "NM")
    if s.vendor == "SIEMENS":
        doc.private(0x0041, "SIEMENS MED NM", 0x30, "DA", _da(s.day), True, "private-copy:date")
        doc.private(
            0x0041, "SIEMENS MED NM", 0x40, "LO", _person_name(s.site, rng).pn()[:64], True, "private-copy:name"
        )
        doc.private(0x0033, "SIEMENS MED NM", 0x30, "LO", "WB_Bone_Tc99m", False, "decoy")
    else:
        _private_blocks(doc, rng, s, "NM", desc)
    _place_texts(doc, rng, s, slots, rng.randrange(1, 3))
    return doc


# -- structured reports, key objects, presentation states -----------------------------


def _code(doc: _Doc, item: Dataset, prefix: str, keyword: str, value: str, scheme: str, meaning: str) -> None:
    ((c, cp),) = doc.seq(keyword, 1, item, prefix)
    doc.put("CodeValue", value, False, "structural", c, cp)
    doc.put("CodingSchemeDesignator", scheme, False, "structural", c, cp)
    doc.put("CodeMeaning", meaning, False, "structural", c, cp)


def _content(doc: _Doc, parent: Dataset, prefix: str, n: int) -> list[tuple[Dataset, str]]:
    return doc.seq("ContentSequence", n, parent, prefix)


def _evidence(doc: _Doc, rng: random.Random, s: Study, images: list[str], keyword: str) -> None:
    ((ev, evp),) = doc.seq(keyword)
    doc.put("StudyInstanceUID", s.uid, True, "uid/annex-e", ev, evp)
    ((se, sep),) = doc.seq("ReferencedSeriesSequence", 1, ev, evp)
    doc.put("SeriesInstanceUID", s.serials.setdefault("series2", _uid(rng, s.root)), True, "uid/annex-e", se, sep)
    for it, itp in doc.seq("ReferencedSOPSequence", len(images), se, sep):
        doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", it, itp)
        doc.put("ReferencedSOPInstanceUID", images.pop(), True, "uid/annex-e", it, itp)


def _sr_text(s: Study, rng: random.Random) -> tuple[str, bool, str]:
    """A report paragraph: clinical sentences, one of which may identify somebody."""
    decoys = [t for t in s.texts if not t.ident]
    idents = [t for t in s.texts if t.ident]
    parts = [rng.choice(decoys).text]
    ident, why = False, "decoy"
    if rng.random() < 0.6:
        t = rng.choice(idents)
        parts.append(t.text)
        ident, why = True, t.why
    parts.append(rng.choice(decoys).text)
    return " ".join(t if t[-1:] in ".!?。" else t + "." for t in parts), ident, why


def _sr(rng: random.Random, s: Study) -> _Doc:
    kind = rng.choice((BasicTextSRStorage, EnhancedSRStorage, ComprehensiveSRStorage))
    doc = _Doc(kind, s.site.charset_value)
    _header(doc, rng, s, "SR", 999, _local(rng, s, ("Compte rendu", "Befund", "Radiology Report", "Informe")))
    doc.put("CompletionFlag", "COMPLETE", False, "structural")
    verified = rng.random() < 0.8
    doc.put("VerificationFlag", "VERIFIED" if verified else "UNVERIFIED", False, "structural")
    if verified:
        ((vo, vop),) = doc.seq("VerifyingObserverSequence")
        doc.put("VerifyingObserverName", s.other_doctor.pn(), True, "name/annex-e", vo, vop)
        doc.put("VerifyingOrganization", s.site.institution[:64], True, "institution/annex-e", vo, vop)
        doc.put("VerificationDateTime", f"{_da(s.day)}{_tm(rng)}", True, "date/annex-e", vo, vop)
        ((vc, vcp),) = doc.seq("VerifyingObserverIdentificationCodeSequence", 1, vo, vop)
        doc.put("CodeValue", f"{_digits(rng, 6)}", True, "person-code:id", vc, vcp)
        doc.put("CodingSchemeDesignator", "99" + s.site.issuer[:6], False, "structural", vc, vcp)
        doc.put("CodeMeaning", f"{s.other_doctor.family} {s.other_doctor.given}", True, "person-code:name", vc, vcp)
    ((rq, rqp),) = doc.seq("ReferencedRequestSequence")
    doc.put("StudyInstanceUID", s.uid, True, "uid/annex-e", rq, rqp)
    doc.put("AccessionNumber", s.accession, True, "id/annex-e", rq, rqp)
    doc.put("RequestedProcedureID", s.requested_id, True, "id/annex-e", rq, rqp)
    doc.put("PlacerOrderNumberImagingServiceRequest", f"ORD{_digits(rng, 8)}", True, "id/annex-e", rq, rqp)
    doc.put("FillerOrderNumberImagingServiceRequest", f"F{_digits(rng, 9)}", True, "id/annex-e", rq, rqp)
    doc.put("RequestedProcedureDescription", s.procedure[1][:64], False, "decoy", rq, rqp)
    _code(doc, rq, rqp, "RequestedProcedureCodeSequence", s.procedure[0], "99" + s.site.issuer[:6], s.procedure[1][:64])
    _code(doc, doc.ds, "", "PerformedProcedureCodeSequence", s.procedure[0], "99" + s.site.issuer[:6],
          s.procedure[1][:64])  # fmt: skip
    _evidence(doc, rng, s, [_uid(rng, s.root) for _ in range(2)], "CurrentRequestedProcedureEvidenceSequence")
    if kind != BasicTextSRStorage:
        ((t, tp),) = doc.seq("ContentTemplateSequence")
        doc.put("MappingResource", "DCMR", False, "structural", t, tp)
        doc.put("TemplateIdentifier", "2000", False, "structural", t, tp)
    doc.put("ValueType", "CONTAINER", False, "structural")
    doc.put("ContinuityOfContent", "SEPARATE", False, "structural")
    _code(doc, doc.ds, "", "ConceptNameCodeSequence", "18748-4", "LN", "Diagnostic Imaging Report")
    n = 7 if kind == BasicTextSRStorage else 9
    items = _content(doc, doc.ds, "", n)
    (i0, p0), (i1, p1), (i2, p2), (i3, p3), (i4, p4), (i5, p5), (i6, p6) = items[:7]
    for it, _ in items:
        it.RelationshipType = "CONTAINS"
    i0.RelationshipType = i1.RelationshipType = i2.RelationshipType = "HAS OBS CONTEXT"
    doc.put("ValueType", "CODE", False, "structural", i0, p0)
    _code(doc, i0, p0, "ConceptNameCodeSequence", "121005", "DCM", "Observer Type")
    _code(doc, i0, p0, "ConceptCodeSequence", "121006", "DCM", "Person")
    doc.put("ValueType", "PNAME", False, "structural", i1, p1)
    _code(doc, i1, p1, "ConceptNameCodeSequence", "121008", "DCM", "Person Observer Name")
    doc.put("PersonName", s.doctor.pn(), True, "name/sr.pname", i1, p1)
    doc.put("ValueType", "TEXT", False, "structural", i2, p2)
    _code(doc, i2, p2, "ConceptNameCodeSequence", "121009", "DCM", "Person Observer's Organization Name")
    doc.put("TextValue", s.site.institution, True, "judgment:sr-organization", i2, p2)
    doc.put("ValueType", "TEXT", False, "structural", i3, p3)
    _code(doc, i3, p3, "ConceptNameCodeSequence", "121060", "DCM", "History")
    history = rng.choice(s.texts)
    doc.put("TextValue", history.text, history.ident, history.why, i3, p3)
    doc.put("ValueType", "CONTAINER", False, "structural", i4, p4)
    doc.put("ContinuityOfContent", "SEPARATE", False, "structural", i4, p4)
    _code(doc, i4, p4, "ConceptNameCodeSequence", "121070", "DCM", "Findings")
    ((f0, fp0),) = _content(doc, i4, p4, 1)
    f0.RelationshipType = "CONTAINS"
    doc.put("ValueType", "TEXT", False, "structural", f0, fp0)
    _code(doc, f0, fp0, "ConceptNameCodeSequence", "121071", "DCM", "Finding")
    text, ident, why = _sr_text(s, rng)
    doc.put("TextValue", text, ident, why, f0, fp0)
    doc.put("ValueType", "TEXT", False, "structural", i5, p5)
    _code(doc, i5, p5, "ConceptNameCodeSequence", "121072", "DCM", "Impression")
    text, ident, why = _sr_text(s, rng)
    doc.put("TextValue", text, ident, why, i5, p5)
    doc.put("ValueType", "DATE", False, "structural", i6, p6)
    _code(doc, i6, p6, "ConceptNameCodeSequence", "CMP-DATE", "99" + s.site.issuer[:6], "Date of comparison study")
    doc.put("Date", _da(s.prior), True, "judgment:sr-date-no-concept", i6, p6)
    if kind != BasicTextSRStorage:
        (i7, p7), (i8, p8) = items[7:]
        doc.put("ValueType", "NUM", False, "structural", i7, p7)
        _code(doc, i7, p7, "ConceptNameCodeSequence", "410668003", "SCT", "Length")
        ((mv, mvp),) = doc.seq("MeasuredValueSequence", 1, i7, p7)
        doc.put("NumericValue", str(rng.randrange(4, 40)), False, "structural", mv, mvp)
        _code(doc, mv, mvp, "MeasurementUnitsCodeSequence", "mm", "UCUM", "millimeter")
        doc.put("ValueType", "IMAGE", False, "structural", i8, p8)
        ((rs, rsp),) = doc.seq("ReferencedSOPSequence", 1, i8, p8)
        doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", rs, rsp)
        doc.put("ReferencedSOPInstanceUID", _uid(rng, s.root), True, "uid/annex-e", rs, rsp)
        if kind == ComprehensiveSRStorage:
            doc.put("ObservationDateTime", f"{_da(s.day)}{_tm(rng)}", True, "date/annex-e", i7, p7)
    return doc


def _kos(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(KeyObjectSelectionDocumentStorage, s.site.charset_value)
    _header(doc, rng, s, "KO", 998, _local(rng, s, ("Key images", "Images clés", "Schlüsselbilder")))
    doc.ds.ReferencedPerformedProcedureStepSequence = Sequence([])
    images = [_uid(rng, s.root) for _ in range(3)]
    _evidence(doc, rng, s, list(images), "CurrentRequestedProcedureEvidenceSequence")
    doc.put("ValueType", "CONTAINER", False, "structural")
    doc.put("ContinuityOfContent", "SEPARATE", False, "structural")
    _code(doc, doc.ds, "", "ConceptNameCodeSequence", "113000", "DCM", "Of Interest")
    ((t, tp),) = doc.seq("ContentTemplateSequence")
    doc.put("MappingResource", "DCMR", False, "structural", t, tp)
    doc.put("TemplateIdentifier", "2010", False, "structural", t, tp)
    items = _content(doc, doc.ds, "", 3)
    (d0, dp0) = items[0]
    d0.RelationshipType = "CONTAINS"
    doc.put("ValueType", "TEXT", False, "structural", d0, dp0)
    _code(doc, d0, dp0, "ConceptNameCodeSequence", "113012", "DCM", "Key Object Description")
    if rng.random() < 0.5:
        note = rng.choice([t for t in s.texts if t.ident and len(t.text) <= 120])
        doc.put("TextValue", note.text, True, note.why, d0, dp0)
    else:
        doc.put("TextValue", rng.choice(("Pour RCP", "Tumorboard", "Teaching file", "MDT")), False, "decoy", d0, dp0)
    for it, itp in items[1:]:
        it.RelationshipType = "CONTAINS"
        doc.put("ValueType", "IMAGE", False, "structural", it, itp)
        ((rs, rsp),) = doc.seq("ReferencedSOPSequence", 1, it, itp)
        doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", rs, rsp)
        doc.put("ReferencedSOPInstanceUID", images.pop(), True, "uid/annex-e", rs, rsp)
    return doc


def _pr(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(GrayscaleSoftcopyPresentationStateStorage, s.site.charset_value)
    _header(doc, rng, s, "PR", 997, "Presentation State")
    doc.put("ContentLabel", "ANNOTATIONS", False, "structural")
    if rng.random() < 0.3:
        note = rng.choice([t for t in s.texts if len(t.text) <= 64])
        doc.put("ContentDescription", note.text, note.ident, note.why)
    else:
        doc.put("ContentDescription", "Mesures", False, "decoy")
    doc.put("PresentationCreationDate", _da(s.day), True, "date/annex-e")
    doc.put("PresentationCreationTime", _tm(rng), True, "time/annex-e")
    if rng.random() < 0.7:
        doc.put("ContentCreatorName", s.other_doctor.pn(), True, "name/annex-e")
    else:
        doc.put("ContentCreatorName", "RESIDENT", False, "role")
    ((rs, rsp),) = doc.seq("ReferencedSeriesSequence")
    doc.put("SeriesInstanceUID", s.serials.setdefault("series2", _uid(rng, s.root)), True, "uid/annex-e", rs, rsp)
    ((ri, rip),) = doc.seq("ReferencedImageSequence", 1, rs, rsp)
    doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", ri, rip)
    doc.put("ReferencedSOPInstanceUID", _uid(rng, s.root), True, "uid/annex-e", ri, rip)
    ((gl, glp),) = doc.seq("GraphicLayerSequence")
    doc.put("GraphicLayer", "LAYER0", False, "structural", gl, glp)
    doc.put("GraphicLayerOrder", 1, False, "structural", gl, glp)
    ((ga, gap),) = doc.seq("GraphicAnnotationSequence")
    doc.put("GraphicLayer", "LAYER0", False, "structural", ga, gap)
    ((to, top),) = doc.seq("TextObjectSequence", 1, ga, gap)
    doc.put("AnchorPointAnnotationUnits", "PIXEL", False, "structural", to, top)
    doc.put("AnchorPoint", [100.0, 120.0], False, "structural", to, top)
    doc.put("AnchorPointVisibility", "Y", False, "structural", to, top)
    if rng.random() < 0.3:
        doc.put("UnformattedTextValue", f"vu avec {s.other_doctor.family}" if s.site.region == "FR"
                else f"d/w {s.other_doctor.family}", True, "name-cue", to, top)  # fmt: skip
    else:
        doc.put("UnformattedTextValue", f"{rng.randrange(4, 40)} mm", False, "decoy", to, top)
    doc.put("PresentationLUTShape", "IDENTITY", False, "structural")
    return doc


def _sc(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(SecondaryCaptureImageStorage, s.site.charset_value)
    _header(
        doc, rng, s, "OT", 990, _local(rng, s, ("Demande d'examen scannée", "Anforderungsschein", "Scanned request"))
    )
    slots = _image_slots(doc)
    doc.put("ConversionType", "SD", False, "structural")
    doc.put("DateOfSecondaryCapture", _da(s.day), True, "date/annex-e")
    doc.put("TimeOfSecondaryCapture", _tm(rng), True, "time/annex-e")
    doc.put("SecondaryCaptureDeviceID", f"SCAN-{s.site.issuer}-{rng.randrange(1, 9)}", True, "device/annex-e")
    doc.put("SecondaryCaptureDeviceManufacturer", "Fujitsu", False, "structural")
    doc.put("SecondaryCaptureDeviceManufacturerModelName", "fi-7160", False, "structural")
    # The requisition form, patient label and signature included, is in the pixels.
    doc.put("BurnedInAnnotation", "YES", True, "judgment:burned-in")
    _place_texts(doc, rng, s, slots, rng.randrange(0, 2))
    _pixels(doc, rng, rgb=True)
    return doc


def _rtstruct(rng: random.Random, s: Study) -> _Doc:
    doc = _Doc(RTStructureSetStorage, s.site.charset_value)
    _header(doc, rng, s, "RTSTRUCT", 996, "RTSTRUCT")
    doc.put("StructureSetLabel", rng.choice(("RTSTRUCT", "Thorax_V1", "CT_1")), False, "decoy")
    doc.put("StructureSetName", rng.choice(("Contours", "Plan 1", "")), False, "decoy")
    doc.put("StructureSetDate", _da(s.day), True, "date/annex-e")
    doc.put("StructureSetTime", _tm(rng), True, "time/annex-e")
    for_uid = s.serials.setdefault("for", _uid(rng, s.root))
    contour_images = [_uid(rng, s.root) for _ in range(2)]
    ((rf, rfp),) = doc.seq("ReferencedFrameOfReferenceSequence")
    doc.put("FrameOfReferenceUID", for_uid, True, "uid/annex-e", rf, rfp)
    ((rst, rstp),) = doc.seq("RTReferencedStudySequence", 1, rf, rfp)
    doc.put("ReferencedSOPClassUID", "1.2.840.10008.3.1.2.3.1", False, "structural", rst, rstp)
    doc.put("ReferencedSOPInstanceUID", s.uid, True, "uid/annex-e", rst, rstp)
    ((rse, rsep),) = doc.seq("RTReferencedSeriesSequence", 1, rst, rstp)
    doc.put("SeriesInstanceUID", s.serials.setdefault("series2", _uid(rng, s.root)), True, "uid/annex-e", rse, rsep)
    for (it, itp), image in zip(doc.seq("ContourImageSequence", 2, rse, rsep), contour_images, strict=True):
        doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", it, itp)
        doc.put("ReferencedSOPInstanceUID", image, True, "uid/annex-e", it, itp)
    rois = ("GTV", "PTV_60Gy", "Lung_L", "SpinalCord")
    for i, (roi, rp) in enumerate(doc.seq("StructureSetROISequence", len(rois))):
        doc.put("ROINumber", i + 1, False, "structural", roi, rp)
        doc.put("ReferencedFrameOfReferenceUID", for_uid, True, "uid/annex-e", roi, rp)
        doc.put("ROIName", rois[i], False, "decoy", roi, rp)
        doc.put("ROIGenerationAlgorithm", "MANUAL", False, "structural", roi, rp)
    for i, (rc, rcp) in enumerate(doc.seq("ROIContourSequence", len(rois))):
        doc.put("ROIDisplayColor", [255, 0, 0], False, "structural", rc, rcp)
        doc.put("ReferencedROINumber", i + 1, False, "structural", rc, rcp)
        ((c, cp),) = doc.seq("ContourSequence", 1, rc, rcp)
        doc.put("ContourGeometricType", "CLOSED_PLANAR", False, "structural", c, cp)
        doc.put("NumberOfContourPoints", 3, False, "structural", c, cp)
        doc.put("ContourData", [0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 10.0, 0.0], False, "structural", c, cp)
        ((ci, cip),) = doc.seq("ContourImageSequence", 1, c, cp)
        doc.put("ReferencedSOPClassUID", CTImageStorage, False, "structural", ci, cip)
        doc.put("ReferencedSOPInstanceUID", contour_images[0], True, "uid/annex-e", ci, cip)
    interpreter = s.doctor.pn() if rng.random() < 0.6 else ""
    for i, (ob, obp) in enumerate(doc.seq("RTROIObservationsSequence", len(rois))):
        doc.put("ObservationNumber", i + 1, False, "structural", ob, obp)
        doc.put("ReferencedROINumber", i + 1, False, "structural", ob, obp)
        doc.put("RTROIInterpretedType", "PTV" if i == 1 else "ORGAN", False, "structural", ob, obp)
        doc.put("ROIInterpreter", interpreter, True, "name/annex-e", ob, obp)
    doc.put("ApprovalStatus", "APPROVED", False, "structural")
    doc.put("ReviewDate", _da(s.day), True, "date/annex-e")
    doc.put("ReviewTime", _tm(rng), True, "time/annex-e")
    doc.put("ReviewerName", s.other_doctor.pn(), True, "name/annex-e")
    return doc


_STUDY_KINDS: tuple[tuple[str, tuple[Callable[[random.Random, Study], _Doc], ...], tuple[str, ...], float], ...] = (
    ("CT", (_ct, _ct, _sr, _kos, _pr), ("SIEMENS", "GE", "PHILIPS", "TOSHIBA"), 0.30),
    ("MR", (_mr, _mr, _sr), ("SIEMENS", "GE", "PHILIPS"), 0.18),
    ("CR", (_cr_dx, _sr), ("AGFA", "PHILIPS", "SIEMENS"), 0.12),
    ("US", (_us, _us, _sr), ("GE", "PHILIPS", "TOSHIBA"), 0.09),
    ("MG", (_mg, _mg, _kos), ("HOLOGIC", "SIEMENS", "GE"), 0.07),
    ("PT", (_pt, _ct, _sr), ("GE", "SIEMENS"), 0.07),
    ("NM", (_nm, _sr), ("GE", "SIEMENS"), 0.06),
    ("RT", (_ct, _rtstruct), ("SIEMENS", "PHILIPS"), 0.06),
    ("SC", (_sc,), ("SIEMENS", "GE"), 0.05),
)  # fmt: skip


# -- research exports: de-identified with pseudonyms ------------------------------------


def _deid(rng: random.Random, s: Study, mode: str, n: int) -> _Doc:
    """A file as a de-identifier writes it (PS3.15 E.1.1): pseudonym, replaced UIDs, declaration.

    ``mode``: ``modified`` (dates shifted, Modified Dates option), ``full-dates`` (dates kept under a
    data use agreement: still identifying), ``leaky`` (declared, but the comments still name the patient).
    """
    doc = _Doc(rng.choice((CTImageStorage, MRImageStorage)), s.site.charset_value)
    shift = timedelta(days=-rng.randrange(30, 700)) if mode == "modified" else timedelta(0)
    day = s.day + shift
    dated = mode != "modified"
    pseudo = rng.choice((f"LUNGSCREEN-{n:04d}", f"ONCO^{n:04d}", f"Anonymized{n}", f"SUBJ^{n:03d}"))
    pid = rng.choice((f"LUNGSCREEN-{n:04d}", f"ONCO{n:04d}", f"{_digits(rng, 3)}-{n:04d}"))
    d = doc
    d.put("SOPClassUID", doc.sop_class, False, "structural")
    uid_label = (mode == "leaky", "uid/annex-e" if mode == "leaky" else "uid/replaced")
    d.put("SOPInstanceUID", _uid(rng, "2.25."[:0] + "1.2.826.0.1.3680043.8.498."), *uid_label)
    d.put("StudyDate", _da(day), dated, "date/annex-e" if dated else "date/shifted")
    d.put("SeriesDate", _da(day), dated, "date/annex-e" if dated else "date/shifted")
    d.put("StudyTime", "101500", dated, "time/annex-e" if dated else "time/shifted")
    d.put("Modality", "CT" if doc.sop_class == CTImageStorage else "MR", False, "structural")
    d.put("Manufacturer", "SIEMENS", False, "structural")
    d.put("ReferringPhysicianName", "", False, "empty")
    d.put("StudyDescription", s.procedure[1][:64], False, "decoy")
    d.put("SeriesDescription", rng.choice(_SERIES["CT"]), False, "decoy")
    d.put("PatientName", pseudo, False, "pseudonym")
    d.put("PatientID", pid, False, "pseudonym")
    d.put("PatientBirthDate", "", False, "empty")
    d.put("PatientSex", s.patient.sex, False, "structural")
    d.put("PatientAge", s.age[0], s.age[1], s.age[2])
    d.put("PatientIdentityRemoved", "YES", mode == "leaky", "declaration" if mode == "leaky" else "structural")
    d.put("DeidentificationMethod", rng.choice(("CTP Default: based on DICOM PS3.15 AnnexE", "Basic Profile")),
          False, "decoy")  # fmt: skip
    ((c, cp),) = doc.seq("DeidentificationMethodCodeSequence", 2)[:1]
    codes = (("113100", "Basic Application Confidentiality Profile"),
             ("113107", "Retain Longitudinal Temporal Information Modified Dates Option") if mode == "modified"
             else ("113106", "Retain Longitudinal Temporal Information Full Dates Option"))  # fmt: skip
    for (item, prefix), (value, meaning) in zip(
        [
            (it, f"DeidentificationMethodCodeSequence[{i}].")
            for i, it in enumerate(doc.ds.DeidentificationMethodCodeSequence)
        ],
        codes,
        strict=True,
    ):
        doc.put("CodeValue", value, False, "structural", item, prefix)
        doc.put("CodingSchemeDesignator", "DCM", False, "structural", item, prefix)
        doc.put("CodeMeaning", meaning, False, "structural", item, prefix)
    d.put("LongitudinalTemporalInformationModified", "MODIFIED" if mode == "modified" else "UNMODIFIED", False,
          "structural")  # fmt: skip
    d.put("StudyInstanceUID", _uid(rng, "1.2.826.0.1.3680043.8.498."), *uid_label)
    d.put("SeriesInstanceUID", _uid(rng, "1.2.826.0.1.3680043.8.498."), *uid_label)
    d.put("FrameOfReferenceUID", _uid(rng, "1.2.826.0.1.3680043.8.498."), *uid_label)
    d.put("SeriesNumber", "2", False, "structural")
    d.put("InstanceNumber", str(rng.randrange(1, 200)), False, "structural")
    d.put("ImageType", ["DERIVED", "SECONDARY", "AXIAL"], False, "structural")
    d.put("BurnedInAnnotation", "NO", False, "structural")
    d.put("SliceThickness", "1.25", False, "structural")
    # CTP stamps the contributing site in its private block.
    doc.private(0x0013, "CTP", 0x12, "LO", f"SITE-{s.site.issuer}", True, "private-creator:institution")
    if mode == "leaky":
        d.put("PatientComments", f"{s.patient.name.family} - {s.patient.pid}", True, "own-name")
    return doc


# --------------------------------------------------------------------------
# Broken files, as exports produce them
# --------------------------------------------------------------------------


def _truncate_in_value(data: bytes, value: bytes) -> bytes:
    """The file cut in the middle of ``value`` (an interrupted transfer)."""
    at = data.index(value)
    return data[: at + len(value) // 2]


def _bad_item_length(data: bytes) -> bytes:
    """The first item of Request Attributes Sequence given a length that runs past its sequence."""
    tag = struct.pack("<HH", 0x0040, 0x0275) + b"SQ\0\0"
    at = data.index(tag)
    item = data.index(struct.pack("<HH", 0xFFFE, 0xE000), at)
    return data[: item + 4] + struct.pack("<I", 0x00FFFF00) + data[item + 8 :]


def _meta_only(data: bytes) -> bytes:
    """The preamble, prefix and file meta group, then nothing (the export stopped after the header)."""
    group_length = struct.unpack("<I", data[140:144])[0]
    return data[: 144 + group_length]


_HTML = (b"<!DOCTYPE html><html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway "
         b"Time-out</h1><p>The PACS web viewer did not answer in time.</p></body></html>\n")  # fmt: skip
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------


def _labels(key: HospitalKey, rel: str, doc: _Doc, site: str) -> None:
    key.labels += [Label(rel, path, ident, why, site) for path, (ident, why) in sorted(doc.labels.items())]
    key.files.append(rel)


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


#: What a media directory's records hold that identifies (PS3.3 F.5; Annex E treatment).
_RECORD_IDENT = frozenset(
    {"PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime", "StudyInstanceUID", "StudyID",
     "AccessionNumber", "SeriesInstanceUID", "ReferencedSOPInstanceUIDInFile", "InstitutionName", "ContentDate",
     "ContentTime", "SeriesDate", "SeriesTime", "ReferringPhysicianName", "InstanceCreationDate",
     "InstanceCreationTime"}
)  # fmt: skip


def _media(root: Path, folder: str, rng: random.Random, site: Site, key: HospitalKey, *, missing: bool) -> None:
    """A CD/DVD export: DICOMDIR + DICOM/ files (PS3.10); with ``missing``, part of the files never arrived."""
    fs = FileSet()
    study = _new_study(rng, site, "SIEMENS")
    docs: dict[str, _Doc] = {}
    for build in (_ct, _ct, _mr):
        doc = build(rng, study)
        doc.finish()  # completes the labels; the file set writes the file itself
        fs.add(doc.ds)
        docs[doc.ds.SOPInstanceUID] = doc
    target = root / folder
    fs.write(target)
    dicomdir = target / "DICOMDIR"
    written = sorted(fs, key=lambda i: i.path)
    gone: list[str] = []
    for n, instance in enumerate(written):
        rel = Path(instance.path).relative_to(root).as_posix()
        if missing and n > 0:
            Path(instance.path).unlink()
            gone.append(rel)
            continue
        doc = docs[instance.SOPInstanceUID]
        written_ds = dcmread(instance.path)
        doc._complete(written_ds.file_meta)  # pydicom's own meta elements
        _labels(key, rel, doc, site.code)
    record_labels = _dicomdir_labels(dicomdir, docs)
    rel_dir = dicomdir.relative_to(root).as_posix()
    key.labels += [Label(rel_dir, path, ident, why, site.code) for path, (ident, why) in record_labels]
    key.files.append(rel_dir)
    if missing:
        key.malformed.append(Malformed(rel_dir, "DICOMDIR referencing files that are missing", tuple(gone)))


def _dicomdir_labels(dicomdir: Path, docs: dict[str, _Doc]) -> list[tuple[str, tuple[bool, str]]]:
    ds = dcmread(dicomdir)
    out: list[tuple[str, tuple[bool, str]]] = []
    any_doc = next(iter(docs.values()))
    for path, keyword, _vr in _paths(ds.file_meta):
        out.append((path, (True, "uid/annex-e") if keyword == "MediaStorageSOPInstanceUID" else (False, "structural")))
    for path, keyword, vr in _paths(ds):
        if keyword in _RECORD_IDENT:
            out.append((path, (True, f"dicomdir:{keyword}")))
        elif keyword in ("StudyDescription", "SeriesDescription"):
            out.append((path, any_doc.labels.get(keyword, (False, "decoy"))))
        elif keyword in _STRUCTURAL or vr in _QUIET_VRS or vr == "CS":
            out.append((path, (False, "structural")))
        else:
            raise AssertionError(f"unlabelled DICOMDIR element {path} ({vr})")
    return out


def generate_hospital_corpus(out_dir: str | os.PathLike[str], *, n_files: int = 300, seed: int = 14) -> HospitalKey:
    """Write the corpus to ``out_dir`` (about ``n_files`` files) and return (and save) its labels.

    About 3% of the files are broken (:attr:`HospitalKey.malformed`); two CD exports with a DICOMDIR, one of
    them with files missing; about 6% of the studies come from research exports (de-identified).
    Same seed, same files and labels.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    key = HospitalKey()
    n_broken = max(8, n_files * 3 // 100)
    n_media = 2 * 4
    n_regular = n_files - n_broken - n_media
    weights = [k[3] for k in _STUDY_KINDS]
    written = 0
    study_no = 0
    deid_no = 0
    while written < n_regular:
        site = SITES[study_no % len(SITES)]
        study_no += 1
        kind = rng.choices(_STUDY_KINDS, weights)[0]
        study = _new_study(rng, site, rng.choice(kind[2]), study_no)
        if rng.random() < 0.06:
            deid_no += 1
            mode = ("modified", "full-dates", "leaky")[deid_no % 3]
            for k in range(rng.randrange(1, 4)):
                doc = _deid(rng, study, mode, 100 + deid_no)
                rel = f"research_export/{mode}/{deid_no:03d}_{k}.dcm"
                _write(root, rel, doc.finish())
                _labels(key, rel, doc, site.code)
                written += 1
            continue
        for k, build in enumerate(kind[1]):
            doc = build(rng, study)
            if rng.random() < 0.15 and doc.sop_class not in (BasicTextSRStorage, EnhancedSRStorage,
                                                               ComprehensiveSRStorage):  # fmt: skip
                doc.implicit = True  # older modalities still send Implicit VR Little Endian
            meta = {"SourceApplicationEntityTitle": f"PACS_{site.issuer}"[:16]} if rng.random() < 0.5 else None
            rel = f"{site.code}/{kind[0]}_{study_no:04d}/{k:02d}_{doc.ds.Modality}.dcm"
            _write(root, rel, doc.finish(meta))
            _labels(key, rel, doc, site.code)
            written += 1
    _media(root, "cd_export_fr", rng, SITES[0], key, missing=False)
    _media(root, "cd_export_de_incomplete", rng, SITES[1], key, missing=True)
    _broken(root, rng, key)
    (root / LABELS_NAME).write_text(json.dumps(key.to_json(), indent=0, ensure_ascii=False), encoding="utf-8")
    return key


def _broken(root: Path, rng: random.Random, key: HospitalKey) -> None:
    site = SITES[7]
    study = _new_study(rng, site, "GE")
    doc = _ct(rng, study)
    doc.ds.ImageComments = "Patient moved during the scan, series repeated with a breath-hold command"
    doc.labels["ImageComments"] = (False, "decoy")
    header = doc.finish()
    pixels_doc = _ct(rng, study)
    if "PixelData" not in pixels_doc.ds:
        _pixels(pixels_doc, rng, rows=64)
    with_pixels = pixels_doc.finish()
    cases = {
        "broken/transfer_interrupted.dcm": (_truncate_in_value(header, b"breath-hold"), "cut inside ImageComments"),
        "broken/pixels_cut.dcm": (
            with_pixels[: len(with_pixels) - len(pixels_doc.ds.PixelData) // 2],
            "cut inside Pixel Data",
        ),
        "broken/empty.dcm": (b"", "zero-length file"),
        "broken/preallocated.dcm": (b"\0" * 4096, "zero-filled, never written"),
        "broken/bad_item_length.dcm": (_bad_item_length(header), "sequence item longer than its sequence"),
        "broken/viewer_error.dcm": (_HTML, "judgment:non-dicom-dcm HTML error page named .dcm"),
        "broken/screenshot.dcm": (_JPEG, "judgment:non-dicom-dcm JPEG named .dcm"),
        "broken/header_only.dcm": (_meta_only(header), "file meta, then nothing"),
    }
    for rel, (data, what) in cases.items():
        _write(root, rel, data)
        key.malformed.append(Malformed(rel, what))


def main(argv: list[str] | None = None) -> int:
    """Write the corpus to ``argv[0]``, analyse it, print the report."""
    from dicomaudit.phi import analyze_paths

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "hospital_corpus")
    key = generate_hospital_corpus(out, n_files=int(args[1]) if len(args) > 1 else 300)
    result = analyze_paths([out])
    print(report(measure(result, key, out), out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
