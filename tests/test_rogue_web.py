"""Never wrong, never stuck: the web checks against hostile and broken HTTP servers.

Each test starts one rogue of :mod:`tests.rogue.web` on loopback (a
well-formed open DICOMweb node with one route broken) and scans it with
``scan_target`` (``timeout=0.5``, ``target_budget=3``), the way the scanner
scans any ``http(s)://`` target.  The project's rule, on the web side:

* only a well-formed refusal (401 with a challenge, 403) is a ``pass``, only
  a well-formed service (2xx with DICOM JSON, a store request processed) is a
  ``fail``; an answer that is malformed, truncated, late, redirected away or
  for another request is ``error`` with a reason code, never ``internal``;
* every scan ends within its budget (plus :data:`SLACK`), leaves no
  ``dicomaudit-http-watchdog`` thread behind, and connects nowhere but the
  rogue (every TCP connect of ``urllib3`` is recorded).

Those three bounds are asserted for every scan by :func:`scan_rogue`.
Scanner bugs the rogues expose are ``xfail(strict=True)`` with the reason
starting ``BUG:`` until dicomaudit is fixed.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection

from dicomaudit.checks.base import ProbeSettings
from dicomaudit.models import CheckResult, ErrorReason, Status, TargetResult
from dicomaudit.net.web import WebSettings
from dicomaudit.scanner import scan_target
from dicomaudit.targets import parse_target
from tests.rogue import web as rogue
from tests.rogue.web import ROOT, Site, WebRogue

TIMEOUT = 0.5
BUDGET = 3.0
#: How far past its budget a scan may end (a loaded 2-core box).
SLACK = 1.0
#: A scan still running this long after it started fails the test instead of hanging it.
SCAN_GUARD = BUDGET + 15.0

R = ErrorReason
QIDO = ("qido.unauthenticated", "qido.phi_exposed")
WEB_CHECKS = (
    "web.service",
    "web.plaintext",
    "web.unauthenticated",
    "web.cors",
    "qido.unauthenticated",
    "qido.phi_exposed",
    "wado.unauthenticated",
    "stow.unauthenticated",
)
VERDICTS = (Status.PASS, Status.FAIL)
MALFORMED = frozenset({R.PROTOCOL_VIOLATION, R.INCONCLUSIVE})
CUT_SHORT = MALFORMED | {R.CONNECTIVITY}
SILENCE = frozenset({R.TIMEOUT, R.BUDGET_EXHAUSTED})
WATCHDOG = "dicomaudit-http-watchdog"


# -- scanning a rogue ------------------------------------------------------------------------------
@dataclass
class Scan:
    """One rogue scanned once: its result, how long it took, what the rogue saw, where the scanner connected."""

    rogue: WebRogue
    result: TargetResult
    elapsed: float
    connects: list[tuple[str, int]]

    def check(self, check_id: str) -> CheckResult:
        return self.result.check(check_id)

    def statuses(self) -> dict[str, str]:
        return {
            c.id: f"{c.status.value}/{c.reason_code.value if c.reason_code else '-'}"
            for c in self.result.checks
            if c.id in WEB_CHECKS
        }

    def requests_to(self, path: str) -> int:
        return sum(1 for r in self.rogue.requests if r.path == path)


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every ``(host, port)`` urllib3 opens a TCP connection to during the test."""
    seen: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        seen.append((address[0], address[1]))
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return seen


ScanRogue = Callable[..., Scan]


