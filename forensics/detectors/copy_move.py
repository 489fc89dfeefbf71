"""Copy-move within a page: a word whose pixels repeat another word's pixels.

A careful forger does not type a new total in a font: he covers it with the receipt's own paper
and pastes another amount of the same receipt over it, or cuts the digits he needs out of
other lines. Shapes and fonts then match the page perfectly; what gives the paste away is that
print never repeats itself: two honest prints of "12.50" on one receipt have the same glyph
shapes but their own print grain, scanner noise and sub-pixel phase, while a pasted copy is its
source, pixel for pixel (up to the noise of a JPEG re-save after the edit).

Each value-like word (two digits or more) is aligned to every other of similar height (an
amount also to every word OCR read as letters: a pasted amount's source may be print OCR
misread, "SURES" for "27.95"), at the best integer shift of a normalised cross-correlation of
their high-pass residuals (so that blank
paper never matches blank paper), and the two boxes, lightly blurred, are subtracted. The
difference's RMS as a share of the box's contrast (``difference``) separates the two cases
(measured on 70 SROIE receipts: honest repeats of the same text 0.14 and up, 692 pairs; pastes
JPEG re-saved at quality 60-95 at most 0.08, 139 pastes). A digital render repeats its glyphs
exactly too (as does a generated page), so a close pair counts only when the page's other
repeated text (whole words, or three characters two words share) repeats less closely; with
nothing else repeated, only scan noise the two boxes share (away from glyph edges, saturated
white excluded) can tell.

A paste whose source OCR did not read as a word, or which OCR itself read as letters or not at
all, has no word to be paired with: the value words of total lines, the amount column (the last
word of each line, whatever OCR read) and the groups of ink OCR read no word in
(:func:`page_maps.unread_words`) are each searched for on the whole page (tune half: three of six
missed copy-moves found, the nearest honest search at 0.127; alone-rate on honest scans still 0;
each search is a template match over the whole page, so the detector costs more CPU a page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.page_maps import UNREAD, clip, shared_page_maps, unread_words
from forensics.model import Box, CheckResult, Finding, PageReading, Word, boxes_overlap

#: a word is compared when it has this many digits (amounts, dates, numbers: what forgers move)
MIN_DIGITS = 2
#: most value words compared on one page (pairs grow with the square)
MAX_WORDS = 80
#: a page-wide search is matched at half resolution first when its box is at least this many
#: px on each side, then at full resolution around the COARSE_PEAKS best places, within REFINE_PX
COARSE_MIN_SIDE = 16
COARSE_PEAKS = 8
REFINE_PX = 3
#: heights (px) of two words may differ this much for one to be a paste of the other
HEIGHT_SLACK = 4
#: px around the other word's box searched for the best alignment
SEARCH_MARGIN = 4
#: a pasted word may be this much wider (px) than its source as OCR boxes them ...
WIDTH_SLACK = 8
#: ... and its source up to this many times wider or taller (OCR glued it to a neighbour:
#: "RM15.00", or boxed it with a line above)
SOURCE_WIDER = 3.0
#: characters two words must share (".00", "2.5") for their common part to show how closely
#: this page repeats its print (the reference a close pair is judged against)
REFERENCE_CHARS = 3
#: an amount with two decimals in a word ("27.95", "RM1,234.50")
AMOUNT = re.compile(r"\d[.,]\d\d(?!\d)")
#: a line that states an amount due (where a forger pastes)
TOTAL_LINE = re.compile(r"TOTAL|TOTAI|AMOUNT|\bAMT\b|\bDUE\b|NETT|GRAND|JUMLAH|PAYABLE|BAYAR", re.I)
#: most reference comparisons made for one page
MAX_REFERENCES = 40
#: aligned, blurred difference (RMS over the box's contrast) at or below which a box is a copy
COPY_DIFFERENCE = 0.10
#: a word OCR read as letters is compared with an amount only when their boxes' contrasts (grey-
#: level std) differ by at most this share: the same print boxed alike (a copy's difference is
#: at most COPY_DIFFERENCE of its contrast at its alignment)
MISREAD_CONTRAST = 0.35
#: a pair whose one direction differs by this much (scaled by the boxes' contrasts: twice
#: COPY_DIFFERENCE) is not compared the other way round (a CPU saving, same findings)
REVERSE_SKIP = 0.2
#: side (px) of the square cells whose mean grey levels bound a pair's difference from below
#: before its alignment is searched (a CPU saving, same findings: see :func:`_difference_bounds`)
BOUND_CELL = 8
#: relative slack on that bound against the float32 rounding of the exact difference
BOUND_SLACK = 1e-4
#: a bound is summed only up to this factor past the largest threshold it is compared with
CAP_MARGIN = 1.01
#: least contrast (grey-level std) of a box for its difference to mean anything
MIN_CONTRAST = 8.0
#: grey-level gradient (Sobel of the 3x3 mean) above which a pixel is a glyph edge, not noise
EDGE = 24.0
#: paper at least this bright is saturated: the scanner clipped its noise away
SATURATED = 250
#: least noise pixels two boxes must share for their correlation to mean anything
MIN_NOISE_PIXELS = 120
#: least residual spread (grey levels) of those pixels: a clean digital page carries no noise
MIN_NOISE_STD = 0.8
#: noise correlation from which two boxes share their noise, when nothing else on the page
#: repeats to compare with (honest SROIE repeats: median 0.0; pastes re-saved at JPEG quality
#: 60-80: 0.27-0.43; a JPEG save removes most of a scan's noise, so this is a weak signal)
NOISE_CORRELATION = 0.2
#: noise correlation below which two boxes carry noise of their own: one render printed twice
#: and scanned twice (a generated honest receipt of bench/quality.py: 0.04; the pastes of
#: tests/detectors/test_copy_move.py after a JPEG save at 75: 0.11)
NOISE_INDEPENDENT = 0.06


@dataclass(frozen=True)
class Match:
    """One word whose pixels repeat another's."""

    copy: Word
    source: Word
    #: aligned blurred difference over contrast (0 for an exact copy)
    difference: float
    #: correlation of the two boxes' scan noise, None where they have too little of it
    noise: float | None


