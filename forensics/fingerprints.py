"""Page fingerprints: perceptual and layout hashes of a normalised page, and content keys.

Hashes only *find candidates*; :mod:`forensics.alignment` and the extracted fields decide. A
whole-image pHash is fooled both ways on receipts (tall white pages, one layout per shop), so
every hash here is taken of a **normalised page**: grey, cropped to the paper (photos on a darker
table) and then to the printed content (so crops that only trim margins vanish), deskewed by a
small angle, and resized to a fixed tall raster. Then:

- ``phash``: DCT hash of the normalised page, 64 bits from a tall band of low frequencies
  (receipts are tall; more vertical than horizontal detail carries the content);
- ``dhash``: horizontal-gradient hash of the same page;
- ``layout_hash``: the same DCT hash of the *ink-block* image (text lines dilated into solid
  bars), which keeps where things are printed but masks what they say: close for every receipt
  of one shop's layout, the candidate search for ``same_layout`` / template clusters.

Crops that cut into the print move every pixel hash (the content box changes), so a page also
gets a ``text_hash``: a SimHash of what was read on it (:func:`text_hash_of`), independent of
pixels. It only proposes candidates; alignment still decides what the pair is.

Hashes are unsigned 64-bit Python ints; :func:`to_signed64` / :func:`from_signed64` convert for
BIGINT columns. Any change to the normalisation or hashing changes bits: bump
:data:`FINGERPRINT_VERSION` and store it next to every hash.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image
from scipy.fft import dctn

from forensics.documents import pixel_sha256  # one implementation; re-exported

#: version of the normalisation + hash algorithms; stored with every hash
FINGERPRINT_VERSION = "fp1"
#: size (width, height) in px of the normalised page raster (tall, like a receipt)
NORMAL_SIZE = (96, 192)
#: longer side in px of the working raster used to find paper, content and skew
WORK_SIDE = 400
#: largest skew in degrees that deskewing searches (uploads are roughly upright)
MAX_SKEW_DEG = 3.0
#: step in degrees of the skew search
SKEW_STEP_DEG = 0.25
#: side in px of the square header raster the layout hash is taken of
HEAD_SIZE = 64
#: DCT coefficients kept by the hashes: rows x columns of the low-frequency corner (64 bits)
DCT_BAND = (16, 4)
#: a pixel is ink when darker than the local paper by this fraction of the paper level
INK_CONTRAST = 0.25
#: a row/column counts as printed when at least this fraction of it is ink
PRINTED_FRACTION = 0.01
#: the paper must cover at least this fraction of the image to be cropped to
MIN_PAPER_FRACTION = 0.15

#: phash/dhash search radius for same_image / edited_copy candidates. Measured
#: (bench/fingerprints.py): generated re-uploads (JPEG 55-85, x0.7-1.3, 4% crops, 2 degrees) reach
#: phash 10 and edited copies 4-6; on 220 real SROIE receipts only 3% have another shop's
#: receipt within 10 (whole-image pHash: more than half)
CANDIDATE_RADIUS = 10
#: layout_hash search radius for same-layout (template) candidates
LAYOUT_RADIUS = 12

#: version of the text SimHash (tokens, shingles, weights); stored with every text hash
TEXT_HASH_VERSION = "tx1"
#: characters per shingle of the text hash: short enough that one misread character spoils
#: only a few shingles of a word (whole-word features lost every word OCR got one letter of)
TEXT_SHINGLE = 3
#: weight of a shingle with a digit: numbers, amounts and dates tell one receipt from another
#: of the same shop, whose header and footer text are shared. Measured on the quality bench
#: (re-uploads of SROIE scans vs honest receipts): weight 10 halves the honest pairs within
#: the radius against weight 3, at the same re-upload recall
TEXT_DIGIT_WEIGHT = 10.0
#: fewest distinct shingles for a text hash: a page with less text read hashes to noise
MIN_TEXT_SHINGLES = 40
#: text_hash search radius. Measured (bench/quality.py readings, 3-shingles, digit weight 10):
#: re-uploads (JPEG 55-85, x0.7-1.3, 4% crops, 2 degrees; OCR misreads differ each time) sit at
#: 2-20 from their original, 33 of 40 within 18; 0.9% of pairs of different honest SROIE
#: receipts are within 18 (one shop's receipts share most of their text)
TEXT_RADIUS = 18

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class PageFingerprint:
    """The hashes of one page. Hashes are unsigned 64-bit ints; ``version`` names the algorithm."""

    page: int
    phash: int
    dhash: int
    layout_hash: int
    pixel_sha256: str
    version: str = FINGERPRINT_VERSION
    #: fraction of the normalised page that is ink (0 for a blank page: hashes mean little then)
    ink_fraction: float = 0.0
    #: SimHash of the words read on the page (:func:`text_hash_of`); None when too little was
    #: read or no reading was given
    text_hash: int | None = None


def to_signed64(value: int) -> int:
    """An unsigned 64-bit hash as the signed int a BIGINT column holds (same bits)."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed64(value: int) -> int:
    """A BIGINT column's signed int back to the unsigned 64-bit hash."""
    return value & _MASK64


