"""Earlier uploads' text-layer pages for :func:`forensics.page_objects.compare`: their graphic
objects (read from their PDF without rendering it) and their ink for the layout measure (a
render at :data:`~forensics.page_objects.LAYOUT_DPI`), each kept in a small cache by the page's
pixels' sha256 (a popular template is a candidate of many uploads; the upload being analysed
puts its own page's there too, which are what reading its file again would give, so a later
upload of the process does not read it); and the two helpers every
comparison with an earlier page reads it by, the pixel alignment's decoded pages too
(:func:`cached`, :func:`read_earlier`). Used by :mod:`forensics.detectors.duplicates`; not a
detector.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import pypdfium2 as pdfium

from forensics import documents, page_objects, text_layers
from forensics.alignment import Relation
from forensics.pdf import page_to_bitmap
from forensics.pdf_graphics import PageGraphics, page_graphics

log = logging.getLogger(__name__)

#: earlier pages kept per cache (the duplicates detector's page cache size)
CACHE_SIZE = 64
#: earlier pages' words (and objects) placed for a later page's size: their rasters (~1-2 MB a
#: page) are kept with them, so fewer (a page's candidates are at most 12)
PLACED_CACHE_SIZE = 24

#: earlier text-layer pages' graphic objects, and their ink at the layout measure's DPI
_graphics_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_layout_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
#: earlier text-layer pages' stored words, and those words and objects placed in the pixels of
#: a later page's size (:func:`forensics.page_objects.scaled_page`)
_words_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_placed_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def by_objects(view: Any, settings: Any, my_text: Any, my_page: Any, r: Any, theirs: Any,
               my_ink: Any, my_objects: Any = None) -> Relation | None:
    """Two born-digital pages compared by their words and graphic objects
    (:func:`forensics.page_objects.compare`), or None when the pixels must decide: either page
    has no text layer or one its objects cannot speak for (:attr:`Page.graphics` None).
    ``my_ink()``: this page's :func:`forensics.page_objects.layout_ink` of its render, made once
    an upload, for a page without its PDF's bytes (else :func:`layout_ink_of`);
    ``my_objects()``: its :class:`forensics.page_objects.ObjectPage`, likewise (None: made here)."""
    if my_page is None or my_page.graphics is None or not theirs or theirs.get("source") != "text_layer":
        return None
    if my_page.pixel_sha256 is not None:  # a later upload of this process compares with it unread
        cached(_graphics_cache, (view.url, my_page.pixel_sha256),
               lambda: replace(my_page.graphics, pdf=None, layout=None))
    graphics = cached(_graphics_cache, (view.url, r.pixel_sha256),
                      lambda: _read_graphics(view, settings, r.evidence_id, r.page))
    if graphics is None:
        return None
    words = stored_words(view, r, theirs)
    size = (theirs["width"], theirs["height"])

    def layout() -> float:
        other = cached(_layout_cache, (view.url, r.pixel_sha256), lambda: _layout_ink(
            _read_page(view, settings, r.evidence_id, r.page, dpi=page_objects.LAYOUT_DPI)))
        if other is None:
            return 0.0
        mine = layout_ink_of(view, settings, my_page)
        return page_objects.ink_agreement(my_ink() if mine is None else mine, other)

    def their_page() -> page_objects.ObjectPage:
        # their words and objects in this page's pixels, placed: a candidate page is compared
        # with many later uploads of one size
        return cached(_placed_cache, (view.url, r.id, "objects", my_page.graphics.size, r.pixel_sha256),
                      lambda: page_objects.scaled_page(words, graphics, size, my_page.graphics.size),
                      PLACED_CACHE_SIZE)

    return page_objects.compare(my_text[1], my_page.graphics, words, graphics, size, layout,
                                my_objects() if my_objects is not None else None, their_page)


def stored_layer(view: Any, r: Any, reading: dict[str, Any], size: tuple[int, int]) -> tuple[list[Any], Any]:
    """(:func:`stored_words` of ``reading``, those words placed at the tolerance of a page of
    ``size``: :func:`forensics.text_layers.placed_layer`), kept by the row and that size."""
    words = stored_words(view, r, reading)
    return words, cached(_placed_cache, (view.url, r.id, "words", tuple(size), r.pixel_sha256),
                         lambda: text_layers.placed_layer(words, size), PLACED_CACHE_SIZE)


def stored_words(view: Any, r: Any, reading: dict[str, Any]) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The words (text, box) of candidate row ``r``'s stored text-layer ``reading``, kept by the
    row as its reading is (a template's page meets many later uploads)."""
    return cached(_words_cache, (view.url, r.id, r.pixel_sha256),
                  lambda: [(w[0], (w[1], w[2], w[3], w[4])) for w in reading["words"]])


