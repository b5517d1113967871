"""Is a data set's encoding consistent?  A strict look at what pydicom reads, and a reader that keeps it.

Used for files (:func:`check_structure`) and for data sets received over
the network, such as C-FIND identifiers (:func:`check_encoded`): one walker,
so a value that overruns its container is caught the same way wherever it
comes from.

pydicom is lenient on purpose: it reads a value shorter than its declared
length without complaint, lets an element run past the end of its sequence
item into the next one, takes any tag where an item should start, stops a
data set at a stray delimiter and keeps only the last of two elements with
the same tag.  Each of these turns a damaged or crafted file into a data set
that parses but says something the file does not: values made of the bytes
of their neighbours, elements that are never seen.  An auditor must not
report on such a file as if it had read it: it is an input error.

:func:`check_structure` walks the encoding of a PS3.10 file (command set,
file meta group, data set, every sequence and item at any depth) with the
same decisions pydicom makes when it reads (transfer syntax, per-element
implicit VR switch, UN and private sequences of undefined length, the stop
before pixel data), and checks only what pydicom does not:

* every value, item and sequence fits inside its container (the item or
  sequence of defined length around it, else the file);
* a defined-length item or sequence is filled exactly by what it holds;
* a sequence holds only items (FFFE,E000) and, if of undefined length, ends
  with a delimiter (FFFE,E0DD); delimiters appear only where they end
  something;
* no tag appears twice with different values in one data set or item
  (pydicom would keep the last);
* sequences nest no deeper than :data:`MAX_DEPTH` (the analyzer walks no deeper).

:func:`read_header` is the same walk keeping what it walks: the file's data
set up to its pixel data, as pydicom's reader would hold it (raw elements,
converted on access; sequences as items).  The analyzer reads files that way
-- one pass instead of pydicom's read followed by this check -- and leaves
the rest (no ``DICM`` prefix, deflated or private transfer syntaxes, command
sets, elements after the pixel data, broken encodings) to pydicom's read and
:func:`check_structure`, which also give the reason a file is refused.

The walk reads the file in cached blocks with :func:`os.pread` and skips the
pixel data without reading it.  Not :mod:`mmap`: a file truncated by another
process while mapped (a folder still being written to) would kill the
process with SIGBUS; read here, it is a truncated file.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pydicom import config
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import DicomDictionary, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    PrivateTransferSyntaxes,
)
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR

#: Deeper than any real IOD (SR trees rarely pass 10); protects the walks
#: (this check's and the analyzer's) from crafted files nesting sequences
#: thousands deep.
MAX_DEPTH = 64

_ITEM = 0xFFFEE000
_ITEM_DELIMITER = 0xFFFEE00D
_SEQUENCE_DELIMITER = 0xFFFEE0DD
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # where stop_before_pixels stops
_UNDEFINED = 0xFFFFFFFF
_KNOWN_VRS = frozenset(vr.value.encode("ascii") for vr in VR)
_LONG_VRS = frozenset(vr.value for vr in EXPLICIT_VR_LENGTH_32)
#: Known VRs with a 2-byte length in explicit VR: the bytes of each, and its name.
_SHORT_VRS = {vr.value.encode("ascii"): vr.value for vr in VR if vr.value not in _LONG_VRS}


class StructureError(ValueError):
    """The file's encoding is inconsistent; ``str()`` is the user-facing reason."""


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass(frozen=True)
class _Region:
    """Where a data set's or sequence's contents may lie.

    ``end`` is the exact end of a defined-length item or sequence, ``None``
    for one that ends with a delimiter; nothing may pass ``limit``, the end
    of the innermost container of defined length (``within``: "file", "item"
    or "sequence").
    """

    end: int | None
    limit: int
    within: str

    def inner(self, end: int | None, what: str) -> _Region:
        return _Region(end, end, what) if end is not None else _Region(None, self.limit, self.within)


