"""Two born-digital PDF pages compared by what they draw, not by their pixels.

A page with a text layer says exactly which words it prints where; its other marks are image,
path and shading objects with their bounds. Two such pages need no pixel alignment
(:func:`forensics.alignment.compare_pages`, ~0.25 s a pair at 300 DPI): both are drawn in the
page's own frame, so the same word at the same place (a share of the page's size) is the same
ink. :func:`compare` answers in the alignment's classes, from the same rules it applies to two
renders (whose "paper noise" always correlates, so every registered pair is "one scan"):

- every word of each page has its twin (the same text) at the same place on the other:
  ``same_image``. Graphic objects that differ alone (a profile's badge, a redrawn rule) do not
  make an edit: the alignment does not see them on a render either (measured below), and a
  forger's edit is of values, which are words (a picture laid over a word is left to the pixels);
- the words without a twin (and the differing objects) make at most
  :data:`~forensics.alignment.MAX_EDIT_BOXES` field boxes holding at most
  :data:`~forensics.alignment.EDIT_MAX_CHANGED` of the pages' marked area: ``edited_copy``,
  its boxes the changed words' in page A's pixels;
- otherwise ``same_layout`` or ``unrelated`` by the alignment's own ink agreement
  (:data:`~forensics.alignment.SAME_LAYOUT_AGREEMENT`), measured on renders at the alignment's
  working scale without registering them (:func:`ink_agreement`).

Measured on every pair of text-layer pages the linking step would align (``bench/object_pairs.py
--synth 6``: the 47 invoices-pdf-dev PDFs and 24 generated invoices, 534 pairs; rows the
alignment, columns this): same_image 57/2/0/0, edited_copy 0/11/4/0, same_layout 0/0/341/7,
unrelated 0/0/8/104 (same_image, edited_copy, same_layout, unrelated). The 2 are a generated
invoice with its total raised by 100, which the alignment of two clean renders calls identical
(no paper noise, and the tolerant comparison lets one changed digit through); the 4 are
different invoices of one template (their numbers differ: ``same_layout`` in the pipeline either
way); the 15 swaps of same_layout and unrelated sit near the agreement threshold (0.51-0.66). CPU:
143 ms an alignment, 6.1 ms a pair here (each page's ink measured once).

A page whose render can show something its objects do not say is left to the pixels
(:func:`forensics.pdf_graphics.page_graphics` returns None for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from forensics.alignment import (
    AGREEMENT_NEAR,
    EDGE_PX,
    EDIT_MAX_CHANGED,
    MAX_EDIT_BOXES,
    SAME_LAYOUT_AGREEMENT,
    Relation,
    _ink,
    merge_boxes,
)
from forensics.model import Box
from forensics.page_features import work_raster
from forensics.pdf_graphics import LAYOUT_DPI, PageGraphics  # noqa: F401 (LAYOUT_DPI: the layout measure's)
from forensics.text_layers import Placed, unmatched

#: pages whose sizes differ by more than this share (of each side) are left to the pixels
SIZE_TOLERANCE = 0.01
#: a word or object matches one of the other page's when it is the same and every side of its
#: box is within this share of the page's longer side (~1 mm on A4; text_layers' tolerance)
BOX_TOLERANCE = 0.004
#: raster of the marked-area measures: cells per page's longer side (~100 DPI on A4, the
#: alignment's working scale)
CELLS = 1200

Word = tuple[str, Box]


class ObjectPage:
    """Page A of :func:`compare` (its words and graphic objects) with what every comparison of
    it computes first: its items placed for :func:`~forensics.text_layers.unmatched` and its
    marks' raster. A page compared with many earlier ones prepares itself once."""

    def __init__(self, words: Sequence[Word], graphics: PageGraphics) -> None:
        self.words, self.graphics = words, graphics
        size = graphics.size
        self.tol = BOX_TOLERANCE * max(size)
        self.cell = max(size) / CELLS
        self.placed_words = Placed(words, self.tol)
        self.placed_graphics = Placed(graphics.objects, self.tol)
        self._marks: np.ndarray | None = None

    def marks(self) -> np.ndarray:
        """The raster of A's words and objects (the union with B's is the two pages' marks)."""
        if self._marks is None:
            self._marks = _raster([*self.words, *self.graphics.objects], self.cell, self.graphics.size)
        return self._marks


def scaled_page(b_words: Sequence[Word], b_graphics: PageGraphics, b_words_size: tuple[int, int],
                size: tuple[int, int]) -> ObjectPage:
    """Page B of :func:`compare` brought into the pixels of a page A of ``size`` (its words from
    ``b_words_size``, its objects from ``b_graphics.size``) and prepared as A is: an earlier page
    compared with many later ones of one size is scaled and placed once."""
    objects = tuple(_scaled(b_graphics.objects, b_graphics.size, size))
    return ObjectPage(_scaled(b_words, b_words_size, size), PageGraphics(size, objects))


