"""line_print: every copy of a total whose edges are unlike its own line's words, against honest print."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from forensics.detectors import line_print
from forensics.detectors.page_maps import page_maps
from forensics.model import PageReading, Word
from tests.detectors.test_crisp_print import _analysis, _page, _retype
from tests.receipt_pages import jpeg_roundtrip


def _soften(img: Image.Image, words: list[Word], text: str) -> Image.Image:
    """Every copy of ``text`` blurred once more than the page (a glyph resampled into place)."""
    out = img.copy()
    for w in words:
        if w.text == text:
            box = (w.box[0] - 2, w.box[1] - 2, w.box[2] + 2, w.box[3] + 2)
            out.paste(out.crop(box).filter(ImageFilter.GaussianBlur(1.6)), box[:2])
    return jpeg_roundtrip(out, 85)


def test_every_copy_of_a_total_retyped_sharper_than_its_line_is_flagged():
    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    result = line_print.detector.run(_analysis(forged, forged_words), None)
    assert result.status == "done"
    boxes = {w.box for w in forged_words if w.text == "14.61"}
    assert {f.box for f in result.findings} == boxes, result.findings
    for f in result.findings:
        assert f.code == "line_print" and f.severity == "medium"
        assert f.evidence["direction"] == "sharper" and f.evidence["edge_ratio"] < 1
        assert len(f.evidence["copies"]) == 2 and f.evidence["line_words"], f.evidence


def test_every_copy_softer_than_its_line_is_flagged():
    img, words = _page()
    forged = _soften(img, words, "41.61")
    found = line_print.detector.run(_analysis(forged, words), None).findings
    assert {f.box for f in found} == {w.box for w in words if w.text == "41.61"}, found
    assert all(f.evidence["direction"] == "softer" and "softer edges" in f.message for f in found)


def test_honest_print_is_not_flagged():
    img, words = _page()
    result = line_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_a_total_printed_bold_in_every_copy_is_honest():
    img, words = _page(bold_total=True)
    result = line_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_one_odd_copy_alone_is_not_flagged():
    img, words = _page()
    forged, forged_words = _retype(img, words, "25.00", "52.00")
    assert not line_print.detector.run(_analysis(forged, forged_words), None).findings
    # softer alone (a glyph resampled into place) is not enough either: honest lines print thin
    # and faded words
    assert not line_print.detector.run(_analysis(_soften(img, words, "25.00"), words), None).findings


def _scanned(seed: int = 5, blur: float = 1.0) -> tuple[Image.Image, list[Word]]:
    """:func:`_page` as a softer scanner sees it (optics blur a little more)."""
    img, words = _page(seed=seed)
    return img.filter(ImageFilter.GaussianBlur(blur)), words


def test_a_single_amount_typed_sharper_and_more_solid_than_its_line_is_flagged():
    for seed in (5, 7):
        img, words = _scanned(seed)
        forged, forged_words = _retype(img, words, "25.00", "52.00")
        found = line_print.detector.run(_analysis(forged, forged_words), None).findings
        box = next(w.box for w in forged_words if w.text == "52.00")
        assert [f.box for f in found] == [box], found
        f = found[0]
        assert f.severity == "medium" and f.evidence["direction"] == "sharper"
        assert f.evidence["edge_ratio"] <= line_print.LONE_EDGE and f.evidence["fill_ratio"] >= line_print.LONE_FILL
        assert "sharper and more solid" in f.message and "'52.00'" in f.message



def _misread(words: list[Word], old: str, new: str) -> list[Word]:
    return [Word(new, w.box, 0.4, w.block, w.line) if w.text == old else w for w in words]


def test_a_retyped_total_ocr_garbled_is_still_judged_at_the_end_of_its_total_line():
    # OCR reads the forger's "93.52" as "93.5Z": no amount, yet it ends the SUBTOTAL line
    img, words = _scanned()
    forged, forged_words = _retype(img, words, "39.25", "93.52")
    found = line_print.detector.run(_analysis(forged, _misread(forged_words, "93.52", "93.5Z")), None).findings
    assert [f.evidence["text"] for f in found] == ["93.5Z"], found
    assert "OCR read as '93.5Z'" in found[0].message and "sharper and more solid" in found[0].message


def test_an_honest_total_ocr_garbled_is_not_flagged():
    for seed in (5, 7):
        img, words = _scanned(seed)
        honest = _misread(words, "39.25", "39.2S")
        assert not line_print.detector.run(_analysis(jpeg_roundtrip(img, 80), honest), None).findings
    # a garbled word that does not end a total line is not an amount to judge
    img, words = _scanned()
    forged, forged_words = _retype(img, words, "4.20", "2.40")
    assert not line_print.detector.run(_analysis(forged, _misread(forged_words, "2.40", "2.4O")), None).findings

def test_honest_print_of_a_softer_scan_is_not_flagged_alone():
    for seed in (5, 7):
        img, words = _scanned(seed)
        result = line_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
        assert result.status == "done" and not result.findings, result.findings
        bold, bold_words = _page(bold_total=True, seed=seed)
        bold = jpeg_roundtrip(bold.filter(ImageFilter.GaussianBlur(1.0)), 80)
        assert not line_print.detector.run(_analysis(bold, bold_words), None).findings


def test_an_amount_ocr_split_into_pieces_is_joined():
    words = [Word("Rounding", (10, 10, 90, 30), 0.9, 1, 1), Word("RM92", (200, 10, 240, 30), 0.6, 1, 1),
             Word(".", (243, 24, 247, 30), 0.5, 1, 1), Word("82", (250, 10, 270, 30), 0.9, 1, 1),
             Word("CASH", (10, 40, 60, 60), 0.9, 1, 2), Word("20", (200, 40, 220, 60), 0.9, 1, 2),
             Word("12.00", (400, 40, 460, 60), 0.9, 1, 2)]
    joined = line_print.joined_amounts(words)
    assert [w.text for w in joined] == ["Rounding", "RM92.82", "CASH", "20", "12.00"]
    assert joined[1].box == (200, 10, 270, 30) and joined[1].confidence == 0.5
    # pieces far apart are two words, not one amount
    apart = [Word("RM92", (100, 10, 140, 30), 0.6, 1, 1), Word(".82", (250, 10, 280, 30), 0.9, 1, 1)]
    assert line_print.joined_amounts(apart) == apart


def test_a_bilevel_scan_is_not_judged():
    # thresholded to black and white: no word has an edge ramp, so no ratio means anything
    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    bilevel = forged.point(lambda v: 0 if v < 140 else 255)
    result = line_print.detector.run(_analysis(bilevel, forged_words), None)
    assert not result.findings, result.findings


def test_zero_amounts_are_no_copies():
    # a till prints 0.00 on many lines; sharper zeros are not a total rewritten
    img, words = _page()
    extra = [Word("0.00", w.box, w.confidence, w.block, w.line) if w.text in ("2.36", "3.15") else w for w in words]
    forged, forged_words = _retype(img, extra, "0.00", "0.00")
    assert not line_print.detector.run(_analysis(forged, forged_words), None).findings
    # the same rewrite of a non-zero value is flagged
    extra = [Word("5.00", w.box, w.confidence, w.block, w.line) if w.text in ("2.36", "3.15", "0.00") else w
             for w in words]
    forged, forged_words = _retype(img, extra, "5.00", "5.00")
    assert len(line_print.detector.run(_analysis(forged, forged_words), None).findings) == 3


def test_a_value_is_measured_against_its_own_line_only():
    img, words = _page()
    read = PageReading(1, "ocr", tuple(words), img.width, img.height)
    measured = {m.print.word.text: m for m in line_print.page_line_edges(read, page_maps(img))}
    total = next(m for t, m in measured.items() if t == "41.61")
    assert {q.word.text for q in total.mates} <= {"TOTAL", "NETT", "CASH"}
    assert 0.8 < total.ratio < 1.25


def test_a_single_amount_on_another_pitch_than_its_line_is_flagged():
    # a sharp scan: the typed amount is sharper and more solid than its line, but not enough for
    # the lone rule; typed in a narrower font, its digits also sit off the line's monospace pitch
    img, words = _scanned(5, blur=0.5)
    forged, forged_words = _retype(img, words, "25.00", "52.00", wide=0.75)
    found = line_print.detector.run(_analysis(forged, forged_words), None).findings
    box = next(w.box for w in forged_words if w.text == "52.00")
    assert [f.box for f in found] == [box], found
    f = found[0]
    assert f.code == "line_print" and f.severity == "medium"
    assert f.evidence["edge_ratio"] > line_print.LONE_EDGE  # the lone rule alone would not flag it
    assert abs(np.log(f.evidence["pitch_ratio"])) >= line_print.PITCH_LN
    assert {w["text"] for w in f.evidence["pitch_words"]} <= {"MILO", "1KG"}, f.evidence
    assert "another character pitch" in f.message and "'52.00'" in f.message


def test_an_amount_on_its_line_pitch_is_not_flagged():
    # the same edit in a font of the till's width keeps the line's pitch: not flagged; nor is
    # the honest sharp scan
    img, words = _scanned(5, blur=0.5)
    forged, forged_words = _retype(img, words, "25.00", "52.00", wide=1.0)
    assert not line_print.detector.run(_analysis(forged, forged_words), None).findings
    result = line_print.detector.run(_analysis(jpeg_roundtrip(img, 80), words), None)
    assert result.status == "done" and not result.findings, result.findings


@pytest.mark.parametrize(("page", "old", "new", "wide", "words"), [
    ("printed", "41.61", "14.61", 1.0, ("own lines", "edges")),  # every copy of the total
    ("scanned", "25.00", "52.00", 1.0, ("sharper and more solid", "own line")),  # one amount
    ("sharp", "25.00", "52.00", 0.75, ("another character pitch", "own line", "MILO")),  # one, off pitch
])
def test_show_explains_the_finding_with_its_box(page, old, new, wide, words):
    from rich.console import Console

    from forensics.report import render_record

    img, page_words = {"printed": _page, "scanned": _scanned, "sharp": lambda: _scanned(5, blur=0.5)}[page]()
    forged, forged_words = _retype(img, page_words, old, new, wide=wide)
    f = line_print.detector.run(_analysis(forged, forged_words), None).findings[0]
    rec = {"evidence_id": "E1", "seller_id": "S1", "status": "done", "verdict": "review", "risk": 40,
           "findings": [f.to_json()], "checks": {"line_print": "done"}, "fields": {}}
    out = io.StringIO()
    render_record(Console(file=out, width=240), rec)
    text = out.getvalue()
    assert all(w in text for w in words), text
    assert str(tuple(f.box)) in text, text


def test_only_copies_and_their_lines_are_measured(monkeypatch):
    # the detector measures the copies of a value and their lines only: same findings as
    # measuring every value word, fewer words measured
    img, words = _page()
    forged, forged_words = _retype(img, words, "41.61", "14.61")
    read = PageReading(1, "ocr", tuple(forged_words), forged.width, forged.height)
    maps = page_maps(forged)
    calls = []
    real = line_print.word_print
    monkeypatch.setattr(line_print, "word_print", lambda m, w: calls.append(w) or real(m, w))
    every = line_print.page_line_edges(read, maps)
    n_every = len(calls)
    calls.clear()
    copies, any_line = line_print.copy_line_edges(read, maps)
    assert any_line and copies and len(calls) < n_every
    assert {m.key for m in copies} < {m.key for m in every}
    assert ([f.to_json() for f in line_print.page_findings(read, copies)]
            == [f.to_json() for f in line_print.page_findings(read, every)] != [])


def test_a_page_without_copies_is_still_judged():
    # no two values end alike: nothing can be flagged, yet the page had values to judge
    img, words = _page()
    seen: set[str] = set()
    unique = []
    for n, w in enumerate(words):
        text = w.text
        if sum(ch.isdigit() for ch in text) >= 3:
            text = f"{n + 1:03d}.5"
            assert line_print.value_key(text) not in seen
            seen.add(line_print.value_key(text))
        unique.append(Word(text, w.box, w.confidence, w.block, w.line))
    read = PageReading(1, "ocr", tuple(unique), img.width, img.height)
    assert line_print.copy_line_edges(read, page_maps(img)) == ([], True)
    assert line_print.copy_line_edges(read, page_maps(img), ask_any=False) == ([], False)
    result = line_print.detector.run(_analysis(jpeg_roundtrip(img, 80), unique), None)
    assert result.status == "done" and not result.findings


