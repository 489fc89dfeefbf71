"""Documents' own traces: what the file says about how it was made and changed.

- ``editing_software``: a PDF producer/creator or an image's EXIF/PNG ``Software`` naming an
  image editor (medium) or an online receipt generator (high). Word processors are common for
  honest small-business invoices, so they are only noted (``info``).
- ``pdf_edited``: revisions saved on top of the original by a PDF editor, or a modification
  date after the creation date written by one (medium). Also an embedded e-invoice XML in a
  file whose producer, its last writer, is a PDF editor, word processor or image editor
  (medium): invoicing software attaches the XML as it issues the file. Incremental saves by
  e-invoice, PDF/A and signing tools are how honest files are made, so alone they are only
  noted.
- ``text_layer_mismatch``: the text layer says something the rendered page does not show:
  numbers in the layer where the render is blank (hidden text) or where OCR of the render reads
  a different number (an image or white box laid over the text).
- ``xml_mismatch``: the embedded e-invoice XML states a total, date, number or tax id that the
  visible text contradicts.
- ``screenshot`` (info): the image is a screen capture, not a scan or photo.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from PIL import Image

from forensics.detectors import Analysis, StoreView
from forensics.fields.amounts import find_amounts
from forensics.fields.dates import find_dates
from forensics.model import Box, CheckResult, Finding, Page, PageReading, Word

log = logging.getLogger(__name__)

#: image editors, as they name themselves in producer/creator/Software (lower case)
IMAGE_EDITORS = ("photoshop", "gimp", "paint.net", "pixelmator", "affinity photo", "affinity designer",
                 "canva", "snapseed", "picsart", "photopea", "fotor", "photoscape", "illustrator",
                 "inkscape", "coreldraw", "corel photo", "paintshop", "krita", "meitu", "美图", "醒图",
                 "polarr", "lightroom", "acorn", "pixlr")
#: online receipt and invoice generators used to fake proofs of purchase (lower case)
RECEIPT_GENERATORS = ("receiptmaker", "receipt maker", "makereceipt", "make receipt",
                      "expressexpense", "express expense", "receiptfaker", "fake receipt",
                      "fakereceipt", "receipt generator", "receiptgenerator", "receipt-generator",
                      "receiptify", "billgenerator", "bill generator", "invoicefaker")
#: word processors and spreadsheets (lower case)
WORD_PROCESSORS = ("microsoft word", "microsoft® word", "winword", "libreoffice", "openoffice",
                   "wps writer", "wps office", "google docs", "pages", "microsoft excel",
                   "microsoft® excel", "writer")
#: office programs that name themselves as a PDF's producer when they save it (the bare
#: "Writer" or "Pages" of WORD_PROCESSORS are creators, and generic words in other producers)
RESAVING_OFFICE = tuple(w for w in WORD_PROCESSORS if w not in ("writer", "pages"))
#: PDF editors that save changes to an existing file (lower case)
PDF_EDITORS = ("acrobat pro", "acrobat standard", "adobe acrobat 1", "adobe acrobat 2",
               "adobe acrobat 9", "acrobat dc", "foxit phantompdf", "foxit pdf editor",
               "pdf-xchange editor", "nitro pro", "nitro pdf", "sejda", "ilovepdf", "smallpdf",
               "pdfescape", "pdfelement", "wondershare", "pdf candy", "pdffiller", "dochub",
               "master pdf editor", "pdf expert", "pdfsam", "preview")
#: screen-capture tools (lower case)
SCREENSHOT_TOOLS = ("screenshot", "snipping tool", "snip & sketch", "greenshot", "shareX",
                    "lightshot", "gnome-screenshot", "spectacle", "flameshot", "截图", "截屏")
#: a modification this long after creation is an edit, not the writing of the file
EDIT_DELAY = timedelta(hours=1)
#: most PDF pages OCR'd in full to compare with their text layer (each costs about a second):
#: only pages with more than MAX_BOX_READS numbers under an overlay
MAX_OCR_PAGES = 3
#: most numbers under an overlay read again box by box on one page (each costs ~30 ms)
MAX_BOX_READS = 24
#: OCR confidence at or above which a different number in the render is believed
TRUSTED_OCR_CONFIDENCE = 0.85
#: a layer word's box counts as blank when fewer of its pixels than this are ink
BLANK_INK_SHARE = 0.005
#: grey level below which a pixel is ink, relative to the box's paper level
INK_CONTRAST = 60


def _matches(value: str | None, names: tuple[str, ...]) -> str | None:
    if not value:
        return None
    low = value.lower()
    for name in names:
        if len(name) <= 6:  # short names ("pages", "gimp") must stand as words
            if re.search(rf"(?<![a-z]){re.escape(name.lower())}(?![a-z])", low):
                return name
        elif name.lower() in low:
            return name
    return None


def software_findings(analysis: Analysis) -> list[Finding]:
    """Editors, generators and word processors named in the file's metadata."""
    doc = analysis.document
    sources: list[tuple[str, str | None]] = []
    if doc.pdf is not None:
        sources += [("PDF producer", doc.pdf.producer), ("PDF creator", doc.pdf.creator)]
    sources.append(("image Software tag", doc.image_meta.get("Software")))
    out: list[Finding] = []
    seen: set[str] = set()
    for where, value in sources:
        for names, kind, severity, score in (
            (RECEIPT_GENERATORS, "receipt_generator", "high", 0.85),
            (IMAGE_EDITORS, "image_editor", "medium", 0.6),
            (WORD_PROCESSORS, "word_processor", "info", 0.2),
        ):
            hit = _matches(value, names)
            if hit is None or kind in seen:
                continue
            seen.add(kind)
            what = {"receipt_generator": "an online receipt generator",
                    "image_editor": "an image editor",
                    "word_processor": "a word processor"}[kind]
            out.append(Finding(
                code="editing_software", severity=severity, score=score,  # type: ignore[arg-type]
                message=f"The file's {where} says it was made with {value}, {what}, not by a "
                        "till or an invoicing system.",
                evidence={"kind": kind, "where": where, "software": value}))
            break
    return out


