from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forensics.fields.amounts import currency_for, find_amounts, format_amount, parse_amount


@pytest.mark.parametrize(
    "text,value,currency",
    [
        ("TOTAL RM 1,234.56", "1234.56", "MYR"),
        ("Summe 1.234,56 EUR", "1234.56", "EUR"),
        ("1 234,56 €", "1234.56", "EUR"),
        ("ROUNDING -0.02", "-0.02", None),
        ("12.50-", "-12.50", None),
        ("(3.00)", "-3.00", None),
        ("合计 ¥88.00", "88.00", "CNY"),
        ("88.00元", "88.00", "CNY"),
        ("$8.20", "8.20", "USD"),
    ],
)
def test_forms(text, value, currency):
    (m,) = find_amounts(text)
    assert m.value == Decimal(value) and m.currency == currency


def test_ocr_slip_in_decimals_keeps_raw():
    (m,) = find_amounts("12.5O")
    assert m.value == Decimal("12.50") and m.raw == "12.5O"


def test_ambiguous_group_follows_locale():
    assert parse_amount("1,234") == Decimal("1234")
    assert parse_amount("1,234", decimal_comma=True) == Decimal("1.234")


def test_currency_for_counts_marks():
    assert currency_for("RM 1.00 RM 2.00 $3") == "MYR"


@given(st.decimals(min_value=0, max_value=10**7, places=2), st.sampled_from(["en", "de", "fr"]))
def test_round_trip_any_locale(value, style):
    plain = f"{value:,.2f}"
    printed = {
        "en": plain,
        "de": plain.replace(",", "_").replace(".", ",").replace("_", "."),
        "fr": plain.replace(",", " ").replace(".", ","),
    }[style]
    assert parse_amount(printed) == value
    assert Decimal(format_amount(value)) == value


@given(st.text(max_size=40))
def test_never_crashes(text):
    for m in find_amounts(text):
        assert m.start <= m.end


@pytest.mark.parametrize("text,value", [("Total fM1.00", "1.00"), ("Nett Total RH367.10", "367.10"),
                                        ("Paid PM4.00", "4.00")])
def test_ringgit_mark_as_ocr_reads_it(text, value):
    (m,) = find_amounts(text)
    assert str(m.value) == value and m.currency == "MYR"


@pytest.mark.parametrize("text", ["RH12", "RN 5 pax"])
def test_letters_before_a_whole_number_are_no_currency(text):
    assert all(m.currency is None for m in find_amounts(text))
