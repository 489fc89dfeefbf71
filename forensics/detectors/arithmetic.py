"""Arithmetic: do the printed amounts add up?

Relations checked, each only when every number it needs was read:

- the total against subtotal + tax (+ service charge, - discount, + rounding), or against the
  subtotal alone when prices include tax;
- the line items (quantity x unit price = amount; their sum against subtotal or total);
- the tax against its printed rate;
- the change against cash tendered minus the total;
- the tax rate against the rates in force for the currency;
- every total printed on the page against the others (see "printed totals" below).

OCR misreads make honest receipts fail a relation now and then, so a single failed relation is
only noted (``info``); it counts (``medium``) when another relation blames the same number, and
``high`` when three do.

Receipts print their total several times (TOTAL, Total incl. GST, the rounded total, cash minus
change, the GST summary table) and a forger repaints one of them, which need not be the one the
extractor chose as "the" total. So every total-like amount printed on the page is gathered, and
a printed total that stands alone against a value two or more independent relations agree on is
a ``medium`` finding (``high`` with three), naming both numbers and their boxes. Honest receipts
are guarded: one or two confusable digits off (3/8, 1/7, 5/6, 0/8, ...) is a misread; a total
that is the agreed net amount plus a printed tax, service or rounding is the gross; counts,
savings and per-rate parts are not totals; and the lone total must be at least 10% above the
agreed value (forgers raise the total; honest near-misses stay far below that). A lowered
total is not looked for by this check: measured symmetric, 14 of 220 honest SROIE receipts
printed a "total" line well below the agreed value (partial totals, totals before service), so
lowered totals are left to the other relations and to local_edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import combinations
from typing import Any

from forensics.detectors import Analysis, StoreView
from forensics.fields.amounts import find_amounts
from forensics.model import Box, CheckResult, Field, Finding, Line

#: one cent: amounts are compared to this precision
CENT = Decimal("0.01")
#: largest difference (currency units) still read as equal: per-line rounding on receipts
TOLERANCE = Decimal("0.011")
#: currencies whose cash payments are rounded (to 0.05) without always printing a rounding line
CASH_ROUNDED = {"MYR": Decimal("0.05"), "CHF": Decimal("0.05"), "SGD": Decimal("0.05"),
                "AUD": Decimal("0.05"), "NZD": Decimal("0.10"), "CAD": Decimal("0.05")}
#: tax rates (percent) in force or recently in force, by currency; a receipt in that currency
#: printing another rate is implausible. Absent currencies (USD sales tax varies) are not checked.
PLAUSIBLE_RATES: dict[str, frozenset[Decimal]] = {
    code: frozenset(Decimal(r) for r in rates.split())
    for code, rates in {
        # GST 6% (2015-2018), SST sales 5/10%, service tax 6/8%
        "MYR": "0 5 6 8 10",
        # EU standard and reduced rates of DE, FR, IT, ES, NL, BE, AT, PL, PT, IE, LU, FI, ...
        "EUR": "0 2.1 3 4 5 5.5 6 7 8 9 10 12 13 14 16 17 19 20 21 22 23 24 25 25.5 13.5 9.5 "
               "18 11 15",
        "GBP": "0 5 12.5 15 17.5 20",
        # VAT 17/16/13%, 11/10/9%, 6%, small-scale 3/1%, 5% (simplified)
        "CNY": "0 1 3 5 6 9 10 11 13 16 17",
        "PLN": "0 5 7 8 22 23",
        "CHF": "2.5 2.6 3.7 3.8 7.6 7.7 8 8.1",
        "SGD": "7 8 9",
        "SEK": "0 6 12 25",
        "DKK": "0 25",
        "CZK": "0 10 12 15 21",
        "HUF": "0 5 18 27",
        "JPY": "5 8 10",
    }.items()
}

#: labels of amount lines that adjust the total, by kind; sign applied to the total
ADJUSTMENTS: dict[str, tuple[re.Pattern[str], int]] = {
    "rounding": (re.compile(r"\bROUND(?:ING)?\b|\bRND\b|\bRUNDUNG\b|\bARRONDI", re.I), 1),
    "discount": (re.compile(r"\bDISC(?:OUNT)?\b|\bRABATT\b|\bREMISE\b|\bPROMO\b|\bSCONTO\b|"
                            r"\bDESCUENTO\b|\bVOUCHER\b|\bCOUPON\b", re.I), -1),
    "service": (re.compile(r"\bSERVICE\s*(?:CHARGE|CHRG|CHG|TAX)?\b|\bSVC\b|\bS/C\b|\bTIPS?\b|"
                           r"\bTRINKGELD\b|\bPOURBOIRE\b", re.I), 1),
}
#: largest tax as a share of the amount it is levied on (highest VAT rates are 27%)
MAX_TAX_SHARE = Decimal("0.3")
#: OCR confidence (0..1) every number of a relation needs before its failure counts
TRUSTED_CONFIDENCE = 0.85
#: labels of lines that state a total (where an extractor may have found "the" total)
TOTAL_LABEL = re.compile(r"\b(?:TOTAL|AMOUNT|AMT|DUE|NETT|NET|GRAND|JUMLAH|SUMME|BETRAG|PAYABLE|"
                         r"TTC|ROUNDED)\b", re.I)
#: labels of the cash tendered and the change given
TENDERED = re.compile(r"\b(?:CASH|TENDERED?|BAR|ESP[EÈ]CES|CONTANTI|EFECTIVO|PAID)\b", re.I)
CHANGE = re.compile(r"\b(?:CHANGE|R[UÜ]CKGELD|RENDU|RESTO|CAMBIO|BALANCE DUE)\b", re.I)


@dataclass(frozen=True)
class Amount:
    """One amount the checks use: value, what it is, where it is printed."""

    name: str
    value: Decimal
    page: int | None = None
    box: Box | None = None

    @property
    def text(self) -> str:
        return f"{self.value:.2f}"


def _dec(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        d = Decimal(str(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _field_amount(fields: dict[str, Field], name: str) -> Amount | None:
    f = fields.get(name)
    value = _dec(f.value) if f else None
    if f is None or value is None:
        return None
    return Amount(name, value, f.page, f.box)


def _line_amount(line: Line) -> Decimal | None:
    """The last amount with decimals on a line (the value column of a 'LABEL ... 1.23' line)."""
    found = [m for m in find_amounts(line.text) if m.has_decimals]
    return found[-1].value if found else None


def labelled_amounts(analysis: Analysis) -> dict[str, Amount]:
    """Adjustment, tendered and change amounts read from their labelled lines (first of each)."""
    out: dict[str, Amount] = {}
    for page, line in analysis.reading.lines():
        text = line.text
        kinds = [k for k, (rx, _s) in ADJUSTMENTS.items() if rx.search(text)]
        if TENDERED.search(text) and not CHANGE.search(text):
            kinds.append("tendered")
        elif CHANGE.search(text):
            kinds.append("change")
        if len(kinds) != 1 or kinds[0] in out:
            continue
        value = _line_amount(line)
        if value is None:
            continue
        kind = kinds[0]
        if kind in ADJUSTMENTS:
            # discounts are printed with or without a minus; rounding keeps its sign
            value = abs(value) * ADJUSTMENTS[kind][1] if kind != "rounding" else value
        out[kind] = Amount(kind, value, page, line.box)
    return out


def _close(a: Decimal, b: Decimal, tol: Decimal = TOLERANCE) -> bool:
    return abs(a - b) <= tol


def _total_tolerance(currency: str | None, adjustments: dict[str, Amount]) -> Decimal:
    step = CASH_ROUNDED.get(currency or "")
    if step is not None and "rounding" not in adjustments:
        return step / 2 + TOLERANCE
    return TOLERANCE


@dataclass(frozen=True)
class Failure:
    """One relation that does not hold: the numbers that disagree and a reviewer's sentence."""

    check: str
    culprit: Amount
    others: tuple[Amount, ...]
    expected: Decimal
    message: str


