"""A node's endpoints (its DICOM port and its web API) read as one node in the reports, with both sets of checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dicomaudit.models import RunResult, Status, Target, TargetResult
from dicomaudit.output.html import render_html
from dicomaudit.output.markdown import render_markdown
from dicomaudit.output.view import NodeVerdict, ReportView, build_view
from dicomaudit.policy import assess
from tests.output.builders import HOSTILE_AET, locked_node, make_check, make_result
from tests.output.helpers import parse_html

WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
WEB_URL = "http://127.0.0.1:8042/dicom-web"


def dicom_endpoint(host: str = "127.0.0.1", name: str | None = None, *, exposed: bool = True) -> TargetResult:
    """A DICOM port of an Orthanc: C-FIND open (critical) or refused."""
    target = Target(host, 4242, "ORTHANC", name=name)
    find = (
        make_check("find.unauthenticated", Status.FAIL, "Wildcard C-FIND returned 2 matches")
        if exposed
        else make_check("find.unauthenticated", Status.PASS, "No association for an unregistered AE")
    )
    checks = (make_check("echo.unauthenticated", Status.PASS, "No association for an unregistered AE"), find)
    return TargetResult(target, checks, started_at="2025-03-03T09:00:01+00:00")


def web_endpoint(host: str = "127.0.0.1", name: str | None = None, *, exposed: bool = False) -> TargetResult:
    """The DICOMweb root of the same Orthanc: plain HTTP (medium), QIDO-RS refused or open (critical)."""
    target = Target(host, 8042, url=WEB_URL.replace("127.0.0.1", host), name=name)
    qido = (
        make_check("qido.unauthenticated", Status.FAIL, "QIDO-RS answered 3 studies without credentials")
        if exposed
        else make_check("qido.unauthenticated", Status.PASS, "HTTP 401 without credentials")
    )
    checks = (make_check("web.plaintext", Status.FAIL, "The API answers over http://"), qido)
    return TargetResult(target, checks, started_at="2025-03-03T09:00:02+00:00")


def _view(*targets: TargetResult) -> ReportView:
    return build_view(assess(make_result(targets, phi=())), generated_at=WHEN)


def _html_node(html: str, anchor: str) -> str:
    return html.split(f'id="{anchor}"', 1)[1].split("</article>", 1)[0]


def _text(fragment: str) -> str:
    """The text a reader sees in an HTML fragment (tags such as <wbr> left out)."""
    return "".join(parse_html(fragment).text)


def test_dicom_port_and_web_api_of_one_unnamed_host_are_one_node() -> None:
    """Given a DICOM target and a web target on the same host, neither named in an inventory
    When the report view is built
    Then there is one node holding both endpoints and both sets of checks."""
    view = _view(dicom_endpoint(), web_endpoint())
    assert len(view.nodes) == 1
    node = view.nodes[0]
    assert [(e.kind, e.label) for e in node.endpoints] == [("DICOM", "127.0.0.1:4242/ORTHANC"), ("web", WEB_URL)]
    assert {c.result.id for c in node.checks} == {
        "echo.unauthenticated",
        "find.unauthenticated",
        "web.plaintext",
        "qido.unauthenticated",
    }
    assert node.label == f"127.0.0.1:4242/ORTHANC + {WEB_URL}"
    assert node.target.called_aet == "ORTHANC"  # the DICOM endpoint stands for the node


def test_endpoints_with_the_same_inventory_name_are_one_node_across_hosts() -> None:
    """Given a DICOM target and a web target the inventory names 'PACS-1', on different hosts
    When the report view is built
    Then they are one node called 'PACS-1', listing both hosts."""
    view = _view(dicom_endpoint("10.0.0.5", "PACS-1"), web_endpoint("10.0.0.6", "PACS-1"))
    assert len(view.nodes) == 1
    assert view.nodes[0].title == "PACS-1"
    assert view.nodes[0].hosts == ["10.0.0.5", "10.0.0.6"]


def test_endpoints_on_different_hosts_are_different_nodes() -> None:
    """Given a DICOM target on one host and a web target on another, neither named
    When the report view is built
    Then they are two nodes of one endpoint each, in run order."""
    view = _view(dicom_endpoint("10.0.0.5"), web_endpoint("10.0.0.6"))
    assert [n.label for n in view.nodes] == ["10.0.0.5:4242/ORTHANC", WEB_URL.replace("127.0.0.1", "10.0.0.6")]
    assert all(not n.shared for n in view.nodes)


def test_unnamed_dicom_ports_of_one_host_stay_separate_nodes() -> None:
    """Given two unnamed DICOM ports on 127.0.0.1 (two lab PACS) and a web target on that host
    When the report view is built
    Then each DICOM port stays a node of its own, and the web endpoint, which neither can claim, is a third."""
    view = _view(dicom_endpoint(), locked_node(), web_endpoint())
    assert [n.label for n in view.nodes] == ["127.0.0.1:4242/ORTHANC", "127.0.0.1:11112/LOCKEDPACS", WEB_URL]


def test_node_verdict_takes_the_worst_of_its_endpoints() -> None:
    """Given a node whose DICOM port refuses everything and whose web API answers QIDO-RS openly
    When the report view is built
    Then the node is exposed, worst critical, though its DICOM endpoint alone has no open exposure."""
    node = _view(dicom_endpoint(exposed=False), web_endpoint(exposed=True)).nodes[0]
    dicom, web = node.endpoints
    assert dicom.open_count == 0 and web.worst is not None
    assert node.verdict is NodeVerdict.EXPOSED
    assert node.worst is not None and node.worst.value == "critical"
    assert node.open_count == dicom.open_count + web.open_count == 2


def test_summary_counts_nodes_not_endpoints() -> None:
    """Given one Orthanc probed on its DICOM port and its web API, and a second, locked node elsewhere
    When the report view is built
    Then the summary counts two nodes (one exposed) and says three endpoints were probed."""
    locked = locked_node()
    locked = TargetResult(Target("10.9.9.9", 11112, "LOCKEDPACS"), locked.checks)
    summary = _view(dicom_endpoint(), web_endpoint(), locked).summary
    assert (summary.nodes, summary.nodes_exposed, summary.endpoints, summary.web_endpoints) == (2, 1, 3, 1)
    assert summary.headline[0].startswith("2 node(s) (3 endpoints) audited over the network; 1 with")


def test_checks_of_a_shared_node_name_their_endpoint() -> None:
    """Given a node with a DICOM and a web endpoint, and a node with a DICOM endpoint only
    When the report view is built
    Then each check of the first says which endpoint it ran on, and the checks of the second do not."""
    locked = TargetResult(Target("10.9.9.9", 11112, "LOCKEDPACS"), locked_node().checks)
    view = _view(dicom_endpoint(), web_endpoint(), locked)
    shared, alone = view.nodes
    tags = {c.result.id: c.endpoint for c in shared.checks}
    assert tags["find.unauthenticated"] == "DICOM 127.0.0.1:4242/ORTHANC"
    assert tags["qido.unauthenticated"] == f"web {WEB_URL}"
    assert all(c.endpoint is None for c in alone.checks)


def test_checks_of_both_endpoints_get_distinct_anchors() -> None:
    """Given a node whose two endpoints both ran the inventory check
    When the report view is built
    Then the two results keep distinct anchors in the document."""
    inventory = make_check("inventory.unlisted", Status.PASS, "Listed in the inventory")
    dicom, web = dicom_endpoint(), web_endpoint()
    dicom = TargetResult(dicom.target, (inventory, *dicom.checks))
    web = TargetResult(web.target, (inventory, *web.checks))
    anchors = [c.anchor for c in _view(dicom, web).nodes[0].checks]
    assert len(set(anchors)) == len(anchors)


def test_html_shows_both_endpoints_in_one_node_section() -> None:
    """Given an Orthanc probed on its DICOM port and its web API
    When the HTML report is rendered
    Then one node section lists both endpoints (host, port, Called AE Title, URL) and tags each check with the
    endpoint it ran on; every in-page link still lands."""
    html = render_html(_view(dicom_endpoint(), web_endpoint(exposed=True)))
    assert html.count('<article class="node"') == 1
    section = _html_node(html, "node-1")
    table = _text(section.split('<table class="endpoints">', 1)[1].split("</table>", 1)[0])
    assert "ORTHANC" in table and WEB_URL in table and "4242" in table and "8042" in table
    checks = section.split('<table class="checks">', 1)[1].split("</table>", 1)[0]
    rows = checks.split("<tr>")[2:]
    find = next(r for r in rows if ">find.unauthenticated<" in r)
    qido = next(r for r in rows if ">qido.unauthenticated<" in r)
    assert "DICOM 127.0.0.1:4242/ORTHANC" in _text(find) and WEB_URL not in _text(find)
    assert f"web {WEB_URL}" in _text(qido) and '<span class="ep-kind">web</span>' in qido
    parsed = parse_html(html)
    anchors = {attrs["id"] for _, attrs in parsed.tags if attrs.get("id")}
    hrefs = {attrs.get("href") or "" for tag, attrs in parsed.tags if tag == "a"}
    assert {h[1:] for h in hrefs} <= anchors


def test_markdown_shows_both_endpoints_in_one_node_section() -> None:
    """Given an Orthanc probed on its DICOM port and its web API
    When the Markdown report is rendered
    Then one node section lists both endpoints, its checks table has an Endpoint column with each check's
    endpoint, and every table row keeps its column count."""
    md = render_markdown(_view(dicom_endpoint(), web_endpoint(exposed=True)))
    nodes = md.split("## 4. Results by node", 1)[1].split("## 5.", 1)[0]
    assert nodes.count("\n### 4.") == 1
    assert "| DICOM | 127.0.0.1 | 4242 | ORTHANC |" in nodes
    assert f"| web | 127.0.0.1 | 8042 | {WEB_URL} |" in nodes
    assert "| Status | Severity | Check | Endpoint | Observed |" in nodes
    find_row = next(line for line in nodes.splitlines() if line.startswith("| **FAIL**") and "find" in line)
    assert "| DICOM 127.0.0.1:4242/ORTHANC |" in find_row
    assert f"- **Endpoint:** web {WEB_URL}" in nodes
    for table in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):
        widths = {line.count(" | ") for line in table.splitlines() if not line.startswith("|---")}
        assert len(widths) == 1, table


def test_findings_to_act_on_name_the_endpoint_of_each_finding() -> None:
    """Given a named node whose DICOM port and web API both have open exposures
    When the HTML and Markdown reports are rendered
    Then the findings to act on give, per finding, the node's name and the endpoint it was seen on."""
    view = _view(dicom_endpoint(name="Orthanc"), web_endpoint(name="Orthanc", exposed=True))
    html_actions = render_html(view).split('id="actions"', 1)[1].split("</section>", 1)[0]
    rows = html_actions.split("<tr>")[2:]
    qido = next(r for r in rows if "qido.unauthenticated" in r)
    find = next(r for r in rows if "find.unauthenticated" in r)
    assert "Orthanc" in qido and WEB_URL in _text(qido) and "4242" not in qido
    assert "Orthanc" in find and "127.0.0.1:4242/ORTHANC" in _text(find) and WEB_URL not in _text(find)
    md_actions = render_markdown(view).split("## 2. Findings to act on", 1)[1].split("## 3.", 1)[0]
    assert f"| Orthanc (web {WEB_URL}) |" in md_actions
    assert "| Orthanc (DICOM 127.0.0.1:4242/ORTHANC) |" in md_actions


def test_single_endpoint_nodes_read_as_before(result: RunResult) -> None:
    """Given the usual run of three DICOM nodes, one endpoint each
    When the reports are rendered
    Then no node lists endpoints or tags its checks with one."""
    view = build_view(assess(result), generated_at=WHEN)
    assert len(view.nodes) == 3 and view.summary.endpoints == 3
    html, md = render_html(view), render_markdown(view)
    assert 'class="endpoints"' not in html and 'class="ep"' not in html
    assert "| Endpoint |" not in md and "**Endpoint:**" not in md


def test_endpoint_labels_of_a_shared_node_are_escaped() -> None:
    """Given a node whose DICOM endpoint has the Called AE Title '<script>alert(1)' and a web endpoint
    When the HTML report is rendered
    Then the endpoint table and the check tags show the title as text: no script tag reaches the document."""
    dicom = dicom_endpoint()
    hostile = TargetResult(Target("127.0.0.1", 4242, HOSTILE_AET), dicom.checks)
    html = render_html(_view(hostile, web_endpoint()))
    assert "script" not in {tag for tag, _ in parse_html(html).tags}
    assert _text(html).count(f"127.0.0.1:4242/{HOSTILE_AET}") >= 3  # glance table, the tags of both DICOM checks
