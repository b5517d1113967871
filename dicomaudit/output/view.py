"""The presentation model shared by the HTML and Markdown reports.

A :class:`ReportView` joins an :class:`~dicomaudit.policy.Assessment` (the
result with the verdict of every finding already decided) with what a reader
needs beside it: the catalogue's question, rationale and product-specific
remediation for each check, the compliance frameworks judged from the run,
identifying data grouped per node (or file) and category, and the owner of
each node from the inventory.  Templates only lay it out; every count and
verdict is computed here, once, so the HTML and Markdown reports cannot
disagree.

A node is what a reader calls one machine or PACS: the run's targets are its
endpoints (a DICOM port, a web API), grouped by :func:`node_keys`.  A node's
counts and verdict cover all its endpoints; each :class:`EndpointView` keeps
its own, and each check says which endpoint it ran on.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dicomaudit.checks.catalogue import PRODUCTS, CheckDefinition, load_catalogue
from dicomaudit.compliance import Framework, load_frameworks
from dicomaudit.compliance.evaluate import FrameworkResult, evaluate, file_evidence, file_summary, files_analysed
from dicomaudit.models import PhiFinding, RunInfo, Severity, Target, thaw
from dicomaudit.policy import AssessedCheck, AssessedNode, Assessment, Verdict, Waiver, WaiverResult

# Severities worst first, as every table and chart lists them; exposures are never "info".
SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, reverse=True))
#: Checks of the node against the inventory (``inventory.unlisted``, ``inventory.missing``): shown first.
INVENTORY_PREFIX = "inventory."
EXPOSURE_SEVERITIES: tuple[Severity, ...] = tuple(s for s in SEVERITIES if s is not Severity.INFO)

# Inventory columns that name who is responsible for a node, most specific first.
OWNER_COLUMNS = ("owner", "responsible", "contact", "team")

BADGE_SYMBOLS = {
    Verdict.FAIL: "✗",
    Verdict.ACCEPTED: "◐",
    Verdict.ERROR: "!",
    Verdict.PASS: "✓",
    Verdict.SKIPPED: "–",
    Verdict.INFO: "i",
}


class NodeVerdict(enum.StrEnum):
    """The standing of one node across its checks."""

    EXPOSED = "exposed"  # at least one open exposure
    INCOMPLETE = "incomplete"  # none open, but some checks could not be decided
    CLEAR = "clear"  # no open exposure (passes, perhaps accepted risks)
    NOT_ASSESSED = "not_assessed"  # nothing decided

    @property
    def label(self) -> str:
        return {
            "exposed": "EXPOSED",
            "incomplete": "INCOMPLETE",
            "clear": "NO OPEN EXPOSURE",
            "not_assessed": "NOT ASSESSED",
        }[self.value]

    @property
    def tone(self) -> Verdict:
        return {
            "exposed": Verdict.FAIL,
            "incomplete": Verdict.ERROR,
            "clear": Verdict.PASS,
            "not_assessed": Verdict.SKIPPED,
        }[self.value]


@dataclass(frozen=True)
class EvidenceItem:
    """One top-level evidence field: a short scalar, or structured data."""

    key: str
    text: str | None = None
    json: str | None = None  # pretty-printed JSON for nested data (Markdown shows it as a code block)
    value: Any = None  # the plain value, for structured rendering


@dataclass(frozen=True)
class ControlRef:
    framework: str
    control: str
    title: str


def category_label(category: str) -> str:
    """``direct_identifier`` -> ``direct identifier``: categories as a reader says them."""
    return category.replace("_", " ")


@dataclass(frozen=True)
class CheckView:
    """One check on one node, with everything needed to explain it."""

    finding: AssessedCheck
    definition: CheckDefinition | None
    node_index: int = 0
    endpoint_index: int = 0  # which endpoint of its node (see NodeView.endpoints)
    shared_node: bool = False  # the node has more than one endpoint: say which one this check ran on

    @property
    def target(self) -> Target:
        return self.finding.target

    @property
    def endpoint_kind(self) -> str:
        """``DICOM`` (a DIMSE port) or ``web`` (a web API or DICOMweb root)."""
        return endpoint_kind(self.target)

    @property
    def endpoint_label(self) -> str:
        """The endpoint the check ran on: ``127.0.0.1:4242/ORTHANC`` or the URL."""
        return str(self.target)

    @property
    def endpoint(self) -> str | None:
        """``DICOM 127.0.0.1:4242/ORTHANC`` or ``web http://...`` when its node has several endpoints, else None."""
        return f"{self.endpoint_kind} {self.endpoint_label}" if self.shared_node else None

    @property
    def where(self) -> str:
        """Where the check ran, as a reader names it: ``Radiology archive (127.0.0.1:4242/ORTHANC)`` or the address
        alone; with the endpoint's kind when its node has several (``Radiology archive (web http://...)``)."""
        address = self.endpoint or self.endpoint_label
        return f"{self.target.name} ({address})" if self.target.name else address

    @property
    def result(self) -> Any:
        return self.finding.check

    @property
    def verdict(self) -> Verdict:
        return self.finding.verdict

    @property
    def state(self) -> str:
        """The verdict's value, for CSS classes."""
        return self.finding.verdict.value

    @property
    def label(self) -> str:
        return self.finding.verdict.label

    @property
    def waiver(self) -> Waiver | None:
        return self.finding.waiver

    @property
    def expired_waiver(self) -> Waiver | None:
        return self.finding.expired_waiver

    @property
    def anchor(self) -> str:
        # Indexed, not derived from the AE title: hostile or colliding titles cannot clash.  Endpoints after the
        # first get their own part: both endpoints of a node run inventory.* checks.
        endpoint = f"e{self.endpoint_index + 1}-" if self.endpoint_index else ""
        return f"node-{self.node_index + 1}-{endpoint}{_slug(self.result.id)}"

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
            ControlRef(fw, cid, titles.get((fw, cid), "")) for fw, ids in self.result.compliance.items() for cid in ids
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
    def duration(self) -> str | None:
        ms = self.result.duration_ms
        return None if ms is None else f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"

    @property
    def explain_by_default(self) -> bool:
        """Exposures (open or accepted) and undecided checks get a block of their own, also on paper
        (why it matters and how to fix are given for exposures)."""
        return self.verdict in (Verdict.FAIL, Verdict.ACCEPTED, Verdict.ERROR)


