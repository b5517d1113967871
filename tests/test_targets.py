"""Target and inventory parsing: good input parses, bad input is a one-line TargetError."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomaudit.targets import TargetError, load_inventory, parse_target


@pytest.mark.parametrize(
    ("text", "host", "port", "aet"),
    [
        ("127.0.0.1", "127.0.0.1", 104, None),
        ("127.0.0.1:4242", "127.0.0.1", 4242, None),
        ("127.0.0.1:4242/ORTHANC", "127.0.0.1", 4242, "ORTHANC"),
        ("127.0.0.1/ORTHANC", "127.0.0.1", 104, "ORTHANC"),
        ("[::1]:11112/LAB", "::1", 11112, "LAB"),
        ("localhost:11112", "localhost", 11112, None),
    ],
)
def test_parse_target_accepts_the_documented_forms(text: str, host: str, port: int, aet: str | None) -> None:
    t = parse_target(text)
    assert (t.host, t.port, t.called_aet) == (host, port, aet)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:70000", "out of range"),
        ("127.0.0.1:0", "out of range"),
        ("127.0.0.1:http", "not a number"),
        ("", "expected HOST"),
        ("127.0.0.1:104/THIS-AE-TITLE-IS-TOO-LONG", "longer than 16"),
        ("bad_host!", "not a valid host"),
        ("bad host", "expected HOST"),
        ("no-such-host.invalid", "does not resolve"),
    ],
)
def test_parse_target_rejects_bad_input_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_target(text)


def test_inventory_keeps_extra_columns(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(
        "host,port,called_aet,name,location\n127.0.0.1,4242,ORTHANC,pacs-1,Radiology\n"
        "# a comment line\n127.0.0.1,11112,,lab,\n"
    )
    targets = load_inventory(inv)
    assert [(t.port, t.called_aet, t.name) for t in targets] == [(4242, "ORTHANC", "pacs-1"), (11112, None, "lab")]
    assert targets[0].attributes["location"] == "Radiology"


def test_inventory_without_required_columns_is_refused(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text("address,aet\n127.0.0.1,X\n")
    with pytest.raises(TargetError, match="missing column"):
        load_inventory(inv)


def test_missing_inventory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no such file"):
        load_inventory(tmp_path / "nope.csv")


def test_inventory_bad_port_names_the_line(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text("host,port,called_aet\n127.0.0.1,4242,A\n127.0.0.1,99999,B\n")
    with pytest.raises(TargetError, match="line 3"):
        load_inventory(inv)


def test_sample_inventory_parses() -> None:
    targets = load_inventory(Path(__file__).parent.parent / "sample_data" / "inventory.csv")
    assert targets and all(t.host.startswith("127.") for t in targets)
