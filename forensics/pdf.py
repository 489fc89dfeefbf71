"""PDF pages: the text layer with boxes, and where the page's objects can hide or draw something.

pypdfium2 (PDFium) reads the text layer with boxes and the page objects (pages are rendered by
:mod:`forensics.documents`); what the file says about itself (metadata, JavaScript, embedded
files and the e-invoice) is :mod:`forensics.pdf_info`'s. Nothing in a PDF is ever executed.
"""

from __future__ import annotations

import ctypes
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from forensics.model import Word

#: a gap wider than this share of the line height splits a word (word spaces are ~0.25 em)
WORD_GAP = 0.3
#: ... when the glyphs' advances are also this far apart (touching advances are one word)
ADVANCE_GAP = 0.1

#: baselines closer than this share of the line height are the same printed line
BASELINE_TOLERANCE = 0.5

#: a run on a line's baseline joins it when the gap is at most this many line heights
LINE_JOIN_GAP = 2.0

#: an affine map from PDF page space (points) to bitmap pixels: (a, b, c, d, e, f) maps
#: (x, y) to (a*x + b*y + c, d*x + e*y + f); renders rotate by multiples of 90 degrees only
Affine = tuple[float, float, float, float, float, float]


# --- text layer ------------------------------------------------------------------------------


def page_to_bitmap(posconv: pdfium.PdfPosConv) -> Affine:
    """The render's page-to-pixel map (rotation and crop box included), from three points.

    PDFium's converter returns whole pixels; points 10,000 pt apart make the rounding negligible.
    """
    span = 10_000.0
    x0, y0 = posconv.to_bitmap(0.0, 0.0)
    xa, ya = posconv.to_bitmap(span, 0.0)
    xb, yb = posconv.to_bitmap(0.0, span)
    return (
        (xa - x0) / span,
        (xb - x0) / span,
        float(x0),
        (ya - y0) / span,
        (yb - y0) / span,
        float(y0),
    )


#: display -> reading frame (u along the text, v down the lines) for text running right, down,
#: left and up on the rendered page: (x, y) -> (ux*x + uy*y, vx*x + vy*y)
FRAMES = ((1, 0, 0, 1), (0, 1, -1, 0), (-1, 0, 0, -1), (0, -1, 1, 0))


@dataclass(slots=True)
class _Char:
    text: str
    #: extent along the reading direction, pixels in the reading frame
    u0: float
    u1: float
    #: position of the baseline across the reading direction, pixels in the reading frame
    base: float
    #: line height in pixels (from the font's ascent and descent)
    height: float
    #: a space or a line break came before it in the content stream
    gap_before: bool
    #: the glyph's box on the rendered page (x0, y0, x1, y1)
    box: tuple[float, float, float, float]
    #: extent of the glyph's advance (its loose box) along the reading direction, when known
    a0: float | None = None
    a1: float | None = None


@dataclass(slots=True)
class _LineGroup:
    base: float
    height: float
    x0: float
    x1: float
    runs: list[list[_Char]] = field(default_factory=list)


def text_layer_words(
    textpage: pdfium.PdfTextPage, to_px: Affine, width: int, height: int
) -> tuple[Word, ...] | None:
    """The page's text layer as words in pixel coordinates, grouped into printed lines.

    Characters become words at spaces and at gaps; words sharing a baseline become one line
    when they follow each other in the content stream or nearly touch. Text running down, left
    or up the rendered page is grouped in its own reading direction. None for an empty layer.
    Call under the caller's PDFium lock.
    """
    by_direction = _chars(textpage, to_px)
    words: list[Word] = []
    line_no = 0
    for chars in by_direction:
        for line in _group_lines(chars):
            for text, (bx0, by0, bx1, by1) in _line_words(line):
                x0, y0 = max(0, int(bx0)), max(0, int(by0))
                x1, y1 = min(width, int(bx1) + 1), min(height, int(by1) + 1)
                if x1 > x0 and y1 > y0:  # else drawn outside the visible page
                    words.append(Word(text, (x0, y0, x1, y1), 1.0, block=0, line=line_no))
            line_no += 1
    return tuple(words) or None


