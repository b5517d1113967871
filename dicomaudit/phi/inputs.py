"""Turning what the user typed into DICOM data sets, or reasons why not.

Paths may be files, folders (walked recursively) or DICOMDIRs (PS3.10
media directories, whose referenced files are analysed too).  Every file is
read once, header only (``stop_before_pixels``), and its encoding checked
(:mod:`dicomaudit.structure`).  Anything that is not a usable DICOM file,
and any folder that cannot be listed, becomes a short reason: one bad input
never stops a run, nothing is skipped silently, and an error message never
echoes header content (:func:`describe_error` masks quoted values).  The one
exception to "a reason per file": a file found while walking a folder that is
plainly not DICOM (:class:`NotDicom`: a README, a CSV, an image) is counted
as skipped rather than listed as an error.

Sources (the names shown to the user and written to every report) pass
through :func:`dicomaudit.textsafe.safe_text`: a file name may hold bytes
that are not UTF-8, control characters or markup, and must neither break a
writer nor reach a terminal raw.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset as read_raw_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from dicomaudit.phi.masking import mask_quoted
from dicomaudit.structure import StructureError, check_structure, read_header
from dicomaudit.textsafe import safe_text, scrub

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_REFERENCED_FILE_ID = 0x00041500
_DIRECTORY_RECORDS = 0x00041220


class UnreadableInput(Exception):
    """A file that is not usable DICOM; ``str()`` is the user-facing reason."""


class NotDicom(UnreadableInput):
    """A file that is plainly not DICOM: no DICM prefix and no parseable data set (text, images, archives).

    Found while walking a folder, such a file is counted as skipped; named
    directly (or referenced by a DICOMDIR) it stays an error.
    """


@dataclass(frozen=True)
class InputFile:
    """One file to analyse: ``source`` as shown to the user (escaped), ``path`` to open (the real name).

    ``from_folder`` is true for a file found by walking a folder (not named
    by the user, nor referenced by a DICOMDIR): only such a file may be
    skipped as plainly not DICOM.
    """

    source: str
    path: str
    from_folder: bool = False


Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class ListingProblem:
    """A path that could not be listed or used (``cannot read folder: ...``, ``no such file or folder``)."""

    source: str
    reason: str


def discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[InputFile], Problems]:
    """Expand user paths into files; return (files, [(source, reason)]).

    The whole listing at once, for callers that need a list: :func:`iter_inputs`
    (which this consumes) streams it, in the same order and with the same
    rules.
    """
    files: list[InputFile] = []
    problems: Problems = []
    for item in iter_inputs(paths):
        if isinstance(item, ListingProblem):
            problems.append((item.source, item.reason))
        else:
            files.append(item)
    return files, problems


def iter_inputs(paths: Sequence[str | os.PathLike[str]]) -> Iterator[InputFile | ListingProblem]:
    """Stream the files to analyse, and the paths that could not be used, in input order.

    Folders are walked recursively in sorted order (hidden entries skipped,
    symbolic links to folders not followed); sources are the user's path
    joined with the relative path inside it, escaped with
    :func:`~dicomaudit.textsafe.safe_text`.  A folder that cannot be listed is
    a problem (``cannot read folder: <OS reason>``), not a silent gap.  A
    DICOMDIR named directly also contributes the files it references.  Files
    found in a folder are marked ``from_folder`` (the runner counts those that
    are plainly not DICOM as skipped) unless the user also named them, or a
    DICOMDIR they named references them.  A file reached twice (overlapping
    paths, symbolic links) is listed once, where it is first reached.

    Nothing is listed ahead of the consumer: one folder's entries at a time,
    so an archive of millions of files starts at once and its listing never
    sits in memory.  What is kept per file is a 16-byte digest of its real
    path, to list it once.
    """
    given = [os.fsdecode(os.fspath(p)) for p in paths]
    # Named files (and what their DICOMDIRs reference) are the user saying "this is DICOM", even when a folder
    # walked first reaches them: decided up front from the command line, so a streamed item never changes later.
    references: dict[str, list[tuple[str, bool]]] = {}  # DICOMDIR named -> (referenced file, is it there)
    direct: set[bytes] = set()
    for g in given:
        try:
            if not os.path.isfile(g):
                continue
        except ValueError:  # an embedded NUL
            continue
        direct.add(_key(os.path.realpath(g)))
        if os.path.basename(g).upper() == "DICOMDIR":
            references[g] = list(_dicomdir_references(g))
            direct.update(_key(os.path.realpath(r)) for r, there in references[g] if there)
    seen: set[bytes] = set()

    def once(real: str) -> bool:
        key = _key(real)
        if key in seen:
            return False
        seen.add(key)
        return True

    for given_str in given:
        try:
            mode = os.stat(given_str).st_mode
        except (FileNotFoundError, NotADirectoryError):
            yield ListingProblem(safe_text(given_str), "no such file or folder")
            continue
        except OSError as exc:
            yield ListingProblem(safe_text(given_str), f"cannot read: {os_reason(exc)}")
            continue
        except ValueError:  # an embedded NUL: no file can have this name
            yield ListingProblem(safe_text(given_str), "not a valid path")
            continue
        if stat.S_ISDIR(mode):
            for source, full, real in _walk_folder(given_str):
                if isinstance(source, ListingProblem):
                    yield source
                elif once(real):
                    yield InputFile(safe_text(source), full, _key(real) not in direct)
                    if os.path.basename(full).upper() == "DICOMDIR":
                        yield from _missing_references(full, source, _dicomdir_references(full))
        elif stat.S_ISREG(mode):
            if once(os.path.realpath(given_str)):
                yield InputFile(safe_text(given_str), given_str, False)
                yield from _missing_references(given_str, given_str, references.get(given_str, ()))
            for path in (r for r, there in references.get(given_str, ()) if there):
                if once(os.path.realpath(path)):
                    yield InputFile(safe_text(path), path, False)
        else:
            yield ListingProblem(safe_text(given_str), "not a regular file or folder")


def _key(real_path: str) -> bytes:
    """What is remembered of a listed file: a digest of its real path (collisions: 2**-64 at a billion files)."""
    return hashlib.blake2b(os.fsencode(real_path), digest_size=16).digest()


def _walk_folder(given: str) -> Iterator[tuple[str | ListingProblem, str, str]]:
    """``(source, path, real path)`` of every file under ``given``, or ``(problem, "", "")`` for an unlistable folder.

    Like ``os.walk`` (top-down, no symbolic links to folders followed) with
    each folder's files first, then its subfolders, both sorted, hidden
    entries skipped.  The real path of a file that is not a link is its
    folder's real path joined with its name: one ``realpath`` per folder,
    not per file.
    """

    def source_of(path: str) -> str:
        rel = os.path.relpath(path, given)
        return given if rel == os.curdir else os.path.join(given, rel)

    def walk(folder: str, real_folder: str) -> Iterator[tuple[str | ListingProblem, str, str]]:
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            # os.walk would skip it silently; a folder that cannot be listed is reported.
            where = exc.filename if isinstance(exc.filename, str) else folder
            yield ListingProblem(safe_text(source_of(where)), f"cannot read folder: {os_reason(exc)}"), "", ""
            return
        subfolders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    subfolders.append(entry)
                continue
            full = os.path.join(folder, entry.name)
            real = os.path.realpath(full) if entry.is_symlink() else os.path.join(real_folder, entry.name)
            yield source_of(full), full, real
        for entry in subfolders:
            yield from walk(os.path.join(folder, entry.name), os.path.join(real_folder, entry.name))

    yield from walk(given, os.path.realpath(given))


def _missing_references(dicomdir: str, source: str, references: Iterable[tuple[str, bool]]) -> Iterator[ListingProblem]:
    """A problem for each file a DICOMDIR references (``references``) that is not there: an export copied in part."""
    base = os.path.dirname(source)
    for path, there in references:
        if not there:
            shown = os.path.join(base, os.path.relpath(path, os.path.dirname(dicomdir)))
            yield ListingProblem(safe_text(shown), f"missing: referenced by {safe_text(source)} but not found")


def _dicomdir_references(dicomdir: str) -> Iterator[tuple[str, bool]]:
    """Files referenced by a DICOMDIR's directory records (PS3.3 F.3), each with whether it is there."""
    try:
        ds = read_dataset(dicomdir)
    except UnreadableInput:
        return  # reported when the DICOMDIR itself is analysed
    base = os.path.dirname(dicomdir)
    seq = ds.get(_DIRECTORY_RECORDS)
    for record in seq.value if seq is not None and seq.value else ():
        ref = record.get(_REFERENCED_FILE_ID)
        if ref is None or not ref.value:
            continue
        parts = [ref.value] if isinstance(ref.value, str) else list(ref.value)
        rel = os.path.join(*[str(p) for p in parts])
        # PS3.10 8.5: file IDs are relative to the DICOMDIR's folder; never
        # follow one out of it.
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            continue
        path = os.path.join(base, rel)
        yield path, os.path.isfile(path)


