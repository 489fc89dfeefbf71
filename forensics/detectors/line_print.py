"""Copies of one value whose edges are unlike the print of their own lines.

A till prints a line in one go: its label and its amount come out of one print head (or one
ribbon), at one size, and the scanner blurs them alike, so the edges of the amount ramp from
paper to ink over as many px as the edges of the words beside it. A forger who repaints a total
in a font of his own, or composes it from glyphs cut elsewhere, writes it into a line whose
other words he leaves alone: its edges are then sharper (anti-aliased vector text) or softer (a
regular-weight font scaled to a few px is all ramp, a resampled glyph is blurred once more)
than those of its own line, whichever font he chose. :mod:`crisp_print` compares a value with
the page's other values of its size; a total printed larger or bolder than every other amount
has no such peers, while its own line always has a label.

Per value word (three digits or more) we measure the width of its edges (:func:`crisp_print.
word_print`: px on the ramp between 20% and 80% of its contrast per px of ink boundary) against
the median of the other words of its line (words of two characters or more and another text
whose boxes share at least half the smaller height with it): ``ratio``. A word is odd when
``|ln ratio|`` reaches ``LN_EDGE``.

Honest lines have odd words too (a bold total beside a thin label, a faded item). What an
honest page does not have is two copies of one value odd the same way against their own lines,
while a forger changes every printed copy of a total with the same hand. So at least ``COPIES``
words ending in the same three digits (OCR misreads a currency mark or a separator, rarely all
three last digits alike; not a zero value, which many lines print), each odd in the same
direction, flag each copy (``medium``). A line whose other words have no edge ramps (a bilevel
scan) is not judged. Only such copies can be flagged, so only they and their lines' words are
measured (:func:`copy_line_edges`; same findings as measuring every value word, a quarter of the
CPU on the tune half's receipts).

Measured on the tune half of SROIE (``bench/tampering.py --half tune``, 119 honest scans): the
second-oddest copy of any value on an honest page reaches 0.82 of ``LN_EDGE`` (margin 1.2); the
alone-rate is 0. Flagged shares of the careful forger's edits, before and after this detector:
tune lowered font 0.87 -> 0.90, raised font 0.84 -> 0.87, lowered glyphs 0.91 -> 0.92,
consistent edits 0.89 -> 0.91; held-out 0.71 -> 0.73, 0.74 -> 0.76, 0.73 -> 0.73, 0.90 -> 0.90,
honest alone-rate 0/101 (a total OCR could not read as a value has no word to measure). The
first version flagged 2 held-out honest scans alone: a thresholded (bilevel) scan, whose edge
ratios were 0/0, and three 0.00 lines; the two rules above (no ramps, no zero values) came from
that and change nothing on the tune half.

A single amount (digits, a point, two decimals) is flagged too (``medium``) when it carries two
traces of an editor against its own line at once: its edges at most ``LONE_EDGE`` times as wide
as its mates' (median) *and* its ink filling its strokes at least ``LONE_FILL`` times as solidly
(the median darkening of its ink as a share of its own contrast, :func:`crisp_print.word_print`),
its ink height within ``LONE_HEIGHT`` of theirs. Anti-aliased text pasted in one solid colour is
both; a till's bold total is more solid but blurred alike, a faded or thin label is softer but
a larger total has other strokes (hence the height guard). This needs no copies and no peers
among the page's values, which small receipts (one item, a parking ticket) do not have. Amounts
OCR split into pieces ("RM92", ".", "82": digits spaced unlike the till's) are joined first
(:func:`joined_amounts`). Tune half: the highest honest score (the lesser of the two shares of
their thresholds) is 0.62 (margin 1.6), alone-rate 0/119; it adds 2 lowered and 3 raised font
totals (0.90 -> 0.92, 0.87 -> 0.89); the join alone adds 1 lowered total to the copies' rule and
leaves the honest second-oddest copy at 0.82.

A single amount is also flagged (``medium``) when it is sharper and more solid than its line at
lower bars (edges at most ``PITCH_EDGE`` times as wide, fill at least ``PITCH_FILL`` times as
solid) *and* printed on another character pitch than its line's words (:func:`pitch_ratio`: its
digit pitch, :func:`amount_print.amount_print`, over the median pitch of its mates of a similar ink
height, each word's ink cut into one column run per character by :func:`amount_print.
character_cells`; snapped to half, one or two times it for double-width totals): ``|ln ratio|`` at
least ``PITCH_LN``. A till prints a line in one font at one advance (monospace: letters and digits
alike); a font typed at the old ink height has its own advance. The pitch is measured only where
the edges and fill reach those lower bars (CPU). Tune half: highest honest score 0.70 (margin 1.4;
the lower bars alone reach 0.93 on the amounts whose pitch could be measured), alone-rate 0/119;
lowered glyphs 0.94 -> 0.95 (1 total), the font kinds unchanged (their remaining misses are not
sharper than their line). Pitch alone is no evidence: honest amounts reach |ln ratio| 0.33 against
their line (the most snapping allows: 0.35; proportional labels, "1X" quantity cells, OCR's cuts),
the edits' median is 0.21 against honest 0.04; pitch with softer edges (|ln| >= 0.2, edges >= 1.4
times as wide) flags 2-4 honest scans. The baseline (median bottom row of an amount's character
cells against its mates', corrected for the page's skew) does not separate: honest 90th percentile
0.14 of the ink height, edited totals 0.13-0.14 (the forger writes at the old ink's bottom).

Both single-amount rules also judge the word ending a total line (a line whose other words name
the amount due: TOTAL, AMOUNT, DUE, ...) when OCR did not read it as an amount but it holds
``GARBLED_DIGITS`` digits: a repainted total OCR garbles ("P5239", "5.3869") is still that
line's amount, and the finding says what OCR read. Tune half: 17 such honest words score at most
0.09 of the threshold; 4 edited totals reach it (all flagged by other detectors already).

Measured on the tune half and not used: a single amount's edges against its line (honest bold or
thin totals reach the forger's values: a rule with no honest flag adds 1-2 edits); copies keyed
on their last two digits (OCR splits "RM92 . 82"; honest pages repeat two digits with no margin);
two odd amounts of different values (a consistent edit's item and total: no margin); the digit
pitch of an amount against a monospace label on its line (honest singles reach a 38% pitch
difference, misread cells), alone or with the edges (no margin); a clone patch's seam in the
paper around a word (its step is lost in the text's blur halo and JPEG noise at a few grey levels);
a total OCR did not read as a value (a word of one or two digits right of a lone "TOTAL" label on a
line with no value read) whose edges are odd against its label, flagged alone (branch
s15-font2-unread-total): tune honest 0/119 (second-oddest honest 0.84 of ``LN_EDGE``), +3 edits,
but held-out 3/101 honest flagged alone (honest totals read "2", "72." against a single label word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.amount_print import PITCH_MULTIPLES, amount_print, word_cells
from forensics.detectors.copy_move import TOTAL_LINE
from forensics.detectors.crisp_print import WordPrint, odd_copies, word_print
from forensics.detectors.page_maps import PageMaps, shared_page_maps
from forensics.model import Box, CheckResult, Finding, PageReading, Word

#: digits a word needs to count as a value
VALUE_DIGITS = 3
#: characters a line mate needs
MATE_CHARS = 2
#: share of the smaller box height two words must share to stand on one line
SAME_LINE = 0.5
#: |ln(edge width / the line's)| at which a value's edges are odd
LN_EDGE = 0.45
#: odd copies of one value (same last three digits, same direction) needed to flag them
COPIES = 2
#: digits of a value's end that identify its copies
KEY_DIGITS = 3
#: least median edge width (px per px of boundary) of a line's other words for it to be judged:
#: a bilevel scan (thresholded to black and white) has no edge ramps to compare (tune half:
#: every page's median is 0.24 or more)
MIN_EDGE = 0.1
#: most words read on a page (cost bound)
MAX_WORDS = 400
#: a single amount is flagged when its edges are at most LONE_EDGE times as wide as its line's
#: and its ink fills its strokes at least LONE_FILL times as solidly (both medians of its mates) ...
LONE_EDGE = 0.45
LONE_FILL = 1.12
#: ... and its ink height differs from its mates' median by at most this share (a total printed
#: larger than its label has strokes of another width, and so other ramps and fill)
LONE_HEIGHT = 0.3
#: a single amount is flagged too when its character pitch is off its line's by at least
#: |ln ratio| PITCH_LN (after snapping to half, one or two times it) while its edges are at most
#: PITCH_EDGE times as wide and its ink fills its strokes at least PITCH_FILL times as solidly
PITCH_LN = 0.1
PITCH_EDGE = 0.6
PITCH_FILL = 1.1
#: a word OCR did not read as an amount is judged as one when it ends a total line (the label's
#: line: TOTAL, AMOUNT, DUE, ...) and holds this many digits: a repainted total OCR garbles
#: ("P5239", "5.3869") is still the till's amount to its line
GARBLED_DIGITS = 2
#: an amount as a word ends: digits, a point (or comma), two decimals
AMOUNT = re.compile(r"\d[.,]\d\d\W*$")
#: most pieces OCR splits one amount into ("RM92", ".", "82")
MAX_PIECES = 3
#: pieces of one amount stand at most this share of their height apart
PIECE_GAP = 0.8


@dataclass(frozen=True)
class LineEdge:
    """One value word's edge width against the other words of its line."""

    print: WordPrint
    #: the line mates measured
    mates: tuple[WordPrint, ...]
    #: its edge width over the mates' median
    ratio: float

    @property
    def score(self) -> float:
        """>= 1 when the edges are odd (either way)."""
        return abs(float(np.log(max(self.ratio, 1e-6)))) / LN_EDGE

    @property
    def direction(self) -> str:
        return "sharper" if self.ratio < 1 else "softer"

    @property
    def key(self) -> str:
        """The last KEY_DIGITS digits of its text: copies share it (see :func:`value_key`)."""
        return value_key(self.print.word.text)


