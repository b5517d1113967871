"""Process and port helpers shared by the peer wrappers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"


class PeerStartError(RuntimeError):
    """A peer server did not come up; the message carries its log tail."""


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago.

    The kernel picks it (bind to port 0); the small race until the server
    binds it is handled by callers retrying the start once.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def tcp_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection on *host*:*port*."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 30) -> str:
    """The last *lines* lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    log: Path,
    what: str,
    timeout: float,
) -> None:
    """Poll *ready* until it holds; raise with the log tail if *proc* dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerStartError(
                f"{what} exited with status {proc.returncode} during start-up; log tail:\n" + log_tail(log)
            )
        if ready():
            return
        time.sleep(0.05)
    raise PeerStartError(f"{what} not ready after {timeout:.0f}s; log tail:\n" + log_tail(log))


def start_process(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start *argv* in its own session with stdout/stderr going to *log*."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own process group: a stray Ctrl-C in the test runner must not
            # leave the server half-dead, and stop() signals only this child.
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, wait up to *timeout* seconds, then SIGKILL; return the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return int(proc.returncode)


def which(binary: str, *fallbacks: str) -> str | None:
    """Absolute path of *binary* on PATH or at one of *fallbacks*, else None."""
    found = shutil.which(binary)
    if found:
        return found
    for path in fallbacks:
        if os.access(path, os.X_OK):
            return path
    return None
