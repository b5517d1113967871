"""Typed, frozen models shared by every layer.

Data flows one way: inventory (:class:`Target`) -> checks (:class:`CheckResult`)
-> findings (:class:`PhiFinding`) -> :class:`RunResult` -> writers.  Nothing in
here talks to the network or knows about an output format; ``to_dict`` /
``from_dict`` define the result JSON (``schema: dicomaudit/1``, see
``shared/CONTRACT.md``) so every writer and ``dicomaudit report`` agree on it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SCHEMA = "dicomaudit/1"


class Severity(enum.StrEnum):
    """How bad an exposure is when its check fails.

    Ordered by rank, not by spelling: ``Severity.HIGH > Severity.MEDIUM``,
    ``max()`` gives the worst, ``sorted(..., reverse=True)`` worst first.
    (A plain ``StrEnum`` would compare the strings: "high" < "low".)
    """

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    __hash__ = enum.StrEnum.__hash__

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.strip().lower())
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of: {allowed})") from None


_SEVERITY_ORDER = list(Severity)


class Status(enum.StrEnum):
    """Outcome of one check on one target (CONTRACT: fail/pass/error/skipped/info)."""

    FAIL = "fail"  # the exposure is present, and the evidence shows it
    PASS = "pass"  # the node refused
    ERROR = "error"  # could not be decided; ``reason`` says why
    SKIPPED = "skipped"  # not applicable or not requested; ``reason`` says why
    INFO = "info"  # an observation, not a verdict


class ErrorReason(enum.StrEnum):
    """Why a check stayed undecided (``status: error``); sslyze-style reason codes.

    The text in ``reason`` says what happened; the code says which kind of
    problem it was, so pipelines can branch on it.
    """

    CONNECTIVITY = "connectivity"  # refused, unreachable, reset, closed without a DICOM answer
    TIMEOUT = "timeout"  # no answer within --timeout
    PROTOCOL_VIOLATION = "protocol_violation"  # malformed, mismatched or unexpected PDU / DIMSE message / identifier
    TLS = "tls"  # the TLS layer failed (not a client-certificate refusal, which is a pass)
    BUDGET_EXHAUSTED = "budget_exhausted"  # the target's time or byte budget ran out
    INCONCLUSIVE = "inconclusive"  # well-formed answers that do not decide the question (e.g. placeholder AE title)
    INTERRUPTED = "interrupted"  # the operator stopped the run (Ctrl-C) before this was decided
    INTERNAL = "internal"  # a bug in dicomaudit


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _freeze_flat(value: dict[Any, Any]) -> MappingProxyType[str, Any] | None:
    """The common case of PHI findings' details -- scalars and lists of scalars -- without a call per value."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        kind = type(v)
        if type(k) is not str:
            return None
        if kind in _SCALARS:
            out[k] = v
        elif (kind is list or kind is tuple) and all(type(x) in _SCALARS for x in v):
            out[k] = tuple(v)
        else:
            return None
    return MappingProxyType(out)


