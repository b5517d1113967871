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

import os
import stat
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset as read_raw_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from dicomaudit.phi.masking import mask_quoted
from dicomaudit.structure import StructureError, check_structure
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


def discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[InputFile], Problems]:
    """Expand user paths into files; return (files, [(source, reason)]).

    Folders are walked recursively in sorted order (hidden entries skipped);
    sources are the user's path joined with the relative path inside it,
    escaped with :func:`~dicomaudit.textsafe.safe_text`.  A folder that
    cannot be listed is a problem (``cannot read folder: <OS reason>``), not
    a silent gap.  A DICOMDIR named directly also contributes the files it
    references.  Files found in a folder are marked ``from_folder`` (the
    runner counts those that are plainly not DICOM as skipped).
    """
    files: list[InputFile] = []
    problems: Problems = []
    seen: dict[str, int] = {}  # real path -> index in files

    def add(source: str, path: str, from_folder: bool = False) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen[key] = len(files)
            files.append(InputFile(safe_text(source), path, from_folder))
        elif not from_folder and files[seen[key]].from_folder:
            # Found in a folder first, then named directly: the user said it is DICOM.
            files[seen[key]] = replace(files[seen[key]], from_folder=False)

    for given in paths:
        given_str = os.fsdecode(os.fspath(given))
        try:
            mode = os.stat(given_str).st_mode
        except (FileNotFoundError, NotADirectoryError):
            problems.append((safe_text(given_str), "no such file or folder"))
            continue
        except OSError as exc:
            problems.append((safe_text(given_str), f"cannot read: {os_reason(exc)}"))
            continue
        except ValueError:  # an embedded NUL: no file can have this name
            problems.append((safe_text(given_str), "not a valid path"))
            continue
        if stat.S_ISDIR(mode):
            _walk_folder(given_str, add, problems)
        elif stat.S_ISREG(mode):
            add(given_str, given_str)
            if os.path.basename(given_str).upper() == "DICOMDIR":
                for path in _dicomdir_references(given_str):
                    add(path, path)
        else:
            problems.append((safe_text(given_str), "not a regular file or folder"))
    return files, problems


def _walk_folder(given: str, add: Callable[[str, str, bool], None], problems: Problems) -> None:
    """Every file under ``given`` (sorted, hidden entries skipped); unlistable folders become problems."""

    def source_of(path: str) -> str:
        rel = os.path.relpath(path, given)
        return given if rel == os.curdir else os.path.join(given, rel)

    def unreadable(exc: OSError) -> None:
        # os.walk calls this for the top folder too, and for a folder whose
        # listing fails half-way; without it os.walk skips them silently.
        where = exc.filename if isinstance(exc.filename, str) else given
        problems.append((safe_text(source_of(where)), f"cannot read folder: {os_reason(exc)}"))

    for root, dirs, names in os.walk(given, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                full = os.path.join(root, name)
                add(source_of(full), full, True)


def _dicomdir_references(dicomdir: str) -> Iterator[str]:
    """Files referenced by a DICOMDIR's directory records (PS3.3 F.3)."""
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
        if os.path.isfile(path):
            yield path


def _plausible(ds: Dataset) -> bool:
    """A force-read data set that starts like a DICOM header, not like text."""
    try:
        first = next(iter(ds.keys()), None)
    except Exception:  # noqa: BLE001
        return False
    return first is not None and (first >> 16) <= 0x0040 and (first >> 16) % 2 == 0


_NOT_DICOM = "not a DICOM file: no DICM prefix and no parseable data set"


def _not_dicom(path: str) -> UnreadableInput:
    """The error for a file without the DICM prefix that does not parse.

    :class:`NotDicom` when its first bytes do not even start like a data set
    (text, images, archives: the first tag's group is odd or above 0x0040);
    a plain :class:`UnreadableInput` otherwise (a raw data set that is
    corrupt, a file cut off inside its preamble): that may be DICOM gone bad.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return UnreadableInput(_NOT_DICOM)
    group = int.from_bytes(head[:2], "little") if len(head) >= 2 else 0
    if len(head) >= 2 and (group > 0x0040 or group % 2):
        return NotDicom(_NOT_DICOM)
    return UnreadableInput(_NOT_DICOM)


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
