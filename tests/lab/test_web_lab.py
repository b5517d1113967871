"""The lab's DICOMweb server: QIDO-RS, WADO-RS metadata, STOW-RS, HTTP auth and CORS per profile.

Real LabPACS instances with ``web_port=0`` on 127.0.0.1, probed with
``requests`` (environment proxies ignored, short timeouts).  Read-only tests
share one lab per profile (module-scoped); tests that store or stop get their own.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from pydicom import dcmwrite

from dicomaudit import __version__, synth
from dicomaudit.lab import (
    DICOM_JSON,
    IDENTITY_PROFILE_USERS,
    LAB_WEB_PASSWORD,
    LAB_WEB_USER,
    MAX_BODY_BYTES,
    PROFILES,
    LabPACS,
    LabProfile,
    default_datasets,
    describe_event,
    run_forever,
)

TIMEOUT = 5
STOW_TYPE = 'multipart/related; type="application/dicom"; boundary={boundary}'
PIXEL_DATA = "7FE00010"
STUDY_UID = "0020000D"


@pytest.fixture(scope="module")
def client() -> Iterator[requests.Session]:
    """A client that never goes through a proxy from the environment: loopback traffic only."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture(scope="module")
def open_lab() -> Iterator[LabPACS]:
    with LabPACS(profile="open", host="127.0.0.1", port=0, web_port=0) as lab:
        yield lab


@pytest.fixture(scope="module")
def locked_lab() -> Iterator[LabPACS]:
    with LabPACS(profile="locked", host="127.0.0.1", port=0, web_port=0) as lab:
        yield lab


@pytest.fixture
def web_lab() -> Iterator[Callable[..., LabPACS]]:
    """Factory for labs a test changes (stores into, stops): ``web_lab("open")``; stopped at teardown."""
    labs: list[LabPACS] = []

    def _start(profile: str | LabProfile = "open") -> LabPACS:
        lab = LabPACS(profile=profile, host="127.0.0.1", port=0, web_port=0)
        labs.append(lab)
        return lab.start()

    yield _start
    for lab in labs:
        lab.stop()


def _studies(lab: LabPACS, client: requests.Session, **params: object) -> requests.Response:
    return client.get(f"{lab.web_url}/studies", params=params, timeout=TIMEOUT)  # type: ignore[arg-type]


def _values(results: list[dict], tag: str) -> list[Any]:
    return [item[tag]["Value"][0] for item in results if item.get(tag, {}).get("Value")]


def _part10(ds) -> bytes:
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _stow(lab: LabPACS, client: requests.Session, parts: list[bytes], **kwargs: object) -> requests.Response:
    body = (
        b"".join(b"--XYZ\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n" for part in parts)
        + b"--XYZ--\r\n"
    )
    return client.post(
        f"{lab.web_url}/studies",
        data=body,
        headers={"Content-Type": STOW_TYPE.format(boundary="XYZ")},
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


def _empty_stow(lab: LabPACS, client: requests.Session, **kwargs: object) -> requests.Response:
    return client.post(
        f"{lab.web_url}/studies",
        data=b"--X--\r\n",
        headers={"Content-Type": STOW_TYPE.format(boundary="X")},
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------ QIDO-RS


def test_qido_lists_every_study_as_dicom_json(open_lab, client):
    """Given the open lab, when all studies are searched, then each synthetic study comes back once as DICOM JSON."""
    response = _studies(open_lab, client)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == DICOM_JSON
    assert response.headers["Server"] == f"dicomaudit-lab/{__version__}"
    studies = {str(ds.StudyInstanceUID) for ds in default_datasets()}
    assert sorted(_values(response.json(), STUDY_UID)) == sorted(studies)
    first = response.json()[0]
    assert first["00100010"]["vr"] == "PN" and first["00081190"]["Value"][0].startswith(f"{open_lab.web_url}/studies/")


def test_limit_returns_that_many_and_says_more_exist(open_lab, client):
    """Given nine studies, when limit=2 is asked, then two come back with the standard's 'additional results' Warning."""
    response = _studies(open_lab, client, limit=2)
    assert response.status_code == 200
    assert len(response.json()) == 2
    assert "additional results" in response.headers["Warning"]


def test_offset_pages_through_the_results(open_lab, client):
    """Given limit=2, when offset=2 is added, then the next two studies come back."""
    everything = _values(_studies(open_lab, client).json(), STUDY_UID)
    page = _values(_studies(open_lab, client, limit=2, offset=2).json(), STUDY_UID)
    assert page == everything[2:4]


def test_includefield_adds_an_attribute_to_each_result(open_lab, client):
    """Given Patient's Age is not a default study attribute, when includefield=PatientAge, then every result has it."""
    default = _studies(open_lab, client).json()
    included = _studies(open_lab, client, includefield="PatientAge").json()
    assert all("00101010" not in item for item in default)
    assert all("00101010" in item for item in included)


def test_patient_name_wildcard_is_case_insensitive(open_lab, client):
    """Given DUPONT^HÉLÈNE in the archive, when PatientName=dupont* is searched, then only her study matches."""
    results = _studies(open_lab, client, PatientName="dupont*").json()
    assert _values(results, "00100020") == ["SYN-0003"]


def test_study_date_range_matches_inclusive_bounds(open_lab, client):
    """Given studies across 2023-2024, when StudyDate=20230101-20230630, then exactly the studies in that range match."""
    expected = {str(ds.StudyInstanceUID) for ds in default_datasets() if "20230101" <= str(ds.StudyDate) <= "20230630"}
    results = _studies(open_lab, client, StudyDate="20230101-20230630").json()
    assert expected and set(_values(results, STUDY_UID)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "0"},
        {"offset": "-1"},
        {"StudyDate": "2023"},
        {"StudyInstanceUID": "1.2.*"},
        {"PatientAge": "031Y"},  # a DICOM attribute, but not a study matching key
        {"nonsense": "1"},
        {"includefield": "NotAKeyword"},
    ],
)
def test_invalid_query_parameters_get_400_with_a_message(open_lab, client, params):
    """Given a malformed or unknown query parameter, when the studies are searched, then 400 with a short message."""
    response = _studies(open_lab, client, **params)
    assert response.status_code == 400
    assert response.text.strip() and len(response.text) < 200