def _plausible(ds: Dataset) -> bool:
    """A force-read data set that starts like a DICOM header, not like text."""
    try:
        first = next(iter(ds.keys()), None)
    except Exception:  # noqa: BLE001
        return False
    return first is not None and (first >> 16) <= 0x0040 and (first >> 16) % 2 == 0


_NOT_DICOM = "not a DICOM file: no DICM prefix and no parseable data set"


def _zero_filled(path: str) -> bool:
    """Are the file's first 4 KiB all zero bytes?"""
    try:
        with open(path, "rb") as fh:
            return not any(fh.read(4096))
    except OSError:
        return False


def _not_dicom(path: str) -> UnreadableInput:
    """The error for a file without the DICM prefix that does not parse.

    :class:`NotDicom` when its first bytes do not even start like a data set
    (text, images, archives: the first tag's group is odd or above 0x0040);
    a plain :class:`UnreadableInput` otherwise (a raw data set that is
    corrupt, a file cut off inside its preamble): that may be DICOM gone bad.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return UnreadableInput(_NOT_DICOM)
    group = int.from_bytes(head[:2], "little") if len(head) >= 2 else 0
    if len(head) >= 2 and (group > 0x0040 or group % 2):
        if path.lower().endswith(_DICOM_SUFFIXES):
            # Named as DICOM but holding something else (a viewer's error
            # page, a screenshot): an export that went wrong, not a stray file.
            kind = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
            return UnreadableInput(f"{_NOT_DICOM} (named as DICOM, holds {kind or 'something else'})")
        return NotDicom(_NOT_DICOM)
    return UnreadableInput(_NOT_DICOM)


#: File names that say "DICOM": such a file that is not DICOM is an error even in a folder walk.
_DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")
#: What a non-DICOM file named as DICOM most often holds, by its first bytes.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"<!", "HTML or XML"),
    (b"<h", "HTML"),
    (b"<H", "HTML"),
    (b"<?xml", "XML"),
    (b"{", "JSON"),
)


def read_dataset(path: str) -> Dataset:
    """Read a file's header (no pixel data) or raise :class:`UnreadableInput`.

    Files without the DICM prefix (PS3.10 7.1) are accepted only when they
    parse as a plausible raw data set (some archives store those).  A file
    that parses but whose encoding is inconsistent (a value running past its
    item or the file, a stray delimiter, a duplicate tag...) is rejected too:
    pydicom reads such files leniently, and what it reads is not what the
    file says.
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {os_reason(exc)}") from None
    if size == 0:
        raise UnreadableInput("empty file")
    header = read_header(path)  # one pass that reads and checks; None: the lenient read and the check below
    if header is not None:
        return header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forced = False
        try:
            try:
                ds = dcmread(path, stop_before_pixels=True)
            except InvalidDicomError:
                forced = True
                ds = dcmread(path, stop_before_pixels=True, force=True)
            meta = getattr(ds, "file_meta", None)
            deflated = meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
            little = ds.original_encoding[1] is not False
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types; each becomes a reason
            if forced:
                raise _not_dicom(path) from None
            raise UnreadableInput(describe_error(exc)) from None
        if forced and not _plausible(ds):
            raise _not_dicom(path)
        if forced and all(tag >> 16 == 0 for tag in ds.keys()):
            # No DICM prefix and nothing but a command group: a file of zeros
            # (space reserved and never written) reads as one (0000,0000).
            raise UnreadableInput(
                "not a DICOM file: zero bytes (space reserved but never written)"
                if _zero_filled(path)
                else "not a DICOM file: no DICM prefix and only a command group, no data set"
            )
        # Outside the catch-all above: an exception from dicomaudit's own
        # check is a bug to surface ("cannot analyse"), not a file to blame.
        try:
            trailing = _check_encoding(path, little, deflated)
        except UnreadableInput:
            if forced:
                # Without the DICM prefix, bytes that do not hold together
                # are most likely not DICOM at all (zeros, text, images).
                raise _not_dicom(path) from None
            raise
        try:
            _add_trailing(ds, trailing, little)
        except Exception as exc:  # noqa: BLE001 - pydicom again
            raise UnreadableInput(describe_error(exc)) from None
    if not len(ds):
        # Only a file meta group (or nothing): the data set itself is missing or was cut off.
        raise UnreadableInput(
            "not a usable DICOM file: no data elements after the file meta"
            if meta is not None and len(meta)
            else "not a DICOM file: no data elements"
        )
    if not _plausible(ds) and (meta is None or "TransferSyntaxUID" not in meta):
        raise UnreadableInput("not a DICOM file: no file meta and no recognisable data set")
    return ds


