"""The maps of a page :mod:`copy_move` compares boxes on, and what bounds and searches them.

A box's high-pass residual (what alignments are matched on), its lightly blurred grey levels
(what differences are measured on), where its residual is scan noise, and the mean grey levels
of BOUND_CELL-square cells: a box's squared difference to another is at least its cells' pixels
times their squared mean difference, so a few lookups rule out most pairs and most places of a
page before any template match (:func:`difference_bounds`, :func:`close_blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from forensics.detectors.page_maps import PageMaps, block_reduce, spread
from forensics.model import Box
from forensics.page_regions import label_extents, labelled_components

#: a page-wide search is matched at half resolution first when its box is at least this many
#: px on each side, then at full resolution around the COARSE_PEAKS best places, within REFINE_PX
COARSE_MIN_SIDE = 16
COARSE_PEAKS = 8
REFINE_PX = 3
#: a window whose residual varies less than this is flat (compare refuses such a source), and
#: at most this many of the best places of a match map are passed over as flat
FLAT_STD = 1e-3
FLAT_TRIES = 64
#: side (px) of the square cells whose mean grey levels bound a pair's difference from below
#: before its alignment is searched (a CPU saving, same findings: see :func:`difference_bounds`)
BOUND_CELL = 8
#: relative slack on that bound against the float32 rounding of the exact difference
BOUND_SLACK = 1e-4
#: sides (px) of the finer blocks :func:`close_blocks` bounds the places of a page by after
#: BOUND_CELL-square ones (each a divisor of the one before), before single places
REFINE_SIDES = (4,)
#: grey-level gradient (Sobel of the 3x3 mean) above which a pixel is a glyph edge, not noise
EDGE = 24.0
#: paper at least this bright is saturated: the scanner clipped its noise away
SATURATED = 250


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
    #: index offsets of :func:`difference_bounds`, by what they index
    offsets: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict)
    #: ``residual`` at half resolution, once made (:meth:`half_residual`)
    half: list[np.ndarray] = field(default_factory=list)
    #: least and greatest ``cells`` of each square block, by its side, once made (:meth:`cell_extremes`)
    extremes: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def spread(self, name: str, box: Box) -> float:
        """Grey-level std of the ``residual`` or ``blurred`` map in ``box``, measured once."""
        key = (name, box)
        if key not in self.spreads:
            x0, y0, x1, y1 = box
            self.spreads[key] = spread(getattr(self, name)[y0:y1, x0:x1])
        return self.spreads[key]

    def half_residual(self) -> np.ndarray:
        """``residual`` at half resolution (area average), made once a page."""
        if not self.half:
            r = self.residual
            self.half.append(cv2.resize(r, (r.shape[1] // 2, r.shape[0] // 2), interpolation=cv2.INTER_AREA))
        return self.half[0]

    def cell_extremes(self, side: int = BOUND_CELL) -> tuple[np.ndarray, np.ndarray]:
        """Least and greatest of ``cells`` over each ``side``-square block of the page (the last,
        partial ones over what they hold), made once a page; from the extremes of the largest
        finer side that divides ``side`` when there is one (the least of the least of each part
        is the least of the whole), else from the cells."""
        if side not in self.extremes:
            finer = [f for f in REFINE_SIDES if f < side and side % f == 0]
            if finer:
                lo, hi = self.cell_extremes(max(finer))
                step = side // max(finer)
                self.extremes[side] = (block_reduce(lo, np.minimum, step), block_reduce(hi, np.maximum, step))
            else:
                # a padded edge repeats values of its own block: the partial blocks' extremes
                # are those of their pixels on the page, so no padded copy of the page is made
                self.extremes[side] = (block_reduce(self.cells, np.minimum, side),
                                       block_reduce(self.cells, np.maximum, side))
        return self.extremes[side]

    def cell_offsets(self, w: int, h: int) -> np.ndarray:
        """Flat offsets in ``cells`` of the BOUND_CELL-square cells that tile a w x h box."""
        key = ("cells", w, h)
        if key not in self.offsets:
            k, width = BOUND_CELL, self.cells.shape[1]
            self.offsets[key] = (np.arange(0, h - k + 1, k)[:, None] * width
                                 + np.arange(0, w - k + 1, k)[None, :]).reshape(-1)
        return self.offsets[key]


def page_noise(image, maps: PageMaps | None = None) -> PageNoise:  # noqa: ANN001 - PIL image
    """High-pass residual of a page, and where it is noise (no glyph edge, not saturated).
    ``maps``: the page's shared :class:`~forensics.detectors.page_maps.PageMaps`, whose grey
    levels, 3x3 mean, residual (the same 3x3-mean residual) and blur are taken instead of made
    again."""
    gray = np.asarray(image.convert("L"), dtype=np.float32) if maps is None else maps.gray
    smooth = cv2.blur(gray, (3, 3)) if maps is None or maps.smooth is None else maps.smooth
    residual = gray - smooth if maps is None else maps.residual
    # |d/dx| + |d/dy|, in place (no temporaries of the page's size)
    grad = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    np.abs(grad, out=grad)
    grad += np.abs(cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3))
    # an edge pixel's residual is the glyph's shape, which honest repeats share
    edge = cv2.dilate((grad > EDGE).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    usable = ~edge & (gray < SATURATED)
    blurred = cv2.GaussianBlur(gray, (0, 0), 1.0) if maps is None else maps.gaussian(1.0)
    cells = cv2.boxFilter(blurred, cv2.CV_64F, (BOUND_CELL, BOUND_CELL), anchor=(0, 0), normalize=True,
                          borderType=cv2.BORDER_REPLICATE)
    return PageNoise(residual, blurred, usable, cells)


def difference_bounds(noise: PageNoise, target: Box, windows: list[Box], contrast: float,
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
    # every top-left corner an alignment may take in each window, window after window and row
    # after row, as flat offsets in ``cells``, and the window each belongs to (made at once)
    win = np.asarray(windows, dtype=np.int64).reshape(-1, 4)
    nx = np.maximum(win[:, 2] - win[:, 0] - w + 1, 0)
    counts = nx * np.maximum(win[:, 3] - win[:, 1] - h + 1, 0)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(len(windows)), counts)
    local = np.arange(owner.size) - starts.repeat(counts)
    step = nx.take(owner)
    at = (win[:, 1] * width + win[:, 0]).take(owner) + local // step * width + local % step
    scale = (BOUND_CELL * BOUND_CELL) / (w * h)
    if caps is None:
        there = flat[at[:, None] + cells[None, :]]
        there -= flat[ty0 * width + tx0 + cells]
        squared = np.minimum.reduceat(np.einsum("ij,ij->i", there, there), starts) * scale
        return np.sqrt(squared) / contrast
    limit = (np.asarray(caps, dtype=np.float64) * contrast) ** 2 / scale
    own = flat[ty0 * width + tx0 + cells]
    order = np.argsort(own)  # the darkest cells first: they rule most alignments out
    at, squared, (owner,) = _summed_within(at, np.zeros(at.size), cells[order], own[order], limit.take(owner), flat,
                                           carried=(owner,))
    out = np.asarray(caps, dtype=np.float64).copy()
    best = np.full(len(windows), np.inf)
    np.minimum.at(best, owner, squared)
    found = np.isfinite(best)
    out[found] = np.sqrt(best[found] * scale) / contrast
    return out


def masked_best(scores: np.ndarray, at: tuple[int, int], box: Box,
                residual: np.ndarray | None = None, floor: float = -1.0) -> tuple[float, tuple[int, int]]:
    """Best score of a match map whose top-left cell sits at ``at`` on the page, the copy's own
    place and its shifts (a box around ``box``) left out; with the page's ``residual``, places
    whose window is flat (:data:`FLAT_STD`) left out too: their normalised correlation is 0/0,
    and matchTemplate's rounding of it differs between a page-wide and a local call (it put a
    flat window above a true copy in one and below it in the other).

    ``floor``: the best score the caller already holds; once the best left is at or below it
    the search ends there (what is returned then does not beat it: flat windows are not looked
    for below a score that cannot win)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    ax, ay = at
    scores[max(0, y0 - h - ay):max(0, y0 + h - ay), max(0, x0 - w - ax):max(0, x0 + w - ax)] = -1
    stop = max(floor, -1.0)  # -1: all that is left is masked out
    for _ in range(FLAT_TRIES):
        _, value, _, (x, y) = cv2.minMaxLoc(scores)
        if residual is None or value <= stop or spread(residual[ay + y:ay + y + h, ax + x:ax + x + w]) >= FLAT_STD:
            break
        scores[y, x] = -1
    return value, (ax + x, ay + y)