def check_total(total: Amount, subtotal: Amount | None, tax: Amount | None,
                adjustments: dict[str, Amount], tol: Decimal) -> Failure | None:
    """total = subtotal (+ tax) + any subset of the adjustments read."""
    if subtotal is None:
        return None
    adj = [a for k, a in adjustments.items() if k in ADJUSTMENTS]
    bases = [subtotal.value]
    if tax is not None:
        bases.insert(0, subtotal.value + tax.value)
    for base in bases:
        for n in range(len(adj) + 1):
            for combo in combinations(adj, n):
                if _close(total.value, base + sum((a.value for a in combo), Decimal(0)), tol):
                    return None
    expected = bases[0] + sum((a.value for a in adj), Decimal(0))
    parts = [f"the subtotal {subtotal.text}"]
    if tax is not None:
        parts.append(f"tax {tax.text}")
    parts += [f"{a.name} {a.text}" for a in adj]
    others = (subtotal,) + ((tax,) if tax else ()) + tuple(adj)
    return Failure("total", total, others, expected,
                   f"The total {total.text} does not equal {_join(parts)} ({expected:.2f}).")


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def check_change(total: Amount, adjustments: dict[str, Amount],
                 currency: str | None = None) -> Failure | None:
    """change = tendered - total (cash payments)."""
    tendered, change = adjustments.get("tendered"), adjustments.get("change")
    if tendered is None or change is None or tendered.value < change.value:
        return None
    expected = tendered.value - change.value
    if _close(total.value, expected) or expected <= 0:
        return None
    # a rounded cash total differs from the printed total by the rounding only
    rounding = adjustments.get("rounding")
    if rounding is not None and _close(total.value + rounding.value, expected):
        return None
    step = CASH_ROUNDED.get(currency or "")
    if rounding is None and step is not None and abs(total.value - expected) < step:
        return None
    return Failure("change", total, (tendered, change), expected,
                   f"The total {total.text} does not match the cash tendered {tendered.text} "
                   f"minus the change {change.text} ({expected:.2f}).")


def item_rows(field: Field | None) -> list[dict[str, Decimal | None]]:
    """Line items as decimals (None where a part was not read)."""
    if field is None or not isinstance(field.value, list):
        return []
    rows = []
    for item in field.value:
        if not isinstance(item, dict):
            continue
        rows.append({k: _dec(item.get(k)) for k in ("quantity", "unit_price", "amount")})
    return rows


def check_items(items: Field | None, total: Amount | None, subtotal: Amount | None,
                adjustments: dict[str, Amount]) -> list[Failure]:
    """Each row's quantity x price = amount; the rows' sum against subtotal or total."""
    rows = item_rows(items)
    out: list[Failure] = []
    where = Amount("line_items", Decimal(0), items.page if items else None, items.box if items else None)
    for i, row in enumerate(rows):
        q, p, a = row["quantity"], row["unit_price"], row["amount"]
        if q is None or p is None or a is None or q <= 0:
            continue
        if not _close((q * p).quantize(CENT), a, TOLERANCE + Decimal("0.005") * q):
            out.append(Failure("line_item", Amount(f"line item {i + 1} amount", a, where.page, where.box),
                               (), q * p, f"Line item {i + 1} shows {q.normalize():f} x {p:.2f} = "
                               f"{a:.2f}, but {q.normalize():f} x {p:.2f} is {q * p:.2f}."))
    amounts = [r["amount"] for r in rows]
    if len(amounts) < 2 or any(a is None for a in amounts):
        return out
    items_sum = sum(amounts, Decimal(0))  # type: ignore[arg-type]
    candidates = [a for a in (subtotal, total) if a is not None]
    if not candidates:
        return out
    disc = [a for k, a in adjustments.items() if k in ("discount", "service")]
    for target in candidates:
        for n in range(len(disc) + 1):
            for combo in combinations(disc, n):
                if _close(target.value, items_sum + sum((a.value for a in combo), Decimal(0)),
                          TOLERANCE * len(amounts)):
                    return out
    target = candidates[0]
    out.append(Failure("items_sum", target, (where,), items_sum,
                       f"The {len(amounts)} line items add up to {items_sum:.2f}, but the "
                       f"{target.name} says {target.text}."))
    return out


