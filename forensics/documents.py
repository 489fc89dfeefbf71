"""Turn uploaded bytes into a :class:`~forensics.model.Document`, safely.

The media type comes from the bytes (magic numbers), never from the file name or the uploader's
claim. Every limit of :class:`~forensics.settings.Settings` is enforced *before* the expensive
step it protects: file size before sniffing, declared pixels before decoding, page count before
rendering. Bad bytes only ever raise :class:`~forensics.errors.BadInput` subclasses; whatever a
decoder throws on damaged data is wrapped as :class:`~forensics.errors.CorruptFile`.

Images are decoded and normalised for analysis by :mod:`forensics.images` (EXIF orientation
applied, CMYK/16-bit/palette/alpha turned into ``RGB`` or ``L``). PDF pages are rendered in greyscale with PDFium, never running their
JavaScript (PDFium runs it only when a form environment is initialised, and we never call
``init_forms``); their text layer comes from :mod:`forensics.pdf`, their metadata from
:mod:`forensics.pdf_info`.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pypdfium2 as pdfium
from PIL import Image

from forensics.errors import (
    BadInput,
    CorruptFile,
    DecompressionBomb,
    EmptyFile,
    EncryptedPdf,
    FileTooLarge,
    TooManyPages,
    UnsupportedMedia,
)
from forensics.images import check_document_pixels, decode_image
from forensics.model import Document, Page
from forensics.pdf import (
    code_regions,
    overlay_boxes,
    page_objects,
    page_to_bitmap,
    text_layer_words,
)
from forensics.pdf_graphics import LAYOUT_DPI, page_graphics
from forensics.pdf_info import read_pdf_info
from forensics.settings import Settings

#: how far into the file a PDF header may start (bytes); Acrobat tolerates junk before it
PDF_HEADER_WINDOW = 1024

#: the PDF end-of-file marker must be this close to the end (bytes), as Acrobat requires
PDF_EOF_WINDOW = 1024

#: PDFium load errors that mean "needs a password" / "unsupported security handler"
PDFIUM_PASSWORD_ERRORS = (4, 5)

#: serialises all PDFium use in the process: PDFium keeps global state and is not thread-safe,
#: while dramatiq workers run several threads
PDFIUM_LOCK = threading.RLock()


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are (from magic numbers), or None when unsupported."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    # "BM" alone is two bytes any text can start with; also demand a known DIB header size
    if head[:2] == b"BM" and len(data) >= 18:
        if int.from_bytes(data[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124):
            return "image/bmp"
    if b"%PDF-" in data[: PDF_HEADER_WINDOW + 5]:
        return "application/pdf"
    return None


def looks_like(data: bytes) -> str:
    """A few words on what unsupported bytes seem to be, for the reviewer-facing message."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    known = [
        (b"<!doctype html", "HTML"), (b"<html", "HTML"), (b"<head", "HTML"),
        (b"<svg", "an SVG drawing"), (b"<?xml", "XML"), (b"{", "JSON or text"),
        (b"pk\x03\x04", "a ZIP archive (DOCX, XLSX, ...)"), (b"\x1f\x8b", "a gzip archive"),
        (b"rar!", "a RAR archive"), (b"7z\xbc\xaf", "a 7-Zip archive"),
        (b"\xd0\xcf\x11\xe0", "an old Office document (DOC, XLS)"),
        (b"%!ps", "PostScript"), (b"{\\rtf", "RTF"),
    ]  # fmt: skip
    for magic, what in known:
        if head.startswith(magic):
            return what
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftypavif"):
        return "a HEIC/AVIF photo"
    if data[4:8] == b"ftyp":
        return "a video (MP4/MOV)"
    if b"<html" in head or b"<body" in head:
        return "HTML"
    sample = data[:4096]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of an unknown kind"
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return (
        "plain text" if printable >= 0.95 * max(len(text), 1) else "binary data of an unknown kind"
    )


