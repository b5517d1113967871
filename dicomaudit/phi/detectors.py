"""Detectors for identifiers hidden in free text.

PS3.15 E.1.1 holds a de-identifier responsible for identifying text in *any*
attribute, and Table E.1-1 lists dozens of descriptions and comments for that
reason.  Most of that text is clinical vocabulary (``CT CHEST W/O
CONTRAST``), so each detector here looks for a specific shape -- a date in a
common format, a phone number (``phonenumbers``), an e-mail, an SSN, a
labelled or long numeric identifier, a street address, a titled or labelled
person name -- rather than flagging text wholesale.

Beyond English (word lists in ``lexicon.toml`` beside this module, month
names from Babel's CLDR data):

* dates written in words in the languages of ``[dates].locales``
  (``14 mars 2023``, ``3. März 2021``, ``12 de mayo de 2020``, ``14 марта
  2023``, ``14 Μαρτίου 2023``), with Roman-numeral months (``14.III.2023``)
  and the Japanese, Chinese and Korean forms (``2023年3月14日``, ``令和5年3月14日``,
  ``2023년 3월 14일``, ``2023. 3. 14.``) -- see :func:`find_dates`;
* phone numbers after a label in any language (``Tél. : 01 23 45 67 89``),
  and, given a :class:`~dicomaudit.phi.locale.DetectionContext` with regions,
  national numbers valid for one of them -- see :func:`national_phone_found`;
* street addresses of the UK (postcodes, ``Acacia Close``) and the continent
  (``12 rue de la Paix``, ``Hauptstraße 5``, ``Via Roma 3``, ``ул. Ленина, д. 5``)
  and of Japan, Korea and China -- see :func:`address_found`;
* person names after titles (``Herr``, ``Mme``, ``Dott.``, ``д-р``, ``Δρ.``),
  after phrases (``besprochen mit``, ``vu avec``, ``refertato da``) and labels
  (``Médecin :``), and before Japanese, Chinese and Korean honorifics
  (``山田先生``, ``김민수 교수``) -- see :func:`intl_name_found`.

Also here: recognising *placeholder* values that de-identifiers write
(``ANONYMOUS``, ``ANONYMIZED``, ``00010101``...), which are never findings.
"""

from __future__ import annotations

import calendar
import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date
from importlib import resources
from typing import Any

import phonenumbers
from babel.dates import get_month_names
from phonenumbers import Leniency

from dicomaudit.phi.categories import Kind
from dicomaudit.phi.locale import DetectionContext

# --------------------------------------------------------------------------
# Placeholders written by de-identifiers
# --------------------------------------------------------------------------

PLACEHOLDER_WORDS = frozenset(
    {
        "ANONYMOUS", "ANONYMIZED", "ANONYMISED", "ANONYMIZE", "ANON", "ANONYM",
        "REMOVED", "REDACTED", "DEIDENTIFIED", "DE-IDENTIFIED", "DEID",
        "UNKNOWN", "NONE", "NULL", "NA", "N/A", "NOT", "AVAILABLE", "NOBODY",
        "PATIENT", "DUMMY", "MASKED", "HIDDEN", "EMPTY", "BLANK", "NIL",
        # template text left in by report editors ("Last Name^First Name")
        "FIRST", "LAST", "NAME", "ENTER", "TEXT", "GIVEN", "FAMILY",
    }
)  # fmt: skip
_PLACEHOLDER_RE = re.compile(r"^(?:ANON\w*|DE-?ID\w*|PSEUDO\w*|REMOVED|REDACTED|MASKED)[\W_]*\d*$", re.IGNORECASE)
_FILLER_RE = re.compile(r"^[\s0*xX?\-^=_.#]*$")
_TOKEN_RE = re.compile(r"[^\^=\s,;_/]+")
_ANON_URL = "anonymized.invalid"


def is_placeholder(value: str) -> bool:
    """True when ``value`` is what a de-identifier writes instead of data."""
    text = value.strip()
    if not text or _FILLER_RE.match(text):
        return True
    if _PLACEHOLDER_RE.match(text) or _ANON_URL in text.lower():
        return True
    # Token by token, stopping at the first real word: a value may be
    # megabytes long, and a list of its words would cost far more memory.
    has_token = has_word = False
    for m in _TOKEN_RE.finditer(text):
        has_token = True
        part = m.group().upper()
        if part in PLACEHOLDER_WORDS:
            has_word = True
        elif not part.isdigit():
            return False
    return has_word or not has_token


def is_dummy_date(value: str) -> bool:
    """DA/DT placeholders (``00010101``, ``19000101``...) and unparseable dates.

    Years before 1850 cannot be a real acquisition or birth date in a DICOM
    header; de-identifiers use them (``dicomanonymizer`` writes ``00010101``).
    """
    digits = value.strip()[:8]
    # isdecimal, not isdigit: "²023" passes isdigit but int() rejects it.
    if len(digits) < 4 or not digits[:4].isdecimal():
        return True
    year = int(digits[:4])
    return year < 1850 or digits == "19000101"


def is_dummy_time(value: str) -> bool:
    """TM placeholder: midnight exactly (``000000``, ``000000.00``)."""
    return not value.strip().replace("0", "").replace(".", "").replace(":", "")


# --------------------------------------------------------------------------
# Word lists beyond English (lexicon.toml) and regex helpers
# --------------------------------------------------------------------------

LEXICON: dict[str, Any] = tomllib.loads(
    resources.files(__package__).joinpath("lexicon.toml").read_text(encoding="utf-8")
)


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _folded(words: Iterable[str]) -> frozenset[str]:
    return frozenset(w.casefold() for w in words)