#: most page objects visited (a hostile page may hold millions); past it the pixels decide
OBJECT_WALK_BUDGET = 20_000


def page_objects(page: pdfium.PdfPage) -> list[pdfium.PdfObject]:
    """The page's objects in drawing order (form XObjects' children too, to depth 4), at most
    one more than :data:`OBJECT_WALK_BUDGET` (that one says the walk could not finish): walked
    once for :func:`overlay_boxes`, :func:`code_regions` and
    :func:`forensics.pdf_graphics.page_graphics`. Call under the caller's PDFium lock; the
    objects live as long as the page."""
    return list(islice(page.get_objects(max_depth=4), OBJECT_WALK_BUDGET + 1))


def overlay_boxes(page: pdfium.PdfPage, to_px: Affine,
                  objects: list[pdfium.PdfObject] | None = None) -> tuple[tuple[int, int, int, int], ...]:
    """Where an image or a filled shape is painted over text drawn before it, in pixels.

    The boxes are the intersections of such an object's bounds with the earlier text objects'
    bounds: the only places a number in the text layer can be hidden under something else (a
    white box or a picture of another number). A text layer elsewhere is what the render shows,
    so the text-versus-pixels check reads only these boxes instead of the whole page.
    ``objects``: :func:`page_objects` of the page, when already walked. Call under the
    caller's PDFium lock.
    """
    texts: list[tuple[float, float, float, float]] = []
    out: list[tuple[int, int, int, int]] = []
    fill, stroke = ctypes.c_int(0), ctypes.c_int(0)
    for n, obj in enumerate(page_objects(page) if objects is None else objects):
        if n >= OBJECT_WALK_BUDGET:
            break
        kind = obj.type
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            texts.append(_px_box(obj.get_bounds(), to_px))
            continue
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            ok = pdfium_c.FPDFPath_GetDrawMode(obj.raw, ctypes.byref(fill), ctypes.byref(stroke))
            if not ok or fill.value == 0:
                continue  # a stroked line or frame hides no text
        elif kind not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_SHADING):
            continue
        if not texts:
            continue
        ox0, oy0, ox1, oy1 = _px_box(obj.get_bounds(), to_px)
        for tx0, ty0, tx1, ty1 in texts:
            x0, y0, x1, y1 = max(ox0, tx0), max(oy0, ty0), min(ox1, tx1), min(oy1, ty1)
            if x1 > x0 and y1 > y0:
                out.append((int(x0), int(y0), int(math.ceil(x1)), int(math.ceil(y1))))
    return tuple(out)


#: barcode and 2D-code fonts name themselves so (lower case, spaces and dashes removed): a code
#: printed in such a font is text in the layer, bars on the page
BARCODE_FONT_WORDS = ("barcode", "code128", "code39", "code93", "3of9", "2of5", "i2of5", "ean13", "ean8",
                      "upca", "upce", "qrcode", "datamatrix", "pdf417", "idautomation", "c128", "c39",
                      "interleaved", "postnet", "msi")
#: objects (or groups of them) closer than this many points are one region (bars of one code)
CODE_JOIN_PT = 6.0
#: a region narrower or lower than this many points holds no readable code (4 mm: a QR code of
#: 21 modules of 0.2 mm; a 1D code's bars are taller)
CODE_MIN_SIDE_PT = 11.0
#: margin around a region, in points, for the code's quiet zone (zbar needs white around it)
CODE_MARGIN_PT = 9.0
#: more candidate objects than this on one page: read the whole page instead of joining them
MAX_CODE_OBJECTS = 3000
#: a code's bar or module drawn as its own shape is narrower than this many points (4.2 mm)
MAX_BAR_PT = 12.0
#: ... and shorter than this (50 mm: a 1D code's bars, twice the nominal EAN-13 height); longer
#: thin shapes are rules of a table
MAX_BAR_LENGTH_PT = 142.0
#: a path of at most this many segments is one shape (a line, or a rectangle drawn as up to
#: seven moves and lines): one bar or module at most
FRAME_SEGMENTS = 8


