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
    GlyphStats,
    ShapeStats,
    detector,
    drawn_text,
    foreign_font,
    glyph_shortfalls,
    page_findings,
    page_maps,
    robust_std,
    shape_stats,
    word_stats,
)
from forensics.events import UploadEvent
from forensics.model import Document, Extraction, Page, PageReading, Reading, Word
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
        # flat paper (plus another ink) or drawn text (two anomalies of the print itself)
        for f in hits:
            if "noise_inside" in f.evidence:
                assert f.evidence["noise_inside"] < f.evidence["noise_around"]
                assert "repainted" in f.message
            else:
                assert "looks drawn" in f.message and len(f.evidence["anomalies"]) >= 2


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


MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _crisp_page(edit_line: int | None) -> tuple[Image.Image, PageReading, tuple]:
    """A crisp (binarised) scan of label + value lines;
    with ``edit_line`` the value of that line is repainted in an editor's anti-aliased font,
    resampled to the old box and softened, as a forger's patch is."""
    rng = random.Random(3)
    font = ImageFont.truetype(MONO, 26)
    page = Image.new("1", (520, 640), 1)
    draw = ImageDraw.Draw(page)
    words, lines = [], []
    for i in range(14):
        y = 20 + i * 44
        label, value = rng.choice(("NO", "REF", "TOTAL", "DATE")), str(rng.randint(10**5, 10**7))
        for text, x in ((label, 30), (value, 200)):
            draw.text((x, y), text, font=font, fill=0)
            words.append(Word(text, draw.textbbox((x, y), text, font=font), 0.9, 1, i))
        lines.append(words[-1])
    img = page.convert("RGB")
    edited = ()
    if edit_line is not None:
        target = lines[edit_line]
        x0, y0, x1, y1 = target.box
        new = target.text.translate(RAISED_DIGITS)
        patch = Image.new("L", (x1 - x0 + 4, y1 - y0 + 4), 255)
        glyphs = Image.new("L", (40 * len(new), 60), 0)
        ImageDraw.Draw(glyphs).text((0, 0), new, font=ImageFont.truetype(SANS, 40), fill=255)
        glyphs = glyphs.crop(glyphs.getbbox()).resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
        patch.paste(0, (2, 2), glyphs)
        img.paste(patch.filter(ImageFilter.GaussianBlur(0.5)).convert("RGB"), (x0 - 2, y0 - 2))
        edited = target.box
        words = [Word(new, w.box, w.confidence, w.block, w.line) if w is target else w
                 for w in words]
    img = jpeg_roundtrip(img, 90).convert("RGB")
    return img, PageReading(1, "ocr", tuple(words), img.width, img.height), edited


def test_value_softer_than_its_line_on_a_crisp_scan_is_a_local_edit():
    """Editor text resampled and blurred onto a binarised scan has edges much softer than the
    print beside it on its line and than the other values: it fires; the honest page does not."""
    img, reading, edited = _crisp_page(edit_line=6)
    found, judged = page_findings(reading, img)
    assert judged and found and all(_overlaps(f.box, edited) for f in found)
    assert "softer than its line" in found[0].evidence["anomalies"]
    img, reading, _ = _crisp_page(edit_line=None)
    found, judged = page_findings(reading, img)
    assert judged and found == []


def _gs(text: str, ramp: float, halo: float = 0.02, y: int = 0, x: int = 200) -> GlyphStats:
    return GlyphStats(Word(text, (x, y, x + 90, y + 24), 0.9), halo, ramp)


def test_sharp_foreign_value_fires_only_when_sharper_than_its_own_line():
    """Sharp edges plus foreign shapes flag only when the value is also sharper than every
    other word on its line: a header printed in a crisp display font alone on its line (or
    with its line's words as crisp) is honest print."""
    peers = [_gs(f"{i}2345", 1.2 + 0.02 * i, y=40 * i + 40) for i in range(8)]
    value = _gs("99812", 0.6, y=0)
    shape = ShapeStats(value.word, judged=5, foreign=4, gap=0.1)
    shapes = {id(value.word): shape}
    glyphs = [value, *peers]
    fired = drawn_text(glyphs, shapes, {id(value.word): (1.25, 1.15)})
    assert [d.glyph for d in fired] == [value]
    assert fired[0].anomalies == ("sharp edges", "sharper than its line", "foreign glyph shapes")
    # alone on its line, or its line as crisp as it: no verdict
    assert drawn_text(glyphs, shapes, {}) == []
    assert drawn_text(glyphs, shapes, {id(value.word): (0.62, 0.6)}) == []
    # without foreign shapes, sharp edges and a blunter line are not enough
    assert drawn_text(glyphs, {}, {id(value.word): (1.25, 1.15)}) == []


def test_soft_value_needs_a_sharper_line_and_a_halo_no_dirtier_than_its_peers():
    peers = [_gs(f"{i}2345", 0.25 + 0.01 * i, y=40 * i + 40) for i in range(8)]
    soft = _gs("99812", 0.8, y=0)
    assert [d.glyph for d in drawn_text([soft, *peers], {}, {id(soft.word): (0.24, 0.22)})] == [soft]
    # its line as soft as it (a blurred stretch of the scan): honest
    assert drawn_text([soft, *peers], {}, {id(soft.word): (0.7, 0.6)}) == []
    # a smudge: soft edges and a dirty halo
    smudge = _gs("99812", 0.8, halo=0.2, y=0)
    assert drawn_text([smudge, *peers], {}, {id(smudge.word): (0.24, 0.22)}) == []


def test_word_ink_measures_a_box_once_and_answers_as_the_first_time():
    """word_ink's contrast is kept by clipped box on the page maps (every detector reading them
    measures the same words): a second call, with other limits, reads it and answers alike."""
    from forensics.detectors.page_maps import page_maps, word_ink

    img = Image.new("L", (200, 60), 235)
    ImageDraw.Draw(img).text((20, 20), "12.50", fill=30, font=ImageFont.truetype(SANS, 24))
    maps = page_maps(img)
    first = word_ink(maps, (15, 15, 120, 50), min_width=4, min_height=4, min_contrast=10, ink_share=0.5)
    assert first is not None and maps.contrasts == {(15, 15, 120, 50): first.contrast}
    assert first.contrast == float(np.percentile(maps.dark[15:50, 15:120], 98))
    again = word_ink(maps, (15, 15, 120, 50), min_width=8, min_height=8, min_contrast=10, ink_share=0.3)
    assert again is not None and again.contrast == first.contrast and len(maps.contrasts) == 1
    assert np.array_equal(again.ink, again.dark > 0.3 * first.contrast)
    assert word_ink(maps, (15, 15, 120, 50), min_width=4, min_height=4, min_contrast=first.contrast + 1,
                    ink_share=0.5) is None


def test_row_medians_are_numpys_nanmedian():
    from forensics.detectors.glyph_shapes import _row_medians

    rng = np.random.default_rng(11)
    for cols in (1, 2, 7, 40, 650):  # numpy takes another path from 600 columns
        values = rng.random((12, cols))
        values[rng.random(values.shape) < 0.4] = np.nan
        values[:, 0] = rng.random(12)  # every row holds a number
        assert np.array_equal(_row_medians(values), np.nanmedian(values, axis=1))
