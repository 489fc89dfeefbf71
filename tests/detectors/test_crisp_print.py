"""crisp_print: every copy of a total typed into a scan in an editor, against honest print."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from forensics.detectors import crisp_print
from forensics.model import PageReading, Word
from tests.conftest import font
from tests.receipt_pages import jpeg_roundtrip

#: (label, amount) rows of a receipt: the total printed three times (TOTAL, NETT, CASH)
ROWS = [("MILO 1KG", "25.00"), ("SUGAR 2KG", "6.90"), ("TEH 500G", "4.20"), ("ROTI", "3.15"),
        ("SUBTOTAL", "39.25"), ("GST 6%", "2.36"), ("TOTAL", "41.61"), ("NETT TOTAL", "41.61"),
        ("CASH", "41.61"), ("CHANGE", "0.00")]
SCALE = 4


def _page(*, bold_total: bool = False, seed: int = 5) -> tuple[Image.Image, list[Word]]:
    """A scanned receipt: labels left, amounts right-aligned in one monospace font, drawn 4x,
    reduced and blurred as a scanner's optics blur print, scan noise added. With ``bold_total``
    the till prints every copy of the total in bold (struck twice, a px apart)."""
    rng = np.random.default_rng(seed)
    f = font(22 * SCALE)
    img = Image.new("L", (520 * SCALE, (50 + 40 * len(ROWS)) * SCALE), 236)
    draw = ImageDraw.Draw(img)
    words = []
    for i, (label, amount) in enumerate(ROWS):
        y = (30 + 40 * i) * SCALE + int(rng.integers(0, SCALE))
        x = 20 * SCALE + int(rng.integers(0, SCALE))
        ink = int(rng.integers(25, 60))
        for token in label.split():
            draw.text((x, y), token, fill=ink, font=f)
            b = draw.textbbox((x, y), token, font=f)
            words.append(Word(token, tuple(v // SCALE for v in b), 0.95, 1, i))
            x = b[2] + int(draw.textlength(" ", font=f))
        right = 480 * SCALE + int(rng.integers(0, SCALE))
        w = int(draw.textlength(amount, font=f))
        strikes = (0, SCALE) if bold_total and amount == "41.61" else (0,)
        for dx in strikes:
            draw.text((right - w + dx, y), amount, fill=ink, font=f)
        b = draw.textbbox((right - w, y), amount, font=f)
        words.append(Word(amount, (b[0] // SCALE, b[1] // SCALE, (b[2] + strikes[-1]) // SCALE, b[3] // SCALE),
                          0.95, 1, i))
    img = img.resize((img.width // SCALE, img.height // SCALE), Image.Resampling.LANCZOS)
    img = img.filter(ImageFilter.GaussianBlur(1.1))
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 3.0, (img.height, img.width))
    return Image.fromarray(arr.clip(0, 255).astype("uint8"), "L"), words


def _retype(img: Image.Image, words: list[Word], old: str, new: str, *, wide: float = 1.0,
            ) -> tuple[Image.Image, list[Word]]:
    """The forger's edit: every copy of ``old`` covered with paper cloned from the margin and
    ``new`` typed right-aligned in its place at its ink height, anti-aliased, in one solid ink as
    dark as the old print's darkest (``wide``: his font's width over DejaVu Sans'); then a JPEG
    re-save."""
    out = img.copy()
    gray = np.asarray(img, dtype=np.float32)
    moved = []
    for target in words:
        if target.text != old:
            moved.append(target)
            continue
        x0, y0, x1, y1 = target.box
        ink = int(np.percentile(gray[y0:y1, x0:x1], 2))
        rows = np.flatnonzero((gray[y0:y1, x0:x1] < 180).any(axis=1))
        top, h = y0 + int(rows[0]), int(rows[-1] - rows[0] + 1)  # the old ink's rows
        out.paste(img.crop((2, 2, 2 + x1 - x0 + 6, 2 + y1 - y0 + 6)), (x0 - 3, y0 - 3))
        big = Image.new("L", (400, 120), 0)
        ImageDraw.Draw(big).text((4, 4), new, fill=255, font=font(96, mono=False))
        big = big.crop(big.getbbox())
        mask = big.resize((round(wide * big.width * h / big.height), h), Image.Resampling.LANCZOS)
        at = (x1 - mask.width, top)
        out.paste(Image.new("L", mask.size, ink), at, mask)
        moved.append(Word(new, (at[0], y0, x1, y1), 0.95, target.block, target.line))
    return jpeg_roundtrip(out, 85), moved


def _analysis(img: Image.Image, words: list[Word]):  # noqa: ANN202
    reading = PageReading(1, "ocr", tuple(words), img.width, img.height)
    page = SimpleNamespace(number=1, image=img)
    return SimpleNamespace(document=SimpleNamespace(pages=(page,)), reading=SimpleNamespace(pages=(reading,)),
                           memo={})


def test_every_copy_of_a_total_typed_in_an_editor_is_flagged():
    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    result = crisp_print.detector.run(_analysis(forged, forged_words), None)
    assert result.status == "done"
    boxes = {w.box for w in forged_words if w.text == "14.61"}
    assert {f.box for f in result.findings} == boxes, result.findings
    for f in result.findings:
        assert f.code == "crisp_print" and f.severity == "medium"
        assert f.evidence["sharp_z"] >= crisp_print.CRISP_Z and f.evidence["fill_z"] >= crisp_print.CRISP_Z
        assert len(f.evidence["copies"]) == 2 and "crisper" in f.message and "14.61" in f.message


def test_honest_print_is_not_flagged():
    img, words = _page()
    result = crisp_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_a_total_printed_bold_in_every_copy_is_honest():
    # bold print is more solid, but the scanner blurs its edges like every other word's
    img, words = _page(bold_total=True)
    result = crisp_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_one_crisp_copy_alone_is_not_flagged():
    img, words = _page()
    forged, forged_words = _retype(img, words, "25.00", "52.00")
    assert not crisp_print.detector.run(_analysis(forged, forged_words), None).findings


def test_one_crisp_amount_spaced_unlike_the_till_s_is_flagged():
    # a font a fifth wider than the till's: its digits sit on another pitch
    img, words = _page()
    forged, forged_words = _retype(img, words, "25.00", "52.00", wide=1.2)
    found = crisp_print.detector.run(_analysis(forged, forged_words), None).findings
    assert [f.box for f in found] == [next(w.box for w in forged_words if w.text == "52.00")], found
    f = found[0]
    assert f.severity == "medium" and "copies" not in f.evidence
    assert f.evidence["pitch_z"] >= crisp_print.ALONE_PITCH_Z and "far apart" in f.message, f


def test_measures_sharper_edges_and_more_solid_ink_on_the_typed_copies():
    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    read = PageReading(1, "ocr", tuple(forged_words), forged.width, forged.height)
    measured = {c.print.word.text: c for c in crisp_print.page_crispness(read, forged)}
    typed, honest = measured["14.61"], measured["25.00"]
    assert typed.print.edge < honest.print.edge and typed.print.fill > honest.print.fill


def test_show_explains_the_finding_with_its_box():
    from rich.console import Console

    from forensics.report import render_record

    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    f = crisp_print.detector.run(_analysis(forged, forged_words), None).findings[0]
    rec = {"evidence_id": "E1", "seller_id": "S1", "status": "done", "verdict": "review", "risk": 40,
           "findings": [f.to_json()], "checks": {"crisp_print": "done"}, "fields": {}}
    out = io.StringIO()
    render_record(Console(file=out, width=240), rec)
    text = out.getvalue()
    assert "crisper" in text and "edges" in text, text
    assert str(tuple(f.box)) in text, text


def _cells(widths: list[int], gap: int = 3) -> np.ndarray:
    """A word's ink mask: one column run per character, ``gap`` px apart."""
    ink = np.zeros((12, sum(widths) + gap * len(widths)), bool)
    x = 0
    for w in widths:
        ink[2:10, x:x + w] = True
        x += w + gap
    return ink


def test_an_amount_glued_to_its_currency_mark_is_measured_on_its_own_ink():
    # "RM22.05" read "RR2.05": the amount "2.05" is the last four runs of the seven printed
    ink = _cells([6, 7, 5, 5, 2, 5, 5])
    start = crisp_print._amount_start(ink, "RR2.05")
    assert start == 27  # where the fourth run from the right begins: the measure starts at the "2"
    # a bare amount, a word that is no amount, or one whose ink has no run left for the prefix
    # are measured whole
    assert crisp_print._amount_start(ink, "22.05") == 0
    assert crisp_print._amount_start(ink, "TOTAL") == 0
    assert crisp_print._amount_start(_cells([5, 5, 2, 5]), "RM5.05") == 0
