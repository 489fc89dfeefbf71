"""Local edits in pixels: a repainted box among honestly scanned text.

A forger who changes a total paints a patch of paper colour over the old number and writes the
new one in an editor's font. Two kinds of trace survive the final JPEG save:

- **flat paper**: the patch has no scanner noise (it was filled, not scanned). Per OCR'd word we
  compare the paper noise inside its box with the paper just around it. Only pages whose paper
  is noisy enough say anything here; SROIE-like scans are often saturated white.
- **clean, sharp glyphs**: scanned print is surrounded by a faint noisy halo (toner or thermal
  dots, scanner noise, the first JPEG's ringing) and its edges are as soft as the scanner's
  optics. Text drawn by an editor is anti-aliased vector text: a clean halo and edges a pixel or
  so wide. We measure both on every value-like word (three digits or more: totals, dates,
  receipt numbers, tax ids are what forgers repaint) against the value words of similar height
  on the same page, so the page's own scanner and print quality are the reference.
- **foreign glyph shapes**: a receipt comes out of one printer in one font, so every instance
  of a character at one size has nearly the same shape. Words whose ink falls apart into one
  piece per character are cut into glyphs; each glyph (ink box resampled to a fixed size,
  darkening as a share of the word's contrast) is correlated with the same character in the
  other words of its size (best of +-1 px shifts). A glyph whose likeness to its page-mates
  lies well below the likeness they have among themselves is foreign. Honest pages have
  foreign shapes too (bold totals, a header in a display font), so shapes never flag alone.

JPEG double compression was measured and dropped: the scans we see come from cameras and
scanners at quality ~99 (quantisation steps of 1-2), so the honest part of a re-saved forgery
carries no double-quantisation periodicity and no JPEG ghost to compare the patch with.

``local_edit`` needs two independent anomalies in one box, never a noise map alone: flat paper
plus another ink, stroke or height; or a clean halo plus edges much sharper than the page's or
plus foreign shapes on at least three (and half) of the word's characters.
Precision first: an honest receipt must almost never be flagged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from forensics.detectors import Analysis, StoreView, judge_scanned_pages
from forensics.detectors.glyph_shapes import GLYPH_SIZE, Glyph, glyph_shortfalls
from forensics.detectors.page_maps import (
    PageMaps,
    clip,
    page_maps,
    robust_std,
    runs,
    shared_page_maps,
    stroke_width,
    word_ink,
)
from forensics.model import CheckResult, Finding, PageReading, Word

#: least paper noise (grey levels, robust std) a page needs before flatness means anything
MIN_PAPER_NOISE = 1.0
#: a box is flat when its paper noise is below this share of the reference noise around it
FLAT_RATIO = 0.45
#: least paper pixels inside a box (and in its ring) for a noise estimate
MIN_PIXELS = 40
#: ring around a box compared with it: from this many px outside ...
RING_INNER = 6
#: ... to this many
RING_OUTER = 22
#: a word's ink or stroke is odd at this many robust deviations from its peers
ODD_Z = 4.0
#: least ink-colour distance (RGB units) that counts as another ink, whatever the spread
MIN_INK_SHIFT = 12.0
#: glyph heights within this ratio are peers (same font size class)
HEIGHT_PEERS = 0.25
#: fewest letters and digits a word needs to be judged
MIN_WORD_CHARS = 3
#: most words measured on a page (cost bound)
MAX_WORDS = 400
#: digits a word needs to count as a value (total, date, receipt number, tax id)
VALUE_DIGITS = 3
#: least contrast (grey levels, 98th percentile of darkening) of a value word worth measuring
MIN_GLYPH_CONTRAST = 40
#: darkening, as a share of the word's contrast, above which a pixel is ink ...
GLYPH_INK = 0.5
#: ... and between these shares a pixel is on a glyph edge's ramp
RAMP = (0.2, 0.8)
#: least ink pixels of a value word, and least pixels in its halo
MIN_GLYPH_PIXELS = 20
#: the halo is the ring of px from 2 to 3 px off the ink (kernel sizes of the two dilations)
HALO_INNER, HALO_OUTER = 3, 7
#: fewest value words of similar height a word is compared with
MIN_VALUE_PEERS = 4
#: value words whose box heights differ by at most this share are peers
VALUE_PEER_HEIGHT = 0.3
#: floor of the robust spread of halo noise and ramp width among peers (shares of contrast,
#: px per edge px): below it, differences are JPEG rounding, not another origin
GLYPH_SPREAD_FLOOR = 0.02
#: a value word's halo is clean at this many robust spreads below its peers' ...
CLEAN_HALO_Z = 1.0
#: ... and its edges are sharp at this many below theirs (both needed to flag)
SHARP_EDGE_Z = 2.0
#: a value word's edges are sharper than its own line's when its edge width is at most this share
#: of the narrowest edges among the other words on its line (the printed label beside it)
LINE_SHARPER = 0.85
#: ... and softer than its line's when at least this multiple of their median edge width
LINE_SOFTER = 2.0
#: a value word's edges are soft at this many robust spreads above its value peers'
SOFT_EDGE_Z = 3.0
#: ... with a halo at most this many robust spreads noisier than its peers' (a smudged honest
#: word is soft too, but its halo is dirty: about a spread or more)
SOFT_HALO_Z = 0.5
#: least letters and digits of a same-line word whose edges a value word is compared with
LINE_WORD_CHARS = 2
#: least ink height in px of a glyph whose shape is compared
MIN_GLYPH_HEIGHT = 8
#: foreign glyphs a value word needs (and at least half of its compared glyphs) for its shapes
#: to count as another font: one or two odd glyphs are OCR misreads or print defects
FOREIGN_GLYPHS = 3


@dataclass(frozen=True)
class WordStats:
    """What one word's pixels look like."""

    word: Word
    noise_in: float
    noise_ring: float
    paper_in: float
    ink_level: float
    ink_rgb: tuple[float, float, float]
    stroke: float
    height: int


