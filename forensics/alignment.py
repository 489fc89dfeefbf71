"""Pairwise confirmation of hash candidates: register one page onto the other, compare pixels.

Hashes only say two pages look alike. :func:`compare_pages` decides what the likeness is:

- ``same_file``: the same bytes (sha256 equal);
- ``same_image``: the same scan uploaded again (re-encoded, rescaled, cropped, rotated): after
  alignment the printed content agrees everywhere;
- ``edited_copy``: the same scan (same paper texture and noise) with a few repainted boxes:
  the forger's template. The differing boxes are reported in A's pixel coordinates;
- ``same_layout``: another honest receipt of the same shop: aligns on the shared header, but
  the noise is independent and much of the printed content differs;
- ``unrelated``: does not register.

The "same scan" evidence is the paper noise: two scans of two sheets have independent noise
(residual correlation near 0), while any copy of one scan keeps it (correlation clearly above 0
even after JPEG and resampling, measured on mid-frequency residuals at a common resolution).

Steps: reduce both pages to a working size (an area budget, so tall receipts keep legible
text); ORB features + RANSAC similarity transform (phase correlation as a fallback for
feature-poor pages), refined to sub-pixel by phase correlation of inked tiles; warp B into A's
frame; then compare ink masks (layout agreement), grey levels (differing boxes: a tolerant
comparison for any pair, an exact one for a same-scan pair) and paper residuals (noise
correlation, and local gaps in it where a field was repainted).

Calibrated on generated receipts and on simulated re-uploads of real SROIE scans
(``bench/fingerprints.py``); the thresholds below say what each was set against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from forensics.fingerprints import darker_than, ink_mask
from forensics.grey_levels import grey_counts, order_stats
from forensics.model import Box
from forensics.page_features import (  # noqa: F401 (prepare, PreparedPage: alignment's API)
    ORB_FEATURES,
    WORK_PIXELS,
    Features,
    PageGone,
    PreparedPage,
    Work,
    prepare,
    ratio_matches,
)
from forensics.page_regions import (
    differing_boxes,
    merge_boxes,
    noise_gaps,
    scanner_bed,
    text_height,
)

#: pages narrower or lower than this many px are not compared (nothing to register)
MIN_SIDE_PX = 16
#: the relation kinds, strongest first
KINDS = ("same_file", "same_image", "edited_copy", "same_layout", "unrelated")
#: keypoints (of ORB_FEATURES) from which a page is rich in features: two such pages that do
#: not register by features are different content, without the phase-correlation fallback
#: (SROIE receipts reach the cap; unrelated pairs among them took ~40% of a comparison there)
RICH_KEYPOINTS = ORB_FEATURES // 2
#: Lowe ratio for keeping a feature match (text glyphs repeat: be strict)
MATCH_RATIO = 0.8
#: registration zoom (B working px -> A working px) beyond which A is reduced to B's resolution
#: before comparing: B upsampled into A's frame lacks A's fine detail, and the exact comparison
#: would read that missing detail as repainted glyphs
RESAMPLE_ZOOM = 1.05
#: RANSAC reprojection tolerance in working px
RANSAC_PX = 3.0
#: fewest RANSAC inliers for a registration to be trusted
MIN_INLIERS = 20
#: scale range a plausible registration may have (re-uploads are rescaled 0.5x-2x)
SCALE_RANGE = (0.4, 2.5)
#: largest rotation in degrees a plausible registration may have
MAX_ROTATION_DEG = 15.0
#: weakest phase-correlation peak accepted when feature registration failed
MIN_PHASE_RESPONSE = 0.2
#: side in working px of the tiles whose local shifts refine the registration
REFINE_TILE = 128
#: smallest ink-paper contrast in grey levels the tolerances are scaled by (blank pages)
MIN_CONTRAST = 40.0
#: frame in working px along A's and B's edges left out of the comparison (JPEG/rotation edges)
EDGE_PX = 6
#: paper pixels this close (px, window side) to ink in either page are left out of the noise
#: correlation: JPEG ringing and blur halos around shared header text correlate between scans
NOISE_MARGIN_PX = 13
#: residual (paper-noise) correlation above which both pages come from one scan
SAME_SCAN_CORR = 0.25
#: fraction of the ink that may differ for the content still to count as the same
SAME_CONTENT_CHANGED = 0.01
#: most differing fraction of the ink (tolerant comparison) for one scan: an edited copy
#: repaints a few fields, honest receipts of one shop differ in 15-65% of their ink (SROIE)
EDIT_MAX_CHANGED = 0.1
#: when the exact comparison differs all over (small print), the tolerant one decides only
#: with at most :data:`MAX_EDIT_BOXES` differing boxes (honest receipts of one SROIE shop:
#: 24-30; re-uploads: 0-10) and stronger evidence of one scan than :data:`SAME_SCAN_CORR`:
#: noise correlation from FALLBACK_NOISE (honest receipts of one SROIE shop on one scanner
#: reach 0.45-0.47, a few 0.65-0.79, with 4-10% of their ink differing; re-uploads there:
#: 0.46-0.90), or at most FALLBACK_CHANGED of the ink differing (those re-uploads: 0.001-0.037)
FALLBACK_NOISE = 0.6
FALLBACK_CHANGED = 0.04
#: at most this many differing boxes make an edited copy (more: a different receipt)
MAX_EDIT_BOXES = 8
#: ink agreement (fraction of each page's ink near ink of the other) from which two registered
#: pages share a layout
SAME_LAYOUT_AGREEMENT = 0.6
#: percentile of a page's ink pixels taken as its ink level (the stroke cores: a re-upload
#: softened by resampling and JPEG 55 has half its "ink" in grey stroke edges; median ink
#: 132 against the original's 63 on one SROIE pair, 25th percentile 36 against 16)
INK_LEVEL_PERCENTILE = 25
#: window side in working px over which the paper right around a pixel is taken when reading
#: ink (wider than printed strokes at the working size, narrower than paper shading patches)
INK_PAPER_PX = 15
#: grey level from which paper counts as clipped (no texture left to compare)
SATURATED = 250


@dataclass(frozen=True)
class Relation:
    """What page B is to page A: ``kind`` (see :data:`KINDS`), ``score`` 0..1 (confidence),
    the boxes of A that differ (for ``edited_copy``) and measurement ``details``."""

    kind: str
    score: float
    differing_boxes: tuple[Box, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def _register_features(features_a: Features, features_b: Features) -> tuple[np.ndarray | None, int, int]:
    """Similarity transform mapping B's working px onto A's, with inliers and matches."""
    ka, da = features_a
    kb, db = features_b
    if da is None or db is None or len(ka) < MIN_INLIERS or len(kb) < MIN_INLIERS:
        return None, 0, 0
    query, train = ratio_matches(db, da, MATCH_RATIO)
    if len(query) < MIN_INLIERS:
        return None, 0, len(query)
    src, dst = kb[query], ka[train]
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX,
                                         maxIters=3000, confidence=0.995)
    if m is None or inl is None:
        return None, 0, len(query)
    return m, int(inl.sum()), len(query)


def _plausible(m: np.ndarray) -> bool:
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    angle = abs(float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))))
    return SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] and angle <= MAX_ROTATION_DEG


def _register_phase(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Fallback: B scaled to A's width, translation by phase correlation (no rotation)."""
    s = a.shape[1] / b.shape[1]
    bs = cv2.resize(b, (a.shape[1], max(1, round(b.shape[0] * s))), interpolation=cv2.INTER_AREA)
    h = max(a.shape[0], bs.shape[0])
    pa = np.full((h, a.shape[1]), float(np.median(a)), np.float32)
    pb = np.full((h, a.shape[1]), float(np.median(bs)), np.float32)
    pa[: a.shape[0]] = a
    pb[: bs.shape[0]] = bs
    win = cv2.createHanningWindow((a.shape[1], h), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(pb, pa, win)
    return np.float32([[s, 0, dx], [0, s, dy]]), float(response)


def _refine(a: np.ndarray, warped: np.ndarray, valid: np.ndarray, fa: np.ndarray | None = None) -> np.ndarray | None:
    """Affine correction (A px -> A px) from local shifts of tiles, or None when unreliable.

    Feature registration is good to about a pixel at the page's far ends (keypoints cluster,
    their positions are pyramid-quantised); a same-scan comparison needs sub-pixel accuracy.
    Phase correlation of inked tiles measures the remaining local shifts; an affine fit over
    them removes the residual rotation/scale.
    """
    h, w = a.shape
    t = REFINE_TILE
    if h < 2 * t or w < 2 * t:
        return None
    win = cv2.createHanningWindow((t, t), cv2.CV_32F)
    src, dst = [], []
    fa = a.astype(np.float32) if fa is None else fa
    for y in range(0, h - t + 1, t):
        for x in range(0, w - t + 1, t):
            if not valid[y : y + t, x : x + t].all():
                continue
            ta = fa[y : y + t, x : x + t]
            if float(ta.std()) < 12.0:  # blank paper: nothing to lock on
                continue
            # B's tile as float32 on its own: the same values as a tile of B converted whole
            (dx, dy), resp = cv2.phaseCorrelate(ta, warped[y : y + t, x : x + t].astype(np.float32), win)
            if resp < 0.2 or abs(dx) > 4 or abs(dy) > 4:
                continue
            cx, cy = x + t / 2, y + t / 2
            src.append((cx + dx, cy + dy))
            dst.append((cx, cy))
    if len(src) < 6:
        return None
    corr, inl = cv2.estimateAffine2D(np.float32(src), np.float32(dst), method=cv2.LMEDS)
    if corr is None or abs(corr[0, 0] - 1) > 0.02 or abs(corr[1, 1] - 1) > 0.02:
        return None
    return corr


def _band(arr: np.ndarray) -> np.ndarray:
    """Mid-frequency residual (difference of Gaussians): paper texture, not shading or JPEG."""
    f = arr.astype(np.float32)
    return cv2.GaussianBlur(f, (0, 0), 0.8) - cv2.GaussianBlur(f, (0, 0), 2.5)


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 500:
        return 0.0
    x = x - x.mean()
    y = y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def _levels(arr: np.ndarray, ink: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """(ink level, paper level) of a uint8 page: the stroke cores (a low percentile of its ink
    pixels) and the median of its paper (the pixels that are not ink).

    Percentiles of the whole page would miss the ink on a mostly blank page with faint print;
    the median of the ink pixels would follow the blur (a softened or heavily re-encoded page
    has many grey edge pixels darker than the ink threshold) and map the sharper page's ink
    far too light. A high percentile of the paper would follow clipped highlights (a
    brightened re-upload), the median does not.

    Both are order statistics of grey levels, read from the levels' counts
    (:func:`forensics.grey_levels.order_stats`): numpy's median and (linear) percentile of the same pixels as
    float32, to the bit, without sorting them.
    """
    sample = valid[::3, ::3] & ~ink[::3, ::3]  # a regular subsample: the same levels, 9x cheaper
    if sample.any():
        counts = grey_counts(arr[::3, ::3], sample)
        n = int(sample.sum())
        low, high = order_stats(counts, ((n - 1) // 2, n // 2))
        paper = float((np.float32(low) + np.float32(high)) / np.float32(2))
    else:
        paper = 255.0
    inked = ink & valid
    n = int(np.count_nonzero(inked))
    if n < 20:
        return paper - 128.0, paper
    counts = grey_counts(arr, inked)
    # numpy's linear percentile: the value at (n - 1) * q, interpolated towards the next one;
    # exactly that value when there is nothing to interpolate (the usual case: thousands of
    # ink pixels over 256 levels)
    k = (n - 1) * INK_LEVEL_PERCENTILE // 100
    exact = (n - 1) * INK_LEVEL_PERCENTILE % 100 == 0
    low, high = order_stats(counts, (k, min(k + 1, n - 1)))
    if exact or low == high:
        return float(low), paper
    return float(np.percentile(arr[inked].astype(np.float32), INK_LEVEL_PERCENTILE)), paper


def _median_level(arr: np.ndarray, mask: np.ndarray) -> np.uint8:
    """``np.uint8(np.median(arr[mask]))`` of a uint8 raster, from its grey-level counts (the
    median of an even count is the mean of the two middle levels, truncated)."""
    n = int(np.count_nonzero(mask))
    if n == 0:
        return np.uint8(np.median(arr[mask]))  # as numpy answers an empty median
    low, high = order_stats(grey_counts(arr, mask), ((n - 1) // 2, n // 2))
    return np.uint8((low + high) // 2)


def _matched(a: np.ndarray, b: np.ndarray, ink_a: np.ndarray, ink_b: np.ndarray,
             valid: np.ndarray, fa: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Both rasters as float with B's grey levels mapped onto A's (ink and paper levels), and
    A's ink-paper contrast (``fa``: A as float32 already, read only)."""
    fa, fb = a.astype(np.float32) if fa is None else fa, b.astype(np.float32)
    a_ink, a_paper = _levels(a, ink_a, valid)
    b_ink, b_paper = _levels(b, ink_b, valid)
    # in place (fb is this function's own copy): the same float32 operations, in order
    np.subtract(fb, b_ink, out=fb)
    np.multiply(fb, (a_paper - a_ink) / max(b_paper - b_ink, 1.0), out=fb)
    np.add(fb, a_ink, out=fb)
    return fa, fb, max(a_paper - a_ink, MIN_CONTRAST)


def _as_float(arr: np.ndarray) -> np.ndarray:
    """A uint8 raster as float32 (kept on a page's :class:`Work`: A is compared with many pages)."""
    return arr.astype(np.float32)


def _ink(arr: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Ink inside the compared region: darker than the page's local paper (the brightest
    pixels nearby, :func:`ink_mask`) and than the paper right around it (a closing over
    :data:`INK_PAPER_PX`).

    Outside the region everything is set to the page's paper level first: a re-upload's
    white rotation fill or a scanner bed next to shaded paper would make that paper "ink". The
    closing keeps a glossy or brighter patch of paper (tape, a fold) from turning the duller
    paper around it into "ink" (the brightest pixel within 1/8 of the page is no paper level
    there).
    """
    if not valid.any():
        return valid.copy()
    filled = arr if valid.all() else np.where(valid, arr, _median_level(arr[::3, ::3], valid[::3, ::3]))
    near = cv2.morphologyEx(filled, cv2.MORPH_CLOSE, np.ones((INK_PAPER_PX,) * 2, np.uint8))
    return ink_mask(filled) & darker_than(filled, near) & valid


def _warp(b: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """B warped into A's working frame, and the mask of where B has pixels."""
    h, w = shape
    m32 = m.astype(np.float32)
    warped = cv2.warpAffine(b, m32, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    valid = cv2.warpAffine(np.full(b.shape, 255, np.uint8), m32, (w, h), flags=cv2.INTER_NEAREST) > 0
    return warped, valid


def _align(a: np.ndarray, b: np.ndarray, details: dict[str, Any],
           registered: tuple[np.ndarray | None, int, int],
           fa: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Register B onto A (``registered``: :func:`_register_features`' answer, when it is
    plausible; else phase correlation; then tile refinement; ``fa``: A as float32, when kept).

    Returns the transform (B working px -> A working px), B warped into A's frame and its
    valid mask, or None when the pages do not register. Records what it did in ``details``.
    """
    m, inliers, _ = registered
    if m is None or inliers < MIN_INLIERS or not _plausible(m):
        m, response = _register_phase(a, b)
        details.update(registration="phase", phase_response=round(response, 3))
        if response < MIN_PHASE_RESPONSE:
            return None
    # B's working raster is already at about A's working scale: one more resampling only
    warped, valid = _warp(b, m, a.shape)
    corr = _refine(a, warped, valid, fa)
    details["refined"] = corr is not None
    if corr is not None:
        m = (np.vstack([corr, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]]))[:2]
        warped, valid = _warp(b, m, a.shape)
    return m, warped, valid


def _coarser(wa: Work, b: np.ndarray, m: np.ndarray, warped: np.ndarray, valid: np.ndarray,
             details: dict[str, Any]) -> tuple[Work, np.ndarray, np.ndarray, np.ndarray]:
    """Both pages at the lower of their two resolutions: A's working raster, the transform, B
    warped into A's frame and its valid mask.

    When B's content is smaller than A's (zoom > 1), A is area-reduced by the zoom so B needs
    no upsampling and A carries no detail B cannot have. (The other way round B is reduced
    by the warp itself; area-reducing B first measured worse: the extra resampling blurs it.)
    """
    zoom = float(np.hypot(m[0, 0], m[1, 0]))
    if zoom <= RESAMPLE_ZOOM:
        return wa, m, warped, valid
    h, w = wa.arr.shape
    size = (max(MIN_SIDE_PX, round(w / zoom)), max(MIN_SIDE_PX, round(h / zoom)))
    arr = cv2.resize(wa.arr, size, interpolation=cv2.INTER_AREA)
    s = arr.shape[1] / w
    m = np.vstack([m[0] * s, m[1] * s])  # B px -> reduced A px
    details["resampled"] = round(zoom, 3)
    warped, valid = _warp(b, m, arr.shape)
    return Work(arr, wa.scale * s), m, warped, valid


def _box_contrast(diff: np.ndarray, valid: np.ndarray, boxes: list[tuple[int, int, int, int]],
                  text_px: int) -> dict[str, Any]:
    """How the differing boxes stand out from the rest of the page: the differing pixels in
    each box (in text-line heights squared) and the share of the page's other pixels that
    differ. A re-encoding changes every region a little (the boxes barely stand out), an edit
    changes one region a lot (:func:`forensics.detectors.duplicates.reencoded`)."""
    inside = np.zeros(valid.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
    rest = valid & ~inside
    return {"box_diff": [round(float(diff[y0:y1, x0:x1].sum()) / max(1, text_px * text_px), 3)
                         for x0, y0, x1, y1 in boxes],
            "rest_diff": round(float(diff[rest].mean()) if rest.any() else 0.0, 6)}


def _page_boxes(boxes: list[Box], scale: float) -> tuple[Box, ...]:
    """Boxes in working px as boxes in page A's own px (rounded outwards)."""
    inv = 1.0 / scale
    return tuple((int(x0 * inv), int(y0 * inv), int(np.ceil(x1 * inv)), int(np.ceil(y1 * inv)))
                 for x0, y0, x1, y1 in boxes)


#: what "nearby" is to :func:`_agreement` (page_objects' ink agreement reads it too)
AGREEMENT_NEAR = np.ones((5, 5), np.uint8)


def _agreement(ink_a: np.ndarray, ink_b: np.ndarray) -> float:
    """Layout agreement: how much of each page's ink has ink of the other nearby (the smaller
    share, so a sparse page inside a dense one does not count as the same layout)."""
    a_in_b = float((ink_a & (cv2.dilate(ink_b.astype(np.uint8), AGREEMENT_NEAR) > 0)).sum()) / max(1, int(ink_a.sum()))
    b_in_a = float((ink_b & (cv2.dilate(ink_a.astype(np.uint8), AGREEMENT_NEAR) > 0)).sum()) / max(1, int(ink_b.sum()))
    return min(a_in_b, b_in_a)


def compare_pages(a: Image.Image | PreparedPage, b: Image.Image | PreparedPage, *, a_sha: str | None = None,
                  b_sha: str | None = None) -> Relation:
    """Classify what page ``b`` is to page ``a`` (see the module docstring). Either page may
    be given prepared (:func:`prepare`): the same answer, without preparing it again."""
    if a_sha is not None and a_sha == b_sha:
        return Relation("same_file", 1.0, (), {"evidence": "sha256"})
    if min(a.size) < MIN_SIDE_PX or min(b.size) < MIN_SIDE_PX:
        return Relation("unrelated", 0.5, (), {"registration": "skipped: page too small"})
    pa = a if isinstance(a, PreparedPage) else prepare(a)
    pb = b if isinstance(b, PreparedPage) else prepare(b)
    details: dict[str, Any] = {}
    registered = _register_features(pa.features, pb.features)
    m, inliers, matches = registered
    details.update(inliers=inliers, matches=matches, registration="features")
    if (m is None or inliers < MIN_INLIERS or not _plausible(m)) and \
            min(len(pa.features[0]), len(pb.features[0])) >= RICH_KEYPOINTS:
        # both pages are rich in features and they do not register: different content, told
        # without their pixels (an earlier page's features may come from disk). Phase
        # correlation (no rotation) is the fallback for feature-poor pages
        details["registration"] = "features: no match between feature-rich pages"
        return Relation("unrelated", 0.9, (), details)
    wa, wb = pa.work, pb.work
    aligned = _align(wa.arr, wb.arr, details, registered, wa.derived_as("float32", _as_float))
    if aligned is None:
        return Relation("unrelated", 0.9, (), details)
    wa, m, warped, valid = _coarser(wa, wb.arr, *aligned, details)
    frame_a, frame_b = wa.derived_as("frame", scanner_bed), wb.derived_as("frame", scanner_bed)
    if frame_a.any() or frame_b.any():
        details["scan_frame"] = True
        frame_b = cv2.warpAffine(frame_b.astype(np.uint8), m.astype(np.float32), wa.arr.shape[::-1],
                                 flags=cv2.INTER_NEAREST) > 0
        valid = valid & ~frame_a & ~frame_b
    valid = cv2.erode(valid.astype(np.uint8), np.ones((2 * EDGE_PX + 1,) * 2, np.uint8)) > 0
    valid[:EDGE_PX] = valid[-EDGE_PX:] = False
    valid[:, :EDGE_PX] = valid[:, -EDGE_PX:] = False
    overlap = float(valid.mean())
    details["overlap"] = round(overlap, 3)
    if overlap < 0.3:
        return Relation("unrelated", 0.6, (), details)
    ink_a, ink_b = _ink(wa.arr, valid), _ink(warped, valid)
    text_px = text_height(ink_a)
    fa, fb, contrast = _matched(wa.arr, warped, ink_a, ink_b, valid, wa.derived_as("float32", _as_float))
    boxes, diff = differing_boxes(fa, fb, contrast, valid, text_px, exact=False)
    union = (ink_a | ink_b).view(np.uint8)  # read three times below
    union_ink = max(1, int(np.count_nonzero(union)))
    changed = float(diff.sum()) / union_ink
    agree = _agreement(ink_a, ink_b)
    # paper noise: residuals away from ink and from the differing boxes
    keep = valid & ~(cv2.dilate(union, np.ones((NOISE_MARGIN_PX,) * 2, np.uint8)) > 0)
    for x0, y0, x1, y1 in boxes:
        keep[y0:y1, x0:x1] = False
    band_a, band_b = wa.derived_as("band", _band), _band(warped)
    noise = _corr(band_a[keep], band_b[keep])
    tolerant_boxes = boxes
    if noise >= SAME_SCAN_CORR:
        boxes, exact_diff = differing_boxes(fa, fb, contrast, valid, text_px, exact=True)
        paper = valid & ~(cv2.dilate(union, np.ones((5, 5), np.uint8)) > 0)
        # clipped paper (a brightened re-upload) is flat like paint but is not an edit
        clipped = cv2.dilate(np.maximum(wa.arr, warped), np.ones((5, 5), np.uint8)) >= SATURATED
        paper &= ~clipped
        gaps = noise_gaps(band_a, band_b, paper, valid, noise, text_px)
        details["noise_gaps"] = len(gaps)
        boxes = merge_boxes(boxes + gaps, text_px // 2)
    details.update(changed_fraction=round(changed, 4), ink_agreement=round(agree, 3),
                   noise_corr=round(noise, 3), boxes=len(boxes), text_px=text_px)
    # a difference against the edge of the overlap is crop or rotation padding of a re-upload
    # (fill where the other page still has its scan border), not a repainted field
    inner = cv2.erode(valid.astype(np.uint8), np.ones((2 * text_px + 1,) * 2, np.uint8)) > 0
    boxes = [bx for bx in boxes if inner[bx[1] : bx[3], bx[0] : bx[2]].all()]
    tolerant_boxes = [bx for bx in tolerant_boxes if inner[bx[1] : bx[3], bx[0] : bx[2]].all()]
    details.update(boxes=len(boxes), tolerant_boxes=len(tolerant_boxes))
    boxes_a = _page_boxes(boxes, wa.scale)
    # the noise alone does not prove one scan: real scans of one shop's receipts on one scanner
    # correlate up to ~0.5 (measured on SROIE). One scan also means the content mostly agrees.
    same_scan = noise >= SAME_SCAN_CORR and changed <= EDIT_MAX_CHANGED
    # identical content: no differing box, and (unless the noise proves one scan) almost no
    # differing ink; a heavily re-encoded re-upload may have lost its noise but not its content
    if not boxes and (same_scan or changed <= SAME_CONTENT_CHANGED):
        score = min(1.0, 0.6 + 0.4 * max(noise, 0.0) / max(SAME_SCAN_CORR, 1e-6))
        return Relation("same_image", round(min(score, 1.0), 3), (), details)
    if same_scan and len(boxes) <= MAX_EDIT_BOXES:
        score = min(1.0, 0.5 + noise)
        details.update(_box_contrast(exact_diff, valid, boxes, text_px))
        return Relation("edited_copy", round(score, 3), boxes_a, details)
    if (same_scan and len(tolerant_boxes) <= MAX_EDIT_BOXES
            and (noise >= FALLBACK_NOISE or changed <= FALLBACK_CHANGED)):
        # one scan (noise and content agree), but the exact comparison differs all over:
        # small or faint print after resampling. Fall back to the tolerant boxes. Without the
        # exact comparison's proof, the tolerant one must differ in few places (honest receipts
        # of one shop differ in many), and the noise must be beyond what one scanner's honest
        # receipts share or the content agree nearly everywhere.
        details["exact_compare"] = "too many differences; tolerant comparison used"
        tolerant = _page_boxes(tolerant_boxes, wa.scale)
        details.update(_box_contrast(diff, valid, tolerant_boxes, text_px))
        if tolerant:
            return Relation("edited_copy", round(min(1.0, 0.3 + noise), 3), tolerant, details)
        return Relation("same_image", round(min(1.0, 0.3 + noise), 3), (), details)
    if agree >= SAME_LAYOUT_AGREEMENT:
        return Relation("same_layout", round(min(1.0, agree), 3), (), details)
    return Relation("unrelated", round(1.0 - agree, 3), (), details)
