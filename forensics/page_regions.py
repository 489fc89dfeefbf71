"""Where two registered pages differ: the regions that do, the scanner bed around the paper, and
the places where a same-scan pair's shared paper noise is missing.

The pixel-level half of :func:`forensics.alignment.compare_pages`: alignment registers page B
onto page A and maps B's grey levels onto A's; these functions read the aligned rasters (in
A's working px) and give boxes and masks. Thresholds are in working px and fractions of the
paper-ink contrast; what each was calibrated against is said beside it.
"""

from __future__ import annotations

import cv2
import numpy as np

#: tolerance in working px when checking that an ink pixel has a counterpart in the other page
#: (registration of one scan onto itself is sub-pixel; 2 px already hides a changed digit)
INK_TOLERANCE_PX = 1
#: grey-level tolerance, as a fraction of the paper-ink contrast, before two aligned pixels differ
DIFF_TOLERANCE = 0.3
#: the same for one scan registered onto itself: sub-pixel registration allows a 4-neighbour
#: window (a changed digit sharing most strokes with the old one still shows); the band is
#: wider in grey level because re-encoding and resampling blur edges (calibrated on generated
#: re-uploads, bench/fingerprints.py)
EXACT_TOLERANCE = 0.45
EXACT_SHAPE = cv2.MORPH_CROSS
#: a differing region narrower or lower than this many working px is an edge sliver
MIN_SIDE = 2
#: inside a same-scan pair, a window whose residual correlation is below this fraction of the
#: page's lacks the shared noise: a repainted region
NOISE_GAP_FRACTION = 0.3
#: a dark region touching the image edge and covering at least this fraction of it is the
#: scanner bed around the paper (not print): left out of the comparison
FRAME_MIN_FRACTION = 0.005
#: a differing region with fewer differing working px than this (or than 1/24 of a text line's
#: height squared) is compression/edge noise; a changed digit differs in ~20 px at 17 px text
MIN_BOX_AREA = 8


