"""The ``readonly`` profile: queries answered, storage not offered at all."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind as PATIENT_ROOT,
)
from pynetdicom.sop_class import (
    SecondaryCaptureImageStorage,
)

from dicomaudit.synth import synthetic_test_instance


def test_storage_context_is_rejected_as_unsupported(start_lab, scu):
    # Given a readonly lab
    lab = start_lab("readonly")
    # When a client proposes echo, find and Secondary Capture storage
    assoc = scu().associate(lab.host, lab.port)
    # Then the association is accepted but the storage context is rejected
    # (A-ASSOCIATE-AC result 3: abstract syntax not supported, PS3.8 9.3.3.2)
    rejected = {cx.abstract_syntax: cx.result for cx in assoc.rejected_contexts}
    accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
    assert assoc.is_established
    assert rejected == {SecondaryCaptureImageStorage: 0x03}
    assert PATIENT_ROOT in accepted
    # And a C-STORE cannot even be attempted
    with pytest.raises(ValueError, match="No presentation context"):
        assoc.send_c_store(synthetic_test_instance(seed=1))
    assoc.release()
    assert lab.stored == []


def test_find_still_answers(start_lab, scu):
    lab = start_lab("readonly")
    assoc = scu().associate(lab.host, lab.port)
    q = Dataset()
    q.QueryRetrieveLevel = "PATIENT"
    q.PatientID = "SYN-0005"
    statuses = [s.Status for s, _ in assoc.send_c_find(q, PATIENT_ROOT)]
    assoc.release()
    assert statuses == [0xFF00, 0x0000]
