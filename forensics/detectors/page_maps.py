"""Per-pixel maps of a page that the pixel detectors share (local edits, amount print), made
once per upload: grey levels, the high-pass residual, ink and usable-paper masks, how much darker
than the local paper each pixel is, the page's paper noise; and the small helpers that read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from forensics.detectors import Analysis, remember
from forensics.model import Box, PageReading, Word
from forensics.page_regions import component_stats

#: grey levels below the local paper level at which a pixel counts as ink
INK_CONTRAST = 45
#: paper brighter than this is (near) saturated: its noise was clipped away by the scanner
SATURATED = 248
#: std of a Gaussian's central 90% relative to its full std
TRIMMED_STD_RATIO = 0.79
#: grey levels below the local paper level at which a pixel is (blurred) text, not paper
HALO_CONTRAST = 12
#: JPEG block size in px
JPEG_BLOCK = 8
#: text of a group of ink OCR read no word in (glyph_copies, tune half: one more copy-move
#: found, no honest page's unread ink has even two pieces within 0.1 of a mate)
UNREAD = "print OCR did not read"
#: px of paper that may separate two characters of one unread word
UNREAD_GAP = 9
#: most unread groups a detector judges on a page
MAX_UNREAD = 40
#: least height (px) of an unread group
MIN_UNREAD_HEIGHT = 8


@dataclass(frozen=True)
class PageMaps:
    """Per-pixel maps of one page shared by every word measurement."""

    gray: np.ndarray
    #: the page (its colours are read only for the flat-paper test, so made on first use)
    image: Any
    residual: np.ndarray
    ink: np.ndarray
    paper: np.ndarray
    noise: float
    #: how much darker than the local paper level each pixel is
    dark: np.ndarray
    #: :func:`word_ink`'s contrasts already measured, by clipped box (every detector reading
    #: the maps measures the same words)
    contrasts: dict[Box, float] = field(default_factory=dict, compare=False, repr=False)
    #: the 3x3 mean of ``gray`` (``residual`` is gray less it), kept for the detectors that read it
    smooth: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: :meth:`gaussian` blurs already made, by sigma
    blurs: dict[float, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def gaussian(self, sigma: float) -> np.ndarray:
        """``gray`` blurred by a Gaussian of ``sigma`` px, made once for every detector that
        compares blurred grey levels (copy-move's differences, glyph copies' pieces); callers do
        not change it."""
        if sigma not in self.blurs:
            self.blurs[sigma] = cv2.GaussianBlur(self.gray, (0, 0), sigma)
        return self.blurs[sigma]

    @cached_property
    def rgb(self) -> np.ndarray:
        """The page's colours, as float32 RGB."""
        return np.asarray(self.image.convert("RGB"), dtype=np.float32)


def spread(values: np.ndarray) -> float:
    """``float(values.std())`` to the bit, without numpy's Python layers (the same reductions in
    the same order: the sum, the mean divided in place, the squared deviations summed): the
    pixel detectors take the std of a few hundred small boxes a page, where those layers cost
    more than the arithmetic. Checked against ``std`` in tests/detectors/test_page_maps.py."""
    n = values.size
    mean = np.add.reduce(values, axis=None, keepdims=True)
    np.true_divide(mean, n, out=mean, casting="unsafe")
    dev = values - mean
    np.multiply(dev, dev, out=dev)
    return float(np.sqrt(np.add.reduce(dev, axis=None) / n))


def percentile(values: np.ndarray, q: float) -> float:
    """``float(np.percentile(values, q))`` (its default linear method, a scalar ``q``, no NaN)
    to the bit: the two order statistics it interpolates by one partition, and its own
    interpolation (from the lower one below the midpoint, from the upper one at and past it),
    without its Python layers (a word's contrast is asked of every word on the page)."""
    flat = values.reshape(-1)
    n = flat.size
    at = (n - 1) * (q / 100)
    lo = int(np.floor(at))
    hi = min(lo + 1, n - 1)
    part = np.partition(flat, (lo, hi) if hi != lo else lo)
    below, above = part[lo], part[hi]
    t = at - lo
    step = above - below
    return float(above - step * (1 - t) if t >= 0.5 else below + step * t)


def robust_std(values: np.ndarray) -> float:
    """Std of the central 90% of ``values`` scaled to a Gaussian's std: blind to outliers and,
    unlike the MAD, not stuck on the grey-level quantisation of nearly flat regions."""
    if values.size < 4:
        return 0.0
    lo, hi = np.percentile(values, (5, 95))
    core = values[(values >= lo) & (values <= hi)]
    return float(core.std() / TRIMMED_STD_RATIO)


