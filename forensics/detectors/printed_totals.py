"""Every total a page prints, and the one that stands alone against the rest.

A receipt prints its total several times (TOTAL, Total incl. GST, after rounding, cash minus
change, the GST summary table). A forger repaints one of them; the others, and the amounts
they are made of, still agree with each other. :func:`printed_amounts` gathers every labelled
amount, :func:`total_sources` every statement of the total, and :func:`odd_total` finds a printed
total that stands alone against a value several independent sources agree on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from forensics.detectors import Analysis
from forensics.detectors.amount_relations import (
    ADJUSTMENTS,
    CENT,
    MAX_TAX_SHARE,
    TOLERANCE,
    Amount,
    _close,
    _dec,
    item_rows,
    rates_in_force,
)
from forensics.model import Box, Field, Line, Word

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
#: a label that is the word TOTAL alone (as OCR reads it) before the amount
PLAIN_TOTAL = re.compile(r"^\W*(?:[TFJ1IL!]?[O0A][TF][AE0O][L1I!]\w?|TOTA[I1]|TTL)\W*(?:RM|MYR)?\W*[\d,]+[.,]\s?\d{2}\W*$",
                         re.I)
#: words that make a total label the amount due whatever else OCR put beside them
DUE_WORD = re.compile(r"\bPAY|\bDUE\b|GRAND|\bNETT?\b|INCL|\bAMOUNT\b", re.I)
#: labels that name the amount due itself, whatever its size ("Total Amount: 0.50" is no tax)
NAMES_THE_DUE = re.compile(r"\bNETT?\b|GRAND|\bAMOUNT\b|AMOUN[I1l]\b|\bDUE\b", re.I)
#: a printed tax rate ("6%", "@6%", "GST 6 %")
RATE = re.compile(r"(\d{1,2}(?:\.\d{1,2})?)\s*%")
#: the header of the per-rate tax table under many receipts (its rows: net amount, tax)
SUMMARY_HEADER = re.compile(r"SUMM|TAX\s*CODE|AMOUNT\s*\(?\s*RM|AMT\s*\(?\s*RM|AMT\s*\(?\s*MYR", re.I)
#: lines under the summary header read as its rows
SUMMARY_ROWS = 6
#: a word that is an amount: optional sign and currency mark, digits, a decimal point OCR may
#: have split off ("65. 20" is two words, "65." and "20")
_WORD_AMOUNT = re.compile(r"^[^\d\-]{0,3}(-?)(\d{1,3}(?:,\d{3})+|\d{1,7})[.,](\d{2})[^\d]{0,3}$")
#: the amount column at the end of a line (what is left is the label), its point OCR may have
#: split off as a word of its own ("RM17 . 90")
_WORD_TAIL = re.compile(r"\S*\d(?:\s[.,]\s|[.,]\s?)\d{2}\S*\s*\S?\s*$")
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
#: OCR confidence (0..1) a number needs before a relation it fails counts against it
TRUSTED_CONFIDENCE = 0.85
#: widest gap, in character heights, between the pieces of an amount OCR split at its point
SPLIT_GAP = 0.8


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
        elif i + 2 < len(words) and _split_point(words[i:i + 3]):
            parts = words[i:i + 3]
            text = "".join(_digits(p.text) for p in parts)
        m = _WORD_AMOUNT.match(text)
        if m:
            value = Decimal(m.group(2).replace(",", "") + "." + m.group(3))
            box = (min(p.box[0] for p in parts), min(p.box[1] for p in parts),
                   max(p.box[2] for p in parts), max(p.box[3] for p in parts))
            out.append((-value if m.group(1) else value, box, min(p.confidence for p in parts)))
        i += len(parts)
    return out


def _split_point(words: list[Word]) -> bool:
    """Whether three words are one amount OCR split at its point ("RM92" "." "82"): the integer
    part, the point alone, two decimals, on one row with gaps under a character's height."""
    a, dot, dec = words
    if not (re.fullmatch(r"\D{0,3}\d{1,7}", _digits(a.text)) and dot.text in (".", ",")
            and re.fullmatch(r"\d{2}\W?", _digits(dec.text))):
        return False
    height = max(a.box[3] - a.box[1], dec.box[3] - dec.box[1])
    same_row = min(a.box[3], dec.box[3]) - max(a.box[1], dec.box[1]) > 0.5 * height
    return (same_row and a.box[2] <= dot.box[0] <= a.box[2] + height * SPLIT_GAP
            and dot.box[2] <= dec.box[0] <= dot.box[2] + height * SPLIT_GAP)


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


def far_apart(a: Decimal, b: Decimal) -> bool:
    """Whether two amounts differ by at least :data:`ODD_FACTOR`, whichever is the larger."""
    return a >= b * ODD_FACTOR or a * ODD_FACTOR <= b


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


