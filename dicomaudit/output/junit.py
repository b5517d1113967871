"""JUnit XML for CI dashboards (Jenkins, GitLab, Azure DevOps read this shape).

One ``<testsuite>`` per node with one ``<testcase>`` per check: ``fail`` ->
``<failure>`` (summary, severity and evidence), ``error`` -> ``<error>``,
``skipped`` -> ``<skipped>``, ``pass``/``info`` -> a passing case.  A failing
check accepted by an active waiver is reported ``<skipped>`` with the reason
and expiry, so a dashboard shows it without failing on it.  PHI findings get
one suite per source, one failing case per finding (values as masked in the
result).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from dicomaudit.models import thaw
from dicomaudit.policy import Assessment, Verdict
from dicomaudit.textsafe import scrub

# XML 1.0 cannot carry most control characters (evidence from a hostile node may contain them)
# nor lone surrogates (from file names that are not UTF-8): scrub escapes both as text; the two
# non-characters it leaves are replaced.
_XML_ILLEGAL = re.compile("[\ufffe\uffff]")


def _x(text: object) -> str:
    return _XML_ILLEGAL.sub("\ufffd", scrub("" if text is None else str(text)))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _x(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = _x(text)
    return el


def build_junit(assessment: Assessment) -> ET.Element:
    """Build the ``<testsuites>`` element for ``assessment``."""
    result = assessment.result
    root = ET.Element("testsuites", {"name": "dicomaudit"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time_total = 0.0

    def close(suite: ET.Element, counts: dict[str, int], seconds: float) -> None:
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{seconds:.3f}")

    for assessed in assessment.nodes:
        t = assessed.result
        node = str(t.target)
        suite = _sub(root, "testsuite", name=node, timestamp=t.started_at, hostname=t.target.host)
        props = _sub(suite, "properties")
        _sub(props, "property", name="host", value=t.target.host)
        _sub(props, "property", name="port", value=t.target.port)
        if t.target.url is not None:
            _sub(props, "property", name="url", value=t.target.url)
        else:
            _sub(props, "property", name="called_aet", value=t.target.called_aet or "")
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        seconds = 0.0
        for finding in assessed.checks:
            c, waiver = finding.check, finding.waiver
            counts["tests"] += 1
            secs = (c.duration_ms or 0.0) / 1000
            seconds += secs
            case = _sub(suite, "testcase", classname=node, name=f"{c.id}: {c.title}", time=f"{secs:.3f}")
            evidence = json.dumps(thaw(c.evidence), indent=2, ensure_ascii=False, default=str)
            if finding.verdict is Verdict.ACCEPTED and waiver is not None:
                counts["skipped"] += 1
                _sub(
                    case,
                    "skipped",
                    message=f"accepted risk until {waiver.expires.isoformat()}: {waiver.reason}"
                    + (f" (approved by {waiver.approved_by})" if waiver.approved_by else ""),
                )
            elif finding.verdict is Verdict.FAIL:
                counts["failures"] += 1
                body = f"{c.summary}\n\nseverity: {c.severity.value}\n\nevidence:\n{evidence}\n\nremediation:\n{c.remediation}"
                _sub(case, "failure", body, message=f"[{c.severity.value}] {c.summary}", type=c.severity.value)
            elif finding.verdict is Verdict.ERROR:
                counts["errors"] += 1
                _sub(
                    case,
                    "error",
                    f"{c.summary}\n\nevidence:\n{evidence}",
                    message=c.reason or c.summary,
                    type=c.reason_code.value if c.reason_code else "undecided",
                )
            elif finding.verdict is Verdict.SKIPPED:
                counts["skipped"] += 1
                _sub(case, "skipped", message=c.reason or c.summary)
            else:
                _sub(case, "system-out", f"[{c.status.value}] {c.summary}")
        close(suite, counts, seconds)
        time_total += seconds

    by_source: dict[str, list] = {}
    for p in result.all_phi:
        by_source.setdefault(p.source, []).append(p)
    for source, findings in by_source.items():
        suite = _sub(root, "testsuite", name=f"phi: {source}")
        for p in findings:
            case = _sub(suite, "testcase", classname=f"phi: {source}", name=f"{p.path} {p.tag}", time="0.000")
            _sub(
                case,
                "failure",
                f"element: {p.path} {p.tag} {p.keyword} VR {p.vr}\ncategory: {p.category}\nrule: {p.rule}\n"
                f"severity: {p.severity.value}\nvalue: {p.value}",
                message=f"[{p.severity.value}] {p.category} in {p.path}: {p.value}",
                type=p.severity.value,
            )
        close(suite, {"tests": len(findings), "failures": len(findings), "errors": 0, "skipped": 0}, 0.0)

    from dicomaudit.output.acceptance import policy_suites  # nodes judged against role policies (--role/--policy)

    for suite in policy_suites(result):
        root.append(suite)
        for k in totals:
            totals[k] += int(suite.get(k, "0"))

    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{time_total:.3f}")
    return root


def write_junit(assessment: Assessment, path: str | Path) -> Path:
    """Write JUnit XML for ``assessment`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build_junit(assessment))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
