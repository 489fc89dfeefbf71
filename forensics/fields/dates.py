"""Dates and times as printed: numeric and month-name forms in English, German, French and
Chinese, with day/month order decided by the locale and by plausibility.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: month names and abbreviations (English, German, French, Malay) -> month number
MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    [
        "january jan januar janv janvier jänner jän",
        "february feb februar fév févr fev fevr février fevrier feb",
        "march mar märz maerz mrz mars",
        "april apr avr avril",
        "may mai mei",
        "june jun juni juin",
        "july jul juli juil juillet julai",
        "august aug aoû aout août ogos",
        "september sep sept septembre",
        "october oct okt oktober octobre",
        "november nov novembre",
        "december dec dez dezember déc decembre décembre dis disember",
    ],
    start=1,
):
    for _n in _names.split():
        MONTHS[_n] = _num

#: earliest and latest year accepted as a document date
YEAR_MIN, YEAR_MAX = 1990, 2099
#: two-digit years below this are 20xx, the rest 19xx
PIVOT_2DIGIT = 70

#: locales that write the month first in numeric dates
MONTH_FIRST_LOCALES = ("en_US", "en-US", "us")

_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_SEP = r"[/\-.]"
#: letters Tesseract reads in place of digits inside a date
_OCR_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1"})

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("cjk", re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?")),
    ("ymd", re.compile(rf"(?<!\d)(?P<y>\d{{4}})\s?(?P<s>{_SEP})\s?(?P<m>\d{{1,2}})\s?(?P=s)\s?(?P<d>\d{{1,2}})(?!\d)")),
    (
        "num",
        re.compile(
            rf"(?<![\d.A-Za-z])(?P<a>\d{{1,2}})\s?(?P<s>{_SEP})\s?(?P<b>\d{{1,2}})\s?(?P=s)\s?(?P<y>\d{{4}}|\d{{2}})(?![\d])"
        ),
    ),
    (
        "dmy_name",
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}})(?:er|st|nd|rd|th)?\.?[\s\-/.]*(?P<mn>{_MONTH_RE})\.?,?[\s\-/.]*(?P<y>\d{{4}}|\d{{2}})(?!\d)",
            re.IGNORECASE,
        ),
    ),
    (
        "mdy_name",
        re.compile(
            rf"(?<![A-Za-z])(?P<mn>{_MONTH_RE})\.?[\s\-/.]*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[\s\-/.]+(?P<y>\d{{4}})(?!\d)",
            re.IGNORECASE,
        ),
    ),
    ("compact", re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)")),
]

TIME_RE = re.compile(
    r"(?<![\d:])(?P<h>[01]?\d|2[0-3])\s?[:h]\s?(?P<mi>[0-5]\d)(?:\s?:\s?(?P<s>[0-5]\d))?(?!\d)"
    r"(?:\s?(?P<ampm>[AaPp])\.?\s?[Mm]\.?)?"
)


@dataclass(frozen=True)
class DateMatch:
    """A date found in a text: ISO value, the raw text, where, and how sure the reading is."""

    iso: str
    raw: str
    start: int
    end: int
    #: 1.0 when the form is unambiguous; lower when day/month order had to be guessed
    confidence: float
    form: str


@dataclass(frozen=True)
class TimeMatch:
    """A time of day: ``HH:MM`` or ``HH:MM:SS`` (24 h) and the raw text."""

    value: str
    raw: str
    start: int
    end: int


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < PIVOT_2DIGIT else 1900
    return y


def _make(y: int, m: int, d: int) -> dt.date | None:
    if not YEAR_MIN <= y <= YEAR_MAX:
        return None
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _month_first(locale: str | None) -> bool:
    return bool(locale) and any(locale.startswith(p) for p in MONTH_FIRST_LOCALES)


def find_dates(text: str, *, locale: str | None = None) -> list[DateMatch]:
    """Every plausible date in ``text``, left to right; overlapping readings keep the first form.

    Day/month order for ``a/b/y``: a value above 12 settles it; otherwise the locale does
    (month first only for US English), with lower confidence.
    """
    fixed = _fix_ocr(text)
    taken: list[tuple[int, int]] = []
    out: list[DateMatch] = []
    for form, pattern in _PATTERNS:
        for m in pattern.finditer(fixed):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if form == "num" and _is_clock(fixed, m):
                continue
            date, confidence = _interpret(form, m, locale)
            if date is None:
                continue
            taken.append((m.start(), m.end()))
            out.append(DateMatch(date.isoformat(), text[m.start() : m.end()], m.start(), m.end(), confidence, form))
    out.sort(key=lambda d: d.start)
    return out


def _is_clock(text: str, m: re.Match[str]) -> bool:
    """True for a time printed with dots (``12.17.26 PM``), which reads like a date."""
    g = m.groupdict()
    if g.get("s") != "." or len(g["y"]) != 2:
        return False
    after = text[m.end() : m.end() + 5]
    return int(g["a"]) <= 23 and int(g["b"]) <= 59 and int(g["y"]) <= 59 and bool(re.match(r"\s?[AaPp]\.?[Mm]\b", after))


def _interpret(form: str, m: re.Match[str], locale: str | None) -> tuple[dt.date | None, float]:
    g = m.groupdict()
    if form in ("cjk", "ymd", "compact"):
        conf = 0.8 if form == "compact" else 1.0
        return _make(int(g["y"]), int(g["m"]), int(g["d"])), conf
    if form in ("dmy_name", "mdy_name"):
        month = MONTHS.get(g["mn"].lower())
        if month is None:
            return None, 0.0
        return _make(_year(g["y"]), month, int(g["d"])), 1.0
    a, b, y = int(g["a"]), int(g["b"]), _year(g["y"])
    conf = 1.0 if len(g["y"]) == 4 else 0.9
    if a > 12 >= b:
        return _make(y, b, a), conf
    if b > 12 >= a:
        return _make(y, a, b), conf * 0.9
    if a == b:
        return _make(y, a, b), conf
    if _month_first(locale):
        return _make(y, a, b), conf * 0.7
    return _make(y, b, a), conf * 0.7


#: a numeric date whose order its own numbers settle: first > 12 (day first) or second > 12
_ORDER_RE = re.compile(
    rf"(?<![\d.A-Za-z])(?P<a>\d{{1,2}})(?P<s>{_SEP})(?P<b>\d{{1,2}})(?P=s)(?:\d{{4}}|\d{{2}})(?!\d)(?!\s?[AaPp]\.?[Mm]\b)"
)


def date_order(texts: list[str]) -> str | None:
    """``"dmy"`` or ``"mdy"`` when the document's unambiguous numeric dates agree on an order.

    A document writes all its dates one way, so a due date printed ``11/17/2017`` tells how to
    read the ambiguous issue date ``11/03/2017`` on the same page. None when no date settles it
    or the votes tie.
    """
    dmy = mdy = 0
    for text in texts:
        for m in _ORDER_RE.finditer(text):
            a, b = int(m.group("a")), int(m.group("b"))
            if a > 12 >= b >= 1:
                dmy += 1
            elif b > 12 >= a >= 1 and b <= 31:
                mdy += 1
    if dmy == mdy:
        return None
    return "dmy" if dmy > mdy else "mdy"


def _fix_ocr(text: str) -> str:
    """Letter-for-digit slips inside numeric date-like tokens; same length in and out."""
    return re.sub(
        r"[\dOoDlI|]{1,4}(?:[/\-.][\dOoDlI|]{1,4}){2}",
        lambda m: m.group(0).translate(_OCR_DIGIT) if sum(c.isdigit() for c in m.group(0)) >= 4 else m.group(0),
        text,
    )


#: digit pairs Tesseract confuses on thermal prints and scans
DIGIT_CONFUSIONS = frozenset(frozenset(p) for p in (
    "08", "06", "09", "17", "14", "38", "56", "58", "68", "89", "27", "39", "03", "35", "12"))
#: years a repaired date may have: a slip that makes 2078 of 2018 must not make 2048 of it
REPAIR_YEARS = (1990, 2039)
#: how sure a repaired date is
REPAIRED_CONFIDENCE = 0.5
#: a numeric date of any digits, valid or not
_LOOSE_RE = re.compile(rf"(?<![\d.])(?P<a>\d{{1,2}})(?P<s>{_SEP})(?P<b>\d{{1,2}})(?P=s)(?P<y>\d{{4}}|\d{{2}})(?!\d)")
#: a day-month-year date whose two slashes were read as 7s ("1770372018" for 17/03/2018)
_SLASH7_RE = re.compile(r"(?<!\d)(?P<a>[0-3]\d)7(?P<b>[01]\d)7(?P<y>(?:19|20)\d{2})(?!\d)")


def digit_variants(text: str) -> Iterator[str]:
    """``text`` with one digit replaced by one OCR confuses it with (:data:`DIGIT_CONFUSIONS`),
    each such variant once."""
    for i, ch in enumerate(text):
        for pair in DIGIT_CONFUSIONS:
            if ch in pair:
                (alt,) = pair - {ch}
                yield text[:i] + alt + text[i + 1:]


def repair_dates(text: str, *, locale: str | None = None) -> list[DateMatch]:
    """Dates that OCR made impossible with one slip, put right where only one repair fits.

    A numeric date with a day, month or year out of range ("04/42/2017", "61/03/18",
    "21/08/2617") becomes the one valid date that a single digit confusion (:data:`DIGIT_CONFUSIONS`) gives
    (04/12/2017, 01/03/18, 21/08/2017); two or more candidates leave it unread. Ten digits with
    7s where the slashes belong ("1770372018") are read as the date. For a text where
    :func:`find_dates` found nothing; confidence :data:`REPAIRED_CONFIDENCE`.
    """
    fixed = _fix_ocr(text)
    out: list[DateMatch] = []
    for m in _LOOSE_RE.finditer(fixed):
        if _interpret("num", m, locale)[0] is not None:
            continue  # valid as printed: find_dates' business
        a, s, b, y = m.group("a"), m.group("s"), m.group("b"), m.group("y")
        printed = f"{a}{s}{b}{s}{y}"
        found = set()
        for variant in digit_variants(printed):
            again = _LOOSE_RE.fullmatch(variant)
            date = _interpret("num", again, locale)[0] if again else None
            if date is not None and REPAIR_YEARS[0] <= date.year <= REPAIR_YEARS[1]:
                found.add(date)
        if len(found) == 1:
            out.append(DateMatch(found.pop().isoformat(), text[m.start():m.end()], m.start(), m.end(),
                                 REPAIRED_CONFIDENCE, "repaired"))
    for m in _SLASH7_RE.finditer(fixed):
        date, _conf = _interpret("num", m, locale)
        if date is not None and REPAIR_YEARS[0] <= date.year <= REPAIR_YEARS[1]:
            out.append(DateMatch(date.isoformat(), text[m.start():m.end()], m.start(), m.end(),
                                 REPAIRED_CONFIDENCE, "repaired"))
    out.sort(key=lambda d: d.start)
    return out


def parse_date(text: str, *, locale: str | None = None) -> str | None:
    """The ISO date of the first date in ``text``, or None."""
    found = find_dates(text, locale=locale)
    return found[0].iso if found else None


def find_times(text: str) -> list[TimeMatch]:
    """Every time of day in ``text`` as 24-hour ``HH:MM[:SS]``."""
    out: list[TimeMatch] = []
    for m in TIME_RE.finditer(text):
        h, mi, s = int(m.group("h")), m.group("mi"), m.group("s")
        ampm = (m.group("ampm") or "").lower()
        if ampm:
            if h > 12 or h == 0:
                continue
            h = h % 12 + (12 if ampm == "p" else 0)
        value = f"{h:02d}:{mi}" + (f":{s}" if s else "")
        out.append(TimeMatch(value, text[m.start() : m.end()].strip(), m.start(), m.end()))
    return out
