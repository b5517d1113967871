"""Hand-built, realistic run results for the writer tests (no prober needed).

Three nodes as an assessment of a small imaging network would find them:

* ``open``: an Orthanc-like archive with default settings: accepts any AE,
  answers wildcard C-FIND with patient data, accepts storage, plaintext;
* ``locked``: a node that rejects unknown Calling AE Titles (everything passes);
* ``down``: a node that timed out (every decision is an ``error``).

Patient data is synthetic and already masked, as the PHI analyzer hands it over.
"""

from __future__ import annotations

from datetime import date

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import (
    CheckResult,
    ErrorReason,
    InputError,
    PhiFinding,
    RunInfo,
    RunResult,
    Severity,
    Status,
    Target,
    TargetResult,
)

HOSTILE_AET = "<script>alert(1)"  # 16 characters: a valid length for an AE title (PS3.5 6.2)
HOSTILE_EVIDENCE = "</pre><img src=x onerror=alert(2)>"
# The unmasked originals of the masked values below: they must never appear in any output.
RAW_NAMES = ("DOE^JANE", "Jane Doe", "SMITH^JOHN")


def make_check(check_id: str, status: Status, summary: str, **kwargs: object) -> CheckResult:
    return load_catalogue()[check_id].result(status, summary, **kwargs)  # type: ignore[arg-type]


def open_node(called_aet: str = "ORTHANC", port: int = 4242) -> TargetResult:
    target = Target("127.0.0.1", port, called_aet, name="Radiology archive", attributes={"owner": "Radiology IT"})
    phi = (
        PhiFinding(
            source=f"{target} C-FIND STUDY",
            path="PatientName",
            tag="(0010,0010)",
            keyword="PatientName",
            vr="PN",
            category="name",
            rule="annex_e",
            severity=Severity.HIGH,
            value="D**^J***",
        ),
        PhiFinding(
            source=f"{target} C-FIND STUDY",
            path="PatientBirthDate",
            tag="(0010,0030)",
            keyword="PatientBirthDate",
            vr="DA",
            category="date",
            rule="annex_e",
            severity=Severity.MEDIUM,
            value="19******",
        ),
    )
    checks = (
        make_check(
            "dicom.service",
            Status.INFO,
            "DICOM over plaintext TCP; Orthanc answered A-ASSOCIATE-AC",
            evidence={
                "transport": "plaintext",
                "implementation_version_name": "ORTHANC_1_12_4",
                "implementation_class_uid": "1.2.826.0.1.3680043.9.5560.3.1",
            },
        ),
        make_check(
            "assoc.any_called_aet",
            Status.FAIL,
            "Association accepted for Called AE Title 'XK3PQ7ZB'",
            evidence={"called_aet_sent": "XK3PQ7ZB", "calling_aet": "DICOMAUDIT", "result": "A-ASSOCIATE-AC"},
            duration_ms=12.3,
        ),
        make_check(
            "assoc.any_calling_aet",
            Status.FAIL,
            "Association accepted from Calling AE Title 'ZQ81LMNO'",
            evidence={"calling_aet_sent": "ZQ81LMNO", "result": "A-ASSOCIATE-AC"},
            duration_ms=10.1,
        ),
        make_check(
            "echo.unauthenticated", Status.FAIL, "C-ECHO succeeded (status 0x0000)", evidence={"status": "0x0000"}
        ),
        make_check(
            "find.unauthenticated",
            Status.FAIL,
            "Wildcard C-FIND returned 2 matches (capped at 5)",
            evidence={
                "queries": [{"model": "StudyRoot", "level": "STUDY", "matches": 2, "cancelled": False}],
                "note": HOSTILE_EVIDENCE,
            },
        ),
        make_check(
            "find.phi_exposed",
            Status.FAIL,
            "C-FIND responses carry 2 identifying values (name, date)",
            evidence={"categories": {"name": 1, "date": 1}},
        ),
        make_check(
            "store.unauthenticated",
            Status.FAIL,
            "Storage presentation contexts accepted (nothing stored)",
            evidence={"accepted_contexts": 3, "intrusive": False},
        ),
        make_check("transport.plaintext", Status.FAIL, "DICOM spoken without TLS", evidence={"tls": False}),
    )
    return TargetResult(
        target, checks, phi, started_at="2025-03-03T09:00:01+00:00", finished_at="2025-03-03T09:00:03+00:00"
    )


