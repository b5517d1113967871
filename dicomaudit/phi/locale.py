"""Where a data set comes from, as far as the free-text detectors care.

Phone numbers written the national way (``06 12 34 56 78``, ``030 1234567``,
``8 (495) 123-45-67``) can only be validated against the numbering plan of a
country.  :func:`infer_regions` picks the plausible countries (ISO 3166-1
alpha-2 codes, as :mod:`phonenumbers` names its regions) of one data set
from, in this order:

1. an explicit list (``--region FR,DE`` on the command line), always kept;
2. the addresses in the header -- InstitutionAddress (0008,0081),
   PatientAddress (0010,1040), CountryOfResidence (0010,2150),
   RegionOfResidence (0010,2152) -- through a country name (in English, in
   the country's own languages and in the languages of :data:`NAME_LOCALES`,
   from Babel's CLDR data, plus :data:`COUNTRY_ALIASES`), an old European
   country prefix of the postcode (``D-10115``, ``F-75002``) or a postcode
   shape of one country (:data:`POSTCODE_SHAPES`: ``SW1A 1AA`` is British,
   ``1012 AB`` Dutch, ``MA 02115`` American...);
3. only when the addresses name no country, the character repertoire
   declared by SpecificCharacterSet (0008,0005), :data:`CHARSET_REGIONS`:

   ============================  =============================================
   SpecificCharacterSet          regions
   ============================  =============================================
   ISO_IR 100 / 203 (Latin-1/9)  DE FR ES IT NL BE AT CH PT DK SE NO FI IE GB LU IS
   ISO_IR 101 (Latin-2)          PL CZ SK HU SI HR RO
   ISO_IR 109 (Latin-3)          MT
   ISO_IR 110 (Latin-4)          EE LV LT
   ISO_IR 144 (Cyrillic)         RU BG UA BY RS MK KZ
   ISO_IR 127 (Arabic)           SA AE EG JO LB KW QA
   ISO_IR 126 (Greek)            GR CY
   ISO_IR 138 (Hebrew)           IL
   ISO_IR 148 (Latin-5)          TR
   ISO_IR 166 (Thai)             TH
   ISO 2022 IR 13 / 87 / 159     JP
   ISO 2022 IR 149               KR
   ISO 2022 IR 58, GB18030, GBK  CN
   ISO_IR 6, ISO_IR 192, none    (none: ASCII and UTF-8 say nothing of a country)
   ============================  =============================================

An address is stronger evidence than a repertoire (American modalities write
``ISO_IR 100`` too), so an address that names a country replaces the
repertoire's guess instead of adding to it.

The US numbering plan is always checked by the detectors (their behaviour
without a context), whatever the regions.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers


@dataclass(frozen=True, slots=True)
class DetectionContext:
    """What the free-text detectors may know about a data set.

    Attributes
    ----------
    regions
        ISO 3166-1 alpha-2 codes (``"FR"``, ``"DE"``...) whose national phone
        number formats are checked, in order of preference; empty: only
        international (``+33 ...``) and North-American numbers, as without a
        context.
    """

    regions: tuple[str, ...] = ()


_LATIN_1 = ("DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "PT", "DK", "SE", "NO", "FI", "IE", "GB", "LU", "IS")

#: ISO-IR registration number of a SpecificCharacterSet term -> regions.
CHARSET_REGIONS: dict[str, tuple[str, ...]] = {
    "6": (),
    "192": (),
    "100": _LATIN_1,
    "203": _LATIN_1,
    "101": ("PL", "CZ", "SK", "HU", "SI", "HR", "RO"),
    "109": ("MT",),
    "110": ("EE", "LV", "LT"),
    "144": ("RU", "BG", "UA", "BY", "RS", "MK", "KZ"),
    "127": ("SA", "AE", "EG", "JO", "LB", "KW", "QA"),
    "126": ("GR", "CY"),
    "138": ("IL",),
    "148": ("TR",),
    "166": ("TH",),
    "13": ("JP",),
    "87": ("JP",),
    "159": ("JP",),
    "149": ("KR",),
    "58": ("CN",),
    "GB18030": ("CN",),
    "GBK": ("CN",),
}

#: Locales whose names of countries are recognised in addresses (CLDR, via
#: Babel), besides English.
NAME_LOCALES = (
    "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "ru", "uk", "bg", "el",
    "tr", "ja", "ko", "zh",
)  # fmt: skip

#: Names CLDR does not list (or lists otherwise) -> region.
COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB", "u.k.": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "great britain": "GB", "britain": "GB", "usa": "US", "u.s.a.": "US", "u.s.": "US",
    "united states of america": "US", "brd": "DE", "holland": "NL", "россия": "RU", "рф": "RU",
    "한국": "KR", "south korea": "KR", "republic of korea": "KR", "中华人民共和国": "CN", "ελλάς": "GR",
}  # fmt: skip

#: Country names that are also US states or places inside other countries:
#: never taken as a country on their own.
_AMBIGUOUS_COUNTRY_NAMES = frozenset({"georgia", "jersey", "jordan", "chad", "guinea", "mexico", "niger", "panama"})

_US_STATE_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR".split()
)
_US_STATE_NAMES = (
    "alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho|"
    "illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|"
    "missouri|montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|north carolina|north dakota|"
    "ohio|oklahoma|oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas|utah|vermont|"
    "virginia|washington|west virginia|wisconsin|wyoming"
)

#: Postcode shapes specific enough to name one country (letters upper case
#: as written on envelopes).
POSTCODE_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}\b"), "GB"),
    (re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d\b"), "CA"),
    (re.compile(r"\b[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}\b"), "NL"),
    (re.compile(r"〒\s*\d{3}-?\d{4}"), "JP"),
    # nn-nnn Poland, nnnn-nnn Portugal, nnnnn-nnn Brazil: followed by the town
    (re.compile(r"(?<![\d-])\d{2}-\d{3} +[^\W\d_]"), "PL"),
    (re.compile(r"(?<![\d-])\d{4}-\d{3} +[^\W\d_]"), "PT"),
    (re.compile(r"(?<![\d-])\d{5}-\d{3} +[^\W\d_]"), "BR"),
    (re.compile(rf"\b(?:[A-Z]{{2}}|(?i:{_US_STATE_NAMES}))\.?,? +\d{{5}}(?:-\d{{4}})?\b"), "US"),
)

#: Old European country prefixes of postcodes: ``D-10115 Berlin``.
_POSTCODE_PREFIX = re.compile(r"\b(D|F|I|E|A|B|L|S|N|P|CH|NL|DK|FIN|SF|FI|GR|PL|CZ|SK|H|IRL)-\d{3,5}\b")
_PREFIX_REGION = {"D": "DE", "F": "FR", "I": "IT", "E": "ES", "A": "AT", "B": "BE", "L": "LU", "S": "SE", "N": "NO",
                  "P": "PT", "CH": "CH", "NL": "NL", "DK": "DK", "FIN": "FI", "SF": "FI", "FI": "FI", "GR": "GR",
                  "PL": "PL", "CZ": "CZ", "SK": "SK", "H": "HU", "IRL": "IE"}  # fmt: skip

_ADDRESS_TAGS = (0x00080081, 0x00101040, 0x00102150, 0x00102152)
_CHARSET_TAG = 0x00080005
_WORD = re.compile(r"[^\W\d_]+(?:[.'’-][^\W\d_]+)*\.?")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.casefold()) if not unicodedata.combining(c))


@functools.cache
def _country_names() -> dict[str, str]:
    """Casefolded, accent-free country name -> region, from CLDR (Babel)."""
    from babel import Locale  # deferred: only data sets with an address pay for the tables

    supported = phonenumbers.SUPPORTED_REGIONS
    names: dict[str, str] = {}
    for code in NAME_LOCALES:
        for region, name in Locale.parse(code).territories.items():
            if region in supported:
                names.setdefault(_fold(name), region)
    names.update({_fold(alias): region for alias, region in COUNTRY_ALIASES.items()})
    for ambiguous in _AMBIGUOUS_COUNTRY_NAMES:
        names.pop(ambiguous, None)
    return names


def preload() -> None:
    """Load the CLDR country names now (about 0.1 s), e.g. in a parent process
    before it forks its workers; otherwise the first address read pays it."""
    _country_names()


def normalize_regions(values: Iterable[str]) -> tuple[str, ...]:
    """``["fr", "de,it", "UK"]`` -> ``("FR", "DE", "IT", "GB")``.

    Raises
    ------
    ValueError
        For a code that is no region of :mod:`phonenumbers` (ISO 3166-1
        alpha-2, ``UK`` accepted for ``GB``).
    """
    out: list[str] = []
    for value in values:
        for part in re.split(r"[\s,;]+", value.strip()):
            if not part:
                continue
            code = part.upper()
            code = "GB" if code == "UK" else code
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"unknown region {part!r}: expected an ISO 3166-1 alpha-2 code such as FR or DE")
            if code not in out:
                out.append(code)
    return tuple(out)


def regions_from_charset(value: Any) -> tuple[str, ...]:
    """Regions suggested by a SpecificCharacterSet value (str or multi-value)."""
    terms = [value] if isinstance(value, str) else list(value or ())
    out: list[str] = []
    for term in terms:
        text = str(term or "").strip().upper()
        m = re.search(r"IR[\s_-]*(\d+)", text)
        key = m.group(1) if m else text.replace(" ", "")
        for region in CHARSET_REGIONS.get(key, ()):
            if region not in out:
                out.append(region)
    return tuple(out)


def regions_from_address(text: str) -> tuple[str, ...]:
    """Regions named by an address: country name, postcode prefix or shape."""
    if not text or not text.strip():
        return ()
    out: list[str] = []

    def add(region: str) -> None:
        if region not in out:
            out.append(region)

    for m in _POSTCODE_PREFIX.finditer(text):
        add(_PREFIX_REGION[m.group(1)])
    for rx, region in POSTCODE_SHAPES:
        if rx.search(text):
            add(region)
    names = _country_names()
    words = [_fold(w) for w in _WORD.findall(text)]
    i = 0
    while i < len(words):
        for n in (4, 3, 2, 1):  # longest name first: "new mexico" is no "mexico"
            if i + n > len(words):
                continue
            phrase = " ".join(words[i : i + n])
            if n > 1 and re.fullmatch(_US_STATE_NAMES, phrase):
                add("US")
                i += n - 1
                break
            named = names.get(phrase) or names.get(phrase.rstrip("."))
            if named:
                add(named)
                i += n - 1
                break
        i += 1
    return tuple(out)


def infer_regions(ds: Any, explicit: Iterable[str] = ()) -> tuple[str, ...]:
    """Plausible regions of a data set (see the module documentation).

    Parameters
    ----------
    ds
        A pydicom Dataset (only the top level is read).
    explicit
        Region codes given by the user (``--region``), kept first; checked
        with :func:`normalize_regions`.

    Returns
    -------
    tuple of str
        ISO 3166-1 alpha-2 codes, no duplicates, explicit ones first.
    """
    regions = list(normalize_regions(explicit))
    from_address: list[str] = []
    present = getattr(ds, "_dict", None)  # a pydicom Dataset's elements: absent tags skipped without a KeyError
    for tag in _ADDRESS_TAGS:
        if present is not None and tag not in present:
            continue
        elem = ds.get(tag) if hasattr(ds, "get") else None
        value = getattr(elem, "value", None)
        if value:
            text = "\\".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
            from_address += [r for r in regions_from_address(text) if r not in from_address]
    if from_address:
        guessed: Iterable[str] = from_address
    else:
        elem = ds.get(_CHARSET_TAG) if hasattr(ds, "get") else None
        guessed = regions_from_charset(getattr(elem, "value", None))
    regions += [r for r in guessed if r not in regions]
    return tuple(regions)


def context_for(ds: Any, explicit: Iterable[str] = ()) -> DetectionContext:
    """The :class:`DetectionContext` of one data set: ``DetectionContext(infer_regions(ds, explicit))``."""
    return DetectionContext(regions=infer_regions(ds, explicit))
