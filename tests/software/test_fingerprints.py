"""Software identification: each fingerprint row, the Orthanc-behind-DCMTK trap, and never a guess."""

from __future__ import annotations

import textwrap
from typing import Any

import pydicom
import pynetdicom
import pytest
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID
from pynetdicom import AE

from dicomaudit import __version__
from dicomaudit.lab.server import LAB_IMPLEMENTATION_CLASS_UID, LAB_IMPLEMENTATION_VERSION_NAME
from dicomaudit.net.identity import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from dicomaudit.software.fingerprints import (
    Fingerprint,
    FingerprintError,
    identify,
    load_fingerprints,
    parse_fingerprints,
    unpack_version,
)

ROWS = load_fingerprints()
DCMTK_UID = "1.2.276.0.7230010.3.0.3.6.7"
DCMTK_NAME = "OFFIS_DCMTK_367"
#: What Orthanc 1.10.1 (Debian 12) answered on GET /system in the peers lab (Name is its configuration's).
ORTHANC_SYSTEM = {"Name": "dicomaudit-open", "Version": "1.10.1", "ApiVersion": 16, "DicomAet": "ORTHANC"}


def _row(row_id: str) -> Fingerprint:
    return next(r for r in ROWS if r.id == row_id)


# -- every shipped row -------------------------------------------------------------------------
@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_every_row_identifies_its_own_example(row: Fingerprint) -> None:
    """Given a shipped fingerprint row, when its example observation is identified, then the row's product,
    version and confidence come out, citing the row's source."""
    example = row.example
    assert example is not None, f"{row.id} has no example"
    found = identify(
        example.implementation_class_uid,
        example.implementation_version_name,
        example.server_header,
        example.orthanc_system,
    )
    assert found is not None
    assert (found.product, found.version, found.confidence) == (example.product, example.version, example.confidence)
    assert found.fingerprint == row.id
    assert found.source == row.source


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_every_row_cites_a_url(row: Fingerprint) -> None:
    """Given a shipped fingerprint row, then it cites its source as a URL."""
    assert row.source.startswith("https://")


def test_no_row_claims_certainty_from_a_dicom_identity_alone() -> None:
    """Given the shipped rows, then only rows matched by a web answer (Orthanc's /system) may be "certain":
    an Implementation Class UID is self-declared and inherited by every product on a toolkit."""
    certain = [r.id for r in ROWS if r.confidence == "certain"]
    assert certain and all(_row(i).orthanc_system for i in certain)


# -- the Orthanc trap --------------------------------------------------------------------------
def test_dcmtk_identity_is_the_toolkit_with_orthanc_among_candidates() -> None:
    """Given the DCMTK UID and version name (what Orthanc 1.10.1 sends), when identified from DIMSE alone,
    then the answer is the DCMTK 3.6.7 toolkit, likely, with Orthanc among the candidates, never Orthanc."""
    found = identify(DCMTK_UID, DCMTK_NAME)
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("DCMTK", "3.6.7", "likely")
    assert found.label == "DCMTK 3.6.7 toolkit"
    assert "Orthanc" in found.candidates
    assert "other DCMTK-based products" in found.candidates


def test_orthanc_system_answer_is_certain() -> None:
    """Given Orthanc's /system answer next to the DCMTK identity of its DICOM port, when identified, then it is
    Orthanc 1.10.1, certain, and the basis names both the /system answer and the DCMTK toolkit."""
    found = identify(DCMTK_UID, DCMTK_NAME, orthanc_system=ORTHANC_SYSTEM)
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("Orthanc", "1.10.1", "certain")
    assert found.label == "Orthanc 1.10.1"
    assert any("Version='1.10.1'" in b and "ApiVersion=16" in b for b in found.basis)
    assert any("DCMTK 3.6.7" in b for b in found.basis)
    assert found.observed["system_version"] == "1.10.1"


def test_orthanc_development_build_claims_no_version() -> None:
    """Given a /system answer of a development build (Version "mainline"), when identified, then it is Orthanc,
    certain, with no version claimed."""
    found = identify(orthanc_system={"Version": "mainline", "ApiVersion": 24})
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("Orthanc", None, "certain")
    assert any("development build" in b for b in found.basis)


def test_orthanc_hint_without_the_json_names_orthanc_without_a_version() -> None:
    """Given only the web probe's hint that /system answered like Orthanc, when identified, then it is Orthanc
    with no version."""
    found = identify(DCMTK_UID, DCMTK_NAME, hints={"orthanc_system"})
    assert found is not None
    assert (found.product, found.version) == ("Orthanc", None)


def test_an_unknown_hint_is_refused() -> None:
    """Given a misspelt hint, when identifying, then a ValueError names it."""
    with pytest.raises(ValueError, match="orthanc-system"):
        identify(DCMTK_UID, hints={"orthanc-system"})


