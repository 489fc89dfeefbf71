"""A PDF page's graphic objects (images, paths, shadings, forms) with their pixel boxes: what
:mod:`forensics.page_objects` compares besides the words, read without rendering the page.

None stands for a page whose render can show something its objects do not say: invisible text
(an OCR layer over a scan), an image covering much of the page (a scan inside a PDF), an image
or filled shape painted over text, or more objects than :data:`OBJECT_WALK_BUDGET`.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from forensics.model import Box
from forensics.pdf import OBJECT_WALK_BUDGET, _px_box, page_objects

#: one image covering more than this share of the page is a scan (or a picture of the page):
#: its pixels, not its objects, say what is printed
MAX_IMAGE_SHARE = 0.25

#: a graphic object: (kind and what identifies its drawing, pixel box)
Graphic = tuple[str, Box]

#: render resolution of a text page for the layout measure of
#: :mod:`forensics.page_objects` (the alignment's working scale on A4 is ~100 DPI; a coarser
#: render would thin the ink it measures)
LAYOUT_DPI = 100


@dataclass(frozen=True)
class PageGraphics:
    """A PDF page's non-text marks: (signature, pixel box) of each image, path, shading and form
    object, boxes in the pixels of a render of ``size``."""

    size: tuple[int, int]
    objects: tuple[Graphic, ...]
    #: the bytes of the PDF the page is in, kept by the decoder of an upload for the layout
    #: measure's render (:func:`forensics.detectors.pdf_pages.layout_ink_of`), made only when a
    #: comparison needs it; None for a page read back from the store
    pdf: bytes | None = field(default=None, compare=False, repr=False)
    #: the page rendered at :data:`LAYOUT_DPI` by the decoder of an upload while it had the
    #: page open (what rendering it again from ``pdf`` gives, to the pixel, without opening the
    #: file and loading its fonts again); None for a page read back from the store
    layout: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        return {"size": list(self.size), "objects": [[sig, *box] for sig, box in self.objects]}


def page_graphics(page: pdfium.PdfPage, to_px: tuple[float, ...], size: tuple[int, int],
                  objects: list[pdfium.PdfObject] | None = None) -> PageGraphics | None:
    """The page's graphic objects in pixels (``to_px`` maps page points to the render's pixels,
    :func:`forensics.pdf.page_to_bitmap`), or None when the page cannot be judged by its objects
    (see the module docstring). ``objects``: :func:`forensics.pdf.page_objects` of the page,
    when already walked. Call under the caller's PDFium lock."""
    area = float(size[0] * size[1]) or 1.0
    out: list[Graphic] = []
    texts: list[tuple[float, float, float, float]] = []
    fill, stroke = ctypes.c_int(0), ctypes.c_int(0)
    r, g, b, a = (ctypes.c_uint(0) for _ in range(4))
    form: str | None = None
    for n, obj in enumerate(page_objects(page) if objects is None else objects):
        if n >= OBJECT_WALK_BUDGET:
            return None
        kind = obj.type
        if obj.level == 0:
            form = None
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            if pdfium_c.FPDFTextObj_GetTextRenderMode(obj.raw) in (pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE,
                                                                  pdfium_c.FPDF_TEXTRENDERMODE_CLIP):
                return None  # text the render does not show: an OCR layer
            if obj.level == 0:
                texts.append(_px_box(obj.get_bounds(), to_px))
            continue
        if form is not None:  # inside a form: its children's bounds are in the form's space
            continue
        box = _px_box(obj.get_bounds(), to_px)
        x0, y0, x1, y1 = box
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            form = _form_signature(obj)
            sig, painted = form, True
        elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            if (x1 - x0) * (y1 - y0) > MAX_IMAGE_SHARE * area:
                return None
            sig, painted = "image:" + _image_digest(obj), True
        elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            pdfium_c.FPDFPath_GetDrawMode(obj.raw, ctypes.byref(fill), ctypes.byref(stroke))
            colours = []
            if fill.value and pdfium_c.FPDFPageObj_GetFillColor(obj.raw, *map(ctypes.byref, (r, g, b, a))):
                colours.append((r.value, g.value, b.value, a.value))
            if stroke.value and pdfium_c.FPDFPageObj_GetStrokeColor(obj.raw, *map(ctypes.byref, (r, g, b, a))):
                colours.append((r.value, g.value, b.value, a.value))
            sig = f"path:{fill.value}:{stroke.value}:{pdfium_c.FPDFPath_CountSegments(obj.raw)}:{colours}"
            painted = bool(fill.value)
        elif kind == pdfium_c.FPDF_PAGEOBJ_SHADING:
            sig, painted = "shading", True
        else:
            continue
        if painted and texts and _over_text(box, texts):
            return None  # painted over earlier text: the render may hide what the layer says
        if x1 > x0 or y1 > y0:
            out.append((sig, (int(x0), int(y0), int(math.ceil(x1)), int(math.ceil(y1)))))
    return PageGraphics(size, tuple(out))


def _over_text(box: tuple[float, float, float, float], texts: list[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(min(x1, t[2]) > max(x0, t[0]) and min(y1, t[3]) > max(y0, t[1]) for t in texts)


def _image_digest(obj: pdfium.PdfObject) -> str:
    """A digest of an image object's stored (encoded) data: the same picture, the same bytes."""
    n = pdfium_c.FPDFImageObj_GetImageDataRaw(obj.raw, None, 0)
    buf = ctypes.create_string_buffer(max(1, n))
    got = pdfium_c.FPDFImageObj_GetImageDataRaw(obj.raw, buf, n) if n else 0
    return hashlib.blake2b(buf.raw[:got], digest_size=8).hexdigest()


def _form_signature(obj: pdfium.PdfObject) -> str:
    """A form XObject by what it holds: its objects' kinds and bounds in the form's own space."""
    h = hashlib.blake2b(digest_size=8)
    count = pdfium_c.FPDFFormObj_CountObjects(obj.raw)
    for i in range(max(0, min(count, OBJECT_WALK_BUDGET))):
        child = pdfium_c.FPDFFormObj_GetObject(obj.raw, i)
        left, bottom, right, top = (ctypes.c_float(0) for _ in range(4))
        pdfium_c.FPDFPageObj_GetBounds(child, *map(ctypes.byref, (left, bottom, right, top)))
        h.update(f"{pdfium_c.FPDFPageObj_GetType(child)}:{left.value:.1f}:{bottom.value:.1f}:"
                 f"{right.value:.1f}:{top.value:.1f};".encode())
    return f"form:{count}:{h.hexdigest()}"