def paper_noise(maps: PageMaps, word: Word, others: np.ndarray) -> tuple[float, float] | None:
    """The paper noise inside a word's box and in the ring around it (what :func:`word_stats`
    measures first); None when the box is too small or too saturated to say anything."""
    x0, y0, x1, y1 = clip(word.box, maps.gray.shape)
    if x1 - x0 < 6 or y1 - y0 < 6:
        return None
    ix0, iy0, ix1, iy1 = clip((x0 - 2, y0 - 2, x1 + 2, y1 + 2), maps.gray.shape)
    inner_paper = maps.paper[iy0:iy1, ix0:ix1]
    if inner_paper.sum() < MIN_PIXELS:
        return None
    rx0, ry0, rx1, ry1 = clip((x0 - RING_OUTER, y0 - RING_OUTER, x1 + RING_OUTER, y1 + RING_OUTER),
                               maps.gray.shape)
    ring = maps.paper[ry0:ry1, rx0:rx1].copy()
    ring &= ~others[ry0:ry1, rx0:rx1]
    gx0, gy0 = x0 - RING_INNER - rx0, y0 - RING_INNER - ry0
    ring[max(0, gy0):max(0, y1 + RING_INNER - ry0), max(0, gx0):max(0, x1 + RING_INNER - rx0)] = False
    if ring.sum() < MIN_PIXELS:
        return None
    return (robust_std(maps.residual[iy0:iy1, ix0:ix1][inner_paper]),
            robust_std(maps.residual[ry0:ry1, rx0:rx1][ring]))


def word_stats(maps: PageMaps, word: Word, others: np.ndarray) -> WordStats | None:
    """Measure one word; None when the box is too small or too saturated to say anything."""
    noise = paper_noise(maps, word, others)
    if noise is None:
        return None
    noise_in, noise_ring = noise
    x0, y0, x1, y1 = clip(word.box, maps.gray.shape)
    ix0, iy0, ix1, iy1 = clip((x0 - 2, y0 - 2, x1 + 2, y1 + 2), maps.gray.shape)
    inner_paper = maps.paper[iy0:iy1, ix0:ix1]
    ink = maps.ink[y0:y1, x0:x1]
    if ink.sum() < 10:
        return None
    ink_rgb = maps.rgb[y0:y1, x0:x1][ink]
    rows = np.flatnonzero(ink.any(axis=1))
    return WordStats(
        word=word,
        noise_in=noise_in,
        noise_ring=noise_ring,
        paper_in=float(np.median(maps.gray[iy0:iy1, ix0:ix1][inner_paper])),
        ink_level=float(np.median(maps.gray[y0:y1, x0:x1][ink])),
        ink_rgb=tuple(float(v) for v in np.median(ink_rgb, axis=0)),  # type: ignore[arg-type]
        stroke=stroke_width(ink),
        height=int(rows[-1] - rows[0] + 1),
    )