def value_key(text: str) -> str:
    """The last KEY_DIGITS digits of a word's text. Empty for a zero value: a till prints 0.00
    on many lines (discount, rounding, change), none of them copies of a total."""
    digits = re.sub(r"\D", "", text)
    return digits[-KEY_DIGITS:] if digits.strip("0") else ""


def _same_line(a: Box, b: Box) -> bool:
    (_, ay0, _, ay1), (_, by0, _, by1) = a, b
    return min(ay1, by1) - max(ay0, by0) >= SAME_LINE * min(ay1 - ay0, by1 - by0)


def _is_value(text: str) -> bool:
    return sum(ch.isdigit() for ch in text) >= VALUE_DIGITS


class _PageLines:
    """The words of a page a line can hold, each word's print measured on first use only."""

    def __init__(self, reading: PageReading, maps: PageMaps) -> None:
        self.maps = maps
        self.words = [w for w in joined_amounts(list(reading.words[:MAX_WORDS])) if len(w.text.strip()) >= MATE_CHARS]
        self.prints: dict[int, WordPrint | None] = {}
        self.lines: dict[int, list[int]] = {}

    def _line(self, i: int) -> list[int]:
        """The indexes of the other words on word ``i``'s line, found once."""
        if i not in self.lines:
            w = self.words[i]
            self.lines[i] = [j for j, v in enumerate(self.words) if j != i and _same_line(w.box, v.box)]
        return self.lines[i]

    def _print(self, i: int) -> WordPrint | None:
        if i not in self.prints:
            self.prints[i] = word_print(self.maps, self.words[i])
        return self.prints[i]

    def values(self) -> list[int]:
        """The indexes of the value words."""
        return [i for i, w in enumerate(self.words) if _is_value(w.text)]

    def amounts(self) -> list[int]:
        """The indexes of the amount words, and of the words ending a total line that OCR did
        not read as an amount but that hold GARBLED_DIGITS digits (a repainted total OCR garbled)."""
        out = []
        for i, w in enumerate(self.words):
            text = w.text.strip()
            if AMOUNT.search(text):
                if _is_value(text):
                    out.append(i)
            elif sum(ch.isdigit() for ch in text) >= GARBLED_DIGITS:
                line = [self.words[j] for j in self._line(i)]
                if line and all(v.box[0] < w.box[0] for v in line) and any(TOTAL_LINE.search(v.text) for v in line):
                    out.append(i)
        return out

    def edge(self, i: int) -> LineEdge | None:
        """Word ``i`` against the other words of its line (None without a measurable line)."""
        w = self.words[i]
        if (p := self._print(i)) is None:
            return None
        mates = tuple(q for j in self._line(i) if self.words[j].text != w.text and (q := self._print(j)) is not None)
        edge = float(np.median([q.edge for q in mates])) if mates else 0.0
        return LineEdge(p, mates, p.edge / edge) if edge >= MIN_EDGE else None