def check_tax_rate(tax: Amount | None, rate_field: Field | None, subtotal: Amount | None,
                   total: Amount | None, currency: str | None, n_items: int) -> list[Failure]:
    """The tax against its printed rate, and the rate against those in force for the currency."""
    rate = _dec(rate_field.value) if rate_field else None
    if rate is None or rate_field is None:
        return []
    out: list[Failure] = []
    rate_amount = Amount("tax_rate", rate, rate_field.page, rate_field.box)
    allowed = PLAUSIBLE_RATES.get(currency or "")
    if allowed is not None and rate not in allowed:
        out.append(Failure("tax_rate", rate_amount, (), rate,
                           f"The tax rate {rate.normalize():f}% is not a rate in force for "
                           f"{currency} receipts."))
    if tax is None or rate <= 0 or rate >= 100:
        return out
    tol = TOLERANCE + Decimal("0.005") * max(1, n_items)
    bases = _tax_bases(rate, tax, subtotal, total)
    # a rate not in force was likelier misread ("GST@4%" for 6%) than charged: a tax that one in
    # force explains leaves the amounts agreeing (the rate's own finding stays)
    doubted = allowed is not None and rate not in allowed
    others = [b for r in (allowed or ()) if doubted and 0 < r < 100 for b in _tax_bases(r, tax, subtotal, total)]
    if bases and not any(_close(tax.value, b, tol) for b in bases + others):
        base = subtotal or total
        assert base is not None
        out.append(Failure("tax", tax, (rate_amount, base), bases[0],
                           f"The tax {tax.text} is not {rate.normalize():f}% of the "
                           f"{base.name} {base.text}."))
    return out


def _tax_bases(rate: Decimal, tax: Amount, subtotal: Amount | None, total: Amount | None) -> list[Decimal]:
    """What a tax at ``rate`` comes to: on the subtotal (added or included) or in the total."""
    bases = []
    if subtotal is not None:
        bases += [subtotal.value * rate / 100, subtotal.value * rate / (100 + rate)]
    if total is not None:
        bases += [total.value * rate / (100 + rate), (total.value - tax.value) * rate / 100]
    return bases


def tax_supports(tax: Amount | None, rate_field: Field | None, subtotal: Amount | None) -> bool:
    """True when tax, rate and subtotal agree with each other (the total left aside)."""
    rate = _dec(rate_field.value) if rate_field else None
    if tax is None or subtotal is None or rate is None or not 0 < rate < 100:
        return False
    return any(_close(tax.value, b, TOLERANCE * 2) for b in _tax_bases(rate, tax, subtotal, None))


def items_support(items: Field | None, subtotal: Amount | None) -> bool:
    """True when two or more line items add up to the subtotal (the total left aside)."""
    amounts = [r["amount"] for r in item_rows(items)]
    if subtotal is None or len(amounts) < 2 or any(a is None for a in amounts):
        return False
    return _close(sum(amounts, Decimal(0)), subtotal.value, TOLERANCE * len(amounts))  # type: ignore[arg-type]


def _ocr_confidence(analysis: Analysis, amount: Amount) -> float:
    """Lowest OCR confidence of the words printing ``amount`` (1.0 for text layers and XML)."""
    for p in analysis.reading.pages:
        if p.page != amount.page or p.source != "ocr" or amount.box is None:
            continue
        b = amount.box
        confs = [w.confidence for w in p.words
                 if w.box[0] < b[2] and b[0] < w.box[2] and w.box[1] < b[3] and b[1] < w.box[3]]
        return min(confs, default=0.0)
    return 1.0


def printed_elsewhere(analysis: Analysis, value: Decimal, total: Amount) -> bool:
    """True when ``value`` is printed on another total-like line: the extractor chose another."""
    for page, line in analysis.reading.lines():
        if page == total.page and total.box is not None and line.box == total.box:
            continue
        if not TOTAL_LABEL.search(line.text):
            continue
        if any(_close(abs(m.value), value) for m in find_amounts(line.text)):
            return True
    return False


# --------------------------------------------------------------------------- printed totals
# A receipt prints its total several times (TOTAL, Total incl. GST, after rounding, cash minus
# change, the GST summary table). A forger repaints one of them; the others, and the amounts
# they are made of, still agree with each other. So every total-like amount printed on the page
# is gathered, and one total line that stands alone against a value that several independent
# relations agree on is the finding, whichever of them the extractor chose as "the" total.

#: a tax word as labels print it (TAK: how OCR reads TAX on faded rolls)
_TAX_WORD = r"(?:GST|SST|TAX|VAT|MWST|TAK)"
#: total-like labels: "TOTAL" as OCR reads it (Tatal, Totai, Jotal, otal), TTL, NETT, ...
TOTAL_LIKE = re.compile(
    r"\b(?:[TFJ1IL!]?[O0A][TF][AE0O][L1I!]\w*|TOTA[I1]|TTL|NETT?\s*(?:TOTAL|AMT|AMOUNT)|GRAND|"
    r"JUMLAH|PAYABLE|AMOUNT\s*DUE|SUMME|BETRAG)", re.I)
