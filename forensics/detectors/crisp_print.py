"""Copies of one amount whose print is crisper and more solid than the page's other values.

A scanner blurs every printed character alike: its edges ramp from paper to ink over a pixel
or more, and its ink is darkest in the middle of a stroke and lighter towards the edges. A
forger who types a new total in an editor pastes anti-aliased vector glyphs in one solid
colour (he picks the old text's ink): their edges ramp over less than a pixel and their ink is
as dark along the whole stroke as at its core. Whatever the font, the repainted words are
**crisper** (narrower edge ramps) and **more solid** (the median ink darkening is a larger share
of the word's full contrast) than the values printed around them.

Per value word (three digits or more) we measure

- **edge width**: pixels on the ramp between 20% and 80% of the word's contrast per pixel of ink
  boundary (about the width of the edge in px);
- **fill**: the median darkening of the word's ink pixels as a share of its contrast (its 98th
  percentile of darkening),

(an amount printed glued to a prefix, "RM22.05", on its amount's ink only: a forger who retypes
the digits leaves the till's currency mark, whose print would vouch for them; tune half: one
lowered total more, which is then also oddly spaced), and score each against the page's other
value words of a similar ink height and another text
(robust z: median and MAD of the peers, with a floor for JPEG rounding). A word is *crisp* when
its edges are narrower and its fill more solid than its peers' by ``CRISP_Z`` each.

An honest page has crisp words too: a bold or freshly printed total, a header in another print.
What it does not have is every copy of one value crisp alike while its other values are not;
a forger who changes a total changes every copy of it with the same editor. So at least
``COPIES`` words of one amount value, each crisp, flag each copy (``medium``).

Measured on the tune half of SROIE (``bench/tampering.py --half tune``, 119 honest scans): the
crispness (the lesser of the two z-scores) of the second-crispest copy of any value reaches 2.0
at most on honest pages (5 pages above 1.0); ``CRISP_Z`` = 3.5 leaves a margin of 1.75. On the
tune half's repainted totals it catches 5 lowered and 5 raised totals and 3 consistent edits
that no other detector flagged. A single crisp word is not flagged on that ground: honest single
words reach 10 on the same score (bold totals).

A single amount that is crisp (``ALONE_CRISP_Z``) *and* spaced unlike the page's other amounts
(the digit pitch or the decimal point's room of :mod:`amount_print`: a font's advance is not the
till's) is flagged too (``medium``), whether or not its copies were measured: OCR misreads a
copy, or the page prints the total once. Two independent traces of an editor in one word. Tune
half: the larger of the two shares of their thresholds reaches 0.53 on honest pages (margin
1.9); it catches 3 lowered and 2 raised totals the copies' rule and the other detectors missed.
The spacing measures are :mod:`amount_print`'s (imported, not re-implemented); its own findings
need spacing and ink both odd, which a solid-inked editor's text often is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.amount_print import (
    AMOUNT,
    Oddness,
    amount_value,
    mad_spread,
    shared_page_oddities,
)
from forensics.detectors.page_maps import PageMaps, page_maps, runs, shared_page_maps, word_ink
from forensics.model import CheckResult, Finding, PageReading, Word

#: digits a word needs to count as a value
VALUE_DIGITS = 3
#: least box size (px) of a word measured
MIN_SIZE = 8
#: least contrast (grey levels, 98th percentile of darkening) of a word measured
MIN_CONTRAST = 40
#: darkening, as a share of the word's contrast, above which a pixel is ink ...
INK_SHARE = 0.5
#: ... and between these shares a pixel is on an edge's ramp
RAMP = (0.2, 0.8)
#: least ink pixels of a word measured
MIN_INK = 20
#: value words whose ink heights differ by at most this share are peers ...
PEER_HEIGHT = 0.3
#: ... and how many a word needs
MIN_PEERS = 3
#: floors of the robust spreads (fill as a share of contrast, edge width in px): JPEG rounding
FLOOR_FILL, FLOOR_EDGE = 0.02, 0.05
#: robust z by which a word's fill must be more solid and its edges narrower than its peers'
CRISP_Z = 3.5
#: crisp words of one amount value needed to flag them
COPIES = 2
#: a single amount is flagged when it is crisp by this z ...
ALONE_CRISP_Z = 2.5
#: ... and its digits are spaced unlike the page's other amounts (:mod:`amount_print`'s robust
#: z of the digit pitch, or of the room of the decimal point)
ALONE_PITCH_Z, ALONE_GAP_Z = 5.0, 6.7
#: most words read on a page (cost bound)
MAX_WORDS = 400


@dataclass(frozen=True)
class WordPrint:
    """How crisp and solid one value word's print is."""

    word: Word
    #: ink height in px
    height: int
    #: median ink darkening as a share of the word's contrast
    fill: float
    #: px on the edge ramps per px of ink boundary
    edge: float