def code_regions(page: pdfium.PdfPage, to_px: Affine, width: int, height: int,
                 objects: list[pdfium.PdfObject] | None = None) -> tuple[tuple[int, int, int, int], ...]:
    """Where a barcode or QR code can be on a PDF page, as pixel boxes of the render.

    A code is drawn by an image, by filled shapes or many-segment paths (its bars or modules),
    by a shading, or as text in a barcode font: those objects, grouped when they nearly touch
    (:data:`CODE_JOIN_PT`, the bars of one code are separate objects in some generators) and kept
    when at least :data:`CODE_MIN_SIDE_PT` on both sides, widened by a quiet zone. Text in
    ordinary fonts and stroked lines and frames cannot draw one, so a page of text and rules
    has no region at all. Objects inside a form XObject have their bounds in the form's space,
    so a form holding such an object counts by its own bounds. When the walk cannot finish
    (:data:`OBJECT_WALK_BUDGET` objects), the whole page. ``objects``: :func:`page_objects` of
    the page, when already walked. Call under the caller's PDFium lock.
    """
    whole = ((0, 0, width, height),)
    boxes: list[list[float]] = []
    fill, stroke = ctypes.c_int(0), ctypes.c_int(0)
    name = ctypes.create_string_buffer(256)
    fonts: dict[int, bool] = {}
    #: the top-level form XObject being walked and its bounds (its children's own bounds are in
    #: the form's space, not the page's: a child that can draw a code stands for the whole form)
    form: list[float] | None = None
    form_added = False
    for n, obj in enumerate(page_objects(page) if objects is None else objects):
        if n >= OBJECT_WALK_BUDGET:
            return whole
        kind = obj.type
        if obj.level == 0:
            form, form_added = None, False
            if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
                form = list(obj.get_bounds())
                continue
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
            if not font:
                continue
            key = ctypes.cast(font, ctypes.c_void_p).value or 0
            if key not in fonts:
                size = pdfium_c.FPDFFont_GetBaseFontName(font, name, len(name))
                base = name.value.decode("latin-1", "replace") if size else ""
                size = pdfium_c.FPDFFont_GetFamilyName(font, name, len(name))
                family = name.value.decode("latin-1", "replace") if size else ""
                flat = re.sub(r"[\s_\-]", "", f"{base} {family}".lower())
                fonts[key] = any(word in flat for word in BARCODE_FONT_WORDS)
            if not fonts[key]:
                continue
        elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            ok = pdfium_c.FPDFPath_GetDrawMode(obj.raw, ctypes.byref(fill), ctypes.byref(stroke))
            if pdfium_c.FPDFPath_CountSegments(obj.raw) <= FRAME_SEGMENTS:
                if ok and fill.value == 0:
                    continue  # a stroked line or frame
                left, bottom, right, top = obj.get_bounds()
                if min(right - left, top - bottom) > MAX_BAR_PT or max(right - left, top - bottom) > MAX_BAR_LENGTH_PT:
                    continue  # one filled shape wider or longer than any bar: a background or a rule
        elif kind not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_SHADING):
            continue
        if form is not None:
            if not form_added and form[2] > form[0] and form[3] > form[1]:
                boxes.append(form)
                form_added = True
            continue
        left, bottom, right, top = obj.get_bounds()
        if right > left and top > bottom:
            boxes.append([left, bottom, right, top])
    if len(boxes) > MAX_CODE_OBJECTS:
        return whole  # joining would cost more than reading the page
    out = []
    for left, bottom, right, top in _join_boxes(boxes, CODE_JOIN_PT):
        if min(right - left, top - bottom) < CODE_MIN_SIDE_PT:
            continue
        m = CODE_MARGIN_PT
        x0, y0, x1, y1 = _px_box((left - m, bottom - m, right + m, top + m), to_px)
        box = (max(0, int(x0)), max(0, int(y0)), min(width, int(math.ceil(x1))), min(height, int(math.ceil(y1))))
        if box[2] > box[0] and box[3] > box[1]:
            out.append(box)
    return tuple(out)


