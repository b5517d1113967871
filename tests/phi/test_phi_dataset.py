"""analyze_dataset: one behaviour per test, synthetic values only."""

from __future__ import annotations

import warnings

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from dicomaudit.models import Severity
from dicomaudit.phi import MAX_DEPTH, PhiAnalysisError, analyze_dataset, mask_value


def _by_path(ds: Dataset, **kw):
    return {f.path: f for f in analyze_dataset(ds, "mem", **kw)}


def _patient() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Okafor^Priya"
    ds.PatientID = "MRN7731904"
    ds.PatientBirthDate = "19790214"
    return ds


# -- VR rule and nesting -----------------------------------------------------


def test_pn_in_nested_sequence_is_found_with_its_path():
    """Given a RequestingPhysician inside RequestAttributesSequence,
    when analysed, then it is a name finding at the dotted/indexed path."""
    ds = Dataset()
    item = Dataset()
    item.RequestingPhysician = "Brennan^Owen"
    ds.RequestAttributesSequence = Sequence([item])
    f = _by_path(ds)["RequestAttributesSequence[0].RequestingPhysician"]
    assert (f.tag, f.vr, f.category, f.rule) == ("(0032,1032)", "PN", "direct_identifier", "annex-e")


def test_pn_outside_the_profile_is_still_a_person():
    """Given a PN attribute Table E.1-1 does not list (DICONDE EvaluatorName),
    then the VR rule reports it."""
    ds = Dataset()
    ds.EvaluatorName = "Halvorsen^Henrik"
    f = _by_path(ds)["EvaluatorName"]
    assert (f.rule, f.category, "action" in f.detail) == ("vr-pn", "direct_identifier", False)


def test_private_pn_is_a_person_in_the_private_category():
    """Given a private element with VR PN, then it is a vr-pn finding, category private."""
    ds = Dataset()
    ds.private_block(0x0009, "ACME 1.0", create=True).add_new(0x10, "PN", "Novak^Ines")
    f = _by_path(ds)["(0009,1010)"]
    assert (f.rule, f.category, f.keyword) == ("vr-pn", "private", "")


def test_deeply_nested_items_are_walked():
    """Given a name ten sequence levels down, then its full path is reported."""
    ds = leaf = Dataset()
    path = ""
    for _ in range(10):
        child = Dataset()
        leaf.ContentSequence = Sequence([child])
        leaf, path = child, path + "ContentSequence[0]."
    leaf.PersonName = "Petrov^Felix"
    assert path + "PersonName" in _by_path(ds)


def test_nesting_beyond_the_limit_is_an_analysis_error():
    """Given sequences nested deeper than MAX_DEPTH, then analysis raises PhiAnalysisError."""
    ds = leaf = Dataset()
    for _ in range(MAX_DEPTH + 2):
        child = Dataset()
        leaf.ContentSequence = Sequence([child])
        leaf = child
    with pytest.raises(PhiAnalysisError, match="nested"):
        analyze_dataset(ds, "mem")


def test_file_meta_is_walked():
    """Given a file meta with MediaStorageSOPInstanceUID, then it is a UID finding."""
    from pydicom.dataset import FileMetaDataset

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.42"
    f = _by_path(ds)["MediaStorageSOPInstanceUID"]
    assert (f.category, f.severity) == ("uid", Severity.LOW)


# -- Confidentiality profile ------------------------------------------------


def test_profile_action_code_comes_from_table_e1_1():
    """Given PatientName and PatientID, then detail.action holds their Annex E codes."""
    found = _by_path(_patient())
    assert found["PatientName"].detail["action"] == "Z"
    assert found["PatientID"].detail["action"] == "Z/D"


@pytest.mark.parametrize(
    ("keyword", "value", "category"),
    [
        ("StudyDate", "20230405", "date_time"),
        ("StudyInstanceUID", "1.2.826.0.1.3680043.8.498.7", "uid"),
        ("InstitutionName", "Riverside Imaging", "institution_device"),
        ("DeviceSerialNumber", "SN48213", "institution_device"),
        ("PatientAddress", "12 Beacon Road", "direct_identifier"),
        ("PatientTelephoneNumbers", "617-555-0142", "direct_identifier"),
        ("AccessionNumber", "A889120", "direct_identifier"),
    ],
)
def test_structured_identifiers_are_categorised(keyword, value, category):
    """Given one structured Table E.1-1 attribute, then it lands in its category."""
    ds = Dataset()
    setattr(ds, keyword, value)
    assert _by_path(ds)[keyword].category == category


def test_birth_date_is_more_severe_than_other_dates():
    """Given a birth date and a study date, then the birth date is high, the study date medium."""
    ds = _patient()
    ds.StudyDate = "20230405"
    found = _by_path(ds)
    assert found["PatientBirthDate"].severity == Severity.HIGH
    assert found["StudyDate"].severity == Severity.MEDIUM


