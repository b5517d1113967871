"""The structural classes of the PHI analyzer, one behaviour per test, synthetic values only.

Names across accents and scripts, caret-form names in text, person codes,
ages over 89, role placeholders (and their extension), broken sequences.
"""

from __future__ import annotations

import pickle
import struct
import warnings
from pathlib import Path

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from dicomaudit.models import Severity
from dicomaudit.phi import analyze_dataset, analyze_paths
from dicomaudit.phi.propagation import PropagationIndex, ascii_forms
from dicomaudit.phi.roles import ENV_VAR, RoleSet, RolesFileError, default_roles, load_roles, packaged_roles
from tests.phi.dicombytes import SEQUENCE_END, UNDEFINED, element, even, item, part10, patient, sequence

REQUEST_ATTRIBUTES = 0x00400275
REQUESTING_PHYSICIAN = 0x00321032
REFERENCED_STUDY = 0x00081110
REFERENCED_SOP_UID = 0x00081155


def _by_path(ds: Dataset, **kw):
    return {f.path: f for f in analyze_dataset(ds, "mem", **kw)}


def _named(name: str, charset: str = "ISO_IR 192") -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    return ds


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _implicit(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _body(*, group_0008: bytes = b"", after: bytes = b"") -> bytes:
    """``patient()`` with a (0008,xxxx) element before PatientName and elements after PatientID."""
    head = patient()
    split = head.index(struct.pack("<HH", 0x0010, 0x0010))
    return part10(head[:split] + group_0008 + head[split:] + after)


# -- names across accents and scripts ------------------------------------------------


def test_accented_name_is_found_written_without_accents_in_capitals():
    """Given PatientName Éloïse^Dubois-Lefèvre, when ImageComments holds ELOISE DUBOIS-LEFEVRE,
    then ImageComments is a propagation finding."""
    ds = _named("Dubois-Lefèvre^Éloïse", "ISO_IR 100")
    ds.ImageComments = "ELOISE DUBOIS-LEFEVRE"
    assert _by_path(ds)["ImageComments"].rule == "free-text.propagation"


def test_part_of_a_hyphenated_name_is_found_alone():
    """Given a hyphenated family name, when a description holds one of its parts unaccented, then it is found."""
    ds = _named("Dubois-Lefèvre^Éloïse", "ISO_IR 100")
    ds.SeriesDescription = "LEFEVRE CHEST"
    assert _by_path(ds)["SeriesDescription"].rule == "free-text.propagation"


def test_greek_name_is_found_in_its_elot_transliteration():
    """Given PatientName Παπαδόπουλος^Γιώργος, when a comment holds PAPADOPOULOS (ELOT 743), then it is found."""
    ds = _named("Παπαδόπουλος^Γιώργος", "ISO_IR 126")
    ds.ImageComments = "PAPADOPOULOS follow-up"
    assert _by_path(ds)["ImageComments"].rule == "free-text.propagation"


def test_greek_name_is_found_letter_by_letter():
    """Given a Greek PatientName, when a comment holds its letter-by-letter form (PAPADOPOYLOS), then it is found."""
    ds = _named("Παπαδόπουλος^Γιώργος", "ISO_IR 126")
    ds.ImageComments = "PAPADOPOYLOS"
    assert "ImageComments" in _by_path(ds)


def test_greek_capitals_without_accents_match_the_accented_name():
    """Given an accented Greek PatientName, when a comment holds it in capitals without the tonos, then it is
    found."""
    ds = _named("Παπαδόπουλος^Γιώργος", "ISO_IR 126")
    ds.AdditionalPatientHistory = "ΠΑΠΑΔΟΠΟΥΛΟΣ ΓΙΩΡΓΟΣ"
    assert _by_path(ds)["AdditionalPatientHistory"].rule == "free-text.propagation"


def test_cyrillic_name_is_found_in_its_icao_transliteration():
    """Given PatientName Соколова^Юлия, when a private element holds SOKOLOVA IULIIA (ICAO 9303), then it is
    found."""
    ds = _named("Соколова^Юлия", "ISO_IR 144")
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x01, "LO", "IULIIA")
    assert _by_path(ds)["(0029,1001)"].rule == "private.propagation"


