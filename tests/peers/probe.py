"""Raw observations of how a DICOM peer answers (the ground-truth instrument).

Plain pynetdicom (and, for TLS corner cases, raw sockets) with every received
PDU recorded, so the answers can be written down exactly: A-ASSOCIATE-AC,
A-ASSOCIATE-RJ with result/source/reason (PS3.8 §9.3.4), A-ABORT with
source/reason (PS3.8 §9.3.8), a bare TCP close, or a TLS failure.

Only ever used against servers started by the test suite on loopback.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE, evt
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
    UserIdentityNegotiation,
)
from pynetdicom.presentation import build_context, build_role
from pynetdicom.sop_class import (
    BasicGrayscalePrintManagementMeta,
    CTImageStorage,
    InstanceAvailabilityNotification,
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelFind,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
    SecondaryCaptureImageStorage,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    UnifiedProcedureStepEvent,
    UnifiedProcedureStepPull,
    UnifiedProcedureStepPush,
    UnifiedProcedureStepWatch,
    Verification,
)

from tests.peers._process import LOOPBACK

#: The presentation contexts asked for in every association probe.
CONTEXTS: dict[str, str] = {
    "Verification": Verification,
    "PatientRootFind": PatientRootQueryRetrieveInformationModelFind,
    "StudyRootFind": StudyRootQueryRetrieveInformationModelFind,
    "CTImageStorage": CTImageStorage,
    "SecondaryCapture": SecondaryCaptureImageStorage,
}
#: Further contexts a probe may add (asked for only by the probe that needs it).
EXTRA_CONTEXTS: dict[str, str] = {"WorklistFind": ModalityWorklistInformationFind}
_NAMES = {uid: name for name, uid in {**CONTEXTS, **EXTRA_CONTEXTS}.items()}
TIMEOUT = 5.0


@dataclass(frozen=True)
class Peer:
    """Where to probe: loopback port, Called AE Title, optional TLS client context."""

    port: int
    aet: str
    tls: ssl.SSLContext | None = None
    host: str = LOOPBACK


@dataclass
class AssocOutcome:
    """What came back to an A-ASSOCIATE-RQ.

    ``kind`` is ``accepted``, ``rejected``, ``aborted`` (A-ABORT PDU),
    ``closed`` (TCP closed with no PDU) or ``failed`` (no connection / TLS).
    """

    kind: str
    result: int | None = None
    source: int | None = None
    reason: int | None = None
    detail: str = ""
    accepted: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    #: Every PDU received on the connection, live: DIMSE probes read what
    #: arrived after the AC (an A-ABORT, say) from here.
    pdus: list[Any] = field(default_factory=list, repr=False)
    closed: list[bool] = field(default_factory=list, repr=False)
    #: For each accepted context, the roles the requestor got: (as SCU, as SCP).
    roles: dict[str, tuple[bool, bool]] = field(default_factory=dict)

    def after_accept(self) -> str:
        """How the connection ended after the AC: release, A-ABORT (with reason) or close."""
        names = [type(p).__name__ for p in self.pdus]
        for pdu in self.pdus:
            if isinstance(pdu, A_ABORT_RQ):
                return f"peer sent A-ABORT source={pdu.source} reason={pdu.reason_diagnostic} ({pdu.source_str}, {pdu.reason_str})"
        if "A_RELEASE_RP" in names:
            return "released"
        return "TCP closed by peer without A-ABORT" if self.closed else "no further PDU"

    def summary(self) -> str:
        """One line for the ground-truth table."""
        if self.kind == "accepted":
            refused = ", ".join(f"{k} ({v})" for k, v in self.refused.items())
            return (
                "A-ASSOCIATE-AC; accepted: "
                + (", ".join(self.accepted) or "none")
                + (f"; refused: {refused}" if refused else "")
            )
        if self.kind == "rejected":
            return f"A-ASSOCIATE-RJ result={self.result} source={self.source} reason={self.reason} ({self.detail})"
        if self.kind == "aborted":
            return f"A-ABORT source={self.source} reason={self.reason} ({self.detail})"
        if self.kind == "closed":
            return "TCP closed, no PDU"
        return f"no association: {self.detail}"


def _name(uid: str) -> str:
    """Short name of an abstract syntax for the tables (pynetdicom's keyword otherwise)."""
    return _NAMES.get(uid) or getattr(UID(uid), "keyword", "") or uid


def _ae(calling: str, extra: tuple[str, ...] = (), uids: Sequence[str] | None = None) -> AE:
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    ae.connection_timeout = TIMEOUT
    if uids is None:
        uids = (*CONTEXTS.values(), *(EXTRA_CONTEXTS[name] for name in extra))
    for uid in uids:
        ae.add_requested_context(uid)
    return ae


def _associate(
    peer: Peer,
    calling: str,
    called: str | None = None,
    source: str | None = None,
    extra: tuple[str, ...] = (),
    *,
    uids: Sequence[str] | None = None,
    ext_neg: Sequence[Any] = (),
    handlers: Sequence[tuple[Any, Any]] = (),
) -> tuple[Any, AssocOutcome]:
    """Open an association and classify the answer; the caller releases it.

    *source* binds the local end to another loopback address (e.g.
    ``127.0.0.2``) to see whether the peer checks the caller's host.
    *uids* replaces the default contexts (:data:`CONTEXTS` plus *extra*);
    *ext_neg* adds extended negotiation items (SCP/SCU role selection, user
    identity); *handlers* adds event handlers (e.g. ``EVT_C_STORE`` for the
    sub-operations of a C-GET).
    """
    pdus: list[Any] = []
    closed: list[bool] = []
    all_handlers = [
        (evt.EVT_PDU_RECV, lambda event: pdus.append(event.pdu)),
        (evt.EVT_CONN_CLOSE, lambda event: closed.append(True)),
        *handlers,
    ]
    tls_args = (peer.tls, "localhost") if peer.tls is not None else None
    try:
        assoc = _ae(calling, extra, uids).associate(
            peer.host,
            peer.port,
            ae_title=called or peer.aet,
            evt_handlers=all_handlers,
            tls_args=tls_args,
            bind_address=(source or "", 0),
            ext_neg=list(ext_neg) or None,
        )
    except (OSError, ssl.SSLError) as exc:  # pragma: no cover - depends on peer
        return None, AssocOutcome("failed", detail=f"{type(exc).__name__}: {exc}")
    for pdu in list(pdus):
        if isinstance(pdu, A_ASSOCIATE_AC):
            out = AssocOutcome("accepted", pdus=pdus, closed=closed)
            out.accepted = tuple(_name(cx.abstract_syntax) for cx in assoc.accepted_contexts)
            out.refused = {_name(cx.abstract_syntax): str(cx.status) for cx in assoc.rejected_contexts}
            out.roles = {
                _name(cx.abstract_syntax): (bool(cx.as_scu), bool(cx.as_scp)) for cx in assoc.accepted_contexts
            }
            return assoc, out
        if isinstance(pdu, A_ASSOCIATE_RJ):
            return assoc, AssocOutcome(
                "rejected",
                pdu.result,
                pdu.source,
                pdu.reason_diagnostic,
                detail=f"{pdu.result_str}, {pdu.source_str}, {pdu.reason_str}",
                pdus=pdus,
            )
        if isinstance(pdu, A_ABORT_RQ):
            return assoc, AssocOutcome(
                "aborted",
                None,
                pdu.source,
                pdu.reason_diagnostic,
                detail=f"{pdu.source_str}, {pdu.reason_str}",
                pdus=pdus,
            )
    names = [type(p).__name__ for p in pdus]
    if not pdus:
        return assoc, AssocOutcome("closed" if closed else "failed", detail="no PDU", pdus=pdus, closed=closed)
    return assoc, AssocOutcome("failed", detail=f"unexpected PDUs {names}", pdus=pdus, closed=closed)


def associate(peer: Peer, calling: str, called: str | None = None, source: str | None = None) -> AssocOutcome:
    """Request all :data:`CONTEXTS`, classify the answer, release if accepted."""
    assoc, out = _associate(peer, calling, called, source)
    if assoc is not None and assoc.is_established:
        assoc.release()
    return out


@dataclass
class DimseOutcome:
    """Association outcome plus the DIMSE statuses and identifiers seen."""

    assoc: AssocOutcome
    statuses: list[int] = field(default_factory=list)
    matches: int = 0
    keywords: tuple[str, ...] = ()
    identifiers: list[Dataset] = field(default_factory=list)
    note: str = ""

    @property
    def final_status(self) -> int | None:
        """The last status received (the final response), if any."""
        return self.statuses[-1] if self.statuses else None

    def summary(self) -> str:
        """One line for the ground-truth table."""
        if self.assoc.kind != "accepted":
            return self.assoc.summary()
        if not self.statuses:
            return f"no DIMSE response ({self.note})" if self.note else "no DIMSE response"
        text = "statuses " + ", ".join(f"0x{s:04X}" for s in _squash(self.statuses))
        if self.matches or self.keywords:
            text += f"; {self.matches} match(es); keys: {', '.join(self.keywords)}"
        return text + (f"; {self.note}" if self.note else "")


def _squash(statuses: list[int]) -> list[int]:
    """Statuses with runs of repeated Pending collapsed for readability."""
    out: list[int] = []
    for s in statuses:
        if not out or out[-1] != s:
            out.append(s)
    return out


def c_echo(peer: Peer, calling: str) -> DimseOutcome:
    """C-ECHO (PS3.7 §9.1.5) from *calling*."""
    assoc, out = _associate(peer, calling)
    result = DimseOutcome(out)
    if assoc is not None and assoc.is_established:
        if "Verification" in out.accepted:
            status = assoc.send_c_echo()
            if "Status" in status:
                result.statuses.append(int(status.Status))
            else:
                result.note = "no C-ECHO-RSP; " + out.after_accept()
        else:
            result.note = "Verification context refused"
        _close(assoc)
    return result


def find_query(model: str) -> Dataset:
    """The wildcard identifier used by the probes for *model* (PS3.4 C.6)."""
    ds = Dataset()
    if model == "WorklistFind":
        step = Dataset()
        step.Modality = ""
        step.ScheduledStationAETitle = ""
        step.ScheduledProcedureStepStartDate = ""
        ds.PatientName = "*"
        ds.PatientID = ""
        ds.AccessionNumber = ""
        ds.ScheduledProcedureStepSequence = [step]
    elif model == "PatientRootFind":
        ds.QueryRetrieveLevel = "PATIENT"
        ds.PatientName = "*"
        ds.PatientID = ""
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
    else:
        ds.QueryRetrieveLevel = "STUDY"
        ds.PatientName = "*"
        ds.PatientID = ""
        ds.StudyInstanceUID = ""
        ds.StudyDate = ""
        ds.AccessionNumber = ""
        ds.StudyDescription = ""
    return ds


def c_find(peer: Peer, calling: str, model: str, cancel_after: int | None = None, cap: int = 1000) -> DimseOutcome:
    """Wildcard C-FIND on *model* (``PatientRootFind``, ``StudyRootFind``, ``WorklistFind``).

    With *cancel_after*, a C-CANCEL (PS3.7 §9.3.2.3) is sent after that many
    Pending responses; the statuses that follow show whether it was honoured
    (a final 0xFE00 Cancel) or ignored (more Pendings, then 0x0000).
    """
    extra = (model,) if model in EXTRA_CONTEXTS else ()
    assoc, out = _associate(peer, calling, extra=extra)
    result = DimseOutcome(out)
    if assoc is None or not assoc.is_established:
        return result
    if model not in out.accepted:
        result.note = f"{model} context refused"
        _close(assoc)
        return result
    keywords: set[str] = set()
    pending = 0
    uid = {**CONTEXTS, **EXTRA_CONTEXTS}[model]
    responses = assoc.send_c_find(find_query(model), uid, msg_id=7)
    for status, identifier in responses:
        if "Status" not in status:
            result.note = "no C-FIND-RSP; " + out.after_accept()
            break
        code = int(status.Status)
        result.statuses.append(code)
        if code in (0xFF00, 0xFF01):
            pending += 1
            if identifier is not None:
                result.identifiers.append(identifier)
                keywords.update(e.keyword or str(e.tag) for e in identifier)
            if cancel_after is not None and pending == cancel_after:
                assoc.send_c_cancel(7, query_model=uid)
                result.note = f"C-CANCEL sent after {pending} pending"
            if pending >= cap:
                break
    result.matches = pending
    result.keywords = tuple(sorted(keywords))
    _close(assoc)
    return result


def c_store(peer: Peer, calling: str, ds: Dataset) -> DimseOutcome:
    """C-STORE (PS3.7 §9.1.1) of *ds* from *calling*."""
    assoc, out = _associate(peer, calling)
    result = DimseOutcome(out)
    if assoc is None or not assoc.is_established:
        return result
    name = _NAMES.get(ds.SOPClassUID)
    if name not in out.accepted:
        result.note = f"{name} context refused"
    else:
        status = assoc.send_c_store(ds)
        if "Status" in status:
            result.statuses.append(int(status.Status))
        else:
            result.note = "no C-STORE-RSP; " + out.after_accept()
    _close(assoc)
    return result


def _close(assoc: Any) -> None:
    if assoc.is_established:
        assoc.release()


# -- service negotiation, retrieve, worklist, user identity ------------------------

#: The SOP classes asked for by the ``services.offered`` ground truth, one
#: association with all of them (PS3.4 annexes: C, K, F, J, Q, R, H, CC).
SERVICE_CONTEXTS: dict[str, str] = {
    "Verification": Verification,
    "PatientRootFind": PatientRootQueryRetrieveInformationModelFind,
    "PatientRootMove": PatientRootQueryRetrieveInformationModelMove,
    "PatientRootGet": PatientRootQueryRetrieveInformationModelGet,
    "StudyRootFind": StudyRootQueryRetrieveInformationModelFind,
    "StudyRootMove": StudyRootQueryRetrieveInformationModelMove,
    "StudyRootGet": StudyRootQueryRetrieveInformationModelGet,
    "PatientStudyOnlyFind": PatientStudyOnlyQueryRetrieveInformationModelFind,
    "PatientStudyOnlyMove": PatientStudyOnlyQueryRetrieveInformationModelMove,
    "PatientStudyOnlyGet": PatientStudyOnlyQueryRetrieveInformationModelGet,
    "WorklistFind": ModalityWorklistInformationFind,
    "MPPS": ModalityPerformedProcedureStep,
    "StorageCommitmentPush": StorageCommitmentPushModel,
    "InstanceAvailabilityNotification": InstanceAvailabilityNotification,
    "BasicGrayscalePrintMeta": BasicGrayscalePrintManagementMeta,
    "UPSPush": UnifiedProcedureStepPush,
    "UPSPull": UnifiedProcedureStepPull,
    "UPSWatch": UnifiedProcedureStepWatch,
    "UPSEvent": UnifiedProcedureStepEvent,
    "CTImageStorage": CTImageStorage,
}
_NAMES.update({uid: name for name, uid in SERVICE_CONTEXTS.items()})
#: C-FAILED status a C-GET client answers the C-STORE sub-operations with
#: (0xA700 Refused: Out of Resources): the data is discarded, never kept.
REFUSE_SUBOP = 0xA700


def _unusable(out: AssocOutcome) -> str:
    """Why an accepted association cannot be used: AC without any accepted context."""
    refused = ", ".join(f"{k} ({v})" for k, v in out.refused.items())
    return f"A-ASSOCIATE-AC accepting no context (refused: {refused}); pynetdicom then aborts"


def negotiate(
    peer: Peer, calling: str, contexts: dict[str, str] | None = None, called: str | None = None
) -> AssocOutcome:
    """One association proposing every context of :data:`SERVICE_CONTEXTS`; released if accepted."""
    uids = list((contexts or SERVICE_CONTEXTS).values())
    assoc, out = _associate(peer, calling, called, uids=uids)
    if assoc is not None and assoc.is_established:
        assoc.release()
    return out


@dataclass
class RetrieveResponse:
    """One C-GET-RSP / C-MOVE-RSP: status, sub-operation counts, error comment."""

    status: int
    remaining: int | None = None
    completed: int | None = None
    failed: int | None = None
    warning: int | None = None
    error_comment: str = ""
    failed_uids: int = 0

    def text(self) -> str:
        counts = "/".join(
            "-" if n is None else str(n) for n in (self.remaining, self.completed, self.failed, self.warning)
        )
        out = f"0x{self.status:04X} r/c/f/w={counts}"
        if self.error_comment:
            out += f" ErrorComment={self.error_comment!r}"
        if self.failed_uids:
            out += f" FailedSOPInstanceUIDList={self.failed_uids}"
        return out


@dataclass
class RetrieveOutcome:
    """What a C-GET or C-MOVE drew: every response, C-STORE sub-operations received, how it ended."""

    assoc: AssocOutcome
    responses: list[RetrieveResponse] = field(default_factory=list)
    stores_received: int = 0
    note: str = ""

    @property
    def final(self) -> RetrieveResponse | None:
        """The last response (the final one unless the peer aborted)."""
        return self.responses[-1] if self.responses else None

    @property
    def final_status(self) -> int | None:
        return self.final.status if self.final else None

    def summary(self) -> str:
        """One line for the ground-truth table."""
        if self.assoc.kind != "accepted":
            return self.assoc.summary()
        parts = []
        pending = [r for r in self.responses if r.status in (0xFF00, 0xFF01)]
        if pending:
            parts.append(f"{len(pending)} x Pending (first {pending[0].text()})")
        finals = [r for r in self.responses if r.status not in (0xFF00, 0xFF01)]
        parts += [f"final {r.text()}" for r in finals]
        if not finals:
            parts.append("no final response")
        if self.stores_received:
            parts.append(f"{self.stores_received} C-STORE-RQ sub-operation(s) received (answered 0x{REFUSE_SUBOP:04X})")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def retrieve_identifier(study_uid: str, patient_id: str | None = None) -> Dataset:
    """STUDY-level C-GET / C-MOVE identifier (PS3.4 C.4.2.1.4, C.4.3.1.3)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid
    return ds


def _retrieve_response(status: Dataset, identifier: Dataset | None) -> RetrieveResponse:
    def count(keyword: str) -> int | None:
        value = status.get(keyword)
        return None if value is None or value == "" else int(value)

    failed = identifier.get("FailedSOPInstanceUIDList") if identifier is not None else None
    if isinstance(failed, str):
        failed = [failed] if failed else []
    return RetrieveResponse(
        int(status.Status),
        count("NumberOfRemainingSuboperations"),
        count("NumberOfCompletedSuboperations"),
        count("NumberOfFailedSuboperations"),
        count("NumberOfWarningSuboperations"),
        str(status.get("ErrorComment", "") or ""),
        len(failed or []),
    )


def c_get(
    peer: Peer,
    calling: str,
    model: str,
    identifier: Dataset,
    storage_uids: Sequence[str] = (CTImageStorage,),
) -> RetrieveOutcome:
    """C-GET (PS3.7 §9.1.3) with SCP role selection for *storage_uids*.

    Every C-STORE sub-operation is answered with :data:`REFUSE_SUBOP` and
    its data dropped; the count of those received is recorded.
    """
    received: list[int] = []

    def refuse(event: Any) -> int:
        received.append(1)
        return REFUSE_SUBOP

    uid = SERVICE_CONTEXTS[model]
    roles = [build_role(s, scp_role=True) for s in storage_uids]
    assoc, out = _associate(
        peer, calling, uids=[uid, *storage_uids], ext_neg=roles, handlers=[(evt.EVT_C_STORE, refuse)]
    )
    result = RetrieveOutcome(out)
    if assoc is None or not assoc.is_established:
        if out.kind == "accepted":
            result.note = _unusable(out)
        return result
    if model not in out.accepted:
        result.note = f"{model} context refused ({out.refused.get(model, '?')})"
        _close(assoc)
        return result
    for status, ident in assoc.send_c_get(identifier, uid, msg_id=11):
        if "Status" not in status:
            result.note = "no (further) C-GET-RSP; " + out.after_accept()
            break
        result.responses.append(_retrieve_response(status, ident))
    result.stores_received = len(received)
    _close(assoc)
    return result


def c_move(peer: Peer, calling: str, model: str, identifier: Dataset, destination: str) -> RetrieveOutcome:
    """C-MOVE (PS3.7 §9.1.4) of *identifier* to *destination*; every response recorded."""
    uid = SERVICE_CONTEXTS[model]
    assoc, out = _associate(peer, calling, uids=[uid])
    result = RetrieveOutcome(out)
    if assoc is None or not assoc.is_established:
        if out.kind == "accepted":
            result.note = _unusable(out)
        return result
    if model not in out.accepted:
        result.note = f"{model} context refused ({out.refused.get(model, '?')})"
        _close(assoc)
        return result
    for status, ident in assoc.send_c_move(identifier, destination, uid, msg_id=13):
        if "Status" not in status:
            result.note = "no (further) C-MOVE-RSP; " + out.after_accept()
            break
        result.responses.append(_retrieve_response(status, ident))
    _close(assoc)
    return result


def worklist_query() -> Dataset:
    """The worklist wildcard: PatientName ``*`` and one SPS item with empty Modality, station AE, start date."""
    step = Dataset()
    step.Modality = ""
    step.ScheduledStationAETitle = ""
    step.ScheduledProcedureStepStartDate = ""
    ds = Dataset()
    ds.PatientName = "*"
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def _keys(ds: Dataset, prefix: str = "") -> set[str]:
    """Keywords present in *ds*, sequence items as ``Sequence>Keyword``."""
    out: set[str] = set()
    for elem in ds:
        name = prefix + (elem.keyword or str(elem.tag))
        out.add(name)
        if elem.VR == "SQ":
            for item in elem.value:
                out |= _keys(item, name + ">")
    return out


def worklist_find(peer: Peer, calling: str, query: Dataset | None = None) -> DimseOutcome:
    """Modality Worklist C-FIND (PS3.4 K) with :func:`worklist_query`; keys include nested ones."""
    assoc, out = _associate(peer, calling, uids=[Verification, ModalityWorklistInformationFind])
    result = DimseOutcome(out)
    if assoc is None or not assoc.is_established:
        if out.kind == "accepted":
            result.note = _unusable(out)
        return result
    if "WorklistFind" not in out.accepted:
        result.note = f"WorklistFind context refused ({out.refused.get('WorklistFind', '?')})"
        _close(assoc)
        return result
    keys: set[str] = set()
    for status, identifier in assoc.send_c_find(query or worklist_query(), ModalityWorklistInformationFind, msg_id=9):
        if "Status" not in status:
            result.note = "no (further) C-FIND-RSP; " + out.after_accept()
            break
        code = int(status.Status)
        result.statuses.append(code)
        if code in (0xFF00, 0xFF01):
            result.matches += 1
            if identifier is not None:
                result.identifiers.append(identifier)
                keys |= _keys(identifier)
        elif status.get("ErrorComment"):
            result.note = f"ErrorComment={str(status.ErrorComment)!r}"
    result.keywords = tuple(sorted(keys))
    _close(assoc)
    return result


@dataclass
class UserIdentityOutcome:
    """Answer to an A-ASSOCIATE-RQ carrying a User Identity sub-item (PS3.7 D.3.3.7)."""

    assoc: AssocOutcome
    #: Item types in the AC's User Information item (0x51 max length, 0x52 impl. UID, 0x59 user identity...).
    ac_items: tuple[int, ...] = ()
    server_response: bytes | None = None

    def summary(self) -> str:
        if self.assoc.kind != "accepted":
            return self.assoc.summary()
        items = ", ".join(f"0x{t:02X}" for t in self.ac_items)
        if 0x59 in self.ac_items:
            return f"A-ASSOCIATE-AC **with** user identity response 0x59 (server response {self.server_response!r}); AC user items: {items}"
        return f"A-ASSOCIATE-AC without 0x59 (identity ignored); AC user items: {items}"


def user_identity(
    peer: Peer, calling: str, username: bytes = b"dicomaudit-nobody", passcode: bytes = b"not-a-password"
) -> UserIdentityOutcome:
    """Associate (Verification) offering a bogus username + passcode (type 2), positive response requested."""
    item = UserIdentityNegotiation()
    item.user_identity_type = 2
    item.primary_field = username
    item.secondary_field = passcode
    item.positive_response_requested = True
    assoc, out = _associate(peer, calling, uids=[Verification], ext_neg=[item])
    result = UserIdentityOutcome(out)
    for pdu in out.pdus:
        if isinstance(pdu, A_ASSOCIATE_AC):
            user_data = pdu.user_information.user_data if pdu.user_information else []
            result.ac_items = tuple(int(sub.item_type) for sub in user_data)
            for sub in user_data:
                if int(sub.item_type) == 0x59:
                    result.server_response = bytes(sub.server_response or b"")
    if assoc is not None and assoc.is_established:
        assoc.release()
    return result


# -- raw socket probes (for what pynetdicom would hide) ------------------------


def associate_rq_bytes(called: str, calling: str) -> bytes:
    """An encoded A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2) asking for Verification."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title = calling
    primitive.called_ae_title = called
    max_len = MaximumLengthNotification()
    max_len.maximum_length_received = 16382
    impl = ImplementationClassUIDNotification()
    impl.implementation_class_uid = "1.2.826.0.1.3680043.9.3811.3.0.4"
    primitive.user_information = [max_len, impl]
    context = build_context(Verification)
    context.context_id = 1
    primitive.presentation_context_definition_list = [context]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return pdu.encode()