@pytest.fixture
def scan_rogue(connects: list[tuple[str, int]]) -> ScanRogue:
    """``scan_rogue(responder | raw=... | tls=..., path=, scheme=, web=)``: start the rogue, scan it, stop it.

    Asserted for every scan: it ends within ``BUDGET + SLACK``; no watchdog
    thread is alive once ``scan_target`` returned; every connection went to
    the rogue; the rogue's handlers did not fail and left no thread behind.
    """

    def run(
        responder: rogue.Responder | None = None,
        *,
        raw: rogue.RawHandler | None = None,
        tls: Any = None,
        path: str = ROOT,
        scheme: str = "http",
        web: WebSettings | None = None,
    ) -> Scan:
        settings = ProbeSettings(timeout=TIMEOUT, target_budget=BUDGET, web=web or WebSettings())
        connects.clear()
        outcome: dict[str, Any] = {}
        with WebRogue(responder, raw=raw, tls=tls) as server:
            target = parse_target(server.url(path, scheme))

            def work() -> None:
                try:
                    outcome["result"] = scan_target(target, settings)
                except BaseException as exc:  # reported in the test's thread
                    outcome["error"] = exc
                outcome["watchdogs"] = [t.name for t in threading.enumerate() if t.name == WATCHDOG and t.is_alive()]

            started = time.monotonic()
            worker = threading.Thread(target=work, name="rogue-web-scan", daemon=True)
            worker.start()
            worker.join(SCAN_GUARD)
            elapsed = time.monotonic() - started
            if worker.is_alive():
                pytest.fail(f"scan_target still running after {SCAN_GUARD:g} s")
        if "error" in outcome:
            raise outcome["error"]
        scan = Scan(server, outcome["result"], elapsed, list(connects))
        assert elapsed <= BUDGET + SLACK, f"{elapsed:.2f} s for a budget of {BUDGET:g} s: {scan.statuses()}"
        assert not outcome["watchdogs"], f"left behind: {outcome['watchdogs']}"
        assert set(connects) <= {(server.host, server.port)}, connects
        assert not server.errors, "\n".join(server.errors)
        assert not server.leftover_threads, server.leftover_threads
        return scan

    return run


def assert_undecided(scan: Scan, checks: tuple[str, ...], codes: frozenset[ErrorReason]) -> None:
    """``checks`` are error with one of ``codes``; no check of the target is ``internal``."""
    for check_id in checks:
        check = scan.check(check_id)
        assert check.status is Status.ERROR, f"{check_id}: {scan.statuses()}"
        assert check.reason_code in codes, f"{check_id}: {scan.statuses()}"
    assert_never_internal(scan)


def assert_no_verdict(scan: Scan, checks: tuple[str, ...]) -> None:
    for check_id in checks:
        assert scan.check(check_id).status not in VERDICTS, f"{check_id}: {scan.statuses()}"


def exchanges_in(evidence: Any) -> Iterator[Mapping[str, Any]]:
    """Every recorded HTTP exchange (a mapping with ``request`` and ``bytes``) anywhere in ``evidence``."""
    if isinstance(evidence, Mapping):
        if "request" in evidence and "bytes" in evidence:
            yield evidence
        for value in evidence.values():
            yield from exchanges_in(value)
    elif isinstance(evidence, list | tuple):
        for value in evidence:
            yield from exchanges_in(value)


def assert_never_internal(scan: Scan) -> None:
    internal = [c.id for c in scan.result.checks if c.reason_code is R.INTERNAL]
    assert not internal, scan.statuses()


# -- controls: the rogue framework gives verdicts where they are due -------------------------------------
def test_well_formed_open_dicomweb_node_fails(scan_rogue: ScanRogue) -> None:
    """Given the rogue site with nothing broken (QIDO-RS answers two studies, WADO-RS their metadata),
    when scanned, then web.service is info and the QIDO and WADO checks fail: the rogues are real enough."""
    scan = scan_rogue(Site())
    assert scan.check("web.service").status is Status.INFO, scan.statuses()
    for check_id in (*QIDO, "wado.unauthenticated", "web.unauthenticated"):
        assert scan.check(check_id).status is Status.FAIL, f"{check_id}: {scan.statuses()}"


def test_qido_refused_with_a_challenge_passes(scan_rogue: ScanRogue) -> None:
    """Given a node whose QIDO-RS answers 401 with ``WWW-Authenticate: Basic``, when scanned,
    then both QIDO checks pass: a well-formed refusal is the one thing that passes."""
    scan = scan_rogue(Site(qido=rogue.answer(401, "no\n", "text/plain", WWW_Authenticate='Basic realm="pacs"')))
    for check_id in QIDO:
        assert scan.check(check_id).status is Status.PASS, f"{check_id}: {scan.statuses()}"


# -- QIDO-RS answers that are not DICOM JSON ----------------------------------------------------------------
def test_qido_body_that_is_not_json_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 application/dicom+json with a body that is not JSON, when scanned,
    then the QIDO checks are error (protocol_violation or inconclusive), not pass, fail or skipped."""
    assert_undecided(scan_rogue(Site(qido=rogue.not_json)), QIDO, MALFORMED)


def test_qido_json_object_instead_of_an_array_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 application/dicom+json with a JSON object that is not an array (and not
    a dataset), when scanned, then the QIDO checks are error (protocol_violation or inconclusive)."""
    assert_undecided(scan_rogue(Site(qido=rogue.object_not_array)), QIDO, MALFORMED)


