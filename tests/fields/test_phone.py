"""The merchant's telephone number: labelled, OCR-garbled, unlabelled in the head; never a fax."""

from __future__ import annotations

import pytest

from forensics.fields.layout import text_lines
from forensics.fields.phone import find_merchant_phone, find_phones, phone_key
from tests.text_readings import reading_of


@pytest.mark.parametrize(
    "text,value",
    [
        ("TEL: 012-846 3175", "0128463175"),
        ("Tel No. 03-7865 4321", "0378654321"),
        ("H/P 016-7302918", "0167302918"),
        ("TELs O12 - 6651793 FAX: 03 ~ 33462360", "0126651793"),  # OCR: "TELs", "O12"
        ("Telefon 0221/123456", "0221123456"),
        ("Tél. 01 23 45 67 89", "0123456789"),
        ("Phone: +60 12-665 1793", "60126651793"),
        ("Tel: 03-7865 4321/4322", "0378654321"),  # a second line's last digits
    ],
)
def test_labelled_numbers(text, value):
    assert [p.value for p in find_phones(text, head=False)] == [value]


@pytest.mark.parametrize(
    "text", ["Fax: 03-34744519", "Date: 12-02-2018", "GST ID: 002648730915", "TOTAL 1,234.50",
             "LOT 1851-A, JALAN CONTOH 6", "TEL: ee EN U3, 40170 SHAH ALAM", "TEL: 12345"],
)
def test_what_is_not_a_telephone_number(text):
    assert find_phones(text, head=True) == []


def test_unlabelled_only_in_the_head_and_never_after_fax():
    assert [p.value for p in find_phones("Lt O12 ~ 6651793 Fax: 03 - 33633408", head=True)] == ["0126651793"]
    assert find_phones("Lt O12 ~ 6651793", head=False) == []
    assert find_phones("Fax: 03 - 33633408", head=True) == []


def test_merchant_phone_skips_the_buyer():
    lines = text_lines(reading_of(["Bill to: ALI BIN ABU", "TEL: 019-222 3333", "JALAN CONTOH 3",
                                   "INVOICE NO: 1234", "ITEM A 2 x 3.00 6.00", "ITEM B 1 x 4.00 4.00",
                                   "TOTAL 10.00", "KEDAI CONTOH SDN BHD", "Tel: 03-7865 4321"]))
    found = find_merchant_phone(lines)
    assert found is not None and found[1].value == "0378654321"


def test_key_compares_the_last_digits():
    assert phone_key("0126651793") == phone_key("60126651793") == "tel:126651793"
    assert phone_key("1234567") is None and phone_key(None) is None
