"""The ``stock`` profile: everyone associates, echoes and stores; C-FIND is refused by status."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind as PATIENT_ROOT,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind as STUDY_ROOT,
)

from dicomaudit.lab import REFUSED_NOT_AUTHORIZED
from dicomaudit.synth import synthetic_test_instance


def _patient_query() -> Dataset:
    q = Dataset()
    q.QueryRetrieveLevel = "PATIENT"
    q.PatientName = ""
    return q


def test_unregistered_ae_is_accepted_and_echo_succeeds(start_lab, scu):
    lab = start_lab("stock")
    assoc = scu("RANDOMQ9").associate(lab.host, lab.port, ae_title="ANYTHING")
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000


def test_find_from_unregistered_ae_is_refused_with_0124_and_no_identifiers(start_lab, scu):
    # Given a stock lab
    lab = start_lab("stock")
    assoc = scu("RANDOMQ9").associate(lab.host, lab.port)
    # When an unregistered AE queries with either model
    responses = list(assoc.send_c_find(_patient_query(), PATIENT_ROOT))
    study_q = _patient_query()
    study_q.QueryRetrieveLevel = "STUDY"
    responses += list(assoc.send_c_find(study_q, STUDY_ROOT))
    assoc.release()
    # Then each request gets one final "Refused: Not Authorized" and no data
    assert [(s.Status, i) for s, i in responses] == [(REFUSED_NOT_AUTHORIZED, None)] * 2
    assert [e["outcome"] for e in lab.events if e["kind"] == "C-FIND"] == ["refused", "refused"]


def test_find_from_registered_ae_succeeds(start_lab, scu):
    lab = start_lab("stock")
    assoc = scu("PACSADMIN").associate(lab.host, lab.port)
    statuses = [s.Status for s, _ in assoc.send_c_find(_patient_query(), PATIENT_ROOT)]
    assoc.release()
    assert statuses == [0xFF00] * 6 + [0x0000]


def test_store_from_unregistered_ae_is_accepted(start_lab, scu):
    lab = start_lab("stock")
    assoc = scu("RANDOMQ9").associate(lab.host, lab.port)
    status = assoc.send_c_store(synthetic_test_instance(seed=5))
    assoc.release()
    assert status.Status == 0x0000
    assert len(lab.stored) == 1
