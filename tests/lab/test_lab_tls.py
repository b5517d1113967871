"""The ``tls`` profile: TLS only, client certificates required."""

from __future__ import annotations

import time

from dicomaudit.lab.tls import SERVER_HOSTNAME


def _wait_for_event(lab, timeout: float = 5.0) -> None:
    """The client can see a TLS failure (the alert) before the lab's server thread has logged it."""
    deadline = time.monotonic() + timeout
    while not lab.events and time.monotonic() < deadline:
        time.sleep(0.01)


def test_plaintext_association_fails_at_the_tls_handshake(start_lab, scu):
    # Given a TLS-only lab
    lab = start_lab("tls")
    # When a client speaks plain DICOM
    assoc = scu().associate(lab.host, lab.port)
    # Then no association is established and the lab logs a failed handshake
    assert not assoc.is_established
    assert not assoc.is_rejected  # there is no A-ASSOCIATE-RJ: the connection is simply dropped
    _wait_for_event(lab)
    assert [e["outcome"] for e in lab.events] == ["handshake_failed"]


def test_tls_without_client_certificate_is_refused(start_lab, scu):
    # Given a TLS-only lab requiring client certificates
    lab = start_lab("tls")
    assert lab.tls_files is not None
    ctx = lab.tls_files.client_context(with_client_cert=False)
    # When a client does TLS (trusting the lab CA) but presents no certificate
    assoc = scu().associate(lab.host, lab.port, tls_args=(ctx, SERVER_HOSTNAME))
    # Then the association fails and the lab says why
    assert not assoc.is_established
    _wait_for_event(lab)
    assert lab.events[0]["kind"] == "tls"
    assert "CERTIFICATE" in lab.events[0]["reason"].upper()


def test_tls_with_client_certificate_succeeds(start_lab, scu):
    lab = start_lab("tls")
    assert lab.tls_files is not None
    ctx = lab.tls_files.client_context(with_client_cert=True)
    assoc = scu().associate(lab.host, lab.port, tls_args=(ctx, SERVER_HOSTNAME))
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000


def test_tls_material_is_removed_on_stop():
    from dicomaudit.lab import LabPACS

    with LabPACS(profile="tls") as lab:
        assert lab.tls_files is not None
        folder = lab.tls_files.directory
        assert lab.tls_files.ca_cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert not folder.exists()
