"""C-GET and C-MOVE helpers for the lab PACS (PS3.4 C.4.2 and C.4.3).

pynetdicom's Query/Retrieve service class performs the sub-operations and
the pending/final responses of a retrieval that has something to send.  A
retrieval that ends before any sub-operation (refused, unknown Move
Destination, bad identifier, nothing matched) is answered by the lab itself
with :func:`final_response`, because pynetdicom can only end a C-GET/C-MOVE
that way by counting a failed sub-operation that never existed, and cannot
refuse a C-MOVE with anything but 0xA801 without first opening an
association to the destination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import build_context
from pynetdicom.dimse_primitives import C_GET, C_MOVE
from pynetdicom.presentation import PresentationContext

#: PS3.8 9.3.2.2: at most 128 presentation contexts in one association request.
MAX_CONTEXTS = 128
#: Command Field of the C-GET-RSP and C-MOVE-RSP (PS3.7 E.1).
RETRIEVE_RSP_COMMAND_FIELDS = frozenset({0x8010, 0x8021})
#: PS3.7 C: the Pending statuses of a retrieval.
PENDING = frozenset({0xFF00, 0xFF01})
_ERROR_COMMENT_MAX = 64  # LO


@dataclass
class Retrieval:
    """One C-GET or C-MOVE that has instances to send, while pynetdicom performs it."""

    kind: str  # "C-GET" or "C-MOVE"
    instances: list[Dataset]
    details: dict[str, Any]  # model, level, matches, move destination: recorded with the outcome
    destination: tuple[str, int] | None = None  # C-MOVE: (host, port)
    final: Dataset | None = None  # the command set of the final response, once sent
    sent: int = field(default=0)  # sub-operations started


def final_response(msg: C_GET | C_MOVE, status: int, comment: str | None = None) -> C_GET | C_MOVE:
    """A final C-GET/C-MOVE response ending the request before any sub-operation.

    Success (nothing matched) carries zero Completed, Failed and Warning
    sub-operations, as PS3.4 C.4.2.1.5 / C.4.3.1.4 require of a final
    response; a refusal or failure carries none (no sub-operation was
    started) and, optionally, an Error Comment (PS3.7 C).
    """
    rsp: C_GET | C_MOVE = C_GET() if isinstance(msg, C_GET) else C_MOVE()
    rsp.MessageIDBeingRespondedTo = msg.MessageID
    rsp.AffectedSOPClassUID = msg.AffectedSOPClassUID
    rsp.Status = status
    if status == 0x0000:
        rsp.NumberOfCompletedSuboperations = 0
        rsp.NumberOfFailedSuboperations = 0
        rsp.NumberOfWarningSuboperations = 0
    elif comment:
        rsp.ErrorComment = comment[:_ERROR_COMMENT_MAX]  # type: ignore[assignment]  # typed None in pynetdicom
    return rsp


def counts(command_set: Dataset | None) -> dict[str, int]:
    """The sub-operation counts of a C-GET/C-MOVE response command set (absent ones omitted)."""
    out: dict[str, int] = {}
    if command_set is None:
        return out
    for name, keyword in (
        ("completed", "NumberOfCompletedSuboperations"),
        ("failed", "NumberOfFailedSuboperations"),
        ("warning", "NumberOfWarningSuboperations"),
        ("remaining", "NumberOfRemainingSuboperations"),
    ):
        value = command_set.get(keyword)
        if value is not None and value != "":
            out[name] = int(value)
    return out


def store_contexts(instances: list[Dataset]) -> list[PresentationContext]:
    """Presentation contexts for a C-MOVE sub-association carrying `instances`.

    One context per SOP class for the uncompressed instances (Explicit and
    Implicit VR Little Endian, so the destination can pick), and one per SOP
    class and compressed transfer syntax (the lab never transcodes).  At most
    :data:`MAX_CONTEXTS`; instances beyond fail their sub-operation.
    """
    wanted: dict[tuple[str, str], list[str | UID]] = {}
    for ds in instances:
        sop_class = str(ds.get("SOPClassUID", ""))
        meta = getattr(ds, "file_meta", None)
        syntax = UID(str(meta.get("TransferSyntaxUID", ""))) if meta is not None else UID("")
        if syntax and _is_compressed(syntax):
            wanted.setdefault((sop_class, str(syntax)), [syntax])
        else:
            wanted.setdefault((sop_class, ""), [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    return [build_context(sop_class, syntaxes) for (sop_class, _), syntaxes in list(wanted.items())[:MAX_CONTEXTS]]


def _is_compressed(syntax: UID) -> bool:
    try:
        return bool(syntax.is_compressed)
    except ValueError:  # a transfer syntax pydicom does not know: propose it as it is
        return True
