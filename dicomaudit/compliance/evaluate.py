"""What one run's evidence says about each control of a framework.

The wording is an auditor's, and it depends on the control's
:class:`~dicomaudit.compliance.Relation`:

* a control the checks **test** (a technical safeguard) gets *exception
  noted* when a mapped check fails on a node (the safeguard was seen not to
  work there), *no exception noted* when the checks that ran all passed,
  *not determined* when some could not be decided;
* a control the run only **informs** (a process: risk analysis,
  vulnerability management, breach assessment...) gets *evidence provided*,
  with the control's follow-up when open findings call for it.  Such a
  control is never said to be met or not met.

Controls none of whose evidence was produced by the run are *not assessed*,
and reports list them apart, so a report about DICOM files does not speak
about network safeguards and the other way round.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from dicomaudit.compliance import FILE_ANALYSIS, Control, Framework, Relation
from dicomaudit.policy import AssessedCheck, Assessment, Verdict


class ControlVerdict(enum.StrEnum):
    """What the evidence of this run says about one control."""

    EXCEPTION = "exception"  # TESTS: a mapped check fails (not waived) on at least one node
    UNDETERMINED = "undetermined"  # no exception, but some mapped checks could not be decided
    ACCEPTED = "accepted"  # TESTS: the only exceptions are accepted risks
    NO_EXCEPTION = "no_exception"  # TESTS: every mapped check that ran passed
    FOLLOW_UP = "follow_up"  # INFORMS: evidence provided, and open findings call for the follow-up
    EVIDENCE = "evidence"  # INFORMS: evidence provided
    NOT_ASSESSED = "not_assessed"  # the run produced none of the control's evidence

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def tone(self) -> str:
        """The badge style of the verdict: the check state it reads like."""
        return _TONES[self]


_LABELS = {
    ControlVerdict.EXCEPTION: "Exception noted",
    ControlVerdict.UNDETERMINED: "Not determined",
    ControlVerdict.ACCEPTED: "Exception accepted",
    ControlVerdict.NO_EXCEPTION: "No exception noted",
    ControlVerdict.FOLLOW_UP: "Evidence provided, follow-up needed",
    ControlVerdict.EVIDENCE: "Evidence provided",
    ControlVerdict.NOT_ASSESSED: "Not assessed in this run",
}
_TONES = {
    ControlVerdict.EXCEPTION: "fail",
    ControlVerdict.UNDETERMINED: "error",
    ControlVerdict.ACCEPTED: "accepted",
    ControlVerdict.NO_EXCEPTION: "pass",
    ControlVerdict.FOLLOW_UP: "info",
    ControlVerdict.EVIDENCE: "info",
    ControlVerdict.NOT_ASSESSED: "skipped",
}


@dataclass(frozen=True)
class NodeStanding:
    """One node's mapped checks, by verdict, for one control."""

    node: str
    open: tuple[str, ...] = ()
    accepted: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()
    passed: tuple[str, ...] = ()
    observed: tuple[str, ...] = ()  # info

    @property
    def verdict(self) -> ControlVerdict:
        """As a TESTS control would read it on this node alone."""
        if self.open:
            return ControlVerdict.EXCEPTION
        if self.undecided:
            return ControlVerdict.UNDETERMINED
        if self.accepted:
            return ControlVerdict.ACCEPTED
        if self.passed:
            return ControlVerdict.NO_EXCEPTION
        return ControlVerdict.NOT_ASSESSED

    @property
    def assessed(self) -> bool:
        return bool(self.open or self.accepted or self.undecided or self.passed or self.observed)


@dataclass(frozen=True)
class FileEvidence:
    """The PHI analysis of files, as evidence: how many values in how many files."""

    values: int
    files: int

    @property
    def found(self) -> bool:
        return self.values > 0


@dataclass(frozen=True)
class ControlResult:
    control: Control
    verdict: ControlVerdict
    nodes: tuple[NodeStanding, ...] = ()  # nodes on which a mapped check ran
    files: FileEvidence | None = None  # when the control maps the file analysis and files were analysed

    @property
    def open_findings(self) -> int:
        return sum(len(n.open) for n in self.nodes)

    @property
    def evidence_text(self) -> str:
        """What the nodes' mapped checks showed, for a control the run informs."""
        if not self.nodes:
            return ""
        names = ", ".join(n.node for n in self.nodes)
        undecided = sum(len(n.undecided) for n in self.nodes)
        if self.open_findings:
            what = f"{self.open_findings} open finding(s)"
        elif any(n.passed or n.accepted for n in self.nodes):
            what = "no open finding"
        elif any(n.observed for n in self.nodes):
            ids = ", ".join(dict.fromkeys(i for n in self.nodes for i in n.observed))
            what = f"observations recorded ({ids})"
        else:
            what = "nothing decided"
        return f"{names}: {what}" + (f", {undecided} check(s) undecided" if undecided else "") + "."

    @property
    def follow_up(self) -> str | None:
        return self.control.follow_up if self.verdict is ControlVerdict.FOLLOW_UP else None

    @property
    def exception_nodes(self) -> list[NodeStanding]:
        return [n for n in self.nodes if n.open]


