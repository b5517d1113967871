"""Query checks: what a wildcard C-FIND from an unregistered AE gives away.

One family of queries (:class:`QueryFamily`: Q/R C-FIND, Modality Worklist
C-FIND) gives two checks, ``<area>.unauthenticated`` (does anything match?)
and ``<area>.phi_exposed`` (do the matches identify people?).  The node is
asked once per family (memoised in the context) and both checks read the
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
from pydicom.sequence import Sequence

from dicomaudit.checks.base import ProbeContext
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, ErrorReason, PhiFinding, Status
from dicomaudit.net import association as net
from dicomaudit.net.outcome import AssociationAttempt, Outcome

_ANALYZER_LOCK = threading.Lock()


#: A query key: a keyword and its value; a tuple value is a sequence with one
#: item holding those keys (PS3.4 C.2.2.2.6 sequence matching).
Key = tuple[str, "str | tuple[Key, ...]"]


def _build(keys: tuple[Key, ...]) -> Dataset:
    ds = Dataset()
    for keyword, value in keys:
        if isinstance(value, tuple):
            setattr(ds, keyword, Sequence([_build(value)]))
        else:
            setattr(ds, keyword, value)
    return ds


def _key_evidence(keys: tuple[Key, ...]) -> dict[str, Any]:
    return {k: _key_evidence(v) if isinstance(v, tuple) else v for k, v in keys}


@dataclass(frozen=True)
class FindQuery:
    """One wildcard query: information model, level (``None``: none, as in worklist queries) and keys."""

    name: str
    model: str
    level: str | None
    keys: tuple[Key, ...]

    def identifier(self) -> Dataset:
        ds = _build(self.keys)
        if self.level is not None:
            ds.QueryRetrieveLevel = self.level
        return ds


@dataclass(frozen=True)
class QueryFamily:
    """The queries behind one pair of checks; ``operation`` names them in summaries."""

    area: str  # the check ids are <area>.unauthenticated and <area>.phi_exposed
    operation: str  # e.g. "C-FIND", "Modality Worklist C-FIND"
    queries: tuple[FindQuery, ...]


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
        """Keywords of the non-empty attributes that came back; nested ones as ``Sequence>Keyword``."""
        seen: dict[str, None] = {}

        def walk(ds: Dataset, prefix: str) -> None:
            for elem in ds:
                if not elem.keyword or elem.keyword == "QueryRetrieveLevel" or elem.is_empty:
                    continue
                if elem.VR == "SQ":
                    for item in elem.value:
                        walk(item, f"{prefix}{elem.keyword}>")
                else:
                    seen.setdefault(prefix + elem.keyword)

        for ds in self.matches:
            walk(ds, "")
        return list(seen)

    def to_evidence(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "query": {
                "model": self.query.name,
                "sop_class_uid": self.query.model,
                "level": self.query.level,
                "keys": _key_evidence(self.query.keys),
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


def observe(ctx: ProbeContext, family: QueryFamily) -> tuple[QueryObservation, ...]:
    """Run every query of ``family`` once per target (memoised)."""
    return ctx.memo(f"query:{family.area}", lambda: tuple(_run_query(ctx, q) for q in family.queries))


def unauthenticated(ctx: ProbeContext, d: CheckDefinition, family: QueryFamily) -> CheckResult:
    """``<area>.unauthenticated``: did a wildcard query from an unregistered AE match anything?"""
    observations = observe(ctx, family)
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
            f"wildcard {family.operation} from unregistered AE {ctx.unregistered_aet!r} returned {total} "
            f"match(es) ({names})",
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


def phi_exposed(ctx: ProbeContext, d: CheckDefinition, family: QueryFamily) -> CheckResult:
    """``<area>.phi_exposed``: do the matches returned to an unregistered AE carry identifying data?"""
    observations = observe(ctx, family)
    matched = [o for o in observations if o.verdict == "matched"]
    if not matched or _violations(observations):
        if (undecided := _undecided(d, observations, {"see": f"{family.area}.unauthenticated"})) is not None:
            return undecided
        return d.result(
            Status.PASS,
            f"no {family.operation} matches were returned to an unregistered AE, so none carried identifying data",
            evidence={"matches": 0},
        )
    items = [(_source(ctx, obs, i), ds) for obs in matched for i, ds in enumerate(obs.matches)]
    return phi_verdict(ctx, d, items, operation=family.operation, asker="an unregistered AE")


def phi_verdict(
    ctx: ProbeContext, d: CheckDefinition, items: list[tuple[str, Dataset]], *, operation: str, asker: str
) -> CheckResult:
    """The PHI analyzer over ``(source, dataset)`` pairs a node gave away: ``fail`` when anything identifies.

    Shared by every query family (C-FIND, worklist, QIDO-RS): findings go to
    the target's PHI list, masked unless ``--show-values``; the evidence
    names categories and attributes, never values.
    """
    from dicomaudit.phi import PhiAnalysisError, analyze_dataset  # imported lazily: the heaviest module

    findings: list[PhiFinding] = []
    unreadable: list[str] = []
    for i, (source, ds) in enumerate(items):
        if ctx.budget.expired:
            # Analysis is bounded by the target's deadline like the network steps.
            return d.result(
                Status.ERROR,
                "undecided: the target's time budget ran out during PHI analysis",
                reason=ctx.budget.exhausted().text,
                code=ErrorReason.BUDGET_EXHAUSTED,
                evidence={"matches_analyzed": i, "findings_so_far": len(findings)},
            )
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
        "matches_analyzed": len(items),
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
            f"{operation} responses to {asker} carry identifying data: {cats} (attributes: {', '.join(attributes)})",
            evidence=evidence,
        )
    return d.result(
        Status.PASS,
        f"{operation} matches were returned, but the analyzer found no identifying data in them",
        evidence=evidence,
    )
