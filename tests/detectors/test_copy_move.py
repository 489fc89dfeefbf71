"""copy_move: a word pasted from another line of the same page, against honest repeats."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from forensics.detectors import copy_move, copy_noise
from forensics.model import PageReading, Word
from tests.conftest import font
from tests.receipt_pages import jpeg_roundtrip

LINES = ["KEDAI CONTOH 12", "MILO 1KG   2 x 12.50   25.00", "SUGAR 2KG  1 x 6.90    6.90",
         "TEH 500G   1 x 4.20    4.20", "SUBTOTAL           36.10", "GST 6%              2.17",
         "TOTAL              38.27", "CASH               50.00", "CHANGE             11.73"]


def _page(*, phase: bool, noise: float, seed: int = 1, twin: tuple[str, int, str, int] | None = None,
          ) -> tuple[Image.Image, list[Word]]:
    """A receipt page and its word boxes. ``phase``: every word printed at its own sub-pixel
    offset (drawn 4x larger and reduced) and ink darkness, as real print and scan place it;
    else each repeated text is the same render."""
    rng = np.random.default_rng(seed)
    scale = 4 if phase else 1
    f = font(26 * scale)
    img = Image.new("L", (640 * scale, (60 + 42 * len(LINES)) * scale), 235)
    draw = ImageDraw.Draw(img)
    words: list[Word] = []
    for i, line in enumerate(LINES):
        x, y = 30 * scale, (40 + 42 * i) * scale
        cursor = 0
        for token in line.split():
            start = line.index(token, cursor)
            cursor = start + len(token)
            at = x + int(draw.textlength(line[:start], font=f)) + (int(rng.integers(0, scale)) if phase else 0)
            top = y + (int(rng.integers(0, scale)) if phase else 0)
            draw.text((at, top), token, fill=int(rng.integers(10, 70)) if phase else 25, font=f)
            b = draw.textbbox((at, top), token, font=f)
            words.append(Word(token, tuple(v // scale for v in b), 0.95, 1, i))  # type: ignore[arg-type]
    if phase:
        img = img.resize((img.width // scale, img.height // scale), Image.LANCZOS)
    if twin is not None:  # one render printed twice: the same pixels before the scan's noise
        s, t = _word(words, twin[0], twin[1]).box, _word(words, twin[2], twin[3]).box
        img.paste(img.crop((s[0] - 2, s[1] - 2, s[2] + 2, s[3] + 2)), (t[0] - 2, t[1] - 2))
        words = [Word(twin[0], (t[0], t[1], t[0] + s[2] - s[0], t[1] + s[3] - s[1]), 0.95, 1, twin[3])
                 if w.text == twin[2] and w.line == twin[3] else w for w in words]
    arr = np.asarray(img, dtype=np.float32)
    if noise:
        arr = arr + rng.normal(0, noise, arr.shape)
    return Image.fromarray(arr.clip(0, 255).astype("uint8"), "L"), words


def _reading(img: Image.Image, words: list[Word]) -> PageReading:
    return PageReading(1, "ocr", tuple(words), img.width, img.height)


def _word(words: list[Word], text: str, line: int) -> Word:
    return next(w for w in words if w.text == text and w.line == line)


def _paste(img: Image.Image, words: list[Word], source: Word, target: Word) -> tuple[Image.Image, list[Word]]:
    """The forger's edit: cover ``target`` with paper cut from the same page, paste ``source``'s
    box (with a margin of its paper) over it, save again as JPEG."""
    out = img.copy()
    tw, th = target.box[2] - target.box[0] + 6, target.box[3] - target.box[1] + 6
    out.paste(img.crop((560, 2, 560 + tw, 2 + th)), (target.box[0] - 3, target.box[1] - 3))  # blank paper
    out.paste(img.crop((source.box[0] - 3, source.box[1] - 3, source.box[2] + 3, source.box[3] + 3)),
              (target.box[0] - 3, target.box[1] - 3))
    moved = Word(source.text, (target.box[0], target.box[1], target.box[0] + source.box[2] - source.box[0],
                               target.box[1] + source.box[3] - source.box[1]), 0.95, target.block, target.line)
    return jpeg_roundtrip(out, 75), [moved if w is target else w for w in words]


@pytest.mark.parametrize("text,line", [("25.00", 1), ("50.00", 7)])  # from above, from the CASH line below
def test_an_amount_pasted_from_another_line_is_a_copy_with_both_boxes(text, line):
    img, words = _page(phase=True, noise=4.0)
    source, target = _word(words, text, line), _word(words, "38.27", 6)
    forged, forged_words = _paste(img, words, source, target)
    result = copy_move.detector.run(_analysis(forged, forged_words), None)
    found = [f for f in result.findings if f.code == "copy_move"]
    assert len(found) == 1, result.findings
    f = found[0]
    assert f.severity == "high" and f.box[:2] == target.box[:2]
    assert tuple(f.evidence["source_box"]) == source.box and text in f.message
    assert str(tuple(source.box)) in f.message  # the reviewer sees both boxes


def test_honest_print_repeats_its_text_but_never_its_pixels():
    # sub-pixel phase and noise of their own: 12.50, 6.90, 4.20 each printed twice
    img, words = _page(phase=True, noise=4.0)
    result = copy_move.detector.run(_analysis(jpeg_roundtrip(img, 75), words), None)
    assert result.status == "done" and not result.findings, result.findings


def test_one_render_printed_twice_with_its_own_noise_is_not_a_copy():
    # a generated page: identical glyph renders, but the noise of each print is its own
    img, words = _page(phase=False, noise=4.0)
    assert not copy_move.detector.run(_analysis(jpeg_roundtrip(img, 90), words), None).findings


def test_one_render_printed_twice_among_other_prints_is_not_a_copy():
    # a generated page: "25.00" rendered twice alike, each print with its own scan noise, while
    # the page's other repeated text differs (the scan's skew puts it at other sub-pixel phases)
    img, words = _page(phase=True, noise=4.0, twin=("25.00", 1, "38.27", 6))
    assert not copy_move.detector.run(_analysis(jpeg_roundtrip(img, 90), words), None).findings


def test_a_clean_digital_page_cannot_tell_a_paste_from_its_own_print():
    # no noise: every repeated text is an exact repeat, so a paste says nothing
    img, words = _page(phase=False, noise=0.0)
    forged, forged_words = _paste(img, words, _word(words, "25.00", 1), _word(words, "38.27", 6))
    assert not copy_move.detector.run(_analysis(forged, forged_words), None).findings


def _analysis(img: Image.Image, words: list[Word]):  # noqa: ANN202
    from types import SimpleNamespace

    page = SimpleNamespace(number=1, image=img)
    reading = SimpleNamespace(pages=(_reading(img, words),))
    return SimpleNamespace(document=SimpleNamespace(pages=(page,)), reading=reading, memo={})


def test_pipeline_records_the_copy_and_show_explains_it_with_both_boxes(settings, blob_root):
    from io import StringIO

    from rich.console import Console

    from forensics.pipeline import analyse
    from forensics.report import render_record
    from forensics.store import Store

    img, words = _page(phase=True, noise=4.0)
    forged, _ = _paste(img, words, _word(words, "25.00", 1), _word(words, "38.27", 6))
    forged.save(blob_root / "f.jpg", quality=92)
    store = Store(settings.database_url)
    analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "f.jpg"}, store, settings)
    rec = store.get("E1")
    assert rec["checks"]["copy_move"] == "done", rec["checks"]
    found = [f for f in rec["findings"] if f["code"] == "copy_move"]
    assert found and found[0]["box"] and found[0]["evidence"]["source_box"], rec["findings"]
    assert rec["verdict"] != "clean"
    out = StringIO()
    render_record(Console(file=out, width=200), rec)
    text = out.getvalue()
    assert "pixel copy of" in text, (found, text)
    assert str(tuple(found[0]["evidence"]["source_box"])) in text, (found, text)
    assert str(tuple(found[0]["box"])) in text


def test_a_total_pasted_from_print_ocr_did_not_read_is_found_on_the_page():
    # OCR missed the source (or misread it as letters): the total is searched for on the page
    img, words = _page(phase=True, noise=4.0)
    source, target = _word(words, "25.00", 1), _word(words, "38.27", 6)
    forged, forged_words = _paste(img, words, source, target)
    unread = [w for w in forged_words if w is not source]
    result = copy_move.detector.run(_analysis(forged, unread), None)
    found = [f for f in result.findings if f.code == "copy_move"]
    assert len(found) == 1, result.findings
    src = found[0].evidence["source_box"]
    assert abs(src[0] - source.box[0]) <= 3 and abs(src[1] - source.box[1]) <= 3, (src, source.box)
    assert "did not read" in found[0].message


def test_honest_totals_are_not_found_elsewhere_on_the_page():
    img, words = _page(phase=True, noise=4.0)
    # only the TOTAL and CASH lines' amounts, so that every total is searched for on the page
    few = [w for w in words if w.line in (0, 6, 7, 8)]
    result = copy_move.detector.run(_analysis(jpeg_roundtrip(img, 75), few), None)
    assert not result.findings, result.findings


def test_an_amount_pasted_from_print_ocr_read_as_letters_onto_an_unlabelled_line():
    # the source read as letters ("SURES" for "25.00") and the pasted copy on a line whose
    # label OCR lost (no TOTAL to search the page from): the letters are still compared
    img, words = _page(phase=True, noise=4.0)
    source, target = _word(words, "25.00", 1), _word(words, "38.27", 6)
    forged, forged_words = _paste(img, words, source, target)
    misread = [Word("SURES", w.box, 0.4, w.block, w.line) if w is source else w for w in forged_words
               if w.text != "TOTAL"]
    pasted = next(w for w in misread if w.line == 6)
    assert not copy_move.TOTAL_LINE.search(copy_move._line_of(_reading(forged, misread), pasted))
    found = [f for f in copy_move.detector.run(_analysis(forged, misread), None).findings if f.code == "copy_move"]
    assert len(found) == 1, found
    assert found[0].evidence["source_text"] == "SURES" and tuple(found[0].evidence["source_box"]) == source.box
    assert found[0].box[:2] == target.box[:2]


def test_honest_amounts_never_match_words_read_as_letters():
    # every amount read as letters once: honest print still repeats no pixels
    img, words = _page(phase=True, noise=4.0)
    lettered = [Word("SURES", w.box, 0.4, w.block, w.line) if w.text in ("12.50", "4.20") else w for w in words]
    assert not copy_move.detector.run(_analysis(jpeg_roundtrip(img, 75), lettered), None).findings


def test_a_paste_ocr_read_as_letters_on_an_unlabelled_line_is_searched_for_on_the_page():
    # the paste read as letters ("Bod"), its label lost and its source unread: the amount
    # column (the last word of each line) is searched for on the page whatever its text
    img, words = _page(phase=True, noise=4.0)
    source, target = _word(words, "25.00", 1), _word(words, "38.27", 6)
    forged, forged_words = _paste(img, words, source, target)
    seen = [Word("Bod", w.box, 0.3, w.block, w.line) if w.line == 6 and w.text == "25.00" else w
            for w in forged_words if w is not source and w.text != "TOTAL"]
    found = [f for f in copy_move.detector.run(_analysis(forged, seen), None).findings if f.code == "copy_move"]
    assert len(found) == 1, found
    assert found[0].box[:2] == target.box[:2] and found[0].evidence["text"] == "Bod"


def test_a_paste_ocr_did_not_read_is_found_as_unread_ink():
    # neither the paste nor its label read: the ink OCR left unread is searched for on the page
    img, words = _page(phase=True, noise=4.0)
    source, target = _word(words, "25.00", 1), _word(words, "38.27", 6)
    forged, forged_words = _paste(img, words, source, target)
    seen = [w for w in forged_words if w.line != 6]
    found = [f for f in copy_move.detector.run(_analysis(forged, seen), None).findings if f.code == "copy_move"]
    assert len(found) == 1, found
    boxes = [found[0].box, tuple(found[0].evidence["source_box"])]
    assert any(abs(b[1] - target.box[1]) <= 3 for b in boxes) and any(abs(b[1] - source.box[1]) <= 3 for b in boxes)
    assert "did not read" in found[0].message


def test_honest_print_ocr_did_not_read_is_not_a_copy():
    # whole lines OCR missed, and the amount column read as letters: still no repeated pixels
    img, words = _page(phase=True, noise=4.0)
    seen = [Word("Bod", w.box, 0.3, w.block, w.line) if w.text in ("6.90", "4.20") else w
            for w in words if w.line not in (6, 7)]
    assert not copy_move.detector.run(_analysis(jpeg_roundtrip(img, 75), seen), None).findings


def test_the_page_wide_search_finds_a_copys_source_where_a_full_search_does():
    # the half-resolution search refined at full resolution lands where matching every place of
    # the page at full resolution does, for a pasted amount and for its source (an honest word
    # has no such place: either search's best is far from a copy, as bench/pixel_detectors.py
    # showed on 113 uploads, results identical)
    img, words = _page(phase=True, noise=6.0, seed=4)
    source, target = _word(words, "25.00", 1), _word(words, "38.27", 6)
    img, words = _paste(img, words, source, target)
    pasted = next(w for w in words if w.line == 6 and w.text == "25.00")
    noise = copy_move.page_noise(img)
    for w, other in ((pasted, source), (source, pasted)):
        x0, y0, x1, y1 = copy_move.clip(w.box, noise.residual.shape)
        assert min(x1 - x0, y1 - y0) >= copy_noise.COARSE_MIN_SIDE  # searched coarse, then fine
        template = noise.residual[y0:y1, x0:x1]
        full = copy_move.cv2.matchTemplate(noise.residual, template, copy_move.cv2.TM_CCOEFF_NORMED)
        _, want = copy_noise.masked_best(full, (0, 0), (x0, y0, x1, y1))
        assert abs(want[0] - other.box[0]) <= 2 and abs(want[1] - other.box[1]) <= 2
        assert copy_noise.best_place(noise, template, (x0, y0, x1, y1)) == want


def _small_paste(seed: int) -> tuple[Image.Image, list[Word], Word, Word]:
    """A page printed at 0.6 times the size (words under COARSE_MIN_SIDE px high), "25.00"
    pasted over the total, saved again as JPEG: the page, its words, the source, the paste."""
    img, words = _page(phase=True, noise=4.0, seed=seed)
    size = (int(img.width * 0.6), int(img.height * 0.6))
    img = img.resize(size, Image.LANCZOS)
    words = [Word(w.text, tuple(int(v * 0.6) for v in w.box), w.confidence, w.block, w.line)  # type: ignore[arg-type]
             for w in words]
    source, target = _word(words, "25.00", 1), _word(words, "38.27", 6)
    out = img.copy()
    out.paste(img.crop((img.width - 60, 2, img.width - 2, 2 + target.box[3] - target.box[1] + 4)),
              (target.box[0] - 2, target.box[1] - 2))
    out.paste(img.crop((source.box[0] - 2, source.box[1] - 2, source.box[2] + 2, source.box[3] + 2)),
              (target.box[0] - 2, target.box[1] - 2))
    pasted = Word("25.00", (target.box[0], target.box[1], target.box[0] + source.box[2] - source.box[0],
                            target.box[1] + source.box[3] - source.box[1]), 0.95, 1, 6)
    return jpeg_roundtrip(out, 75), [pasted if w is target else w for w in words], source, pasted


@pytest.mark.parametrize("seed", [1, 4])
def test_the_bounded_search_finds_a_small_pastes_source_as_the_full_search_does(seed):
    # the cell bounds keep the paste's and its source's places, and the match around them lands
    # where the page-wide search does; honest words' searches end far (or unmatched) either way
    img, words, source, pasted = _small_paste(seed)
    assert pasted.box[3] - pasted.box[1] < copy_noise.COARSE_MIN_SIDE
    reading = _reading(img, words)
    noise = copy_move.page_noise(img)
    for w, other in ((pasted, source), (source, pasted)):
        fast = copy_move.search_page(noise, w, reading, exact=False)
        full = copy_move.search_page(noise, w, reading)
        assert isinstance(fast, copy_move.Match) and fast == full
        assert fast.difference <= copy_move.COPY_DIFFERENCE
        assert abs(fast.source.box[0] - other.box[0]) <= 2 and abs(fast.source.box[1] - other.box[1]) <= 2
    for w in words:
        if w.box in (pasted.box, source.box) or not copy_move._is_value(w):
            continue
        fast = copy_move.search_page(noise, w, reading, exact=False)
        full = copy_move.search_page(noise, w, reading)
        assert fast is copy_move.UNMATCHED or fast is None or fast.difference > copy_move.COPY_DIFFERENCE
        assert full is None or full.difference > copy_move.COPY_DIFFERENCE


def test_a_small_paste_ocr_did_not_read_is_found_past_the_bounded_search():
    # the paste's label unread: the total line's words are gone, the pair of amounts judged
    # first, then the unread ink searched for through the cell bounds
    img, words, source, pasted = _small_paste(1)
    seen = [w for w in words if w.line != 6]
    found = [f for f in copy_move.detector.run(_analysis(img, seen), None).findings if f.code == "copy_move"]
    assert len(found) == 1, found
    boxes = [found[0].box, tuple(found[0].evidence["source_box"])]
    assert any(abs(b[1] - pasted.box[1]) <= 2 for b in boxes) and any(abs(b[1] - source.box[1]) <= 2 for b in boxes)


def test_the_bounded_search_answers_as_the_page_wide_one_on_a_dark_scanner_band():
    # a scan's dark bed at the top of the page: where a window is flat its correlation is 0/0,
    # which a local match and the page-wide one round differently; the bounded search either
    # rules a copy out by the cell bounds, or answers far where the page-wide search does, or
    # answers with the page-wide search's own match
    img, words, _, _ = _small_paste(1)
    arr = np.asarray(img.convert("L"), dtype=np.float32).copy()
    rng = np.random.default_rng(3)
    arr[:14] = 8.0 + rng.normal(0.0, 3.0, size=arr[:14].shape)
    arr[14:16] = 120.0
    page = jpeg_roundtrip(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), 80)
    reading = _reading(page, words)
    noise = copy_move.page_noise(page)
    band = [Word(copy_move.UNREAD, (x, y, x + 13, y + 10), 0.0, 1, 0) for x in range(4, page.width - 20, 23) for y in (0, 3)]
    for w in band + [w for w in words if copy_move._is_value(w)]:
        fast = copy_move.search_page(noise, w, reading, exact=False)
        full = copy_move.search_page(noise, w, reading)
        far = full is None or full.difference > copy_move.COPY_DIFFERENCE
        if fast is copy_move.UNMATCHED or fast is None or fast.difference > copy_move.COPY_DIFFERENCE:
            assert far, (w, full)
        else:
            assert fast == full


def _close_blocks_by_place(noise, box, contrast, difference):  # noqa: ANN001, ANN202
    """close_blocks by its definition: every top-left place of the page not overlapping ``box``,
    its cells' squared mean differences summed in close_blocks' order, a block close when one of
    its places is within the limit."""
    k = copy_noise.BOUND_CELL
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cells = noise.cells
    rows, cols = (cells.shape[0] - h) // k + 1, (cells.shape[1] - w) // k + 1
    limit = (difference * (1 + copy_noise.BOUND_SLACK) * contrast) ** 2 * (w * h) / (k * k)
    tiles = sorted(((cy, cx, cells[y0 + cy, x0 + cx]) for cy in range(0, h - k + 1, k)
                    for cx in range(0, w - k + 1, k)), key=lambda t: t[2])
    py, px = np.mgrid[0:cells.shape[0] - h + 1, 0:cells.shape[1] - w + 1]
    squared = np.zeros(py.shape)
    for cy, cx, mean in tiles:
        gap = cells[cy:cy + py.shape[0], cx:cx + py.shape[1]] - mean
        squared += gap * gap
    ok = (squared <= limit) & ~((px < x1) & (x0 < px + w) & (py < y1) & (y0 < py + h))
    close = np.zeros((rows, cols), bool)
    close[py[ok] // k, px[ok] // k] = True
    return close


@pytest.mark.parametrize("seed", [1, 4])
def test_close_blocks_keeps_the_blocks_of_every_place_within_the_bound(seed):
    # the per-block bound, whole blocks taken without a per-place filter and the places of the
    # blocks at the page's edge and around the box filtered: the blocks that hold a place within
    # the bound, no more and no fewer (the paste, its source, the word at the page's bottom right)
    img, words, source, pasted = _small_paste(seed)
    noise = copy_move.page_noise(img)
    h, w = noise.residual.shape
    edge = max(words, key=lambda v: (v.box[3], v.box[2]))
    for word in (pasted, source, edge):
        box = copy_move.clip(word.box, noise.residual.shape)
        contrast = noise.spread("blurred", box)
        for difference in (copy_move.COPY_DIFFERENCE, *np.linspace(0.2, 1.5, 14).tolist()):
            got = copy_noise.close_blocks(noise, box, contrast, difference)
            want = _close_blocks_by_place(noise, box, contrast, difference)
            assert got.shape == want.shape and np.array_equal(got, want), (word, difference)
    assert copy_noise.close_blocks(noise, copy_move.clip(pasted.box, (h, w)),
                                   noise.spread("blurred", copy_move.clip(pasted.box, (h, w))), 2.0).any()


@pytest.mark.parametrize(("box", "twin", "clear"), [
    ((0, 0, 8, 8), (63, 20), (58, 16)),    # (row, column) of a place past the page's bottom edge
    ((0, 0, 8, 8), (20, 63), (16, 58)),    # past the right edge
    ((16, 16, 24, 24), (16, 12), (18, 8)),  # overlapping the box, in a block of clear places too
    ((16, 16, 24, 24), (12, 16), (8, 18)),
])
def test_close_blocks_leaves_out_places_off_the_page_or_over_the_box(box, twin, clear):
    # one 8x8 box on a 69x69 page whose cell mean only one other place repeats, a place a copy
    # cannot take: no block is close; moved to a place of the same block a copy can take, that
    # block alone is
    flat = np.zeros((69, 69), np.float32)
    for place, close in ((twin, False), (clear, True)):
        assert place[0] // 8 == twin[0] // 8 and place[1] // 8 == twin[1] // 8
        cells = np.zeros((69, 69))
        cells[box[1], box[0]] = cells[place] = 50.0
        noise = copy_noise.PageNoise(flat, flat, np.ones((69, 69), bool), cells)
        found = copy_noise.close_blocks(noise, box, 1.0, 1.0)
        assert found.sum() == close and found[place[0] // 8, place[1] // 8] == close, (place, np.argwhere(found))


@pytest.mark.parametrize("shape", [(64, 48), (69, 61), (70, 75)])
def test_cell_extremes_of_each_side_are_those_of_its_blocks_on_the_page(shape):
    # the extremes of every side, the coarse ones made from the finer: each block's least and
    # greatest cell, the last, partial blocks over the cells they hold
    cells = np.random.default_rng(shape[0]).normal(size=shape) * 40
    noise = copy_noise.PageNoise(cells.astype(np.float32), cells.astype(np.float32), np.ones(shape, bool), cells)
    for side in (copy_noise.BOUND_CELL, *copy_noise.REFINE_SIDES):
        lo, hi = noise.cell_extremes(side)
        rows, cols = -(-shape[0] // side), -(-shape[1] // side)
        assert lo.shape == hi.shape == (rows, cols)
        for i in range(rows):
            for j in range(cols):
                block = cells[i * side:(i + 1) * side, j * side:(j + 1) * side]
                assert lo[i, j] == block.min() and hi[i, j] == block.max(), (side, i, j)


def test_difference_bounds_with_caps_are_the_least_sum_of_every_alignment_or_the_cap():
    # by definition: every alignment of the box in each window, its cells' squared mean gaps
    # summed in difference_bounds' order; the least sum within the window's cap, else the cap
    rng = np.random.default_rng(7)
    cells = rng.normal(size=(60, 80)) * 30 + 120
    noise = copy_noise.PageNoise(np.zeros((60, 80), np.float32), np.zeros((60, 80), np.float32),
                                 np.ones((60, 80), bool), cells)
    cells[40:56, 50:74] = cells[4:20, 6:30] + 3 * rng.normal(size=(16, 24))  # a near twin of the target
    target, contrast = (6, 4, 30, 20), 25.0
    windows = [(45, 35, 79, 59), (0, 30, 40, 60), (48, 38, 76, 58), (30, 0, 60, 30)]
    caps = np.array([0.05, 0.5, 10.0, 3.0])
    got = copy_noise.difference_bounds(noise, target, windows, contrast, caps)
    k, (w, h) = copy_noise.BOUND_CELL, (24, 16)
    offsets = [(cy, cx) for cy in range(0, h - k + 1, k) for cx in range(0, w - k + 1, k)]
    own = np.array([cells[4 + cy, 6 + cx] for cy, cx in offsets])
    order = np.argsort(own)
    scale = k * k / (w * h)
    for (x0, y0, x1, y1), cap, bound in zip(windows, caps, got.tolist(), strict=True):
        limit = (cap * contrast) ** 2 / scale
        sums = []
        for y in range(y0, y1 - h + 1):
            for x in range(x0, x1 - w + 1):
                total = 0.0
                for n in order:
                    gap = cells[y + offsets[n][0], x + offsets[n][1]] - own[n]
                    total += gap * gap
                sums.append(total)
        within = [v for v in sums if v <= limit]
        assert bound == (float(np.sqrt(min(within) * scale)) / contrast if within else cap)
    assert got[0] == caps[0] and got[2] < 1.0  # the twin's window: far past a small cap, close within a large one


def test_the_line_of_each_searched_word_is_the_first_line_holding_it():
    # the words of two lines, each named with its line's text (left to right)
    a, cash = Word("12.50", (10, 10, 50, 20), 0.9, 1, 1), Word("CASH", (10, 40, 50, 50), 0.9, 2, 1)
    words = [Word("TOTAL", (60, 10, 100, 20), 0.9, 1, 1), a, cash, Word("7.00", (60, 40, 90, 50), 0.9, 2, 1)]
    reading = PageReading(1, "ocr", tuple(words), 200, 100)
    lines = copy_move._lines_by_word(reading)
    assert all(lines[w] == copy_move._line_of(reading, w) for w in words)
    assert lines[a] == "12.50 TOTAL" and lines[cash] == "CASH 7.00"


def test_least_difference_is_the_least_blurred_difference_at_the_places(monkeypatch):
    # what copy_move's compare measures at one alignment (RMS of the blurred difference over the
    # box's contrast), at each of the places, the least of them; not screened past SCREEN_PIXELS
    rng = np.random.default_rng(11)
    page = Image.fromarray(rng.integers(60, 250, size=(90, 160)).astype(np.uint8))
    noise = copy_move.page_noise(page)
    box = (12, 9, 42, 23)
    w, h = box[2] - box[0], box[3] - box[1]
    tops = [(70, 5), (3, 60), (120, 70), (100, 40)]
    places = np.array([y * noise.cells.shape[1] + x for x, y in tops], dtype=np.int64)
    contrast = noise.spread("blurred", box)
    own = noise.blurred[box[1]:box[3], box[0]:box[2]].astype(np.float64)
    each = [float(np.sqrt(np.mean((own - noise.blurred[y:y + h, x:x + w]) ** 2))) / contrast for x, y in tops]
    assert copy_noise.least_difference(noise, box, places, contrast) == pytest.approx(min(each), rel=1e-9)
    monkeypatch.setattr(copy_noise, "SCREEN_PIXELS", len(tops) * w * h - 1)
    assert copy_noise.least_difference(noise, box, places, contrast) == 0.0