def _z(value: float, peers: np.ndarray, floor: float) -> float:
    med = float(np.median(peers))
    spread = max(robust_std(peers), floor)
    return abs(value - med) / spread


def anomalies(s: WordStats, stats: list[WordStats]) -> list[str]:
    """Ways ``s``'s ink, stroke or height differ from words of its size on the page."""
    peers = [p for p in stats if p is not s and abs(p.height - s.height) <= HEIGHT_PEERS * s.height]
    if len(peers) < 5:
        return []
    out = []
    levels = np.array([p.ink_level for p in peers])
    if _z(s.ink_level, levels, 2.0) >= ODD_Z:
        out.append(f"ink darkness {s.ink_level:.0f} vs {np.median(levels):.0f}")
    colours = np.array([p.ink_rgb for p in peers])
    centre = np.median(colours, axis=0)
    dist = np.linalg.norm(colours - centre, axis=1)
    mine = float(np.linalg.norm(np.array(s.ink_rgb) - centre))
    if mine >= max(MIN_INK_SHIFT, float(np.median(dist)) + ODD_Z * max(robust_std(dist), 1.5)):
        out.append("ink colour " + "/".join(f"{v:.0f}" for v in s.ink_rgb) + " vs "
                   + "/".join(f"{v:.0f}" for v in centre))
    strokes = np.array([p.stroke / max(p.height, 1) for p in peers])
    if s.stroke > 0 and _z(s.stroke / max(s.height, 1), strokes, 0.02) >= ODD_Z:
        out.append("stroke width")
    all_heights = np.array([p.height for p in stats if p is not s])
    same_line = [p for p in stats if p is not s and _same_line(p.word, s.word)]
    if same_line:
        ref = np.median([p.height for p in same_line])
        if abs(s.height - ref) >= max(3, 0.2 * ref) and s.word.text.isdigit() is False:
            out.append(f"glyph height {s.height}px vs {ref:.0f}px on its line")
    del all_heights
    return out


def _same_line(a: Word, b: Word) -> bool:
    ha, hb = a.box[3] - a.box[1], b.box[3] - b.box[1]
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return overlap >= 0.6 * min(ha, hb)


@dataclass(frozen=True)
class GlyphStats:
    """How one value word's print looks: the noise of its halo and the width of its edges."""

    word: Word
    #: std of the grey levels 2-3 px off the ink, as a share of the word's contrast
    halo_noise: float
    #: px on the edge ramps per px of ink boundary (about the edge width in px)
    ramp_width: float


def glyph_stats(maps: PageMaps, word: Word) -> GlyphStats | None:
    """Measure a value word's halo and edges; None when it is too small or too faint."""
    measured = word_ink(maps, word.box, min_width=8, min_height=8, min_contrast=MIN_GLYPH_CONTRAST,
                        ink_share=GLYPH_INK)
    if measured is None:
        return None
    (x0, y0, x1, y1), dark, contrast = measured.box, measured.dark, measured.contrast
    ink = measured.ink.astype(np.uint8)
    if ink.sum() < MIN_GLYPH_PIXELS:
        return None
    inner = cv2.dilate(ink, np.ones((HALO_INNER, HALO_INNER), np.uint8)) > 0
    halo = (cv2.dilate(ink, np.ones((HALO_OUTER, HALO_OUTER), np.uint8)) > 0) & ~inner
    if halo.sum() < MIN_GLYPH_PIXELS:
        return None
    ramp = (dark > RAMP[0] * contrast) & (dark < RAMP[1] * contrast)
    boundary = ink - cv2.erode(ink, np.ones((3, 3), np.uint8))
    return GlyphStats(word, float(maps.gray[y0:y1, x0:x1][halo].std() / contrast),
                      float(ramp.sum() / max(int(boundary.sum()), 1)))


def _below(value: float, peers: np.ndarray) -> float:
    """How many robust spreads ``value`` lies below the median of ``peers``."""
    med = float(np.median(peers))
    spread = 1.4826 * float(np.median(np.abs(peers - med))) + GLYPH_SPREAD_FLOOR
    return (med - value) / spread


def foreign_font(shape: ShapeStats | None) -> bool:
    """Whether a word's glyphs are shaped unlike the same characters elsewhere on the page."""
    return shape is not None and shape.foreign >= max(FOREIGN_GLYPHS, shape.judged / 2)