def best_place(noise: PageNoise, template: np.ndarray, box: Box) -> tuple[int, int]:
    """Where on the page (top-left) the residual best matches ``template``, the residual of
    ``box``, outside ``box`` and its shifts. Found at half resolution first (a quarter of the
    work), its COARSE_PEAKS best places then matched at full resolution within REFINE_PX: the
    page-wide searches for unread ink and the amount column are most of a page's copy-move
    work. A template smaller than COARSE_MIN_SIDE is matched at full resolution over the page."""
    res = noise.residual
    w, h = box[2] - box[0], box[3] - box[1]

    def everywhere() -> tuple[int, int]:
        return masked_best(cv2.matchTemplate(res, template, cv2.TM_CCOEFF_NORMED), (0, 0), box, res)[1]

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
        value, at = masked_best(local, (x0, y0), box, res, best)
        if value > best:
            best, place = value, at
    return everywhere() if place is None else place


def _summed_within(at: np.ndarray, squared: np.ndarray, steps: np.ndarray, means: np.ndarray,
                   limit: float | np.ndarray, lo: np.ndarray, hi: np.ndarray | None = None,
                   carried: tuple[np.ndarray, ...] = ()) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """The entries of ``at`` (flat indices) whose ``squared`` stays at most ``limit`` once each
    tile's squared gap is added, one tile after the other in order (so the same sums, to the
    bit): a tile's gap is ``lo`` at ``at + step`` less its mean, or with ``hi`` the gap between
    the mean and the range [lo, hi] there. Tiles are taken a few at a time (1, 2, 4, ...), what
    is past the limit dropped after each group: the sums only grow, so dropping an entry once
    is as dropping it at its first tile past the limit, with far fewer array operations.
    ``limit``: one for all, or one per entry; ``carried``: arrays of one value per entry, kept
    along (returned with ``at`` and the sums)."""
    done, size = 0, 1
    while done < steps.size and at.size:
        there = at[None, :] + steps[done:done + size, None]
        mean = means[done:done + size, None]
        if hi is None:
            gap = lo.take(there) - mean
        else:
            gap = np.maximum(lo.take(there) - mean, 0) + np.maximum(mean - hi.take(there), 0)
        gap *= gap
        squared = squared + gap[0]
        for row in gap[1:]:
            squared += row
        keep = squared <= limit
        at, squared = at.compress(keep), squared.compress(keep)
        if isinstance(limit, np.ndarray):
            limit = limit.compress(keep)
        carried = tuple(c.compress(keep) for c in carried)
        done, size = done + size, 2 * size
    return at, squared, carried