class _Findings:
    """Counting and ranking shared by the views that hold a non-empty tuple of PHI findings."""

    findings: tuple[PhiFinding, ...]

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def worst(self) -> Severity:
        return max(p.severity for p in self.findings)


@dataclass(frozen=True)
class PhiGroup(_Findings):
    """Identifying values of one category found at one place (a node's query responses, or a file)."""

    where: str
    category: str
    findings: tuple[PhiFinding, ...]

    @property
    def category_label(self) -> str:
        return category_label(self.category)

    @property
    def elements(self) -> list[str]:
        """The attributes that carried the values, each once, by frequency."""
        return [e for e, _ in Counter(p.keyword or p.path for p in self.findings).most_common()]

    @property
    def sources(self) -> int:
        """How many C-FIND responses or files carried these values."""
        return len({p.source for p in self.findings})

    @property
    def examples(self) -> list[str]:
        """Up to three distinct values, as given (masked unless the run showed values)."""
        return list(dict.fromkeys(p.value for p in self.findings if p.value))[:3]


def group_phi(findings: Iterable[PhiFinding], where: str | None = None) -> list[PhiGroup]:
    """Group findings by place (``where``, or each finding's source) and category; worst, then largest first."""
    groups: dict[tuple[str, str], list[PhiFinding]] = {}
    for p in findings:
        groups.setdefault((where or p.source, p.category), []).append(p)
    out = [PhiGroup(w, cat, tuple(ps)) for (w, cat), ps in groups.items()]
    by_size = sorted(out, key=lambda g: g.count, reverse=True)
    return sorted(by_size, key=lambda g: g.worst, reverse=True)