def compare(a_words: Sequence[Word], a_graphics: PageGraphics, b_words: Sequence[Word],
            b_graphics: PageGraphics, b_words_size: tuple[int, int],
            layout: Callable[[], float], a_page: ObjectPage | None = None,
            b_page: Callable[[], ObjectPage] | None = None) -> Relation | None:
    """What page B is to page A, from their words (text, pixel box; A's in the pixels of
    ``a_graphics.size``, B's in those of ``b_words_size``) and graphic objects; None when the
    pixels must decide (pages of other shapes, no words). ``layout`` measures the two pages'
    ink agreement when they are not one document (:func:`ink_agreement` of the two
    renders' :func:`layout_ink`: the alignment's measure without its registration).
    ``a_page``: A prepared (:class:`ObjectPage` of ``a_words`` and ``a_graphics``), when A is
    compared with many pages; ``b_page()``: B as :func:`scaled_page` makes it for A's size, when B
    is compared with many pages (made here when not given, or when made for another size)."""
    (aw, ah) = a_graphics.size
    if not a_words or not b_words:
        return None
    if not _proportional(a_graphics.size, b_words_size) or not _proportional(a_graphics.size, b_graphics.size):
        return None
    if a_page is None or a_page.words is not a_words or a_page.graphics is not a_graphics:
        a_page = ObjectPage(a_words, a_graphics)
    # everything in A's pixels (B placed at A's tolerance and cell: those of A's size)
    b = b_page() if b_page is not None else None
    if b is None or b.graphics.size != (aw, ah):
        b = scaled_page(b_words, b_graphics, b_words_size, (aw, ah))
    bw, bg = b.words, b.graphics.objects
    tol = a_page.tol
    lone_words = unmatched(a_words, b.placed_words, tol) + unmatched(bw, a_page.placed_words, tol)
    lone_graphics = unmatched(a_graphics.objects, b.placed_graphics, tol) + unmatched(bg, a_page.placed_graphics, tol)
    details = {"registration": "skipped: PDF objects", "words": [len(a_words), len(b_words)],
               "graphics": [len(a_graphics.objects), len(bg)], "differing_words": len(lone_words),
               "differing_graphics": len(lone_graphics)}
    if not lone_words:
        # one document's text at the same places; a logo, rule or picture that differs (another
        # profile's badge) is no repainted field, and a render shows no more than that
        return Relation("same_image", 1.0, (), {**details, "boxes": 0})
    cell = a_page.cell
    marks = a_page.marks() | b.marks()  # the raster of all the marks
    # 0/1 rasters: their sums are counts of non-zero cells
    changed = float(cv2.countNonZero(_raster([*lone_words, *lone_graphics], cell, (aw, ah)))) / max(
        1, cv2.countNonZero(marks))
    details["changed_fraction"] = round(changed, 4)
    if changed <= EDIT_MAX_CHANGED:  # few enough changes for an edit: are they a few fields?
        heights = sorted(box[3] - box[1] for _, box in a_words)
        line = heights[len(heights) // 2]
        boxes = _merge([box for _, box in lone_words], line, line // 2, (aw, ah))
        details["boxes"] = len(boxes)
        if len(boxes) <= MAX_EDIT_BOXES:
            return Relation("edited_copy", 1.0, tuple(boxes), details)
    agree = layout()
    details["ink_agreement"] = round(agree, 3)
    if agree >= SAME_LAYOUT_AGREEMENT:
        return Relation("same_layout", round(min(1.0, agree), 3), (), details)
    return Relation("unrelated", round(1.0 - agree, 3), (), details)


class LayoutInk:
    """A render's ink at the alignment's working size (:func:`layout_ink`) with what each
    :func:`ink_agreement` with it reads: its ink count, and its ink dilated as
    :func:`~forensics.alignment._agreement` dilates it, per shape it is compared in (made once,
    not once a pair: a page is compared with many)."""

    __slots__ = ("ink", "_shaped")

    def __init__(self, ink: np.ndarray) -> None:
        self.ink = ink
        #: shape -> (the ink at that shape as uint8 0/1, its count, its dilation as uint8 0/1)
        self._shaped: dict[tuple[int, ...], tuple[np.ndarray, int, np.ndarray]] = {}

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ink.shape

    def at(self, shape: tuple[int, ...]) -> tuple[np.ndarray, int, np.ndarray]:
        """(ink, ink count, dilated ink) at ``shape``: resized as :func:`ink_agreement` always
        resized the other page's ink (nearest neighbour), the dilation the alignment's."""
        got = self._shaped.get(shape)
        if got is None:
            # a boolean array's bytes are its 0/1 values: viewed, not copied (a kept page holds
            # its ink and one dilation per shape, ~1 MB each at the working scale)
            ink = self.ink.view(np.uint8) if self.ink.dtype == np.bool_ else self.ink.astype(bool).view(np.uint8)
            if ink.shape != shape:
                ink = (cv2.resize(ink, shape[::-1], interpolation=cv2.INTER_NEAREST) > 0).astype(np.uint8)
            # the dilation of 0/1 values is 0/1: the alignment's ``dilate(...) > 0``
            got = (ink, int(cv2.countNonZero(ink)), cv2.dilate(ink, AGREEMENT_NEAR))
            if len(self._shaped) < 2:  # a page meets pages of a few shapes; bound it anyway
                self._shaped[shape] = got
        return got


def layout_ink(image: Image.Image) -> LayoutInk:
    """A render's ink at the alignment's working size, as the alignment reads it (its edges left
    out): one side of :func:`ink_agreement`, kept for a page compared many times."""
    arr = work_raster(image).arr
    valid = np.zeros(arr.shape, bool)
    valid[EDGE_PX:-EDGE_PX, EDGE_PX:-EDGE_PX] = True
    return LayoutInk(_ink(arr, valid))


def ink_agreement(ink_a: LayoutInk | np.ndarray, ink_b: LayoutInk | np.ndarray) -> float:
    """The alignment's layout agreement of two pages of one shape (:func:`layout_ink` of renders
    at any DPI each; B's ink resized to A's shape), without its registration: born-digital pages
    are drawn in the page's own frame. The value of :func:`~forensics.alignment._agreement`
    (the smaller share of each page's ink with ink of the other nearby), from each page's
    dilation made once (:class:`LayoutInk`) instead of twice a pair; ``tests/test_page_objects``
    holds the two equal."""
    a = ink_a if isinstance(ink_a, LayoutInk) else LayoutInk(ink_a)
    b = ink_b if isinstance(ink_b, LayoutInk) else LayoutInk(ink_b)
    shape = a.shape
    a_ink, a_count, a_near = a.at(shape)
    b_ink, b_count, b_near = b.at(shape)
    a_in_b = float(cv2.countNonZero(cv2.bitwise_and(a_ink, b_near))) / max(1, a_count)
    b_in_a = float(cv2.countNonZero(cv2.bitwise_and(b_ink, a_near))) / max(1, b_count)
    return min(a_in_b, b_in_a)


def _proportional(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Same page shape (renders of one page size at any DPI)."""
    return abs(a[0] / max(1, a[1]) - b[0] / max(1, b[1])) <= SIZE_TOLERANCE * a[0] / max(1, a[1])


def _scaled(items: Sequence[tuple[str, Box]], src: tuple[int, int], dst: tuple[int, int]) -> list[tuple[str, Box]]:
    """Every item's box scaled from a page of ``src`` pixels to one of ``dst``, each side
    rounded as Python's ``round`` rounds it (half to even, as numpy's ``rint``), at once."""
    sx, sy = dst[0] / max(1, src[0]), dst[1] / max(1, src[1])
    if not items:
        return []
    boxes = np.array([box for _, box in items], dtype=np.float64) * np.array([sx, sy, sx, sy])
    return [(text, tuple(box)) for (text, _), box in zip(items, np.rint(boxes).astype(np.int64).tolist(), strict=True)]


def _raster(marks: Sequence[tuple[str, Box]], cell: float, size: tuple[int, int]) -> np.ndarray:
    """The marks' boxes filled on a coarse grid of ``cell`` pixels."""
    w, h = int(size[0] / cell) + 1, int(size[1] / cell) + 1
    m = np.zeros((h, w), np.uint8)
    if not marks:
        return m
    # each side's cell as ``max(0, int(side / cell))`` (+1 past the far sides) computes it, at once
    cells = np.trunc(np.array([box for _, box in marks], dtype=np.float64) / cell).astype(np.int64)
    cells[:, 2:] += 1
    np.maximum(cells, 0, out=cells)
    for x0, y0, x1, y1 in cells.tolist():  # (a box wholly above or left of the page fills nothing)
        m[y0:y1, x0:x1] = 1
    return m


def _merge(boxes: list[Box], gap_x: int, gap_y: int, size: tuple[int, int]) -> list[Box]:
    """Boxes within ``gap_x`` along a line (``gap_y`` across lines) joined into field boxes, as
    the alignment groups a field's differing glyphs; clipped to the page."""
    w, h = size
    return sorted(((max(0, b[0]), max(0, b[1]), min(w, b[2]), min(h, b[3]))
                   for b in merge_boxes(boxes, gap_x, gap_y)), key=lambda b: (b[1], b[0]))