@dataclass(frozen=True)
class Drawn:
    """A value word that looks drawn and the anomalies that say so."""

    glyph: GlyphStats
    #: robust spreads its halo lies below (cleaner than) its value peers'
    clean: float
    #: robust spreads its edge width lies below (sharper than) its value peers' (< 0: softer)
    sharp: float
    shape: ShapeStats | None
    #: (median, narrowest) edge width of the other words on its line; None without any
    line: tuple[float, float] | None
    anomalies: tuple[str, ...]


def drawn_text(glyphs: list[GlyphStats], shapes: dict[int, ShapeStats] | None = None,
               lines: Mapping[int, tuple[float, float]] | None = None) -> list[Drawn]:
    """Value words that look drawn. Drawn means two independent anomalies, each of which alone
    is common on honest pages (a lighter patch of paper, a bolder line, a header in a display
    font):

    - a clean halo plus either sharp edges or glyphs of another font than the page's
      (``shapes``, keyed by ``id`` of the word);
    - sharp edges and another font, when the word's edges are also sharper than those of every
      other word on its own line (``lines``: id of the word -> (median, narrowest) edge width
      of the other words on its line). A header printed in a crisp display font sits alone
      on its line or shares its line's print; a value drawn beside a printed label does not;
    - edges much softer than the value words of its size and than the print on its own line,
      with a halo hardly noisier than its peers': editor text resampled and blurred onto a crisp
      (high-resolution or binarised) scan. A smudged honest word has a dirty halo too."""
    shapes = shapes or {}
    lines = {} if lines is None else lines  # not "or": that would measure every line
    out = []
    for g in glyphs:
        h = g.word.box[3] - g.word.box[1]
        peers = [p for p in glyphs if p is not g
                 and abs((p.word.box[3] - p.word.box[1]) - h) <= VALUE_PEER_HEIGHT * h]
        if len(peers) < MIN_VALUE_PEERS:
            continue
        clean = _below(g.halo_noise, np.array([p.halo_noise for p in peers]))
        sharp = _below(g.ramp_width, np.array([p.ramp_width for p in peers]))
        shape = shapes.get(id(g.word))
        foreign = foreign_font(shape)
        anomalies: list[str] = []
        # the line's edges are measured only for a word that needs them (see LineEdges)
        if clean >= CLEAN_HALO_Z and (sharp >= SHARP_EDGE_Z or foreign):
            anomalies = ["clean halo"] + ["sharp edges"] * (sharp >= SHARP_EDGE_Z)
        elif sharp >= SHARP_EDGE_Z and foreign:
            line = lines.get(id(g.word))
            if line is not None and g.ramp_width <= LINE_SHARPER * line[1]:
                anomalies = ["sharp edges", "sharper than its line"]
        elif -sharp >= SOFT_EDGE_Z and clean >= -SOFT_HALO_Z:
            line = lines.get(id(g.word))
            if line is not None and g.ramp_width >= LINE_SOFTER * line[0]:
                anomalies = ["soft edges", "softer than its line"]
        if not anomalies:
            continue
        line = lines.get(id(g.word))
        if foreign:
            anomalies.append("foreign glyph shapes")
        out.append(Drawn(g, clean, sharp, shape if foreign else None, line, tuple(anomalies)))
    return out


