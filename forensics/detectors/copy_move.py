"""Copy-move within a page: a word whose pixels repeat another word's pixels.

A careful forger does not type a new total in a font: he covers it with the receipt's own paper
and pastes another amount of the same receipt over it, or cuts the digits he needs out of
other lines. Shapes and fonts then match the page perfectly; what gives the paste away is that
print never repeats itself: two honest prints of "12.50" on one receipt have the same glyph
shapes but their own print grain, scanner noise and sub-pixel phase, while a pasted copy is its
source, pixel for pixel (up to the noise of a JPEG re-save after the edit).

Each value-like word (two digits or more) is aligned to every other of similar height (an
amount also to every word OCR read as letters: a pasted amount's source may be print OCR
misread, "SURES" for "27.95"), at the best integer shift of a normalised cross-correlation of
their high-pass residuals (so that blank
paper never matches blank paper), and the two boxes, lightly blurred, are subtracted. The
difference's RMS as a share of the box's contrast (``difference``) separates the two cases
(measured on 70 SROIE receipts: honest repeats of the same text 0.14 and up, 692 pairs; pastes
JPEG re-saved at quality 60-95 at most 0.08, 139 pastes). A digital render repeats its glyphs
exactly too (as does a generated page), so a close pair counts only when the page's other
repeated text (whole words, or three characters two words share) repeats less closely; with
nothing else repeated, only scan noise the two boxes share (away from glyph edges, saturated
white excluded) can tell.

A paste whose source OCR did not read as a word, or which OCR itself read as letters or not at
all, has no word to be paired with: the value words of total lines, the amount column (the last
word of each line, whatever OCR read) and the groups of ink OCR read no word in
(:func:`page_maps.unread_words`) are each searched for on the whole page (tune half: three of six
missed copy-moves found, the nearest honest search at 0.127; alone-rate on honest scans still 0).
A search first bounds, from BOUND_CELL-square cell means, how closely any place of the page can
repeat the box (:func:`close_places`): most searches end there, the others are matched only
around the places a copy could lie in, and a close answer is matched again over the whole page,
so what is found is what a page-wide search finds (`bench/pixel_detectors.py`: identical).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.copy_noise import (
    BOUND_SLACK,
    PageNoise,
    best_near,
    best_place,
    close_places,
    difference_bounds,
    least_difference,
    page_noise,
)
from forensics.detectors.page_maps import (
    UNREAD,
    PageMaps,
    clip,
    clip_all,
    shared_page_maps,
    shared_unread_words,
    spread,
)
from forensics.model import Box, CheckResult, Finding, PageReading, Word, boxes_overlap

#: a word is compared when it has this many digits (amounts, dates, numbers: what forgers move)
MIN_DIGITS = 2
#: most value words compared on one page (pairs grow with the square)
MAX_WORDS = 80
#: heights (px) of two words may differ this much for one to be a paste of the other
HEIGHT_SLACK = 4
#: px around the other word's box searched for the best alignment
SEARCH_MARGIN = 4
#: a pasted word may be this much wider (px) than its source as OCR boxes them ...
WIDTH_SLACK = 8
#: ... and its source up to this many times wider or taller (OCR glued it to a neighbour:
#: "RM15.00", or boxed it with a line above)
SOURCE_WIDER = 3.0
#: characters two words must share (".00", "2.5") for their common part to show how closely
#: this page repeats its print (the reference a close pair is judged against)
REFERENCE_CHARS = 3
#: an amount with two decimals in a word ("27.95", "RM1,234.50")
AMOUNT = re.compile(r"\d[.,]\d\d(?!\d)")
#: a line that states an amount due (where a forger pastes)
TOTAL_LINE = re.compile(r"TOTAL|TOTAI|AMOUNT|\bAMT\b|\bDUE\b|NETT|GRAND|JUMLAH|PAYABLE|BAYAR", re.I)
#: most reference comparisons made for one page
MAX_REFERENCES = 40
#: aligned, blurred difference (RMS over the box's contrast) at or below which a box is a copy
COPY_DIFFERENCE = 0.10
#: a word OCR read as letters is compared with an amount only when their boxes' contrasts (grey-
#: level std) differ by at most this share: the same print boxed alike (a copy's difference is
#: at most COPY_DIFFERENCE of its contrast at its alignment)
MISREAD_CONTRAST = 0.35
#: a pair whose one direction differs by this much (scaled by the boxes' contrasts: twice
#: COPY_DIFFERENCE) is not compared the other way round (a CPU saving, same findings)
REVERSE_SKIP = 0.2
#: a bound is summed only up to this factor past the largest threshold it is compared with
CAP_MARGIN = 1.01
#: least contrast (grey-level std) of a box for its difference to mean anything
MIN_CONTRAST = 8.0
#: least noise pixels two boxes must share for their correlation to mean anything
MIN_NOISE_PIXELS = 120
#: least residual spread (grey levels) of those pixels: a clean digital page carries no noise
MIN_NOISE_STD = 0.8
#: noise correlation from which two boxes share their noise, when nothing else on the page
#: repeats to compare with (honest SROIE repeats: median 0.0; pastes re-saved at JPEG quality
#: 60-80: 0.27-0.43; a JPEG save removes most of a scan's noise, so this is a weak signal)
NOISE_CORRELATION = 0.2
#: noise correlation below which two boxes carry noise of their own: one render printed twice
#: and scanned twice (a generated honest receipt of bench/quality.py: 0.04; the pastes of
#: tests/detectors/test_copy_move.py after a JPEG save at 75: 0.11)
NOISE_INDEPENDENT = 0.06


@dataclass(frozen=True)
class Match:
    """One word whose pixels repeat another's."""

    copy: Word
    source: Word
    #: aligned blurred difference over contrast (0 for an exact copy)
    difference: float
    #: correlation of the two boxes' scan noise, None where they have too little of it
    noise: float | None


