"""Role-policy verdicts in every output, and the acceptance record of ``dicomaudit accept``.

* :func:`print_judgement`: the console lines after the probe table (one per
  judged node, then what blocks each non-compliant or undecided node).
* :func:`policy_suites`: JUnit ``<testsuite>`` elements, one per judged node,
  one test case per requirement (violated: failure; undecided: error; not
  applicable: skipped).
* the ``policy_section`` templates: the node verdicts in ``report.html`` and
  ``report.md`` (included by their statement section when the run judged
  nodes).
* :func:`write_record`: the acceptance record set: ``acceptance.html`` (one
  to two printed pages, with the signature block), ``acceptance.json``,
  ``result.json``, ``junit.xml`` and ``MANIFEST.sha256``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from dicomaudit.acceptance.judge import NodeJudgement, Outcome, RunJudgement, Verdict, read_judgement
from dicomaudit.acceptance.record import AcceptanceRecord
from dicomaudit.textsafe import scrub

VERDICT_STYLE = {Verdict.COMPLIANT: "bold green", Verdict.NON_COMPLIANT: "bold red", Verdict.UNDECIDED: "bold yellow"}
#: Requirement lines printed per blocking node on the console (all of them are in the JSON and reports).
CONSOLE_REQUIREMENTS = 8


def print_judgement(console: Console, judgement: RunJudgement) -> None:
    """One line per judged node (verdict, role, policy hash), then what blocks it, worst first."""
    if not judgement.nodes and not judgement.unjudged:
        return
    console.print(Text("role policies:", style="bold"))
    for node in judgement.nodes:
        line = Text("  ")
        line.append(f"{node.verdict.value:<13}", style=VERDICT_STYLE[node.verdict])
        line.append(f" {scrub(node.label)} as {node.role} (policy {node.policy} {node.policy_sha256[:12]}): ")
        line.append(scrub(node.reason))
        console.print(line, soft_wrap=True)
        blocking = [*node.violated, *node.undecided]
        for r in blocking[:CONSOLE_REQUIREMENTS]:
            console.print(
                Text(f"      {r.outcome.value:<10} {r.id.split(':', 1)[1]}: {scrub(r.detail)}"),
                soft_wrap=True,
            )
        if len(blocking) > CONSOLE_REQUIREMENTS:
            console.print(Text(f"      ... and {len(blocking) - CONSOLE_REQUIREMENTS} more (see the report)"))
    if judgement.unjudged:
        console.print(
            Text(f"  not judged (no role): {', '.join(scrub(n) for n in judgement.unjudged)}", style="dim"),
            soft_wrap=True,
        )


# -- JUnit ----------------------------------------------------------------------------------------------------------
def _x(text: object) -> str:
    from dicomaudit.output.junit import _x as clean

    return clean(text)


def node_suite(node: NodeJudgement) -> ET.Element:
    """One ``<testsuite>`` for a judged node: one test case per requirement of its policy."""
    suite = ET.Element("testsuite", {"name": _x(f"policy {node.policy}: {node.label} ({node.role})")})
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("role", node.role),
        ("policy", node.policy),
        ("policy_sha256", node.policy_sha256),
        ("verdict", node.verdict.value),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _x(value)})
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in node.requirements:
        counts["tests"] += 1
        case = ET.SubElement(
            suite, "testcase", {"classname": _x(f"policy {node.policy}: {node.label}"), "name": _x(r.id), "time": "0"}
        )
        evidence = "\n".join(f"{e.endpoint}: {e.check_id} {e.status}: {e.summary}" for e in r.evidence)
        body = _x(f"{r.detail}\n\nrequired: {r.required}\nwhy: {r.why}\n\nevidence:\n{evidence}")
        if r.outcome is Outcome.VIOLATED:
            counts["failures"] += 1
            el = ET.SubElement(case, "failure", {"message": _x(r.detail), "type": "violated"})
            el.text = body
        elif r.outcome is Outcome.UNDECIDED:
            counts["errors"] += 1
            el = ET.SubElement(case, "error", {"message": _x(r.detail), "type": "undecided"})
            el.text = body
        elif r.outcome is Outcome.NOT_APPLICABLE:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", {"message": _x(r.detail)})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _x(f"[{r.outcome.value}] {r.detail}")
    for k, v in counts.items():
        suite.set(k, str(v))
    suite.set("time", "0")
    return suite


def policy_suites(result: Any) -> list[ET.Element]:
    """A suite per judged node of ``result`` (none when the run judged no node)."""
    judgement = read_judgement(result)
    return [node_suite(n) for n in judgement.nodes] if judgement is not None else []


# -- the acceptance record --------------------------------------------------------------------------------------------
def render_record_html(record: AcceptanceRecord, *, generated_at: datetime | None = None) -> str:
    """The printable acceptance record (one to two A4 pages for a typical device)."""
    from dicomaudit.output.html import _environment

    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return scrub(
        _environment()
        .get_template("acceptance.html.j2")
        .render(record=record, outcomes=Outcome, verdicts=Verdict, generated_at=when)
    )


def write_record(record: AcceptanceRecord, out_dir: str | Path, *, generated_at: datetime | None = None) -> list[Path]:
    """Write the acceptance record set into ``out_dir``; returns the files, ``MANIFEST.sha256`` last."""
    from dicomaudit.output import json_text, write_json
    from dicomaudit.output.manifest import write_manifest

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    html = out / "acceptance.html"
    html.write_text(render_record_html(record, generated_at=generated_at), encoding="utf-8")
    written.append(html)
    data = out / "acceptance.json"
    data.write_text(json_text(record.to_dict()), encoding="utf-8")
    written.append(data)
    written.append(write_json(record.result, out / "result.json"))
    root = ET.Element("testsuites", {"name": "dicomaudit accept"})
    suite = node_suite(record.judgement)
    root.append(suite)
    for k in ("tests", "failures", "errors", "skipped"):
        root.set(k, suite.get(k, "0"))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    junit = out / "junit.xml"
    tree.write(junit, encoding="utf-8", xml_declaration=True)
    written.append(junit)
    written.append(write_manifest(out, written))
    return written
