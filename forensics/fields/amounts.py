"""Money amounts as printed on receipts and invoices, in the common locale forms.

Handles ``1,234.56``, ``1.234,56``, ``1 234,56``, ``1234.56``, ``1234,56``, currency marks
before or after (``RM``, ``$``, ``€``, ``¥``, ``元``, ``EUR``), negatives written ``-12.50``,
``12.50-`` or ``(12.50)``, and a few OCR slips inside a number (``O`` for ``0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

#: currency marks as printed -> ISO 4217 code. ``$`` alone is ambiguous; the caller's locale
#: may override it (see :func:`currency_for`).
CURRENCY_MARKS: dict[str, str] = {
    "RM": "MYR",
    "MYR": "MYR",
    "S$": "SGD",
    "SGD": "SGD",
    "US$": "USD",
    "USD": "USD",
    "$": "USD",
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "¥": "CNY",
    "￥": "CNY",
    "元": "CNY",
    "RMB": "CNY",
    "CNY": "CNY",
    "CHF": "CHF",
    "PLN": "PLN",
    "ZŁ": "PLN",
}

_MARK_RE = "|".join(re.escape(m) for m in sorted(CURRENCY_MARKS, key=len, reverse=True))

#: one amount inside a line: optional sign/currency, digits with optional grouping, optional
#: decimals, optional trailing currency or minus. Till rolls glue "RM" to the price and faded
#: print makes OCR read it "RH", "RN", "fM" or "PM": taken as the mark before a price with cents. Groups of three may be separated by
#: ``,`` ``.`` ``'`` or a (thin / no-break) space.
AMOUNT_RE = re.compile(
    rf"""
    (?<![\w.,])
    (?P<neg1>[-−(])?
    (?:(?P<pre>{_MARK_RE})|(?P<rm>[RFP][MHN])(?=\d+[.,]\d\d(?!\d)))?\s?
    (?P<neg2>-)?
    (?P<num>
        \d{{1,3}}(?:(?P<grp>[,.'’])\d{{3}})+(?:(?P<dec1>[.,])\d{{1,2}})?
      | \d{{1,3}}(?:(?P<sgrp>[\u00a0\u202f ])\d{{3}})+(?P<dec3>,)\d{{1,2}}
      | \d+(?:(?P<dec2>[.,])\d{{1,2}})?
    )
    (?![\d])
    (?:\s?(?P<post>{_MARK_RE})(?![A-Za-z]))?
    (?P<neg3>-|\))?
    """,
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class AmountMatch:
    """One amount found in a text: its value, the text it came from and where."""

    value: Decimal
    raw: str
    start: int
    end: int
    currency: str | None = None
    #: True when the number has a decimal part (amounts on receipts almost always do)
    has_decimals: bool = False


def _to_decimal(num: str, grp: str | None, dec: str | None) -> Decimal | None:
    digits = num
    if grp:
        digits = digits.replace(grp, "")
    if dec:
        head, _, tail = digits.rpartition(dec)
        digits = head.replace(",", "").replace(".", "") + "." + tail
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def find_amounts(text: str, *, decimal_comma: bool | None = None) -> list[AmountMatch]:
    """Every amount in ``text``, left to right.

    ``decimal_comma`` says how to read an ambiguous ``1,234``/``1.234`` (one separator and
    three digits after it): True reads it as a decimal comma locale would (``1,234`` = 1.234),
    False or None as a thousands group (the usual reading on receipts).
    """
    out: list[AmountMatch] = []
    for m in AMOUNT_RE.finditer(_fix_ocr_digits(text)):
        num, grp = m.group("num"), m.group("grp") or m.group("sgrp")
        dec = m.group("dec1") or m.group("dec2") or m.group("dec3")
        if grp and not dec and num.count(grp) == 1:
            # "1,234" or "1.234": a group or a decimal mark? only the locale can say
            if (decimal_comma is True and grp == ",") or (decimal_comma is False and grp == "."):
                dec, grp = grp, None
        if grp and dec and grp == dec:
            continue
        value = _to_decimal(num, grp, dec)
        if value is None:
            continue
        neg = bool(m.group("neg2") or m.group("neg3") == "-")
        if m.group("neg1") and (m.group("neg1") != "(" or m.group("neg3") == ")"):
            neg = True
        if neg:
            value = -value
        mark = m.group("pre") or m.group("post")
        currency = CURRENCY_MARKS.get(mark.upper()) if mark else None
        if m.group("rm"):
            currency = "MYR"  # "RH367.10", "fM1.00": RM as OCR reads it, glued to a price
        out.append(
            AmountMatch(
                value=value,
                raw=text[m.start() : m.end()].strip(),
                start=m.start(),
                end=m.end(),
                currency=currency,
                has_decimals=bool(dec),
            )
        )
    return out


def parse_amount(text: str, *, decimal_comma: bool | None = None) -> Decimal | None:
    """The one amount that ``text`` is (allowing surrounding currency marks), or None."""
    found = find_amounts(text.strip(), decimal_comma=decimal_comma)
    if len(found) != 1:
        return None
    m = found[0]
    rest = (text.strip()[: m.start] + text.strip()[m.end :]).strip(" :")
    return m.value if not rest else None


def format_amount(value: Decimal) -> str:
    """The contract's decimal string: at least two decimals, no grouping (``"1234.50"``)."""
    q = value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value
    return format(q, "f")


#: characters Tesseract reads in place of digits inside a number
_OCR_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "S": "5"})
_OCR_NUMBERISH = re.compile(
    r"(?<=\d[.,])[OoD]{1,2}\b|\b\d+[.,]\d?[OoD]\b"
    # a zero read as a letter right after a currency mark: "RMO.00", "$O.50"
    r"|(?:(?<=RM)|(?<=\$))[OoD](?=[.,]\d\d(?!\d))"
)


def _fix_ocr_digits(text: str) -> str:
    """Replace letter-for-digit slips in the decimals of a number (``12.5O`` -> ``12.50``)
    and a lone zero after a currency mark (``RMO.00`` -> ``RM0.00``).

    Same length in and out, so match offsets stay valid for the original text.
    """
    return _OCR_NUMBERISH.sub(lambda m: m.group(0).translate(_OCR_DIGIT), text)


def currency_for(text: str, *, default_dollar: str = "USD") -> str | None:
    """The ISO code of the currency mark most often printed in ``text``, or None."""
    counts: dict[str, int] = {}
    for m in re.finditer(rf"(?<![A-Za-z])({_MARK_RE})(?![A-Za-z])", text, re.IGNORECASE):
        code = CURRENCY_MARKS[m.group(1).upper()]
        if m.group(1) == "$":
            code = default_dollar
        counts[code] = counts.get(code, 0) + 1
    if not counts:
        return None
    return max(counts.items(), key=lambda kv: kv[1])[0]