def _named(w: Word) -> str:
    """An amount as a message names it: its text, or what OCR read where it could not."""
    text = w.text.strip()
    return f"'{text}'" if AMOUNT.search(text) else f"OCR read as '{text}' (the last word of a total line)"


def joined_amounts(words: list[Word]) -> list[Word]:
    """``words`` with each amount OCR split into pieces on one line ("RM92", ".", "82": digits
    spaced unlike the till's, which OCR reads as one word) joined into one word: up to
    MAX_PIECES neighbours whose joined text ends like an amount while the last piece alone does
    not, each at most PIECE_GAP of their height from the next."""
    by_line: dict[tuple[int, int], list[int]] = {}
    for i, w in enumerate(words):
        by_line.setdefault((w.block, w.line), []).append(i)
    joined: dict[int, Word] = {}
    drop: set[int] = set()
    for members in by_line.values():
        members.sort(key=lambda i: words[i].box[0])
        for end, last in enumerate(members):
            text = words[last].text.strip()
            if AMOUNT.search(text) or not any(ch.isdigit() for ch in text) or last in drop:
                continue
            for start in range(end - 1, max(-1, end - MAX_PIECES), -1):
                pieces = [words[i] for i in members[start:end + 1]]
                if any(i in drop for i in members[start:end + 1]) or any(
                        b.box[0] - a.box[2] > PIECE_GAP * max(a.box[3] - a.box[1], b.box[3] - b.box[1])
                        for a, b in zip(pieces, pieces[1:], strict=False)):
                    break
                if AMOUNT.search(joined_text := "".join(w.text.strip() for w in pieces)):
                    box = (min(w.box[0] for w in pieces), min(w.box[1] for w in pieces),
                           max(w.box[2] for w in pieces), max(w.box[3] for w in pieces))
                    joined[members[start]] = Word(joined_text, box, min(w.confidence for w in pieces),
                                                  words[last].block, words[last].line)
                    drop |= set(members[start:end + 1])
                    break
    if not joined:
        return words
    return [joined[i] if i in joined else w for i, w in enumerate(words) if i in joined or i not in drop]


