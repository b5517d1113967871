"""Inputs that are broken or hostile: odd names, unreadable folders, encodings that lie, error messages.

Every input is either analysed completely or listed in ``errors`` with a
reason; a reason keeps the parser's words but never a header value.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from dicomaudit.phi import analyze_paths, propagation
from dicomaudit.phi.categories import Kind
from dicomaudit.phi.detectors import is_dummy_date, is_placeholder
from dicomaudit.phi.inputs import describe_error
from dicomaudit.phi.masking import mask_quoted
from dicomaudit.phi.propagation import PropagationIndex, _find, _find_runs
from dicomaudit.structure import MAX_DEPTH
from dicomaudit.textsafe import safe_text, unescape_bytes
from tests.phi.dicombytes import (
    ITEM_END,
    SEQUENCE_END,
    UNDEFINED,
    element,
    even,
    item,
    part10,
    patient,
    sequence,
)

REFERENCED_STUDY = 0x00081110
REFERENCED_SOP_UID = 0x00081155
REQUEST_ATTRIBUTES = 0x00400275
REQUESTING_PHYSICIAN = 0x00321032


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _only_error(path: Path) -> str:
    result = analyze_paths([path])
    assert result.files_scanned == 0 and result.findings == ()
    (error,) = result.errors
    assert error.source == safe_text(str(path))
    return error.error


# -- names -------------------------------------------------------------------


def test_hostile_names_become_escaped_sources_that_unescape_to_the_real_names(tmp_path: Path) -> None:
    """Given files named with bytes that are not UTF-8, escape sequences, a newline and markup
    Then each source is the escaped path, and unescaping it gives the name on disk back."""
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    names = [b"bad\xff\xfe.dcm", b"esc\x1b[31mred.dcm", b"new\nline.dcm", b"[bold]x[red].dcm", b"back\\slash.dcm"]
    for name in names:
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(part10(patient()))
    result = analyze_paths([tmp_path / "in"])
    assert result.errors == () and result.files_scanned == len(names)
    sources = sorted({f.source for f in result.findings})
    assert sorted(unescape_bytes(s) for s in sources) == sorted(os.path.join(folder, n) for n in names)
    assert all(s.isprintable() for s in sources)
    assert safe_text(os.path.join(folder, b"esc\x1b[31mred.dcm")) in sources


def test_missing_and_undecodable_given_paths_are_errors_with_escaped_sources(tmp_path: Path) -> None:
    missing = os.fsdecode(os.fsencode(tmp_path) + b"/gone\xff\x1b.dcm")
    result = analyze_paths([missing])
    assert [(e.source, e.error) for e in result.errors] == [(safe_text(missing), "no such file or folder")]


# -- folders that cannot be read ----------------------------------------------


def _deny(monkeypatch: pytest.MonkeyPatch, denied: str) -> None:
    """os.scandir raises EACCES for ``denied``, as it does for a folder without read permission."""
    real = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        if os.fspath(path) == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unreadable_subfolder_is_an_error_and_the_rest_is_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "in" / "ok" / "a.dcm", part10(patient()))
    (tmp_path / "in" / "locked").mkdir()
    _deny(monkeypatch, str(tmp_path / "in" / "locked"))
    result = analyze_paths([tmp_path / "in"])
    assert result.files_scanned == 1
    assert [(e.source, e.error) for e in result.errors] == [
        (str(tmp_path / "in" / "locked"), "cannot read folder: Permission denied")
    ]


def test_unreadable_top_folder_is_an_error_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in").mkdir()
    _deny(monkeypatch, str(tmp_path / "in"))
    result = analyze_paths([tmp_path / "in"])
    denied = (str(tmp_path / "in"), "cannot read folder: Permission denied")
    assert [(e.source, e.error) for e in result.errors] == [denied]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads folders without permission")
def test_chmod_000_folder_and_file_are_errors_with_the_os_reason(tmp_path: Path) -> None:
    _write(tmp_path / "in" / "ok.dcm", part10(patient()))
    unreadable = _write(tmp_path / "in" / "secret.dcm", part10(patient()))
    locked = tmp_path / "in" / "locked"
    _write(locked / "a.dcm", part10(patient()))
    unreadable.chmod(0)
    locked.chmod(0)
    try:
        result = analyze_paths([tmp_path / "in"])
    finally:
        locked.chmod(0o755)
        unreadable.chmod(0o644)
    assert result.files_scanned == 1
    assert {(Path(e.source).name, e.error) for e in result.errors} == {
        ("locked", "cannot read folder: Permission denied"),
        ("secret.dcm", "cannot read: Permission denied"),
    }


# -- what pydicom says, masked -------------------------------------------------


def test_pydicom_parse_error_keeps_its_message(tmp_path: Path) -> None:
    """Given an undefined-length sequence that ends with the file (pydicom raises OSError without errno)
    Then the reason is pydicom's message, not 'cannot read: OSError'."""
    path = _write(tmp_path / "x.dcm", part10(patient() + sequence(REFERENCED_STUDY, length=UNDEFINED)))
    assert _only_error(path).startswith("malformed DICOM file: No tag to read at file position ")


