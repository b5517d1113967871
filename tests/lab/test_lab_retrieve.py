"""C-GET and C-MOVE (PS3.4 C.4.2, C.4.3): selection, sub-operations, final statuses, refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ComputedRadiographyImageStorage,
    CTImageStorage,
    MRImageStorage,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from dicomaudit.lab import MOVE_DESTINATION_UNKNOWN, REFUSED_NOT_AUTHORIZED, LabPACS, LabProfile, default_datasets
from dicomaudit.synth import make_uid
from tests.lab.conftest import CLIENT_TIMEOUT, StorageSCP

GET = StudyRootQueryRetrieveInformationModelGet
MOVE = StudyRootQueryRetrieveInformationModelMove
STORAGE = (CTImageStorage, MRImageStorage, ComputedRadiographyImageStorage)
#: SYN-0001's CT study: 5 instances.
CT_STUDY = next(str(ds.StudyInstanceUID) for ds in default_datasets() if ds.Modality == "CT")
CT_STUDY_SIZE = sum(str(ds.StudyInstanceUID) == CT_STUDY for ds in default_datasets())
#: A well-formed 2.25 UID no archive holds.
NO_SUCH_STUDY = str(make_uid(1, "no such study"))


def _study(uid: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = uid
    return ds


class GetClient:
    """A C-GET requestor: proposes the GET models and, with the SCP role, the storage classes it receives."""

    def __init__(self, calling_aet: str = "VIEWER9", roles: bool = True) -> None:
        self.received: list[Dataset] = []
        self.ae = AE(ae_title=calling_aet)
        self.ae.acse_timeout = self.ae.dimse_timeout = self.ae.network_timeout = CLIENT_TIMEOUT
        for model in (
            GET,
            PatientRootQueryRetrieveInformationModelGet,
            PatientStudyOnlyQueryRetrieveInformationModelGet,
        ):
            self.ae.add_requested_context(model)
        for sop_class in STORAGE:
            self.ae.add_requested_context(sop_class)
        self.roles = [build_role(sop_class, scp_role=True) for sop_class in STORAGE] if roles else []

    def _on_store(self, event: evt.Event) -> int:
        self.received.append(event.dataset)
        return 0x0000

    def get(self, lab: LabPACS, query: Dataset, model: str = GET, **kw: object) -> list[Dataset]:
        """Every response status dataset, the final one last."""
        assoc = self.ae.associate(
            lab.host, lab.port, ext_neg=self.roles, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
        )
        assert assoc.is_established
        responses = [status for status, _ in assoc.send_c_get(query, model, **kw)]  # type: ignore[arg-type]
        assoc.release()
        return responses


def _move(lab: LabPACS, query: Dataset, destination: str, calling_aet: str = "VIEWER9") -> list[Dataset]:
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = CLIENT_TIMEOUT
    ae.add_requested_context(MOVE)
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(lab.host, lab.port)
    assert assoc.is_established
    responses = [status for status, _ in assoc.send_c_move(query, destination, MOVE)]
    assoc.release()
    return responses


def _counts(status: Dataset) -> tuple[int | None, ...]:
    return tuple(
        status.get(k)
        for k in ("NumberOfCompletedSuboperations", "NumberOfFailedSuboperations", "NumberOfWarningSuboperations")
    )


def _last(lab: LabPACS, kind: str) -> dict[str, object]:
    return [e for e in lab.events if e["kind"] == kind][-1]


# -- C-GET ------------------------------------------------------------------------


def test_get_of_a_study_nobody_holds_is_success_with_zero_sub_operations(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when a C-GET names a 2.25 Study Instance UID it does not hold,
    then the only response is Success with zero completed, failed and warning sub-operations."""
    lab = start_lab("open")
    client = GetClient()
    (final,) = client.get(lab, _study(NO_SUCH_STUDY))
    assert final.Status == 0x0000
    assert _counts(final) == (0, 0, 0)
    assert client.received == []
    assert _last(lab, "C-GET")["sub_operations"] == 0


