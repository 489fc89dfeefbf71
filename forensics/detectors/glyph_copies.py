"""Glyph copies: an amount whose characters are pixel copies of characters printed elsewhere.

A careful forger who needs a number the receipt does not print composes it from the receipt's
own digits: each character cut out of another amount and pasted into the total, on paper cloned
from the page. The amount as a whole repeats nothing (so :mod:`copy_move`, which compares whole
words, cannot see it), and its font, ink and noise are the page's own. What gives it away is
what gives a pasted word away, one character at a time: two honest prints of a "5" have the
same shape but their own print grain and sub-pixel phase, while a pasted "5" is its source,
pixel for pixel, up to the noise of the JPEG re-save after the edit.

Every word with a digit is cut into character pieces (its ink's column runs, each trimmed to its
ink rows). Each piece of a judged word (:func:`judged_words`: words with a digit, an amount OCR
split in two, the last word of a line) is aligned (the least squared difference of the lightly
blurred grey levels, within a few px) with every piece of about its size and ink in other words;
its difference is the RMS of the aligned difference over the piece's contrast. A word is a
composite of copies when at least MIN_COPIED of its pieces lie within COPY_DIFFERENCE of a piece
elsewhere, or MIN_EXACT within EXACT_DIFFERENCE, and half of its pieces within COPY_DIFFERENCE.
A word whose copied pieces all come from one other word is that word pasted whole (OCR boxed the
two apart, or read one as letters): the finding names the paste as :mod:`copy_move` does.

A digital render repeats its glyphs exactly too (so does a generated page); a copy counts only
when the page's other pieces repeat their own kind far less closely: of the pieces outside the
composites, those with a comparable mate elsewhere must number MIN_REFERENCES and at most
MAX_CLOSE_SHARE of them may be as close as a copy.

Measured alone on the tune half of SROIE (``bench/tampering.py --half tune``, 119 honest scans):
no honest word has more than one piece within COPY_DIFFERENCE of a mate, and no honest piece
lies within EXACT_DIFFERENCE of one (the nearest honest pair: 0.089); the alone-rate is 0. The
forger's pasted pieces, re-saved at JPEG quality 60-95, lie at 0.006-0.06 (a few at up to 0.1,
missed). About 0.08 CPU s an honest page (a template match per judged piece against all its
mates at once, on a strip; pieces of a word stop being compared once it cannot be a composite).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.copy_move import TOTAL_LINE
from forensics.detectors.page_maps import (
    UNREAD,
    PageMaps,
    clip_all,
    runs,
    shared_page_maps,
    shared_unread_words,
    spread,
    unread_words,
    word_ink,
)
from forensics.model import Box, CheckResult, Finding, PageReading, Word, union_box

#: an amount with two decimals in a word ("27.95", "RM1,234.50"): what a forger recomposes
AMOUNT = re.compile(r"\d[.,]\d\d(?!\d)")
#: least box height (px) of a word cut into pieces
MIN_WORD_HEIGHT = 8
#: least contrast (grey levels, 98th percentile of darkening) of a word cut into pieces
MIN_CONTRAST = 40
#: darkening, as a share of the word's contrast, above which a pixel is ink
INK_SHARE = 0.5
#: least ink width and height (px) of a piece: a point or a comma says nothing
MIN_PIECE_WIDTH, MIN_PIECE_HEIGHT = 3, 7
#: least grey-level std of a piece for its difference to mean anything
MIN_PIECE_CONTRAST = 8.0
#: two pieces are compared when their ink boxes differ by at most this many px each way ...
SIZE_SLACK = 1
#: ... and their ink pixel counts by at most this share (tune half, the copies found at twice
#: these slacks: 98% within 1 px, 95% within 0.09 of the ink; a word needs only three)
INK_SLACK = 0.2
#: px around the other piece searched for the best alignment
SEARCH_MARGIN = 2
#: sigma (px) of the blur before pieces are subtracted (JPEG noise of the re-save aside)
BLUR_SIGMA = 1.0
#: aligned, blurred difference (RMS over the piece's contrast) at or below which a piece is a
#: copy. Tune half: honest amounts' pieces have their nearest mate at 0.089 at the least; pieces
#: pasted by the forger and re-saved at JPEG quality 60-95 mostly at 0.006-0.06 (a few to 0.1).
COPY_DIFFERENCE = 0.08
#: copied pieces a word needs (and at least half of its pieces) to be a composite of copies:
#: tune half, honest words have at most one piece within COPY_DIFFERENCE of a mate
MIN_COPIED = 3
#: ... or this many within EXACT_DIFFERENCE (with half within COPY_DIFFERENCE): tune half, no
#: honest piece has a mate within 0.06, the nearest honest pair lies at 0.089
MIN_EXACT = 2
EXACT_DIFFERENCE = 0.06
#: a piece outside the composites has a comparable mate (one of its kind) when its nearest
#: piece differs by at most this much ...
COMPARABLE = 0.5
#: ... the page needs this many such pieces to show how closely it repeats its print ...
MIN_REFERENCES = 8
#: ... and at most this share of them may be as close as a copy (a digital render: nearly all)
MAX_CLOSE_SHARE = 0.2
#: the page's genuine amounts must repeat their pieces at least this far apart (median): a copy
#: (at most COPY_DIFFERENCE) is then at most half of what the page's own print repeats at. Tune
#: half: pages with a forger's composites 0.19 to 0.46 (median 0.32); generated receipts
#: (fixtures' renders, lightly noised) 0.12-0.13
REPEAT_MEDIAN = 2 * COPY_DIFFERENCE
#: most pieces of a page measured for that (a sample spread over the page: a cost bound)
MAX_REFERENCES = 40
#: most words cut into pieces on a page (cost bound)
MAX_WORDS = 200


@dataclass(frozen=True)
class Piece:
    """One character-sized piece of ink of a word."""

    word: int
    box: Box
    ink: int


@dataclass(frozen=True)
class Composite:
    """A word whose pieces are copies of pieces elsewhere on the page."""

    word: Word
    pieces: int
    #: (piece box, difference, source piece box, source word) of each copied piece
    copies: tuple[tuple[Box, float, Box, Word], ...]


#: least windows a strip is filled with at once rather than one by one (below it the copy of
#: each window costs less than building the views)
STRIP_AT_ONCE = 8


def word_pieces(maps: PageMaps, word: Word, index: int) -> list[Piece]:
    """The character pieces of ``word``: column runs of its ink, each trimmed to its ink rows
    (None of them when the word is too small or faint)."""
    measured = word_ink(maps, word.box, min_width=MIN_PIECE_WIDTH, min_height=MIN_WORD_HEIGHT,
                        min_contrast=MIN_CONTRAST, ink_share=INK_SHARE)
    if measured is None:
        return []
    (x0, y0, _x1, _y1), ink = measured.box, measured.ink
    out = []
    for a, b in runs(ink.any(axis=0)):
        rows = np.flatnonzero(ink[:, a:b].any(axis=1))
        if b - a < MIN_PIECE_WIDTH or rows.size == 0 or rows[-1] + 1 - rows[0] < MIN_PIECE_HEIGHT:
            continue
        out.append(Piece(index, (x0 + a, y0 + int(rows[0]), x0 + b, y0 + int(rows[-1]) + 1),
                         int(ink[:, a:b].sum())))
    return out


def search_windows(boxes: list[Box] | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The boxes grown by SEARCH_MARGIN px and clipped to the page: an (N, 4) int64 array."""
    return clip_all(boxes, shape, SEARCH_MARGIN)