def hamming(a: int, b: int) -> int:
    """Hamming distance of two 64-bit hashes."""
    return ((a ^ b) & _MASK64).bit_count()


def _reduced_grey(image: Image.Image, side: int) -> Image.Image:
    """Grey image with its longer side near ``side`` px, cheaply (integer reduce first).

    No JPEG ``draft`` here: it would change the caller's image object in place; callers that
    open a JPEG only to hash it can draft it themselves before passing it in.
    """
    factor = max(1, max(image.size) // (2 * side))
    if factor > 1:
        image = image.reduce(factor)  # box reduction in C: the cheap part of the resize
    grey = image if image.mode == "L" else image.convert("L")
    scale = side / max(grey.size)
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BILINEAR,
        )
    return grey


def _paper_box(arr: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Bounding box and mask of the largest bright region (the paper), or None when the paper
    fills the frame."""
    level = float(np.percentile(arr, 95))
    _, bright = cv2.threshold(arr, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if level < 60:  # a dark image: nothing paper-like to crop to
        return None
    # close the text holes so the paper is one component
    k = max(3, arr.shape[1] // 40) | 1
    closed = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if n <= 1:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, area = (int(v) for v in stats[best])
    if area < MIN_PAPER_FRACTION * arr.size:
        return None
    if w >= arr.shape[1] * 0.97 and h >= arr.shape[0] * 0.97:
        return None
    # the paper must be clearly brighter than what surrounds it, else Otsu split ink from paper
    outside = np.ones(arr.shape, bool)
    outside[y : y + h, x : x + w] = False
    if outside.any() and float(arr[outside].mean()) > 0.75 * float(arr[y : y + h, x : x + w].mean()):
        return None
    return (x, y, x + w, y + h), labels[y : y + h, x : x + w] == best


def ink_mask(arr: np.ndarray) -> np.ndarray:
    """Boolean mask of ink: pixels clearly darker than the local paper (shading-tolerant)."""
    k = max(15, (min(arr.shape) // 8) | 1)
    paper = cv2.dilate(arr, np.ones((k, k), np.uint8))  # local brightest = paper level
    return darker_than(arr, cv2.blur(paper, (k, k)))


def _darker_below() -> np.ndarray:
    """For each grey level v, the count of grey levels x with x < v * (1 - INK_CONTRAST) in
    float32 arithmetic: the comparison is monotone in x, so that count is the bound below
    which a level is darker."""
    x = np.arange(256, dtype=np.float32)
    counts = (x[None, :] < x[:, None] * (1.0 - INK_CONTRAST)).sum(axis=1)
    assert counts.max() <= 255  # noqa: S101 - a level above 255 * (1 - INK_CONTRAST) fits no uint8
    return counts.astype(np.uint8)


#: :func:`darker_than`'s bound per paper level (a lookup table for ``cv2.LUT``)
_DARKER_BELOW = _darker_below()


def darker_than(arr: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """``arr < paper * (1 - INK_CONTRAST)`` elementwise, as float32 arithmetic answers it; for
    two uint8 rasters by a lookup of each paper level's bound and one uint8 comparison, the
    same bits at a fraction of the cost of turning both rasters into floats (a 1-megapixel
    page's ink is read several times an upload)."""
    if arr.dtype == np.uint8 and paper.dtype == np.uint8 and arr.shape == paper.shape:
        return arr < cv2.LUT(paper, _DARKER_BELOW)
    return arr.astype(np.float32) < paper.astype(np.float32) * (1.0 - INK_CONTRAST)


def _skew_angle(mask: np.ndarray) -> float:
    """Skew of the text lines in degrees (projection-profile sharpness), 0 when unsure."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 50:
        return 0.0
    if len(ys) > 20000:  # a sample is plenty for the profile
        pick = np.linspace(0, len(ys) - 1, 20000).astype(np.int64)
        ys, xs = ys[pick], xs[pick]
    xs = xs - mask.shape[1] / 2.0
    best, best_score, base = 0.0, -1.0, 0.0
    for ang in np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 1e-9, SKEW_STEP_DEG):
        t = np.tan(np.radians(ang))
        rows = np.round(ys - xs * t).astype(np.int64)
        rows -= rows.min()
        prof = np.bincount(rows).astype(np.float64)
        score = float((prof**2).sum())
        if abs(ang) < 1e-9:
            base = score
        if score > best_score:
            best, best_score = float(ang), score
    # only rotate for a clear gain: blank-ish pages give flat profiles
    return best if best_score > base * 1.02 else 0.0


def _content_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Box around the printed rows and columns (ignores isolated specks)."""
    h, w = mask.shape
    rows = np.flatnonzero(mask.sum(axis=1) >= max(2, PRINTED_FRACTION * w))
    cols = np.flatnonzero(mask.sum(axis=0) >= max(2, PRINTED_FRACTION * h))
    if len(rows) < 2 or len(cols) < 2:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass(frozen=True)
class NormalisedPage:
    """A page brought to the fixed frame the hashes are taken in, plus what was done to it."""

    image: Image.Image
    ink: np.ndarray
    #: ink of the top of the page, width-normalised to a square (the shop's header block)
    head_ink: np.ndarray
    skew_deg: float
    paper_cropped: bool


def normalise(image: Image.Image) -> NormalisedPage:
    """Grey, paper-cropped, deskewed, content-cropped page at :data:`NORMAL_SIZE`."""
    grey = _reduced_grey(image, WORK_SIDE)
    arr = np.asarray(grey, dtype=np.uint8)
    found = _paper_box(arr)
    if found is not None:
        (x0, y0, x1, y1), paper = found
        arr = arr[y0:y1, x0:x1].copy()
        # a tilted sheet leaves table in the box's corners: paint it paper so it is not ink
        # (eroded: the blended pixels along the sheet's edge would read as a printed rule)
        paper = cv2.erode(paper.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        if paper.any() and (~paper).any():
            arr[~paper] = np.uint8(np.percentile(arr[paper], 90))
        # and the sheet's edge itself, seen as a dark rule once deskewed: trim a thin frame
        # (receipts always have a blank margin there)
        ty, tx = max(3, arr.shape[0] // 60), max(3, arr.shape[1] // 60)
        if arr.shape[0] > 4 * ty and arr.shape[1] > 4 * tx:
            arr = arr[ty:-ty, tx:-tx]
    mask = ink_mask(arr)
    angle = _skew_angle(mask)
    if angle:
        h, w = arr.shape
        # text lines slope by -angle in image rows; rotating by +angle (counter-clockwise in
        # cv2's convention) levels them
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        fill = float(np.percentile(arr, 90))
        arr = cv2.warpAffine(arr, rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)
        mask = ink_mask(arr)
    content = _content_box(mask)
    if content is not None:
        x0, y0, x1, y1 = content
        arr, mask = arr[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    # stretch contrast so exposure/brightness changes do not move the hashes
    lo, hi = np.percentile(arr, (1, 99)) if arr.size else (0, 255)
    norm = np.clip((arr.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255)
    page = Image.fromarray(norm.astype(np.uint8)).resize(NORMAL_SIZE, Image.Resampling.BOX)
    ink = cv2.resize(mask.astype(np.float32), NORMAL_SIZE, interpolation=cv2.INTER_AREA)
    # the header keeps its shape whatever the receipt's length: scale by width, keep the top
    side = HEAD_SIZE
    mh, mw = mask.shape
    scaled_h = max(1, round(mh * side / max(mw, 1)))
    head = cv2.resize(mask.astype(np.float32), (side, scaled_h), interpolation=cv2.INTER_AREA)[:side]
    if head.shape[0] < side:
        head = np.vstack([head, np.zeros((side - head.shape[0], side), np.float32)])
    return NormalisedPage(page, ink, head, angle, found is not None)


def normalise_page(image: Image.Image) -> Image.Image:
    """The normalised page raster the hashes are taken of (see the module docstring)."""
    return normalise(image).image


def _dct_hash(arr: np.ndarray, band: tuple[int, int] = DCT_BAND) -> int:
    """64 bits: signs of a low-frequency DCT band against its median (DC excluded)."""
    coeffs = dctn(arr.astype(np.float64), norm="ortho")
    rows, cols = band
    band = coeffs[:rows, :cols].ravel().copy()
    band[0] = np.median(band[1:])  # the DC term says only how dark the page is
    bits = band > np.median(band)
    return _pack(bits)


def _pack(bits: np.ndarray) -> int:
    value = 0
    for b in bits.ravel()[:64]:
        value = (value << 1) | int(b)
    return value


def phash_of(page: Image.Image) -> int:
    """pHash of a normalised page (64 bits)."""
    small = np.asarray(page.resize((32, 64), Image.Resampling.BOX), dtype=np.float64)
    return _dct_hash(small)


def dhash_of(page: Image.Image) -> int:
    """Difference hash of a normalised page: 8 rows x 8 left/right brightness comparisons."""
    small = np.asarray(page.resize((9, 8), Image.Resampling.BOX), dtype=np.int32)
    return _pack(small[:, 1:] > small[:, :-1])


def layout_hash_of(head_ink: np.ndarray) -> int:
    """DCT hash of the header's ink blocks: where text is printed, not what it says.

    Taken of the top of the page at a fixed width (see :class:`NormalisedPage`) so that
    receipts of one shop with more or fewer items still agree.
    """
    h, w = head_ink.shape
    blocks = (head_ink > 0.08).astype(np.uint8)
    # smear each printed line into a bar so glyph shapes (the content) no longer matter
    blocks = cv2.dilate(blocks, np.ones((max(1, h // 64), max(3, w // 8)), np.uint8))
    small = cv2.resize(blocks.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    return _dct_hash(small, (8, 8))


def fingerprint_page(page_number: int, image: Image.Image, *, pixel_sha: str | None = None,
                     words: list[str] | None = None) -> PageFingerprint:
    """All hashes of one page image (see :class:`PageFingerprint`). ``pixel_sha`` is the page's
    pixel hash when the decoder already computed it (hashing a 300-DPI page costs ~10 ms);
    ``words`` are the words read on the page, for its text hash."""
    norm = normalise(image)
    return PageFingerprint(
        page=page_number,
        phash=phash_of(norm.image),
        dhash=dhash_of(norm.image),
        layout_hash=layout_hash_of(norm.head_ink),
        pixel_sha256=pixel_sha or pixel_sha256(image),
        ink_fraction=round(float((norm.ink > 0.5).mean()), 4),
        text_hash=text_hash_of(words) if words is not None else None,
    )


def _text_shingles(words: list[str]) -> dict[str, float]:
    """Weighted shingles of a page's words: each word in comparison form, cut into
    :data:`TEXT_SHINGLE`-character pieces (a shorter word whole); a piece counts once."""
    out: dict[str, float] = {}
    for word in words:
        for g, weight in _word_shingles(word):
            out[g] = weight
    return out


@lru_cache(maxsize=1 << 16)
def _word_shingles(word: str) -> tuple[tuple[str, float], ...]:
    """One word's weighted shingles in order (:func:`_text_shingles`), kept: a template's labels
    and a shop's header words come back on every page of it."""
    w = _norm_text(word)
    if len(w) < 2:
        return ()
    out = []
    for i in range(max(1, len(w) - TEXT_SHINGLE + 1)):
        g = w[i : i + TEXT_SHINGLE]
        out.append((g, TEXT_DIGIT_WEIGHT if any(c.isdigit() for c in g) else 1.0))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def _feature_bits(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def text_hash_of(words: list[str]) -> int | None:
    """64-bit SimHash of the words read on a page, or None when too little was read.

    Two readings of one page (re-encoded, rescaled, OCR misreading other characters each time)
    share most shingles, so their hashes differ in few bits; receipts with other numbers
    differ in many. Unsigned, like the pixel hashes.
    """
    feats = _text_shingles(words)
    if len(feats) < MIN_TEXT_SHINGLES:
        return None
    keys = list(feats)
    bits = np.array([_feature_bits(k) for k in keys], dtype=np.uint64)
    weights = np.array([feats[k] for k in keys], dtype=np.float64)
    # one column per bit: +weight where the feature's bit is set, -weight where it is not
    set_ = ((bits[:, None] >> np.arange(64, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(bool)
    votes = np.where(set_, weights[:, None], -weights[:, None]).sum(axis=0)
    return sum(1 << i for i in range(64) if votes[i] > 0)


def _norm_text(value: str | None) -> str:
    """Upper-case ASCII-folded letters and digits only (OCR-tolerant comparison form)."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    return re.sub(r"[^0-9A-Z\u4e00-\u9fff]+", "", text)


#: legal-form words dropped from merchant names so "ACME SDN BHD" and "Acme" agree
_LEGAL_FORMS = re.compile(
    r"\b(SDN\.?\s*BHD|S/B|BHD|LTD|LIMITED|LLC|INC|CORP|GMBH|AG|SARL|SAS|SA|PLC|CO|COMPANY)\b\.?",
    re.IGNORECASE,
)


def normalise_merchant(merchant: str | None) -> str:
    """Merchant name in comparison form: legal forms and punctuation dropped, upper case."""
    if not merchant:
        return ""
    return _norm_text(_LEGAL_FORMS.sub(" ", merchant))


def _norm_total(total: str | Decimal | float | None) -> str:
    if total is None or total == "":
        return ""
    try:
        value = Decimal(str(total).replace(",", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return ""
    return format(value, "f")


def content_key(merchant: str | None, serial: str | None, date: str | None,
                total: str | Decimal | float | None) -> str | None:
    """A key two uploads of the same receipt share, or None when too little is known.

    Needs the serial plus one more of merchant/date/total, or merchant + date + total together
    (a serial-less till slip). ``date`` is the ISO date; ``total`` a decimal string.
    """
    m, s = normalise_merchant(merchant), _norm_text(serial)
    d = _norm_text(date)
    t = _norm_total(total)
    known = sum(bool(x) for x in (m, d, t))
    if not (s and known >= 1) and not (m and d and t):
        return None
    return f"{FINGERPRINT_VERSION}|{m}|{s}|{d}|{t}"
