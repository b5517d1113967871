"""The Basic Application Level Confidentiality Profile, as a lookup table.

PS3.15 Annex E Table E.1-1 lists every attribute a de-identifier must touch
and the action it takes (D dummy, Z zero-length, X remove, U replace UID, and
combinations).  The table is taken from ``dicomanonymizer``'s 2026c lists
(generated from the standard's XML), never copied by hand, and joined with
pydicom's data dictionary for keywords and VRs.

Each tag is classified into how the analyzer treats a non-empty value:

* a *structured* identifier (:class:`Treatment.FIXED`): any real value is a
  finding of a given :class:`~dicomaudit.phi.categories.Kind` (PatientName,
  AccessionNumber, StudyDate, InstitutionName, StudyInstanceUID...);
* a *free-text* descriptor (:class:`Treatment.TEXT`): only a finding when the
  text carries an identifier (``CT CHEST W/O CONTRAST`` is not one);
* an *age* (:class:`Treatment.AGE`, PatientAge and any other AS attribute of
  the table): a finding only when over 89 years (HIPAA Safe Harbor,
  45 CFR 164.514(b)(2)(i)(C)); younger ages are characteristics, not
  identifiers;
* *ignored*: not identifying on its own (sex, size, weight, binary
  signatures, padding) or a sequence, whose items are walked instead.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

from pydicom.datadict import dictionary_VR, keyword_for_tag

from dicomaudit.phi.categories import Kind

#: ``dicomanonymizer`` list name -> Annex E action code.
_ACTION_LISTS: dict[str, str] = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}

PROFILE_SOURCE = "dicomanonymizer.dicom_anonymization_databases.dicomfields_2026c"


class Treatment(enum.Enum):
    FIXED = "fixed"  # any real value identifies (of ``kind``)
    TEXT = "text"  # scan the content
    AGE = "age"  # an AS value: identifying over 89 years only
    IGNORE = "ignore"  # not identifying alone, or walked into (SQ)


@dataclass(frozen=True, slots=True)
class TagRule:
    """How one public tag is treated."""

    action: str | None  # Annex E action code; None when not in Table E.1-1
    treatment: Treatment
    kind: Kind | None = None


# Not identifying on their own (the brief's precision list, and PS3.15 E.3.6
# "Retain Patient Characteristics" shows the committee treats them as
# characteristics, not identifiers).  PatientAge is an AS value: see Treatment.AGE.
_NOT_ALONE = {
    "PatientSex",
    "PatientSexNeutered",
    "PatientSize",
    "PatientWeight",
    "PregnancyStatus",
    "SmokingStatus",
    "InstanceOriginStatus",
    "TimezoneOffsetFromUTC",
    "ReasonForTheAttributeModification",  # CS: COERCE / CORRECT
    "ContrastBolusAgent",
    "DataSetTrailingPadding",
    "RTAccessoryDeviceSlotID",  # a slot on the treatment machine, not a person
    "RTAccessoryHolderSlotID",
}

# Labels rather than identifiers, despite an "ID" keyword: scan their text.
_TEXT_DESPITE_ID = {"ClinicalTrialTimePointID", "ClinicalTrialSeriesID"}

_ORDER_NUMBERS = {"FillerOrderNumberImagingServiceRequest", "PlacerOrderNumberImagingServiceRequest"}

_QUASI = {
    "BranchOfService",
    "CountryOfResidence",
    "RegionOfResidence",
    "EthnicGroup",
    "MilitaryRank",
    "Occupation",
    "PatientReligiousPreference",
    "PatientInstitutionResidence",
    "ScheduledPatientInstitutionResidence",
    "CurrentPatientLocation",
}

_DEVICE_IDS = {
    "CassetteID",
    "DetectorID",
    "GantryID",
    "GeneratorID",
    "HardcopyCreationDeviceID",
    "PlateID",
    "SecondaryCaptureDeviceID",
    "XRayDetectorID",
    "XRaySourceID",
    "DeviceSerialNumber",
    "SourceSerialNumber",
    "LensSerialNumber",
    "LensMake",
    "LensModel",
    "UniqueDeviceIdentifier",
    "ManufacturerDeviceIdentifier",
    "DeviceAlternateIdentifier",
    "ModifyingDeviceID",
    "ContainerComponentID",
    "TreatmentMachineName",
    "ModifyingSystem",
    "SourceManufacturer",
}

_INSTITUTION = {
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "PerformedStationName",
    "ScheduledStationName",
    "PerformedLocation",
    "ScheduledProcedureStepLocation",
    "ScheduledStudyLocation",
    "RequestedProcedureLocation",
    "OrderEntererLocation",
    "RequestingService",
    "ResponsibleOrganization",
    "HumanPerformerOrganization",
    "VerifyingOrganization",
    "ClinicalTrialSponsorName",
    "ClinicalTrialSiteName",
    "ClinicalTrialSiteID",
    "ClinicalTrialCoordinatingCenterName",
    "ClinicalTrialProtocolEthicsCommitteeName",
    "SourceOfPreviousValues",
    "TopicAuthor",
}

_ID_RE = re.compile(r"(?:ID|IDs|Identifier|Number|Locator|Identification|ApprovalNumber)$")
_CONTACT_RE = re.compile(r"(Address|Telephone|Telecom|Phone)")
_BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_TEXT_VRS = {"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UT", "UR", "AS"}


def _classify(keyword: str, vr: str) -> tuple[Treatment, Kind | None]:
    """Decide how a Table E.1-1 attribute is treated from keyword and VR."""
    if vr == "AS":
        return Treatment.AGE, Kind.AGE
    if vr == "SQ" or keyword in _NOT_ALONE:
        return Treatment.IGNORE, None
    if vr == "PN" or keyword in {"CameraOwnerName"}:
        return Treatment.FIXED, Kind.NAME
    if vr == "UI":
        return Treatment.FIXED, Kind.UID
    if vr == "DA" or vr == "DT":
        return Treatment.FIXED, Kind.DATE
    if vr == "TM":
        return Treatment.FIXED, Kind.TIME
    if keyword.startswith("GPS"):
        # Where the camera was: a location, narrows the population.
        return (Treatment.IGNORE, None) if vr in _BINARY_VRS else (Treatment.FIXED, Kind.QUASI)
    if not keyword:
        # Newer than pydicom's dictionary: classified from the element's
        # own VR when met (PN, dates and UIDs first, then as text).
        return Treatment.TEXT, None
    if vr in _BINARY_VRS:
        # Signatures, MACs, encapsulated documents, overlay/curve data.
        return Treatment.IGNORE, None
    if keyword in _TEXT_DESPITE_ID:
        return Treatment.TEXT, None
    if keyword in _ORDER_NUMBERS:
        return Treatment.FIXED, Kind.ID
    if keyword in _QUASI:
        return Treatment.FIXED, Kind.QUASI
    if keyword in _INSTITUTION:
        return Treatment.FIXED, Kind.INSTITUTION
    if keyword in _DEVICE_IDS or vr == "AE":
        return Treatment.FIXED, Kind.DEVICE
    if keyword.startswith("IssuerOf") or keyword.endswith("Issuer"):
        return Treatment.FIXED, Kind.INSTITUTION
    if _CONTACT_RE.search(keyword) or keyword in {"AddressTrial", "TelephoneNumberTrial"}:
        if "Phone" in keyword or "Telephone" in keyword or "Telecom" in keyword:
            return Treatment.FIXED, Kind.PHONE
        return Treatment.FIXED, Kind.ADDRESS
    if keyword in {"InsurancePlanIdentification", "MedicalRecordLocator", "BarcodeValue"}:
        return Treatment.FIXED, Kind.ID
    if _ID_RE.search(keyword) and "Description" not in keyword:
        return Treatment.FIXED, Kind.ID
    if vr in _TEXT_VRS:
        return Treatment.TEXT, None
    # Numeric VRs in the table (e.g. selector values) carry no identity.
    return Treatment.IGNORE, None


@dataclass(frozen=True)
class _Masked:
    group: int
    element: int
    group_mask: int
    element_mask: int
    action: str

    def matches(self, tag: int) -> bool:
        g, e = tag >> 16, tag & 0xFFFF
        return (g & self.group_mask) == (self.group & self.group_mask) and (e & self.element_mask) == (
            self.element & self.element_mask
        )


@dataclass(frozen=True)
class ConfidentialityProfile:
    """Table E.1-1: tag -> action code, plus the repeating-group entries."""

    actions: dict[int, str]
    masked: tuple[_Masked, ...]

    def action(self, tag: int) -> str | None:
        found = self.actions.get(tag)
        if found is not None:
            return found
        if (tag >> 16) & 0xFF00 in (0x5000, 0x6000):
            for m in self.masked:
                if m.matches(tag):
                    return m.action
        return None


@lru_cache(maxsize=1)
def load_profile() -> ConfidentialityProfile:
    """Read Table E.1-1 from ``dicomanonymizer`` (2026c edition)."""
    import importlib

    module = importlib.import_module(PROFILE_SOURCE)
    actions: dict[int, str] = {}
    masked: list[_Masked] = []
    for list_name, code in _ACTION_LISTS.items():
        for entry in getattr(module, list_name):
            if len(entry) == 2:
                actions[(entry[0] << 16) | entry[1]] = code
            else:
                group, element, group_mask, element_mask = entry
                masked.append(_Masked(group, element, group_mask, element_mask, action=code))
    return ConfidentialityProfile(actions=actions, masked=tuple(masked))


@lru_cache(maxsize=1)
def profile_rules() -> dict[int, TagRule]:
    """Every Table E.1-1 tag with its treatment, keyed by integer tag."""
    rules: dict[int, TagRule] = {}
    for tag, action in load_profile().actions.items():
        keyword = keyword_for_tag(tag)
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = ""
        treatment, kind = _classify(keyword, vr.split(" or ")[0])
        rules[tag] = TagRule(action=action, treatment=treatment, kind=kind)
    return rules


#: Public attributes outside Table E.1-1 that are still free text worth
#: scanning (PS3.15 E.1.1 makes the de-identifier responsible for any
#: attribute that may contain identifying text).
_EXTRA_FREE_TEXT = (
    0x00181030,  # ProtocolName (also in E.1-1)
    0x0040A160,  # TextValue
    0x00082111,  # DerivationDescription
    0x00204000,  # ImageComments
    0x00400254,  # PerformedProcedureStepDescription
    0x00321060,  # RequestedProcedureDescription
    0x00081030,  # StudyDescription
    0x0008103E,  # SeriesDescription
    0x00180015,  # BodyPartExamined
    0x00400007,  # ScheduledProcedureStepDescription
    0x00400280,  # CommentsOnThePerformedProcedureStep
    0x00284000,  # ImagePresentationComments
    0x00700080,  # ContentLabel
    0x00700081,  # ContentDescription
    0x20300020,  # TextString
    0x00700006,  # UnformattedTextValue
)


@lru_cache(maxsize=1)
def all_rules() -> dict[int, TagRule]:
    """Table E.1-1 rules plus the extra free-text attributes scanned."""
    rules = dict(profile_rules())
    for tag in _EXTRA_FREE_TEXT:
        if tag not in rules:
            rules[tag] = TagRule(action=None, treatment=Treatment.TEXT)
    return rules