def _alternation(words: Iterable[str], space: str = r"\s+") -> str:
    """A regex matching any of ``words``, as a trie: the engine does not try
    hundreds of alternatives at each position, only the branches that share
    the next character.  Longer words are preferred; spaces in a word match
    ``space``."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [(space if ch == " " else re.escape(ch)) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return ("(?:" + body + ")?") if len(branches) == 1 else body + "?"
        return body

    return build(trie)


def _word_alternation(words: Iterable[str]) -> str:
    """Whole words (lower case): "rue" is not the start of "ruelle", "sig."
    not the start of "sig.ra"; "av." needs its dot, "l'" and "c/" may be
    followed by a letter."""
    words = [w.lower() for w in words]
    open_ended = [w for w in words if w.endswith(("'", "’", "/"))]
    closed = [w for w in words if w not in open_ended]
    body = rf"(?:{_alternation(closed)})(?![^\W\d_])"
    return f"(?:{body}|{_alternation(open_ended)})" if open_ended else body


def _is_cjk(word: str) -> bool:
    return any("\u3040" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7a3" for c in word)


def _is_latin(word: str) -> bool:
    return all(c < "\u0250" for c in word)


def _lower(text: str) -> str | None:
    """``text.lower()`` when it keeps every position (all but a few
    characters such as "İ"), else None."""
    lower = text.lower()
    return lower if len(lower) == len(text) else None


class _LowerPattern:
    """A pattern written in lower case: run on ``text.lower()`` (twice as fast
    as IGNORECASE on the text, same positions) or, when lower-casing moves
    positions, with IGNORECASE on the text itself."""

    __slots__ = ("_ci", "_cs")

    def __init__(self, pattern: str) -> None:
        self._cs = re.compile(pattern)
        self._ci = re.compile(pattern, re.IGNORECASE)

    def finditer(self, text: str, lower: str | None) -> Iterator[re.Match[str]]:
        return self._cs.finditer(lower) if lower is not None else self._ci.finditer(text)


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------

_MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_Y4 = r"(?:19|20)\d\d"
_DATE_RES = (
    # A full stop after a date ends the sentence ("am 16.08.2019."); one
    # followed by a digit makes it part of a longer number (a version, a UID).
    # 1985-03-12, 1985/03/12, 1985.03.12
    re.compile(rf"(?<![\d.]){_Y4}([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])(?!\d|\.\d)"),
    # 19850312 (DA without separators) -- validated below
    re.compile(rf"(?<![\d.]){_Y4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d|\.\d)"),
    # 03/12/1985, 12.03.1985, 12-03-1985 (either day or month first)
    re.compile(rf"(?<![\d.])(?:[0-3]?\d)([-/.])(?:[0-3]?\d)\1{_Y4}(?!\d|\.\d)"),
    # 03/12/85 (two-digit year, slashes only: dotted triples are versions)
    re.compile(r"(?<![\d./])(?:[0-3]?\d)/(?:[0-3]?\d)/\d\d(?![\d/]|\.\d)"),
    # March 12, 1985 / Mar. 12th 1985
    re.compile(rf"\b(?:{_MONTHS})\.?\s+[0-3]?\d(?:st|nd|rd|th)?,?\s+{_Y4}\b", re.IGNORECASE),
    # 12 March 1985 / 12-MAR-1985 / 12th of March, 1985
    re.compile(rf"\b[0-3]?\d(?:st|nd|rd|th)?(?:\s+of)?[\s\-]+(?:{_MONTHS})\.?[\s\-,]+{_Y4}\b", re.IGNORECASE),
)
_DIGITS_RE = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")


def _valid_numeric_date(text: str) -> bool:
    """Check day/month ranges of a numeric date match (either order)."""
    parts = _DIGITS_RE.findall(text)
    if len(parts) == 1:  # YYYYMMDD
        s = parts[0]
        parts = [s[:4], s[4:6], s[6:8]]
    nums = [int(n) for n in parts]
    if len(parts[2]) == 2 and nums[0] < 1000:  # 03/12/85: any century will do for a range check
        nums[2] += 1900
    if nums[0] >= 1000:
        y, m, d = nums
        candidates = [(y, m, d)]
    else:
        a, b, y = nums
        candidates = [(y, a, b), (y, b, a)]
    for y, m, d in candidates:
        if 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]:
            return True
    return False


# -- dates in words beyond English, and Japanese, Chinese, Korean dates ----

#: CLDR locales whose month names are recognised (``[dates].locales``).
DATE_LOCALES: tuple[str, ...] = tuple(LEXICON["dates"]["locales"])


def _month_table(locales: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """Casefolded month name (without its abbreviation dot, also without
    accents: ``fevrier``, ``μαρτιου`` as upper-case Greek loses its tonos) ->
    (month, is a full name).  Wide and abbreviated names, in the format
    (genitive: ``марта``, ``Μαρτίου``) and stand-alone (nominative: ``март``)
    contexts.  Names holding digits (``3月``) are left to the CJK patterns."""
    table: dict[str, tuple[int, bool]] = {}
    for locale in locales:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for month, name in get_month_names(width, context, locale).items():
                    base = name.casefold().rstrip(".")
                    for variant in {base, _strip_accents(base)}:
                        if len(variant) < 3 or any(c.isdigit() for c in variant):
                            continue
                        wide = width == "wide" or table.get(variant, (0, False))[1]
                        table[variant] = (month, wide)
    return table


_MONTH_TABLE = _month_table(DATE_LOCALES)
_NEED_YEAR = _folded(LEXICON["dates"]["need_year"])
_AMBIGUOUS_ABBR = _folded(LEXICON["dates"]["ambiguous_abbreviations"])
_MONTH_ALT = _alternation(_MONTH_TABLE)
# On casefolded text.  Day first: "14 mars 2023", "3. märz", "12 de mayo de
# 2020", "1er mars", "14-mar-2023"; the character before the day is checked in
# code (a leading look-behind would make the engine try every position).
_DAY_MONTH_RE = re.compile(
    rf"(\d{{1,2}})(?:\.|er|ᵉʳ|º|ª|°|-?(?:st|nd|rd|th))?(?:\s*(?:de|of)\s+|\s*-\s*|\s*)({_MONTH_ALT})(?![^\W\d_])\.?"
    rf"(?:[\s,/-]*(?:(?:de|del|του)\s+)?((?:19|20)\d\d)(?!\d))?"
)
# Month then year, looked for right before each year: "mars 2023", "May 2021".
_YEAR_RE = re.compile(r"(?:19|20)\d\d(?!\d)")
_MONTH_BEFORE_YEAR_RE = re.compile(rf"(?<![^\W\d_])({_MONTH_ALT})\.?[\s,/-]*(?:(?:de|del|του)\s+)?$")
# Roman-numeral months, dotted or dashed: "14.III.2023", "14-iii-2023".
_ROMAN_MONTHS = {r: i + 1 for i, r in enumerate("i ii iii iv v vi vii viii ix x xi xii".split())}
_ROMAN_DATE_RE = re.compile(r"(\d{1,2})([.-]) ?(xii|xi|x|ix|viii|vii|vi|v|iv|iii|ii|i)\2 ?((?:19|20)\d\d)(?!\d)")
# Korean dotted dates: "2023. 3. 14." (a space after each dot, a final dot).
_KO_DOTTED_RE = re.compile(r"\. (\d{1,2})\. ?(\d{1,2})\.")
_CJK_DATE_RES = (
    # 2023年3月14日, 2023年3月, ２０２３年３月１４日 (full-width digits are \d)
    re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?"),
    # 3月14日
    re.compile(r"(?<!\d)()(\d{1,2})\s*月\s*(\d{1,2})\s*日"),
    # 2023년 3월 14일, 2023년 3월
    re.compile(r"(?<!\d)(\d{4})\s*년\s*(\d{1,2})\s*월(?:\s*(\d{1,2})\s*일)?"),
    # 3월 14일
    re.compile(r"(?<!\d)()(\d{1,2})\s*월\s*(\d{1,2})\s*일"),
)
# Japanese era years: 令和5年3月14日, 平成元年4月.
_ERA_DATE_RE = re.compile(r"(?:令和|平成|昭和|大正|明治)\s*(?:元|\d{1,2})\s*年\s*(\d{1,2})\s*月")
_BEFORE_DAY = frozenset("0123456789.,/:+-_")
_LETTER_RE = re.compile(r"[^\W\d_]")


def _valid_dmy(day: int, month: int, year: int | None) -> bool:
    if not 1 <= month <= 12:
        return False
    if year is not None and not 1850 <= year <= 2200:
        return False
    return 1 <= day <= calendar.monthrange(year or 2000, month)[1]


def _word_dates(folded: str) -> bool:
    """Day + month name (+ year), month name + year, Roman months, on casefolded text."""
    for m in _DAY_MONTH_RE.finditer(folded):
        start = m.start()
        if start and (folded[start - 1] in _BEFORE_DAY or folded[start - 1].isalpha()):
            continue  # "t2 mars", "1.5 mai", "123 mars"
        day, name, year = m.groups()
        month, wide = _MONTH_TABLE[name]
        if year is None and (not wide or name in _NEED_YEAR):
            continue  # "5 may represent", "3 out", "14 janv" -- abbreviations need a year
        if _valid_dmy(int(day), month, int(year) if year else None):
            return True
    for y in _YEAR_RE.finditer(folded):
        start = y.start()
        if start and (folded[start - 1].isdigit() or folded[start - 1] in "._"):
            continue
        before = _MONTH_BEFORE_YEAR_RE.search(folded, max(0, start - 32), start)
        if before is not None:
            name = before.group(1)
            _, wide = _MONTH_TABLE[name]
            if wide or name not in _AMBIGUOUS_ABBR:
                return True
        after = _KO_DOTTED_RE.match(folded, y.end())
        if after is not None and _valid_dmy(int(after.group(2)), int(after.group(1)), int(y.group())):
            return True
    if "." in folded or "-" in folded:
        for m in _ROMAN_DATE_RE.finditer(folded):
            start = m.start()
            if start and (folded[start - 1] in _BEFORE_DAY or folded[start - 1].isalpha()):
                continue
            if _valid_dmy(int(m.group(1)), _ROMAN_MONTHS[m.group(3)], int(m.group(4))):
                return True
    return False


def _cjk_dates(text: str) -> bool:
    """Japanese, Chinese and Korean dates with Arabic or full-width digits."""
    if "月" in text:
        if any(1 <= int(m.group(1)) <= 12 for m in _ERA_DATE_RE.finditer(text)):
            return True
        rxs: tuple[re.Pattern[str], ...] = _CJK_DATE_RES[:2]
    elif "월" in text:
        rxs = _CJK_DATE_RES[2:]
    else:
        return False
    for rx in rxs:
        for m in rx.finditer(text):
            year, month, day = m.groups()
            if _valid_dmy(int(day) if day else 1, int(month), int(year) if year else None):
                return True
    return False


def find_dates(text: str, folded: str | None = None) -> bool:
    """True when ``text`` contains a calendar date in a common format.

    Numeric dates (``1985-03-12``, ``12.03.1985``, ``19850312``...), English
    month names (``March 12, 1985``, ``12-MAR-1985``) and, in the languages of
    :data:`DATE_LOCALES`:

    * day + month name + year, any CLDR form of the month (``14 mars 2023``,
      ``3. März 2021``, ``12 de mayo de 2020``, ``5 ott. 2019``);
    * day + full month name without a year (``14 mars``, ``3. März``), not
      for ``may`` (``[dates].need_year``);
    * full or abbreviated month name + year (``mars 2023``, ``Okt. 2021``),
      not for abbreviations that are words (``[dates].ambiguous_abbreviations``:
      ``mag 2019`` is no date);
    * day + Roman-numeral month + year with dots or dashes (``14.III.2023``);
    * ``2023年3月14日``, ``2023年3月``, ``3月14日``, ``令和5年3月``, ``2023년 3월 14일``,
      ``3월 14일``, ``2023. 3. 14.``.

    Day and month are checked against the calendar.  A month name alone
    (``March protocol``, ``Kontrolle im Mai``) is no date.

    Parameters
    ----------
    folded
        ``text.casefold()`` when the caller has it already.
    """
    for i, rx in enumerate(_DATE_RES):
        for m in rx.finditer(text):
            if i >= 4 or _valid_numeric_date(m.group(0)):
                return True
    if _LETTER_RE.search(text) is None:
        return False  # a month name, 年 or 월 is a letter: digits and punctuation only (a phone number) end here
    if _word_dates(text.casefold() if folded is None else folded):
        return True
    return not text.isascii() and _cjk_dates(text)


def date_formats(da: str) -> list[str]:
    """Spellings of a DICOM DA value a person might type in free text.

    ``19850312`` -> ``1985-03-12``, ``03/12/1985``, ``12.03.1985``,
    ``12 Mar 1985``, ``March 12, 1985``, ``3/12/1985``... used to propagate
    the birth date into free text and private elements.
    """
    try:
        d = date(int(da[:4]), int(da[4:6]), int(da[6:8]))
    except (ValueError, IndexError):
        return []
    y, m, dd = d.year, d.month, d.day
    mon, month = calendar.month_abbr[m], calendar.month_name[m]
    forms = {
        f"{y:04d}{m:02d}{dd:02d}",
        f"{y:04d}-{m:02d}-{dd:02d}",
        f"{y:04d}/{m:02d}/{dd:02d}",
        f"{y:04d}.{m:02d}.{dd:02d}",
        f"{m:02d}/{dd:02d}/{y:04d}",
        f"{dd:02d}/{m:02d}/{y:04d}",
        f"{m}/{dd}/{y}",
        f"{dd}/{m}/{y}",
        f"{dd:02d}.{m:02d}.{y:04d}",
        f"{dd}.{m}.{y}",
        f"{m:02d}-{dd:02d}-{y:04d}",
        f"{dd:02d}-{m:02d}-{y:04d}",
        f"{dd} {mon} {y}",
        f"{dd:02d} {mon} {y}",
        f"{dd}-{mon}-{y}",
        f"{dd:02d}-{mon}-{y}",
        f"{dd} {month} {y}",
        f"{mon} {dd}, {y}",
        f"{month} {dd}, {y}",
        f"{mon} {dd} {y}",
        f"{month} {dd} {y}",
        f"{m:02d}/{dd:02d}/{y % 100:02d}",
        f"{dd:02d}.{m:02d}.{y % 100:02d}",
    }
    return sorted(forms)


# --------------------------------------------------------------------------
# Contacts and identifiers
# --------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_SSN_RE = re.compile(
    r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])|\b(?:SSN|social security(?: no\.?| number)?)\s*[:#]?\s*\d{3}[\s-]?\d{2}[\s-]?\d{4}\b",
    re.IGNORECASE,
)
_LABELLED_ID_RE = re.compile(
    r"\b(?:MRN|MR\s?#|MR\s?No\.?|Med(?:ical)?\s+Rec(?:ord)?(?:\s+(?:No\.?|Number|#))?|"
    r"Patient\s+ID|PID|Acc(?:ession)?(?:\s*(?:No\.?|Number|#))?|Chart\s*(?:No\.?|#)|"
    r"Case\s*(?:No\.?|#)|ID\s*#|ID\s*:|Subject\s+ID|Hospital\s+(?:No\.?|Number))\s*[:#=]?\s*[A-Z]{0,3}-?\d[\w-]{2,}",
    re.IGNORECASE,
)
_PREFIXED_ID_RE = re.compile(r"\b(?:MRN|PID|ACC|MR|PT|ID)[-_#]?\d{5,}\b", re.IGNORECASE)
_LONG_NUMBER_RE = re.compile(r"(?<![\d.,/])\d{7,}(?![\d/]|[.,]\d)")  # a full stop may end the sentence
_PHONE_LABEL_RE = re.compile(
    r"\b(?:tel|phone|ph|fax|mobile|cell|call)\.?\s*[:#]?\s*\+?\(?\d[\d\s().-]{5,}\d", re.IGNORECASE
)
_PHONE_SEPARATORS = re.compile(r"[\s()+-]")  # not ".": 4.0.12412818 is a version

# -- postal addresses --------------------------------------------------------

_ADDRESS_LEXICON = LEXICON["address"]
_AFTER_PLAIN = _folded(_ADDRESS_LEXICON["type_after_unambiguous"])
_AFTER_AMBIGUOUS = _folded(_ADDRESS_LEXICON["type_after_ambiguous"])
_NOT_STREET_NAMES = _folded(_ADDRESS_LEXICON["not_street_names"])
_PARTICLES = _folded(_ADDRESS_LEXICON["particles"])
_COMPOUND_SUFFIXES = tuple(sorted(_folded(_ADDRESS_LEXICON["compound_suffixes"]), key=len, reverse=True))
_NAME_WORD = r"[^\W\d_][\w'’.-]*"
_PARTICLE_ALT = _word_alternation(sorted(_PARTICLES))
# A unit after the number: "via Foley 16 Fr", "Via IV 20 ml" are no address.
_UNIT_AFTER = r"(?!\s*(?:(?:mm|cm|ml|mg|µg|mcg|kg|g|fr|ch|f|gauge|x|s|min|h|iu|ui|ie|mgy|kv|kvp|mas)\b|%|°))"


_ADDRESS_RES = (
    # Springfield, IL 62704
    re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"),
    re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+\b", re.IGNORECASE),
)
# Number, name, English street type: "123 Main Street", "14 Acacia Close",
# "221B Baker Street"; capitalisation checked in code.
_NUMBER_NAME_TYPE_RE = _LowerPattern(
    rf"(?<![\w.,/])\d{{1,5}}[a-z]?,?\s+((?:{_NAME_WORD}\s+){{1,3}}?)({_alternation(_AFTER_PLAIN | _AFTER_AMBIGUOUS)})"
    r"(?![^\W\d_])\.?"
)
# Street type, name, number: "rue de la Paix 12", "Via Roma 3", "Calle Mayor,
# 7", "ул. Ленина, д. 5", "Λεωφ. Κηφισίας 12".
_TYPE_NAME_NUMBER_RE = _LowerPattern(
    rf"(?<![^\W\d_])({_word_alternation(_ADDRESS_LEXICON['type_before'])})\s*((?:(?:{_PARTICLE_ALT})\s*)*)"
    rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}?),?\s*(?:(?:n[º°o]\.?|nr\.?|no\.?|д\.|дом|αρ\.)\s*)?"
    rf"\d{{1,4}}(?:\s?[a-zа-я](?![^\W\d_]))?(?![\d,.]\d){_UNIT_AFTER}"
)
# Number first, French style: "12 rue de la Paix", "3 bis avenue Foch".
_NUMBER_TYPE_NAME_RE = _LowerPattern(
    rf"(?<![\w.,/])\d{{1,4}}(?:\s?(?:bis|ter|[a-d]))?,?\s+({_word_alternation(_ADDRESS_LEXICON['number_first_types'])})"
    rf"\s*(?:(?:{_PARTICLE_ALT})\s*)*({_NAME_WORD})"
)
# One word ending in a street suffix, then the number: "Hauptstraße 5",
# "Kerkstraat 12", "Storgatan 3", "Berliner Straße 5" (suffix checked in code).
_WORD_NUMBER_RE = re.compile(
    rf"\b([^\W\d_][^\W\d_'-]*+\.?)\s?(\d{{1,4}}[a-z]?)(?![\w]|[.,/:]\d){_UNIT_AFTER}", re.IGNORECASE
)
_WORD_BEFORE_RE = re.compile(r"([^\W\d_][^\W\d_'-]*)\s+$")
# The continental layout "Street Number, Postcode City", street type or not:
# "Husova 75, 110 00 Praha 1", "Długa 35, 00-238 Warszawa", "Musterweg 12,
# D-10115 Berlin", "Dorpsstraat 5, 1234 AB Utrecht".  Postcodes of the EU
# (5 digits; 4 digits with or without two letters; PL 00-000; CZ/SK/SE/GR
# 000 00; PT 0000-000), with an optional country prefix.  Four bare digits
# that read as a year (19xx, 20xx: "Lesion 12, 2019 follow-up") are not taken.
_STREET_POSTCODE_CITY_RE = re.compile(
    r"(?<![\w.])([^\W\d_][^\W\d_'’.-]+)\s\d{1,4}\s?[a-zA-Z]?(?:/\d{1,4})?,\s*"
    r"(?:[A-Z]{1,2}-)?(?:\d{5}|\d{2}-\d{3}|\d{3}\s\d{2}|\d{4}-\d{3}|\d{4}\s?[A-Z]{2}(?![^\W\d_])|(?!19|20)\d{4})"
    r"\s+([^\W\d_][^\W\d_'’.-]+)"
)
# UK postcode (upper case, as written): SW1A 1AA, M1 1AE, B33 8TH, BS8 1TH.
# The area (the letters before the first digit) is one of the 121 postcode
# areas: "C7 1ST" (a vertebra and a rib), "T2 4NX" are no postcode.  After
# a lumbar or sacral level (L1-L5, S1-S5, also postcode districts), an
# inward code that reads as an ordinal ("L4 5TH", "S1 2ND") is not taken.
_UK_AREAS = frozenset(
    "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY E EC EH EN EX FK FY G "
    "GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR "
    "NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA "
    "WC WD WF WN WR WS WV YO ZE".split()
)
_UK_POSTCODE_RE = re.compile(r"\b([A-Z]{1,2})\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b")  # area checked in code
_ORDINAL_RE = re.compile(r"[LS][1-5] ?(?:1ST|2ND|3RD|[4-9]TH)")
_CJK_ADDRESS_RES = (
    re.compile(r"〒\s?\d{3}[-－]\d{4}"),
    # 東京都千代田区千代田1-1, 大阪市北区梅田3丁目1番
    re.compile(r"[都道府県市区町村郡][^\s、。,]{0,12}?\d{1,4}\s*(?:丁目|番地?|[-－ー−]\s*\d)"),
    # 서울특별시 종로구 세종대로 209
    re.compile(r"[가-힣]+(?:시|구|군)\s+[가-힣\d]+(?:로|길)\s*\d{1,4}"),
    # 北京市朝阳区建国路88号
    re.compile(r"[\u4e00-\u9fff]{1,10}[路街巷道弄]\s*\d{1,5}\s*号"),
)


def _capitalised(word: str, mixed: bool) -> bool:
    """Starts with a capital; ``mixed``: and is not all capitals (``Elm``, not ``MM``)."""
    return word[:1].isupper() and (not mixed or not word.isupper() or len(word) == 1)


def _street_name_ok(words: list[str], mixed: bool) -> bool:
    names = [w for w in words if w.casefold() not in _PARTICLES]
    if not names or names[0].casefold().strip(".") in _NOT_STREET_NAMES:
        return False
    return _capitalised(names[0], mixed) and all(_capitalised(w, mixed) for w in names)


def _compound_street(word: str, text: str, start: int) -> bool:
    """``Hauptstraße``, ``Kaiserring`` (not ``Monitoring``), or ``Straße``
    after a capitalised word (``Berliner Straße``)."""
    folded = word.casefold()
    if not word[0].isupper() or folded in _NOT_STREET_NAMES:
        return False
    suffix = next((s for s in _COMPOUND_SUFFIXES if folded.endswith(s)), None)
    if suffix is None:
        return False
    prefix = folded[: -len(suffix)]
    if not prefix:
        before = _WORD_BEFORE_RE.search(text, max(0, start - 40), start)
        return (
            before is not None
            and _capitalised(before.group(1), True)
            and before.group(1).casefold() not in (_NOT_STREET_NAMES | _PARTICLES)
        )
    if suffix == "ring":
        return len(prefix) >= 4 and prefix[-1] not in "aeiouyäöü"
    return len(prefix) >= 2


def address_found(text: str, lower: str | None = None) -> bool:
    """A street address or a postcode in free text.

    * ``Springfield, IL 62704``, ``PO Box 12``;
    * number, capitalised name, English street type (``[address].type_after_*``):
      ``123 Main Street``, ``14 Acacia Close``; with an ambiguous type
      (``Close``, ``Dr``, ``Ct``) the name must be in mixed case (``5 mm
      close to``, ``5 MM CT`` are no address);
    * street type, capitalised name, number (``[address].type_before``):
      ``rue de la Paix 12``, ``Via Roma 3``, ``Calle Mayor, 7``, ``ул. Ленина,
      д. 5``, ``Λεωφ. Κηφισίας 12``; all capitals only with an all-capital
      type and a name of 4+ letters; never a unit after the number
      (``via Foley 16 Fr``);
    * number, French street type, name: ``12 rue de la Paix``;
    * one word with a street suffix (``[address].compound_suffixes``) and a
      number: ``Hauptstraße 5``, ``Kerkstraat 12``, ``Storgatan 3``,
      ``Berliner Straße 5``;
    * a UK postcode in capitals (``SW1A 1AA``), not an ordinal (``C7 1ST``);
    * the continental "street number, postcode city" (``Husova 75, 110 00
      Praha 1``, ``Długa 35, 00-238 Warszawa``), street type or not;
    * Japanese postcodes (``〒100-0001``) and block numbers, Korean road
      addresses, Chinese ``路…号`` numbers.

    Words in ``[address].not_street_names`` (``Port``, ``Months``, ``IV``)
    are never a street name.

    Parameters
    ----------
    lower
        ``text.lower()`` when the caller has it already.
    """
    if any(rx.search(text) for rx in _ADDRESS_RES):
        return True
    if lower is None:
        lower = _lower(text)

    def group(m: re.Match[str], i: int) -> str:  # the text as written, not lower-cased
        return text[m.start(i) : m.end(i)]

    for m in _NUMBER_NAME_TYPE_RE.finditer(text, lower):
        words, kind = group(m, 1).split(), group(m, 2)
        plain = kind.casefold() in _AFTER_PLAIN
        if (plain or kind[0].isupper()) and _street_name_ok(words, mixed=not plain):
            return True
    for m in _TYPE_NAME_NUMBER_RE.finditer(text, lower):
        kind, words = group(m, 1), group(m, 3).split()
        all_caps = kind.isupper() and len(kind.strip("./")) > 1
        if _street_name_ok(words, mixed=not all_caps) and (not all_caps or len(words[0]) >= 4):
            return True
    for m in _NUMBER_TYPE_NAME_RE.finditer(text, lower):
        if _street_name_ok([group(m, 2)], mixed=True):
            return True
    for m in _WORD_NUMBER_RE.finditer(text):
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "."):
            continue
        if _compound_street(m.group(1), text, m.start()):
            return True
    for m in _UK_POSTCODE_RE.finditer(text):
        if m.group(1) in _UK_AREAS and not _ORDINAL_RE.fullmatch(m.group()):
            return True
    if "," in text:
        for m in _STREET_POSTCODE_CITY_RE.finditer(text):
            street, city = m.group(1), m.group(2)
            if (
                _capitalised(street, True)
                and _capitalised(city, False)
                and street.casefold().strip(".") not in _NOT_STREET_NAMES
                and city.casefold().strip(".") not in _NOT_STREET_NAMES
                and not _not_a_name(city.casefold().strip("."))
            ):
                return True
    return not text.isascii() and any(rx.search(text) for rx in _CJK_ADDRESS_RES)


# Person names in prose: "Dr. Smith", "Mrs Jones", "Prof. Müller",
# "Patient: John Smith", "Reviewed by J. Smith".  Letters are matched with
# [^\W\d_] so accented names count; capitalisation is checked in code.
_TITLE_RE = re.compile(
    r"\b(Dr|Prof|Mr|Mrs|Ms|Mx|Miss|Doctor|Professor)(\.?)\s+([^\W\d_][^\W\d_'-]*(?:['-][^\W\d_]+)*)",
    re.IGNORECASE,
)
_LABELLED_NAME_RE = re.compile(
    r"\b(?:(patient|pt|name|physician|referring|attending|technologist|tech|radiologist)\s*([:=]?)|"
    r"((?:referred|signed|dictated|read|reviewed|reported|performed|approved|verified|seen|examined|"
    r"transcribed)\s+by)\s*[:=]?)"
    r"\s*((?:[^\W\d_]\.\s?)?[^\W\d_][^\W\d_'-]+(?:[ ,^]+[^\W\d_][^\W\d_'-]+)*)",
    re.IGNORECASE,
)

#: Radiology vocabulary that may follow a title-like token (``DR`` is also
#: Digital Radiography): never a name.
_NOT_NAMES = frozenset(
    {"CHEST", "ABDOMEN", "PELVIS", "HEAD", "SPINE", "KNEE", "HAND", "FOOT", "PORTABLE", "SCAN",
     "IMAGE", "SERIES", "STUDY", "VIEW", "VIEWS", "WITH", "WITHOUT", "LEFT", "RIGHT", "AXIAL", "BRAIN",
     "NECK", "LUNG", "LUNGS", "BONE", "SOFT", "TISSUE", "BODY", "CONTRAST", "ANGIO", "SCOUT", "LOCALIZER",
     "ROUTINE", "PROTOCOL", "NAME", "UNKNOWN", "ANONYMOUS", "ID", "ONLY", "ABD", "CT", "MR", "MRI", "US",
     "PET", "SAG", "COR", "CORONAL", "SAGITTAL", "FLAIR", "DWI", "ADC", "T1", "T2", "WRIST", "SHOULDER",
     "HIP", "ANKLE", "ELBOW", "CERVICAL", "THORACIC", "LUMBAR", "SINUS", "ORBIT", "HEART", "CARDIAC",
     "WHOLE", "LIVER", "KIDNEY", "RENAL", "PROSTATE", "BREAST", "THE", "AND", "FOR", "ALL", "NOT", "NO",
     "STABLE", "NORMAL", "PRIOR", "FOLLOW", "TOLERATED", "WELL", "PROCEDURE", "EXAM", "REPORT", "FEMALE",
     "MALE"}
)  # fmt: skip


# NANP layout: area code starts with 2-9 (the fictional 555 included); the
# exchange is not checked so test numbers like 555-123-4567 count.
_NANP_RE = re.compile(r"^(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]\d{4}$")
# A local number written the North-American way: 555-0142.
_LOCAL_PHONE_RE = re.compile(r"(?<![\d./:-])[2-9]\d{2}-\d{4}(?![\d/-])")


# At least 7 digits with at most 4 other characters between two of them:
# what a phone number that PhoneNumberMatcher finds must hold (its blocks are
# separated by at most 4 punctuation characters), checked first at C speed.
_SEVEN_DIGITS_RE = re.compile(r"\d(?:\D{0,4}\d){6}")

_PHONE_LEXICON = LEXICON["phone"]
_ALPHA_PHONE_LABELS = [w.lower() for w in _PHONE_LEXICON["labels"] if not _is_cjk(w)]
_CJK_PHONE_LABELS = [w for w in _PHONE_LEXICON["labels"] if _is_cjk(w)]
# A label in any language right before the number ("Tél. : 01 23 45 67 89",
# "Telefon 030/1234567", "Тел.: 8 (495) 123-45-67", "電話 03-1234-5678").
_INTL_PHONE_LABEL_RE = _LowerPattern(
    rf"(?:(?<![^\W\d_])(?:{_alternation(_ALPHA_PHONE_LABELS)})(?![^\W\d_])|{_alternation(_CJK_PHONE_LABELS)})"
    r"[\s.:#：-]*(?:(?:no|nr|n°|num)\b\.?[\s.:#：]*)?(\+?\(?\d[\d \t()./-]{5,}\d)"
)
_PHONE_NEAR_LABELS = _folded(_PHONE_LEXICON["labels"]) | _folded(_PHONE_LEXICON["near_labels"]) | {
    "tel", "phone", "ph", "fax", "mobile", "cell", "call", "telephone"}  # fmt: skip
_PHONE_NOT_LABELS = _folded(_PHONE_LEXICON["not_labels"])
#: Word tokens allowed between a label and a national number it labels
#: ("Tél. portable de la fille : 06 ..." has 4: portable, de, la, fille).
PHONE_LABEL_DISTANCE = 4
# A run of digit groups a national number may be written as: groups joined by
# a space, "-", "/", "." or parentheses ("06 12 34 56 78", "030/1234567",
# "8 (495) 123-45-67", "06.12.34.56.78"), or bare digits; split and checked
# in code.  The character before the run is checked in code too.
_NATIONAL_RUN_RE = re.compile(r"\(?\d[\d ()./-]{6,40}\d\)?|\d{8,12}")
_GROUPS_RE = re.compile(r"\d+")
_SEPARATOR_RE = re.compile(r" ?[-/.]? ?| ?\(|\) ?| ?\) ?- ?")
_WORD_TOKEN_RE = re.compile(r"[^\W\d_]+(?:[/'][^\W\d_]+)*")
_IPV4_RE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _phone_found(text: str, lower: str | None = None) -> bool:
    if _PHONE_LABEL_RE.search(text) or _LOCAL_PHONE_RE.search(text):
        return True
    if _intl_labelled_phone(text, lower):
        return True
    if not _SEVEN_DIGITS_RE.search(text):
        return False  # no match of the matcher could hold 7 digits
    for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=Leniency.POSSIBLE):
        raw = match.raw_string.strip()
        before = text[max(0, match.start - 2) : match.start]
        if before and (before[-1].isdigit() or (before[-1] in ".:/" and before[:1].isdigit())):
            continue  # the tail of a longer number (093402.100721-0700 is a DT)
        digits = sum(c.isdigit() for c in raw)
        if digits < 7 or find_dates(raw):
            continue
        # International numbers (+44 20 ...) and North-American layouts
        # (617-555-0123, (617) 555 0123, also the fictional 555 exchange)
        # are phone numbers; other digit groups (0000.00000.0, 1.25 5.0) are
        # only when phonenumbers calls them valid and they are written with
        # separators -- bare digit runs go to the identifier detector.
        if raw.startswith("+") and digits >= 8:
            return True
        if _NANP_RE.match(raw):
            return True
        if (
            _PHONE_SEPARATORS.search(raw)
            and phonenumbers.is_valid_number(match.number)
            and _label_before(text, match.start) != "not"  # "Lot 2023 0614 22", "SN 2004 5567 8812"
        ):
            return True
    return False


def _intl_labelled_phone(text: str, lower: str | None = None) -> bool:
    """A number of 6+ digits right after a phone label in any language."""
    for m in _INTL_PHONE_LABEL_RE.finditer(text, _lower(text) if lower is None else lower):
        number = text[m.start(1) : m.end(1)]
        if sum(c.isdigit() for c in number) >= 6 and not find_dates(number):
            return True
    return False


def _label_before(text: str, start: int) -> str | None:
    """``"label"`` or ``"not"`` when a phone label or a serial/lot/record
    label is among the :data:`PHONE_LABEL_DISTANCE` + 1 word tokens before
    ``start`` (the nearest one decides), else None."""
    tokens = _WORD_TOKEN_RE.findall(text, max(0, start - 80), start)
    for token in reversed(tokens[-(PHONE_LABEL_DISTANCE + 1) :]):
        word = token.casefold()
        if word in _PHONE_NOT_LABELS:
            return "not"
        if word in _PHONE_NEAR_LABELS or (_is_cjk(word) and any(label in word for label in _CJK_PHONE_LABELS)):
            return "label"
    return None


def _phone_layout(groups: list[str], separators: list[str]) -> bool:
    """Digit groups written the way phone numbers are: every group after the
    first has 2+ digits ("06 12 34 56 78", "8 (495) 123-45-67"), and dotted
    runs have groups of 2 to 4 digits (06.12.34.56.78, not 1.25 or 4.0.1241)."""
    if len(groups) < 2 or any(len(g) < 2 for g in groups[1:]) or len(groups[0]) > 5:
        return False
    if any("." in sep for sep in separators):
        return all(2 <= len(g) <= 4 for g in groups) and all(sep == "." for sep in separators)
    return all(_SEPARATOR_RE.fullmatch(sep) for sep in separators)


@functools.lru_cache(maxsize=4096)
def _valid_national(digits: str, regions: tuple[str, ...]) -> bool:
    """Is ``digits`` a valid number of one of ``regions`` (phonenumbers)?"""
    for region in regions:
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(number, region):
            return True
    return False


def _windows(run: str, offset: int) -> Iterable[tuple[int, int, str, list[str], list[str]]]:
    """The run, then the run less its last groups, then less its first ones:
    ``(start, end, digits, groups, separators)`` of each with 8 to 12 digits
    (a number followed by "12 mm" or preceded by a room number is still found)."""
    spans = [(m.start(), m.end()) for m in _GROUPS_RE.finditer(run)]
    n = len(spans)
    seen: set[tuple[int, int]] = set()
    for i, j in [(0, k) for k in range(n, 0, -1)] + [(k, n) for k in range(1, n)]:
        if (i, j) in seen:
            continue
        seen.add((i, j))
        groups = [run[a:b] for a, b in spans[i:j]]
        if not 8 <= sum(map(len, groups)) <= 12:
            continue
        separators = [run[spans[k][1] : spans[k + 1][0]] for k in range(i, j - 1)]
        yield offset + spans[i][0], offset + spans[j - 1][1], "".join(groups), groups, separators


def national_phone_found(text: str, regions: tuple[str, ...]) -> bool:
    """A national phone number (no ``+`` prefix) of one of ``regions``.

    A run of 8 to 12 digits counts when all of these hold:

    * ``phonenumbers`` says it is a valid number of one of the regions
      (``is_valid_number_for_region``);
    * it is written the way phone numbers are (:func:`_phone_layout`:
      ``06 12 34 56 78``, ``030/1234567``, ``8 (495) 123-45-67``) **or** a
      phone label or calling word (``[phone].labels``, ``.near_labels``) is
      among the :data:`PHONE_LABEL_DISTANCE` (4) word tokens before it --
      a bare ``0612345678`` needs the label;
    * after a phone label, a valid number of a European country outside
      ``regions`` (or with no region known) counts too
      (:data:`_LABELLED_ANY_REGIONS`);
    * no serial, lot, reference or record label (``[phone].not_labels``:
      ``SN``, ``Lot``, ``Seriennr.``, ``MRN``) is nearer before it than a
      phone label;
    * it is no date (:func:`find_dates`) and no IPv4 address.
    """
    if not _ANY_DIGIT.search(text):
        return False
    for m in _NATIONAL_RUN_RE.finditer(text):
        start = m.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "+.,/:-_"):
            continue  # the tail of a longer token: +33..., version 4.0.1..., A-123...
        run = m.group()
        if _IPV4_RE.fullmatch(run):
            continue
        for pos, end, digits, groups, separators in _windows(run, start):
            if find_dates(text[pos:end]):
                continue
            label = _label_before(text, pos)
            if label == "not" or not (label == "label" or _phone_layout(groups, separators)):
                continue
            if regions and _valid_national(digits, regions):
                return True
            if label == "label" and _valid_national(digits, _LABELLED_ANY_REGIONS):
                return True  # labelled: a number across the border ("Rückruf unter 040 ..." in a Swiss file)
    return False


#: With a phone label before it, a national number of any of these counts:
#: patients and referrers call from across the border.
_LABELLED_ANY_REGIONS = ("DE", "FR", "IT", "ES", "NL", "BE", "LU", "AT", "CH", "PT", "PL", "CZ", "SK", "DK", "SE",
                         "NO", "FI", "GB", "IE", "GR", "HU", "SI", "HR")  # fmt: skip


# Substrings (lower case) that each pattern needs: checking them with ``in``
# runs at C speed and spares the regex scan, slow with IGNORECASE, on long
# text that cannot match.
_TITLE_HINTS = ("dr", "prof", "mr", "ms", "mx", "miss", "doctor")
_LABEL_HINTS = ("pt", "patient", "name", "physician", "referring", "attending", "tech", "radiologist", "by")


def _titled_name_found(text: str) -> bool:
    lower = text.casefold()  # what IGNORECASE matches, as plain lower case
    titles = _TITLE_RE.finditer(text) if any(h in lower for h in _TITLE_HINTS) else ()
    labels = _LABELLED_NAME_RE.finditer(text) if any(h in lower for h in _LABEL_HINTS) else ()
    return _title_match(titles) or _label_match(labels)


def _title_match(matches: Iterable[re.Match[str]]) -> bool:
    for m in matches:
        title, dot, name = m.groups()
        if not name[0].isupper() or len(name) < 2 or name.upper() in _NOT_NAMES:
            continue
        # "DR CHEST" (Digital Radiography) and "MR BRAIN" (modality) are not
        # titles: an all-capitals title needs its dot.
        if title.isupper() and not dot:
            continue
        # A lower-case title is a word of the sentence, except "dr", which
        # Scandinavian, Dutch and Polish write so ("dr Nilsson", "dr. de Jong").
        if title[0].islower() and (title != "dr" or len(name) < 3):
            continue
        return True
    return False


def _label_match(matches: Iterable[re.Match[str]]) -> bool:
    for m in matches:
        _, colon, by, tail = m.groups()
        words = []
        for w in re.split(r"[\s,^]+", tail):
            w = w.strip(".")
            if not w or not w[0].isupper() or w.upper() in _NOT_NAMES:
                break
            words.append(w)
        if not words or not any(len(w) >= 2 for w in words):
            continue
        if colon or by:
            return True  # "Patient: John Smith", "reviewed by J. Smith"
        # No separator ("Patient John Smith"): two mixed-case words, so that
        # capitalised clinical text ("PATIENT MOVED") is not a name.
        if len(words) >= 2 and not any(w.isupper() and len(w) > 1 for w in words):
            return True
    return False


_NAMES_LEXICON = LEXICON["names"]
_INTL_TITLES = _folded(_NAMES_LEXICON["titles"])
_ROLES = _folded(_NAMES_LEXICON["roles"]) | {t.rstrip(".") for t in _INTL_TITLES} | _INTL_TITLES
_NON_NAMES = _folded(_NAMES_LEXICON["not_names"]) | {w.casefold() for w in _NOT_NAMES}
_ARTICLES = frozenset({"le", "la", "les", "l'", "the", "der", "die", "den", "dem", "des", "el", "il", "lo", "los",
                       "las", "de", "del", "a", "à", "au", "al", "o", "os", "het", "een", "с", "со", "με", "τον", "την",
                       "τη", "το", "herrn", "frau", "herr"})  # fmt: skip
# One scan for the three cues: a title ("Herr", "Mme", "Dott.", "д-р"), a
# phrase ("besprochen mit", "vu avec"), a label with a colon ("Médecin :").
_NAME_CUE_RE = _LowerPattern(
    rf"(?<![^\W\d_])(?:(?P<title>{_word_alternation(_NAMES_LEXICON['titles'])})"
    rf"|(?P<phrase>{_alternation(p.lower() for p in _NAMES_LEXICON['phrases'])})(?![^\W\d_])"
    rf"|(?P<label>{_alternation(w.lower() for w in _NAMES_LEXICON['labels'])})\s*[:=：])"
)
_NAME_TOKEN_RE = re.compile(r"[\s,:;()]*([^\W\d_](?:[^\W\d_'’-]|\.(?=[^\W\d_]))*\.?)")
_CJK_NAME_RE = re.compile(
    rf"([\u4e00-\u9fff\u3400-\u4dbf]{{1,4}}|(?<![가-힣])[가-힣]{{2,4}})\s?(?:{_alternation(_NAMES_LEXICON['cjk_suffix_titles'])})"
)
_CJK_NOT_NAMES = tuple(_NAMES_LEXICON["cjk_not_names"])
_NOT_NAME_SUFFIXES = tuple(w.casefold() for w in _NAMES_LEXICON["not_name_suffixes"])


#: Titles written in capitals without a dot: Oberarzt/Oberärztin ("an OA Schneider").
_CAPS_TITLES = frozenset({"OA", "OÄ"})


def _not_a_name(bare: str) -> bool:
    """``bare`` (casefolded, no dot) is a clinical word, department or team."""
    return bare in _NON_NAMES or bare.endswith(_NOT_NAME_SUFFIXES)


def _name_follows(text: str, pos: int, *, titled: bool = False) -> bool:
    """Is the next word after ``pos`` a person's name?  Articles, roles and
    titles are skipped (up to 4 words: "le Dr", "OA Dr.", "den Kollegen der");
    an initial ("J.") is taken with the word after it.  A name is a
    capitalised word of 2+ letters, not all capitals unless 5+ letters long
    (``ED``, ``MDT`` and ``ICU`` are teams), not in ``[names].not_names`` or
    the English clinical list."""
    for _ in range(5):
        m = _NAME_TOKEN_RE.match(text, pos)
        if m is None:
            return False
        word, pos = m.group(1), m.end()
        folded = word.casefold()
        bare = folded.rstrip(".")
        for elision in ("l'", "l’", "d'", "d’"):
            if bare.startswith(elision):
                bare = bare[len(elision) :]
                word = word[len(elision) :]
        if folded in _ARTICLES or bare in _ARTICLES or folded in _ROLES or bare in _ROLES:
            continue
        if len(bare) == 1 and word.endswith("."):
            continue  # an initial: "J. Smith", "И.И."
        if not word[:1].isupper() or _not_a_name(bare) or len(bare) < 2:
            return False
        if word.rstrip(".").isupper() and len(bare) < (3 if titled else 5):
            return False  # ED, ICU, MDT: teams, not people (after a title: "dhr. SMIT" is one)
        after = _NAME_TOKEN_RE.match(text, pos)  # "Vascular Surgery", "Cardiology team"
        return (
            after is None
            or text[pos : after.start(1)].strip() != ""
            or not _not_a_name(after.group(1).casefold().rstrip("."))
        )
    return False


def intl_name_found(text: str, lower: str | None = None) -> bool:
    """A person named after a title, phrase or label beyond English, or
    before a Japanese, Chinese or Korean honorific.

    * titles (``[names].titles``): ``Herr Müller``, ``Mme Durand``, ``Dott.
      Rossi``, ``Sra. López``, ``MUDr. Dvořák``, ``д-р Петров``, ``Δρ.
      Παπαδάκης``; a Latin title in lower case only with its dot (``dott.
      Rossi``), an all-capital one never without it (``PR POSITIVE``);
    * phrases (``[names].phrases``): ``besprochen mit OA Schulze``, ``vu avec
      le Dr Martin``, ``refertato da Ferrari``, ``discussed with Okafor``;
    * labels with a colon (``[names].labels``): ``Médecin : Martin``,
      ``Врач: Иванов``;
    then :func:`_name_follows`.  ``山田先生``, ``김민수 교수``, ``王医生``: 1-4
    ideographs or 2-4 Hangul syllables before an honorific
    (``[names].cjk_suffix_titles``), not a role or place word
    (``[names].cjk_not_names``: ``患者さん``, ``담당 교수``).
    """
    for m in _NAME_CUE_RE.finditer(text, _lower(text) if lower is None else lower):
        titled = m.group("title") is not None
        if titled:
            title = text[m.start("title") : m.end("title")]
            latin = _is_latin(title)
            if latin and title[0].islower() and not title.endswith("."):
                continue
            if latin and title.isupper() and not title.endswith(".") and len(title) > 1 and title not in _CAPS_TITLES:
                continue
        if _name_follows(text, m.end(), titled=titled):
            return True
    if text.isascii():
        return False
    for m in _CJK_NAME_RE.finditer(text):
        run = m.group(1)
        if not any(run == stop or run.endswith(stop) for stop in _CJK_NOT_NAMES):
            return True
    return False


def _long_number_found(text: str) -> bool:
    for m in _LONG_NUMBER_RE.finditer(text):
        s = m.group(0)
        if len(s) == 8 and _valid_numeric_date(s) and s[:2] in ("19", "20"):
            continue  # a compact date: reported as a date
        return True
    return False


# An age of 90 to 119 written as a number and a word for "years"
# (``[age].years``): "94 ans", "92-jährige", "91 y/o", "95歳".
_AGE_IN_TEXT_RE = _LowerPattern(
    rf"(?<![\d.,/])(?:9\d|1[01]\d)\s?-?\s?(?:{_alternation(w.lower() for w in LEXICON['age']['years'])})"
    r"(?![^\W\d_])"
)


def has_labelled_id(text: str) -> bool:
    """``MRN: 1234567``, ``Acc# A-99812``, ``PID-0012345``..."""
    return bool(_LABELLED_ID_RE.search(text) or _PREFIXED_ID_RE.search(text))


