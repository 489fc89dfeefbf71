"""fixtures.careful: the careful forger's edits do what they say on a generated scan."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from fixtures import careful
from fixtures.realscans import ScanLine, span_box
from tests.conftest import font

LINES = ["ITEM A        12.50", "ITEM B         6.90", "SUBTOTAL      19.40", "TOTAL         19.40",
         "CASH          20.00", "CHANGE         0.60"]


def _scan() -> tuple[Image.Image, tuple[ScanLine, ...]]:
    f = font(24)
    img = Image.new("L", (420, 60 + 40 * len(LINES)), 235)
    draw = ImageDraw.Draw(img)
    lines = []
    for i, text in enumerate(LINES):
        draw.text((20, 30 + 40 * i), text, fill=30, font=f)
        lines.append(ScanLine(draw.textbbox((20, 30 + 40 * i), text, font=f), text))
    arr = np.asarray(img, np.float32) + np.random.default_rng(0).normal(0, 4, (img.height, img.width))
    return Image.fromarray(arr.clip(0, 255).astype("uint8")).convert("RGB"), tuple(lines)


def test_every_copy_of_the_total_is_changed_on_cloned_paper():
    img, lines = _scan()
    out, edit = careful.change_total(img, lines, "19.40", 0.5, random.Random(1), how="font")
    assert edit.kind == "total_lowered_font" and edit.new == "9.70" and len(edit.regions) == 2
    before, after = np.asarray(img, np.int16), np.asarray(out, np.int16)
    for x0, y0, x1, y1 in edit.regions:
        assert np.abs(after[y0:y1, x0:x1] - before[y0:y1, x0:x1]).max() > 60  # the old digits are gone
        assert after[y0:y1, x0:x1].std() > 1.0  # cloned paper keeps its noise (no flat fill)
    untouched = after[: edit.regions[0][1] - 4]
    assert np.array_equal(untouched, before[: edit.regions[0][1] - 4])


def test_copy_move_pastes_another_amount_of_the_receipt_pixel_for_pixel():
    img, lines = _scan()
    out, edit = careful.copy_move_total(img, lines, "19.40", random.Random(2))
    assert edit.kind == "copy_move" and edit.old == "19.40" and edit.new in ("12.50", "20.00")
    source_line = next(i for i, ln in enumerate(lines) if edit.new in ln.text and "TOTAL" not in ln.text)
    span = next(s for s in careful.amount_spans(lines) if s.line == source_line)
    sx0, sy0, sx1, sy1 = span_box(img, lines[source_line], span)
    src = np.asarray(img, np.int16)[sy0:sy1, sx0:sx1]
    x0, y0, x1, y1 = edit.regions[0]
    window = np.asarray(out, np.int16)[y0:y1, x0:x1]
    found = any(np.array_equal(window[dy:dy + src.shape[0], dx:dx + src.shape[1]], src)
                for dy in range(window.shape[0] - src.shape[0] + 1)
                for dx in range(window.shape[1] - src.shape[1] + 1))
    assert found, "the total's region holds an exact copy of the source amount"


def test_glyphs_are_cut_from_the_receipt_and_a_missing_one_falls_back_to_nothing():
    img, lines = _scan()
    glyphs = careful.glyph_boxes(img, lines, exclude={3})
    assert {"1", "2", "5", "0", "."} <= set(glyphs)
    assert careful.compose_glyphs(img.copy(), (300, 150, 380, 170), "7.77", glyphs, random.Random(0)) is None
