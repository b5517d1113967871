"""A labelled, synthetic corpus of identifying free text beyond English.

Same style and answer key as :mod:`tests.phi.corpus` (whose helpers it
uses): every value is invented here from a seeded :class:`random.Random`,
and the key says, from what the generator wrote, which ``(file, element
path)`` pairs are identifying and which are decoys.

Each file is one *setting* -- a language, a SpecificCharacterSet and, for most,
an InstitutionAddress that names the country -- and carries, in the free-text
elements of :data:`tests.phi.corpus.FREE_TEXT_ELEMENTS`, identifying text of
that language (dates in words, national phone numbers, postal addresses,
names after titles and phrases) and decoys (clinical text with month-like
words, doses, device serials, capitalised clinical words).

The people named in the free text are never the data set's own (they are not
in :data:`tests.phi.corpus.FAMILY` / ``GIVEN``): what finds them is a
detector, not value propagation.

Two kinds of identifying text:

* *context-free* -- found by ``detect(text)`` as the analyzer calls it today;
* *regional* (``AnswerKey``-compatible :class:`IntlKey`, field ``regional``) --
  national phone numbers without a label right before them, found only with
  ``detect(text, DetectionContext(infer_regions(ds)))``: their files declare
  the country through InstitutionAddress or SpecificCharacterSet.

Usage::

    key = generate_intl_corpus(tmp_path / "intl", n_files=48, seed=7)
    result = analyze_paths([tmp_path / "intl"])
    s = score_intl(result, key, tmp_path / "intl", with_regions=False)
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from dicomaudit.phi.categories import Kind
from tests.phi.corpus import (
    FAMILY,
    FREE_TEXT_ELEMENTS,
    GIVEN,
    KEY_NAME,
    AnswerKey,
    Score,
    _base,
    _Doc,
    _encode,
    _person,
    score,
)

# --------------------------------------------------------------------------
# Invented values per language
# --------------------------------------------------------------------------

MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split(),
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre".split(),
    "nl": "januari februari maart april mei juni juli augustus september oktober november december".split(),
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro".split(),
    "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada grudnia".split(),
    "cs": "ledna února března dubna května června července srpna září října listopadu prosince".split(),
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split(),
    "el": (
        "Ιανουαρίου Φεβρουαρίου Μαρτίου Απριλίου Μαΐου Ιουνίου Ιουλίου Αυγούστου Σεπτεμβρίου Οκτωβρίου "
        "Νοεμβρίου Δεκεμβρίου"
    ).split(),
    "en": "January February March April May June July August September October November December".split(),
}  # fmt: skip

#: Family names used in free text, per language; disjoint from the data
#: sets' own names (corpus.FAMILY, corpus.GIVEN).
FAMILIES = {
    "fr": ("Durand", "Bonnet", "Mercier", "Rousseau", "Fontaine", "Chevalier"),
    "de": ("Hoffmann", "Krüger", "Wagner", "Zimmermann", "Hartmann", "Vogel"),
    "es": ("Navarro", "Romero", "Ibáñez", "Moreno", "Delgado", "Serrano"),
    "it": ("Esposito", "Bianchi", "Colombo", "Ricci", "Marino", "Greco"),
    "nl": ("Jansen", "Bakker", "Smit", "Dekker", "Mulder"),
    "cs": ("Svoboda", "Dvořák", "Černý", "Procházka"),
    "pl": ("Wiśniewski", "Wójcik", "Kamiński", "Lewandowski"),
    "en": ("Pemberton", "Fairclough", "Okonkwo", "Blackwood", "Hargreaves"),
    "ru": ("Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев"),
    "el": ("Νικολάου", "Γεωργίου", "Οικονόμου", "Αντωνίου"),
    "ja": ("佐藤", "鈴木", "高橋", "田中", "渡辺"),
    "ko": ("이서준", "박지훈", "최유진", "정민호"),
    "zh": ("王", "李", "张", "刘"),
}
GIVENS = {
    "fr": ("Camille", "Julien", "Océane"),
    "de": ("Lukas", "Greta", "Maximilian"),
    "es": ("Lucía", "Javier", "Carmen"),
    "it": ("Giulia", "Lorenzo", "Chiara"),
    "en": ("Imogen", "Rupert", "Tamsin"),
    "nl": ("Sanne", "Daan"),
}
assert not {n for ns in (*FAMILIES.values(), *GIVENS.values()) for n in ns} & (set(FAMILY) | set(GIVEN))

STREETS = {
    "fr": ("des Lilas", "Victor Hugo", "de la République", "du Général Leclerc", "Pasteur"),
    "de": ("Linden", "Goethe", "Schiller", "Bahnhof", "Kirch"),
    "es": ("Alcalá", "Mayor", "Serrano", "Goya"),
    "it": ("Garibaldi", "Mazzini", "Cavour", "Dante"),
    "nl": ("Kerk", "Molen", "Dorps", "School"),
    "en": ("Acacia", "Rosemary", "Kingfisher", "Willowbrook"),
    "ru": ("Ленина", "Гагарина", "Пушкина", "Садовая"),
    "el": ("Κηφισίας", "Αλεξάνδρας", "Συγγρού"),
}
TOWNS = {
    "fr": (("75011", "Paris"), ("69003", "Lyon"), ("31000", "Toulouse")),
    "de": (("10115", "Berlin"), ("50968", "Köln"), ("80331", "München")),
    "es": (("28014", "Madrid"), ("08001", "Barcelona"), ("41001", "Sevilla")),
    "it": (("00184", "Roma"), ("20121", "Milano"), ("10121", "Torino")),
    "nl": (("3511 AB", "Utrecht"), ("1017 GC", "Amsterdam")),
}
UK_POSTCODES = ("LS6 2AB", "M14 5RB", "BS8 1TH", "EH3 9QN", "CF10 3AT", "NW3 4QG")


def national_number(rng: random.Random, region: str, mobile: bool = True) -> str:
    """A valid national number of ``region`` as written there (``06 12 34 56 78``).

    Built from phonenumbers' example number with random last digits, kept
    only when phonenumbers calls it valid for the region: the label
    "identifying" is true by construction.
    """
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE if mobile else
                                                   PhoneNumberType.FIXED_LINE)  # fmt: skip
    assert example is not None
    nsn = str(example.national_number)
    for _ in range(500):
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code,
            national_number=int(nsn[:-4] + "".join(str(rng.randrange(10)) for _ in range(4))),
            italian_leading_zero=example.italian_leading_zero,
        )
        if phonenumbers.is_valid_number_for_region(candidate, region):
            return str(phonenumbers.format_number(candidate, PhoneNumberFormat.NATIONAL))
    raise AssertionError(f"no valid number for {region}")  # pragma: no cover


# --------------------------------------------------------------------------
# Cases: identifying text and decoys of each language
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One free-text value: what it is, and whether it needs the regions."""

    text: str
    kind: Kind | None  # None: a decoy, nothing identifying in it
    regional: bool = False  # a national phone number found only with DetectionContext.regions
    language: str = ""


