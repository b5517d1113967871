"""``services.offered``: which services an unregistered calling AE can negotiate.

Decided from the A-ASSOCIATE-AC alone (PS3.8 9.3.3.2: one result per
proposed presentation context): no DIMSE operation is performed.  Every SOP
class of the families below is proposed, at most 128 per association
(PS3.8 9.3.2.2), from the same unregistered calling AE the other checks use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pynetdicom.sop_class as sop
from pynetdicom.service_class import StorageServiceClass

from dicomaudit.checks.base import ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Status
from dicomaudit.net.association import sop_name
from dicomaudit.net.outcome import AssociationAttempt, Outcome
from dicomaudit.net.pdu import MAX_CONTEXTS, RESULT_TEXT

STORAGE = "Storage"

#: Service families and their SOP classes (PS3.4 annexes), storage excluded.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Verification", (sop.Verification,)),
    (
        "Query/Retrieve - FIND",
        (
            sop.PatientRootQueryRetrieveInformationModelFind,
            sop.StudyRootQueryRetrieveInformationModelFind,
            sop.PatientStudyOnlyQueryRetrieveInformationModelFind,
        ),
    ),
    (
        "Query/Retrieve - MOVE",
        (
            sop.PatientRootQueryRetrieveInformationModelMove,
            sop.StudyRootQueryRetrieveInformationModelMove,
            sop.PatientStudyOnlyQueryRetrieveInformationModelMove,
            sop.CompositeInstanceRootRetrieveMove,
        ),
    ),
    (
        "Query/Retrieve - GET",
        (
            sop.PatientRootQueryRetrieveInformationModelGet,
            sop.StudyRootQueryRetrieveInformationModelGet,
            sop.PatientStudyOnlyQueryRetrieveInformationModelGet,
            sop.CompositeInstanceRootRetrieveGet,
            sop.CompositeInstanceRetrieveWithoutBulkDataGet,
        ),
    ),
    ("Modality Worklist", (sop.ModalityWorklistInformationFind,)),
    (
        "Modality Performed Procedure Step",
        (
            sop.ModalityPerformedProcedureStep,
            sop.ModalityPerformedProcedureStepRetrieve,
            sop.ModalityPerformedProcedureStepNotification,
        ),
    ),
    ("Storage Commitment", (sop.StorageCommitmentPushModel,)),
    ("Instance Availability Notification", (sop.InstanceAvailabilityNotification,)),
    (
        "Print Management",
        (
            sop.BasicGrayscalePrintManagementMeta,
            sop.BasicColorPrintManagementMeta,
            sop.BasicFilmSession,
            sop.BasicFilmBox,
            sop.Printer,
            sop.PrintJob,
            sop.PresentationLUT,
        ),
    ),
    (
        "Unified Procedure Step",
        (
            sop.UnifiedProcedureStepPush,
            sop.UnifiedProcedureStepWatch,
            sop.UnifiedProcedureStepPull,
            sop.UnifiedProcedureStepEvent,
            sop.UnifiedProcedureStepQuery,
        ),
    ),
)


@cache
def storage_classes() -> tuple[str, ...]:
    """Every Storage SOP class pynetdicom knows (its SOP class registry, PS3.4 Annex B)."""
    uids = {
        str(value)
        for name in dir(sop)
        if not name.startswith("_") and isinstance(value := getattr(sop, name), str) and value.startswith("1.2.840")
    }
    return tuple(sorted(uid for uid in uids if sop.uid_to_service_class(uid) is StorageServiceClass))


@cache
def proposal_batches() -> tuple[tuple[str, ...], ...]:
    """Every SOP class to propose, the other families first, in associations of at most 128 contexts."""
    everything = [uid for _, uids in FAMILIES for uid in uids] + list(storage_classes())
    return tuple(tuple(everything[i : i + MAX_CONTEXTS]) for i in range(0, len(everything), MAX_CONTEXTS))


def _family_of() -> Iterator[tuple[str, str]]:
    for family, uids in FAMILIES:
        for uid in uids:
            yield uid, family
    for uid in storage_classes():
        yield uid, STORAGE


@check("services.offered")
def services_offered(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.unregistered_aet
    results: dict[str, str] = {}  # uid -> "acceptance" or the rejection text
    attempts: list[AssociationAttempt] = []
    for batch in proposal_batches():
        with ctx.associate(batch, calling_aet=calling) as session:
            attempt = session.attempt
            attempts.append(attempt)
            if attempt.outcome is Outcome.ACCEPTED:
                assert session.acceptance is not None
                for ctx_result in session.acceptance.contexts:
                    results[ctx_result.abstract_syntax] = RESULT_TEXT[ctx_result.result]
                continue
        if results and attempt.outcome in (Outcome.REJECTED, Outcome.ABORTED):
            # A node that accepted the first association and refuses a later one
            # refuses that batch: some reject an association in which they
            # support no proposed context (DCMTK's wlmscpfs: RJ 1/1/1).
            for uid in batch:
                results[uid] = f"association {attempt.describe()}"
            continue
        break
    evidence: dict[str, Any] = {
        "calling_aet": calling,
        "associations": [_association_evidence(a) for a in attempts],
    }
    last = attempts[-1]
    if not results:
        if (inconclusive := ctx.inconclusive_called_aet(d, last)) is not None:
            return inconclusive
        if last.outcome not in (Outcome.REJECTED, Outcome.ABORTED):
            return ctx.undecided(d, last, evidence)
        return d.result(
            Status.INFO,
            f"no service can be negotiated by unregistered AE {calling!r}: association {last.describe()}",
            evidence=evidence,
            enforced=ctx.refusal_control(last),
        )
    if last.outcome not in (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ABORTED):
        return ctx.undecided(d, last, evidence)
    families = _by_family(results)
    evidence["families"] = families
    offered = [f"{name} ({f['accepted_count']}/{f['proposed']})" for name, f in families.items() if f["accepted_count"]]
    if not offered:
        return d.result(
            Status.INFO,
            f"the association is accepted for unregistered AE {calling!r}, but every proposed SOP class is refused",
            evidence=evidence,
            enforced="every service refused for this AE (presentation contexts rejected)",
        )
    return d.result(
        Status.INFO,
        f"an unregistered AE ({calling!r}) can negotiate: " + ", ".join(offered),
        evidence=evidence,
    )


def _association_evidence(attempt: AssociationAttempt) -> dict[str, Any]:
    """The association's request and outcome without its (long) context lists, which the families carry."""
    full = attempt.to_evidence()
    full.pop("accepted_contexts", None)
    full.pop("rejected_contexts", None)
    return full


def _by_family(results: dict[str, str]) -> dict[str, dict[str, Any]]:
    families: dict[str, dict[str, Any]] = {}
    for uid, family in _family_of():
        if uid not in results:
            continue
        entry = families.setdefault(family, {"proposed": 0, "accepted_count": 0, "accepted": [], "rejected": []})
        entry["proposed"] += 1
        if results[uid] == RESULT_TEXT[0]:
            entry["accepted_count"] += 1
            entry["accepted"].append(sop_name(uid))
        else:
            entry["rejected"].append({"sop_class": sop_name(uid), "result": results[uid]})
    storage = families.get(STORAGE)
    if storage is not None:
        # 170 rejections say little one by one: their reasons, counted.
        storage["rejected"] = dict(Counter(r["result"] for r in storage["rejected"]))
    return families
