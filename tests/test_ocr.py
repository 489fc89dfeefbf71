"""The OCR interface on real Tesseract: both engines, words with boxes, limits, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from forensics.errors import MissingDependency
from forensics.model import Document, Page
from forensics.ocr import read_document, read_page
from forensics.ocr.engines import check_languages, parse_tsv
from forensics.settings import Settings
from tests.conftest import RECEIPT_LINES, simple_receipt

ENGINES = ["pytesseract"]
try:
    import tesserocr  # noqa: F401

    ENGINES.append("tesserocr")
except ImportError:  # pragma: no cover - the fast engine is optional
    pass


@pytest.mark.parametrize("engine", ENGINES)
def test_words_with_boxes_and_lines(engine: str):
    img = simple_receipt(RECEIPT_LINES)
    reading = read_page(1, img, Settings(ocr_engine=engine))
    assert reading.source == "ocr" and reading.engine == engine
    lines = [ln.text for ln in reading.lines()]
    # real OCR: DejaVu Mono's dotted zero is sometimes read as Q, so check the digits only
    assert any("RECEIPT" in ln and "0012345" in ln for ln in lines), lines
    total = next(w for w in reading.words if w.text == "33.81")
    # the total is on the 10th printed line, right of centre (see simple_receipt's geometry)
    x0, y0, x1, y1 = total.box
    assert 50 + 9 * 41 - 10 <= y0 <= 50 + 9 * 41 + 15 and x0 > img.width / 2
    assert 0.5 < total.confidence <= 1.0
    same_line = [ln for ln in reading.lines() if "33.81" in ln.text][0]
    assert "TOTAL" in same_line.text


def test_engines_agree_on_the_text():
    if len(ENGINES) < 2:
        pytest.skip("tesserocr is not installed")
    img = simple_receipt(RECEIPT_LINES)
    texts = {e: {w.text for w in read_page(1, img, Settings(ocr_engine=e)).words} for e in ENGINES}
    a, b = texts.values()
    assert len(a & b) / len(a | b) > 0.8


def test_text_layer_pages_are_not_ocred():
    from forensics.model import Word

    words = (Word("Invoice", (10, 10, 80, 30), 1.0), Word("42", (90, 10, 110, 30), 1.0))
    blank = Image.new("L", (200, 100), 255)
    doc = Document(sha256="x", media_type="application/pdf", size_bytes=1,
                   pages=(Page(1, 200, 100, blank, text_words=words), Page(2, 200, 100, blank)))
    reading = read_document(doc, Settings())
    assert [p.source for p in reading.pages] == ["text_layer", "ocr"]
    assert reading.pages[0].text == "Invoice 42"


def test_missing_language_pack_says_what_to_install():
    with pytest.raises(MissingDependency, match="tesseract-ocr-klingon"):
        check_languages("eng+klingon", {"eng"})


@pytest.mark.parametrize("engine", ENGINES)
def test_unknown_language_fails_clearly(engine: str):
    from forensics.ocr import get_engine

    with pytest.raises(MissingDependency):
        get_engine(Settings(ocr_engine=engine, ocr_langs="eng+xx_nonexistent"))


def test_parse_tsv_skips_empty_and_non_word_rows():
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "4\t1\t1\t1\t1\t0\t0\t0\t100\t20\t-1\t\n"
           "5\t1\t1\t1\t1\t1\t10\t5\t30\t12\t96.5\tTOTAL\n"
           "5\t1\t1\t1\t1\t2\t50\t5\t30\t12\t-1\t \n")
    words = parse_tsv(tsv)
    assert len(words) == 1 and words[0].box == (10, 5, 40, 17) and words[0].confidence == pytest.approx(0.965)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_line_the_page_reading_skipped_is_read_again(engine: str):
    from PIL import ImageDraw

    from forensics.ocr import get_engine, recover_lines

    img = simple_receipt(RECEIPT_LINES)
    # a horizontal rule between two lines: ink across the page, but no text
    ImageDraw.Draw(img).rectangle((40, 32, 660, 34), fill=20)
    eng = get_engine(Settings(ocr_engine=engine))
    words = eng.words(img)
    receipt = next(w for w in words if w.text == "RECEIPT")
    serial_line = [w for w in words if (w.block, w.line) == (receipt.block, receipt.line)]
    assert any("0012345" in w.text for w in serial_line), [w.text for w in words]
    skipped = [w for w in words if w not in serial_line]  # as if segmentation had dropped it
    recovered = recover_lines(img, skipped, eng)
    assert any("0012345" in w.text for w in recovered), [w.text for w in recovered]
    # the words come back where the line is printed, as a block of their own
    y_line = 50 + 3 * int(26 * 1.6)
    assert all(y_line - 10 <= w.box[1] <= y_line + 20 for w in recovered)
    assert {w.block for w in recovered}.isdisjoint({w.block for w in skipped})
    # nothing else was skipped: the full reading recovers nothing, the rule is not a line
    assert recover_lines(img, words, eng) == []


def test_a_number_left_out_of_a_read_line_is_joined_to_it():
    from forensics.ocr import get_engine, recover_lines

    img = simple_receipt(RECEIPT_LINES)
    eng = get_engine(Settings())
    words = eng.words(img)
    total = next(w for w in words if w.text == "33.81")
    label = next(w for w in words if w.text == "TOTAL" and w.block == total.block and w.line == total.line)
    recovered = recover_lines(img, [w for w in words if w is not total], eng)
    assert [w.text for w in recovered] == ["33.81"]
    assert (recovered[0].block, recovered[0].line) == (label.block, label.line)
    assert abs(recovered[0].box[0] - total.box[0]) <= 8
    # a word of letters left out is not put back (only numbers are)
    assert recover_lines(img, [w for w in words if w is not label], eng) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_white_text_on_a_dark_ground_is_read(engine: str):
    # a dark-mode screenshot and a receipt with an inverted header band: Tesseract tries each
    # line's inverted image (tessedit_do_invert, on by default); without it both read as noise
    import numpy as np
    from PIL import ImageOps

    img = simple_receipt(RECEIPT_LINES)
    dark = ImageOps.invert(img)
    banded = np.asarray(img).copy()
    banded[: banded.shape[0] // 3] = 255 - banded[: banded.shape[0] // 3]
    settings = Settings(ocr_engine=engine)
    for page in (dark, Image.fromarray(banded)):
        text = " ".join(w.text for w in read_page(1, page, settings).words)
        assert "KEDAI RUNCIT" in text and "33.81" in text, text


def test_read_box_reads_one_box_and_refuses_boxes_off_the_page():
    from forensics.ocr import read_box

    img = simple_receipt(RECEIPT_LINES)
    words = read_page(1, img, Settings()).words
    total = next(w for w in words if w.text == "33.81")
    assert read_box(img, total.box, Settings()) == "33.81"
    assert read_box(img, (img.width + 10, 5, img.width + 90, 30), Settings()) == ""
    assert read_box(img, (50, 60, 50, 60), Settings()) == ""


def test_paper_level_is_numpys_90th_percentile():
    from forensics.ocr import _paper_level

    rng = np.random.default_rng(7)
    for _ in range(300):
        grey = rng.integers(0, int(rng.integers(1, 256)), size=(3, int(rng.integers(1, 200)))).astype(np.uint8)
        assert _paper_level(grey) == float(np.percentile(grey, 90))
    # the two ranks interpolated hold different levels: numpy's interpolation, not a level
    grey = np.array([[0] * 9 + [100]], dtype=np.uint8)
    assert _paper_level(grey) == float(np.percentile(grey, 90)) == pytest.approx(10.0)


def test_ink_runs_join_word_spaces_narrower_than_a_line():
    from forensics.ocr import _ink_runs

    cols = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1], dtype=bool)
    # 2 blank columns between the first runs (< 3: joined), 3 before the last (kept apart)
    assert _ink_runs(cols, 3.0) == [(1, 5), (9, 10)]
    assert _ink_runs(cols, 3.5) == [(1, 10)]
    assert _ink_runs(np.zeros(5, dtype=bool), 3.0) == []
