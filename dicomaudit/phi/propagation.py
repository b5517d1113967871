"""Value propagation: the dataset's own identifiers found somewhere else.

A technologist types the patient's surname into SeriesDescription, a
modality copies the MRN into a private tag, the birth date lands in
ImageComments as ``03/12/1985``.  No pattern catches that in general, but the
dataset tells us what to look for: its own name parts, IDs and birth date.
:class:`PropagationIndex` collects them while the dataset is walked and then
matches them, as whole tokens and case-insensitively, in other values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dicomaudit.phi.categories import Kind
from dicomaudit.phi.detectors import (
    PLACEHOLDER_WORDS,
    date_formats,
    is_dummy_date,
    is_placeholder,
)

#: Tokens never propagated: name affixes and imaging vocabulary that could
#: coincide with a name part and would flood free text with false hits.
_STOP_TOKENS = frozenset(
    {
        "MR", "MRS", "MS", "DR", "PROF", "JR", "SR", "II", "III", "IV", "MD", "PHD", "RN",
        "CT", "US", "NM", "PT", "XA", "CR", "DX", "MG", "RF", "OT", "SC", "THE", "AND", "VON", "VAN", "DER", "DEN", "DEL", "LA", "LE", "DE", "DA", "DI", "DU",
        "AXIAL", "CORONAL", "SAGITTAL", "HEAD", "NECK", "CHEST", "ABDOMEN", "PELVIS", "BRAIN",
        "SPINE", "LUNG", "BONE", "SOFT", "BODY", "LEFT", "RIGHT", "CONTRAST", "WITH", "WITHOUT",
        "MAX", "MIN", "MIP", "SCOUT", "LOCALIZER", "ROUTINE", "STANDARD", "TEST", "PHANTOM",
        "QA", "STUDY", "SERIES", "IMAGE", "DOSE", "REPORT",
    }
)  # fmt: skip

_NAME_SPLIT = re.compile(r"[\^=\s,]+")


def _name_tokens(value: str) -> list[str]:
    tokens = []
    for part in _NAME_SPLIT.split(value):
        part = part.strip(".'-")
        if not part or part.upper() in _STOP_TOKENS or part.upper() in PLACEHOLDER_WORDS:
            continue
        # ASCII name parts need three letters to be distinctive; CJK and
        # other scripts carry more information per character.
        if (len(part) >= 3 or (len(part) >= 2 and not part.isascii())) and not part.isdigit():
            tokens.append(part)
    return tokens


def _is_word_char(c: str) -> bool:
    return c.isascii() and c.isalnum()


@dataclass
class PropagationIndex:
    """Identifiers of one dataset, matched as tokens in other values.

    Matching is a substring search with ASCII word boundaries on both sides
    (so ``Li`` does not match ``Lincoln`` while CJK names, written without
    spaces, still match inside a sentence).  A plain ``str.find`` per token
    beats compiling one alternation regex per data set by far: the regex
    compile cost would dominate the analysis of a typical header.
    """

    tokens: dict[str, Kind] = field(default_factory=dict)

    def add_name(self, value: str) -> None:
        """Add the parts of a person name (``FAMILY^GIVEN^MIDDLE=ideographic``)."""
        if is_placeholder(value):
            return
        for token in _name_tokens(value):
            self.tokens.setdefault(token.lower(), Kind.NAME)

    def add_id(self, value: str) -> None:
        """Add an identifier (PatientID, AccessionNumber, OtherPatientIDs...)."""
        for v in value.split("\\"):
            v = v.strip()
            # Very short IDs ("1", "42") would match any number in free text.
            if len(v) >= 4 and not is_placeholder(v):
                self.tokens.setdefault(v.lower(), Kind.ID)

    def add_birth_date(self, value: str) -> None:
        """Add a DA birth date in every common spelling (see :func:`date_formats`)."""
        v = value.strip()
        if len(v) >= 8 and not is_dummy_date(v):
            for form in date_formats(v[:8]):
                self.tokens.setdefault(form.lower(), Kind.BIRTH_DATE)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def search(self, text: str) -> set[Kind]:
        """Kinds of the dataset's own identifiers that occur in ``text``."""
        found: set[Kind] = set()
        if not self.tokens:
            return found
        lower = text.lower()
        for token, kind in self.tokens.items():
            if kind in found:
                continue
            start = lower.find(token)
            while start >= 0:
                end = start + len(token)
                if (start == 0 or not _is_word_char(lower[start - 1])) and (
                    end == len(lower) or not _is_word_char(lower[end])
                ):
                    found.add(kind)
                    break
                start = lower.find(token, start + 1)
        return found