#: Texts up to this long are remembered with their result (:func:`detect`).
_CACHED_TEXT = 512


def detect(text: str, context: DetectionContext | None = None) -> set[Kind]:
    """Every kind of identifier found in a piece of free text.

    Parameters
    ----------
    text
        Decoded text of one element (multi-values joined with ``\\``).
    context
        What is known of the data set the text comes from
        (:func:`dicomaudit.phi.locale.context_for`); its ``regions`` turn on
        national phone numbers (:func:`national_phone_found`).  None: every
        language-independent detector, international (``+33``) and
        North-American phone numbers only.

    Returns
    -------
    set of Kind
        Empty for clinical vocabulary such as ``CT CHEST W/O CONTRAST``.
        A new set the caller may change.
    """
    # An archive repeats its free text: every instance of a series carries the
    # same descriptions, protocol and institution.  The answer depends only on
    # the text and the context, so short texts are answered from memory.
    if len(text) <= _CACHED_TEXT:
        return set(_detect_remembered(text, context))
    return _detect(text, context)


@functools.lru_cache(maxsize=8192)  # at most 8192 texts of 512 characters: a few MiB per process
def _detect_remembered(text: str, context: DetectionContext | None) -> frozenset[Kind]:
    return frozenset(_detect(text, context))


def _detect(text: str, context: DetectionContext | None) -> set[Kind]:
    found: set[Kind] = set()
    # Cheap gate: every detector but titled names needs a digit or an "@".
    has_digit = _ANY_DIGIT.search(text) is not None  # a regex scan, not a Python loop: values can be megabytes
    lower = _lower(text)  # for the word-list patterns (see _LowerPattern)
    if "@" in text and _EMAIL_RE.search(text):
        found.add(Kind.EMAIL)
    if has_digit:
        if _SSN_RE.search(text):
            found.add(Kind.SSN)
        if find_dates(text):
            found.add(Kind.DATE)
        if _phone_found(text, lower) or (context is not None and national_phone_found(text, context.regions)):
            found.add(Kind.PHONE)
        if has_labelled_id(text) or (Kind.SSN not in found and Kind.PHONE not in found and _long_number_found(text)):
            found.add(Kind.ID)
        if address_found(text, lower):
            found.add(Kind.ADDRESS)
        if next(_AGE_IN_TEXT_RE.finditer(text, lower), None) is not None:
            found.add(Kind.AGE)
    if _titled_name_found(text) or intl_name_found(text, lower):
        found.add(Kind.NAME)
    return found
