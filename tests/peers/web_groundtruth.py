"""Measure how each DICOMweb/REST peer answers; print the GROUND_TRUTH tables.

Run from the repo root: ``python -m tests.peers.web_groundtruth [CONFIG...]``
(default: every :data:`~tests.peers.orthanc.WEB_CONFIGS` plus the variant
``web-default-user+explicit``, i.e. ``orthanc``/``orthanc`` written in
``RegisteredUsers`` instead of created by Orthanc). Starts each peer on
loopback in a temporary folder, asks the questions of the "DICOMweb / REST"
section of ``GROUND_TRUTH.md`` with plain ``requests`` (independent of
dicomaudit) without credentials, with the configuration's own user and with
Orthanc's default ``orthanc``/``orthanc``, and prints one Markdown table per
question. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from tests.peers.data import synthetic_datasets
from tests.peers.orthanc import DEFAULT_USER, WEB_CONFIGS, OrthancServer

TIMEOUT = 10.0
EVIL_ORIGIN = "https://evil.example"
EXPLICIT = "web-default-user+explicit"
#: An empty multipart/related STOW-RS body (PS3.18 §10.5): no part at all.
EMPTY_STOW = (b"--X--\r\n", 'multipart/related; type="application/dicom"; boundary=X')

Auth = tuple[str, str] | None


def _body(resp: requests.Response) -> str:
    if not resp.content:
        return "empty"
    try:
        data = resp.json()
    except ValueError:
        text = resp.text.strip().replace("\n", " ").replace("|", "\\|")
        return f"text `{text[:100]}`" + ("…" if len(text) > 100 else "")
    if isinstance(data, list):
        return f"JSON array of {len(data)}"
    if isinstance(data, dict):
        return "JSON object " + json.dumps(data, sort_keys=True).replace("|", "\\|")[:300]
    return f"JSON {data!r}"


def _headers(resp: requests.Response, *names: str) -> str:
    parts = [f"{n}: {resp.headers[n]}" for n in names if n in resp.headers]
    return "; ".join(parts) if parts else "–"


def _acx(resp: requests.Response) -> str:
    parts = [f"{k}: {v}" for k, v in resp.headers.items() if k.lower().startswith("access-control-")]
    return "; ".join(parts) if parts else "none"


class Asker:
    """One peer's answers, with three identities: none, its own user, orthanc/orthanc."""

    def __init__(self, server: OrthancServer, study_uid: str) -> None:
        self.server = server
        self.study_uid = study_uid
        self.verify: str | bool = str(server.ca_bundle) if server.ca_bundle else True

    def identities(self) -> list[tuple[str, Auth]]:
        out: list[tuple[str, Auth]] = [("none", None)]
        own = self.server.credentials
        if own is not None and own != DEFAULT_USER:
            out.append(("own user", own))
        out.append(("orthanc/orthanc", DEFAULT_USER))
        return out

    def call(self, method: str, url: str, auth: Auth, **kw: Any) -> requests.Response:
        return requests.request(
            method, url, auth=auth, verify=self.verify, timeout=TIMEOUT, allow_redirects=False, **kw
        )

    def transport(self) -> Iterator[tuple[str, str, str]]:
        """How the TLS front looks: protocol, certificate, plain HTTP sent to it."""
        proxy = self.server.proxy
        if proxy is None or proxy.tls is None:
            return
        ctx = ssl.create_default_context(cafile=str(self.server.ca_bundle))
        with socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=proxy.host) as tls:
                cert = tls.getpeercert() or {}
                alt_names: Any = cert.get("subjectAltName", ())
                sans = ", ".join(f"{kind}:{value}" for kind, value in alt_names)
                cipher = (tls.cipher() or ("?",))[0]
                yield ("TLS front: handshake", "–", f"{tls.version()} {cipher}; verified with ca_bundle; SAN {sans}")
        r = requests.get(f"http://{proxy.host}:{proxy.port}/dicom-web/studies", timeout=TIMEOUT)
        yield (
            "TLS front: plain HTTP to it",
            "–",
            f"plain http:// to the TLS port: {r.status_code}; {_headers(r, 'Server')}; {_body(r)}",
        )

    def rows(self) -> Iterator[tuple[str, str, str]]:
        web, rest = self.server.web_url, self.server.rest_url
        fresh = f"2.25.{uuid.uuid4().int}"
        yield from self.transport()
        for who, auth in self.identities():
            r = self.call("GET", f"{web}/studies?limit=1", auth, headers={"Accept": "application/dicom+json"})
            yield (
                "QIDO GET {web}/studies?limit=1",
                who,
                f"{r.status_code}; {_headers(r, 'Content-Type', 'Server', 'WWW-Authenticate', 'Content-Encoding')}; {_body(r)}",
            )
            r = self.call("GET", f"{rest}/system", auth)
            keys = sorted(r.json()) if r.ok else []
            secure = r.json().get("IsHttpServerSecure") if r.ok else None
            yield (
                "GET {rest}/system",
                who,
                f"{r.status_code}; keys {', '.join(keys) or '–'}"
                + (f"; IsHttpServerSecure={secure}; Version={r.json()['Version']}" if r.ok else ""),
            )
            for label, url in (("GET {rest}/", f"{rest}/"), ("GET {web}/", f"{web}/")):
                r = self.call("GET", url, auth)
                yield (label, who, f"{r.status_code}; {_headers(r, 'Location', 'Content-Type')}; {_body(r)}")
            r = self.call("GET", f"{web}/studies/{fresh}/metadata", auth, headers={"Accept": "application/dicom+json"})
            yield (
                "GET {web}/studies/<unknown 2.25 UID>/metadata",
                who,
                f"{r.status_code}; {_headers(r, 'Content-Type')}; {_body(r)}",
            )
            r = self.call(
                "GET", f"{web}/studies/{self.study_uid}/metadata", auth, headers={"Accept": "application/dicom+json"}
            )
            detail = _body(r)
            if r.ok:
                items = r.json()
                pixel = [i.get("7FE00010") for i in items if "7FE00010" in i]
                bulk = sorted({k for i in items for k, v in i.items() if isinstance(v, dict) and "BulkDataURI" in v})
                uris = [i["7FE00010"]["BulkDataURI"] for i in items if "BulkDataURI" in i.get("7FE00010", {})]
                detail += f"; PixelData in {len(pixel)}; BulkDataURI tags {bulk or 'none'}"
                if uris:
                    detail += f"; e.g. {uris[0].split('/studies/')[0]}/studies/…"
            yield (
                "GET {web}/studies/<seeded>/metadata",
                who,
                f"{r.status_code}; {_headers(r, 'Content-Type')}; {detail}",
            )
            body, ctype = EMPTY_STOW
            r = self.call("POST", f"{web}/studies", auth, data=body, headers={"Content-Type": ctype})
            yield (
                "POST {web}/studies, zero-part multipart",
                who,
                f"{r.status_code}; {_headers(r, 'Content-Type')}; {_body(r)}",
            )
            r = self.call(
                "OPTIONS",
                f"{web}/studies",
                auth,
                headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "GET"},
            )
            yield ("OPTIONS {web}/studies (preflight, Origin evil)", who, f"{r.status_code}; {_acx(r)}; {_body(r)}")
            r = self.call("GET", f"{web}/studies?limit=1", auth, headers={"Origin": EVIL_ORIGIN})
            yield ("GET {web}/studies with Origin evil", who, f"{r.status_code}; {_acx(r)}")