@dataclass(frozen=True)
class PageNoise:
    """The maps of one page every comparison reads."""

    residual: np.ndarray
    blurred: np.ndarray
    usable: np.ndarray
    #: mean of ``blurred`` over the BOUND_CELL-square cell whose top-left corner is each pixel
    cells: np.ndarray
    #: spreads of boxes already measured, by (map, box): a word is compared with many others
    spreads: dict[tuple[str, Box], float] = field(default_factory=dict)
    #: index offsets of :func:`_difference_bounds`, by what they index
    offsets: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict)
    #: ``residual`` at half resolution, once made (:meth:`half_residual`)
    half: list[np.ndarray] = field(default_factory=list)
    #: least and greatest ``cells`` of each BOUND_CELL-square block, once made (:meth:`cell_extremes`)
    extremes: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def spread(self, name: str, box: Box) -> float:
        """Grey-level std of the ``residual`` or ``blurred`` map in ``box``, measured once."""
        key = (name, box)
        if key not in self.spreads:
            x0, y0, x1, y1 = box
            self.spreads[key] = float(getattr(self, name)[y0:y1, x0:x1].std())
        return self.spreads[key]

    def half_residual(self) -> np.ndarray:
        """``residual`` at half resolution (area average), made once a page."""
        if not self.half:
            r = self.residual
            self.half.append(cv2.resize(r, (r.shape[1] // 2, r.shape[0] // 2), interpolation=cv2.INTER_AREA))
        return self.half[0]

    def cell_extremes(self) -> tuple[np.ndarray, np.ndarray]:
        """Least and greatest of ``cells`` over each BOUND_CELL-square block of the page (the
        last, partial ones padded with their edge), made once a page."""
        if not self.extremes:
            k = BOUND_CELL
            h, w = self.cells.shape
            padded = np.pad(self.cells, ((0, -h % k), (0, -w % k)), mode="edge")
            blocks = padded.reshape(padded.shape[0] // k, k, padded.shape[1] // k, k)
            self.extremes.append((blocks.min(axis=(1, 3)), blocks.max(axis=(1, 3))))
        return self.extremes[0]

    def cell_offsets(self, w: int, h: int) -> np.ndarray:
        """Flat offsets in ``cells`` of the BOUND_CELL-square cells that tile a w x h box."""
        key = ("cells", w, h)
        if key not in self.offsets:
            k, width = BOUND_CELL, self.cells.shape[1]
            self.offsets[key] = (np.arange(0, h - k + 1, k)[:, None] * width
                                 + np.arange(0, w - k + 1, k)[None, :]).reshape(-1)
        return self.offsets[key]

    def position_offsets(self, nx: int, ny: int) -> np.ndarray:
        """Flat offsets in ``cells`` of the nx x ny top-left corners an alignment may take."""
        key = ("positions", nx, ny)
        if key not in self.offsets:
            self.offsets[key] = (np.arange(ny)[:, None] * self.cells.shape[1] + np.arange(nx)[None, :]).reshape(-1)
        return self.offsets[key]


def page_noise(image) -> PageNoise:  # noqa: ANN001 - PIL image
    """High-pass residual of a page, and where it is noise (no glyph edge, not saturated)."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    smooth = cv2.blur(gray, (3, 3))
    residual = gray - smooth
    grad = np.abs(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3))
    # an edge pixel's residual is the glyph's shape, which honest repeats share
    edge = cv2.dilate((grad > EDGE).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    usable = ~edge & (gray < SATURATED)
    blurred = cv2.GaussianBlur(gray, (0, 0), 1.0)
    cells = cv2.boxFilter(blurred, cv2.CV_64F, (BOUND_CELL, BOUND_CELL), anchor=(0, 0), normalize=True,
                          borderType=cv2.BORDER_REPLICATE)
    return PageNoise(residual, blurred, usable, cells)


def _is_value(word: Word) -> bool:
    return sum(ch.isdigit() for ch in word.text) >= MIN_DIGITS and word.box[3] - word.box[1] >= 8


def _geometry(noise: PageNoise, copy: Word, source: Word) -> tuple[Box, Box, float] | None:
    """The copy's box, the source's search window and the copy's contrast, or None when
    :func:`compare` cannot compare the two (before any alignment)."""
    shape = noise.residual.shape
    tx0, ty0, tx1, ty1 = clip(copy.box, shape)
    w, h = tx1 - tx0, ty1 - ty0
    if w < 8 or h < 8:
        return None
    m = SEARCH_MARGIN
    sx0, sy0, sx1, sy1 = clip((source.box[0] - m, source.box[1] - m, source.box[2] + m,
                                source.box[3] + m), shape)
    if sx1 - sx0 < w or sy1 - sy0 < h:
        return None  # the source is narrower than the copy: the copy cannot come from it
    # the copy's contrast first: it needs no alignment, and a flat box ends here
    contrast = noise.spread("blurred", (tx0, ty0, tx1, ty1))
    if contrast < MIN_CONTRAST:
        return None
    if noise.spread("residual", (tx0, ty0, tx1, ty1)) < 1e-3 or noise.spread("residual", (sx0, sy0, sx1, sy1)) < 1e-3:
        return None
    return (tx0, ty0, tx1, ty1), (sx0, sy0, sx1, sy1), contrast


def compare(noise: PageNoise, copy: Word, source: Word) -> Match | None:
    """How closely ``copy``'s box repeats ``source``'s pixels at their best alignment (None when
    the boxes cannot be compared: too small, too flat, or the source narrower)."""
    geometry = _geometry(noise, copy, source)
    return None if geometry is None else _aligned(noise, copy, source, *geometry)


def _aligned(noise: PageNoise, copy: Word, source: Word, target: Box, window: Box, contrast: float) -> Match | None:
    """:func:`compare` after its checks: align, then measure the difference and shared noise."""
    tx0, ty0, tx1, ty1 = target
    sx0, sy0, sx1, sy1 = window
    w, h = tx1 - tx0, ty1 - ty0
    template = noise.residual[ty0:ty1, tx0:tx1]
    scores = cv2.matchTemplate(noise.residual[sy0:sy1, sx0:sx1], template, cv2.TM_CCOEFF_NORMED)
    _, _, _, (dx, dy) = cv2.minMaxLoc(scores)
    ax0, ay0 = sx0 + dx, sy0 + dy
    if boxes_overlap((ax0, ay0, ax0 + w, ay0 + h), (tx0, ty0, tx1, ty1)):
        return None
    a = noise.blurred[ty0:ty1, tx0:tx1]
    b = noise.blurred[ay0:ay0 + h, ax0:ax0 + w]
    difference = float(np.sqrt(np.mean((a - b) ** 2))) / contrast
    both = noise.usable[ty0:ty1, tx0:tx1] & noise.usable[ay0:ay0 + h, ax0:ax0 + w]
    shared: float | None = None
    if int(both.sum()) >= MIN_NOISE_PIXELS:
        na, nb = template[both], noise.residual[ay0:ay0 + h, ax0:ax0 + w][both]
        if float(na.std()) >= MIN_NOISE_STD and float(nb.std()) >= MIN_NOISE_STD:
            shared = float(np.corrcoef(na, nb)[0, 1])
    return Match(copy, source, difference, shared)


def _difference_bounds(noise: PageNoise, target: Box, windows: list[Box], contrast: float,
                       caps: np.ndarray | None = None) -> np.ndarray:
    """Per window, a lower bound of the ``difference`` :func:`compare` finds for ``target`` in
    it at any alignment, from the mean grey levels of BOUND_CELL-square cells (a box's squared
    difference is at least its cells' pixels times their squared mean difference): ruling a
    pair out costs a few lookups instead of a template match, all of one copy's at once.

    ``caps``: per window, the value past which only "more than the cap" matters: alignments are
    summed cell by cell and dropped once past it, and a window all of whose alignments are
    dropped gets its cap (still a lower bound; exact wherever the bound is at most the cap)."""
    if not windows:
        return np.zeros(0)
    tx0, ty0, tx1, ty1 = target
    w, h = tx1 - tx0, ty1 - ty0
    width = noise.cells.shape[1]
    cells = noise.cell_offsets(w, h)
    flat = noise.cells.reshape(-1)
    corners = [(sy0 * width + sx0) + noise.position_offsets(sx1 - sx0 - w + 1, sy1 - sy0 - h + 1)
               for sx0, sy0, sx1, sy1 in windows]
    scale = (BOUND_CELL * BOUND_CELL) / (w * h)
    if caps is None:
        starts = np.cumsum([0] + [len(c) for c in corners[:-1]])
        there = flat[np.concatenate(corners)[:, None] + cells[None, :]]
        there -= flat[ty0 * width + tx0 + cells]
        squared = np.minimum.reduceat(np.einsum("ij,ij->i", there, there), starts) * scale
        return np.sqrt(squared) / contrast
    at = np.concatenate(corners)
    owner = np.repeat(np.arange(len(windows)), [len(c) for c in corners])
    limit = (np.asarray(caps, dtype=np.float64) * contrast) ** 2 / scale
    squared = np.zeros(at.size)
    own = flat[ty0 * width + tx0 + cells]
    order = np.argsort(own)  # the darkest cells first: they rule most alignments out
    for cell, mean in zip(cells[order].tolist(), own[order].tolist(), strict=True):
        gap = flat[at + cell] - mean
        squared += gap * gap
        keep = squared <= limit[owner]
        if not keep.all():
            at, owner, squared = at[keep], owner[keep], squared[keep]
            if not at.size:
                break
    out = np.asarray(caps, dtype=np.float64).copy()
    best = np.full(len(windows), np.inf)
    np.minimum.at(best, owner, squared)
    found = np.isfinite(best)
    out[found] = np.sqrt(best[found] * scale) / contrast
    return out


@dataclass(frozen=True)
class _Far:
    """A pair ruled out by :func:`_difference_bounds`: its bound, and its exact difference
    measured only when a later comparison needs it."""

    bound: float
    copy: Word
    source: Word


def _contrast(noise: PageNoise, word: Word) -> float:
    return noise.spread("blurred", clip(word.box, noise.blurred.shape))


def _masked_best(scores: np.ndarray, at: tuple[int, int], box: Box) -> tuple[float, tuple[int, int]]:
    """Best score of a match map whose top-left cell sits at ``at`` on the page, the copy's own
    place and its shifts (a box around ``box``) left out."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    ax, ay = at
    scores[max(0, y0 - h - ay):max(0, y0 + h - ay), max(0, x0 - w - ax):max(0, x0 + w - ax)] = -1
    _, value, _, (x, y) = cv2.minMaxLoc(scores)
    return value, (ax + x, ay + y)


def _best_place(noise: PageNoise, template: np.ndarray, box: Box) -> tuple[int, int]:
    """Where on the page (top-left) the residual best matches ``template``, the residual of
    ``box``, outside ``box`` and its shifts. Found at half resolution first (a quarter of the
    work), its COARSE_PEAKS best places then matched at full resolution within REFINE_PX: the
    page-wide searches for unread ink and the amount column are most of a page's copy-move
    work. A template smaller than COARSE_MIN_SIDE is matched at full resolution over the page."""
    res = noise.residual
    w, h = box[2] - box[0], box[3] - box[1]

    def everywhere() -> tuple[int, int]:
        return _masked_best(cv2.matchTemplate(res, template, cv2.TM_CCOEFF_NORMED), (0, 0), box)[1]

    if min(w, h) < COARSE_MIN_SIDE:
        return everywhere()
    half = noise.half_residual()
    small = cv2.resize(template, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    coarse = cv2.matchTemplate(half, small, cv2.TM_CCOEFF_NORMED)
    cx0, cy0 = box[0] // 2, box[1] // 2
    coarse[max(0, cy0 - h // 2):cy0 + h // 2 + 1, max(0, cx0 - w // 2):cx0 + w // 2 + 1] = -1
    best, place = -2.0, None
    for _ in range(COARSE_PEAKS):
        _, value, _, (px, py) = cv2.minMaxLoc(coarse)
        if value <= -1:
            break
        coarse[max(0, py - h // 4):py + h // 4 + 1, max(0, px - w // 4):px + w // 4 + 1] = -1
        x0, y0 = max(0, 2 * px - REFINE_PX), max(0, 2 * py - REFINE_PX)
        x1, y1 = min(res.shape[1], 2 * px + REFINE_PX + w + 1), min(res.shape[0], 2 * py + REFINE_PX + h + 1)
        if x1 - x0 < w or y1 - y0 < h:
            continue
        local = cv2.matchTemplate(res[y0:y1, x0:x1], template, cv2.TM_CCOEFF_NORMED)
        value, at = _masked_best(local, (x0, y0), box)
        if value > best:
            best, place = value, at
    return everywhere() if place is None else place


def _close_blocks(noise: PageNoise, box: Box, contrast: float) -> np.ndarray:
    """Per BOUND_CELL-square block of top-left places on the page (block (i, j) holds the places
    from (BOUND_CELL * j, BOUND_CELL * i)), whether a box at one of its places, not overlapping
    ``box``, may differ from it by as little as a copy: the bound of :func:`_difference_bounds`
    taken first per block (each cell's mean against the block's range of that cell,
    :meth:`PageNoise.cell_extremes`), then per place in the blocks left, each dropping what the
    cells summed so far already rule out (thousands of lookups where a template match takes
    millions)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    k = BOUND_CELL
    lo, hi = noise.cell_extremes()
    rows, cols = (noise.cells.shape[0] - h) // k + 1, (noise.cells.shape[1] - w) // k + 1
    limit = (COPY_DIFFERENCE * (1 + BOUND_SLACK) * contrast) ** 2 * (w * h) / (k * k)
    # the darkest cells first: blank paper is ruled out by the first
    tiles = sorted(((cy // k, cx // k, noise.cells[y0 + cy, x0 + cx])
                    for cy in range(0, h - k + 1, k) for cx in range(0, w - k + 1, k)), key=lambda t: t[2])
    # blocks: the first cell over the whole grid, the others over the blocks left
    i, j, mean = tiles[0]
    gap = np.maximum(lo[i:i + rows, j:j + cols] - mean, 0) + np.maximum(mean - hi[i:i + rows, j:j + cols], 0)
    squared = (gap * gap).reshape(-1)
    left = np.flatnonzero(squared <= limit)
    squared = squared[left]
    bi, bj = left // cols, left % cols
    for i, j, mean in tiles[1:]:
        if not left.size:
            break
        gap = np.maximum(lo[bi + i, bj + j] - mean, 0) + np.maximum(mean - hi[bi + i, bj + j], 0)
        squared += gap * gap
        keep = squared <= limit
        left, squared, bi, bj = left[keep], squared[keep], bi[keep], bj[keep]
    close = np.zeros(rows * cols, bool)
    if not left.size:
        return close.reshape(rows, cols)
    # places: every place of the blocks left, on the page and not overlapping the box
    dy, dx = np.divmod(np.arange(k * k), k)
    py, px = (bi[:, None] * k + dy[None, :]).reshape(-1), (bj[:, None] * k + dx[None, :]).reshape(-1)
    owner = np.repeat(left, k * k)
    keep = ((py <= noise.cells.shape[0] - h) & (px <= noise.cells.shape[1] - w)
            & ~((px < x1) & (x0 < px + w) & (py < y1) & (y0 < py + h)))
    width = noise.cells.shape[1]
    flat = noise.cells.reshape(-1)
    at, owner = (py * width + px)[keep], owner[keep]
    squared = np.zeros(at.size)
    for i, j, mean in tiles:
        if not at.size:
            break
        gap = flat[at + (i * k) * width + j * k] - mean
        squared += gap * gap
        keep = squared <= limit
        at, owner, squared = at[keep], owner[keep], squared[keep]
    close[owner] = True
    return close.reshape(rows, cols)


def _best_near(noise: PageNoise, template: np.ndarray, box: Box, close: np.ndarray) -> tuple[int, int] | None:
    """Where the residual best matches ``template`` (as :func:`_best_place` asks, at full
    resolution) among the places within BOUND_CELL px of the ``close`` blocks
    (:func:`_close_blocks`), each group of them matched on its own; None when all are the
    copy's own place."""
    k = BOUND_CELL
    res = noise.residual
    w, h = box[2] - box[0], box[3] - box[1]
    grown = cv2.dilate(close.astype(np.uint8), np.ones((3, 3), np.uint8))
    _n, _labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    best, place = -1.0, None
    for bx, by, bw, bh, _area in stats[1:].tolist():
        x0, y0 = bx * k, by * k
        x1, y1 = min((bx + bw) * k, res.shape[1] - w + 1), min((by + bh) * k, res.shape[0] - h + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        scores = cv2.matchTemplate(res[y0:y1 + h - 1, x0:x1 + w - 1], template, cv2.TM_CCOEFF_NORMED)
        value, at = _masked_best(scores, (x0, y0), box)
        if value > best:
            best, place = value, at
    return place


class _Unmatched:
    """What :func:`search_page` finds when no place on the page can repeat the box as closely
    as a copy (by the cell bounds): a far pair, not aligned."""


#: the one :class:`_Unmatched`
UNMATCHED = _Unmatched()


def search_page(noise: PageNoise, copy: Word, reading: PageReading, *, exact: bool = True,
                ) -> Match | None | _Unmatched:
    """The best pixel match of ``copy``'s box anywhere else on the page (its residual's
    normalised cross-correlation), compared as :func:`compare` compares two words; the source
    is named by the words OCR read there, if any.

    Not ``exact``: a search that cannot end close returns UNMATCHED (or its far Match) without
    the page-wide match. The alignment :func:`compare` makes lies within SEARCH_MARGIN px of
    the place found, and a close one lies in a block :func:`_close_blocks` keeps; with no such
    block the answer is UNMATCHED. Else a box at least COARSE_MIN_SIDE a side is searched as
    ever; a smaller one (searched at full resolution over the page) only around the blocks
    kept, which hold the page's best place whenever that place is close, and a close answer is
    searched for again over the page: what is found close is what the full search finds."""
    shape = noise.residual.shape
    tx0, ty0, tx1, ty1 = clip(copy.box, shape)
    w, h = tx1 - tx0, ty1 - ty0
    if w < 8 or h < 8 or w >= shape[1] // 2 or h >= shape[0] // 4:
        return None
    template = noise.residual[ty0:ty1, tx0:tx1]
    if float(template.std()) < 1e-3:
        return None
    contrast = noise.spread("blurred", (tx0, ty0, tx1, ty1))
    if contrast < MIN_CONTRAST:
        return None  # compare would find the copy too flat wherever its source is
    target = (tx0, ty0, tx1, ty1)
    if exact:
        x, y = _best_place(noise, template, target)
    else:
        close = _close_blocks(noise, target, contrast)
        if not close.any():
            return UNMATCHED
        near = _best_near(noise, template, target, close)
        if near is None:
            return UNMATCHED
        x, y = near
    box = (x, y, x + w, y + h)
    there = [v for v in reading.words if boxes_overlap(v.box, box)]
    text = " ".join(v.text for v in there) if there else UNREAD
    match = compare(noise, copy, Word(text, box, 0.0, copy.block, copy.line))
    if not exact and match is not None and match.difference <= COPY_DIFFERENCE:
        return search_page(noise, copy, reading)
    return match


def page_matches(reading: PageReading, image, unread: list[Word] | None = None,  # noqa: ANN001
                 ) -> tuple[list[Match], int]:
    """The value words of a page that are pixel copies of another (closest first, each pair
    once, the word on a total line or else the lower one named the copy), and how many pairs
    were compared. ``unread``: groups of ink OCR read no word in (page_maps.unread_words),
    searched for on the page as the amount column is."""
    words = [w for w in reading.words if _is_value(w)][:MAX_WORDS]
    if len(words) < 2:
        return [], 0
    # the source of a pasted amount may be print OCR read as letters ("SURES" for "27.95")
    misread = [w for w in reading.words if not _is_value(w) and len(w.text.strip()) >= MIN_DIGITS + 1
               and w.box[3] - w.box[1] >= 8][:MAX_WORDS]
    noise = page_noise(image)
    close: list[Match] = []
    far: dict[tuple[Box, Box], float | _Far] = {}
    judged = 0
    candidates = words + misread
    boxes = np.array([c.box for c in candidates], dtype=np.int64).reshape(-1, 4)
    heights, widths = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    for i, copy in enumerate(words):
        x0, y0, x1, y1 = copy.box
        h, w = y1 - y0, x1 - x0
        # sources of a size the copy may come from, not overlapping it (amounts also among the
        # words read as letters), chosen for all candidates at once
        fits = ((heights >= h - HEIGHT_SLACK) & (heights <= max(h + HEIGHT_SLACK, SOURCE_WIDER * h))
                & (widths >= w - WIDTH_SLACK) & (widths <= max(w + WIDTH_SLACK, SOURCE_WIDER * w))
                & ~((boxes[:, 0] < x1) & (x0 < boxes[:, 2]) & (boxes[:, 1] < y1) & (y0 < boxes[:, 3])))
        fits[i] = False
        if not AMOUNT.search(copy.text):
            fits[len(words):] = False
        chosen = np.flatnonzero(fits).tolist()
        # what compare checks before aligning, and the bound of every pair it would align whose
        # window cannot reach the copy's box (an alignment overlapping it gives None)
        geometries = {j: g for j in chosen if (g := _geometry(noise, copy, candidates[j])) is not None}
        boundable = [j for j, g in geometries.items() if not boxes_overlap(g[1], g[0])]
        # past these caps only "far" matters: the pair's own skip, and its reverse's (over
        # the two contrasts), each against a bound; a margin keeps a capped bound past both
        c_copy = _contrast(noise, copy)
        caps = [max(COPY_DIFFERENCE, REVERSE_SKIP * max(_contrast(noise, candidates[j]), 1e-6) / c_copy
                    if j < len(words) else 0.0) * (1 + BOUND_SLACK) * CAP_MARGIN for j in boundable]
        bounds = dict(zip(boundable, _difference_bounds(
            noise, clip(copy.box, noise.residual.shape), [geometries[j][1] for j in boundable],
            c_copy, np.array(caps)).tolist(), strict=True))
        for j in chosen:
            source = candidates[j]
            if j >= len(words) and abs(_contrast(noise, source) - _contrast(noise, copy)) > MISREAD_CONTRAST * _contrast(noise, copy):
                continue  # a word read as letters is the source only if it is print of that contrast
            # the reverse of a pair already compared far apart is as far apart, up to the two
            # boxes' contrasts (the difference is over the copy's): not compared again
            reverse = far.get((source.box, copy.box))
            if isinstance(reverse, _Far):
                # skipped for sure when even the bound is far enough; else as exactly as before
                if reverse.bound * _contrast(noise, source) / max(_contrast(noise, copy), 1e-6) > REVERSE_SKIP * (1 + BOUND_SLACK):
                    judged += 1
                    continue
                measured = compare(noise, reverse.copy, reverse.source)
                assert measured is not None  # _Far is made only for pairs compare can align
                reverse = far[(source.box, copy.box)] = measured.difference
            if reverse is not None and reverse * _contrast(noise, source) / max(_contrast(noise, copy), 1e-6) > REVERSE_SKIP:
                judged += 1
                continue
            if j not in geometries:
                continue
            # a pair whose cells already differ by more than a copy can is far apart: counted as
            # compare would count it, its exact difference measured only if its reverse asks
            if bounds.get(j, 0.0) > COPY_DIFFERENCE * (1 + BOUND_SLACK):
                judged += 1
                far[(copy.box, source.box)] = _Far(bounds[j], copy, source)
                continue
            match = _aligned(noise, copy, source, *geometries[j])
            if match is None:
                continue
            judged += 1
            if match.difference <= COPY_DIFFERENCE:
                close.append(match)
            else:
                far[(copy.box, source.box)] = match.difference
    # an amount whose source OCR did not read as a word (misread, glued to its label, missed),
    # or a paste OCR read as letters: search the whole page for it
    copies = {m.copy.box for m in close} | {m.source.box for m in close}
    for copy in [*searched_words(reading, words), *(unread or [])]:
        # a box of a pair already found is not searched again (its unread twin found it)
        if not any(boxes_overlap(copy.box, b) for b in copies):
            # once a pair is judged, a search only matters if it ends close: the cell bounds
            # may settle it (a page nothing was judged on yet searches exactly, for its count)
            match = search_page(noise, copy, reading, exact=not judged)
            if isinstance(match, _Unmatched):
                judged += 1
            elif match is not None:
                judged += 1
                if match.difference <= COPY_DIFFERENCE:
                    close.append(match)
                    copies |= {match.copy.box, match.source.box}
    out: list[Match] = []
    seen: set[frozenset[Box]] = set()
    for m in sorted(close, key=lambda m: m.difference):
        pair = frozenset((m.copy.box, m.source.box))
        if pair in seen:
            continue
        seen.add(pair)
        if not _stands_out(m, noise, words):
            continue
        if _is_copy_rather(m.source, m.copy, reading):
            m = Match(m.source, m.copy, m.difference, m.noise)
        out.append(m)
    return out, judged


def searched_words(reading: PageReading, words: list[Word]) -> list[Word]:
    """The words searched for anywhere on the page: the value words of total lines, and the
    amount column (the last word of each line, of MIN_DIGITS + 1 characters or more: an amount,
    or a pasted amount OCR read as letters, "Bod" for "5.30"), whatever its line says; each once."""
    out = [w for w in words if TOTAL_LINE.search(_line_of(reading, w))]
    for line in reading.lines():
        last = line.words[-1] if line.words else None
        if (last is not None and len(last.text.strip()) >= MIN_DIGITS + 1 and last.box[3] - last.box[1] >= 8
                and last not in out):
            out.append(last)
    return out[:MAX_WORDS]


def _is_copy_rather(a: Word, b: Word, reading: PageReading) -> bool:
    """Which of two words that are one pixel copy is the paste: the one on a total line (what
    forgers change), else the lower one (the total is printed below the amounts it is taken
    from)."""
    total_a, total_b = (bool(TOTAL_LINE.search(_line_of(reading, w))) for w in (a, b))
    if total_a != total_b:
        return total_a
    return (a.box[1], a.box[0]) > (b.box[1], b.box[0])


def _stands_out(m: Match, noise: PageNoise, words: list[Word]) -> bool:
    """Whether a close pair is a copy rather than how this page prints: not two boxes with noise
    of their own, and the page's other repeated text (outside the pair) repeats far less
    closely, or, with nothing else repeated, the two boxes share their scan noise."""
    if m.noise is not None and m.noise < NOISE_INDEPENDENT:
        return False
    references, copy_like = page_repeats(noise, [w for w in words if w.box not in (m.copy.box, m.source.box)])
    if copy_like:
        return False  # this page repeats its own text as closely: a digital render
    if references:
        return True
    # nothing else repeats: only noise the two boxes share tells a paste from one render
    # printed twice, each with its own noise
    return m.noise is not None and m.noise >= NOISE_CORRELATION


def _part(word: Word, start: int, n: int) -> Word:
    """The box of ``n`` characters of ``word`` from ``start``, by an even share of its width
    (receipt print is mostly monospaced; the alignment search absorbs the rest)."""
    x0, y0, x1, y1 = word.box
    step = (x1 - x0) / max(len(word.text), 1)
    return Word(word.text[start:start + n], (int(x0 + step * start), y0, int(round(x0 + step * (start + n))), y1), 1.0)


def page_repeats(noise: PageNoise, words: list[Word]) -> tuple[int, bool]:
    """How this page repeats its own print, from pieces of text printed twice (a whole word, or
    three characters two words share): how many were compared, and whether any repeats as
    closely as a copy (a digital render does; a scan never does)."""
    n = 0
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            if n >= MAX_REFERENCES:
                return n, False
            if abs((a.box[3] - a.box[1]) - (b.box[3] - b.box[1])) > HEIGHT_SLACK or boxes_overlap(a.box, b.box):
                continue
            if a.text == b.text:
                pa, pb = a, b
            else:
                k = next((k for k in range(len(a.text) - REFERENCE_CHARS + 1)
                          if a.text[k:k + REFERENCE_CHARS] in b.text), None)
                if k is None:
                    continue
                piece = a.text[k:k + REFERENCE_CHARS]
                pa, pb = _part(a, k, REFERENCE_CHARS), _part(b, b.text.index(piece), REFERENCE_CHARS)
            r = compare(noise, pa, pb)
            if r is None:
                continue
            n += 1
            if r.difference <= COPY_DIFFERENCE:
                return n, True
    return n, False


def _line_of(reading: PageReading, word: Word) -> str:
    for line in reading.lines():
        if any(w == word for w in line.words):
            return line.text
    return word.text


def _called(reading: PageReading, word: Word, *, line: bool) -> str:
    """A word as a finding names it: its text and box (and line), or where print OCR did not read."""
    if word.text == UNREAD:
        return f"{UNREAD} at {tuple(word.box)}"
    return f"'{word.text}' at {tuple(word.box)}" + (f" on the line {_line_of(reading, word)!r}" if line else "")


def _finding(reading: PageReading, m: Match) -> Finding:
    line = _line_of(reading, m.source)
    return Finding(
        code="copy_move",
        severity="high",
        score=0.9,
        message=(f"{_called(reading, m.copy, line=False)} on page {reading.page} is a pixel copy of "
                 f"{_called(reading, m.source, line=True)}: the two boxes are the same pixels "
                 f"(they differ by {m.difference:.2f} of their contrast; two prints of one text on "
                 f"a scan differ by more than {COPY_DIFFERENCE:.2f}), which separate prints never are."),
        page=reading.page,
        box=m.copy.box,
        evidence={"text": m.copy.text, "source_text": m.source.text, "source_box": list(m.source.box),
                  "source_line": line, "difference": round(m.difference, 3),
                  "noise_correlation": None if m.noise is None else round(m.noise, 3)},
    )


class CopyMoveDetector:
    """Words whose pixels, noise included, repeat another word of the same page."""

    name = "copy_move"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            matches, n = page_matches(reading, image, unread_words(reading, shared_page_maps(analysis, reading, image)))
            return [_finding(reading, m) for m in matches], n

        return judge_scanned_pages(analysis, per_page, "no two value words with scan noise to compare "
                                                       "(clean digital page or too few numbers)")


#: the module-level detector the pipeline runs
detector = CopyMoveDetector()