def test_ascii_name_is_found_accented_in_text():
    """Given an ASCII PatientName NUNEZ^JOSE, when a comment holds José Núñez, then it is found."""
    ds = _named("NUNEZ^JOSE", "ISO_IR 100")
    ds.ImageComments = "José Núñez, contrôle"
    assert "ImageComments" in _by_path(ds)


def test_german_passport_spelling_matches_the_umlaut():
    """Given PatientName Müller^Jürgen, when a comment holds MUELLER, then it is found."""
    ds = _named("Müller^Jürgen", "ISO_IR 100")
    ds.ImageComments = "MUELLER KNEE"
    assert "ImageComments" in _by_path(ds)


def test_transliteration_is_also_found_outside_the_profile():
    """Given an accented PatientName, when an LT outside Table E.1-1 holds the unaccented name, then the
    propagation rule reports it."""
    ds = _named("Château^Hélène", "ISO_IR 100")
    ds.DetectorDescription = "Calibrated during CHATEAU"
    assert _by_path(ds)["DetectorDescription"].rule == "propagation"


def test_cjk_names_are_not_transliterated():
    """Given PatientName 山田^太郎, then no ASCII form is indexed: a guess (ShanTian) would only add noise."""
    assert ascii_forms("山田") == set()


def test_short_ascii_forms_are_not_indexed():
    """Given a two-letter Greek name part (Λι), when indexed, then its ASCII form (li) is not a token."""
    index = PropagationIndex()
    index.add_name("Λι^Γιώργος")
    assert "li" not in index.tokens and index.search("LI") == set()


def test_accent_folding_keeps_word_boundaries():
    """Given PatientName Lefèvre^Hélène, when a word merely contains LEFEVRE, then nothing is found."""
    index = PropagationIndex()
    index.add_name("Lefèvre^Hélène")
    assert index.search("LEFEVRES") == set()


# -- caret-form names in text ----------------------------------------------------


def test_caret_name_in_a_private_element_is_a_person():
    """Given another person's name Whitfield^Grace in a private LO, then it is a private.caret-name finding of
    kind name, category private."""
    ds = Dataset()
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x01, "LO", "Whitfield^Grace")
    f = _by_path(ds)["(0029,1001)"]
    assert (f.rule, f.category, f.detail["kind"], f.severity) == (
        "private.caret-name",
        "private",
        "name",
        Severity.HIGH,
    )


def test_caret_name_in_a_comment_is_a_person():
    """Given a comment that carries a caret-form name, then it is a free-text.caret-name finding."""
    ds = Dataset()
    ds.ImageComments = "cc OYELARAN^HANNAH"
    assert _by_path(ds)["ImageComments"].rule == "free-text.caret-name"


def test_caret_name_outside_the_profile_is_a_direct_identifier():
    """Given a caret-form name in an LT outside Table E.1-1, then it is a caret-name finding, category
    direct_identifier (as a PN would be)."""
    ds = Dataset()
    ds.DetectorDescription = "Ashworth^Owen"
    f = _by_path(ds)["DetectorDescription"]
    assert (f.rule, f.category) == ("caret-name", "direct_identifier")


def test_greek_caret_name_in_an_implicit_private_element_is_found(write_dicom):
    """Given a Greek caret name in a private LO of an Implicit VR file (read back as UN bytes), then it is
    found."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 126"
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x01, "LO", "Οικονόμου^Δημήτρης")
    result = analyze_paths([write_dicom(ds, implicit=True)])
    assert any(f.path == "(0029,1001)" and f.rule == "private.caret-name" for f in result.findings)


@pytest.mark.parametrize(
    "text",
    ["CT^CHEST", "ABDOMEN^ROUTINE", "Thorax^01_Standard", "MR^KNEE^LEFT", "T2^FLAIR", "LUNG^LOW DOSE",
     "REFERRING^PHYSICIAN", "ON^CALL", "BRN^STD", "Kopf^Routine", "ГОЛОВА^РУТИНА", "Θώρακας^Ρουτίνα",
     "Smith^J", "smith^john", "X-RAY^CHEST"],
)  # fmt: skip
def test_clinical_caret_codes_are_not_names(text):
    """Given a clinical code, a role, an initial or lower-case words in caret form in a private element,
    then nothing is reported."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x01, "LO", text)
    assert analyze_dataset(ds, "mem") == []


