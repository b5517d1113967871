"""The compliance frameworks and the check catalogue must agree (prowler-style validation)."""

from __future__ import annotations

import pytest

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.compliance import (
    Control,
    Framework,
    Relation,
    controls_by_check,
    load_frameworks,
    mapping_problems,
    parse_framework,
)


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
        (
            {"framework": "F", "name": "n", "controls": [{"id": "A", "title": "t", "checks": ["a.b", "a.b"]}]},
            "lists a check twice",
        ),
        (
            {
                "framework": "F",
                "name": "n",
                "controls": [{"id": "A", "title": "t", "checks": []}, {"id": "A", "title": "u", "checks": []}],
            },
            "duplicate control id",
        ),
    ],
)
def test_malformed_framework_files_are_rejected(data: dict, message: str) -> None:
    """Given a malformed framework document
    Then parsing fails with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        parse_framework(data, "test.json")


def test_every_control_declares_how_the_evidence_bears_on_it() -> None:
    """Given the shipped frameworks
    Then each control says whether the checks test it or inform a process, and every process control whose
    evidence can fail says what the organisation should do about it (its follow-up)."""
    import json
    from importlib import resources

    for entry in resources.files("dicomaudit.compliance").iterdir():
        if entry.name.endswith(".json"):
            for c in json.loads(entry.read_text(encoding="utf-8"))["controls"]:
                assert c.get("relation") in ("tests", "informs"), (entry.name, c["id"])
    can_fail = {cid for cid, d in load_catalogue().items() if d.severity.value != "info"} | {"files.phi"}
    missing = [
        (fw.key, c.id)
        for fw in load_frameworks()
        for c in fw.controls
        if c.relation is Relation.INFORMS and set(c.checks) & can_fail and not c.follow_up
    ]
    assert missing == []


def test_process_controls_get_evidence_and_follow_up_never_an_exception() -> None:
    """Given a run with open exposures on one node
    When HIPAA is judged
    Then risk analysis (a process) gets 'evidence provided, follow-up needed', never an exception,
    while access control (a technical safeguard) gets an exception naming the node."""
    from dicomaudit.compliance.evaluate import ControlVerdict, evaluate
    from dicomaudit.policy import assess
    from tests.output.builders import make_result

    hipaa = next(fw for fw in load_frameworks() if fw.key == "HIPAA")
    judged = {c.control.id: c for c in evaluate(hipaa, assess(make_result())).controls}
    risk_analysis = judged["164.308(a)(1)(ii)(A)"]
    assert risk_analysis.verdict is ControlVerdict.FOLLOW_UP
    assert risk_analysis.follow_up and "risk analysis" in risk_analysis.follow_up
    access = judged["164.312(a)(1)"]
    assert access.verdict is ControlVerdict.EXCEPTION
    assert [n.node for n in access.exception_nodes] == ["127.0.0.1:4242/ORTHANC"]


def test_no_process_control_is_ever_judged_met_or_not_met() -> None:
    """Given runs with exposures, with passes only, and with undecided nodes
    Then no 'informs' control of any framework gets an exception or a 'no exception' verdict."""
    from dicomaudit.compliance.evaluate import ControlVerdict, evaluate
    from dicomaudit.policy import assess
    from tests.output.builders import down_node, locked_node, make_result

    runs = [make_result(), make_result((locked_node(),), phi=()), make_result((down_node(),), phi=())]
    verdicts = {
        c.verdict
        for run in runs
        for fw in load_frameworks()
        for c in evaluate(fw, assess(run)).controls
        if c.control.relation is Relation.INFORMS
    }
    assert verdicts.isdisjoint({ControlVerdict.EXCEPTION, ControlVerdict.NO_EXCEPTION, ControlVerdict.ACCEPTED})


def test_a_safeguard_tested_on_locked_nodes_only_reads_no_exception_noted() -> None:
    """Given a run where the only node refused everything (and spoke TLS only)
    Then the technical safeguards read 'No exception noted', worded for the nodes tested."""
    from dicomaudit.compliance.evaluate import ControlVerdict, evaluate
    from dicomaudit.policy import assess
    from tests.output.builders import locked_node, make_result

    nist = next(fw for fw in load_frameworks() if fw.key == "NIST SP 800-53")
    judged = {c.control.id: c for c in evaluate(nist, assess(make_result((locked_node(),), phi=()))).controls}
    assert judged["AC-3"].verdict is ControlVerdict.NO_EXCEPTION
    assert judged["AC-3"].verdict.label == "No exception noted"
    assert judged["SC-8"].verdict is ControlVerdict.NO_EXCEPTION


def test_a_framework_file_with_an_unknown_relation_is_rejected() -> None:
    """Given a control whose relation is neither 'tests' nor 'informs'
    Then parsing fails naming the control."""
    data = {"framework": "F", "name": "n", "controls": [{"id": "A", "title": "t", "checks": [], "relation": "proves"}]}
    with pytest.raises(ValueError, match="control 'A': relation 'proves'"):
        parse_framework(data, "test.json")