def word_print(maps: PageMaps, word: Word) -> WordPrint | None:
    """Measure one value word; None when it is too small, faint or has too little ink."""
    measured = word_ink(maps, word.box, min_width=MIN_SIZE, min_height=MIN_SIZE,
                        min_contrast=MIN_CONTRAST, ink_share=INK_SHARE)
    if measured is None:
        return None
    dark, contrast, ink = measured.dark, measured.contrast, measured.ink
    cut = _amount_start(ink, word.text)
    dark, ink = dark[:, cut:], ink[:, cut:]
    if ink.sum() < MIN_INK:
        return None
    ramp = (dark > RAMP[0] * contrast) & (dark < RAMP[1] * contrast)
    ink8 = ink.astype(np.uint8)
    boundary = int((ink8 - cv2.erode(ink8, np.ones((3, 3), np.uint8))).sum())
    rows = np.flatnonzero(ink.any(axis=1))
    return WordPrint(word, int(rows[-1] - rows[0] + 1), float(np.median(dark[ink])) / contrast,
                     float(ramp.sum()) / max(boundary, 1))


def _amount_start(ink: np.ndarray, text: str) -> int:
    """The first column of the amount of a word printed glued to a prefix ("RM22.05", read
    "RR2.05"): a forger who retypes the total leaves the till's currency mark, whose print would
    vouch for the word. The amount's characters are the last of the ink's column runs (0 when the
    word is no amount with a prefix, or its ink has no run to spare for the prefix)."""
    text = text.strip()
    m = AMOUNT.search(text)
    if m is None or m.start(1) == 0:
        return 0
    cells = runs(ink.any(axis=0))
    n = len(text) - m.start(1)
    return cells[-n][0] if len(cells) > n else 0


def _z(value: float, peers: list[float], floor: float) -> float:
    return (value - float(np.median(peers))) / mad_spread(peers, floor)


@dataclass(frozen=True)
class Crispness:
    """One value word against the page's other values of its size."""

    print: WordPrint
    peers: int
    #: robust z of its fill above its peers' (+: more solid)
    fill_z: float
    #: robust z of its edge width below its peers' (+: sharper)
    sharp_z: float
    #: its fill and edge width over its peers' medians
    fill_ratio: float
    edge_ratio: float

    @property
    def score(self) -> float:
        """>= CRISP_Z when the word is both more solid and sharper than its peers."""
        return min(self.fill_z, self.sharp_z)


def crispness(p: WordPrint, prints: list[WordPrint]) -> Crispness | None:
    """``p`` against the page's value words of another text and a similar ink height (None with
    fewer than MIN_PEERS of them)."""
    peers = [q for q in prints if q.word.text != p.word.text and abs(q.height - p.height) <= PEER_HEIGHT * p.height]
    if len(peers) < MIN_PEERS:
        return None
    fills, edges = [q.fill for q in peers], [q.edge for q in peers]
    return Crispness(p, len(peers), _z(p.fill, fills, FLOOR_FILL), -_z(p.edge, edges, FLOOR_EDGE),
                     p.fill / float(np.median(fills)), p.edge / max(float(np.median(edges)), 1e-6))


def _value(text: str) -> str | None:
    m = AMOUNT.search(text.strip())
    return amount_value(m) if m else None


def page_crispness(reading: PageReading, image, maps: PageMaps | None = None,  # noqa: ANN001
                   ) -> list[Crispness]:
    """Every value word of a page that could be compared with its peers (``maps``: the page's
    maps, made here when not given)."""
    words = [w for w in reading.words if sum(ch.isdigit() for ch in w.text) >= VALUE_DIGITS][:MAX_WORDS]
    if len(words) <= MIN_PEERS:
        return []
    maps = maps if maps is not None else page_maps(image)
    prints = [p for w in words if (p := word_print(maps, w)) is not None]
    return [c for p in prints if (c := crispness(p, prints)) is not None]


def _spaced(o: Oddness | None) -> bool:
    return o is not None and (o.pitch_z >= ALONE_PITCH_Z or o.gap_z >= ALONE_GAP_Z)


def _spacing_says(o: Oddness) -> str:
    parts = []
    if o.pitch_z >= ALONE_PITCH_Z:
        parts.append(f"its digits sit {o.pitch_ratio:.2f} times as far apart as the other amounts' digits")
    if o.gap_z >= ALONE_GAP_Z:
        parts.append(f"its decimal point takes {o.gap_ratio:.2f} times the room it takes in the other amounts")
    return " and ".join(parts)