def close_blocks(noise: PageNoise, box: Box, contrast: float, difference: float) -> np.ndarray:
    """Per BOUND_CELL-square block of top-left places on the page (block (i, j) holds the places
    from (BOUND_CELL * j, BOUND_CELL * i)), whether it holds one of :func:`close_places`."""
    k = BOUND_CELL
    w, h = box[2] - box[0], box[3] - box[1]
    rows, cols = (noise.cells.shape[0] - h) // k + 1, (noise.cells.shape[1] - w) // k + 1
    close = np.zeros((rows, cols), bool)
    py, px = np.divmod(close_places(noise, box, contrast, difference), noise.cells.shape[1])
    close[py // k, px // k] = True
    return close


def close_places(noise: PageNoise, box: Box, contrast: float, difference: float) -> np.ndarray:
    """The top-left places on the page (flat indices in ``noise.cells``) where a box, not
    overlapping ``box``, may differ from it by ``difference`` or less: the bound of :func:`difference_bounds`
    taken first per block (each cell's mean against the block's range of that cell,
    :meth:`PageNoise.cell_extremes`), then per finer block (REFINE_SIDES) of the blocks left,
    then per place in those left, each dropping what the cells summed so far already rule out
    (thousands of lookups where a template match takes millions). A block's gaps are at most
    its places' (float subtraction is monotonic), so what a coarser bound drops no place keeps."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    k = BOUND_CELL
    lo, hi = noise.cell_extremes()
    rows, cols = (noise.cells.shape[0] - h) // k + 1, (noise.cells.shape[1] - w) // k + 1
    py_max, px_max = noise.cells.shape[0] - h, noise.cells.shape[1] - w
    limit = (difference * (1 + BOUND_SLACK) * contrast) ** 2 * (w * h) / (k * k)
    # the cells tiling the box, the darkest first: blank paper is ruled out by the first (a
    # stable sort: equal means keep their row-major order)
    across = (w - k) // k + 1
    cy, cx = np.divmod(np.arange(((h - k) // k + 1) * across), across)
    cy, cx = cy * k, cx * k
    means = noise.cells[y0 + cy, x0 + cx]
    order = np.argsort(means, kind="stable")
    cy, cx, means = cy[order], cx[order], means[order]
    # blocks: the first cell over the whole grid, the others over the blocks left, each block
    # by its flat index in lo and hi (one gather a cell, not a 2-D one)
    i, j, mean = cy[0] // k, cx[0] // k, means[0]
    gap = np.maximum(lo[i:i + rows, j:j + cols] - mean, 0) + np.maximum(mean - hi[i:i + rows, j:j + cols], 0)
    squared = (gap * gap).reshape(-1)
    left = np.flatnonzero(squared <= limit)
    stride = lo.shape[1]
    at, _, _ = _summed_within(left // cols * stride + left % cols, squared[left],
                           (cy[1:] // k) * stride + cx[1:] // k, means[1:], limit, lo.reshape(-1), hi.reshape(-1))
    bi, bj, side = at // stride, at % stride, k
    # finer blocks: the parts of each block left with a place on the page, every cell again
    for finer in REFINE_SIDES:
        if not bi.size:
            break
        step = side // finer
        lo_f, hi_f = noise.cell_extremes(finer)
        stride = lo_f.shape[1]
        di, dj = np.divmod(np.arange(step * step), step)
        fi, fj = (bi[:, None] * step + di[None, :]).reshape(-1), (bj[:, None] * step + dj[None, :]).reshape(-1)
        on = (fi * finer <= py_max) & (fj * finer <= px_max)
        at, _, _ = _summed_within((fi * stride + fj)[on], np.zeros(int(on.sum())), (cy // finer) * stride + cx // finer,
                               means, limit, lo_f.reshape(-1), hi_f.reshape(-1))
        bi, bj, side = at // stride, at % stride, finer
    if not bi.size:
        return bi
    # places: every place of the blocks left, on the page and not overlapping the box
    dy, dx = np.divmod(np.arange(side * side), side)
    py, px = (bi[:, None] * side + dy[None, :]).reshape(-1), (bj[:, None] * side + dx[None, :]).reshape(-1)
    keep = (py <= py_max) & (px <= px_max) & ~((px < x1) & (x0 < px + w) & (py < y1) & (y0 < py + h))
    width = noise.cells.shape[1]
    at, _, _ = _summed_within((py * width + px)[keep], np.zeros(int(keep.sum())), cy * width + cx, means, limit,
                           noise.cells.reshape(-1))
    return at


#: most pixels :func:`least_difference` compares at once (places times the box's area); past it
#: the places are not screened
SCREEN_PIXELS = 2_000_000


def least_difference(noise: PageNoise, box: Box, places: np.ndarray, contrast: float) -> float:
    """The least blurred difference (RMS over ``contrast``, as copy_move's ``compare`` measures it
    at one alignment) between ``box`` and a box of its size at any of the top-left ``places``
    (flat indices in ``noise.cells``), summed in float64; 0 when there are too many to screen.
    A search whose answer only matters when it is close ends here when even this is far: a close
    answer is aligned at one of these places (:func:`close_places` keeps every place the cell
    bounds leave), and this is its difference up to float32 rounding (BOUND_SLACK covers it)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if places.size * w * h > SCREEN_PIXELS:
        return 0.0
    py, px = np.divmod(places, noise.cells.shape[1])
    there = np.lib.stride_tricks.sliding_window_view(noise.blurred, (h, w))[py, px]
    there -= noise.blurred[y0:y1, x0:x1]
    squared = np.einsum("kij,kij->k", there, there, dtype=np.float64)
    return float(np.sqrt(squared.min() / (w * h))) / contrast


def best_near(noise: PageNoise, template: np.ndarray, box: Box, places: np.ndarray, margin: int) -> tuple[int, int] | None:
    """Where the residual best matches ``template`` (as :func:`best_place` asks, at full
    resolution, flat windows left out) among the places within ``margin`` px of the ``places``
    (:func:`close_places`): the BOUND_CELL-square blocks holding them grown by one and grouped
    (page_regions), each group matched on its own within ``margin`` px of the box around its
    places; None when all are the copy's own place."""
    k = BOUND_CELL
    res = noise.residual
    w, h = box[2] - box[0], box[3] - box[1]
    rows, cols = (res.shape[0] - h) // k + 1, (res.shape[1] - w) // k + 1
    py, px = np.divmod(places, res.shape[1])
    close = np.zeros((rows, cols), np.uint8)
    close[py // k, px // k] = 1
    n, stats, labels, (lx, ly) = labelled_components(cv2.dilate(close, np.ones((3, 3), np.uint8)))
    if n == 1:
        return None
    # the box around each group's places (every group holds some: a block holding none is not set)
    x_min, y_min, x_max, y_max, _ = label_extents(labels[py // k - ly, px // k - lx], px, py, n)
    around = (x_min - margin, y_min - margin, x_max + margin + 1, y_max + margin + 1)
    best, place = -1.0, None
    for (bx, by, bw, bh, _area), ax0, ay0, ax1, ay1 in zip(stats[1:].tolist(), *(a.tolist() for a in around),
                                                           strict=True):
        x0, y0 = max(bx * k, ax0), max(by * k, ay0)
        x1, y1 = min((bx + bw) * k, res.shape[1] - w + 1, ax1), min((by + bh) * k, res.shape[0] - h + 1, ay1)
        if x1 <= x0 or y1 <= y0:
            continue
        scores = cv2.matchTemplate(res[y0:y1 + h - 1, x0:x1 + w - 1], template, cv2.TM_CCOEFF_NORMED)
        value, at = masked_best(scores, (x0, y0), box, res, best)
        if value > best:
            best, place = value, at
    return place
