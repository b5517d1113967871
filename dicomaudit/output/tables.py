"""CSV evidence via pandas: ``checks.csv`` (one row per node and check) and ``phi.csv``.

Spreadsheet programs execute cells that start with ``=``, ``+``, ``-``, ``@``
(CSV/formula injection, OWASP).  Text columns here carry data a remote node
controls (AE titles, summaries), so such cells are prefixed with ``'`` — the
convention spreadsheets display as the plain text.  Text cells also pass
through :func:`~dicomaudit.textsafe.scrub`: no control character reaches a
terminal that shows the file, and no lone surrogate can fail the UTF-8 write.

``checks.csv`` carries the inventory's extra columns (owner, location, ...)
after ``node_name``, named as in the inventory (``inventory_<name>`` when a
name is taken by a column of its own), and durations rounded to 0.1 ms as in
the result JSON.  Whether a row is an accepted risk comes from the
:class:`~dicomaudit.policy.Assessment` (column ``verdict``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from dicomaudit.models import RunResult
from dicomaudit.policy import Assessment, Verdict
from dicomaudit.textsafe import scrub

NODE_COLUMNS = ["host", "port", "called_aet", "url", "node_name"]
CHECK_COLUMNS = [
    *NODE_COLUMNS, "check_id", "status", "verdict", "severity", "title", "summary", "enforced", "reason",
    "reason_code", "compliance", "waived", "waiver_reason", "waiver_expires", "waiver_approved_by", "duration_ms",
]  # fmt: skip
PHI_COLUMNS = ["source", "path", "tag", "keyword", "vr", "category", "rule", "severity", "value", "node"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> object:
    if not isinstance(value, str):
        return value
    value = scrub(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _flatten_compliance(compliance: Mapping[str, Sequence[str]]) -> str:
    # "HIPAA 164.312(a)(1); HIPAA 164.312(d); GDPR Art. 32(1)(b)": one cell, greppable.
    return "; ".join(f"{fw} {cid}" for fw, ids in compliance.items() for cid in ids)


def inventory_columns(assessment: Assessment) -> dict[str, str]:
    """``{inventory column: CSV column}`` for every extra inventory column of the run, in first-seen order."""
    taken = set(CHECK_COLUMNS)
    names = dict.fromkeys(k for n in assessment.nodes for k in n.target.attributes)
    return {k: f"inventory_{k}" if k in taken else k for k in names}


def checks_frame(assessment: Assessment) -> pd.DataFrame:
    """One row per (node, check), in run order, with the inventory's extra columns after ``node_name``."""
    extra = inventory_columns(assessment)
    rows = []
    for finding in assessment.checks:
        target, c, w = finding.target, finding.check, finding.waiver
        rows.append(
            {
                "host": target.host,
                "port": target.port,
                "called_aet": target.called_aet,
                "url": target.url,
                "node_name": target.name,
                **{col: target.attributes.get(k) for k, col in extra.items()},
                "check_id": c.id,
                "status": c.status.value,
                "verdict": finding.verdict.value,
                "severity": c.severity.value,
                "title": c.title,
                "summary": c.summary,
                "enforced": c.enforced,
                "reason": c.reason,
                "reason_code": c.reason_code.value if c.reason_code else None,
                "compliance": _flatten_compliance(c.compliance),
                "waived": finding.verdict is Verdict.ACCEPTED,
                "waiver_reason": w.reason if w else None,
                "waiver_expires": w.expires.isoformat() if w else None,
                "waiver_approved_by": w.approved_by if w else None,
                "duration_ms": c.duration_ms,
            }
        )
    columns = [*NODE_COLUMNS, *extra.values(), *CHECK_COLUMNS[len(NODE_COLUMNS) :]]
    frame = pd.DataFrame(rows, columns=columns)
    # As in the result JSON: 0.1 ms is finer than any network timing these checks make.
    frame["duration_ms"] = pd.to_numeric(frame["duration_ms"]).round(1)
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
        safe[col] = safe[col].map(defuse)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


def write_checks_csv(assessment: Assessment, path: str | Path) -> Path:
    return _write(checks_frame(assessment), Path(path))


def write_phi_csv(result: RunResult, path: str | Path) -> Path:
    return _write(phi_frame(result), Path(path))
