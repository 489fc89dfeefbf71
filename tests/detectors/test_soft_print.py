"""soft_print: every copy of a total typed small and smoothed in an editor, against honest print."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from forensics.detectors import crisp_print, soft_print
from forensics.model import PageReading, Word
from tests.conftest import font
from tests.detectors.test_crisp_print import _analysis, _page
from tests.receipt_pages import jpeg_roundtrip


def _retype_soft(img: Image.Image, words: list[Word], old: str, new: str, *, blur: float = 1.6,
                 ) -> tuple[Image.Image, list[Word]]:
    """The forger's edit: every copy of ``old`` covered with paper cloned from the margin and
    ``new`` typed right-aligned at its ink height in the old print's ink, its glyphs smoothed by
    the editor (a blur of ``blur`` px on the text's mask: soft edges, strokes lighter than
    their core); then a JPEG re-save."""
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
        top, h = y0 + int(rows[0]), int(rows[-1] - rows[0] + 1)
        out.paste(img.crop((2, 2, 2 + x1 - x0 + 6, 2 + y1 - y0 + 6)), (x0 - 3, y0 - 3))
        big = Image.new("L", (400, 120), 0)
        ImageDraw.Draw(big).text((4, 4), new, fill=255, font=font(96, mono=False))
        big = big.crop(big.getbbox())
        mask = big.resize((round(big.width * h / big.height), h), Image.Resampling.LANCZOS)
        pad = 3
        soft = Image.new("L", (mask.width + 2 * pad, mask.height + 2 * pad), 0)
        soft.paste(mask, (pad, pad))
        soft = soft.filter(ImageFilter.GaussianBlur(blur))
        at = (x1 - mask.width - pad, top - pad)
        out.paste(Image.new("L", soft.size, ink), at, soft)
        moved.append(Word(new, (at[0] + pad, y0, x1, y1), 0.95, target.block, target.line))
    return jpeg_roundtrip(out, 85), moved


def test_every_copy_of_a_total_typed_soft_is_flagged():
    img, words = _page()
    forged, forged_words = _retype_soft(img, words, "41.61", "14.61")
    result = soft_print.detector.run(_analysis(forged, forged_words), None)
    assert result.status == "done"
    boxes = {w.box for w in forged_words if w.text == "14.61"}
    assert {f.box for f in result.findings} == boxes, result.findings
    for f in result.findings:
        assert f.code == "soft_print" and f.severity == "medium"
        assert f.evidence["softness"] >= soft_print.SOFT_Z
        assert f.evidence["sharp_z"] <= -soft_print.SOFT_Z and f.evidence["fill_z"] <= -soft_print.SOFT_Z
        assert len(f.evidence["copies"]) == 2 and "softer" in f.message and "14.61" in f.message
    # the same measure read the other way: crisp_print does not see it
    assert not crisp_print.detector.run(_analysis(forged, forged_words), None).findings


def test_honest_print_is_not_flagged():
    for seed in (5, 6, 7):
        img, words = _page(seed=seed)
        result = soft_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
        assert result.status == "done" and not result.findings, (seed, result.findings)


def test_a_total_printed_bold_in_every_copy_is_honest():
    img, words = _page(bold_total=True)
    result = soft_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_one_soft_copy_alone_is_not_flagged():
    # a single soft value is a faded line as often as an edit
    img, words = _page()
    forged, forged_words = _retype_soft(img, words, "25.00", "52.00", blur=2.0)
    read = PageReading(1, "ocr", tuple(forged_words), forged.width, forged.height)
    measured = {c.print.word.text: c for c in crisp_print.page_crispness(read, forged)}
    assert soft_print.is_soft(measured["52.00"]), measured["52.00"]  # soft, and yet alone
    assert not soft_print.detector.run(_analysis(forged, forged_words), None).findings


def test_crisp_print_and_soft_print_share_one_measurement():
    img, words = _page()
    analysis = _analysis(jpeg_roundtrip(img, 80), words)
    crisp_print.detector.run(analysis, None)
    first = analysis.memo[("crispness", 1)]
    soft_print.detector.run(analysis, None)
    assert analysis.memo[("crispness", 1)] is first


def test_show_explains_the_finding_with_its_box():
    from rich.console import Console

    from forensics.report import render_record

    img, words = _page()
    forged, forged_words = _retype_soft(img, words, "41.61", "14.61")
    f = soft_print.detector.run(_analysis(forged, forged_words), None).findings[0]
    rec = {"evidence_id": "E1", "seller_id": "S1", "status": "done", "verdict": "review", "risk": 40,
           "findings": [f.to_json()], "checks": {"soft_print": "done"}, "fields": {}}
    out = io.StringIO()
    render_record(Console(file=out, width=240), rec)
    text = out.getvalue()
    assert "softer and paler" in text and "edges" in text, text
    assert str(tuple(f.box)) in text, text
