"""A second labelled corpus: the structural places identifying data hides.

Built like :mod:`tests.phi.corpus` (whose helpers, answer key and scoring it
reuses): every value is invented here from a seeded :class:`random.Random`,
and the answer key is written from what the generator put in each file,
never by running the analyzer.  Its scenarios, each in several languages and
character sets (ISO_IR 100 French, German, Nordic, Spanish, Portuguese;
ISO_IR 126 Greek; ISO_IR 144 Cyrillic; ISO_IR 192 UTF-8 Polish, Czech,
Vietnamese, Turkish, Croatian, Japanese):

``accents_latin`` / ``accents_greek`` / ``accents_cyrillic``
    The patient's accented or non-Latin name in PatientName, and the same
    name written without accents, in capitals or transliterated to ASCII
    (``ELOISE DUBOIS-LEFEVRE``, ``PAPADOPOULOS``, ``ΠΑΠΑΔΟΠΟΥΛΟΣ``,
    ``IULIIA``) in comments, descriptions, a private element and an element
    outside the confidentiality profile -- or the other way round (an ASCII
    PatientName, the accented name in the text).  The expected ASCII forms are
    written out by hand below (ELOT 743 for Greek, ICAO Doc 9303 for Cyrillic,
    passport spellings for German and Nordic letters).  Decoys: clinical text
    in the same language.
``caret_names``
    Somebody else's name in caret form (``Whitfield^Grace``,
    ``Οικονόμου^Δημήτρης``, ``Кузнецов^Дмитрий``, ``山田^花子``) in private
    LO, UT and OB elements, a comment and an LT outside the profile.  Decoys:
    clinical caret codes (``CT^CHEST``, ``MR^KNEE^LEFT``,
    ``Thorax^01_Standard``, ``ГОЛОВА^РУТИНА``), a role in caret form.
``person_codes``
    Names and staff numbers in codes that identify a person: Person
    Identification Code Sequence items (inside Operator and Content Creator
    identification sequences), Human Performer Code Sequence, Verifying
    Observer Identification Code Sequence, and in SR files a CODE item whose
    concept is Person Observer Name plus a TEXT item holding a login name.
    Decoys: the concept names themselves, Observer Type = Person, a role
    coded as a person (``TECHNOLOGIST``), procedure codes.
``ages``
    PatientAge over 89 (``090Y``..``105Y``), also inside Original Attributes
    Sequence: identifying (HIPAA Safe Harbor).  Ages of 89 and under, in
    years, months, weeks and days (``089Y``, ``999M``, ``003W``): decoys.
``roles``
    Role placeholders in person-name elements (``SELF^REFERRED``, ``TECH``,
    ``ON^CALL``, ``Médecin^Traitant``, ``ΕΦΗΜΕΡΕΥΩΝ^ΙΑΤΡΟΣ``,
    ``ДЕЖУРНЫЙ^ВРАЧ``), in public, nested and private PN elements: decoys;
    a role next to a real name (``RESIDENT^Okafor``) stays identifying.

Plus hand-encoded files (:mod:`tests.phi.dicombytes`): ``structure_malformed/``
holds sequences broken in ways pydicom reads without complaint (a corrupted
sequence delimiter, an element where an item must be, a public sequence
encoded as UN whose bytes are not items, a sequence encoded as OB or LO, an
item without its delimiter), each expected in ``errors``; ``structure_legal/``
holds legal sequences that must not be (zero items of defined and undefined
length, an empty item, a public sequence encoded as UN holding well-formed
items, whose name is identifying).

Usage::

    key = generate_structure_corpus(tmp_path / "structure", n_files=48, seed=5)
    s = score(analyze_paths([tmp_path / "structure"]), key, tmp_path / "structure")
"""

from __future__ import annotations

import json
import random
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ComprehensiveSRStorage

from tests.phi.corpus import (
    DECOY_TEXT,
    FAMILY,
    GIVEN,
    KEY_NAME,
    AnswerKey,
    Person,
    _base,
    _da,
    _Doc,
    _encode,
    _person,
)
from tests.phi.dicombytes import (
    ITEM_END,
    SEQUENCE_END,
    UNDEFINED,
    element,
    even,
    item,
    part10,
    patient,
    sequence,
)

__all__ = ["SCENARIOS", "generate_structure_corpus"]

SAFE_HARBOR_AGE = 90
ACME = "ACME PACS 1.0"

