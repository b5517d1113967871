"""The compliance frameworks and the check catalogue must agree (prowler-style validation)."""

from __future__ import annotations

import pytest

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.compliance import Control, Framework, controls_by_check, load_frameworks, mapping_problems, parse_framework


def test_catalogue_and_frameworks_are_consistent() -> None:
    """Given the shipped catalogue and frameworks
    When they are cross-checked
    Then every check maps to a control and every referenced check exists."""
    assert mapping_problems(load_catalogue()) == []


def test_an_unmapped_check_is_reported() -> None:
    """Given a catalogue with a check no framework references
    Then the consistency check names it (so the test above can fail)."""
    problems = mapping_problems([*load_catalogue(), "retrieve.unauthenticated"])
    assert problems == ["check 'retrieve.unauthenticated' is not mapped to any control"]


def test_a_framework_referencing_an_unknown_check_is_reported() -> None:
    """Given a framework whose control names a renamed check
    Then the consistency check names the framework, control and check."""
    broken = Framework("X", "Broken", (Control("C-1", "Anything", ("find.unauthenticatd",)),))
    problems = mapping_problems(load_catalogue(), [*load_frameworks(), broken])
    assert problems == ["X C-1: unknown check 'find.unauthenticatd'"]


def test_every_check_is_evidence_in_every_framework() -> None:
    """Given the four shipped frameworks
    Then each catalogue check gives evidence for at least one control in each of them."""
    keys = {fw.key for fw in load_frameworks()}
    assert keys == {"HIPAA", "GDPR", "NIST SP 800-53", "NIST SP 1800-24"}
    mapping = controls_by_check()
    missing = [(cid, fw) for cid in load_catalogue() for fw in keys if fw not in mapping.get(cid, {})]
    assert missing == []


def test_every_control_has_a_title_and_a_note() -> None:
    """Auditors read control titles and the reason for each mapping: none may be empty."""
    empty = [(fw.key, c.id) for fw in load_frameworks() for c in fw.controls if not c.title.strip() or not c.note]
    assert empty == []


def test_catalogue_definitions_carry_the_inverted_mapping() -> None:
    """Given the catalogue loader
    Then each check definition carries exactly the controls the frameworks map to it."""
    mapping = controls_by_check()
    for cid, definition in load_catalogue().items():
        assert dict(definition.compliance) == mapping[cid]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "n", "controls": []}, "framework"),
        ({"framework": "F", "name": "n", "controls": [{"id": "A", "title": "t"}]}, "checks"),
        ({"framework": "F", "name": "n", "controls": [{"id": "A", "title": "t", "checks": ["a.b", "a.b"]}]},
         "lists a check twice"),
        ({"framework": "F", "name": "n", "controls": [{"id": "A", "title": "t", "checks": []},
                                                      {"id": "A", "title": "u", "checks": []}]},
         "duplicate control id"),
    ],
)
def test_malformed_framework_files_are_rejected(data: dict, message: str) -> None:
    """Given a malformed framework document
    Then parsing fails with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        parse_framework(data, "test.json")