class _Reader:
    """Random access to encoded bytes: a file read with ``os.pread`` in cached blocks, or bytes in memory."""

    _BLOCK = 1 << 16
    _CACHED_BLOCKS = 64  # 4 MiB: the walk goes forward, so a short memory suffices

    def __init__(self, size: int, pread: Callable[[int, int], bytes]) -> None:
        self.size = size
        self._pread = pread  # (count, offset) -> bytes, short at the end of the data
        self._cache: dict[int, bytes] = {}

    @classmethod
    def of_bytes(cls, data: bytes) -> _Reader:
        return cls(len(data), lambda count, offset: data[offset : offset + count])

    @classmethod
    def of_file(cls, fd: int) -> _Reader:
        return cls(os.fstat(fd).st_size, lambda count, offset: os.pread(fd, count, offset))

    def _block(self, index: int) -> bytes:
        block = self._cache.get(index)
        if block is None:
            if len(self._cache) >= self._CACHED_BLOCKS:
                del self._cache[next(iter(self._cache))]  # the oldest
            block = self._cache[index] = self._pread(self._BLOCK, index * self._BLOCK)
        return block

    def read(self, pos: int, count: int) -> bytes:
        """``count`` bytes from ``pos`` (callers stay within :attr:`size`)."""
        # Fast path: nearly every read is a header of a few bytes inside one
        # cached block (the walk costs a third of a file's analysis otherwise).
        index, offset = divmod(pos, self._BLOCK)
        block = self._cache.get(index)
        if block is not None and offset + count <= len(block):
            return block[offset : offset + count]
        parts = []
        end = pos + count
        while pos < end:
            index, offset = divmod(pos, self._BLOCK)
            part = self._block(index)[offset : offset + end - pos]
            if not part:  # shorter than when the walk began
                raise StructureError("truncated DICOM file: the file shrank while it was read")
            parts.append(part)
            pos += len(part)
        return b"".join(parts)

    def find(self, needle: bytes, start: int, end: int) -> int:
        """Offset of ``needle`` wholly inside ``[start, end)``, else -1; read a MiB at a time."""
        pos = start
        while end - pos >= len(needle):
            chunk = self.read(pos, min(end - pos, 1 << 20))
            found = chunk.find(needle)
            if found >= 0:
                return pos + found
            pos += len(chunk) - len(needle) + 1
        return -1

    def same(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        """Do two ranges hold the same bytes?  Compared a MiB at a time."""
        if a[1] - a[0] != b[1] - b[0]:
            return False
        for offset in range(0, a[1] - a[0], 1 << 20):
            count = min(1 << 20, a[1] - a[0] - offset)
            if self.read(a[0] + offset, count) != self.read(b[0] + offset, count):
                return False
        return True


def _raw(tag: int, vr: str | None, length: int, value: Any, tell: int, implicit: bool,
         little: bool) -> RawDataElement:  # fmt: skip
    """pydicom's raw element (its ``tag`` a BaseTag, as pydicom's conversion expects), without the
    keyword-default constructor."""
    return tuple.__new__(RawDataElement, (BaseTag(tag), vr, length, value, tell, implicit, little, True, False))


class _Collected:
    """The elements of one data set or item as the walk keeps them (``into``): pydicom's raw elements, and
    :class:`_Items` for the sequences it walked."""

    __slots__ = ("elements", "implicit", "src")

    def __init__(self, src: _Reader) -> None:
        self.src = src
        self.elements: dict[int, RawDataElement | _Items | DataElement] = {}
        self.implicit = True

    def keep(self, tag: int, vr: str | None, length: int, start: int, implicit: bool, little: bool,
             count: int | None = None) -> None:  # fmt: skip
        """The element whose value (``count`` bytes, default ``length``) starts at ``start``, as pydicom's
        ``data_element_generator`` yields it."""
        count = length if count is None else count
        value = self.src.read(start, count) if count else empty_value_for_VR(vr, raw=True)
        # Keyed by plain int (pydicom looks up with its BaseTag, an int): sorting and
        # looking up ints costs no Python-level comparison.
        self.elements[tag] = _raw(tag, vr, length, value, start, implicit, little)


class _Items:
    """A sequence the walk went through: its items, where its value starts, and whether it has a delimiter."""

    __slots__ = ("items", "tell", "undefined")

    def __init__(self, items: list[_Collected], tell: int, *, undefined: bool) -> None:
        self.items = items
        self.tell = tell
        self.undefined = undefined


class _Walker:
    def __init__(self, src: _Reader, little: bool) -> None:
        self.src = src
        self.size = src.size
        self.little = little
        order = "<" if little else ">"
        self.u16 = struct.Struct(order + "H").unpack
        self.u32 = struct.Struct(order + "I").unpack
        self.tag_of = struct.Struct(order + "HH").unpack_from  # the first 4 bytes of a header
        self.u16_from = struct.Struct(order + "H").unpack_from
        self.u32_from = struct.Struct(order + "I").unpack_from
        self.item_of = struct.Struct(order + "HHI").unpack
        self.delimiter = b"\xfe\xff\xdd\xe0" if little else b"\xff\xfe\xe0\xdd"  # (FFFE,E0DD)

    def tag_at(self, pos: int) -> tuple[int, int]:
        return self.tag_of(self.src.read(pos, 4))

    def item_header(self, pos: int) -> tuple[int, int, int]:
        return self.item_of(self.src.read(pos, 8))

    # -- errors -----------------------------------------------------------
    def overrun(self, what: str, pos: int, declared: int, region: _Region) -> StructureError:
        if region.within == "file":
            if declared > self.size:
                return StructureError(
                    f"malformed DICOM file: absurd element length ({declared} bytes declared, file has {self.size})"
                )
            return StructureError("truncated DICOM file: ends inside an element")
        return StructureError(
            f"malformed DICOM file: {what} at offset {pos:#x} declares {declared} bytes, "
            f"more than its {region.within} holds"
        )

    def cut(self, what: str, pos: int, region: _Region) -> StructureError:
        if region.within == "file":
            return StructureError(f"truncated DICOM file: ends inside {what} at offset {pos:#x}")
        return StructureError(f"malformed DICOM file: {what} at offset {pos:#x} crosses the end of its {region.within}")

    # -- data sets --------------------------------------------------------
    def peek_implicit(self, pos: int, assumed: bool, limit: int, in_item: bool) -> bool:
        """pydicom's choice of a data set's VR encoding from its first element (``_is_implicit_vr``)."""
        if in_item and assumed:
            return True  # items of an implicit VR data set never switch to explicit
        if pos + 6 > limit:
            return assumed
        b0, b1 = self.src.read(pos + 4, 2)
        return not (0x40 < b0 < 0x5B and 0x40 < b1 < 0x5B)

    def dataset(
        self,
        pos: int,
        region: _Region,
        implicit: bool,
        depth: int,
        *,
        in_item: bool,
        stop: Callable[[int], bool] | None = None,
        seen: dict[int, tuple[int, int]] | None = None,
        peek: bool = True,
        into: _Collected | None = None,
    ) -> int:
        """Check the elements from ``pos``; return where the data set ends (after its delimiter, if any).

        ``seen`` (tag -> where its first occurrence lies) carries over when one
        data set is walked in parts; ``peek=False`` keeps ``implicit`` as given.
        ``into``: also keep each element, as pydicom's reader would hold it.
        """
        limit = region.limit
        if peek:
            implicit = self.peek_implicit(pos, implicit, limit, in_item)
        if into is not None:
            into.implicit = implicit
        seen = {} if seen is None else seen
        # The loop runs once per element of every file: the common case (an
        # 8-byte header inside a cached block) is read without a call.
        src = self.src
        cache, block_size = src._cache, src._BLOCK
        tag_of, u16_from, u32_from = self.tag_of, self.u16_from, self.u32_from
        end_at = region.end
        while True:
            if end_at is not None and pos == end_at:
                return pos
            if pos + 8 > limit:
                if in_item and region.end is None:
                    raise StructureError(
                        "truncated DICOM file: item without its delimiter (FFFE,E00D)"
                        if region.within == "file"
                        else f"malformed DICOM file: item without its delimiter (FFFE,E00D) in its {region.within}"
                    )
                if not in_item and not any(self.src.read(pos, limit - pos)):
                    return pos  # end of file, or NUL padding too short to be an element (pydicom stops there too)
                raise self.cut("an element header", pos, region)
            index, offset = divmod(pos, block_size)
            block = cache.get(index)
            if block is not None and offset + 8 <= len(block):
                head = block[offset : offset + 8]
            else:
                head = src.read(pos, 8)
            group, element = tag_of(head)
            tag = group << 16 | element
            if stop is not None and stop(tag):
                return pos
            if tag == _ITEM_DELIMITER:
                if in_item and region.end is None:
                    return pos + 8
                raise StructureError(
                    f"malformed DICOM file: item delimiter (FFFE,E00D) at offset {pos:#x} "
                    "ends nothing (pydicom would ignore the rest of the data set)"
                )
            # The two common headers decoded here; the rest in header().
            if implicit:
                vr, length, header = None, u32_from(head, 4)[0], 8
            else:
                vr = _SHORT_VRS.get(head[4:6])
                if vr is not None:
                    length, header = u16_from(head, 6)[0], 8
                else:
                    vr, length, header = self.header(pos, implicit, head)
            if pos + header > limit:
                raise self.cut("an element header", pos, region)
            element_start, start = pos, pos + header
            if length == _UNDEFINED:
                items: list[_Collected] | None = [] if into is not None else None
                pos, is_sequence = self.undefined_value(tag, vr, start, implicit, region, depth, items)
                if into is not None:
                    if is_sequence:
                        into.elements[tag] = _Items(items or [], start, undefined=True)
                    else:  # the bytes up to the sequence delimiter, as pydicom reads them
                        into.keep(tag, vr, _UNDEFINED, start, implicit, self.little, pos - 8 - start)
            else:
                end = start + length
                if end > limit:
                    raise self.overrun(f"element {_tag(tag)}", pos, length, region)
                if vr == "SQ" or (vr is None and not group & 1 and _is_sequence_tag(tag)):
                    items = [] if into is not None and length else None
                    self.sequence(start, region.inner(end, "sequence"), implicit, depth + 1, items)
                    if items is not None:
                        into.elements[tag] = _Items(items, start, undefined=False)  # type: ignore[union-attr]
                    elif into is not None:
                        into.keep(tag, vr, length, start, implicit, self.little)
                elif into is not None:
                    if length and block is not None and offset + header + length <= len(block):
                        # Most values lie in the block their header came from: kept without a call.
                        value = block[offset + header : offset + header + length]
                        into.elements[tag] = tuple.__new__(
                            RawDataElement, (BaseTag(tag), vr, length, value, start, implicit, self.little, True, False)
                        )
                    else:
                        into.keep(tag, vr, length, start, implicit, self.little)
                pos = end
            first = seen.setdefault(tag, (element_start, pos))
            # pydicom keeps only the last of two elements with one tag: harmless
            # when they are byte for byte the same, a hidden value otherwise.
            if first[0] != element_start and not self.src.same(first, (element_start, pos)):
                raise StructureError(
                    f"malformed DICOM file: element {_tag(tag)} appears twice in one data set "
                    "with different values (pydicom would keep only the last)"
                )

    def header(self, pos: int, implicit: bool, head: bytes | None = None) -> tuple[str | None, int, int]:
        """(VR or None, length, header size) of the element at ``pos``, decoded as pydicom decodes it.

        ``head`` is the element's first 8 bytes when the caller has read them already.
        """
        if head is None:
            head = self.src.read(pos, 8)
        if implicit:
            return None, self.u32(head[4:])[0], 8
        raw_vr = head[4:6]
        if raw_vr in _KNOWN_VRS:
            vr = raw_vr.decode("ascii")
            if vr in _LONG_VRS:
                if pos + 12 > self.size:
                    return vr, 0, 12  # the caller reports the cut header
                return vr, self.u32(self.src.read(pos + 8, 4))[0], 12
            return vr, self.u16(head[6:])[0], 8
        if not b"AA" <= raw_vr <= b"ZZ":
            # pydicom's per-element switch to implicit VR inside an explicit VR data set
            return None, self.u32(head[4:])[0], 8
        return raw_vr.decode("latin-1"), self.u16(head[6:])[0], 8  # unknown VR: 2-byte length, as pydicom

    def undefined_value(self, tag: int, vr: str | None, start: int, implicit: bool, region: _Region, depth: int,
                        items: list[_Collected] | None = None) -> tuple[int, bool]:  # fmt: skip
        """Where an undefined-length value ends, and whether it is a sequence (walked; its items kept in
        ``items``) rather than bytes up to a sequence delimiter."""
        if vr == "UN" and config.settings.infer_sq_for_un_vr:
            vr = "SQ"  # PS3.5 6.2.2
        if vr is None or (vr == "UN" and config.replace_un_with_known_vr):
            vr = _dictionary_vr(tag)
            if vr is None and start + 4 <= region.limit:  # private or unknown: a sequence if an item follows
                group, element = self.tag_at(start)
                vr = "SQ" if (group << 16 | element) == _ITEM else None
        if vr == "SQ":
            return self.sequence(start, region.inner(None, "sequence"), implicit, depth + 1, items), True
        found = self.src.find(self.delimiter, start, region.limit)
        if found < 0 or found + 8 > region.limit:
            raise StructureError(
                f"malformed DICOM file: undefined-length element {_tag(tag)} without its "
                f"sequence delimiter in its {region.within}"
            )
        return found + 8, False

    # -- the top level ------------------------------------------------------
    def top_level(self, pos: int, region: _Region, into: _Collected | None = None) -> list[tuple[int, int]]:
        """Check the data set from ``pos`` to the end; return where elements *after* the pixel data lie.

        The header read stops before the pixel data, but elements may follow
        it (digital signatures, padding, private groups above 7FE0): they are
        checked like the rest and returned as ``(start, end)`` stretches for
        the caller to read.  The pixel data itself is only skipped; when it
        runs past the end of the file the file was cut short (a copy or
        transfer that stopped): a truncated file, even with its header intact.
        """
        implicit = self.peek_implicit(pos, True, region.limit, in_item=False)
        seen: dict[int, tuple[int, int]] = {}
        stretches: list[tuple[int, int]] = []
        start = None
        while True:
            pos = self.dataset(pos, region, implicit, 0, in_item=False, stop=_at_pixel_data, seen=seen, peek=False,
                               into=into)  # fmt: skip
            if start is not None and pos > start:
                stretches.append((start, pos))
            if pos + 8 > region.limit:
                return stretches  # the end of the file (or NUL padding)
            after = self.skip_pixel_data(pos, implicit, region.limit)
            if after is None:
                raise StructureError(
                    f"truncated DICOM file: the pixel data at offset {pos:#x} runs past the end of the file "
                    f"({self.size} bytes): the image was cut short"
                )
            pos = start = after

    def skip_pixel_data(self, pos: int, implicit: bool, limit: int) -> int | None:
        """Where the pixel data element at ``pos`` ends; ``None`` when it runs past ``limit``."""
        vr, length, header = self.header(pos, implicit)
        start = pos + header
        if start > limit:
            return None
        if length != _UNDEFINED:
            return start + length if start + length <= limit else None
        # Encapsulated (PS3.5 A.4): items of defined length, then a sequence delimiter.
        while start + 8 <= limit:
            group, element, length = self.item_header(start)
            tag = group << 16 | element
            if tag == _SEQUENCE_DELIMITER:
                return start + 8
            if tag != _ITEM or length == _UNDEFINED:
                return None
            start += 8 + length
        return None

    # -- sequences --------------------------------------------------------
    def sequence(self, pos: int, region: _Region, implicit: bool, depth: int,
                 items: list[_Collected] | None = None) -> int:  # fmt: skip
        """Check a sequence's items (and keep them in ``items``); return where it ends (after its delimiter, if any)."""
        if depth > MAX_DEPTH:
            raise StructureError(f"malformed DICOM file: sequences nested deeper than {MAX_DEPTH} levels")
        while True:
            if region.end is not None and pos == region.end:
                return pos
            if pos + 8 > region.limit:
                if region.end is None and region.within == "file":
                    raise StructureError("truncated DICOM file: sequence without its delimiter (FFFE,E0DD)")
                raise self.cut("an item header", pos, region)
            group, element, length = self.item_header(pos)
            tag = group << 16 | element
            if tag == _SEQUENCE_DELIMITER:
                if region.end is None:
                    return pos + 8
                raise StructureError(
                    f"malformed DICOM file: sequence delimiter at offset {pos:#x} inside a "
                    "sequence of defined length (pydicom would ignore the rest of it)"
                )
            if tag != _ITEM:
                raise StructureError(
                    f"malformed DICOM file: {_tag(tag)} at offset {pos:#x} where a sequence item (FFFE,E000) must start"
                )
            start = pos + 8
            item = None
            if items is not None:
                item = _Collected(self.src)
                items.append(item)
            if length == _UNDEFINED:
                pos = self.dataset(start, region.inner(None, "item"), implicit, depth, in_item=True, into=item)
            else:
                end = start + length
                if end > region.limit:
                    raise self.overrun("item", pos, length, region)
                self.dataset(start, region.inner(end, "item"), implicit, depth, in_item=True, into=item)
                pos = end


#: Public tags whose dictionary VR is SQ: an implicit VR element with one of
#: these tags holds items (as pydicom reads it).
_SEQUENCE_TAGS = frozenset(tag for tag, entry in DicomDictionary.items() if entry[0] == "SQ")


def _is_sequence_tag(tag: int) -> bool:
    """Does the dictionary give this public tag the VR SQ?  (``_dictionary_vr(tag) == "SQ"``, without its lookups.)"""
    return tag in _SEQUENCE_TAGS or tag & 0xFF00FFFF == 0x50002600  # the one repeating SQ: (50xx,2600)


def _dictionary_vr(tag: int) -> str | None:
    """The first VR the public dictionary gives a tag ("OB or OW" -> "OB"), None if unknown."""
    try:
        return dictionary_VR(tag).split(" ")[0]
    except KeyError:
        return None


def _group_is_not(group: int) -> Callable[[int], bool]:
    return lambda tag: tag >> 16 != group


def _at_pixel_data(tag: int) -> bool:
    return tag in _PIXEL_TAGS


def check_structure(path: str, *, little_endian: bool, deflated: bool = False) -> list[bytes]:
    """Raise :class:`StructureError` unless the file's encoding is consistent (see the module docstring).

    ``little_endian`` is the byte order pydicom chose for the data set (from
    the transfer syntax, or guessed when there is none); ``deflated`` is
    true for the Deflated Explicit VR Little Endian transfer syntax.

    Returns the encoded elements that follow the pixel data (each stretch
    as bytes, in the data set's encoding), which the header read never sees.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        return _check(_Reader.of_file(fd), little_endian, deflated)
    finally:
        os.close(fd)


def _check(src: _Reader, little_endian: bool, deflated: bool) -> list[bytes]:
    if src.size == 0:
        return []
    file = _Region(None, src.size, "file")
    meta = _Walker(src, little=True)
    pos = 132 if src.size >= 132 and src.read(128, 4) == b"DICM" else 0
    # The order pydicom reads in: file meta group (0002), then a command set
    # (0000), each only if present; the VR encoding it assumes for them does
    # not matter, as the top level follows what its first element shows.
    pos = meta.dataset(pos, file, False, 0, in_item=False, stop=_group_is_not(0x0002))
    pos = meta.dataset(pos, file, True, 0, in_item=False, stop=_group_is_not(0x0000))
    if deflated:
        # pydicom inflates the rest of the file and reads the data set from that.
        src, pos = _Reader.of_bytes(zlib.decompress(src.read(pos, src.size - pos), -zlib.MAX_WBITS)), 0
    walker = _Walker(src, little=little_endian or deflated)
    stretches = walker.top_level(pos, _Region(None, src.size, "file"))
    return [src.read(start, end - start) for start, end in stretches]


#: Transfer syntaxes the one-pass read takes, and their (implicit VR, little endian); every other
#: registered one is explicit VR little endian (PS3.5 A.4), as pydicom reads it.
_ENCODINGS: dict[str, tuple[bool, bool]] = {
    ImplicitVRLittleEndian: (True, True),
    ExplicitVRLittleEndian: (False, True),
    ExplicitVRBigEndian: (False, False),
}
_LENIENT_ONLY = frozenset({DeflatedExplicitVRLittleEndian, *PrivateTransferSyntaxes})
_CHARSET = 0x00080005


def read_header(path: str) -> Dataset | None:
    """The file's data set up to its pixel data, read in the same pass that checks its encoding.

    One walk instead of two (pydicom's read, then :func:`check_structure`):
    the elements are kept as pydicom's reader would hold them (raw elements
    converted on access; sequences as items), so what is analysed is what
    pydicom would have read -- of a file this check finds consistent.

    Returns ``None`` when the file is not one this read takes on its own: no
    ``DICM`` prefix, no or an unusual transfer syntax (deflated, private), a
    command set, elements after the pixel data, an inconsistent encoding, or
    anything unexpected.  The caller then reads it the lenient way and checks
    it, which also gives the reason a broken file is refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's charset warnings (the analysis reports what matters)
            return _read_header(_Reader.of_file(fd))
    except Exception:  # noqa: BLE001 - any surprise: the lenient read and the check decide, with their reasons
        return None
    finally:
        os.close(fd)


def _read_header(src: _Reader) -> Dataset | None:
    if src.size < 140 or src.read(128, 4) != b"DICM":
        return None
    file = _Region(None, src.size, "file")
    meta = _Collected(src)
    pos = _Walker(src, little=True).dataset(132, file, False, 0, in_item=False, stop=_group_is_not(0x0002), into=meta)
    if pos + 8 > src.size or src.read(pos, 2) == b"\x00\x00":
        return None  # nothing after the file meta, or a command set (group 0000, little endian)
    syntax = meta.elements.get(0x00020010)
    if not isinstance(syntax, RawDataElement) or not syntax.value:
        return None
    uid = syntax.value.decode("ascii", "replace").strip("\x00 ")
    if uid in _LENIENT_ONLY:
        return None
    implicit_vr, little = _ENCODINGS.get(uid, (False, True))
    top = _Collected(src)
    top.implicit = implicit_vr
    if _Walker(src, little).top_level(pos, file, into=top) or not top.elements:
        return None  # elements after the pixel data (read apart by the lenient path), or no data set
    if not all(type(e) is RawDataElement for e in meta.elements.values()):
        return None  # a sequence in the file meta group: pydicom's own reading of it
    ds = _dataset(top, little, default_encoding)
    file_meta = FileMetaDataset(cast(dict[BaseTag, DataElement | RawDataElement], meta.elements))
    file_meta.set_original_encoding(meta.implicit, True, default_encoding)
    ds.file_meta = file_meta
    return ds


def _dataset(collected: _Collected, little: bool, parent_encoding: str | list[str]) -> Dataset:
    """A pydicom data set of what the walk kept, its sequences' items built the same way, top down.

    As ``Dataset(elements, parent_encoding=...)`` followed by
    ``set_original_encoding(...)``, the way pydicom's reader makes each data
    set and item, but copied from a fresh data set's attributes: a file holds
    dozens of items, and ``Dataset.__setattr__`` costs more than the copy.
    """
    elements = collected.elements
    charset = elements.get(_CHARSET)
    if charset is None:
        encoding = parent_encoding
    elif type(charset) is RawDataElement:
        encoding = convert_encodings(convert_raw_data_element(charset).value)
    else:
        raise ValueError("Specific Character Set (0008,0005) is a sequence")  # read_header: the lenient path
    for tag, value in elements.items():
        if type(value) is _Items:
            items = Sequence([_dataset(item, little, encoding) for item in value.items])
            items.is_undefined_length = value.undefined
            elements[tag] = DataElement(BaseTag(tag), "SQ", items, value.tell, is_undefined_length=value.undefined)
    ds = Dataset.__new__(Dataset)
    state = ds.__dict__
    state.update(_FRESH)
    for name in _FRESH_CONTAINERS:
        state[name] = _FRESH[name].copy()  # per data set, never shared
    state.update(_dict=elements, _parent_encoding=parent_encoding, _read_implicit=collected.implicit,
                 _read_little=little, _read_charset=encoding)  # fmt: skip
    return ds


#: A new data set's attributes, whatever this pydicom version sets in ``Dataset.__init__``; its
#: containers (private blocks, pixel caches...) are copied for each data set.
_FRESH = dict(Dataset().__dict__)
_FRESH_CONTAINERS = tuple(name for name, value in _FRESH.items() if isinstance(value, (dict, list, set)))


def check_encoded(data: bytes, *, implicit_vr: bool, little_endian: bool = True) -> None:
    """Raise :class:`StructureError` unless ``data`` is exactly one consistent data set.

    For a data set received whole in a known transfer syntax (a C-FIND
    identifier): every element, item and sequence must fit, the last one must
    end where the bytes end, and nesting is bounded by :data:`MAX_DEPTH`.
    """
    size = len(data)
    walker = _Walker(_Reader.of_bytes(data), little=little_endian)
    walker.dataset(0, _Region(size, size, "data set"), implicit_vr, 0, in_item=False, peek=False)
