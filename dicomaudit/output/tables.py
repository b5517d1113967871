"""CSV evidence via pandas: ``checks.csv`` (one row per node and check) and ``phi.csv``.

Spreadsheet programs execute cells that start with ``=``, ``+``, ``-``, ``@``
(CSV/formula injection, OWASP).  Text columns here carry data a remote node
controls (AE titles, summaries), so such cells are prefixed with ``'`` — the
convention spreadsheets display as the plain text.  Text cells also pass
through :func:`~dicomaudit.textsafe.scrub`: no control character reaches a
terminal that shows the file, and no lone surrogate can fail the UTF-8 write.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dicomaudit.models import RunResult
from dicomaudit.report import NO_WAIVERS, WaiverResult
from dicomaudit.textsafe import scrub

CHECK_COLUMNS = [
    "host", "port", "called_aet", "node_name", "check_id", "status", "severity", "title", "summary", "enforced",
    "reason", "reason_code", "compliance", "waived", "waiver_reason", "waiver_expires", "waiver_approved_by", "duration_ms",
]
PHI_COLUMNS = ["source", "path", "tag", "keyword", "vr", "category", "rule", "severity", "value", "node"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    if not isinstance(value, str):
        return value
    value = scrub(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _flatten_compliance(compliance: dict[str, tuple[str, ...]] | object) -> str:
    # "HIPAA 164.312(a)(1); HIPAA 164.312(d); GDPR Art. 32(1)(b)": one cell, greppable.
    return "; ".join(f"{fw} {cid}" for fw, ids in compliance.items() for cid in ids)  # type: ignore[attr-defined]


def checks_frame(result: RunResult, waivers: WaiverResult | None = None) -> pd.DataFrame:
    """One row per (node, check), in run order."""
    waivers = waivers or NO_WAIVERS
    rows = []
    for target, c in result.all_checks:
        w = waivers.waiver_for(target, c.id)
        rows.append({
            "host": target.host,
            "port": target.port,
            "called_aet": target.called_aet,
            "node_name": target.name,
            "check_id": c.id,
            "status": c.status.value,
            "severity": c.severity.value,
            "title": c.title,
            "summary": c.summary,
            "enforced": c.enforced,
            "reason": c.reason,
            "reason_code": c.reason_code.value if c.reason_code else None,
            "compliance": _flatten_compliance(c.compliance),
            "waived": w is not None,
            "waiver_reason": w.reason if w else None,
            "waiver_expires": w.expires.isoformat() if w else None,
            "waiver_approved_by": w.approved_by if w else None,
            "duration_ms": c.duration_ms,
        })
    frame = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    return frame.astype({"port": "Int64", "waived": "bool"})


def phi_frame(result: RunResult) -> pd.DataFrame:
    """One row per PHI finding: network ones (``node`` set) first, then file ones."""
    rows = [{**p.to_dict(), "node": str(t.target)} for t in result.targets for p in t.phi]
    rows += [{**p.to_dict(), "node": None} for p in result.phi]
    return pd.DataFrame(rows, columns=PHI_COLUMNS)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    text_cols = frame.select_dtypes(include=["object", "string"]).columns
    safe = frame.copy()
    for col in text_cols:
        safe[col] = safe[col].map(_defuse)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


def write_checks_csv(result: RunResult, path: str | Path, waivers: WaiverResult | None = None) -> Path:
    return _write(checks_frame(result, waivers), Path(path))


def write_phi_csv(result: RunResult, path: str | Path) -> Path:
    return _write(phi_frame(result), Path(path))
