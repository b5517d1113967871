"""Writers: every output format is rendered from one :class:`~dicomaudit.models.RunResult`.

No writer talks to the network; no check knows about an output format.
"""

from __future__ import annotations

import json
from pathlib import Path

from dicomaudit.models import RunResult


def write_json(result: RunResult, path: str | Path) -> Path:
    """Write the result JSON (``schema: dicomaudit/1``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_json(path: str | Path) -> RunResult:
    """Read a result JSON written by :func:`write_json` (raises ``ValueError`` if it is not one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    return RunResult.from_dict(data)
