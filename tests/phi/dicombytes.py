"""Hand-encoded DICOM bytes (explicit VR little endian) for tests that need a broken encoding.

pydicom refuses to write most of what these tests need (a value longer than
its item, a stray delimiter, two elements with one tag), so the bytes are
put together here, element by element.
"""

from __future__ import annotations

import struct

from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
UNDEFINED = 0xFFFFFFFF
ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def even(value: bytes, pad: bytes = b" ") -> bytes:
    return value + pad if len(value) % 2 else value


def element(tag: int, vr: bytes, value: bytes = b"", *, length: int | None = None) -> bytes:
    """One element; ``length`` overrides the declared length (to lie about it)."""
    n = len(value) if length is None else length
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr, 0, n) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, n) + value


def item(body: bytes, *, length: int | None = None) -> bytes:
    """A sequence item of defined length (``length=UNDEFINED``: add ``ITEM_END`` yourself)."""
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body) if length is None else length) + body


def sequence(tag: int, *items: bytes, length: int | None = None) -> bytes:
    body = b"".join(items)
    return element(tag, b"SQ", body, length=length)


def part10(body: bytes, *, sop_instance: bytes = b"2.25.1") -> bytes:
    """Preamble, DICM and a file meta group (explicit VR little endian) before ``body``."""
    meta = (
        element(0x00020001, b"OB", b"\x00\x01")
        + element(0x00020002, b"UI", even(CTImageStorage.encode(), b"\x00"))
        + element(0x00020003, b"UI", even(sop_instance, b"\x00"))
        + element(0x00020010, b"UI", even(ExplicitVRLittleEndian.encode(), b"\x00"))
    )
    return b"\x00" * 128 + b"DICM" + element(0x00020000, b"UL", struct.pack("<I", len(meta))) + meta + body


def patient(name: bytes = b"Garcia^Leila") -> bytes:
    """The start of a data set with a name and an ID (tags in ascending order)."""
    return (
        element(0x00080016, b"UI", even(CTImageStorage.encode(), b"\x00"))
        + element(0x00080018, b"UI", even(b"2.25.1", b"\x00"))
        + element(0x00100010, b"PN", even(name))
        + element(0x00100020, b"LO", b"P5561023")
    )