def page_line_edges(reading: PageReading, maps: PageMaps) -> list[LineEdge]:
    """Every value word of a page with at least one line mate, against its line."""
    lines = _PageLines(reading, maps)
    return [m for i in lines.values() if (m := lines.edge(i)) is not None]


def copy_line_edges(reading: PageReading, maps: PageMaps, *, ask_any: bool = True,
                    lines: _PageLines | None = None) -> tuple[list[LineEdge], bool]:
    """The value words of a page that :func:`page_findings` could flag, against their lines, in
    page order; and whether any value word of the page has a measurable line (when nothing could
    be flagged and not ``ask_any``: False without looking). Only copies of one
    value (other value words ending in the same non-zero KEY_DIGITS digits) can be flagged, and a
    group's copies are measured only while COPIES of them can still be odd the same way: a word
    is measured only when it or a word on its line is needed (``lines``: the page's words, their
    prints measured once, made here when not given)."""
    lines = lines if lines is not None else _PageLines(reading, maps)
    values = lines.values()
    groups: dict[str, list[int]] = {}
    for i in values:
        if len(key := value_key(lines.words[i].text)) == KEY_DIGITS:
            groups.setdefault(key, []).append(i)
    out: list[tuple[int, LineEdge]] = []
    for members in groups.values():
        odd = {"sharper": 0, "softer": 0}
        for n, i in enumerate(members):
            if max(odd.values()) + len(members) - n < COPIES:
                break
            if (m := lines.edge(i)) is not None:
                out.append((i, m))
                odd[m.direction] += m.score >= 1
    if out:
        return [m for _, m in sorted(out, key=lambda im: im[0])], True
    # nothing to flag: whether anything could be judged at all needs the first measurable value
    return [], ask_any and any(lines.edge(i) is not None for i in values)


