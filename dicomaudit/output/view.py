"""The presentation model shared by the HTML and Markdown reports.

A :class:`ReportView` joins a :class:`~dicomaudit.models.RunResult` with what
a reader needs beside the raw result: the catalogue's question, rationale and
product-specific remediation for each check, control titles from the
compliance frameworks, and accepted risks from a :class:`WaiverResult`.
Templates only lay it out; every count and verdict is computed here, once, so
the HTML and Markdown reports cannot disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dicomaudit.checks.catalogue import PRODUCTS, CheckDefinition, load_catalogue
from dicomaudit.compliance import Control, Framework, load_frameworks
from dicomaudit.models import CheckResult, PhiFinding, RunResult, Severity, Status, Target, thaw
from dicomaudit.report import NO_WAIVERS, Waiver, WaiverResult

# Severities worst first, as every table and chart lists them.
SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))

# Display state of a check on a node: the status, or "accepted" for a waived fail.
STATE_LABELS: dict[str, str] = {
    "fail": "FAIL",
    "accepted": "ACCEPTED RISK",
    "error": "ERROR",
    "pass": "PASS",
    "skipped": "SKIPPED",
    "info": "INFO",
}
STATE_ORDER = ("fail", "accepted", "error", "pass", "skipped", "info")

STATUS_MEANING: dict[str, str] = {
    "fail": "the exposure is present, and the evidence shows it",
    "accepted": "the exposure is present; a documented, unexpired waiver accepts the risk",
    "error": "could not be decided (timeout, abort, unexpected answer); the reason is given",
    "pass": "the node refused: no exposure seen",
    "skipped": "not applicable or not requested; the reason is given",
    "info": "an observation, not a verdict",
}


@dataclass(frozen=True)
class EvidenceItem:
    """One top-level evidence field: a short scalar, or pretty-printed JSON for nested data."""

    key: str
    text: str | None = None
    json: str | None = None
    value: Any = None  # the plain (thawed) value, for structured rendering


@dataclass(frozen=True)
class ControlRef:
    framework: str
    control: str
    title: str


@dataclass(frozen=True)
class CheckView:
    """One check on one node, with everything needed to explain it."""

    target: Target
    result: CheckResult
    definition: CheckDefinition | None
    waiver: Waiver | None = None
    expired_waiver: Waiver | None = None
    node_index: int = 0

    @property
    def state(self) -> str:
        return "accepted" if self.waiver is not None else self.result.status.value

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def anchor(self) -> str:
        # Indexed, not derived from the AE title: hostile or colliding titles cannot clash.
        return f"node-{self.node_index + 1}-{_slug(self.result.id)}"

    @property
    def question(self) -> str:
        return self.definition.question if self.definition else self.result.title

    @property
    def rationale(self) -> str | None:
        return self.definition.rationale if self.definition else None

    @property
    def remediation(self) -> str:
        if self.definition:
            return self.definition.remediation
        return self.result.remediation.split("\n", 1)[0]

    @property
    def remediation_products(self) -> list[tuple[str, str]]:
        if self.definition:
            return [(PRODUCTS.get(p, p), text) for p, text in self.definition.remediation_by_product.items()]
        # A result from another version: its remediation text carries "Product: ..." lines.
        out = []
        for line in self.result.remediation.split("\n")[1:]:
            product, sep, text = line.partition(": ")
            if sep and product in PRODUCTS.values():
                out.append((product, text))
        return out

    @property
    def compliance(self) -> list[ControlRef]:
        titles = _control_titles()
        return [
            ControlRef(fw, cid, titles.get((fw, cid), ""))
            for fw, ids in self.result.compliance.items()
            for cid in ids
        ]

    @property
    def compliance_by_framework(self) -> list[tuple[str, list[ControlRef]]]:
        out: dict[str, list[ControlRef]] = {}
        for ref in self.compliance:
            out.setdefault(ref.framework, []).append(ref)
        return list(out.items())

    @property
    def evidence(self) -> list[EvidenceItem]:
        items = []
        for key, value in self.result.evidence.items():
            plain = thaw(value)
            if plain is None or isinstance(plain, (str, int, float, bool)):
                items.append(EvidenceItem(key, text=_scalar(plain), value=plain))
            else:
                text = json.dumps(plain, indent=2, ensure_ascii=False, default=str)
                items.append(EvidenceItem(key, json=text, value=plain))
        return items

    @property
    def open_by_default(self) -> bool:
        """Failing and undecided checks show their evidence expanded."""
        return self.state in ("fail", "accepted", "error")

    @property
    def explain_by_default(self) -> bool:
        """Why it matters and how to fix are shown expanded for exposures (open or accepted) only."""
        return self.state in ("fail", "accepted")


@dataclass(frozen=True)
class NodeView:
    target: Target
    checks: tuple[CheckView, ...]
    phi: tuple[PhiFinding, ...]
    index: int = 0

    @property
    def label(self) -> str:
        return str(self.target)

    @property
    def anchor(self) -> str:
        return f"node-{self.index + 1}"

    @property
    def open_by_severity(self) -> dict[Severity, int]:
        counts = Counter(c.result.severity for c in self.checks if c.state == "fail")
        return {s: counts.get(s, 0) for s in SEVERITIES}

    @property
    def open_count(self) -> int:
        return sum(1 for c in self.checks if c.state == "fail")

    @property
    def states(self) -> dict[str, int]:
        counts = Counter(c.state for c in self.checks)
        return {s: counts.get(s, 0) for s in STATE_ORDER}

    @property
    def worst(self) -> Severity | None:
        fails = [c.result.severity for c in self.checks if c.state == "fail"]
        return max(fails, key=lambda s: s.rank) if fails else None

    @property
    def verdict(self) -> str:
        s = self.states
        if s["fail"]:
            return f"{s['fail']} open exposure(s), worst {self.worst.value if self.worst else ''}"
        if s["error"]:
            return f"no exposure confirmed, but {s['error']} check(s) could not be decided"
        if s["accepted"]:
            return "only accepted risks"
        if s["pass"]:
            return "no exposure found"
        return "no verdict (nothing assessed)"

    @property
    def sorted_checks(self) -> tuple[CheckView, ...]:
        """Open exposures first (worst first), then accepted, errors, passes; catalogue order within."""
        return tuple(
            sorted(self.checks, key=lambda c: (STATE_ORDER.index(c.state), -c.result.severity.rank))
        )


VERDICT_ORDER = ("exposure found", "incomplete", "accepted risk", "no exposure found", "observed", "not assessed")


@dataclass(frozen=True)
class ControlRow:
    """One (control, check) pair of a framework with the check's states across nodes."""

    control: Control
    check_id: str
    check_title: str
    nodes_by_state: Mapping[str, tuple[str, ...]]

    @property
    def verdict(self) -> str:
        n = self.nodes_by_state
        if n.get("fail"):
            return "exposure found"
        if n.get("error"):
            return "incomplete"
        if n.get("accepted"):
            return "accepted risk"
        if n.get("pass"):
            return "no exposure found"
        if n.get("info"):
            return "observed"
        return "not assessed"