def screenshot_finding(analysis: Analysis) -> Finding | None:
    meta = analysis.document.image_meta
    values = " ".join(str(meta.get(k, "")) for k in ("Software", "Author", "Make", "Model"))
    tool = _matches(values, SCREENSHOT_TOOLS)
    if tool is None:
        return None
    return Finding(code="screenshot", severity="info", score=0.2,
                   message=f"The image is a screenshot ({meta.get('Software') or tool}), not a scan "
                           "or photo of the document.",
                   evidence={"software": meta.get("Software"), "tool": tool})


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else None  # naive PDF dates cannot be compared across zones


def pdf_edit_findings(analysis: Analysis) -> list[Finding]:
    """Incremental saves and late modification dates, weighed by who wrote them."""
    info = analysis.document.pdf
    if info is None:
        return []
    editor = _matches(info.producer, PDF_EDITORS) or _matches(info.creator, PDF_EDITORS)
    created, modified = _parse_iso(info.created), _parse_iso(info.modified)
    late = created is not None and modified is not None and modified - created > EDIT_DELAY
    saves = info.incremental_updates
    evidence: dict[str, Any] = {"producer": info.producer, "creator": info.creator,
                                "created": info.created, "modified": info.modified,
                                "incremental_updates": saves}
    resaver = (_matches(info.producer, PDF_EDITORS) or _matches(info.producer, RESAVING_OFFICE)
               or _matches(info.producer, IMAGE_EDITORS))
    if info.einvoice_xml and resaver:
        # e-invoice software writes the XML attachment as it writes the file; a word processor
        # or an editor as the last writer (the producer) saved the issued invoice again. An
        # honest Word layout turned into an e-invoice names the e-invoice tool as producer.
        return [Finding(code="pdf_edited", severity="medium", score=0.6,
                        message=f"The PDF carries an e-invoice XML, which invoicing software "
                                f"attaches when it issues the invoice, but it was last written by "
                                f"{info.producer}: the issued invoice was opened and saved again.",
                        evidence={**evidence, "editor": resaver, "einvoice": info.einvoice_name})]
    if editor and (saves > 0 or late):
        after = f" {_span(modified - created)} after it was created" if late and created and modified else ""
        revisions = f" in {saves} saved revision{'s' if saves != 1 else ''}" if saves else ""
        return [Finding(code="pdf_edited", severity="medium", score=0.6,
                        message=f"The PDF was changed with {info.producer or info.creator}"
                                f"{revisions}{after}.",
                        evidence={**evidence, "editor": editor})]
    if saves > 0 and late:
        return [Finding(code="pdf_edited", severity="info", score=0.15,
                        message=f"The PDF was saved again {saves} time{'s' if saves != 1 else ''} "
                                "after it was written, by a tool that is not a PDF editor.",
                        evidence=evidence)]
    return []


def _span(delta: timedelta) -> str:
    if delta.days >= 2:
        return f"{delta.days} days"
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


# --------------------------------------------------------------------------- text layer vs OCR


def _numeric_token(text: str) -> str | None:
    """Digits of a word that carries a number worth comparing (amount, date, id), else None."""
    digits = re.sub(r"\D", "", text)
    return digits if len(digits) >= 3 else None


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(1, small)


