"""Value types shared by every stage of the analysis.

Data flows one way: upload -> :class:`Document` (pages) -> :class:`Reading` (words with boxes)
-> :class:`Field` -> fingerprints -> :class:`Finding` -> verdict -> record. Each type is a small
frozen dataclass; the few methods on them are the ones that belong to the concept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

#: A rectangle in page pixel coordinates: (x0, y0, x1, y1), origin top-left.
Box = tuple[int, int, int, int]

Severity = Literal["info", "low", "medium", "high"]


def union_box(boxes: list[Box]) -> Box | None:
    """The smallest box that holds every box given (None for none)."""
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def boxes_overlap(a: Box, b: Box) -> bool:
    """Do two boxes share any area (touching edges do not)?"""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]



@dataclass(frozen=True)
class Word:
    """One recognised word with where it stands on its page.

    ``confidence`` is 0..1; ``block``/``line`` group words the way the engine read them, so that
    ``(block, line)`` identifies one printed line on the page.
    """

    text: str
    box: Box
    confidence: float
    block: int = 0
    line: int = 0


@dataclass(frozen=True)
class Line:
    """A printed line: its words in reading order."""

    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def box(self) -> Box:
        b = union_box([w.box for w in self.words])
        assert b is not None
        return b

    @property
    def confidence(self) -> float:
        if not self.words:
            return 0.0
        return min(w.confidence for w in self.words)


@dataclass(frozen=True, eq=False)
class Page:
    """One decoded page of a document.

    ``image`` is the page raster (mode ``L`` or ``RGB``) for OCR, hashing and pixel checks; it is
    None only for a PDF page that was not rendered. ``text_words`` is the PDF text layer in the
    same pixel coordinates as ``image`` (scaled to ``dpi``), or None when the page has no layer.
    """

    number: int
    width: int
    height: int
    image: Image.Image | None = None
    dpi: int = 300
    text_words: tuple[Word, ...] | None = None
    #: PDF pages: boxes (pixels) where an image or filled shape is painted over earlier text,
    #: the only places the render can show something other than the text layer
    overlays: tuple[Box, ...] = ()
    #: PDF pages: boxes (pixels) of the only places a barcode or QR code can be drawn
    #: (:func:`forensics.pdf.code_regions`); None when unknown (images: the whole page)
    code_regions: tuple[Box, ...] | None = None
    #: PDF pages with a text layer: the page's graphic objects
    #: (:class:`forensics.page_objects.PageGraphics`), None when its render can show what its
    #: objects do not say (then only the pixels can compare it with another page)
    graphics: Any = None
    #: sha256 of ``image``'s pixels (:func:`forensics.documents.pixel_sha256`) when the decoder
    #: hashed them from its own buffer, sparing a copy of the raster; None: hash ``image``
    pixel_sha256: str | None = None

    @property
    def has_text_layer(self) -> bool:
        return bool(self.text_words)


@dataclass(frozen=True)
class PdfInfo:
    """What a PDF says about itself (metadata and structure), never executed."""

    producer: str | None = None
    creator: str | None = None
    created: str | None = None
    modified: str | None = None
    page_count: int = 0
    incremental_updates: int = 0
    has_javascript: bool = False
    embedded_files: tuple[str, ...] = ()
    #: the embedded e-invoice XML (Factur-X / ZUGFeRD / XRechnung) as text, if any
    einvoice_xml: str | None = None
    einvoice_name: str | None = None


@dataclass(frozen=True, eq=False)
class Document:
    """A decoded upload: the sniffed media type and its pages, within the configured limits."""

    sha256: str
    media_type: str
    size_bytes: int
    pages: tuple[Page, ...]
    claimed_type: str | None = None
    pdf: PdfInfo | None = None
    #: image metadata worth keeping for forensics (EXIF Software, DateTime, Make, Model, ...)
    image_meta: dict[str, str] = field(default_factory=dict)
    #: sha256 of the decoded pixels of each page (same image, other container or metadata)
    pixel_sha256: tuple[str, ...] = ()

    @property
    def type_mismatch(self) -> bool:
        """True when the uploader's claimed type disagrees with the sniffed bytes."""
        if not self.claimed_type:
            return False
        claimed = self.claimed_type.split(";")[0].strip().lower()
        aliases = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/tif": "image/tiff"}
        return aliases.get(claimed, claimed) != self.media_type