def _join_boxes(boxes: list[list[float]], gap: float) -> list[list[float]]:
    """Boxes merged until no two are within ``gap`` of each other (their union boxes)."""
    boxes = sorted(boxes)
    changed = True
    while changed:
        changed = False
        out: list[list[float]] = []
        for box in boxes:
            for other in out:
                if (box[0] <= other[2] + gap and other[0] <= box[2] + gap
                        and box[1] <= other[3] + gap and other[1] <= box[3] + gap):
                    other[0], other[1] = min(other[0], box[0]), min(other[1], box[1])
                    other[2], other[3] = max(other[2], box[2]), max(other[3], box[3])
                    changed = True
                    break
            else:
                out.append(list(box))
        boxes = out
    return boxes


def _px_box(bounds: tuple[float, float, float, float], to_px: Affine) -> tuple[float, float, float, float]:
    """A page-space box (left, bottom, right, top) as a pixel box (x0, y0, x1, y1)."""
    a, b, c, d, e, f = to_px
    left, bottom, right, top = bounds
    xs, ys = [], []
    for x, y in ((left, bottom), (right, top), (left, top), (right, bottom)):
        xs.append(a * x + b * y + c)
        ys.append(d * x + e * y + f)
    return min(xs), min(ys), max(xs), max(ys)