@dataclass(frozen=True)
class FileView(_Findings):
    """One analysed file that carries identifying data."""

    source: str
    findings: tuple[PhiFinding, ...]

    @property
    def categories(self) -> list[tuple[str, int]]:
        return [(category_label(c), n) for c, n in Counter(p.category for p in self.findings).most_common()]


@dataclass(frozen=True)
class SummaryFileView:
    """One of the worst files of an analysis whose findings were not kept in the result (``analyze --parquet``).

    Read from the summary made on the engine (``run.stats["phi"]["worst_files"]``); it answers what a
    :class:`FileView` answers in the reports.
    """

    source: str
    count: int
    worst: Severity
    categories: list[tuple[str, int]]


def endpoint_kind(target: Target) -> str:
    """``web`` for a web endpoint (``Target.url``), ``DICOM`` for a DIMSE port."""
    return "web" if target.is_web else "DICOM"


class _Standing:
    """Counts and verdict shared by a node and each of its endpoints (anything holding ``checks``)."""

    checks: tuple[CheckView, ...]

    @property
    def counts(self) -> dict[Verdict, int]:
        counts = Counter(c.verdict for c in self.checks)
        return {v: counts.get(v, 0) for v in Verdict}

    @property
    def open_by_severity(self) -> dict[Severity, int]:
        counts = Counter(c.result.severity for c in self.checks if c.verdict is Verdict.FAIL)
        return {s: counts.get(s, 0) for s in EXPOSURE_SEVERITIES}

    @property
    def open_count(self) -> int:
        return self.counts[Verdict.FAIL]

    @property
    def worst(self) -> Severity | None:
        return max((c.result.severity for c in self.checks if c.verdict is Verdict.FAIL), default=None)

    @property
    def verdict(self) -> NodeVerdict:
        n = self.counts
        if n[Verdict.FAIL]:
            return NodeVerdict.EXPOSED
        if n[Verdict.ERROR]:
            return NodeVerdict.INCOMPLETE
        if n[Verdict.PASS] or n[Verdict.ACCEPTED]:
            return NodeVerdict.CLEAR
        return NodeVerdict.NOT_ASSESSED

    @property
    def verdict_text(self) -> str:
        n = self.counts
        if n[Verdict.FAIL]:
            return f"{n[Verdict.FAIL]} open exposure(s), worst {self.worst.value if self.worst else ''}"
        if n[Verdict.ERROR]:
            codes = Counter(
                c.result.reason_code.value for c in self.checks if c.verdict is Verdict.ERROR and c.result.reason_code
            )
            why = f" ({', '.join(codes)})" if codes else ""
            return f"no exposure confirmed, but {n[Verdict.ERROR]} check(s) could not be decided{why}"
        if n[Verdict.ACCEPTED]:
            return "no open exposure; accepted risks only"
        if n[Verdict.PASS]:
            return "no open exposure found"
        return "nothing assessed"


@dataclass(frozen=True)
class EndpointView(_Standing):
    """One endpoint of a node (a DICOM port or a web API), as probed: one target of the run."""

    node: AssessedNode
    checks: tuple[CheckView, ...]
    index: int = 0  # position within its node

    @property
    def target(self) -> Target:
        return self.node.target

    @property
    def kind(self) -> str:
        """``DICOM`` or ``web``."""
        return endpoint_kind(self.target)

    @property
    def is_web(self) -> bool:
        return self.target.is_web

    @property
    def label(self) -> str:
        """``127.0.0.1:4242/ORTHANC`` for a DICOM port, the URL for a web endpoint."""
        return str(self.target)

    @property
    def tag(self) -> str:
        """``DICOM 127.0.0.1:4242/ORTHANC`` or ``web http://...``: what a check of this endpoint is marked with."""
        return f"{self.kind} {self.label}"

    @property
    def started_at(self) -> str | None:
        return self.node.result.started_at

    @property
    def finished_at(self) -> str | None:
        return self.node.result.finished_at

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.node.result.warnings

    @property
    def phi(self) -> tuple[PhiFinding, ...]:
        return self.node.result.phi


