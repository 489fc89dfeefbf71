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
#: iotel, Tetal, Jotal, Tota], Tota!); the vowels and the T/L shapes are what Tesseract confuses
TOTAL_WORD = r"(?:total|[tf1ilj][o0ae][tf][ae0o][l1i]|tota[i1\]!|])"
#: the end of a (slipped) total word: no letter follows; "Tota]" has no word boundary after it
TOTAL_END = r"(?![a-z])"
#: labels of the amount due, strongest first (weight added to the candidate's score)
TOTAL_LABELS: list[tuple[float, re.Pattern[str]]] = [
    (3.0, re.compile(
        r"grand\s*total|total\s*after\s*round|rounded\s*total|total\s*rounded|total\s*payable|balance\s*due|amount\s*payable|"
        r"(?:total\s*)?amount\s*due|due\s*payable|net\s*amount|net\s*amt|nett\s*total|\bnett\b|"
        r"gesamtbetrag|rechnungsbetrag|rechnungsbeitrag|endbetrag|zu\s*zahlen|zahlbetrag|bruttobetrag|"
        r"(?:rechnungs)?summe\s*brutto|gesamt\s*brutto|brutto\s*gesamt|"
        r"total\s*ttc|montant\s*ttc|net\s*à\s*payer|net\s*a\s*payer|价税合计|小写",
        re.IGNORECASE)),
    (3.0, re.compile(rf"{TOTAL_WORD}\s*after\s*(?:round|adj)", re.IGNORECASE)),
    # the total with tax is the amount due unless a rounding line follows it
    (2.5, re.compile(rf"{TOTAL_WORD}\s*\(?\s*incl(?:usive|\.)?\s*(?:of\s*)?(?:\d+\s*%\s*)?(?:gst|sst|tax|vat)", re.IGNORECASE)),
    (2.0, re.compile(rf"\b{TOTAL_WORD}{TOTAL_END}|\bfinal\s*tot|\bjumlah\b|\bsumme\b|\bbetrag\b|\btotal\s*amount\b|合计|总计|\bamount\b|\btotals\b|\bttl\b", re.IGNORECASE)),
]
#: labels that contain "total" but are not the amount due
NOT_TOTAL = re.compile(
    rf"sub\s*-?\s*{TOTAL_WORD}|{TOTAL_WORD}\s*(?:qty|quantity|quantities|items?|pcs|units|discount|savings?|saving|"
    r"tax|gst|sst|vat|mwst|excl|exclusive|excluding|before|ht\b|net\b|netto|weight|points?|includes\b|included\b)|"
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
#: weight of the labels that name the amount due outright ("Grand Total", "Total after rounding")
STRONG = 3.0
ROUNDING = re.compile(r"round|rundung|arrondi", re.IGNORECASE)
CASH = re.compile(r"\b(cash|tunai|tendered|paid|bar|espèces|especes)\b|现金", re.IGNORECASE)
CHANGE = re.compile(r"\b(change|baki|balance(?!\s*due)|rückgeld|rendu|monnaie)\b|找零", re.IGNORECASE)


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
    """Amounts with decimals in ``text`` that are not part of a date (``20.03.2014``) nor a
    rate (``GST @0.00%``)."""
    dates = _date_spans(text)
    return [
        a for a in find_amounts(text, decimal_comma=decimal_comma)
        if a.has_decimals and not _overlaps(a.start, a.end, dates)
        and not (PERCENT_AFTER.match(text, a.end) and RATE_BEFORE.search(text[: a.start]))
    ]


#: a percent sign right after a number, and what stands before a rate ("GST @0.00%"): such a
#: number is a rate, not an amount ("TOTAL 63.35%" is an amount with a smudge after it)
PERCENT_AFTER = re.compile(r"\s?%")
RATE_BEFORE = re.compile(r"(?:@|\b(?:gst|sst|vat|tax|mwst|tva))\s*$", re.IGNORECASE)


#: an amount whose decimal point OCR lost or split off: "6 00", "73. 00", "0 .50"; never the
#: year and hour of "14/01/2018 13:51"
SPLIT_DECIMALS = re.compile(r"(?<![\d.,/:-])(?P<i>\d{1,6})(?:[.,]\s|\s[.,]?)(?P<d>\d{2})(?![\d.,:/])")


def _split_decimals(text: str) -> list[AmountMatch]:
    """Amounts with a broken decimal point, read only after a total's label (where an amount
    must stand); elsewhere "6 00" could as well be a quantity and a code."""
    dates = _date_spans(text)
    return [
        AmountMatch(Decimal(f"{m.group('i')}.{m.group('d')}"), m.group(0), m.start(), m.end(), None, True)
        for m in SPLIT_DECIMALS.finditer(text)
        if not _overlaps(m.start(), m.end(), dates)
    ]


def _date_spans(text: str) -> list[tuple[int, int]]:
    return [(d.start, d.end) for d in find_dates(text)]


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


#: most rows of amounts read under a column heading (a tax breakdown: a row a rate and a sum)
COLUMN_ROWS = 6
#: currency codes and marks a row of amounts may carry besides its numbers
_CURRENCY_MARKS = re.compile(r"\b(?:RM|MYR|EUR|USD|GBP|CHF|SGD)\b|[€$£¥]", re.IGNORECASE)


def _column_amount(lines: list[TextLine], i: int, label_start: int, label_end: int,
                   decimal_comma: bool | None) -> tuple[TextLine, AmountMatch] | None:
    """The amount under a total's label that heads a column: a heading row of three words or
    more with no amount, over two or more rows of amounts only ("Nettobetrag MwSt-Betrag
    MwSt-% Endbetrag" over a row a tax rate and their sum). The last row's amount standing
    under the label is the total; one row, or rows with words, are left to
    :func:`_line_amount`."""
    head = lines[i]
    if len(head.text.split()) < 3 or _priced(head.text, decimal_comma):
        return None
    hx0, _, hx1, _ = head.span_box(label_start, label_end)
    rows: list[tuple[TextLine, AmountMatch]] = []
    for row in lines[i + 1 : i + 1 + COLUMN_ROWS]:
        if sum(c.isalpha() for c in _CURRENCY_MARKS.sub("", row.text)) > 1:
            break
        under = [a for a in _priced(row.text, decimal_comma)
                 if (b := row.span_box(a.start, a.end))[0] < hx1 and hx0 < b[2]]
        if not under:
            break
        rows.append((row, under[-1]))
    return rows[-1] if len(rows) >= 2 else None


#: a whole number of three digits or more alone at the end of a line: an amount whose decimal
#: point OCR lost ("GRAND TOTAL 1000" for 10.00)
LOST_POINT = re.compile(r"(?<![\d.,])(?P<n>\d{3,7})[\s|.:;~_-]*$")


def _lost_point(lines: list[TextLine], i: int, label_end: int, decimal_comma: bool | None) -> tuple[TextLine, AmountMatch] | None:
    """The amount after a total's label read as a whole number because OCR lost its decimal
    point, taken only when the same amount with its point is printed elsewhere on the document
    (the subtotal, the tax summary, an item): "GRAND TOTAL 1000" with "SUB TOTAL 10.00"."""
    line = lines[i]
    m = LOST_POINT.search(line.text, label_end)
    if m is None:
        return None
    value = Decimal(m.group("n")).scaleb(-2)
    for k, other in enumerate(lines):
        if k != i and any(a.value == value for a in _priced(other.text, decimal_comma)):
            return line, AmountMatch(value, m.group("n"), m.start("n"), m.end("n"), None, True)
    return None


def find_totals(lines: list[TextLine], *, decimal_comma: bool | None = None) -> dict[str, tuple[TextLine, AmountMatch, float]]:
    """``total``, ``subtotal`` and ``tax`` found by label: (line, amount, confidence) each."""
    out: dict[str, tuple[TextLine, AmountMatch, float]] = {}
    n = max(len(lines), 1)
    rounding_at = max((i for i, ln in enumerate(lines) if ROUNDING.search(ln.text)), default=-1)
    cash = _labelled(lines, CASH, decimal_comma)
    change = _labelled(lines, CHANGE, decimal_comma)
    # change is sometimes printed negative ("CHANGE : - 56.10")
    paid = cash - abs(change) if cash is not None and change is not None else None

    candidates: list[tuple[float, int, TextLine, AmountMatch]] = []
    summary_at = next((i for i, ln in enumerate(lines) if TAX_SUMMARY.search(ln.text)), len(lines))
    for i, line in enumerate(lines):
        strong = any(p.search(line.text) for w, p in TOTAL_LABELS if w >= STRONG)
        if NOT_TOTAL.search(line.text) and not strong:
            continue
        if i > summary_at and not strong:
            continue  # "Total" of the tax summary table under the receipt: per-rate sums
        for weight, pattern in TOTAL_LABELS:
            m = pattern.search(line.text)
            if not m:
                continue
            hit = (_column_amount(lines, i, m.start(), m.end(), decimal_comma)
                   or _line_amount(lines, i, m.end(), decimal_comma) or _lost_point(lines, i, m.end(), decimal_comma))
            if hit is None:
                break
            where, amount = hit
            if amount.value < 0 and weight < STRONG:
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
        elif (grossed := _tax_added_below(lines, best[1], best[3].value, decimal_comma)) is not None:
            out["total"] = (grossed[0], grossed[1], min(1.0, 0.5 + best[0] / 8))
    elif paid is not None and paid > 0:
        # on the first payment line with an amount ("Paid Time 13:51" carries none)
        for i, line in enumerate(lines):
            m = CASH.search(line.text)
            hit = _line_amount(lines, i, m.end(), decimal_comma) if m else None
            if hit:
                out["total"] = (hit[0], AmountMatch(paid, hit[1].raw, hit[1].start, hit[1].end, hit[1].currency, True), 0.3)
                break

    for key, pattern in (("subtotal", SUBTOTAL_LABEL), ("tax", TAX_LABEL)):
        for i, line in enumerate(lines):
            m = pattern.search(line.text)
            if not m or (key == "tax" and SUBTOTAL_LABEL.search(line.text)):
                continue
            hit = _line_amount(lines, i, m.end(), decimal_comma)
            if hit and key == "tax" and "total" in out and hit[1].value == out["total"][1].value != 0:
                continue  # "Total Incl. GST@6% RM 15.40": the total, naming its tax
            if hit:
                out[key] = (hit[0], hit[1], 0.7)
                break
    if "total" not in out:
        found = _total_from_parts(lines, out, rounding_at, decimal_comma)
        due = paid if paid is not None else cash if change is None else None
        if found is not None:
            out["total"] = found
        elif "subtotal" in out and due is not None and due > 0 and out["subtotal"][1].value == due:
            # no total line, and what was paid is the subtotal: the subtotal was the amount due
            out["total"] = (out["subtotal"][0], out["subtotal"][1], 0.3)
        elif cash is not None and cash > 0 and change is None and "subtotal" not in out:
            # no total, subtotal or change read: an exact payment, what was paid was due
            for i, line in enumerate(lines):
                m = CASH.search(line.text)
                hit = _line_amount(lines, i, m.end(), decimal_comma) if m else None
                if hit:
                    out["total"] = (hit[0], hit[1], 0.3)
                    break
    elif paid is None or out["total"][1].value != paid:
        # a labelled total that is not subtotal + tax while a line under them is: OCR slipped a
        # digit of the total ("TOTAL 728.10" over "DEBIT CARD 78.10" for 74.04 + 4.04)
        summed = _summed_total(lines, out, decimal_comma)
        if summed is not None and abs(summed[1].value - out["total"][1].value) > ROUNDING_STEP:
            out["total"] = summed
    return out


def _summed_total(lines: list[TextLine], out: dict, decimal_comma: bool | None):  # noqa: ANN202
    """The first amount under the subtotal and tax lines that equals their sum (to the
    cash-rounding step), as (line, amount, confidence), or None. The tax is the one printed
    on its own line (label and amount) within a few lines under the subtotal."""
    if "subtotal" not in out:
        return None
    sub_at = next((k for k, ln in enumerate(lines) if ln is out["subtotal"][0]), -1)
    tax_at, tax = -1, None
    for k in range(sub_at + 1, min(sub_at + 5, len(lines))):
        m = TAX_LABEL.search(lines[k].text)
        found = _priced(lines[k].text[m.end():], decimal_comma) if m and not SUBTOTAL_LABEL.search(lines[k].text) else []
        if found:
            tax_at, tax = k, found[-1].value
            break
    sub = out["subtotal"][1].value
    if sub_at < 0 or tax is None or not 0 <= tax < sub:
        return None
    expected = sub + tax
    for k in range(tax_at + 1, len(lines)):
        line = lines[k]
        if CHANGE.search(line.text):
            continue
        for a in _priced(line.text, decimal_comma) or _split_decimals(line.text):
            if a.value == expected or abs(a.value - expected) <= ROUNDING_STEP and a.value * 20 == int(a.value * 20):
                return line, a, 0.4
    return None


def _total_from_parts(lines: list[TextLine], out: dict, rounding_at: int, decimal_comma: bool | None):  # noqa: ANN202
    """The total when no line carries a readable total label: the amount printed under the
    subtotal and tax lines that equals their sum (to the cash-rounding step), else the last
    subtotal when it stands after the tax or rounding line (receipts that print the amount
    due as "SUBTOTAL")."""
    summed = _summed_total(lines, out, decimal_comma)
    if summed is not None:
        return summed
    at = {key: next((k for k, ln in enumerate(lines) if ln is out[key][0]), -1) for key in ("subtotal", "tax") if key in out}
    last = None
    for k, line in enumerate(lines):
        m = SUBTOTAL_LABEL.search(line.text)
        hit = _line_amount(lines, k, m.end(), decimal_comma) if m else None
        if hit:
            last = (k, hit)
    if last is not None:
        k, (line, amount) = last
        after_tax = "tax" in at and 0 <= at["tax"] < k
        if after_tax or 0 <= rounding_at < k:
            return line, amount, 0.3
    return None


#: how many lines under an amount its tax, and under the tax their sum, are looked for
TAX_ADDED_WITHIN = 3


def _tax_added_below(lines: list[TextLine], at: int, value, decimal_comma: bool | None):  # noqa: ANN001, ANN202
    """The amount printed under a tax line that is ``value`` (the total chosen, on line ``at``)
    plus that tax, as (line, amount): "Gross Amount 40.00 / Total GST 2.40 / Sub Total 42.40"
    prints the amount due last, under a label weaker than the first. None when there is none."""
    for k in range(at + 1, min(at + 1 + TAX_ADDED_WITHIN, len(lines))):
        m = TAX_LABEL.search(lines[k].text)
        taxes = _priced(lines[k].text[m.end():], decimal_comma) if m else []
        if not taxes or not 0 < taxes[-1].value < value:
            continue
        want = value + taxes[-1].value
        for j in range(k + 1, min(k + 1 + TAX_ADDED_WITHIN, len(lines))):
            if CASH.search(lines[j].text) or CHANGE.search(lines[j].text):
                continue
            for a in _priced(lines[j].text, decimal_comma):
                if a.value == want:
                    return lines[j], a
        return None
    return None


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