#: labels that say "total" of something other than money due: counts, savings, tenders
NOT_DUE = re.compile(
    r"QTY|QUANTITY|QUANTITIES|\bITEMS?\b|\bPCS\b|\bUNITS?\b|SAVING|DISC|POINT|WEIGHT|"
    r"SUPP|SUPL|TENDER|CHANGE|CASH|PAID|PAYMENT|RECEIVED|BEFORE|DEPOSIT|BALANCE(?!\s*DUE)", re.I)
#: a tax total ("TotalGST", "Total Tax", "GST payable") rather than the amount due
TAX_TOTAL = re.compile(rf"TOTAL\s*{_TAX_WORD}\b(?!\s*INCL)|{_TAX_WORD}\b.*(?:TOTAL|PAYABLE)", re.I)
#: "including tax" before the tax word: a total with its tax, not the tax ("GST @6% included
#: in total" names the tax first)
INCL_TAX = re.compile(rf"\bINC(?:L|LUSIVE|LUDING|\.)?\W*(?:OF\W*)?\w{{0,2}}{_TAX_WORD}", re.I)
#: "including tax" anywhere in a label
INCL = re.compile(r"\bINC(?:L|LUSIVE|LUDING|\b|\.)", re.I)
#: amounts before tax: subtotal (as OCR reads it: SUE-TOTAL, SUB-fOTAL), "Total (Excluding
#: GST)", gross and taxable amounts
EXCL_LABEL = re.compile(r"SU[BE8]\s*-?\s*[TF][O0A]\w{2,3}\b|EXCL|EXCLUDING|\bGROSS\b|NETTO|\bHT\b|"
                        r"TAXABLE", re.I)
#: labels of the money handed over: cash, card and other tenders (their amount minus the
#: change is what was paid)
PAID_LABEL = re.compile(r"\b(?:CASH|TENDERED?|PAYMENT|PAID|RECEIVED|ACCEPTED|VISA|MASTER\w*|CARD|"
                        r"DEBIT|CREDIT|AMEX)\b", re.I)
#: the amount still to pay, however the till words it ("Balance Due", "Amount To Be Paid")
DUE_LABEL = re.compile(r"BALANCE\s*DUE|TO\s*BE\s*PAID|AMOUNT\s*DUE", re.I)
CHANGE_LABEL = re.compile(r"\b(?:CHANGE|BAKI|R[UÜ]CKGELD|RENDU)\b", re.I)
TAX_LABEL = re.compile(rf"\b{_TAX_WORD}|{_TAX_WORD}\b", re.I)
#: service charge as till rolls abbreviate it ("Serv. Charge (10%)", "10% Srv Chg")
SERVICE_SHORT = re.compile(r"\bSERV\b|\bSRV\b|\bSVC\s*CH", re.I)
#: the total of the supplies taxed at one rate ("Total 6% supplies (Inc. GST)", "Total 0%
#: supplies"): the parts of the amount due on invoices that split it by tax rate
PER_RATE = re.compile(r"SUPP|SUPL", re.I)
#: a total label OCR cut down to a fragment ("TO 239.70", "TOP, ; RM 132.13"): a short
#: token starting like TOTAL/TTL and nothing but the amount after it
FRAGMENT = re.compile(r"^\W*(?:TO|TT)\w{0,2}\W*(?:\s+[^\w\s]*)*\s*(?:RM|MYR)?\s*\W*[\d,]+[.,]\s?\d{2}\W*$",
                      re.I)
#: the count line of tills that print the amount due on it ("Total Qty: 4 8.20")
QTY_TOTAL = re.compile(r"TOTAL\s*(?:QTY|QUANTITY)\W*\d+\W", re.I)
#: words that make a total label the amount due whatever else OCR put beside them
DUE_WORD = re.compile(r"\bPAY|\bDUE\b|GRAND|\bNETT?\b|INCL|\bAMOUNT\b", re.I)
#: a printed tax rate ("6%", "@6%", "GST 6 %")
RATE = re.compile(r"(\d{1,2}(?:\.\d{1,2})?)\s*%")
#: the header of the per-rate tax table under many receipts (its rows: net amount, tax)
SUMMARY_HEADER = re.compile(r"SUMM|TAX\s*CODE|AMOUNT\s*\(?\s*RM|AMT\s*\(?\s*RM|AMT\s*\(?\s*MYR", re.I)
#: lines under the summary header read as its rows
SUMMARY_ROWS = 6
#: a word that is an amount: optional sign and currency mark, digits, a decimal point OCR may
#: have split off ("65. 20" is two words, "65." and "20")
_WORD_AMOUNT = re.compile(r"^[^\d\-]{0,3}(-?)(\d{1,3}(?:,\d{3})+|\d{1,7})[.,](\d{2})[^\d]{0,3}$")
#: the amount column at the end of a line (what is left is the label)
_WORD_TAIL = re.compile(r"\S*\d[.,]\s?\d{2}\S*\s*\S?\s*$")
#: letters Tesseract reads for digits on thermal print
_LETTER_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "U": "0", "G": "6", "l": "1",
                               "I": "1", "]": "1", "S": "5", "B": "8"})