def locked_node() -> TargetResult:
    target = Target("127.0.0.1", 11112, "LOCKEDPACS")
    reject = {"result": "A-ASSOCIATE-RJ", "source": 1, "reason": 3, "reason_text": "calling AE title not recognised"}
    checks = (
        make_check("dicom.service", Status.INFO, "DICOM over TLS", evidence={"transport": "tls"}),
        make_check(
            "assoc.any_called_aet",
            Status.PASS,
            "Rejected: called AE title not recognised",
            evidence={**reject, "reason": 7},
            enforced="called AE title check",
        ),
        make_check(
            "assoc.any_calling_aet",
            Status.PASS,
            "Rejected: calling AE title not recognised",
            evidence=reject,
            enforced="calling AE title allow-list",
        ),
        make_check("echo.unauthenticated", Status.PASS, "No association for an unregistered AE", evidence=reject),
        make_check("find.unauthenticated", Status.PASS, "No association for an unregistered AE", evidence=reject),
        make_check(
            "find.phi_exposed", Status.SKIPPED, "No C-FIND response to analyse", reason="find.unauthenticated passed"
        ),
        make_check("store.unauthenticated", Status.PASS, "No association for an unregistered AE", evidence=reject),
        make_check("transport.plaintext", Status.PASS, "Only TLS offered", evidence={"tls": True}),
    )
    return TargetResult(target, checks)


def down_node() -> TargetResult:
    target = Target("127.0.0.1", 10404, None)
    checks = tuple(
        make_check(
            cid,
            Status.ERROR,
            "Could not be decided",
            reason="TCP connect timed out after 5.0 s",
            code=ErrorReason.TIMEOUT,
            evidence={"timeout_s": 5.0},
        )
        for cid in load_catalogue()
    )
    return TargetResult(target, checks)


def file_phi() -> tuple[PhiFinding, ...]:
    return (
        PhiFinding(
            source="sample_data/ct_head.dcm",
            path="PatientName",
            tag="(0010,0010)",
            keyword="PatientName",
            vr="PN",
            category="name",
            rule="annex_e",
            severity=Severity.HIGH,
            value="S****^J***",
        ),
        PhiFinding(
            source="sample_data/ct_head.dcm",
            path="RequestAttributesSequence[0].RequestingPhysician",
            tag="(0032,1032)",
            keyword="RequestingPhysician",
            vr="PN",
            category="name",
            rule="annex_e",
            severity=Severity.MEDIUM,
            value="R*****",
        ),
        PhiFinding(
            source="sample_data/us_private.dcm",
            path="(0009,1010)",
            tag="(0009,1010)",
            keyword="",
            vr="LO",
            category="free_text",
            rule="private_text",
            severity=Severity.LOW,
            value="J*** D** ***",
        ),
    )


def make_result(
    targets: tuple[TargetResult, ...] | None = None, *, phi: tuple[PhiFinding, ...] | None = None
) -> RunResult:
    return RunResult(
        tool_version="0.1.0",
        run=RunInfo(
            command="dicomaudit probe 127.0.0.1:4242/ORTHANC 127.0.0.1:11112/LOCKEDPACS 127.0.0.1:10404 --fail-on high",
            started_at="2025-03-03T09:00:00+00:00",
            finished_at="2025-03-03T09:00:07+00:00",
            settings={
                "calling_aet": "DICOMAUDIT",
                "timeout": 5.0,
                "concurrency": 4,
                "intrusive": False,
                "show_values": False,
            },
            operator="A. Auditor",
            scope_ref="CHG-2025-0142",
        ),
        targets=(open_node(), locked_node(), down_node()) if targets is None else targets,
        phi=file_phi() if phi is None else phi,
        errors=(InputError("sample_data/broken.dcm", "not a DICOM file: no DICM prefix at offset 128"),),
    )


TODAY = date(2025, 3, 3)  # the day reports are judged on in these tests
