"""compare_pages: every relation class on generated receipts, and the edited boxes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from forensics.alignment import FALLBACK_CHANGED, FALLBACK_NOISE, KINDS, Relation, compare_pages
from tests.receipt_pages import (
    edited_copy,
    jpeg_roundtrip,
    make_shop,
    render_receipt,
    render_scan,
    reupload,
)

SEEDS = (11, 12, 13)


def overlaps(a: tuple, b: tuple, pad: int = 4) -> bool:
    return a[0] <= b[2] + pad and b[0] <= a[2] + pad and a[1] <= b[3] + pad and b[1] <= a[3] + pad


def test_same_file_by_sha() -> None:
    img = Image.new("L", (100, 100), 255)
    rel = compare_pages(img, img, a_sha="x", b_sha="x")
    assert rel == Relation("same_file", 1.0, (), {"evidence": "sha256"})
    assert rel.kind in KINDS


@pytest.mark.parametrize("seed", SEEDS)
def test_reupload_is_same_image(seed: int) -> None:
    rng = random.Random(seed)
    a, _ = render_scan(make_shop(rng), rng)
    rel = compare_pages(a, reupload(a, rng), a_sha="a", b_sha="b")
    assert rel.kind == "same_image", rel.details
    assert rel.differing_boxes == ()
    assert 0.0 <= rel.score <= 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_edited_copy_reports_the_repainted_boxes(seed: int) -> None:
    rng = random.Random(seed)
    shop = make_shop(rng)
    a, fields = render_scan(shop, rng)
    b, edited = edited_copy(a, fields, shop, rng, degrade=seed % 2 == 0)
    rel = compare_pages(a, b)
    assert rel.kind == "edited_copy", rel.details
    assert rel.details["noise_corr"] > 0.25
    # every reported box lies on an edited field, and every edited field is reported
    assert all(any(overlaps(box, e) for e in edited) for box in rel.differing_boxes)
    assert all(any(overlaps(box, e) for box in rel.differing_boxes) for e in edited)


@pytest.mark.parametrize("seed", SEEDS)
def test_honest_receipts_of_one_shop_are_same_layout(seed: int) -> None:
    rng = random.Random(seed)
    shop = make_shop(rng)
    a, _ = render_scan(shop, rng)
    b, _ = render_scan(shop, rng)
    rel = compare_pages(a, b)
    assert rel.kind == "same_layout", rel.details
    assert abs(rel.details["noise_corr"]) < 0.1  # independent scans: independent noise


@pytest.mark.parametrize("seed", SEEDS)
def test_other_shops_are_unrelated(seed: int) -> None:
    rng = random.Random(seed)
    a, _ = render_scan(make_shop(rng), rng)
    b, _ = render_scan(make_shop(rng), rng)
    assert compare_pages(a, b).kind == "unrelated"


def test_blank_pages_do_not_crash() -> None:
    a = Image.new("L", (400, 700), 240)
    b = Image.new("RGB", (300, 500), (250, 250, 250))
    assert compare_pages(a, b).kind in KINDS
    assert compare_pages(Image.new("L", (1, 1)), a).kind == "unrelated"
    assert compare_pages(Image.new("L", (200, 5)), Image.new("L", (5, 200))).kind == "unrelated"


def _on_scanner_bed(img: Image.Image, rng: random.Random) -> Image.Image:
    """The page as a flatbed scan sees it: a dark scanner bed around the paper."""
    pad = 40
    bed = np.random.default_rng(rng.randrange(2**32)).normal(20, 3, (img.height + 2 * pad + rng.randint(0, 20),
                                                                     img.width + 2 * pad + rng.randint(0, 20)))
    out = Image.fromarray(np.clip(bed, 0, 255).astype(np.uint8))
    out.paste(img, (pad, pad))
    return out


@pytest.mark.parametrize("seed", (11, 13, 18))
def test_scanner_bed_around_the_page_is_not_compared(seed: int) -> None:
    # the bed counted as ink makes one page-high "text line" and its edge differs wherever the
    # two uploads were cropped differently
    rng = random.Random(seed)
    shop = make_shop(rng)
    a, _ = render_scan(shop, rng)
    a = _on_scanner_bed(a, rng)
    rel = compare_pages(reupload(a, rng), a)
    assert rel.kind == "same_image", rel.details
    assert rel.details.get("scan_frame")
    other = _on_scanner_bed(render_scan(shop, rng)[0], rng)
    assert compare_pages(other, a).kind == "same_layout"


def _glossy(img: Image.Image, rng: random.Random) -> Image.Image:
    """A sheet with a shiny patch (tape) and its lower half in shadow."""
    arr = np.asarray(img, dtype=np.float32)
    h, w = arr.shape
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0.4, 0.7) * h, rng.uniform(0.3, 0.7) * w
    patch = np.exp(-(((yy - cy) / (0.12 * h)) ** 2 + ((xx - cx) / (0.25 * w)) ** 2))
    shade = np.linspace(0, -70, h)[:, None]
    return jpeg_roundtrip(Image.fromarray(np.clip(arr + shade + 60 * patch, 0, 255).astype(np.uint8)), 90)


@pytest.mark.parametrize("seed", (12, 16, 18))
def test_reupload_of_glossy_shaded_paper_is_same_image(seed: int) -> None:
    # beside a shiny patch the duller paper is far below the brightest pixel nearby: read
    # against that alone it would be "ink", differently in a brightened (clipped) re-upload
    rng = random.Random(seed)
    a = _glossy(render_scan(make_shop(rng), rng)[0], rng)
    b = jpeg_roundtrip(ImageEnhance.Brightness(reupload(a, rng)).enhance(1.15), 80)
    rel = compare_pages(b, a)
    assert rel.kind == "same_image", rel.details
    assert rel.details["ink_agreement"] > 0.95


def test_softened_reupload_keeps_its_ink_level() -> None:
    # a blurred, darkened JPEG-55 re-upload has many grey stroke-edge pixels: the ink level is
    # taken from the stroke cores, so the original's ink is not mapped far too light
    rng = random.Random(14)
    a, _ = render_scan(make_shop(rng), rng)
    soft = a.filter(ImageFilter.GaussianBlur(1.2)).resize((a.width * 3 // 4, a.height * 3 // 4),
                                                          Image.Resampling.BICUBIC)
    b = jpeg_roundtrip(ImageEnhance.Brightness(soft).enhance(0.88), 55)
    rel = compare_pages(b, a)
    assert rel.kind == "same_image", rel.details
    assert rel.details["changed_fraction"] < 0.01


def _one_scanner_pair(shop, rng: random.Random, changed_lines: int) -> tuple[Image.Image, Image.Image]:  # noqa: ANN001
    """Two receipts of one shop scanned on one scanner: the scanner's fixed-pattern paper
    noise is shared (as between honest SROIE receipts of one shop, correlation ~0.5), the
    amounts on ``changed_lines`` lines differ."""
    clean, _ = render_receipt(shop, rng)
    other = clean.copy()
    draw = ImageDraw.Draw(other)
    font = ImageFont.truetype(shop.font, shop.size)
    step = int(shop.size * shop.spacing)
    lines = range(8, clean.height // step - 4)
    for k in rng.sample(lines, min(changed_lines, len(lines))):
        y = shop.margin + k * step
        draw.rectangle((shop.width // 2, y, shop.width - 4, y + step - 3), fill=255)
        draw.text((shop.width - shop.margin - 90, y), f"{rng.randint(100, 9999) / 100:.2f}", font=font, fill=20)
    nrng = np.random.default_rng(rng.randrange(2**32))
    h, w = clean.height, clean.width

    def grain() -> np.ndarray:
        return nrng.normal(0, 6, (h // 2 + 1, w // 2 + 1)).repeat(2, 0).repeat(2, 1)[:h, :w]

    fixed = grain()
    out = []
    for im in (clean, other):
        arr = 25 + (np.asarray(im, dtype=np.float32) - 20) / 235 * 205 + fixed + grain()
        out.append(jpeg_roundtrip(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), 90))
    return out[0], out[1]


@pytest.mark.parametrize("seed", (14, 19))
def test_one_scanners_honest_receipts_are_not_the_same_image(seed: int) -> None:
    # shared scanner noise (~0.5) and 8% of the ink differing in many places: the exact
    # comparison finds too many boxes for an edit, and the tolerant fallback must not call the
    # pair one scan without stronger evidence (noise or nearly all content agreeing)
    rng = random.Random(seed)
    a, b = _one_scanner_pair(make_shop(rng), rng, 8)
    rel = compare_pages(b, a)
    assert rel.details["noise_corr"] < FALLBACK_NOISE
    assert rel.details["changed_fraction"] > FALLBACK_CHANGED
    assert rel.kind == "same_layout", rel.details


def _labelled_edge_components(mask: np.ndarray, min_area: float) -> np.ndarray:
    """The components touching the edge with at least ``min_area`` px, by labelling the whole mask."""
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = mask.shape
    x, y, bw, bh, area = stats.T
    keep = ((x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)) & (area >= min_area)
    keep[0] = False
    return keep[labels]


@pytest.mark.parametrize("seed", range(6))
def test_edge_components_are_those_a_whole_labelling_keeps(seed: int) -> None:
    from forensics.page_regions import edge_components as _edge_components

    rng = np.random.default_rng(seed)
    # blobs of every size, some touching the edges and corners, diagonal contacts included
    mask = (rng.random((90, 70)) < (0.45 + 0.03 * seed)).astype(np.uint8)
    mask[:, :3] = 1 if seed % 2 else mask[:, :3]
    for min_area in (1, 5, 40, 400):
        got = _edge_components(mask, min_area)
        assert got is not None
        assert np.array_equal(got, _labelled_edge_components(mask, min_area))


def test_edge_components_give_up_past_255_components() -> None:
    from forensics.page_regions import edge_components as _edge_components

    mask = np.zeros((5, 600), np.uint8)
    mask[0, ::2] = 1  # 300 separate dots along the top edge
    assert _edge_components(mask, 1) is None


def test_components_inside_the_box_of_what_is_set_match_a_whole_labelling() -> None:
    import cv2

    from forensics.page_regions import components as _components

    rng = np.random.default_rng(3)
    mask = np.zeros((200, 160), np.uint8)
    mask[40:120, 30:100] = rng.random((80, 70)) < 0.3
    n, stats = _components(mask)
    n_all, _, stats_all, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    assert n == n_all > 1
    assert np.array_equal(stats[1:], stats_all[1:])
    assert _components(np.zeros((10, 10), np.uint8))[0] == 1


def test_a_rasters_derived_maps_are_computed_once_and_read_only() -> None:
    from forensics.page_features import Work

    work = Work(np.zeros((4, 4), np.uint8), 1.0)
    calls = []

    def make(arr: np.ndarray) -> np.ndarray:
        calls.append(1)
        return arr > 0

    first = work.derived_as("x", make)
    assert work.derived_as("x", make) is first and len(calls) == 1
    with pytest.raises(ValueError):
        first[0, 0] = True


def _levels_by_sorting(f: np.ndarray, ink: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """The ink and paper levels as numpy's median and percentile of the float32 pixels."""
    from forensics.alignment import INK_LEVEL_PERCENTILE

    sample = (valid & ~ink)[::3, ::3]
    paper = float(np.median(f[::3, ::3][sample])) if sample.any() else 255.0
    inked = ink & valid
    level = float(np.percentile(f[inked], INK_LEVEL_PERCENTILE)) if inked.sum() >= 20 else paper - 128.0
    return level, paper


