"""The shared models: ordering and round trips that every writer relies on."""

from __future__ import annotations

from dicomaudit.models import Severity


def test_severity_orders_by_rank_not_by_spelling() -> None:
    """Given severities, then comparison, max and sort follow info < low < medium < high < critical."""
    assert Severity.HIGH > Severity.MEDIUM > Severity.LOW  # as strings, "high" < "low" < "medium"
    assert max([Severity.LOW, Severity.CRITICAL, Severity.HIGH]) is Severity.CRITICAL
    assert sorted([Severity.HIGH, Severity.INFO, Severity.CRITICAL, Severity.LOW], reverse=True) == [
        Severity.CRITICAL,
        Severity.HIGH,
        Severity.LOW,
        Severity.INFO,
    ]


def test_severity_still_hashes_and_equals_its_value() -> None:
    assert {Severity.HIGH: 1}[Severity("high")] == 1
    assert Severity.MEDIUM == "medium"
