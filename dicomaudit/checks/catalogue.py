"""The check catalogue, loaded from ``catalogue.toml`` (checks as data).

Ids, severities, titles, rationale and remediation live in the TOML file;
compliance references come from :mod:`dicomaudit.compliance`.  Loading
validates both: an unknown id in a framework, or a check without any
control, is a packaging bug and fails loudly (and in the tests).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from dicomaudit.compliance import controls_by_check, mapping_problems
from dicomaudit.models import CheckResult, ErrorReason, Severity, Status, freeze

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
PRODUCTS = {"orthanc": "Orthanc", "dcmtk": "DCMTK", "dcm4chee": "dcm4chee"}


@dataclass(frozen=True)
class CheckDefinition:
    """Static description of one check: what it asks and how to fix a failure."""

    id: str
    title: str
    severity: Severity
    question: str
    rationale: str
    remediation: str
    remediation_by_product: Mapping[str, str] = field(default_factory=dict)
    compliance: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "remediation_by_product", freeze(dict(self.remediation_by_product)))
        object.__setattr__(self, "compliance", freeze(dict(self.compliance)))

    @property
    def full_remediation(self) -> str:
        lines = [self.remediation]
        lines += [f"{PRODUCTS[p]}: {text}" for p, text in self.remediation_by_product.items()]
        return "\n".join(lines)

    def result(
        self,
        status: Status,
        summary: str,
        *,
        evidence: Mapping[str, Any] | None = None,
        reason: str | None = None,
        enforced: str | None = None,
        duration_ms: float | None = None,
        code: ErrorReason | None = None,
    ) -> CheckResult:
        """Build a :class:`CheckResult` for this check.

        An ``error`` must say which kind of problem it was (``code``): a
        result without one is a bug in the check, caught here.
        """
        if status is Status.ERROR and code is None:
            raise ValueError(f"{self.id}: an error result needs a reason code")
        return CheckResult(
            id=self.id,
            status=status,
            severity=self.severity,
            title=self.title,
            summary=summary,
            evidence=evidence or {},
            remediation=self.full_remediation,
            compliance=self.compliance,
            reason=reason,
            enforced=enforced,
            duration_ms=duration_ms,
            reason_code=code if status is Status.ERROR else None,
        )


def _clean(text: str) -> str:
    return " ".join(text.split())


@cache
def load_catalogue() -> dict[str, CheckDefinition]:
    """Return ``{check id: CheckDefinition}`` in catalogue order."""
    raw = tomllib.loads(resources.files(__package__).joinpath("catalogue.toml").read_text(encoding="utf-8"))
    mapping = controls_by_check()
    catalogue: dict[str, CheckDefinition] = {}
    for entry in raw.get("check", []):
        cid = entry["id"]
        if not _ID_RE.match(cid):
            raise ValueError(f"check id {cid!r} is not of the form area.question")
        if cid in catalogue:
            raise ValueError(f"duplicate check id {cid!r} in catalogue")
        products = {p: _clean(entry[f"remediation_{p}"]) for p in PRODUCTS if f"remediation_{p}" in entry}
        catalogue[cid] = CheckDefinition(
            id=cid,
            title=entry["title"],
            severity=Severity(entry["severity"]),
            question=_clean(entry["question"]),
            rationale=_clean(entry["rationale"]),
            remediation=_clean(entry["remediation"]),
            remediation_by_product=products,
            compliance=mapping.get(cid, {}),
        )
    problems = mapping_problems(catalogue)
    if problems:
        raise ValueError("check catalogue and compliance mappings disagree: " + "; ".join(problems))
    return catalogue


def get(check_id: str) -> CheckDefinition:
    return load_catalogue()[check_id]