def _is_value(word: Word) -> bool:
    return sum(ch.isdigit() for ch in word.text) >= MIN_DIGITS and word.box[3] - word.box[1] >= 8


def _geometry(noise: PageNoise, copy: Word, source: Word) -> tuple[Box, Box, float] | None:
    """The copy's box, the source's search window and the copy's contrast, or None when
    :func:`compare` cannot compare the two (before any alignment)."""
    shape = noise.residual.shape
    m = SEARCH_MARGIN
    return _geometry_at(noise, clip(copy.box, shape),
                        clip((source.box[0] - m, source.box[1] - m, source.box[2] + m, source.box[3] + m), shape))


def _geometry_at(noise: PageNoise, target: Box, window: Box) -> tuple[Box, Box, float] | None:
    """:func:`_geometry` of the copy's box and the source's window, both already clipped."""
    tx0, ty0, tx1, ty1 = target
    w, h = tx1 - tx0, ty1 - ty0
    if w < 8 or h < 8:
        return None
    sx0, sy0, sx1, sy1 = window
    if sx1 - sx0 < w or sy1 - sy0 < h:
        return None  # the source is narrower than the copy: the copy cannot come from it
    # the copy's contrast first: it needs no alignment, and a flat box ends here
    contrast = noise.spread("blurred", (tx0, ty0, tx1, ty1))
    if contrast < MIN_CONTRAST:
        return None
    if noise.spread("residual", (tx0, ty0, tx1, ty1)) < 1e-3 or noise.spread("residual", (sx0, sy0, sx1, sy1)) < 1e-3:
        return None
    return (tx0, ty0, tx1, ty1), (sx0, sy0, sx1, sy1), contrast


def _geometries(noise: PageNoise, target: Box, chosen: list[int], windows: list[Box], span_w: np.ndarray,
                span_h: np.ndarray) -> dict[int, tuple[Box, Box, float]]:
    """:func:`_geometry_at` of the copy's box with each of the ``chosen`` windows that it does
    not refuse, in their order (the checks of the copy's box once, the windows' sizes at once:
    a copy is checked against a hundred windows)."""
    tx0, ty0, tx1, ty1 = target
    w, h = tx1 - tx0, ty1 - ty0
    if w < 8 or h < 8 or not chosen:
        return {}
    wide = np.flatnonzero((span_w[chosen] >= w) & (span_h[chosen] >= h))
    if not wide.size:
        return {}
    contrast = noise.spread("blurred", target)
    if contrast < MIN_CONTRAST or noise.spread("residual", target) < 1e-3:
        return {}
    picked = [chosen[k] for k in wide.tolist()]
    return {j: (target, windows[j], contrast) for j in picked if noise.spread("residual", windows[j]) >= 1e-3}


