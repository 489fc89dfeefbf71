"""glyph_copies: an amount composed of digits cut out of the receipt's other amounts."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from forensics.detectors import glyph_copies
from forensics.model import PageReading, Word
from tests.conftest import font
from tests.receipt_pages import jpeg_roundtrip

#: (label, amount) rows of a receipt
ROWS = [("MILO 1KG", "25.80"), ("SUGAR 2KG", "6.90"), ("TEH 500G", "14.20"), ("ROTI", "3.15"),
        ("KOPI", "7.35"), ("SUBTOTAL", "57.40"), ("GST 6%", "3.44"), ("TOTAL", "60.84"),
        ("CASH", "70.00"), ("CHANGE", "9.16")]
SCALE = 4


def _page(seed: int = 7) -> tuple[Image.Image, list[Word]]:
    """A scanned receipt: every word drawn 4x at its own sub-pixel phase and ink with the print's
    grain (noise at 4x), reduced, blurred by the scanner's optics, with scan noise."""
    rng = np.random.default_rng(seed)
    f = font(22 * SCALE)
    img = Image.new("L", (520 * SCALE, (50 + 40 * len(ROWS)) * SCALE), 246)
    draw = ImageDraw.Draw(img)
    words = []
    for i, (label, amount) in enumerate(ROWS):
        y = (30 + 40 * i) * SCALE + int(rng.integers(0, SCALE))
        x = 20 * SCALE + int(rng.integers(0, SCALE))
        for token in label.split():
            draw.text((x, y), token, fill=int(rng.integers(25, 60)), font=f)
            b = draw.textbbox((x, y), token, font=f)
            words.append(Word(token, tuple(v // SCALE for v in b), 0.95, 1, i))
            x = b[2] + int(draw.textlength(" ", font=f))
        right = 480 * SCALE + int(rng.integers(0, SCALE))
        w = int(draw.textlength(amount, font=f))
        draw.text((right - w, y), amount, fill=int(rng.integers(25, 60)), font=f)
        b = draw.textbbox((right - w, y), amount, font=f)
        words.append(Word(amount, tuple(v // SCALE for v in b), 0.95, 1, i))
    grain = np.asarray(img, dtype=np.float32) + rng.normal(0, 24.0, (img.height, img.width))
    img = Image.fromarray(grain.clip(0, 255).astype("uint8"), "L")
    img = img.resize((img.width // SCALE, img.height // SCALE), Image.Resampling.LANCZOS)
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 1.5, (img.height, img.width))
    return Image.fromarray(arr.clip(0, 255).astype("uint8"), "L"), words


def _digit_boxes(img: Image.Image, word: Word) -> list[tuple[int, int, int, int]]:
    """Column runs of ink of a word (one per character of clean print), a px of paper each side,
    the box's height and 3 px above and below (the scanner's blur reaches past the box)."""
    gray = np.asarray(img.crop(word.box), dtype=np.float32)
    cols = (gray < 150).any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], cols.astype(np.int8), [0]))))
    return [(word.box[0] + a - 1, word.box[1] - 3, word.box[0] + b + 1, word.box[3] + 3)
            for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _compose(img: Image.Image, words: list[Word], old: str, new: str) -> tuple[Image.Image, list[Word]]:
    """The forger's edit: ``old`` covered with the margin's paper and ``new`` composed, digit by
    digit, of the same characters cut out of the page's other amounts (the point too), placed
    right-aligned where ``old`` was; then a JPEG re-save."""
    target = next(w for w in words if w.text == old)
    cuts: dict[str, tuple[int, int, int, int]] = {}
    for w in words:
        if w is not target and any(c.isdigit() for c in w.text):
            boxes = _digit_boxes(img, w)
            if len(boxes) == len(w.text):
                for ch, box in zip(w.text, boxes, strict=True):
                    cuts.setdefault(ch, box)
    out = img.copy()
    x0, y0, x1, y1 = target.box
    out.paste(img.crop((2, 2, 2 + x1 - x0 + 10, 2 + y1 - y0 + 10)), (x0 - 5, y0 - 5))
    x = x1
    for ch in reversed(new):
        box = cuts[ch]
        x -= box[2] - box[0] + 2  # the cut's width and 2 px of the cloned paper
        out.paste(img.crop(box), (x, y1 + 3 - (box[3] - box[1])))
    moved = Word(new, (x, y0, x1, y1), 0.95, target.block, target.line)
    return jpeg_roundtrip(out, 85), [moved if w is target else w for w in words]


def _analysis(img: Image.Image, words: list[Word]):  # noqa: ANN202
    reading = PageReading(1, "ocr", tuple(words), img.width, img.height)
    page = SimpleNamespace(number=1, image=img)
    return SimpleNamespace(document=SimpleNamespace(pages=(page,)), reading=SimpleNamespace(pages=(reading,)),
                           memo={})


def test_an_amount_composed_of_the_page_s_own_digits_is_flagged():
    img, words = _page()
    forged, forged_words = _compose(img, words, "60.84", "90.84")
    result = glyph_copies.detector.run(_analysis(forged, forged_words), None)
    assert result.status == "done"
    new = next(w for w in forged_words if w.text == "90.84")
    mine = [f for f in result.findings if f.box == new.box]
    assert len(mine) == 1, result.findings
    f = mine[0]
    assert f.code == "glyph_copies" and f.severity == "medium"
    assert len(f.evidence["copies"]) >= glyph_copies.COPIES
    assert all(c["difference"] <= glyph_copies.COPY_DIFFERENCE for c in f.evidence["copies"])
    # every other finding names the composed amount as the copy of its digits
    assert all(f.box == new.box or any(c["source_box"] == list(new.box) for c in f.evidence["copies"])
               for f in result.findings), result.findings
    assert "pixel copies" in f.message and "90.84" in f.message


def test_honest_print_is_not_flagged():
    img, words = _page()
    result = glyph_copies.detector.run(_analysis(jpeg_roundtrip(img, 85), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_a_page_that_repeats_all_its_digits_exactly_is_not_judged_by_them():
    # a digital render prints every "0" alike: no digit stands out from the page's repetition
    f = font(22)
    img = Image.new("L", (520, 450), 236)
    draw = ImageDraw.Draw(img)
    words = []
    for i, (_, amount) in enumerate(ROWS):
        w = int(draw.textlength(amount, font=f))
        draw.text((480 - w, 30 + 40 * i), amount, fill=30, font=f)
        words.append(Word(amount, draw.textbbox((480 - w, 30 + 40 * i), amount, font=f), 0.95, 1, i))
    result = glyph_copies.detector.run(_analysis(img, words), None)
    assert not result.findings, result.findings


def test_show_explains_the_finding_with_its_boxes():
    from rich.console import Console

    from forensics.report import render_record

    img, words = _page()
    forged, forged_words = _compose(img, words, "60.84", "90.84")
    new = next(w for w in forged_words if w.text == "90.84")
    f = next(f for f in glyph_copies.detector.run(_analysis(forged, forged_words), None).findings if f.box == new.box)
    rec = {"evidence_id": "E1", "seller_id": "S1", "status": "done", "verdict": "review", "risk": 40,
           "findings": [f.to_json()], "checks": {"glyph_copies": "done"}, "fields": {}}
    out = io.StringIO()
    render_record(Console(file=out, width=240), rec)
    text = out.getvalue()
    assert "pixel copies" in text and str(tuple(new.box)) in text, text
    assert str(tuple(f.evidence["copies"][0]["source_box"])) in text, text
