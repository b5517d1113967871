"""Measure how each peer configuration answers; print the GROUND_TRUTH tables.

Run from the repo root:

* ``python -m tests.peers.groundtruth [KIND:CONFIG...]``: association, echo,
  find, store (questions a-h of ``GROUND_TRUTH.md``), e.g. ``orthanc:stock``,
  ``dcmqrscp:restricted``, ``dcmtk:storescp``, ``pynetdicom:qrscp``;
* ``python -m tests.peers.groundtruth --services [KIND:CONFIG...]``: service
  negotiation, C-GET, C-MOVE, worklist, user identity (questions S-a..S-f);
* ``python -m tests.peers.groundtruth --all``: both tables;
* ``python -m tests.peers.groundtruth --cancel``: the C-CANCEL timing runs.

Starts every peer on loopback in a temporary folder, asks the questions with
:mod:`tests.peers.probe` (raw pynetdicom, independent of dicomaudit) and
prints one Markdown table row per (configuration, question).
"""

from __future__ import annotations

import random
import ssl
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.peers import probe
from tests.peers._process import free_port
from tests.peers.data import fallback_studies, many_patients, synthetic_datasets
from tests.peers.orthanc import OrthancServer

UNREGISTERED = "DICOMAUDIT"
_rng = random.Random(20240611)


def random_aet() -> str:
    """A random 12-character AE title (seeded, so reruns use the same ones)."""
    return "".join(_rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(12))


Row = tuple[str, str, str]


def _questions(peer: probe.Peer, registered: str | None, load_more: Callable[[], None]) -> Iterator[Row]:
    callers = [(UNREGISTERED, "registered" if registered == UNREGISTERED else "unregistered")]
    if registered == UNREGISTERED:
        registered = None  # orthanc:retrieve registers the scanner's own AE: no second caller
    if registered:
        callers.append((registered, "registered"))
    yield ("a", f"assoc: called={peer.aet}, calling={UNREGISTERED}", probe.associate(peer, UNREGISTERED).summary())
    called = random_aet()
    yield (
        "b",
        f"assoc: called={called} (random), calling={UNREGISTERED}",
        probe.associate(peer, UNREGISTERED, called).summary(),
    )
    calling = random_aet()
    yield ("c", f"assoc: called={peer.aet}, calling={calling} (random)", probe.associate(peer, calling).summary())
    if registered:
        yield (
            "a+",
            f"assoc: called={peer.aet}, calling={registered} (registered)",
            probe.associate(peer, registered).summary(),
        )
        yield (
            "b+",
            f"assoc: called={called} (random), calling={registered} (registered)",
            probe.associate(peer, registered, called).summary(),
        )
        yield (
            "h",
            f"assoc: called={peer.aet}, calling={registered} (registered) from 127.0.0.2",
            probe.associate(peer, registered, source="127.0.0.2").summary(),
        )
    for aet, label in callers:
        yield ("d", f"C-ECHO from {aet} ({label})", probe.c_echo(peer, aet).summary())
    for aet, label in callers:
        for model in ("PatientRootFind", "StudyRootFind"):
            level = "PATIENT" if model == "PatientRootFind" else "STUDY"
            yield (
                "e",
                f"C-FIND {model} {level} PatientName=* from {aet} ({label})",
                probe.c_find(peer, aet, model).summary(),
            )
    for aet, label in callers:
        ds = fallback_studies(seed=hash(aet) & 0xFFFF)[0]
        yield ("f", f"C-STORE CT from {aet} ({label})", probe.c_store(peer, aet, ds).summary())
    load_more()
    for aet, label in callers:
        out = probe.c_find(peer, aet, "StudyRootFind", cancel_after=1)
        yield (
            "e-cancel",
            f"C-FIND StudyRoot with 60+ matches, C-CANCEL after 1st pending, from {aet} ({label})",
            out.summary(),
        )


def _tls_questions(server: OrthancServer) -> Iterator[Row]:
    assert server.tls is not None
    yield (
        "g",
        "plaintext A-ASSOCIATE-RQ (raw socket) to TLS port",
        probe.plaintext_rq(server.port, server.aet).summary(),
    )
    no_cert = server.tls.client_context(with_client_cert=False)
    yield (
        "g",
        "TLS (default: 1.3) without client cert, then A-ASSOCIATE-RQ",
        probe.tls_rq(server.port, no_cert, server.aet).summary(),
    )
    no_cert12 = server.tls.client_context(with_client_cert=False)
    no_cert12.maximum_version = ssl.TLSVersion.TLSv1_2
    yield (
        "g",
        "TLS 1.2 without client cert, then A-ASSOCIATE-RQ",
        probe.tls_rq(server.port, no_cert12, server.aet).summary(),
    )
    with_cert = server.tls.client_context()
    yield ("g", "TLS with client cert, then A-ASSOCIATE-RQ", probe.tls_rq(server.port, with_cert, server.aet).summary())
    yield (
        "g",
        "pynetdicom plaintext association to TLS port",
        probe.associate(probe.Peer(server.port, server.aet), UNREGISTERED).summary(),
    )
    yield (
        "g",
        "pynetdicom TLS association without client cert",
        probe.associate(probe.Peer(server.port, server.aet, no_cert), UNREGISTERED).summary(),
    )


