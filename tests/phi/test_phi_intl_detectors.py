"""Free-text detectors beyond English: one behaviour per test.

Dates in words (CLDR month names via Babel) and in Japanese, Chinese and
Korean; national phone numbers given the data set's regions; postal
addresses of the UK and the continent; names after titles, phrases and
honorifics; and the region inference of :mod:`dicomaudit.phi.locale`.
"""

from __future__ import annotations

import pytest
from pydicom import Dataset

from dicomaudit.phi.categories import Kind
from dicomaudit.phi.detectors import (
    DATE_LOCALES,
    PHONE_LABEL_DISTANCE,
    address_found,
    detect,
    find_dates,
    intl_name_found,
    national_phone_found,
)
from dicomaudit.phi.locale import (
    CHARSET_REGIONS,
    DetectionContext,
    context_for,
    infer_regions,
    normalize_regions,
    regions_from_address,
    regions_from_charset,
)
from tests.phi.corpus import DECOY_TEXT
from tests.phi.corpus_intl import SETTINGS, all_cases

LATIN_1 = DetectionContext(CHARSET_REGIONS["100"])

# -- dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "14 mars 2023", "3. März 2021", "12 de mayo de 2020", "5 maggio 2019", "7 de junho de 2018", "4 oktober 2022",
        "14 marca 2023 r.", "2. února 2020", "14 марта 2023 г.", "14 Μαρτίου 2023", "14 ΜΑΡΤΙΟΥ 2023",
        "1er mars 2021", "14 FÉVRIER 2023", "14 fevrier 2023", "3 Kasım 2020", "14 мая 2021",
    ],
)  # fmt: skip
def test_day_month_name_year_is_a_date_in_every_locale(text: str) -> None:
    """Given a day, a month name in one of the CLDR locales (any case, accents or not) and a year,
    when dates are looked for, then the text holds one."""
    assert find_dates(text)


@pytest.mark.parametrize("text", ["Contrôle le 14 mars", "am 3. März", "el 12 de mayo", "14 марта", "le 1er avril"])
def test_day_and_full_month_name_without_a_year_is_a_date(text: str) -> None:
    """Given a day and a full month name without a year, when dates are looked for, then it is a date."""
    assert find_dates(text)


@pytest.mark.parametrize("text", ["mars 2023", "März 2021", "Okt. 2021", "janv. 2019", "марта 2023", "May 2021"])
def test_month_name_and_year_is_a_date(text: str) -> None:
    """Given a month name (full or abbreviated) and a year, when dates are looked for, then it is a date."""
    assert find_dates(text)


@pytest.mark.parametrize(
    "text",
    ["March protocol", "Kontrolle im Mai", "Protocole mars : T1 et T2", "Lesion 5 may represent a cyst",
     "5 out of 10", "mag 2019", "3 x 2000 mg", "T2 mars", "Sin cambios respecto a mayo", "Mag 2.0x"],
)  # fmt: skip
def test_month_words_without_a_date_shape_are_not_dates(text: str) -> None:
    """Given a month name alone, "may" the verb after a number, or an abbreviation that is a word
    ("out", "mag") before a number, when dates are looked for, then there is none."""
    assert not find_dates(text)


def test_abbreviated_month_needs_a_year_after_a_day() -> None:
    """Given "14 janv" (an abbreviation) without a year, then it is no date; with the year it is."""
    assert not find_dates("ref 14 janv") and find_dates("14 janv. 2023")


def test_day_is_checked_against_the_month() -> None:
    """Given 31 February without a year, then it is no date."""
    assert not find_dates("le 31 février")


def test_roman_numeral_month_is_a_date() -> None:
    """Given the Polish and Italian 14.III.2023, then it is a date; 3 x 2000 mg is not."""
    assert find_dates("Badanie 14.III.2023") and not find_dates("3 x 2000 mg")


@pytest.mark.parametrize(
    "text", ["2023年3月14日のCTと比較", "２０２３年３月１４日", "2023年3月", "3月14日に再検査", "令和5年3月14日", "平成元年4月",
             "2023년 3월 14일", "3월 14일", "2023. 3. 14. 검사"],
)  # fmt: skip
def test_japanese_chinese_and_korean_dates(text: str) -> None:
    """Given year/month/day written with 年月日, 년월일, an era name or Korean dots,
    full-width digits included, then it is a date."""
    assert find_dates(text)


@pytest.mark.parametrize("text", ["3ヶ月後に再検査", "造影剤 100ml", "13月5日", "3개월 후 추적검사"])
def test_cjk_month_counts_and_impossible_months_are_not_dates(text: str) -> None:
    """Given "in 3 months" (ヶ月, 개월) or a 13th month, then it is no date."""
    assert not find_dates(text)