Maker = Callable[[random.Random, date], list[Case]]


def _d(rng: random.Random) -> date:
    return date(1990, 1, 1) + timedelta(days=rng.randrange(0, 34 * 365))


def _no_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _pick(rng: random.Random, seq: tuple[str, ...] | list[str]) -> str:
    return seq[rng.randrange(len(seq))]


def _fr(rng: random.Random, d: date) -> list[Case]:
    m, fam, giv = MONTHS["fr"], FAMILIES["fr"], GIVENS["fr"]
    cp, town = _pick(rng, [f"{a}|{b}" for a, b in TOWNS["fr"]]).split("|")
    tel = national_number(rng, "FR")
    return [
        Case(f"Comparé au scanner du {d.day} {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Contrôle prévu le {d.day} {m[d.month - 1]}", Kind.DATE),
        Case(f"Cholécystectomie en {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Domicile : {rng.randrange(1, 120)} rue {_pick(rng, STREETS['fr'])}, {cp} {town}", Kind.ADDRESS),
        Case(f"Résultats transmis à Mme {_pick(rng, fam)}", Kind.NAME),
        Case(f"Dicté par {_pick(rng, giv)} {_pick(rng, fam)}", Kind.NAME),
        Case(f"Vu avec le Pr {_pick(rng, fam)} en RCP", Kind.NAME),
        Case(f"Tél. : {tel}", Kind.PHONE),
        Case(f"Fille {national_number(rng, 'FR')} le soir", Kind.PHONE, regional=True),
        Case(f"Joindre la fille au {national_number(rng, 'FR').replace(' ', '')}", Kind.PHONE, regional=True),
        # decoys
        Case("Protocole mars : séquences T1 et T2 FLAIR", None),
        Case("Injection de 80 ml de Iomeron 350, débit 3 ml/s", None),
        Case("Nodule de 5 mm au contact de la plèvre", None),
        Case("Discuté avec l'équipe de cardiologie", None),
        Case("Contrôle dans 6 mois, coupes 1,25 mm", None),
        Case("Scanner SN 4521 8876 12, version 3.10.22", None),
        Case("Vu en RCP de pneumologie le mardi", None),
    ]


def _de(rng: random.Random, d: date) -> list[Case]:
    m, fam = MONTHS["de"], FAMILIES["de"]
    plz, town = _pick(rng, [f"{a}|{b}" for a, b in TOWNS["de"]]).split("|")
    return [
        Case(f"Voruntersuchung vom {d.day}. {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Kontrolle am {d.day}. {m[d.month - 1]} geplant", Kind.DATE),
        Case(f"OP im {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Wohnhaft {_pick(rng, STREETS['de'])}straße {rng.randrange(1, 90)}, {plz} {town}", Kind.ADDRESS),
        Case(f"Wohnhaft Berliner Allee {rng.randrange(1, 90)}", Kind.ADDRESS),
        Case(f"Herr {_pick(rng, fam)} zur Verlaufskontrolle", Kind.NAME),
        Case(f"Befund besprochen mit OA {_pick(rng, fam)}", Kind.NAME),
        Case(f"Gesehen von Frau Dr. {_pick(rng, fam)}", Kind.NAME),
        Case(f"Telefon {national_number(rng, 'DE', mobile=False)}", Kind.PHONE),
        Case(f"Rückruf unter {national_number(rng, 'DE', mobile=False)} erbeten", Kind.PHONE, regional=True),
        Case(f"Tochter {national_number(rng, 'DE')}", Kind.PHONE, regional=True),
        # decoys
        Case("Kontrolle im Mai empfohlen", None),
        Case("Kontrastmittel 100 ml Imeron 400, Flow 4 ml/s", None),
        Case("Besprochen mit den Kollegen der Neurologie", None),
        Case("Monitoring 3 Tage postoperativ", None),
        Case("Gerät Somatom, Seriennr. 0451 2287 33", None),
        Case("Befundung am Arbeitsplatz 3, Kernel Br40", None),
        Case("Frau mit Z.n. Mamma-Ca links", None),
    ]


