"""The catalogue is data, complete and consistent with the contract."""

from __future__ import annotations

from dicomaudit.checks.base import registry
from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import Severity

CONTRACT_IDS = [
    "inventory.unlisted",
    "inventory.missing",
    "dicom.service",
    "services.offered",
    "assoc.any_called_aet",
    "assoc.any_calling_aet",
    "assoc.guessable_calling_aet",
    "identity.user_identity",
    "echo.unauthenticated",
    "find.unauthenticated",
    "find.phi_exposed",
    "worklist.unauthenticated",
    "worklist.phi_exposed",
    "get.unauthenticated",
    "move.unauthenticated",
    "move.any_destination",
    "store.unauthenticated",
    "transport.plaintext",
    "web.service",
    "web.plaintext",
    "web.unauthenticated",
    "web.cors",
    "web.default_credentials",
    "qido.unauthenticated",
    "qido.phi_exposed",
    "wado.unauthenticated",
    "stow.unauthenticated",
    "tls.protocols",
    "tls.ciphers",
    "tls.certificate",
    "tls.client_auth",
    "software.identified",
    "software.known_vulnerable",
]


def test_catalogue_has_exactly_the_contract_ids_in_order() -> None:
    assert list(load_catalogue()) == CONTRACT_IDS


def test_every_catalogue_check_is_implemented() -> None:
    assert list(registry()) == CONTRACT_IDS


def test_every_check_has_question_rationale_remediation_and_compliance() -> None:
    for d in load_catalogue().values():
        assert d.question and d.rationale and d.remediation, d.id
        assert d.compliance, f"{d.id} maps to no control"
        assert isinstance(d.severity, Severity)


def test_service_check_is_informational_and_find_checks_are_critical() -> None:
    cat = load_catalogue()
    assert cat["dicom.service"].severity is Severity.INFO
    assert cat["find.unauthenticated"].severity is Severity.CRITICAL
    assert cat["find.phi_exposed"].severity is Severity.CRITICAL
