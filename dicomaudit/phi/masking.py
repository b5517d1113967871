"""Masking of identifying values for reports and logs.

The point of an audit report is to say *that* and *where* identifying data
sits, not to copy it into yet another file.  Masked values keep at most the
first character and always have the same length, so neither the value nor
its length leaks (a 4-letter surname and a 14-letter one look the same).
"""

from __future__ import annotations

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
