"""Turn uploaded bytes into a :class:`~forensics.model.Document`, safely.

The media type comes from the bytes (magic numbers), never from the file name or the uploader's
claim. Every limit of :class:`~forensics.settings.Settings` is enforced *before* the expensive
step it protects: file size before sniffing, declared pixels before decoding, page count before
rendering. Bad bytes only ever raise :class:`~forensics.errors.BadInput` subclasses; whatever a
decoder throws on damaged data is wrapped as :class:`~forensics.errors.CorruptFile`.

Images are normalised for analysis: EXIF orientation applied, CMYK/16-bit/palette/alpha turned
into ``RGB`` or ``L``. PDF pages are rendered in greyscale with PDFium, never running their
JavaScript (PDFium runs it only when a form environment is initialised, and we never call
``init_forms``); their text layer comes from :mod:`forensics.pdf`, their metadata from
:mod:`forensics.pdf_info`.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from forensics.errors import (
    BadInput,
    CorruptFile,
    DecompressionBomb,
    EmptyFile,
    EncryptedPdf,
    FileTooLarge,
    TooExpensive,
    TooManyPages,
    UnsupportedMedia,
)
from forensics.model import Document, Page
from forensics.pdf import (
    code_regions,
    overlay_boxes,
    page_objects,
    page_to_bitmap,
    text_layer_words,
)
from forensics.pdf_graphics import page_graphics
from forensics.pdf_info import read_pdf_info
from forensics.settings import Settings

#: how far into the file a PDF header may start (bytes); Acrobat tolerates junk before it
PDF_HEADER_WINDOW = 1024

#: media type -> the one Pillow plugin allowed to parse it (no format guessing by Pillow)
PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/gif": "GIF",
}

#: declared resolutions (DPI) we believe; outside it (72 from cameras, 1 from tools) we use 300
PLAUSIBLE_DPI = (100, 1200)

#: a JPEG declaring up to this many times ``max_pixels`` is decoded at a reduced DCT scale
#: (libjpeg never allocates the full size) instead of being refused; e.g. 50 MP phone photos
JPEG_REDUCE_FACTOR = 4

#: EXIF tags kept in ``Document.image_meta`` (tag id -> name); 0x8769 is the Exif sub-IFD
EXIF_TAGS = {0x0131: "Software", 0x0132: "DateTime", 0x010F: "Make", 0x0110: "Model"}
EXIF_SUB_TAGS = {0x9003: "DateTimeOriginal"}
#: EXIF tag of the orientation (1 = upright, 6 = turn 90 degrees clockwise to display, ...)
EXIF_ORIENTATION = 0x0112

#: libjpeg's standard luminance quantisation table (natural order), quality 50
STD_LUMA_QTABLE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip

#: the PDF end-of-file marker must be this close to the end (bytes), as Acrobat requires
PDF_EOF_WINDOW = 1024

#: PDFium load errors that mean "needs a password" / "unsupported security handler"
PDFIUM_PASSWORD_ERRORS = (4, 5)

#: serialises all PDFium use in the process: PDFium keeps global state and is not thread-safe,
#: while dramatiq workers run several threads
PDFIUM_LOCK = threading.RLock()

#: TIFF NewSubfileType bit meaning "reduced-resolution copy of another page" (a thumbnail)
TIFF_REDUCED_IMAGE = 0x1


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
        pages, meta = _decode_image(data, media_type, settings)
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
        pages, _ = _decode_image(data, media_type, settings)
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


def check_document_pixels(page_pixels: list[int], settings: Settings) -> None:
    """Refuse a document whose pages together exceed ``max_document_pixels``, before any page
    is rendered, decoded or read: its OCR alone would hold a worker for minutes."""
    total = sum(page_pixels)
    if total > settings.max_document_pixels:
        raise TooExpensive(
            f"The document's {len(page_pixels)} page(s) come to {total:,} pixels to read; one upload may "
            f"have at most {settings.max_document_pixels:,} (FORENSICS_MAX_DOCUMENT_PIXELS)."
        )


def _pixels(width_pt: float, height_pt: float, dpi: int) -> int:
    return math.ceil(width_pt * dpi / 72.0) * math.ceil(height_pt * dpi / 72.0)


def _render_page(pdf: pdfium.PdfDocument, index: int, settings: Settings, *, text: bool = True,
                 dpi: int | None = None) -> Page:
    """Page ``index`` rendered (at most at ``dpi`` when given); with ``text`` also its text
    layer and overlays."""
    page = pdf[index]
    try:
        width_pt, height_pt = page.get_size()
        dpi = page_dpi(width_pt, height_pt, settings) if dpi is None else min(dpi, page_dpi(width_pt, height_pt, settings))
        bitmap = page.render(
            scale=dpi / 72.0, grayscale=True, may_draw_forms=False, draw_annots=True
        )
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


# --- images -------------------------------------------------------------------------------


def _decode_image(
    data: bytes, media_type: str, settings: Settings
) -> tuple[tuple[Page, ...], dict[str, str]]:
    """Decode every page of an image file; translate decoder failures into typed errors."""
    try:
        return _decode_image_unchecked(data, media_type, settings)
    except BadInput:
        raise
    except Image.DecompressionBombError as e:
        raise DecompressionBomb(f"The image declares too many pixels ({e}).") from e
    except Image.DecompressionBombWarning as e:  # raised when warnings are errors (-W error)
        raise DecompressionBomb(f"The image declares too many pixels ({e}).") from e
    except MemoryError as e:
        raise DecompressionBomb("Decoding the image needs more memory than is available.") from e
    except UnidentifiedImageError as e:
        raise CorruptFile(f"The {media_type} file is damaged: its header cannot be read.") from e
    except Exception as e:  # noqa: BLE001 - any decoder failure on bad bytes is a corrupt file
        raise CorruptFile(f"The {media_type} file is truncated or damaged ({_short(e)}).") from e


def _decode_image_unchecked(
    data: bytes, media_type: str, settings: Settings
) -> tuple[tuple[Page, ...], dict[str, str]]:
    damaged = check_png_chunks(data) if media_type == "image/png" else []
    im = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[media_type]])
    meta = _image_meta(im)
    if damaged:
        meta["png_damaged_chunks"] = ",".join(damaged)
    pages: list[Page] = []
    pixels: list[int] = []
    for number, frame in enumerate(_frames(im, media_type, settings), start=1):
        scale = _check_pixels(frame, media_type, settings, number)
        pixels.append((frame.width // scale) * (frame.height // scale))
        check_document_pixels(pixels, settings)
        if scale > 1:
            # DCT-domain reduction: libjpeg decodes straight to the smaller size
            frame.draft(frame.mode, (frame.width // scale, frame.height // scale))
            if frame.width * frame.height > settings.max_pixels:  # the decoder would not scale
                raise DecompressionBomb(f"Page {number} is too large to decode within the limit.")
            meta["decode_scale"] = f"1/{scale}"
        frame.load()
        image = normalise_mode(_apply_orientation(frame, meta))
        if image is frame and media_type == "image/tiff":
            image = frame.copy()  # the next seek reuses the frame object
        pages.append(
            Page(
                number=number,
                width=image.width,
                height=image.height,
                image=image,
                dpi=max(1, _declared_dpi(frame) // scale),
            )
        )
    if not pages:
        raise CorruptFile(f"The {media_type} file has no decodable image.")
    return tuple(pages), meta


def check_png_chunks(data: bytes) -> list[str]:
    """Walk the PNG chunks up to ``IEND`` and verify their CRCs; return damaged ancillary ones.

    Pillow does not check the CRCs of image data, so a damaged PNG can decode into garbage
    without an error. A bad critical chunk (upper-case first letter) or a truncated chunk list
    is a corrupt file; a bad ancillary chunk (text, colour profile) is only noted, as libpng does.
    """
    damaged: list[str] = []
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            break
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            name = kind.decode("latin-1")
            if kind[:1].isupper():
                raise CorruptFile(f"The PNG is damaged: chunk {name} at byte {pos} fails its CRC.")
            damaged.append(name)
        if kind == b"IEND":
            return damaged
        pos = end
    raise CorruptFile("The PNG is truncated: it ends before its IEND chunk.")


def _frames(im: Image.Image, media_type: str, settings: Settings) -> Iterator[Image.Image]:
    """The frames that are pages: every full-size TIFF page, the first frame of anything else."""
    if media_type != "image/tiff":
        yield im  # GIF/WebP/APNG animations: the first frame is the document
        return
    count = 0
    index = 0
    while True:
        try:
            im.seek(index)
        except EOFError:
            return
        index += 1
        subfile = getattr(im, "tag_v2", {}).get(254, 0)
        if isinstance(subfile, int) and subfile & TIFF_REDUCED_IMAGE and index > 1:
            continue  # a thumbnail of another page, not a page
        count += 1
        if count > settings.max_pages:
            raise TooManyPages(f"The TIFF has more than {settings.max_pages} pages.")
        yield im
        if index > 4 * settings.max_pages:  # many thumbnails: stop walking a hostile IFD chain
            raise TooManyPages(f"The TIFF has more than {settings.max_pages} pages.")


def _check_pixels(frame: Image.Image, media_type: str, settings: Settings, number: int) -> int:
    """Refuse a frame that declares too many pixels; return a JPEG reduction factor (1 = none).

    Runs on the header only. Pillow's own bomb threshold (``Image.MAX_IMAGE_PIXELS``) is applied
    here too instead of flipping the process-wide warnings filter, which is not thread-safe.
    """
    w, h = frame.size
    if w <= 0 or h <= 0:
        raise CorruptFile(f"Page {number} declares an empty size {w}x{h}.")
    pixels = w * h
    pil_limit = Image.MAX_IMAGE_PIXELS
    if pil_limit is not None and pixels > pil_limit:
        raise DecompressionBomb(
            f"Page {number} declares {w}x{h} = {pixels:,} pixels, above the decoder's safety "
            f"limit of {pil_limit:,}; refused before decoding."
        )
    if pixels <= settings.max_pixels:
        return 1
    if media_type == "image/jpeg" and pixels <= JPEG_REDUCE_FACTOR * settings.max_pixels:
        for scale in (2, 4, 8):
            if (w // scale) * (h // scale) <= settings.max_pixels:
                return scale
    raise DecompressionBomb(
        f"Page {number} declares {w}x{h} = {pixels:,} pixels; the limit is "
        f"{settings.max_pixels:,}. Refused before decoding."
    )


def _apply_orientation(frame: Image.Image, meta: dict[str, str]) -> Image.Image:
    """Apply the EXIF orientation; a damaged EXIF block is noted, not fatal (pixels are fine)."""
    try:
        if frame.getexif().get(EXIF_ORIENTATION, 1) in (0, 1):
            return frame  # nothing to turn: spare exif_transpose's full copy
        upright = ImageOps.exif_transpose(frame)
    except Exception as e:  # noqa: BLE001 - broken EXIF must not lose a readable image
        meta["exif_error"] = _short(e)
        return frame
    return upright if upright is not None else frame


def normalise_mode(im: Image.Image) -> Image.Image:
    """``L`` for greyscale, ``RGB`` for everything else; alpha composited on white."""
    mode = im.mode
    if mode in ("L", "RGB"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _to_8bit_grey(im)
    if mode in ("LA", "La"):
        la = im.convert("LA")
        white = Image.new("L", im.size, 255)
        white.paste(la.getchannel("L"), mask=la.getchannel("A"))
        return white
    if mode in ("P", "PA", "RGBA", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGB", im.size, (255, 255, 255))
        white.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
        return white
    # CMYK (Adobe-inverted JPEGs are handled by Pillow's decoder), YCbCr, LAB, HSV, RGBX
    return im.convert("RGB")


def _to_8bit_grey(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale to ``L``: 16-bit range by its full scale, other ranges stretched."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        arr = arr.astype(np.float64) / 257.0
    else:
        arr = arr.astype(np.float64)
        lo, hi = (
            float(np.nanmin(arr)) if arr.size else 0.0,
            float(np.nanmax(arr)) if arr.size else 0.0,
        )
        if im.mode == "F" and lo >= 0.0 and hi <= 1.0:
            arr = arr * 255.0
        elif lo >= 0.0 and hi <= 255.0 and im.mode == "I":
            pass  # an 8-bit image stored in 32 bits
        elif lo >= 0.0 and hi <= 65535.0:
            arr = arr / 257.0  # 16-bit data promoted to ``I`` by older decoders
        elif hi > lo:
            arr = (arr - lo) * (255.0 / (hi - lo))
        else:
            arr = np.zeros_like(arr)
    out = np.clip(np.rint(np.nan_to_num(arr)), 0, 255).astype(np.uint8)
    return Image.fromarray(out, mode="L")


def _declared_dpi(im: Image.Image) -> int:
    """The image's own resolution if believable, else the 300 DPI we assume for receipts."""
    dpi = im.info.get("dpi")
    try:
        x = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        x = 0.0
    lo, hi = PLAUSIBLE_DPI
    return int(round(x)) if lo <= x <= hi else 300