# -- Precision: what is NOT identifying ----------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("StudyDescription", "CT CHEST W/O CONTRAST"),
        ("SeriesDescription", "AXIAL 5MM"),
        ("ProtocolName", "ABD/PELVIS 3.0 B30f"),
        ("ImageComments", "DLP 412.5 mGy*cm"),
        ("PatientName", "ANONYMOUS"),
        ("PatientName", "ANONYMOUS^"),
        ("InstitutionName", "ANONYMIZED"),
        ("PatientSex", "F"),
        ("PatientAge", "045Y"),
        ("PatientWeight", "72.5"),
        ("StudyDate", "00010101"),
        ("StudyTime", "000000.00"),
        ("StudyID", "1"),
        ("PatientID", ""),
    ],
)
def test_decoys_are_not_findings(keyword, value):
    """Given clinical vocabulary, placeholders, sex/age or empty values, then nothing is reported."""
    ds = Dataset()
    setattr(ds, keyword, value)
    assert analyze_dataset(ds, "mem") == []


def test_properly_deidentified_dataset_has_no_findings():
    """Given a declared de-identified data set with replaced UIDs and emptied
    identifiers (PS3.15 E.1.1), then nothing is reported."""
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    ds.StudyInstanceUID = "2.25.1234567890"
    ds.StudyDescription = "CT CHEST W/O CONTRAST"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Basic Application Confidentiality Profile"
    assert analyze_dataset(ds, "mem") == []


def test_pseudonymised_dataset_with_modified_dates_has_no_findings():
    """Given a declared pseudonymised data set (code-like name, shifted dates),
    then neither the pseudonym, the shifted dates nor the UIDs are reported."""
    ds = Dataset()
    ds.PatientName = "SUBJ-0042"
    ds.PatientID = "SUBJ-0042"
    ds.StudyDate = "20190303"
    ds.SeriesInstanceUID = "2.25.99"
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    assert analyze_dataset(ds, "mem") == []


# -- Declarations --------------------------------------------------------------


def test_burned_in_annotation_yes_is_a_declaration_finding():
    ds = Dataset()
    ds.BurnedInAnnotation = "YES"
    f = _by_path(ds)["BurnedInAnnotation"]
    assert (f.rule, f.category, f.value) == ("declaration.burned-in", "declaration", "YES")


def test_identity_removed_while_a_name_remains_is_flagged():
    """Given PatientIdentityRemoved=YES but a real patient name, then the
    declaration is reported and the name (and UIDs) stay reported."""
    ds = _patient()
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.9"
    ds.PatientIdentityRemoved = "YES"
    found = _by_path(ds)
    assert found["PatientIdentityRemoved"].rule == "declaration.identity-removed"
    assert {"PatientName", "StudyInstanceUID"} <= found.keys()


# -- Free text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Okafor chest protocol", "free-text.propagation"),
        ("ref MRN7731904", "free-text.propagation"),
        ("DOB 02/14/1979", "free-text.propagation"),
        ("born 14 Feb 1979", "free-text.propagation"),
        ("Call (312) 555-0147 with results", "free-text.phone"),
        ("Contact ines.novak@example.org", "free-text.email"),
        ("SSN 512-44-9182 on file", "free-text.ssn"),
        ("Lives at 4410 Willow Creek Lane", "free-text.address"),
        ("Discussed with Dr. Ashworth", "free-text.name"),
        ("Prior scan 2021-03-04", "free-text.date"),
        ("MRN: 4471920", "free-text.id"),
    ],
)
def test_free_text_identifiers_are_found(text, rule):
    """Given an identifier written into ImageComments, then the rule naming it fires."""
    ds = _patient()
    ds.ImageComments = text
    f = _by_path(ds)["ImageComments"]
    assert (f.rule, f.category) == (rule, "free_text")


def test_free_text_finding_keeps_the_profile_action():
    ds = _patient()
    ds.SeriesDescription = "OKAFOR CHEST"
    assert _by_path(ds)["SeriesDescription"].detail["action"] == "X"


def test_propagation_reaches_attributes_outside_the_profile():
    """Given the patient ID copied into an unlisted LO attribute, then ``propagation`` reports it."""
    ds = _patient()
    ds.SoftwareVersions = "MRN7731904"
    assert _by_path(ds)["SoftwareVersions"].rule == "propagation"


# -- Structured reports --------------------------------------------------------


def _sr_item(value_type: str, **values) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = value_type
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "99X", "99LOCAL", f"Concept {value_type}"
    item.ConceptNameCodeSequence = Sequence([code])
    for k, v in values.items():
        setattr(item, k, v)
    return item