def _layout_ink(image: Any) -> Any:
    return None if image is None else page_objects.layout_ink(image)


def layout_ink_of(view: Any, settings: Any, page: Any) -> Any:
    """This upload's text page's ink for the layout measure, as a later upload reads it when it
    compares with this one: :func:`forensics.page_objects.layout_ink` of the page rendered at
    :data:`~forensics.page_objects.LAYOUT_DPI` (by the decoder while it had the page open,
    :attr:`PageGraphics.layout`, else again from its PDF's bytes, :attr:`PageGraphics.pdf`:
    the same pixels), never of its 300-DPI render (the two inks of one page agree only
    0.93-1.00). Kept in the earlier pages' cache by the page's pixels' sha256,
    where a later upload of this process finds it instead of reading the file again. None when
    the page has no such bytes or no pixel sha256 (then the caller's ink of its render)."""
    graphics = getattr(page, "graphics", None)
    data = getattr(graphics, "pdf", None)
    if data is None or page.pixel_sha256 is None:
        return None
    return cached(_layout_cache, (view.url, page.pixel_sha256), lambda: _layout_ink(
        graphics.layout if graphics.layout is not None
        else documents.load_page_image(data, page.number, settings=settings, dpi=page_objects.LAYOUT_DPI)))


def cached(cache: OrderedDict, key: tuple[Any, ...], make: Any, size: int = CACHE_SIZE) -> Any:
    """``make()`` kept by ``key`` (its last element the page's pixel sha256: None is not kept),
    at most ``size`` entries, the least recently used dropped: an earlier upload's page, decoded
    or read, is the same every time its pixels are."""
    if key[-1] is not None and key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = make()
    if key[-1] is not None:
        cache[key] = value
        if len(cache) > size:
            cache.popitem(last=False)
    return value


def _read_graphics(view: Any, settings: Any, evidence_id: str, page: int) -> Any:
    """An earlier upload's page's graphic objects (:func:`load_page_graphics`)."""
    return read_earlier(view, settings, evidence_id, lambda data: load_page_graphics(data, page, settings=settings))


def _read_page(view: Any, settings: Any, evidence_id: str, page: int, dpi: int | None = None) -> Any:
    """An earlier upload's page decoded again (PDF pages at ``dpi`` when given), or None."""
    return read_earlier(view, settings, evidence_id,
                        lambda data: documents.load_page_image(data, page, settings=settings, dpi=dpi))


def read_earlier(view: Any, settings: Any, evidence_id: str, read: Any) -> Any:
    """``read(bytes)`` of an earlier upload (its blob read again), or None when it is gone or
    can no longer be read."""
    from forensics.errors import ForensicsError
    from forensics.events import resolve_blob

    row = view.file_of(evidence_id)
    if row is None:
        return None
    try:
        return read(resolve_blob(row[0], settings.blob_root_path).read_bytes())
    except (ForensicsError, OSError) as exc:
        log.warning("cannot re-read %s for comparison: %s", evidence_id, exc)
        return None


def load_page_graphics(data: bytes, page: int, *, settings: Any) -> PageGraphics | None:
    """The graphic objects of PDF page ``page`` (1-based) as
    :func:`forensics.documents.load_document` reads them
    (:func:`forensics.pdf_graphics.page_graphics`, boxes in the pixels of its render at
    :func:`forensics.documents.page_dpi`), without rendering it, under the documents' PDFium
    lock and limits (their private helpers: one way to open a PDF): how an earlier upload's page
    is compared with a new text-layer page. None for a page that is not there, or one only its
    pixels can speak for."""
    if documents.sniff(data) != "application/pdf":
        return None
    with documents._reading_pdf(data):
        pdf = documents._open_pdf(data, settings)
        try:
            if not 1 <= page <= len(pdf):
                return None
            p = pdf[page - 1]
            try:
                width_pt, height_pt = p.get_size()
                scale = documents.page_dpi(width_pt, height_pt, settings) / 72.0
                size = (math.ceil(width_pt * scale), math.ceil(height_pt * scale))
                # the render's own frame: PDFium's canvas of that size at no extra rotation
                to_px = page_to_bitmap(pdfium.PdfPosConv(p, (0, 0, size[0], size[1], 0)))
                return page_graphics(p, to_px, size)
            finally:
                p.close()
        finally:
            pdf.close()