@dataclass
class RawOutcome:
    """What a raw socket saw: handshake result, first bytes read, or the error."""

    handshake: str = ""
    first_read: bytes = b""
    error: str = ""
    send_error: str = ""
    closed: bool = False

    def summary(self) -> str:
        """One line for the ground-truth table."""
        parts = []
        if self.handshake:
            parts.append(f"handshake: {self.handshake}")
        if self.send_error:
            parts.append(f"send error: {self.send_error}")
        if self.first_read:
            head = self.first_read[:16].hex(" ")
            parts.append(f"read {len(self.first_read)} bytes [{head}{' ...' if len(self.first_read) > 16 else ''}]")
        if self.error:
            parts.append(f"read error: {self.error}")
        if self.closed:
            parts.append("then TCP close (EOF)")
        return "; ".join(parts)


def _pdu_complete(data: bytes) -> bool:
    """True when *data* starts with one whole DICOM PDU (type 1-7, PS3.8 §9.3)."""
    if len(data) < 6 or not 1 <= data[0] <= 7:
        return False
    return len(data) >= 6 + int.from_bytes(data[2:6], "big")


def _read_all(sock: socket.socket | ssl.SSLSocket, out: RawOutcome) -> None:
    """Read until EOF, an error, or one complete PDU (an AC leaves the peer waiting)."""
    chunks: list[bytes] = []
    try:
        while not _pdu_complete(b"".join(chunks)):
            chunk = sock.recv(65536)
            if not chunk:
                out.closed = True
                break
            chunks.append(chunk)
    except (OSError, ssl.SSLError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    out.first_read = b"".join(chunks)


def plaintext_rq(port: int, called: str, calling: str = "DICOMAUDIT") -> RawOutcome:
    """Send a plaintext A-ASSOCIATE-RQ and record every byte until close/timeout."""
    out = RawOutcome()
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) as sock:
        sock.sendall(associate_rq_bytes(called, calling))
        _read_all(sock, out)
    return out


def tls_rq(port: int, ctx: ssl.SSLContext, called: str, calling: str = "DICOMAUDIT") -> RawOutcome:
    """TLS handshake, then an A-ASSOCIATE-RQ; record where a failure shows up.

    Under TLS 1.3 the client finishes its handshake before the server has
    checked the client certificate, so a refusal arrives as an alert on the
    first read rather than as a handshake error.
    """
    out = RawOutcome()
    raw = socket.create_connection((LOOPBACK, port), timeout=TIMEOUT)
    try:
        sock = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
        try:
            sock.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            out.handshake = f"failed {type(exc).__name__}: {exc}"
            return out
        out.handshake = f"ok ({sock.version()})"
        try:
            sock.sendall(associate_rq_bytes(called, calling))
        except (OSError, ssl.SSLError) as exc:
            # The peer may already have closed; its alert can still be read.
            out.send_error = f"{type(exc).__name__}: {exc}"
        _read_all(sock, out)
        return out
    finally:
        raw.close()
