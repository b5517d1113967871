"""Waivers: accepted risks with a reason and an expiry, read from TOML."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dicomaudit.models import RunResult, Target
from dicomaudit.policy import FindingKey, Waiver, WaiverError, apply_waivers, load_waivers
from tests.output.builders import TODAY

ORTHANC = Target("127.0.0.1", 4242, "ORTHANC")

EXAMPLE = """\
# Accepted risks for the radiology network (reviewed quarterly)
[[waiver]]
node = "127.0.0.1:4242/ORTHANC"
check = "echo.unauthenticated"
reason = "Echo kept open for modality connectivity tests (CHG-1234)"
expires = 2025-12-31
approved_by = "J. Doe, CISO"

[[waiver]]
node = "*"
check = "transport.plaintext"
reason = "TLS rollout planned"
expires = "2025-01-31"
"""


def test_load_waivers_reads_the_documented_toml_format(tmp_path: Path) -> None:
    """Given the example waiver file of the documentation
    When it is loaded
    Then both entries come back with dates parsed and their origin recorded."""
    path = tmp_path / "waivers.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    first, second = load_waivers(path)
    assert first == Waiver(
        "127.0.0.1:4242/ORTHANC",
        "echo.unauthenticated",
        "Echo kept open for modality connectivity tests (CHG-1234)",
        date(2025, 12, 31),
        approved_by="J. Doe, CISO",
        origin="waivers.toml:2",
    )
    assert (second.node, second.expires, second.approved_by) == ("*", date(2025, 1, 31), None)


def test_active_waiver_accepts_the_failing_finding(result: RunResult, echo_waiver: Waiver) -> None:
    """Given an unexpired waiver for echo on the open node
    When waivers are applied
    Then that finding is accepted and nothing else is."""
    outcome = apply_waivers(result, [echo_waiver], TODAY)
    assert dict(outcome.accepted) == {FindingKey("127.0.0.1", 4242, "ORTHANC", "echo.unauthenticated"): echo_waiver}
    assert outcome.waiver_for(ORTHANC, "echo.unauthenticated") is echo_waiver
    assert outcome.expired == () and outcome.unused == ()


def test_waiver_applies_through_its_expiry_date(result: RunResult, echo_waiver: Waiver) -> None:
    """Given the waiver's expiry date itself
    Then the waiver still applies (expiry is inclusive)."""
    assert apply_waivers(result, [echo_waiver], echo_waiver.expires).waiver_for(ORTHANC, "echo.unauthenticated")


def test_expired_waiver_no_longer_applies_and_is_reported(result: RunResult, echo_waiver: Waiver) -> None:
    """Given the day after the waiver's expiry
    When waivers are applied
    Then the finding is not accepted and the waiver is listed as expired with the finding it covered."""
    outcome = apply_waivers(result, [echo_waiver], date(2026, 1, 1))
    assert outcome.accepted == {}
    assert len(outcome.expired) == 1
    assert outcome.expired[0].findings == (FindingKey("127.0.0.1", 4242, "ORTHANC", "echo.unauthenticated"),)
    assert outcome.expired_for(ORTHANC, "echo.unauthenticated") is echo_waiver


def test_wildcard_node_matches_every_failing_node(result: RunResult) -> None:
    """Given a '*' waiver for transport.plaintext
    Then it accepts the open node's plaintext finding but not the locked node's pass."""
    w = Waiver("*", "transport.plaintext", "TLS rollout planned", date(2025, 6, 30))
    outcome = apply_waivers(result, [w], TODAY)
    assert [k.node for k in outcome.accepted] == ["127.0.0.1:4242/ORTHANC"]


def test_host_port_waiver_matches_any_called_aet(result: RunResult) -> None:
    """Given a waiver naming host:port without AE title
    Then it matches the node whatever its Called AE Title."""
    w = Waiver("127.0.0.1:4242", "store.unauthenticated", "Modalities store here", date(2025, 6, 30))
    assert apply_waivers(result, [w], TODAY).waiver_for(ORTHANC, "store.unauthenticated") is w


def test_waiver_for_another_aet_does_not_match(result: RunResult) -> None:
    """Given a waiver for a different Called AE Title on the same port
    Then it does not apply, and is reported as unused."""
    w = Waiver("127.0.0.1:4242/OTHER", "store.unauthenticated", "Other AE", date(2025, 6, 30))
    outcome = apply_waivers(result, [w], TODAY)
    assert outcome.accepted == {} and outcome.unused == (w,)


def test_most_specific_waiver_wins(result: RunResult, echo_waiver: Waiver) -> None:
    """Given a '*' waiver listed before a host:port/AET waiver for the same check
    Then the node-specific waiver is the one recorded."""
    broad = Waiver("*", "echo.unauthenticated", "Echo everywhere", date(2025, 6, 30))
    outcome = apply_waivers(result, [broad, echo_waiver], TODAY)
    assert outcome.waiver_for(ORTHANC, "echo.unauthenticated") is echo_waiver
    assert outcome.unused == (broad,)


def test_waiver_never_accepts_an_undecided_check(result: RunResult) -> None:
    """Given a waiver for the node whose checks all errored
    Then nothing is accepted: a waiver covers an exposure, not a check that could not be decided."""
    w = Waiver("127.0.0.1:10404", "find.unauthenticated", "Node is being decommissioned", date(2025, 6, 30))
    outcome = apply_waivers(result, [w], TODAY)
    assert outcome.accepted == {} and outcome.unused == (w,)


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        ('node = "pacs.local"\ncheck = "a.b"\nreason = "r"\nexpires = 2025-01-01', 2, "not '\\*', 'host:port'"),
        ('node = "*"\ncheck = "a.b"\nexpires = 2025-01-01', 1, "missing field\\(s\\) reason"),
        ('node = "*"\ncheck = "a.b"\nreason = "r"\nexpires = "next year"', 5, "not an ISO date"),
        ('node = "*"\ncheck = "a.b"\nreason = "r"\nexpires = 2025-01-01\nowner = "x"', 6, "unknown field 'owner'"),
        ('node = "*"\ncheck = "a.b"\nreason = "  "\nexpires = 2025-01-01', 4, "reason is empty"),
    ],
)
def test_invalid_waiver_entries_are_rejected_with_their_line(
    tmp_path: Path, entry: str, line: int, message: str
) -> None:
    """Given a waiver file with one invalid entry
    Then loading fails, naming the file, the line to edit, the entry number and the problem."""
    path = tmp_path / "w.toml"
    path.write_text(f"[[waiver]]\n{entry}\n", encoding="utf-8")
    with pytest.raises(WaiverError, match=f"w.toml:{line}: waiver #1: .*{message}"):
        load_waivers(path, known_checks={"a.b"})


def test_waiver_file_that_is_not_toml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("node: '*'\n", encoding="utf-8")
    with pytest.raises(WaiverError, match="not valid TOML"):
        load_waivers(path)


def test_ipv6_node_is_understood(tmp_path: Path) -> None:
    """Given a bracketed IPv6 node
    Then the waiver matches a target on that address and port."""
    w = Waiver("[::1]:104/PACS", "echo.unauthenticated", "lab", date(2025, 1, 1))
    assert w.matches(Target("::1", 104, "PACS"), "echo.unauthenticated")
    assert not w.matches(Target("::1", 105, "PACS"), "echo.unauthenticated")


def test_documented_example_parses() -> None:
    """The waiver example in dicomaudit.policy's documentation is valid input."""
    import textwrap
    import tomllib

    import dicomaudit.policy as policy
    from dicomaudit.policy import parse_waivers

    doc = policy.__doc__ or ""
    example = textwrap.dedent(doc.split("::\n", 1)[1])
    (w,) = parse_waivers(tomllib.loads(example))
    assert (w.node, w.check, w.expires, w.approved_by) == (
        "10.20.0.15:104/ARCHIVE",
        "echo.unauthenticated",
        date(2025, 12, 31),
        "J. Doe, CISO",
    )


