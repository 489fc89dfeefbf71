"""Every copy of an amount printed softer and paler than the page's other values.

:mod:`crisp_print` looks for a retyped value that is sharper and more solid than the till's
print. The same edit often goes the other way: a value typed at a receipt's small size is drawn
large and scaled down (or anti-aliased by the editor), so its strokes come out with wide, soft
edges and a fill lighter than their core, next to the till's print that the scanner blurred
much less. Whatever the font, every copy of the retyped value then differs from the page's other
values *in the same direction*, while an honest till prints a value's copies with the page's
print. So this is :mod:`crisp_print`'s measure read the other way: per value word (three digits
or more), its edge width and its fill against the page's other values of a similar ink height
(:func:`~forensics.detectors.crisp_print.crispness`). A copy is *soft* when

- its **softness**, the lesser of "edges wider by" and "fill lighter by" (robust z-scores), is
  at least ``SOFT_Z`` against at least ``SOFT_PEERS`` peers (z-scores of a handful of peers
  are too jumpy: a generated honest page with seven values reaches 1.5), or
- its edges are at least ``WIDE_EDGE`` times as wide as its peers' (a ratio, whatever their
  spread).

At least ``COPIES`` soft words of one amount value flag each copy (``medium``). A single soft
word is not flagged: a faded line of an honest roll is soft alone.

Measured on the tune half of SROIE (``bench/tampering.py --half tune``, 119 honest scans): on
honest pages the second-softest copy of any value reaches a softness of 0.74 at most (next 0.63)
and edges 1.25 times as wide (next 1.25, 1.24); ``SOFT_Z`` = 2.0 and ``WIDE_EDGE`` = 1.5 leave
margins of 2.7 and 2 (on the excess over 1). On the tune half's repainted totals no other
detector flagged, the second copy reaches a softness of 2.5 and 2.2 (a lowered and a raised
total printed four and five times) and edges 1.61 and 1.84 times as wide (a lowered and a raised
total printed twice): two lowered, two raised. Tried: softness >= 1.25 (margin 1.7 on the
z-score alone) caught two more, and flagged the generated honest page above.
"""

from __future__ import annotations

import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.crisp_print import MIN_PEERS, Crispness, _value, shared_page_crispness
from forensics.model import CheckResult, Finding, PageReading

#: robust z by which a copy's edges must be wider and its fill lighter than its peers' ...
SOFT_Z = 2.0
#: ... against at least this many peers
SOFT_PEERS = 5
#: or its edges at least this many times as wide as its peers'
WIDE_EDGE = 1.5
#: soft words of one amount value needed to flag them
COPIES = 2


def is_soft(c: Crispness) -> bool:
    """Softer and paler than its peers by SOFT_Z (with SOFT_PEERS of them), or with edges
    WIDE_EDGE times as wide."""
    return (c.softness >= SOFT_Z and c.peers >= SOFT_PEERS) or c.edge_ratio >= WIDE_EDGE


def page_findings(reading: PageReading, measured: list[Crispness]) -> list[Finding]:
    """Each copy of an amount value when at least COPIES copies of it are soft."""
    by_value: dict[str, list[Crispness]] = {}
    for c in measured:
        value = _value(c.print.word.text)
        if value is not None and is_soft(c):
            by_value.setdefault(value, []).append(c)
    out = []
    for copies in by_value.values():
        if len(copies) < COPIES:
            continue
        for c in copies:
            w = c.print.word
            others = [o.print.word for o in copies if o is not c]
            where = ", ".join(f"{o.text!r} at {tuple(o.box)}" for o in others)
            out.append(Finding(
                code="soft_print", severity="medium", score=0.6,
                message=(f"The amount '{w.text}' on page {reading.page} and its copies ({where}) are all printed "
                         f"softer and paler than the {c.peers} other values of their size: their edges are "
                         f"{c.edge_ratio:.2f} times as wide and their ink fills the strokes only "
                         f"{c.fill_ratio:.2f} times as solidly. A till prints every copy of a value with "
                         "the page's print; text typed small into an image and smoothed by the editor "
                         "is soft alike in every copy a forger retyped."),
                page=reading.page, box=w.box,
                evidence={"text": w.text, "peers": c.peers, "fill": round(c.print.fill, 3),
                          "fill_ratio": round(c.fill_ratio, 3), "fill_z": round(c.fill_z, 1),
                          "edge_width": round(c.print.edge, 2), "edge_ratio": round(c.edge_ratio, 3),
                          "sharp_z": round(c.sharp_z, 1), "softness": round(c.softness, 2),
                          "copies": [{"text": o.text, "box": list(o.box)} for o in others]}))
    return out


class SoftPrintDetector:
    """Every copy of an amount printed softer and paler than the page's other values."""

    name = "soft_print"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            measured = shared_page_crispness(analysis, reading, image)
            return page_findings(reading, measured), len(measured)

        return judge_scanned_pages(analysis, per_page,
                                   f"fewer than {MIN_PEERS + 1} values whose print could be compared")


#: the module-level detector the pipeline runs
detector = SoftPrintDetector()