def load_document(data: bytes, *, claimed_type: str | None, settings: Settings) -> Document:
    """Decode an upload into pages within the limits of ``settings``.

    Raises only :class:`~forensics.errors.BadInput` subclasses for bad bytes: ``EmptyFile``,
    ``FileTooLarge``, ``UnsupportedMedia``, ``CorruptFile``, ``DecompressionBomb``,
    ``TooManyPages``, ``EncryptedPdf``.
    """
    if not data:
        raise EmptyFile("The uploaded file is empty (0 bytes).")
    if len(data) > settings.max_file_bytes:
        raise FileTooLarge(
            f"The file has {len(data):,} bytes; the limit is {settings.max_file_bytes:,}."
        )
    media_type = sniff(data)
    if media_type is None:
        claimed = f" (claimed {claimed_type})" if claimed_type else ""
        raise UnsupportedMedia(
            f"The bytes are not a supported image or PDF{claimed}; the file looks like "
            f"{looks_like(data)}."
        )
    sha = hashlib.sha256(data).hexdigest()
    info, meta = None, {}
    if media_type == "application/pdf":
        pages = load_pdf_pages(data, settings)
        info = read_pdf_info(data)
        if info.page_count != len(pages):  # pypdf could not count a damaged file; PDFium could
            info = replace(info, page_count=len(pages))
    else:
        pages, meta = decode_image(data, media_type, settings)
    return Document(
        sha256=sha,
        media_type=media_type,
        size_bytes=len(data),
        pages=pages,
        claimed_type=claimed_type,
        pdf=info,
        image_meta=meta,
        pixel_sha256=tuple(p.pixel_sha256 or pixel_sha256(p.image) for p in pages if p.image is not None),
    )


def load_page_image(data: bytes, page: int, *, settings: Settings, dpi: int | None = None) -> Image.Image | None:
    """Page ``page`` (1-based) decoded as :func:`load_document` decodes it, and nothing else (no
    text layer, metadata, pixel hash or other PDF page): how an earlier upload's page is read
    again for alignment. ``dpi`` renders a PDF page at most that fine instead. None when there
    is no such page; bad bytes raise as there."""
    media_type = sniff(data) if data else None
    if media_type is None:
        raise EmptyFile("The file is empty.") if not data else UnsupportedMedia(
            f"The bytes are not a supported image or PDF; the file looks like {looks_like(data)}.")
    if media_type != "application/pdf":
        pages, _ = decode_image(data, media_type, settings)
        return pages[page - 1].image if 1 <= page <= len(pages) else None
    with _reading_pdf(data):
        pdf = _open_pdf(data, settings)
        try:
            if not 1 <= page <= len(pdf):
                return None
            return _render_page(pdf, page - 1, settings, text=False, dpi=dpi).image
        finally:
            pdf.close()


def pixel_sha256(image: Image.Image) -> str:
    """sha256 of a decoded image's pixels: the same picture in another container hashes equal."""
    h = hashlib.sha256()
    h.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def bitmap_sha256(bitmap: pdfium.PdfBitmap) -> str | None:
    """:func:`pixel_sha256` of a greyscale PDFium render's ``to_pil()``, read from the bitmap's
    own buffer (no copy of the raster: ~5 ms a 300-DPI page); None for another pixel format."""
    if bitmap.n_channels != 1 or bitmap.mode != "L":
        return None
    width, height, stride = bitmap.width, bitmap.height, bitmap.stride
    pixels = memoryview(bitmap.buffer).cast("B")
    h = hashlib.sha256()
    h.update(f"L:{width}x{height}:".encode())
    if stride == width:
        h.update(pixels[: width * height])
    else:  # rows padded to the stride: the padding is no pixel
        for y in range(height):
            h.update(pixels[y * stride : y * stride + width])
    return h.hexdigest()


# --- PDFs ----------------------------------------------------------------------------------


def load_pdf_pages(data: bytes, settings: Settings) -> tuple[Page, ...]:
    """Render every page in greyscale at ``settings.render_dpi`` with its text layer.

    Raises ``EncryptedPdf``, ``TooManyPages`` (before rendering anything), ``DecompressionBomb``
    and ``CorruptFile``; a page too large for ``max_pixels`` is rendered at a lower DPI, which
    its ``Page.dpi`` records.
    """
    with _reading_pdf(data):
        return _load_pages_locked(data, settings)


@contextmanager
def _reading_pdf(data: bytes) -> Iterator[None]:
    """Around every PDFium read of ``data``: a truncated file fails first; then, under
    :data:`PDFIUM_LOCK`, PDFium's failures on bad bytes become typed errors."""
    if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
        raise CorruptFile("The PDF is truncated: it has no end-of-file marker.")
    with PDFIUM_LOCK:
        try:
            yield
        except BadInput:
            raise
        except MemoryError as e:
            raise DecompressionBomb("Rendering the PDF needs more memory than available.") from e
        except Exception as e:  # noqa: BLE001 - any PDFium failure on bad bytes
            raise CorruptFile(f"The PDF is damaged and cannot be rendered ({e}).") from e


def _load_pages_locked(data: bytes, settings: Settings) -> tuple[Page, ...]:
    pdf = _open_pdf(data, settings)
    try:
        pages = tuple(_render_page(pdf, i, settings) for i in range(len(pdf)))
    finally:
        pdf.close()
    # a text page compared by its objects renders again at the layout measure's DPI, from these
    # bytes, only when a comparison asks (detectors.pdf_pages.layout_ink_of)
    return tuple(replace(p, graphics=replace(p.graphics, pdf=data)) if p.graphics is not None else p
                 for p in pages)