# --------------------------------------------------------------------------
# Invented names, with the ASCII spellings a keyboard or a passport gives them
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    """An invented name in its own script, the character set to write it in, and its ASCII forms (capitals)."""

    charset: str
    family: str
    given: str
    family_ascii: tuple[str, ...]
    given_ascii: tuple[str, ...]

    @property
    def pn(self) -> str:
        return f"{self.family}^{self.given}"


LATIN = (
    Name("ISO_IR 100", "Dubois-Lefèvre", "Éloïse", ("DUBOIS-LEFEVRE", "LEFEVRE"), ("ELOISE",)),
    Name("ISO_IR 100", "Müller", "Jürgen", ("MUELLER", "MULLER"), ("JUERGEN", "JURGEN")),
    Name("ISO_IR 100", "Ødegård", "Åse", ("OEDEGAARD", "ODEGARD"), ("AASE", "ASE")),
    Name("ISO_IR 100", "Núñez", "José", ("NUNEZ",), ("JOSE",)),
    Name("ISO_IR 100", "Château", "Hélène", ("CHATEAU",), ("HELENE",)),
    Name("ISO_IR 100", "Gonçalves", "João", ("GONCALVES",), ("JOAO",)),
    Name("ISO_IR 192", "Łukasiewicz", "Zofia", ("LUKASIEWICZ",), ("ZOFIA",)),
    Name("ISO_IR 192", "Dvořák", "Jiří", ("DVORAK",), ("JIRI",)),
    Name("ISO_IR 192", "Nguyễn", "Hương", ("NGUYEN",), ("HUONG",)),
    Name("ISO_IR 192", "Yılmaz", "Şükrü", ("YILMAZ",), ("SUKRU",)),
    Name("ISO_IR 192", "Kovačević", "Ivana", ("KOVACEVIC",), ("IVANA",)),
)
GREEK = (  # ELOT 743 first, letter by letter second
    Name("ISO_IR 126", "Παπαδόπουλος", "Γιώργος", ("PAPADOPOULOS", "PAPADOPOYLOS"), ("GIORGOS",)),
    Name("ISO_IR 126", "Κωνσταντίνου", "Ελένη", ("KONSTANTINOU",), ("ELENI",)),
    Name("ISO_IR 126", "Οικονόμου", "Δημήτρης", ("OIKONOMOU",), ("DIMITRIS",)),
    Name("ISO_IR 126", "Γεωργίου", "Μαρία", ("GEORGIOU",), ("MARIA",)),
    Name("ISO_IR 126", "Χατζηδάκης", "Ευαγγελία", ("CHATZIDAKIS",), ("EVANGELIA",)),
    Name("ISO_IR 126", "Αυγερινός", "Σταύρος", ("AVGERINOS",), ("STAVROS",)),
)
CYRILLIC = (  # ICAO Doc 9303 first, the common (BGN-like) spelling second
    Name("ISO_IR 144", "Иванов", "Пётр", ("IVANOV",), ("PETR",)),
    Name("ISO_IR 144", "Смирнова", "Ольга", ("SMIRNOVA",), ("OLGA",)),
    Name("ISO_IR 144", "Кузнецов", "Дмитрий", ("KUZNETSOV",), ("DMITRII", "DMITRIY")),
    Name("ISO_IR 144", "Соколова", "Юлия", ("SOKOLOVA",), ("IULIIA", "YULIYA")),
    Name("ISO_IR 144", "Волков", "Алексей", ("VOLKOV",), ("ALEKSEI", "ALEKSEY")),
    Name("ISO_IR 144", "Жукова", "Наталья", ("ZHUKOVA",), ("NATALIA", "NATALYA")),
)
#: Other people's names in caret form, per character set (never the patient's).
CARET_PEOPLE = (
    Name("ISO_IR 100", "Lefèvre", "Hélène", (), ()),
    Name("ISO_IR 100", "Whitfield", "Grace", (), ()),
    Name("ISO_IR 126", "Οικονόμου", "Δημήτρης", (), ()),
    Name("ISO_IR 144", "Кузнецов", "Дмитрий", (), ()),
    Name("ISO_IR 192", "Nguyễn", "Hương", (), ()),
    Name("ISO_IR 192", "山田", "花子", (), ()),
    Name("ISO_IR 192", "Kim", "Minjun", (), ()),
)