def _chars(textpage: pdfium.PdfTextPage, to_px: Affine) -> list[list[_Char]]:
    """Visible characters with pixel boxes, in content-stream order, one list per direction.
    PDFium is asked per character (its boxes, origin and angle); the arithmetic that maps them
    to the render and the reading frame runs on arrays, in the same order of operations as it
    would on one character's floats (the same bits)."""
    a, b, c, d, e, f = to_px
    tp = textpage.raw
    count = textpage.count_chars()
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    ox, oy = ctypes.c_double(), ctypes.c_double()
    loose = pdfium_c.FS_RECTF()
    get_unicode, get_box = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetCharBox
    get_loose, get_origin = pdfium_c.FPDFText_GetLooseCharBox, pdfium_c.FPDFText_GetCharOrigin
    get_angle = pdfium_c.FPDFText_GetCharAngle
    texts: list[str] = []
    gaps: list[bool] = []
    raw: list[tuple[float, ...]] = []  # ink box, loose box (or zeros), origin
    loosed: list[bool] = []
    directions: dict[float, int] = {}
    dirs: list[int] = []
    gap = True
    high = 0
    for i in range(max(count, 0)):
        code = get_unicode(tp, i)
        if 0xD800 <= code < 0xDC00:  # UTF-16 surrogate pair split over two indices
            high = code
            continue
        if 0xDC00 <= code < 0xE000 and high:
            code = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
        high = 0
        ch = chr(code) if 0 < code < 0x110000 else ""
        if not ch or ch.isspace() or not ch.isprintable():
            gap = True  # spaces and the line breaks PDFium generates
            continue
        if not get_box(tp, i, left, right, bottom, top):
            gap = True
            continue
        lx0, ly0, lx1, ly1 = left.value, bottom.value, right.value, top.value
        has_loose = get_loose(tp, i, loose)
        if has_loose:
            ql, qb, qr, qt = loose.left, loose.bottom, loose.right, loose.top
            if lx1 <= lx0 or ly1 <= ly0:  # glyph without ink: its advance box
                lx0, ly0, lx1, ly1 = ql, qb, qr, qt
        else:
            ql = qb = qr = qt = 0.0
        if not get_origin(tp, i, ox, oy):
            ox.value, oy.value = lx0, ly0
        # PDFium's angle turns clockwise from the page's x axis (y up); map it to the render
        angle = max(get_angle(tp, i), 0.0)  # -1 on error: take it as unrotated
        direction = directions.get(angle)
        if direction is None:  # a page's characters share a few angles: each turned once
            dx, dy = math.cos(angle), -math.sin(angle)
            direction = int(round(math.degrees(math.atan2(d * dx + e * dy, a * dx + b * dy)) / 90)) % 4
            directions[angle] = direction
        texts.append(ch)
        gaps.append(gap)
        raw.append((lx0, ly0, lx1, ly1, ql, qb, qr, qt, ox.value, oy.value))
        loosed.append(bool(has_loose))
        dirs.append(direction)
        gap = False
    if not texts:
        return []
    v = np.array(raw, dtype=np.float64)
    lx0, ly0, lx1, ly1, ql, qb, qr, qt, gx, gy = (v[:, k] for k in range(10))
    frames = np.array(FRAMES, dtype=np.int64)[np.array(dirs)]
    ux, uy, vx, vy = (frames[:, k] for k in range(4))
    px0, px1 = a * lx0 + b * ly0 + c, a * lx1 + b * ly1 + c
    py0, py1 = d * lx0 + e * ly0 + f, d * lx1 + e * ly1 + f
    bx0, by0, bx1, by1 = np.minimum(px0, px1), np.minimum(py0, py1), np.maximum(px0, px1), np.maximum(py0, py1)
    us0, us1 = ux * bx0 + uy * by0, ux * bx1 + uy * by1
    qx0, qx1 = a * ql + b * qb + c, a * qr + b * qt + c
    qy0, qy1 = d * ql + e * qb + f, d * qr + e * qt + f
    has = np.array(loosed)
    # the font's line height: the loose box across the reading direction, else the ink box's
    line_h = np.where(has, np.abs(vx * (qx1 - qx0) + vy * (qy1 - qy0)), np.abs(vx * (bx1 - bx0) + vy * (by1 - by0)))
    qu0 = ux * np.minimum(qx0, qx1) + uy * np.minimum(qy0, qy1)
    qu1 = ux * np.maximum(qx0, qx1) + uy * np.maximum(qy0, qy1)
    base = vx * (a * gx + b * gy + c) + vy * (d * gx + e * gy + f)
    cols = [x.tolist() for x in (np.minimum(us0, us1), np.maximum(us0, us1), base, np.maximum(line_h, 1.0),
                                 bx0, by0, bx1, by1, np.minimum(qu0, qu1), np.maximum(qu0, qu1))]
    out: list[list[_Char]] = [[], [], [], []]
    for i, (u0, u1, bs, h, x0, y0, x1, y1, a0, a1) in enumerate(zip(*cols, strict=True)):
        if loosed[i]:
            out[dirs[i]].append(_Char(texts[i], u0, u1, bs, h, gaps[i], (x0, y0, x1, y1), a0, a1))
        else:
            out[dirs[i]].append(_Char(texts[i], u0, u1, bs, h, gaps[i], (x0, y0, x1, y1)))
    return [chars for chars in out if chars]


def _same_baseline(base: float, height: float, other_base: float, other_height: float) -> bool:
    return abs(base - other_base) <= BASELINE_TOLERANCE * max(height, other_height)


