"""Custom profiles: the policies are data, so any combination can be built for a test."""

from __future__ import annotations

from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomaudit.lab import REFUSED_NOT_AUTHORIZED, Access, LabProfile
from dicomaudit.synth import synthetic_test_instance


def test_listed_storage_refuses_unregistered_callers_with_0124(start_lab, scu):
    # Given a profile where only MODALITY1 may store
    profile = LabProfile(name="store-listed", description="test", store="listed", registered_aets=("MODALITY1",))
    lab = start_lab(profile)
    # When an unregistered AE and the registered one each store an instance
    outsider = scu("OUTSIDER").associate(lab.host, lab.port)
    refused = outsider.send_c_store(synthetic_test_instance(seed=1))
    outsider.release()
    modality = scu("MODALITY1").associate(lab.host, lab.port)
    accepted = modality.send_c_store(synthetic_test_instance(seed=2))
    modality.release()
    # Then the outsider gets "Refused: Not Authorized" and only the registered store is kept
    assert refused.Status == REFUSED_NOT_AUTHORIZED
    assert accepted.Status == 0x0000
    assert len(lab.stored) == 1
    assert profile.store is Access.LISTED  # plain strings are coerced to Access


def test_service_none_rejects_its_presentation_context(start_lab, scu):
    lab = start_lab(LabProfile(name="no-echo", description="test", echo="none"))
    assoc = scu().associate(lab.host, lab.port)
    rejected = {cx.abstract_syntax for cx in assoc.rejected_contexts}
    assoc.release()
    assert Verification in rejected