@dataclass(frozen=True)
class FrameworkView:
    framework: Framework
    rows: tuple[ControlRow, ...]

    @property
    def by_control(self) -> list[tuple[Control, list[ControlRow]]]:
        out: dict[str, tuple[Control, list[ControlRow]]] = {}
        for row in self.rows:
            out.setdefault(row.control.id, (row.control, []))[1].append(row)
        return list(out.values())

    @property
    def control_verdicts(self) -> list[tuple[Control, str, list[ControlRow]]]:
        """Per control, the most severe verdict among its checks (an exposure anywhere outweighs passes)."""
        return [
            (control, min((r.verdict for r in rows), key=VERDICT_ORDER.index), rows)
            for control, rows in self.by_control
        ]

    @property
    def controls_with_exposure(self) -> int:
        return sum(1 for _, rows in self.by_control if any(r.verdict == "exposure found" for r in rows))


@dataclass(frozen=True)
class Summary:
    nodes: int
    nodes_exposed: int
    open_by_severity: Mapping[Severity, int]
    accepted: int
    undecided: int
    checks_run: int
    phi_total: int
    phi_by_category: Mapping[str, int]
    phi_by_severity: Mapping[Severity, int]
    input_errors: int
    worst: Severity | None

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def headline(self) -> str:
        parts = [
            f"{self.nodes} node(s) audited; {self.nodes_exposed} with at least one open exposure "
            f"({self.open_total} open finding(s)"
            + (f", worst {self.worst.value}" if self.worst else "")
            + ")."
        ]
        if self.accepted:
            parts.append(f"{self.accepted} finding(s) are accepted risks under a current waiver.")
        if self.undecided:
            parts.append(f"{self.undecided} check(s) could not be decided and need follow-up.")
        if self.phi_total:
            parts.append(f"{self.phi_total} identifying value(s) found in DICOM headers or query responses.")
        return " ".join(parts)