def _group_lines(chars: list[_Char]) -> list[_LineGroup]:
    """Characters -> runs (stream order, one baseline, moving right) -> printed lines."""
    runs: list[list[_Char]] = []
    run: list[_Char] = []
    for ch in chars:
        if run:
            last = run[-1]
            if _same_baseline(ch.base, ch.height, last.base, last.height) and (
                ch.u0 >= last.u1 - 0.5 * ch.height
            ):
                run.append(ch)
                continue
        run = [ch]
        runs.append(run)
    lines: list[_LineGroup] = []
    #: lines by coarse baseline, so a run finds its line without scanning every line
    by_base: dict[int, list[_LineGroup]] = {}
    for run in runs:
        base = sorted(c.base for c in run)[len(run) // 2]
        height = max(c.height for c in run)
        x0, x1 = min(c.u0 for c in run), max(c.u1 for c in run)
        target = _line_for_run(lines, by_base, base, height, x0, x1)
        if target is None:
            target = _LineGroup(base, height, x0, x1, [run])
            lines.append(target)
            by_base.setdefault(int(base // 16), []).append(target)
        else:
            target.runs.append(run)
            target.x0, target.x1 = min(target.x0, x0), max(target.x1, x1)
            target.height = max(target.height, height)
    return lines


def _line_for_run(
    lines: list[_LineGroup],
    by_base: dict[int, list[_LineGroup]],
    base: float,
    height: float,
    x0: float,
    x1: float,
) -> _LineGroup | None:
    """The line a run continues: the previous one if it carries on to the right, else one on
    the same baseline that it nearly touches (text added to a line later, e.g. a filled field)."""
    if lines:
        last = lines[-1]
        if _same_baseline(base, height, last.base, last.height) and x0 >= last.x1 - 0.5 * height:
            return last
    reach = int(height // 16) + 2
    key = int(base // 16)
    for k in range(key - reach, key + reach + 1):
        for line in by_base.get(k, ()):
            if not _same_baseline(base, height, line.base, line.height):
                continue
            gap = max(x0 - line.x1, line.x0 - x1)
            if -0.5 * height <= gap <= LINE_JOIN_GAP * height:
                return line
    return None


def _line_words(line: _LineGroup) -> Iterator[tuple[str, tuple[float, float, float, float]]]:
    """Words of one line in reading order; a run drawn twice on itself (fake bold) counts once."""
    placed: list[tuple[str, float, float]] = []
    chars: list[_Char] = []
    for run in sorted(line.runs, key=lambda r: r[0].u0):
        text = "".join(c.text for c in run)
        rx0, rx1 = run[0].u0, max(c.u1 for c in run)
        if any(t == text and _overlap(rx0, rx1, px0, px1) > 0.8 for t, px0, px1 in placed):
            continue
        placed.append((text, rx0, rx1))
        if chars and run[0].u0 < chars[-1].u1 - 0.5 * run[0].height:
            run = [replace(run[0], gap_before=True)] + run[1:]  # overprinted: a separate word
        chars.extend(run)
    word: list[_Char] = []
    for ch in chars:
        if word and (ch.gap_before or _apart(word[-1], ch)):
            yield _word(word)
            word = []
        word.append(ch)
    if word:
        yield _word(word)


def _apart(prev: _Char, ch: _Char) -> bool:
    """Is there a word gap between two characters of a line with no space between them? Their
    ink more than :data:`WORD_GAP` line heights apart, and their advances (loose boxes) more
    than :data:`ADVANCE_GAP` apart when both are known: in a monospaced font a comma's ink is a
    sliver in the middle of a full advance ("326,50" would split at its comma otherwise)."""
    if ch.u0 - prev.u1 <= WORD_GAP * ch.height:
        return False
    if ch.a0 is None or prev.a1 is None:
        return True
    return ch.a0 - prev.a1 > ADVANCE_GAP * ch.height


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = min(a1, b1) - max(a0, b0)
    return inter / max(min(a1 - a0, b1 - b0), 1e-6)


def _word(chars: list[_Char]) -> tuple[str, tuple[float, float, float, float]]:
    boxes = [c.box for c in chars]
    return (
        "".join(c.text for c in chars),
        (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ),
    )
