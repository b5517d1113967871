"""``worklist.unauthenticated`` and ``worklist.phi_exposed``: what a wildcard worklist query gives away.

A Modality Worklist C-FIND (PS3.4 K.6.1) hands out today's scheduled
procedure steps: patient names, IDs, birth dates, accession numbers and
the referring physicians of everyone about to be scanned.  Asked like
``find.unauthenticated``: from an unregistered AE, capped, then C-CANCEL;
the matches go through the same PHI analyzer.
"""

from __future__ import annotations

from pynetdicom.sop_class import ModalityWorklistInformationFind

from dicomaudit.checks import query
from dicomaudit.checks.base import ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.checks.query import FindQuery, QueryFamily
from dicomaudit.models import CheckResult

# PS3.4 Table K.6-1: the matching keys a modality sends (PatientName wildcard,
# the Scheduled Procedure Step keys left empty = universal match) and the
# return keys that identify the patient and the order.
WORKLIST = QueryFamily(
    area="worklist",
    operation="Modality Worklist C-FIND",
    queries=(
        FindQuery(
            name="Modality Worklist",
            model=ModalityWorklistInformationFind,
            level=None,  # the worklist model has no Query/Retrieve Level (PS3.4 K.6.1.1.2)
            keys=(
                ("PatientName", "*"),
                ("PatientID", ""),
                ("PatientBirthDate", ""),
                ("PatientSex", ""),
                ("AccessionNumber", ""),
                ("ReferringPhysicianName", ""),
                ("RequestedProcedureID", ""),
                ("RequestedProcedureDescription", ""),
                ("StudyInstanceUID", ""),
                (
                    "ScheduledProcedureStepSequence",
                    (
                        ("Modality", ""),
                        ("ScheduledStationAETitle", ""),
                        ("ScheduledProcedureStepStartDate", ""),
                        ("ScheduledProcedureStepStartTime", ""),
                        ("ScheduledPerformingPhysicianName", ""),
                        ("ScheduledProcedureStepDescription", ""),
                        ("ScheduledProcedureStepID", ""),
                    ),
                ),
            ),
        ),
    ),
)


@check("worklist.unauthenticated")
def worklist_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    return query.unauthenticated(ctx, d, WORKLIST)


@check("worklist.phi_exposed")
def worklist_phi_exposed(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    return query.phi_exposed(ctx, d, WORKLIST)
