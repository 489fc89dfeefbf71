"""The issuing business's telephone number (``merchant_phone``).

A receipt prints its shop's telephone number in the header ("TEL: 03-7865 4321", "Tel No.
012-665 1793", "H/P 016-7302918", "Telefon 0221 123456", "Tél. 01 23 45 67 89"). Like the
registration number it names the shop however its name was read, and OCR reads it more steadily
than the name: the serial registry takes two uploads with one telephone number for one issuer's.

Labelled numbers are taken outside the buyer's block; a fax number is not a telephone number.
OCR garbles the label too ("TELs", "Lt"), so in the head of the first page a number is also
taken unlabelled when it has the shape of a dialled number: a leading 0 (trunk prefix), a two-
or three-digit area or mobile code, a separator, then the subscriber number
("O12 ~ 6651793"). ``value`` is the digits with OCR's letters for digits put right ("O12" ->
012); :func:`phone_key` compares the last nine, so a number printed with its country code
("+60 12-665 1793") is the same number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forensics.fields.layout import TextLine
from forensics.fields.regno import first_on_seller_lines

#: fewest and most digits of a telephone number (with its trunk or country prefix)
MIN_DIGITS, MAX_DIGITS = 8, 14
#: digits a key compares: the subscriber number and its area code, whatever prefix is printed
KEY_DIGITS = 9
#: letters OCR reads in place of digits inside a number
_DIGITS = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1"})
_D = r"[\dOoDQIl|]"
#: the number after a label: digits with spaces, dashes, dots, slashes, brackets or a tilde
_NUMBER = r"(?P<n>\+?\(?[\dOo](?:[\d OoDQIl|\-~./()]{5,22})\d)"
#: "TEL", "Tel.", "TELs" (OCR), "Telephone", "Phone", "H/P", "HP", "Mobile", "Telefon", "Tél", "电话"
_LABEL = re.compile(
    r"(?:\b(?:TEL(?:EPHONE|EFON|\.)?[sS]?|PHONE|PH|H/?P|MOBILE|MOB|HANDPHONE|TÉL(?:ÉPHONE)?|FON)\b"
    r"|电话)\.?\s*(?:NO\b\.?|NR\b\.?|#)?\s*[:.;=]?\s*" + _NUMBER,
    re.IGNORECASE,
)
#: a fax label: the number after it is not the telephone
_FAX = re.compile(r"\bFAX\b|\bTELEFAX\b|传真", re.IGNORECASE)
#: an unlabelled dialled number: 0, a 1-3 digit code, a separator, the subscriber number
_UNLABELLED = re.compile(rf"(?<![\w.,/])(?P<n>[0Oo]{_D}{{1,3}}\s*[-~]\s*{_D}{{3,4}}[\s\-]?{_D}{{3,4}})(?![\w.,/])")


@dataclass(frozen=True)
class Phone:
    """A telephone number found on one line."""

    value: str
    raw: str
    start: int
    end: int
    labelled: bool


def _digits(raw: str) -> str | None:
    # "03-7865 4321/4322": a second line's last digits after a slash are not part of the number
    head, slash, _tail = raw.partition("/")
    if slash and len(re.sub(r"\D", "", head.translate(_DIGITS))) >= MIN_DIGITS:
        raw = head
    digits = re.sub(r"\D", "", raw.translate(_DIGITS))
    return digits if MIN_DIGITS <= len(digits) <= MAX_DIGITS else None


def find_phones(text: str, *, head: bool) -> list[Phone]:
    """Telephone numbers on one line (not fax numbers); unlabelled ones only on a ``head`` line."""
    out: list[Phone] = []
    faxes = [m.start() for m in _FAX.finditer(text)]
    for m in _LABEL.finditer(text):
        digits = _digits(m.group("n"))
        if digits:
            out.append(Phone(digits, m.group("n").strip(), m.start("n"), m.end("n"), True))
    if out or not head:
        return out
    for m in _UNLABELLED.finditer(text):
        # a number right after "FAX" (with nothing else between) is the fax
        if any(0 <= m.start() - f <= 12 for f in faxes):
            continue
        digits = _digits(m.group("n"))
        if digits:
            out.append(Phone(digits, m.group("n"), m.start("n"), m.end("n"), False))
    return out


def find_merchant_phone(lines: list[TextLine]) -> tuple[TextLine, Phone] | None:
    """The merchant's telephone number: the first labelled one outside the buyer's block, or an
    unlabelled one in the head of the first page."""
    return first_on_seller_lines(lines, find_phones)


def phone_key(value: str | None) -> str | None:
    """The registry's key of a telephone number: its last :data:`KEY_DIGITS` digits."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    return f"tel:{digits[-KEY_DIGITS:]}" if len(digits) >= MIN_DIGITS else None
