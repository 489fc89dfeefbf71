"""page_regions against plain formulations: component_stats against OpenCV's labels and stats;
differing_boxes and noise_gaps against their whole-page formulations (the reference kept here),
which the buffer-reusing, cropped versions must match bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from forensics.page_regions import (
    DIFF_TOLERANCE,
    EXACT_SHAPE,
    EXACT_TOLERANCE,
    INK_TOLERANCE_PX,
    NOISE_GAP_FRACTION,
    component_stats,
    components,
    differing_boxes,
    noise_gaps,
)


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (64, 48), (240, 180)])
@pytest.mark.parametrize("share", [0.0, 0.002, 0.05, 0.6, 0.999, 1.0])
def test_component_stats_are_opencvs(shape, share):
    # sparse specks, dilated runs, dense masks, masks set along their edges, none and all set
    rng = np.random.default_rng(int(share * 1000) + shape[0])
    specks = (rng.random(shape) < share).astype(np.uint8)
    framed = specks.copy()
    framed[0], framed[:, 0], framed[-1] = 1, 1, 255
    for mask in (specks, cv2.dilate(specks, np.ones((1, 9), np.uint8)), framed, specks * 255):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        got = component_stats(mask)
        assert got[0] == n and np.array_equal(got[1], labels) and np.array_equal(got[2], stats)
        assert got[2].dtype == stats.dtype


def test_components_of_a_mask_are_in_page_coordinates():
    mask = np.zeros((50, 60), np.uint8)
    mask[10:14, 20:30] = 1
    mask[30, 40:43] = 1
    n, stats = components(mask)
    assert n == 3 and stats[1:].tolist() == [[20, 10, 10, 4, 40], [40, 30, 3, 1, 3]]


def test_labelled_components_label_each_set_pixel_from_the_box_corner():
    from forensics.page_regions import labelled_components

    mask = np.zeros((50, 60), np.uint8)
    mask[10:14, 20:30] = 1
    mask[30, 40:43] = 1
    n, stats, labels, (x, y) = labelled_components(mask)
    assert (n, x, y) == (3, 20, 10) and stats[1:].tolist() == components(mask)[1][1:].tolist()
    assert labels[12 - y, 25 - x] == 1 and labels[30 - y, 41 - x] == 2 and labels[0, 15] == 0
    assert labelled_components(np.zeros((5, 5), np.uint8))[0] == 1


def _reference_diff(fa, fb, contrast, valid, exact):
    t = (EXACT_TOLERANCE if exact else DIFF_TOLERANCE) * contrast
    win = cv2.getStructuringElement(EXACT_SHAPE if exact else cv2.MORPH_RECT, (2 * INK_TOLERANCE_PX + 1,) * 2)
    a_dif = (fa < cv2.erode(fb, win) - t) | (fa > cv2.dilate(fb, win) + t)
    b_dif = (fb < cv2.erode(fa, win) - t) | (fb > cv2.dilate(fa, win) + t)
    diff = ((a_dif | b_dif) & valid).astype(np.uint8)
    if not exact:
        diff = cv2.morphologyEx(diff, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    return diff


def _reference_low(band_a, band_b, paper, valid, global_corr, text_px):
    r = max(6, text_px)
    win = (2 * r + 1, 2 * r + 1)
    m = paper.astype(np.float32)
    ab = cv2.boxFilter(band_a * band_b * m, -1, win, normalize=False)
    aa = cv2.boxFilter(band_a * band_a * m, -1, win, normalize=False)
    bb = cv2.boxFilter(band_b * band_b * m, -1, win, normalize=False)
    count = cv2.boxFilter(m, -1, win, normalize=False)
    local = ab / np.sqrt(aa * bb + 1e-6)
    inner = cv2.erode(valid.astype(np.uint8), np.ones(win, np.uint8)) > 0
    enough = count >= 0.25 * win[0] * win[1]
    ea = aa / np.maximum(count, 1.0)
    ref = ea[inner & enough]
    textured = ea >= 0.25 * float(np.median(ref[::7])) if ref.size else enough
    return ((local < NOISE_GAP_FRACTION * global_corr) & inner & enough & textured).astype(np.uint8), inner


def _valid(rng, h, w, where):
    valid = np.zeros((h, w), bool)
    if where == "all":
        valid[:] = True
    elif where == "box":
        y0, x0 = rng.integers(0, h // 3), rng.integers(0, w // 3)
        valid[y0 : rng.integers(2 * h // 3, h + 1), x0 : rng.integers(2 * w // 3, w + 1)] = True
    elif where == "rotated":
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-5, 5)), 0.95)
        valid = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
    return valid


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("where", ["all", "box", "rotated", "none"])
def test_differing_boxes_match_the_whole_page_comparison(seed: int, where: str) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(40, 160)), int(rng.integers(40, 160))
    fa = rng.uniform(0, 255, (h, w)).astype(np.float32)
    fb = (fa + rng.normal(0, 30, (h, w))).astype(np.float32)
    valid = _valid(rng, h, w, where)
    for exact in (False, True):
        boxes, diff = differing_boxes(fa, fb, 100.0, valid, 12, exact=exact)
        ref = _reference_diff(fa, fb, 100.0, valid, exact)
        assert diff.dtype == ref.dtype and np.array_equal(diff, ref)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("where", ["all", "box", "rotated", "none"])
def test_noise_gaps_match_the_whole_page_windows(seed: int, where: str) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(60, 220)), int(rng.integers(60, 220))
    band_a = rng.normal(0, 3, (h, w)).astype(np.float32)
    band_b = (0.6 * band_a + rng.normal(0, 2, (h, w))).astype(np.float32)
    y, x = rng.integers(0, h - 30), rng.integers(0, w - 30)
    band_b[y : y + 30, x : x + 30] = rng.normal(0, 2, (30, 30))  # a repainted patch: no shared noise
    valid = _valid(rng, h, w, where)
    paper = valid & (rng.random((h, w)) < 0.8)
    text_px = int(rng.integers(6, 14))
    gaps = noise_gaps(band_a, band_b, paper, valid, 0.5, text_px)
    low, inner = _reference_low(band_a, band_b, paper, valid, 0.5, text_px)
    low = cv2.morphologyEx(low, cv2.MORPH_OPEN, np.ones((max(3, text_px // 3),) * 2, np.uint8))
    n, stats = components(low)
    r = max(6, text_px)
    expected = []
    for i in range(1, n):
        bx, by, bw, bh, area = (int(v) for v in stats[i])
        if area < text_px * text_px:
            continue
        if inner[max(0, by - r - 2) : by + bh + r + 2, max(0, bx - r - 2) : bx + bw + r + 2].all():
            expected.append((bx, by, bx + bw, by + bh))
    assert gaps == expected
