"""The merchant's company registration number (``merchant_reg_no``), from typed lines."""

from __future__ import annotations

import pytest

from forensics.fields import extract
from forensics.fields.layout import text_lines
from forensics.fields.regno import find_merchant_reg_no, reg_key
from tests.text_readings import merchant, reading_of


def reg_no(lines: list[str]) -> tuple[str, str] | None:
    found = find_merchant_reg_no(text_lines(reading_of(lines)))
    return (found[1].value, found[1].scheme) if found else None


@pytest.mark.parametrize(
    "line,value",
    [
        ("Company Reg #2204197-T", "2204197T"),
        ("Company Reg #02204197-T", "2204197T"),  # leading zeros of the number go
        ("Co. No: 645128-M", "645128M"),
        ("ROC 12345-A", "12345A"),
        ("( ROC : SA0528374-K )", "SA528374K"),
        ("BR No.: (231634-H)", "231634H"),
        ("(CO.REG :741530-D)", "741530D"),
        ("Company Reg. Na, ; 001056194X", "1056194X"),
        ("CO. REG. NO: 000827365-V", "827365V"),
    ],
)
def test_labelled_malaysian_numbers(line, value):
    assert reg_no(["KEDAI SIHAT DAN CANTIK SDN BHD", line, "12, JALAN MERAH 3, 81100 JOHOR"]) == (value, "MY_ROC")


@pytest.mark.parametrize(
    "lines,value",
    [
        (["TULIS SUPPLY SDN BHD (5531208-K)", "NO 31G, JALAN SETIA INDAH"], "5531208K"),
        (["SERBA MART CO. (M) BHD (517302-H)", "3RD FLR, TAMAN CONTOH"], "517302H"),
        (["KEDAI RUNCIT MAJU JAYA", "(913462-U)", "12, JALAN MERAH 3"], "913462U"),
        (["KEDAI RUNCIT MAJU JAYA", "JM0326955-V", "12, JALAN MERAH 3"], "JM326955V"),
        (["ROTI SEGAR (KL) SDN BHD (248517 X)", "LOT 3, JALAN PELABUR 23/1"], "248517X"),
        # OCR split the number with a space: the check letter after it still makes it one
        (["KEDAI RUNCIT MAJU JAYA", "0037141 85-K", "12, JALAN MERAH 3"], "3714185K"),
        (["KEDAI RUNCIT MAJU JAYA", "Co. No: 64512 8-M", "12, JALAN MERAH 3"], "645128M"),
    ],
)
def test_bracketed_or_bare_number_under_the_name(lines, value):
    assert reg_no(lines) == (value, "MY_ROC")


@pytest.mark.parametrize(
    "lines",
    [
        ["KEDAI RUNCIT MAJU JAYA", "LOT 1851-A & 1851-B, JALAN KPB 6", "43300 SERI KEMBANGAN"],  # a lot number
        ["KEDAI RUNCIT MAJU JAYA", "(GST REG NO 000357162849)", "12, JALAN MERAH 3"],  # a tax registration
        ["KEDAI RUNCIT MAJU JAYA", "12, JALAN MERAH 3, 81100 JOHOR", "TEL: 03-1234 5678"],
        ["KEDAI RUNCIT MAJU JAYA", "ORD #18 -REG #19- 21/03/2018 19:53:23"],  # a till number
        ["KEDAI RUNCIT MAJU JAYA", "81100 12", "12, JALAN MERAH 3"],  # split digits, no check letter
    ],
)
def test_other_numbers_are_not_registrations(lines):
    assert reg_no(lines) is None


def test_unlabelled_numbers_only_in_the_head():
    body = ["TOTAL 12.00"] * 20
    assert reg_no(["KEDAI RUNCIT MAJU JAYA", *body, "(913462-U)"]) is None
    assert reg_no(["KEDAI RUNCIT MAJU JAYA", *body, "Co. Reg. No: 913462-U"]) == ("913462U", "MY_ROC")


def test_german_and_french_registers():
    assert reg_no(["Muster GmbH", "Rechnung", "Registergericht Ansbach, HRB 6089"]) == ("HRB6089", "DE_HR")
    assert reg_no(["Muster GmbH", "Amtsgericht Charlottenburg HRB 12345 B"]) == ("HRB12345B", "DE_HR")
    assert reg_no(["ACME SARL", "SIRET : 732 829 320 00074"]) == ("732829320", "FR_SIREN")
    assert reg_no(["ACME SARL", "SIREN 732829320"]) == ("732829320", "FR_SIREN")
    assert reg_no(["ACME SARL", "RCS Paris B 732 829 320"]) == ("732829320", "FR_SIREN")


def test_the_buyers_number_is_not_the_merchants():
    assert reg_no(["ACME SARL", "Facture", "Client :", "BETA SAS", "SIRET : 732 829 320 00074"]) is None


def test_extract_reports_the_field_and_leaves_name_and_address_alone():
    lines = ["KEDAI SIHAT DAN CANTIK SDN BHD", "Company Reg #02204197-T", "12, JALAN MERAH 3, 81100 JOHOR",
             "RECEIPT NO: 83517", "TOTAL 12.00"]
    field = extract(reading_of(lines), None).fields["merchant_reg_no"]
    assert (field.value, field.raw, field.page, field.extra["scheme"]) == ("2204197T", "02204197-T", 1, "MY_ROC")
    assert field.box is not None and 0 < field.confidence <= 1
    assert merchant(lines) == ("KEDAI SIHAT DAN CANTIK SDN BHD", "12, JALAN MERAH 3, 81100 JOHOR")


def test_registry_key_drops_the_check_letter_ocr_misreads():
    assert reg_key("2204197T", "MY_ROC") == reg_key("2204197", "MY_ROC") == "reg:MY_ROC:2204197"
    assert reg_key("HRB12345B", "DE_HR") == "reg:DE_HR:HRB12345B"
    assert reg_key(None, "MY_ROC") is None
