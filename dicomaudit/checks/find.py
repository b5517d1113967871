"""``find.unauthenticated`` and ``find.phi_exposed``: what a wildcard Q/R C-FIND gives away (PS3.4 C.6)."""

from __future__ import annotations

from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)

from dicomaudit.checks import query
from dicomaudit.checks.base import ProbeContext, check
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.checks.query import FindQuery, QueryFamily
from dicomaudit.models import CheckResult

# '*' on PatientName is a wildcard match (PS3.4 C.2.2.2.4); empty keys are
# return keys with universal matching.  The return keys are the ones the
# internet-wide PACS surveys found leaking.
FIND = QueryFamily(
    area="find",
    operation="C-FIND",
    queries=(
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
    ),
)


@check("find.unauthenticated")
def find_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    return query.unauthenticated(ctx, d, FIND)


@check("find.phi_exposed")
def find_phi_exposed(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    return query.phi_exposed(ctx, d, FIND)
