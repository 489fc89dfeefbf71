"""Order statistics of 8-bit grey levels from their counts: a median or a percentile of a page's
pixels without sorting them (256 levels, millions of pixels).

Used where a page's paper or ink level is read: OCR's paper level (:mod:`forensics.ocr`) and the
ink and paper levels of a page comparison (:mod:`forensics.alignment`).
"""

from __future__ import annotations

import cv2
import numpy as np

#: most pixels OpenCV's float32 histogram counts exactly (2**24)
EXACT_HISTOGRAM = 1 << 24


def grey_counts(grey: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """How many pixels of a uint8 raster (under a boolean ``mask``, when given) hold each of the
    256 grey levels, as int64: OpenCV's histogram (half the CPU of ``np.bincount`` on a page)
    while its float32 counts are exact, else ``np.bincount``."""
    if grey.size < EXACT_HISTOGRAM:
        m = None if mask is None else np.ascontiguousarray(mask).view(np.uint8)
        return cv2.calcHist([np.ascontiguousarray(grey)], [0], m, [256], [0, 256]).reshape(-1).astype(np.int64)
    return np.bincount((grey if mask is None else grey[mask]).reshape(-1), minlength=256)


def order_stats(counts: np.ndarray, ranks: tuple[int, ...]) -> tuple[int, ...]:
    """The values at the given 0-based ranks of the sorted values whose counts per value are
    ``counts``."""
    upto = np.cumsum(counts)
    return tuple(int(np.searchsorted(upto, r, side="right")) for r in ranks)