def _es(rng: random.Random, d: date) -> list[Case]:
    m, fam = MONTHS["es"], FAMILIES["es"]
    cp, town = _pick(rng, [f"{a}|{b}" for a, b in TOWNS["es"]]).split("|")
    return [
        Case(f"Estudio previo del {d.day} de {m[d.month - 1]} de {d.year}", Kind.DATE),
        Case(f"Control el {d.day} de {m[d.month - 1]}", Kind.DATE),
        Case(f"Domicilio: Calle {_pick(rng, STREETS['es'])} {rng.randrange(1, 90)}, {cp} {town}", Kind.ADDRESS),
        Case(f"Comentado con la Dra. {_pick(rng, fam)}", Kind.NAME),
        Case(f"Sr. {_pick(rng, fam)} informado", Kind.NAME),
        Case(f"Teléfono: {national_number(rng, 'ES')}", Kind.PHONE),
        Case(f"Llamar al {national_number(rng, 'ES')} si empeora", Kind.PHONE, regional=True),
        # decoys
        Case("Sin cambios respecto a mayo", None),
        Case("Contraste 90 ml, retraso 70 s", None),
        Case("Lote 2023 0614 22, caducidad", None),
        Case("Comentado con Radiología Intervencionista", None),
        Case("Control en 6 meses", None),
    ]


def _it(rng: random.Random, d: date) -> list[Case]:
    m, fam = MONTHS["it"], FAMILIES["it"]
    cap, town = _pick(rng, [f"{a}|{b}" for a, b in TOWNS["it"]]).split("|")
    return [
        Case(f"Confronto con esame del {d.day} {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Intervento a {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Residente in Via {_pick(rng, STREETS['it'])} {rng.randrange(1, 90)}, {cap} {town}", Kind.ADDRESS),
        Case(f"Refertato da Dott. {_pick(rng, fam)}", Kind.NAME),
        Case(f"Sig.ra {_pick(rng, fam)} avvisata", Kind.NAME),
        Case(f"Cellulare: {national_number(rng, 'IT')}", Kind.PHONE),
        Case(f"Figlio {national_number(rng, 'IT', mobile=False)}", Kind.PHONE, regional=True),
        # decoys
        Case("Mag 2.0x, ricostruzione 1 mm", None),
        Case("Accesso via PICC 4 Fr a destra", None),
        Case("Controllo a maggio", None),
        Case("Mezzo di contrasto 100 ml Iomeron 350", None),
        Case("Discusso con il reparto di Cardiologia", None),
    ]


def _nl(rng: random.Random, d: date) -> list[Case]:
    m, fam = MONTHS["nl"], FAMILIES["nl"]
    pc, town = _pick(rng, [f"{a}|{b}" for a, b in TOWNS["nl"]]).split("|")
    return [
        Case(f"Eerder onderzoek {d.day} {m[d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Adres: {_pick(rng, STREETS['nl'])}straat {rng.randrange(1, 90)}, {pc} {town}", Kind.ADDRESS),
        Case(f"Besproken met dhr. {_pick(rng, fam)}", Kind.NAME),
        Case(f"Telefoon: {national_number(rng, 'NL')}", Kind.PHONE),
        Case(f"Dochter {national_number(rng, 'NL', mobile=False)}", Kind.PHONE, regional=True),
        Case("Controle in mei, contrast 80 ml", None),
        Case("Besproken met de afdeling Cardiologie", None),
    ]


def _cs_pl(rng: random.Random, d: date) -> list[Case]:
    return [
        Case(f"Vyšetření ze dne {d.day}. {MONTHS['cs'][d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Badanie z dnia {d.day} {MONTHS['pl'][d.month - 1]} {d.year} r.", Kind.DATE),
        Case(
            f"Badanie z dnia {d.day}.{'I II III IV V VI VII VIII IX X XI XII'.split()[d.month - 1]}.{d.year}", Kind.DATE
        ),  # fmt: skip
        Case(f"Konzultováno s MUDr. {_pick(rng, FAMILIES['cs'])}", Kind.NAME),
        Case(f"Telefon {national_number(rng, 'CZ')}", Kind.PHONE),
        Case(f"Dcera {national_number(rng, 'PL')}", Kind.PHONE, regional=True),
        Case("Kontrola za 3 měsíce, kontrast 80 ml", None),
        Case("Kontrola w maju, seria 3 z 5", None),
    ]


def _en_gb(rng: random.Random, d: date) -> list[Case]:
    fam, giv = FAMILIES["en"], GIVENS["en"]
    pc = _pick(rng, UK_POSTCODES)
    return [
        # "5 May" without a year is left out: the detector needs the year after "May" (a modal verb too).
        Case(f"Compared with study of {d.day} {MONTHS['en'][d.month - 1 if d.month != 5 else 5]}", Kind.DATE),
        Case(f"Prior surgery {MONTHS['en'][d.month - 1]} {d.year}", Kind.DATE),
        Case(f"Address: {rng.randrange(1, 99)} {_pick(rng, STREETS['en'])} Close, Leeds {pc}", Kind.ADDRESS),
        Case(f"Flat {rng.randrange(1, 20)}, {rng.randrange(1, 99)} {_pick(rng, STREETS['en'])} Mews", Kind.ADDRESS),
        Case(f"Postcode {pc} on file", Kind.ADDRESS),
        Case(f"Discussed with {_pick(rng, giv)} {_pick(rng, fam)}", Kind.NAME),
        Case(f"Read with {_pick(rng, fam)} on the ward", Kind.NAME),
        Case(f"Daughter {national_number(rng, 'GB')}", Kind.PHONE, regional=True),
        # decoys
        Case("Lesion 5 mm close to the pleura", None),
        Case("C7 1ST RIB fracture", None),
        Case("March protocol, no contrast", None),
        Case("Lesion 5 may represent a cyst", None),
        Case("Discussed with the on-call registrar", None),
        Case("Discussed with Vascular Surgery", None),
        Case("Informed Consent obtained", None),
        Case("Serial 2004 5567 8812", None),
        Case("Contrast injected via IV 20 ml", None),
        Case("Follow-up in 6 Months Close monitoring", None),
    ]


