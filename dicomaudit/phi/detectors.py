"""Detectors for identifiers hidden in free text.

PS3.15 E.1.1 holds a de-identifier responsible for identifying text in *any*
attribute, and Table E.1-1 lists dozens of descriptions and comments for that
reason.  Most of that text is clinical vocabulary (``CT CHEST W/O
CONTRAST``), so each detector here looks for a specific shape -- a date in a
common format, a phone number (``phonenumbers``), an e-mail, an SSN, a
labelled or long numeric identifier, a street address, a titled or labelled
person name -- rather than flagging text wholesale.

Also here: recognising *placeholder* values that de-identifiers write
(``ANONYMOUS``, ``ANONYMIZED``, ``00010101``...), which are never findings.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date

import phonenumbers
from phonenumbers import Leniency

from dicomaudit.phi.categories import Kind

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
# Dates
# --------------------------------------------------------------------------

_MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_Y4 = r"(?:19|20)\d\d"
_DATE_RES = (
    # 1985-03-12, 1985/03/12, 1985.03.12
    re.compile(rf"(?<![\d.]){_Y4}([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])(?![\d.])"),
    # 19850312 (DA without separators) -- validated below
    re.compile(rf"(?<![\d.]){_Y4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?![\d.])"),
    # 03/12/1985, 12.03.1985, 12-03-1985 (either day or month first)
    re.compile(rf"(?<![\d.])(?:[0-3]?\d)([-/.])(?:[0-3]?\d)\1{_Y4}(?![\d.])"),
    # 03/12/85 (two-digit year, slashes only: dotted triples are versions)
    re.compile(r"(?<![\d./])(?:[0-3]?\d)/(?:[0-3]?\d)/\d\d(?![\d./])"),
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


def find_dates(text: str) -> bool:
    """True when ``text`` contains a calendar date in a common format."""
    for i, rx in enumerate(_DATE_RES):
        for m in rx.finditer(text):
            if i >= 4 or _valid_numeric_date(m.group(0)):
                return True
    return False


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
_LONG_NUMBER_RE = re.compile(r"(?<![\d.,/])\d{7,}(?![\d.,/])")
_PHONE_LABEL_RE = re.compile(
    r"\b(?:tel|phone|ph|fax|mobile|cell|call)\.?\s*[:#]?\s*\+?\(?\d[\d\s().-]{5,}\d", re.IGNORECASE
)
_PHONE_SEPARATORS = re.compile(r"[\s()+-]")  # not ".": 4.0.12412818 is a version

_STREET_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq|trail|close|crescent|alley"
)
_ADDRESS_RES = (
    # 123 Main Street / 42 Elm St. / 7 Old Mill Road
    re.compile(
        rf"(?<![\w.])\d{{1,5}}[A-Za-z]?\s+(?:[A-Za-z][A-Za-z'.-]*\s+){{1,3}}(?:{_STREET_SUFFIX})\b\.?",
        re.IGNORECASE,
    ),
    # Hauptstrasse 12 / Lindenweg 3a / Marktplatz 1
    re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+(?:stra(?:ss|ß)e|str\.|weg|gasse|platz|allee|ring)\s+\d{1,4}[a-z]?\b"),
    # rue de la Paix 12 / Via Roma 5 / Calle Mayor 3
    re.compile(r"\b(?:rue|avenue|via|calle|chemin|boulevard|piazza|plaza)\s+(?:\w+\s+){0,3}\d{1,4}\b", re.IGNORECASE),
    # Springfield, IL 62704
    re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"),
    re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+\b", re.IGNORECASE),
)

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
     "STABLE", "NORMAL", "PRIOR", "FOLLOW", "TOLERATED", "WELL", "PROCEDURE", "EXAM", "REPORT"}
)  # fmt: skip


# NANP layout: area code starts with 2-9 (the fictional 555 included); the
# exchange is not checked so test numbers like 555-123-4567 count.
_NANP_RE = re.compile(r"^(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]\d{4}$")
# A local number written the North-American way: 555-0142.
_LOCAL_PHONE_RE = re.compile(r"(?<![\d./:-])[2-9]\d{2}-\d{4}(?![\d/-])")


def _phone_found(text: str) -> bool:
    if _PHONE_LABEL_RE.search(text) or _LOCAL_PHONE_RE.search(text):
        return True
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
        if _PHONE_SEPARATORS.search(raw) and phonenumbers.is_valid_number(match.number):
            return True
    return False


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
        if title[0].islower():
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


def _long_number_found(text: str) -> bool:
    for m in _LONG_NUMBER_RE.finditer(text):
        s = m.group(0)
        if len(s) == 8 and _valid_numeric_date(s) and s[:2] in ("19", "20"):
            continue  # a compact date: reported as a date
        return True
    return False


def has_labelled_id(text: str) -> bool:
    """``MRN: 1234567``, ``Acc# A-99812``, ``PID-0012345``..."""
    return bool(_LABELLED_ID_RE.search(text) or _PREFIXED_ID_RE.search(text))


def detect(text: str) -> set[Kind]:
    """Every kind of identifier found in a piece of free text.

    Parameters
    ----------
    text
        Decoded text of one element (multi-values joined with ``\\``).

    Returns
    -------
    set of Kind
        Empty for clinical vocabulary such as ``CT CHEST W/O CONTRAST``.
    """
    found: set[Kind] = set()
    # Cheap gate: every detector but titled names needs a digit or an "@".
    has_digit = _ANY_DIGIT.search(text) is not None  # a regex scan, not a Python loop: values can be megabytes
    if "@" in text and _EMAIL_RE.search(text):
        found.add(Kind.EMAIL)
    if has_digit:
        if _SSN_RE.search(text):
            found.add(Kind.SSN)
        if find_dates(text):
            found.add(Kind.DATE)
        if _phone_found(text):
            found.add(Kind.PHONE)
        if has_labelled_id(text) or (Kind.SSN not in found and Kind.PHONE not in found and _long_number_found(text)):
            found.add(Kind.ID)
        if any(rx.search(text) for rx in _ADDRESS_RES):
            found.add(Kind.ADDRESS)
    if _titled_name_found(text):
        found.add(Kind.NAME)
    return found