def compare(noise: PageNoise, copy: Word, source: Word) -> Match | None:
    """How closely ``copy``'s box repeats ``source``'s pixels at their best alignment (None when
    the boxes cannot be compared: too small, too flat, or the source narrower)."""
    geometry = _geometry(noise, copy, source)
    return None if geometry is None else _aligned(noise, copy, source, *geometry)


def _aligned(noise: PageNoise, copy: Word, source: Word, target: Box, window: Box, contrast: float) -> Match | None:
    """:func:`compare` after its checks: align, then measure the difference and shared noise."""
    tx0, ty0, tx1, ty1 = target
    sx0, sy0, sx1, sy1 = window
    w, h = tx1 - tx0, ty1 - ty0
    template = noise.residual[ty0:ty1, tx0:tx1]
    scores = cv2.matchTemplate(noise.residual[sy0:sy1, sx0:sx1], template, cv2.TM_CCOEFF_NORMED)
    _, _, _, (dx, dy) = cv2.minMaxLoc(scores)
    ax0, ay0 = sx0 + dx, sy0 + dy
    if boxes_overlap((ax0, ay0, ax0 + w, ay0 + h), (tx0, ty0, tx1, ty1)):
        return None
    a = noise.blurred[ty0:ty1, tx0:tx1]
    b = noise.blurred[ay0:ay0 + h, ax0:ax0 + w]
    # np.mean((a - b) ** 2)'s float32 sum and division, without its Python layers
    gap = a - b
    np.multiply(gap, gap, out=gap)
    difference = float(np.sqrt(np.add.reduce(gap, None) / gap.size)) / contrast
    both = noise.usable[ty0:ty1, tx0:tx1] & noise.usable[ay0:ay0 + h, ax0:ax0 + w]
    shared: float | None = None
    if np.count_nonzero(both) >= MIN_NOISE_PIXELS:
        na, nb = template[both], noise.residual[ay0:ay0 + h, ax0:ax0 + w][both]
        if spread(na) >= MIN_NOISE_STD and spread(nb) >= MIN_NOISE_STD:
            shared = float(np.corrcoef(na, nb)[0, 1])
    return Match(copy, source, difference, shared)


@dataclass(frozen=True)
class _Far:
    """A pair ruled out by :func:`difference_bounds`: its bound, and its exact difference
    measured only when a later comparison needs it."""

    bound: float
    copy: Word
    source: Word


class _Unmatched:
    """What :func:`search_page` finds when no place on the page can repeat the box as closely
    as a copy (by the cell bounds): a far pair, not aligned."""


#: the one :class:`_Unmatched`
UNMATCHED = _Unmatched()


def search_page(noise: PageNoise, copy: Word, reading: PageReading, *, exact: bool = True,
                ) -> Match | None | _Unmatched:
    """The best pixel match of ``copy``'s box anywhere else on the page (its residual's
    normalised cross-correlation), compared as :func:`compare` compares two words; the source
    is named by the words OCR read there, if any.

    Not ``exact``: a search that cannot end close returns UNMATCHED (or its far Match) without
    the page-wide match. The alignment :func:`compare` makes lies within SEARCH_MARGIN px of the
    place found, and a close one is a place :func:`close_places` keeps; with no such place the
    answer is UNMATCHED. Else the box is matched at full resolution only within SEARCH_MARGIN px
    of the places kept (:func:`best_near`), which hold the page-wide search's place whenever
    that place is close (a far answer is as far either way), and a close answer is searched
    for again over the page (:func:`best_place`). Both leave flat windows out (:func:`masked_best`): their 0/0
    correlation rounded one way locally and the other page-wide, and the local search missed a
    copy the page-wide one found.
    """
    shape = noise.residual.shape
    tx0, ty0, tx1, ty1 = clip(copy.box, shape)
    w, h = tx1 - tx0, ty1 - ty0
    if w < 8 or h < 8 or w >= shape[1] // 2 or h >= shape[0] // 4:
        return None
    template = noise.residual[ty0:ty1, tx0:tx1]
    if spread(template) < 1e-3:
        return None
    contrast = noise.spread("blurred", (tx0, ty0, tx1, ty1))
    if contrast < MIN_CONTRAST:
        return None  # compare would find the copy too flat wherever its source is
    target = (tx0, ty0, tx1, ty1)
    if exact:
        x, y = best_place(noise, template, target)
    else:
        places = close_places(noise, target, contrast, COPY_DIFFERENCE)
        # only a close answer matters here, and it is aligned at one of the places: when none
        # of them is that close, the match around them cannot end close (a CPU saving)
        if places.size and least_difference(noise, target, places, contrast) > COPY_DIFFERENCE * (1 + BOUND_SLACK):
            return UNMATCHED
        near = best_near(noise, template, target, places, SEARCH_MARGIN) if places.size else None
        if near is None:
            return UNMATCHED
        x, y = near
    box = (x, y, x + w, y + h)
    there = [v for v in reading.words if boxes_overlap(v.box, box)]
    text = " ".join(v.text for v in there) if there else UNREAD
    match = compare(noise, copy, Word(text, box, 0.0, copy.block, copy.line))
    if not exact and match is not None and match.difference <= COPY_DIFFERENCE:
        return search_page(noise, copy, reading)
    return match


