"""Advisories: the shipped data validates, ranges match only what they say, and updates never go backwards."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from dicomaudit.models import Severity
from dicomaudit.software.advisories import (
    DATA_DIR_ENV,
    Advisory,
    AdvisoryError,
    VersionRange,
    data_dir,
    install_advisories,
    load_advisories,
    match,
    parse_advisories,
    severity_from_cvss,
    shipped_advisories,
)
from dicomaudit.software.fingerprints import load_fingerprints

SHIPPED = shipped_advisories()

ENTRY = """
    [[advisory]]
    id = "TEST-1"
    product = "Orthanc"
    affected = "< 9.0.0"
    fixed = "9.0.0"
    cves = ["CVE-2099-0001"]
    icsma = []
    cvss = { score = 9.8, vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }
    severity = "critical"
    title = "A test advisory"
    published = 2099-01-01
    source = "https://example.org/advisory/TEST-1"
"""


def _text(data_date: str, entry: str = ENTRY) -> str:
    return f"format = 1\ndata_date = {data_date}\n" + textwrap.dedent(entry)


def _newer() -> str:
    return (SHIPPED.data_date + dt.timedelta(days=1)).isoformat()


def _older() -> str:
    return (SHIPPED.data_date - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user data directory (DICOMAUDIT_DATA_DIR) for install/load."""
    home = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(home))
    return home


# -- the shipped data --------------------------------------------------------------------------
def test_shipped_data_validates_with_a_date() -> None:
    """Given the shipped advisories.toml, when loaded, then it validates, is dated and has advisories."""
    assert isinstance(SHIPPED.data_date, dt.date)
    assert SHIPPED.advisories
    assert SHIPPED.origin == "shipped"


@pytest.mark.parametrize("adv", SHIPPED.advisories, ids=[a.id for a in SHIPPED.advisories])
def test_every_shipped_advisory_is_sourced_and_consistent(adv: Advisory) -> None:
    """Given a shipped advisory, then it cites a URL, names at least one CVE or ICSMA id, is published no later
    than the data date, and its fixed version is outside its affected range."""
    assert adv.source.startswith("https://")
    assert adv.cves or adv.icsma
    assert adv.published <= SHIPPED.data_date
    assert adv.fixed is not None and adv.fixed not in adv.affected
    if adv.cvss is not None:
        assert adv.severity is severity_from_cvss(adv.cvss.score)


@pytest.mark.parametrize("adv", SHIPPED.advisories, ids=[a.id for a in SHIPPED.advisories])
def test_every_shipped_advisory_names_an_identifiable_product(adv: Advisory) -> None:
    """Given a shipped advisory, then its product is one the fingerprints can identify (else it never matches)."""
    assert adv.product in {row.product for row in load_fingerprints()}


@pytest.mark.parametrize("adv", SHIPPED.advisories, ids=[a.id for a in SHIPPED.advisories])
def test_the_fixed_version_does_not_match(adv: Advisory) -> None:
    """Given a shipped advisory, when its own fixed version is matched, then that advisory is not among the
    matches."""
    assert adv.fixed is not None
    assert adv.id not in {m.advisory.id for m in match(adv.product, adv.fixed, SHIPPED)}


# -- matching ----------------------------------------------------------------------------------
def test_orthanc_1_10_1_matches_with_the_reason() -> None:
    """Given Orthanc 1.10.1 (the Debian 12 package), when matched, then CVE-2023-33466 applies, with a reason that
    gives the range and the fixed release, and a caveat about backported fixes."""
    found = {m.advisory.id: m for m in match("Orthanc", "1.10.1", SHIPPED)}
    assert "CVE-2023-33466" in found
    assert found["CVE-2023-33466"].why == "Orthanc 1.10.1 is in < 1.12.0; fixed in 1.12.0"
    assert "backported" in found["CVE-2023-33466"].caveat
    assert "ICSMA-25-037-02" not in found  # fixed in 1.5.8


def test_a_version_equal_to_the_fixed_release_does_not_match() -> None:
    """Given Orthanc 1.12.0, the release that fixed CVE-2023-33466, when matched, then that advisory is absent."""
    assert "CVE-2023-33466" not in {m.advisory.id for m in match("Orthanc", "1.12.0", SHIPPED)}


