"""Where diagnostics go: never onto the user's console unless asked.

A scanner aimed at broken peers and a reader of mutated files meet plenty
that third-party code complains about: pydicom warns about odd values,
pynetdicom logs every refused association as an error, a server thread of
the lab may raise.  None of that is a result.  The command line routes all
of it (Python logging, ``warnings``, exceptions in threads) to a debug log:

* ``--log FILE``: everything at DEBUG level to ``FILE``;
* ``DICOMAUDIT_DEBUG=1``: everything at DEBUG level to stderr (and internal
  errors show their traceback);
* neither: nowhere.

The library itself never configures logging; only :func:`configure`, called
by the command line, does.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

_MARK = "_dicomaudit_handler"
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def debug_enabled() -> bool:
    return os.environ.get("DICOMAUDIT_DEBUG", "").strip() not in ("", "0")


def _thread_exception(args: Any) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("dicomaudit.threads").error(
        "exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )


def _unraisable(args: Any) -> None:
    logging.getLogger("dicomaudit.unraisable").debug(
        "%s: %r",
        args.err_msg or "unraisable exception",
        args.object,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def configure(log_file: Path | None = None) -> None:
    """Route every diagnostic to ``log_file`` and/or stderr (debug), or nowhere.

    Raises ``OSError`` when ``log_file`` cannot be opened.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = []
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8", errors="backslashreplace"))
    if debug_enabled():
        handlers.append(logging.StreamHandler(sys.stderr))
    if not handlers:
        # A handler on the root keeps logging's "last resort" (stderr) from ever firing.
        handlers.append(logging.NullHandler())
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    verbose = len(handlers) > 1 or not isinstance(handlers[0], logging.NullHandler)
    root.setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    # pynetdicom at DEBUG dumps every PDU of the lab server; INFO is enough to follow it.
    logging.getLogger("pynetdicom").setLevel(logging.INFO if verbose else logging.CRITICAL)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    threading.excepthook = _thread_exception
    sys.unraisablehook = _unraisable