def test_get_of_an_existing_study_delivers_its_instances(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when a C-GET names the CT study with the SCP role negotiated for CT storage,
    then every instance arrives at the requestor's storage handler, with a pending response each,
    and the final response is Success with all sub-operations completed."""
    lab = start_lab("open")
    client = GetClient()
    *pending, final = client.get(lab, _study(CT_STUDY))
    assert [p.Status for p in pending] == [0xFF00] * CT_STUDY_SIZE
    assert (final.Status, *_counts(final)) == (0x0000, CT_STUDY_SIZE, 0, 0)
    assert {str(ds.StudyInstanceUID) for ds in client.received} == {CT_STUDY}
    assert len({str(ds.SOPInstanceUID) for ds in client.received}) == CT_STUDY_SIZE
    event = _last(lab, "C-GET")
    assert (event["outcome"], event["level"], event["sub_operations"], event["completed"]) == (
        "success",
        "STUDY",
        CT_STUDY_SIZE,
        CT_STUDY_SIZE,
    )


def test_get_without_the_scp_role_fails_every_sub_operation_with_a702(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab, when the requestor did not negotiate the SCP role for the storage classes,
    then no C-STORE can be sent back and the final status is 0xA702 with every instance listed as failed."""
    lab = start_lab("open")
    client = GetClient(roles=False)
    final = client.get(lab, _study(CT_STUDY))[-1]
    assert (final.Status, *_counts(final)) == (0xA702, 0, CT_STUDY_SIZE, 0)
    assert client.received == []
    assert _last(lab, "C-GET")["outcome"] == "failed"


def test_get_is_refused_with_0124_in_stock(start_lab: Callable[..., LabPACS]) -> None:
    """Given a stock lab, when an unregistered AE sends a C-GET for an existing study,
    then the only response is "Refused: Not Authorized", with no sub-operation counts and nothing sent."""
    lab = start_lab("stock")
    client = GetClient("RANDOMQ9")
    (final,) = client.get(lab, _study(CT_STUDY))
    assert final.Status == REFUSED_NOT_AUTHORIZED
    assert _counts(final) == (None, None, None)
    assert client.received == []
    assert _last(lab, "C-GET")["outcome"] == "refused"


@pytest.mark.parametrize(
    ("model", "keys"),
    [
        (GET, {"QueryRetrieveLevel": "STUDY"}),  # unique key of the retrieve level missing
        (GET, {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": "*"}),  # no wildcards in a retrieval
        (GET, {"QueryRetrieveLevel": "PATIENT", "PatientID": "SYN-0001"}),  # no PATIENT level in Study Root
        (PatientStudyOnlyQueryRetrieveInformationModelGet, {"QueryRetrieveLevel": "SERIES", "SeriesInstanceUID": "1"}),
    ],
)
@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_get_with_an_invalid_identifier_fails_with_a900(
    start_lab: Callable[..., LabPACS], model: str, keys: dict[str, str]
) -> None:
    """Given an open lab, when a C-GET identifier lacks its unique key, uses a wildcard or a level
    the model does not have, then the only response is 0xA900 "Identifier does not match SOP Class"."""
    lab = start_lab("open")
    query = Dataset()
    for keyword, value in keys.items():
        setattr(query, keyword, value)
    (final,) = GetClient().get(lab, query, model)
    assert final.Status == 0xA900


def test_get_patient_level_in_patient_root_delivers_every_study_of_the_patient(
    start_lab: Callable[..., LabPACS],
) -> None:
    """Given an open lab, when a Patient Root C-GET asks for patient SYN-0001 (a CT and a CR study),
    then all seven instances arrive."""
    lab = start_lab("open")
    client = GetClient()
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    query.PatientID = "SYN-0001"
    final = client.get(lab, query, PatientRootQueryRetrieveInformationModelGet)[-1]
    expected = sum(str(ds.PatientID) == "SYN-0001" for ds in default_datasets())
    assert (final.Status, len(client.received)) == (0x0000, expected)


def test_get_cancel_mid_stream_answers_fe00(start_lab: Callable[..., LabPACS]) -> None:
    """Given a slow lab (50 ms per sub-operation), when the requestor sends C-CANCEL after the first instance,
    then the final response is Cancel (0xFE00) with the remaining sub-operations counted."""
    lab = start_lab("open", response_delay=0.05)
    client = GetClient()
    assoc = client.ae.associate(
        lab.host, lab.port, ext_neg=client.roles, evt_handlers=[(evt.EVT_C_STORE, client._on_store)]
    )
    statuses = []
    for status, _ in assoc.send_c_get(_study(CT_STUDY), GET, msg_id=9):
        statuses.append(status)
        if status.Status == 0xFF00 and len(statuses) == 1:
            assoc.send_c_cancel(9, query_model=GET)
    assoc.release()
    final = statuses[-1]
    assert final.Status == 0xFE00
    assert final.NumberOfRemainingSuboperations > 0
    assert len(client.received) < CT_STUDY_SIZE
    assert _last(lab, "C-GET")["outcome"] == "cancelled"


# -- C-MOVE -----------------------------------------------------------------------


def test_move_to_an_unknown_destination_is_refused_with_a801(start_lab: Callable[..., LabPACS]) -> None:
    """Given an open lab (destination checked always, none known), when a C-MOVE of a nonexistent study
    names an unknown AE, then the only response is 0xA801 and the event records the AE asked for."""
    lab = start_lab("open")
    (final,) = _move(lab, _study(NO_SUCH_STUDY), "ATTACKER1")
    assert final.Status == MOVE_DESTINATION_UNKNOWN
    event = _last(lab, "C-MOVE")
    assert (event["outcome"], event["move_destination"]) == ("refused", "ATTACKER1")


def test_retrieve_profile_checks_the_destination_only_when_there_is_something_to_move(
    start_lab: Callable[..., LabPACS],
) -> None:
    """Given the retrieve profile, when an unknown AE is named for a nonexistent study and then for the CT study,
    then the first is Success with zero sub-operations and the second 0xA801."""
    lab = start_lab("retrieve")
    (nothing,) = _move(lab, _study(NO_SUCH_STUDY), "ATTACKER1")
    (something,) = _move(lab, _study(CT_STUDY), "ATTACKER1")
    assert (nothing.Status, *_counts(nothing)) == (0x0000, 0, 0, 0)
    assert something.Status == MOVE_DESTINATION_UNKNOWN


def test_move_to_a_known_destination_delivers(
    start_lab: Callable[..., LabPACS], storage_scp: Callable[[str], StorageSCP]
) -> None:
    """Given a lab that knows DEST1 (a Storage SCP on loopback), when a C-MOVE of the CT study names DEST1,
    then every instance reaches DEST1 over a sub-association and the final status is Success."""
    dest = storage_scp("DEST1")
    profile = LabProfile(name="move-dest", description="test", move_destinations=(("DEST1", "127.0.0.1", dest.port),))
    lab = start_lab(profile)
    *pending, final = _move(lab, _study(CT_STUDY), "DEST1")
    assert (final.Status, *_counts(final)) == (0x0000, CT_STUDY_SIZE, 0, 0)
    assert len(pending) == CT_STUDY_SIZE
    assert {str(ds.StudyInstanceUID) for ds in dest.received} == {CT_STUDY}
    assert len(dest.received) == CT_STUDY_SIZE
    event = _last(lab, "C-MOVE")
    assert (event["move_destination"], event["destination"]) == ("DEST1", f"127.0.0.1:{dest.port}")


def test_move_is_refused_with_0124_in_stock_without_contacting_the_destination(
    start_lab: Callable[..., LabPACS], storage_scp: Callable[[str], StorageSCP]
) -> None:
    """Given a stock lab that knows DEST1, when an unregistered AE asks to move the CT study there,
    then the only response is 0x0124 and DEST1 receives nothing."""
    dest = storage_scp("DEST1")
    stock = LabProfile(
        name="stock-dest",
        description="test",
        move="listed",
        registered_aets=("PACSADMIN",),
        move_destinations=(("DEST1", "127.0.0.1", dest.port),),
    )
    lab = start_lab(stock)
    (final,) = _move(lab, _study(CT_STUDY), "DEST1", calling_aet="RANDOMQ9")
    assert final.Status == REFUSED_NOT_AUTHORIZED
    assert dest.received == []


def test_readonly_offers_move_but_not_get(start_lab: Callable[..., LabPACS]) -> None:
    """Given a readonly lab (storage not offered), when GET and MOVE models are proposed,
    then the GET contexts are rejected and the MOVE context accepted."""
    lab = start_lab("readonly")
    ae = AE("VIEWER9")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = CLIENT_TIMEOUT
    ae.add_requested_context(GET)
    ae.add_requested_context(MOVE)
    assoc = ae.associate(lab.host, lab.port)
    accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
    assoc.release()
    assert accepted == {MOVE}