def _ru(rng: random.Random, d: date) -> list[Case]:
    m, fam = MONTHS["ru"], FAMILIES["ru"]
    return [
        Case(f"Исследование от {d.day} {m[d.month - 1]} {d.year} г.", Kind.DATE),
        Case(f"Контроль {d.day} {m[d.month - 1]}", Kind.DATE),
        Case(f"Адрес: ул. {_pick(rng, STREETS['ru'])}, д. {rng.randrange(1, 90)}", Kind.ADDRESS),
        Case(f"Консультирован д-р {_pick(rng, fam)}", Kind.NAME),
        Case(f"Врач: {_pick(rng, fam)} И.И.", Kind.NAME),
        Case(f"Тел.: {national_number(rng, 'RU')}", Kind.PHONE),
        # decoys
        Case("Контроль через 3 месяца", None),
        Case("Очаг 5 мм в левом лёгком", None),
        Case("Контраст 100 мл Омнипак 350", None),
        Case("Обсуждено с отделением кардиологии", None),
    ]


def _el(rng: random.Random, d: date) -> list[Case]:
    m, fam = MONTHS["el"], FAMILIES["el"]
    return [
        Case(f"Σύγκριση με εξέταση της {d.day} {m[d.month - 1]} {d.year}", Kind.DATE),
        # Greek capitals are written without accents: ΜΑΡΤΙΟΥ, ΜΑΙΟΥ
        Case(f"Σύγκριση {d.day} {_no_accents(m[d.month - 1]).upper()} {d.year}", Kind.DATE),
        Case(f"Οδός {_pick(rng, STREETS['el'])} {rng.randrange(1, 90)}, Αθήνα", Kind.ADDRESS),
        Case(f"Δρ. {_pick(rng, fam)}", Kind.NAME),
        Case(f"Τηλ. {national_number(rng, 'GR', mobile=False)}", Kind.PHONE),
        Case("Χωρίς παθολογικά ευρήματα", None),
        Case("Έλεγχος τον Μάιο, σκιαγραφικό 100 ml", None),
    ]


def _ja(rng: random.Random, d: date) -> list[Case]:
    fam = FAMILIES["ja"]
    return [
        Case(f"{d.year}年{d.month}月{d.day}日のCTと比較", Kind.DATE),
        Case(f"前回検査 令和{rng.randrange(1, 7)}年{d.month}月", Kind.DATE),
        Case(f"{d.month}月{d.day}日に再検査", Kind.DATE),
        Case(f"{_pick(rng, fam)}先生に報告済み", Kind.NAME),
        Case(f"〒{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)} 千代田区", Kind.ADDRESS),
        Case(f"連絡先 {national_number(rng, 'JP')}", Kind.PHONE),
        Case(f"娘 {national_number(rng, 'JP', mobile=False)}", Kind.PHONE, regional=True),
        Case("造影剤 100ml 使用", None),
        Case("3ヶ月後に再検査", None),
        Case("患者さんに説明済み", None),
        Case("担当医師に報告", None),
    ]


def _ko(rng: random.Random, d: date) -> list[Case]:
    fam = FAMILIES["ko"]
    return [
        Case(f"{d.year}년 {d.month}월 {d.day}일 CT와 비교", Kind.DATE),
        Case(f"{d.year}. {d.month}. {d.day}. 검사와 비교", Kind.DATE),
        Case(f"{_pick(rng, fam)} 교수 판독", Kind.NAME),
        Case(f"서울특별시 종로구 세종대로 {rng.randrange(1, 300)}", Kind.ADDRESS),
        Case(f"연락처 {national_number(rng, 'KR')}", Kind.PHONE),
        Case(f"딸 {national_number(rng, 'KR', mobile=False)}", Kind.PHONE, regional=True),
        Case("조영제 100ml 사용", None),
        Case("3개월 후 추적검사", None),
        Case("담당 교수 판독", None),
    ]


def _utf8(rng: random.Random, d: date) -> list[Case]:
    """UTF-8, no address: no region, context-free cases only, in many scripts."""
    return [
        Case(f"{d.year}年{d.month}月{d.day}日 复查", Kind.DATE),
        Case(f"{_pick(rng, FAMILIES['zh'])}医生已阅片", Kind.NAME),
        Case(f"北京市朝阳区建国路{rng.randrange(1, 200)}号", Kind.ADDRESS),
        Case(f"Исследование от {d.day} {MONTHS['ru'][d.month - 1]} {d.year} г.", Kind.DATE),
        Case(f"Exame anterior de {d.day} de {MONTHS['pt'][d.month - 1]} de {d.year}", Kind.DATE),
        Case(f"Τηλ. {national_number(rng, 'GR')}", Kind.PHONE),
        Case(f"Pacjent: {_pick(rng, FAMILIES['pl'])}", Kind.NAME),
        Case("复查 3 个月后", None),
        Case("Контроль через 3 месяца", None),
    ]


@dataclass(frozen=True)
class Setting:
    """One kind of file: language, character set, where the address says it is."""

    name: str
    charset: str | list[str]
    address: str | None  # InstitutionAddress (identifying), None: regions from the charset only
    make: Maker
    regions: tuple[str, ...]  # what infer_regions must give (checked by the tests)


