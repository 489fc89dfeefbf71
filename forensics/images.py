"""Image uploads decoded safely into pages: the one Pillow plugin their sniffed type allows,
every pixel limit checked on the header before decoding (a JPEG too large is decoded at a
reduced DCT scale), EXIF orientation applied, modes normalised to ``L`` or ``RGB``, authoring
tags and a JPEG quality estimate kept. Decoder failures become typed
:class:`~forensics.errors.BadInput` errors. Used by :mod:`forensics.documents`, which sniffs
the type and also decodes PDFs.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from forensics.errors import (
    BadInput,
    CorruptFile,
    DecompressionBomb,
    TooExpensive,
    TooManyPages,
)
from forensics.model import Page
from forensics.settings import Settings

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

#: TIFF NewSubfileType bit meaning "reduced-resolution copy of another page" (a thumbnail)
TIFF_REDUCED_IMAGE = 0x1


def check_document_pixels(page_pixels: list[int], settings: Settings) -> None:
    """Refuse a document whose pages together exceed ``max_document_pixels``, before any page
    is rendered, decoded or read: its OCR alone would hold a worker for minutes."""
    total = sum(page_pixels)
    if total > settings.max_document_pixels:
        raise TooExpensive(
            f"The document's {len(page_pixels)} page(s) come to {total:,} pixels to read; one upload may "
            f"have at most {settings.max_document_pixels:,} (FORENSICS_MAX_DOCUMENT_PIXELS)."
        )


def decode_image(
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
