"""CSV exports via pandas: one row per (node, check) and one per PHI finding."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dicomaudit.checks.catalogue import load_catalogue
from dicomaudit.models import RunResult
from dicomaudit.output.tables import CHECK_COLUMNS, PHI_COLUMNS, write_checks_csv, write_phi_csv
from dicomaudit.policy import Waiver, apply_waivers, assess
from tests.output.builders import TODAY, down_node, locked_node, make_result, open_node


def test_checks_csv_has_one_row_per_node_and_check(result: RunResult, tmp_path: Path, echo_waiver: Waiver) -> None:
    """Given three nodes of eight checks and a waiver on one
    Then checks.csv has one row per node and check with the documented columns (plus the inventory's), the waived row flagged."""
    path = write_checks_csv(assess(result, apply_waivers(result, [echo_waiver], TODAY)), tmp_path / "checks.csv")
    frame = pd.read_csv(path, dtype={"called_aet": str})
    assert [c for c in frame.columns if c != "owner"] == CHECK_COLUMNS
    assert len(frame) == 8 + 8 + len(load_catalogue())  # the unreachable node: every catalogue check
    waived = frame[frame["waived"]]
    assert list(zip(waived["port"], waived["check_id"], strict=True)) == [(4242, "echo.unauthenticated")]
    assert waived.iloc[0]["waiver_expires"] == "2025-12-31" and waived.iloc[0]["verdict"] == "accepted"
    row = frame[(frame["port"] == 4242) & (frame["check_id"] == "find.unauthenticated")].iloc[0]
    assert (row["status"], row["severity"]) == ("fail", "critical")
    assert "HIPAA 164.312(a)(1)" in row["compliance"] and "NIST SP 800-53 AC-3" in row["compliance"]


def test_locked_node_rows_record_enforcement_and_reasons(result: RunResult, tmp_path: Path) -> None:
    frame = pd.read_csv(write_checks_csv(assess(result), tmp_path / "c.csv"))
    locked = frame[frame["port"] == 11112].set_index("check_id")
    assert locked.loc["assoc.any_calling_aet", "enforced"] == "calling AE title allow-list"
    assert locked.loc["find.phi_exposed", "reason"] == "find.unauthenticated passed"


def test_phi_csv_has_one_row_per_finding(result: RunResult, tmp_path: Path) -> None:
    """Then phi.csv lists network findings (with their node) and file findings, values masked."""
    frame = pd.read_csv(write_phi_csv(result, tmp_path / "phi.csv"))
    assert list(frame.columns) == PHI_COLUMNS
    assert len(frame) == len(result.all_phi) == 5
    assert frame["node"].notna().sum() == 2
    assert "R*****" in set(frame["value"])


def test_formula_like_cells_are_defused(tmp_path: Path) -> None:
    """Given a node whose Called AE Title starts with '=' (a spreadsheet formula)
    Then the CSV cell is prefixed with a quote so spreadsheets show it as text."""
    run = make_result((open_node("=HYPERLINK(1)"), locked_node(), down_node()))
    text = write_checks_csv(assess(run), tmp_path / "c.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(1)" in text
    assert ",=HYPERLINK" not in text


def test_checks_csv_carries_the_inventory_columns_beside_the_node(tmp_path: Path) -> None:
    """Given inventory rows with owner and location columns (and one named like a CSV column of its own)
    When checks.csv is written
    Then each column follows node_name, filled per node, the clashing one prefixed with 'inventory_'."""
    from dataclasses import replace

    from dicomaudit.models import Target

    node = open_node()
    node = replace(
        node,
        target=Target(
            node.target.host,
            node.target.port,
            node.target.called_aet,
            name="Archive",
            attributes={"owner": "Radiology IT", "location": "B2", "status": "prod"},
        ),
    )
    frame = pd.read_csv(write_checks_csv(assess(make_result((node, locked_node()))), tmp_path / "c.csv"))
    assert list(frame.columns[3:9]) == ["url", "node_name", "owner", "location", "inventory_status", "check_id"]
    by_port = frame.groupby("port").first()
    assert (by_port.loc[4242, "owner"], by_port.loc[4242, "location"]) == ("Radiology IT", "B2")
    assert pd.isna(by_port.loc[11112, "owner"])


def test_checks_csv_durations_are_rounded_to_a_tenth_of_a_millisecond(tmp_path: Path) -> None:
    """Given a check that took 12.345678 ms (as measured, before the JSON rounds it)
    Then checks.csv says 12.3, as the result JSON does."""
    from dataclasses import replace

    node = open_node()
    node = replace(node, checks=tuple(replace(c, duration_ms=12.345678) for c in node.checks))
    text = write_checks_csv(assess(make_result((node,))), tmp_path / "c.csv").read_text(encoding="utf-8")
    frame = pd.read_csv(tmp_path / "c.csv")
    assert set(frame["duration_ms"]) == {12.3}
    assert "12.345" not in text