def _alone_finding(reading: PageReading, c: Crispness, o: Oddness) -> Finding:
    w = c.print.word
    return Finding(
        code="crisp_print", severity="medium", score=0.6,
        message=(f"The amount '{w.text}' on page {reading.page} is printed crisper than the {c.peers} other "
                 f"values of its size (edges {c.edge_ratio:.2f} times as wide, ink filling the strokes "
                 f"{c.fill_ratio:.2f} times as solidly) and spaced unlike the {o.peers} other amounts: "
                 f"{_spacing_says(o)}. A till prints every amount with one pitch and a scanner blurs "
                 "them alike; text typed into the image in an editor has its font's spacing and "
                 "sharp, solid strokes."),
        page=reading.page, box=w.box,
        evidence={"text": w.text, "peers": c.peers, "fill_ratio": round(c.fill_ratio, 3),
                  "fill_z": round(c.fill_z, 1), "edge_ratio": round(c.edge_ratio, 3),
                  "sharp_z": round(c.sharp_z, 1), "pitch_ratio": round(o.pitch_ratio, 3),
                  "pitch_z": round(o.pitch_z, 1), "point_gap_ratio": round(o.gap_ratio, 3),
                  "point_gap_z": round(o.gap_z, 1)})


def odd_copies(groups: Iterable[list[Any]], least: int) -> Iterator[tuple[Any, list[Word], str]]:
    """Each member (with a ``print``: :class:`WordPrint`) of every group of at least ``least``
    copies of one value found odd alike, with the words of its other copies and those named
    with their boxes for a finding's message: a forger changes every copy of a total the same
    way, so the copies are flagged together."""
    for copies in groups:
        if len(copies) < least:
            continue
        for c in copies:
            others = [o.print.word for o in copies if o is not c]
            yield c, others, ", ".join(f"{o.text!r} at {tuple(o.box)}" for o in others)


def page_findings(reading: PageReading, measured: list[Crispness],
                  spacing: dict[tuple[int, int, int, int], Oddness] | None = None) -> list[Finding]:
    """Each copy of an amount value when at least COPIES copies of it are crisp; and an amount
    crisp and oddly spaced (``spacing``: amount_print's measures by word box) on its own."""
    by_value: dict[str, list[Crispness]] = {}
    for c in measured:
        value = _value(c.print.word.text)
        if value is not None and c.score >= CRISP_Z:
            by_value.setdefault(value, []).append(c)
    out = []
    for c, others, where in odd_copies(by_value.values(), COPIES):
        w = c.print.word
        out.append(Finding(
            code="crisp_print", severity="medium", score=0.6,
            message=(f"The amount '{w.text}' on page {reading.page} and its copies ({where}) are all printed "
                     f"crisper than the {c.peers} other values of their size: their edges are "
                     f"{c.edge_ratio:.2f} times as wide and their ink fills the strokes {c.fill_ratio:.2f} "
                     "times as solidly. A scanner blurs every printed character alike; text typed "
                     "into the image in an editor is sharper and solid, and a forger retypes every "
                     "copy of a total the same way."),
            page=reading.page, box=w.box,
            evidence={"text": w.text, "peers": c.peers, "fill": round(c.print.fill, 3),
                      "fill_ratio": round(c.fill_ratio, 3), "fill_z": round(c.fill_z, 1),
                      "edge_width": round(c.print.edge, 2), "edge_ratio": round(c.edge_ratio, 3),
                      "sharp_z": round(c.sharp_z, 1),
                      "copies": [{"text": o.text, "box": list(o.box)} for o in others]}))
    flagged = {f.box for f in out}
    for c in measured:
        o = (spacing or {}).get(c.print.word.box)
        if c.print.word.box not in flagged and c.score >= ALONE_CRISP_Z and o is not None and _spaced(o):
            out.append(_alone_finding(reading, c, o))
    return out


class CrispPrintDetector:
    """Every copy of an amount printed crisper and more solid than the page's other values."""

    name = "crisp_print"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            maps = shared_page_maps(analysis, reading, image)
            measured = page_crispness(reading, image, maps)
            if not measured:
                return [], 0
            spacing = {o.amount.word.box: o for o in shared_page_oddities(analysis, reading, image)[0]}
            return page_findings(reading, measured, spacing), len(measured)

        return judge_scanned_pages(analysis, per_page,
                                   f"fewer than {MIN_PEERS + 1} values whose print could be compared")


#: the module-level detector the pipeline runs
detector = CrispPrintDetector()
