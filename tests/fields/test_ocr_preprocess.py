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