def page_maps(image) -> PageMaps:  # noqa: ANN001 - PIL image
    """Grey levels, high-pass residual, ink and usable-paper masks of a page image."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    # local paper level: a closing of the noise-averaged, quarter-size page removes the text
    # and keeps the paper's shading (on full-size noisy pixels it would ride the noise peaks)
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    background = cv2.resize(cv2.blur(small, (3, 3)), (w, h), interpolation=cv2.INTER_LINEAR)
    smooth = cv2.blur(gray, (3, 3))
    ink = smooth < background - INK_CONTRAST
    # anti-aliased and blurred glyph edges are not paper: keep away from any real darkening
    halo = smooth < background - HALO_CONTRAST
    near_ink = cv2.dilate(halo.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    residual = gray - smooth
    paper = ~near_ink & (gray < SATURATED)
    # JPEG rings around text inside its 8x8 block: only blocks free of text show paper noise
    paper &= _text_free_blocks(near_ink)
    sample = residual[paper]
    if sample.size > 200_000:
        sample = sample[:: sample.size // 200_000]
    return PageMaps(gray, image, residual, ink, paper, robust_std(sample), background - gray, smooth=smooth)


def _text_free_blocks(near_ink: np.ndarray) -> np.ndarray:
    """True on the pixels of JPEG-grid 8x8 blocks that hold no text at all (a boolean view)."""
    h, w = near_ink.shape
    busy = block_reduce(near_ink.view(np.uint8), np.maximum, JPEG_BLOCK)
    # each block's flag repeated over its pixels (a nearest resize by a whole factor repeats)
    free = cv2.resize((busy == 0).view(np.uint8), (busy.shape[1] * JPEG_BLOCK, busy.shape[0] * JPEG_BLOCK),
                      interpolation=cv2.INTER_NEAREST)
    return free[:h, :w].view(bool)


def block_reduce(values: np.ndarray, ufunc: np.ufunc, k: int) -> np.ndarray:
    """``ufunc`` (np.minimum or np.maximum) over each k-square block of ``values``, the last,
    partial blocks over what they hold: rows then columns, a strided slice at a time (a 4-D
    reshape's two-axis reduction took five times as long)."""
    rows = values[0::k].copy()
    for i in range(1, k):
        part = values[i::k]
        ufunc(rows[:part.shape[0]], part, out=rows[:part.shape[0]])
    out = rows[:, 0::k].copy()
    for j in range(1, k):
        part = rows[:, j::k]
        ufunc(out[:, :part.shape[1]], part, out=out[:, :part.shape[1]])
    return out


def clip(box: Box, shape: tuple[int, ...]) -> Box:
    h, w = shape[:2]
    return (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))


def clip_all(boxes: list[Box] | np.ndarray, shape: tuple[int, ...], margin: int = 0) -> np.ndarray:
    """:func:`clip` of many boxes at once, each first grown by ``margin`` px: an (N, 4) int64
    array (a page's search windows, made once rather than once a pair)."""
    b = np.asarray(boxes, dtype=np.int64).reshape(-1, 4) + np.array([-margin, -margin, margin, margin], dtype=np.int64)
    h, w = shape[:2]
    return np.stack([np.maximum(b[:, 0], 0), np.maximum(b[:, 1], 0),
                     np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)], axis=1)


@dataclass(frozen=True)
class WordInk:
    """A word's box on the page (clipped), how much darker than its paper each of its pixels is,
    its contrast (the 98th percentile of that) and its ink (darker than a share of it)."""

    box: Box
    dark: np.ndarray
    contrast: float
    ink: np.ndarray


def word_ink(maps: PageMaps, box: Box, *, min_width: int, min_height: int, min_contrast: float,
             ink_share: float) -> WordInk | None:
    """The ink of the word in ``box``; None when the box (clipped to the page) is narrower or
    lower than asked, or its print fainter than ``min_contrast`` grey levels."""
    x0, y0, x1, y1 = clip(box, maps.gray.shape)
    if x1 - x0 < min_width or y1 - y0 < min_height:
        return None
    dark = maps.dark[y0:y1, x0:x1]
    contrast = maps.contrasts.get((x0, y0, x1, y1))
    if contrast is None:
        contrast = maps.contrasts[(x0, y0, x1, y1)] = percentile(dark, 98)
    if contrast < min_contrast:
        return None
    return WordInk((x0, y0, x1, y1), dark, contrast, dark > ink_share * contrast)


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in px: twice the distance-to-background on the strokes' ridges."""
    if ink.sum() < 10:
        return 0.0
    dist = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    ridge = (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (dist > 0)
    return float(2 * np.median(dist[ridge])) if ridge.any() else 0.0


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in a 1-D mask."""
    padded = np.zeros(mask.size + 2, dtype=bool)
    padded[1:-1] = mask
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def unread_words(reading: PageReading, maps: PageMaps) -> list[Word]:
    """Groups of ink OCR read no word in, of a line's height and at least twice as wide (a
    paste OCR did not read), widest first."""
    ink = maps.ink.astype(np.uint8)
    h, w = ink.shape
    for word in reading.words:
        x0, y0, x1, y1 = clip((word.box[0] - 2, word.box[1] - 2, word.box[2] + 2, word.box[3] + 2), ink.shape)
        ink[y0:y1, x0:x1] = 0
    joined = cv2.dilate(ink, np.ones((1, UNREAD_GAP), np.uint8))
    _n, _labels, stats = component_stats(joined)
    top = max((v.box[3] - v.box[1] for v in reading.words), default=0)
    out = []
    for x, y, bw, bh, _area in stats[1:].tolist():
        if MIN_UNREAD_HEIGHT <= bh <= 1.5 * top and bw >= 2 * bh and bw <= w // 2:
            box = (x + UNREAD_GAP // 2, y, x + bw - UNREAD_GAP // 2, y + bh)
            out.append(Word(UNREAD, box, 0.0))
    return sorted(out, key=lambda v: -(v.box[2] - v.box[0]))[:MAX_UNREAD]


def shared_page_maps(analysis: Analysis, reading: PageReading, image) -> PageMaps:  # noqa: ANN001
    """The :func:`page_maps` of a page, made once per upload for every detector that reads them
    (local edits and amount print)."""
    return remember(analysis, ("page_maps", reading.page), lambda: page_maps(image))


def shared_unread_words(analysis: Analysis, reading: PageReading, maps: PageMaps) -> list[Word]:
    """The :func:`unread_words` of a page, found once per upload for the detectors that search
    them (copy-move and glyph copies); callers do not change the list."""
    return remember(analysis, ("unread_words", reading.page), lambda: unread_words(reading, maps))
