"""AE title guessing (``--guess-aet`` only): the called title of a node, and default calling titles.

A node that rejects the placeholder called AE title ("called AE title not
recognised", PS3.8 Table 9-21 reason 7) cannot be audited until its title
is known.  With ``--guess-aet`` the scanner tries, in order, the titles the
inventory uses and the product defaults below: at most ``--guess-limit``
titles per node, ``--guess-pause`` seconds apart, each one Verification-only
association request, and every attempt goes into the evidence.  Nothing is
guessed without the flag.

The same lists of defaults answer ``assoc.guessable_calling_aet``: a node
whose allow-list refuses a random calling title but admits ``STORESCU`` has
an allow-list of defaults, which is no allow-list.

The titles are those the products and tools ship with (their manuals and
default configuration files); edit the lists here, they are the documented
ones (README, "AE titles").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from dicomaudit.models import Target
from dicomaudit.net.identity import PLACEHOLDER_CALLED_AET
from dicomaudit.net.outcome import AssociationAttempt, Outcome, Transport
from dicomaudit.net.service import ServiceObservation, probe
from dicomaudit.net.wire import Budget


@dataclass(frozen=True)
class Candidate:
    """A title to try and why it is on the list."""

    aet: str
    source: str


#: Called AE titles products and tools answer to out of the box (ANY-SCP, the placeholder, is always tried first).
CALLED_DEFAULTS: tuple[Candidate, ...] = (
    Candidate("ORTHANC", "product default (Orthanc)"),
    Candidate("DCM4CHEE", "product default (dcm4chee archive)"),
    Candidate("STORESCP", "tool default (DCMTK/dcm4che storescp)"),
    Candidate("DCMQRSCP", "tool default (DCMTK dcmqrscp sample configuration)"),
    Candidate("CONQUESTSRV1", "product default (Conquest DICOM server)"),
    Candidate("PYNETDICOM", "library default (pynetdicom)"),
    Candidate("OSIRIX", "product default (OsiriX)"),
    Candidate("HOROS", "product default (Horos)"),
    Candidate("PACS", "common site default"),
    Candidate("ARCHIVE", "common site default"),
    Candidate("STORE_SCP", "common site default"),
    Candidate("DICOM", "common site default"),
)

#: Calling AE titles of tools and products; an allow-list that admits one of them is an allow-list of defaults.
CALLING_DEFAULTS: tuple[Candidate, ...] = (
    Candidate("STORESCU", "tool default (DCMTK, dcm4che and pynetdicom storescu)"),
    Candidate("FINDSCU", "tool default (DCMTK, dcm4che and pynetdicom findscu)"),
    Candidate("ECHOSCU", "tool default (DCMTK and pynetdicom echoscu)"),
    Candidate("MOVESCU", "tool default (DCMTK movescu)"),
    Candidate("GETSCU", "tool default (DCMTK getscu)"),
    Candidate("ANY-SCU", "generic default"),
    Candidate("PYNETDICOM", "library default (pynetdicom)"),
    Candidate("ORTHANC", "product default (Orthanc)"),
    Candidate("DCM4CHEE", "product default (dcm4chee archive)"),
    Candidate("OSIRIX", "product default (OsiriX)"),
    Candidate("HOROS", "product default (Horos)"),
    Candidate("WEASIS", "product default (Weasis viewer)"),
)

DEFAULT_GUESS_LIMIT = 12
DEFAULT_GUESS_PAUSE = 0.5


def candidates(
    defaults: Sequence[Candidate], extra: Sequence[Candidate], limit: int, skip: Sequence[str] = ()
) -> list[Candidate]:
    """``extra`` (the inventory's titles) first, then ``defaults``; each title once, at most ``limit``."""
    seen = {s.strip().upper() for s in skip}
    out = []
    for c in (*extra, *defaults):
        key = c.aet.strip().upper()
        if key and key not in seen:
            seen.add(key)
            out.append(c)
    return out[:limit]


def needs_called_aet(service: ServiceObservation) -> bool:
    """The node answered, and rejected the called AE title we used: guessing it is the only way in."""
    attempt = service.usable_attempt
    return (
        attempt is not None
        and attempt.outcome is Outcome.REJECTED
        and attempt.rejection is not None
        and attempt.rejection.called_aet_unrecognised
    )


def _admitted_called(attempt: AssociationAttempt) -> bool:
    """Any well-formed answer but "called AE title not recognised" shows the title was right."""
    if attempt.outcome is Outcome.ACCEPTED or attempt.outcome is Outcome.ABORTED:
        return True
    return attempt.outcome is Outcome.REJECTED and not (
        attempt.rejection is not None and attempt.rejection.called_aet_unrecognised
    )


@dataclass(frozen=True)
class Try:
    aet: str
    source: str
    outcome: str

    def to_dict(self) -> dict[str, str]:
        return {"aet": self.aet, "source": self.source, "outcome": self.outcome}


@dataclass(frozen=True)
class CalledAetGuess:
    """How the called AE title was searched for, and what was found (``found is None``: not guessable)."""

    tried: tuple[Try, ...]
    found: str | None
    source: str | None
    observation: ServiceObservation | None
    limit: int
    pause: float
    stopped: str | None = None  # why guessing ended early (an answer that decided nothing)

    def apply(self, target: Target) -> Target:
        attributes = {**target.attributes, "called_aet_source": f"guessed: {self.source}"}
        return replace(target, called_aet=self.found, attributes=attributes)

    def warning(self) -> str:
        n = len(self.tried)
        if self.found is not None:
            return (
                f"the called AE title {self.found!r} was found by guessing ({self.source}; attempt {n} of at most "
                f"{self.limit}); the checks used it"
            )
        why = f" (stopped: {self.stopped})" if self.stopped else ""
        titles = ", ".join(t.aet for t in self.tried) or "none"
        return (
            f"called AE title unknown: the node rejects the placeholder {PLACEHOLDER_CALLED_AET!r} and the {n} "
            f"title(s) tried ({titles}){why}; the checks that need it are inconclusive: give it as HOST:PORT/AET"
        )

    def to_evidence(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "source": self.source,
            "tried": [t.to_dict() for t in self.tried],
            "limit": self.limit,
            "pause_s": self.pause,
            **({"stopped": self.stopped} if self.stopped else {}),
        }


def guess_called_aet(
    target: Target,
    service: ServiceObservation,
    *,
    calling_aet: str,
    extra: Sequence[Candidate],
    limit: int,
    pause: float,
    budget: Budget,
    tls: Any,
) -> CalledAetGuess:
    """Try the candidates one by one, ``pause`` s apart, over the transport the node speaks."""
    transport = service.transport or Transport.PLAINTEXT
    tried: list[Try] = []
    for i, candidate in enumerate(candidates(CALLED_DEFAULTS, extra, limit, skip=(PLACEHOLDER_CALLED_AET,))):
        if i and pause_between(budget, pause):
            return CalledAetGuess(tuple(tried), None, None, None, limit, pause, "interrupted")
        if budget.expired:
            return CalledAetGuess(tuple(tried), None, None, None, limit, pause, "the target's budget ran out")
        attempt = probe(target.host, target.port, calling_aet, candidate.aet, budget, transport, tls)
        tried.append(Try(candidate.aet, candidate.source, attempt.describe()))
        if _admitted_called(attempt):
            observation = ServiceObservation(
                reachable=True,
                transport=transport,
                plaintext=attempt if transport is Transport.PLAINTEXT else service.plaintext,
                tls=attempt if transport is Transport.TLS else None,
            )
            return CalledAetGuess(tuple(tried), candidate.aet, candidate.source, observation, limit, pause)
        if not attempt.outcome.speaks_dicom:
            return CalledAetGuess(
                tuple(tried), None, None, None, limit, pause, f"{candidate.aet!r} got no well-formed answer"
            )
    return CalledAetGuess(tuple(tried), None, None, None, limit, pause)


def pause_between(budget: Budget, seconds: float) -> bool:
    """Wait ``seconds`` between two guesses (never past the budget); ``True`` when the operator interrupted."""
    seconds = max(0.0, min(seconds, budget.deadline - time.monotonic()))
    if budget.stop is not None:
        return budget.stop.wait(seconds)
    time.sleep(seconds)
    return False