@contextmanager
def _orthanc(config: str, tmp: Path) -> Iterator[tuple[probe.Peer, str | None, Callable[[], None], OrthancServer]]:
    with OrthancServer(config, tmp, synthetic_datasets()) as server:
        ctx = server.tls.client_context() if server.tls else None
        yield (
            probe.Peer(server.port, server.aet, ctx),
            server.registered_aet,
            lambda: server.load(many_patients(60)),
            server,
        )


@contextmanager
def _dcmqrscp(config: str, tmp: Path) -> Iterator[tuple[probe.Peer, str | None, Callable[[], None], object]]:
    from tests.peers.dcmtk import DcmqrscpServer

    with DcmqrscpServer(config, tmp, synthetic_datasets()) as server:
        yield (
            probe.Peer(server.port, server.aet),
            server.registered_aet,
            lambda: server.load(many_patients(60)),
            server,
        )


@contextmanager
def _qrscp(config: str, tmp: Path) -> Iterator[tuple[probe.Peer, str | None, Callable[[], None], object]]:
    from tests.peers.qrscp import QrscpServer

    with QrscpServer(tmp, synthetic_datasets()) as server:
        yield (
            probe.Peer(server.port, server.aet),
            None,
            lambda: server.load(many_patients(60)),
            server,
        )


def _dcmtk_simple(kind: str, tmp: Path) -> Iterator[Row]:
    """storescp and wlmscpfs: association, echo, store / worklist find."""
    from tests.peers.dcmtk import StorescpServer, WlmscpfsServer

    server = StorescpServer(tmp) if kind == "storescp" else WlmscpfsServer(tmp, items=2)
    with server:
        peer = probe.Peer(server.port, server.aet)
        yield ("a", f"assoc: called={peer.aet}, calling={UNREGISTERED}", probe.associate(peer, UNREGISTERED).summary())
        called = random_aet()
        yield (
            "b",
            f"assoc: called={called} (random), calling={UNREGISTERED}",
            probe.associate(peer, UNREGISTERED, called).summary(),
        )
        calling = random_aet()
        yield ("c", f"assoc: called={peer.aet}, calling={calling} (random)", probe.associate(peer, calling).summary())
        yield ("d", f"C-ECHO from {UNREGISTERED}", probe.c_echo(peer, UNREGISTERED).summary())
        for model in ("PatientRootFind", "StudyRootFind"):
            yield ("e", f"C-FIND {model} from {UNREGISTERED}", probe.c_find(peer, UNREGISTERED, model).summary())
        if kind == "wlmscpfs":
            yield (
                "e",
                f"C-FIND Modality Worklist (PatientName=*) from {UNREGISTERED}",
                probe.c_find(peer, UNREGISTERED, "WorklistFind").summary(),
            )
            yield (
                "e",
                "C-FIND Modality Worklist with random called AE",
                probe.c_find(probe.Peer(server.port, called), UNREGISTERED, "WorklistFind").summary(),
            )
        ds = fallback_studies(seed=7)[0]
        yield ("f", f"C-STORE CT from {UNREGISTERED}", probe.c_store(peer, UNREGISTERED, ds).summary())