SETTINGS: tuple[Setting, ...] = (
    Setting("fr", "ISO_IR 100", "12 rue de la Paix, 75002 Paris, France", _fr, ("FR",)),
    Setting("de", "ISO_IR 100", "Hauptstraße 5, 10115 Berlin, Deutschland", _de, ("DE",)),
    Setting("es", "ISO_IR 100", "Calle de Alcalá 45, 28014 Madrid, España", _es, ("ES",)),
    Setting("it", "ISO_IR 100", "Via Roma 3, 00184 Roma, Italia", _it, ("IT",)),
    Setting("nl", "ISO_IR 100", "Kerkstraat 12, 1017 GC Amsterdam", _nl, ("NL",)),
    Setting("cs_pl", "ISO_IR 101", None, _cs_pl, ("PL", "CZ", "SK", "HU", "SI", "HR", "RO")),
    Setting("en_gb", "ISO_IR 100", "Infirmary Street, Leeds LS1 3EX, United Kingdom", _en_gb, ("GB",)),
    Setting("ru", "ISO_IR 144", "ул. Тверская, д. 7, Москва, Россия", _ru, ("RU",)),
    Setting("ru_charset", "ISO_IR 144", None, _ru, ("RU", "BG", "UA", "BY", "RS", "MK", "KZ")),
    Setting("el", "ISO_IR 126", None, _el, ("GR", "CY")),
    Setting("ja", ["", "ISO 2022 IR 87"], "〒100-0001 東京都千代田区千代田1-1", _ja, ("JP",)),
    Setting("ko", ["", "ISO 2022 IR 149"], None, _ko, ("KR",)),
    Setting("utf8", "ISO_IR 192", None, _utf8, ()),
)


# --------------------------------------------------------------------------
# Answer key
# --------------------------------------------------------------------------


@dataclass
class IntlKey(AnswerKey):
    """:class:`AnswerKey` plus the identifying pairs that need the regions
    (``regional`` is a subset of ``identifying``) and each file's expected
    regions."""

    regional: set[tuple[str, str]] = field(default_factory=set)
    regions: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "regional": sorted(map(list, self.regional)), "regions": self.regions}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> IntlKey:
        base = AnswerKey.from_json(d)
        regional = {(str(rel), str(path)) for rel, path in d["regional"]}
        return cls(**dataclasses.asdict(base), regional=regional, regions=d["regions"])

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> IntlKey:
        return cls.from_json(json.loads(Path(root, KEY_NAME).read_text(encoding="utf-8")))


def score_intl(result: Any, key: IntlKey, root: str | os.PathLike[str], *, with_regions: bool) -> Score:
    """:func:`tests.phi.corpus.score`; without the regions (``with_regions``
    False: the analyzer as it calls ``detect(text)`` today) a regional pair
    may be found or missed, it is neither a miss nor spurious."""
    if with_regions:
        return score(result, key, root)
    today = AnswerKey(
        identifying=key.identifying - key.regional, decoys=key.decoys, malformed=key.malformed, clean=key.clean,
        not_dicom=key.not_dicom,
    )  # fmt: skip
    s = score(result, today, root)
    spurious = tuple(p for p in s.spurious if p not in key.regional)
    found = {p for p in s.spurious if p in key.regional}
    hit = len(today.identifying) - len(s.missed) + len(found)
    total = hit + len(spurious)
    return dataclasses.replace(s, spurious=spurious, precision=hit / total if total else 1.0)


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------

_TEXT_ELEMENTS = tuple(FREE_TEXT_ELEMENTS)
#: Elements holding LO (64 characters at most): the longer cases go to LT/ST ones.
_SHORT = frozenset({"StudyDescription", "SeriesDescription", "ProtocolName", "RequestedProcedureDescription",
                    "PerformedProcedureStepDescription", "ReasonForStudy"})  # fmt: skip


def _place(doc: _Doc, rng: random.Random, cases: list[Case]) -> list[tuple[str, Case]]:
    """Put each case in its own free-text element (LO ones for short text)."""
    free = list(_TEXT_ELEMENTS)
    rng.shuffle(free)
    placed = []
    for case in cases:
        fits = [k for k in free if k not in _SHORT or len(case.text) <= 64]
        if not fits:
            break
        keyword = fits[0]
        free.remove(keyword)
        for label in (doc.ident, doc.decoy):
            label.discard(keyword)
        doc.put(keyword, case.text, case.kind is not None)
        placed.append((keyword, case))
    return placed


def all_cases(seed: int = 0) -> list[tuple[Setting, Case]]:
    """Every case of every setting once (for unit tests of the detectors)."""
    rng = random.Random(seed)
    out = []
    for setting in SETTINGS:
        for case in setting.make(rng, _d(rng)):
            out.append((setting, dataclasses.replace(case, language=setting.name)))
    return out