def test_month_names_come_from_every_documented_locale() -> None:
    """Given the documented locale list, then it holds the languages of the issue and CLDR gives each one's names."""
    assert {"fr", "de", "es", "it", "ru", "el"} <= set(DATE_LOCALES)
    assert all(find_dates(f"14 {name} 2023") for name in ("октября", "Οκτωβρίου", "oktober", "octubre", "ottobre"))


# -- phone numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Tél. : 01 42 68 53 00", "Telefon 030/1234567", "Teléfono: 612 345 678", "Cellulare: 347 123 4567",
     "Тел.: 8 (495) 123-45-67", "Τηλ. 210 123 4567", "連絡先 03-1234-5678", "연락처 010-1234-5678", "Tel.-Nr.: 0221 478596"],
)  # fmt: skip
def test_phone_label_in_any_language_right_before_a_number(text: str) -> None:
    """Given a phone label in any language right before a number, when detected without a context,
    then it is a phone number."""
    assert Kind.PHONE in detect(text)


@pytest.mark.parametrize(
    ("text", "region"),
    [("Fille 06 45 78 12 90 le soir", "FR"), ("Tochter 0151 23456789", "DE"), ("Llamar al 612 34 56 78", "ES"),
     ("Figlio 02 1234 5678", "IT"), ("Dochter 020 123 4567", "NL"), ("Daughter 07400 123456", "GB"),
     ("娘 03-1234-5678", "JP"), ("딸 02-212-8657", "KR"), ("Dcera 512 340 704", "PL")],
)  # fmt: skip
def test_national_number_valid_for_the_region_is_a_phone(text: str, region: str) -> None:
    """Given a national number written with phone-like grouping and valid in the data set's region,
    when detected with that region, then it is a phone number."""
    assert Kind.PHONE in detect(text, DetectionContext((region,)))


def test_national_number_needs_the_region() -> None:
    """Given "06 45 78 12 90" and no region (or only Spain), then it is no phone number."""
    assert Kind.PHONE not in detect("Fille 06 45 78 12 90") | detect("Fille 06 45 78 12 90", DetectionContext(("ES",)))


def test_bare_digits_need_a_label_within_the_distance() -> None:
    """Given a valid French number written as bare digits, then a calling word with 4 words between
    it and the number makes it a phone number and no label does not."""
    ctx = ("FR",)
    assert PHONE_LABEL_DISTANCE == 4
    assert national_phone_found("Joindre sa fille Anne au 0645781290", ctx)
    assert not national_phone_found("Fille 0645781290", ctx)


def test_label_further_than_the_distance_does_not_count() -> None:
    """Given a calling word 6 tokens before bare digits, then it is no phone number."""
    assert not national_phone_found("Joindre si besoin la fille ou le fils au 0645781290", ("FR",))


@pytest.mark.parametrize(
    "text", ["Seriennr. 0451 2287 33", "Lot 2023 0614 22", "SN 0451 228733", "Lote 0451 2287 33", "MRN 0451 2287 33"]
)
def test_serial_lot_and_record_labels_veto_a_phone_number(text: str) -> None:
    """Given a number valid in Germany after a serial, lot or record label, when detected with the
    Latin-1 regions, then it is no phone number."""
    assert Kind.PHONE not in detect(text, LATIN_1)


@pytest.mark.parametrize(
    "text",
    ["Werte 120 130 125 118", "IP 192.168.10.20 Port 104", "14.03.2023 10:30", "Software 3.10.22.1288",
     "Coupes 10 12 14 16 18", "1.25 2.5 3.75 5.0 mm", "Firmware 2.1.0834.12"],
)  # fmt: skip
def test_digit_groups_that_are_no_phone_numbers_under_latin_1_regions(text: str) -> None:
    """Given measurement lists, an IP address, a date and time, versions, when detected with every
    Latin-1 region, then none is a phone number."""
    assert Kind.PHONE not in detect(text, LATIN_1)


@pytest.mark.parametrize("text", DECOY_TEXT)
def test_english_decoys_stay_clean_with_every_latin_1_region(text: str) -> None:
    """Given the English clinical decoys of the corpus, when detected with the Latin-1 regions
    (what infer_regions gives an ISO_IR 100 data set), then nothing is found."""
    assert detect(text, LATIN_1) == set()


def test_found_national_phone_is_not_also_an_id() -> None:
    """Given a bare labelled national number, when found as a phone, then it is not reported as an ID too."""
    assert detect("Portable de la fille : 0645781290", DetectionContext(("FR",))) == {Kind.PHONE}


# -- addresses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["14 Acacia Close, Leeds", "3 Kingfisher Mews", "12 Rosemary Crescent", "42 ELM STREET", "221B Baker Street"],
)
def test_uk_street_types_after_a_number_and_a_name(text: str) -> None:
    """Given a number, a capitalised name and a UK street type, then it is an address."""
    assert address_found(text)