def nearest(blurred: np.ndarray, piece: Piece, others: list[Piece],
            windows: np.ndarray | None = None) -> tuple[float, int, Box] | None:
    """The piece of ``others`` that ``piece`` differs least from at its best alignment (within
    SEARCH_MARGIN px): (the difference as a share of the piece's contrast, its index in
    ``others``, the aligned box); None when the piece is too flat or nothing fits. ``windows``:
    the others' :func:`search_windows`, when already known.

    The windows around the others are laid side by side on one strip, apart by the template's
    width of padding no alignment can use, so that one template match serves them all."""
    tx0, ty0, tx1, ty1 = piece.box
    w, h = tx1 - tx0, ty1 - ty0
    template = blurred[ty0:ty1, tx0:tx1]
    contrast = spread(template)
    if contrast < MIN_PIECE_CONTRAST or not others:
        return None
    if windows is None:
        windows = search_windows([o.box for o in others], blurred.shape)
    fits = np.flatnonzero((windows[:, 2] - windows[:, 0] >= w) & (windows[:, 3] - windows[:, 1] >= h))
    if not fits.size:
        return None
    fitting = windows[fits]
    height = int((fitting[:, 3] - fitting[:, 1]).max())
    starts = np.concatenate(([0], np.cumsum(fitting[:, 2] - fitting[:, 0] + w)))
    # padding far from any grey level: an alignment touching it differs hugely
    strip = np.full((height, int(starts[-1])), -1e4, dtype=np.float32)
    sizes = fitting[:, 2:] - fitting[:, :2]
    if len(fitting) >= STRIP_AT_ONCE and (sizes == sizes[0]).all():
        # many windows of one size (nearly always): all copied at once, each window's columns
        # followed by the template's width of padding, as the loop below lays them
        ww, wh = sizes[0].tolist()
        views = np.lib.stride_tricks.sliding_window_view(blurred, (wh, ww))[fitting[:, 1], fitting[:, 0]]
        strip.reshape(height, len(fitting), ww + w)[:, :, :ww] = views.transpose(1, 0, 2)
    else:
        for (x0, y0, x1, y1), x in zip(fitting.tolist(), starts[:-1].tolist(), strict=True):
            strip[:y1 - y0, x:x + x1 - x0] = blurred[y0:y1, x0:x1]
    scores = cv2.matchTemplate(strip, template, cv2.TM_SQDIFF)
    columns = scores.min(axis=0)
    per_window = np.minimum.reduceat(columns, starts[:-1])
    best = int(np.argmin(per_window))
    k, x = int(fits[best]), int(starts[best])
    col = x + int(np.argmin(columns[x:int(starts[best + 1]) - w + 1]))
    row = int(np.argmin(scores[:, col]))
    x0, y0 = fitting[best, :2].tolist()
    ax, ay = x0 + col - x, y0 + row
    return (float(np.sqrt(max(float(per_window[best]), 0.0) / (w * h))) / contrast, k, (ax, ay, ax + w, ay + h))


