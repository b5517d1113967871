"""A labelled, synthetic corpus for measuring the PHI analyzer.

Every value is invented here (seeded :class:`random.Random`); nothing comes
from a real patient.  The generator writes DICOM files covering the places
identifying data hides -- standard elements, nested sequences, structured
reports, free text, private tags (explicit LO, implicit UN, OB text, private
sequences), character sets (ISO_IR 100/144/126/192, ISO 2022 IR 87, missing
and misspelt), declarations, DICOMDIRs -- plus decoys that must *not* be
reported (clinical descriptions, sex and age, placeholders, properly
de-identified files), malformed files that must land in ``errors`` and
files that are plainly not DICOM (text, JSON, an image) that a folder walk
counts as skipped.

The answer key is written by the generator from what it put in each file,
never by running the analyzer: ``identifying`` is the set of
``(file, element path)`` pairs that are identifying, ``decoys`` pairs that
are present but not identifying, ``malformed`` the files that cannot be
analysed, ``not_dicom`` the files that are no DICOM at all (skipped).  :func:`score` compares an :class:`AnalysisResult` with the key.

Usage::

    key = generate_corpus(tmp_path / "corpus", n_files=120, seed=7)
    result = analyze_paths([tmp_path / "corpus"])
    s = score(result, key, tmp_path / "corpus")
    assert s.recall == s.precision == 1.0
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence
from pydicom.uid import (
    ComprehensiveSRStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

KEY_NAME = ".answer_key.json"  # a dotfile: folder walks skip it

# --------------------------------------------------------------------------
# Invented people and clinical vocabulary
# --------------------------------------------------------------------------

FAMILY = (
    "Miller", "Okafor", "Lindqvist", "Garcia", "Nakamura", "Kowalski", "Haddad", "Brennan",
    "Fischer", "Moreau", "Novak", "Castillo", "Abernathy", "Whitfield", "Delacroix", "Oyelaran",
    "Petrov", "Sandoval", "Thornton", "Vasquez", "Ashworth", "Quintero", "Halvorsen", "Mbeki",
)  # fmt: skip
GIVEN = (
    "Anna", "Jonas", "Priya", "Mateo", "Grace", "Tobias", "Leila", "Owen", "Sofia", "Elias",
    "Hannah", "Ravi", "Clara", "Felix", "Ines", "Marcus", "Yara", "Henrik",
)  # fmt: skip
STREETS = ("Elm", "Maple", "Harbor View", "Old Mill", "Chestnut", "Willow Creek", "Beacon")
SUFFIXES = ("Street", "Avenue", "Road", "Lane", "Drive", "St", "Ave")

#: Clinical text that must never be reported (the precision list).
DECOY_TEXT = (
    "CT CHEST W/O CONTRAST", "AXIAL 5MM", "MRI BRAIN W/WO CONTRAST", "CHEST PA/LAT",
    "ABD/PELVIS 3.0 B30f", "T2 FLAIR AX", "LOCALIZER", "SAG T1 3MM", "CTA HEAD NECK",
    "KNEE RT 3 VIEWS", "Dose Report", "PET/CT WHOLE BODY", "US ABDOMEN COMPLETE",
    "Patient tolerated procedure well", "No acute abnormality.", "Follow-up in 6 months",
    "Contrast 80 ml Omnipaque 350", "1.25 mm 120 kVp 250 mAs", "Series 3 of 5",
    "DLP 412.5 mGy*cm", "Compared with prior exam", "LEFT WRIST 2 VIEWS",
    "W/L 400/40", "BP 120/80 HR 72", "DR CHEST PA", "MR BRAIN W/O", "PATIENT MOVED, REPEAT",
    "Slice 1.25/2.5 mm", "Performed by technologist", "Software 3.10.22",
)  # fmt: skip

FREE_TEXT_ELEMENTS = (
    "StudyDescription", "SeriesDescription", "ProtocolName", "ImageComments", "PatientComments",
    "AdditionalPatientHistory", "StudyComments", "DerivationDescription", "RequestedProcedureDescription",
    "PerformedProcedureStepDescription", "ReasonForStudy",
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """An invented patient."""

    family: str
    given: str
    pid: str
    birth: date
    phone: str
    email: str
    ssn: str
    address: str

    @property
    def pn(self) -> str:
        return f"{self.family}^{self.given}"


def _person(rng: random.Random) -> Person:
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 80 * 365))
    return Person(
        family=family,
        given=given,
        pid=f"{rng.choice(('MRN', 'H', 'P'))}{rng.randrange(1_000_000, 9_999_999)}",
        birth=birth,
        phone=rng.choice(
            (
                f"617-555-01{rng.randrange(10, 99)}",
                f"+44 20 7946 0{rng.randrange(100, 999)}",
                f"(312) 555-01{rng.randrange(10, 99)}",
            )
        ),
        email=f"{given.lower()}.{family.lower()}@example.org",
        ssn=f"{rng.randrange(100, 665)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        address=f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}",
    )


def _da(d: date) -> str:
    return d.strftime("%Y%m%d")


_DATE_FORMATS = ("%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d", "%d %b %Y", "%B %d, %Y", "%Y%m%d")


def _identifying_text(rng: random.Random, p: Person, other: Person, study: date) -> str:
    """Free text that carries an identifier (one of many shapes)."""
    fmt = rng.choice(_DATE_FORMATS)
    choices: list[Callable[[], str]] = [
        lambda: f"{p.family} chest protocol",
        lambda: f"{p.family.upper()} CHEST",
        lambda: f"Pt {p.given} {p.family} transferred from ward",
        lambda: f"MRN {p.pid}",
        lambda: f"ref {p.pid}",
        lambda: f"DOB {p.birth.strftime(fmt)}",
        lambda: f"Call {p.phone} with results",
        lambda: f"Contact {p.email}",
        lambda: f"SSN {p.ssn} on file",
        lambda: f"Lives at {p.address}",
        lambda: f"Discussed with Dr. {other.family}",
        lambda: f"Prior scan {study.strftime(fmt)}",
        lambda: f"Acc# A-{rng.randrange(10000, 99999)}",
        lambda: f"Reviewed by {other.given[0]}. {other.family}",
        lambda: f"Callback 555-01{rng.randrange(10, 99)}",
        lambda: f"Prior exam {study.month}/{study.day}/{study.year % 100:02d}",
        lambda: f"Patient: {other.given} {other.family}",
    ]
    return rng.choice(choices)()


# --------------------------------------------------------------------------
# Answer key
# --------------------------------------------------------------------------


@dataclass
class AnswerKey:
    """What the corpus holds; paths relative to the corpus root, ``/``-separated."""

    identifying: set[tuple[str, str]] = field(default_factory=set)
    decoys: set[tuple[str, str]] = field(default_factory=set)
    malformed: set[str] = field(default_factory=set)
    clean: set[str] = field(default_factory=set)  # files with nothing identifying
    not_dicom: set[str] = field(default_factory=set)  # text, JSON, images: skipped in a folder

    def to_json(self) -> dict[str, Any]:
        return {
            "identifying": sorted(map(list, self.identifying)),
            "decoys": sorted(map(list, self.decoys)),
            "malformed": sorted(self.malformed),
            "clean": sorted(self.clean),
            "not_dicom": sorted(self.not_dicom),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AnswerKey:
        return cls(
            identifying={tuple(x) for x in d["identifying"]},  # type: ignore[misc]
            decoys={tuple(x) for x in d["decoys"]},  # type: ignore[misc]
            malformed=set(d["malformed"]),
            clean=set(d["clean"]),
            not_dicom=set(d.get("not_dicom", ())),
        )

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> AnswerKey:
        return cls.from_json(json.loads(Path(root, KEY_NAME).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Score:
    """Recall and precision of findings against an :class:`AnswerKey`."""

    recall: float
    precision: float
    missed: tuple[tuple[str, str], ...]
    spurious: tuple[tuple[str, str], ...]
    decoys_reported: tuple[tuple[str, str], ...]
    malformed_not_reported: tuple[str, ...]
    unexpected_errors: tuple[str, ...]
    not_dicom_not_skipped: tuple[str, ...] = ()
    unexpected_skips: tuple[str, ...] = ()

    @property
    def perfect(self) -> bool:
        return (
            self.recall == 1.0
            and self.precision == 1.0
            and not self.malformed_not_reported
            and not self.unexpected_errors
            and not self.not_dicom_not_skipped
            and not self.unexpected_skips
        )


def score(result: Any, key: AnswerKey, root: str | os.PathLike[str]) -> Score:
    """Compare an :class:`~dicomaudit.phi.AnalysisResult` with the key.

    Every finding counts: one whose ``(file, path)`` is not in
    ``key.identifying`` is a false positive, decoy or not.
    """
    root = os.fspath(root)

    def rel(source: str) -> str:
        return os.path.relpath(source, root).replace(os.sep, "/")

    found = {(rel(f.source), f.path) for f in result.findings}
    hit = found & key.identifying
    errored = {rel(e.source) for e in result.errors}
    skipped = {rel(source) for source in getattr(result, "skipped", ())}
    return Score(
        recall=len(hit) / len(key.identifying) if key.identifying else 1.0,
        precision=len(hit) / len(found) if found else 1.0,
        missed=tuple(sorted(key.identifying - found)),
        spurious=tuple(sorted(found - key.identifying)),
        decoys_reported=tuple(sorted(found & key.decoys)),
        malformed_not_reported=tuple(sorted(key.malformed - errored)),
        unexpected_errors=tuple(sorted(errored - key.malformed)),
        not_dicom_not_skipped=tuple(sorted(key.not_dicom - skipped)),
        unexpected_skips=tuple(sorted(skipped - key.not_dicom)),
    )


# --------------------------------------------------------------------------
# Building labelled data sets
# --------------------------------------------------------------------------


class _Doc:
    """A data set under construction and the labels of what went into it."""

    def __init__(self, sop_class: str = CTImageStorage) -> None:
        self.ds = Dataset()
        self.ident: set[str] = set()
        self.decoy: set[str] = set()
        self.sop_class = sop_class
        self.implicit = False

    def put(self, keyword: str, value: Any, ident: bool, into: Dataset | None = None, prefix: str = "") -> None:
        setattr(self.ds if into is None else into, keyword, value)
        if value not in ("", None, []):
            (self.ident if ident else self.decoy).add(prefix + keyword)

    def private(
        self, group: int, creator: str, offset: int, vr: str, value: Any, ident: bool,
        into: Dataset | None = None, prefix: str = "",
    ) -> str:  # fmt: skip
        target = self.ds if into is None else into
        block = target.private_block(group, creator, create=True)
        block.add_new(offset, vr, value)
        tag = block.get_tag(offset)
        path = f"{prefix}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if vr != "SQ":
            (self.ident if ident else self.decoy).add(path)
        return path

    def label(self, path: str, ident: bool) -> None:
        (self.ident if ident else self.decoy).add(path)


def _uid() -> str:
    return generate_uid()


def _base(doc: _Doc, rng: random.Random, p: Person, study: date, *, image: bool = True) -> None:
    """A typical header: patient, study, series, equipment, with labels."""
    ds = doc.ds
    ds.SpecificCharacterSet = "ISO_IR 100"
    doc.put("SOPClassUID", doc.sop_class, False)
    doc.put("SOPInstanceUID", _uid(), True)
    doc.put("StudyDate", _da(study), True)
    doc.put("SeriesDate", _da(study), True)
    doc.put("ContentDate", _da(study), True)
    doc.put("StudyTime", f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}", True)
    doc.put("SeriesTime", f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}05", True)
    doc.put("AccessionNumber", f"A{rng.randrange(100000, 999999)}", True)
    doc.put("Modality", "SR" if doc.sop_class == ComprehensiveSRStorage else "CT", False)
    doc.put("Manufacturer", "ACME Medical", False)
    doc.put("InstitutionName", rng.choice(("St Mary Hospital", "Northgate Clinic", "Riverside Imaging")), True)
    doc.put("ReferringPhysicianName", f"{rng.choice(FAMILY)}^{rng.choice(GIVEN)}", True)
    doc.put("StationName", f"CT{rng.randrange(10, 99)}", True)
    doc.put("StudyDescription", rng.choice(DECOY_TEXT), False)
    doc.put("SeriesDescription", rng.choice(DECOY_TEXT), False)
    doc.put("ManufacturerModelName", "Imager 9000", False)
    doc.put("PatientName", p.pn, True)
    doc.put("PatientID", p.pid, True)
    doc.put("PatientBirthDate", _da(p.birth), True)
    doc.put("PatientSex", rng.choice("MFO"), False)
    age = (study - p.birth).days // 365
    doc.put("PatientAge", f"{age:03d}Y", age >= 90)  # HIPAA Safe Harbor: ages over 89 identify
    doc.put("PatientWeight", "72.5", False)
    doc.put("BodyPartExamined", "CHEST", False)
    doc.put("StudyInstanceUID", _uid(), True)
    doc.put("SeriesInstanceUID", _uid(), True)
    doc.put("StudyID", f"S{rng.randrange(10000, 99999)}", True)
    doc.put("SeriesNumber", str(rng.randrange(1, 9)), False)
    doc.put("InstanceNumber", str(rng.randrange(1, 300)), False)
    if image:
        doc.put("ProtocolName", rng.choice(DECOY_TEXT), False)
        doc.put("DeviceSerialNumber", f"SN{rng.randrange(10000, 99999)}", True)
        doc.put("SoftwareVersions", "VE11C", False)
        doc.put("SliceThickness", "1.25", False)
        doc.put("KVP", "120", False)
        doc.put("ImageType", ["ORIGINAL", "PRIMARY", "AXIAL"], False)
        doc.put("FrameOfReferenceUID", _uid(), True)
        doc.put("BurnedInAnnotation", "NO", False)
        if rng.random() < 0.3:  # some files carry pixels: stop_before_pixels must skip them
            ds.Rows = ds.Columns = 16
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.PixelData = bytes(rng.randrange(256) for _ in range(16 * 16 * 2))


# -- scenarios -------------------------------------------------------------


def _plain(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)


def _anonymous_decoy(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    doc.ident.discard("PatientName")
    doc.put("PatientName", rng.choice(("ANONYMOUS", "ANONYMOUS^", "Anonymized")), False)
    doc.ident.discard("ReferringPhysicianName")
    doc.put("ReferringPhysicianName", "", False)
    doc.put("OperatorsName", "ANONYMOUS", False)


def _free_text(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    elements = list(FREE_TEXT_ELEMENTS)
    rng.shuffle(elements)
    for i, keyword in enumerate(elements[:7]):
        ident = i < 4
        text = _identifying_text(rng, p, o, study) if ident else rng.choice(DECOY_TEXT)
        for label in (doc.ident, doc.decoy):
            label.discard(keyword)
        doc.put(keyword, text, ident)


def _nested(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    ra = Dataset()
    doc.put("RequestedProcedureID", f"RP{rng.randrange(10000, 99999)}", True, ra, "RequestAttributesSequence[0].")
    doc.put("ScheduledProcedureStepID", f"SPS{rng.randrange(1000, 9999)}", True, ra, "RequestAttributesSequence[0].")
    doc.put("RequestingPhysician", o.pn, True, ra, "RequestAttributesSequence[0].")
    doc.put("AccessionNumber", f"A{rng.randrange(100000, 999999)}", True, ra, "RequestAttributesSequence[0].")
    doc.put("RequestedProcedureDescription", rng.choice(DECOY_TEXT), False, ra, "RequestAttributesSequence[0].")
    doc.ds.RequestAttributesSequence = Sequence([ra])

    rp = Dataset()
    rp.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.1"
    doc.put("ReferencedSOPInstanceUID", _uid(), True, rp, "ReferencedPatientSequence[0].")
    doc.ds.ReferencedPatientSequence = Sequence([rp])

    other = Dataset()
    doc.put("PatientID", f"X{rng.randrange(100000, 999999)}", True, other, "OtherPatientIDsSequence[0].")
    doc.put("IssuerOfPatientID", "Northgate MPI", True, other, "OtherPatientIDsSequence[0].")
    doc.ds.OtherPatientIDsSequence = Sequence([other])

    oa, mod = Dataset(), Dataset()
    prefix = "OriginalAttributesSequence[0]."
    doc.put("PatientName", f"{p.family}^{rng.choice(GIVEN)}", True, mod, prefix + "ModifiedAttributesSequence[0].")
    doc.put("PatientID", f"OLD{rng.randrange(10000, 99999)}", True, mod, prefix + "ModifiedAttributesSequence[0].")
    oa.ModifiedAttributesSequence = Sequence([mod])
    doc.put("AttributeModificationDateTime", _da(study) + "101500", True, oa, prefix)
    doc.put("ModifyingSystem", "Northgate MPI Merge", True, oa, prefix)
    doc.put("ReasonForTheAttributeModification", "CORRECT", False, oa, prefix)
    doc.ds.OriginalAttributesSequence = Sequence([oa])

    pc = Dataset()
    pc.CodeValue, pc.CodingSchemeDesignator = "CTCHEST", "99LOCAL"
    doc.put("CodeMeaning", "CT CHEST W/O CONTRAST", False, pc, "ProcedureCodeSequence[0].")
    doc.ds.ProcedureCodeSequence = Sequence([pc])

    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    doc.put("ReferencedSOPInstanceUID", _uid(), True, study_ref, "ReferencedStudySequence[0].")
    doc.ds.ReferencedStudySequence = Sequence([study_ref])


def _code(meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = (
        "99" + meaning[:6].upper().replace(" ", ""),
        "99LOCAL",
        meaning,
    )
    return c


def _item(value_type: str, concept: str, relationship: str = "CONTAINS") -> Dataset:
    it = Dataset()
    it.RelationshipType = relationship
    it.ValueType = value_type
    it.ConceptNameCodeSequence = Sequence([_code(concept)])
    return it


def _sr(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    doc.sop_class = ComprehensiveSRStorage
    _base(doc, rng, p, study, image=False)
    ds = doc.ds
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code("Imaging Report")])
    ds.ContinuityOfContent = "SEPARATE"
    doc.put("CompletionFlag", "COMPLETE", False)
    doc.put("VerificationFlag", "VERIFIED", False)
    doc.put("ContentTime", "101500", True)
    items = []
    it = _item("PNAME", "Recording Observer")
    doc.put("PersonName", o.pn, True, it, "ContentSequence[0].")
    items.append(it)
    it = _item("TEXT", "Findings")
    doc.put("TextValue", rng.choice(("No acute abnormality.", "Lungs are clear.", "Stable appearance.")), False, it,
            "ContentSequence[1].")  # fmt: skip
    items.append(it)
    it = _item("TEXT", "Impression")
    doc.put("TextValue", f"Discussed with Dr. {o.family} at {p.phone}", True, it, "ContentSequence[2].")
    items.append(it)
    it = _item("DATE", "Procedure Date")
    doc.put("Date", _da(study), True, it, "ContentSequence[3].")
    items.append(it)
    it = _item("DATETIME", "Observation DateTime")
    doc.put("DateTime", _da(study) + "093000", True, it, "ContentSequence[4].")
    items.append(it)
    it = _item("TIME", "Procedure Time")
    doc.put("Time", "093000", True, it, "ContentSequence[5].")
    items.append(it)
    it = _item("CODE", "Finding Site")
    it.ConceptCodeSequence = Sequence([_code("Lung")])
    items.append(it)
    it = _item("NUM", "Diameter")
    mv = Dataset()
    mv.NumericValue = "12"
    mv.MeasurementUnitsCodeSequence = Sequence([_code("mm")])
    it.MeasuredValueSequence = Sequence([mv])
    items.append(it)
    # A nested container tree, several levels deep, a person at the bottom.
    depth = rng.randrange(3, 9)
    root = _item("CONTAINER", "Addendum")
    node, path = root, "ContentSequence[8]."
    for _ in range(depth - 1):
        child = _item("CONTAINER", "Section")
        node.ContentSequence = Sequence([child])
        node, path = child, path + "ContentSequence[0]."
    leaf_p = _item("PNAME", "Person Observer Name")
    doc.put("PersonName", f"{rng.choice(FAMILY)}^{rng.choice(GIVEN)}", True, leaf_p, path + "ContentSequence[0].")
    leaf_t = _item("TEXT", "Comment")
    doc.put("TextValue", f"Patient {p.family} stable", True, leaf_t, path + "ContentSequence[1].")
    node.ContentSequence = Sequence([leaf_p, leaf_t])
    items.append(root)
    ds.ContentSequence = Sequence(items)
    vo = Dataset()
    doc.put("VerifyingObserverName", o.pn, True, vo, "VerifyingObserverSequence[0].")
    doc.put("VerifyingOrganization", "Riverside Imaging", True, vo, "VerifyingObserverSequence[0].")
    doc.put("VerificationDateTime", _da(study) + "120000", True, vo, "VerifyingObserverSequence[0].")
    vo.VerifyingObserverIdentificationCodeSequence = Sequence([])
    ds.VerifyingObserverSequence = Sequence([vo])


def _private(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    creator = "ACME PACS 1.0"
    doc.private(0x0029, creator, 0x01, "LO", f"{p.family} {p.given}", True)
    doc.private(0x0029, creator, 0x02, "LO", p.pid, True)
    phone = f"Tel {p.phone}".encode()
    doc.private(0x0029, creator, 0x03, "OB", phone + b" " * (len(phone) % 2), True)
    doc.private(0x0029, creator, 0x04, "UT", f"Reviewed by {o.email}", True)
    doc.private(0x0029, creator, 0x05, "LO", "AXIAL 5MM", False)
    doc.private(0x0029, creator, 0x06, "DS", "1.25", False)
    doc.private(0x0029, creator, 0x07, "OB", bytes([1, 0, 2, 0, 0, 0, 7, 0]), False)
    doc.private(0x0029, creator, 0x08, "SH", "VE11C", False)
    doc.private(0x0029, creator, 0x09, "LO", p.birth.strftime("%m/%d/%Y"), True)
    doc.private(0x0031, "MITRA LINKED ATTRIBUTES 1.0", 0x20, "LO", f"G-{rng.randrange(10**6, 10**7)}", True)
    item = Dataset()
    seq_path = doc.private(0x0029, creator, 0x10, "SQ", Sequence([item]), True)
    doc.put("PatientName", p.pn, True, item, f"{seq_path}[0].")
    doc.private(0x0029, creator, 0x01, "LO", p.family, True, item, f"{seq_path}[0].")
    doc.private(0x0029, creator, 0x05, "LO", "LOCALIZER", False, item, f"{seq_path}[0].")


def _implicit_private(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    # Implicit VR: unknown private elements come back as UN bytes, private
    # sequences as UN holding an implicit-VR item stream.
    _private(doc, rng, p, o, study)
    doc.implicit = True


_CHARSETS: tuple[tuple[Any, str, str], ...] = (
    ("ISO_IR 100", "Müller^Jürgen", "Pat. Müller kontrolliert"),
    ("ISO_IR 100", "Lefèvre^Hélène", "Mme Lefèvre, contrôle"),
    ("ISO_IR 192", "Иванов^Пётр", "Иванов: контроль"),
    ("ISO_IR 192", "山田^太郎", "山田 経過観察"),
    ("ISO_IR 144", "Смирнова^Ольга", "Смирнова контроль"),
    ("ISO_IR 126", "Παπαδόπουλος^Νίκος", "Παπαδόπουλος έλεγχος"),
    (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", "Yamada follow-up"),
    ("ISO_IR 100", "Ødegård^Åse", "Ødegård control"),
)


def _charset(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    charset, name, comment = rng.choice(_CHARSETS)
    doc.ds.SpecificCharacterSet = charset
    doc.put("PatientName", name, True)
    doc.put("ImageComments", comment, True)
    # Latin-1 only names elsewhere: keep ASCII in other PN fields for 2022.
    doc.put("ReferringPhysicianName", f"{o.family}^{o.given}", True)


def _declared_leaky(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    doc.put("PatientIdentityRemoved", "YES", True)
    doc.put("DeidentificationMethod", "Manual review", False)


def _burned_in(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base(doc, rng, p, study)
    doc.decoy.discard("BurnedInAnnotation")
    doc.put("BurnedInAnnotation", "YES", True)


def _deid_method_codes(*codes: tuple[str, str]) -> Sequence:
    out = []
    for value, meaning in codes:
        c = Dataset()
        c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, "DCM", meaning
        out.append(c)
    return Sequence(out)


def _all_paths(ds: Dataset, prefix: str = "") -> Iterable[str]:
    for elem in ds:
        name = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                yield from _all_paths(item, f"{prefix}{name}[{i}].")
        else:
            yield prefix + name


def _deid_anonymizer(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    """Basic profile applied by dicomanonymizer, then declared (PS3.15 E.1.1)."""
    from dicomanonymizer.simpledicomanonymizer import anonymize_dataset

    _private(doc, rng, p, o, study)
    doc.ds.file_meta = _meta(doc)
    with contextlib.redirect_stdout(io.StringIO()):
        anonymize_dataset(doc.ds)
    doc.ds.PatientIdentityRemoved = "YES"
    doc.ds.DeidentificationMethod = "dicomanonymizer basic profile"
    doc.ds.DeidentificationMethodCodeSequence = _deid_method_codes(
        ("113100", "Basic Application Confidentiality Profile")
    )
    doc.ident.clear()
    doc.decoy = set(_all_paths(doc.ds)) | set(_all_paths(doc.ds.file_meta))


def _deid_pseudonym(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    """Pseudonymised with shifted dates, declared with its options."""
    shift = timedelta(days=rng.randrange(-400, -30))
    code = f"SUBJ-{rng.randrange(1, 9999):04d}"
    ds = doc.ds
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = doc.sop_class, _uid()
    ds.StudyDate = ds.SeriesDate = _da(study + shift)
    ds.Modality = "CT"
    ds.StudyDescription, ds.SeriesDescription = rng.choice(DECOY_TEXT), rng.choice(DECOY_TEXT)
    ds.PatientName, ds.PatientID = code, code
    ds.PatientBirthDate = ""
    ds.PatientSex, ds.PatientAge = rng.choice("MF"), "045Y"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(), _uid()
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethodCodeSequence = _deid_method_codes(
        ("113100", "Basic Application Confidentiality Profile"),
        ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    )
    doc.decoy = set(_all_paths(ds)) | {"MediaStorageSOPInstanceUID"}


SCENARIOS: dict[str, Callable[[_Doc, random.Random, Person, Person, date], None]] = {
    "plain": _plain,
    "nested": _nested,
    "sr": _sr,
    "free_text": _free_text,
    "private": _private,
    "implicit_private": _implicit_private,
    "charset": _charset,
    "declared_leaky": _declared_leaky,
    "burned_in": _burned_in,
    "anonymous_decoy": _anonymous_decoy,
    "deid_anonymizer": _deid_anonymizer,
    "deid_pseudonym": _deid_pseudonym,
}


def _meta(doc: _Doc) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = doc.ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = doc.ds.SOPInstanceUID
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if doc.implicit else ExplicitVRLittleEndian
    return meta


def _encode(doc: _Doc) -> bytes:
    if not hasattr(doc.ds, "file_meta") or "TransferSyntaxUID" not in doc.ds.file_meta:
        doc.ds.file_meta = _meta(doc)
    if "SOPInstanceUID" in doc.ident:
        doc.ident.add("MediaStorageSOPInstanceUID")  # the same UID, in the file meta
    buf = io.BytesIO()
    doc.ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# -- character set damage (written at byte level: pydicom would refuse) ----


def _break_charset(data: bytes, mode: str) -> bytes:
    """Misspell (``ISO-IR 1OO``) or blank the ISO_IR 100 declaration."""
    old = b"ISO_IR 100"
    new = b"ISO-IR 1OO" if mode == "misspelt" else b" " * len(old)
    return data.replace(old, new, 1)


# -- malformed files -------------------------------------------------------


def _deep_nesting(levels: int) -> bytes:
    out = bytearray()
    for _ in range(levels):
        out += struct.pack("<HH", 0x0040, 0xA730) + b"SQ\0\0" + struct.pack("<I", 0xFFFFFFFF)
        out += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    for _ in range(levels):
        out += struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return bytes(out)


def _malformed(valid: bytes, rng: random.Random) -> dict[str, bytes]:
    """Broken inputs, each built from a valid file or from nothing."""
    absurd = struct.pack("<HH", 0x0020, 0x4000) + b"UT\0\0" + struct.pack("<I", 0xFFFFFFF0) + b"abcd"
    # A comment declared 200 bytes long, cut after 50: the file ends inside it.
    cut = struct.pack("<HH", 0x0020, 0x4000) + b"LT" + struct.pack("<H", 200) + b"x" * 50
    return {
        "malformed/empty.dcm": b"",
        "malformed/truncated.dcm": valid + cut,
        "malformed/absurd_length.dcm": valid + absurd,
        "malformed/deep_nesting.dcm": valid + _deep_nesting(400),
        "malformed/garbage_after_prefix.dcm": b"\0" * 128 + b"DICM" + bytes(rng.randrange(256) for _ in range(600)),
    }


def _not_dicom() -> dict[str, bytes]:
    """Files that are no DICOM at all, as they lie about in export folders."""
    return {
        "not_dicom/memo.txt": b"This is a radiology department memo, not a DICOM file.\n",
        "not_dicom/report.json": b'{"not": "dicom"}',
        "not_dicom/README.md": b"# Export\n\nStudies exported for the tumour board.\n",
        "not_dicom/worklist.csv": b"accession,modality\nA100,CT\n",
        "not_dicom/scan.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00",
    }


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------


def generate_corpus(out_dir: str | os.PathLike[str], *, n_files: int = 120, seed: int = 1234,
                    dicomdir: bool = True, malformed: bool = True) -> AnswerKey:  # fmt: skip
    """Write a labelled corpus to ``out_dir`` and return (and save) its key.

    Parameters
    ----------
    out_dir
        Created if needed; should be empty.
    n_files
        Number of regular DICOM files; scenarios are cycled so every one
        appears once ``n_files >= len(SCENARIOS)``.
    seed
        Seed for all invented values (the same seed gives the same labels;
        UIDs are fresh each run).
    dicomdir, malformed
        Also write a DICOMDIR file-set and the malformed inputs.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    key = AnswerKey()
    names = list(SCENARIOS)
    for i in range(n_files):
        scenario = names[i % len(names)]
        doc = _Doc()
        p, o = _person(rng), _person(rng)
        study = date(2015, 1, 1) + timedelta(days=rng.randrange(0, 10 * 365))
        SCENARIOS[scenario](doc, rng, p, o, study)
        if scenario != "deid_anonymizer" and rng.random() < 0.25:
            doc.implicit = True  # Implicit VR Little Endian: raw elements without VRs
        data = _encode(doc)
        if scenario == "charset" and rng.random() < 0.5 and doc.ds.SpecificCharacterSet == "ISO_IR 100":
            data = _break_charset(data, rng.choice(("misspelt", "blank")))
            scenario = "charset_broken"
        rel = f"{scenario}/{i:04d}.dcm"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        key.identifying |= {(rel, path) for path in doc.ident}
        key.decoys |= {(rel, path) for path in doc.decoy - doc.ident}
        if not doc.ident:
            key.clean.add(rel)
    if dicomdir:
        _write_dicomdir(root, rng, key)
    if malformed:
        for rel, data in _malformed(_encode_plain(rng), rng).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            key.malformed.add(rel)
        for rel, data in _not_dicom().items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            key.not_dicom.add(rel)
    (root / KEY_NAME).write_text(json.dumps(key.to_json(), indent=1), encoding="utf-8")
    return key


