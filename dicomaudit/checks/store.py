"""``store.unauthenticated``: would the node accept objects from an unregistered AE?

Default (safe): negotiate storage presentation contexts and store nothing;
the evidence says so.  With ``--intrusive``: store one obviously synthetic
Secondary Capture object (patient ``DICOMAUDIT^TEST``, ``2.25.`` UIDs) and
report its UIDs so it can be found and deleted.
"""

from __future__ import annotations

from typing import Any

from pynetdicom.sop_class import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    EncapsulatedPDFStorage,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
)

from dicomaudit.checks.base import (
    ProbeContext,
    aborted_by_node,
    check,
    refused_before_operation,
    undecided_operation,
)
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.models import CheckResult, Status
from dicomaudit.net import association as net

# The storage classes a rogue peer would most plausibly use.
STORAGE_CLASSES = (
    CTImageStorage,
    MRImageStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    UltrasoundImageStorage,
    SecondaryCaptureImageStorage,
    EncapsulatedPDFStorage,
)


@check("store.unauthenticated")
def store_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.unregistered_aet
    with ctx.associate(STORAGE_CLASSES, calling_aet=calling) as session:
        refused = refused_before_operation(
            ctx,
            d,
            session,
            STORAGE_CLASSES,
            f"storage from unregistered AE {calling!r} refused",
            evidence={"intrusive": ctx.settings.intrusive, "object_stored": False, "storage_contexts_accepted": []},
        )
        if refused is not None:
            return refused
        evidence: dict[str, Any] = {"association": session.attempt.to_evidence(), "intrusive": ctx.settings.intrusive}
        accepted = [net.sop_name(uid) for uid in STORAGE_CLASSES if session.accepted(uid)]
        evidence["storage_contexts_accepted"] = accepted
        if not ctx.settings.intrusive:
            return d.result(
                Status.FAIL,
                f"storage negotiation accepted for unregistered AE {calling!r} ({len(accepted)} storage "
                "SOP classes); no object was stored (use --intrusive to store one synthetic object)",
                evidence={**evidence, "object_stored": False},
            )
        from dicomaudit.synth import synthetic_test_instance

        ds = synthetic_test_instance()
        if not session.accepted(ds.SOPClassUID):
            return d.result(
                Status.FAIL,
                "storage contexts accepted (not Secondary Capture, so nothing was stored)",
                evidence={**evidence, "object_stored": False},
            )
        reply = net.store(session, ds)
    uids = {
        "patient_id": str(ds.PatientID),
        "study_instance_uid": str(ds.StudyInstanceUID),
        "series_instance_uid": str(ds.SeriesInstanceUID),
        "sop_instance_uid": str(ds.SOPInstanceUID),
    }
    evidence["c_store"] = reply.to_evidence()
    if reply.failure is not None:
        return undecided_operation(
            d,
            f"C-STORE (the synthetic object {uids['sop_instance_uid']} may have been stored)",
            reply.failure,
            {**evidence, "object_stored": "unknown", "stored_object": uids},
        )
    if reply.status is not None and reply.category in ("Success", "Warning"):
        return d.result(
            Status.FAIL,
            f"a synthetic object was stored by unregistered AE {calling!r} "
            f"(status 0x{reply.status:04X}); delete it: SOP Instance UID {uids['sop_instance_uid']}",
            evidence={**evidence, "object_stored": True, "stored_object": uids},
        )
    if reply.status is not None:
        return d.result(
            Status.PASS,
            f"storage negotiated, but C-STORE refused with status 0x{reply.status:04X}",
            evidence={**evidence, "object_stored": False},
            enforced="C-STORE refused by status",
        )
    return aborted_by_node(d, "C-STORE", {**evidence, "object_stored": False})
