"""Compliance frameworks as data: one JSON file per framework.

Each file lists controls, and for each control the check ids that give
evidence for it (prowler-style).  :func:`load_frameworks` validates the files
and :func:`controls_by_check` inverts them so every finding carries the
controls it bears on.

File shape (``framework``, ``name`` and ``controls[].{id,title,checks}`` are
required; ``version``, ``url``, ``controls[].relation``, ``.note`` and
``.follow_up`` are optional)::

    {"framework": "HIPAA", "name": "...", "version": "...", "url": "https://...",
     "controls": [{"id": "164.312(a)(1)", "title": "Access control",
                   "relation": "tests",
                   "note": "why these checks are evidence for this control",
                   "checks": ["find.unauthenticated", ...]},
                  {"id": "164.308(a)(1)(ii)(A)", "title": "Risk analysis",
                   "relation": "informs",
                   "follow_up": "what the organisation should do with open findings",
                   "checks": [...]}]}

A mapping says "this check produces evidence relevant to this control", never
"passing this check satisfies the control".  How the evidence bears on the
control is its :class:`Relation`:

* ``tests`` (the default): the control is a technical safeguard the checks
  exercise on each node; a failing check is an *exception* to the control on
  that node (the safeguard was seen not to work there).
* ``informs``: the control is a process the organisation runs (risk
  analysis, vulnerability management, breach assessment...); the run is an
  input to it and never a verdict on it.  Open findings call for the
  control's ``follow_up``.

Besides the network checks of the catalogue, a control may name an
*analysis* (:data:`ANALYSES`): evidence from ``dicomaudit analyze``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

#: Evidence ids that are not network checks: what ``dicomaudit analyze`` produces.
FILE_ANALYSIS = "files.phi"
ANALYSES: dict[str, str] = {
    FILE_ANALYSIS: "PHI analysis of DICOM files (dicomaudit analyze)",
}


class Relation(enum.StrEnum):
    """How a run's evidence bears on a control (see the module docs)."""

    TESTS = "tests"  # a technical safeguard the checks exercise on each node
    INFORMS = "informs"  # a process the organisation runs; the run is an input to it

    @property
    def label(self) -> str:
        return "Tested" if self is Relation.TESTS else "Evidence for"


@dataclass(frozen=True)
class Control:
    """One requirement of a framework and the checks that give evidence for it."""

    id: str
    title: str
    checks: tuple[str, ...]
    note: str | None = None  # why the checks bear on this control, for the auditor
    relation: Relation = Relation.TESTS
    follow_up: str | None = None  # for INFORMS controls: what open findings call for


@dataclass(frozen=True)
class Framework:
    """A compliance framework: a short key used in results and its controls."""

    key: str  # short name used in results, e.g. "HIPAA"
    name: str
    controls: tuple[Control, ...]
    version: str | None = None
    url: str | None = None

    def control(self, control_id: str) -> Control:
        for c in self.controls:
            if c.id == control_id:
                return c
        raise KeyError(control_id)


def parse_framework(data: Any, origin: str = "<data>") -> Framework:
    """Validate and build a :class:`Framework` from decoded JSON.

    Raises
    ------
    ValueError
        When a required field is missing, has the wrong type, or a control id
        or a check id within one control is duplicated.
    """
    try:
        controls = []
        seen: set[str] = set()
        for c in data["controls"]:
            checks = tuple(c["checks"])
            if not isinstance(c["id"], str) or not isinstance(c["title"], str):
                raise TypeError("control id and title must be strings")
            if not all(isinstance(x, str) for x in checks):
                raise TypeError(f"control {c['id']}: check ids must be strings")
            if c["id"] in seen:
                raise ValueError(f"duplicate control id {c['id']!r}")
            if len(set(checks)) != len(checks):
                raise ValueError(f"control {c['id']!r} lists a check twice")
            try:
                relation = Relation(c.get("relation", Relation.TESTS.value))
            except ValueError:
                raise ValueError(
                    f"control {c['id']!r}: relation {c.get('relation')!r} is not one of "
                    f"{', '.join(r.value for r in Relation)}"
                ) from None
            seen.add(c["id"])
            controls.append(
                Control(
                    id=c["id"],
                    title=c["title"],
                    checks=checks,
                    note=c.get("note"),
                    relation=relation,
                    follow_up=c.get("follow_up"),
                )
            )
        return Framework(
            key=data["framework"],
            name=data["name"],
            controls=tuple(controls),
            version=data.get("version"),
            url=data.get("url"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"compliance file {origin} is malformed: {exc}") from exc


def _framework_files() -> list[Traversable]:
    return sorted(
        (e for e in resources.files(__package__).iterdir() if e.name.endswith(".json")),
        key=lambda p: p.name,
    )


@cache
def load_frameworks() -> tuple[Framework, ...]:
    """Load every ``*.json`` framework file shipped in this package (sorted by file name)."""
    frameworks = [parse_framework(json.loads(e.read_text(encoding="utf-8")), e.name) for e in _framework_files()]
    keys = [f.key for f in frameworks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate framework keys among {keys}")
    return tuple(frameworks)


def frameworks_by_key() -> dict[str, Framework]:
    """``{framework key: Framework}`` for looking up control titles from result compliance maps."""
    return {f.key: f for f in load_frameworks()}


def invert(frameworks: Iterable[Framework]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Invert frameworks: ``check id -> {framework key -> (control ids...)}``."""
    out: dict[str, dict[str, list[str]]] = {}
    for fw in frameworks:
        for control in fw.controls:
            for check_id in control.checks:
                out.setdefault(check_id, {}).setdefault(fw.key, []).append(control.id)
    return {cid: {fw: tuple(ids) for fw, ids in m.items()} for cid, m in out.items()}


@cache
def controls_by_check() -> dict[str, dict[str, tuple[str, ...]]]:
    """Invert the shipped frameworks: ``check id -> {framework key -> (control ids...)}``."""
    return invert(load_frameworks())


def mapping_problems(check_ids: Iterable[str], frameworks: Iterable[Framework] | None = None) -> list[str]:
    """Consistency problems between a check catalogue and the frameworks.

    A check that no control references produces evidence an auditor cannot
    place; a framework that references an unknown check id points at evidence
    that is never produced (typically a renamed check).  Both are packaging
    bugs.  The ids of :data:`ANALYSES` are known evidence too.

    Parameters
    ----------
    check_ids
        The ids of the catalogue (``load_catalogue().keys()``).
    frameworks
        Defaults to the shipped frameworks.

    Returns
    -------
    list of str
        One human-readable line per problem; empty when consistent.
    """
    known = list(check_ids)
    evidence = {*known, *ANALYSES}
    fws = tuple(load_frameworks() if frameworks is None else frameworks)
    mapped = invert(fws)
    problems = [f"check {cid!r} is not mapped to any control" for cid in known if cid not in mapped]
    for fw in fws:
        for control in fw.controls:
            problems += [
                f"{fw.key} {control.id}: unknown check {cid!r}" for cid in control.checks if cid not in evidence
            ]
    return problems
