"""Free-text detectors: identifiers in prose, and clinical text that is not one."""

from __future__ import annotations

import pytest

from dicomaudit.phi.categories import Kind
from dicomaudit.phi.detectors import date_formats, detect, is_placeholder
from dicomaudit.phi.propagation import PropagationIndex


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Call 555-123-4567", Kind.PHONE),
        ("(617) 555-0123", Kind.PHONE),
        ("+44 20 7946 0958", Kind.PHONE),
        ("Tel: 030 12345678", Kind.PHONE),
        ("callback 555-0142", Kind.PHONE),
        ("anna.miller@example.org", Kind.EMAIL),
        ("SSN 123-45-6789", Kind.SSN),
        ("social security number 123 45 6789", Kind.SSN),
        ("MRN: 4471920", Kind.ID),
        ("Acc# A-99812", Kind.ID),
        ("ID: 445122", Kind.ID),
        ("ref 88123456", Kind.ID),
        ("42 Elm Street", Kind.ADDRESS),
        ("Hauptstrasse 12", Kind.ADDRESS),
        ("Springfield, IL 62704", Kind.ADDRESS),
        ("Dr. Howard", Kind.NAME),
        ("Prof. Müller", Kind.NAME),
        ("Reviewed by J. Smith", Kind.NAME),
        ("Patient: John Smith", Kind.NAME),
        ("1985-03-12", Kind.DATE),
        ("03/12/1985", Kind.DATE),
        ("12.03.1985", Kind.DATE),
        ("12-MAR-1985", Kind.DATE),
        ("March 12, 1985", Kind.DATE),
        ("19850312", Kind.DATE),
        ("3/12/85", Kind.DATE),
    ],
)
def test_identifier_shapes_are_detected(text, kind):
    assert kind in detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "CT CHEST W/O CONTRAST", "AXIAL 5MM", "ABD/PELVIS 3.0 B30f", "DLP 412.5 mGy*cm", "W/L 400/40",
        "BP 120/80 HR 72", "DR CHEST PA", "MR BRAIN W/O", "PATIENT MOVED, REPEAT", "Software 3.10.22",
        "4.0.12412818", "Slice 1.25/2.5 mm", "Series 3 of 5", "KNEE RT 3 VIEWS", "Performed by technologist",
        "Patient tolerated procedure well", "11111111093402.100721-0700", "Contrast 80 ml Omnipaque 350",
    ],
)  # fmt: skip
def test_clinical_text_is_not_an_identifier(text):
    assert detect(text) == set()


@pytest.mark.parametrize("value", ["ANONYMOUS", "Anonymized", "ANON0042", "^", "REMOVED", "Last Name^First Name", ""])
def test_placeholders_are_recognised(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["Doe^John", "Test^Patient", "SMITH"])
def test_names_are_not_placeholders(value):
    assert not is_placeholder(value)


def test_birth_date_spellings_cover_common_formats():
    forms = set(date_formats("19850312"))
    assert {"1985-03-12", "03/12/1985", "12.03.1985", "12 Mar 1985", "March 12, 1985", "3/12/1985"} <= forms


def test_propagation_matches_whole_tokens_only():
    """Given the family name "Lin", then "Lincoln" does not match but "LIN chest" does."""
    index = PropagationIndex()
    index.add_name("Lin^Yue")
    assert index.search("Lincoln Center") == set()
    assert index.search("LIN chest") == {Kind.NAME}