def _image_meta(im: Image.Image) -> dict[str, str]:
    """EXIF authoring tags, PNG text ``Software`` and a JPEG quality estimate."""
    meta: dict[str, str] = {}
    try:
        exif = im.getexif()
        for tag, name in EXIF_TAGS.items():
            if exif.get(tag):
                meta[name] = _clean(exif[tag])
        sub = exif.get_ifd(0x8769)
        for tag, name in EXIF_SUB_TAGS.items():
            if sub.get(tag):
                meta[name] = _clean(sub[tag])
    except Exception as e:  # noqa: BLE001 - broken EXIF is itself worth noting, not fatal
        meta["exif_error"] = _short(e)
    for key in ("Software", "Creation Time", "Author"):
        value = im.info.get(key)
        if isinstance(value, str) and value.strip() and key not in meta:
            meta[key] = _clean(value)
    quality = jpeg_quality_estimate(getattr(im, "quantization", None))
    if quality is not None:
        meta["jpeg_quality_estimate"] = str(quality)
    return meta


def jpeg_quality_estimate(tables: dict[int, list[int]] | None) -> int | None:
    """The libjpeg quality (1-100) whose scaled standard luminance table best fits table 0.

    Uses the ratio of table sums, which does not depend on zig-zag or natural order. Encoders
    with their own tables (cameras, Photoshop) get the nearest libjpeg-equivalent quality.
    """
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    scale = 100.0 * sum(tables[0]) / sum(STD_LUMA_QTABLE)
    if scale <= 0:
        return None
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return max(1, min(100, int(round(quality))))


def _clean(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", "").strip()[:200]


def _short(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."
