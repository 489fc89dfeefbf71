"""The tax summary table against the totals: its rows pin the amount due, whichever way a total moved.

Many receipts print a per-rate tax table under the total ("GST Summary  Amount(RM)  Tax(RM)" over
"SR @ 6%  2.83  0.17"). Each row's tax is its net amount at its rate, so a row checks itself: a
misread net or tax would not agree with the rate. The rows' nets plus their taxes are the amount
due. A forger who changes every printed copy of the total (the total lines, the card or exact
cash paid) leaves the table as it was: every total then disagrees with a table that agrees with
itself, lowered or raised alike.

Guarded as one relation that must stay rare on honest print:

- no line under the table's header with a single amount (a row OCR read only half of);
- every row with a tax is pinned by a rate in force (the rate printed on the row, or the only
  rate in force its net and tax agree on); rows without tax are zero-rated parts and add their
  net; a row that repeats the others' sum (the table's own total row) counts once;
- every printed total (and a payment equal to none of them) at least ODD_FACTOR away from the
  table's amount due (its net, or its net plus tax: tables print either), and none a confusable
  digit from it; none equal to it plus or less a printed rounding, service charge or discount;
- the totals that disagree say the same value at least twice, or once read with confidence
  (the caller checks it).

Measured with the arithmetic detector alone on the tune half of SROIE (119 honest scans): 0
honest pages flagged (one honest table whose zero-rated row OCR read half, and one whose total
row repeats its only row with the net a digit off, are what the first two guards are for); it
flags 2 lowered (font), 2 raised (font) and 2 lowered (glyphs) totals that nothing else caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from forensics.detectors.amount_relations import Amount, _close, rates_in_force
from forensics.detectors.printed_totals import (
    AGREE,
    ODD_FACTOR,
    SUMMARY_HEADER,
    SUMMARY_ROWS,
    Printed,
    _additions,
    _counts_something,
    _misread,
    _word_amounts,
    at_rate,
)
from forensics.detectors.tendered import _tax_line
from forensics.model import Line

#: a row of the table: its net amount, its tax and the rate printed on it (None when unread)
Row = tuple[Amount, Amount, Decimal | None]


@dataclass(frozen=True)
class TableConflict:
    """Every printed total far from the amount due the tax table pins."""

    #: the table's rows that pin it, with the rate of each
    rows: tuple[tuple[Amount, Amount, Decimal], ...]
    #: what the table says was due: the nets plus their taxes (or the nets, when they include it)
    due: Decimal
    #: the printed totals (and payments) that disagree with it
    totals: tuple[Printed, ...]
    #: the value the totals state instead
    stated: Decimal

    def message(self) -> str:
        shown = ", ".join(sorted({t.amount.text for t in self.totals}))
        rows = "; ".join(f"{n.text} at {r.normalize():f}% with tax {t.text}" for n, t, r in self.rows)
        way = "above" if self.stated > self.due else "below"
        return (f"Every total printed ({shown}) is {way} the amount the tax summary table states "
                f"({self.due:.2f}: {rows}), although each of its rows agrees with its own tax rate: "
                "the totals were changed alike, or the table was.")


def _row_rate(net: Decimal, tax: Decimal, printed: Decimal | None, in_force: set[Decimal]) -> Decimal | None:
    """The rate that pins a row (its tax is its net at that rate), or None."""
    if tax == 0:
        return Decimal(0)
    if net <= 0 or tax < 0:
        return None
    candidates = [printed] if printed is not None and printed in in_force else sorted(in_force)
    fits = [r for r in candidates if r > 0 and at_rate(net, tax, r)]
    return fits[0] if len(fits) == 1 else None


def _distinct(rows: list[Row]) -> list[Row]:
    """The rows without repeats and without the table's own total row (the sum of the others:
    its tax exactly, its net to within ODD_FACTOR)."""
    out: list[Row] = []
    for row in rows:
        if any(row[0].value == o[0].value and row[1].value == o[1].value for o in out):
            continue
        nets = sum((o[0].value for o in out), Decimal(0))
        if out and row[1].value == sum((o[1].value for o in out), Decimal(0)) and (
                abs(row[0].value - nets) <= nets * (ODD_FACTOR - 1) or _misread(row[0].value, nets, 1)):
            continue  # the table's total row (its net read a digit off, "4.00" under "4.06")
        out.append(row)
    return out


def _row_unread(lines: list[tuple[int, Line]]) -> bool:
    """Whether a line under the table's header prints one amount above zero only: a row whose
    tax (or net) OCR lost ("Z = 0% 146.40 00"), so the rows read do not cover the table."""
    header = None
    for i, (_page, line) in enumerate(lines):
        found = _word_amounts(line)
        if SUMMARY_HEADER.search(line.text) and not found:
            header = i
        elif header is not None and i - header <= SUMMARY_ROWS and len(found) == 1 and found[0][0] > 0:
            return True
    return False


def table_conflict(printed: list[Printed], rows: list[Row], currency: str,
                   lines: list[tuple[int, Line]]) -> TableConflict | None:
    """The printed totals that all disagree with the tax table's amount due (see the module);
    ``lines``: the page's lines, to see whether a row went unread."""
    rows = _distinct(rows)
    if not rows or _row_unread(lines):
        return None
    in_force = rates_in_force(currency)
    pinned: list[tuple[Amount, Amount, Decimal]] = []
    for net, tax, rate in rows:
        r = _row_rate(net.value, tax.value, rate, in_force)
        if r is None:
            return None
        pinned.append((net, tax, r))
    if not any(r > 0 for _n, _t, r in pinned):
        return None  # a table of zero-rated rows pins no tax: nothing checks its numbers
    nets = sum((n.value for n, _t, _r in pinned), Decimal(0))
    due = nets + sum((t.value for _n, t, _r in pinned), Decimal(0))
    if any(q.kind in ("discount", "part") and q.amount.value != 0 for q in printed):
        return None  # a discount after tax or a per-rate split: the table covers another amount
    totals = [t for t in printed if t.kind == "total" and t.amount.value > 0
              and not _counts_something(t.label) and not _tax_line(t, due)]
    payments = [p for p in printed if p.kind == "paid" and p.amount.value > 0]
    if not totals:
        return None
    additions = [Decimal(0), *_additions(printed)]
    for t in [*totals, *payments]:
        v = t.amount.value
        for d in (due, nets):
            if _misread(v, d, 1) or any(_close(v, d + a, AGREE) or _close(v + a, d, AGREE) for a in additions):
                return None
    values = [t.amount.value for t in totals]
    if not (all(v >= due * ODD_FACTOR for v in values) or all(v * ODD_FACTOR <= nets for v in values)):
        return None
    # the value the totals state: printed twice (total lines or an exact payment), or once
    stated = [v for v in values if sum(_close(v, w.amount.value, AGREE) for w in [*totals, *payments]) >= 2]
    claimed = stated[0] if stated else values[0]
    far = tuple(t for t in totals if _close(t.amount.value, claimed, AGREE)) or tuple(totals)
    return TableConflict(tuple(pinned), due, far, claimed)