@pytest.mark.parametrize("version", [None, "", "mainline", "1.12.x"])
def test_an_unknown_version_never_matches(version: str | None) -> None:
    """Given no version, or one that is not a dotted number, when matched, then nothing matches."""
    assert match("Orthanc", version, SHIPPED) == []


def test_no_product_never_matches() -> None:
    """Given no product (not identified), when matched, then nothing matches."""
    assert match(None, "1.0.0", SHIPPED) == []


def test_the_product_name_is_matched_without_regard_to_case() -> None:
    """Given the product spelt in another case, when matched, then the same advisories apply."""
    assert match("orthanc", "1.10.1", SHIPPED) == match("Orthanc", "1.10.1", SHIPPED)


@pytest.mark.parametrize(
    ("spec", "version", "inside"),
    [
        ("< 1.12.0", "1.11.9", True),
        ("< 1.12.0", "1.12.0", False),
        ("< 1.12.0", "1.12", False),  # missing components count as 0
        ("<= 1.12.10", "1.12.10", True),
        ("<= 1.12.10", "1.12.9", True),  # numeric, not lexical
        ("<= 1.12.10", "1.12.11", False),
        (">= 3.6.8, < 3.7.0", "3.6.7", False),
        (">= 3.6.8, < 3.7.0", "3.6.8", True),
        (">= 3.6.8, < 3.7.0", "3.6.10", True),
        (">= 3.6.8, < 3.7.0", "3.7.0", False),
        ("== 3.0.23", "3.0.23", True),
        ("!= 3.0.23", "3.0.23", False),
        ("> 1.0", "1.0.1", True),
    ],
)
def test_version_range_edges(spec: str, version: str, inside: bool) -> None:
    """Given a version range and a version, when tested, then the version is inside exactly when every clause
    holds."""
    assert (version in VersionRange.parse(spec)) is inside


@pytest.mark.parametrize("spec", ["", "1.2.3", "< 1.x", "~= 1.2", "< 1.2,", "<"])
def test_a_malformed_range_does_not_parse(spec: str) -> None:
    """Given a malformed version range, when parsed, then a ValueError says so."""
    with pytest.raises(ValueError):
        VersionRange.parse(spec)


@pytest.mark.parametrize(
    ("score", "severity"),
    [(10.0, "critical"), (9.0, "critical"), (8.9, "high"), (7.0, "high"), (6.9, "medium"), (4.0, "medium"),
     (3.9, "low"), (0.1, "low"), (0.0, "info")],
)  # fmt: skip
def test_severity_bands_of_the_cvss_base_score(score: float, severity: str) -> None:
    """Given a CVSS base score, then the severity is its band: 9.0+ critical, 7.0+ high, 4.0+ medium, else low."""
    assert severity_from_cvss(score) is Severity(severity)


def test_severity_is_derived_when_left_out() -> None:
    """Given an advisory with a CVSS score and no severity, when parsed, then the severity is the score's band."""
    (adv,) = parse_advisories(_text("2099-01-02", ENTRY.replace('severity = "critical"', ""))).advisories
    assert adv.severity is Severity.CRITICAL


# -- invalid files -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('title = "A test advisory"', 'title = "A test advisory"\nvendor = "Acme"', "unknown key"),
        ('source = "https://example.org/advisory/TEST-1"', "", "missing 'source'"),
        ('source = "https://example.org/advisory/TEST-1"', 'source = "the internet"', "must be a URL"),
        ('affected = "< 9.0.0"', 'affected = "before 9"', "bad version range"),
        ('severity = "critical"', 'severity = "severe"', "bad severity 'severe'"),
        ('severity = "critical"', 'severity = "low"', "bad severity 'low'"),
        ('cves = ["CVE-2099-0001"]', 'cves = ["CVE-99-1"]', "malformed id"),
        ('fixed = "9.0.0"', 'fixed = "8.0.0"', "inside the affected range"),
        ("published = 2099-01-01", 'published = "soon"', "must be a date"),
        ("cvss = { score = 9.8,", "cvss = { score = 19.8,", "cvss score"),
    ],
)
def test_an_invalid_entry_is_refused_naming_it(old: str, new: str, message: str) -> None:
    """Given an advisory file with one faulty entry, when parsed, then AdvisoryError names the file, the entry and
    the fault."""
    text = _text("2099-01-02", ENTRY.replace(old, new))
    with pytest.raises(AdvisoryError, match=message) as info:
        parse_advisories(text, origin="update.toml")
    assert str(info.value).startswith("update.toml: advisory #1 (TEST-1)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format = 1\n", "missing data_date"),
        ("format = 2\ndata_date = 2099-01-01\n", "format must be 1"),
        ("format = 1\ndata_date = 2099-01-01\nextra = 1\n", "unknown top-level key"),
        ("format = 1\ndata_date = [\n", "not valid TOML"),
    ],
)
def test_an_invalid_file_is_refused(text: str, message: str) -> None:
    """Given an advisory file malformed at the top level, when parsed, then AdvisoryError says what is wrong."""
    with pytest.raises(AdvisoryError, match=message):
        parse_advisories(text)


