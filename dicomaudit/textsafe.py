r"""Text that is safe to print and to store, whatever a file name holds.

A POSIX file name is any sequence of bytes except ``/`` and NUL.  Python
decodes the bytes that are not UTF-8 as lone surrogates (``surrogateescape``,
U+DC80..U+DCFF), which no UTF-8 writer can encode, and a name may also hold
control characters (``ESC [31m`` recolours a terminal, a newline forges a log
line or a CSV row) or bidirectional overrides that make a name display as
something else.  :func:`safe_text` turns every such name into plain, printable
text, losslessly, and :func:`unescape_text` / :func:`unescape_bytes` undo it.

The escaping rule (stable: reports and pipelines depend on it):

* a byte that is not valid UTF-8 becomes ``\xNN`` (NN = the byte, 80..ff);
* a C0 control character (U+0000..U+001F) or DEL (U+007F) becomes ``\xNN``
  (NN = its code, 00..1f or 7f);
* a C1 control character (U+0080..U+009F), a line or paragraph separator
  (U+2028, U+2029), a bidirectional control (U+061C, U+200E, U+200F,
  U+202A..U+202E, U+2066..U+2069) or any other lone surrogate becomes
  ``\uNNNN``;
* a backslash becomes ``\\``;
* everything else (accents, CJK, emoji, spaces) passes through unchanged.

``\xNN`` therefore always means "the byte NN" and ``\uNNNN`` "the code point
U+NNNN": the C1 character U+0080 (UTF-8 bytes C2 80) and the stray byte 80 stay
distinct, and doubling the backslash makes the mapping reversible.  All
escapes use lower-case hex.

:func:`scrub` is the writers' last line of defence for text that did not come
through :func:`safe_text` (network evidence, command lines): it escapes the
same characters except tab, newline, carriage return and backslash, so its
result is always encodable and terminal-safe, but not reversible.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

# One character class for everything safe_text escapes; _escape picks the
# spelling per character.  A lone surrogate is the only way a Python str can
# hold a surrogate code point (a valid astral character is one code point), so
# the range \ud800-\udfff matches exactly the text no UTF-8 writer can encode.
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# scrub: the same set minus backslash and the three layout characters every
# output format handles itself (JSON and CSV quote them, HTML and XML allow them).
_UNSAFE_FOR_WRITERS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ESCAPE = re.compile(r"\\(?:(\\)|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4}))")
_SURROGATE_BYTES = 0xDC00  # surrogateescape decodes byte 0xNN (>= 0x80) as U+DCNN


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code < 0x80:  # C0 controls and DEL: the character is the byte
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
        return f"\\x{code - _SURROGATE_BYTES:02x}"
    return f"\\u{code:04x}"


def safe_text(text: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    r"""A name (or any text) as printable, encodable, reversible text.

    Parameters
    ----------
    text
        A ``str`` (possibly holding ``surrogateescape`` code points, as
        :func:`os.fsdecode` and :func:`os.listdir` return for names that are
        not UTF-8), ``bytes`` (decoded with :func:`os.fsdecode`) or a path.

    Returns
    -------
    str
        The text with the characters listed in the module docstring escaped:
        always encodable as UTF-8, free of control characters, and
        ``unescape_text(safe_text(s)) == s`` for every ``str`` ``s``.

    Examples
    --------
    >>> safe_text(b"scan\xff\x1b[31m.dcm")
    'scan\\xff\\x1b[31m.dcm'
    >>> print(safe_text(b"scan\xff\x1b[31m.dcm"), safe_text("C:\\new"), safe_text("Müller 山田"))
    scan\xff\x1b[31m.dcm C:\\new Müller 山田
    """
    value = os.fspath(text)
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    return _UNSAFE.sub(_escape, value)


def _unescape(match: re.Match[str]) -> str:
    backslash, byte, code_point = match.groups()
    if backslash:
        return "\\"
    if byte:
        n = int(byte, 16)
        return chr(n) if n < 0x80 else chr(_SURROGATE_BYTES + n)
    return chr(int(code_point, 16))


def unescape_text(text: str) -> str:
    r"""Undo :func:`safe_text`: the original ``str`` (non-UTF-8 bytes as ``surrogateescape`` code points).

    Raises
    ------
    ValueError
        When ``text`` holds a backslash that does not start one of the three
        escapes (``\\``, ``\xNN``, ``\uNNNN``): :func:`safe_text` cannot
        have produced it.
    """
    parts: list[str] = []
    pos = 0
    for match in _ESCAPE.finditer(text):
        _literal(text, pos, match.start(), parts)
        parts.append(_unescape(match))
        pos = match.end()
    _literal(text, pos, len(text), parts)
    return "".join(parts)


def _literal(text: str, start: int, end: int, parts: list[str]) -> None:
    chunk = text[start:end]
    if "\\" in chunk:
        raise ValueError(f"stray backslash at offset {start + chunk.index(chr(92))}: not produced by safe_text")
    parts.append(chunk)


def unescape_bytes(text: str) -> bytes:
    r"""Undo :func:`safe_text` down to the original bytes of a file name.

    ``\xNN`` escapes of bytes 80..ff come back as those bytes; everything else
    is encoded as UTF-8.  Raises ``ValueError`` on text :func:`safe_text`
    cannot have produced from bytes (including a ``\uNNNN`` escape of a
    surrogate, which no byte string decodes to).
    """
    try:
        return unescape_text(text).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not the escaped form of a byte string: {exc.reason}") from None


def scrub(text: str) -> str:
    """Make any text encodable and terminal-safe; lossy (see the module docstring).

    For text that did not come through :func:`safe_text`.  Idempotent, and a
    no-op on the output of :func:`safe_text` (the escapes are spelt the same).
    """
    return _UNSAFE_FOR_WRITERS.sub(_escape, text)


def encodable(text: str) -> str:
    """Only the lone surrogates of ``text`` escaped, spelt as :func:`safe_text` spells them.

    For JSON, which escapes control characters itself: the text stays as
    close to the data as possible and can always be written as UTF-8.
    """
    return _LONE_SURROGATE.sub(_escape, text)


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """Apply ``fn`` to every ``str`` in a JSON-like tree, dict keys included.

    Mappings become dicts and tuples become lists, as ``json.dumps`` renders
    them anyway; other values are returned as they are.
    """
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {map_strings(k, fn): map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_strings(v, fn) for v in value]
    return value
