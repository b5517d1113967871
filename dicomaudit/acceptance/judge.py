"""Judge a run's nodes against their role policies: pure, no network, frozen records.

Nodes are the report's nodes: endpoints grouped by
:attr:`~dicomaudit.models.Target.node_key` (a DICOM port and the web API of
one inventory name are one node).  Each requirement of the node's policy is
judged from the results of every endpoint that answers it:

* ``violated`` on any endpoint makes the requirement violated;
* else an undecided endpoint (``error``: unreachable, timeout, malformed
  answer; ``skipped`` because the check was not requested) makes it
  undecided;
* else it is ``met`` when some endpoint met it, ``not applicable`` when none
  could (no endpoint of that kind, or the question did not arise: no TLS to
  judge, C-MOVE not served so no destination to check).

A node is ``non-compliant`` when a requirement is violated, ``undecided``
when none is but one could not be decided, ``compliant`` only when every
requirement is met or not applicable: an undecided node is never compliant.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dicomaudit.acceptance.policy import SETTINGS, Policy, Requirement, policy_from_dict
from dicomaudit.models import CheckResult, Status, TargetResult

#: Skip summaries that mean "this run did not ask" (``--check``, ``--guess-aet``, ``--try-default-credentials``):
#: the requirement could not be decided, never met.
NOT_REQUESTED_PREFIX = "not requested"


class Verdict(enum.StrEnum):
    """A node's standing against its policy."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    UNDECIDED = "undecided"  # a requirement could not be decided: never compliant


class Outcome(enum.StrEnum):
    """One requirement on one node."""

    MET = "met"
    VIOLATED = "violated"
    UNDECIDED = "undecided"
    NOT_APPLICABLE = "not applicable"
    RECORDED = "recorded"  # not judged by this policy ("fail allowed", "recorded"): shown with its evidence


_RANK = {Outcome.VIOLATED: 3, Outcome.UNDECIDED: 2, Outcome.MET: 1, Outcome.NOT_APPLICABLE: 0}


@dataclass(frozen=True)
class Evidence:
    """One endpoint's result behind a requirement."""

    endpoint: str
    check_id: str
    status: str
    summary: str
    reason_code: str | None = None
    outcome: Outcome | None = None  # how this endpoint's result reads against the requirement

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "endpoint": self.endpoint,
            "check": self.check_id,
            "status": self.status,
            "summary": self.summary,
        }
        if self.reason_code:
            d["reason_code"] = self.reason_code
        if self.outcome is not None:
            d["outcome"] = self.outcome.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        return cls(
            endpoint=d["endpoint"],
            check_id=d["check"],
            status=d["status"],
            summary=d.get("summary", ""),
            reason_code=d.get("reason_code"),
            outcome=Outcome(d["outcome"]) if d.get("outcome") else None,
        )


@dataclass(frozen=True)
class RequirementJudgement:
    """One requirement of the policy on one node: what was required, what was seen, the outcome."""

    id: str  # "check:find.unauthenticated", "setting:tls_required", "service:forbidden:Storage", "node:answers"
    title: str
    required: str
    outcome: Outcome
    detail: str
    why: str = ""
    evidence: tuple[Evidence, ...] = ()

    @property
    def blocking(self) -> bool:
        return self.outcome in (Outcome.VIOLATED, Outcome.UNDECIDED)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "required": self.required,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.why:
            d["why"] = self.why
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RequirementJudgement:
        return cls(
            id=d["id"],
            title=d.get("title", d["id"]),
            required=d.get("required", ""),
            outcome=Outcome(d["outcome"]),
            detail=d.get("detail", ""),
            why=d.get("why", ""),
            evidence=tuple(Evidence.from_dict(e) for e in d.get("evidence") or ()),
        )


@dataclass(frozen=True)
class NodeJudgement:
    """One node judged against the policy of its role."""

    node_key: str
    label: str
    role: str
    policy: str
    policy_sha256: str
    endpoints: tuple[str, ...]
    verdict: Verdict
    requirements: tuple[RequirementJudgement, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.requirements if r.outcome is outcome)

    @property
    def violated(self) -> tuple[RequirementJudgement, ...]:
        return tuple(r for r in self.requirements if r.outcome is Outcome.VIOLATED)

    @property
    def undecided(self) -> tuple[RequirementJudgement, ...]:
        return tuple(r for r in self.requirements if r.outcome is Outcome.UNDECIDED)

    @property
    def reason(self) -> str:
        """One line: why the node has its verdict."""
        if self.verdict is Verdict.COMPLIANT:
            met = self.count(Outcome.MET)
            return f"all {met} applicable requirement(s) met"
        shown = self.violated if self.verdict is Verdict.NON_COMPLIANT else self.undecided
        ids = ", ".join(r.id.split(":", 1)[1] for r in shown[:6]) + (", ..." if len(shown) > 6 else "")
        what = "violated" if self.verdict is Verdict.NON_COMPLIANT else "undecided"
        return f"{len(shown)} requirement(s) {what}: {ids}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node_key,
            "label": self.label,
            "role": self.role,
            "policy": self.policy,
            "policy_sha256": self.policy_sha256,
            "endpoints": list(self.endpoints),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "counts": {o.value: self.count(o) for o in Outcome},
            "requirements": [r.to_dict() for r in self.requirements],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NodeJudgement:
        return cls(
            node_key=d["node"],
            label=d.get("label", d["node"]),
            role=d["role"],
            policy=d["policy"],
            policy_sha256=d.get("policy_sha256", ""),
            endpoints=tuple(d.get("endpoints") or ()),
            verdict=Verdict(d["verdict"]),
            requirements=tuple(RequirementJudgement.from_dict(r) for r in d.get("requirements") or ()),
        )