def test_os_errors_and_parse_errors_are_told_apart() -> None:
    assert describe_error(PermissionError(errno.EACCES, "Permission denied", "/x")) == "cannot read: Permission denied"
    assert (
        describe_error(OSError("No tag to read at file position 1A4"))
        == "malformed DICOM file: No tag to read at file position 1A4"
    )
    assert describe_error(EOFError("Unexpected end of file")) == "truncated DICOM file: ends inside an element"
    assert (
        describe_error(ValueError("invalid literal for int() with base 10: '19850312'"))
        == "malformed DICOM file: ValueError: invalid literal for int() with base 10: '1*****'"
    )


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("Invalid value for VR DA: '19850312'", "Invalid value for VR DA: '1*****'"),
        ("(0010,0010) Patient's Name PN: 'O'Brien^Siobhan'", "(0010,0010) Patient's Name PN: 'O*****'"),
        ("value b'WHITFIELD' is too long", "value b'W*****' is too long"),
        ('could not convert "Jane Doe"', 'could not convert "J*****"'),
        ("a value cut at a newline: 'Whit", "a value cut at a newline: <value>"),
        (
            "Unknown Value Representation 'Ui' in tag (0002,0010)",
            "Unknown Value Representation '******' in tag (0002,0010)",
        ),
        # what identifies nothing stays readable
        ("Expected VR 'UL' for 'PatientName' at '(0010,0010)'", "Expected VR 'UL' for 'PatientName' at '(0010,0010)'"),
        (
            "transfer syntax '1.2.840.10008.1.2.4.50' is not supported",
            "transfer syntax '1.2.840.10008.1.2.4.50' is not supported",
        ),
        ("'utf-8' codec can't decode byte 0xff in position 3", "'utf-8' codec can't decode byte 0xff in position 3"),
        ("length '12' and offset '0x1a4'", "length '12' and offset '0x1a4'"),
        # instance UIDs and long numbers are identifiers
        ("instance '2.25.123456789' and ID '5561023'", "instance '2*****' and ID '5*****'"),
    ],
)
def test_mask_quoted_masks_values_and_keeps_dictionary_words(message: str, shown: str) -> None:
    assert mask_quoted(message) == shown


# -- encodings that lie: an error, never findings ----------------------------------


