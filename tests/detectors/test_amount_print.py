"""amount_print: an amount retyped with other spacing and ink, against honest print."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from forensics.detectors import amount_print
from forensics.detectors.page_maps import page_maps
from forensics.model import PageReading, Word
from tests.conftest import font
from tests.receipt_pages import jpeg_roundtrip

#: (label, amount) rows of a receipt: every amount printed by the till in one font
ROWS = [("MILO 1KG", "25.00"), ("SUGAR 2KG", "6.90"), ("TEH 500G", "4.20"), ("ROTI", "3.15"),
        ("SUBTOTAL", "39.25"), ("GST 6%", "2.36"), ("TOTAL", "41.61"), ("NETT TOTAL", "41.61"),
        ("CASH", "50.00"), ("CHANGE", "8.39")]
SCALE = 4


def _page(*, double_total: bool = False, seed: int = 3) -> tuple[Image.Image, list[Word]]:
    """A scanned receipt: labels left, amounts right-aligned in one monospace font, each word at
    its own sub-pixel offset and ink darkness (drawn 4x and reduced), scan noise added. With
    ``double_total`` the till prints the TOTAL amount in double width, as many do."""
    rng = np.random.default_rng(seed)
    f = font(24 * SCALE)
    img = Image.new("L", (520 * SCALE, (50 + 40 * len(ROWS)) * SCALE), 238)
    draw = ImageDraw.Draw(img)
    words = []
    for i, (label, amount) in enumerate(ROWS):
        y = (30 + 40 * i) * SCALE + int(rng.integers(0, SCALE))
        x = 20 * SCALE + int(rng.integers(0, SCALE))
        for token in label.split():
            draw.text((x, y), token, fill=int(rng.integers(20, 45)), font=f)
            b = draw.textbbox((x, y), token, font=f)
            words.append(Word(token, tuple(v // SCALE for v in b), 0.95, 1, i))
            x = b[2] + int(draw.textlength(" ", font=f))
        right = 480 * SCALE + int(rng.integers(0, SCALE))
        ink = int(rng.integers(20, 45))
        if double_total and label == "TOTAL":
            w = int(draw.textlength(amount, font=f))
            tile = Image.new("L", (w, 40 * SCALE), 0)
            ImageDraw.Draw(tile).text((0, 0), amount, fill=255, font=f)
            tile = tile.resize((2 * w, tile.height))
            img.paste(ink, (right - 2 * w, y), tile)
            b = (right - 2 * w, y + (tile.getbbox() or (0, 0, 0, 0))[1], right, y + (tile.getbbox() or (0, 0, 0, 0))[3])
        else:
            w = int(draw.textlength(amount, font=f))
            draw.text((right - w, y), amount, fill=ink, font=f)
            b = draw.textbbox((right - w, y), amount, font=f)
        words.append(Word(amount, tuple(v // SCALE for v in b), 0.95, 1, i))
    img = img.resize((img.width // SCALE, img.height // SCALE), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 3.0, (img.height, img.width))
    return Image.fromarray(arr.clip(0, 255).astype("uint8"), "L"), words


def _retype(img: Image.Image, words: list[Word], old: str, new: str, *, ink: int = 120,
            quality: int | None = 80, size: int = 29, mono: bool = False) -> tuple[Image.Image, list[Word]]:
    """The forger's edit: paper cloned from the page's margin over ``old``, ``new`` typed
    right-aligned at its place in a proportional font (its own digit advance and a narrow point),
    a little larger, in a lighter ink (``ink``); then saved as JPEG (unless ``quality`` is None)."""
    target = next(w for w in words if w.text == old)
    out = img.copy()
    x0, y0, x1, y1 = target.box
    out.paste(img.crop((2, 2, 2 + x1 - x0 + 6, 2 + y1 - y0 + 6)), (x0 - 3, y0 - 3))
    f = font(size, mono=mono)
    draw = ImageDraw.Draw(out)
    left, top, right, bottom = draw.textbbox((0, 0), new, font=f)
    at = (x1 - (right - left) - left, y1 - (bottom - top) - top)
    draw.text(at, new, fill=ink, font=f)
    box = draw.textbbox(at, new, font=f)
    moved = Word(new, box, 0.95, target.block, target.line)
    return jpeg_roundtrip(out, quality) if quality else out, [moved if w is target else w for w in words]


def _analysis(img: Image.Image, words: list[Word]):  # noqa: ANN202
    reading = PageReading(1, "ocr", tuple(words), img.width, img.height)
    page = SimpleNamespace(number=1, image=img)
    return SimpleNamespace(document=SimpleNamespace(pages=(page,)), reading=SimpleNamespace(pages=(reading,)),
                           memo={})


def test_a_retyped_total_is_spaced_and_inked_unlike_the_other_amounts():
    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    result = amount_print.detector.run(_analysis(forged, forged_words), None)
    assert result.status == "done"
    found = [f for f in result.findings if f.code == "amount_print"]
    assert len(found) == 1, result.findings
    f = found[0]
    assert f.evidence["text"] == "14.61" and f.box == next(w.box for w in forged_words if w.text == "14.61")
    # one amount alone is evidence for the reviewer, not enough to send the receipt to review
    assert f.severity == "low" and "lighter" in f.message and "14.61" in f.message


def test_every_copy_of_the_total_respaced_alike_is_flagged_even_in_the_page_s_ink():
    # the forger retyped both copies of the total in the till's own (monospace) font at a size a
    # little off, in an ink as dark as the till's: only the spacing of both copies tells
    img, words = _page()
    hand = {"ink": 32, "size": 28, "mono": True}
    once, once_words = _retype(img, words, "41.61", "74.61", quality=None, **hand)
    forged, forged_words = _retype(once, once_words, "41.61", "74.61", **hand)
    result = amount_print.detector.run(_analysis(forged, forged_words), None)
    found = [f for f in result.findings if f.code == "amount_print"]
    boxes = {w.box for w in forged_words if w.text == "74.61"}
    assert {f.box for f in found} == boxes, result.findings
    assert all("copies" in f.evidence and "spaced" in f.message and f.severity == "medium" for f in found), found
    # one copy alone so respaced is not enough
    single, single_words = _retype(img, words, "41.61", "74.61", **hand)
    assert not amount_print.detector.run(_analysis(single, single_words), None).findings


def test_every_copy_retyped_in_another_font_and_ink_is_medium_not_low():
    # both copies of the total retyped in a proportional font in a lighter ink: each copy is
    # both spaced and inked oddly, which must not hide that they are respaced alike
    img, words = _page()
    once, once_words = _retype(img, words, "41.61", "38.61", quality=None)
    forged, forged_words = _retype(once, once_words, "41.61", "38.61")
    found = [f for f in amount_print.detector.run(_analysis(forged, forged_words), None).findings
             if f.code == "amount_print"]
    assert {f.box for f in found} == {w.box for w in forged_words if w.text == "38.61"}, found
    assert all(f.severity == "medium" and "copies" in f.evidence for f in found), found


def test_honest_print_is_not_flagged():
    img, words = _page()
    result = amount_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_a_total_printed_in_double_width_is_honest():
    # the till's double-width total: twice the pitch, same point share, same ink
    img, words = _page(double_total=True)
    result = amount_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_measures_of_the_honest_amounts():
    img, words = _page()
    maps = page_maps(jpeg_roundtrip(img, 90))
    prints = [p for w in words if (p := amount_print.amount_print(maps, w)) is not None]
    assert len(prints) >= 7  # the amounts fall apart into one ink run per character
    pitches = [p.pitch for p in prints]
    # one monospace pitch whatever the digits, up to where each digit's ink sits in its cell
    assert max(pitches) - min(pitches) <= 0.12 * float(np.median(pitches)), pitches


def test_dot_matrix_characters_are_joined_at_their_narrowest_gaps():
    ink = np.zeros((5, 30), bool)
    for a, b in ((0, 2), (3, 5), (9, 13), (18, 20), (21, 23)):  # "1" in two dots, "2", "3" in two
        ink[:, a:b] = True
    assert amount_print.character_cells(ink, 3) == [(0, 5), (9, 13), (18, 23)]
    assert amount_print.character_cells(ink, 2) is None  # no clear character gaps for two


@pytest.mark.parametrize("text", ["TOTAL", "12", "2024-01-05"])
def test_words_that_are_not_amounts_are_not_measured(text):
    img, _ = _page()
    maps = page_maps(img)
    assert amount_print.amount_print(maps, Word(text, (20, 20, 120, 45), 0.9)) is None


def test_show_explains_the_finding_with_its_box():
    from rich.console import Console

    from forensics.report import render_record

    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    f = amount_print.detector.run(_analysis(forged, forged_words), None).findings[0]
    rec = {"evidence_id": "E1", "seller_id": "S1", "status": "done", "verdict": "review", "risk": 40,
           "findings": [f.to_json()], "checks": {"amount_print": "done"}, "fields": {}}
    out = io.StringIO()
    render_record(Console(file=out, width=240), rec)
    text = out.getvalue()
    assert "printed unlike" in text and "lighter" in text, text
    assert str(tuple(f.box)) in text, text