def _open_pdf(data: bytes, settings: Settings) -> pdfium.PdfDocument:
    """The opened PDF, its page count and total pixels checked against the limits (before
    anything is rendered). Call under :data:`PDFIUM_LOCK`; the caller closes it."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) in PDFIUM_PASSWORD_ERRORS:
            raise EncryptedPdf("The PDF is password protected and cannot be read.") from e
        raise CorruptFile(f"The PDF cannot be opened ({e}).") from e
    try:
        count = len(pdf)
        if count > settings.max_pages:
            raise TooManyPages(f"The PDF has {count} pages; the limit is {settings.max_pages}.")
        if count < 1:
            raise CorruptFile("The PDF has no pages.")
        sizes = [pdf.get_page_size(i) for i in range(count)]
        check_document_pixels([_pixels(w, h, page_dpi(w, h, settings)) for w, h in sizes], settings)
    except BaseException:
        pdf.close()
        raise
    return pdf


def page_dpi(width_pt: float, height_pt: float, settings: Settings) -> int:
    """The render DPI for a page: ``render_dpi`` unless the page would exceed the render budget
    (the smaller of ``render_max_pixels`` and ``max_pixels``)."""
    if not (width_pt > 0 and height_pt > 0) or math.isinf(width_pt * height_pt):
        raise CorruptFile(f"A page has an invalid size {width_pt}x{height_pt} pt.")
    budget = min(settings.max_pixels, settings.render_max_pixels)
    dpi = settings.render_dpi
    fit = 72.0 * math.sqrt(budget / (width_pt * height_pt))
    if fit < dpi:
        dpi = int(fit)
        while dpi > 0 and _pixels(width_pt, height_pt, dpi) > budget:
            dpi -= 1
    if dpi < 1:
        raise DecompressionBomb(
            f"A page of {width_pt:.0f}x{height_pt:.0f} pt cannot be rendered within "
            f"{budget:,} pixels even at 1 DPI."
        )
    return dpi


def _pixels(width_pt: float, height_pt: float, dpi: int) -> int:
    return math.ceil(width_pt * dpi / 72.0) * math.ceil(height_pt * dpi / 72.0)


def _render(page: pdfium.PdfPage, dpi: int) -> pdfium.PdfBitmap:
    """The page rendered in greyscale at ``dpi``, forms not drawn, annotations drawn."""
    return page.render(scale=dpi / 72.0, grayscale=True, may_draw_forms=False, draw_annots=True)


def _render_page(pdf: pdfium.PdfDocument, index: int, settings: Settings, *, text: bool = True,
                 dpi: int | None = None) -> Page:
    """Page ``index`` rendered (at most at ``dpi`` when given); with ``text`` also its text
    layer and overlays."""
    page = pdf[index]
    try:
        width_pt, height_pt = page.get_size()
        dpi = page_dpi(width_pt, height_pt, settings) if dpi is None else min(dpi, page_dpi(width_pt, height_pt, settings))
        bitmap = _render(page, dpi)
        image = bitmap.to_pil()
        sha = bitmap_sha256(bitmap) if text and image.mode == "L" else None
        if image.mode != "L":
            image = image.convert("L")
        if not text:
            return Page(number=index + 1, width=image.width, height=image.height, image=image, dpi=dpi)
        to_px = page_to_bitmap(bitmap.get_posconv(page))
        textpage = page.get_textpage()
        try:
            words = text_layer_words(textpage, to_px, image.width, image.height)
        finally:
            textpage.close()
        objects = page_objects(page)  # one walk for the three readings of the page's objects
        overlays = overlay_boxes(page, to_px, objects) if words else ()
        regions = code_regions(page, to_px, image.width, image.height, objects)
        graphics = page_graphics(page, to_px, image.size, objects) if words else None
        if graphics is not None:
            # the layout measure's render of a page its objects speak for, made while the page
            # is open: what load_page_image(..., dpi=LAYOUT_DPI) gives, to the pixel, without
            # opening the file and loading its fonts again (6.4 ms here against 12.1 there, mean
            # of the 47 invoices; a win once half the text pages meet one of their template)
            # (a page rendered at LAYOUT_DPI or coarser already, to fit the render budget: that)
            layout = _render(page, LAYOUT_DPI).to_pil() if dpi > LAYOUT_DPI else image
            graphics = replace(graphics, layout=layout if layout.mode == "L" else layout.convert("L"))
        return Page(
            number=index + 1,
            width=image.width,
            height=image.height,
            image=image,
            dpi=dpi,
            text_words=words,
            overlays=overlays,
            code_regions=regions,
            graphics=graphics,
            pixel_sha256=sha,
        )
    finally:
        page.close()