#: such a letter right after a digit of a number ("10U.", "38.G0" after "38.", "0.0]")
_IN_NUMBER = re.compile(r"(?<=[\d.,])[OoDUGlI\]SB](?=[\d.,]|$)|(?<=\d[.,])[OoDUGlI\]SB]")
#: a "rounding" line this large states the rounded total, not the adjustment
ROUNDED_TOTAL = Decimal("0.50")
#: largest difference still read as the same total: cash rounding to 0.05 plus a cent
AGREE = Decimal("0.036")
#: a lone total must exceed the agreed value by this factor: a forger raises the total by a
#: good share, while honest near-misses (rounding, a dropped cent) stay far below it, and the
#: honest lines a label confuses with the total (tax, parts, counts) are smaller
ODD_FACTOR = Decimal("1.10")
#: independent relations that must agree on the other value for a ``medium`` finding; one
#: more makes it ``high``
MAJORITY = 2
#: digit pairs Tesseract confuses on thermal print: a lone total one such digit away from a
#: value the page states is a misread, not an edit
CONFUSABLE = {frozenset(p) for p in ("38", "17", "56", "08", "68", "06", "09", "59", "35",
                                     "14", "27", "23", "89")}
#: word confidence under which OCR may have slipped two digits of an amount, not just one
SHAKY = 0.6


@dataclass(frozen=True)
class Printed:
    """One labelled amount printed on the page: what its label says it is, and where."""

    kind: str  # total, excl, tax, paid, change, rounding, discount, service
    amount: Amount
    confidence: float
    label: str
    index: int
    rate: Decimal | None = None


@dataclass(frozen=True)
class Source:
    """One way the page states the total: a printed total line or a relation of other amounts."""

    name: str
    values: tuple[Decimal, ...]
    amounts: tuple[Amount, ...]
    line: int | None = None
    #: sources of one family rest on the same numbers (the subtotal relation and the tax at
    #: its rate both use the tax): when several agree they count once
    family: str = ""
    #: how far off the values may be beyond AGREE (a rate's rounding, grossed up)
    spread: Decimal = Decimal(0)

    def says(self, value: Decimal) -> bool:
        return any(_close(value, v, AGREE + self.spread) for v in self.values)


def _digits(token: str) -> str:
    """``token`` with the letters OCR reads for digits inside a number made digits ("10U." ->
    "100.", "38.G0" -> "38.60"); other tokens unchanged."""
    return _IN_NUMBER.sub(lambda m: m.group(0).translate(_LETTER_DIGIT), token)


def _word_amounts(line: Line) -> list[tuple[Decimal, Box, float]]:
    """Amounts with decimals among a line's words (joining "65." "20"), with box and confidence."""
    words = line.words
    out: list[tuple[Decimal, Box, float]] = []
    i = 0
    while i < len(words):
        w = words[i]
        parts, text = [w], _digits(w.text)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is not None and re.fullmatch(r"\D{0,3}\d+[.,]", text) and re.fullmatch(r"\d{2}\W?", _digits(nxt.text)):
            parts, text = [w, nxt], text + _digits(nxt.text)
        m = _WORD_AMOUNT.match(text)
        if m:
            value = Decimal(m.group(2).replace(",", "") + "." + m.group(3))
            box = (min(p.box[0] for p in parts), min(p.box[1] for p in parts),
                   max(p.box[2] for p in parts), max(p.box[3] for p in parts))
            out.append((-value if m.group(1) else value, box, min(p.confidence for p in parts)))
        i += len(parts)
    return out


def _kind(text: str) -> str | None:
    """What a labelled amount line is about, from its label (None: not an amount we use)."""
    if SERVICE_SHORT.search(text):
        return "service"
    if TOTAL_LIKE.search(text) and PER_RATE.search(text):
        return "part"
    if FRAGMENT.match(text) and not NOT_DUE.search(text):
        return "total"
    for kind, (rx, _sign) in ADJUSTMENTS.items():
        if rx.search(text) and not (kind == "rounding" and TOTAL_LIKE.search(text)):
            return kind
    if DUE_LABEL.search(text):
        return "total"
    if CHANGE_LABEL.search(text):
        return "change"
    if PAID_LABEL.search(text):
        return "paid"
    if EXCL_LABEL.search(text):
        return "excl"
    if TAX_TOTAL.search(text) and not INCL_TAX.search(text):
        return "tax"
    if TOTAL_LIKE.search(text):
        return None if NOT_DUE.search(text) else "total"
    if INCL_TAX.search(text):
        return "total"  # "(Tota!) Inclusive GST: 284.27": the total with its tax
    if TAX_LABEL.search(text):
        return "tax"
    return None


def printed_amounts(analysis: Analysis) -> tuple[list[Printed], list[tuple[Amount, Amount, Decimal | None]]]:
    """Labelled amounts of every line, and the rows (net, tax, rate) of the tax summary table."""
    printed: list[Printed] = []
    rows: list[tuple[Amount, Amount, Decimal | None]] = []
    lines = analysis.reading.lines()
    summary_at: int | None = None
    for i, (page, line) in enumerate(lines):
        text = line.text
        found = _word_amounts(line)
        if SUMMARY_HEADER.search(text) and not found:
            summary_at = i
            continue
        rate_m = RATE.search(text)
        rate = _dec(rate_m.group(1)) if rate_m else None
        if summary_at is not None and i - summary_at <= SUMMARY_ROWS and len(found) >= 2:
            (net, nbox, _c), (tax, tbox, _c2) = found[-2], found[-1]
            if 0 <= tax <= net * MAX_TAX_SHARE:
                rows.append((Amount("summary net", net, page, nbox), Amount("summary tax", tax, page, tbox),
                             rate))
            continue
        kind = _kind(text)
        if kind is None and QTY_TOTAL.search(text) and len(found) <= 2:
            kind = "total"  # "Total Qty: 4  8.20": the count line also prints the amount due
        if kind is None:
            continue
        if not found:
            found = _found_beside(lines, i)
        if not found:
            continue
        value, box, conf = found[-1]
        if kind == "rounding" and abs(value) >= ROUNDED_TOTAL:
            kind = "total"
        if kind == "change" and not any(q.kind == "paid" for q in printed):
            tendered = _tendered_above(lines, i)
            if tendered is not None:
                printed.append(tendered)
        printed.append(Printed(kind, Amount(kind if kind != "total" else "printed total", value, page, box),
                               conf, text, i, rate))
    return printed, rows


