"""Masking of identifying values for reports and logs.

The point of an audit report is to say *that* and *where* identifying data
sits, not to copy it into yet another file.  Masked values keep at most the
first character and always have the same length, so neither the value nor
its length leaks (a 4-letter surname and a 14-letter one look the same).
"""

from __future__ import annotations

import codecs
import re
from functools import cache

MASK_CHAR = "*"
MASK_WIDTH = 5  # stars after the kept character; fixed so lengths do not leak


def mask_value(value: str) -> str:
    """Mask an identifying value: ``"SMITH^JOHN"`` -> ``"S*****"``.

    Parameters
    ----------
    value
        The raw value, any length.

    Returns
    -------
    str
        ``""`` for an empty value; otherwise the first character (only when
        the value has at least three characters, so short values are not
        half-revealed) followed by a fixed run of ``*``.
    """
    text = str(value).strip()
    if not text:
        return ""
    first = text[0] if len(text) >= 3 and text[0].isprintable() else MASK_CHAR
    return first + MASK_CHAR * MASK_WIDTH


# A quoted substring: a quote (after an optional bytes prefix) that does not
# follow a letter or digit, up to the same quote that is not followed by one,
# so "Patient's Name" holds no quote and 'O'Brien' is one quoted value.
_QUOTED = re.compile(r"(?<![A-Za-z0-9])(b?)(['\"])(.*?)\2(?![A-Za-z0-9])")
# Any quote left after masking that is not an apostrophe inside a word.
_STRAY_QUOTE = re.compile(r"\"|(?<![A-Za-z])'|'(?![A-Za-z])")
_TAG_TEXT = re.compile(r"\((?:0x)?[0-9A-Fa-f]{4}, ?(?:0x)?[0-9A-Fa-f]{4}\)|0x[0-9A-Fa-f]{8}")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HEX_NUMBER = re.compile(r"0x[0-9A-Fa-f]+")
_CODEC_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


@cache
def _vocabulary() -> frozenset[str]:
    """Words pydicom quotes that identify nothing: VRs, keywords of its dictionary, registered UIDs."""
    from pydicom.datadict import keyword_dict
    from pydicom.uid import UID_dictionary
    from pydicom.valuerep import VR

    return frozenset({vr.value for vr in VR} | set(keyword_dict) | set(UID_dictionary) | {"None"})


def _harmless(text: str) -> bool:
    """Quoted text that cannot be a header value of a person: tags, VRs, keywords, standard UIDs, small numbers.

    UIDs are kept only when registered (transfer syntaxes, SOP classes):
    instance UIDs are identifiers (PS3.15 Table E.1-1 replaces them).
    Numbers are kept up to four digits: lengths and counts, not dates or IDs.
    """
    if not text or text in _vocabulary():
        return True
    if _TAG_TEXT.fullmatch(text) or _HEX_NUMBER.fullmatch(text):
        return True
    if _NUMBER.fullmatch(text) and sum(c.isdigit() for c in text) <= 4:
        return True
    if _CODEC_NAME.fullmatch(text) and (text == "ascii" or any(c in text for c in "-_0123456789")):
        try:
            codecs.lookup(text)  # 'utf-8' codec can't decode byte 0xff...
            return True
        except LookupError:
            return False
    return False


def mask_quoted(message: str) -> str:
    """Mask every quoted substring of ``message`` that could be a header value.

    ``Invalid value for VR DA: '19850312'`` -> ``Invalid value for VR DA: '1*****'``;
    tags, VRs, dictionary keywords, registered UIDs, small numbers and codec
    names stay readable (see :func:`_harmless`).  A quote left unmatched
    (a value cut at a newline, a quote inside a value) masks everything after it.
    """

    def mask(m: re.Match[str]) -> str:
        prefix, quote, inner = m.groups()
        return m.group() if _harmless(inner) else f"{prefix}{quote}{mask_value(inner)}{quote}"

    masked = _QUOTED.sub(mask, message)
    # Re-scan outside the masked spans only: stray quotes are checked on the
    # text with every matched pair removed.
    remainder = _QUOTED.sub(lambda m: "\0" * len(m.group()), masked)
    stray = _STRAY_QUOTE.search(remainder)
    if stray is not None:
        masked = masked[: stray.start()] + "<value>"
    return masked