def _lowered(p: Printed, agreed: Decimal, additions: list[Decimal], discounted: bool,
             agree: list[Source]) -> bool:
    """Whether ``p`` is the amount due printed lower than the page agrees on, rather than one
    of the honest lines that print less under a total label (measured on SROIE: taxes "TOTAL
    INCLUDES 6% GST 1.44", "GST Payable"; totals before tax, service, rounding or a discount;
    the parts of a per-rate table)."""
    if p.kind != "total" or p.amount.value * ODD_FACTOR > agreed or discounted:
        return False
    # "Total Incl. GST" is the total with its tax, not the tax ("TOTAL INCLUDES 6% GST 1.44" is)
    with_tax = bool(INCL_TAX.search(p.label))
    if TAX_LABEL.search(p.label) and not with_tax:
        return False  # the tax line under a total label
    if p.amount.value <= agreed * MAX_TAX_SHARE and not (NAMES_THE_DUE.search(p.label) or with_tax):
        # as small as a tax: a tax whose label OCR garbled ("GSI Payable"), unless the label
        # names the amount due itself ("Total Amount", "Nett Total", "Grand Total", "Total Incl. GST")
        return False
    if not (DUE_WORD.search(p.label) or PLAIN_TOTAL.match(p.label) or NAMES_THE_DUE.search(p.label)):
        return False  # "Total 6% supplies", "Total Sales": parts of the amount due
    # the per-rate table's sums rest on the same parts: one witness, not two
    witnesses = {"per-rate" if s.name.startswith("the per-rate") else (s.family or s.name) for s in agree}
    if len(witnesses) < MAJORITY:
        return False
    return not any(_close(p.amount.value + a, agreed, AGREE) for a in additions)


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
            if len(agree) < MAJORITY:
                continue
            raised = p.amount.value >= y * ODD_FACTOR
            if not raised and not _lowered(p, y, additions, discounted, agree):
                continue
            if raised and any(_close(p.amount.value, y + a, AGREE) for a in additions):
                continue  # the agreed value is the net amount, the line adds tax or service to it
            slips = 2 if p.confidence < SHAKY else 1
            if any(_misread(p.amount.value, v, slips) for v in everything if v != p.amount.value):
                continue
            if best is None or len(agree) > len(best[2]):
                best = (p, y, agree)
    return best


#: a tax agrees with its rate on the net amount within this (rounding of the tax)
RATE_TOLERANCE = Decimal("0.016")


def at_rate(net: Decimal, tax: Decimal, rate: Decimal) -> bool:
    """Whether ``tax`` is ``net`` at ``rate`` percent, to within the tax's rounding."""
    return abs(net * rate / 100 - tax) <= RATE_TOLERANCE

#: labels and rows that mark a receipt taxed at more than one rate (zero-rated or exempt parts):
#: its net amount and tax cover only part of the amount due
MIXED_RATES = re.compile(r"\bZR\b|\bZ\s*=|ZERO|EXEMPT|\b0\s*%|\bE\s*=|\bNR\b", re.I)


def _mixed_rates(analysis: Analysis) -> bool:
    """Whether a line marks a zero-rated or exempt part with an amount above zero."""
    for _page, line in analysis.reading.lines():
        if MIXED_RATES.search(line.text) and any(v > 0 for v, _b, _c in _word_amounts(line)):
            return True
    return False


def rate_pinned_total(analysis: Analysis, printed: list[Printed], rate: Decimal | None,
                      ) -> tuple[Decimal, Printed, Printed, list[Printed]] | None:
    """Every printed total far from the net amount plus its tax, where the
    two agree with each other at the tax rate: the amounts a forger who changed every copy of
    the total left as they were. Without a net amount printed, the tax at the rate its label
    prints (a rate in force, the tax as small as a tax) pins the total alone: net + tax is
    tax * (1 + 100 / rate) whether the total includes it or not. Returns (net + tax, the net
    line (the tax line when none), the tax line, the totals)."""
    if _mixed_rates(analysis):
        return None
    by_kind: dict[str, list[Printed]] = {}
    for p in printed:
        if p.amount.value != 0 or p.kind in ("excl", "tax", "total", "paid"):
            by_kind.setdefault(p.kind, []).append(p)
    if by_kind.get("part") or by_kind.get("discount") or by_kind.get("service"):
        return None
    # the amount paid is no total: cash tendered above the total is how cash is paid
    totals = [p for p in by_kind.get("total", []) if p.amount.value > 0]
    if not totals:
        return None
    for net in by_kind.get("excl", []):
        for tax in by_kind.get("tax", []):
            r = tax.rate if tax.rate is not None else rate
            if r is None or not 0 < r < 100 or tax.amount.value <= 0:
                continue
            if not at_rate(net.amount.value, tax.amount.value, r):
                continue
            pinned = net.amount.value + tax.amount.value
            rounding = [q.amount.value for q in by_kind.get("rounding", [])] or [Decimal(0)]
            if all(abs(p.amount.value - pinned) > pinned * (ODD_FACTOR - 1)
                   and not any(_close(p.amount.value, pinned + a, AGREE) for a in rounding)
                   and not _close(p.amount.value, net.amount.value, AGREE)
                   for p in totals):
                return pinned, net, tax, totals
    if by_kind.get("excl") or by_kind.get("rounding"):
        return None
    # no net amount printed: the tax at its printed rate alone pins the total, inclusive or
    # exclusive alike (net + tax = tax * (1 + 100 / rate)), to within the tax's rounding
    field = analysis.extraction.fields.get("currency")
    currency = str(field.value).upper() if field is not None else ""
    in_force = rates_in_force(currency)
    for tax in by_kind.get("tax", []):
        r = tax.rate
        # a rate in force (a misread "4%" pins nothing) on a tax as small as a tax
        if (r is None or r not in in_force or r <= 0 or tax.amount.value <= 0
                or any(tax.amount.value > p.amount.value * MAX_TAX_SHARE for p in totals)):
            continue
        pinned = tax.amount.value * (1 + Decimal(100) / r)
        slack = max(CENT / 2 * (1 + Decimal(100) / r), pinned * (ODD_FACTOR - 1))
        if all(abs(p.amount.value - pinned) > slack for p in totals):
            return pinned.quantize(CENT), tax, tax, totals
    return None