def test_element_overrunning_its_item_is_an_error_not_findings(tmp_path: Path) -> None:
    """Given a sequence item whose element declares more bytes than the item holds (the next item's name follows)
    Then the file is an error: pydicom would read the neighbour's bytes as the value."""
    inner = element(REQUESTING_PHYSICIAN, b"PN", b"Doe^John", length=40)
    body = patient() + sequence(
        REQUEST_ATTRIBUTES, item(inner), item(element(REQUESTING_PHYSICIAN, b"PN", b"Roe^Richard ") * 3)
    )
    reason = _only_error(_write(tmp_path / "x.dcm", part10(body)))
    assert reason.startswith("malformed DICOM file: element (0032,1032) at offset ") and "its item holds" in reason


def test_value_cut_short_inside_a_sequence_is_truncated(tmp_path: Path) -> None:
    data = part10(patient() + sequence(REQUEST_ATTRIBUTES, item(element(REQUESTING_PHYSICIAN, b"PN", b"Doe^John"))))
    reason = _only_error(_write(tmp_path / "x.dcm", data[:-4]))
    assert reason.startswith("malformed DICOM file:") or reason.startswith("truncated DICOM file:")
    assert "Doe" not in reason


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (sequence(REFERENCED_STUDY, element(REFERENCED_SOP_UID, b"UI", b"1.2.3\x00")), "where a sequence item"),
        (sequence(REFERENCED_STUDY, item(b""), SEQUENCE_END), "sequence delimiter at offset"),
        (ITEM_END + element(0x00200010, b"SH", b"S1"), "item delimiter (FFFE,E00D)"),
        (
            sequence(REFERENCED_STUDY, item(element(REFERENCED_SOP_UID, b"UI", b"1.2.3\x00"), length=UNDEFINED)),
            "item without its delimiter (FFFE,E00D) in its sequence",
        ),
        (element(0x00100020, b"LO", b"OTHER-ID"), "appears twice in one data set with different values"),
    ],
    ids=["not-an-item", "delimiter-in-defined-sequence", "stray-item-delimiter", "no-delimiter", "duplicate-tag"],
)
def test_inconsistent_encodings_are_errors(tmp_path: Path, body: bytes, expected: str) -> None:
    reason = _only_error(_write(tmp_path / "x.dcm", part10(patient() + body)))
    assert expected in reason


def test_a_duplicate_with_the_same_bytes_is_harmless(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.dcm", part10(patient() + element(0x00100020, b"LO", b"P5561023")))
    result = analyze_paths([path])
    assert result.errors == () and result.files_scanned == 1


def _nested(depth: int) -> bytes:
    body = element(REFERENCED_SOP_UID, b"UI", b"1.2.3\x00")
    for _ in range(depth):
        body = sequence(REFERENCED_STUDY, item(body))
    return body


def test_sequences_nested_deeper_than_the_analyzer_walks_are_an_error(tmp_path: Path) -> None:
    assert analyze_paths([_write(tmp_path / "ok.dcm", part10(patient() + _nested(MAX_DEPTH)))]).errors == ()
    deep = _write(tmp_path / "deep.dcm", part10(patient() + _nested(MAX_DEPTH + 1)))
    assert "nested deeper than" in _only_error(deep)


def test_elements_after_the_pixel_data_are_analysed(tmp_path: Path) -> None:
    """Given a private block after the pixel data (pydicom's header read stops before it)
    Then the name in it is found."""
    trailer = element(0x7FE10010, b"LO", b"ACME 1.0") + element(0x7FE11010, b"LT", b"Reviewed by Dr. Whitfield ")
    data = part10(patient() + element(0x7FE00010, b"OW", b"\x00" * 64) + trailer)
    result = analyze_paths([_write(tmp_path / "x.dcm", data)], show_values=True)
    assert result.errors == ()
    assert any(f.path == "(7FE1,1010)" and "Whitfield" in f.value for f in result.findings)


def test_pixel_data_cut_short_is_a_truncated_file(tmp_path: Path) -> None:
    # Given a file whose header is intact but whose image was cut short (a copy that stopped)
    data = part10(patient() + element(0x7FE00010, b"OW", b"\x00" * 64))
    # When it is analysed
    result = analyze_paths([_write(tmp_path / "x.dcm", data[:-10])])
    # Then it is a truncated file, listed in errors, not a clean read
    assert [e.error for e in result.errors] == [
        "truncated DICOM file: the pixel data at offset 0x"
        + result.errors[0].error.split("offset 0x")[1].split(" ")[0]
        + f" runs past the end of the file ({len(data) - 10} bytes): the image was cut short"
    ]


def test_a_zero_filled_file_is_an_error_even_in_a_folder(tmp_path: Path) -> None:
    # Given a folder with a file of zeros named as DICOM (space reserved by an export that never wrote it)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "IM0001.dcm").write_bytes(b"\x00" * 4096)
    # When the folder is analysed
    result = analyze_paths([tmp_path / "export"])
    # Then the file is an error that says what it is
    assert [e.error for e in result.errors] == ["not a DICOM file: zero bytes (space reserved but never written)"]


def test_a_non_dicom_file_named_dcm_is_an_error_in_a_folder(tmp_path: Path) -> None:
    # Given a folder with a viewer's HTML error page saved as .dcm, and a README
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "IM0002.dcm").write_bytes(b"<html><body>500 Internal Server Error</body></html>")
    (tmp_path / "export" / "README.txt").write_text("export of 2026-11-22")
    # When the folder is analysed
    result = analyze_paths([tmp_path / "export"])
    # Then the .dcm file is an error naming what it holds, and the README is only skipped
    assert [e.error for e in result.errors] == [
        "not a DICOM file: no DICM prefix and no parseable data set (named as DICOM, holds HTML)"
    ]
    assert len(result.skipped) == 1