class LineEdges(Mapping[int, tuple[float, float]]):
    """Per value word (keyed by ``id`` of the word): the median and the narrowest edge width of
    the other words on its line (labels and values alike), when any can be measured. Measured
    when first asked for: most value words are judged without their line, and measuring every
    line-mate of every value word cost more than the rest of the detector."""

    def __init__(self, maps: PageMaps, words: list[Word], values: list[GlyphStats]) -> None:
        self._maps = maps
        self._words = words
        self._values = {id(g.word): g for g in values}
        #: glyph statistics by id of the word, seeded with the values' own
        self._stats: dict[int, GlyphStats | None] = dict(self._values)
        self._lines: dict[int, tuple[float, float] | None] = {}

    def _measure(self, g: GlyphStats) -> tuple[float, float] | None:
        ramps = []
        for w in self._words:
            if w is g.word or not _same_line(w, g.word) or sum(ch.isalnum() for ch in w.text) < LINE_WORD_CHARS:
                continue
            if id(w) not in self._stats:
                self._stats[id(w)] = glyph_stats(self._maps, w)
            if (m := self._stats[id(w)]) is not None:
                ramps.append(m.ramp_width)
        return (float(np.median(ramps)), float(min(ramps))) if ramps else None

    def __getitem__(self, key: int) -> tuple[float, float]:
        if key not in self._lines:
            self._lines[key] = self._measure(self._values[key])
        if (line := self._lines[key]) is None:
            raise KeyError(key)
        return line

    def __iter__(self) -> Iterator[int]:
        return (k for k in self._values if k in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class ShapeStats:
    """How a value word's digits match the same digits printed elsewhere on the page."""

    word: Word
    #: digits that could be compared (enough same-size page-mates in other words)
    judged: int
    #: of those, digits whose shape is foreign to their page-mates
    foreign: int
    #: the median shortfall of the word's digit likeness below their mates' (correlation)
    gap: float


def word_glyphs(maps: PageMaps, word: Word, index: int) -> list[Glyph]:
    """The digits of a word cut at the gaps between its ink columns. Only a word whose ink
    falls apart into exactly one piece per character is cut: a guess at where touching glyphs
    part would compare half glyphs, and their misfit would look like another font."""
    text = word.text.strip()
    measured = word_ink(maps, word.box, min_width=len(text), min_height=MIN_GLYPH_HEIGHT,
                        min_contrast=MIN_GLYPH_CONTRAST, ink_share=GLYPH_INK)
    if measured is None:
        return []
    (_x0, _y0, _x1, _y1), dark, contrast, ink = measured.box, measured.dark, measured.contrast, measured.ink
    cells = runs(ink.any(axis=0))
    if len(cells) != len(text):
        return []
    out = []
    for ch, (a, b) in zip(text, cells, strict=True):
        rows = np.flatnonzero(ink[:, a:b].any(axis=1))
        if not ch.isalnum() or rows.size == 0 or rows[-1] - rows[0] + 1 < MIN_GLYPH_HEIGHT:
            continue
        # np.clip(..., 0, 1) in place (the same maxima and minima, no NaN here: contrast > 0)
        crop = dark[rows[0]:rows[-1] + 1, a:b] / contrast
        np.minimum(np.maximum(crop, 0, out=crop), 1, out=crop)
        shape = cv2.resize(crop, GLYPH_SIZE[::-1], interpolation=cv2.INTER_AREA)
        out.append(Glyph(index, ch, int(rows[-1] - rows[0] + 1), shape))
    return out


def shape_stats(maps: PageMaps, words: list[Word]) -> list[ShapeStats]:
    """Foreign glyph shapes of every word, against the same characters of the other words."""
    glyphs = [g for i, w in enumerate(words) for g in word_glyphs(maps, w, i)]
    if not glyphs:
        return []
    score, gap = glyph_shortfalls(glyphs)
    owner = np.array([g.word for g in glyphs])
    out = []
    for i, w in enumerate(words):
        mine = (owner == i) & np.isfinite(score)
        if not mine.any():
            continue
        out.append(ShapeStats(w, int(mine.sum()), int((score[mine] >= 1).sum()),
                              float(np.median(gap[mine]))))
    return out


_SAYS = {
    "clean halo": "the paper right around it is cleaner than around the other values of its size",
    "sharp edges": "its edges are sharper than those of the other values of its size",
    "sharper than its line": "sharper than the print beside it on its line",
    "soft edges": "its edges are much softer than those of the other values of its size",
    "softer than its line": "softer than the print beside it on its line",
    "foreign glyph shapes": "its characters are shaped unlike the same characters elsewhere "
                            "on the page",
}


def _glyph_finding(reading: PageReading, d: Drawn) -> Finding:
    g = d.glyph
    evidence = {"text": g.word.text, "halo_noise": round(g.halo_noise, 3),
                "edge_width": round(g.ramp_width, 2), "halo_below_peers": round(d.clean, 1),
                "edges_below_peers": round(d.sharp, 1), "anomalies": list(d.anomalies)}
    if d.line is not None:
        evidence |= {"line_edge_width": round(d.line[0], 2),
                     "line_narrowest_edge_width": round(d.line[1], 2)}
    if d.shape is not None:
        evidence |= {"glyphs_compared": d.shape.judged, "glyphs_foreign": d.shape.foreign,
                     "likeness_below_peers": round(d.shape.gap, 3)}
    what = ", ".join(_SAYS[a] for a in d.anomalies)
    return Finding(
        code="local_edit", severity="high", score=0.8,
        message=f"The text '{g.word.text}' on page {reading.page} looks drawn, not printed: "
                f"{what}.",
        page=reading.page, box=g.word.box, evidence=evidence)


def page_findings(reading: PageReading, image, maps: PageMaps | None = None,  # noqa: ANN001
                  ) -> tuple[list[Finding], bool]:
    """Local edits on one page (``maps``: its :func:`page_maps`, made here when not given); and
    whether anything on the page could be judged (noisy paper, or enough value words to compare)."""
    maps = maps if maps is not None else page_maps(image)
    words = [w for w in reading.words if w.text.strip()][:MAX_WORDS]
    glyphs = [g for w in words if sum(ch.isdigit() for ch in w.text) >= VALUE_DIGITS
              if (g := glyph_stats(maps, w)) is not None]
    shapes = {id(s.word): s for s in shape_stats(maps, words)} if glyphs else {}
    lines: Mapping[int, tuple[float, float]] = LineEdges(maps, words, glyphs) if glyphs else {}
    out = [_glyph_finding(reading, drawn) for drawn in drawn_text(glyphs, shapes, lines)]
    judged = len(glyphs) > MIN_VALUE_PEERS
    if maps.noise >= MIN_PAPER_NOISE:
        drawn = {f.box for f in out}
        out += [f for f in flat_paper_findings(reading, maps, words) if f.box not in drawn]
        judged = True
    return out, judged


def flat_paper_findings(reading: PageReading, maps: PageMaps, words: list[Word]) -> list[Finding]:
    """Words on a noisy page whose box has flat paper plus another ink, stroke or height."""
    # forgers repaint values (numbers, names), and a word of one or two characters has too few
    # pixels for its ink and paper statistics to mean anything
    judged = {id(w) for w in words if sum(ch.isalnum() for ch in w.text) >= MIN_WORD_CHARS}
    others = np.zeros(maps.gray.shape, bool)
    for w in words:
        x0, y0, x1, y1 = clip((w.box[0] - 3, w.box[1] - 3, w.box[2] + 3, w.box[3] + 3), maps.gray.shape)
        others[y0:y1, x0:x1] = True
    # a word is judged only when its paper is flat: when none is, the words' ink, stroke and
    # height (what a flat word is compared on) need not be measured (a CPU saving, same findings)
    if not any(_flat(maps, noise) for w in words if id(w) in judged
               if (noise := paper_noise(maps, w, others)) is not None):
        return []
    stats = []
    for w in words:
        # exclude the word's own box from "others" so its ring may touch its own margin only
        s = word_stats(maps, w, others)
        if s is not None:
            stats.append(s)
    out = []
    for s in stats:
        if id(s.word) not in judged or not _flat(maps, (s.noise_in, s.noise_ring)):
            continue
        odd = anomalies(s, stats)
        if not odd:
            continue
        out.append(Finding(
            code="local_edit", severity="high", score=0.8,
            message=f"The box around '{s.word.text}' on page {reading.page} looks repainted: its "
                    f"paper has almost none of the scan noise around it, and its {odd[0]} differs "
                    "from the rest of the page.",
            page=reading.page, box=s.word.box,
            evidence={"text": s.word.text, "noise_inside": round(s.noise_in, 2),
                      "noise_around": round(s.noise_ring, 2), "page_noise": round(maps.noise, 2),
                      "anomalies": odd}))
    return out


def _flat(maps: PageMaps, noise: tuple[float, float]) -> bool:
    """Whether a box's paper noise (inside, around) is flat against the paper around it."""
    reference = min(noise[1], maps.noise)
    return reference >= MIN_PAPER_NOISE and noise[0] < FLAT_RATIO * reference


class LocalEditsDetector:
    """Repainted boxes: flat paper plus other ink, stroke or glyph height; or drawn text (a
    clean halo plus sharp edges)."""

    name = "local_edits"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        def per_page(reading: PageReading, image) -> tuple[list[Finding], bool]:  # noqa: ANN001
            return page_findings(reading, image, shared_page_maps(analysis, reading, image))

        return judge_scanned_pages(analysis, per_page, "too few values and too clean paper to "
                                                       "tell a repainted box from a scan")


#: the module-level detector the pipeline runs
detector = LocalEditsDetector()
