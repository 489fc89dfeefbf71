"""Likeness of printed characters to the same characters elsewhere on a page (what
:mod:`local_edits` calls foreign glyph shapes): each glyph, resampled to one size, correlated
with its same-character, same-size mates in other words at its best small shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: size in px (rows, columns) every glyph crop is resampled to before shapes are compared
GLYPH_SIZE = (20, 14)
#: px each way a glyph may shift against another when their shapes are compared
GLYPH_SHIFT = 1
#: glyphs whose ink heights differ by at most this share are drawn at the same size
GLYPH_PEER_HEIGHT = 0.25
#: fewest same-character, same-size glyphs in other words a glyph is compared with
MIN_GLYPH_MATES = 3
#: a glyph's likeness to its page-mates is its second-best correlation with them (its best
#: could be a twin the forger drew in the same edit, e.g. the same total printed twice)
LIKENESS_RANK = 2
#: a glyph's shape is foreign when its likeness lies this far (correlation) below the likeness
#: its page-mates have among themselves ...
FOREIGN_GAP = 0.06
#: ... and this many robust spreads of theirs below it
FOREIGN_Z = 2.0
#: floor of that spread (correlation): honest glyphs of one printer agree to about this
LIKENESS_SPREAD_FLOOR = 0.01


@dataclass(frozen=True)
class Glyph:
    """One printed digit: which word it belongs to, its ink height and its normalised shape."""

    word: int
    char: str
    height: int
    #: the crop of its ink box, resampled to GLYPH_SIZE, darkening as a share of the contrast
    shape: np.ndarray


def _windows(shapes: np.ndarray) -> np.ndarray:
    """(shifts, glyphs, px) zero-mean unit-norm windows of the glyphs shifted by up to
    GLYPH_SHIFT px each way (the centre window is index shifts // 2)."""
    n, (h, w), k = len(shapes), GLYPH_SIZE, GLYPH_SHIFT
    padded = np.zeros((n, h + 2 * k, w + 2 * k), np.float32)
    padded[:, k:k + h, k:k + w] = shapes
    wins = np.stack([padded[:, dy:dy + h, dx:dx + w].reshape(n, -1)
                     for dy in range(2 * k + 1) for dx in range(2 * k + 1)])
    wins -= wins.mean(axis=2, keepdims=True)
    wins /= np.linalg.norm(wins, axis=2, keepdims=True) + 1e-6
    return wins


def glyph_shortfalls(glyphs: list[Glyph]) -> np.ndarray:
    """Per glyph, how far its likeness to its page-mates (same digit, same size, other words)
    lies below the likeness those mates have among themselves, in units that flag it (>= 1
    is foreign); NaN where there are too few mates. Likeness is the LIKENESS_RANK-th best
    normalised cross-correlation, each pair at its best small shift."""
    out = np.full(len(glyphs), np.nan)
    gap = np.full(len(glyphs), np.nan)
    by_char: dict[str, list[int]] = {}
    for i, g in enumerate(glyphs):
        by_char.setdefault(g.char, []).append(i)
    for idx in by_char.values():
        if len(idx) <= MIN_GLYPH_MATES:
            continue
        wins = _windows(np.stack([glyphs[i].shape for i in idx]))
        sim = np.einsum("snd,md->snm", wins, wins[len(wins) // 2]).max(axis=0)
        sim = np.maximum(sim, sim.T)
        words = np.array([glyphs[i].word for i in idx])
        heights = np.array([glyphs[i].height for i in idx], dtype=float)
        mates = (words[:, None] != words[None, :]) & (
            np.abs(heights[:, None] - heights[None, :]) <= GLYPH_PEER_HEIGHT * heights[:, None])
        ranked = np.sort(np.where(mates, sim, -np.inf), axis=1)[:, ::-1]
        likeness = ranked[:, LIKENESS_RANK - 1]
        peers = np.where(mates & np.isfinite(likeness)[None, :], likeness[None, :], np.nan)
        enough = (np.isfinite(peers).sum(axis=1) >= MIN_GLYPH_MATES) & np.isfinite(likeness)
        if not enough.any():
            continue
        ref = _row_medians(peers[enough])
        spread = np.maximum(1.4826 * _row_medians(np.abs(peers[enough] - ref[:, None])), LIKENESS_SPREAD_FLOOR)
        rows = np.array(idx)[enough]
        gap[rows] = ref - likeness[enough]
        out[rows] = np.minimum(gap[rows] / FOREIGN_GAP, gap[rows] / (FOREIGN_Z * spread))
    return np.stack([out, gap])


def _row_medians(values: np.ndarray) -> np.ndarray:
    """``np.nanmedian(values, axis=1)`` of rows holding at least one number, the same bits (the
    middle one, or the two middle ones' sum halved) from one sort: numpy's builds masked arrays
    for it, two thirds of :func:`glyph_shortfalls`' time."""
    ordered = np.sort(values, axis=1)  # NaN last
    counts = np.count_nonzero(~np.isnan(values), axis=1)
    high = counts // 2
    low = np.where(counts % 2 == 1, high, high - 1)
    rows = np.arange(len(values))
    return (ordered[rows, low] + ordered[rows, high]) / 2