def page_matches(reading: PageReading, image, unread: list[Word] | None = None,  # noqa: ANN001
                 maps: PageMaps | None = None) -> tuple[list[Match], int]:
    """The value words of a page that are pixel copies of another (closest first, each pair
    once, the word on a total line or else the lower one named the copy), and how many pairs
    were compared. ``unread``: groups of ink OCR read no word in (page_maps.unread_words),
    searched for on the page as the amount column is; ``maps``: the page's shared maps."""
    words = [w for w in reading.words if _is_value(w)][:MAX_WORDS]
    if len(words) < 2:
        return [], 0
    # the source of a pasted amount may be print OCR read as letters ("SURES" for "27.95")
    misread = [w for w in reading.words if not _is_value(w) and len(w.text.strip()) >= MIN_DIGITS + 1
               and w.box[3] - w.box[1] >= 8][:MAX_WORDS]
    noise = page_noise(image, maps)
    close: list[Match] = []
    far: dict[tuple[Box, Box], float | _Far] = {}
    judged = 0
    candidates = words + misread
    boxes = np.array([c.box for c in candidates], dtype=np.int64).reshape(-1, 4)
    heights, widths = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    # made once a page, not once a pair: each box clipped to the page, each source's search
    # window (clipped as _geometry clips it) and each box's contrast (_contrast)
    targets = [tuple(b) for b in clip_all(boxes, noise.residual.shape).tolist()]
    spans = clip_all(boxes, noise.residual.shape, SEARCH_MARGIN)
    windows = [tuple(b) for b in spans.tolist()]
    span_w, span_h = spans[:, 2] - spans[:, 0], spans[:, 3] - spans[:, 1]

    def contrast(j: int) -> float:  # measured on first use, kept by PageNoise.spread
        return noise.spread("blurred", targets[j])

    for i, copy in enumerate(words):
        x0, y0, x1, y1 = copy.box
        h, w = y1 - y0, x1 - x0
        # sources of a size the copy may come from, not overlapping it (amounts also among the
        # words read as letters), chosen for all candidates at once
        fits = ((heights >= h - HEIGHT_SLACK) & (heights <= max(h + HEIGHT_SLACK, SOURCE_WIDER * h))
                & (widths >= w - WIDTH_SLACK) & (widths <= max(w + WIDTH_SLACK, SOURCE_WIDER * w))
                & ~((boxes[:, 0] < x1) & (x0 < boxes[:, 2]) & (boxes[:, 1] < y1) & (y0 < boxes[:, 3])))
        fits[i] = False
        if not AMOUNT.search(copy.text):
            fits[len(words):] = False
        chosen = np.flatnonzero(fits).tolist()
        # what compare checks before aligning, and the bound of every pair it would align whose
        # window cannot reach the copy's box (an alignment overlapping it gives None)
        geometries = _geometries(noise, targets[i], chosen, windows, span_w, span_h)
        boundable = [j for j in geometries if not boxes_overlap(windows[j], targets[i])]
        # past these caps only "far" matters: the pair's own skip, and its reverse's (over
        # the two contrasts), each against a bound; a margin keeps a capped bound past both
        c_copy = contrast(i)
        caps = [max(COPY_DIFFERENCE, REVERSE_SKIP * max(contrast(j), 1e-6) / c_copy
                    if j < len(words) else 0.0) * (1 + BOUND_SLACK) * CAP_MARGIN for j in boundable]
        bounds = dict(zip(boundable, difference_bounds(
            noise, targets[i], [geometries[j][1] for j in boundable],
            c_copy, np.array(caps)).tolist(), strict=True))
        for j in chosen:
            source = candidates[j]
            if j >= len(words) and abs(contrast(j) - c_copy) > MISREAD_CONTRAST * c_copy:
                continue  # a word read as letters is the source only if it is print of that contrast
            # the reverse of a pair already compared far apart is as far apart, up to the two
            # boxes' contrasts (the difference is over the copy's): not compared again
            reverse = far.get((source.box, copy.box))
            if isinstance(reverse, _Far):
                # skipped for sure when even the bound is far enough; else as exactly as before
                if reverse.bound * contrast(j) / max(c_copy, 1e-6) > REVERSE_SKIP * (1 + BOUND_SLACK):
                    judged += 1
                    continue
                measured = compare(noise, reverse.copy, reverse.source)
                assert measured is not None  # _Far is made only for pairs compare can align
                reverse = far[(source.box, copy.box)] = measured.difference
            if reverse is not None and reverse * contrast(j) / max(c_copy, 1e-6) > REVERSE_SKIP:
                judged += 1
                continue
            if j not in geometries:
                continue
            # a pair whose cells already differ by more than a copy can is far apart: counted as
            # compare would count it, its exact difference measured only if its reverse asks
            if bounds.get(j, 0.0) > COPY_DIFFERENCE * (1 + BOUND_SLACK):
                judged += 1
                far[(copy.box, source.box)] = _Far(bounds[j], copy, source)
                continue
            match = _aligned(noise, copy, source, *geometries[j])
            if match is None:
                continue
            judged += 1
            if match.difference <= COPY_DIFFERENCE:
                close.append(match)
            else:
                far[(copy.box, source.box)] = match.difference
    # an amount whose source OCR did not read as a word (misread, glued to its label, missed),
    # or a paste OCR read as letters: search the whole page for it
    copies = {m.copy.box for m in close} | {m.source.box for m in close}
    for copy in [*searched_words(reading, words), *(unread or [])]:
        # a box of a pair already found is not searched again (its unread twin found it)
        if not any(boxes_overlap(copy.box, b) for b in copies):
            # once a pair is judged, a search only matters if it ends close: the cell bounds
            # may settle it (a page nothing was judged on yet searches exactly, for its count)
            match = search_page(noise, copy, reading, exact=not judged)
            if isinstance(match, _Unmatched):
                judged += 1
            elif match is not None:
                judged += 1
                if match.difference <= COPY_DIFFERENCE:
                    close.append(match)
                    copies |= {match.copy.box, match.source.box}
    out: list[Match] = []
    seen: set[frozenset[Box]] = set()
    for m in sorted(close, key=lambda m: m.difference):
        pair = frozenset((m.copy.box, m.source.box))
        if pair in seen:
            continue
        seen.add(pair)
        if not _stands_out(m, noise, words):
            continue
        if _is_copy_rather(m.source, m.copy, reading):
            m = Match(m.source, m.copy, m.difference, m.noise)
        out.append(m)
    return out, judged


