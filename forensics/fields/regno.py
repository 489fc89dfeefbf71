"""The issuing business's company registration number (``merchant_reg_no``).

A registration number names one company however its name was printed or read, and OCR reads a
number more steadily than a name or a header line. Schemes (``extra["scheme"]``):

- ``MY_ROC``: Malaysian company or business registration, labelled ("Company Reg #2204197-T",
  "Co. No: 645128-M", "ROC 12345-A", "BR No.: (231634-H)") or printed in brackets under or
  after the name ("X SDN BHD (913462-U)", "(JM0326955-V)"). Value: optional letter prefix,
  the number without its leading zeros, the check letter ("02204197-T" -> ``2204197T``).
- ``DE_HR``: German commercial register number ("Amtsgericht Köln HRB 1234" -> ``HRB1234``).
- ``FR_SIREN``: French SIREN, also read out of a SIRET or an RCS mention (the first nine
  digits identify the company; ``valid`` is its Luhn check).

Unlabelled numbers are taken only from the head of the first page and only with a check letter,
so postcodes, phone numbers and lot numbers ("LOT 1851-A") are not read as one; labelled ones
anywhere outside the buyer's block (German and French invoices print them in the footer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from forensics.fields.layout import TextLine
from forensics.fields.taxids import luhn_valid

T = TypeVar("T")

#: how many lines from the top of page 1 an unlabelled number may stand on
HEAD_LINES = 14
#: a Malaysian registration number: optional letter prefix, digits, optional check letter; the
#: digits may be split once by a space OCR put in ("0037141 85-K") when the check letter follows
_MY_VALUE = (r"(?P<p>[A-Z]{1,2}(?=\d))?(?P<d>\d{3,10}\s\d{1,3}(?=\s?-*\s?[A-Z](?![A-Z0-9]))|\d{4,12})"
             r"(?:\s?-*\s?(?P<c>[A-Z]))?(?![A-Z0-9])")
#: the label of a company registration (not of a GST, SST or VAT registration)
_MY_LABEL = re.compile(
    r"(?:\bCO(?:MPANY)?\b\.?\s*[-.]?\s*(?:REG(?:ISTRATION)?|RE[I1L])\b\.?\s*(?:N[O0A]\b\.?|#)?"
    r"|\bCO(?:MPANY)?\b\.?\s*N[O0]W?\b\.?|\bROC\b(?:\s*NO\b\.?)?|\bBR\s*NO\b\.?"
    r"|\bBUSINESS\s*REG(?:ISTRATION)?\b\.?(?:\s*NO\b\.?)?)"
    r"[\s:;.,#+]*[(\[{<]?\s*" + _MY_VALUE,
)
#: words that make a registration a tax one, or the buyer's
_NOT_COMPANY = re.compile(r"\b(GST|SST|TAX|VAT|TIN|UST|MWST|TVA)\b", re.IGNORECASE)
#: an unlabelled number in brackets ("(913462-U)", "{92586-F}", "(No. 198673-M )")
_BRACKETED = re.compile(r"[(\[{<]\s*(?:NO\b\.?\s*)?" + _MY_VALUE + r"\s*[)\]}>]?")
#: an unlabelled number right after a legal form ("KEK CONTOH S/B 384611-U")
_AFTER_LEGAL_FORM = re.compile(r"(?:SDN\.?\s*BHD\.?|\bBHD\.?|S/B)\s*" + _MY_VALUE)
#: a line that is only a registration number ("731826-X", "JM0326955-V ;")
_ONLY_NUMBER = re.compile(r"^[\s|(\[{<]*" + _MY_VALUE + r"[\s)\]}>|.,:;]*$")
#: German commercial register (HRA/HRB) with its number and an optional court letter ("HRB 12345 B")
_DE_HR = re.compile(r"\b(?P<k>HR\s?[AB])\b\s*(?:Nr\.?|Nummer)?\s*[:.]?\s*(?P<d>\d{1,7})(?:\s(?P<c>[A-Z])(?![\w]))?")
#: French SIRET, SIREN and RCS mentions
_FR_SIRET = re.compile(r"\bSIRET\b\W{0,6}(?P<d>\d{3}\s?\d{3}\s?\d{3})\s?\d{5}(?!\d)", re.IGNORECASE)
_FR_SIREN = re.compile(r"\bSIREN\b\W{0,6}(?P<d>\d{3}\s?\d{3}\s?\d{3})(?!\s?\d)", re.IGNORECASE)
_FR_RCS = re.compile(
    r"\bR\.?\s?C\.?\s?S\.?\s+(?:[A-ZÀ-Ý][\w'\-]*\s+){0,3}(?:[AB]\s+)?(?P<d>\d{3}\s?\d{3}\s?\d{3})(?!\s?\d)"
)
#: lines of the buyer's block (its registration number is not the merchant's)
_BUYER_WORDS = re.compile(r"\b(customer|kunde|client|buyer|acheteur|destinataire|bill\s*to|sold\s*to)\b", re.IGNORECASE)
#: how many lines after a buyer label belong to the buyer's block
BUYER_BLOCK = 6


@dataclass(frozen=True)
class RegNo:
    """A registration number found on one line."""

    value: str
    scheme: str
    raw: str
    start: int
    end: int
    labelled: bool
    valid: bool = True


def normalise_my(prefix: str | None, digits: str, check: str | None) -> str:
    """``JM0326955-V`` -> ``JM326955V``, ``02204197-T`` -> ``2204197T``."""
    return (prefix or "") + (digits.lstrip("0") or "0") + (check or "")


def _my(m: re.Match[str], labelled: bool) -> RegNo | None:
    digits = re.sub(r"\s", "", m.group("d"))
    if len(digits.lstrip("0")) < 4 or len(digits) > 12:
        return None
    if not labelled and not m.group("c"):
        return None  # unlabelled numbers need their check letter: "(12345)" may be anything
    value = normalise_my(m.group("p"), digits, m.group("c"))
    start = m.start("p") if m.group("p") else m.start("d")
    end = m.end("c") if m.group("c") else m.end("d")
    return RegNo(value, "MY_ROC", m.string[start:end], start, end, labelled)


def find_reg_nos(text: str, *, head: bool) -> list[RegNo]:
    """Registration numbers on one line; unlabelled ones only on a ``head`` line."""
    out: list[RegNo] = []
    upper = text.upper()
    for m in _DE_HR.finditer(text):
        value = re.sub(r"\s", "", m.group("k")).upper() + m.group("d").lstrip("0") + (m.group("c") or "")
        out.append(RegNo(value, "DE_HR", m.group(0), m.start(), m.end(), True))
    for pattern in (_FR_SIRET, _FR_SIREN, _FR_RCS):
        for m in pattern.finditer(text):
            siren = re.sub(r"\s", "", m.group("d"))
            out.append(RegNo(siren, "FR_SIREN", m.group(0), m.start(), m.end(), True, luhn_valid(siren)))
    if out:
        return sorted(out, key=lambda r: r.start)
    for m in _MY_LABEL.finditer(upper):
        if _NOT_COMPANY.search(upper[max(0, m.start() - 12) : m.start("d")]):
            continue  # "GST Reg No", "(GST Reg. No : ...)"
        found = _my(m, True)
        if found:
            out.append(found)
    if out or not head:
        return out
    for pattern in (_ONLY_NUMBER, _AFTER_LEGAL_FORM, _BRACKETED):
        for m in pattern.finditer(upper):
            if _NOT_COMPANY.search(upper[: m.start("d")]):
                continue
            found = _my(m, False)
            if found:
                return [found]
    return out


def seller_lines(lines: list[TextLine]) -> Iterator[tuple[int, TextLine]]:
    """(index, line) of the lines outside the buyer's block (a buyer label and the
    :data:`BUYER_BLOCK` lines under it, and lines naming the customer)."""
    from forensics.fields import BUYER_LABEL

    in_buyer = -BUYER_BLOCK - 1
    for i, line in enumerate(lines):
        if BUYER_LABEL.search(line.text):
            in_buyer = i
        if i - in_buyer > BUYER_BLOCK and not _BUYER_WORDS.search(line.text):
            yield i, line


def first_on_seller_lines(lines: list[TextLine], find: Callable[..., list[T]]) -> tuple[TextLine, T] | None:
    """The first thing ``find(text, head=...)`` finds on the seller's lines, with its line;
    ``head`` is true on the first :data:`HEAD_LINES` lines of the first page."""
    first_page = lines[0].page if lines else None
    for i, line in seller_lines(lines):
        found = find(line.text, head=line.page == first_page and i < HEAD_LINES)
        if found:
            return line, found[0]
    return None


def find_merchant_reg_no(lines: list[TextLine]) -> tuple[TextLine, RegNo] | None:
    """The merchant's registration number: the first one outside the buyer's block, labelled
    anywhere or unlabelled in the head of the first page."""
    return first_on_seller_lines(lines, find_reg_nos)


def reg_key(value: str | None, scheme: str | None) -> str | None:
    """The registry's key of a registration number: a Malaysian number without its check
    letter (OCR misreads the letter most: "2204197-T" as "2204197-7"), the others as they are."""
    if not value:
        return None
    if scheme == "MY_ROC":
        value = re.sub(r"(?<=\d)[A-Z]$", "", value)
    return f"reg:{scheme or ''}:{value}"