def page_findings(reading: PageReading, measured: list[LineEdge]) -> list[Finding]:
    """Each copy of a value when at least COPIES copies of it are odd the same way."""
    groups: dict[tuple[str, str], list[LineEdge]] = {}
    for m in measured:
        if m.score >= 1 and len(m.key) == KEY_DIGITS:
            groups.setdefault((m.direction, m.key), []).append(m)
    out = []
    for m, others, where in odd_copies(groups.values(), COPIES):
        out.append(_finding(
            reading, m,
            f"The amount '{m.print.word.text}' on page {reading.page} and its copies ({where}) all have "
            f"{m.direction} edges than the words printed on their own lines: its edges are "
            f"{m.ratio:.2f} times as wide as those of {_mates(m)}. A till prints a line in one go "
            "and a scanner blurs it alike; an amount written into the line afterwards, in "
            "a font or from cut-out glyphs, keeps its own edges, and a forger rewrites "
            "every copy of a total the same way.",
            copies=[{"text": o.text, "box": list(o.box)} for o in others]))
    return out


def _mates(m: LineEdge) -> str:
    return ", ".join(f"{q.word.text!r} at {tuple(q.word.box)}" for q in m.mates)


def _finding(reading: PageReading, m: LineEdge, message: str, **evidence: object) -> Finding:
    """A ``line_print`` finding on the word of ``m``, with its line's words as evidence."""
    w = m.print.word
    return Finding(
        code="line_print", severity="medium", score=0.6, message=message, page=reading.page, box=w.box,
        evidence={"text": w.text, "edge_ratio": round(m.ratio, 3), "direction": m.direction,
                  "edge_width": round(m.print.edge, 2), **evidence,
                  "line_words": [{"text": q.word.text, "box": list(q.word.box)} for q in m.mates]})


def word_pitch(maps: PageMaps, word: Word) -> tuple[float, int] | None:
    """The character pitch (px from the first character's centre to the last's, per character)
    and ink height of a word whose ink falls apart into one column run per character
    (:func:`amount_print.word_cells`); None otherwise."""
    cut = word_cells(maps, word) if len(word.text.strip()) >= 2 else None
    if cut is None:
        return None
    _ink, cells, height = cut
    return (cells[-1][0] + cells[-1][1] - cells[0][0] - cells[0][1]) / 2 / (len(cells) - 1), height


def pitch_ratio(maps: PageMaps, m: LineEdge) -> tuple[float, list[Word]] | None:
    """The digit pitch of the amount of ``m`` over the median character pitch of its line mates
    of a similar ink height (within LONE_HEIGHT), snapped to half, one or two times it (a till
    prints totals in double width); and the mates measured. None when nothing could be measured."""
    amount = amount_print(maps, m.print.word)
    if amount is None:
        return None
    mates = [(q.word, p[0]) for q in m.mates if sum(ch.isalnum() for ch in q.word.text) >= MATE_CHARS
             and (p := word_pitch(maps, q.word)) is not None and abs(amount.height - p[1]) <= LONE_HEIGHT * p[1]]
    if not mates:
        return None
    raw = amount.pitch / float(np.median([p for _, p in mates]))
    return raw / min(PITCH_MULTIPLES, key=lambda k: abs(np.log(raw / k))), [w for w, _ in mates]


@dataclass(frozen=True)
class LoneAmount:
    """One amount printed both sharper and more solid than the words of its own line (and maybe
    on another character pitch)."""

    edge: LineEdge
    #: its fill (median ink darkening as a share of its contrast) over its mates' median
    fill_ratio: float
    #: its digit pitch over its line's (snapped) and the words measured; None when not measured
    pitch: tuple[float, list[Word]] | None = None

    def _shares(self, edge: float, fill: float) -> tuple[float, float]:
        return (float(np.log(1 / max(self.edge.ratio, 1e-6)) / np.log(1 / edge)),
                (self.fill_ratio - 1) / (fill - 1))

    @property
    def score(self) -> float:
        """>= 1 when both its edges and its fill are odd enough (the lesser of the two shares)."""
        return min(self._shares(LONE_EDGE, LONE_FILL))

    @property
    def near_pitch_bars(self) -> bool:
        """Whether its edges and fill reach the pitch rule's lower bars (its pitch is worth measuring)."""
        return min(self._shares(PITCH_EDGE, PITCH_FILL)) >= 1

    @property
    def pitched_score(self) -> float:
        """>= 1 when its pitch, edges and fill are all odd enough at the lower bars (the least share)."""
        if self.pitch is None:
            return 0.0
        return min(*self._shares(PITCH_EDGE, PITCH_FILL), abs(float(np.log(self.pitch[0]))) / PITCH_LN)