def _start(name: str, tmp: Path) -> OrthancServer:
    config = "web-default-user" if name == EXPLICIT else name
    server = OrthancServer(config, tmp / name, synthetic_datasets())
    if name == EXPLICIT:
        server.template["RegisteredUsers"] = {"orthanc": "orthanc"}
    return server.start()


def main(argv: list[str]) -> int:
    names = argv or [*WEB_CONFIGS, EXPLICIT]
    table: dict[tuple[str, str], dict[str, str]] = {}
    study_uid = str(synthetic_datasets()[0].StudyInstanceUID)
    with tempfile.TemporaryDirectory(prefix="web-groundtruth-") as tmp:
        servers: list[OrthancServer] = []
        try:
            for name in names:
                server = _start(name, Path(tmp))
                servers.append(server)
                print(f"<!-- {name}: web {server.web_url}, rest {server.rest_url} -->", file=sys.stderr)
                for question, who, answer in Asker(server, study_uid).rows():
                    table.setdefault((question, who), {})[name] = answer
        finally:
            for server in servers:
                server.request_stop()
            for server in servers:
                server.stop()
    question_order: list[str] = []
    for question, _ in table:
        if question not in question_order:
            question_order.append(question)
    for question in question_order:
        print(f"\n#### {question}\n")
        print("| config | credentials | answer |")
        print("|---|---|---|")
        for (q, who), answers in table.items():
            if q != question:
                continue
            for name in names:
                if name in answers:
                    print(f"| `{name}` | {who} | {answers[name]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
