"""The lab PACS is a faithful stand-in: DCMTK's own clients see it as they see a real node.

``echoscu``, ``findscu`` and ``storescu`` (DCMTK 3.6) against the lab on
loopback, in the open and locked profiles.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dicomaudit.lab import LabPACS
from tests.peers.dcmtk import dcmtk_binary

pytestmark = pytest.mark.peers
ROOT = Path(__file__).resolve().parent.parent


def dcmtk(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    # DCMTK's own tool, not pynetdicom's namesake from an activated virtualenv.
    binary = dcmtk_binary(tool)
    if binary is None:
        pytest.skip(f"DCMTK {tool} not installed (run scripts/install-peers.sh)")
    # DCMTK prints names in their own character set (ISO_IR 100 here): decode leniently.
    return subprocess.run(
        [binary, *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        cwd=ROOT / "tests",
        stdin=subprocess.DEVNULL,
    )


def addr(lab: LabPACS) -> list[str]:
    return [lab.host, str(lab.port)]


def test_echoscu_succeeds_on_open_lab(lab_open: LabPACS) -> None:
    result = dcmtk("echoscu", "-aet", "ANYONE", "-aec", "WHATEVER", *addr(lab_open))
    assert result.returncode == 0, result.stderr


def test_echoscu_is_rejected_by_locked_lab_for_unknown_calling_aet(lab_locked: LabPACS) -> None:
    result = dcmtk("echoscu", "-v", "-aet", "DICOMAUDIT", "-aec", lab_locked.ae_title, *addr(lab_locked))
    assert result.returncode != 0
    assert "Association Rejected" in result.stdout + result.stderr
    assert "Calling AE Title Not Recognized" in result.stdout + result.stderr


def test_echoscu_from_registered_aet_succeeds_on_locked_lab(lab_locked: LabPACS) -> None:
    result = dcmtk("echoscu", "-aet", "PACSADMIN", "-aec", lab_locked.ae_title, *addr(lab_locked))
    assert result.returncode == 0, result.stdout + result.stderr


def test_findscu_wildcard_patient_query_lists_every_lab_patient(lab_open: LabPACS) -> None:
    result = dcmtk(
        "findscu",
        "-v",
        "-P",
        "-aet",
        "DICOMAUDIT",
        "-aec",
        lab_open.ae_title,
        "-k",
        "QueryRetrieveLevel=PATIENT",
        "-k",
        "PatientName=*",
        "-k",
        "PatientID",
        *addr(lab_open),
    )
    assert result.returncode == 0, result.stderr
    patients = {str(ds.PatientID) for ds in lab_open.datasets}
    assert (result.stdout + result.stderr).count("(Pending)") == len(patients)


def test_findscu_study_root_query_lists_every_lab_study(lab_open: LabPACS) -> None:
    result = dcmtk(
        "findscu",
        "-v",
        "-S",
        "-aet",
        "DICOMAUDIT",
        "-aec",
        lab_open.ae_title,
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "PatientName",
        *addr(lab_open),
    )
    assert result.returncode == 0, result.stderr
    studies = {str(ds.StudyInstanceUID) for ds in lab_open.datasets}
    assert (result.stdout + result.stderr).count("(Pending)") == len(studies)


def test_storescu_stores_into_open_lab(tmp_path: Path) -> None:
    sample = next((ROOT / "sample_data").rglob("*.dcm"))
    with LabPACS(profile="open", port=0) as lab:
        result = dcmtk("storescu", "-aet", "MODALITY9", "-aec", lab.ae_title, *addr(lab), str(sample))
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(lab.stored) == 1


def test_dcmtk_tools_are_found_when_pynetdicom_shadows_them_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given an activated virtualenv (pynetdicom's echoscu first on PATH), then DCMTK's echoscu is still used."""
    import os
    import sys

    venv_bin = str(Path(sys.executable).parent)
    if not os.path.exists(os.path.join(venv_bin, "echoscu")):
        pytest.skip("no pynetdicom echoscu in this environment's bin")
    monkeypatch.setenv("PATH", venv_bin + os.pathsep + os.environ.get("PATH", ""))
    dcmtk_binary.cache_clear()
    try:
        found = dcmtk_binary("echoscu")
    finally:
        dcmtk_binary.cache_clear()
    if found is None:
        pytest.skip("DCMTK not installed")
    assert not found.startswith(venv_bin)
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10)
    assert "$dcmtk:" in version.stdout