@dataclass(frozen=True)
class PageReading:
    """The words read on one page and where they came from (``ocr`` or ``text_layer``)."""

    page: int
    source: Literal["ocr", "text_layer"]
    words: tuple[Word, ...]
    width: int
    height: int
    engine: str = ""
    seconds: float = 0.0

    def lines(self) -> list[Line]:
        """Words grouped into printed lines, top to bottom, left to right (a new list each call;
        the grouping is made once per reading: the field rules ask for it about ten times)."""
        cached = self.__dict__.get("_lines")
        if cached is None:
            groups: dict[tuple[int, int], list[Word]] = {}
            for w in self.words:
                groups.setdefault((w.block, w.line), []).append(w)
            lines = [Line(tuple(sorted(ws, key=lambda w: w.box[0]))) for ws in groups.values() if ws]
            lines.sort(key=lambda ln: (ln.box[1], ln.box[0]))
            cached = self.__dict__["_lines"] = tuple(lines)  # not a field: eq, hash and repr ignore it
        return list(cached)

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines())


@dataclass(frozen=True)
class Reading:
    """Everything read from a document, page by page."""

    pages: tuple[PageReading, ...]

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages)

    def lines(self) -> list[tuple[int, Line]]:
        """(page number, line) for every line of the document in reading order."""
        return [(p.page, ln) for p in self.pages for ln in p.lines()]


@dataclass(frozen=True)
class Field:
    """One extracted field: the normalised ``value`` and the ``raw`` text it came from.

    ``value`` is JSON-ready: a string for text, ISO dates and decimal strings, or a list of dicts
    for ``line_items``. ``extra`` carries field-specific details (e.g. ``scheme`` of a tax id).
    ``source`` says which reading produced it: ``ocr``, ``text_layer`` or ``xml``.
    """

    name: str
    value: Any
    raw: str
    confidence: float
    page: int | None = None
    box: Box | None = None
    source: str = "ocr"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "raw": self.raw,
            "confidence": round(float(self.confidence), 3),
            "page": self.page,
            "box": list(self.box) if self.box else None,
            "source": self.source,
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Extraction:
    """All fields of a document. ``fields`` maps a contract field name to its best reading;
    ``alternatives`` keeps other sources' readings (e.g. the embedded XML next to the visible
    text) for detectors that compare them."""

    fields: dict[str, Field]
    alternatives: dict[str, dict[str, Field]] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        f = self.fields.get(name)
        return f.value if f else None


@dataclass(frozen=True)
class Finding:
    """One piece of evidence against (or about) an upload.

    ``message`` is one sentence a reviewer understands without the code; ``related`` lists the
    other evidence ids it rests on; ``evidence`` carries machine-readable detail.
    """

    code: str
    severity: Severity
    score: float
    message: str
    related: tuple[str, ...] = ()
    page: int | None = None
    box: Box | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity,
            "score": round(float(self.score), 3),
            "message": self.message,
            "related": list(self.related),
        }
        if self.page is not None:
            out["page"] = self.page
        if self.box is not None:
            out["box"] = list(self.box)
        if self.evidence:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True)
class CheckResult:
    """What one detector did: ``status`` is ``done``, ``skipped: <why>`` or ``failed: <why>``."""

    findings: tuple[Finding, ...] = ()
    status: str = "done"
    #: links to other uploads this detector confirmed, for the store to persist:
    #: ``{"other": evidence_id, "kind": ..., "score": ..., "details": {...}}``
    relations: tuple[dict[str, Any], ...] = ()

    @classmethod
    def skipped(cls, why: str) -> CheckResult:
        return cls((), f"skipped: {why}")

    @classmethod
    def failed(cls, why: str) -> CheckResult:
        return cls((), f"failed: {why}")
