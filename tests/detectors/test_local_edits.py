"""Local edits detector: a repainted total among scanned text, and the honest scans."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from forensics.detectors import Analysis
from forensics.detectors.local_edits import (
    FLAT_RATIO,
    Glyph,
    detector,
    foreign_font,
    glyph_shortfalls,
    page_findings,
    page_maps,
    robust_std,
    shape_stats,
    word_stats,
)
from forensics.events import UploadEvent
from forensics.model import Document, Extraction, Page, PageReading, Reading
from forensics.ocr import read_page
from forensics.settings import Settings

pytest.importorskip("fixtures.forgeries")
from fixtures.forgeries import tamper_total  # noqa: E402
from fixtures.receipts import make_receipt_data, make_shop, render_receipt  # noqa: E402
from fixtures.shops import font_path  # noqa: E402
from tests.receipt_pages import jpeg_roundtrip  # noqa: E402


@pytest.fixture(scope="module")
def scans():
    """(honest, tampered, edited box) scans of generated receipts, JPEG-encoded as uploaded."""
    out = []
    for seed in (1, 4):
        rng = random.Random(seed)
        shop = make_shop(rng)
        img, truth = render_receipt(shop, make_receipt_data(shop, rng), rng)
        bad, bad_truth = tamper_total(img, truth, rng)
        out.append((jpeg_roundtrip(img, 90), jpeg_roundtrip(bad, 90), bad_truth.edited_boxes[0]))
    return out


def _analysis(image: Image.Image, reading: PageReading | None = None) -> Analysis:
    settings = Settings()
    reading = reading or read_page(1, image, settings)
    doc = Document("0" * 64, "image/jpeg", 1000, (Page(1, image.width, image.height, image=image),))
    event = UploadEvent("E1", "S1", "x.jpg", uploaded_at=datetime(2024, 6, 1, tzinfo=UTC))
    return Analysis(event, doc, Reading((reading,)), Extraction({}), settings)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_repainted_total_is_a_local_edit_with_its_box(scans):
    for honest, tampered, edited in scans:
        good = detector.run(_analysis(honest), None)
        assert good.status == "done" and good.findings == ()
        bad = detector.run(_analysis(tampered), None)
        assert bad.status == "done"
        hits = [f for f in bad.findings if f.code == "local_edit"]
        assert hits, "the repainted total was not found"
        assert all(_overlaps(f.box, edited) for f in hits)
        assert hits[0].evidence["noise_inside"] < hits[0].evidence["noise_around"]
        assert "repainted" in hits[0].message


def test_flat_patch_without_another_anomaly_does_not_flag(scans):
    """Noise maps never flag alone: a flat patch whose text matches the page is not reported."""
    honest, _, _ = scans[0]
    reading = read_page(1, honest, Settings())
    words = [w for w in reading.words if sum(c.isalnum() for c in w.text) >= 4]
    for target in words:  # the first word whose flattened paper can be measured
        arr = np.asarray(honest.convert("RGB")).copy()
        x0, y0, x1, y1 = target.box
        region = arr[y0:y1, x0:x1].astype(np.float32)
        # paper well clear of the glyphs' edge ramps: the glyphs and their edges stay as scanned
        light = (region.mean(axis=2) > 215).astype(np.uint8)
        mask = cv2.erode(light, np.ones((3, 3), np.uint8)) > 0
        if mask.sum() < 50:
            continue
        # flatten only the paper between the glyphs
        region[mask] = np.median(region[mask], axis=0)
        arr[y0:y1, x0:x1] = region.astype(np.uint8)
        patched = Image.fromarray(arr)
        maps = page_maps(patched)
        stats = word_stats(maps, target, np.zeros(maps.gray.shape, bool))
        if stats is not None and stats.noise_in < FLAT_RATIO * stats.noise_ring:
            break
    else:
        pytest.fail("no word could be flattened measurably")
    result = detector.run(_analysis(patched, reading), None)
    assert [f for f in result.findings if f.code == "local_edit"] == []


def test_clean_digital_page_is_skipped():
    img = Image.new("RGB", (600, 400), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    draw.text((40, 60), "TOTAL 85.45", font=font, fill=(0, 0, 0))
    result = detector.run(_analysis(img), None)
    assert result.status.startswith("skipped:") and "clean" in result.status
    found, judged = page_findings(read_page(1, img, Settings()), img)
    assert found == [] and judged is False


def test_skipped_without_ocr_words():
    img = Image.new("L", (100, 100), 240)
    empty = PageReading(1, "ocr", (), 100, 100)
    assert detector.run(_analysis(img, empty), None).status.startswith("skipped:")


def test_noise_estimate():
    rng = np.random.default_rng(0)
    assert abs(robust_std(rng.normal(0, 3.0, 50_000)) - 3.0) < 0.15
    noisy = Image.fromarray(np.clip(rng.normal(230, 3.0, (200, 200)), 0, 255).astype(np.uint8))
    assert 1.5 < page_maps(noisy).noise < 4.0
    assert page_maps(Image.new("L", (200, 200), 230)).noise == 0.0


#: blur radius in px of a scanner's optics
SCANNER_BLUR = 1.0
#: the forger's new digits: each old digit moved up by three
RAISED_DIGITS = str.maketrans("0123456789", "3456789012")


def _scan_with_repaint(seed: int, font_file: str | None = None,
                       ) -> tuple[Image.Image, Image.Image, tuple[int, int, int, int]]:
    """A generated receipt scan saved as JPEG (the camera's file), then re-saved as JPEG once
    honestly and once with its longest value repainted in an editor's font (``repaint_span``)."""
    from fixtures.realscans import ScanLine, Span, repaint_span

    rng = random.Random(seed)
    shop = make_shop(rng)
    img, _ = render_receipt(shop, make_receipt_data(shop, rng), rng)
    if font_file == "other":  # a font of another design than the shop's printer
        font_file = font_path("DejaVuSans" if "Mono" in shop.font_family else "DejaVuSansMono")
    # a scanner's optics soften the print before the scan is saved (the rendered receipt's text
    # is itself vector text, as sharp as a forger's)
    scan = jpeg_roundtrip(img.filter(ImageFilter.GaussianBlur(SCANNER_BLUR)), quality=99).convert("RGB")
    words = read_page(1, scan, Settings()).words
    amounts = [w for w in words if re.fullmatch(r"[\d.,]*\d[.,]\d\d", w.text)]
    target = max(amounts, key=lambda w: (w.box[3] - w.box[1], w.box[1]))
    forged = scan.copy()
    edited = repaint_span(forged, ScanLine(target.box, target.text),
                          Span(0, 0, len(target.text), target.text),
                          target.text.translate(RAISED_DIGITS), align="right",
                          font_file=font_file)
    return jpeg_roundtrip(scan, quality=90), jpeg_roundtrip(forged, quality=90), edited


@pytest.mark.parametrize("seed", [2, 4, 6])
def test_value_drawn_in_an_editor_is_a_local_edit_and_the_resave_is_quiet(seed):
    honest, forged, edited = _scan_with_repaint(seed)
    bad = detector.run(_analysis(forged), None)
    hits = [f for f in bad.findings if f.code == "local_edit"]
    assert hits and all(_overlaps(f.box, edited) for f in hits)
    good = detector.run(_analysis(honest), None)
    assert good.status == "done" and good.findings == ()


def _glyph(word: int, char: str, shape: np.ndarray) -> Glyph:
    return Glyph(word, char, 20, shape.astype(np.float32))


def test_a_glyph_of_another_shape_falls_short_of_its_page_mates():
    """Six honest '0's (a ring, with print noise) and one drawn as a dotted ring: only the
    odd one is foreign; a misfit of other characters says nothing about it."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:20, 0:14]
    ring = ((((yy - 9.5) / 9) ** 2 + ((xx - 6.5) / 6) ** 2) > 0.5) & (
        (((yy - 9.5) / 9.5) ** 2 + ((xx - 6.5) / 6.5) ** 2) <= 1)
    narrow = ring & (np.abs(xx - 6.5) < 4.5)
    honest = [_glyph(i, "0", np.clip(ring + rng.normal(0, 0.08, ring.shape), 0, 1))
              for i in range(6)]
    odd = _glyph(9, "0", narrow | ((np.abs(yy - 9.5) < 3) & (np.abs(xx - 6.5) < 1.5)))
    score, gap = glyph_shortfalls([*honest, odd])
    assert score[-1] >= 1 and gap[-1] > 0.06
    assert np.all(score[:-1] < 1)
    # a lone character has no page-mates: no verdict
    assert np.isnan(glyph_shortfalls([*honest[:2], odd])[0]).all()


@pytest.mark.parametrize("seed", [2, 4, 6])
def test_value_repainted_in_another_font_has_foreign_shapes_and_fires(seed):
    honest, forged, edited = _scan_with_repaint(seed, font_file="other")
    bad = detector.run(_analysis(forged), None)
    hits = [f for f in bad.findings if f.code == "local_edit"]
    assert hits and all(_overlaps(f.box, edited) for f in hits)
    good = detector.run(_analysis(honest), None)
    assert good.status == "done" and good.findings == ()


def test_shapes_alone_do_not_flag_but_find_the_repainted_word():
    """The repainted value's glyphs are foreign to the page; an honest page may hold foreign
    shapes too (a bold total), which is why shapes never flag without a clean halo."""
    found = 0
    for seed in (2, 4, 6):
        _, forged, edited = _scan_with_repaint(seed, font_file="other")
        reading = read_page(1, forged, Settings())
        shapes = shape_stats(page_maps(forged), [w for w in reading.words if w.text.strip()])
        found += any(foreign_font(s) and _overlaps(s.word.box, edited) for s in shapes)
    assert found >= 2
