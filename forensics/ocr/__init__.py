"""OCR: one interface, engines behind it.

:func:`read_document` turns a :class:`~forensics.model.Document` into a
:class:`~forensics.model.Reading`: PDF pages with a text layer use the layer (no OCR); every
other page is OCR'd once, yielding words with boxes, confidences and line structure.

Engines (``FORENSICS_OCR_ENGINE``): ``tesserocr`` (one reused API object per thread, no process
start-up: the fast path) when importable, else ``pytesseract`` (the Tesseract CLI). Tesseract is
reached only through this package.

Measured and rejected (before :func:`recover_lines`): re-reading low-confidence lines one at a time
and keeping, per line, the reading with the higher confidence. Each (block, line) whose mean word
confidence was below a threshold was cropped (margin 0.25 or 0.5 of the line height), resampled,
read again with psm 7 (or 13) and swapped in when its confidence beat the page reading's and it
kept most characters. Field Hmean on the 220 SROIE receipts (bench/extraction.py, 0.640 without
re-reading) stayed within 0.633-0.645 over every variant: lines under 0.70 (a third of all lines)
at 1x 0.640, 2x 0.645, text height 35 px 0.635, psm 13 at 35 px 0.638; lines under 0.95 with gains
of 0-0.2, word-mean, character-weighted or minimum confidence, or a vocabulary-word count as the
arbiter, 0.633-0.645; receipt numbers moved from 0.646 to between 0.590 and 0.671. Checked line by
line against the data set's transcribed lines, the more confident reading is the better one barely
more often than the worse (2x psm 7, lines under 0.95: 492 better, 376 worse of 2064 swapped), and
even a per-line oracle choosing between the page and one re-reading (1x-3x psm 7, 2x psm 13) would
have put the company in the text of only 124-132 receipts instead of 114 and the address in 82-83
instead of 68. The re-reads cost 0.24-0.35 s a receipt (lines under 0.70) to 0.7-1.4 s (under
0.95), against 0.48 s for the page itself (two processes on two cores). Swapping single words
(one-to-one box overlap, the more confident word kept) instead of whole lines: 0.639-0.645. A
per-word majority vote of the page reading and several re-readings does help, but only at a cost
out of proportion: five re-readings (1x, 2x and 3x psm 7, 2x psm 13, 2x with margin 0.5) of every
line under 0.95 gave 0.661 (receipt numbers 0.671) for about 5 s more OCR a receipt, ten times the
page's; two to four re-readings 0.648-0.655 (1.7-4.5 s); with only the lines under 0.80 or 0.70
re-read, 0.643-0.653.
"""

from __future__ import annotations

import os
import time

import numpy as np

from forensics.errors import MissingDependency, TooExpensive
from forensics.grey_levels import grey_counts, order_stats
from forensics.model import Document, PageReading, Reading, Word
from forensics.ocr.engines import OcrEngine, PytesseractEngine, TesserocrEngine
from forensics.ocr.preprocess import boxes_to_original, prepare_page
from forensics.settings import Settings

# OpenMP threads inside Tesseract fight each other on small machines (3x slower measured on
# 2 cores); set before the engine library is loaded by anyone.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

__all__ = ["OcrEngine", "get_engine", "read_box", "read_document", "read_page", "read_page_box",
           "recover_lines"]

_engines: dict[tuple[str, str, float], OcrEngine] = {}


def get_engine(settings: Settings) -> OcrEngine:
    """The engine the settings ask for, created once per process and reused."""
    key = (settings.ocr_engine, settings.ocr_langs, settings.ocr_timeout)
    engine = _engines.get(key)
    if engine is None:
        engine = _make_engine(settings)
        _engines[key] = engine
    return engine


