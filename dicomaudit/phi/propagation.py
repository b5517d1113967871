"""Value propagation: the dataset's own identifiers found somewhere else.

A technologist types the patient's surname into SeriesDescription, a
modality copies the MRN into a private tag, the birth date lands in
ImageComments as ``03/12/1985``.  No pattern catches that in general, but the
dataset tells us what to look for: its own name parts, IDs and birth date.
:class:`PropagationIndex` collects them while the dataset is walked and then
matches them, as whole tokens and case-insensitively, in other values.

Names are matched across spellings too.  The patient is ``Éloïse^Dubois-Lefèvre``
or ``Παπαδόπουλος^Γιώργος`` in PatientName and ``ELOISE DUBOIS-LEFEVRE`` or
``PAPADOPOULOS`` in a comment typed on an ASCII keyboard (or the other way
round).  So a name part in a Latin, Greek or Cyrillic script is also indexed
in its ASCII forms, and a text that is not ASCII is also searched in its
ASCII forms (:func:`ascii_forms`, :func:`text_forms`):

* letter by letter with ``anyascii`` (``Lefèvre`` -> ``lefevre``,
  ``Παπαδόπουλος`` -> ``papadopoylos``, ``Ольга`` -> ``olga``: hard and soft
  signs are dropped);
* German and Nordic letters as written in passports (``Müller`` ->
  ``mueller``, ``Ødegård`` -> ``oedegaard``);
* Greek after ELOT 743 (ISO 843), the Greek passport standard
  (``Παπαδόπουλος`` -> ``papadopoulos``, ``Ευαγγελία`` -> ``evangelia``);
* Cyrillic after ICAO Doc 9303, the passport standard (``Юлия`` ->
  ``iuliia``, ``Дмитрий`` -> ``dmitrii``).

A hyphenated name part is indexed whole and by its parts (``lefevre`` alone
matches).  The ASCII forms follow the same rules as other tokens (three
letters at least, no stop word).  Scripts whose transliteration is a guess
(CJK, Hangul, Arabic, Hebrew...) are matched as written only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from anyascii import anyascii

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


def _keep(part: str) -> bool:
    """Is a name part distinctive enough to look for?"""
    if not part or part.upper() in _STOP_TOKENS or part.upper() in PLACEHOLDER_WORDS or part.isdigit():
        return False
    # ASCII name parts need three letters to be distinctive; CJK and
    # other scripts carry more information per character.
    return len(part) >= 3 or (len(part) >= 2 and not part.isascii())


def _name_tokens(value: str) -> Iterator[str]:
    # A generator (not a list): a crafted value may be megabytes of name parts.
    for m in _NAME_PART.finditer(value):
        part = m.group().strip(".'-")
        if _keep(part):
            yield part
        if "-" in part:
            for sub in part.split("-"):
                sub = sub.strip(".'")
                if _keep(sub):
                    yield sub


# -- ASCII forms of names in Latin, Greek and Cyrillic scripts ----------------------

#: Code points folded to ASCII: Latin-1 letters to the Cyrillic Supplement
#: (combining marks included), Latin Extended Additional and Greek Extended.
_FOLD_RANGES = ((0x00C0, 0x052F), (0x1E00, 0x1FFF))
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_CYRILLIC = re.compile(r"[\u0400-\u052f]")
_GERMANIC = re.compile(r"[äöüøå]")
_FOLDABLE = re.compile(r"[\u00c0-\u052f\u1e00-\u1fff\x00-\x7f]+")


@lru_cache(maxsize=1)
def _letterwise() -> dict[int, str]:
    """Lower-case letter (or combining mark) -> its ``anyascii`` form, lower-cased; hard and soft signs dropped."""
    table: dict[int, str] = {}
    for low, high in _FOLD_RANGES:
        for cp in range(low, high + 1):
            ch = chr(cp)
            if ch.isalpha() or 0x0300 <= cp <= 0x036F:
                table[cp] = anyascii(ch).lower()
    for ch in "ъьЪЬ":
        table[ord(ch)] = ""
    return table


@lru_cache(maxsize=1)
def _germanic() -> dict[int, str]:
    """German and Nordic passport spellings (ICAO Doc 9303 lists them as alternatives)."""
    return {**_letterwise(), **str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa"})}


@lru_cache(maxsize=1)
def _icao_cyrillic() -> dict[int, str]:
    """ICAO Doc 9303 transliteration of Russian, Ukrainian and Belarusian letters."""
    icao = {
        "ё": "e", "ж": "zh", "й": "i", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie",
        "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia", "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
    }  # fmt: skip
    return {**_letterwise(), **str.maketrans(icao)}


# ELOT 743 (ISO 843 type 2): the digraphs that differ from letter by letter.
_TONOS = str.maketrans("άέήίόύώΐΰ", "αεηιουωϊϋ")  # accents go, the diaeresis (two vowels, not a digraph) stays
_ELOT = (
    (re.compile("ου"), "ou"),
    (re.compile("([αεη])υ(?=[αεηιουωβγδζλμνρ])"), lambda m: {"α": "av", "ε": "ev", "η": "iv"}[m.group(1)]),
    (re.compile("([αεη])υ"), lambda m: {"α": "af", "ε": "ef", "η": "if"}[m.group(1)]),
    (re.compile("γγ"), "ng"),
    (re.compile("γξ"), "nx"),
    (re.compile("γχ"), "nch"),
    (re.compile(r"(?<![^\W\d_])γκ"), "g"),
    (re.compile("γκ"), "gk"),
    (re.compile(r"(?<![^\W\d_])μπ"), "b"),
    (re.compile("μπ"), "mp"),
)


def _elot(lower: str) -> str:
    text = lower.translate(_TONOS)
    for rx, repl in _ELOT:
        text = rx.sub(repl, text)
    return text.translate(_letterwise())


def ascii_forms(token: str) -> set[str]:
    """ASCII spellings of a lower-case name part in a Latin, Greek or Cyrillic script (empty for ASCII and others)."""
    if token.isascii() or _FOLDABLE.fullmatch(token) is None:
        return set()
    forms = {token.translate(_letterwise())}
    if _GERMANIC.search(token):
        forms.add(token.translate(_germanic()))
    if _CYRILLIC.search(token):
        forms.add(token.translate(_icao_cyrillic()))
    if _GREEK.search(token):
        forms.add(_elot(token))
    return {f.strip(".'-") for f in forms if f.isascii()}


def text_forms(lower: str) -> list[str]:
    """ASCII forms of a lower-case text that is not ASCII (see :func:`ascii_forms`); characters of other scripts stay."""
    forms = [lower.translate(_letterwise())]
    if _GERMANIC.search(lower):
        forms.append(lower.translate(_germanic()))
    if _CYRILLIC.search(lower):
        forms.append(lower.translate(_icao_cyrillic()))
    if _GREEK.search(lower):
        forms.append(_elot(lower))
    return list(dict.fromkeys(f for f in forms if f != lower))


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
    ascii_others: dict[str, Kind] = field(default_factory=dict)  # the tokens of ``others`` that are ASCII
    scanned: int = 0  # characters str.find was asked to scan for ``others``

    def _add(self, token: str, kind: Kind) -> None:
        if token in self.tokens:
            return
        if len(self.tokens) >= MAX_TOKENS:
            raise IndexBudgetExceeded(f"more than {MAX_TOKENS} distinct identifiers in one data set")
        self.tokens[token] = kind
        if token.isascii() and token.isalnum():
            self.words[token] = kind
        else:
            self.others[token] = kind
            if token.isascii():
                self.ascii_others[token] = kind

    def add_name(self, value: str) -> None:
        """Add the parts of a person name (``FAMILY^GIVEN^MIDDLE=ideographic``), with their ASCII forms."""
        if is_placeholder(value):
            return
        for token in _name_tokens(value):
            lower = token.lower()
            self._add(lower, Kind.NAME)
            for form in ascii_forms(lower):
                if _keep(form):
                    self._add(form, Kind.NAME)

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
        """Kinds of the dataset's own identifiers that occur in ``text`` (or, for text that is not ASCII, in its ASCII forms)."""
        found: set[Kind] = set()
        if not self.tokens:
            return found
        lower = text.lower()
        self._search(lower, self.others, found)
        if not lower.isascii() and (self.words or self.ascii_others):
            for form in text_forms(lower):
                self._search(form, self.ascii_others, found)
        return found

    def _search(self, lower: str, others: dict[str, Kind], found: set[Kind]) -> None:
        if self.words:
            if len(lower) <= _REMEMBERED_TEXT:
                # Descriptions repeat from file to file: their runs are remembered, and the data set's
                # words among them are a set intersection.
                for run in _runs(lower) & self.words.keys():
                    found.add(self.words[run])
            elif len(self.words) * len(lower) <= _FIND_WORDS_LIMIT:
                _find(lower, self.words, found)
            else:
                _find_runs(lower, self.words, found)
        if others:
            self.scanned += len(others) * len(lower)
            if self.scanned > SCAN_BUDGET:
                raise IndexBudgetExceeded(
                    f"too much text to search for {len(others)} identifiers ({len(lower)} characters in one element)"
                )
            _find(lower, others, found)


_RUN_CHUNK = 1 << 20
#: Texts up to this long have their word runs remembered (:func:`_runs`).
_REMEMBERED_TEXT = 512


@functools.lru_cache(maxsize=16384)
def _runs(lower: str) -> frozenset[str]:
    """The maximal runs of ASCII word characters in a (lower-cased) text."""
    return frozenset(_WORD_RUN.findall(lower))


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
