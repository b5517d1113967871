"""``run_forever``: the foreground lab behind ``dicomaudit lab``."""

from __future__ import annotations

import re
import threading
import time

from dicomaudit.lab import describe_event, run_forever


def test_run_forever_logs_associations_and_stops_cleanly(scu):
    # Given run_forever in a thread on a free port, printing into a list
    lines: list[str] = []
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever,
        kwargs={"profile": "locked", "port": 0, "echo": lines.append, "stop_event": stop},
    )
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not any("listening on" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.01)
        port = int(re.search(r"127\.0\.0\.1:(\d+)", "\n".join(lines)).group(1))  # type: ignore[union-attr]
        # When an unregistered AE tries to associate
        assoc = scu("INTRUDER").associate("127.0.0.1", port, ae_title="DICOMLAB")
        assert assoc.is_rejected
        time.sleep(0.05)
    finally:
        stop.set()
        worker.join(5)
    # Then the console shows the rejection with its reason, and the lab stopped
    assert not worker.is_alive()
    assert any("'INTRUDER'" in line and "calling ae title not recognised" in line for line in lines)
    assert lines[-1] == "lab PACS stopped"


def test_describe_event_mentions_find_matches():
    line = describe_event(
        {
            "kind": "C-FIND",
            "outcome": "success",
            "status": 0,
            "calling_aet": "X",
            "called_aet": "Y",
            "peer": "127.0.0.1:1",
            "matches": 6,
            "level": "PATIENT",
        }
    )
    assert "6 match(es) at PATIENT level" in line