def is_blank(gray: np.ndarray | Image.Image, box: Box) -> bool:
    """True when nothing is printed in ``box`` of a greyscale render (an array, or the page's
    image: then only the box is read, not a copy of the whole 300-DPI page)."""
    width, height = (gray.shape[1], gray.shape[0]) if isinstance(gray, np.ndarray) else gray.size
    x0, y0, x1, y1 = (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))
    if x1 <= x0 or y1 <= y0:
        return False
    if isinstance(gray, np.ndarray):
        region = gray[y0:y1, x0:x1]
    else:
        region = np.asarray(gray.crop((x0, y0, x1, y1)).convert("L"))
    if region.dtype != np.uint8:  # not 8-bit grey levels: the general way
        region = region.astype(np.int16)
        return float((region < np.percentile(region, 90) - INK_CONTRAST).mean()) < BLANK_INK_SHARE
    counts = np.bincount(region.ravel(), minlength=256)
    paper = percentile_of_counts(counts, 90)
    # ink: the levels below the paper's less the contrast, counted from the histogram
    dark = counts[: max(0, min(256, math.ceil(paper - INK_CONTRAST)))].sum()
    return float(dark) / region.size < BLANK_INK_SHARE


def percentile_of_counts(counts: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (its default, linear method, to the last bit) of integer
    values given by their histogram ``counts`` (value -> how many): the two order statistics it
    interpolates are read from the cumulative counts instead of partitioning the values, ~10x
    cheaper on a word's box. ``tests/detectors/test_document_traces`` holds the two equal."""
    n = int(counts.sum())
    virtual = (n - 1) * (q / 100)
    below = math.floor(virtual)
    cum = np.cumsum(counts)
    if virtual >= n - 1:
        return float(np.searchsorted(cum, n - 1, side="right"))
    lo = float(np.searchsorted(cum, below, side="right"))
    hi = float(np.searchsorted(cum, below + 1, side="right"))
    t = virtual - below
    # numpy's lerp: from the lower value below the middle, from the upper one above it
    return hi - (hi - lo) * (1 - t) if t >= 0.5 else lo + (hi - lo) * t


def compare_layer(page: Page, ocr: PageReading) -> list[dict[str, Any]]:
    """Numbers of the text layer hidden in the render or shown as another number there."""
    assert page.image is not None and page.text_words is not None
    gray = page.image  # read box by box (is_blank)
    out: list[dict[str, Any]] = []
    for word in page.text_words:
        token = _numeric_token(word.text)
        if token is None:
            continue
        over = [w for w in ocr.words if _overlap(w.box, word.box) >= 0.5]
        if not over:
            if is_blank(gray, word.box):
                out.append({"kind": "hidden", "layer": word.text, "box": word.box})
            continue
        seen = "".join(_numeric_token(w.text) or re.sub(r"\D", "", w.text) for w in over)
        if seen == token or token in seen or not seen:
            continue
        if min(w.confidence for w in over) < TRUSTED_OCR_CONFIDENCE:
            continue
        if len(seen) != len(token) and abs(len(seen) - len(token)) > 1:
            continue  # the OCR words cover more (or less) than this one number
        out.append({"kind": "overlaid", "layer": word.text, "render": " ".join(w.text for w in over),
                    "box": word.box})
    return out


def covered_words(page: Page) -> list[Word]:
    """Numeric words of the text layer at least half inside a box where an image or filled
    shape is painted over earlier text (:attr:`Page.overlays`): the only words the render can
    show differently. Elsewhere the render is the layer's own glyphs."""
    out = []
    for word in page.text_words or ():
        if _numeric_token(word.text) is None:
            continue
        if any(_inside(word.box, box) >= 0.5 for box in page.overlays):
            out.append(word)
    return out


def _inside(word: Box, box: Box) -> float:
    """Share of ``word``'s area inside ``box``."""
    w = min(word[2], box[2]) - max(word[0], box[0])
    h = min(word[3], box[3]) - max(word[1], box[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, (word[2] - word[0]) * (word[3] - word[1]))


def read_words_again(page: Page, words: list[Word], settings: Any) -> PageReading:
    """OCR of only these words' boxes (each read as one line), as a page reading whose words
    carry the layer word's box: what the render shows where the layer says each word."""
    from forensics.ocr import get_engine, read_box_words

    engine = get_engine(settings)
    read: list[Word] = []
    boxes: list[Box] = []
    for word in words:
        if any(_overlap(word.box, b) >= 0.5 for b in boxes):
            continue  # a number drawn where another was: one reading of the place serves both
        boxes.append(word.box)
        found = read_box_words(page.image, word.box, engine)
        if found:
            read.append(Word(" ".join(w.text for w in found), word.box,
                             min(w.confidence for w in found), word.block, word.line))
    return PageReading(page.number, "ocr", tuple(read), page.width, page.height)


def text_layer_findings(analysis: Analysis) -> tuple[list[Finding], int]:
    """Compare the text layer of each rendered page with its render; (findings, pages compared).

    Numbers of the layer over blank paper are hidden text (no OCR needed). Only numbers under
    an overlay (:func:`covered_words`) are read again, box by box; a page with more of them
    than :data:`MAX_BOX_READS` (a whole picture laid over the text) is OCR'd in full, on at
    most :data:`MAX_OCR_PAGES` pages."""
    from forensics.ocr import read_page

    out: list[Finding] = []
    compared = 0
    full_reads = 0
    for page in analysis.document.pages:
        if not page.has_text_layer or page.image is None:
            continue
        compared += 1
        covered = covered_words(page)
        if len(covered) > MAX_BOX_READS and full_reads < MAX_OCR_PAGES:
            full_reads += 1
            ocr = read_page(page.number, page.image, analysis.settings)
        else:
            ocr = read_words_again(page, covered[:MAX_BOX_READS], analysis.settings)
        for diff in compare_layer(page, ocr):
            if diff["kind"] == "hidden":
                message = (f"The PDF's text layer contains {diff['layer']} on page {page.number} "
                           "where nothing is visible: hidden text that search and copy see but "
                           "readers do not.")
                severity, score = "medium", 0.65
            else:
                message = (f"On page {page.number} the PDF shows {diff['render']} where its text "
                           f"layer says {diff['layer']}: something is laid over the original text.")
                severity, score = "high", 0.85
            out.append(Finding(code="text_layer_mismatch", severity=severity, score=score,  # type: ignore[arg-type]
                               message=message, page=page.number, box=diff["box"],
                               evidence={k: v for k, v in diff.items() if k != "box"}))
    return out, compared


# --------------------------------------------------------------------------- embedded XML


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _norm(value: Any) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(value).upper())


def xml_findings(analysis: Analysis) -> tuple[list[Finding], int]:
    """Fields of the embedded e-invoice XML that the visible text contradicts."""
    ex = analysis.extraction
    text = analysis.reading.text
    amounts = {abs(a.value) for a in find_amounts(text)}
    dates = {d.iso for d in find_dates(text)}
    flat = _norm(text)
    out: list[Finding] = []
    compared = 0
    labels = {"total": "total", "date": "invoice date", "serial": "invoice number",
              "merchant_tax_id": "seller's tax id"}
    for name, label in labels.items():
        xml = ex.alternatives.get(name, {}).get("xml")
        # the main value comes from the XML when it states one; the visible reading is kept apart
        seen = ex.alternatives.get(name, {}).get("text") or ex.fields.get(name)
        if xml is None or seen is None or seen.source == "xml" or not xml.value or not seen.value:
            continue
        compared += 1
        if name == "total":
            a, b = _dec(xml.value), _dec(seen.value)
            differs = a is not None and b is not None and a != b and abs(a) not in amounts
        elif name == "date":
            differs = str(xml.value) != str(seen.value) and str(xml.value) not in dates
        else:
            differs = _norm(xml.value) != _norm(seen.value) and _norm(xml.value) not in flat
        if differs:
            out.append(Finding(
                code="xml_mismatch", severity="high", score=0.85,
                message=f"The invoice's embedded e-invoice XML gives the {label} as {xml.value}, "
                        f"but the visible invoice says {seen.value}.",
                page=seen.page, box=seen.box,
                evidence={"field": name, "xml": str(xml.value), "visible": str(seen.value)}))
    return out, compared


class DocumentTracesDetector:
    """Producer/creator and EXIF software, PDF revisions, text layer vs render, embedded XML."""

    name = "document_traces"

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult:
        doc = analysis.document
        findings = software_findings(analysis)
        shot = screenshot_finding(analysis)
        if shot is not None:
            findings.append(shot)
        notes: list[str] = []
        if doc.pdf is not None:
            findings += pdf_edit_findings(analysis)
            layer, pages = text_layer_findings(analysis)
            findings += layer
            if not pages and any(p.has_text_layer for p in doc.pages):
                notes.append("text layer not compared, pages not rendered")
            xml, _compared = xml_findings(analysis)
            findings += xml
        status = "done" + (f": {'; '.join(notes)}" if notes else "")
        return CheckResult(tuple(findings), status)


#: the module-level detector the pipeline runs
detector = DocumentTracesDetector()