@pytest.mark.parametrize("text", ["SW1A 1AA", "Postcode M1 1AE", "BS8 1TH", "EC1A 1BB", "B33 8TH"])
def test_uk_postcodes(text: str) -> None:
    """Given a UK postcode in capitals, then it is an address."""
    assert address_found(text)


@pytest.mark.parametrize(
    "text",
    ["rue de la Paix 12", "12 rue de la Paix, 75002 Paris", "Hauptstraße 5, 10115 Berlin", "Via Roma 3",
     "Calle Mayor 7", "C/ Mayor, 7", "ул. Ленина, д. 5", "Λεωφ. Κηφισίας 12", "Berliner Allee 5", "Kerkstraat 12",
     "Storgatan 3", "Avenida da Liberdade, 110", "Via Giuseppe Garibaldi 12"],
)  # fmt: skip
def test_continental_street_addresses(text: str) -> None:
    """Given a street type before or after the name (one word or two) and a house number, then it is an address."""
    assert address_found(text)


@pytest.mark.parametrize(
    "text",
    [
        "〒100-0001",
        "東京都千代田区千代田1-1",
        "大阪市北区梅田3丁目1番",
        "서울특별시 종로구 세종대로 209",
        "北京市朝阳区建国路88号",
    ],
)
def test_japanese_korean_and_chinese_addresses(text: str) -> None:
    """Given a Japanese postcode or block number, a Korean road address or a Chinese 路…号, then it is an address."""
    assert address_found(text)


@pytest.mark.parametrize(
    "text",
    ["Lesion 5 mm close to the pleura", "LESION 5 MM CLOSE TO PLEURA", "5 MM CT", "Contrast injected via IV 20 ml",
     "Accesso via PICC 4 Fr a destra", "drained via Foley 16 Fr", "Follow-up in 6 Months Close monitoring",
     "Monitoring 3 Tage", "Scoring 2", "Befundung am Arbeitsplatz 3", "C7 1ST RIB", "L4 5TH", "T2 4NX"],
)  # fmt: skip
def test_clinical_text_with_street_words_is_no_address(text: str) -> None:
    """Given street words in clinical text ("close to", "via IV", "Monitoring 3", a vertebra and an
    ordinal), then it is no address."""
    assert not address_found(text)


# -- names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Herr Krüger zur Kontrolle", "Résultats transmis à Mme Durand", "Refertato da Dott. Esposito",
     "dott. Rossi", "Sig.ra Bianchi avvisata", "Comentado con la Dra. Navarro", "Konzultováno s MUDr. Svoboda",
     "Консультирован д-р Соколов", "Δρ. Νικολάου", "Besproken met dhr. Jansen", "Dr. med. Schreiber"],
)  # fmt: skip
def test_titles_beyond_english_before_a_name(text: str) -> None:
    """Given a title of another language (or a German degree) before a capitalised word, then it is a name."""
    assert intl_name_found(text)


@pytest.mark.parametrize(
    "text",
    ["Befund besprochen mit OA Hoffmann", "Gesehen von Frau Dr. Vogel", "vu avec le Pr Fontaine",
     "Dicté par Camille Rousseau", "Discussed with Imogen Pemberton", "read with Blackwood",
     "Referto discusso con la dott.ssa Galli", "Врач: Попов И.И.", "Médecin : Mercier"],
)  # fmt: skip
def test_phrases_and_labels_before_a_name(text: str) -> None:
    """Given a phrase such as "besprochen mit" or "vu avec", or a label with a colon, then roles and
    articles are skipped and the capitalised word after them is a name."""
    assert intl_name_found(text)


@pytest.mark.parametrize(
    "text",
    ["Besprochen mit den Kollegen der Neurologie", "Discussed with Cardiology team", "discussed with Vascular Surgery",
     "Discussed with the on-call registrar", "Discussed with ED", "Informed Consent obtained",
     "Discuté avec l'équipe de cardiologie", "Frau mit Z.n. Mamma-Ca", "Rücksprache mit Station 4",
     "Patient: Female, 58", "PR POSITIVE", "Performed by technologist"],
)  # fmt: skip
def test_departments_teams_and_roles_after_a_cue_are_no_names(text: str) -> None:
    """Given a cue followed by a department, team, role or lower-case word, then it is no name."""
    assert Kind.NAME not in detect(text)


@pytest.mark.parametrize(
    "text", ["佐藤先生に報告済み", "鈴木医師に連絡", "王医生已阅片", "김민수 교수 판독", "박지훈 선생님께"]
)
def test_cjk_name_before_an_honorific(text: str) -> None:
    """Given ideographs or Hangul syllables before 先生, 医師, 医生, 교수 or 선생님, then it is a name."""
    assert intl_name_found(text)


