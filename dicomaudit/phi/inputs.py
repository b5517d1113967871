"""Turning what the user typed into DICOM data sets, or reasons why not.

Paths may be files, folders (walked recursively) or DICOMDIRs (PS3.10
media directories, whose referenced files are analysed too).  Every file is
read once, header only (``stop_before_pixels``).  Anything that is not a
usable DICOM file becomes a short, value-free reason: one bad file never
stops a run, and an error message never echoes header content.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_REFERENCED_FILE_ID = 0x00041500
_DIRECTORY_RECORDS = 0x00041220


class UnreadableInput(Exception):
    """A file that is not usable DICOM; ``str()`` is the user-facing reason."""


@dataclass(frozen=True)
class InputFile:
    """One file to analyse: ``source`` as shown to the user, ``path`` to open."""

    source: str
    path: str


def discover(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """Expand user paths into files; return (files, [(source, reason)]).

    Folders are walked recursively in sorted order (hidden entries skipped);
    sources are the user's path joined with the relative path inside it.
    A DICOMDIR named directly also contributes the files it references.
    """
    files: list[InputFile] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(source: str, path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(InputFile(source, path))

    for given in paths:
        given_str = os.fspath(given)
        if os.path.isdir(given_str):
            for root, dirs, names in os.walk(given_str):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith("."):
                        full = os.path.join(root, name)
                        add(os.path.join(given_str, os.path.relpath(full, given_str)), full)
        elif os.path.isfile(given_str):
            add(given_str, given_str)
            if os.path.basename(given_str).upper() == "DICOMDIR":
                for source, path in _dicomdir_references(given_str):
                    add(source, path)
        elif os.path.exists(given_str):
            problems.append((given_str, "not a regular file or folder"))
        else:
            problems.append((given_str, "no such file or folder"))
    return files, problems


def _dicomdir_references(dicomdir: str) -> Iterator[tuple[str, str]]:
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
            yield path, path


def _plausible(ds: Dataset) -> bool:
    """A force-read data set that starts like a DICOM header, not like text."""
    try:
        first = next(iter(ds.keys()), None)
    except Exception:  # noqa: BLE001
        return False
    return first is not None and (first >> 16) <= 0x0040 and (first >> 16) % 2 == 0


def read_dataset(path: str) -> Dataset:
    """Read a file's header (no pixel data) or raise :class:`UnreadableInput`.

    Files without the DICM prefix (PS3.10 7.1) are accepted only when they
    parse as a plausible raw data set (some archives store those).
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise UnreadableInput(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    if size == 0:
        raise UnreadableInput("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                ds = dcmread(path, stop_before_pixels=True)
            except InvalidDicomError:
                try:
                    ds = dcmread(path, stop_before_pixels=True, force=True)
                except Exception:  # noqa: BLE001
                    raise UnreadableInput("not a DICOM file: no DICM prefix and no parseable data set") from None
                if not _plausible(ds):
                    raise UnreadableInput("not a DICOM file: no DICM prefix and no parseable data set") from None
        except UnreadableInput:
            raise
        except OSError as exc:
            raise UnreadableInput(f"cannot read: {exc.strerror or type(exc).__name__}") from None
        except (EOFError, struct.error):
            raise UnreadableInput("truncated DICOM file: ends inside an element") from None
        except MemoryError:
            raise UnreadableInput("malformed DICOM file: absurd element length") from None
        except RecursionError:
            raise UnreadableInput("malformed DICOM file: sequences nested too deep") from None
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types
            raise UnreadableInput(f"malformed DICOM file: {_reason(exc)}") from None
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        _check_lengths(meta, size)
    _check_lengths(ds, size)
    if not len(ds):
        # Only a file meta group (or nothing): the data set itself is missing or was cut off.
        raise UnreadableInput("not a usable DICOM file: no data elements after the file meta"
                              if meta is not None and len(meta) else "not a DICOM file: no data elements")
    if not _plausible(ds) and (meta is None or "TransferSyntaxUID" not in meta):
        raise UnreadableInput("not a DICOM file: no file meta and no recognisable data set")
    return ds


_UNDEFINED = 0xFFFFFFFF


def _check_lengths(ds: Dataset, size: int) -> None:
    """Reject values shorter than their declared length (PS3.5 7.1).

    pydicom reads what is there and keeps going; a value cut short means the
    file is truncated, and a declared length beyond the file is absurd (a
    crafted or corrupted header).
    """
    for raw in ds._dict.values():  # raw elements, before value conversion
        if not isinstance(raw, RawDataElement) or raw.length == _UNDEFINED or raw.value is None:
            continue
        if isinstance(raw.value, (bytes, bytearray)) and len(raw.value) < raw.length:
            if raw.length > size:
                raise UnreadableInput(
                    f"malformed DICOM file: absurd element length ({raw.length} bytes declared, file has {size})"
                )
            raise UnreadableInput("truncated DICOM file: ends inside an element")


def _reason(exc: BaseException) -> str:
    """An exception as a reason, without echoing any value it quotes."""
    text = str(exc).split("\n")[0]
    if "'" in text or '"' in text or len(text) > 120:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}"
