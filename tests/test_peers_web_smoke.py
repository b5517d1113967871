"""The DICOMweb / REST peer fixtures start and answer as GROUND_TRUTH.md records.

Each test asks one question with plain ``requests`` (never dicomaudit) of a
real Orthanc 1.10.1 + DICOMweb plugin, some behind a real nginx, all on
127.0.0.1; the answers are the "DICOMweb / REST" section of
``tests/peers/GROUND_TRUTH.md``.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.peers.orthanc import DEFAULT_USER, OrthancServer

pytestmark = pytest.mark.peers

TIMEOUT = 5.0
DICOM_JSON = {"Accept": "application/dicom+json"}
EVIL_ORIGIN = "https://evil.example"
#: An empty STOW-RS request: a multipart/related body with no part at all.
EMPTY_STOW_HEADERS = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=X'}
EMPTY_STOW_BODY = b"--X--\r\n"


def _verify(server: OrthancServer) -> str | bool:
    return str(server.ca_bundle) if server.ca_bundle is not None else True


def _qido(server: OrthancServer, auth: tuple[str, str] | None = None, **headers: str) -> requests.Response:
    return requests.get(
        f"{server.web_url}/studies?limit=1",
        headers={**DICOM_JSON, **headers},
        auth=auth,
        verify=_verify(server),
        timeout=TIMEOUT,
    )


# -- web-open ------------------------------------------------------------------


def test_web_open_answers_qido_without_credentials(orthanc_web_open: OrthancServer) -> None:
    """Given the open DICOMweb Orthanc, when QIDO-RS asks for studies without credentials, then 200 with a study."""
    resp = _qido(orthanc_web_open)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/dicom+json"
    studies = resp.json()
    assert isinstance(studies, list) and len(studies) >= 1
    assert "0020000D" in studies[0]  # StudyInstanceUID


def test_web_open_sends_no_cors_headers(orthanc_web_open: OrthancServer) -> None:
    """Given the open DICOMweb Orthanc, when a foreign Origin asks, then no Access-Control-* header comes back."""
    resp = _qido(orthanc_web_open, Origin=EVIL_ORIGIN)
    assert resp.status_code == 200
    assert not [name for name in resp.headers if name.lower().startswith("access-control-")]


def test_web_open_metadata_of_unknown_study_is_404(orthanc_web_open: OrthancServer) -> None:
    """Given the open DICOMweb Orthanc, when WADO-RS asks metadata of a study it lacks, then 404 naming WADO-RS."""
    resp = requests.get(
        f"{orthanc_web_open.web_url}/studies/2.25.{uuid.uuid4().int}/metadata", headers=DICOM_JSON, timeout=TIMEOUT
    )
    assert resp.status_code == 404
    assert "inexistent study with WADO-RS" in resp.json()["Details"]


def test_web_open_urls_have_no_trailing_slash(orthanc_web_open: OrthancServer) -> None:
    """Given the open DICOMweb Orthanc, then web_url is rest_url + /dicom-web and nobody is registered."""
    assert orthanc_web_open.web_url == f"{orthanc_web_open.rest_url}/dicom-web"
    assert orthanc_web_open.rest_url.startswith("http://127.0.0.1:")
    assert orthanc_web_open.credentials is None and orthanc_web_open.proxy is None


# -- web-default-user ----------------------------------------------------------


def test_web_default_user_refuses_anonymous_qido(orthanc_web_default_user: OrthancServer) -> None:
    """Given Orthanc with its default user, when QIDO-RS comes without credentials, then 401 with a Basic challenge."""
    resp = _qido(orthanc_web_default_user)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Orthanc Secure Area"'


def test_web_default_user_accepts_orthanc_orthanc(orthanc_web_default_user: OrthancServer) -> None:
    """Given Orthanc with nobody registered, when QIDO-RS comes as orthanc/orthanc, then 200 (Orthanc made that user)."""
    assert orthanc_web_default_user.credentials == DEFAULT_USER
    resp = _qido(orthanc_web_default_user, DEFAULT_USER)
    assert resp.status_code == 200
    assert len(resp.json()) == 1


# -- web-strong-user -----------------------------------------------------------


def test_web_strong_user_refuses_orthanc_orthanc(orthanc_web_strong_user: OrthancServer) -> None:
    """Given Orthanc with a random password, when QIDO-RS comes as orthanc/orthanc, then 401."""
    assert _qido(orthanc_web_strong_user, DEFAULT_USER).status_code == 401


def test_web_strong_user_accepts_its_own_password(orthanc_web_strong_user: OrthancServer) -> None:
    """Given Orthanc with a random password, when QIDO-RS sends it, then 200."""
    credentials = orthanc_web_strong_user.credentials
    assert credentials is not None and len(credentials[1]) == 32
    assert _qido(orthanc_web_strong_user, credentials).status_code == 200


def test_web_strong_user_refuses_empty_stow_before_parsing_it(orthanc_web_strong_user: OrthancServer) -> None:
    """Given Orthanc with authentication, when an empty STOW-RS comes without credentials, then 401 (no STOW answer)."""
    resp = requests.post(
        f"{orthanc_web_strong_user.web_url}/studies",
        data=EMPTY_STOW_BODY,
        headers=EMPTY_STOW_HEADERS,
        timeout=TIMEOUT,
    )
    assert resp.status_code == 401
    assert resp.content == b""


# -- web-https -----------------------------------------------------------------


def test_web_https_front_verifies_with_ca_bundle_and_challenges(orthanc_web_https: OrthancServer) -> None:
    """Given the nginx TLS front, when QIDO-RS comes verified by ca_bundle without credentials, then nginx relays 401."""
    assert orthanc_web_https.web_url.startswith("https://127.0.0.1:")
    resp = _qido(orthanc_web_https)
    assert resp.status_code == 401
    assert resp.headers["Server"].startswith("nginx/")
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")


def test_web_https_front_is_not_trusted_without_ca_bundle(orthanc_web_https: OrthancServer) -> None:
    """Given the nginx TLS front, when a client verifies against the system store only, then the handshake fails."""
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{orthanc_web_https.web_url}/studies", timeout=TIMEOUT)


def test_web_https_serves_qido_with_credentials(orthanc_web_https: OrthancServer) -> None:
    """Given the nginx TLS front, when QIDO-RS sends the registered user, then 200 over TLS."""
    assert _qido(orthanc_web_https, orthanc_web_https.credentials).status_code == 200


# -- web-cors-proxy ------------------------------------------------------------


def test_web_cors_proxy_reflects_any_origin_with_credentials(orthanc_web_cors_proxy: OrthancServer) -> None:
    """Given the CORS-misconfigured front, when a foreign Origin asks, then it is echoed with Allow-Credentials true."""
    resp = _qido(orthanc_web_cors_proxy, orthanc_web_cors_proxy.credentials, Origin=EVIL_ORIGIN)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == EVIL_ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


def test_web_cors_proxy_answers_preflight_itself(orthanc_web_cors_proxy: OrthancServer) -> None:
    """Given the CORS-misconfigured front, when a preflight comes without credentials, then 204 allowing the Origin."""
    resp = requests.options(
        f"{orthanc_web_cors_proxy.web_url}/studies",
        headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "GET"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == EVIL_ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert "GET" in resp.headers["Access-Control-Allow-Methods"]


# -- parametrised helper -------------------------------------------------------


@pytest.mark.parametrize("orthanc_web", ["web-strong-user", "web-https", "web-cors-proxy"], indirect=True)
def test_authenticated_configs_refuse_anonymous_system(orthanc_web: OrthancServer) -> None:
    """Given any strong-user configuration, when /system is asked without credentials, then 401."""
    resp = requests.get(f"{orthanc_web.rest_url}/system", verify=_verify(orthanc_web), timeout=TIMEOUT)
    assert resp.status_code == 401