class Mates:
    """Which pieces may be one character printed twice with a given piece: about one size and
    ink, in words that do not overlap (one row at a time: a page has thousands of pieces)."""

    def __init__(self, pieces: list[Piece], words: list[Word], shape: tuple[int, ...] | None = None) -> None:
        self.size = np.array([(p.box[2] - p.box[0], p.box[3] - p.box[1], p.ink) for p in pieces],
                             dtype=np.int64).reshape(-1, 3)
        self.boxes = np.array([words[p.word].box for p in pieces], dtype=np.int64).reshape(-1, 4)
        self.word = np.array([p.word for p in pieces], dtype=np.int64)
        #: each piece's search window on a page of ``shape`` (made once, not per comparison)
        self.windows = None if shape is None else search_windows([p.box for p in pieces], shape)

    def __getitem__(self, i: int) -> np.ndarray:
        w, h, ink = self.size[i]
        size, b = self.size, self.boxes
        return ((np.abs(size[:, 0] - w) <= SIZE_SLACK) & (np.abs(size[:, 1] - h) <= SIZE_SLACK)
                & (np.abs(size[:, 2] - ink) <= INK_SLACK * ink)
                & ~((b[:, 0] < b[i, 2]) & (b[i, 0] < b[:, 2]) & (b[:, 1] < b[i, 3]) & (b[i, 1] < b[:, 3])))


def _closest(blurred: np.ndarray, pieces: list[Piece], mates: Mates, i: int,
             skip: set[int] | frozenset[int] = frozenset()) -> tuple[float, int, Box] | None:
    """:func:`nearest` of piece ``i`` among its mates outside the words ``skip``, with the mate's
    index in ``pieces``."""
    chosen = mates[i]
    if skip:
        chosen &= ~np.isin(mates.word, list(skip))
    js = np.flatnonzero(chosen)
    windows = None if mates.windows is None else mates.windows[js]
    found = nearest(blurred, pieces[i], [pieces[j] for j in js.tolist()], windows)
    return None if found is None else (found[0], int(js[found[1]]), found[2])


def _compared(word: Word) -> bool:
    """Whether a word's pieces may be the source of a copy: any word with a digit."""
    return any(ch.isdigit() for ch in word.text)


def judged_words(reading: PageReading) -> list[Word]:
    """The words judged as possible composites: every word with a digit (amounts, and amounts
    OCR misread: "g.t2"), an amount OCR split in two ("4." and "90": the two as one word), and
    the last word of every line of MIN_COPIED characters or more (the amount column, where OCR
    may read a pasted amount as letters: "Bod")."""
    out = [w for w in reading.words if _compared(w)]
    for line in reading.lines():
        words = line.words
        for a, b in zip(words, words[1:], strict=False):
            joined = a.text + b.text
            if AMOUNT.search(joined) and not AMOUNT.search(a.text) and not AMOUNT.search(b.text):
                out.append(Word(joined, union_box([a.box, b.box]), min(a.confidence, b.confidence), a.block, a.line))
        last = words[-1] if words else None
        if last is not None and len(last.text.strip()) >= MIN_COPIED and not _compared(last):
            out.append(last)
    return out