def _tendered_above(lines: list[tuple[int, Line]], i: int) -> Printed | None:
    """The cash tendered whose label OCR lost ("'ashy 100.20"): the one amount on the line
    right above the change, when that line is not labelled as anything else."""
    if i == 0 or lines[i - 1][0] != lines[i][0]:
        return None
    page, line = lines[i - 1]
    found = _word_amounts(line)
    if len(found) != 1 or _kind(line.text) is not None or found[0][0] <= 0:
        return None
    value, box, conf = found[0]
    return Printed("paid", Amount("paid", value, page, box), conf, line.text, i - 1)


def _found_beside(lines: list[tuple[int, Line]], i: int) -> list[tuple[Decimal, Box, float]]:
    """The amount of a label whose value OCR put in another line: on the same row to the right,
    or alone on the next line."""
    page, line = lines[i]
    b = line.box
    for j in (i + 1, i - 1):
        if not 0 <= j < len(lines) or lines[j][0] != page:
            continue
        other = lines[j][1]
        o = other.box
        overlap = min(b[3], o[3]) - max(b[1], o[1])
        same_row = overlap > 0.5 * min(b[3] - b[1], o[3] - o[1]) and o[0] >= b[2] - 2
        bare = sum(c.isalpha() for c in re.sub(r"\b(?:RM|MYR)\b", "", other.text, flags=re.I)) <= 1
        if (same_row or (j == i + 1 and o[1] >= b[3] - 2)) and bare:
            return _word_amounts(other)
    return []


def total_sources(printed: list[Printed], rows: list[tuple[Amount, Amount, Decimal | None]],
                  items: Field | None, rate_field: Field | None) -> list[Source]:
    """Every statement of the total: each total line, and each relation that yields one."""
    sources = [Source(f"the {p.label.strip()!r} line", (p.amount.value,), (p.amount,), p.index)
               for p in printed if p.kind == "total" and p.amount.value > 0]
    by_kind: dict[str, list[Printed]] = {}
    for p in printed:
        by_kind.setdefault(p.kind, []).append(p)
    paid, change = by_kind.get("paid", []), by_kind.get("change", [])
    if paid and change and paid[0].amount.value >= abs(change[0].amount.value):
        sources.append(Source("cash tendered minus change",
                              (paid[0].amount.value - abs(change[0].amount.value),),
                              (paid[0].amount, change[0].amount)))
    elif paid and not change:
        sources.append(Source("the amount paid", (paid[0].amount.value,), (paid[0].amount,)))
    adjust = _adjustment_sums(by_kind)
    # a tax printed twice (the tax line and "Total GST") is one tax
    taxes = list({p.amount.value: p for p in reversed(by_kind.get("tax", []))
                  if p.amount.value >= 0}.values())[::-1]
    tax_sum = sum((p.amount.value for p in taxes), Decimal(0))
    for p in by_kind.get("excl", []):
        base = p.amount.value
        # the subtotal may already include the tax ("Sub Total Inclusive GST")
        values = tuple(base + t + a for t in {tax_sum, Decimal(0)} for a in adjust)
        sources.append(Source("the subtotal and its tax", values,
                              (p.amount, *(t.amount for t in taxes)), p.index, "tax"))
    if rows:
        nets = [(r[0].value + r[1].value, r[0].value) for r in rows]
        values = (sum((n[0] for n in nets), Decimal(0)), *(n[0] for n in nets))
        sources.append(Source("the tax summary table", tuple(v for v in values if v > 0),
                              tuple(a for r in rows for a in r[:2])))
    rate = _dec(rate_field.value) if rate_field else None
    # per-rate parts: the tax is the tax of one part only, not of the amount due
    rated = sorted(taxes, key=lambda t: t.rate is None)  # a rate printed beside the tax first
    for p in rated if not by_kind.get("part") else []:
        r = p.rate if p.rate is not None else rate
        if r is not None and 0 < r < 100 and p.amount.value > 0:
            # a tax printed as "included in the total": total = tax x (100 + rate) / rate
            gross = (p.amount.value * (100 + r) / r).quantize(CENT)
            spread = (TOLERANCE * (100 + r) / r).quantize(CENT)  # the tax's rounding, grossed up
            sources.append(Source(f"the tax {p.amount.text} at {r.normalize():f}%", (gross,),
                                  (p.amount,), p.index, "tax", spread))
    sources += _per_rate_sources(by_kind.get("part", []), taxes)
    amounts = [r["amount"] for r in item_rows(items)]
    if len(amounts) >= 2 and all(a is not None for a in amounts):
        total_items = sum(amounts, Decimal(0))  # type: ignore[arg-type]
        if any(_close(total_items, p.amount.value, AGREE) for p in by_kind.get("excl", [])):
            return sources  # items adding up to the subtotal: the subtotal relation speaks for them
        sources.append(Source(f"the {len(amounts)} line items", (total_items,), ()))
    return sources


