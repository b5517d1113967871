"""nginx (Debian 1.22) as a throwaway loopback reverse proxy for tests.

``NginxProxy(root, upstream_port, tls=..., cors_reflect=...)`` writes its own
``nginx.conf`` under *root* (also its prefix: pid file, error log, temp
folders), starts ``nginx -p <root> -c <root>/nginx.conf`` in the foreground
(``daemon off;``, ``master_process on;``, one worker) and proxies everything
to ``http://127.0.0.1:<upstream_port>``. It listens on ``127.0.0.1`` only.

Two front ends, combinable:

* ``tls=TlsMaterial``: terminate TLS (1.2 and 1.3) with the PKI's server
  certificate (SAN ``127.0.0.1``/``localhost``); clients verify with its CA.
* ``cors_reflect=True``: the classic CORS misconfiguration. Every response
  (``always``: errors too) carries ``Access-Control-Allow-Origin: <the
  request's Origin>`` and ``Access-Control-Allow-Credentials: true``; an
  ``OPTIONS`` request never reaches the upstream and is answered ``204`` with
  those two plus ``Access-Control-Allow-Methods``/``-Headers``/``-Max-Age``.

As root (CI), the worker also runs as root (``user root;``): nginx would
otherwise drop it to ``nobody``, which cannot enter pytest's 0700 temp
folders to buffer a request body. As any other user the directive is left
out (nginx ignores it there, with a warning).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.peers._process import LOOPBACK, PeerProcess, which
from tests.peers.certs import TlsMaterial

#: Methods and request headers the CORS front announces in preflight answers.
CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, Accept, Origin, X-Requested-With"


def nginx_binary() -> str | None:
    """Path of the nginx executable, or None when it is not installed."""
    return which("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx")


class NginxProxy(PeerProcess):
    """A running nginx reverse proxy on loopback; use as a context manager.

    Parameters
    ----------
    root
        Prefix folder: configuration, pid file, logs and temp folders.
    upstream_port
        Loopback HTTP port proxied to (may be set later, before :meth:`start`).
    tls
        Terminate TLS with this PKI's server certificate and key.
    cors_reflect
        Reflect any ``Origin`` with credentials (see the module docstring).

    Attributes
    ----------
    host, port
        Where the front listens (``127.0.0.1``, a free port).
    url
        ``http(s)://127.0.0.1:<port>``, no trailing slash.
    ca_bundle
        The CA file clients verify the TLS front with, else None.
    """

    what = "nginx"
    startup_timeout = 15.0
    stop_timeout = 5.0

    def __init__(
        self,
        root: Path,
        upstream_port: int = 0,
        *,
        tls: TlsMaterial | None = None,
        cors_reflect: bool = False,
    ) -> None:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx is not installed (run scripts/install-peers.sh)")
        self.binary = binary
        self.root = Path(root)
        self.host = LOOPBACK
        self.port = 0
        self.upstream_port = upstream_port
        self.tls = tls
        self.cors_reflect = cors_reflect
        self.config_path = self.root / "nginx.conf"
        self.log_path = self.root / "error.log"
        self.access_log = self.root / "access.log"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def ca_bundle(self) -> Path | None:
        return self.tls.ca_cert if self.tls is not None else None

    @property
    def stdout_path(self) -> Path:
        return self.root / "nginx.stdout"  # nginx writes its own log to log_path

    def argv(self) -> list[str]:
        # -e: the error log before the configuration is read (Debian's
        # compiled-in default is stderr, i.e. nginx.stdout here).
        return [self.binary, "-p", f"{self.root}/", "-c", str(self.config_path), "-e", str(self.log_path)]

    def prepare(self) -> None:
        if not self.upstream_port:
            raise ValueError("NginxProxy needs an upstream_port before start()")
        self.config_path.write_text(self.render_config())

    # -- configuration ----------------------------------------------------
    def _cors_lines(self, indent: str) -> list[str]:
        return [
            f"{indent}add_header Access-Control-Allow-Origin $http_origin always;",
            f"{indent}add_header Access-Control-Allow-Credentials true always;",
        ]

    def render_config(self) -> str:
        """The whole ``nginx.conf`` for the chosen ports."""
        r = self.root
        lines = [
            "# Written by tests/peers/nginx.py for one test run; loopback only.",
            "daemon off;",
            "master_process on;",
            "worker_processes 1;",
            f"pid {r / 'nginx.pid'};",
            f"error_log {self.log_path} notice;",
        ]
        if os.geteuid() == 0:
            lines.append("user root;")
        lines += [
            "events { worker_connections 64; }",
            "http {",
            f"    access_log {self.access_log};",
            f"    client_body_temp_path {r / 'client_body'};",
            f"    proxy_temp_path {r / 'proxy'};",
            f"    fastcgi_temp_path {r / 'fastcgi'};",
            f"    uwsgi_temp_path {r / 'uwsgi'};",
            f"    scgi_temp_path {r / 'scgi'};",
            "    default_type application/octet-stream;",
            "    client_max_body_size 0;",
            "    server {",
        ]
        if self.tls is not None:
            lines += [
                f"        listen {LOOPBACK}:{self.port} ssl;",
                f"        ssl_certificate {self.tls.server_cert};",
                f"        ssl_certificate_key {self.tls.server_key};",
                "        ssl_protocols TLSv1.2 TLSv1.3;",
            ]
        else:
            lines.append(f"        listen {LOOPBACK}:{self.port};")
        lines.append("        location / {")
        if self.cors_reflect:
            lines += self._cors_lines(" " * 12)
            # add_header inside "if" replaces (does not extend) the outer ones.
            lines += ["            if ($request_method = OPTIONS) {"]
            lines += self._cors_lines(" " * 16)
            lines += [
                f'                add_header Access-Control-Allow-Methods "{CORS_METHODS}" always;',
                f'                add_header Access-Control-Allow-Headers "{CORS_HEADERS}" always;',
                "                add_header Access-Control-Max-Age 600 always;",
                "                return 204;",
                "            }",
            ]
        lines += [
            f"            proxy_pass http://{LOOPBACK}:{self.upstream_port};",
            "            proxy_http_version 1.1;",
            "            proxy_set_header Host $http_host;",
            "            proxy_set_header X-Forwarded-For $remote_addr;",
            "            proxy_set_header X-Forwarded-Proto $scheme;",
            "            proxy_set_header X-Forwarded-Host $http_host;",
            '            proxy_set_header Forwarded "proto=$scheme;host=$http_host";',
            "            proxy_read_timeout 60s;",
            "        }",
            "    }",
            "}",
        ]
        return "\n".join(lines) + "\n"
