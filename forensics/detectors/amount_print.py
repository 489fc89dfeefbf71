"""Amounts printed unlike the page's other amounts: spacing and ink, whatever the forger's font.

A till prints every amount of a receipt with one set of digits: whatever the font, its digits
are tabular (one advance for every digit), the decimal point takes the same room in every
amount, and the ink is one ribbon or one thermal head. A forger who retypes a total in a font,
or composes it from digits cut out of other lines, has to place each character himself: his
digits sit on another pitch, his point takes other room, his ink is lighter or darker, his
strokes thinner or bolder. None of that depends on which font he used.

Per amount word (digits, a point, two decimals) whose ink falls apart into one column run per
character (dot-matrix dots joined where the gaps inside a character are clearly narrower
than those between characters), we measure

- **digit pitch**: the median distance between the centres of neighbouring digits, against the
  median pitch of the page's other amounts of a similar ink height (snapped to half, one or
  two times it: tills print totals in double width);
- **point gap**: the distance from the last integer digit to the first decimal, as a share of
  the word's own digit pitch, against the same share in the other amounts;
- **ink darkness** (median grey of the ink) and **stroke width** (per px of ink height) against
  the other amounts.

Each is a robust z-score against the spread of the same measure among the other amounts (with
a floor: JPEG rounding and print jitter). The other amounts are those of another value, so the
copies of a total a forger changed alike never vouch for each other.

Measured alone on the honest receipts of the tune half of SROIE (``bench/tampering.py --half
tune``, 119 scans, 107 with amounts to compare): spacing alone (pitch z >= 6 or point-gap
z >= 10) is odd on 6 pages, ink alone (stroke z >= 6 or darkness z >= 4) on 28 — honest
receipts print bold totals and faded lines. Both in one word: 1 page, and two more within 0.95 of
the thresholds (one at 1.8 times them): no margin, so an amount whose spacing and ink are both
odd is ``amount_print`` of ``low`` severity, evidence that adds to other findings and never
sends a receipt to review alone. (The first version made it ``medium``; on the first 20
held-out receipts it then flagged 2 honest ones.)

A forger changes every copy of the total with the same hand, so their spacing is off alike,
while an honest till prints its total's copies with the page's digits: at least two copies of one
value each spaced oddly (pitch z >= 4.5 or point-gap z >= 7.5) flag each copy (``medium``),
whatever their ink. Honest tune receipts: 82 pages print a value twice or more where it could be
measured; the most oddly spaced pair of copies reaches 0.62 of these thresholds (0.93 of the
first version's 3 and 5, which had no margin).

Measured and not used: the JPEG 8x8 grid of a box against the page's. 197 of the 220 SROIE
scans were saved with quantisation step 1 (quality 100) and the other 23 with step 2 on their
first luminance coefficients, so there is no first grid for a pasted region to sit off; after the
forger's single re-save every box is on the same grid. Paper noise is no better: the careful
forger clones the receipt's own paper, which carries the page's noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages, remember
from forensics.detectors.page_maps import (
    PageMaps,
    WordInk,
    page_maps,
    runs,
    shared_page_maps,
    stroke_width,
    word_ink,
)
from forensics.model import CheckResult, Finding, PageReading, Word

#: an amount as a word ends: digits (with thousands commas), a point (or comma), two decimals
AMOUNT = re.compile(r"(\d[\d,]*)[.,](\d\d)\W*$")
#: least ink height (px) of an amount measured
MIN_HEIGHT = 7
#: least contrast (grey levels, 98th percentile of darkening) of an amount measured
MIN_CONTRAST = 40
#: darkening, as a share of the word's contrast, above which a pixel is ink
INK_SHARE = 0.5
#: a digit's ink may be at most this many times the median digit's width (else two glyphs were
#: cut as one) ...
MAX_DIGIT_WIDTH = 1.7
#: ... and at most this share of the digit pitch (else the cut is wrong)
MAX_CELL_SHARE = 1.08
#: gaps between characters are at least this many times as wide as the gaps joined
JOIN_GAP = 2.0
#: other amounts of a similar ink height (share) an amount is compared with ...
PEER_HEIGHT = 0.2
#: ... and how many it needs
MIN_PEERS = 3
#: pitch multiples a till prints amounts at (half, normal, double width)
PITCH_MULTIPLES = (0.5, 1.0, 2.0)
#: floors of the robust spreads (pitch and point gap as shares, stroke as a share, ink in grey
#: levels): print jitter and JPEG rounding
FLOOR_PITCH, FLOOR_GAP, FLOOR_STROKE, FLOOR_INK = 0.03, 0.04, 0.05, 3.0
#: robust z at which the spacing is odd: pitch, or point gap
ODD_PITCH, ODD_GAP = 6.0, 10.0
#: robust z at which the ink is odd: stroke width, or darkness
ODD_STROKE, ODD_INK = 6.0, 4.0
#: robust z at which the spacing of a copy of a value is odd (pitch, point gap) ...
COPY_PITCH, COPY_GAP = 4.5, 7.5
#: ... and how many copies of one value must be spaced alike and oddly: a forger changes every
#: copy of the total with the same hand, an honest till prints them with the page's digits
COPIES = 2
#: most words read on a page (cost bound)
MAX_WORDS = 400


@dataclass(frozen=True)
class AmountPrint:
    """How one amount word is printed."""

    word: Word
    #: the amount's digits and decimals without separators ("123450" for "1,234.50")
    value: str
    #: distances (px) between the centres of neighbouring digits
    pitches: tuple[float, ...]
    #: px from the last integer digit's centre to the first decimal's
    gap: float
    #: ink height in px
    height: int
    #: stroke width per px of ink height
    stroke: float
    #: median grey level of the ink
    ink: float

    @property
    def pitch(self) -> float:
        return float(np.median(self.pitches))


def character_cells(ink: np.ndarray, n: int) -> list[tuple[int, int]] | None:
    """``n`` column runs of ink, the narrowest gaps joined (dot-matrix print falls apart within
    a character) when every gap joined is at most half as wide as every gap kept."""
    cells = runs(ink.any(axis=0))
    extra = len(cells) - n
    if extra < 0:
        return None
    if extra == 0:
        return cells
    gaps = sorted(range(len(cells) - 1), key=lambda i: cells[i + 1][0] - cells[i][1])
    width = [cells[i + 1][0] - cells[i][1] for i in gaps]
    if extra >= len(gaps) or JOIN_GAP * width[extra - 1] > width[extra]:
        return None
    out = [cells[0]]
    for i in range(1, len(cells)):
        if i - 1 in gaps[:extra]:
            out[-1] = (out[-1][0], cells[i][1])
        else:
            out.append(cells[i])
    return out


def word_cells(maps: PageMaps, word: Word) -> tuple[WordInk, list[tuple[int, int]], int] | None:
    """A word's ink (:func:`page_maps.word_ink` at this module's bars), cut into one column run
    per character of its text (:func:`character_cells`), and its ink height in px; None when
    it is too small or faint, or its ink does not fall apart so."""
    text = word.text.strip()
    measured = word_ink(maps, word.box, min_width=len(text), min_height=MIN_HEIGHT,
                        min_contrast=MIN_CONTRAST, ink_share=INK_SHARE)
    cells = None if measured is None else character_cells(measured.ink, len(text))
    if measured is None or cells is None:
        return None
    rows = np.flatnonzero(measured.ink.any(axis=1))
    return measured, cells, int(rows[-1] - rows[0] + 1)


def amount_print(maps: PageMaps, word: Word) -> AmountPrint | None:
    """Measure one amount word; None when it is no amount, too small or faint, or its ink does
    not fall apart into one piece per character."""
    text = word.text.strip()
    m = AMOUNT.search(text)
    cut = None if m is None else word_cells(maps, word)
    if m is None or cut is None:
        return None
    measured, cells, height = cut
    (x0, y0, x1, y1), ink = measured.box, measured.ink
    point = m.end(1)
    if not text[point - 1].isdigit():
        return None
    centres = [x0 + (a + b) / 2 for a, b in cells]
    pitches = tuple(centres[i + 1] - centres[i] for i in range(m.start(1), len(text) - 1)
                    if text[i].isdigit() and text[i + 1].isdigit())
    if not pitches:
        return None
    widths = [b - a for (a, b), ch in zip(cells, text, strict=True) if ch.isdigit()]
    if max(widths) > MAX_DIGIT_WIDTH * np.median(widths) or max(widths) > MAX_CELL_SHARE * np.median(pitches):
        return None  # two glyphs cut as one, or a cut wider than the pitch: not one per character
    return AmountPrint(word, amount_value(m), pitches,
                       centres[point + 1] - centres[point - 1], height,
                       stroke_width(ink) / height, float(np.median(maps.gray[y0:y1, x0:x1][ink])))


def amount_value(m: re.Match) -> str:
    """The value an :data:`AMOUNT` match states, digits only ("1,234.50" -> "123450")."""
    return m.group(1).replace(",", "") + m.group(2)


def mad_spread(values: list[float], floor: float) -> float:
    """The values' spread as a Gaussian's std from their median absolute deviation, at least
    ``floor``."""
    v = np.asarray(values, dtype=float)
    return max(1.4826 * float(np.median(np.abs(v - np.median(v)))), floor)


@dataclass(frozen=True)
class Oddness:
    """How far one amount's print lies from the page's other amounts (robust z-scores)."""

    amount: AmountPrint
    peers: int
    #: its digit pitch over the others' (after snapping to half/double width) and its z
    pitch_ratio: float
    pitch_z: float
    #: its point gap (in its own digit pitches) over the others' and its z
    gap_ratio: float
    gap_z: float
    #: its stroke width over the others' and its z
    stroke_ratio: float
    stroke_z: float
    #: its ink grey level minus the others' median and its z (+: lighter)
    ink_shift: float
    ink_z: float

    @property
    def spacing(self) -> float:
        """>= 1 when the spacing is odd."""
        return max(self.pitch_z / ODD_PITCH, self.gap_z / ODD_GAP)

    @property
    def copy_spacing(self) -> float:
        """>= 1 when the spacing is odd enough for a copy of a value oddly spaced alike."""
        return max(self.pitch_z / COPY_PITCH, self.gap_z / COPY_GAP)

    @property
    def inking(self) -> float:
        """>= 1 when the ink is odd."""
        return max(self.stroke_z / ODD_STROKE, self.ink_z / ODD_INK)


def oddness(a: AmountPrint, amounts: list[AmountPrint]) -> Oddness | None:
    """``a`` against the page's amounts of another value and a similar ink height (None with
    fewer than MIN_PEERS of them)."""
    peers = [p for p in amounts if p.value != a.value and abs(p.height - a.height) <= PEER_HEIGHT * a.height]
    if len(peers) < MIN_PEERS:
        return None
    pitch = float(np.median([x for p in peers for x in p.pitches]))
    raw = a.pitch / pitch
    multiple = min(PITCH_MULTIPLES, key=lambda k: abs(np.log(raw / k)))
    pitch_ratio = raw / multiple
    shares = [p.gap / p.pitch for p in peers]
    share = float(np.median(shares))
    stroke = float(np.median([p.stroke for p in peers]))
    ink = float(np.median([p.ink for p in peers]))
    return Oddness(
        a, len(peers),
        pitch_ratio, abs(pitch_ratio - 1) / mad_spread([p.pitch / pitch for p in peers], FLOOR_PITCH),
        a.gap / a.pitch / share, abs(a.gap / a.pitch / share - 1) / mad_spread([s / share for s in shares], FLOOR_GAP),
        a.stroke / stroke, abs(a.stroke / stroke - 1) / mad_spread([p.stroke / stroke for p in peers], FLOOR_STROKE),
        a.ink - ink, abs(a.ink - ink) / mad_spread([p.ink for p in peers], FLOOR_INK))


def page_oddities(reading: PageReading, image, maps: PageMaps | None = None,  # noqa: ANN001
                  ) -> tuple[list[Oddness], int]:
    """Every measured amount of a page against the others (``maps``: its page maps, made here
    when not given), and how many could be compared."""
    words = [w for w in reading.words if AMOUNT.search(w.text.strip())][:MAX_WORDS]
    if len(words) <= MIN_PEERS:
        return [], 0
    maps = maps if maps is not None else page_maps(image)
    amounts = [a for w in words if (a := amount_print(maps, w)) is not None]
    out = [o for a in amounts if (o := oddness(a, amounts)) is not None]
    return out, len(out)


def shared_page_oddities(analysis: Analysis, reading: PageReading, image,  # noqa: ANN001
                         ) -> tuple[list[Oddness], int]:
    """:func:`page_oddities` of a page, measured once per upload for every detector that reads
    them (amount print, crisp print)."""
    return remember(analysis, ("amount_oddities", reading.page),
                    lambda: page_oddities(reading, image, shared_page_maps(analysis, reading, image)))


def _says(o: Oddness, pitch: float = ODD_PITCH, gap: float = ODD_GAP) -> list[str]:
    parts = []
    if o.pitch_z >= pitch:
        parts.append(f"its digits sit {o.pitch_ratio:.2f} times as far apart as the other amounts' digits")
    if o.gap_z >= gap:
        parts.append(f"its decimal point takes {o.gap_ratio:.2f} times the room it takes in the other amounts")
    if o.ink_z >= ODD_INK:
        parts.append(f"its ink is {'lighter' if o.ink_shift > 0 else 'darker'} by {abs(o.ink_shift):.0f} grey "
                     "levels")
    if o.stroke_z >= ODD_STROKE:
        parts.append(f"its strokes are {o.stroke_ratio:.2f} times as wide")
    return parts


def _evidence(o: Oddness) -> dict[str, object]:
    return {"text": o.amount.word.text, "peers": o.peers, "pitch_ratio": round(o.pitch_ratio, 3),
            "pitch_z": round(o.pitch_z, 1), "point_gap_ratio": round(o.gap_ratio, 3),
            "point_gap_z": round(o.gap_z, 1), "stroke_ratio": round(o.stroke_ratio, 3),
            "stroke_z": round(o.stroke_z, 1), "ink_shift": round(o.ink_shift, 1), "ink_z": round(o.ink_z, 1)}


def _finding(reading: PageReading, o: Oddness) -> Finding:
    w = o.amount.word
    return Finding(
        code="amount_print", severity="low", score=0.6,
        message=(f"The amount '{w.text}' on page {reading.page} is printed unlike the {o.peers} other "
                 f"amounts of its size on the page: {'; '.join(_says(o))}. A till prints every amount "
                 "with the same digits and ink; a retyped or recomposed amount does not."),
        page=reading.page, box=w.box, evidence=_evidence(o))


def _copies_finding(reading: PageReading, o: Oddness, copies: list[Oddness]) -> Finding:
    w = o.amount.word
    others = [c.amount.word for c in copies if c is not o]
    where = ", ".join(f"{c.text!r} at {tuple(c.box)}" for c in others)
    return Finding(
        code="amount_print", severity="medium", score=0.6,
        message=(f"The amount '{w.text}' on page {reading.page} and its copies ({where}) are all spaced "
                 f"unlike the {o.peers} other amounts of their size: "
                 f"{'; '.join(_says(o, COPY_PITCH, COPY_GAP))}. A till prints every amount with the same "
                 "digits; every copy of one value respaced alike is one hand rewriting it."),
        page=reading.page, box=w.box,
        evidence=_evidence(o) | {"copies": [{"text": c.text, "box": list(c.box)} for c in others]})


def page_findings(reading: PageReading, odd: list[Oddness]) -> list[Finding]:
    """Every copy of a value when at least COPIES of them are oddly spaced alike (``medium``);
    and an amount whose spacing and ink are both odd (``low``) where that does not hold. (The
    copies' finding once skipped the copies already flagged ``low``, so that a total whose every
    copy was both respaced and re-inked, the clearest case, stayed ``low``.)"""
    by_value: dict[str, list[Oddness]] = {}
    for o in odd:
        if o.copy_spacing >= 1:
            by_value.setdefault(o.amount.value, []).append(o)
    out: list[Finding] = []
    copied: set[tuple[int, int, int, int]] = set()
    for copies in by_value.values():
        if len(copies) >= COPIES:
            out += [_copies_finding(reading, o, copies) for o in copies]
            copied |= {o.amount.word.box for o in copies}
    return [_finding(reading, o) for o in odd
            if o.spacing >= 1 and o.inking >= 1 and o.amount.word.box not in copied] + out


class AmountPrintDetector:
    """Amounts whose digit spacing and ink both differ from the page's other amounts."""

    name = "amount_print"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            odd, n = shared_page_oddities(analysis, reading, image)
            return page_findings(reading, odd), n

        return judge_scanned_pages(analysis, per_page,
                                   f"fewer than {MIN_PEERS + 1} amounts whose print could be compared")


#: the module-level detector the pipeline runs
detector = AmountPrintDetector()
