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
from types import TracebackType
from typing import Self

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


class PeerProcess:
    """A peer server run as a child process on loopback; use as a context manager.

    :meth:`start` chooses free ports (:meth:`choose_ports`), writes what the
    server needs (:meth:`prepare`), starts :meth:`argv` and waits until
    :meth:`ready`; a port taken in between gets one more try.  Then
    :meth:`after_start` seeds it; if that fails the server is stopped.
    Subclasses set ``root``, ``log_path`` and ``what`` in ``__init__``.
    """

    what = "peer"
    startup_timeout = 30.0
    stop_timeout = 5.0
    root: Path
    log_path: Path
    port: int = 0

    _proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def stdout_path(self) -> Path:
        """Where the process's stdout/stderr go (the log, unless the server writes its own)."""
        return self.log_path

    def choose_ports(self) -> None:
        self.port = free_port()

    def prepare(self) -> None:
        """Write configuration and data folders before the start (ports are chosen)."""

    def ready(self) -> bool:
        return tcp_open(self.port)

    def after_start(self) -> None:
        """Seed data once the server answers."""

    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        last: PeerStartError | None = None
        for _ in range(2):  # the free port may be taken before the server binds it
            self.choose_ports()
            self.prepare()
            self._proc = start_process(self.argv(), self.stdout_path, self.root)
            try:
                wait_until(self.ready, self._proc, self.log_path, self.what, self.startup_timeout)
                break
            except PeerStartError as exc:
                stop_process(self._proc)
                last = exc
        else:
            assert last is not None
            raise last
        try:
            self.after_start()
        except BaseException:
            self.stop()  # never leave a half-seeded server running
            raise
        return self

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL on timeout; return the exit status."""
        if self._proc is None:
            return None
        status = stop_process(self._proc, timeout=self.stop_timeout)
        self._proc = None
        return status

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for assertion messages."""
        return log_tail(self.log_path, lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