def _make_engine(settings: Settings) -> OcrEngine:
    choice = settings.ocr_engine
    if choice in ("auto", "tesserocr"):
        try:
            return TesserocrEngine(settings.ocr_langs, timeout=settings.ocr_timeout)
        except ImportError:
            if choice == "tesserocr":
                raise MissingDependency(
                    "FORENSICS_OCR_ENGINE=tesserocr but tesserocr is not installed; "
                    "run `pip install tesserocr` or use FORENSICS_OCR_ENGINE=pytesseract."
                ) from None
    if choice not in ("auto", "tesserocr", "pytesseract"):
        raise MissingDependency(f"Unknown FORENSICS_OCR_ENGINE {choice!r}; use auto, tesserocr or pytesseract.")
    return PytesseractEngine(settings.ocr_langs, timeout=settings.ocr_timeout)


#: a page that yields fewer words than this is read a second time inside its edge frame
FEW_WORDS = 20


def read_page(page_number: int, image, settings: Settings) -> PageReading:  # noqa: ANN001
    """OCR one page image; word boxes are in the original image's pixel coordinates."""
    engine = get_engine(settings)
    started = time.perf_counter()
    prepared = prepare_page(image)
    first = engine.words(prepared.image)
    first += recover_lines(prepared.image, first, engine)
    words = boxes_to_original(first, prepared, image.width, image.height)
    if len(words) < FEW_WORDS:
        # a page that reads (almost) nothing: a dark frame along its edges may have thrown
        # Tesseract's resolution estimate; read it again inside the frame, keep the better
        trimmed = prepare_page(image, trim=True)
        if trimmed.box is not None:
            again = boxes_to_original(engine.words(trimmed.image), trimmed, image.width, image.height)
            if len(again) > len(words):
                words = again
    return PageReading(
        page=page_number,
        source="ocr",
        words=tuple(words),
        width=image.width,
        height=image.height,
        engine=engine.name,
        seconds=round(time.perf_counter() - started, 3),
    )


def read_document(document: Document, settings: Settings) -> Reading:
    """Read every page: the PDF text layer where there is one, OCR everywhere else.

    Raises :class:`~forensics.errors.TooExpensive` once the reading has taken longer than
    ``settings.document_timeout`` (checked between pages; each page is bounded by
    ``ocr_timeout``), so one document cannot hold a worker for ever."""
    started = time.perf_counter()
    pages: list[PageReading] = []
    for page in document.pages:
        spent = time.perf_counter() - started
        if spent > settings.document_timeout:
            raise TooExpensive(
                f"Reading {len(pages)} of {len(document.pages)} pages took {spent:.0f} s; one document may "
                f"take at most {settings.document_timeout:g} s (FORENSICS_DOCUMENT_TIMEOUT)."
            )
        if page.text_words:
            pages.append(
                PageReading(
                    page=page.number,
                    source="text_layer",
                    words=tuple(page.text_words),
                    width=page.width,
                    height=page.height,
                    engine="pdf",
                )
            )
        elif page.image is not None:
            pages.append(read_page(page.number, page.image, settings))
    return Reading(tuple(pages))


#: Tesseract's "single text line" segmentation
SINGLE_LINE_PSM = 7
#: a box read again on its own gets this share of its height as margin, and this scale
READ_BOX_MARGIN, READ_BOX_SCALE = 0.3, 1.5


def read_box(image, box: tuple[int, int, int, int], settings: Settings) -> str:  # noqa: ANN001
    """A second, independent reading of one box of a page (with a margin, scaled up, read as a
    single line): the words' text joined by spaces, "" when nothing was read. A detector that
    doubts the page reading of a value asks whether a second reading agrees."""
    return " ".join(w.text for w in read_box_words(image, box, get_engine(settings)))


def read_box_words(image, box: tuple[int, int, int, int], engine: OcrEngine) -> list[Word]:  # noqa: ANN001
    """The words :func:`read_box` reads in one box (boxes in the crop's pixels, not the page's)."""
    x0, y0, x1, y1 = box
    pad = round((y1 - y0) * READ_BOX_MARGIN)
    left, top = max(0, x0 - pad), max(0, y0 - pad)
    right, bottom = min(image.width, x1 + pad), min(image.height, y1 + pad)
    if right - left < 2 or bottom - top < 2:
        return []  # an empty box, or one off the page
    crop = image.crop((left, top, right, bottom)).convert("L")
    crop = crop.resize((round(crop.width * READ_BOX_SCALE), round(crop.height * READ_BOX_SCALE)))
    return engine.words(crop, psm=SINGLE_LINE_PSM)


