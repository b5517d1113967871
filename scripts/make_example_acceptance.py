#!/usr/bin/env python3
"""Regenerate ``reports/example/acceptance/``: the acceptance record of the locked lab PACS as an archive.

Usage::

    python scripts/make_example_acceptance.py [--out reports/example/acceptance] [--port 11113] [--web-port 8043]

Starts the built-in lab PACS (profile ``locked``: allow-listed AE titles,
HTTP Basic on DICOMweb, but plaintext DICOM and HTTP) on loopback, runs the
real command, ``dicomaudit accept ... --role archive``, against both of its
endpoints, and stops the lab.  The shipped archive policy requires TLS, so
the record says non-compliant (exit status 1, expected here) and shows the
two transport requirements it fails with their evidence.  The README's
"Accepting a new device" walks through the same run by hand.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from dicomaudit.lab import LabPACS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "example" / "acceptance")
    parser.add_argument("--port", type=int, default=11113, help="lab DICOM port (0: any free port)")
    parser.add_argument("--web-port", type=int, default=8043, help="lab DICOMweb port (0: any free port)")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)  # the folder holds exactly what one run writes
    with LabPACS(profile="locked", host="127.0.0.1", port=args.port, web_port=args.web_port) as lab:
        command = [
            sys.executable, "-m", "dicomaudit", "accept",
            f"{lab.host}:{lab.port}/{lab.ae_title}", str(lab.web_url),
            "--role", "archive",
            "--guess-aet", "--guess-pause", "0", "--try-default-credentials",
            "--name", "lab-locked",
            "--manufacturer", "dicomaudit (synthetic lab)", "--model", "LabPACS, profile locked", "--serial", "LAB-0001",
            "--tested-by", "dicomaudit example",
            "--scope-ref", "built-in lab on loopback",
            "--out", os.path.relpath(args.out, REPO_ROOT), "--quiet",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=REPO_ROOT, check=False)
    if done.returncode not in (0, 1):  # 0 compliant, 1 non-compliant/undecided; anything else is a failure
        return done.returncode
    print(f"wrote {args.out.relative_to(REPO_ROOT) if args.out.is_relative_to(REPO_ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
