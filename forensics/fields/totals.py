"""Total, subtotal and tax, chosen by what their labels mean, not by size.

The grand total is the amount the buyer owes after rounding: labels that say so outrank a plain
``Total``; a total printed after a rounding line outranks one before it; a total that equals
cash tendered minus change is confirmed by the payment lines.
"""

from __future__ import annotations

import re
from decimal import Decimal

from forensics.fields.amounts import AmountMatch, find_amounts
from forensics.fields.dates import find_dates
from forensics.fields.layout import TextLine

#: "TOTAL" as OCR reads it on faded till rolls: one letter of it slipped (Tatal, Totai, Fotal,
#: iotel); the vowels and the T/L shapes are what Tesseract confuses
TOTAL_WORD = r"(?:total|[tf1il][o0a][tf][ae0o][l1i]|tota[i1])"
#: labels of the amount due, strongest first (weight added to the candidate's score)
TOTAL_LABELS: list[tuple[float, re.Pattern[str]]] = [
    (3.0, re.compile(
        r"grand\s*total|total\s*after\s*round|rounded\s*total|total\s*payable|amount\s*payable|"
        r"(?:total\s*)?amount\s*due|due\s*payable|net\s*amount|net\s*amt|nett\s*total|\bnett\b|"
        r"gesamtbetrag|rechnungsbetrag|rechnungsbeitrag|endbetrag|zu\s*zahlen|zahlbetrag|bruttobetrag|"
        r"(?:rechnungs)?summe\s*brutto|gesamt\s*brutto|brutto\s*gesamt|"
        r"total\s*ttc|montant\s*ttc|net\s*à\s*payer|net\s*a\s*payer|价税合计|小写",
        re.IGNORECASE)),
    (3.0, re.compile(rf"{TOTAL_WORD}\s*after\s*round", re.IGNORECASE)),
    # the total with tax is the amount due unless a rounding line follows it
    (2.5, re.compile(rf"{TOTAL_WORD}\s*\(?\s*incl(?:usive|\.)?\s*(?:of\s*)?(?:\d+\s*%\s*)?(?:gst|sst|tax|vat)", re.IGNORECASE)),
    (2.0, re.compile(rf"\b{TOTAL_WORD}\b|\bfinal\s*tot|\bjumlah\b|\bsumme\b|\bbetrag\b|\btotal\s*amount\b|合计|总计|\bamount\b|\btotals\b|\bttl\b", re.IGNORECASE)),
]
#: labels that contain "total" but are not the amount due
NOT_TOTAL = re.compile(
    r"sub\s*-?\s*total|total\s*(?:qty|quantity|quantities|items?|pcs|units|discount|savings?|saving|"
    r"tax|gst|sst|vat|mwst|excl|exclusive|excluding|before|ht\b|net\b|netto|weight|points?)|"
    r"zwischensumme|nettobetrag|netto|\bht\b|montant\s*ht|total\s*hors|gst\s*summary|"
    r"excl\.?\s*gst|excluding\s*gst|tax\s*amount|change|tendered|cash|rounding|qty|"
    r"offener\s*betrag|bereits\s*bezahlt|already\s*paid|anzahlung|"
    r"(?:rechnungs)?summe\s*netto|steuerbasisbetrag|basisbetrag|rabattbetrag",
    re.IGNORECASE,
)
SUBTOTAL_LABEL = re.compile(
    r"sub\s*-?\s*total|zwischensumme|nettobetrag|summe\s*netto|total\s*(?:excl|ht|net)|montant\s*ht|"
    r"total\s*hors\s*taxe|金额合计|total\s*sales\s*\(?excl",
    re.IGNORECASE,
)
TAX_LABEL = re.compile(
    r"total\s*(?:gst|sst|tax|vat)|\b(?:gst|sst|vat|tax|mwst|ust|tva|umsatzsteuer)\b(?!\s*(?:id|reg|no|nr|summary|code|invoice))|税额|税\s*额",
    re.IGNORECASE,
)
ROUNDING = re.compile(r"round|rundung|arrondi", re.IGNORECASE)
CASH = re.compile(r"\b(cash|tunai|tendered|paid|bar|espèces|especes)\b|现金", re.IGNORECASE)
CHANGE = re.compile(r"\b(change|baki|balance|rückgeld|rendu|monnaie)\b|找零", re.IGNORECASE)


