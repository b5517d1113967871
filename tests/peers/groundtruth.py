"""Measure how each peer configuration answers; print the GROUND_TRUTH table.

Run: ``python -m tests.peers.groundtruth [KIND:CONFIG...]`` from the repo root
(e.g. ``orthanc:stock``, ``dcmqrscp:restricted``, ``dcmtk:storescp``), or
``python -m tests.peers.groundtruth --cancel`` for the C-CANCEL timing runs.
Starts every peer on loopback in a temporary folder, asks the questions of
``GROUND_TRUTH.md`` with :mod:`tests.peers.probe` and prints one Markdown
table row per (configuration, question).
"""

from __future__ import annotations

import random
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.peers import probe
from tests.peers.data import fallback_studies, many_patients, synthetic_datasets
from tests.peers.orthanc import OrthancServer

UNREGISTERED = "DICOMAUDIT"
_rng = random.Random(20240611)


def random_aet() -> str:
    """A random 12-character AE title (seeded, so reruns use the same ones)."""
    return "".join(_rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(12))


Row = tuple[str, str, str]


def _questions(peer: probe.Peer, registered: str | None, load_more: Callable[[], None]) -> Iterator[Row]:
    callers = [(UNREGISTERED, "unregistered")]
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


def main(argv: list[str]) -> int:
    """Print the ground-truth table for the configurations in *argv* (default: all).

    ``--cancel`` runs :func:`cancel_experiment` instead.
    """
    if argv[:1] == ["--cancel"]:
        cancel_experiment()
        return 0
    configs = argv or [
        "orthanc:open",
        "orthanc:stock",
        "orthanc:allowlist",
        "orthanc:tls",
        "dcmqrscp:open",
        "dcmqrscp:restricted",
        "dcmtk:storescp",
        "dcmtk:wlmscpfs",
    ]
    print("| config | q | question | observed answer |")
    print("|---|---|---|---|")
    for spec in configs:
        kind, config = spec.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            if kind == "dcmtk":
                for q, question, answer in _dcmtk_simple(config, Path(tmp)):
                    print(f"| {spec} | {q} | {question} | {answer} |", flush=True)
                continue
            starter = _orthanc if kind == "orthanc" else _dcmqrscp
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