def freeze(value: Any) -> Any:
    """Recursively turn dicts into read-only mappings and lists into tuples.

    Evidence is built as plain dicts inside a check; freezing it at the model
    boundary keeps results immutable once produced.
    """
    if type(value) is dict:
        flat = _freeze_flat(value)
        if flat is not None:
            return flat
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(freeze(v) for v in value))
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`, producing JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


DEFAULT_PORT = 104


@dataclass(frozen=True)
class Target:
    """One endpoint of a node to probe: a DICOM port ``HOST[:PORT][/CALLED_AET]`` or a web ``url``.

    ``called_aet`` is ``None`` when the operator does not know the node's AE
    title; checks then use a placeholder and say so in their evidence.
    ``url`` makes the target a web endpoint (a PACS REST API or a DICOMweb
    root); ``host`` and ``port`` are then the URL's.  ``attributes`` carries
    the extra inventory columns (owner, location, ...) through to the
    reports untouched.
    """

    host: str
    port: int = DEFAULT_PORT
    called_aet: str | None = None
    name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", freeze(dict(self.attributes)))

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_web(self) -> bool:
        return self.url is not None

    @property
    def node_key(self) -> str:
        """Which node this endpoint belongs to: the inventory name, else the host.

        The DICOM port and the web API of one PACS are two targets of one
        node; the reports group them by this key.
        """
        return f"name:{self.name}" if self.name else f"host:{self.host.lower()}"

    def __str__(self) -> str:
        if self.url is not None:
            return self.url
        return f"{self.address}/{self.called_aet}" if self.called_aet else self.address

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"host": self.host, "port": self.port, "called_aet": self.called_aet}
        if self.url is not None:
            d["url"] = self.url
        if self.name:
            d["name"] = self.name
        if self.attributes:
            d["attributes"] = thaw(self.attributes)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Target:
        return cls(
            host=str(d["host"]),
            port=int(d.get("port", DEFAULT_PORT)),
            called_aet=d.get("called_aet"),
            name=d.get("name"),
            attributes=d.get("attributes") or {},
            url=d.get("url"),
        )


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one catalogue check on one target, with its evidence.

    ``evidence`` records what was sent, what came back and how long it took;
    ``reason`` explains an ``error`` or ``skipped`` status; ``enforced`` names
    the access control the node was seen to enforce (if any).
    """

    id: str
    status: Status
    severity: Severity
    title: str
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str = ""
    compliance: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reason: str | None = None
    enforced: str | None = None
    duration_ms: float | None = None
    reason_code: ErrorReason | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if self.reason_code is not None:
            object.__setattr__(self, "reason_code", ErrorReason(self.reason_code))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "evidence", freeze(dict(self.evidence)))
        object.__setattr__(self, "compliance", freeze(dict(self.compliance)))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "severity": self.severity.value,
            "title": self.title,
            "summary": self.summary,
            "evidence": thaw(self.evidence),
            "remediation": self.remediation,
            "compliance": thaw(self.compliance),
        }
        if self.reason is not None:
            d["reason"] = self.reason
        if self.reason_code is not None:
            d["reason_code"] = self.reason_code.value
        if self.enforced is not None:
            d["enforced"] = self.enforced
        if self.duration_ms is not None:
            d["duration_ms"] = round(self.duration_ms, 1)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=d["id"],
            status=Status(d["status"]),
            severity=Severity(d["severity"]),
            title=d.get("title", ""),
            summary=d.get("summary", ""),
            evidence=d.get("evidence") or {},
            remediation=d.get("remediation", ""),
            compliance={k: tuple(v) for k, v in (d.get("compliance") or {}).items()},
            reason=d.get("reason"),
            enforced=d.get("enforced"),
            duration_ms=d.get("duration_ms"),
            reason_code=_reason_code(d),
        )


def _reason_code(d: Mapping[str, Any]) -> ErrorReason | None:
    code = d.get("reason_code")
    if code is None:
        # Results written before reason codes existed: an error's kind is unknown.
        return ErrorReason.INTERNAL if d.get("status") == Status.ERROR.value else None
    try:
        return ErrorReason(code)
    except ValueError:
        raise ValueError(f"unknown reason_code {code!r}") from None


@dataclass(frozen=True)
class PhiFinding:
    """One identifying value found in a DICOM header (file or C-FIND response).

    ``path`` names the element: keywords joined by ``.``, sequence items as
    ``[i]``, elements without a keyword as ``(GGGG,EEEE)``.  ``value`` is
    already masked unless the caller asked to see values.
    """

    source: str
    path: str
    tag: str
    keyword: str
    vr: str
    category: str
    rule: str
    severity: Severity
    value: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.severity) is not Severity:
            object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "detail", freeze(self.detail))  # a copy: the caller's dict stays theirs

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source": self.source,
            "path": self.path,
            "tag": self.tag,
            "keyword": self.keyword,
            "vr": self.vr,
            "category": self.category,
            "rule": self.rule,
            "severity": self.severity.value,
            "value": self.value,
        }
        if self.detail:
            d["detail"] = thaw(self.detail)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PhiFinding:
        return cls(
            source=d["source"],
            path=d["path"],
            tag=d["tag"],
            keyword=d.get("keyword", ""),
            vr=d.get("vr", ""),
            category=d["category"],
            rule=d["rule"],
            severity=Severity(d["severity"]),
            value=d.get("value", ""),
            detail=d.get("detail") or {},
        )


@dataclass(frozen=True)
class InputError:
    """An input that could not be used (unreadable file, malformed DICOM...)."""

    source: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "error": self.error}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputError:
        return cls(source=d["source"], error=d["error"])


@dataclass(frozen=True)
class TargetResult:
    """Every check result for one target, plus PHI seen in its responses."""

    target: Target
    checks: tuple[CheckResult, ...]
    phi: tuple[PhiFinding, ...] = ()
    started_at: str | None = None
    finished_at: str | None = None
    warnings: tuple[str, ...] = ()  # what the operator must know to read the verdicts right

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def to_dict(self) -> dict[str, Any]:
        d = self.target.to_dict()
        checks, groups = _group_bare_checks(self.checks)
        d["checks"] = [c.to_dict() for c in checks]
        if groups:
            d["not_checked"] = groups
        d["phi"] = [p.to_dict() for p in self.phi]
        if self.started_at:
            d["started_at"] = self.started_at
        if self.finished_at:
            d["finished_at"] = self.finished_at
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetResult:
        checks = [CheckResult.from_dict(c) for c in d.get("checks", [])]
        if d.get("not_checked"):
            checks = _expand_groups(checks, d["not_checked"])
        return cls(
            target=Target.from_dict(d),
            checks=tuple(checks),
            phi=tuple(PhiFinding.from_dict(p) for p in d.get("phi", [])),
            started_at=d.get("started_at"),
            finished_at=d.get("finished_at"),
            warnings=tuple(str(w) for w in d.get("warnings") or ()),
        )


#: Checks that share a status and reason and carry no evidence of their own are written once per target, as a
#: group: a fleet run has thousands of closed ports whose every check says the same "not checked: refused".
_GROUP_MIN = 3


def _group_bare_checks(checks: Sequence[CheckResult]) -> tuple[list[CheckResult], list[dict[str, Any]]]:
    """Split ``checks`` into those written in full and groups of bare ones (no evidence, no duration, no enforced).

    A group keeps the status, summary, reason and reason code and names its
    checks; title, severity, remediation and compliance come back from the
    catalogue when the result is read (:func:`_expand_groups`).
    """
    by_key: dict[tuple[Any, ...], list[CheckResult]] = {}
    for c in checks:
        if c.status in (Status.ERROR, Status.SKIPPED) and not c.evidence and c.duration_ms is None and not c.enforced:
            by_key.setdefault((c.status, c.summary, c.reason, c.reason_code), []).append(c)
    grouped = {id(c) for members in by_key.values() if len(members) >= _GROUP_MIN for c in members}
    if not grouped:
        return list(checks), []
    groups = []
    for (status, summary, reason, code), members in by_key.items():
        if len(members) < _GROUP_MIN:
            continue
        g: dict[str, Any] = {"status": status.value, "summary": summary, "checks": [c.id for c in members]}
        if reason is not None:
            g["reason"] = reason
        if code is not None:
            g["reason_code"] = code.value
        groups.append(g)
    return [c for c in checks if id(c) not in grouped], groups


def _expand_groups(checks: list[CheckResult], groups: Any) -> list[CheckResult]:
    from dicomaudit.checks.catalogue import get, load_catalogue  # the catalogue holds what a group leaves out

    catalogue = load_catalogue()
    order = {cid: i for i, cid in enumerate(catalogue)}
    out = list(checks)
    for g in groups:
        status = Status(g["status"])
        code = g.get("reason_code")
        for cid in g["checks"]:
            if cid not in catalogue:
                raise ValueError(f"unknown check id {cid!r} in not_checked")
            out.append(
                get(cid).result(
                    status, g.get("summary", ""), reason=g.get("reason"), code=ErrorReason(code) if code else None
                )
            )
    return sorted(out, key=lambda c: order.get(c.id, len(order)))


@dataclass(frozen=True)
class RunInfo:
    """Traceability: who ran what, when, with which settings."""

    command: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    operator: str | None = None
    scope_ref: str | None = None
    incomplete: bool = False  # interrupted (Ctrl-C): unfinished targets carry "interrupted" errors
    scope: Mapping[str, Any] | None = None  # --scope: the file, its SHA-256 and networks; --allow-public
    stats: Mapping[str, Any] = field(default_factory=dict)  # per-phase counts and times (sweep, confirm, audit)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", freeze(dict(self.settings)))
        object.__setattr__(self, "stats", freeze(dict(self.stats)))
        if self.scope is not None:
            object.__setattr__(self, "scope", freeze(dict(self.scope)))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "command": self.command,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "settings": thaw(self.settings),
            "operator": self.operator,
            "scope_ref": self.scope_ref,
            "scope": thaw(self.scope) if self.scope is not None else None,
            "incomplete": self.incomplete,
        }
        if self.stats:
            d["stats"] = thaw(self.stats)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunInfo:
        return cls(
            command=d.get("command", ""),
            started_at=d.get("started_at"),
            finished_at=d.get("finished_at"),
            settings=d.get("settings") or {},
            operator=d.get("operator"),
            scope_ref=d.get("scope_ref"),
            incomplete=bool(d.get("incomplete", False)),
            scope=d.get("scope"),
            stats=d.get("stats") or {},
        )


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced; the root of the result JSON."""

    tool_version: str
    run: RunInfo = field(default_factory=RunInfo)
    targets: tuple[TargetResult, ...] = ()
    phi: tuple[PhiFinding, ...] = ()
    errors: tuple[InputError, ...] = ()
    #: Nodes judged against role policies (``probe --role/--policy``, ``accept``): written by
    #: :mod:`dicomaudit.acceptance.judge` (``RunJudgement.to_dict``), read back with ``read_judgement``.
    policy_judgement: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.policy_judgement is not None:
            object.__setattr__(self, "policy_judgement", freeze(dict(self.policy_judgement)))

    @property
    def all_checks(self) -> Iterable[tuple[Target, CheckResult]]:
        for t in self.targets:
            for c in t.checks:
                yield t.target, c

    @property
    def all_phi(self) -> tuple[PhiFinding, ...]:
        return tuple(p for t in self.targets for p in t.phi) + self.phi

    def undecided(self) -> list[tuple[Target, CheckResult]]:
        """Every check that could not be decided (status ``error``)."""
        return [(t, c) for t, c in self.all_checks if c.status is Status.ERROR]

    def worst_failure(self) -> Severity | None:
        """Highest severity among failed checks and PHI findings, if any."""
        severities = [c.severity for _, c in self.all_checks if c.status is Status.FAIL]
        severities += [p.severity for p in self.phi]
        return max(severities) if severities else None

    def reaches(self, threshold: Severity) -> bool:
        worst = self.worst_failure()
        return worst is not None and worst >= threshold

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "tool": {"name": "dicomaudit", "version": self.tool_version},
            "run": self.run.to_dict(),
            "targets": [t.to_dict() for t in self.targets],
            "phi": [p.to_dict() for p in self.phi],
            "errors": [e.to_dict() for e in self.errors],
        }
        if self.policy_judgement is not None:
            d["policy_judgement"] = thaw(self.policy_judgement)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> RunResult:
        """Rebuild a result from its JSON; ``ValueError`` with a plain reason for anything else."""
        if not isinstance(d, Mapping):
            kind = {
                list: "a list",
                str: "a string",
                type(None): "null",
                bool: "a boolean",
                int: "a number",
                float: "a number",
            }.get(type(d), type(d).__name__)
            raise ValueError(f"the JSON holds {kind}, not a result object")
        if d.get("schema") != SCHEMA:
            raise ValueError(f"schema {d.get('schema')!r}, expected {SCHEMA!r}")
        try:
            return cls(
                tool_version=(d.get("tool") or {}).get("version", "unknown"),
                run=RunInfo.from_dict(d.get("run") or {}),
                targets=tuple(TargetResult.from_dict(t) for t in d.get("targets", [])),
                phi=tuple(PhiFinding.from_dict(p) for p in d.get("phi", [])),
                errors=tuple(InputError.from_dict(e) for e in d.get("errors", [])),
                policy_judgement=d.get("policy_judgement"),
            )
        except KeyError as exc:
            raise ValueError(f"a required field is missing ({exc.args[0]})") from None
        except (TypeError, AttributeError) as exc:
            raise ValueError("a field has the wrong type (e.g. a list where an object belongs)") from exc
        except ValueError as exc:
            raise ValueError(f"a field has a value dicomaudit does not know ({exc})") from None
