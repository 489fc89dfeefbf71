"""Digits of an amount that are pixel copies of digits printed elsewhere on the page.

A careful forger who must change an amount and keep the receipt's own font does not type it: he
cuts the digits he needs out of the receipt's other amounts and pastes them side by side (and
changes one item and every copy of the total that way, so that the arithmetic still holds).
Every digit then matches the page's font perfectly. What gives the paste away is the same thing
:mod:`copy_move` looks for on whole words, one character at a time: print never repeats itself.
Two honest prints of a "5" on one receipt share their shape but not their print grain, scanner
noise and sub-pixel phase; a pasted "5" is its source, pixel for pixel, up to the JPEG re-save.

Per amount word whose ink falls apart into one piece per character (:mod:`amount_print`'s
cutting), each digit's ink box (2 px of paper around it) is compared with every same digit of
a similar size in the page's other amount words (boxes that do not overlap): the lightly blurred
crops are aligned at the best integer shift and subtracted, and the RMS of the difference as a
share of the words' contrast is the digit's *difference* to its closest twin. A digit is a copy
when that difference is at most ``COPY_DIFFERENCE`` and at most ``PAGE_SHARE`` of the page's
median (how closely this page's print repeats its digits: a clean digital render repeats them
all, and then none stands out). A word with ``COPIES`` copied digits or more is flagged.

Measured on the tune half of SROIE (``bench/tampering.py --half tune``, 119 honest scans): the
second-closest digit of any honest word reaches 1.52 times these thresholds at the closest
(thermal print of one till can repeat a digit within 3% of its contrast); glyph-composed
amounts re-saved at JPEG 60-95 lie at 0.2-1.0 of them. Caught: 7 of the 23 consistent edits
(item and totals recomposed) no other detector flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.amount_print import character_cells
from forensics.detectors.page_maps import PageMaps, clip, page_maps, shared_page_maps
from forensics.model import Box, CheckResult, Finding, PageReading, Word, boxes_overlap

#: an amount as a word ends: digits (with thousands commas), a point (or comma), two decimals
AMOUNT = re.compile(r"\d[.,]\d\d\W*$")
#: least ink height (px) of a word, and of a digit, measured
MIN_HEIGHT = 7
#: least contrast (grey levels, 98th percentile of darkening) of a word measured
MIN_CONTRAST = 40
#: darkening, as a share of the word's contrast, above which a pixel is ink
INK_SHARE = 0.5
#: px of paper kept around a digit's ink box
MARGIN = 2
#: crops of two digits may differ by this many px in height or width to be compared
SIZE_SLACK = 2
#: a digit is a copy when its difference to its closest twin is at most this share of the
#: contrast ...
COPY_DIFFERENCE = 0.02
#: ... and at most this share of the page's median difference (how closely its print repeats)
PAGE_SHARE = 0.35
#: fewest digits with a twin a page needs for its median to mean anything
MIN_DIGITS = 4
#: copied digits a word needs to be flagged (one close digit is a coincidence of clean print)
COPIES = 2
#: most amount words compared on a page (pairs grow with the square)
MAX_WORDS = 60


@dataclass(frozen=True)
class Digit:
    """One printed digit: its word, character, crop of grey levels and the word's contrast."""

    word: int
    char: str
    crop: np.ndarray
    contrast: float
    box: Box


def word_digits(maps: PageMaps, word: Word, index: int) -> list[Digit]:
    """The digits of an amount word cut at the gaps between its characters (none when its ink
    does not fall apart into one piece per character)."""
    text = word.text.strip()
    x0, y0, x1, y1 = clip(word.box, maps.gray.shape)
    if not AMOUNT.search(text) or y1 - y0 < MIN_HEIGHT or x1 - x0 < len(text):
        return []
    dark = maps.dark[y0:y1, x0:x1]
    contrast = float(np.percentile(dark, 98))
    if contrast < MIN_CONTRAST:
        return []
    ink = dark > INK_SHARE * contrast
    cells = character_cells(ink, len(text))
    if cells is None:
        return []
    out = []
    for ch, (a, b) in zip(text, cells, strict=True):
        rows = np.flatnonzero(ink[:, a:b].any(axis=1))
        if not ch.isdigit() or rows.size < MIN_HEIGHT:
            continue
        box = clip((x0 + a - MARGIN, y0 + int(rows[0]) - MARGIN, x0 + b + MARGIN, y0 + int(rows[-1]) + 1 + MARGIN),
                   maps.gray.shape)
        crop = cv2.blur(maps.gray[box[1]:box[3], box[0]:box[2]], (3, 3))
        out.append(Digit(index, ch, crop, contrast, box))
    return out