@pytest.mark.parametrize("text", ["患者さんに説明済み", "担当医師に報告", "담당 교수 판독", "放射線科医師に相談"])
def test_cjk_roles_before_an_honorific_are_no_names(text: str) -> None:
    """Given "the patient", "the doctor in charge" or a department before an honorific, then it is no name."""
    assert not intl_name_found(text)


# -- the whole detector on the corpus cases -----------------------------------------


@pytest.mark.parametrize(("setting", "case"), all_cases(seed=11), ids=lambda x: getattr(x, "text", "")[:40])
def test_every_corpus_case_is_detected_as_labelled(setting, case) -> None:
    """Given each labelled case of the international corpus, when detected with its setting's regions,
    then an identifying case is found as its kind and a decoy yields nothing."""
    found = detect(case.text, DetectionContext(setting.regions))
    assert (case.kind in found) if case.kind is not None else found == set()


@pytest.mark.parametrize(("setting", "case"), [(s, c) for s, c in all_cases(seed=12) if c.kind and not c.regional])
def test_context_free_cases_need_no_regions(setting, case) -> None:
    """Given each identifying case not marked regional, when detected without a context, then it is found."""
    assert case.kind in detect(case.text)


# -- regions of a data set -----------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "regions"),
    [("ISO_IR 100", CHARSET_REGIONS["100"]), ("ISO_IR 126", ("GR", "CY")), ("ISO_IR 144", CHARSET_REGIONS["144"]),
     (["", "ISO 2022 IR 87"], ("JP",)), (["", "ISO 2022 IR 149"], ("KR",)), ("ISO_IR 192", ()), (None, ()),
     ("GB18030", ("CN",))],
)  # fmt: skip
def test_regions_from_specific_character_set(charset, regions) -> None:
    """Given a SpecificCharacterSet value, then its documented regions are suggested."""
    assert regions_from_charset(charset) == regions
    assert {"FR", "DE", "ES", "IT", "NL"} <= set(CHARSET_REGIONS["100"]) and {"RU", "BG", "UA"} <= set(
        CHARSET_REGIONS["144"]
    )


@pytest.mark.parametrize(
    ("address", "regions"),
    [("12 rue de la Paix, 75002 Paris, France", ("FR",)), ("Hauptstraße 5, 10115 Berlin, Deutschland", ("DE",)),
     ("D-10115 Berlin", ("DE",)), ("London SW1A 1AA", ("GB",)), ("Boston, MA 02115", ("US",)),
     ("Atlanta, Georgia 30303", ("US",)), ("Kerkstraat 12, 1017 GC Amsterdam", ("NL",)),
     ("ул. Тверская, д. 7, Москва, Россия", ("RU",)), ("〒100-0001 東京都千代田区", ("JP",)), ("Zürich, Schweiz", ("CH",)),
     ("Riverside Imaging", ())],
)  # fmt: skip
def test_regions_from_an_address(address, regions) -> None:
    """Given an address naming a country (in its own language too), an old postcode prefix or a
    country's postcode shape, then that country is its region; a US state is no country."""
    assert regions_from_address(address) == regions


def test_address_country_replaces_the_charset_guess_and_explicit_regions_come_first() -> None:
    """Given ISO_IR 100 and a French institution address, and an explicit "de", then the regions are DE, FR."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstitutionAddress = "12 rue de la Paix, 75002 Paris, France"
    assert infer_regions(ds) == ("FR",)
    assert infer_regions(ds, ["de"]) == ("DE", "FR")
    assert context_for(ds, ["de"]) == DetectionContext(("DE", "FR"))


def test_charset_regions_without_an_address() -> None:
    """Given ISO_IR 144 and no address, then the Cyrillic regions are inferred."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 144"
    assert infer_regions(ds) == CHARSET_REGIONS["144"]


def test_explicit_regions_are_normalised_and_checked() -> None:
    """Given "fr", "de,it" and "UK", then they become FR, DE, IT, GB; an unknown code is an error."""
    assert normalize_regions(["fr", "de,it", "UK"]) == ("FR", "DE", "IT", "GB")
    with pytest.raises(ValueError, match="unknown region"):
        normalize_regions(["XX"])


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_corpus_setting_declares_its_regions(setting) -> None:
    """Given the character set and address of each corpus setting, then infer_regions gives the regions it declares."""
    ds = Dataset()
    ds.SpecificCharacterSet = setting.charset
    if setting.address:
        ds.InstitutionAddress = setting.address
    assert infer_regions(ds) == setting.regions


def test_detect_keeps_its_one_argument_form() -> None:
    """Given the analyzer's call detect(text), then it still works and equals detect(text, None)."""
    assert detect("Discussed with Dr. Miller at 617-555-0123") == detect(
        "Discussed with Dr. Miller at 617-555-0123", None
    ) == {Kind.NAME, Kind.PHONE}  # fmt: skip