def _per_rate_sources(parts: list[Printed], taxes: list[Printed]) -> list[Source]:
    """The amount due as the sum of its per-rate parts: the parts with their tax included, and
    the net parts plus the printed tax (two relations when both are printed)."""
    plain = {p.amount.value: p for p in parts if not EXCL_LABEL.search(p.label)
             and not INCL.search(p.label)}  # printed again under the table: count once
    incl = [p for p in parts if INCL.search(p.label) and not EXCL_LABEL.search(p.label)]
    excl = [p for p in parts if EXCL_LABEL.search(p.label)]
    base = sum(plain, Decimal(0))
    out = []
    if incl and (plain or len(incl) > 1):
        out.append(Source("the per-rate totals", (base + sum(p.amount.value for p in incl),),
                          tuple(p.amount for p in [*plain.values(), *incl])))
    if not excl or not (plain or len(excl) > 1):
        return out
    net = sum(p.amount.value for p in excl)
    if taxes:
        value = base + net + sum(t.amount.value for t in taxes)
        out.append(Source("the per-rate net amounts and their tax", (value,),
                          tuple(p.amount for p in [*plain.values(), *excl, *taxes])))
    elif all(p.rate is not None for p in excl):
        # the tax line unread: each net part grossed up at the rate its label prints
        value = base + sum(p.amount.value * (100 + p.rate) / 100 for p in excl if p.rate is not None)
        out.append(Source("the per-rate net amounts at their rates", (value.quantize(CENT),),
                          tuple(p.amount for p in [*plain.values(), *excl])))
    return out


def _adjustment_sums(by_kind: dict[str, list[Printed]]) -> list[Decimal]:
    """Every sum of the printed adjustments (service, discount, rounding) a total may include."""
    parts = []
    for kind in ("service", "discount", "rounding"):
        for p in by_kind.get(kind, [])[:1]:
            sign = ADJUSTMENTS[kind][1]
            parts.append(abs(p.amount.value) * sign if kind != "rounding" else p.amount.value)
    return sorted({sum(c, Decimal(0)) for n in range(len(parts) + 1) for c in combinations(parts, n)})


def _counts_something(label: str) -> bool:
    """True when a total line also prints a bare whole number: a count ("Total 70 pcs") whose
    label OCR mangled, whose amount column may be anything."""
    head = _WORD_TAIL.sub("", label)
    if DUE_WORD.search(head):
        return False  # "Total Pay 9: 133.86": a payable label with a stray digit
    return bool(re.search(r"(?<![\d.,@%])\b\d{1,2}\b(?![.,]?\d|\s*%)", head))


def _misread(odd: Decimal, agreed: Decimal, slips: int = 1) -> bool:
    """True when ``odd`` is ``agreed`` with up to ``slips`` confusable digits misread, or with a
    stray leading digit (a bar or a currency mark read as "1")."""
    a, b = f"{odd:.2f}", f"{agreed:.2f}"
    if len(a) == len(b) + 1:
        a, slips = a[1:], 1  # one slip already: the stray digit
    if a == b:
        return True
    if len(a) != len(b):
        return False
    diffs = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return 0 < len(diffs) <= slips and all(frozenset(d) in CONFUSABLE for d in diffs)


def _one_per_family(sources: list[Source]) -> list[Source]:
    """``sources`` with only the first of each family kept (independent relations)."""
    seen: set[str] = set()
    out = []
    for s in sources:
        if s.family and s.family in seen:
            continue
        seen.add(s.family)
        out.append(s)
    return out


def _additions(printed: list[Printed]) -> list[Decimal]:
    """What a total may add to a net amount: the sums of up to three of the printed taxes,
    service charges and rounding."""
    parts = sorted({q.amount.value for q in printed if q.kind in ("tax", "service", "rounding")
                    and q.amount.value != 0})
    sums = {sum(c, Decimal(0)) for n in range(1, min(len(parts), 3) + 1)
            for c in combinations(parts, n)}
    return sorted(sums)


def odd_total(printed: list[Printed], sources: list[Source]) -> tuple[Printed, Decimal, list[Source]] | None:
    """A printed total that stands alone against a value several other sources agree on."""
    best: tuple[Printed, Decimal, list[Source]] | None = None
    everything = [v for s in sources for v in s.values]
    discounted = any(q.kind == "discount" and q.amount.value != 0 for q in printed)
    additions = _additions(printed)
    for p in printed:
        if p.amount.value <= 0 or (_counts_something(p.label) and not QTY_TOTAL.search(p.label)):
            continue
        # a subtotal above the amount due is a total a forger raised, unless a discount explains it
        if p.kind != "total" and not (p.kind == "excl" and not discounted):
            continue
        others = [s for s in sources if s.line != p.index]
        if any(s.says(p.amount.value) for s in others):
            continue  # another source prints or yields the same value
        if any(_close(p.amount.value, q.amount.value, AGREE) for q in printed
               if q is not p and q.kind in ("paid", "change", "tax", "excl")):
            continue  # the line states the tendered, tax or net amount under a total label
        for y in sorted({v for s in others for v in s.values if v > 0}):
            agree = _one_per_family([s for s in others if s.says(y)])
            if len(agree) < MAJORITY or p.amount.value < y * ODD_FACTOR:
                continue
            if any(_close(p.amount.value, y + a, AGREE) for a in additions):
                continue  # the agreed value is the net amount, the line adds tax or service to it
            slips = 2 if p.confidence < SHAKY else 1
            if any(_misread(p.amount.value, v, slips) for v in everything if v != p.amount.value):
                continue
            if best is None or len(agree) > len(best[2]):
                best = (p, y, agree)
    return best