def read_page_box(document: Document, page_no: int | None, box, settings: Settings) -> str:  # noqa: ANN001
    """:func:`read_box` on page ``page_no`` of ``document``: "" when that page has no image (a
    text-layer PDF page) or there is no box. How a detector reads a field's box a second time."""
    page = next((p for p in document.pages if p.number == page_no), None)
    if page is None or page.image is None or not box:
        return ""
    return read_box(page.image, tuple(box), settings)


#: a pixel is ink when it is this much darker than the page's paper (its 90th percentile grey)
LINE_INK_CONTRAST = 80
#: a pixel row holds text when at least this share of its pixels (and 3 or more) are ink
LINE_INK_SHARE = 0.01
#: a band of text rows that no word covers is re-read only when its height is within these
#: multiples of the median word height (thinner is a rule or speckle, taller is a picture)
LINE_HEIGHT_RANGE = (0.6, 2.5)
#: a recovered line is kept when its best word (2+ letters or digits) reaches this confidence;
#: its words below RECOVERED_WORD are dropped (the ends of a re-read band are often noise)
RECOVERED_BEST = 0.8
RECOVERED_WORD = 0.4
#: at most this many bands are re-read on one page
MAX_RECOVERED = 12


def recover_lines(image, words: list[Word], engine: OcrEngine) -> list[Word]:  # noqa: ANN001
    """Words of printed lines the page reading skipped.

    Tesseract's page segmentation sometimes drops a whole printed line (a line of a different
    font or weight from its neighbours, as a repainted one is, or a faint total line): rows of
    ink that no word's box covers. Each such band of rows, of about a text line's height, is
    read again on its own as a single line (psm 7) and kept when it reads as text, as a new
    block after the page's own. It also leaves numbers out of lines it did read: runs of ink on
    a read line's rows that no word covers are read again, and the numbers found there join
    that line. Words come back in ``image``'s coordinates.

    Measured on the 220 SROIE receipts (bench/extraction.py --direct): field Hmean 0.640 ->
    0.646 (company 0.523 -> 0.536, date 0.782 -> 0.795, total 0.800 -> 0.805), receipt numbers
    read exactly 0.646 -> 0.665. Rejected: looser thresholds (best word 0.7, ink share 0.005:
    Hmean 0.645); putting back words of letters too (company and address lost, Hmean 0.639).
    """
    if len(words) < 3:
        return []
    grey = np.asarray(image.convert("L") if image.mode != "L" else image, dtype=np.uint8)
    height, width = grey.shape
    ink = grey < _paper_level(grey) - LINE_INK_CONTRAST  # darker than the paper
    ink_rows = np.count_nonzero(ink, axis=1) >= max(3, LINE_INK_SHARE * width)
    covered = np.zeros(height, dtype=bool)
    heights = []
    for w in words:
        covered[max(0, w.box[1]):w.box[3]] = True
        heights.append(w.box[3] - w.box[1])
    line_h = float(np.median(heights))
    lo, hi = LINE_HEIGHT_RANGE[0] * line_h, LINE_HEIGHT_RANGE[1] * line_h
    bands: list[tuple[int, int]] = []
    free = ink_rows & ~covered
    y = 0
    while y < height:
        if not free[y]:
            y += 1
            continue
        start = y
        while y < height and free[y]:
            y += 1
        # a band touching the page's edge is the scanner bed or a cut line, not a skipped line
        if start > 0 and y < height and lo <= y - start <= hi:
            bands.append((start, y))
    next_block = max(w.block for w in words) + 1
    found: list[Word] = []
    pad = max(2, round(line_h * 0.25))
    for y0, y1 in bands[:MAX_RECOVERED]:
        read = _reread(image, (0, max(0, y0 - pad), width, min(height, y1 + pad)), engine)
        if read:
            found += [Word(w.text, w.box, w.confidence, block=next_block, line=1) for w in read]
            next_block += 1
    return found + _line_ends(image, ink, words, line_h, engine)


