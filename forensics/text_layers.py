"""Two text-layer pages compared by their words and boxes, before any pixel alignment.

A born-digital page's text layer says exactly what is printed where. Two such pages whose text
layers differ on many lines are different documents (not a re-upload, not an edited copy); when
their words also sit in different places they are not one layout either, and the pixel
alignment (:func:`forensics.alignment.compare_pages`, ~0.15-0.3 s a pair at 300 DPI) would only
confirm "unrelated". :func:`screen` says so from the text layers alone, or None: then the pixels
decide (same or nearly the same text, or the same places: one document, an edited copy or one
template).

Measured on 400 pairs of first pages of ../shared/datasets/invoices-pdf-dev of equal size (all
pairs the pixel alignment was run on, kinds as it answered): its 23 ``same_image`` pairs have
identical text layers (0 differing lines); every ``same_layout`` or ``unrelated`` pair differs
on 22 lines or more. The share of word-box area near the other page's word boxes (the
alignment's ink agreement, on word boxes) is 0.513 or more for its 38 ``same_layout`` pairs; 295
of its 339 ``unrelated`` pairs are below :data:`UNRELATED_BELOW` (their pixel agreement at most
0.464, against the alignment's 0.6 for a layout). Those 295 are decided here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import cv2
import numpy as np

from forensics.model import Box

#: fewest words on each page for its text layer to speak for the page
MIN_WORDS = 20
#: pages whose sizes differ by more than this share are left to the pixels (scaled copies)
SIZE_TOLERANCE = 0.01
#: a word matches one of the other page's when the text is the same and every side of the box
#: is within this share of the page's longer side (~1 mm on A4)
BOX_TOLERANCE = 0.004
#: two pages whose text differs on fewer printed lines than this are left to the pixels (one
#: document, or an edited copy); different documents differed on 22 or more
MIN_DIFFERING_LINES = 12
#: below this word-box agreement the pages are unrelated (one layout measured 0.513 or more)
UNRELATED_BELOW = 0.35
#: the agreement raster: page pixels per cell (300 DPI pages -> ~100 DPI, the alignment's scale)
CELL_PX = 3
#: word boxes near each other within this many cells agree (the alignment dilates ink by 5 px)
NEAR_CELLS = 5

Word = tuple[str, Box]

#: a scan's words count when OCR read them with at least this confidence (0..1)
SCAN_WORD_CONFIDENCE = 0.8
#: words of fewer letters and digits than this say nothing of a document ("NO", "1", "RM")
MIN_TOKEN_CHARS = 3
#: a text-layer page and a scan share fewer of their distinct words than this (the larger of
#: the two shares): unrelated. A print-and-scan of the page shares most of what OCR reads, and
#: one template's documents share its printed labels and header; an unrelated receipt shares
#: generic words only ("TOTAL", "DATE", "AMOUNT": at most 0.17 over the 220 SROIE receipts'
#: transcribed words against each of the 47 invoice PDFs' layers, median 0.017)
SCAN_SHARED_BELOW = 0.25


def screen(a: Sequence[Word], a_size: tuple[int, int], b: Sequence[Word], b_size: tuple[int, int],
           a_placed: Placed | None = None, b_placed: Placed | None = None) -> tuple[float, dict] | None:
    """(score, details) when text layers ``a`` and ``b`` (text and pixel box of each word, on
    pages of ``a_size`` and ``b_size`` pixels) prove the pages unrelated; None when the pixels
    must decide. ``a_placed``: :func:`placed_layer` of ``a``, for a page screened against many;
    ``b_placed``: :func:`placed_layer` of ``b`` at ``a_size`` (A's tolerance), likewise."""
    if len(a) < MIN_WORDS or len(b) < MIN_WORDS:
        return None
    (aw, ah), (bw, bh) = a_size, b_size
    if abs(aw - bw) > SIZE_TOLERANCE * max(aw, bw) or abs(ah - bh) > SIZE_TOLERANCE * max(ah, bh):
        return None
    tol = BOX_TOLERANCE * max(aw, ah)
    if a_placed is not None and (a_placed.items is not a or a_placed.tol != tol):
        a_placed = None  # placed for other words or another page size: not this page's
    if b_placed is not None and (b_placed.items is not b or b_placed.tol != tol):
        b_placed = None
    lines = {round(box[1] / (3 * tol)) for _, box in unmatched(a, b if b_placed is None else b_placed, tol)}
    lines |= {round(box[1] / (3 * tol)) for _, box in unmatched(b, a if a_placed is None else a_placed, tol)}
    if len(lines) < MIN_DIFFERING_LINES:
        return None
    agree = _agreement(a, b, (max(aw, bw), max(ah, bh)), a_placed, b_placed)
    if agree >= UNRELATED_BELOW:
        return None
    return round(1.0 - agree, 3), {"registration": "skipped: text layers", "differing_lines": len(lines),
                                   "word_box_agreement": round(agree, 3)}


def placed_layer(words: Sequence[Word], size: tuple[int, int]) -> Placed:
    """A text layer's words (on a page of ``size`` pixels) placed as :func:`screen` looks them up."""
    return Placed(words, BOX_TOLERANCE * max(size))


class Placed:
    """Items (text or another signature, box) kept in cells of ``tol`` by their boxes' top-left
    corner, for :func:`unmatched` to look each item up in its own and the neighbouring cells only
    (a page repeats its labels, rules and amounts hundreds of times). Made once for a page that
    is compared with many others."""

    def __init__(self, items: Sequence[tuple[str, Box]], tol: float) -> None:
        self.items, self.tol = items, tol
        self.step = max(float(tol), 1.0)
        self.exact = set(items)
        self.texts = {text for text, _ in items}
        self.where: dict[tuple[str, int, int], list[Box]] = defaultdict(list)
        for text, box in items:
            self.where[(text, int(box[0] // self.step), int(box[1] // self.step))].append(box)
        #: :func:`screen`'s agreement raster of the items, dilated, and its sum, by raster size
        self.rasters: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, int]] = {}


def unmatched(a: Sequence[tuple[str, Box]], b: Sequence[tuple[str, Box]] | Placed, tol: float) -> list[tuple[str, Box]]:
    """Items (text or another signature, box) of ``a`` with no item of the same text at the same
    place in ``b`` (every side within ``tol``); ``b`` may be given :class:`Placed` at ``tol``."""
    if not isinstance(b, Placed):
        placed = Placed(b, tol)
    elif b.tol == tol:
        placed = b
    else:
        raise ValueError(f"items placed at tolerance {b.tol}, asked at {tol}")
    step, exact, texts, where = placed.step, placed.exact, placed.texts, placed.where
    out = []
    for item in a:
        if item in exact:
            continue
        text, (x0, y0, x1, y1) = item
        if text not in texts:
            out.append(item)
            continue
        cx, cy = int(x0 // step), int(y0 // step)
        if not _near(where, text, cx, cy, (x0, y0, x1, y1), tol):
            out.append(item)
    return out


def _near(where: dict[tuple[str, int, int], list[Box]], text: str, cx: int, cy: int, box: Box, tol: float) -> bool:
    """Is there a box of ``text`` in the cells around (cx, cy) with every side within ``tol``?"""
    x0, y0, x1, y1 = box
    for kx in (cx - 1, cx, cx + 1):
        for ky in (cy - 1, cy, cy + 1):
            for o in where.get((text, kx, ky), ()):
                if abs(x0 - o[0]) <= tol and abs(y0 - o[1]) <= tol and abs(x1 - o[2]) <= tol and abs(y1 - o[3]) <= tol:
                    return True
    return False


def _agreement(a: Sequence[Word], b: Sequence[Word], size: tuple[int, int], a_placed: Placed | None = None,
               b_placed: Placed | None = None) -> float:
    """The smaller of the shares of each page's word-box area near the other's word boxes
    (each page's raster, its dilation and its count kept in ``a_placed`` and ``b_placed``,
    :class:`Placed` of ``a`` and ``b``, when given)."""
    w, h = size[0] // CELL_PX + 1, size[1] // CELL_PX + 1

    def raster(words: Sequence[Word]) -> np.ndarray:
        m = np.zeros((h, w), np.uint8)
        for _, (x0, y0, x1, y1) in words:
            m[max(0, y0 // CELL_PX):y1 // CELL_PX + 1, max(0, x0 // CELL_PX):x1 // CELL_PX + 1] = 1
        return m

    near = np.ones((NEAR_CELLS, NEAR_CELLS), np.uint8)
    # the rasters hold 0 and 1: their sums are counts of non-zero cells (cv2's count is far
    # cheaper than numpy's widening sum of a megacell raster)
    def kept(words: Sequence[Word], placed: Placed | None) -> tuple[np.ndarray, np.ndarray, int]:
        got = placed.rasters.get(size) if placed is not None else None
        if got is None:
            m = raster(words)
            got = (m, cv2.dilate(m, near), cv2.countNonZero(m))
            if placed is not None:
                placed.rasters[size] = got
        return got

    ma, ma_near, ma_sum = kept(a, a_placed)
    mb, mb_near, mb_sum = kept(b, b_placed)
    a_in_b = float(cv2.countNonZero(cv2.bitwise_and(ma, mb_near))) / max(1, ma_sum)
    b_in_a = float(cv2.countNonZero(cv2.bitwise_and(mb, ma_near))) / max(1, mb_sum)
    return min(a_in_b, b_in_a)


def screen_scan(layer: Sequence[str], scan: Sequence[tuple[str, float]]) -> tuple[float, dict] | None:
    """(score, details) when a text-layer page (its words) and a scanned page (the words OCR
    read on it, with confidences) share too few words to be one document or one template;
    None when the pixels must decide (they share enough, or either side read too little: a
    scan OCR could not read proves nothing)."""
    mine = _layer_tokens(tuple(layer))
    theirs = _tokens(text for text, confidence in scan if confidence >= SCAN_WORD_CONFIDENCE)
    if len(mine) < MIN_WORDS or len(theirs) < MIN_WORDS:
        return None
    shared = len(mine & theirs)
    share = max(shared / len(mine), shared / len(theirs))
    if share >= SCAN_SHARED_BELOW:
        return None
    return round(1.0 - share, 3), {"registration": "skipped: text layer against the scan's words",
                                   "shared_words": shared, "word_share": round(share, 3)}


@lru_cache(maxsize=8)
def _layer_tokens(layer: tuple[str, ...]) -> frozenset[str]:
    """:func:`_tokens` of a text layer, kept for the next scan it is screened against (a page
    meets many candidates; the words' tuple is its key, ~50x cheaper than the tokens)."""
    return frozenset(_tokens(layer))


def _tokens(words: Iterable[str]) -> set[str]:
    """Distinct words in comparison form: letters and digits, upper case, long enough."""
    out = set()
    for text in words:
        token = "".join(c for c in text.upper() if c.isalnum())
        if len(token) >= MIN_TOKEN_CHARS:
            out.add(token)
    return out