def test_sr_content_items_are_found_with_their_rules():
    """Given PNAME, DATE, DATETIME, TIME and TEXT content items, then each has its sr/free-text rule."""
    ds = _patient()
    ds.ContentSequence = Sequence(
        [
            _sr_item("PNAME", PersonName="Thornton^Grace"),
            _sr_item("DATE", Date="20230405"),
            _sr_item("DATETIME", DateTime="20230405101500"),
            _sr_item("TIME", Time="101500"),
            _sr_item("TEXT", TextValue="Patient Okafor stable"),
            _sr_item("TEXT", TextValue="No acute abnormality."),
        ]
    )
    found = _by_path(ds)
    assert found["ContentSequence[0].PersonName"].rule == "sr.pname"
    assert found["ContentSequence[1].Date"].rule == "sr.date"
    assert found["ContentSequence[2].DateTime"].rule == "sr.datetime"
    assert found["ContentSequence[3].Time"].rule == "sr.time"
    text = found["ContentSequence[4].TextValue"]
    assert (text.rule, text.detail["value_type"], text.detail["concept"]) == (
        "free-text.propagation", "TEXT", "Concept TEXT")  # fmt: skip
    assert "ContentSequence[5].TextValue" not in found


def test_verifying_observer_is_found():
    ds = Dataset()
    vo = Dataset()
    vo.VerifyingObserverName = "Quintero^Mateo"
    vo.VerifyingOrganization = "Northgate Clinic"
    ds.VerifyingObserverSequence = Sequence([vo])
    found = _by_path(ds)
    assert found["VerifyingObserverSequence[0].VerifyingObserverName"].category == "direct_identifier"
    assert found["VerifyingObserverSequence[0].VerifyingOrganization"].category == "institution_device"


# -- Private data ----------------------------------------------------------------


def test_private_value_matching_the_patient_id_is_found():
    ds = _patient()
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x02, "LO", "MRN7731904")
    f = _by_path(ds)["(0029,1002)"]
    assert (f.rule, f.category, f.detail["creator"]) == ("private.propagation", "private", "ACME PACS 1.0")


def test_private_ob_holding_text_is_decoded_and_scanned():
    ds = _patient()
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x03, "OB", b"Tel 617-555-0199 ")
    assert _by_path(ds)["(0029,1003)"].rule == "private.phone"


def test_private_binary_data_is_not_scanned_as_text():
    ds = _patient()
    ds.private_block(0x0029, "ACME PACS 1.0", create=True).add_new(0x07, "OB", b"\x01\x00617-555-0199\x00\x00")
    assert "(0029,1007)" not in _by_path(ds)


def test_known_identity_private_creator_is_reported():
    """Given MITRA's Global Patient ID (pydicom private dictionary), then private.creator fires."""
    ds = Dataset()
    ds.private_block(0x0031, "MITRA LINKED ATTRIBUTES 1.0", create=True).add_new(0x20, "LO", "G-4471920")
    f = _by_path(ds)["(0031,1020)"]
    assert (f.rule, f.detail["name"]) == ("private.creator", "Global Patient ID")


def test_private_vendor_numbers_are_not_findings():
    ds = _patient()
    block = ds.private_block(0x0019, "ACME ACQ 1.0", create=True)
    block.add_new(0x01, "LO", "AXIAL 5MM")
    block.add_new(0x02, "DS", "1.25")
    block.add_new(0x03, "LO", "4.0.12412818")
    assert not [p for p in _by_path(ds) if p.startswith("(0019")]


# -- Character sets and masking ------------------------------------------------------


def test_utf8_name_propagates_into_free_text():
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "山田^太郎"
    ds.ImageComments = "山田 経過観察"
    assert _by_path(ds)["ImageComments"].rule == "free-text.propagation"


def test_values_are_masked_by_default():
    found = _by_path(_patient())
    assert found["PatientName"].value == mask_value("Okafor^Priya") == "O*****"


def test_show_values_keeps_the_raw_value():
    assert _by_path(_patient(), show_values=True)["PatientName"].value == "Okafor^Priya"


def test_analysis_emits_no_warnings():
    """Given an unknown character set (pydicom warns), then the analyzer falls
    back silently and still reports the name."""
    ds = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns when the value is set
        ds.SpecificCharacterSet = "ISO-IR 1OO"
    ds.PatientName = "Lindqvist^Clara"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _by_path(ds)
    assert "PatientName" in found
    assert caught == []


def test_pydicom_log_records_do_not_carry_values(caplog):
    """Given pydicom logging an invalid value while a header is read, then the
    record shows the masked value only."""
    import logging

    from pydicom.misc import warn_and_log

    with caplog.at_level(logging.WARNING, logger="pydicom"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warn_and_log("Invalid value for VR DA: 'Okafor^Priya'")
    assert "Okafor" not in caplog.text
    assert "O*****" in caplog.text
