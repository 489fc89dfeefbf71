"""The one item of a receipt against its own quantity x unit price.

A receipt with one item prints its amount and the total as the same value. A forger who changes
every printed copy of the total changes the item's amount with it, but the quantity and the unit
price printed on the item line ("3 X 2.9000 = 8.70", "2x 5.30 10.60") still multiply to the old
value: the item line then contradicts itself, whichever way the total moved.

Guarded as one relation that must stay rare on honest print: the line states the multiplication
itself (a quantity, then ``x`` or ``*``, then a unit price, then the amount); the item's amount
agrees with every printed total (the receipt's one item); quantity x price differs from it by at
least ODD_FACTOR and not by a confusable digit; the quantity and the unit price are read with
``TRUSTED_CONFIDENCE``, or their product is printed elsewhere on the page, or another relation
of the page yields it (cash minus change, the tax table, the net plus its tax, the tax at its
rate), to within a confusable digit: two independent relations agreeing on one value a shaky
quantity would not give by chance (OCR gives a lone "3" or "2x" a confidence of 0.6-0.85).

Measured on the tune half of SROIE (119 honest scans): the relation holds on every honest scan
(0 found; the arithmetic detector alone still flags 0 of 119); it finds 20 of the 336 lowered and
raised totals, but every one of those was flagged by another check already: the check is a second
witness for now, not a new catch. With the corroboration by another relation: still 0 of 119
honest, and 2 lowered totals (glyphs) nothing else caught (a quantity read at 0.81 and 0.84,
confirmed by the tax table and by cash minus change read a digit off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from forensics.detectors.amount_relations import CENT, TOLERANCE, Amount, _close
from forensics.detectors.printed_totals import (
    AGREE,
    TRUSTED_CONFIDENCE,
    Printed,
    Source,
    _misread,
    _word_amounts,
    far_apart,
)
from forensics.model import Line

#: a quantity with the multiplication sign glued to it ("2x", "5X")
_QTY_SIGN = re.compile(r"(\d{1,3})[xX*]")
_QTY = re.compile(r"\d{1,3}")
_SIGN = re.compile(r"[xX*]")
#: a unit price as tills print it ("2.9000", "RM5.30")
_PRICE = re.compile(r"(?:RM)?(\d{1,5})[.,](\d{2,4})")


@dataclass(frozen=True)
class ItemConflict:
    """The item line whose quantity x unit price is far from its amount, which is the total."""

    quantity: Amount
    price: Amount
    amount: Amount
    expected: Decimal
    line: str

    def message(self) -> str:
        way = "above" if self.amount.value > self.expected else "below"
        return (f"The receipt's one item ({self.line.strip()!r}) shows {self.quantity.value.normalize():f} x "
                f"{self.price.value:f} = {self.amount.text}, but {self.quantity.value.normalize():f} x "
                f"{self.price.value:f} is {self.expected:.2f}; the item's amount is the total, "
                f"printed {way} it: the total was changed with the item, or the item line was.")


def _multiplication(line: Line) -> tuple[tuple[Decimal, float, int], tuple[Decimal, float, int]] | None:
    """(quantity, confidence, word index) and (unit price, confidence, word index) of a line that
    prints "Q x P" (None: it does not)."""
    words = line.words
    for j, w in enumerate(words):
        m = _QTY_SIGN.fullmatch(w.text)
        if m:
            q, conf, at = Decimal(m.group(1)), w.confidence, j + 1
        elif _QTY.fullmatch(w.text) and j + 1 < len(words) and _SIGN.fullmatch(words[j + 1].text):
            q, conf, at = Decimal(w.text), min(w.confidence, words[j + 1].confidence), j + 2
        else:
            continue
        if at >= len(words) or q <= 0:
            return None
        p = _PRICE.fullmatch(words[at].text)
        if p is None:
            return None
        return (q, conf, j), (Decimal(f"{p.group(1)}.{p.group(2)}"), words[at].confidence, at)
    return None


def _corroborated(expected: Decimal, sources: list[Source], totals: list[Printed]) -> bool:
    """Whether another relation of the page (cash minus change, the tax table, the net plus its
    tax, the tax at its rate: a source not made of the printed totals) yields ``expected``, to
    within a confusable digit of OCR."""
    for s in sources:
        if all(any(a is t.amount for t in totals) for a in s.amounts):
            continue  # a printed total itself (or the items, whose amount is the total)
        if any(s.says(expected) or _misread(v, expected, 1) for v in s.values):
            return True
    return False


def item_price_conflict(printed: list[Printed], lines: list[tuple[int, Line]],
                        sources: list[Source] | None = None) -> ItemConflict | None:
    """The receipt's one item whose quantity x unit price is far from its amount (see the module;
    ``sources``: the page's statements of the total, :func:`printed_totals.total_sources`)."""
    totals = [p for p in printed if p.kind == "total" and p.amount.value > 0]
    if not totals:
        return None
    for i, (page, line) in enumerate(lines):
        hit = _multiplication(line)
        if hit is None:
            continue
        (q, qconf, qi), (p, pconf, pi) = hit
        found = _word_amounts(Line(line.words[pi + 1:]))
        if not found:
            continue
        value, box, _conf = found[-1]
        if any(t.index == i for t in totals) or not all(_close(t.amount.value, value, AGREE) for t in totals):
            continue  # not the receipt's one item
        expected = (q * p).quantize(CENT)
        if _close(expected, value, TOLERANCE + Decimal("0.005") * q):
            continue
        if not far_apart(value, expected):
            continue
        if _misread(value, expected, 1) or _misread(expected, value, 1):
            continue
        elsewhere = any(_close(v, expected, CENT) for k, (_pg, other) in enumerate(lines) if k != i
                        for v, _b, _c in _word_amounts(other))
        if min(qconf, pconf) < TRUSTED_CONFIDENCE and not elsewhere and not _corroborated(
                expected, sources or [], totals):
            continue
        return ItemConflict(Amount("quantity", q, page, line.words[qi].box),
                            Amount("unit price", p, page, line.words[pi].box),
                            Amount("line item amount", value, page, box), expected, line.text)
    return None
