"""Lifecycle of the lab PACS: ports, threads, context manager, identity, configuration."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import pytest

from dicomaudit import synth
from dicomaudit.lab import (
    LAB_IMPLEMENTATION_CLASS_UID,
    LAB_IMPLEMENTATION_VERSION_NAME,
    PROFILES,
    LabPACS,
    LabProfile,
    default_datasets,
)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("LabPACS", "AcceptorThread"))]


def test_port_zero_binds_a_free_port_and_stop_releases_it():
    # Given a lab asked for port 0
    lab = LabPACS(profile="open", port=0)
    # When it starts
    lab.start()
    port = lab.port
    try:
        # Then it listens on a real port that is now taken
        assert port > 0
        assert not _port_is_free(port)
    finally:
        lab.stop()
    # And after stop the port can be bound again
    assert _port_is_free(port)


def test_context_manager_starts_and_stops(scu):
    # Given a lab used as a context manager
    with LabPACS(profile="open") as lab:
        # When a client associates inside the block
        assoc = scu().associate(lab.host, lab.port)
        assert assoc.is_established
        assoc.release()
        assert lab.running
    # Then the lab is stopped on exit
    assert not lab.running
    with pytest.raises(RuntimeError):
        _ = lab.port


def test_many_start_stop_cycles_leak_no_threads(scu):
    # Given the threads alive before
    before = len(_lab_threads())
    # When ten labs are started, used and stopped in turn
    for _ in range(10):
        with LabPACS(profile="open") as lab:
            assoc = scu().associate(lab.host, lab.port)
            assoc.send_c_echo()
            assoc.release()
    time.sleep(0.05)
    # Then no server or association thread remains
    assert len(_lab_threads()) == before


def test_stop_aborts_an_association_left_open(scu):
    # Given a client that never releases its association (threads other tests' labs left winding down,
    # e.g. after a bare connect from a sweep, are not this lab's)
    earlier = set(_lab_threads())
    lab = LabPACS(profile="open").start()
    assoc = scu().associate(lab.host, lab.port)
    assert assoc.is_established
    # When the lab stops
    lab.stop()
    assoc.join(5)
    # Then the client sees the association aborted, and the lab thread is gone
    assert assoc.is_aborted
    assert not set(_lab_threads()) - earlier


def test_stop_is_idempotent():
    lab = LabPACS(profile="open").start()
    lab.stop()
    lab.stop()  # Then a second stop is a no-op
    assert not lab.running


def test_starting_twice_is_an_error():
    with LabPACS(profile="open") as lab, pytest.raises(RuntimeError):
        lab.start()


def test_non_loopback_host_is_refused():
    # The lab is insecure by design: binding elsewhere must be an explicit choice.
    with pytest.raises(ValueError, match="loopback"):
        LabPACS(profile="open", host="0.0.0.0")


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="open"):
        LabPACS(profile="nonexistent")


def test_lab_identifies_itself_with_its_own_implementation_uid(scu):
    # Given a running lab
    with LabPACS(profile="open") as lab:
        # When a client associates
        assoc = scu().associate(lab.host, lab.port)
        # Then the A-ASSOCIATE-AC carries the lab's Implementation Class UID / Version Name
        assert assoc.acceptor.implementation_class_uid == LAB_IMPLEMENTATION_CLASS_UID
        assert assoc.acceptor.implementation_version_name == LAB_IMPLEMENTATION_VERSION_NAME
        assoc.release()
    assert LAB_IMPLEMENTATION_CLASS_UID.startswith("2.25.")
    assert LAB_IMPLEMENTATION_CLASS_UID != synth.IMPLEMENTATION_CLASS_UID


def test_default_data_is_the_repo_sample_data():
    # Given no datasets argument, the lab serves sample_data/ (same SOP instances as generated)
    served = {str(ds.SOPInstanceUID) for ds in default_datasets()}
    generated = {str(ds.SOPInstanceUID) for ds in synth.generate_studies()}
    assert served == generated


def test_custom_datasets_replace_the_default():
    # Given a lab seeded with a single instance
    only = synth.synthetic_test_instance(seed=3)
    with LabPACS(profile="open", datasets=[only]) as lab:
        # Then that is all it holds
        assert [str(ds.SOPInstanceUID) for ds in lab.datasets] == [str(only.SOPInstanceUID)]


def test_profiles_are_frozen_and_complete():
    assert {"open", "locked", "stock", "readonly", "tls"} <= set(PROFILES)
    for name, profile in PROFILES.items():
        assert isinstance(profile, LabProfile)
        assert profile.name == name
        with pytest.raises(dataclasses.FrozenInstanceError):
            profile.ae_title = "X"  # type: ignore[misc]


def test_port_in_use_fails_start_cleanly():
    # Given a port already bound by someone else
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        lab = LabPACS(profile="tls", port=taken.getsockname()[1])
        # When the lab tries to start there, Then it raises and leaves nothing behind
        with pytest.raises(OSError):
            lab.start()
    assert not lab.running
    assert lab.tls_files is not None and not lab.tls_files.directory.exists()
