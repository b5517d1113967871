"""The acceptance record of one device: who it is, what it was judged against, what was seen, who signs.

Assembled from a run's result (one node's endpoints), its
:class:`~dicomaudit.acceptance.judge.NodeJudgement` and the resolved
:class:`~dicomaudit.acceptance.policy.Policy`; the writers in
:mod:`dicomaudit.output.acceptance` render it (HTML for signature, JSON,
JUnit) without looking anything else up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dicomaudit.acceptance.judge import NodeJudgement, Outcome, Verdict
from dicomaudit.acceptance.policy import Policy
from dicomaudit.models import RunResult, Status, TargetResult, thaw

RECORD_SCHEMA = "dicomaudit-acceptance/1"

#: Inventory columns (``Target.attributes``) read as the device's make, model and serial number.
IDENTITY_COLUMNS = {
    "manufacturer": ("manufacturer", "vendor", "make"),
    "model": ("model", "model_name"),
    "serial": ("serial", "serial_number", "serialnumber"),
}


@dataclass(frozen=True)
class Signoff:
    """The record's signature block: left blank (for a pen) when not given on the command line."""

    tested_by: str = ""
    approved_by: str = ""
    date: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"tested_by": self.tested_by, "approved_by": self.approved_by, "date": self.date}


@dataclass(frozen=True)
class DeviceIdentity:
    """What identifies the device: given (options, inventory) and observed (association, web API)."""

    name: str
    role: str
    endpoints: tuple[str, ...]
    ae_titles: tuple[str, ...]
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    implementation: tuple[Mapping[str, Any], ...] = ()  # per DICOM endpoint: class UID, version name, transport
    software: tuple[Mapping[str, Any], ...] = ()  # per endpoint: software.identified's product, version, confidence
    attributes: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "endpoints": list(self.endpoints),
            "ae_titles": list(self.ae_titles),
            "manufacturer": self.manufacturer,
            "model": self.model,
            "serial": self.serial,
            "implementation": [thaw(i) for i in self.implementation],
            "software": [thaw(s) for s in self.software],
            "attributes": dict(self.attributes or {}),
        }


@dataclass(frozen=True)
class AcceptanceRecord:
    """Everything ``dicomaudit accept`` hands over for one device."""

    device: DeviceIdentity
    policy: Policy
    judgement: NodeJudgement
    signoff: Signoff
    result: RunResult

    @property
    def verdict(self) -> Verdict:
        return self.judgement.verdict

    @property
    def judged(self) -> tuple[Any, ...]:
        """Requirements the verdict rests on (met, violated, undecided), worst first."""
        order = {Outcome.VIOLATED: 0, Outcome.UNDECIDED: 1, Outcome.MET: 2}
        rows = [r for r in self.judgement.requirements if r.outcome in order]
        return tuple(sorted(rows, key=lambda r: order[r.outcome]))

    @property
    def unjudged(self) -> tuple[Any, ...]:
        """Requirements not judged here (not applicable, recorded), for completeness."""
        return tuple(r for r in self.judgement.requirements if r.outcome in (Outcome.NOT_APPLICABLE, Outcome.RECORDED))

    def to_dict(self) -> dict[str, Any]:
        run = self.result.run
        return {
            "schema": RECORD_SCHEMA,
            "tool": {"name": "dicomaudit", "version": self.result.tool_version},
            "device": self.device.to_dict(),
            "policy": self.policy.to_dict(),
            "verdict": self.verdict.value,
            "reason": self.judgement.reason,
            "counts": {o.value: self.judgement.count(o) for o in Outcome},
            "requirements": [r.to_dict() for r in self.judgement.requirements],
            "signoff": self.signoff.to_dict(),
            "run": {
                "command": run.command,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "operator": run.operator,
                "scope_ref": run.scope_ref,
                "incomplete": run.incomplete,
                "settings": thaw(run.settings),
            },
        }


def _column(attributes: Mapping[str, str], field: str) -> str:
    lowered = {k.lower(): v for k, v in attributes.items()}
    for key in IDENTITY_COLUMNS[field]:
        if lowered.get(key):
            return str(lowered[key])
    return ""


def _implementation(t: TargetResult) -> dict[str, Any] | None:
    for c in t.checks:
        if c.id != "dicom.service":
            continue
        for transport in ("tls", "plaintext"):
            attempt = c.evidence.get(transport)
            if attempt and attempt.get("peer"):
                peer = attempt["peer"]
                return {
                    "endpoint": str(t.target),
                    "transport": transport,
                    "implementation_class_uid": peer.get("implementation_class_uid"),
                    "implementation_version_name": peer.get("implementation_version_name"),
                }
        return {
            "endpoint": str(t.target),
            "transport": None,
            "implementation_class_uid": None,
            "implementation_version_name": None,
            "note": "not disclosed to the scanner (no A-ASSOCIATE-AC: the association was refused or not reached)",
        }
    return None


def _software(t: TargetResult) -> dict[str, Any] | None:
    for c in t.checks:
        if c.id == "software.identified" and c.status is Status.INFO:
            e = c.evidence
            return {
                "endpoint": str(t.target),
                "product": e.get("product"),
                "version": e.get("version"),
                "confidence": e.get("confidence"),
                "summary": c.summary,
            }
    return None


def build_record(
    result: RunResult,
    judgement: NodeJudgement,
    policy: Policy,
    *,
    manufacturer: str | None = None,
    model: str | None = None,
    serial: str | None = None,
    signoff: Signoff | None = None,
) -> AcceptanceRecord:
    """The record of the node ``judgement`` judged (its endpoints are looked up in ``result`` by node key)."""
    endpoints: Sequence[TargetResult] = [t for t in result.targets if t.target.node_key == judgement.node_key]
    attributes: dict[str, str] = {}
    for t in endpoints:
        attributes.update({k: str(v) for k, v in t.target.attributes.items()})
    implementation = tuple(i for t in endpoints if not t.target.is_web and (i := _implementation(t)) is not None)
    software = tuple(s for t in endpoints if (s := _software(t)) is not None)
    device = DeviceIdentity(
        name=judgement.label,
        role=judgement.role,
        endpoints=judgement.endpoints,
        ae_titles=tuple(dict.fromkeys(t.target.called_aet for t in endpoints if t.target.called_aet)),
        manufacturer=manufacturer or _column(attributes, "manufacturer"),
        model=model or _column(attributes, "model"),
        serial=serial or _column(attributes, "serial"),
        implementation=implementation,
        software=software,
        attributes=attributes,
    )
    return AcceptanceRecord(device, policy, judgement, signoff or Signoff(), result)
