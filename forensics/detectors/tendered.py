"""The cash handed over against the total: a till gives change only on what exceeds the amount due.

A cash receipt prints the amount tendered and the change given, and the amount due is their
difference, whichever way a forger moved the total. When change was given (above zero), the
tender and the change are the customer's own numbers, printed once and left alone by a forger
who changes every copy of the total: a total *above* the tender (the customer would have paid
less than was due and still got change back) cannot be, and a total far from tender minus change
disagrees with the only money that changed hands.

Unlike :func:`forensics.detectors.printed_totals.odd_total`, which needs two independent
relations to agree before a lone total counts, this is one relation, so it is guarded as one
that must stay rare on honest print:

- the tender, the change and every total line read with OCR confidence (TRUSTED);
- change above zero and below the tender (a card payment or an exact tender pins nothing);
- *every* printed total line disagreeing, by at least ODD_FACTOR, in the same direction (an honest
  receipt prints its total at least once as tender minus change); taxes under a total label
  ("TOTAL INCLUDES 6% GST 1.44") are not total lines;
- no total one confusable digit from tender minus change (a misread, not an edit), none that is
  tender minus change less (or plus) a tax, service charge or rounding printed on the page, and
  none that another relation not resting on the tender states (subtotal and tax, the tax table,
  the items): then the total stands and the tender or the change was misread ("400.09" for
  "100.00"). Where such a relation backs tender minus change instead, a subtotal that prints a
  total's value ("SUB TOTAL (Inc GST)" above "TOTAL": one amount printed twice) does not vouch
  for the total: the forger changed it with the other copies. Tune half: 1 lowered and 1 raised
  total more, honest receipts still 0 of 119.

Measured on the 119 honest receipts of the tune half of SROIE: 0 flagged (also 0 with the
confidence floor at 0.6; 0.7 is kept for the margin). On the first 40 of the tune half it adds
1-3 of about 39 careful forgeries of each kind that nothing else flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from forensics.detectors.amount_relations import MAX_TAX_SHARE, _close
from forensics.detectors.printed_totals import (
    AGREE,
    INCL,
    NAMES_THE_DUE,
    ODD_FACTOR,
    TAX_LABEL,
    Printed,
    Source,
    _additions,
    _counts_something,
    _misread,
)

#: OCR confidence (0..1) the tender, the change and the totals need
TRUSTED = 0.7


@dataclass(frozen=True)
class TenderConflict:
    """Every printed total against the cash tendered minus the change given."""

    paid: Printed
    change: Printed
    totals: tuple[Printed, ...]
    #: tender minus change: what was paid
    due: Decimal

    @property
    def raised(self) -> bool:
        return self.totals[0].amount.value > self.due

    def message(self) -> str:
        shown = ", ".join(sorted({t.amount.text for t in self.totals}))
        p, c = self.paid.amount.text, self.change.amount.text
        if self.raised and self.totals[0].amount.value > self.paid.amount.value:
            why = (f"the customer handed over {p} and got {c} back, which a till does only when the "
                   "tender exceeds the amount due")
        else:
            why = f"the tender {p} minus the change {c} is {self.due:.2f}, what was actually paid"
        where = f" (the tender at {self.paid.amount.box}, the change at {self.change.amount.box})" \
            if self.paid.amount.box and self.change.amount.box else ""
        return f"Every total printed ({shown}) disagrees with the cash paid: {why}{where}."


def tender_conflict(printed: list[Printed], sources: list[Source]) -> TenderConflict | None:
    """The printed totals that all disagree with tender minus change (see the module);
    ``sources`` are the page's statements of the total (:func:`total_sources`)."""
    paid = next((p for p in printed if p.kind == "paid" and p.amount.value > 0), None)
    change = next((p for p in printed if p.kind == "change"), None)
    if paid is None or change is None:
        return None
    c = abs(change.amount.value)
    due = paid.amount.value - c
    if c <= 0 or due <= 0 or min(paid.confidence, change.confidence) < TRUSTED:
        return None
    totals = tuple(t for t in printed if t.kind == "total" and t.amount.value > 0
                   and not _counts_something(t.label) and not _tax_line(t, due))
    if not totals or any(t.confidence < TRUSTED for t in totals):
        return None
    # the relations that do not rest on the total lines or on the tender: where one of them
    # says what a total line prints, the total stands and the tender or change was misread
    lines = {t.index for t in printed if t.kind == "total"}
    witnesses = [s for s in sources if s.line not in lines and not set(s.amounts) & {paid.amount, change.amount}]
    if any(s.says(due) for s in witnesses):
        # another relation backs the tender: a subtotal printing a total's value ("Sub Total
        # (Inc GST)" above "TOTAL", the one amount twice) is a copy the forger changed with it
        values = [t.amount.value for t in totals]
        witnesses = [s for s in witnesses if not any(a.name == "excl" and any(_close(a.value, v, AGREE)
                                                                              for v in values)
                                                     for a in s.amounts)]
    additions = [Decimal(0), *_additions(printed)]
    for t in totals:
        v = t.amount.value
        if (_misread(v, due, 1) or any(s.says(v) for s in witnesses)
                or any(_close(v + a, due, AGREE) or _close(v, due + a, AGREE) for a in additions)):
            return None
    if all(t.amount.value >= due * ODD_FACTOR for t in totals) or all(
            t.amount.value * ODD_FACTOR <= due for t in totals):
        return TenderConflict(paid, change, totals, due)
    return None


def _tax_line(t: Printed, due: Decimal) -> bool:
    """A tax under a total label ("TOTAL INCLUDES 6% GST 1.44", "Total GST"): a tax word without
    "including", or an amount no larger than a tax on a line that does not name the amount due."""
    if TAX_LABEL.search(t.label) and not INCL.search(t.label):
        return True
    return t.amount.value <= due * MAX_TAX_SHARE and not NAMES_THE_DUE.search(t.label)
