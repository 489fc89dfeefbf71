import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forensics.fields.dates import find_dates, find_times, parse_date, repair_dates


@pytest.mark.parametrize(
    "text,iso",
    [
        ("Date: 19/10/2018", "2018-10-19"),
        ("开票日期：2018年12月25日", "2018-12-25"),
        ("Rechnungsdatum: 5. März 2020", "2020-03-05"),
        ("le 1er janvier 2021", "2021-01-01"),
        ("Dec 5, 2019", "2019-12-05"),
        ("25-MAR-18", "2018-03-25"),
        ("12/28/2017", "2017-12-28"),
        ("Date 2O/1O/2018", "2018-10-20"),
    ],
)
def test_forms(text, iso):
    assert parse_date(text) == iso


def test_locale_decides_ambiguous_order():
    assert parse_date("03/04/2019") == "2019-04-03"
    assert parse_date("03/04/2019", locale="en_US") == "2019-03-04"


def test_times():
    assert [t.value for t in find_times("10:25 PM 14:05:33")] == ["22:25", "14:05:33"]


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)), st.sampled_from(["%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%d %b %Y", "%Y年%m月%d日"]))
def test_round_trip(date, fmt):
    text = date.strftime(fmt)
    found = find_dates(text)
    assert found and found[0].iso == date.isoformat()


@pytest.mark.parametrize(
    "text,iso",
    [
        ("Date: 04/42/2017", "2017-12-04"),  # month 42: a 1 read as 4
        ("61/03/18 12:36", "2018-03-01"),  # day 61: a 0 read as 6
        ("Date: 21/08/2617", "2017-08-21"),  # year 2617
        ("Date: 05/88/2017", "2017-08-05"),
        ("Date: 1770372018", "2018-03-17"),  # both slashes read as 7
    ],
)
def test_a_date_made_impossible_by_one_slip_is_repaired(text, iso):
    assert find_dates(text) == []
    (found,) = repair_dates(text)
    assert (found.iso, found.form, found.confidence) == (iso, "repaired", 0.5)


def test_no_repair_where_more_than_one_fits_or_none_does():
    assert repair_dates("31/02/2018") == []  # no single slip makes it a date
    assert repair_dates("Date: 20/0472078") == []  # two slips
    # "96/12/2018": a 9 read for a 0 gives 06, a 6 read for a 0 or 5 gives 90 or 95: 06 alone fits
    assert [d.iso for d in repair_dates("96/12/2018")] == ["2018-12-06"]
    # "19/19/2018": a 9 read for a 0 in either number gives 10/19 or 19/10, one day either way
    # (the other slips of 1 and 9 give no valid date)
    assert [d.iso for d in repair_dates("19/19/2018")] == ["2018-10-19"]
    # a valid date is left to find_dates, and a repair never takes a year past REPAIR_YEARS
    assert repair_dates("19/10/2018") == []
    assert repair_dates("12/10/2648") == []


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2035, 12, 31)))
def test_a_repair_never_replaces_a_valid_date(date):
    assert repair_dates(date.strftime("%d/%m/%Y")) == []


def test_extraction_falls_back_to_a_repaired_date_only_when_none_is_valid():
    from forensics.fields import extract
    from forensics.model import Document
    from tests.text_readings import reading_of

    doc = Document("0" * 64, "image/jpeg", 1, ())
    ex = extract(reading_of(["KEDAI CONTOH SDN BHD", "Date: 1770372018 13:05", "TOTAL 12.00"]), doc)
    assert ex.fields["date"].value == "2018-03-17" and ex.fields["date"].raw == "1770372018"
    ex = extract(reading_of(["KEDAI CONTOH", "Date: 04/42/2017", "Printed 05/12/2017"]), doc)
    assert ex.fields["date"].value == "2017-12-05"


def test_a_product_code_glued_to_letters_is_no_date_and_casts_no_vote():
    from forensics.fields import extract
    from forensics.fields.dates import date_order
    from tests.text_readings import reading_of

    assert find_dates("RC12-24-41 - 12/144") == []
    assert date_order(["RC12-24-41 - 12/144", "15-03-18 15:41 SH01"]) == "dmy"
    fields = extract(reading_of(["PEN 6BK RC12-24-41 - 12/144", "TOTAL RM 2.90", "15-03-18 15:41 SH01 T2"]), None).fields
    assert fields["date"].value == "2018-03-15"
    # a date after a label and a colon or a space is still read
    assert [d.iso for d in find_dates("Date:15/03/2018")] == ["2018-03-15"]