def _line_amount(lines: list[TextLine], i: int, label_end: int, decimal_comma: bool | None) -> tuple[TextLine, AmountMatch] | None:
    """The amount a label on line ``i`` refers to: the last priced one after it, else the next line's."""
    line = lines[i]
    found = _priced(line.text[label_end:], decimal_comma) or _split_decimals(line.text[label_end:])
    if found:
        a = found[-1]
        shift = label_end
        return line, AmountMatch(a.value, a.raw, a.start + shift, a.end + shift, a.currency, True)
    if i + 1 < len(lines):
        nxt = lines[i + 1]
        found = _priced(nxt.text, decimal_comma)
        # the amount alone on the next line (a currency mark at most), never a labelled line
        # such as "CASH 10.00" under a total whose amount OCR lost
        bare = re.sub(r"\b(?:RM|MYR|SGD|USD|EUR|S\$|\$|€)\b", "", nxt.text, flags=re.IGNORECASE)
        if found and sum(c.isalpha() for c in bare) <= 1:
            return nxt, found[-1]
    return None


def _priced(text: str, decimal_comma: bool | None) -> list[AmountMatch]:
    """Amounts with decimals in ``text`` that are not part of a date (``20.03.2014``)."""
    dates = [(d.start, d.end) for d in find_dates(text)]
    return [
        a for a in find_amounts(text, decimal_comma=decimal_comma)
        if a.has_decimals and not any(a.start < e and s < a.end for s, e in dates)
    ]


#: an amount whose decimal point OCR lost or split off: "6 00", "73. 00", "0 .50"
SPLIT_DECIMALS = re.compile(r"(?<![\d.,])(?P<i>\d{1,6})(?:[.,]\s|\s[.,]?)(?P<d>\d{2})(?![\d.,])")


def _split_decimals(text: str) -> list[AmountMatch]:
    """Amounts with a broken decimal point, read only after a total's label (where an amount
    must stand); elsewhere "6 00" could as well be a quantity and a code."""
    return [
        AmountMatch(Decimal(f"{m.group('i')}.{m.group('d')}"), m.group(0), m.start(), m.end(), None, True)
        for m in SPLIT_DECIMALS.finditer(text)
    ]


