"""Page preparation before OCR: greyscale, and tiny text scaled up to a readable size.

:func:`prepare_page` measures the printed characters (median height of dark connected
components) and upscales the page only when they are so small that Tesseract loses them: on a
generated receipt with 6 px characters a 1.5-2x resample raised the read tokens from 0 to 8-9
of 10, while at 9 px and more scaling changed nothing.

Measured and rejected on the 220 SROIE receipts (median character height 11-40 px), field Hmean
through bench/extraction.py: no scaling 0.610; scaling to 30 px 0.606; to 40 px 0.610 (company
+0.5 pt, address -2.3, date -1.8) at 1.6x the OCR time. Receipts with the smallest text (under
14 px) lost most from scaling (46-47 field hits against 53 unscaled out of 136). Otsu
binarisation before Tesseract lost text on these scans (company present in the OCR text 0.49
against 0.60 on 55 receipts); Tesseract's own thresholding is kept.

Background flattening (the grey page divided by an estimate of its paper, rescaled to 0..255,
Tesseract's own thresholding kept), for uneven lighting and faded thermal paper, measured and
rejected against 0.646 (company .536, date .795, address .345, total .805; receipt numbers exact
0.665): paper estimated by a 21 px elliptical closing smoothed by a Gaussian (sigma 5) 0.652
(.550/.800/.368/.786) but receipt numbers 0.602; a 41 px closing 0.636, numbers 0.627; the 21 px
closing and a contrast stretch (darkest 1 % to black) 0.630, numbers 0.553; paper as a Gaussian
blur (sigma 15) of the page itself, ink included, 0.569, numbers 0.540. Flattening only the pages
whose paper estimate spans 30 grey levels or more (5th-95th percentile; 39 of the 220 receipts)
0.641, numbers 0.640; 60 levels or more (17 receipts) 0.641, numbers 0.652.

Dark lines along the image's edges (the scanner bed or the cut of a photocopy, a few px wide)
can stop Tesseract altogether: it estimates the resolution from connected components, and a
frame around the whole page made it estimate 1423 dpi and return no word on 2 of the 220 SROIE
receipts. ``prepare_page(image, trim=True)`` cuts edge rows/columns far darker than the paper
(at most :data:`MAX_TRIM` of a side). It is a second attempt for pages that read (almost)
nothing (see :func:`forensics.ocr.read_page`), not the default: trimming the 1-3 px edges of
all 137 framed receipts changed their reading for the worse on balance (field Hmean 0.619 ->
0.617, receipt numbers 0.640 -> 0.621).

The returned :class:`PreparedPage` carries the scale and the trimmed offset so that word boxes
can be mapped back to the original image's pixel coordinates (:func:`boxes_to_original`): every
box in a reading is in the coordinates of the page the user uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from forensics.model import Word

#: median character height (px) below which a page is scaled up. At and above it scaling did
#: not help: the seven SROIE receipts measured at 7-9 px (faint or speckled scans) lost field
#: hits when scaled 1.2-1.5x (2 against 4 unscaled), and generated text at 9+ px reads fully
MIN_CHAR_HEIGHT = 7.0
#: median character height (px) that a page with tiny text is scaled up to
TARGET_CHAR_HEIGHT = 10.5
#: largest upscale factor: beyond it the resample invents shapes and OCR time grows
MAX_SCALE = 2.0
#: scale factors closer to 1 than this are not worth a resample
MIN_SCALE_STEP = 1.15
#: pages whose longer side would exceed this (px) after scaling are scaled less
MAX_SIDE = 5000
#: fewest character-like components needed before their median height is trusted
MIN_COMPONENTS = 20
#: an edge row or column is frame, not paper, when its mean grey level is below this share of
#: the page's median level
FRAME_DARKNESS = 0.6
#: most of a side (share) trimmed as frame: a dark band wider than this is content, not an edge
MAX_TRIM = 0.03
#: the component analysis runs on a copy whose longer side is at most this (px), for speed
ANALYSIS_SIDE = 1600


@dataclass(frozen=True)
class PreparedPage:
    """The image handed to the OCR engine and its scale relative to the original page."""

    image: Image.Image
    #: prepared pixels per original pixel (1.0 when the page was left as it was)
    scale: float
    #: measured median character height in original pixels, None when it could not be measured
    char_height: float | None
    #: the part of the original page kept (left, top, right, bottom) when a dark edge frame was
    #: trimmed; None when the whole page was kept
    box: tuple[int, int, int, int] | None = None

    @property
    def offset(self) -> tuple[int, int]:
        """Original pixels cut from the left and top edges before scaling."""
        return (self.box[0], self.box[1]) if self.box else (0, 0)


def _grey(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else image.convert("L")


def char_height(image: Image.Image) -> float | None:
    """Median height in pixels of the dark, character-shaped blobs on the page, or None."""
    import cv2

    from forensics.page_regions import component_stats

    grey = _grey(image)
    factor = 1.0
    if max(grey.size) > ANALYSIS_SIDE:
        factor = ANALYSIS_SIDE / max(grey.size)
        grey = grey.resize((max(1, round(grey.width * factor)), max(1, round(grey.height * factor))), Image.BILINEAR)
    pixels = np.asarray(grey, dtype=np.uint8)
    _, ink = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _, stats = component_stats(ink)
    if count <= 1:
        return None
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    areas = stats[1:, cv2.CC_STAT_AREA]
    # character-like: not specks, not rules or frames, not much wider than tall
    shaped = (heights >= 5) & (heights <= 120) & (widths >= 2) & (widths <= 2 * heights) & (areas >= 10)
    if int(shaped.sum()) < MIN_COMPONENTS:
        return None
    return float(np.median(heights[shaped])) / factor


def frame_box(grey: Image.Image) -> tuple[int, int, int, int]:
    """The page inside the dark lines along its edges: (left, top, right, bottom)."""
    a = np.asarray(grey, dtype=np.float32)
    if a.size == 0:
        return (0, 0, grey.width, grey.height)
    dark = FRAME_DARKNESS * float(np.median(a))

    def depth(means: np.ndarray) -> int:
        limit = int(len(means) * MAX_TRIM)
        n = 0
        while n < limit and means[n] < dark:
            n += 1
        return n if n < limit else 0  # a dark band that runs on is content: leave it

    rows, cols = a.mean(axis=1), a.mean(axis=0)
    top, bottom = depth(rows), depth(rows[::-1])
    left, right = depth(cols), depth(cols[::-1])
    return (left, top, grey.width - right, grey.height - bottom)


def prepare_page(image: Image.Image, *, trim: bool = False) -> PreparedPage:
    """The page as the OCR engine should see it: greyscale, tiny text scaled up; with ``trim``
    the dark frame along its edges cut off first."""
    grey = _grey(image)
    box = frame_box(grey) if trim else None
    if box == (0, 0, grey.width, grey.height):
        box = None
    if box is not None:
        grey = grey.crop(box)
    measured = char_height(grey)
    scale = 1.0
    if measured and measured < MIN_CHAR_HEIGHT:
        scale = min(MAX_SCALE, TARGET_CHAR_HEIGHT / measured, MAX_SIDE / max(grey.size))
    if scale < MIN_SCALE_STEP:
        return PreparedPage(grey, 1.0, measured, box)
    size = (round(grey.width * scale), round(grey.height * scale))
    return PreparedPage(grey.resize(size, Image.LANCZOS), scale, measured, box)


def boxes_to_original(words: list[Word], prepared: PreparedPage, width: int, height: int) -> list[Word]:
    """``words`` with boxes mapped from the prepared image back to the original page."""
    if prepared.scale == 1.0 and prepared.box is None:
        return words
    s = prepared.scale
    dx, dy = prepared.offset

    def back(v: int, shift: int, limit: int) -> int:
        return min(limit, max(0, round(v / s) + shift))

    return [
        replace(w, box=(back(w.box[0], dx, width), back(w.box[1], dy, height),
                        back(w.box[2], dx, width), back(w.box[3], dy, height)))
        for w in words
    ]
