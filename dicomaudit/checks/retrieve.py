"""``get.unauthenticated``, ``move.unauthenticated``, ``move.any_destination``: can images be pulled out?

Images leave a PACS through C-GET (sent back on the requester's own
association, PS3.4 C.4.3) and C-MOVE (sent to a destination AE named in the
request, PS3.4 C.4.2).

Safe by default: the request names a study that cannot exist (a fresh
``2.25.`` Study Instance UID), so a node that serves it has nothing to
send; a C-GET proposes no storage context, so the node *cannot* send a
C-STORE sub-operation on the scanner's association; and the first sign of a
transfer (a sub-operation counted or received) is answered with C-CANCEL.

How an answer is read (said in the evidence as ``reading``):

* refused: the association or the presentation context rejected, an
  A-ABORT, or a refusal status (0x0124 Not Authorized, 0x0122 SOP Class Not
  Supported, 0x0211 Unrecognized Operation) -> ``pass``;
* 0xA801 Move destination unknown: the node would not move to that AE;
* served: Success or Warning (zero sub-operations for an object that cannot
  exist), or any other failure status - nodes commonly answer a served
  request that matches nothing with a generic failure (0xA701/0xA702,
  0xCxxx "Unable to process") - the node processed the request;
* malformed, mismatched, late: undecided (``error``).

With ``--intrusive``, C-GET and C-MOVE ask for one instance found by
C-FIND; every C-STORE sub-operation that reaches the scanner is answered with
0xA700 (refused) and discarded: only its attribute names are recorded.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import ImplicitVRLittleEndian, generate_uid
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from dicomaudit.checks.base import (
    ProbeContext,
    aborted_by_node,
    check,
    refused_before_operation,
    undecided_operation,
)
from dicomaudit.checks.catalogue import CheckDefinition
from dicomaudit.checks.store import STORAGE_CLASSES
from dicomaudit.models import CheckResult, ErrorReason, Status
from dicomaudit.net import association as net
from dicomaudit.net import dimse
from dicomaudit.net.identity import random_aet
from dicomaudit.net.outcome import Outcome

GET_MODELS = (StudyRootQueryRetrieveInformationModelGet, PatientRootQueryRetrieveInformationModelGet)
MOVE_MODELS = (StudyRootQueryRetrieveInformationModelMove, PatientRootQueryRetrieveInformationModelMove)
_PATIENT_ROOT = {PatientRootQueryRetrieveInformationModelGet, PatientRootQueryRetrieveInformationModelMove}


# -- what is asked for ---------------------------------------------------------------
@dataclass(frozen=True)
class RetrieveTarget:
    """The object a C-GET/C-MOVE asks for: a study that cannot exist, or one real instance (intrusive)."""

    study_uid: str
    series_uid: str | None = None
    sop_instance_uid: str | None = None
    sop_class_uid: str | None = None
    patient_id: str | None = None

    @property
    def exists(self) -> bool:
        return self.sop_instance_uid is not None

    def identifier(self, model: str) -> Dataset:
        ds = Dataset()
        if self.exists:
            ds.QueryRetrieveLevel = "IMAGE"
            ds.StudyInstanceUID = self.study_uid
            ds.SeriesInstanceUID = self.series_uid
            ds.SOPInstanceUID = self.sop_instance_uid
        else:
            ds.QueryRetrieveLevel = "STUDY"
            ds.StudyInstanceUID = self.study_uid
        if model in _PATIENT_ROOT:
            ds.PatientID = self.patient_id or ""
        return ds

    def to_evidence(self) -> dict[str, Any]:
        if not self.exists:
            return {"level": "STUDY", "study_instance_uid": self.study_uid, "note": "a fresh UID: no such study"}
        return {
            "level": "IMAGE",
            "study_instance_uid": self.study_uid,
            "series_instance_uid": self.series_uid,
            "sop_instance_uid": self.sop_instance_uid,
            "note": "an existing instance found by C-FIND (--intrusive)",
        }


def nonexistent() -> RetrieveTarget:
    """A study nobody has: a fresh UUID-derived UID (PS3.5 B.2) and a patient ID nobody has."""
    return RetrieveTarget(study_uid=generate_uid(prefix=None), patient_id=f"DICOMAUDIT-{secrets.token_hex(6)}")


def _find_one(session: net.Session, identifier: Dataset) -> Dataset | None:
    reply = net.find(session, identifier, StudyRootQueryRetrieveInformationModelFind, cap=1)
    if reply.failure is not None or reply.abort is not None or not reply.matches:
        return None
    return reply.matches[0]


def existing_instance(ctx: ProbeContext, calling: str) -> tuple[RetrieveTarget | None, str]:
    """One instance the node holds, found by Study Root C-FIND (STUDY, SERIES, IMAGE; one match each)."""

    def search() -> tuple[RetrieveTarget | None, str]:
        model = StudyRootQueryRetrieveInformationModelFind
        with ctx.associate([model], calling_aet=calling) as session:
            if session.attempt.outcome is not Outcome.ACCEPTED or not session.accepted(model):
                return None, f"no Study Root C-FIND for {calling!r} (association {session.attempt.describe()})"
            study = _find_one(session, _keys("STUDY", StudyInstanceUID="", PatientID=""))
            if study is None or not study.get("StudyInstanceUID"):
                return None, "C-FIND found no study"
            series = _find_one(session, _keys("SERIES", StudyInstanceUID=study.StudyInstanceUID, SeriesInstanceUID=""))
            if series is None or not series.get("SeriesInstanceUID"):
                return None, "C-FIND found no series in the study"
            image = _find_one(
                session,
                _keys(
                    "IMAGE",
                    StudyInstanceUID=study.StudyInstanceUID,
                    SeriesInstanceUID=series.SeriesInstanceUID,
                    SOPInstanceUID="",
                    SOPClassUID="",
                ),
            )
            if image is None or not image.get("SOPInstanceUID"):
                return None, "C-FIND found no instance in the series"
        found = RetrieveTarget(
            study_uid=str(study.StudyInstanceUID),
            series_uid=str(series.SeriesInstanceUID),
            sop_instance_uid=str(image.SOPInstanceUID),
            sop_class_uid=str(image.SOPClassUID) if image.get("SOPClassUID") else None,  # not every SCP returns it
            patient_id=str(study.get("PatientID", "")) or None,
        )
        return found, "found by C-FIND"

    return ctx.memo(f"existing_instance:{calling}", search)


def _keys(level: str, **keys: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


# -- how an answer is read -------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """What a C-GET/C-MOVE answer shows: ``served``, ``refused``, ``destination_unknown`` or ``transferred``."""

    kind: str
    text: str


def read_reply(reply: net.RetrieveReply, operation: str, target: RetrieveTarget) -> Reading:
    """The reading of a decided reply (no failure, no abort)."""
    status = reply.final_status
    described = net.describe_status(status, reply.service)
    code = described["code"]
    text = described.get("description") or described["category"]
    if reply.transferred:
        counts = reply.suboperations or reply.pending_suboperations
        received = f"; {len(reply.stores)} C-STORE sub-operation(s) reached the scanner" if reply.stores else ""
        return Reading(
            "transferred",
            f"the node started sub-operations ({_counts(counts)}){received}"
            + ("" if target.exists else " for a study that cannot exist; the scanner sent C-CANCEL"),
        )
    if status is None:  # only reached with stopped_reading, which _undecided() turns into an error
        return Reading("undecided", f"the node kept sending pending {operation} responses")
    if reply.category in ("Success", "Warning", "Cancel"):
        return Reading("served", f"the node processed the {operation}: status {code} ({text}), no sub-operations")
    if status in dimse.REFUSAL_STATUSES:
        return Reading("refused", f"{operation} refused with status {code} ({dimse.REFUSAL_STATUSES[status]})")
    if status == dimse.MOVE_DESTINATION_UNKNOWN and reply.service == "move":
        return Reading("destination_unknown", f"status {code} (Move destination unknown)")
    return Reading(
        "served",
        f"status {code} ({text}): read as a served request, not a refusal - the node accepted the {operation} "
        "and failed while processing it (nodes answer a served request that matches nothing this way; a "
        "refusal is 0x0124, a rejected context or an A-ABORT)",
    )


def _counts(counts: Any) -> str:
    return ", ".join(f"{k} {v}" for k, v in dict(counts).items()) or "no counters"


# -- storage sub-operations that reach the scanner -------------------------------------------
def describe_received(data: bytes, transfer_syntax: str) -> dict[str, Any]:
    """Attribute names (never values) of an object received in a sub-operation, read without decoding values."""
    names: list[str] = []
    try:
        ds = read_dataset(io.BytesIO(data), transfer_syntax == ImplicitVRLittleEndian, True)
        names = [keyword_for_tag(tag) or str(tag) for tag in ds.keys()]
    except Exception as exc:  # noqa: BLE001 - a malformed object is described, not trusted
        return {"bytes": len(data), "attributes": names, "note": f"not readable ({type(exc).__name__})"}
    return {"bytes": len(data), "attributes": names}


class Discarder:
    """Answers every C-STORE sub-operation with 0xA700 and keeps only what arrived (names, sizes)."""

    def __init__(self, read_names: bool) -> None:
        self.read_names = read_names
        self.received: list[dict[str, Any]] = []

    def __call__(self, incoming: dimse.IncomingStore, data: bytes, transfer_syntax: str) -> int:
        entry: dict[str, Any] = {"sop_class": net.sop_name(incoming.sop_class)}
        entry.update(describe_received(data, transfer_syntax) if self.read_names else {"bytes": len(data)})
        entry["answered"] = f"0x{dimse.STORE_REFUSED:04X} (refused); the object was discarded"
        self.received.append(entry)
        return dimse.STORE_REFUSED


# -- checks --------------------------------------------------------------------------------
def _target(ctx: ProbeContext, calling: str, evidence: dict[str, Any]) -> RetrieveTarget:
    if not ctx.settings.intrusive:
        return nonexistent()
    found, how = existing_instance(ctx, calling)
    if found is None:
        evidence["intrusive_note"] = f"no instance to ask for ({how}); a study that cannot exist was asked for instead"
        return nonexistent()
    return found


@check("get.unauthenticated")
def get_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.unregistered_aet
    evidence: dict[str, Any] = {"calling_aet": calling, "intrusive": ctx.settings.intrusive}
    target = _target(ctx, calling, evidence)
    evidence["requested"] = target.to_evidence()
    # Without an existing object no storage context is proposed: the node has no way to send one.
    storage: tuple[str, ...] = ()
    if target.exists:
        storage = tuple(dict.fromkeys([*([target.sop_class_uid] if target.sop_class_uid else []), *STORAGE_CLASSES]))
    discard = Discarder(read_names=True)
    with ctx.associate([*GET_MODELS, *storage], calling_aet=calling, scp_roles=storage) as session:
        what = f"C-GET from unregistered AE {calling!r} impossible"
        if (refused := refused_before_operation(ctx, d, session, GET_MODELS, what, evidence=evidence)) is not None:
            return refused
        model = next(m for m in GET_MODELS if session.accepted(m))
        evidence["association"] = session.attempt.to_evidence()
        evidence["model"] = net.sop_name(model)
        reply = net.get(
            session, target.identifier(model), model, on_store=discard, cancel_on_transfer=not target.exists
        )
    evidence["c_get"] = reply.to_evidence()
    if discard.received:
        evidence["received"] = discard.received
    return _verdict(d, "C-GET", reply, target, evidence, calling)


@check("move.unauthenticated")
def move_unauthenticated(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.unregistered_aet
    destination = ctx.settings.calling_aet  # the scanner's own AE title, which no node should know
    evidence: dict[str, Any] = {"calling_aet": calling, "move_destination": destination}
    evidence["intrusive"] = ctx.settings.intrusive
    if ctx.settings.intrusive and ctx.settings.listen_port is None:
        evidence["intrusive_note"] = "no --listen-port: nothing would receive a moved object, so none was asked for"
        target = nonexistent()
    else:
        target = _target(ctx, calling, evidence)
    receiver = None
    if target.exists:
        try:
            receiver = _receiver(ctx, destination)
        except OSError as exc:  # the port is taken or not ours to bind: move nothing
            evidence["intrusive_note"] = (
                f"could not listen on --listen-port {ctx.settings.listen_port} ({exc.strerror or exc}); "
                "a study that cannot exist was asked for instead"
            )
            target = nonexistent()
    evidence["requested"] = target.to_evidence()
    try:
        with ctx.associate(MOVE_MODELS, calling_aet=calling) as session:
            what = f"C-MOVE from unregistered AE {calling!r} impossible"
            refused = refused_before_operation(ctx, d, session, MOVE_MODELS, what, evidence=evidence)
            if refused is not None:
                return refused
            model = next(m for m in MOVE_MODELS if session.accepted(m))
            evidence["association"] = session.attempt.to_evidence()
            evidence["model"] = net.sop_name(model)
            reply = net.move(
                session, target.identifier(model), model, destination, cancel_on_transfer=not target.exists
            )
    finally:
        if receiver is not None:
            receiver.stop()
            evidence["received"] = receiver.received
    evidence["c_move"] = reply.to_evidence()
    if reply.final_status == dimse.MOVE_DESTINATION_UNKNOWN and reply.failure is None and not reply.transferred:
        evidence["reading"] = "destination refused (0xA801 Move destination unknown)"
        return d.result(
            Status.PASS,
            f"C-MOVE from unregistered AE {calling!r} to {destination!r} refused: 0xA801 Move destination unknown "
            "(the node processes C-MOVE requests from unknown AEs, but will not move to an AE it does not know; "
            "see move.any_destination)",
            evidence=evidence,
            enforced="move destination checked",
        )
    return _verdict(d, "C-MOVE", reply, target, evidence, calling)


def _undecided(
    d: CheckDefinition, operation: str, reply: net.RetrieveReply, evidence: dict[str, Any]
) -> CheckResult | None:
    """A malformed, late or endless answer decides nothing (a transfer seen before it still counts)."""
    if reply.failure is not None:
        return undecided_operation(d, operation, reply.failure, evidence)
    if reply.stopped_reading and not reply.transferred:
        text = (
            f"the node sent {reply.pending} pending {operation} responses without ending the operation; "
            "the scanner aborted the association"
        )
        return d.result(
            Status.ERROR, f"undecided: {text}", reason=text, code=ErrorReason.BUDGET_EXHAUSTED, evidence=evidence
        )
    return None


def _verdict(
    d: CheckDefinition,
    operation: str,
    reply: net.RetrieveReply,
    target: RetrieveTarget,
    evidence: dict[str, Any],
    calling: str,
) -> CheckResult:
    if (undecided := _undecided(d, operation, reply, evidence)) is not None:
        return undecided
    if reply.abort is not None and not reply.transferred:
        return aborted_by_node(d, operation, evidence)
    reading = read_reply(reply, operation, target)
    evidence["reading"] = reading.text
    if reading.kind == "refused":
        return d.result(Status.PASS, reading.text, evidence=evidence, enforced=f"{operation} refused by status")
    if reading.kind == "destination_unknown":
        return d.result(Status.PASS, reading.text, evidence=evidence, enforced="move destination checked")
    received = evidence.get("received")
    arrived = f"; {len(received)} object(s) reached the scanner and were discarded" if received else ""
    return d.result(
        Status.FAIL,
        f"{operation} from unregistered AE {calling!r} is served: {reading.text}{arrived}",
        evidence=evidence,
    )


@check("move.any_destination")
def move_any_destination(ctx: ProbeContext, d: CheckDefinition) -> CheckResult:
    calling = ctx.settings.calling_aet
    destination = random_aet("DX")
    evidence: dict[str, Any] = {"calling_aet": calling, "move_destination": destination}
    evidence["intrusive"] = ctx.settings.intrusive
    target = _target(ctx, calling, evidence)
    evidence["requested"] = target.to_evidence()
    with ctx.associate(MOVE_MODELS, calling_aet=calling) as session:
        attempt = session.attempt
        evidence["association"] = attempt.to_evidence()
        if attempt.outcome is not Outcome.ACCEPTED or not any(session.accepted(m) for m in MOVE_MODELS):
            if attempt.outcome in (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ABORTED):
                if (inconclusive := ctx.inconclusive_called_aet(d, attempt)) is not None:
                    return inconclusive
                why = (
                    "no C-MOVE presentation context accepted"
                    if attempt.outcome is Outcome.ACCEPTED
                    else f"association {attempt.describe()}"
                )
                return _not_observable(d, calling, why, evidence)
            return ctx.undecided(d, attempt, evidence)
        model = next(m for m in MOVE_MODELS if session.accepted(m))
        evidence["model"] = net.sop_name(model)
        reply = net.move(session, target.identifier(model), model, destination, cancel_on_transfer=True)
    evidence["c_move"] = reply.to_evidence()
    if (undecided := _undecided(d, "C-MOVE", reply, evidence)) is not None:
        return undecided
    if reply.abort is not None and not reply.transferred:
        return _not_observable(d, calling, "the node aborted the association instead of answering", evidence)
    reading = read_reply(reply, "C-MOVE", target)
    evidence["reading"] = reading.text
    if reading.kind == "destination_unknown":
        return d.result(
            Status.PASS,
            f"C-MOVE to the unknown destination {destination!r} refused: 0xA801 Move destination unknown",
            evidence=evidence,
            enforced="move destination checked",
        )
    if reading.kind == "refused":
        return _not_observable(d, calling, reading.text, evidence)
    if reading.kind == "transferred":
        return d.result(
            Status.FAIL,
            f"the node started moving objects to the unknown destination {destination!r}: {reading.text}",
            evidence=evidence,
        )
    how = "" if target.exists else " Run with --intrusive to ask for an existing instance."
    return d.result(
        Status.ERROR,
        f"inconclusive: a C-MOVE to the unknown destination {destination!r} was not refused as such ({reading.text}); "
        f"some nodes check the destination only when there is something to move.{how}",
        reason="the destination check was not observable",
        code=ErrorReason.INCONCLUSIVE,
        evidence=evidence,
    )


def _not_observable(d: CheckDefinition, calling: str, why: str, evidence: dict[str, Any]) -> CheckResult:
    return d.result(
        Status.SKIPPED,
        f"not observable: C-MOVE is not served to {calling!r} ({why}), so whether the node checks move "
        "destinations cannot be seen from this AE",
        reason=(
            "C-MOVE not served to the scanner's calling AE; register --calling-aet on the node as a peer allowed "
            "to move to test its destination check"
        ),
        evidence=evidence,
    )


def _receiver(ctx: ProbeContext, aet: str) -> Any:
    from dicomaudit.net.receiver import StorageReceiver

    assert ctx.settings.listen_port is not None
    return StorageReceiver(aet, ctx.settings.listen_port, timeout=ctx.settings.timeout).start()