def _check_encoding(path: str, little: bool, deflated: bool) -> list[bytes]:
    """Check the file's encoding (:func:`check_structure`); return the encoded elements after its pixel data."""
    try:
        return check_structure(path, little_endian=little, deflated=deflated)
    except StructureError as exc:
        raise UnreadableInput(str(exc)) from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {os_reason(exc)}") from None
    except zlib.error:
        raise UnreadableInput("malformed DICOM file: the deflated data set does not inflate") from None


def _add_trailing(ds: Dataset, trailing: list[bytes], little: bool) -> None:
    """Add to ``ds`` the elements found after its pixel data.

    stop_before_pixels means pydicom never saw them; identifying data placed
    after the image must not go unanalysed.  The structure check has ruled
    out a different value under a tag already read.
    """
    for encoded in trailing:
        # pydicom's reader takes its own DicomBytesIO; its stubs ask for a BinaryIO.
        stream = cast(BinaryIO, DicomBytesIO(encoded))
        extra = read_raw_dataset(stream, True, little, parent_encoding=ds._character_set)
        for tag, element in extra._dict.items():
            ds._dict.setdefault(tag, element)


def describe_error(exc: BaseException) -> str:
    """The reason for a file that failed to read or decode, with pydicom's words but no header value.

    * an ``OSError`` with an ``errno`` came from the operating system:
      ``cannot read: <strerror>``;
    * pydicom raises ``OSError`` *without* one for parse problems (``No tag
      to read at file position 1A4``): ``malformed DICOM file: <message>``;
    * end of file inside an element: ``truncated DICOM file: ...``;
    * anything else: ``malformed DICOM file: <type>: <message>``.

    Messages go through :func:`~dicomaudit.phi.masking.mask_quoted` (quoted
    header values are masked) and :func:`~dicomaudit.textsafe.scrub`.
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"cannot read: {os_reason(exc)}"
    if isinstance(exc, (EOFError, struct.error)):
        return "truncated DICOM file: ends inside an element"
    if isinstance(exc, MemoryError):
        return "malformed DICOM file: absurd element length"
    if isinstance(exc, RecursionError):
        return "malformed DICOM file: sequences nested too deep"
    message = exception_message(exc)
    if isinstance(exc, OSError):
        return f"malformed DICOM file: {message or 'unreadable'}"
    return f"malformed DICOM file: {type(exc).__name__}" + (f": {message}" if message else "")


def os_reason(exc: OSError) -> str:
    """What the operating system said (``Permission denied``), never the file name it names."""
    return scrub(exc.strerror or type(exc).__name__)


_MAX_MESSAGE = 200


def exception_message(exc: BaseException) -> str:
    """First line of an exception's message, quoted values masked, escaped, at most 200 characters."""
    try:
        text = str(exc).strip().split("\n")[0].strip()
    except Exception:  # noqa: BLE001 - a broken __str__ must not turn one bad file into a crash
        return ""
    text = scrub(mask_quoted(text))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3].rstrip() + "..."