def test_a_system_answer_unlike_orthanc_is_not_taken_as_orthanc() -> None:
    """Given a /system answer without Version and ApiVersion, when identified with a DCMTK identity, then the
    answer stays the DCMTK toolkit and the basis says why the /system answer was not used."""
    found = identify(DCMTK_UID, DCMTK_NAME, orthanc_system={"Name": "something"})
    assert found is not None
    assert found.product == "DCMTK"
    assert any("not taken as Orthanc" in b for b in found.basis)


def test_orthanc_system_with_a_foreign_dicom_identity_names_the_other_product() -> None:
    """Given Orthanc's /system answer but a dcm4che identity on the DICOM port, when identified, then it is
    Orthanc (the web answer) and dcm4che is named as a candidate for the DICOM port."""
    found = identify("1.2.40.0.13.1.3", "dcm4che-5.23.3", orthanc_system=ORTHANC_SYSTEM)
    assert found is not None
    assert found.product == "Orthanc"
    assert "dcm4che" in found.candidates


# -- never beyond the evidence -----------------------------------------------------------------
def test_unknown_uid_is_not_identified() -> None:
    """Given an Implementation Class UID and name in no row, when identified, then product and confidence are
    None ("not identified") and the basis lists the observed values."""
    found = identify("1.2.3.4.5", "SOMEPACS_1")
    assert found is not None
    assert (found.product, found.version, found.confidence) == (None, None, None)
    assert found.label == "not identified"
    assert found.observed == {"implementation_class_uid": "1.2.3.4.5", "implementation_version_name": "SOMEPACS_1"}
    assert "1.2.3.4.5" in found.basis[0] and "SOMEPACS_1" in found.basis[0]


@pytest.mark.parametrize(
    "kwargs", [{}, {"implementation_class_uid": "", "implementation_version_name": "  "}, {"orthanc_system": {}}]
)
def test_nothing_observed_gives_no_answer(kwargs: dict[str, Any]) -> None:
    """Given no observed value at all, when identifying, then there is no answer (None)."""
    assert identify(**kwargs) is None


def test_a_borrowed_uid_with_a_foreign_name_is_only_possible() -> None:
    """Given dcm4che's UID with another product's version name (dcm4go borrows it), when identified, then it is
    dcm4che at most "possible", with no version."""
    found = identify("1.2.40.0.13.1.3", "dcm4go-1.0")
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("dcm4che", None, "possible")


def test_uid_and_name_disagreeing_on_the_version_claim_none() -> None:
    """Given a DCMTK UID of 3.6.8 and a version name of 3.6.7, when identified, then it is DCMTK, "possible",
    with no version claimed."""
    found = identify("1.2.276.0.7230010.3.0.3.6.8", DCMTK_NAME)
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("DCMTK", None, "possible")


def test_a_version_name_without_uid_is_weaker() -> None:
    """Given only DCMTK's version name, when identified, then it is DCMTK 3.6.7 one step weaker: "possible"."""
    found = identify(implementation_version_name=DCMTK_NAME)
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("DCMTK", "3.6.7", "possible")


def test_a_known_name_with_an_unknown_uid_is_only_possible() -> None:
    """Given pynetdicom's version name on an unknown UID, when identified, then it is pynetdicom, "possible"."""
    found = identify("1.2.3.4.5", "PYNETDICOM_304")
    assert found is not None
    assert (found.product, found.confidence) == ("pynetdicom", "possible")


def test_padding_is_not_part_of_the_values() -> None:
    """Given a NUL-padded UID and a space-padded name (as decoded off the wire), when identified, then the
    answer is the same as without padding."""
    found = identify(DCMTK_UID + "\x00", DCMTK_NAME + " ")
    assert found is not None
    assert (found.product, found.version) == ("DCMTK", "3.6.7")


@pytest.mark.parametrize(("raw", "expected"), [("367", "3.6.7"), ("3610", "3.6.10"), ("370", "3.7.0"), ("36", None)])
def test_packed_version_digits(raw: str, expected: str | None) -> None:
    """Given DCMTK-style packed digits, when unpacked, then major, minor and the rest as patch come out."""
    assert unpack_version(raw, "packed") == expected


# -- the rows stay true to the code they describe ----------------------------------------------
def test_dicomaudit_rows_match_its_own_identity() -> None:
    """Given dicomaudit's own Implementation Class UID and version name, and the lab's, when identified, then
    they are dicomaudit (this version) and the dicomaudit lab."""
    own = identify(IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME)
    lab = identify(LAB_IMPLEMENTATION_CLASS_UID, LAB_IMPLEMENTATION_VERSION_NAME)
    assert own is not None and lab is not None
    assert (own.product, own.version) == ("dicomaudit", __version__)
    assert lab.product == "dicomaudit lab"


def test_pynetdicom_and_pydicom_rows_match_the_installed_libraries() -> None:
    """Given the identities the installed pynetdicom and pydicom write, when identified, then the library and
    its installed version come out."""
    net = identify(pynetdicom.PYNETDICOM_IMPLEMENTATION_UID, pynetdicom.PYNETDICOM_IMPLEMENTATION_VERSION)
    lib = identify(PYDICOM_IMPLEMENTATION_UID, f"PYDICOM {pydicom.__version__}")
    assert net is not None and lib is not None
    assert (net.product, net.version) == ("pynetdicom", ".".join(pynetdicom.__version__.split(".")[:3]))
    assert (lib.product, lib.version) == ("pydicom", pydicom.__version__)