@dataclass(frozen=True)
class ReportView:
    result: RunResult
    nodes: tuple[NodeView, ...]
    frameworks: tuple[FrameworkView, ...]
    summary: Summary
    waivers: WaiverResult
    generated_at: str
    catalogue: Mapping[str, CheckDefinition] = field(default_factory=dict)

    @property
    def run(self) -> Any:
        return self.result.run

    @property
    def settings(self) -> list[tuple[str, str]]:
        return [(k, _scalar(thaw(v)) if not isinstance(thaw(v), (dict, list)) else json.dumps(thaw(v)))
                for k, v in self.result.run.settings.items()]

    @property
    def shows_values(self) -> bool:
        """True when the run was made with ``--show-values``: the report then carries unmasked PHI."""
        s = self.result.run.settings
        return bool(s.get("show_values") or s.get("show-values"))

    @property
    def phi(self) -> tuple[PhiFinding, ...]:
        return self.result.all_phi

    @property
    def phi_by_source(self) -> list[tuple[str, list[PhiFinding]]]:
        out: dict[str, list[PhiFinding]] = {}
        for p in self.phi:
            out.setdefault(p.source, []).append(p)
        return list(out.items())

    @property
    def accepted_checks(self) -> list[CheckView]:
        return [c for n in self.nodes for c in n.checks if c.state == "accepted"]

    @property
    def open_findings(self) -> list[CheckView]:
        """Every open exposure, worst first: the list a reader acts on."""
        found = [c for n in self.nodes for c in n.checks if c.state == "fail"]
        return sorted(found, key=lambda c: -c.result.severity.rank)

    @property
    def status_meaning(self) -> list[tuple[str, str, str]]:
        return [(s, STATE_LABELS[s], STATUS_MEANING[s]) for s in STATE_ORDER]


def build_view(
    result: RunResult,
    waivers: WaiverResult | None = None,
    *,
    catalogue: Mapping[str, CheckDefinition] | None = None,
    frameworks: Sequence[Framework] | None = None,
    generated_at: datetime | None = None,
) -> ReportView:
    """Join a result with catalogue, frameworks and waivers into a :class:`ReportView`."""
    waivers = waivers or NO_WAIVERS
    catalogue = load_catalogue() if catalogue is None else catalogue
    frameworks = load_frameworks() if frameworks is None else tuple(frameworks)
    nodes = tuple(
        NodeView(
            target=t.target,
            checks=tuple(
                CheckView(
                    target=t.target,
                    result=c,
                    definition=catalogue.get(c.id),
                    waiver=waivers.waiver_for(t.target, c.id) if c.status is Status.FAIL else None,
                    expired_waiver=waivers.expired_for(t.target, c.id) if c.status is Status.FAIL else None,
                    node_index=i,
                )
                for c in t.checks
            ),
            phi=t.phi,
            index=i,
        )
        for i, t in enumerate(result.targets)
    )
    fw_views = tuple(_framework_view(fw, nodes, catalogue) for fw in frameworks)
    all_checks = [c for n in nodes for c in n.checks]
    open_sev = Counter(c.result.severity for c in all_checks if c.state == "fail")
    phi = result.all_phi
    worst = max((c.result.severity for c in all_checks if c.state == "fail"), key=lambda s: s.rank, default=None)
    summary = Summary(
        nodes=len(nodes),
        nodes_exposed=sum(1 for n in nodes if n.open_count),
        open_by_severity={s: open_sev.get(s, 0) for s in SEVERITIES},
        accepted=sum(1 for c in all_checks if c.state == "accepted"),
        undecided=sum(1 for c in all_checks if c.state == "error"),
        checks_run=len(all_checks),
        phi_total=len(phi),
        phi_by_category=dict(Counter(p.category for p in phi).most_common()),
        phi_by_severity={s: sum(1 for p in phi if p.severity is s) for s in SEVERITIES},
        input_errors=len(result.errors),
        worst=worst,
    )
    when = generated_at or datetime.now(UTC)
    return ReportView(
        result=result,
        nodes=nodes,
        frameworks=fw_views,
        summary=summary,
        waivers=waivers,
        generated_at=when.isoformat(timespec="seconds"),
        catalogue=catalogue,
    )


def _framework_view(fw: Framework, nodes: Sequence[NodeView], catalogue: Mapping[str, CheckDefinition]) -> FrameworkView:
    rows = []
    for control in fw.controls:
        for check_id in control.checks:
            states: dict[str, list[str]] = {}
            title = catalogue[check_id].title if check_id in catalogue else check_id
            for node in nodes:
                for c in node.checks:
                    if c.result.id == check_id:
                        states.setdefault(c.state, []).append(node.label)
                        title = c.result.title or title
            rows.append(
                ControlRow(
                    control=control,
                    check_id=check_id,
                    check_title=title,
                    nodes_by_state={s: tuple(states.get(s, ())) for s in STATE_ORDER},
                )
            )
    return FrameworkView(framework=fw, rows=tuple(rows))


def _control_titles() -> dict[tuple[str, str], str]:
    return {(fw.key, c.id): c.title for fw in load_frameworks() for c in fw.controls}


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _slug(text: str) -> str:
    # Anchors only: any character outside [A-Za-z0-9-] becomes "-" (AE titles may hold anything).
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-") else "-" for ch in text).strip("-") or "x"
