"""SHA-256 manifest of a report set, in GNU ``sha256sum`` format.

``sha256sum -c MANIFEST.sha256`` run inside the report folder verifies every
file; :func:`verify_manifest` does the same without coreutils.  Paths are
relative to the folder so the set can be moved or archived as a whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

MANIFEST_NAME = "MANIFEST.sha256"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")  # text mode "  name" or binary mode " *name"


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _name(path: Path, root: Path) -> str:
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    if "\n" in rel or "\\" in rel:  # sha256sum would need its escaped form; our writers never produce these
        raise ValueError(f"cannot list {rel!r} in a sha256sum manifest")
    return rel


def write_manifest(out_dir: str | Path, files: Iterable[str | Path], name: str = MANIFEST_NAME) -> Path:
    """Write ``<sha256>  <relative path>`` lines for ``files`` (which must lie under ``out_dir``), sorted by path."""
    root = Path(out_dir)
    names = sorted({_name(Path(p), root) for p in files if Path(p).name != name})
    lines = [f"{sha256_file(root / rel)}  {rel}" for rel in names]
    manifest = root / name
    manifest.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return manifest


def verify_manifest(manifest: str | Path) -> list[str]:
    """Check every entry of a manifest; returns one line per missing or altered file (empty when intact)."""
    manifest = Path(manifest)
    problems = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            problems.append(f"malformed line: {line!r}")
            continue
        digest, rel = match.groups()
        path = manifest.parent / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{rel}: digest mismatch")
    return problems