def test_duplicate_ids_are_refused() -> None:
    """Given two advisories with the same id, when parsed, then AdvisoryError names the id."""
    with pytest.raises(AdvisoryError, match="duplicate advisory id 'TEST-1'"):
        parse_advisories(_text("2099-01-02", ENTRY + ENTRY))


# -- installing a newer file -------------------------------------------------------------------
def test_an_older_file_is_refused_on_install(data_home: Path, tmp_path: Path) -> None:
    """Given a valid file dated before the shipped data, when installed, then it is refused with both dates and
    nothing is written."""
    update = tmp_path / "old.toml"
    update.write_text(_text(_older()), encoding="utf-8")
    with pytest.raises(AdvisoryError, match="older than the shipped advisories") as info:
        install_advisories(update)
    assert _older() in str(info.value) and SHIPPED.data_date.isoformat() in str(info.value)
    assert not (data_home / "advisories.toml").exists()


def test_an_invalid_file_is_refused_on_install(data_home: Path, tmp_path: Path) -> None:
    """Given a newer file with an invalid entry, when installed, then it is refused naming the entry and nothing
    is written."""
    update = tmp_path / "bad.toml"
    update.write_text(_text(_newer(), ENTRY.replace('affected = "< 9.0.0"', 'affected = "9"')), encoding="utf-8")
    with pytest.raises(AdvisoryError, match=r"advisory #1 \(TEST-1\): bad version range"):
        install_advisories(update)
    assert not data_home.exists() or not any(data_home.iterdir())


def test_install_then_load_prefers_the_newer_file(data_home: Path, tmp_path: Path) -> None:
    """Given a valid file newer than the shipped data, when installed and the advisories loaded, then the
    installed file is in effect and its advisories match."""
    update = tmp_path / "new.toml"
    update.write_text(_text(_newer()), encoding="utf-8")
    written = install_advisories(update)
    assert written == data_home / "advisories.toml"
    data = load_advisories()
    assert data.origin == str(written)
    assert data.data_date.isoformat() == _newer()
    assert [m.advisory.id for m in match("Orthanc", "8.1.0", data)] == ["TEST-1"]


def test_an_installed_file_not_newer_than_the_shipped_data_is_not_used(data_home: Path, tmp_path: Path) -> None:
    """Given an installed file dated the same day as the shipped data, when loaded, then the shipped data is in
    effect."""
    update = tmp_path / "same.toml"
    update.write_text(_text(SHIPPED.data_date.isoformat()), encoding="utf-8")
    install_advisories(update)
    assert load_advisories().origin == "shipped"


def test_a_broken_installed_file_falls_back_with_a_warning(data_home: Path) -> None:
    """Given an installed file that no longer validates, when loaded, then the shipped data is in effect and a
    warning says the installed file was ignored."""
    data_home.mkdir(parents=True)
    (data_home / "advisories.toml").write_text("format = 1\n", encoding="utf-8")
    data = load_advisories()
    assert data.origin == "shipped"
    assert data.warnings and "installed advisories ignored" in data.warnings[0]


def test_load_with_a_path_reads_that_file(tmp_path: Path) -> None:
    """Given a path, when loaded, then exactly that file is read and validated."""
    path = tmp_path / "x.toml"
    path.write_text(_text(_older()), encoding="utf-8")
    assert load_advisories(path).origin == str(path)


def test_the_data_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Given DICOMAUDIT_DATA_DIR, else XDG_DATA_HOME, else HOME, then the data directory follows them in that
    order."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "dicomaudit"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "dicomaudit"
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"