def _paper_level(grey: np.ndarray) -> float:
    """The page's 90th-percentile grey level, as ``np.percentile`` gives it: from a histogram
    of the 256 levels when the two ranks it interpolates hold one level (nearly always, and
    then the interpolation is that level), instead of a partition of every pixel."""
    rank = 0.9 * (grey.size - 1)
    lo, hi = order_stats(grey_counts(grey), (int(rank), min(int(rank) + 1, grey.size - 1)))
    return float(lo) if lo == hi else float(np.percentile(grey, 90))


def _reread(image, box: tuple[int, int, int, int], engine: OcrEngine) -> list[Word]:  # noqa: ANN001
    """The words of one box read as a single line, in page coordinates, or [] when the best
    word is not clearly text."""
    crop = image.crop(box)
    read = [w for w in engine.words(crop, psm=SINGLE_LINE_PSM)
            if w.text.strip() and w.confidence >= RECOVERED_WORD]
    best = max((w.confidence for w in read if sum(c.isalnum() for c in w.text) >= 2), default=0.0)
    if best < RECOVERED_BEST:
        return []
    x, y = box[0], box[1]
    return [Word(w.text, (w.box[0] + x, w.box[1] + y, w.box[2] + x, w.box[3] + y), w.confidence)
            for w in read]


def _line_ends(image, ink, words: list[Word], line_h: float, engine: OcrEngine) -> list[Word]:  # noqa: ANN001
    """Words of a read line that the reading left out: runs of ink on the line's rows, at least
    a line height wide, that no word's box covers, read again and joined to the line."""
    from collections import defaultdict

    lines: dict[tuple[int, int], list[Word]] = defaultdict(list)
    for w in words:
        lines[(w.block, w.line)].append(w)
    height, width = ink.shape
    gap = round(line_h * 0.3)
    boxes = np.array([w.box for w in words], dtype=np.int64).reshape(-1, 4)
    found: list[Word] = []
    tried = 0
    for (block, line), ws in sorted(lines.items(), key=lambda kv: min(w.box[1] for w in kv[1])):
        top, bottom = min(w.box[1] for w in ws), max(w.box[3] for w in ws)
        if bottom - top > LINE_HEIGHT_RANGE[1] * line_h:
            continue
        cols = ink[top:bottom].sum(axis=0) >= 2
        # any word on these rows, of this line or a neighbour read apart
        on_rows = np.minimum(bottom, boxes[:, 3]) - np.maximum(top, boxes[:, 1]) > 0.5 * (bottom - top)
        for x0, x1 in boxes[on_rows][:, [0, 2]].tolist():
            cols[max(0, x0 - gap):x1 + gap] = False
        for start, end in _ink_runs(cols, line_h):
            if end - start + 1 < line_h or tried >= MAX_RECOVERED:
                continue
            tried += 1
            pad = max(2, round(line_h * 0.25))
            box = (max(0, start - pad), max(0, top - pad), min(width, end + 1 + pad), min(height, bottom + pad))
            # numbers only (words added to a name or an address line cost more than they gave),
            # and not a word read already on these rows (its box may sit on a neighbour line)
            found += [Word(w.text, w.box, w.confidence, block=block, line=line)
                      for w in _reread(image, box, engine) if any(c.isdigit() for c in w.text)
                      and not any(o.text == w.text and o.box[1] < w.box[3] and w.box[1] < o.box[3]
                                  for o in words)]
    return found


def _ink_runs(cols: np.ndarray, line_h: float) -> list[tuple[int, int]]:
    """(first, last) column of each run of ink in ``cols``, runs separated by fewer than
    ``line_h`` blank columns joined: word spaces stay inside a run."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], cols.astype(np.int8), [0])))).tolist()
    out: list[tuple[int, int]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if out and a - 1 - out[-1][1] < line_h:
            out[-1] = (out[-1][0], b - 1)
        else:
            out.append((a, b - 1))
    return out