@dataclass(frozen=True)
class RunJudgement:
    """Every judged node of a run, and the policies they were judged against."""

    policies: tuple[Policy, ...]
    nodes: tuple[NodeJudgement, ...]
    unjudged: tuple[str, ...] = ()  # labels of nodes that have no role

    @property
    def blocking(self) -> tuple[NodeJudgement, ...]:
        """Nodes that are not compliant (non-compliant or undecided): probe and accept exit 1 for these."""
        return tuple(n for n in self.nodes if n.verdict is not Verdict.COMPLIANT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policies": [p.to_dict() for p in self.policies],
            "nodes": [n.to_dict() for n in self.nodes],
            "unjudged": list(self.unjudged),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunJudgement:
        return cls(
            policies=tuple(policy_from_dict(p) for p in d.get("policies") or ()),
            nodes=tuple(NodeJudgement.from_dict(n) for n in d.get("nodes") or ()),
            unjudged=tuple(d.get("unjudged") or ()),
        )


# -- judging --------------------------------------------------------------------------------------------------------
def group_by_node(targets: Iterable[TargetResult]) -> dict[str, list[TargetResult]]:
    """Endpoints by :attr:`~dicomaudit.models.Target.node_key`, in first-seen order."""
    nodes: dict[str, list[TargetResult]] = {}
    for t in targets:
        nodes.setdefault(t.target.node_key, []).append(t)
    return nodes


def node_label(endpoints: Sequence[TargetResult]) -> str:
    first = endpoints[0].target
    return first.name or first.host


def judge_run(targets: Iterable[TargetResult], roles: Mapping[str, tuple[str, Policy]]) -> RunJudgement:
    """Judge every node that has a role: ``roles`` maps a node key to ``(role, policy)``."""
    grouped = group_by_node(targets)
    judged: list[NodeJudgement] = []
    unjudged: list[str] = []
    policies: dict[str, Policy] = {}
    for key, endpoints in grouped.items():
        if key not in roles:
            unjudged.append(node_label(endpoints))
            continue
        role, policy = roles[key]
        policies.setdefault(policy.sha256, policy)
        judged.append(judge_node(endpoints, role, policy))
    return RunJudgement(tuple(policies.values()), tuple(judged), tuple(unjudged))


def judge_node(endpoints: Sequence[TargetResult], role: str, policy: Policy) -> NodeJudgement:
    """Judge one node (its endpoints, all of one ``node_key``) against ``policy``."""
    if not endpoints:
        raise ValueError("a node has at least one endpoint")
    requirements = [_answers(endpoints)]
    requirements += [_setting(endpoints, policy, name) for name in SETTINGS]
    requirements += [_service(endpoints, policy, family, forbidden=True) for family in policy.services.forbidden]
    requirements += [_service(endpoints, policy, family, forbidden=False) for family in policy.services.required]
    requirements += [_check(endpoints, req.check_id, req.require, req.why) for req in policy.checks.values()]
    judged = tuple(requirements)
    if any(r.outcome is Outcome.VIOLATED for r in judged):
        verdict = Verdict.NON_COMPLIANT
    elif any(r.outcome is Outcome.UNDECIDED for r in judged):
        verdict = Verdict.UNDECIDED
    else:
        verdict = Verdict.COMPLIANT
    return NodeJudgement(
        node_key=endpoints[0].target.node_key,
        label=node_label(endpoints),
        role=role,
        policy=policy.name,
        policy_sha256=policy.sha256,
        endpoints=tuple(str(t.target) for t in endpoints),
        verdict=verdict,
        requirements=judged,
    )


def _results(endpoints: Sequence[TargetResult], check_id: str) -> list[tuple[TargetResult, CheckResult]]:
    out = []
    for t in endpoints:
        for c in t.checks:
            if c.id == check_id:
                out.append((t, c))
    return out


def _evidence(t: TargetResult, c: CheckResult, outcome: Outcome | None) -> Evidence:
    return Evidence(
        endpoint=str(t.target),
        check_id=c.id,
        status=c.status.value,
        summary=c.summary,
        reason_code=c.reason_code.value if c.reason_code else None,
        outcome=outcome,
    )


def _combine(readings: Sequence[tuple[Outcome, str]], none_text: str) -> tuple[Outcome, str]:
    """The node's outcome from its endpoints' (worst first) and the line that explains it."""
    if not readings:
        return Outcome.NOT_APPLICABLE, none_text
    worst = max(readings, key=lambda r: _RANK[r[0]])[0]
    texts = [text for outcome, text in readings if outcome is worst]
    return worst, "; ".join(dict.fromkeys(texts))


def _read_pass(c: CheckResult) -> tuple[Outcome, str]:
    """How one endpoint's result reads against "must pass"."""
    if c.status is Status.PASS:
        return Outcome.MET, c.summary
    if c.status is Status.FAIL:
        return Outcome.VIOLATED, c.summary
    if c.status is Status.ERROR:
        return Outcome.UNDECIDED, f"undecided ({c.reason_code.value if c.reason_code else 'error'}): {c.summary}"
    if c.status is Status.INFO:
        # An observation where a refusal was required: e.g. a C-FIND answered with no matches (it would answer
        # once the node holds data); not a refusal, so the requirement is not met.
        return Outcome.VIOLATED, f"not refused: {c.summary}"
    # skipped
    if c.summary.startswith(NOT_REQUESTED_PREFIX):
        return Outcome.UNDECIDED, f"not run in this assessment ({c.summary})"
    if c.enforced:
        # Refused before the question could be asked (a TLS client certificate required): stronger than a pass.
        return Outcome.MET, f"refused before the question could be asked ({c.enforced}): {c.summary}"
    return Outcome.NOT_APPLICABLE, c.summary


def _check(endpoints: Sequence[TargetResult], check_id: str, require: Requirement, why: str) -> RequirementJudgement:
    from dicomaudit.checks.catalogue import get

    title = get(check_id).title
    results = _results(endpoints, check_id)
    kind = "web" if check_id.split(".")[0] in ("web", "qido", "wado", "stow") else "DICOM"
    none_text = f"not applicable: no endpoint of the node answers this check (no {kind} endpoint given)"
    if check_id.startswith(("tls.", "software.")):
        none_text = "not applicable: no endpoint of the node answers this check"
    if require in (Requirement.FAIL_ALLOWED, Requirement.RECORDED, Requirement.NOT_APPLICABLE):
        statuses = ", ".join(f"{c.status.value}" for _, c in results) or "not run"
        note = {
            Requirement.FAIL_ALLOWED: "a failure is tolerated for this role",
            Requirement.RECORDED: "recorded as evidence",
            Requirement.NOT_APPLICABLE: "not part of this role's requirements",
        }[require]
        return RequirementJudgement(
            id=f"check:{check_id}",
            title=title,
            required=require.value,
            outcome=Outcome.RECORDED if require is not Requirement.NOT_APPLICABLE else Outcome.NOT_APPLICABLE,
            detail=f"{note} (observed: {statuses})",
            why=why,
            evidence=tuple(_evidence(t, c, None) for t, c in results),
        )
    readings = [(t, c, _read_pass(c)) for t, c in results]
    outcome, detail = _combine([r for _, _, r in readings], none_text)
    return RequirementJudgement(
        id=f"check:{check_id}",
        title=title,
        required=require.value,
        outcome=outcome,
        detail=detail,
        why=why,
        evidence=tuple(_evidence(t, c, r[0]) for t, c, r in readings),
    )


def _answers(endpoints: Sequence[TargetResult]) -> RequirementJudgement:
    """Every endpoint of the node answered (DICOM or HTTP): a node that could not be reached cannot be judged."""
    readings: list[tuple[Outcome, str]] = []
    evidence = []
    for t in endpoints:
        cid = "web.service" if t.target.is_web else "dicom.service"
        found = [c for c in t.checks if c.id == cid]
        if not found:
            continue
        c = found[0]
        if c.status is Status.ERROR:
            reading = (Outcome.UNDECIDED, f"{t.target}: {c.summary}")
        elif c.status is Status.SKIPPED:
            # Not requested (--check without the service check): the other checks still say whether it answered.
            reading = (Outcome.NOT_APPLICABLE, f"{t.target}: {c.summary}")
        else:
            reading = (Outcome.MET, f"{t.target}: answers")
        readings.append(reading)
        evidence.append(_evidence(t, c, reading[0]))
    outcome, detail = _combine(readings, "not applicable: the service checks were not run")
    return RequirementJudgement(
        id="node:answers",
        title="Every endpoint of the node answers",
        required="answers",
        outcome=outcome,
        detail=detail,
        why="a node that cannot be reached or does not speak its protocol cannot be assessed (undecided, never compliant)",
        evidence=tuple(evidence),
    )


def _setting(endpoints: Sequence[TargetResult], policy: Policy, name: str) -> RequirementJudgement:
    check_id = "transport.plaintext" if name == "tls_required" else "web.plaintext"
    required = policy.requires(name)
    setting = policy.settings.get(name)
    why = setting.why if setting is not None else ""
    results = _results(endpoints, check_id)
    kind = "DICOM" if name == "tls_required" else "web"
    title = f"{'TLS only on DICOM' if name == 'tls_required' else 'HTTPS only on web'} endpoints ({SETTINGS[name]})"
    if not required:
        statuses = ", ".join(c.status.value for _, c in results) or "not run"
        return RequirementJudgement(
            id=f"setting:{name}",
            title=title,
            required=f"{name} = false",
            outcome=Outcome.RECORDED,
            detail=f"not required by this policy; {check_id} observed: {statuses}",
            why=why,
            evidence=tuple(_evidence(t, c, None) for t, c in results),
        )
    readings = [(t, c, _read_pass(c)) for t, c in results]
    outcome, detail = _combine([r for _, _, r in readings], f"not applicable: no {kind} endpoint given")
    return RequirementJudgement(
        id=f"setting:{name}",
        title=title,
        required=f"{name} = true",
        outcome=outcome,
        detail=detail,
        why=why,
        evidence=tuple(_evidence(t, c, r[0]) for t, c, r in readings),
    )


def _offered(c: CheckResult) -> dict[str, Any] | None:
    """``services.offered``'s families (``{}`` when nothing is negotiable), or ``None`` when it says nothing."""
    if c.status is Status.INFO:
        return dict(c.evidence.get("families") or {})
    if c.status is Status.SKIPPED and c.enforced:
        return {}  # nothing negotiable without a trusted TLS client certificate
    return None


def _service_readings(
    endpoints: Sequence[TargetResult], family: str, forbidden: bool
) -> list[tuple[TargetResult, CheckResult, tuple[Outcome, str]]]:
    out = []
    for t, c in _results(endpoints, "services.offered"):
        families = _offered(c)
        if families is None:
            if c.status is Status.SKIPPED and not c.summary.startswith(NOT_REQUESTED_PREFIX):
                reading = (Outcome.NOT_APPLICABLE, c.summary)
            else:
                why = c.summary if c.status is Status.SKIPPED else f"undecided: {c.summary}"
                reading = (Outcome.UNDECIDED, why)
            out.append((t, c, reading))
            continue
        entry = families.get(family)
        accepted = list(entry.get("accepted") or ()) if entry else []
        if forbidden:
            if accepted:
                reading = (
                    Outcome.VIOLATED,
                    f"an unregistered AE can negotiate {family}: {', '.join(map(str, accepted[:5]))}"
                    + (f" and {len(accepted) - 5} more" if len(accepted) > 5 else ""),
                )
            elif not families:
                reading = (Outcome.MET, f"not negotiable: {c.summary}")
            else:
                reading = (Outcome.MET, f"{family} refused to an unregistered AE")
        elif accepted:
            reading = (Outcome.MET, f"{family} offered ({len(accepted)} SOP class(es))")
        elif entry is not None:
            reading = (Outcome.VIOLATED, f"{family} proposed and refused by the node")
        else:
            reading = (
                Outcome.UNDECIDED,
                f"not observable from the scanner's calling AE ({c.summary}); run with a registered --calling-aet",
            )
        out.append((t, c, reading))
    return out


def _service(
    endpoints: Sequence[TargetResult], policy: Policy, family: str, *, forbidden: bool
) -> RequirementJudgement:
    """A ``[services]`` requirement: ``family`` forbidden to unregistered peers, or required to be offered."""
    readings = _service_readings(endpoints, family, forbidden=forbidden)
    outcome, detail = _combine([r for _, _, r in readings], "not applicable: no DICOM endpoint given")
    return RequirementJudgement(
        id=f"service:{'forbidden' if forbidden else 'required'}:{family}",
        title=f"{family} not offered to unregistered peers" if forbidden else f"{family} offered",
        required="forbidden" if forbidden else "required",
        outcome=outcome,
        detail=detail,
        why=policy.services.why,
        evidence=tuple(_evidence(t, c, r[0]) for t, c, r in readings),
    )


# -- the result JSON's "policy_judgement" ---------------------------------------------------------------------------
def read_judgement(result: Any) -> RunJudgement | None:
    """The judgement stored in a :class:`~dicomaudit.models.RunResult` (``None`` when the run judged nothing)."""
    from dicomaudit.models import thaw

    raw = getattr(result, "policy_judgement", None)
    return RunJudgement.from_dict(thaw(raw)) if raw else None