def test_caret_name_after_a_clinical_word_is_found():
    """Given CT^Okafor^Priya, then the pair Okafor^Priya makes it a name."""
    assert default_roles().caret_name("CT^Okafor^Priya")


# -- person codes ----------------------------------------------------------------


def _operator(meaning: str, value: str = "EMP48213") -> Dataset:
    op = Dataset()
    op.PersonIdentificationCodeSequence = Sequence([_code(value, "99ACMEHR", meaning)])
    ds = Dataset()
    ds.OperatorIdentificationSequence = Sequence([op])
    return ds


def test_person_identification_code_meaning_is_a_name():
    """Given a Person Identification Code Sequence item in the Operator Identification Sequence, then its Code
    Meaning is a person-code finding of kind name, naming the sequence."""
    found = _by_path(_operator("Brennan^Owen"))
    f = found["OperatorIdentificationSequence[0].PersonIdentificationCodeSequence[0].CodeMeaning"]
    assert (f.rule, f.detail["kind"], f.detail["sequence"], f.category) == (
        "person-code", "name", "PersonIdentificationCodeSequence", "direct_identifier")  # fmt: skip


def test_person_identification_code_value_is_an_id():
    """Given the same item, then its Code Value (a staff number) is a person-code finding of kind id, and the
    coding scheme is not a finding."""
    found = _by_path(_operator("Brennan^Owen"))
    prefix = "OperatorIdentificationSequence[0].PersonIdentificationCodeSequence[0]."
    assert found[prefix + "CodeValue"].detail["kind"] == "id"
    assert prefix + "CodingSchemeDesignator" not in found


def test_person_code_name_propagates():
    """Given an operator's name coded in a Person Identification Code Sequence, when a comment holds the family
    name, then the comment is a propagation finding."""
    ds = _operator("Brennan^Owen")
    ds.ImageComments = "Scanned by BRENNAN"
    assert _by_path(ds)["ImageComments"].rule == "free-text.propagation"


def test_verifying_observer_identification_code_meaning_is_a_name():
    """Given a Verifying Observer Identification Code Sequence item, then its Code Meaning is a name."""
    vo = Dataset()
    vo.VerifyingObserverIdentificationCodeSequence = Sequence([_code("V4471", "99ACMEHR", "Quintero Mateo")])
    ds = Dataset()
    ds.VerifyingObserverSequence = Sequence([vo])
    path = "VerifyingObserverSequence[0].VerifyingObserverIdentificationCodeSequence[0].CodeMeaning"
    assert _by_path(ds)[path].rule == "person-code"


def test_human_performer_code_meaning_is_a_name():
    """Given a Human Performer Code Sequence item, then its Code Meaning is a name."""
    hp = Dataset()
    hp.HumanPerformerCodeSequence = Sequence([_code("HP881", "99ACMEHR", "Novak^Ines")])
    ds = Dataset()
    ds.ActualHumanPerformersSequence = Sequence([hp])
    assert "ActualHumanPerformersSequence[0].HumanPerformerCodeSequence[0].CodeMeaning" in _by_path(ds)


def _sr_code_item(concept: tuple[str, str], value: Dataset) -> Dataset:
    it = Dataset()
    it.RelationshipType, it.ValueType = "HAS OBS CONTEXT", "CODE"
    it.ConceptNameCodeSequence = Sequence([_code(concept[0], "DCM", concept[1])])
    it.ConceptCodeSequence = Sequence([value])
    return it


def test_sr_code_item_coding_a_person_observer_is_a_name():
    """Given an SR CODE item whose concept is Person Observer Name (121008, DCM), then the Code Meaning of its
    Concept Code Sequence is a name; the concept name's own meaning is not a finding."""
    ds = Dataset()
    ds.ContentSequence = Sequence(
        [_sr_code_item(("121008", "Person Observer Name"), _code("S12", "99X", "Haddad^Yara"))]
    )
    found = _by_path(ds)
    assert found["ContentSequence[0].ConceptCodeSequence[0].CodeMeaning"].rule == "person-code"
    assert "ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning" not in found


