"""Arithmetic: do the printed amounts add up?

Relations checked, each only when every number it needs was read:

- the total against subtotal + tax (+ service charge, - discount, + rounding), or against the
  subtotal alone when prices include tax;
- the line items (quantity x unit price = amount; their sum against subtotal or total);
- the tax against its printed rate;
- the change against cash tendered minus the total;
- the tax rate against the rates in force for the currency;
- every total printed on the page against the others (see "printed totals" below);
- every total printed against the cash tendered minus the change given
  (:mod:`forensics.detectors.tendered`), whichever way the total moved;
- every total printed against the tax summary table whose rows agree with their rates
  (:mod:`forensics.detectors.tax_table`), whichever way the total moved;
- the rounded total against the total printed before the rounding line
  (:mod:`forensics.detectors.rounding`), whichever way the amount due moved.

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
agreed value (forgers raise the total;
honest near-misses stay far below that). A total repainted *lower* is flagged the same way
(a lowered total fails the items, the net plus tax, the cash minus change and the tax table
just as a raised one does), with the honest lines that print less under a total label set
aside: measured on the 220 honest SROIE receipts, such lines flagged 14 (an earlier measurement)
and 6 with the first guards
(the tax "TOTAL INCLUDES 6% GST 1.44", a total before service or rounding, per-rate parts); with
them (see :func:`forensics.detectors.printed_totals._lowered`), 0 of 220. A label that says the
total includes its tax ("Total Incl. GST@6%") names the amount due, not a tax: such a total
repainted lower was set aside with the taxes until the tune half showed it (+1 lowered, +1 raised
read lower than it is, honest receipts still 0 of 119).

The relations live in :mod:`forensics.detectors.amount_relations`, the printed totals in
:mod:`forensics.detectors.printed_totals`; this module weighs them into findings.
"""

from __future__ import annotations

import re
from decimal import Decimal

from forensics.detectors import Analysis, StoreView
from forensics.detectors.amount_relations import (
    MAX_TAX_SHARE,
    PLAUSIBLE_RATES,
    Amount,
    Failure,
    _close,
    _dec,
    _field_amount,
    _join,
    _total_tolerance,
    check_change,
    check_items,
    check_tax_rate,
    check_total,
    item_rows,
    items_support,
    labelled_amounts,
    tax_supports,
)
from forensics.detectors.item_price import item_price_conflict
from forensics.detectors.printed_totals import (
    MAJORITY,
    ODD_FACTOR,
    TRUSTED_CONFIDENCE,
    odd_total,
    printed_amounts,
    rate_pinned_total,
    total_sources,
)
from forensics.detectors.rounding import rounding_conflict
from forensics.detectors.tax_table import TableConflict, table_conflict
from forensics.detectors.tendered import TenderConflict, tender_conflict
from forensics.fields.amounts import find_amounts
from forensics.model import CheckResult, Field, Finding

__all__ = ["PLAUSIBLE_RATES", "detector"]

#: labels of lines that state a total (where an extractor may have found "the" total)
TOTAL_LABEL = re.compile(r"\b(?:TOTAL|AMOUNT|AMT|DUE|NETT|NET|GRAND|JUMLAH|SUMME|BETRAG|PAYABLE|"
                         r"TTC|ROUNDED)\b", re.I)


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
    sources = total_sources(printed, rows, items, rate)
    hit = odd_total(printed, sources)
    if hit is None:
        return (_pinned_finding(analysis, printed, rate) or _table_finding(analysis, printed, rows)
                or _tender_finding(tender_conflict(printed, sources)) or _rounding_finding(analysis, printed)
                or _item_finding(analysis, printed, sources))
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