def difference(a: Digit, b: Digit) -> float:
    """RMS of the difference of two digit crops at their best integer alignment, as a share of
    the lesser contrast of their words."""
    h = min(a.crop.shape[0], b.crop.shape[0]) - 2
    w = min(a.crop.shape[1], b.crop.shape[1]) - 2
    if h < MIN_HEIGHT or w < 2:
        return float("inf")
    core = a.crop[1:1 + h, 1:1 + w]
    windows = sliding_window_view(b.crop, (h, w))
    rms = np.sqrt(((windows - core) ** 2).mean(axis=(2, 3)))
    return float(rms.min()) / min(a.contrast, b.contrast)


@dataclass(frozen=True)
class Twin:
    """A digit's closest same digit elsewhere on the page."""

    digit: Digit
    twin: Digit
    difference: float


def closest_twins(digits: list[Digit], words: list[Word]) -> list[Twin]:
    """Per digit, its closest same digit of a similar size in another, non-overlapping word."""
    best: dict[int, Twin] = {}
    by_char: dict[str, list[int]] = {}
    for i, d in enumerate(digits):
        by_char.setdefault(d.char, []).append(i)
    for idx in by_char.values():
        for n, i in enumerate(idx):
            for j in idx[n + 1:]:
                a, b = digits[i], digits[j]
                if a.word == b.word or boxes_overlap(words[a.word].box, words[b.word].box):
                    continue
                if (abs(a.crop.shape[0] - b.crop.shape[0]) > SIZE_SLACK
                        or abs(a.crop.shape[1] - b.crop.shape[1]) > SIZE_SLACK):
                    continue
                diff = difference(a, b)
                for k, mine, other in ((i, a, b), (j, b, a)):
                    if k not in best or diff < best[k].difference:
                        best[k] = Twin(mine, other, diff)
    return list(best.values())


def page_copies(reading: PageReading, image, maps: PageMaps | None = None,  # noqa: ANN001
                ) -> tuple[list[tuple[Word, list[tuple[Twin, Word]]]], float | None]:
    """Words with COPIES or more copied digits, each copy with the word it repeats; and the
    page's median digit difference (None when fewer than MIN_DIGITS digits have a twin)."""
    words = [w for w in reading.words if AMOUNT.search(w.text.strip())][:MAX_WORDS]
    if len(words) < 2:
        return [], None
    maps = maps if maps is not None else page_maps(image)
    digits = [d for i, w in enumerate(words) for d in word_digits(maps, w, i)]
    twins = [t for t in closest_twins(digits, words) if np.isfinite(t.difference)]
    if len(twins) < MIN_DIGITS:
        return [], None
    reference = float(np.median([t.difference for t in twins]))
    by_word: dict[int, list[Twin]] = {}
    for t in twins:
        if t.difference <= COPY_DIFFERENCE and t.difference < PAGE_SHARE * reference:
            by_word.setdefault(t.digit.word, []).append(t)
    return [(words[i], [(t, words[t.twin.word]) for t in ts]) for i, ts in by_word.items()
            if len(ts) >= COPIES], reference


def _finding(reading: PageReading, word: Word, pairs: list[tuple[Twin, Word]], reference: float) -> Finding:
    copies, sources = [t for t, _ in pairs], [s for _, s in pairs]
    said = "; ".join(f"its '{t.digit.char}' repeats the '{t.twin.char}' of '{s.text}' at {tuple(s.box)} "
                     f"within {100 * t.difference:.1f}% of the contrast" for t, s in zip(copies, sources, strict=True))
    return Finding(
        code="glyph_copies", severity="medium", score=0.7,
        message=(f"{len(copies)} digits of the amount '{word.text}' on page {reading.page} are pixel copies of "
                 f"digits printed elsewhere on the page: {said}, while this page's print repeats its digits "
                 f"within {100 * reference:.1f}% at the median. Print never repeats its own grain and "
                 "noise; digits cut out of other lines and pasted do."),
        page=reading.page, box=word.box,
        evidence={"text": word.text, "page_median_difference": round(reference, 4),
                  "source_box": list(sources[0].box),
                  "copies": [{"char": t.digit.char, "box": list(t.digit.box), "source_text": s.text,
                              "source_box": list(s.box), "source_digit_box": list(t.twin.box),
                              "difference": round(t.difference, 4)}
                             for t, s in zip(copies, sources, strict=True)]})


class GlyphCopiesDetector:
    """Amounts whose digits are pixel copies of digits printed elsewhere on the page."""

    name = "glyph_copies"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            flagged, reference = page_copies(reading, image, shared_page_maps(analysis, reading, image))
            if reference is None:
                return [], 0
            return [_finding(reading, w, pairs, reference) for w, pairs in flagged], 1

        return judge_scanned_pages(analysis, per_page, f"fewer than {MIN_DIGITS} digits with a twin to compare")


#: the module-level detector the pipeline runs
detector = GlyphCopiesDetector()
