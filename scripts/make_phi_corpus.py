#!/usr/bin/env python3
"""Write the labelled synthetic PHI corpus (all values invented) to a folder.

Usage::

    python scripts/make_phi_corpus.py [OUT_DIR] [--files N] [--seed S] [--no-dicomdir] [--no-malformed]

Without OUT_DIR a fresh temporary folder is used and printed.  The answer
key is written as ``OUT_DIR/.answer_key.json`` (a dotfile, so folder walks
do not analyse it); see :mod:`tests.phi.corpus` for its format.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# The corpus generator is test tooling (tests/phi/corpus.py), not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.phi.corpus import KEY_NAME, generate_corpus  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", help="folder to write (default: a new temp folder)")
    parser.add_argument("--files", type=int, default=120, help="regular DICOM files to write (default 120)")
    parser.add_argument("--seed", type=int, default=1234, help="seed for the invented values")
    parser.add_argument("--no-dicomdir", action="store_true", help="skip the DICOMDIR file-set")
    parser.add_argument("--no-malformed", action="store_true", help="skip the malformed inputs")
    args = parser.parse_args(argv)
    out = args.out_dir or tempfile.mkdtemp(prefix="phi_corpus_")
    key = generate_corpus(
        out, n_files=args.files, seed=args.seed, dicomdir=not args.no_dicomdir, malformed=not args.no_malformed
    )
    print(
        f"{out}: {args.files} files, {len(key.identifying)} identifying elements, "
        f"{len(key.decoys)} decoys, {len(key.malformed)} malformed, {len(key.clean)} clean files; "
        f"key in {KEY_NAME}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
