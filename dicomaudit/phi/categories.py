"""What kind of identifying data a finding is, and how bad it is.

A finding has a *kind* (what was recognised: a name, an ID, a date...) and a
*category* (the row it lands in in the summary table).  Severity follows the
kind, so a phone number hidden in a SeriesDescription is as severe as one in
PatientTelephoneNumbers; the category says *where* the audit should look.

The categories mirror the groups of PS3.15 Annex E Table E.1-1 an auditor
reasons about: direct identifiers (names, IDs, contacts), dates and times,
UIDs, institution and device identity, free-text descriptors, private data,
quasi-identifiers and the de-identification declarations themselves.
"""

from __future__ import annotations

import enum

from dicomaudit.models import Severity


class Category(enum.StrEnum):
    """Summary rows; stable ids used in JSON/CSV output."""

    DIRECT = "direct_identifier"
    DATE_TIME = "date_time"
    UID = "uid"
    INSTITUTION_DEVICE = "institution_device"
    FREE_TEXT = "free_text"
    PRIVATE = "private"
    QUASI = "quasi_identifier"
    DECLARATION = "declaration"


class Kind(enum.StrEnum):
    """What was recognised in a value."""

    NAME = "name"
    ID = "id"
    SSN = "ssn"
    ADDRESS = "address"
    PHONE = "phone"
    EMAIL = "email"
    BIRTH_DATE = "birth_date"
    DATE = "date"
    TIME = "time"
    UID = "uid"
    INSTITUTION = "institution"
    DEVICE = "device"
    QUASI = "quasi"
    AGE = "age"
    DECLARATION = "declaration"


#: Severity per kind.  Names, IDs and contacts identify a person on their
#: own (HIPAA Safe Harbor 164.514(b)(2)(i)); dates narrow a record down;
#: UIDs link a copy back to the source PACS; institution/device identity
#: narrows the population; an age over 89 is a Safe Harbor identifier
#: (164.514(b)(2)(i)(C)) that narrows it to a few people.
KIND_SEVERITY: dict[Kind, Severity] = {
    Kind.NAME: Severity.HIGH,
    Kind.ID: Severity.HIGH,
    Kind.SSN: Severity.CRITICAL,
    Kind.ADDRESS: Severity.HIGH,
    Kind.PHONE: Severity.HIGH,
    Kind.EMAIL: Severity.HIGH,
    Kind.BIRTH_DATE: Severity.HIGH,
    Kind.DATE: Severity.MEDIUM,
    Kind.TIME: Severity.LOW,
    Kind.UID: Severity.LOW,
    Kind.INSTITUTION: Severity.MEDIUM,
    Kind.DEVICE: Severity.LOW,
    Kind.QUASI: Severity.LOW,
    Kind.AGE: Severity.MEDIUM,
    Kind.DECLARATION: Severity.HIGH,
}

#: Default category of each kind when found in a dedicated (structured)
#: element.  Free-text and private elements override this with their own
#: category.
KIND_CATEGORY: dict[Kind, Category] = {
    Kind.NAME: Category.DIRECT,
    Kind.ID: Category.DIRECT,
    Kind.SSN: Category.DIRECT,
    Kind.ADDRESS: Category.DIRECT,
    Kind.PHONE: Category.DIRECT,
    Kind.EMAIL: Category.DIRECT,
    Kind.BIRTH_DATE: Category.DATE_TIME,
    Kind.DATE: Category.DATE_TIME,
    Kind.TIME: Category.DATE_TIME,
    Kind.UID: Category.UID,
    Kind.INSTITUTION: Category.INSTITUTION_DEVICE,
    Kind.DEVICE: Category.INSTITUTION_DEVICE,
    Kind.QUASI: Category.QUASI,
    Kind.AGE: Category.QUASI,
    Kind.DECLARATION: Category.DECLARATION,
}

#: Typical severity of each category, for documentation and the summary
#: table (the worst kind that usually lands there).
CATEGORY_SEVERITY: dict[Category, Severity] = {
    Category.DIRECT: Severity.HIGH,
    Category.DATE_TIME: Severity.MEDIUM,
    Category.UID: Severity.LOW,
    Category.INSTITUTION_DEVICE: Severity.MEDIUM,
    Category.FREE_TEXT: Severity.HIGH,
    Category.PRIVATE: Severity.HIGH,
    Category.QUASI: Severity.LOW,
    Category.DECLARATION: Severity.HIGH,
}


def worst(kinds: list[Kind] | tuple[Kind, ...] | set[Kind]) -> Kind:
    """The most severe kind of several found in one value (stable order)."""
    return max(sorted(kinds), key=lambda k: KIND_SEVERITY[k].rank)
