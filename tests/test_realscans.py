"""The real-scan forger (fixtures/realscans.py) on generated receipt-like pages."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from fixtures.realscans import (
    ScanLine,
    Span,
    edit_scan,
    find_date,
    find_gst_id,
    find_serial,
    find_total,
    new_amount_text,
    new_date_text,
    new_serial_text,
    parse_box_csv,
    span_box,
    with_text,
)
from fixtures.shops import font_path

#: the page's text, as (x, y, text); two items sit on one row as separate boxes
PAGE = (
    (40, 30, "KEDAI CONTOH SDN BHD"),
    (40, 70, "GST ID NO : 000123456789"),
    (40, 110, "INVOICE NO : CS-00012345"),
    (40, 150, "DATE: 05/03/2018 13:45"),
    (40, 190, "ITEM A          12.50"),
    (40, 230, "SUB-TOTAL       12.50"),
    (40, 270, "TOTAL RM"),
    (300, 270, "12.50"),
    (40, 310, "CASH            20.00"),
)


def make_page(seed: int = 0) -> tuple[Image.Image, tuple[ScanLine, ...]]:
    """A greyish, noisy page with the lines of :data:`PAGE` and their boxes."""
    rng = np.random.default_rng(seed)
    font = ImageFont.truetype(font_path("DejaVuSansMono"), 22)
    base = rng.normal(232, 4, (360, 480)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(base).convert("RGB")
    draw = ImageDraw.Draw(img)
    lines = []
    for x, y, text in PAGE:
        draw.text((x, y), text, fill=(40, 40, 40), font=font)
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
        lines.append(ScanLine((x0 - 3, y0 - 4, x1 + 3, y1 + 4), text))
    return img, tuple(lines)


def test_parse_box_csv_keeps_commas_in_text_and_skips_bad_rows() -> None:
    text = ("10,20,110,20,110,40,10,40,27,JALAN DEDAP 13,\n"
            "oops\n"
            "5,60,50,60,50,80,5,80,TOTAL 9.90\n")
    lines = parse_box_csv(text)
    assert [ln.text for ln in lines] == ["27,JALAN DEDAP 13,", "TOTAL 9.90"]
    assert lines[0].box == (10, 20, 110, 40)


def test_finders_pick_the_labelled_values() -> None:
    _, lines = make_page()
    total = find_total(lines, "12.50")
    assert total is not None and lines[total.line].text == "12.50"  # the TOTAL row, not the item
    date = find_date(lines, "05/03/2018")
    assert date is not None and date.text == "05/03/2018"
    serial = find_serial(lines)
    assert serial is not None and serial.text == "CS-00012345"
    gst = find_gst_id(lines)
    assert gst is not None and gst.text == "000123456789"
    assert find_total(lines, "99.99") is None


def test_serial_in_the_next_box_of_the_row() -> None:
    lines = (ScanLine((10, 10, 120, 30), "RECEIPT #:"), ScanLine((130, 10, 260, 30), "R000777"),
             ScanLine((10, 40, 200, 60), "COMPANY REG NO: 123456-X"))
    span = find_serial(lines)
    assert span == Span(1, 0, 7, "R000777")


def test_new_values_keep_the_printed_shape() -> None:
    rng = random.Random(3)
    for old in ("05/03/2018", "2018-03-05", "5 MAR 2018", "05-03-18"):
        new = new_date_text(old, rng)
        assert new != old and len(new) == len(old)
        assert [c for c in new if not c.isdigit()] == [c for c in old if not c.isdigit()]
    assert new_amount_text("1,234.50", 2.0) == "2,469.00"
    assert new_amount_text("12.50", 1.0) == "13.50"  # never the same amount
    serial = new_serial_text("CS-00012345", rng)
    assert serial != "CS-00012345" and serial[:6] == "CS-000" and len(serial) == 11


def test_span_box_locates_one_word_of_a_line() -> None:
    img, lines = make_page()
    date = find_date(lines, "05/03/2018")
    assert date is not None
    line = lines[date.line]
    box = span_box(img, line, date)
    font = ImageFont.truetype(font_path("DejaVuSansMono"), 22)
    probe = ImageDraw.Draw(img)
    x = PAGE[3][0] + probe.textlength("DATE: ", font=font)
    width = probe.textlength("05/03/2018", font=font)
    assert abs(box[0] - x) <= 4 and abs(box[2] - (x + width)) <= 4
    assert line.box[1] <= box[1] < box[3] <= line.box[3]


def test_edit_scan_changes_only_its_boxes() -> None:
    img, lines = make_page()
    rng = random.Random(1)
    total, serial = find_total(lines, "12.50"), find_serial(lines)
    assert total is not None and serial is not None
    out, edit = edit_scan(img, lines, {"total": (total, "31.25"), "serial": (serial, "CS-00019999")},
                          rng)
    assert edit.changes == {"total": ("12.50", "31.25"), "serial": ("CS-00012345", "CS-00019999")}
    before = np.asarray(img, dtype=np.int16)
    after = np.asarray(out, dtype=np.int16)
    changed = np.abs(after - before).max(axis=2) > 0
    inside = np.zeros_like(changed)
    for x0, y0, x1, y1 in edit.boxes:
        inside[y0:y1, x0:x1] = True
    assert changed.any() and not (changed & ~inside).any()
    assert np.asarray(img).tobytes() == before.astype(np.uint8).tobytes()  # input untouched
    assert with_text(lines, serial, "CS-00019999")[serial.line].text == "INVOICE NO : CS-00019999"


@pytest.mark.skipif(not os.path.exists("/usr/bin/tesseract"), reason="tesseract not installed")
def test_repainted_text_reads_as_the_new_value() -> None:
    import pytesseract

    img, lines = make_page()
    total = find_total(lines, "12.50")
    assert total is not None
    out, edit = edit_scan(img, lines, {"total": (total, "48.75")}, random.Random(2))
    x0, y0, x1, y1 = edit.boxes[0]
    crop = out.crop((x0 - 20, y0 - 10, x1 + 20, y1 + 10)).convert("L").resize(
        ((x1 - x0 + 40) * 2, (y1 - y0 + 20) * 2))
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    text = pytesseract.image_to_string(crop, config="--psm 7", timeout=30)
    assert "48.75" in text