#: Clinical text in the corpus's languages: never identifying.
NATIVE_DECOYS = {
    "ISO_IR 100": ("Contrôle à 6 mois, pas d'anomalie", "Kontrolle in 6 Monaten", "Sin hallazgos agudos"),
    "ISO_IR 126": ("Θώρακας χωρίς σκιαγραφικό", "Αξονική εγκεφάλου"),
    "ISO_IR 144": ("КТ органов грудной клетки", "Без патологии"),
    "ISO_IR 192": ("Bez zmian ogniskowych", "Không có bất thường", "胸部 CT 経過観察"),
}
#: Clinical codes in caret form, per character set: never a name.
CARET_DECOYS = {
    "ISO_IR 100": ("CT^CHEST", "ABDOMEN^ROUTINE", "Thorax^01_Standard", "MR^KNEE^LEFT", "Kopf^Routine"),
    "ISO_IR 126": ("ΘΩΡΑΚΑΣ^ΡΟΥΤΙΝΑ", "CT^CHEST", "Κεφαλή^Ρουτίνα"),
    "ISO_IR 144": ("ГОЛОВА^РУТИНА", "КТ^ОГК", "CT^CHEST"),
    "ISO_IR 192": ("CT^CHEST", "LUNG^LOW DOSE", "HEAD^NECK^CTA"),
}
#: Role placeholders in person-name elements, per character set.
ROLES = {
    "ISO_IR 100": ("SELF^REFERRED", "OUTSIDE^PHYSICIAN", "REFERRING^PHYSICIAN", "ER^DOC", "ON^CALL", "TECH",
                   "RESIDENT", "Médecin^Traitant", "Zuweisender^Arzt"),
    "ISO_IR 126": ("ΕΦΗΜΕΡΕΥΩΝ^ΙΑΤΡΟΣ", "Τεχνολόγος", "SELF^REFERRED"),
    "ISO_IR 144": ("ДЕЖУРНЫЙ^ВРАЧ", "Рентгенолаборант", "ON^CALL"),
    "ISO_IR 192": ("TECH", "Self^Referred", "OUTSIDE^PHYSICIAN"),
}  # fmt: skip

AGES_OVER_89 = ("090Y", "091Y", "094Y", "097Y", "101Y", "105Y")
AGES_UP_TO_89 = ("089Y", "045Y", "072Y", "006M", "999M", "003W", "999W", "010D", "999D", "000Y")


def _greek_capitals(text: str) -> str:
    """Greek written in capitals, as it is: without the tonos."""
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", text) if c != "\u0301")).upper()


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


def _base_labelled(doc: _Doc, rng: random.Random, p: Person, study: date, *, image: bool = True) -> None:
    """:func:`tests.phi.corpus._base`, with PatientAge labelled as HIPAA Safe Harbor labels it (over 89: identifying)."""
    _base(doc, rng, p, study, image=image)
    _age(doc, "PatientAge", str(doc.ds.PatientAge))


def _age(doc: _Doc, path: str, value: str, into: Dataset | None = None) -> None:
    """Set an age and label it: identifying from 90 years on."""
    target = doc.ds if into is None else into
    target.PatientAge = value
    years = int(value[:3]) / {"D": 365.25, "W": 365.25 / 7, "M": 12, "Y": 1}[value[3]]
    for label in (doc.ident, doc.decoy):
        label.discard(path)
    doc.label(path, years >= SAFE_HARBOR_AGE)


def _replace(doc: _Doc, keyword: str, value: object, ident: bool) -> None:
    for label in (doc.ident, doc.decoy):
        label.discard(keyword)
    doc.put(keyword, value, ident)


def _code(doc: _Doc, value: str, scheme: str, meaning: str, prefix: str, *, person: bool) -> Dataset:
    """A code item; for a person's code the value and meaning are identifying (unless a role), the scheme never is."""
    c = Dataset()
    doc.put("CodeValue", value, person, c, prefix)
    doc.put("CodingSchemeDesignator", scheme, False, c, prefix)
    doc.put("CodeMeaning", meaning, person, c, prefix)
    return c


def _sr_item(doc: _Doc, value_type: str, concept: tuple[str, str], prefix: str) -> Dataset:
    it = Dataset()
    it.RelationshipType = "HAS OBS CONTEXT"
    it.ValueType = value_type
    it.ConceptNameCodeSequence = Sequence(
        [_code(doc, concept[0], "DCM", concept[1], prefix + "ConceptNameCodeSequence[0].", person=False)]
    )
    return it


