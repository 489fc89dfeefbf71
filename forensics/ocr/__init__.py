"""OCR: one interface, engines behind it.

:func:`read_document` turns a :class:`~forensics.model.Document` into a
:class:`~forensics.model.Reading`: PDF pages with a text layer use the layer (no OCR); every
other page is OCR'd once, yielding words with boxes, confidences and line structure.

Engines (``FORENSICS_OCR_ENGINE``): ``tesserocr`` (one reused API object per thread, no process
start-up: the fast path) when importable, else ``pytesseract`` (the Tesseract CLI). Tesseract is
reached only through this package.
"""

from __future__ import annotations

import os
import time

from forensics.errors import MissingDependency
from forensics.model import Document, PageReading, Reading
from forensics.ocr.engines import OcrEngine, PytesseractEngine, TesserocrEngine
from forensics.ocr.preprocess import boxes_to_original, prepare_page
from forensics.settings import Settings

# OpenMP threads inside Tesseract fight each other on small machines (3x slower measured on
# 2 cores); set before the engine library is loaded by anyone.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

__all__ = ["OcrEngine", "get_engine", "read_document", "read_page"]

_engines: dict[tuple[str, str, float], OcrEngine] = {}


def get_engine(settings: Settings) -> OcrEngine:
    """The engine the settings ask for, created once per process and reused."""
    key = (settings.ocr_engine, settings.ocr_langs, settings.ocr_timeout)
    engine = _engines.get(key)
    if engine is None:
        engine = _make_engine(settings)
        _engines[key] = engine
    return engine


def _make_engine(settings: Settings) -> OcrEngine:
    choice = settings.ocr_engine
    if choice in ("auto", "tesserocr"):
        try:
            return TesserocrEngine(settings.ocr_langs, timeout=settings.ocr_timeout)
        except ImportError:
            if choice == "tesserocr":
                raise MissingDependency(
                    "FORENSICS_OCR_ENGINE=tesserocr but tesserocr is not installed; "
                    "run `pip install tesserocr` or use FORENSICS_OCR_ENGINE=pytesseract."
                ) from None
    if choice not in ("auto", "tesserocr", "pytesseract"):
        raise MissingDependency(f"Unknown FORENSICS_OCR_ENGINE {choice!r}; use auto, tesserocr or pytesseract.")
    return PytesseractEngine(settings.ocr_langs, timeout=settings.ocr_timeout)


#: a page that yields fewer words than this is read a second time inside its edge frame
FEW_WORDS = 20


def read_page(page_number: int, image, settings: Settings) -> PageReading:  # noqa: ANN001
    """OCR one page image; word boxes are in the original image's pixel coordinates."""
    engine = get_engine(settings)
    started = time.perf_counter()
    prepared = prepare_page(image)
    words = boxes_to_original(engine.words(prepared.image), prepared, image.width, image.height)
    if len(words) < FEW_WORDS:
        # a page that reads (almost) nothing: a dark frame along its edges may have thrown
        # Tesseract's resolution estimate; read it again inside the frame, keep the better
        trimmed = prepare_page(image, trim=True)
        if trimmed.box is not None:
            again = boxes_to_original(engine.words(trimmed.image), trimmed, image.width, image.height)
            if len(again) > len(words):
                words = again
    return PageReading(
        page=page_number,
        source="ocr",
        words=tuple(words),
        width=image.width,
        height=image.height,
        engine=engine.name,
        seconds=round(time.perf_counter() - started, 3),
    )


def read_document(document: Document, settings: Settings) -> Reading:
    """Read every page: the PDF text layer where there is one, OCR everywhere else."""
    pages: list[PageReading] = []
    for page in document.pages:
        if page.text_words:
            pages.append(
                PageReading(
                    page=page.number,
                    source="text_layer",
                    words=tuple(page.text_words),
                    width=page.width,
                    height=page.height,
                    engine="pdf",
                )
            )
        elif page.image is not None:
            pages.append(read_page(page.number, page.image, settings))
    return Reading(tuple(pages))