def test_qido_bare_dataset_not_in_an_array_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 application/dicom+json with one DICOM JSON dataset that is not inside an
    array, when scanned, then the QIDO checks are error (protocol_violation or inconclusive), not fail."""
    assert_undecided(scan_rogue(Site(qido=rogue.bare_dataset)), QIDO, MALFORMED)


def test_qido_array_of_strings_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 application/dicom+json with an array of strings, when scanned,
    then the QIDO checks are error (protocol_violation or inconclusive)."""
    assert_undecided(scan_rogue(Site(qido=rogue.array_of_strings)), QIDO, MALFORMED)


def test_qido_objects_with_non_tag_keys_are_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 application/dicom+json with ``[{"PatientName": ...}]`` (keys that are not
    tags), when scanned, then the QIDO checks are error (protocol_violation or inconclusive)."""
    assert_undecided(scan_rogue(Site(qido=rogue.non_tag_keys)), QIDO, MALFORMED)


def test_qido_unknown_vr_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering DICOM JSON whose elements carry VRs that do not exist ("QQ", "ZZ"), when
    scanned, then the QIDO checks are error (protocol_violation), never fail on a malformed match."""
    assert_undecided(scan_rogue(Site(qido=rogue.bad_vr)), QIDO, MALFORMED)


def test_qido_value_of_the_wrong_shape_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering DICOM JSON whose "Value" is a string (not an array) and an object, when
    scanned, then the QIDO checks are error (protocol_violation), and no check is internal."""
    assert_undecided(scan_rogue(Site(qido=rogue.bad_value_shape)), QIDO, MALFORMED)


def test_qido_truncated_body_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS announcing Content-Length 4000, sending 120 bytes of a match and closing, when scanned,
    then the QIDO checks are error (connectivity, protocol_violation or inconclusive), and nothing is internal."""
    assert_undecided(scan_rogue(Site(qido=rogue.truncated_body)), QIDO, CUT_SHORT)


def test_qido_chunked_body_cut_midway_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering with chunked encoding, one whole chunk, half of the next, then closing,
    when scanned, then the QIDO checks are error (connectivity, protocol_violation or inconclusive)."""
    assert_undecided(scan_rogue(Site(qido=rogue.chunked_cut)), QIDO, CUT_SHORT)


# -- QIDO-RS statuses that decide nothing -----------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 400])
def test_qido_server_or_client_error_status_is_inconclusive(scan_rogue: ScanRogue, status: int) -> None:
    """Given QIDO-RS answering 500 (or 400) text/plain, when scanned, then the QIDO checks (and WADO, STOW)
    are error/inconclusive: neither a refusal nor a service."""
    scan = scan_rogue(Site(qido=rogue.answer(status, "nope\n", "text/plain")))
    assert_undecided(scan, (*QIDO, "wado.unauthenticated", "stow.unauthenticated"), frozenset({R.INCONCLUSIVE}))


def test_qido_401_without_a_challenge_is_not_a_pass(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 401 without a WWW-Authenticate header (not a well-formed challenge), when
    scanned, then the QIDO checks and web.unauthenticated are error/inconclusive, never pass."""
    scan = scan_rogue(Site(qido=rogue.answer(401, "login required\n", "text/plain")))
    assert_undecided(scan, (*QIDO, "web.unauthenticated"), frozenset({R.INCONCLUSIVE}))