def searched_words(reading: PageReading, words: list[Word]) -> list[Word]:
    """The words searched for anywhere on the page: the value words of total lines, and the
    amount column (the last word of each line, of MIN_DIGITS + 1 characters or more: an amount,
    or a pasted amount OCR read as letters, "Bod" for "5.30"), whatever its line says; each once."""
    line_of = _lines_by_word(reading)
    out = [w for w in words if TOTAL_LINE.search(line_of.get(w, w.text))]
    for line in reading.lines():
        last = line.words[-1] if line.words else None
        if (last is not None and len(last.text.strip()) >= MIN_DIGITS + 1 and last.box[3] - last.box[1] >= 8
                and last not in out):
            out.append(last)
    return out[:MAX_WORDS]


def _is_copy_rather(a: Word, b: Word, reading: PageReading) -> bool:
    """Which of two words that are one pixel copy is the paste: the one on a total line (what
    forgers change), else the lower one (the total is printed below the amounts it is taken
    from)."""
    total_a, total_b = (bool(TOTAL_LINE.search(_line_of(reading, w))) for w in (a, b))
    if total_a != total_b:
        return total_a
    return (a.box[1], a.box[0]) > (b.box[1], b.box[0])


def _stands_out(m: Match, noise: PageNoise, words: list[Word]) -> bool:
    """Whether a close pair is a copy rather than how this page prints: not two boxes with noise
    of their own, and the page's other repeated text (outside the pair) repeats far less
    closely, or, with nothing else repeated, the two boxes share their scan noise."""
    if m.noise is not None and m.noise < NOISE_INDEPENDENT:
        return False
    references, copy_like = page_repeats(noise, [w for w in words if w.box not in (m.copy.box, m.source.box)])
    if copy_like:
        return False  # this page repeats its own text as closely: a digital render
    if references:
        return True
    # nothing else repeats: only noise the two boxes share tells a paste from one render
    # printed twice, each with its own noise
    return m.noise is not None and m.noise >= NOISE_CORRELATION