def test_an_unknown_table_such_as_waivers_is_an_error_naming_its_line(tmp_path: Path) -> None:
    """Given a waiver file whose entries are written [[waivers]] (plural), after one valid [[waiver]]
    Then loading fails naming the line of [[waivers]] and suggesting [[waiver]]: nothing is silently dropped."""
    path = tmp_path / "w.toml"
    path.write_text(EXAMPLE.split('[[waiver]]\nnode = "*"')[0] + '[[waivers]]\nnode = "*"\n', encoding="utf-8")
    with pytest.raises(WaiverError, match=r"w.toml:9: unknown table 'waivers' \(did you mean 'waiver'\?\)"):
        load_waivers(path)


def test_an_unknown_top_level_key_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("# accepted risks\nversion = 2\n" + EXAMPLE, encoding="utf-8")
    with pytest.raises(WaiverError, match=r"w.toml:2: unknown key 'version'"):
        load_waivers(path)


def test_an_unknown_check_id_is_an_error_naming_its_line(tmp_path: Path) -> None:
    """Given a waiver for a mistyped check id (the catalogue's ids are the reference)
    Then loading fails naming the line of 'check', the entry, and the id it probably meant."""
    path = tmp_path / "w.toml"
    path.write_text(EXAMPLE.replace('check = "transport.plaintext"', 'check = "transport.plaintex"'), encoding="utf-8")
    with pytest.raises(
        WaiverError,
        match=r"w.toml:11: waiver #2: unknown check 'transport.plaintex' "
        r"\(did you mean 'transport.plaintext'\?\)",
    ):
        load_waivers(path)


def test_expired_and_unused_waivers_are_printed_as_plain_lines(result: RunResult, echo_waiver: Waiver) -> None:
    """Given one expired waiver that covered a failing finding and one that matches nothing
    When the waiver notes are printed on a narrow console
    Then there is one unwrapped line for each, naming the waiver, its origin and what it means."""
    import io

    from rich.console import Console

    from dicomaudit.output.terminal import print_waiver_notes

    expired = Waiver("*", "transport.plaintext", "TLS rollout", date(2025, 1, 31), origin="w.toml:9")
    unused = Waiver("127.0.0.1:4242/[b]OTHER", "store.unauthenticated", "Other AE", date(2025, 6, 30))
    buffer = io.StringIO()
    console = Console(file=buffer, width=40, force_terminal=False)
    print_waiver_notes(console, apply_waivers(result, [echo_waiver, expired, unused], TODAY))
    lines = buffer.getvalue().splitlines()
    assert lines == [
        "waiver expired on 2025-01-31 (w.toml:9): * transport.plaintext; 1 finding(s) count again: "
        "127.0.0.1:4242/ORTHANC transport.plaintext",
        "waiver unused: 127.0.0.1:4242/[b]OTHER store.unauthenticated (until 2025-06-30) matched no failing finding "
        "(fixed, not in this run, or mistyped node)",
    ]


def test_no_waiver_notes_without_waivers() -> None:
    import io

    from rich.console import Console

    from dicomaudit.output.terminal import print_waiver_notes

    buffer = io.StringIO()
    print_waiver_notes(Console(file=buffer), None)
    assert buffer.getvalue() == ""