def test_observer_type_person_is_not_a_name():
    """Given an SR CODE item Observer Type = Person (121005 = 121006), then nothing is reported."""
    ds = Dataset()
    ds.ContentSequence = Sequence([_sr_code_item(("121005", "Observer Type"), _code("121006", "DCM", "Person"))])
    assert analyze_dataset(ds, "mem") == []


def test_role_coded_as_a_person_is_not_a_finding():
    """Given a Person Identification Code whose value and meaning are a role (TECH, TECHNOLOGIST), then nothing
    is reported."""
    assert analyze_dataset(_operator("TECHNOLOGIST", "TECH"), "mem") == []


def test_code_meaning_outside_person_codes_is_not_a_name():
    """Given an anatomic region code (Chest), then its Code Meaning is not a finding."""
    ds = Dataset()
    ds.AnatomicRegionSequence = Sequence([_code("T-D3000", "SRT", "Chest")])
    assert analyze_dataset(ds, "mem") == []


def test_sr_text_item_holding_a_login_name_is_an_id():
    """Given an SR TEXT item whose concept is Person Observer's Login Name (128774), then its TextValue is a
    free-text.id finding."""
    it = Dataset()
    it.RelationshipType, it.ValueType = "HAS OBS CONTEXT", "TEXT"
    it.ConceptNameCodeSequence = Sequence([_code("128774", "DCM", "Person Observer's Login Name")])
    it.TextValue = "u482913"
    ds = Dataset()
    ds.ContentSequence = Sequence([it])
    assert _by_path(ds)["ContentSequence[0].TextValue"].rule == "free-text.id"


# -- ages over 89 ------------------------------------------------------------------


def test_age_of_ninety_is_a_safe_harbor_finding():
    """Given PatientAge 090Y, then it is a safe-harbor.age finding, quasi-identifier, medium severity."""
    ds = Dataset()
    ds.PatientAge = "090Y"
    f = _by_path(ds)["PatientAge"]
    assert (f.rule, f.category, f.severity, f.detail["years"], f.detail["kind"]) == (
        "safe-harbor.age", "quasi_identifier", Severity.MEDIUM, 90, "age")  # fmt: skip


def _aged(value: str) -> Dataset:
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about values that are not valid AS
        ds.PatientAge = value
    return ds


@pytest.mark.parametrize("value", ["091Y", "105Y", "1080M", "4700W", "32900D", "95"])
def test_ages_over_89_in_any_unit_are_findings(value):
    """Given an age over 89 in years, months, weeks or days (beyond what AS allows, as some writers do), or
    without a unit (years), then it is reported."""
    assert "PatientAge" in _by_path(_aged(value))


@pytest.mark.parametrize("value", ["089Y", "045Y", "999M", "999W", "999D", "006M", "000Y", "UNKNOWN"])
def test_ages_up_to_89_are_not_findings(value):
    """Given an age of 89 or under (AS cannot say more than 83 years in months), or no age at all, then nothing
    is reported."""
    assert analyze_dataset(_aged(value), "mem") == []


def test_nested_age_over_89_is_found():
    """Given PatientAge 097Y inside Original Attributes Sequence, then it is found at its path."""
    mod, oa, ds = Dataset(), Dataset(), Dataset()
    mod.PatientAge = "097Y"
    oa.ModifiedAttributesSequence = Sequence([mod])
    ds.OriginalAttributesSequence = Sequence([oa])
    assert "OriginalAttributesSequence[0].ModifiedAttributesSequence[0].PatientAge" in _by_path(ds)