def differing_boxes(fa: np.ndarray, fb: np.ndarray, contrast: float, valid: np.ndarray,
                    text_px: int, *, exact: bool) -> tuple[list[tuple[int, int, int, int]], np.ndarray]:
    """Regions where the aligned pages' grey levels disagree, grouped into field-sized boxes.

    Two modes. Tolerant (pages from different scans, registration only good to a pixel): a
    pixel differs when it lies outside the other page's local min..max over a small window,
    widened by a tolerance, so misregistration and blur stay inside the band. ``exact`` (one
    scan registered onto itself, sub-pixel): the lightly blurred grey levels are compared
    directly, so that a changed digit sharing most strokes with the old one still shows.
    """
    t = DIFF_TOLERANCE * contrast
    win = cv2.getStructuringElement(EXACT_SHAPE if exact else cv2.MORPH_RECT,
                                    (2 * INK_TOLERANCE_PX + 1,) * 2)
    if exact:
        t = EXACT_TOLERANCE * contrast
    # into reused buffers: the same float32 operations as (fa < erode(fb) - t) | ..., fewer
    # page-sized temporaries
    diff = None
    for x, y in ((fa, fb), (fb, fa)):  # A outside B's band, then B outside A's
        lo = cv2.erode(y, win)
        np.subtract(lo, t, out=lo)
        out = np.less(x, lo)
        hi = cv2.dilate(y, win, dst=lo)
        np.add(hi, t, out=hi)
        out |= np.greater(x, hi)
        diff = out if diff is None else np.bitwise_or(diff, out, out=diff)
    diff &= valid
    diff = diff.view(np.uint8)
    if not exact:
        diff = cv2.morphologyEx(diff, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    # group glyph fragments of one field: close across letter and word gaps on a line
    k = max(3, text_px)
    grouped = cv2.morphologyEx(diff, cv2.MORPH_CLOSE, np.ones((max(3, k // 2), k), np.uint8))
    n, stats = components(grouped)
    boxes = []
    min_side = MIN_SIDE
    for i in range(1, n):
        x, y, w, h, _ = (int(v) for v in stats[i])
        if w < min_side or h < min_side:
            continue
        if int(diff[y : y + h, x : x + w].sum()) >= max(MIN_BOX_AREA, text_px * text_px // 24):
            boxes.append((x, y, x + w, y + h))
    return boxes, diff


def component_stats(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats(mask, connectivity=8)`` without the centroids: (count
    with the background, labels, stats), the same values. OpenCV labels the mask (a millisecond
    on a receipt); the stats are taken from the labelled pixels, and the background's from the
    mask's edges, where OpenCV's stats pass visits every pixel of the page (8 ms on a receipt's
    sparse ink)."""
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    height, width = mask.shape
    stats = np.zeros((n, 5), np.int32)
    # the set pixels in row-major order, as (x, y) (numpy's nonzero takes thirty times as long)
    points = cv2.findNonZero(mask)
    points = np.zeros((0, 2), np.int32) if points is None else points.reshape(-1, 2)
    xs, ys = points[:, 0], points[:, 1]
    if ys.size == height * width:  # no background at all: as OpenCV reports it
        _, _, full, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        return n, labels, full
    # the background: bounded by the first and last rows and columns holding a zero (on a page
    # with a margin, its edges)
    top = next(i for i in range(height) if not mask[i].all())
    bottom = next(i for i in range(height - 1, -1, -1) if not mask[i].all())
    left = next(j for j in range(width) if not mask[:, j].all())
    right = next(j for j in range(width - 1, -1, -1) if not mask[:, j].all())
    stats[0] = (left, top, right - left + 1, bottom - top + 1, height * width - ys.size)
    if n > 1:
        x_min, y_min, x_max, y_max, area = label_extents(labels[ys, xs], xs, ys, n)
        stats[1:, 0], stats[1:, 1] = x_min, y_min
        stats[1:, 2] = x_max - x_min + 1
        stats[1:, 3] = y_max - y_min + 1
        stats[1:, 4] = area
    return n, labels, stats


def label_extents(label: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For labels 1 .. n-1 of the points (``xs``, ``ys``), each label holding at least one point
    and none 0: (least x, least y, greatest x, greatest y, number of points), by one sort."""
    order = np.argsort(label, kind="stable")
    xs, ys = xs[order], ys[order]
    count = np.bincount(label, minlength=n)[1:]
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    return (np.minimum.reduceat(xs, starts), np.minimum.reduceat(ys, starts),
            np.maximum.reduceat(xs, starts), np.maximum.reduceat(ys, starts), count)


def components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """8-connected components of a sparse uint8 mask: (count with the background, stats as
    :func:`cv2.connectedComponentsWithStats` gives them in the mask's coordinates), labelled
    inside the box around what is set only: the same components in the same order, without a
    pass over a mostly empty page."""
    n, stats, _labels, _at = labelled_components(mask)
    return n, stats


def labelled_components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, tuple[int, int]]:
    """:func:`components`, with the labels of the box around what is set and that box's top-left
    corner (x, y) in the mask: the label of the mask's pixel (x + i, y + j) is ``labels[j, i]``."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return 1, np.zeros((1, 5), np.int32), np.zeros((0, 0), np.int32), (0, 0)
    n, labels, stats = component_stats(mask[y : y + h, x : x + w])
    stats[1:, 0] += x
    stats[1:, 1] += y
    return n, stats, labels, (x, y)


def noise_gaps(band_a: np.ndarray, band_b: np.ndarray, paper: np.ndarray, valid: np.ndarray,
                global_corr: float, text_px: int) -> list[tuple[int, int, int, int]]:
    """Regions of a same-scan pair where the shared paper noise is missing (repainted boxes).

    A repainted field is flat paint or other pixels: there the residual correlation of the
    paper between the glyphs drops far below the page's, even when the new glyphs sit where
    the old ones did. Regions touching the edge of the overlap are left out: rotation padding
    of a re-upload is flat too.
    """
    r = max(6, text_px)  # about two printed lines: enough paper pixels for a stable estimate
    win = (2 * r + 1, 2 * r + 1)
    inner = cv2.erode(valid.astype(np.uint8), np.ones(win, np.uint8)) > 0
    bx, by, bw, bh = cv2.boundingRect(inner.view(np.uint8))
    if bw == 0 or bh == 0:
        return []
    m = paper.astype(np.float32)
    # the window sums over the whole page (their running sums start at its edge), into
    # reused buffers: the same float32 products in the same order as band_a * band_b * m
    buf = np.multiply(band_a, band_b)
    buf *= m
    ab = cv2.boxFilter(buf, -1, win, normalize=False)
    np.multiply(band_a, band_a, out=buf)
    buf *= m
    aa = cv2.boxFilter(buf, -1, win, normalize=False)
    np.multiply(band_b, band_b, out=buf)
    buf *= m
    bb = cv2.boxFilter(buf, -1, win, normalize=False)
    # a count of 0/1 pixels: integer sums, exactly the float sums of the 0.0/1.0 mask, and
    # integer sums do not depend on where they start: counted over the box and its windows only
    # (clipped to the page, whose edge reflects as the page's own)
    h, w = valid.shape
    y0, x0 = max(0, by - r), max(0, bx - r)
    count = cv2.boxFilter(paper[y0 : min(h, by + bh + r), x0 : min(w, bx + bw + r)].view(np.uint8), cv2.CV_32F,
                          win, normalize=False)[by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw]
    # everything after is elementwise and read where ``inner`` is only: inside its box
    win_box = (slice(by, by + bh), slice(bx, bx + bw))
    ab, aa, bb, inner_box = ab[win_box], aa[win_box], bb[win_box], inner[win_box]
    local = np.multiply(aa, bb)
    local += 1e-6
    np.sqrt(local, out=local)
    np.divide(ab, local, out=local)
    enough = count >= 0.25 * win[0] * win[1]
    # only where A has texture to share: flat (saturated, over-compressed) paper says nothing
    ea = np.maximum(count, 1.0)
    np.divide(aa, ea, out=ea)
    ref = ea[inner_box & enough]
    textured = ea >= 0.25 * float(np.median(ref[::7])) if ref.size else enough
    low = np.zeros(valid.shape, np.uint8)
    low[win_box] = (local < NOISE_GAP_FRACTION * global_corr) & inner_box & enough & textured
    low = cv2.morphologyEx(low, cv2.MORPH_OPEN, np.ones((max(3, text_px // 3),) * 2, np.uint8))
    n, stats = components(low)
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < text_px * text_px:
            continue
        x0, y0 = max(0, x - r - 2), max(0, y - r - 2)
        x1, y1 = min(w, x + bw + r + 2), min(h, y + bh + r + 2)
        if not inner[y0:y1, x0:x1].all():
            continue
        out.append((x, y, x + bw, y + bh))
    return out


def merge_boxes(boxes: list[tuple[int, int, int, int]], gap: int, gap_y: int | None = None) -> list[tuple[int, int, int, int]]:
    """Union boxes that overlap or lie within ``gap`` px of each other along a line (``gap_y``
    across lines, ``gap`` unless given): one field, one box. Top to bottom, left to right."""
    gap_y = gap if gap_y is None else gap_y
    boxes = [tuple(b) for b in boxes]
    merged = True
    while merged:
        merged = False
        out: list[tuple[int, int, int, int]] = []
        for b in boxes:
            for i, o in enumerate(out):
                if b[0] <= o[2] + gap and o[0] <= b[2] + gap and b[1] <= o[3] + gap_y and o[1] <= b[3] + gap_y:
                    out[i] = (min(b[0], o[0]), min(b[1], o[1]), max(b[2], o[2]), max(b[3], o[3]))
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return sorted(boxes, key=lambda b: (b[1], b[0]))


def text_height(ink: np.ndarray) -> int:
    """Typical printed-line height in px (from the row profile's runs)."""
    rows = ink.sum(axis=1) > max(2, 0.01 * ink.shape[1])
    runs, cur = [], 0
    for r in rows:
        if r:
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    return int(np.median(runs)) if runs else 12


def scanner_bed(arr: np.ndarray) -> np.ndarray:
    """Mask of the scanner bed around the paper: dark regions connected to the image edge and
    large (a cropped glyph at the edge is small), widened by a few px of blur halo.

    The bed is no print: counted as ink it makes one "text line" of the whole page height and
    its edge against the paper differs wherever the two uploads were cropped differently.
    """
    sample = arr[::3, ::3]
    paper = float(np.percentile(sample, 90)) if sample.size else 255.0
    dark = (arr < 0.5 * paper).astype(np.uint8)
    out = edge_components(dark, FRAME_MIN_FRACTION * arr.size)
    if out is None:  # more edge components than fill values: label the whole page
        _, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
        h, w = arr.shape
        x, y, bw, bh, area = stats.T  # one row per component; a printed page has thousands (glyphs)
        keep = ((x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)) & (area >= FRAME_MIN_FRACTION * arr.size)
        keep[0] = False  # label 0 is the background
        out = keep[labels] if keep.any() else np.zeros(arr.shape, bool)
    if out.any():
        out = cv2.dilate(out.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return out


def edge_components(mask: np.ndarray, min_area: float) -> np.ndarray | None:
    """The 8-connected components of a uint8 0/1 mask that touch the image's edge and have at
    least ``min_area`` pixels, as a bool mask; None past 255 edge components.

    Filled from the edge inwards (one flood fill per component, from the first pixel of each run
    along the edge), so the glyphs inside the page, thousands of components, are never visited:
    the components a labelling of the whole page would keep, at a fraction of its cost."""
    h, w = mask.shape
    seeds: list[tuple[int, int]] = []
    for line, at in ((mask[0], lambda i: (i, 0)), (mask[-1], lambda i: (i, h - 1)),
                     (mask[:, 0], lambda i: (0, i)), (mask[:, -1], lambda i: (w - 1, i))):
        starts = np.flatnonzero(np.diff(line, prepend=np.uint8(0)) == 1)
        seeds += [at(int(i)) for i in starts]
    out = np.zeros((h, w), bool)
    if not seeds:
        return out
    filled = np.zeros((h + 2, w + 2), np.uint8)
    value = 0
    for x, y in seeds:
        if filled[y + 1, x + 1]:
            continue  # in a component filled from an earlier seed
        if value == 255:
            return None
        value += 1
        area, _, _, (rx, ry, rw, rh) = cv2.floodFill(mask, filled, (x, y), 0, 0, 0,
                                                     flags=8 | cv2.FLOODFILL_MASK_ONLY | (value << 8))
        if area >= min_area:
            out[ry : ry + rh, rx : rx + rw] |= filled[ry + 1 : ry + rh + 1, rx + 1 : rx + rw + 1] == value
    return out