def generate_intl_corpus(out_dir: str | os.PathLike[str], *, n_files: int = 52, seed: int = 4321) -> IntlKey:
    """Write the labelled international corpus to ``out_dir``; return (and save) its key.

    Settings are cycled; each file holds up to 11 free-text values of its
    setting (identifying ones and decoys, shuffled), on top of the usual
    header of :func:`tests.phi.corpus._base`.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    key = IntlKey()
    for i in range(n_files):
        setting = SETTINGS[i % len(SETTINGS)]
        doc = _Doc()
        p = _person(rng)
        study = date(2015, 1, 1) + timedelta(days=rng.randrange(0, 10 * 365))
        # Ages under 90: no quasi-identifier rule for the very old in this corpus.
        p = dataclasses.replace(p, birth=study - timedelta(days=rng.randrange(20 * 365, 85 * 365)))
        _base(doc, rng, p, study)
        doc.ds.SpecificCharacterSet = setting.charset
        if setting.address is not None:
            doc.put("InstitutionAddress", setting.address, True)
        cases = setting.make(rng, _d(rng))
        # The n-th file of a setting starts n * 11 cases further: every case
        # of a setting lands in a file once the corpus has 2-3 files of it.
        start = (i // len(SETTINGS)) * len(_TEXT_ELEMENTS) % len(cases)
        placed = _place(doc, rng, cases[start:] + cases[:start])
        rel = f"{setting.name}/{i:04d}.dcm"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_encode(doc))
        key.identifying |= {(rel, path) for path in doc.ident}
        key.decoys |= {(rel, path) for path in doc.decoy - doc.ident}
        key.regional |= {(rel, kw) for kw, case in placed if case.regional}
        key.regions[rel] = list(setting.regions)
    (root / KEY_NAME).write_text(json.dumps(key.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    return key


# --------------------------------------------------------------------------
# Labelled clinical sentences: precision and recall per detector
# --------------------------------------------------------------------------

Sentence = tuple[str, tuple[str, ...], frozenset[Kind]]

#: Clinical sentences in 15 languages with and without identifiers, written
#: before the detectors they measure (round 1) and after a first round of
#: fixes (round 2), each measured once before any change it prompted; the
#: kinds are what a reader finds in them.  Regions: the data set's (for
#: national phone numbers).  Known misses and false positives are listed in
#: :data:`KNOWN_MISSES` and :data:`KNOWN_FALSE_POSITIVES`.
CLINICAL_SENTENCES_ROUND_1: tuple[Sentence, ...] = (
    ("Examen comparé au scanner du 14 mars 2023.", ("FR",), frozenset({Kind.DATE})),
    ("Contrôle prévu le 3 avril.", ("FR",), frozenset({Kind.DATE})),
    ("Pas de lésion suspecte. Contrôle dans 6 mois.", ("FR",), frozenset()),
    ("Injection de 80 ml de Iomeron 350, débit 3 ml/s.", ("FR",), frozenset()),
    ("Vu avec le Dr Lambert, radiologue.", ("FR",), frozenset({Kind.NAME})),
    ("Résultats transmis à Mme Girard par téléphone.", ("FR",), frozenset({Kind.NAME})),
    ("Joindre la fille au 06 45 78 12 90 pour le rendez-vous.", ("FR",), frozenset({Kind.PHONE})),
    ("Domicile : 18 rue des Lilas, 69003 Lyon", ("FR",), frozenset({Kind.ADDRESS})),
    ("Protocole mars: séquences T1 et T2 FLAIR", ("FR",), frozenset()),
    ("Discuté avec l'équipe de cardiologie.", ("FR",), frozenset()),
    ("Nodule de 5 mm au contact de la plèvre.", ("FR",), frozenset()),
    ("Tél. cadre de santé : 04 72 11 22 33", ("FR",), frozenset({Kind.PHONE})),
    ("Voruntersuchung vom 3. März 2021 zum Vergleich.", ("DE",), frozenset({Kind.DATE})),
    ("Befund besprochen mit Herrn Dr. Becker.", ("DE",), frozenset({Kind.NAME})),
    ("Gesehen von OA Schulze.", ("DE",), frozenset({Kind.NAME})),
    ("Patientin wohnt in der Lindenallee 14, 50968 Köln.", ("DE",), frozenset({Kind.ADDRESS})),
    ("Rückruf unter 0221 4785 963 erbeten.", ("DE",), frozenset({Kind.PHONE})),
    ("Kontrastmittel 100 ml Imeron 400, Flow 4 ml/s.", ("DE",), frozenset()),
    ("Kontrolle im Mai empfohlen.", ("DE",), frozenset()),
    ("Besprochen mit den Kollegen der Neurologie.", ("DE",), frozenset()),
    ("Monitoring 3 Tage postoperativ.", ("DE",), frozenset()),
    ("Gerät: Somatom Force, Seriennr. 0451 2287 33", ("DE",), frozenset()),
    ("Frau Albrecht kommt zur Verlaufskontrolle.", ("DE",), frozenset({Kind.NAME})),
    ("Estudio previo del 12 de mayo de 2020.", ("ES",), frozenset({Kind.DATE})),
    ("Comentado con la Dra. Herrera.", ("ES",), frozenset({Kind.NAME})),
    ("Domicilio: Calle Alcalá 45, 28014 Madrid", ("ES",), frozenset({Kind.ADDRESS})),
    ("Llamar al 612 345 678 si empeora.", ("ES",), frozenset({Kind.PHONE})),
    ("Sin cambios respecto a mayo.", ("ES",), frozenset()),
    ("Contraste 90 ml, retraso 70 s.", ("ES",), frozenset()),
    ("Confronto con esame del 5 maggio 2019.", ("IT",), frozenset({Kind.DATE})),
    ("Refertato da Dott. Ferrari.", ("IT",), frozenset({Kind.NAME})),
    ("Residente in Via Garibaldi 21, Torino.", ("IT",), frozenset({Kind.ADDRESS})),
    ("Cellulare del figlio: 347 123 4567", ("IT",), frozenset({Kind.PHONE})),
    ("Mag 2.0x, ricostruzione 1 mm.", ("IT",), frozenset()),
    ("Accesso via PICC 4 Fr a destra.", ("IT",), frozenset()),
    ("Exame anterior de 7 de junho de 2018.", ("PT",), frozenset({Kind.DATE})),
    ("Onderzoek besproken met dhr. Visser.", ("NL",), frozenset({Kind.NAME})),
    ("Adres: Kerkstraat 12, Utrecht", ("NL",), frozenset({Kind.ADDRESS})),
    ("Tidigare undersökning 4 oktober 2022.", ("SE",), frozenset({Kind.DATE})),
    ("Badanie z dnia 14 marca 2023 r.", ("PL",), frozenset({Kind.DATE})),
    ("Vyšetření ze dne 2. února 2020.", ("CZ",), frozenset({Kind.DATE})),
    ("Konzultováno s MUDr. Dvořák.", ("CZ",), frozenset({Kind.NAME})),
    ("Исследование от 14 марта 2023 г.", ("RU",), frozenset({Kind.DATE})),
    ("Адрес: ул. Ленина, д. 5, кв. 12", ("RU",), frozenset({Kind.ADDRESS})),
    ("Консультирован д-р Петров.", ("RU",), frozenset({Kind.NAME})),
    ("Телефон родственников: 8 (495) 123-45-67", ("RU",), frozenset({Kind.PHONE})),
    ("Контроль через 3 месяца.", ("RU",), frozenset()),
    ("Очаг 5 мм в левом лёгком.", ("RU",), frozenset()),
    ("Σύγκριση με εξέταση της 14 Μαρτίου 2023.", ("GR",), frozenset({Kind.DATE})),
    ("Τηλ. 210 123 4567", ("GR",), frozenset({Kind.PHONE})),
    ("Δρ. Παπαδάκης", ("GR",), frozenset({Kind.NAME})),
    ("Χωρίς παθολογικά ευρήματα.", ("GR",), frozenset()),
    ("2023年3月14日のCTと比較。", ("JP",), frozenset({Kind.DATE})),
    ("前回検査 令和4年11月2日", ("JP",), frozenset({Kind.DATE})),
    ("山田先生に報告済み。", ("JP",), frozenset({Kind.NAME})),
    ("連絡先 03-1234-5678", ("JP",), frozenset({Kind.PHONE})),
    ("造影剤 100ml 使用。", ("JP",), frozenset()),
    ("2023년 3월 14일 CT와 비교.", ("KR",), frozenset({Kind.DATE})),
    ("김민수 교수 판독.", ("KR",), frozenset({Kind.NAME})),
    ("연락처 010-1234-5678", ("KR",), frozenset({Kind.PHONE})),
    ("서울특별시 종로구 세종대로 209", ("KR",), frozenset({Kind.ADDRESS})),
    ("Address: 14 Acacia Close, Leeds LS6 2AB", ("GB",), frozenset({Kind.ADDRESS})),
    ("Postcode SW1A 1AA on file", ("GB",), frozenset({Kind.ADDRESS})),
    ("Read with Dr Okonjo on the ward.", ("GB",), frozenset({Kind.NAME})),
    ("Discussed with the on-call registrar.", ("GB",), frozenset()),
    ("Lesion 5 mm close to the pleura.", ("GB",), frozenset()),
    ("C7 1ST RIB fracture.", ("GB",), frozenset()),
    ("Compared with March 2021 study.", ("GB",), frozenset({Kind.DATE})),
    ("March protocol, no contrast.", ("GB",), frozenset()),
    ("Lesion 5 may represent a cyst.", ("GB",), frozenset()),
    ("Follow-up in 3 months, 2 views.", ("GB",), frozenset()),
    ("Contrast injected via IV 20 ml.", ("GB",), frozenset()),
    ("Dictated by Sarah Whitcombe.", ("GB",), frozenset({Kind.NAME})),
    ("Discussed with Cardiology team.", ("GB",), frozenset()),
    ("Mobile 07700 900123", ("GB",), frozenset({Kind.PHONE})),
    ("Ring 07700 900456 after 5pm", ("GB",), frozenset({Kind.PHONE})),
    ("Serial 2004 5567 8812", ("GB",), frozenset()),
    ("BP 135/85 HR 64 SpO2 97", ("GB",), frozenset()),
    ("Lot 2023 0614 22", ("DE",), frozenset()),
    ("Werte 120 130 125 118", ("DE",), frozenset()),
    ("IP 192.168.10.20 Port 104", ("DE",), frozenset()),
)
CLINICAL_SENTENCES_ROUND_2: tuple[Sentence, ...] = (
    ("Patiente adressée par le Dr Garnier pour bilan.", ("FR",), frozenset({Kind.NAME})),
    ("Compte rendu validé par Julie Marchand.", ("FR",), frozenset({Kind.NAME})),
    ("Examen réalisé le 2 février 2022 au CHU.", ("FR",), frozenset({Kind.DATE})),
    ("Artefacts de mouvement, examen à refaire en juin.", ("FR",), frozenset()),
    ("Avis du Pr Leroy demandé.", ("FR",), frozenset({Kind.NAME})),
    ("Dose: CTDIvol 12,4 mGy, DLP 480 mGy.cm", ("FR",), frozenset()),
    ("Appeler Mme Perrin au 01 42 68 53 00", ("FR",), frozenset({Kind.NAME, Kind.PHONE})),
    ("Séquence T2 STIR coronale, 4 mm.", ("FR",), frozenset()),
    ("Angio-IRM du polygone de Willis", ("FR",), frozenset()),
    ("Überweisung durch Dr. med. Schreiber", ("DE",), frozenset({Kind.NAME})),
    ("Aufnahme vom 17. Juli 2020 zum Vergleich herangezogen.", ("DE",), frozenset({Kind.DATE})),
    ("Ansprechpartner Herr Lehmann, Tel. 089 4140 2231", ("DE",), frozenset({Kind.NAME, Kind.PHONE})),
    ("Keine Kontrastmittelallergie bekannt.", ("DE",), frozenset()),
    ("Morbus Crohn, Erstdiagnose 2015.", ("DE",), frozenset()),
    ("Wohnort: Am Rosengarten 7, 04109 Leipzig", ("DE",), frozenset({Kind.ADDRESS})),
    ("Untersuchung in Bauchlage, Schichtdicke 0,6 mm.", ("DE",), frozenset()),
    ("Paciente remitida por el Dr. Castaño.", ("ES",), frozenset({Kind.NAME})),
    ("TC de control el 9 de octubre.", ("ES",), frozenset({Kind.DATE})),
    ("Avenida de la Constitución 21, Sevilla", ("ES",), frozenset({Kind.ADDRESS})),
    ("Enfermedad de Crohn conocida.", ("ES",), frozenset()),
    ("Esame eseguito il 21 novembre 2021.", ("IT",), frozenset({Kind.DATE})),
    ("Piazza del Popolo 12, Roma", ("IT",), frozenset({Kind.ADDRESS})),
    ("Morbo di Parkinson in trattamento.", ("IT",), frozenset()),
    ("Referto discusso con la dott.ssa Galli.", ("IT",), frozenset({Kind.NAME})),
    ("Paciente do Dr. Almeida, exame de 3 de março de 2021.", ("PT",), frozenset({Kind.DATE, Kind.NAME})),
    ("Rua Augusta 45, Lisboa", ("PT",), frozenset({Kind.ADDRESS})),
    ("Исследование выполнено 5 сентября 2019 г., описал врач Морозов.", ("RU",), frozenset({Kind.DATE, Kind.NAME})),
    ("Больной: Васильев П.С.", ("RU",), frozenset({Kind.NAME})),
    ("проспект Мира, д. 12, кв. 4", ("RU",), frozenset({Kind.ADDRESS})),
    ("Без патологических изменений.", ("RU",), frozenset()),
    ("Ασθενής: Κωνσταντίνου", ("GR",), frozenset({Kind.NAME})),
    ("Εξέταση 3 Ιουνίου 2022", ("GR",), frozenset({Kind.DATE})),
    ("2022年12月1日 造影CT", ("JP",), frozenset({Kind.DATE})),
    ("鈴木医師に連絡済み", ("JP",), frozenset({Kind.NAME})),
    ("大阪市北区梅田3丁目1番", ("JP",), frozenset({Kind.ADDRESS})),
    ("박지훈 선생님께 보고함", ("KR",), frozenset({Kind.NAME})),
    ("2021년 7월 3일 MRI", ("KR",), frozenset({Kind.DATE})),
    ("Reviewed with Dr. Patel and discussed with Tom Hendry.", ("GB",), frozenset({Kind.NAME})),
    ("Parkinson disease, known to neurology.", ("GB",), frozenset()),
    ("Crohn's disease, on infliximab.", ("GB",), frozenset()),
    ("Seen in Fracture Clinic, 3 weeks post op.", ("GB",), frozenset()),
    ("Lives at 7 Primrose Hill, Bath BA1 2QN", ("GB",), frozenset({Kind.ADDRESS})),
    ("Hodgkin lymphoma, interim PET.", ("GB",), frozenset()),
    ("Alzheimer pattern atrophy.", ("GB",), frozenset()),
    ("Baker cyst, 2 cm.", ("GB",), frozenset()),
    ("Discussed with Addenbrooke's neurosurgery.", ("GB",), frozenset()),
    ("Tel 0113 243 2799", ("GB",), frozenset({Kind.PHONE})),
    ("Wife on 0161 496 0123", ("GB",), frozenset({Kind.PHONE})),
    ("Firmware 2.1.0834.12, detector 4343", ("DE",), frozenset()),
    ("Accession 2023 4456 7781", ("DE",), frozenset()),
)
CLINICAL_SENTENCES = CLINICAL_SENTENCES_ROUND_1 + CLINICAL_SENTENCES_ROUND_2

#: (sentence, kind) pairs the detectors miss, and why.
KNOWN_MISSES: dict[tuple[str, Kind], str] = {}
#: (sentence, kind) pairs the detectors report wrongly, and why.
KNOWN_FALSE_POSITIVES: dict[tuple[str, Kind], str] = {
    ("Discussed with Addenbrooke's neurosurgery.", Kind.NAME): "a hospital named after a person reads as a person",
}


@dataclass(frozen=True)
class KindScore:
    """True and false positives and negatives of one kind over sentences."""

    kind: Kind
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def detector_scores(
    sentences: tuple[Sentence, ...], detect_fn: Callable[[str, tuple[str, ...]], set[Kind]]
) -> dict[Kind, KindScore]:
    """Precision and recall per kind of ``detect_fn(text, regions)`` on labelled sentences.

    Kinds outside the labels' vocabulary (ID: the long-number fallback) are not counted.
    """
    kinds = (Kind.DATE, Kind.PHONE, Kind.ADDRESS, Kind.NAME)
    counts = {k: [0, 0, 0] for k in kinds}
    for text, regions, expected in sentences:
        got = detect_fn(text, regions)
        for k in kinds:
            if k in got and k in expected:
                counts[k][0] += 1
            elif k in got:
                counts[k][1] += 1
            elif k in expected:
                counts[k][2] += 1
    return {k: KindScore(k, *c) for k, c in counts.items()}
