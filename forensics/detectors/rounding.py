"""The total before the rounding line against the total after it: they differ by the rounding only.

Tills that round cash print the total, a rounding line ("Rounding Adj -0.01") and the rounded
total under it. When the rounding is not zero the two totals print different values, and a
forger who changes every printed copy of the amount due (the rounded total, the exact cash)
leaves the total above the rounding line as it was: the two then differ by far more than any
rounding, whichever way the amount due moved.

Guarded as one relation that must stay rare on honest print: both lines are total lines (not
taxes under a total label, not counts); they sit within ``NEAR`` lines of the rounding line, one
above and one below it (or on it: "Rounding RM 54.56" prints the rounded total itself); they
differ by at least ODD_FACTOR and not by a confusable or stray digit once the rounding is allowed for; the total below is read with
confidence or printed again (the exact cash, another total line).

Measured with the arithmetic detector alone on the tune half of SROIE (119 honest scans): 0
honest pages flagged; the two that the first version flagged were misreads of the total before
the rounding line ("85.72" for 65.72 over a rounding of 0.02, "216.38" for 16.38), hence the
digit guard allowing for the rounding. It flags 1 lowered (font) total nothing else caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from forensics.detectors.amount_relations import ADJUSTMENTS, CENT, _close
from forensics.detectors.printed_totals import (
    AGREE,
    ROUNDED_TOTAL,
    TRUSTED_CONFIDENCE,
    Printed,
    _counts_something,
    _misread,
    _word_amounts,
    far_apart,
)
from forensics.detectors.tendered import _tax_line
from forensics.model import Line

#: the cents a rounding may move a total by (to 0.05 or 0.10)
ROUNDED_BY = range(-5, 6)
#: most lines between the rounding line and each of the two totals
NEAR = 3


@dataclass(frozen=True)
class RoundingConflict:
    """A total above the rounding line and the rounded total below it, far apart."""

    before: Printed
    after: Printed
    #: the rounding line's text
    rounding: str

    def message(self) -> str:
        way = "above" if self.after.amount.value > self.before.amount.value else "below"
        return (f"The rounded total {self.after.amount.text} ({self.after.label.strip()!r}) is far {way} the "
                f"total {self.before.amount.text} printed before the rounding line "
                f"({self.rounding.strip()!r}); rounding moves a total by a few cents: the amount due was "
                "changed, or the total before it was.")


def rounding_conflict(printed: list[Printed], lines: list[tuple[int, Line]]) -> RoundingConflict | None:
    """The totals across a rounding line that differ by far more than a rounding (see the module)."""
    pattern = ADJUSTMENTS["rounding"][0]
    totals = [p for p in printed if p.kind == "total" and p.amount.value > 0
              and not _counts_something(p.label)]
    for r, (page, line) in enumerate(lines):
        if not pattern.search(line.text):
            continue
        found = _word_amounts(line)
        small = not found or abs(found[-1][0]) < ROUNDED_TOTAL
        before = [t for t in totals if r - NEAR <= t.index < r and lines[t.index][0] == page]
        after = [t for t in totals if r + (0 if not small else 1) <= t.index <= r + NEAR
                 and lines[t.index][0] == page]
        if not before or not after:
            continue
        b, a = before[-1], after[0]
        bv, av = b.amount.value, a.amount.value
        if _tax_line(b, av) or _tax_line(a, bv) or any(
                _misread(av, bv + CENT * k, 1) or _misread(bv + CENT * k, av, 1) for k in ROUNDED_BY):
            continue  # a digit apart once rounded ("85.72" read for 65.72, "216.38" for 16.38)
        if not far_apart(av, bv):
            continue
        repeated = sum(_close(av, p.amount.value, AGREE) for p in printed if p.kind in ("total", "paid")) >= 2
        if a.confidence < TRUSTED_CONFIDENCE and not repeated:
            continue
        return RoundingConflict(b, a, line.text)
    return None
