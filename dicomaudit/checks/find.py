"""``find.unauthenticated`` and ``find.phi_exposed``: what a wildcard C-FIND gives away.

The node is asked once (memoised in the context) and both checks read the
same observation.  Safety: at most ``find_cap`` matches are kept, then the
query is cancelled with C-CANCEL (PS3.4 C.4.1.2.3); identifiers are held in
memory only for the PHI analyzer and never written out unmasked.  Evidence
records how many matched and *which attributes* came back, not their values.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)

from dicomaudit.checks.base import ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition, get
from dicomaudit.models import CheckResult, ErrorReason, PhiFinding, Status
from dicomaudit.net import association as net
from dicomaudit.net.outcome import AssociationAttempt, Outcome

_ANALYZER_LOCK = threading.Lock()


@dataclass(frozen=True)
class FindQuery:
    """One wildcard query: information model, level and keys (PS3.4 C.6)."""

    name: str
    model: str
    level: str
    keys: tuple[tuple[str, str], ...]

    def identifier(self) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = self.level
        for keyword, value in self.keys:
            setattr(ds, keyword, value)
        return ds


# '*' on PatientName is a wildcard match (PS3.4 C.2.2.2.4); empty keys are
# return keys with universal matching.  The return keys are the ones the
# internet-wide PACS surveys found leaking.
QUERIES: tuple[FindQuery, ...] = (
    FindQuery(
        name="Patient Root / PATIENT",
        model=PatientRootQueryRetrieveInformationModelFind,
        level="PATIENT",
        keys=(("PatientName", "*"), ("PatientID", ""), ("PatientBirthDate", ""), ("PatientSex", "")),
    ),
    FindQuery(
        name="Study Root / STUDY",
        model=StudyRootQueryRetrieveInformationModelFind,
        level="STUDY",
        keys=(
            ("PatientName", "*"),
            ("PatientID", ""),
            ("PatientBirthDate", ""),
            ("PatientSex", ""),
            ("StudyInstanceUID", ""),
            ("StudyDate", ""),
            ("StudyTime", ""),
            ("AccessionNumber", ""),
            ("StudyID", ""),
            ("StudyDescription", ""),
            ("ReferringPhysicianName", ""),
            ("ModalitiesInStudy", ""),
        ),
    ),
)


@dataclass(frozen=True)
class QueryObservation:
    """How one query went. ``verdict``: matched, no_matches, refused or undecided."""

    query: FindQuery
    attempt: AssociationAttempt
    verdict: str
    summary: str
    reply: net.FindReply | None = None
    enforced: str | None = None
    code: ErrorReason | None = None  # why an "undecided" query decided nothing

    @property
    def matches(self) -> tuple[Dataset, ...]:
        return self.reply.matches if self.reply else ()

    def attributes_returned(self) -> list[str]:
        seen: dict[str, None] = {}
        for ds in self.matches:
            for elem in ds:
                if elem.keyword and elem.keyword != "QueryRetrieveLevel" and not elem.is_empty:
                    seen.setdefault(elem.keyword)
        return list(seen)

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "query": {
                "model": self.query.name,
                "sop_class_uid": self.query.model,
                "level": self.query.level,
                "keys": {k: v for k, v in self.query.keys},
            },
            "association": self.attempt.to_evidence(),
            "verdict": self.verdict,
            "summary": self.summary,
        }
        if self.reply is not None:
            d["response"] = {
                "matches_read": len(self.reply.matches),
                "responses_read": self.reply.responses_read,
                "final_status": net.describe_status(self.reply.final_status, "find"),
                "cancelled_after_cap": self.reply.cancelled,
                "attributes_returned": self.attributes_returned(),
                "elapsed_ms": round(self.reply.elapsed_ms, 1),
            }
            if self.reply.abort is not None:
                d["response"]["aborted_by_node"] = self.reply.abort.to_dict()
            if self.reply.failure is not None:
                d["response"]["undecided"] = self.reply.failure.to_evidence()
            if self.reply.stopped_reading:
                d["response"]["note"] = "the node ignored C-CANCEL; the scanner aborted the association"
        return d


def _run_query(ctx: ProbeContext, query: FindQuery) -> QueryObservation:
    with ctx.associate([query.model], calling_aet=ctx.unregistered_aet) as session:
        attempt = session.attempt
        if attempt.outcome is not Outcome.ACCEPTED:
            if attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED):
                rej = attempt.rejection
                if rej is not None and rej.called_aet_unrecognised and not ctx.called_aet_known:
                    return QueryObservation(
                        query,
                        attempt,
                        "undecided",
                        f"the node rejected the placeholder called AE title "
                        f"{ctx.called_aet!r}; give the node's AE title as HOST:PORT/AET",
                        code=ErrorReason.INCONCLUSIVE,
                    )
                return QueryObservation(
                    query,
                    attempt,
                    "refused",
                    f"association {attempt.describe()}",
                    enforced=ctx.refusal_control(attempt),
                )
            return QueryObservation(
                query, attempt, "undecided", f"association {attempt.describe()}", code=attempt.outcome.error_code
            )
        if not session.accepted(query.model):
            return QueryObservation(
                query,
                attempt,
                "refused",
                f"association accepted but {query.name} C-FIND was not offered",
                enforced="query SOP class refused for this AE",
            )
        reply = net.find(session, query.identifier(), query.model, cap=ctx.settings.find_cap)
    if reply.failure is not None:
        # One malformed, mismatched, late or oversized response and nothing of
        # the stream is evidence: no verdict rests on it, whatever came before.
        return QueryObservation(
            query, attempt, "undecided", f"C-FIND {reply.failure.text}", reply, code=reply.failure.code
        )
    if reply.abort is not None and not reply.matches:
        return QueryObservation(
            query,
            attempt,
            "refused",
            "the node aborted the association instead of answering",
            reply,
            enforced="association aborted by the node",
        )
    if reply.matches:
        more = " (cap reached, C-CANCEL sent)" if reply.cancelled else ""
        return QueryObservation(query, attempt, "matched", f"{len(reply.matches)} match(es) returned{more}", reply)
    if reply.final_category == "Success":
        return QueryObservation(query, attempt, "no_matches", "the query was answered, with no matches", reply)
    status = net.describe_status(reply.final_status, "find")
    return QueryObservation(
        query,
        attempt,
        "refused",
        f"C-FIND refused with status {status['code']} ({status.get('description', status['category'])})",
        reply,
        enforced="C-FIND refused by status",
    )


def observe_find(ctx: ProbeContext) -> tuple[QueryObservation, ...]:
    """Run every query once per target (memoised)."""
    return ctx.memo("find", lambda: tuple(_run_query(ctx, q) for q in QUERIES))


@check("find.unauthenticated")
def find_unauthenticated(ctx: ProbeContext) -> CheckResult:
    d = get("find.unauthenticated")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    observations = observe_find(ctx)
    evidence = {
        "calling_aet": ctx.unregistered_aet,
        "match_cap": ctx.settings.find_cap,
        "queries": [o.to_evidence() for o in observations],
    }
    verdicts = Counter(o.verdict for o in observations)
    if verdicts["matched"] and not _violations(observations):
        total = sum(len(o.matches) for o in observations)
        names = ", ".join(o.query.name for o in observations if o.verdict == "matched")
        return d.result(
            Status.FAIL,
            f"wildcard C-FIND from unregistered AE {ctx.unregistered_aet!r} returned {total} match(es) ({names})",
            evidence=evidence,
        )
    if (undecided := _undecided(d, observations, evidence)) is not None:
        return undecided
    if verdicts["no_matches"]:
        return d.result(
            Status.INFO,
            "queries from an unregistered AE are answered, but returned no matches "
            "(nothing leaked now; the node would answer once it holds data)",
            evidence=evidence,
        )
    enforced = "; ".join(dict.fromkeys(o.enforced for o in observations if o.enforced))
    return d.result(
        Status.PASS,
        "every wildcard query was refused: " + "; ".join(f"{o.query.name}: {o.summary}" for o in observations),
        evidence=evidence,
        enforced=enforced or None,
    )


def _violations(observations: tuple[QueryObservation, ...]) -> list[QueryObservation]:
    return [o for o in observations if o.code is ErrorReason.PROTOCOL_VIOLATION]


def _undecided(
    d: CheckDefinition, observations: tuple[QueryObservation, ...], evidence: dict[str, Any]
) -> CheckResult | None:
    """``error`` when a query decided nothing; a protocol violation in any query taints every verdict."""
    undecided = [o for o in observations if o.verdict == "undecided"]
    if not undecided:
        return None
    # The most telling reason first: a violation, then the rest in query order.
    first = (_violations(observations) or undecided)[0]
    reasons = "; ".join(f"{o.query.name}: {o.summary}" for o in undecided)
    return d.result(
        Status.ERROR,
        f"undecided: {reasons}",
        reason=reasons,
        evidence=evidence,
        code=first.code or ErrorReason.PROTOCOL_VIOLATION,
    )


def _source(ctx: ProbeContext, obs: QueryObservation, index: int) -> str:
    return f"dicom://{ctx.target.address}/{ctx.called_aet} C-FIND {obs.query.name} match {index + 1}"


@check("find.phi_exposed")
def find_phi_exposed(ctx: ProbeContext) -> CheckResult:
    d = get("find.phi_exposed")
    if (blocked := ctx.association_blocker(d)) is not None:
        return blocked
    from dicomaudit.phi import PhiAnalysisError, analyze_dataset  # imported lazily: the heaviest module

    observations = observe_find(ctx)
    matched = [o for o in observations if o.verdict == "matched"]
    if not matched or _violations(observations):
        if (undecided := _undecided(d, observations, {"see": "find.unauthenticated"})) is not None:
            return undecided
        return d.result(
            Status.PASS,
            "no C-FIND matches were returned to an unregistered AE, so none carried identifying data",
            evidence={"matches": 0},
        )
    findings: list[PhiFinding] = []
    unreadable: list[str] = []
    for obs in matched:
        for i, ds in enumerate(obs.matches):
            if ctx.budget.expired:
                # Analysis is bounded by the target's deadline like the network steps.
                return d.result(
                    Status.ERROR,
                    "undecided: the target's time budget ran out during PHI analysis",
                    reason=ctx.budget.exhausted().text,
                    code=ErrorReason.BUDGET_EXHAUSTED,
                    evidence={"matches_analyzed": i, "findings_so_far": len(findings)},
                )
            source = _source(ctx, obs, i)
            # The analyzer silences pydicom warnings with warnings.catch_warnings, which is
            # process-global state: targets are scanned in threads, so analyse one at a time.
            with _ANALYZER_LOCK:
                try:
                    findings.extend(analyze_dataset(ds, source, show_values=ctx.settings.show_values))
                except PhiAnalysisError as exc:
                    unreadable.append(f"{source}: {exc}")
    ctx.phi.extend(findings)
    by_category = Counter(f.category for f in findings)
    attributes = sorted({f.keyword or f.tag for f in findings})
    evidence = {
        "matches_analyzed": sum(len(o.matches) for o in matched),
        "findings": len(findings),
        "by_category": dict(sorted(by_category.items())),
        "identifying_attributes": attributes,
        "examples": [f.to_dict() for f in findings[:5]],
    }
    if unreadable:
        evidence["responses_not_analyzed"] = unreadable
    if findings:
        cats = ", ".join(f"{n} {c}" for c, n in by_category.most_common())
        return d.result(
            Status.FAIL,
            f"C-FIND responses to an unregistered AE carry identifying data: {cats} "
            f"(attributes: {', '.join(attributes)})",
            evidence=evidence,
        )
    return d.result(
        Status.PASS,
        "C-FIND matches were returned, but the analyzer found no identifying data in them",
        evidence=evidence,
    )