def _encode_plain(rng: random.Random) -> bytes:
    """A valid file without pixel data (so appended damage is inside the header)."""
    doc = _Doc()
    _base(doc, rng, _person(rng), date(2020, 5, 5), image=False)
    return _encode(doc)


#: What the generator knows to be identifying in directory records.
_RECORD_IDENT = frozenset(
    {"PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime", "StudyInstanceUID", "StudyID",
     "AccessionNumber", "SeriesInstanceUID", "ReferencedSOPInstanceUIDInFile", "SeriesDate", "SeriesTime",
     "ContentDate", "ContentTime", "InstitutionName", "ReferringPhysicianName"}
)  # fmt: skip


def _write_dicomdir(root: Path, rng: random.Random, key: AnswerKey) -> None:
    """A PS3.10 file-set: DICOMDIR plus referenced files, all labelled."""
    fs = FileSet()
    docs: dict[str, _Doc] = {}
    for _ in range(3):
        doc = _Doc()
        _base(doc, rng, _person(rng), date(2019, 1, 1) + timedelta(days=rng.randrange(0, 1500)))
        doc.ds.file_meta = _meta(doc)
        doc.ident.add("MediaStorageSOPInstanceUID")
        fs.add(doc.ds)
        docs[doc.ds.SOPInstanceUID] = doc
    target = root / "dicomdir_set"
    fs.write(target)
    for instance in fs:
        rel = Path(instance.path).relative_to(root).as_posix()
        doc = docs[instance.SOPInstanceUID]
        key.identifying |= {(rel, p) for p in doc.ident}
        key.decoys |= {(rel, p) for p in doc.decoy - doc.ident}
    dicomdir = dcmread(target / "DICOMDIR")
    rel_dir = (target / "DICOMDIR").relative_to(root).as_posix()
    key.identifying.add((rel_dir, "MediaStorageSOPInstanceUID"))
    for i, record in enumerate(dicomdir.DirectoryRecordSequence):
        for elem in record:
            path = f"DirectoryRecordSequence[{i}].{elem.keyword}"
            if elem.keyword in _RECORD_IDENT and not elem.is_empty:
                key.identifying.add((rel_dir, path))
            elif elem.keyword in ("StudyDescription", "Modality", "SeriesNumber", "InstanceNumber"):
                key.decoys.add((rel_dir, path))