# -- crafted values: bounded time and memory ------------------------------------


def test_superscript_digits_in_a_date_do_not_crash_the_analyzer() -> None:
    assert is_dummy_date("²0230101") is True


def test_placeholder_check_stops_at_the_first_real_word() -> None:
    assert is_placeholder("ANONYMOUS 123") and is_placeholder("^^") and not is_placeholder("ANONYMOUS Smith")
    assert not is_placeholder("Smith " + "x " * 5_000_000)


def test_word_runs_and_find_agree() -> None:
    """The chunked word-run lookup (many tokens) finds exactly what one str.find per token finds."""
    rng = random.Random(7)
    alphabet = "ab1 -_.,éA\n"
    for _ in range(300):
        words = {"".join(rng.choice("ab1") for _ in range(rng.randrange(1, 4))): Kind.NAME for _ in range(3)}
        words["zz9"] = Kind.ID
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60))).lower()
        by_find: set[Kind] = set()
        by_runs: set[Kind] = set()
        _find(text, words, by_find)
        _find_runs(text, words, by_runs)
        assert by_find == by_runs, (text, words)


def test_too_much_to_cross_check_is_an_error_not_a_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propagation, "SCAN_BUDGET", 1000)
    names = "^".join(f"Müller{i}" for i in range(50)).encode("latin-1")  # 50 tokens that need str.find
    body = (
        element(0x00080005, b"CS", b"ISO_IR 100")
        + element(0x00100010, b"PN", even(names))
        + element(0x00104000, b"LT", b"x" * 200)
    )
    reason = _only_error(_write(tmp_path / "x.dcm", part10(body)))
    assert reason.startswith("malformed DICOM file: too much text to search for")


def test_too_many_identifiers_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propagation, "MAX_TOKENS", 10)
    index = PropagationIndex()
    with pytest.raises(propagation.IndexBudgetExceeded, match="more than 10 distinct identifiers"):
        index.add_name("^".join(f"Name{i}" for i in range(20)))


def test_length_field_larger_than_the_file_is_absurd(tmp_path: Path) -> None:
    data = part10(patient() + element(0x00081030, b"LO", b"x", length=0xFFF0))
    assert _only_error(_write(tmp_path / "x.dcm", data)).startswith("malformed DICOM file: absurd element length")