def _part(word: Word, start: int, n: int) -> Word:
    """The box of ``n`` characters of ``word`` from ``start``, by an even share of its width
    (receipt print is mostly monospaced; the alignment search absorbs the rest)."""
    x0, y0, x1, y1 = word.box
    step = (x1 - x0) / max(len(word.text), 1)
    return Word(word.text[start:start + n], (int(x0 + step * start), y0, int(round(x0 + step * (start + n))), y1), 1.0)


def page_repeats(noise: PageNoise, words: list[Word]) -> tuple[int, bool]:
    """How this page repeats its own print, from pieces of text printed twice (a whole word, or
    three characters two words share): how many were compared, and whether any repeats as
    closely as a copy (a digital render does; a scan never does)."""
    n = 0
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            if n >= MAX_REFERENCES:
                return n, False
            if abs((a.box[3] - a.box[1]) - (b.box[3] - b.box[1])) > HEIGHT_SLACK or boxes_overlap(a.box, b.box):
                continue
            if a.text == b.text:
                pa, pb = a, b
            else:
                k = next((k for k in range(len(a.text) - REFERENCE_CHARS + 1)
                          if a.text[k:k + REFERENCE_CHARS] in b.text), None)
                if k is None:
                    continue
                piece = a.text[k:k + REFERENCE_CHARS]
                pa, pb = _part(a, k, REFERENCE_CHARS), _part(b, b.text.index(piece), REFERENCE_CHARS)
            r = compare(noise, pa, pb)
            if r is None:
                continue
            n += 1
            if r.difference <= COPY_DIFFERENCE:
                return n, True
    return n, False


def _lines_by_word(reading: PageReading) -> dict[Word, str]:
    """The text of each word's line (of the first line holding an equal word, as :func:`_line_of`
    finds it): made once for the many words :func:`searched_words` asks about."""
    out: dict[Word, str] = {}
    for line in reading.lines():
        text = line.text
        for w in line.words:
            out.setdefault(w, text)
    return out


def _line_of(reading: PageReading, word: Word) -> str:
    for line in reading.lines():
        if any(w == word for w in line.words):
            return line.text
    return word.text


def _called(reading: PageReading, word: Word, *, line: bool) -> str:
    """A word as a finding names it: its text and box (and line), or where print OCR did not read."""
    if word.text == UNREAD:
        return f"{UNREAD} at {tuple(word.box)}"
    return f"'{word.text}' at {tuple(word.box)}" + (f" on the line {_line_of(reading, word)!r}" if line else "")


def _finding(reading: PageReading, m: Match) -> Finding:
    line = _line_of(reading, m.source)
    return Finding(
        code="copy_move",
        severity="high",
        score=0.9,
        message=(f"{_called(reading, m.copy, line=False)} on page {reading.page} is a pixel copy of "
                 f"{_called(reading, m.source, line=True)}: the two boxes are the same pixels "
                 f"(they differ by {m.difference:.2f} of their contrast; two prints of one text on "
                 f"a scan differ by more than {COPY_DIFFERENCE:.2f}), which separate prints never are."),
        page=reading.page,
        box=m.copy.box,
        evidence={"text": m.copy.text, "source_text": m.source.text, "source_box": list(m.source.box),
                  "source_line": line, "difference": round(m.difference, 3),
                  "noise_correlation": None if m.noise is None else round(m.noise, 3)},
    )


class CopyMoveDetector:
    """Words whose pixels, noise included, repeat another word of the same page."""

    name = "copy_move"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            maps = shared_page_maps(analysis, reading, image)
            matches, n = page_matches(reading, image, shared_unread_words(analysis, reading, maps), maps)
            return [_finding(reading, m) for m in matches], n

        return judge_scanned_pages(analysis, per_page, "no two value words with scan noise to compare "
                                                       "(clean digital page or too few numbers)")


#: the module-level detector the pipeline runs
detector = CopyMoveDetector()