def _set_charset(doc: _Doc, charset: str) -> None:
    doc.ds.SpecificCharacterSet = charset


def _ob_text(text: str, charset: str) -> bytes:
    codec = {"ISO_IR 100": "latin-1", "ISO_IR 126": "iso8859-7", "ISO_IR 144": "iso8859-5", "ISO_IR 192": "utf-8"}
    return even(text.encode(codec[charset]))


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------


def _accents(names: tuple[Name, ...]) -> Callable[[_Doc, random.Random, Person, Person, date], None]:
    def build(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
        _base_labelled(doc, rng, p, study)
        name = rng.choice(names)
        _set_charset(doc, name.charset)
        fam, giv = rng.choice(name.family_ascii), rng.choice(name.given_ascii)
        greek = name.charset == "ISO_IR 126"
        if rng.random() < 0.3:
            # The other way round: an ASCII PatientName, the name as written in its own script in the text
            # (and, in the private element and the LT, the very ASCII spelling of PatientName).
            fam, giv = name.family_ascii[0], name.given_ascii[0]
            _replace(doc, "PatientName", f"{fam}^{giv}", True)
            native = (_greek_capitals(name.family) if greek else name.family.upper(), name.given)
            texts = [
                f"{native[1]} {native[0]}",
                f"{name.family} contrôle" if name.charset == "ISO_IR 100" else name.family,
            ]
        else:
            _replace(doc, "PatientName", name.pn, True)
            texts = [f"{giv} {fam}", f"{fam} CHEST", f"Pt {fam.title()} stable"]
            if greek or name.charset == "ISO_IR 144":
                texts.append(f"{_greek_capitals(name.family) if greek else name.family.upper()} {name.given.upper()}")
        rng.shuffle(texts)
        elements = ["ImageComments", "SeriesDescription", "AdditionalPatientHistory", "PatientComments"]
        rng.shuffle(elements)
        for keyword, text in zip(elements, texts, strict=False):
            _replace(doc, keyword, text, True)
        doc.private(0x0029, ACME, 0x01, "LO", f"{fam} {giv}", True)
        doc.put("DetectorDescription", f"Calibrated during {fam}", True)  # an LT outside the profile
        # Decoys: clinical text in the file's own language and in English.
        doc.put("StudyComments", rng.choice(NATIVE_DECOYS[name.charset]), False)
        doc.private(0x0029, ACME, 0x05, "LO", rng.choice(DECOY_TEXT), False)

    return build


def _caret_names(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base_labelled(doc, rng, p, study)
    other = rng.choice(CARET_PEOPLE)
    charset = other.charset
    _set_charset(doc, charset)
    name = other.pn
    if other.family == "Whitfield":  # an ASCII name from the first corpus's list, never the patient's
        name = f"{rng.choice([f for f in FAMILY if f != p.family])}^{rng.choice(GIVEN)}"
    doc.private(0x0029, ACME, 0x01, "LO", name, True)
    doc.private(0x0029, ACME, 0x02, "UT", f"Read by {name}", True)
    doc.private(0x0029, ACME, 0x03, "OB", _ob_text(name, charset), True)
    _replace(doc, "ImageComments", f"cc {name.upper() if name.isascii() else name}", True)
    doc.put("DetectorDescription", name, True)  # an LT outside the profile
    decoys = list(CARET_DECOYS[charset])
    rng.shuffle(decoys)
    doc.private(0x0029, ACME, 0x04, "LO", decoys[0], False)
    doc.private(0x0029, ACME, 0x05, "LO", decoys[1], False)
    doc.private(0x0029, ACME, 0x06, "LO", "REFERRING^PHYSICIAN", False)
    _replace(doc, "StudyDescription", decoys[2], False)
    _replace(doc, "ProtocolName", "Thorax^01_Standard", False)
    pc = Dataset()
    pc.CodingSchemeDesignator = "99LOCAL"
    doc.put("CodeValue", "CTCHEST", False, pc, "ProcedureCodeSequence[0].")
    doc.put("CodeMeaning", "CT^CHEST^ROUTINE", False, pc, "ProcedureCodeSequence[0].")
    doc.ds.ProcedureCodeSequence = Sequence([pc])


def _person_name(rng: random.Random, p: Person) -> tuple[str, str]:
    """(name, charset) of somebody other than the patient, in caret or plain form."""
    other = rng.choice(CARET_PEOPLE)
    if other.family == "Whitfield":
        family, given = rng.choice([f for f in FAMILY if f != p.family]), rng.choice(GIVEN)
        return (f"{family}^{given}" if rng.random() < 0.7 else f"{given} {family}"), other.charset
    return other.pn, other.charset


def _person_codes(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    sr = rng.random() < 0.5
    if sr:
        doc.sop_class = ComprehensiveSRStorage
    _base_labelled(doc, rng, p, study, image=not sr)
    name, charset = _person_name(rng, p)
    _set_charset(doc, charset)
    staff = f"EMP{rng.randrange(10000, 99999)}"
    ds = doc.ds

    pre = "OperatorIdentificationSequence[0]."
    op = Dataset()
    op.PersonIdentificationCodeSequence = Sequence(
        [_code(doc, staff, "99ACMEHR", name, pre + "PersonIdentificationCodeSequence[0].", person=True)]
    )
    doc.put("InstitutionName", "Riverside Imaging", True, op, pre)
    ds.OperatorIdentificationSequence = Sequence([op])

    # A role coded as a person: not identifying.
    pre = "PerformingPhysicianIdentificationSequence[0]."
    pp = Dataset()
    pp.PersonIdentificationCodeSequence = Sequence(
        [_code(doc, "TECH", "99LOCAL", "TECHNOLOGIST", pre + "PersonIdentificationCodeSequence[0].", person=False)]
    )
    ds.PerformingPhysicianIdentificationSequence = Sequence([pp])

    pre = "ActualHumanPerformersSequence[0]."
    hp = Dataset()
    performer = f"{rng.choice([f for f in FAMILY if f != p.family])}^{rng.choice(GIVEN)}"
    hp.HumanPerformerCodeSequence = Sequence(
        [_code(doc, f"HP{rng.randrange(1000, 9999)}", "99ACMEHR", performer, pre + "HumanPerformerCodeSequence[0].",
               person=True)]
    )  # fmt: skip
    doc.put("HumanPerformerName", performer, True, hp, pre)
    ds.ActualHumanPerformersSequence = Sequence([hp])

    pre = "ContentCreatorIdentificationCodeSequence[0]."
    cc = Dataset()
    cc.PersonIdentificationCodeSequence = Sequence(
        [_code(doc, staff, "99ACMEHR", name, pre + "PersonIdentificationCodeSequence[0].", person=True)]
    )
    ds.ContentCreatorIdentificationCodeSequence = Sequence([cc])
    doc.put("ContentCreatorName", name if "^" in name else name.replace(" ", "^"), True)

    ds.ProcedureCodeSequence = Sequence(
        [_code(doc, "CTCHEST", "99LOCAL", rng.choice(DECOY_TEXT), "ProcedureCodeSequence[0].", person=False)]
    )
    if sr:
        _person_codes_sr(doc, rng, name, staff, study)


def _person_codes_sr(doc: _Doc, rng: random.Random, name: str, staff: str, study: date) -> None:
    ds = doc.ds
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    items = []
    pre = "ContentSequence[0]."
    it = _sr_item(doc, "CODE", ("121005", "Observer Type"), pre)
    it.ConceptCodeSequence = Sequence([_code(doc, "121006", "DCM", "Person", pre + "ConceptCodeSequence[0].",
                                             person=False)])  # fmt: skip
    items.append(it)
    pre = "ContentSequence[1]."
    it = _sr_item(doc, "PNAME", ("121008", "Person Observer Name"), pre)
    doc.put("PersonName", name if "^" in name else name.replace(" ", "^"), True, it, pre)
    items.append(it)
    pre = "ContentSequence[2]."
    it = _sr_item(doc, "CODE", ("121008", "Person Observer Name"), pre)
    it.ConceptCodeSequence = Sequence([_code(doc, staff, "99ACMEHR", name, pre + "ConceptCodeSequence[0].",
                                             person=True)])  # fmt: skip
    items.append(it)
    pre = "ContentSequence[3]."
    it = _sr_item(doc, "CODE", ("121010", "Person Observer's Role in the Organization"), pre)
    it.ConceptCodeSequence = Sequence([_code(doc, "121081", "DCM", "Physician", pre + "ConceptCodeSequence[0].",
                                             person=False)])  # fmt: skip
    items.append(it)
    pre = "ContentSequence[4]."
    it = _sr_item(doc, "TEXT", ("128774", "Person Observer's Login Name"), pre)
    doc.put("TextValue", f"u{rng.randrange(100000, 999999)}", True, it, pre)
    items.append(it)
    ds.ContentSequence = Sequence(items)

    pre = "VerifyingObserverSequence[0]."
    vo = Dataset()
    verifier = f"{rng.choice(FAMILY)}^{rng.choice(GIVEN)}"
    doc.put("VerifyingObserverName", verifier, True, vo, pre)
    doc.put("VerifyingOrganization", "Riverside Imaging", True, vo, pre)
    doc.put("VerificationDateTime", _da(study) + "120000", True, vo, pre)
    vo.VerifyingObserverIdentificationCodeSequence = Sequence(
        [_code(doc, f"V{rng.randrange(1000, 9999)}", "99ACMEHR", verifier,
               pre + "VerifyingObserverIdentificationCodeSequence[0].", person=True)]
    )  # fmt: skip
    ds.VerifyingObserverSequence = Sequence([vo])


def _ages(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base_labelled(doc, rng, p, study)
    _set_charset(doc, rng.choice(("ISO_IR 100", "ISO_IR 192")))
    _age(doc, "PatientAge", rng.choice(AGES_OVER_89 if rng.random() < 0.5 else AGES_UP_TO_89))
    oa, mod = Dataset(), Dataset()
    pre = "OriginalAttributesSequence[0]."
    _age(doc, pre + "ModifiedAttributesSequence[0].PatientAge", rng.choice(AGES_OVER_89 + AGES_UP_TO_89), mod)
    oa.ModifiedAttributesSequence = Sequence([mod])
    doc.put("AttributeModificationDateTime", _da(study) + "101500", True, oa, pre)
    doc.put("ReasonForTheAttributeModification", "CORRECT", False, oa, pre)
    doc.ds.OriginalAttributesSequence = Sequence([oa])


def _roles(doc: _Doc, rng: random.Random, p: Person, o: Person, study: date) -> None:
    _base_labelled(doc, rng, p, study)
    charset = rng.choice(tuple(ROLES))
    _set_charset(doc, charset)
    roles = list(ROLES[charset])
    rng.shuffle(roles)
    _replace(doc, "ReferringPhysicianName", roles[0], False)
    doc.put("OperatorsName", roles[1], False)
    doc.put("PerformingPhysicianName", roles[2 % len(roles)], False)
    # A role next to a real name is a name.
    doc.put("NameOfPhysiciansReadingStudy", f"RESIDENT^{rng.choice([f for f in FAMILY if f != p.family])}", True)
    ra = Dataset()
    doc.put("RequestingPhysician", rng.choice(roles), False, ra, "RequestAttributesSequence[0].")
    doc.put("RequestedProcedureID", f"RP{rng.randrange(10000, 99999)}", True, ra, "RequestAttributesSequence[0].")
    doc.ds.RequestAttributesSequence = Sequence([ra])
    doc.private(0x0029, ACME, 0x20, "PN", "TECH^2", False)


SCENARIOS: dict[str, Callable[[_Doc, random.Random, Person, Person, date], None]] = {
    "accents_latin": _accents(LATIN),
    "accents_greek": _accents(GREEK),
    "accents_cyrillic": _accents(CYRILLIC),
    "caret_names": _caret_names,
    "person_codes": _person_codes,
    "ages": _ages,
    "roles": _roles,
}

# --------------------------------------------------------------------------
# Hand-encoded sequences: broken (errors) and legal (analysed)
# --------------------------------------------------------------------------

REQUEST_ATTRIBUTES = 0x00400275
REQUESTING_PHYSICIAN = 0x00321032
REFERENCED_STUDY = 0x00081110
REFERENCED_SOP_UID = 0x00081155
#: What :func:`tests.phi.dicombytes.part10` and :func:`_body` hold that is identifying.
_BYTES_IDENT = frozenset({"MediaStorageSOPInstanceUID", "SOPInstanceUID", "PatientName", "PatientID"})


def _implicit(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _body(*, group_0008: bytes = b"", after: bytes = b"") -> bytes:
    """``patient()`` with a (0008,xxxx) sequence in its place (tags ascending) and elements after it."""
    head = patient()
    split = head.index(struct.pack("<HH", 0x0010, 0x0010))  # where PatientName starts
    return head[:split] + group_0008 + head[split:] + after


def structural_files(rng: random.Random) -> tuple[dict[str, bytes], dict[str, tuple[bytes, set[str]]]]:
    """(broken files, legal files with their identifying paths), as bytes."""
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    doctor = even(f"{family}^{given}".encode())
    ref = element(REFERENCED_SOP_UID, b"UI", b"1.2.3\x00")
    good_item = item(ref)
    broken_delimiter = struct.pack("<HHI", 0xFFFE, 0xE0DE, 0)  # a flipped bit in (FFFE,E0DD)
    requested = item(_implicit(REQUESTING_PHYSICIAN, doctor))
    broken = {
        "structure_malformed/sq_broken_delimiter.dcm": _body(
            group_0008=element(REFERENCED_STUDY, b"SQ", good_item + broken_delimiter, length=UNDEFINED),
            after=element(0x00200010, b"SH", b"S1"),
        ),
        "structure_malformed/sq_not_items.dcm": _body(group_0008=sequence(REFERENCED_STUDY, ref)),
        "structure_malformed/un_sequence_junk.dcm": _body(
            after=element(REQUEST_ATTRIBUTES, b"UN", even(b"Not items: " + doctor))
        ),
        "structure_malformed/sequence_as_ob.dcm": _body(after=element(REQUEST_ATTRIBUTES, b"OB", requested)),
        "structure_malformed/sequence_as_lo.dcm": _body(after=element(REQUEST_ATTRIBUTES, b"LO", doctor)),
        "structure_malformed/item_without_delimiter.dcm": _body(
            group_0008=sequence(REFERENCED_STUDY, item(ref, length=UNDEFINED))
        ),
        "structure_malformed/stray_sequence_delimiter.dcm": _body(
            group_0008=sequence(REFERENCED_STUDY, good_item, SEQUENCE_END)
        ),
    }
    legal = {
        "structure_legal/sq_zero_items.dcm": (_body(group_0008=sequence(REFERENCED_STUDY)), set()),
        "structure_legal/sq_zero_items_undefined.dcm": (
            _body(group_0008=element(REFERENCED_STUDY, b"SQ", SEQUENCE_END, length=UNDEFINED)),
            set(),
        ),
        "structure_legal/sq_empty_item.dcm": (_body(group_0008=sequence(REFERENCED_STUDY, item(b""))), set()),
        "structure_legal/sq_undefined_item.dcm": (
            _body(
                group_0008=element(
                    REFERENCED_STUDY, b"SQ", item(ref, length=UNDEFINED) + ITEM_END + SEQUENCE_END, length=UNDEFINED
                )
            ),
            {"ReferencedStudySequence[0].ReferencedSOPInstanceUID"},
        ),  # fmt: skip
        "structure_legal/un_sequence_items.dcm": (
            _body(after=element(REQUEST_ATTRIBUTES, b"UN", requested)),
            {"RequestAttributesSequence[0].RequestingPhysician"},
        ),
    }
    return broken, {rel: (part10(body), set(_BYTES_IDENT) | extra) for rel, (body, extra) in legal.items()}


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------


def generate_structure_corpus(out_dir: str | Path, *, n_files: int = 56, seed: int = 4321,
                              structural: bool = True) -> AnswerKey:  # fmt: skip
    """Write the structural corpus to ``out_dir`` and return (and save) its key.

    Scenarios are cycled (every one appears once ``n_files >= len(SCENARIOS)``);
    a quarter of the files are Implicit VR Little Endian, so private elements
    come back as UN bytes.  ``structural`` adds the hand-encoded broken and
    legal sequence files.
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
        if rng.random() < 0.25:
            doc.implicit = True
        data = _encode(doc)
        rel = f"{scenario}/{i:04d}.dcm"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        key.identifying |= {(rel, path) for path in doc.ident}
        key.decoys |= {(rel, path) for path in doc.decoy - doc.ident}
    if structural:
        broken, legal = structural_files(rng)
        for rel, data in broken.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(part10(data))
            key.malformed.add(rel)
        for rel, (data, ident) in legal.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            key.identifying |= {(rel, path) for path in ident}
    (root / KEY_NAME).write_text(json.dumps(key.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    return key
