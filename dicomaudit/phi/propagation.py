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
from collections.abc import Iterator
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

_NAME_PART = re.compile(r"[^\^=\s,]+")
_ID_VALUE = re.compile(r"[^\\]+")  # one value of a multi-valued element
_WORD_RUN = re.compile(r"[a-z0-9]+")  # on lower-cased text: the maximal runs of ASCII word characters

#: Distinct identifiers one data set may feed the index.  Real headers hold a
#: few dozen (a DICOMDIR of thousands of patients some ten thousand); a crafted
#: 20 MB person name would hold millions.
MAX_TOKENS = 200_000
#: Characters ``str.find`` may scan for the tokens that need it (see
#: :meth:`PropagationIndex.search`) in one data set: a few seconds at most.
SCAN_BUDGET = 10_000_000_000
#: Up to this many token x character comparisons, one ``str.find`` per word
#: token (C speed) beats a Python-level pass over the text's words.
_FIND_WORDS_LIMIT = 50_000_000


class IndexBudgetExceeded(ValueError):
    """The data set holds too many identifiers, or too much text to search for them, to analyse in bounded time."""


def _name_tokens(value: str) -> Iterator[str]:
    # A generator (not a list): a crafted value may be megabytes of name parts.
    for m in _NAME_PART.finditer(value):
        part = m.group().strip(".'-")
        if not part or part.upper() in _STOP_TOKENS or part.upper() in PLACEHOLDER_WORDS:
            continue
        # ASCII name parts need three letters to be distinctive; CJK and
        # other scripts carry more information per character.
        if (len(part) >= 3 or (len(part) >= 2 and not part.isascii())) and not part.isdigit():
            yield part


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

    Cost is bounded for crafted input: a token made only of ASCII letters and
    digits matches exactly when it *is* one of the text's maximal runs of
    such characters, so with many of them the text's runs are looked up in a
    dict instead (one pass, whatever the number of tokens); the other tokens
    (accented, CJK, with punctuation) share :data:`SCAN_BUDGET`, and the
    index holds at most :data:`MAX_TOKENS`.  Past either limit
    :class:`IndexBudgetExceeded` is raised: the data set is reported as not
    analysed rather than analysed for minutes.
    """

    tokens: dict[str, Kind] = field(default_factory=dict)
    words: dict[str, Kind] = field(default_factory=dict)  # the tokens of ASCII letters and digits only
    others: dict[str, Kind] = field(default_factory=dict)  # every other token
    scanned: int = 0  # characters str.find was asked to scan for ``others``

    def _add(self, token: str, kind: Kind) -> None:
        if token in self.tokens:
            return
        if len(self.tokens) >= MAX_TOKENS:
            raise IndexBudgetExceeded(f"more than {MAX_TOKENS} distinct identifiers in one data set")
        self.tokens[token] = kind
        (self.words if token.isascii() and token.isalnum() else self.others)[token] = kind

    def add_name(self, value: str) -> None:
        """Add the parts of a person name (``FAMILY^GIVEN^MIDDLE=ideographic``)."""
        if is_placeholder(value):
            return
        for token in _name_tokens(value):
            self._add(token.lower(), Kind.NAME)

    def add_id(self, value: str) -> None:
        """Add an identifier (PatientID, AccessionNumber, OtherPatientIDs...)."""
        for m in _ID_VALUE.finditer(value):  # not split(): the value may be megabytes long
            v = m.group().strip()
            # Very short IDs ("1", "42") would match any number in free text.
            if len(v) >= 4 and not is_placeholder(v):
                self._add(v.lower(), Kind.ID)

    def add_birth_date(self, value: str) -> None:
        """Add a DA birth date in every common spelling (see :func:`date_formats`)."""
        v = value.strip()
        if len(v) >= 8 and not is_dummy_date(v):
            for form in date_formats(v[:8]):
                self._add(form.lower(), Kind.BIRTH_DATE)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def search(self, text: str) -> set[Kind]:
        """Kinds of the dataset's own identifiers that occur in ``text``."""
        found: set[Kind] = set()
        if not self.tokens:
            return found
        lower = text.lower()
        if self.words:
            if len(self.words) * len(lower) <= _FIND_WORDS_LIMIT:
                _find(lower, self.words, found)
            else:
                _find_runs(lower, self.words, found)
        if self.others:
            self.scanned += len(self.others) * len(lower)
            if self.scanned > SCAN_BUDGET:
                raise IndexBudgetExceeded(
                    f"too much text to search for {len(self.others)} identifiers "
                    f"({len(lower)} characters in one element)"
                )
            _find(lower, self.others, found)
        return found


_RUN_CHUNK = 1 << 20


def _find_runs(lower: str, words: dict[str, Kind], found: set[Kind]) -> None:
    """Add the kind of every word token that is one of ``lower``'s ASCII word runs.

    Chunk by chunk (set operations at C speed, memory bounded by the chunk);
    a chunk never ends inside a run.
    """
    size = len(lower)
    pos = 0
    while pos < size:
        end = min(size, pos + _RUN_CHUNK)
        if end < size and _is_word_char(lower[end - 1]):
            run = _WORD_RUN.match(lower, end)
            if run is not None:
                end = run.end()
        for run in set(_WORD_RUN.findall(lower, pos, end)).intersection(words):
            found.add(words[run])
        pos = end


def _find(lower: str, tokens: dict[str, Kind], found: set[Kind]) -> None:
    """Add to ``found`` the kind of every token of ``tokens`` that occurs in ``lower`` between word boundaries."""
    for token, kind in tokens.items():
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
