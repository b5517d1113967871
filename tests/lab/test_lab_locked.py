"""The ``locked`` profile: called-AE check and a calling-AE allow-list at association time."""

from __future__ import annotations

import pytest

from dicomaudit.lab import PROFILES


def test_unregistered_calling_aet_is_rejected_with_reason_3(start_lab, scu):
    # Given a locked lab
    lab = start_lab("locked")
    # When an unregistered AE associates with the right called AE
    assoc = scu("DICOMAUDIT").associate(lab.host, lab.port, ae_title="DICOMLAB")
    # Then A-ASSOCIATE-RJ: rejected-permanent, service-user, "calling AE title not recognised"
    assert assoc.is_rejected
    rj = assoc.acceptor.primitive
    assert (rj.result, rj.result_source, rj.diagnostic) == (0x01, 0x01, 0x03)
    assert lab.events[-1]["reason"] == "calling ae title not recognised"


def test_wrong_called_aet_is_rejected_with_reason_7(start_lab, scu):
    # Given a locked lab and an allow-listed caller
    lab = start_lab("locked")
    # When it addresses a random called AE title
    assoc = scu("PACSADMIN").associate(lab.host, lab.port, ae_title="RANDOMX1")
    # Then A-ASSOCIATE-RJ with "called AE title not recognised"
    assert assoc.is_rejected
    rj = assoc.acceptor.primitive
    assert (rj.result, rj.result_source, rj.diagnostic) == (0x01, 0x01, 0x07)
    assert lab.events[-1]["outcome"] == "rejected"
    assert lab.events[-1]["called_aet"] == "RANDOMX1"


@pytest.mark.parametrize("calling_aet", PROFILES["locked"].allowed_calling_aets)
def test_allow_listed_caller_is_served(start_lab, scu, calling_aet):
    # Given a locked lab
    lab = start_lab("locked")
    # When an allow-listed AE addresses DICOMLAB
    assoc = scu(calling_aet).associate(lab.host, lab.port, ae_title="DICOMLAB")
    # Then it is accepted and C-ECHO succeeds
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000
