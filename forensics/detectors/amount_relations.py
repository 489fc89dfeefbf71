"""The relations between the amounts a document prints, one function each.

total = subtotal (+ tax) (+ adjustments); change = tendered - total; line items against the
subtotal or total; the tax against its printed rate and the rate against those in force. Each
check returns a :class:`Failure` (the numbers that disagree and a reviewer's sentence) or
nothing; :mod:`forensics.detectors.arithmetic` weighs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import combinations
from typing import Any

from forensics.detectors import Analysis
from forensics.fields.amounts import find_amounts
from forensics.model import Box, Field, Line

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



def rates_in_force(currency: str) -> frozenset[Decimal]:
    """The tax rates in force for ``currency`` (every rate known when the currency is unknown)."""
    return PLAUSIBLE_RATES.get(currency) or frozenset(r for rates in PLAUSIBLE_RATES.values() for r in rates)


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