def test_levels_from_counts_are_numpys_median_and_percentile_to_the_bit() -> None:
    from forensics.alignment import _levels

    rng = np.random.default_rng(5)
    interpolated = 0
    for trial in range(300):
        h, w = (int(x) for x in rng.integers(8, 90, 2))
        arr = rng.integers(0, 256, (h, w), dtype=np.uint8)
        if trial % 3 == 0:  # few distinct levels: ties everywhere
            arr = (arr // 64 * 64).astype(np.uint8)
        ink = rng.random((h, w)) < rng.choice([0.0, 0.01, 0.05, 0.3, 0.9])
        valid = rng.random((h, w)) < rng.choice([0.0, 0.2, 0.8, 1.0])
        got = _levels(arr, ink, valid)
        want = _levels_by_sorting(arr.astype(np.float32), ink, valid)
        assert got == want and [type(x) for x in got] == [float, float], (trial, got, want)
        n = int((ink & valid).sum())
        interpolated += n >= 20 and (n - 1) % 4 != 0
    assert interpolated > 50  # the control: the interpolating percentile was met too


def test_median_level_from_counts_is_numpys() -> None:
    from forensics.alignment import _median_level

    rng = np.random.default_rng(6)
    for trial in range(200):
        h, w = (int(x) for x in rng.integers(1, 60, 2))
        arr = rng.integers(0, 256, (h, w), dtype=np.uint8)
        mask = rng.random((h, w)) < rng.choice([0.01, 0.3, 1.0])
        if not mask.any():
            continue
        got = _median_level(arr[::3, ::3], mask[::3, ::3]) if mask[::3, ::3].any() else None
        if got is not None:
            want = np.uint8(np.median(arr[::3, ::3][mask[::3, ::3]]))
            assert got == want and got.dtype == np.uint8, trial