@dataclass(frozen=True)
class NodeView(_Standing):
    """One node of the network: every endpoint (DICOM port, web API) the run probed on it, with all their checks.

    Endpoints are grouped by :attr:`~dicomaudit.models.Target.node_key` (the inventory name, else the host).
    ``target`` is the node's first DICOM endpoint (else its first endpoint); ``checks`` are every endpoint's,
    in run order.
    """

    endpoints: tuple[EndpointView, ...]
    index: int = 0
    checks: tuple[CheckView, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("a node has at least one endpoint")
        object.__setattr__(self, "checks", tuple(c for e in self.endpoints for c in e.checks))

    @property
    def primary(self) -> EndpointView:
        return next((e for e in self.endpoints if not e.is_web), self.endpoints[0])

    @property
    def node(self) -> AssessedNode:
        """The primary endpoint's assessed result (see :attr:`primary`)."""
        return self.primary.node

    @property
    def target(self) -> Target:
        return self.primary.target

    @property
    def shared(self) -> bool:
        """More than one endpoint: checks then say which endpoint they ran on."""
        return len(self.endpoints) > 1

    @property
    def name(self) -> str | None:
        return next((e.target.name for e in self.endpoints if e.target.name), None)

    @property
    def hosts(self) -> list[str]:
        return list(dict.fromkeys(e.target.host for e in self.endpoints))

    @property
    def label(self) -> str:
        """The address(es): ``127.0.0.1:4242/ORTHANC``, or ``127.0.0.1:4242/ORTHANC + http://...`` for several."""
        return " + ".join(e.label for e in self.endpoints)

    @property
    def title(self) -> str:
        """A short name for tables, charts and headings: the inventory name, else the host of a node of several
        endpoints, else the address."""
        if self.name:
            return self.name
        return ", ".join(self.hosts) if self.shared else self.label

    @property
    def display(self) -> str:
        """The inventory name with the address, or the address alone."""
        return f"{self.name} ({self.label})" if self.name else self.label

    @property
    def endpoints_text(self) -> str:
        """``2 endpoints (DICOM + web)``."""
        kinds = " + ".join(dict.fromkeys(e.kind for e in self.endpoints))
        return f"{len(self.endpoints)} endpoint{'s' if self.shared else ''} ({kinds})"

    @property
    def attributes(self) -> Mapping[str, str]:
        """The inventory's extra columns of every endpoint (the first value of a column wins)."""
        out: dict[str, str] = {}
        for e in self.endpoints:
            for k, v in e.target.attributes.items():
                out.setdefault(k, v)
        return out

    @property
    def owner(self) -> str | None:
        attrs = self.attributes
        return next((attrs[k] for k in OWNER_COLUMNS if attrs.get(k)), None)

    @property
    def anchor(self) -> str:
        return f"node-{self.index + 1}"

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.shared:
            return self.endpoints[0].warnings
        return tuple(f"{e.tag}: {w}" for e in self.endpoints for w in e.warnings)

    @property
    def phi(self) -> tuple[PhiFinding, ...]:
        return tuple(p for e in self.endpoints for p in e.phi)

    @property
    def phi_groups(self) -> list[PhiGroup]:
        return group_phi(self.phi, self.display)

    @property
    def sorted_checks(self) -> tuple[CheckView, ...]:
        """Open exposures first (worst first), then accepted, errors, passes; catalogue order within."""
        by_severity = sorted(self.checks, key=lambda c: c.result.severity, reverse=True)
        by_verdict = sorted(by_severity, key=lambda c: c.verdict.order)
        # The node against the inventory comes first: whether it should be there at all frames the rest.
        return tuple(sorted(by_verdict, key=lambda c: not c.result.id.startswith(INVENTORY_PREFIX)))

    @property
    def explained_checks(self) -> tuple[CheckView, ...]:
        return tuple(c for c in self.sorted_checks if c.explain_by_default)

    @property
    def other_checks(self) -> tuple[CheckView, ...]:
        return tuple(c for c in self.sorted_checks if not c.explain_by_default)


@dataclass(frozen=True)
class Summary:
    nodes: int
    nodes_exposed: int
    open_by_severity: Mapping[Severity, int]
    accepted: int
    undecided: int
    checks_run: int
    network_phi: int  # identifying values returned in query responses
    files_analysed: bool
    file_phi: int  # identifying values found in files
    files_with_phi: int
    worst_file_phi: Severity | None
    phi_by_category: Mapping[str, int]
    phi_by_severity: Mapping[Severity, int]
    input_errors: int
    worst: Severity | None
    incomplete: bool
    warnings: int
    endpoints: int = 0  # targets probed: a node's DICOM port and web API are two endpoints of one node
    web_endpoints: int = 0

    @property
    def query_responses(self) -> str:
        """Where network PHI was seen: ``C-FIND responses``, also ``QIDO-RS`` ones when web endpoints were probed."""
        return "C-FIND and QIDO-RS responses" if self.web_endpoints else "C-FIND responses"

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def phi_total(self) -> int:
        return self.network_phi + self.file_phi

    @property
    def headline(self) -> list[str]:
        """Sentences about what this run assessed, and what it found there (never about what it did not)."""
        parts = []
        if self.incomplete:
            parts.append(
                "The run was interrupted before every check finished: the results cover only what was decided."
            )
        if self.nodes:
            endpoints = f" ({self.endpoints} endpoints)" if self.endpoints > self.nodes else ""
            sentence = (
                f"{self.nodes} node(s){endpoints} audited over the network; {self.nodes_exposed} with at least one "
                f"open exposure ({self.open_total} open finding(s)"
                + (f", worst {self.worst.value}" if self.worst else "")
                + ")."
            )
            parts.append(sentence)
            if self.accepted:
                parts.append(f"{self.accepted} finding(s) are accepted risks under a current waiver.")
            if self.undecided:
                parts.append(f"{self.undecided} check(s) could not be decided and need follow-up.")
            if self.network_phi:
                parts.append(
                    f"{self.network_phi} identifying value(s) were returned to the unregistered scanner in "
                    f"{self.query_responses}."
                )
            if self.warnings:
                parts.append(f"{self.warnings} warning(s) affect how the verdicts read (see the nodes).")
        if self.files_analysed:
            if self.file_phi:
                worst = self.worst_file_phi
                parts.append(
                    f"PHI analysis of DICOM files: {self.file_phi} identifying value(s) in "
                    f"{self.files_with_phi} file(s)" + (f", worst {worst.value}" if worst else "") + "."
                )
            else:
                parts.append("PHI analysis of DICOM files: no identifying value found in the files analysed.")
            if self.input_errors:
                parts.append(f"{self.input_errors} input(s) could not be read.")
            if not self.nodes:
                parts.append("No network node was assessed in this run.")
        if not self.nodes and not self.files_analysed:
            parts.append("This run assessed no node and analysed no file.")
        return parts


@dataclass(frozen=True)
class ReportView:
    assessment: Assessment
    nodes: tuple[NodeView, ...]
    frameworks: tuple[FrameworkResult, ...]
    summary: Summary
    generated_at: str
    catalogue: Mapping[str, CheckDefinition] = field(default_factory=dict)

    @property
    def result(self) -> Any:
        return self.assessment.result

    @property
    def run(self) -> RunInfo:
        return self.assessment.result.run

    @property
    def network_scope(self) -> str:
        """The authorised ranges of the run (``--scope``), as one line for the cover of every report."""
        return describe_scope(self.run.scope)

    @property
    def waivers(self) -> WaiverResult:
        return self.assessment.waivers

    @property
    def settings(self) -> list[tuple[str, str]]:
        out = []
        for k, v in self.run.settings.items():
            plain = thaw(v)
            out.append((k, json.dumps(plain) if isinstance(plain, (dict, list)) else _scalar(plain)))
        return out

    @property
    def shows_values(self) -> bool:
        """True when the run was made with ``--show-values``: the report then carries unmasked PHI."""
        s = self.run.settings
        return bool(s.get("show_values") or s.get("show-values"))

    @property
    def phi(self) -> tuple[PhiFinding, ...]:
        return self.result.all_phi

    @property
    def phi_groups(self) -> list[PhiGroup]:
        """Per node, then for the files analysed: values by category (each file is listed in `files`)."""
        files = len({p.source for p in self.result.phi})
        return [g for n in self.nodes for g in n.phi_groups] + group_phi(self.result.phi, f"{files} DICOM file(s)")

    @property
    def files(self) -> list[FileView] | list[SummaryFileView]:
        """Analysed files with identifying data, worst and largest first (with Parquet: the summary's worst files)."""
        summary = file_summary(self.result)
        if summary is not None:
            return [
                SummaryFileView(
                    w["source"],
                    int(w["findings"]),
                    Severity(w["worst"]),
                    [(category_label(c), int(n)) for c, n in w["categories"].items()],
                )
                for w in summary.get("worst_files", ())
            ]
        by_source: dict[str, list[PhiFinding]] = {}
        for p in self.result.phi:
            by_source.setdefault(p.source, []).append(p)
        files = sorted((FileView(s, tuple(ps)) for s, ps in by_source.items()), key=lambda f: f.count, reverse=True)
        return sorted(files, key=lambda f: f.worst, reverse=True)

    @property
    def checks(self) -> list[CheckView]:
        return [c for n in self.nodes for c in n.checks]

    @property
    def accepted_checks(self) -> list[CheckView]:
        return [c for c in self.checks if c.verdict is Verdict.ACCEPTED]

    @property
    def open_findings(self) -> list[CheckView]:
        """Every open exposure, worst first: the list a reader acts on."""
        return sorted(
            (c for c in self.checks if c.verdict is Verdict.FAIL), key=lambda c: c.result.severity, reverse=True
        )

    def node_of(self, check: CheckView) -> NodeView:
        return self.nodes[check.node_index]

    @property
    def warnings(self) -> list[tuple[NodeView, str]]:
        return [(n, w) for n in self.nodes for w in n.warnings]

    @property
    def legend(self) -> list[Verdict]:
        return list(Verdict)

    @property
    def assessed_frameworks(self) -> list[FrameworkResult]:
        return [f for f in self.frameworks if f.assessed]


def _file_counts(result: Any, phi: Sequence[PhiFinding]) -> dict[str, Any]:
    """The file counts of a run whose findings went to Parquet, from its summary (overriding the empty ones)."""
    summary = file_summary(result)
    if summary is None:
        return {}
    by_category = Counter(p.category for p in phi)
    by_category.update({c: int(n) for c, n in summary.get("by_category", {}).items() if n})
    by_severity = Counter(p.severity for p in phi)
    by_severity.update({Severity(s): int(n) for s, n in summary.get("by_severity", {}).items() if n})
    worst = [Severity(s) for s, n in summary.get("by_severity", {}).items() if n]
    return {
        "worst_file_phi": max(worst, default=None),
        "phi_by_category": dict(by_category.most_common()),
        "phi_by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
    }


def build_view(
    assessment: Assessment,
    *,
    catalogue: Mapping[str, CheckDefinition] | None = None,
    frameworks: Sequence[Framework] | None = None,
    generated_at: datetime | None = None,
) -> ReportView:
    """Join an assessment with catalogue and frameworks into a :class:`ReportView`."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    frameworks = load_frameworks() if frameworks is None else tuple(frameworks)
    result = assessment.result
    nodes = group_nodes(assessment, catalogue)
    # Compliance is judged per node, as the reports show nodes: each node's endpoints count as one.
    by_node = Assessment(
        result=result,
        waivers=assessment.waivers,
        nodes=tuple(AssessedNode(n.node.result, tuple(c.finding for c in n.checks)) for n in nodes),
    )
    labels = [n.title for n in nodes]
    all_checks = [c for n in nodes for c in n.checks]
    verdicts = Counter(c.verdict for c in all_checks)
    open_sev = Counter(c.result.severity for c in all_checks if c.verdict is Verdict.FAIL)
    phi = result.all_phi
    parquet_counts = _file_counts(result, phi)  # {} unless the findings went to Parquet
    files = file_evidence(result)  # counted as the compliance sections count them
    summary = Summary(
        nodes=len(nodes),
        nodes_exposed=sum(1 for n in nodes if n.open_count),
        open_by_severity={s: open_sev.get(s, 0) for s in EXPOSURE_SEVERITIES},
        accepted=verdicts[Verdict.ACCEPTED],
        undecided=verdicts[Verdict.ERROR],
        checks_run=len(all_checks),
        network_phi=sum(len(n.phi) for n in nodes),
        files_analysed=files_analysed(assessment),
        file_phi=files.values,
        files_with_phi=files.files,
        worst_file_phi=parquet_counts.get("worst_file_phi", max((p.severity for p in result.phi), default=None)),
        phi_by_category=parquet_counts.get("phi_by_category", dict(Counter(p.category for p in phi).most_common())),
        phi_by_severity=parquet_counts.get(
            "phi_by_severity", {s: sum(1 for p in phi if p.severity is s) for s in SEVERITIES}
        ),
        input_errors=len(result.errors),
        worst=max(open_sev, default=None),
        incomplete=result.run.incomplete,
        warnings=sum(len(n.warnings) for n in nodes),
        endpoints=len(assessment.nodes),
        web_endpoints=sum(1 for n in assessment.nodes if n.target.is_web),
    )
    return ReportView(
        assessment=assessment,
        nodes=nodes,
        frameworks=tuple(evaluate(fw, by_node, labels) for fw in frameworks),
        summary=summary,
        generated_at=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        catalogue=catalogue,
    )


def node_keys(targets: Sequence[Target]) -> list[str]:
    """The node each target belongs to: :attr:`~dicomaudit.models.Target.node_key`, unless that is ambiguous.

    A target the inventory names belongs to the node of that name; an unnamed one to the node of its host, so
    the DICOM port and the web API of one PACS read as one node.  But several unnamed DICOM ports on one host
    are told apart only by port and AE title (two lab PACS on 127.0.0.1, ``probe HOST:4242 HOST:11112``): each
    stays a node of its own, and the web endpoints of that host, which none of them can claim, form one more.
    """
    dicom_ports = Counter(t.host for t in targets if not t.name and not t.is_web)
    keys = []
    for i, t in enumerate(targets):
        if t.name or dicom_ports[t.host] <= 1:
            keys.append(t.node_key)
        else:
            keys.append(f"web:{t.host}" if t.is_web else f"endpoint:{i}")
    return keys


def group_nodes(assessment: Assessment, catalogue: Mapping[str, CheckDefinition]) -> tuple[NodeView, ...]:
    """One :class:`NodeView` per node (:func:`node_keys`, first-seen order) holding its endpoints in run order."""
    groups: dict[str, list[AssessedNode]] = {}
    for key, n in zip(node_keys([n.target for n in assessment.nodes]), assessment.nodes, strict=True):
        groups.setdefault(key, []).append(n)
    nodes = []
    for i, members in enumerate(groups.values()):
        shared = len(members) > 1
        endpoints = tuple(
            EndpointView(m, tuple(CheckView(c, catalogue.get(c.id), i, j, shared) for c in m.checks), j)
            for j, m in enumerate(members)
        )
        nodes.append(NodeView(endpoints, i))
    return tuple(nodes)


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


def describe_scope(scope: Mapping[str, Any] | None) -> str:
    """``scope.txt (sha256 1a2b3c4d...): 10.0.0.0/16, 127.0.0.0/8; public addresses not allowed``."""
    if not scope:
        return "not recorded"
    public = "public addresses allowed" if scope.get("allow_public") else "public addresses refused"
    if not scope.get("file"):
        return f"no --scope file; {public}"
    networks = list(scope.get("networks") or ())
    shown = ", ".join(networks[:6]) + (f" and {len(networks) - 6} more" if len(networks) > 6 else "")
    return f"{scope['file']} (sha256 {str(scope.get('sha256', ''))[:16]}…): {shown}; {public}"