def test_qido_answered_by_a_login_page_is_not_a_fail(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 text/html with a login form (a "soft" authentication page), when scanned,
    then neither the QIDO checks nor web.unauthenticated are pass or fail (a page is no refusal, no service)."""
    scan = scan_rogue(Site(qido=rogue.login_page))
    assert_no_verdict(scan, (*QIDO, "web.unauthenticated", "wado.unauthenticated", "stow.unauthenticated"))
    assert_never_internal(scan)


# -- redirects ---------------------------------------------------------------------------------------------------
OFF_HOST = "http://10.9.9.9/dicom-web/studies"


def test_qido_redirect_off_host_is_not_followed(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 302 to http://10.9.9.9/..., when scanned, then no connection is attempted
    anywhere but the rogue, the exchange notes the redirect as not followed, and the QIDO checks are
    error/inconclusive (no verdict on a redirect)."""
    scan = scan_rogue(Site(qido=rogue.redirect_to(OFF_HOST)))
    assert all(host == "127.0.0.1" for host, _ in scan.connects), scan.connects
    assert "10.9.9.9" not in {host for host, _ in scan.connects}
    assert_undecided(scan, QIDO, frozenset({R.INCONCLUSIVE}))
    assert "not followed" in repr(scan.check("qido.unauthenticated").evidence)


def test_qido_redirect_off_host_with_a_json_body_is_not_a_fail(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 302 to http://10.9.9.9/... with a DICOM JSON array as the redirect's body,
    when scanned, then the redirect is not followed and the QIDO checks are error/inconclusive, not fail."""
    scan = scan_rogue(Site(qido=rogue.redirect_to(OFF_HOST, body=rogue.STUDIES)))
    assert "10.9.9.9" not in {host for host, _ in scan.connects}
    assert_undecided(scan, QIDO, frozenset({R.INCONCLUSIVE}))


def test_qido_redirect_loop_is_cut_after_max_redirects(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 307 to itself (one more query parameter each time) forever, when scanned,
    then the scanner asks the QIDO path at most 1 + max_redirects times and gives no QIDO verdict."""
    scan = scan_rogue(Site(qido=rogue.redirect_loop))
    assert 1 <= scan.requests_to(f"{ROOT}/studies") <= 1 + WebSettings().max_redirects, scan.rogue.paths()
    assert_no_verdict(scan, QIDO)


def test_qido_redirect_loop_is_a_protocol_violation(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS redirecting to itself forever, when scanned, then the QIDO checks are error
    (protocol_violation or inconclusive) and no check is internal."""
    assert_undecided(scan_rogue(Site(qido=rogue.redirect_loop)), QIDO, MALFORMED)


def test_same_origin_redirect_to_the_real_qido_path_is_followed(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 301 to /real/dicom-web/studies on the same origin, which answers DICOM JSON
    matches, when scanned, then the redirect is followed and qido.unauthenticated fails."""
    real = f"/real{ROOT}/studies"
    scan = scan_rogue(Site(qido=rogue.redirect_to(f"{real}?limit=10", 301), routes={real: rogue.open_qido}))
    assert scan.requests_to(real) >= 1, scan.rogue.paths()
    assert scan.check("qido.unauthenticated").status is Status.FAIL, scan.statuses()


def test_malformed_redirect_location_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given a URL answering 302 with ``Location: http://[::1`` (not a URL), when scanned, then web.service
    is info or error with a reason code, and no check is internal."""
    scan = scan_rogue(Site(root=rogue.redirect_to("http://[::1")))
    assert_never_internal(scan)


# -- time ----------------------------------------------------------------------------------------------------------
def test_header_drip_ends_within_the_budget(scan_rogue: ScanRogue) -> None:
    """Given a server that answers every request with a status line and then one header line every 0.3 s,
    never ending the headers, when scanned, then the target ends within its budget + 1 s (scan_rogue), and
    every web check is error with budget_exhausted or timeout."""
    scan = scan_rogue(rogue.drip_headers)
    assert_undecided(scan, WEB_CHECKS, SILENCE)


def test_header_drip_on_qido_only_is_budget_exhausted(scan_rogue: ScanRogue) -> None:
    """Given a node whose first GET is answered but whose QIDO-RS drips header lines forever, when scanned,
    then it ends within its budget and the QIDO checks are error budget_exhausted/timeout, never internal."""
    assert_undecided(scan_rogue(Site(qido=rogue.drip_headers)), QIDO, SILENCE)


def test_server_that_never_answers_is_a_timeout(scan_rogue: ScanRogue) -> None:
    """Given a server that accepts and reads the request but never answers, when scanned, then web.service
    and every web check are error/timeout (budget_exhausted tolerated), within the budget."""
    assert_undecided(scan_rogue(rogue.silent), WEB_CHECKS, SILENCE)


def test_qido_that_never_answers_is_a_timeout(scan_rogue: ScanRogue) -> None:
    """Given a node whose first GET is answered but whose QIDO-RS never answers, when scanned, then the QIDO
    checks are error/timeout, never internal."""
    assert_undecided(scan_rogue(Site(qido=rogue.silent)), QIDO, SILENCE)


def test_rest_api_that_never_answers_is_not_internal(scan_rogue: ScanRogue) -> None:
    """Given an open DICOMweb node whose GET /system never answers, when scanned, then no check is internal
    (the QIDO answer already read still decides the QIDO checks)."""
    assert_never_internal(scan_rogue(Site(system=rogue.silent)))


# -- bytes ---------------------------------------------------------------------------------------------------------
def test_qido_body_over_the_response_cap_is_budget_exhausted(scan_rogue: ScanRogue) -> None:
    """Given max_response_bytes of 64 KiB and QIDO-RS answering 1 MiB of well-formed matches, when scanned,
    then the QIDO checks are error/budget_exhausted, never pass or fail, never internal."""
    scan = scan_rogue(Site(qido=rogue.huge_body(1024 * 1024)), web=WebSettings(max_response_bytes=64 * 1024))
    assert_undecided(scan, QIDO, frozenset({R.BUDGET_EXHAUSTED}))


def test_gzip_bomb_is_never_inflated(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering Content-Encoding: gzip (although the scanner asked for identity) with 256 MiB
    of spaces in ~300 KB, when scanned, then the body is never inflated (at most 32 MiB allocated at peak
    during the scan) and the QIDO checks are not pass or fail."""
    tracemalloc.start()
    try:
        scan = scan_rogue(Site(qido=rogue.gzip_bomb(256)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, f"{peak // (1024 * 1024)} MiB allocated at peak"
    assert scan.requests_to(f"{ROOT}/studies") >= 1, scan.rogue.paths()
    assert_no_verdict(scan, QIDO)
    assert_never_internal(scan)


def test_qido_answer_that_is_not_dicomweb_is_in_the_evidence(scan_rogue: ScanRogue) -> None:
    """Given QIDO-RS answering 200 text/html (a login page), when scanned, then the evidence of
    qido.unauthenticated records that exchange (request, status 200, content type): every exchange is evidence."""
    scan = scan_rogue(Site(qido=rogue.login_page))
    studies = [e for e in exchanges_in(scan.check("qido.unauthenticated").evidence) if "/studies" in e["request"]]
    assert studies and studies[0].get("status") == 200, scan.check("qido.unauthenticated").evidence


# -- not HTTP, wrong scheme ---------------------------------------------------------------------------------------------
def test_dicom_port_is_no_web_service(scan_rogue: ScanRogue) -> None:
    """Given a DICOM port (reads the request, answers an A-ABORT PDU, closes), when scanned as http://,
    then web.service is error (protocol_violation or connectivity) and every web check is error."""
    scan = scan_rogue(raw=rogue.dicom_banner)
    assert_undecided(scan, WEB_CHECKS, frozenset({R.PROTOCOL_VIOLATION, R.CONNECTIVITY}))


def test_dicom_banner_is_called_not_http(scan_rogue: ScanRogue) -> None:
    """Given a DICOM port answering an A-ABORT PDU to the HTTP request, when scanned, then web.service is
    error/protocol_violation ("the answer is not HTTP"), not connectivity."""
    scan = scan_rogue(raw=rogue.dicom_banner)
    assert scan.check("web.service").reason_code is R.PROTOCOL_VIOLATION, scan.statuses()


def test_port_that_closes_at_once_is_connectivity(scan_rogue: ScanRogue) -> None:
    """Given a port that accepts and closes without a byte, when scanned, then web.service and every web
    check are error/connectivity."""
    assert_undecided(scan_rogue(raw=rogue.close_at_once), WEB_CHECKS, frozenset({R.CONNECTIVITY}))


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from dicomaudit.lab.tls import generate_tls_files

    directory: Path = tmp_path_factory.mktemp("web-tls")
    return generate_tls_files(directory).server_context(require_client_cert=False)


def test_https_url_on_a_plain_http_port_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given the open rogue on plain HTTP (it answers a TLS ClientHello with 400, like real servers), when
    scanned as https://, then web.service and every web check are error (protocol_violation or tls), never pass."""
    scan = scan_rogue(Site(), scheme="https")
    assert scan.rogue.not_http >= 1
    assert_undecided(scan, WEB_CHECKS, frozenset({R.PROTOCOL_VIOLATION, R.TLS}))


def test_http_url_on_a_tls_port_is_an_error(scan_rogue: ScanRogue, tls_context: Any) -> None:
    """Given the open rogue behind TLS, when scanned as http://, then web.service and every web check are
    error (protocol_violation or connectivity), never pass."""
    scan = scan_rogue(Site(), tls=tls_context)
    assert not scan.rogue.requests
    assert_undecided(scan, WEB_CHECKS, frozenset({R.PROTOCOL_VIOLATION, R.CONNECTIVITY}))


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_url_on_a_tls_port_is_scanned(scan_rogue: ScanRogue, tls_context: Any) -> None:
    """Given the open rogue behind TLS, when scanned as https:// (control), then web.plaintext passes and
    qido.unauthenticated fails: the TLS rogue itself works."""
    scan = scan_rogue(Site(), tls=tls_context, scheme="https")
    assert scan.check("web.plaintext").status is Status.PASS, scan.statuses()
    assert scan.check("qido.unauthenticated").status is Status.FAIL, scan.statuses()


# -- STOW-RS ----------------------------------------------------------------------------------------------------------
def test_stow_500_is_inconclusive(scan_rogue: ScanRogue) -> None:
    """Given an open node whose STOW-RS answers 500, when scanned, then stow.unauthenticated is
    error/inconclusive."""
    scan = scan_rogue(Site(stow=rogue.answer(500, "boom\n", "text/plain")))
    assert_undecided(scan, ("stow.unauthenticated",), frozenset({R.INCONCLUSIVE}))


def test_stow_401_without_a_challenge_is_not_a_pass(scan_rogue: ScanRogue) -> None:
    """Given an open node whose STOW-RS answers 401 without WWW-Authenticate, when scanned, then
    stow.unauthenticated is error/inconclusive, not pass."""
    scan = scan_rogue(Site(stow=rogue.answer(401, "no\n", "text/plain")))
    assert_undecided(scan, ("stow.unauthenticated",), frozenset({R.INCONCLUSIVE}))


def test_stow_redirected_to_a_login_page_is_not_a_fail(scan_rogue: ScanRogue) -> None:
    """Given an open node whose STOW-RS answers 302 to /login (a 200 HTML login form), when scanned, then
    stow.unauthenticated is not fail: the 200 answers a GET of a login page, not the store request."""
    scan = scan_rogue(Site(stow=rogue.redirect_to("/login"), routes={"/login": rogue.login_page}))
    assert_no_verdict(scan, ("stow.unauthenticated",))


def test_stow_redirect_loop_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given an open node whose STOW-RS answers 307 to itself forever, when scanned, then at most
    1 + max_redirects POSTs are sent and stow.unauthenticated is error (protocol_violation or inconclusive)."""
    scan = scan_rogue(Site(stow=rogue.redirect_loop))
    posts = sum(1 for r in scan.rogue.requests if r.method == "POST")
    assert posts <= 1 + WebSettings().max_redirects, scan.rogue.paths()
    assert_undecided(scan, ("stow.unauthenticated",), MALFORMED)


# -- CORS ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cors", "status"),
    [
        pytest.param(rogue.reflect_origin, Status.FAIL, id="reflected-origin-fails"),
        pytest.param(rogue.star_with_credentials, Status.FAIL, id="star-with-credentials-fails"),
        pytest.param(rogue.star_alone, Status.PASS, id="star-alone-passes"),
    ],
)
def test_cors_policy_gets_its_verdict(
    scan_rogue: ScanRogue, cors: Callable[..., dict[str, str]], status: Status
) -> None:
    """Given an open node whose every answer carries Access-Control-Allow-Origin reflecting the Origin sent
    (with credentials), or ``*`` with credentials, or ``*`` alone, when scanned, then web.cors fails for
    the first two and passes for ``*`` alone."""
    scan = scan_rogue(Site(cors=cors))
    assert scan.check("web.cors").status is status, scan.statuses()
    origins = {r.header("origin") for r in scan.rogue.requests if r.header("origin")}
    assert origins and all(o.endswith(".dicomaudit.invalid") for o in origins), origins


# -- WADO-RS -------------------------------------------------------------------------------------------------------------
def test_wado_metadata_answered_with_html_is_an_error(scan_rogue: ScanRogue) -> None:
    """Given an open node whose WADO-RS metadata answers 200 text/html (a login page), when scanned, then
    wado.unauthenticated is error/protocol_violation, not fail."""
    scan = scan_rogue(Site(wado=rogue.login_page))
    assert_undecided(scan, ("wado.unauthenticated",), frozenset({R.PROTOCOL_VIOLATION}))


# -- threads ---------------------------------------------------------------------------------------------------------------
def test_no_watchdog_thread_outlives_the_scans(scan_rogue: ScanRogue) -> None:
    """Given scans of an open node, a truncating node and a silent node, when each returns, then no thread
    named dicomaudit-http-watchdog is alive (scan_rogue checks each; this checks after all of them)."""
    for responder in (Site(), Site(qido=rogue.truncated_body), rogue.silent):
        scan_rogue(responder)
    assert not [t for t in threading.enumerate() if t.name == WATCHDOG]


@pytest.fixture(autouse=True)
def _no_rogue_threads_left() -> Iterator[None]:
    """Every rogue's threads are gone after each test (the servers stop within a second)."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("rogue-web")]
    assert not left, left
