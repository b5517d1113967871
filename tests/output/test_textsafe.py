"""safe_text: file names (any bytes) as printable, encodable, reversible text."""

from __future__ import annotations

import os
import random
import unicodedata

import pytest

from dicomaudit.textsafe import encodable, map_strings, safe_text, scrub, unescape_bytes, unescape_text

SEED = 20240611


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"plain.dcm", "plain.dcm"),
        ("Müller 山田 😀.dcm".encode(), "Müller 山田 😀.dcm"),  # valid UTF-8 passes through
        (b"bad\xff\xfe.dcm", "bad\\xff\\xfe.dcm"),  # bytes that are not UTF-8: \xNN
        (b"esc\x1b[31mred", "esc\\x1b[31mred"),  # C0 controls: \xNN
        (b"new\nline\ttab\x7f", "new\\x0aline\\x09tab\\x7f"),  # newline, tab, DEL
        ("c1\u0085\u009b".encode(), "c1\\u0085\\u009b"),  # C1 controls: \u00NN, distinct from the bytes 85 9b
        (b"\x85\x9b", "\\x85\\x9b"),
        ("bidi\u202eevil\u2028".encode(), "bidi\\u202eevil\\u2028"),  # bidi override, line separator
        (b"back\\slash", "back\\\\slash"),  # a backslash doubles, so "\\x41" cannot be confused with "A"
        (b"[bold]x[/bold]", "[bold]x[/bold]"),  # markup is the console's business, not this one's
    ],
)
def test_escaping_rule(raw: bytes, shown: str) -> None:
    assert safe_text(raw) == safe_text(os.fsdecode(raw)) == shown
    assert unescape_bytes(shown) == raw


def _random_name(rng: random.Random) -> bytes:
    """Bytes biased towards the interesting ones: controls, backslash, high bytes, UTF-8 sequences."""
    pieces = [
        lambda: bytes([rng.randrange(256)]),
        lambda: bytes([rng.choice([0x00, 0x07, 0x0A, 0x0D, 0x1B, 0x5C, 0x7F, 0x80, 0x9B, 0xC2, 0xE2, 0xFF])]),
        lambda: rng.choice(["é", "山", "😀", "\u0085", "\u202e", "\u2028", "\\x41", "\\u0041"]).encode(),
        lambda: rng.choice([b"\xc2", b"\xe2\x80", b"\xf0\x9f\x98", b"\xed\xa0\x80"]),  # cut or invalid UTF-8
        lambda: bytes(rng.randrange(0x20, 0x7F) for _ in range(rng.randrange(1, 5))),
    ]
    return b"".join(rng.choice(pieces)() for _ in range(rng.randrange(0, 24)))


def _is_safe(text: str) -> bool:
    text.encode("utf-8")  # raises on a lone surrogate
    return not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in text)


def test_random_byte_names_round_trip_and_come_out_safe() -> None:
    """Property (fixed seed): for any byte string, safe_text is printable UTF-8, and unescaping gives the bytes back."""
    rng = random.Random(SEED)
    seen: dict[str, bytes] = {}
    for _ in range(5000):
        raw = _random_name(rng)
        shown = safe_text(raw)
        assert _is_safe(shown), (raw, shown)
        assert unescape_bytes(shown) == raw, (raw, shown)
        assert unescape_text(shown) == os.fsdecode(raw)
        assert scrub(shown) == shown
        assert seen.setdefault(shown, raw) == raw  # injective: two names never look the same


def test_random_text_round_trips_including_lone_surrogates() -> None:
    rng = random.Random(SEED + 1)
    for _ in range(2000):
        text = "".join(
            chr(rng.choice([rng.randrange(0x110000), rng.randrange(0xD800, 0xE000), rng.randrange(0xA0)]))
            for _ in range(rng.randrange(0, 16))
        )
        shown = safe_text(text)
        assert _is_safe(shown)
        assert unescape_text(shown) == text


@pytest.mark.parametrize("text", ["a\\b", "trailing\\", "\\x4", "\\u12", "\\q"])
def test_unescape_rejects_what_safe_text_cannot_produce(text: str) -> None:
    with pytest.raises(ValueError, match="backslash"):
        unescape_text(text)


def test_unescape_bytes_rejects_a_surrogate_no_byte_string_decodes_to() -> None:
    with pytest.raises(ValueError):
        unescape_bytes("\\ud800")


def test_scrub_keeps_layout_and_backslashes_and_escapes_the_rest() -> None:
    assert scrub("a\\b\tc\nd\r") == "a\\b\tc\nd\r"
    assert scrub("x\x1b[2J\x00\udcff\u202e") == "x\\x1b[2J\\x00\\xff\\u202e"
    assert scrub(scrub("\x1b\udcff")) == scrub("\x1b\udcff")


def test_encodable_escapes_only_lone_surrogates() -> None:
    assert encodable("ok\x1b\udcff\ud800é") == "ok\x1b\\xff\\ud800é"


def test_map_strings_reaches_keys_values_and_nested_sequences() -> None:
    tree = {"k\udcff": ["v\udcff", ("t\udcff", 1)], "n": None}
    assert map_strings(tree, encodable) == {"k\\xff": ["v\\xff", ["t\\xff", 1]], "n": None}
