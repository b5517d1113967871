#!/usr/bin/env python3
"""Regenerate ``sample_data/``: synthetic DICOM files, the example inventory and README.

Usage::

    python scripts/make_sample_data.py [--out sample_data] [--seed 20261121]

Existing ``*.dcm`` files under the output folder are removed first (and then
empty folders), so the tree holds exactly what the generator produces.  The
test ``tests/test_synth.py`` regenerates into a temporary folder and compares
bytes with the committed tree, which proves the repo data comes from here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from dicomaudit.synth import DEFAULT_SEED, write_sample_data  # noqa: E402

INVENTORY = """\
name,host,port,called_aet,location,owner,notes
lab-open,127.0.0.1,11112,DICOMLAB,loopback,dicomaudit demo,built-in lab PACS: dicomaudit lab --profile open --port 11112
lab-locked,127.0.0.1,11113,DICOMLAB,loopback,dicomaudit demo,built-in lab PACS: dicomaudit lab --profile locked --port 11113
"""

README = """\
# sample_data: synthetic only

Everything in this folder is **synthetic**. No file here comes from a real
patient, scanner or hospital: names are placeholder names (DOE^JANE,
BLOGGS^JOE, MUSTERMANN^ERIKA...), telephone numbers are from ranges reserved
for fiction, addresses are on "Example" streets in "Testville", and all UIDs
are `2.25.` UUID-derived values computed from a fixed seed.

| path | what |
|---|---|
| `SYN-000N/studyN/seriesN/NNNN.dcm` | 6 patients, 9 studies, CT/MR/CR/US/Secondary Capture, 16x16 pixels |
| `inventory.csv` | example target inventory (`host,port,called_aet` + extra columns), loopback only |

The DICOM files deliberately carry identifying-looking headers (names,
birth dates, addresses, phone numbers, free-text comments, a private tag
repeating the name, accented names in ISO_IR 192 and ISO_IR 100) so the PHI
analyzer and the lab PACS have something realistic to find.

Regenerate (byte-identical on every machine; a test checks it):

    .venv/bin/python scripts/make_sample_data.py
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "sample_data")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.rglob("*.dcm"):
        old.unlink()
    # Remove folders left empty, deepest first.
    for folder in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()

    files = write_sample_data(out, seed=args.seed)
    (out / "inventory.csv").write_text(INVENTORY, encoding="utf-8")
    (out / "README.md").write_text(README, encoding="utf-8")
    print(f"wrote {len(files)} DICOM files, inventory.csv and README.md to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