def _insecure_tls() -> ssl.SSLContext:
    """A TLS client that trusts anything: only asks "does this port speak TLS?"."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cancel_experiment(runs: int = 3, patients: int = 350) -> None:
    """C-CANCEL after the first Pending against open Orthanc and dcmqrscp, *runs* times."""
    data = many_patients(patients)
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            with OrthancServer("open", Path(tmp), data) as orthanc:
                out = probe.c_find(
                    probe.Peer(orthanc.port, orthanc.aet), UNREGISTERED, "PatientRootFind", cancel_after=1
                )
                print(
                    f"run {run}: orthanc:open {patients} patients -> {out.matches} Pending, final 0x{out.final_status or 0:04X}"
                )
            from tests.peers.dcmtk import DcmqrscpServer

            with DcmqrscpServer("open", Path(tmp), data) as dcmqrscp:
                out = probe.c_find(
                    probe.Peer(dcmqrscp.port, dcmqrscp.aet), UNREGISTERED, "PatientRootFind", cancel_after=1
                )
                print(
                    f"run {run}: dcmqrscp:open {patients} patients -> {out.matches} Pending, final 0x{out.final_status or 0:04X}"
                )


# -- services: negotiation, C-GET, C-MOVE, worklist, user identity -------------------

SERVICE_CONFIGS = [
    "orthanc:open",
    "orthanc:stock",
    "orthanc:allowlist",
    "orthanc:retrieve",
    "orthanc:retrieve-default-flags",
    "dcmqrscp:open",
    "dcmqrscp:move_aetitle",
    "dcmqrscp:move_aetitle+self",
    "dcmqrscp:no_get",
    "dcmqrscp:restricted",
    "pynetdicom:qrscp",
    "dcmtk:storescp",
    "dcmtk:wlmscpfs",
]
#: A StudyInstanceUID / PatientID made fresh for this run: cannot exist anywhere.
FRESH_STUDY = f"2.25.{uuid.uuid4().int}"
FRESH_PATIENT = f"NOSUCH{uuid.uuid4().hex[:10].upper()}"


@contextmanager
def _server(spec: str, tmp: Path) -> Iterator[Any]:
    """Start the peer named *spec* (``kind:config``) with the synthetic data."""
    from tests.peers.dcmtk import DcmqrscpServer, StorescpServer, WlmscpfsServer
    from tests.peers.qrscp import QrscpServer

    kind, config = spec.split(":")
    data = synthetic_datasets()
    server: Any
    if kind == "orthanc":
        server = OrthancServer(config.split("-")[0], tmp, data)
        if config == "retrieve-default-flags":
            # DICOMAUDIT registered with no Allow* flags (all default to true).
            for entry in server.template["DicomModalities"].values():
                for flag in [k for k in entry if k.startswith("Allow")]:
                    del entry[flag]
    elif kind == "dcmqrscp":
        base = config.split("+")[0]
        destinations = {"DEST": free_port()}
        if config.endswith("+self"):
            destinations[UNREGISTERED] = free_port()  # the scanner's AE in the HostTable
        server = DcmqrscpServer(base, tmp, data, destinations=destinations)
    elif kind == "pynetdicom":
        server = QrscpServer(tmp, data)
    elif config == "storescp":
        server = StorescpServer(tmp)
    else:
        server = WlmscpfsServer(tmp, items=2)
    with server:
        yield server


def _service_questions(server: Any, caller: str, label: str) -> Iterator[Row]:
    data = synthetic_datasets()
    study = data[0].StudyInstanceUID
    patient = data[0].PatientID
    in_study = sum(1 for ds in data if ds.StudyInstanceUID == study)
    storage = sorted({str(ds.SOPClassUID) for ds in data})
    peer = probe.Peer(server.port, server.aet)
    who = f"from {caller} ({label})"
    neg = probe.negotiate(peer, caller)
    yield ("S-a", f"negotiate {len(probe.SERVICE_CONTEXTS)} service contexts {who}", neg.summary())
    fresh = probe.retrieve_identifier(FRESH_STUDY)
    fresh_pid = probe.retrieve_identifier(FRESH_STUDY, FRESH_PATIENT)
    for model, ident, what in (
        ("StudyRootGet", fresh, "StudyRoot STUDY fresh UID"),
        ("PatientRootGet", fresh, "PatientRoot STUDY fresh UID, no PatientID"),
        ("PatientRootGet", fresh_pid, "PatientRoot STUDY fresh UID + fresh PatientID"),
    ):
        yield ("S-b", f"C-GET {what} {who}", probe.c_get(peer, caller, model, ident, storage).summary())
    out = probe.c_get(peer, caller, "StudyRootGet", probe.retrieve_identifier(study), storage)
    roles = sorted(name for name, (_, scp) in out.assoc.roles.items() if scp)
    yield (
        "S-c",
        f"C-GET StudyRoot existing study ({in_study} instances, SCP role asked for {len(storage)} storage classes) {who}",
        out.summary() + (f"; SCP role granted for: {', '.join(roles)}" if out.assoc.kind == "accepted" else ""),
    )
    out = probe.c_get(peer, caller, "PatientRootGet", probe.retrieve_identifier(study, patient), storage)
    yield ("S-c", f"C-GET PatientRoot existing study + its PatientID {who}", out.summary())
    random_dest = random_aet()
    moves = [
        ("StudyRootMove", fresh, caller, "StudyRoot fresh UID -> calling AE"),
        ("StudyRootMove", fresh, random_dest, "StudyRoot fresh UID -> random AE"),
        ("PatientRootMove", fresh_pid, caller, "PatientRoot fresh UID + fresh PatientID -> calling AE"),
    ]
    for dest in getattr(server, "destinations", {}):
        if dest != caller:
            moves.append(("StudyRootMove", fresh, dest, f"StudyRoot fresh UID -> known destination {dest}"))
    existing = probe.retrieve_identifier(study)
    moves.append(("StudyRootMove", existing, random_dest, "StudyRoot existing study -> random AE"))
    for dest in getattr(server, "destinations", {}):
        # Nothing listens at a known destination's port: the sub-operations
        # fail to connect, so no data leaves the server; this shows whether
        # the move itself is permitted.
        what = f"StudyRoot existing study -> known destination {dest} (nothing listening)"
        moves.append(("StudyRootMove", existing, dest, what))
    for model, ident, dest, what in moves:
        yield ("S-d", f"C-MOVE {what} ({dest}) {who}", probe.c_move(peer, caller, model, ident, dest).summary())
    find = probe.c_find(peer, caller, "StudyRootFind")
    yield ("S-e", f"C-FIND StudyRoot STUDY PatientName=* {who}", find.summary())
    wl = probe.worklist_find(peer, caller)
    yield ("S-e", f"MWL C-FIND PatientName=* + SPS(Modality, StationAET, StartDate) {who}", wl.summary())
    yield (
        "S-f",
        f"user identity type 2 (bogus user+passcode), positive response requested {who}",
        probe.user_identity(peer, caller).summary(),
    )


def services_table(configs: list[str]) -> None:
    """Questions S-a..S-f for *configs*; one row per (configuration, question)."""
    print(f"Fresh StudyInstanceUID this run: {FRESH_STUDY}; fresh PatientID: {FRESH_PATIENT}")
    print()
    print("| config | q | question | observed answer |")
    print("|---|---|---|---|")
    for spec in configs:
        with tempfile.TemporaryDirectory() as tmp, _server(spec, Path(tmp)) as server:
            callers = [(UNREGISTERED, "registered" if server.registered_aet == UNREGISTERED else "unregistered")]
            if server.registered_aet and server.registered_aet != UNREGISTERED:
                callers.append((server.registered_aet, "registered"))
            if spec.startswith("orthanc:retrieve"):
                callers.append((random_aet(), "unregistered, random"))
            rows = [row for caller, label in callers for row in _service_questions(server, caller, label)]
        for q, question, answer in rows:
            print(f"| {spec} | {q} | {question} | {answer} |", flush=True)


def main(argv: list[str]) -> int:
    """Print the ground-truth table for the configurations in *argv* (default: all).

    ``--cancel`` runs :func:`cancel_experiment` instead.
    """
    if argv[:1] == ["--cancel"]:
        cancel_experiment()
        return 0
    if argv[:1] == ["--services"]:
        services_table(argv[1:] or SERVICE_CONFIGS)
        return 0
    if argv[:1] == ["--all"]:
        basic_table(BASIC_CONFIGS)
        print()
        services_table(SERVICE_CONFIGS)
        return 0
    basic_table(argv or BASIC_CONFIGS)
    return 0


BASIC_CONFIGS = [
    "orthanc:open",
    "orthanc:stock",
    "orthanc:allowlist",
    "orthanc:retrieve",
    "orthanc:tls",
    "dcmqrscp:open",
    "dcmqrscp:move_aetitle",
    "dcmqrscp:no_get",
    "dcmqrscp:restricted",
    "pynetdicom:qrscp",
    "dcmtk:storescp",
    "dcmtk:wlmscpfs",
]


def basic_table(configs: list[str]) -> None:
    """Questions a-h (association, echo, find, store, cancel, TLS) for *configs*."""
    print("| config | q | question | observed answer |")
    print("|---|---|---|---|")
    for spec in configs:
        kind, config = spec.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            if kind == "dcmtk":
                for q, question, answer in _dcmtk_simple(config, Path(tmp)):
                    print(f"| {spec} | {q} | {question} | {answer} |", flush=True)
                continue
            starter = {"orthanc": _orthanc, "dcmqrscp": _dcmqrscp, "pynetdicom": _qrscp}[kind]
            with starter(config, Path(tmp)) as (peer, registered, load_more, server):
                rows = list(_questions(peer, registered, load_more))
                if kind == "orthanc" and config == "tls":
                    rows += list(_tls_questions(server))  # type: ignore[arg-type]
                if config == "open":
                    rows.append(
                        (
                            "g",
                            "TLS ClientHello to this plaintext port",
                            probe.tls_rq(peer.port, _insecure_tls(), peer.aet).summary(),
                        )
                    )
            for q, question, answer in rows:
                print(f"| {spec} | {q} | {question} | {answer} |", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