def _pinned_finding(analysis: Analysis, printed: list, rate: Field | None) -> Finding | None:
    """The finding for totals that all disagree with the net amount plus its tax, which agree
    with each other at the rate (every copy of the total changed alike)."""
    hit = rate_pinned_total(analysis, printed, _dec(rate.value) if rate is not None else None)
    if hit is None:
        return None
    pinned, net, tax, totals = hit
    numbers = [*(p.amount for p in totals), *((net.amount,) if net is not tax else ()), tax.amount]
    # net and tax pin each other at the rate (a misread one would not), the totals need reading
    if any(_ocr_confidence(analysis, p.amount) < TRUSTED_CONFIDENCE for p in totals):
        return None
    shown = ", ".join(sorted({p.amount.text for p in totals}))
    if net is tax:  # no net amount printed: the tax at its rate alone says what the total was
        message = (f"Every total printed ({shown}) is far from the total the tax {tax.amount.text} at its "
                   f"printed rate of {tax.rate:f}% implies ({pinned:.2f}): the totals were changed alike, or "
                   "the tax was.")
    else:
        message = (f"Every total printed ({shown}) is far from the subtotal {net.amount.text} plus its tax "
                   f"{tax.amount.text} ({pinned:.2f}), although subtotal and tax agree with each other at "
                   "the tax rate: the totals were changed alike, or the subtotal and tax were.")
    return _conflict_finding("rate_pinned_total", message, totals[0].amount, f"{pinned:.2f}", numbers)


def _table_finding(analysis: Analysis, printed: list, rows: list) -> Finding | None:
    """The finding for totals that all disagree with the tax summary table's rows, which agree
    with their rates (:mod:`forensics.detectors.tax_table`)."""
    field = analysis.extraction.fields.get("currency")
    conflict: TableConflict | None = table_conflict(printed, rows, str(field.value).upper() if field else "",
                                                     analysis.reading.lines())
    if conflict is None:
        return None
    # each row's net and tax pin each other at its rate (a misread one would not); a total
    # stated once must be read with confidence
    table = [a for n, t, _r in conflict.rows for a in (n, t)]
    if len(conflict.totals) < 2 and _ocr_confidence(analysis, conflict.totals[0].amount) < TRUSTED_CONFIDENCE:
        return None
    numbers = [*(t.amount for t in conflict.totals), *table]
    first = conflict.totals[0].amount
    return _conflict_finding("tax_table", conflict.message(), first, f"{conflict.due:.2f}", numbers)


def _rounding_finding(analysis: Analysis, printed: list) -> Finding | None:
    """The finding for a rounded total far from the total before the rounding line
    (:mod:`forensics.detectors.rounding`)."""
    conflict = rounding_conflict(printed, analysis.reading.lines())
    if conflict is None:
        return None
    numbers = [conflict.after.amount, conflict.before.amount]
    return _conflict_finding("rounding", conflict.message(), conflict.after.amount, f"{conflict.before.amount.value:.2f}", numbers)


def _item_finding(analysis: Analysis, printed: list, sources: list) -> Finding | None:
    """The finding for the receipt's one item whose quantity x unit price is far from its
    amount, which is the total (:mod:`forensics.detectors.item_price`)."""
    conflict = item_price_conflict(printed, analysis.reading.lines(), sources)
    if conflict is None:
        return None
    numbers = [conflict.amount, conflict.quantity, conflict.price]
    return _conflict_finding("item_price", conflict.message(), conflict.amount, f"{conflict.expected:.2f}", numbers)


def _conflict_finding(check: str, message: str, first: Amount, expected: str, numbers: list) -> Finding:
    """An ``amounts_inconsistent`` finding (medium) of a check that pins the total by other printed
    numbers: on the first total's box, every number involved in the evidence with its box."""
    return Finding(
        code="amounts_inconsistent",
        severity="medium",
        score=0.65,
        message=message,
        page=first.page,
        box=first.box,
        evidence={"check": check, "expected": expected,
                  "numbers": [{"name": a.name, "value": a.text, "page": a.page,
                               "box": list(a.box) if a.box else None} for a in numbers]},
    )


def _tender_finding(conflict: TenderConflict | None) -> Finding | None:
    """The finding for totals that all disagree with the cash tendered minus the change."""
    if conflict is None:
        return None
    numbers = [*(t.amount for t in conflict.totals), conflict.paid.amount, conflict.change.amount]
    first = conflict.totals[0].amount
    return _conflict_finding("tendered", conflict.message(), first, f"{conflict.due:.2f}", numbers)


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