def lone_amounts(lines: _PageLines) -> list[LoneAmount]:
    """Every amount word of a page against its line's words (of a similar ink height): how much
    sharper and more solid its print is, and (only where both reach the lower bars of the pitch
    rule) its character pitch against theirs."""
    out = []
    for i in lines.amounts():
        if (m := lines.edge(i)) is None:
            continue
        height = float(np.median([q.height for q in m.mates]))
        fill = float(np.median([q.fill for q in m.mates]))
        if abs(m.print.height - height) <= LONE_HEIGHT * height and fill > 0:
            a = LoneAmount(m, m.print.fill / fill)
            if a.score < 1 and a.near_pitch_bars:
                a = LoneAmount(m, a.fill_ratio, pitch_ratio(lines.maps, m))
            out.append(a)
    return out


def lone_findings(reading: PageReading, lone: list[LoneAmount], flagged: set[Box]) -> list[Finding]:
    """Each amount (not already flagged with its copies) both sharper and more solid than its line."""
    out = []
    for a in lone:
        m = a.edge
        if m.print.word.box in flagged:
            continue
        if a.score < 1:
            if a.pitched_score >= 1:
                out.append(_pitch_finding(reading, a))
            continue
        out.append(_finding(
            reading, m,
            f"The amount {_named(m.print.word)} on page {reading.page} is printed sharper and more solid "
            f"than the words of its own line ({_mates(m)}): its edges are {m.ratio:.2f} times as wide and "
            f"its ink fills its strokes {a.fill_ratio:.2f} times as solidly, at the same height. "
            "A till prints a line in one go and a scanner blurs it alike; an amount typed into "
            "the image in an editor has its font's sharp edges and one solid ink.",
            fill_ratio=round(a.fill_ratio, 3)))
    return out


def _pitch_finding(reading: PageReading, a: LoneAmount) -> Finding:
    m, (ratio, words) = a.edge, a.pitch or (1.0, [])
    pitched = ", ".join(f"{w.text!r} at {tuple(w.box)}" for w in words)
    return _finding(
        reading, m,
        f"The amount {_named(m.print.word)} on page {reading.page} is printed on another character pitch "
        f"than the words of its own line ({pitched}): its digits sit {ratio:.2f} times as far apart as their "
        f"characters, and it is sharper ({m.ratio:.2f} times the edge width) and more solid "
        f"({a.fill_ratio:.2f} times the fill) than {_mates(m)}. A till prints a line in one font, at one "
        "pitch, in one go; an amount typed or composed into the image afterwards keeps its own spacing "
        "and print.",
        fill_ratio=round(a.fill_ratio, 3), pitch_ratio=round(ratio, 3),
        pitch_words=[{"text": w.text, "box": list(w.box)} for w in words])


class LinePrintDetector:
    """Every copy of a value whose edges differ the same way from its own line's words."""

    name = "line_print"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        judged = False

        def per_page(reading: PageReading, image: np.ndarray) -> tuple[list[Finding], int]:
            # the count only tells the check whether anything was judged: once a page had
            # something, later pages need not look for a measurable word they cannot flag
            nonlocal judged
            maps = shared_page_maps(analysis, reading, image)
            lines = _PageLines(reading, maps)
            measured, any_line = copy_line_edges(reading, maps, ask_any=not judged, lines=lines)
            lone = lone_amounts(lines)
            any_line = any_line or bool(lone)
            judged = judged or any_line
            found = page_findings(reading, measured)
            return found + lone_findings(reading, lone, {f.box for f in found}), int(any_line)

        return judge_scanned_pages(analysis, per_page, "no value word with a line mate whose print could be measured")


#: the module-level detector the pipeline runs
detector = LinePrintDetector()