def page_composites(reading: PageReading, maps: PageMaps,
                    unread: list[Word] | None = None) -> tuple[list[Composite], int]:
    """The amounts of a page composed of copies of other pieces of it, and how many amounts were
    judged (0 when the page cannot show how closely it repeats its print). ``unread``: the
    page's :func:`unread_words`, when already found."""
    unread = unread_words(reading, maps) if unread is None else unread
    judged = (judged_words(reading) + list(unread))[:MAX_WORDS]
    # each box once: the judged words first, then the other words a copy may come from
    words: list[Word] = []
    seen: set[Box] = set()
    for w in [*judged, *(w for w in reading.words if _compared(w))]:
        if w.box not in seen and len(words) < 2 * MAX_WORDS:
            seen.add(w.box)
            words.append(w)
    pieces = [p for i, w in enumerate(words) for p in word_pieces(maps, w, i)]
    by_word: dict[int, list[int]] = {}
    for i, p in enumerate(pieces):
        by_word.setdefault(p.word, []).append(i)
    judged_boxes = {w.box for w in judged}
    amounts = [k for k, w in enumerate(words) if w.box in judged_boxes and len(by_word.get(k, ())) >= MIN_COPIED]
    if not amounts:
        return [], 0
    blurred = maps.gaussian(BLUR_SIGMA)
    mates = Mates(pieces, words, blurred.shape)
    composites: dict[int, list[tuple[int, float, int, Box]]] = {}
    for k in amounts:
        own = by_word[k]
        copied = []
        for n, i in enumerate(own):
            if len(copied) + len(own) - n < max(min(MIN_COPIED, MIN_EXACT), (len(own) + 1) // 2):
                break  # too few pieces left for this amount to be a composite
            found = _closest(blurred, pieces, mates, i)
            if found is not None and found[0] <= COPY_DIFFERENCE:
                copied.append((i, *found))
        exact = sum(d <= EXACT_DIFFERENCE for _i, d, _j, _b in copied)
        if (len(copied) >= MIN_COPIED or exact >= MIN_EXACT) and 2 * len(copied) >= len(own):
            composites[k] = copied
    # a forger recomposes a few amounts and leaves the rest genuine (tune half: at most 0.3 of a
    # page's judged words); a page most of whose amounts are made of each other's characters
    # repeats its own print, as does one whose other amounts or other words repeat closely
    if composites and (2 * len(composites) > len(amounts)
                       or not _print_never_repeats(blurred, pieces, mates, set(composites))
                       or not _digits_never_repeat(blurred, pieces, mates, by_word, amounts, set(composites))):
        return [], 0
    out = [Composite(words[k], len(by_word[k]),
                     tuple((pieces[i].box, d, box, words[pieces[j].word]) for i, d, j, box in copied))
           for k, copied in composites.items()]
    return out, len(amounts)


def _mate_differences(blurred: np.ndarray, pieces: list[Piece], mates: Mates, indices: list[int],
                      composites: set[int]) -> list[float]:
    """The difference of each of the pieces ``indices`` to its nearest comparable mate outside
    the ``composites`` (at most COMPARABLE), until MAX_REFERENCES are known."""
    found: list[float] = []
    for i in indices:
        mate = _closest(blurred, pieces, mates, i, composites)
        if mate is not None and mate[0] <= COMPARABLE:
            found.append(mate[0])
            if len(found) >= MAX_REFERENCES:
                break
    return found


def _rarely_close(found: list[float]) -> bool:
    """MIN_REFERENCES differences known, at most MAX_CLOSE_SHARE of them as close as a copy."""
    return len(found) >= MIN_REFERENCES and sum(d <= COPY_DIFFERENCE for d in found) <= MAX_CLOSE_SHARE * len(found)


def _print_never_repeats(blurred: np.ndarray, pieces: list[Piece], mates: Mates, composites: set[int]) -> bool:
    """Whether the page's pieces outside the ``composites`` (words) repeat their kind less
    closely than a copy: MIN_REFERENCES of them with a comparable mate, at most MAX_CLOSE_SHARE
    of those as close as a copy (a digital render repeats every glyph exactly)."""
    others = [i for i, p in enumerate(pieces) if p.word not in composites]
    # a sample spread over the page is enough to tell (and a page has hundreds of pieces)
    stride = max(1, len(others) // (2 * MAX_REFERENCES))
    return _rarely_close(_mate_differences(blurred, pieces, mates, others[::stride], composites))


def _digits_never_repeat(blurred: np.ndarray, pieces: list[Piece], mates: Mates, by_word: dict[int, list[int]],
                         amounts: list[int], composites: set[int]) -> bool:
    """Whether the judged words that are no composites show print that does not repeat, as
    :func:`_print_never_repeats` asks of the page's pieces at large, and their median difference
    is at least REPEAT_MEDIAN. That page-wide sample is mostly letters; a page whose letters vary
    but whose digits repeat (a till's digits rendered from one font and lightly noised: a
    generated or digitally made receipt saved as a photo) must not be judged on its digits."""
    found = _mate_differences(blurred, pieces, mates,
                              [i for k in amounts if k not in composites for i in by_word[k]], composites)
    return _rarely_close(found) and float(np.median(found)) >= REPEAT_MEDIAN


def _line_of(reading: PageReading, word: Word) -> str:
    return next((ln.text for ln in reading.lines() if word in ln.words), word.text)


def _is_copy_rather(a: Word, b: Word, reading: PageReading) -> bool:
    """Which of two words whose characters are one another's pixels is the paste: the one on a
    total line (what forgers change), else the lower one (a total is printed below the amounts
    it could be taken from)."""
    total_a, total_b = (bool(TOTAL_LINE.search(_line_of(reading, w))) for w in (a, b))
    if total_a != total_b:
        return total_a
    return (a.box[1], a.box[0]) > (b.box[1], b.box[0])


def oriented(reading: PageReading, composites: list[Composite]) -> list[Composite]:
    """The composites as findings name them: a composite whose copied pieces all come from one
    word is one word pasted over another, and the paste is the word on a total line (else the
    lower one), whichever of the two was found the composite; each such pair once."""
    out: list[Composite] = []
    pairs: set[frozenset[Box]] = set()
    for c in composites:
        sources = {src.box: src for _p, _d, _b, src in c.copies}
        if len(sources) > 1:
            out.append(c)
            continue
        source = next(iter(sources.values()))
        pair = frozenset((c.word.box, source.box))
        if pair in pairs:
            continue
        pairs.add(pair)
        if _is_copy_rather(source, c.word, reading):
            c = Composite(source, c.pieces, tuple((box, d, piece, c.word) for piece, d, box, _src in c.copies))
        out.append(c)
    return out


def _called(word: Word) -> str:
    return f"print OCR did not read at {tuple(word.box)}" if word.text == UNREAD else repr(word.text)


def _finding(reading: PageReading, c: Composite) -> Finding:
    first = c.copies[0]
    sources = {src.box: src for _p, _d, _b, src in c.copies}
    worst = max(d for _p, d, _b, _s in c.copies)
    if len(sources) == 1:
        source = first[3]
        where = "" if source.text == UNREAD else f" at {tuple(source.box)} on the line {_line_of(reading, source)!r}"
        what = (f"{_called(c.word)} on page {reading.page} is a pixel copy of {_called(source)}{where}, "
                f"character by character: {len(c.copies)} characters")
    else:
        cuts = "; ".join(f"{tuple(piece)} from {src.text!r} at {tuple(src.box)}" for piece, _d, _b, src in c.copies)
        what = (f"{_called(c.word)} on page {reading.page} is composed of characters cut from other numbers "
                f"of the page: {len(c.copies)} of its {c.pieces} characters are pixel copies ({cuts})")
    return Finding(
        code="glyph_copy",
        severity="high",
        score=0.9,
        message=(f"{what}, each within {worst:.2f} of its source's contrast, while this page's other "
                 "characters never repeat that closely: separate prints of one character never share "
                 "their pixels."),
        page=reading.page,
        box=c.word.box,
        evidence={"text": c.word.text, "copied": len(c.copies), "pieces": c.pieces,
                  "source_text": first[3].text, "source_box": list(first[3].box),
                  "copies": [{"box": list(piece), "source_box": list(box), "source_text": src.text,
                              "source_word_box": list(src.box), "difference": round(d, 3)}
                             for piece, d, box, src in c.copies]},
    )


class GlyphCopiesDetector:
    """Amounts whose characters are pixel copies of characters elsewhere on the page."""

    name = "glyph_copies"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            maps = shared_page_maps(analysis, reading, image)
            composites, n = page_composites(reading, maps, shared_unread_words(analysis, reading, maps))
            return [_finding(reading, c) for c in oriented(reading, composites)], n

        return judge_scanned_pages(analysis, per_page, "no amounts cut into characters on a page that "
                                                       "shows how its print repeats")


#: the module-level detector the pipeline runs
detector = GlyphCopiesDetector()