class ArithmeticDetector:
    """Line items vs subtotal vs tax vs total, change, and the tax rate's plausibility."""

    name = "arithmetic"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        fields = analysis.extraction.fields
        total = _field_amount(fields, "total")
        subtotal = _field_amount(fields, "subtotal")
        tax = _field_amount(fields, "tax")
        base = subtotal or total
        # credit notes print every amount negative: compare magnitudes of like-signed numbers
        if tax is not None and base is not None and not (
                tax.value * base.value >= 0 and abs(tax.value) <= abs(base.value) * MAX_TAX_SHARE):
            tax = None  # a "tax" that large is another number the extractor picked up
        items = fields.get("line_items")
        rate = fields.get("tax_rate")
        currency = str(fields["currency"].value).upper() if fields.get("currency") else None
        majority = _majority_finding(analysis, items, rate)
        if total is None and subtotal is None:
            if majority is not None:
                return CheckResult((majority,), "done")
            return CheckResult.skipped("no total or subtotal read")
        labelled = labelled_amounts(analysis)
        total_failures: list[Failure] = []
        other_failures: list[Failure] = []
        n_relations = 0
        if total is not None:
            tol = _total_tolerance(currency, labelled)
            if subtotal is not None:
                n_relations += 1
                f = check_total(total, subtotal, tax, labelled, tol)
                if f is not None and not printed_elsewhere(analysis, f.expected, total):
                    total_failures.append(f)
            if "tendered" in labelled and "change" in labelled:
                n_relations += 1
                f = check_change(total, labelled, currency)
                if f is not None and not printed_elsewhere(analysis, f.expected, total):
                    total_failures.append(f)
        if items is not None:
            n_relations += 1
            for f in check_items(items, total, subtotal, labelled):
                if f.culprit is total and printed_elsewhere(analysis, f.expected, total):
                    continue
                (total_failures if f.check == "items_sum" and f.culprit is total else other_failures).append(f)
        if rate is not None:
            n_relations += 1
            for f in check_tax_rate(tax, rate, subtotal, total, currency, len(item_rows(items))):
                # without a subtotal the tax is checked against the total alone: its failure
                # blames the total as much as the tax
                blames_total = f.check == "tax" and subtotal is None and total is not None
                (total_failures if blames_total else other_failures).append(f)
        if n_relations == 0:
            if majority is not None:
                return CheckResult((majority,), "done")
            return CheckResult.skipped("only one amount read, nothing to add up")
        support = tax_supports(tax, rate, subtotal) + items_support(items, subtotal)
        # the labelled relations (subtotal + tax, cash - change) are the reliable ones: at least
        # one of them must fail before the looser ones (items, tax vs total) add weight
        anchored = any(f.check in ("total", "change") for f in total_failures)
        findings = [_finding(f, _weight(analysis, f, len(total_failures), support)
                             if anchored else ("info", 0.2)) for f in total_failures]
        findings += [_finding(f, ("info", 0.15)) for f in other_failures]
        if majority is not None and not any(
                f.severity in ("low", "medium", "high") and f.box == majority.box for f in findings):
            findings.append(majority)
        return CheckResult(tuple(findings), "done")


def _majority_finding(analysis: Analysis, items: Field | None, rate: Field | None) -> Finding | None:
    """The finding for a printed total that disagrees with what the rest of the page agrees on."""
    printed, rows = printed_amounts(analysis)
    hit = odd_total(printed, total_sources(printed, rows, items, rate))
    if hit is None:
        return None
    odd, agreed, agree = hit
    severity, score = ("high", 0.85) if len(agree) > MAJORITY else ("medium", 0.65)
    label = re.sub(r"\s+", " ", odd.label).strip()
    numbers = [odd.amount] + [a for s in agree for a in s.amounts if a is not odd.amount]
    return Finding(
        code="amounts_inconsistent",
        severity=severity,  # type: ignore[arg-type]
        score=score,
        message=(f"The printed total {odd.amount.text} ({label!r}) disagrees with {agreed:.2f}, "
                 f"on which {_join([s.name for s in agree])} agree."),
        page=odd.amount.page,
        box=odd.amount.box,
        evidence={
            "check": "printed_totals",
            "numbers": [{"name": a.name, "value": a.text, "page": a.page,
                         "box": list(a.box) if a.box else None} for a in numbers],
            "expected": f"{agreed:.2f}",
            "agreeing": [s.name for s in agree],
        },
    )


def _weight(analysis: Analysis, f: Failure, n_total_failures: int, support: int) -> tuple[str, float]:
    """Severity and score of a failed total relation.

    One failed relation alone is usually a misread or a mis-extracted line on an honest receipt:
    it is only noted. It counts when another relation blames the total too, or when the other
    numbers agree among themselves (tax = rate x subtotal, items = subtotal) so that the total
    is the odd one out, and every number involved was read with confidence. Numbers that agree
    among themselves (tax = rate x subtotal) need no OCR confidence when the total misses them by
    far more than that agreement pins them down: at 6% a subtotal is only pinned to +-0.37, so a
    total 0.20 off may still be a misread subtotal (one digit), while one 10% off may not.
    """
    far = abs(f.culprit.value - f.expected) > abs(f.expected) * (ODD_FACTOR - 1)
    checked = (f.culprit,) if support and far else (f.culprit, *f.others)
    confident = all(_ocr_confidence(analysis, a) >= TRUSTED_CONFIDENCE
                    for a in checked if a.name not in ("line_items", "tax_rate"))
    if not confident:
        return "info", 0.15
    signals = n_total_failures + support
    if signals >= 3:
        return "high", 0.85
    if signals >= 2:
        return "medium", 0.65
    return "info", 0.2


def _finding(f: Failure, weight: tuple[str, float]) -> Finding:
    severity, score = weight
    return Finding(
        code="amounts_inconsistent",
        severity=severity,  # type: ignore[arg-type]
        score=score,
        message=f.message,
        page=f.culprit.page,
        box=f.culprit.box,
        evidence={
            "check": f.check,
            "numbers": [{"name": a.name, "value": a.text, "page": a.page,
                         "box": list(a.box) if a.box else None}
                        for a in (f.culprit, *f.others) if a.name != "line_items"],
            "expected": f"{f.expected:.2f}",
        },
    )


#: the module-level detector the pipeline runs
detector = ArithmeticDetector()