# -- role placeholders ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["TECH", "SELF^REFERRED", "Self^Referred^^^", "OUTSIDE^PHYSICIAN", "REFERRING^PHYSICIAN", "RESIDENT", "ER^DOC",
     "ON^CALL", "TECH 2", "Médecin^Traitant", "ДЕЖУРНЫЙ^ВРАЧ", "ΕΦΗΜΕΡΕΥΩΝ^ΙΑΤΡΟΣ"],
)  # fmt: skip
def test_role_placeholder_in_a_person_name_is_not_a_finding(value):
    """Given ReferringPhysicianName holding only a role, then nothing is reported."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ReferringPhysicianName = value
    assert analyze_dataset(ds, "mem") == []


def test_role_next_to_a_name_is_a_name():
    """Given RESIDENT^Okafor, then it is reported: Okafor is not a role."""
    ds = Dataset()
    ds.NameOfPhysiciansReadingStudy = "RESIDENT^Okafor"
    assert "NameOfPhysiciansReadingStudy" in _by_path(ds)


def test_role_in_a_private_person_name_is_not_a_finding():
    """Given a private PN holding TECH^2, then nothing is reported."""
    ds = Dataset()
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x20, "PN", "TECH^2")
    assert analyze_dataset(ds, "mem") == []


def test_role_words_are_not_propagated():
    """Given ReferringPhysicianName SELF^REFERRED, when a comment says the patient was self referred, then the
    comment is not a finding (the role's words are not the data set's identifiers)."""
    ds = Dataset()
    ds.ReferringPhysicianName = "SELF^REFERRED"
    ds.ImageComments = "Self referred, walk in"
    assert analyze_dataset(ds, "mem") == []


def _extra_roles(tmp_path: Path) -> Path:
    path = tmp_path / "site_roles.toml"
    path.write_text('values = ["NIGHT^OWL"]\ncomponents = ["SCANNER*"]\n', encoding="utf-8")
    return path


def test_roles_file_named_by_the_environment_variable_is_added(tmp_path, monkeypatch):
    """Given NIGHT^OWL (not a packaged role) in ReferringPhysicianName, when DICOMAUDIT_PHI_ROLES names a file
    listing it, then it is no longer reported."""
    ds = Dataset()
    ds.ReferringPhysicianName = "NIGHT^OWL"
    assert "ReferringPhysicianName" in _by_path(ds)
    monkeypatch.setenv(ENV_VAR, str(_extra_roles(tmp_path)))
    assert analyze_dataset(ds, "mem") == []


def test_extra_roles_file_passed_to_analyze_paths_is_added(tmp_path, write_dicom):
    """Given OperatorsName SCANNER3 in a file, when analyze_paths gets extra_roles with the component SCANNER*,
    then it is not reported; without it, it is."""
    ds = Dataset()
    ds.OperatorsName = "SCANNER3"
    path = write_dicom(ds)
    assert any(f.path == "OperatorsName" for f in analyze_paths([path]).findings)
    extra = _extra_roles(tmp_path)
    assert not any(f.path == "OperatorsName" for f in analyze_paths([path], extra_roles=extra).findings)


def test_role_set_passed_to_analyze_dataset_is_used():
    """Given a RoleSet built from entries, when passed as roles=, then its roles are not reported."""
    ds = Dataset()
    ds.OperatorsName = "BIG^BOSS"
    roles = packaged_roles().merged(RoleSet.from_entries(values=["BIG^BOSS"]))
    assert analyze_dataset(ds, "mem", roles=roles) == []


def test_unreadable_roles_file_stops_the_run_before_any_file(tmp_path, write_dicom):
    """Given extra_roles naming a file that is not in the format, then analyze_paths raises RolesFileError."""
    bad = tmp_path / "bad.toml"
    bad.write_text('roles = ["TECH"]\n', encoding="utf-8")
    with pytest.raises(RolesFileError, match="unknown key"):
        analyze_paths([write_dicom(Dataset())], extra_roles=bad)


def test_packaged_roles_file_holds_the_documented_examples():
    """Given the packaged roles.toml, then it loads and covers the examples it documents."""
    roles = load_roles(Path(__file__).resolve().parents[2] / "dicomaudit" / "phi" / "roles.toml")
    assert all(
        roles.is_role(v)
        for v in ("TECH", "SELF^REFERRED", "OUTSIDE^PHYSICIAN", "REFERRING^PHYSICIAN", "RESIDENT", "ER^DOC", "ON^CALL")
    )


def test_role_sets_pickle_for_worker_processes():
    """Given the default role set, then it survives pickling with its wildcard patterns."""
    roles = RoleSet.from_entries(components=["TECH*"])
    assert pickle.loads(pickle.dumps(roles)).is_role("TECHNOLOGIST")


# -- broken and legal sequences ----------------------------------------------------------


def _only_error(path: Path) -> str:
    result = analyze_paths([path])
    assert result.findings == () and len(result.errors) == 1
    return result.errors[0].error


def test_public_sequence_encoded_as_un_with_items_is_walked(tmp_path):
    """Given RequestAttributesSequence encoded as UN (implicit VR items, PS3.5 6.2.2), then the physician in its
    item is found."""
    value = item(_implicit(REQUESTING_PHYSICIAN, b"Doe^John"))
    result = analyze_paths([_write(tmp_path / "x.dcm", _body(after=element(REQUEST_ATTRIBUTES, b"UN", value)))])
    assert result.errors == ()
    assert any(f.path == "RequestAttributesSequence[0].RequestingPhysician" for f in result.findings)


def test_public_sequence_encoded_as_un_without_items_is_an_error(tmp_path):
    """Given RequestAttributesSequence encoded as UN whose bytes are text, not items (pydicom would make an item
    of them), then the file is an error whose reason shows none of the bytes."""
    data = _body(after=element(REQUEST_ATTRIBUTES, b"UN", even(b"Doe^John")))
    reason = _only_error(_write(tmp_path / "x.dcm", data))
    assert reason.startswith("malformed DICOM file: sequence (0040,0275) RequestAttributesSequence encoded as UN")
    assert "Doe" not in reason and "(6F44" not in reason


@pytest.mark.parametrize("vr", [b"OB", b"LO"])
def test_public_sequence_encoded_with_another_vr_is_an_error(tmp_path, vr):
    """Given RequestAttributesSequence encoded as OB or LO, then the file is an error naming the VR."""
    data = _body(after=element(REQUEST_ATTRIBUTES, vr, even(b"Doe^John")))
    assert f"is encoded as {vr.decode()}" in _only_error(_write(tmp_path / "x.dcm", data))


def test_undefined_length_sequence_with_a_broken_delimiter_is_an_error(tmp_path):
    """Given an undefined-length sequence whose delimiter has a flipped bit, then the file is an error."""
    broken = struct.pack("<HHI", 0xFFFE, 0xE0DE, 0)
    ref = element(REFERENCED_SOP_UID, b"UI", b"1.2.3\x00")
    data = _body(group_0008=element(REFERENCED_STUDY, b"SQ", item(ref) + broken, length=UNDEFINED))
    assert _only_error(_write(tmp_path / "x.dcm", data)).startswith("malformed DICOM file:")


@pytest.mark.parametrize(
    "seq",
    [sequence(REFERENCED_STUDY), element(REFERENCED_STUDY, b"SQ", SEQUENCE_END, length=UNDEFINED),
     sequence(REFERENCED_STUDY, item(b"")), element(REFERENCED_STUDY, b"UN", b"")],
    ids=["zero-items", "zero-items-undefined-length", "empty-item", "empty-un"],
)  # fmt: skip
def test_legal_empty_sequences_are_not_errors(tmp_path, seq):
    """Given a sequence with zero items (defined or undefined length), an empty item or an empty UN value, then
    the file is analysed, not an error."""
    result = analyze_paths([_write(tmp_path / "x.dcm", _body(group_0008=seq))])
    assert result.errors == () and result.files_scanned == 1


def test_private_value_starting_like_an_item_is_vendor_bytes_not_an_error(tmp_path):
    """Given a private OB value that starts with an item tag but holds no well-formed items, then the file is
    analysed (private bytes may be anything) and the value is not a finding."""
    value = struct.pack("<HHI", 0xFFFE, 0xE000, 0x40) + b"\x01\x02" * 4
    private = element(0x00290010, b"LO", b"ACME 1.0") + element(0x00291001, b"OB", value)
    result = analyze_paths([_write(tmp_path / "x.dcm", _body(after=private))])
    assert result.errors == () and not any(f.path.startswith("(0029") for f in result.findings)