def test_no_match_is_an_empty_array(open_lab, client):
    """Given no patient called NOBODY, when searched, then 200 with []."""
    response = _studies(open_lab, client, PatientName="NOBODY")
    assert response.status_code == 200 and response.json() == []


# ---------------------------------------------------------- WADO-RS metadata


def test_metadata_lists_every_instance_without_pixel_data(open_lab, client):
    """Given a study of the archive, when its metadata is fetched, then every instance is there with no bulk data."""
    study = str(default_datasets()[0].StudyInstanceUID)
    response = client.get(f"{open_lab.web_url}/studies/{study}/metadata", timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["Content-Type"] == DICOM_JSON
    instances = response.json()
    expected = {str(ds.SOPInstanceUID) for ds in default_datasets() if str(ds.StudyInstanceUID) == study}
    assert set(_values(instances, "00080018")) == expected
    assert all(PIXEL_DATA not in item for item in instances)
    assert all(value["vr"] not in ("OB", "OW") for item in instances for value in item.values())


def test_metadata_of_an_unknown_study_is_404(open_lab, client):
    """Given a UID no study has, when its metadata is asked for, then 404."""
    response = client.get(f"{open_lab.web_url}/studies/1.2.3.4.5/metadata", timeout=TIMEOUT)
    assert response.status_code == 404


def test_unknown_resource_is_404_and_unknown_method_405_with_allow(open_lab, client):
    """Given the open lab, when an unknown path and a DELETE are sent, then 404, and 405 listing the methods."""
    assert client.get(f"{open_lab.web_url}/patients", timeout=TIMEOUT).status_code == 404
    response = client.delete(f"{open_lab.web_url}/studies", timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


# ----------------------------------------------------------------- STOW-RS


def test_stow_on_open_stores_a_synthetic_instance(web_lab, client):
    """Given the open lab, when a fresh synthetic instance is POSTed, then 200 references it and the lab keeps it."""
    lab = web_lab("open")
    ds = synth.synthetic_test_instance()
    response = _stow(lab, client, [_part10(ds)])
    assert response.status_code == 200 and response.headers["Content-Type"] == DICOM_JSON
    referenced = response.json()["00081199"]["Value"]
    assert referenced[0]["00081155"]["Value"] == [str(ds.SOPInstanceUID)]
    assert [str(s.SOPInstanceUID) for s in lab.stored] == [str(ds.SOPInstanceUID)]
    # And the new study is searchable over QIDO-RS too
    assert _values(_studies(lab, client, StudyInstanceUID=str(ds.StudyInstanceUID)).json(), STUDY_UID)


def test_stow_reports_an_unreadable_part_as_failed(web_lab, client):
    """Given one DICOM part and one that is not DICOM, when POSTed, then 202 with one stored and one failed."""
    lab = web_lab("open")
    response = _stow(lab, client, [_part10(synth.synthetic_test_instance()), b"not a DICOM file"])
    assert response.status_code == 202
    body = response.json()
    assert len(body["00081199"]["Value"]) == 1 and len(body["00081198"]["Value"]) == 1
    assert len(lab.stored) == 1


def test_stow_with_zero_parts_is_400_on_open(open_lab, client):
    """Given the open lab (no auth, STOW stores), when a body with no parts is POSTed, then 400 'no DICOM parts'."""
    response = _empty_stow(open_lab, client)
    assert response.status_code == 400
    assert "no DICOM parts" in response.text
    assert open_lab.stored == []


def test_stow_with_zero_parts_is_401_on_locked(locked_lab, client):
    """Given the locked lab, when an empty STOW-RS body comes without credentials, then 401: auth is decided first."""
    response = _empty_stow(locked_lab, client)
    assert response.status_code == 401


def test_stow_with_zero_parts_and_credentials_is_400_on_locked(locked_lab, client):
    """Given the locked lab, when the same empty body comes with the profile's user, then validation answers 400."""
    response = _empty_stow(locked_lab, client, auth=(LAB_WEB_USER, LAB_WEB_PASSWORD))
    assert response.status_code == 400 and "no DICOM parts" in response.text


def test_stow_is_not_offered_on_readonly(web_lab, client):
    """Given the readonly lab, when anything is POSTed to /studies, then 405 whose Allow has no POST."""
    lab = web_lab("readonly")
    response = _stow(lab, client, [_part10(synth.synthetic_test_instance())])
    assert response.status_code == 405
    assert "POST" not in response.headers["Allow"]
    assert lab.stored == []


def test_stow_with_a_wrong_content_type_is_415(open_lab, client):
    """Given the open lab, when a single application/dicom body is POSTed (not multipart), then 415."""
    response = client.post(
        f"{open_lab.web_url}/studies",
        data=b"x",
        headers={"Content-Type": "application/dicom"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 415


def test_body_over_the_cap_is_413_without_being_read(open_lab):
    """Given the body cap, when a POST declares one byte more, then 413 at once and the connection is closed."""
    conn = http.client.HTTPConnection(open_lab.host, open_lab.web_port, timeout=TIMEOUT)
    try:
        conn.putrequest("POST", "/dicom-web/studies")
        conn.putheader("Content-Type", STOW_TYPE.format(boundary="X"))
        conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Connection") == "close"
    finally:
        conn.close()


# ------------------------------------------------------------ authentication


def test_locked_without_credentials_is_401_with_a_basic_challenge(locked_lab, client):
    """Given the locked lab, when QIDO-RS is asked without credentials, then 401 with WWW-Authenticate Basic."""
    response = _studies(locked_lab, client)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="dicomaudit lab"'
    assert len(response.content) < 100


def test_locked_with_the_profile_user_is_200(locked_lab, client):
    """Given the locked lab, when its synthetic user signs in, then the studies come back."""
    response = client.get(f"{locked_lab.web_url}/studies", auth=(LAB_WEB_USER, LAB_WEB_PASSWORD), timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()


def test_locked_with_a_wrong_password_is_401(locked_lab, client):
    """Given the locked lab, when the right user brings a wrong password, then 401."""
    response = client.get(f"{locked_lab.web_url}/studies", auth=(LAB_WEB_USER, "labadmin"), timeout=TIMEOUT)
    assert response.status_code == 401


def test_preflight_is_answered_before_authentication(locked_lab, client):
    """Given the locked lab, when a browser preflight comes without credentials, then 204 (no CORS headers: none)."""
    response = client.options(
        f"{locked_lab.web_url}/studies",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "GET" in response.headers["Allow"]


def test_identity_profile_uses_its_dicom_account_for_the_web(web_lab, client):
    """Given the identity profile, when its DICOM user signs in over HTTP Basic, then 200."""
    lab = web_lab("identity")
    response = client.get(f"{lab.web_url}/studies", auth=IDENTITY_PROFILE_USERS[0], timeout=TIMEOUT)
    assert response.status_code == 200


# --------------------------------------------------------------------- CORS


def test_open_reflects_any_origin_with_credentials(open_lab, client):
    """Given the open lab (CORS reflect), when an arbitrary Origin asks, then it is echoed with credentials allowed."""
    origin = "https://attacker.example"
    response = client.get(f"{open_lab.web_url}/studies", headers={"Origin": origin}, timeout=TIMEOUT)
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_stock_sends_no_cors_headers(web_lab, client):
    """Given the stock lab (no CORS), when a cross-origin request comes, then no Access-Control header is sent."""
    lab = web_lab("stock")
    response = client.get(f"{lab.web_url}/studies", headers={"Origin": "https://attacker.example"}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_wildcard_cors_allows_any_origin_with_credentials(web_lab, client):
    """Given a profile with web_cors='wildcard', when an Origin asks, then '*' with credentials allowed."""
    lab = web_lab(LabProfile(name="web-wildcard", description="test", web_cors="wildcard"))
    response = client.get(f"{lab.web_url}/studies", headers={"Origin": "https://a.example"}, timeout=TIMEOUT)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


# ---------------------------------------------------------------------- TLS


def test_tls_profile_serves_https_verified_against_the_lab_ca(web_lab, client):
    """Given the tls lab, when its web URL is fetched trusting only the lab CA, then HTTPS verifies and auth is Basic."""
    lab = web_lab("tls")
    assert lab.web_url.startswith("https://") and lab.tls_files is not None
    ca = str(lab.tls_files.ca_cert)
    assert client.get(f"{lab.web_url}/studies", verify=ca, timeout=TIMEOUT).status_code == 401
    response = client.get(f"{lab.web_url}/studies", verify=ca, auth=(LAB_WEB_USER, LAB_WEB_PASSWORD), timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()


# ------------------------------------------------------------------- events


def test_events_record_parameter_names_and_users_never_values_or_passwords(web_lab, client):
    """Given a query carrying patient values and Basic credentials, then the event has names and the user only."""
    lab = web_lab("open")
    client.get(
        f"{lab.web_url}/studies",
        params={"PatientName": "DOE^JANE", "PatientID": "SYN-0001"},
        auth=("someone", "pw-must-not-leak"),
        timeout=TIMEOUT,
    )
    (event,) = [e for e in lab.events if e["kind"] == "HTTP"]
    assert event["params"] == ["PatientName", "PatientID"]
    assert (event["path"], event["status"], event["credentials"], event["user"]) == (
        "/dicom-web/studies",
        200,
        "basic",
        "someone",
    )
    recorded = repr(lab.events) + describe_event(event)
    for leaked in ("DOE", "JANE", "SYN-0001", "pw-must-not-leak"):
        assert leaked not in recorded
    assert "\n" not in describe_event(event)


# ---------------------------------------------------------------- lifecycle


def _web_threads(port: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("LabPACS-web") and t.name.endswith(f"@{port}")]


def test_stop_ends_keep_alive_connections_and_closes_the_port(client):
    """Given a client holding a keep-alive connection, when the lab stops, then no web thread remains and the port is closed."""
    lab = LabPACS(profile="open", port=0, web_port=0).start()
    port = lab.web_port
    assert port is not None
    assert _studies(lab, client).status_code == 200  # the session keeps the connection open
    assert _web_threads(port)
    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 2
    assert _web_threads(port) == []
    assert lab.web_port is None and lab.web_url is None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_without_web_port_there_is_no_web_server():
    """Given a lab started as before (no web_port), then it serves no DICOMweb."""
    with LabPACS(profile="open", port=0) as lab:
        assert lab.web_port is None and lab.web_url is None


def test_web_port_in_use_fails_start_cleanly():
    """Given the web port taken, when the lab starts, then OSError and neither server is left running."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        lab = LabPACS(profile="tls", port=0, web_port=taken.getsockname()[1])
        with pytest.raises(OSError):
            lab.start()
    assert not lab.running and lab.web_url is None
    assert lab.tls_files is not None and not lab.tls_files.directory.exists()


# ------------------------------------------------------------------ profiles


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("web_auth", "digest", "'none', 'basic'"),
        ("web_cors", "any", "'none', 'wildcard', 'reflect'"),
        ("web_users", (("a:b", "p"),), "web user"),
        ("web_stow", "yes", "web_stow"),
    ],
)
def test_web_settings_are_validated(field, value, message):
    """Given an invalid web setting, when the profile is built, then ValueError says what is allowed."""
    with pytest.raises(ValueError, match=re.escape(message)):
        LabProfile(name="x", description="x", **{field: value})


def test_built_in_profiles_configure_the_web_as_described():
    """Given the built-in profiles, then auth, CORS and STOW are as their descriptions say."""
    table = {name: (p.web_auth, p.web_cors, p.web_stow) for name, p in PROFILES.items()}
    assert table == {
        "open": ("none", "reflect", True),
        "locked": ("basic", "none", True),
        "stock": ("none", "none", True),
        "readonly": ("none", "none", False),
        "tls": ("basic", "none", True),
        "retrieve": ("basic", "none", True),
        "identity": ("basic", "none", True),
    }
    assert all("DICOMweb" in p.description for p in PROFILES.values())


def test_run_forever_prints_the_web_url_and_the_synthetic_account():
    """Given run_forever with web_port=0 on locked, then the banner has the URL and user, and it stops cleanly."""
    lines: list[str] = []
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever,
        kwargs={"profile": "locked", "port": 0, "web_port": 0, "echo": lines.append, "stop_event": stop},
    )
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not any("DICOMweb" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    (banner,) = [line for line in lines if "DICOMweb" in line and "dicom-web" in line]
    assert re.search(r"http://127\.0\.0\.1:\d+/dicom-web", banner)
    assert LAB_WEB_USER in banner and "synthetic" in banner
