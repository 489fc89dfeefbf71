"""OCR page preparation: small text is scaled up, boxes come back in the original coordinates.

(Kept beside the field tests because the preparation exists for field accuracy; it tests
forensics/ocr/preprocess.py.)"""

from __future__ import annotations

import pytest

from forensics.model import Word
from forensics.ocr import read_page
from forensics.ocr.preprocess import (
    MAX_SCALE,
    MIN_CHAR_HEIGHT,
    TARGET_CHAR_HEIGHT,
    boxes_to_original,
    char_height,
    prepare_page,
)
from forensics.settings import Settings
from tests.conftest import RECEIPT_LINES, simple_receipt

ENGINES = ["pytesseract"]
try:
    import tesserocr  # noqa: F401

    ENGINES.append("tesserocr")
except ImportError:  # pragma: no cover - the fast engine is optional
    pass


def test_char_height_grows_with_the_font():
    small = char_height(simple_receipt(RECEIPT_LINES, width=380, size=13))
    large = char_height(simple_receipt(RECEIPT_LINES, width=760, size=26))
    assert small is not None and large is not None
    assert 1.6 < large / small < 2.4


def test_tiny_text_is_scaled_up_and_readable_text_left_alone():
    tiny = prepare_page(simple_receipt(RECEIPT_LINES, width=220, size=8))
    assert tiny.char_height is not None and tiny.char_height < MIN_CHAR_HEIGHT
    assert 1.15 < tiny.scale <= MAX_SCALE
    assert tiny.image.width == round(220 * tiny.scale)
    assert abs(tiny.char_height * tiny.scale - TARGET_CHAR_HEIGHT) < 1.5
    for size, width in ((14, 380), (26, 700)):
        assert prepare_page(simple_receipt(RECEIPT_LINES, width=width, size=size)).scale == 1.0


def test_blank_page_is_not_scaled():
    from PIL import Image

    page = prepare_page(Image.new("L", (300, 400), 255))
    assert page.scale == 1.0 and page.char_height is None


def test_boxes_map_back_and_stay_inside_the_page():
    prepared = prepare_page(simple_receipt(RECEIPT_LINES, width=220, size=8))
    s = prepared.scale
    words = [Word("A", (round(10 * s), round(20 * s), round(50 * s), round(30 * s)), 0.9), Word("B", (0, 0, 10**6, 10**6), 0.9)]
    back = boxes_to_original(words, prepared, 220, 500)
    assert all(abs(a - b) <= 1 for a, b in zip(back[0].box, (10, 20, 50, 30), strict=True))
    assert back[1].box == (0, 0, 220, 500)


@pytest.mark.parametrize("engine", ENGINES)
def test_tiny_receipt_reads_with_boxes_in_original_pixels(engine: str):
    img = simple_receipt(RECEIPT_LINES, width=220, size=8)
    reading = read_page(1, img, Settings(ocr_engine=engine))
    assert reading.width == img.width and reading.height == img.height
    assert all(0 <= w.box[0] < w.box[2] <= img.width and 0 <= w.box[1] < w.box[3] <= img.height for w in reading.words)
    text = " ".join(w.text for w in reading.words)
    # unscaled, Tesseract reads none of these at this size (measured: 0 of 10 tokens)
    assert sum(t in text for t in ("KEDAI", "JALAN", "RECEIPT", "CHANGE", "33.81", "25.00")) >= 4
    change = next(w for w in reading.words if w.text.startswith("CHANGE"))
    # CHANGE is the 12th printed line: y = 50 + 11 * int(8 * 1.6) in the original image
    assert abs(change.box[1] - (50 + 11 * 12)) <= 5


def _framed(top: int = 10, bottom: int = 12, right: int = 2):
    """A receipt scanned with dark bands along its edges (scanner bed, photocopy cut)."""
    from PIL import ImageDraw

    img = simple_receipt(RECEIPT_LINES).convert("RGB")
    d = ImageDraw.Draw(img)
    w, h = img.size
    d.rectangle((0, 0, w, top - 1), fill=(11, 11, 11))
    d.rectangle((0, h - bottom, w, h), fill=(11, 11, 11))
    d.rectangle((w - right, 0, w, h), fill=(5, 5, 5))
    return img


def test_dark_edge_frame_is_found_and_only_cut_on_request():
    from forensics.ocr.preprocess import frame_box

    img = _framed()
    w, h = img.size
    assert frame_box(img.convert("L")) == (0, 10, w - 2, h - 12)
    assert prepare_page(img).offset == (0, 0) and prepare_page(img).image.size == (w, h)
    trimmed = prepare_page(img, trim=True)
    assert trimmed.offset == (0, 10) and trimmed.image.size == (w - 2, h - 22)
    # a dark band that runs deep into the page is content, not a frame
    assert frame_box(_framed(top=200).convert("L"))[1] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_words_read_inside_the_frame_come_back_in_page_coordinates(engine):
    from forensics.ocr import get_engine

    img = _framed()
    eng = get_engine(Settings(ocr_engine=engine))
    full = prepare_page(img)
    inner = prepare_page(img, trim=True)
    a = {w.text: w.box for w in boxes_to_original(eng.words(full.image), full, *img.size)}
    b = {w.text: w.box for w in boxes_to_original(eng.words(inner.image), inner, *img.size)}
    assert a.get("TOTAL") and b.get("TOTAL")
    assert all(abs(p - q) <= 2 for p, q in zip(a["TOTAL"], b["TOTAL"], strict=True))