def find_totals(lines: list[TextLine], *, decimal_comma: bool | None = None) -> dict[str, tuple[TextLine, AmountMatch, float]]:
    """``total``, ``subtotal`` and ``tax`` found by label: (line, amount, confidence) each."""
    out: dict[str, tuple[TextLine, AmountMatch, float]] = {}
    n = max(len(lines), 1)
    rounding_at = max((i for i, ln in enumerate(lines) if ROUNDING.search(ln.text)), default=-1)
    cash = _labelled(lines, CASH, decimal_comma)
    change = _labelled(lines, CHANGE, decimal_comma)
    paid = cash - change if cash is not None and change is not None and change >= 0 else None

    candidates: list[tuple[float, int, TextLine, AmountMatch]] = []
    summary_at = next((i for i, ln in enumerate(lines) if TAX_SUMMARY.search(ln.text)), len(lines))
    for i, line in enumerate(lines):
        if NOT_TOTAL.search(line.text) and not TOTAL_LABELS[0][1].search(line.text):
            continue
        if i > summary_at and not TOTAL_LABELS[0][1].search(line.text):
            continue  # "Total" of the tax summary table under the receipt: per-rate sums
        for weight, pattern in TOTAL_LABELS:
            m = pattern.search(line.text)
            if not m:
                continue
            hit = _line_amount(lines, i, m.end(), decimal_comma)
            if hit is None:
                break
            where, amount = hit
            if amount.value < 0 and weight < TOTAL_LABELS[0][0]:
                break  # a negative plain "total" is a discount line; a credit note says "Total TTC -…"
            score = weight + 0.3 * i / n
            if rounding_at >= 0 and i > rounding_at:
                score += 0.8
            if paid is not None and amount.value == paid:
                score += 1.0
            candidates.append((score, i, where, amount))
            break
    if paid is not None and paid > 0 and not any(c[3].value == paid for c in candidates):
        candidates += _unlabelled_paid(lines, paid, rounding_at, n, decimal_comma)
    if candidates:
        top = max(c[3].value for c in candidates)
        scored = [(s + (0.2 if a.value == top else 0.0), i, w, a) for s, i, w, a in candidates]
        best = max(scored, key=lambda c: (c[0], c[1]))
        out["total"] = (best[2], best[3], min(1.0, 0.5 + best[0] / 8))
        rounded = _rounded_total(lines, best[1], best[3].value, decimal_comma)
        if rounded is not None:
            out["total"] = (rounded[0], rounded[1], min(1.0, 0.5 + best[0] / 8))
    elif paid is not None and paid > 0:
        for i, line in enumerate(lines):
            if CASH.search(line.text):
                hit = _line_amount(lines, i, 0, decimal_comma)
                if hit:
                    out["total"] = (hit[0], AmountMatch(paid, hit[1].raw, hit[1].start, hit[1].end, hit[1].currency, True), 0.3)
                break

    for key, pattern in (("subtotal", SUBTOTAL_LABEL), ("tax", TAX_LABEL)):
        for i, line in enumerate(lines):
            m = pattern.search(line.text)
            if not m or (key == "tax" and SUBTOTAL_LABEL.search(line.text)):
                continue
            hit = _line_amount(lines, i, m.end(), decimal_comma)
            if hit:
                out[key] = (hit[0], hit[1], 0.7)
                break
    return out


#: the header of the per-rate tax table printed under many receipts' totals
TAX_SUMMARY = re.compile(r"(?:gst|tax|vat|sst)\s*summary|summary\s*of\s*(?:gst|tax)|\btax\s*code\b", re.IGNORECASE)
#: largest step of cash rounding (Malaysia and Singapore round cash totals to 0.05)
ROUNDING_STEP = Decimal("0.05")


def _rounded_total(lines: list[TextLine], at: int, value, decimal_comma: bool | None):  # noqa: ANN001, ANN202
    """The rounded total printed on or right under a rounding line after the chosen total
    (``Rounding RM 182.00`` under ``Total Sales (Inclusive GST) RM 181.98``), or None."""
    for k in range(at + 1, min(at + 5, len(lines))):
        line = lines[k]
        # the rounding line itself, or a bare amount right under it ("RM 60.30")
        bare = ROUNDING.search(lines[k - 1].text) and sum(c.isalpha() for c in line.text) <= 3
        if not (ROUNDING.search(line.text) or bare):
            continue
        for a in _priced(line.text, decimal_comma):
            if a.value != value and abs(a.value - value) <= ROUNDING_STEP and a.value * 20 == int(a.value * 20):
                return line, a
    return None


#: weight of an amount without a label that equals cash tendered minus change
UNLABELLED_PAID_WEIGHT = 1.5


def _unlabelled_paid(lines: list[TextLine], paid, rounding_at: int, n: int, decimal_comma: bool | None) -> list:  # noqa: ANN001
    """Lines above the cash line whose amount is what was paid (cash - change): a total whose
    label OCR lost, e.g. the rounded total printed under the rounding line."""
    out = []
    for i, line in enumerate(lines):
        if CASH.search(line.text) or CHANGE.search(line.text):
            continue
        for a in _priced(line.text, decimal_comma):
            if a.value == paid:
                score = UNLABELLED_PAID_WEIGHT + 1.0 + 0.3 * i / n + (0.8 if 0 <= rounding_at < i else 0.0)
                out.append((score, i, line, a))
    return out


def _labelled(lines: list[TextLine], pattern: re.Pattern[str], decimal_comma: bool | None):  # noqa: ANN202
    for i, line in enumerate(lines):
        m = pattern.search(line.text)
        if m:
            hit = _line_amount(lines, i, m.end(), decimal_comma)
            if hit:
                return hit[1].value
    return None