# -- the table's own rules ---------------------------------------------------------------------
GOOD_ROW = """
    [[fingerprint]]
    id = "acme"
    product = "Acme PACS"
    kind = "server"
    uid = ["1.2.3.999"]
    confidence = "likely"
    source = "https://example.org/acme-conformance.pdf"
"""


def _table(row: str) -> str:
    return "format = 1\n" + textwrap.dedent(row)


def test_a_good_custom_row_loads() -> None:
    """Given a well-formed row, when the table is parsed, then it loads."""
    (row,) = parse_fingerprints(_table(GOOD_ROW))
    assert row.product == "Acme PACS"


def test_a_row_without_source_is_refused() -> None:
    """Given a row without a source, when the table is parsed, then it is refused, naming the row."""
    with pytest.raises(FingerprintError, match=r"fingerprint #1 \(acme\): no 'source'"):
        parse_fingerprints(_table(GOOD_ROW.replace('source = "https://example.org/acme-conformance.pdf"', "")))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('source = "https://example.org/acme-conformance.pdf"', 'source = "nmap table"', "must be a URL"),
        ('kind = "server"', 'kind = "server"\nvendor = "Acme"', "unknown key"),
        ('uid = ["1.2.3.999"]', "uid_pattern = '1\\.2\\.(?P<v>\\d+)'", "only name a 'version' group"),
        ('uid = ["1.2.3.999"]', "uid_pattern = '1\\.2\\.(('", "not a valid regular expression"),
        ('uid = ["1.2.3.999"]', "", "no matcher"),
        ('confidence = "likely"', 'confidence = "sure"', "confidence must be one of"),
    ],
)
def test_a_malformed_row_is_refused(old: str, new: str, message: str) -> None:
    """Given a row with one malformed field, when the table is parsed, then it is refused with a message that
    names the row and the fault."""
    with pytest.raises(FingerprintError, match=message) as info:
        parse_fingerprints(_table(GOOD_ROW.replace(old, new)))
    assert "acme" in str(info.value)


def test_a_server_header_row_is_at_most_possible() -> None:
    """Given a custom row matching an HTTP Server header, when only that header is observed, then the product
    comes out at most "possible" with the version read from the header."""
    rows = parse_fingerprints(
        _table(GOOD_ROW.replace('uid = ["1.2.3.999"]', "server_pattern = 'AcmePACS/(?P<version>\\d+\\.\\d+)'"))
    )
    found = identify(server_header="AcmePACS/4.2", fingerprints=rows)
    assert found is not None
    assert (found.product, found.version, found.confidence) == ("Acme PACS", "4.2", "possible")


# -- real peers --------------------------------------------------------------------------------
def _accepted_identity(host: str, port: int, called: str) -> tuple[str, str]:
    ae = AE(ae_title="DICOMAUDIT")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate(host, port, ae_title=called)
    try:
        assert assoc.is_established
        return str(assoc.acceptor.implementation_class_uid), str(assoc.acceptor.implementation_version_name)
    finally:
        assoc.release()


def test_the_lab_is_identified_as_the_lab(lab_open: Any) -> None:
    """Given the running dicomaudit lab, when its A-ASSOCIATE-AC identity is identified, then it is the
    dicomaudit lab."""
    found = identify(*_accepted_identity(lab_open.host, lab_open.port, lab_open.ae_title))
    assert found is not None and found.product == "dicomaudit lab"


@pytest.mark.peers
def test_real_orthanc_is_dcmtk_on_the_wire_and_orthanc_on_system(orthanc_open: Any) -> None:
    """Given a real Orthanc, when its DICOM identity alone is identified, then it is the DCMTK toolkit with
    Orthanc a candidate; with its real /system answer, then it is Orthanc at the version /system gives, certain."""
    uid, name = _accepted_identity(orthanc_open.host, orthanc_open.port, orthanc_open.aet)
    dimse = identify(uid, name)
    assert dimse is not None
    assert (dimse.product, dimse.confidence) == ("DCMTK", "likely")
    assert "Orthanc" in dimse.candidates
    system = orthanc_open.rest("GET", "/system")
    assert isinstance(system, dict)
    both = identify(uid, name, orthanc_system=system)
    assert both is not None
    assert (both.product, both.version, both.confidence) == ("Orthanc", system["Version"], "certain")


@pytest.mark.peers
def test_real_storescp_is_dcmtk(storescp_server: Any) -> None:
    """Given a real DCMTK storescp, when its identity is identified, then it is the DCMTK toolkit, likely."""
    found = identify(*_accepted_identity(storescp_server.host, storescp_server.port, storescp_server.aet))
    assert found is not None
    assert (found.product, found.confidence) == ("DCMTK", "likely")
    assert found.version is not None