@dataclass(frozen=True)
class FrameworkResult:
    framework: Framework
    controls: tuple[ControlResult, ...]

    @property
    def assessed(self) -> list[ControlResult]:
        return [c for c in self.controls if c.verdict is not ControlVerdict.NOT_ASSESSED]

    @property
    def not_assessed(self) -> list[ControlResult]:
        return [c for c in self.controls if c.verdict is ControlVerdict.NOT_ASSESSED]

    @property
    def tested(self) -> list[ControlResult]:
        """Assessed technical safeguards."""
        return [c for c in self.assessed if c.control.relation is Relation.TESTS]

    @property
    def informed(self) -> list[ControlResult]:
        """Assessed processes this run is evidence for."""
        return [c for c in self.assessed if c.control.relation is Relation.INFORMS]

    def with_verdict(self, *verdicts: ControlVerdict) -> list[ControlResult]:
        return [c for c in self.controls if c.verdict in verdicts]


def files_analysed(assessment: Assessment) -> bool:
    """Whether the run analysed DICOM files (``dicomaudit analyze``): its file findings, errors or paths say so."""
    r = assessment.result
    return bool(r.phi or r.errors or r.run.settings.get("paths"))


def file_summary(result: Any) -> Mapping[str, Any] | None:
    """The analysis summary of a run whose findings are not in the result (Parquet), else ``None``.

    A run that kept its findings is counted from them; one that wrote them to Parquet carries the
    summary its workers made (``run.stats["phi"]``), which is then the only account of them.
    """
    summary = result.run.stats.get("phi") if result.run.stats else None
    if summary is None or result.phi or not summary.get("findings"):
        return None
    return cast(Mapping[str, Any], summary)


def file_evidence(result: Any) -> FileEvidence:
    """Identifying values and the files holding them: counted from the findings, or from the summary of a
    Parquet run (whose findings are not in the result: counting those would say none were found)."""
    summary = file_summary(result)
    if summary is not None:
        return FileEvidence(values=int(summary["findings"]), files=int(summary.get("files_with_phi", 0)))
    return FileEvidence(values=len(result.phi), files=len({p.source for p in result.phi}))


def _standing(node: str, checks: Sequence[AssessedCheck]) -> NodeStanding:
    def ids(*verdicts: Verdict) -> tuple[str, ...]:
        return tuple(c.id for c in checks if c.verdict in verdicts)

    return NodeStanding(
        node=node,
        open=ids(Verdict.FAIL),
        accepted=ids(Verdict.ACCEPTED),
        undecided=ids(Verdict.ERROR),
        passed=ids(Verdict.PASS),
        observed=ids(Verdict.INFO),
    )


def evaluate_control(
    control: Control, assessment: Assessment, node_labels: Sequence[str] | None = None
) -> ControlResult:
    """The verdict of one control from one run (see the module docs for the wording)."""
    labels = node_labels or [str(n.target) for n in assessment.nodes]
    mapped = set(control.checks)
    standings = tuple(
        s
        for label, node in zip(labels, assessment.nodes, strict=True)
        if (s := _standing(label, [c for c in node.checks if c.id in mapped])).assessed
    )
    files = None
    if FILE_ANALYSIS in mapped and files_analysed(assessment):
        files = file_evidence(assessment.result)

    if control.relation is Relation.TESTS:
        worst = min((s.verdict for s in standings), key=list(ControlVerdict).index, default=ControlVerdict.NOT_ASSESSED)
        if files is not None:
            file_verdict = ControlVerdict.EXCEPTION if files.found else ControlVerdict.NO_EXCEPTION
            worst = min(worst, file_verdict, key=list(ControlVerdict).index)
        return ControlResult(control, worst, standings, files)

    found = any(s.open for s in standings) or (files is not None and files.found)
    decided = any(s.open or s.accepted or s.passed or s.observed for s in standings) or files is not None
    if found and control.follow_up:
        verdict = ControlVerdict.FOLLOW_UP
    elif decided:
        verdict = ControlVerdict.EVIDENCE
    elif standings:
        verdict = ControlVerdict.UNDETERMINED  # every mapped check that ran stayed undecided
    else:
        verdict = ControlVerdict.NOT_ASSESSED
    return ControlResult(control, verdict, standings, files)


def evaluate(framework: Framework, assessment: Assessment, node_labels: Sequence[str] | None = None) -> FrameworkResult:
    """Every control of ``framework`` judged from ``assessment``; ``node_labels`` name the nodes (default: address)."""
    return FrameworkResult(framework, tuple(evaluate_control(c, assessment, node_labels) for c in framework.controls))
