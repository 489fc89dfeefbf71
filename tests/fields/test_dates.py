import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forensics.fields.dates import find_dates, find_times, parse_date


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
