"""Detectors: one module per signal family, all with the same small interface.

A detector takes the :class:`Analysis` of one upload and a read-only :class:`StoreView` of what
is already on file, and returns a :class:`~forensics.model.CheckResult` (its findings and its
check status). Detectors never call each other; :mod:`forensics.pipeline` runs them in order.

A detector declares itself here, in :data:`SINGLE_DOCUMENT`: adding one is its module (with a
module-level ``detector``) and its name in that tuple, nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from forensics.model import CheckResult, Document, Extraction, Reading

if TYPE_CHECKING:  # pragma: no cover
    from forensics.events import UploadEvent
    from forensics.settings import Settings


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything known about one upload when the detectors run."""

    event: UploadEvent
    document: Document
    reading: Reading
    extraction: Extraction
    settings: Settings
    #: page fingerprints from :mod:`forensics.fingerprints` (None before that stage exists)
    fingerprints: Any = None
    #: results of expensive steps (page comparisons, second readings, index searches) kept
    #: from the linking detectors' run outside the match lock for their run inside it
    memo: dict[Any, Any] = field(default_factory=dict)


def scanned_pages(analysis: Analysis) -> list[tuple[Any, Any]]:
    """(page reading, page image) of every page OCR read words on: what the pixel detectors
    (local edits, copy-move) look at; text-layer PDF pages have no scan to judge."""
    images = {p.number: p.image for p in analysis.document.pages if p.image is not None}
    return [(r, images[r.page]) for r in analysis.reading.pages
            if r.source == "ocr" and r.words and r.page in images]


def judge_scanned_pages(analysis: Analysis, per_page: Callable[[Any, Any], tuple[list[Any], int]],
                        too_few: str) -> CheckResult:
    """A pixel detector's result: ``per_page(reading, image)`` gives (findings, how many things
    it could judge) for each of :func:`scanned_pages`; skipped when there is no scanned page, or
    (``too_few``, the reason) when no page had anything to judge."""
    pages = scanned_pages(analysis)
    if not pages:
        return CheckResult.skipped("no scanned page with OCR'd words")
    findings: list[Any] = []
    judged = 0
    for reading, image in pages:
        found, n = per_page(reading, image)
        findings += found
        judged += n
    if not judged:
        return CheckResult.skipped(too_few)
    return CheckResult(tuple(findings), "done")


def remember(analysis: Analysis, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per upload and key: the run inside the match lock reuses what the
    run before it (against the snapshot) computed, so the lock covers only what is new."""
    if key not in analysis.memo:
        analysis.memo[key] = compute()
    return analysis.memo[key]


class StoreView(Protocol):
    """Read-only queries a detector may make of the evidence store."""

    #: the store's URL (in-memory indexes are kept per store)
    url: str

    def serial_uses(self, issuer_key: str | None, serial: str, *, name_key: str | None = None,
                    reg_key: str | None = None, phone_key: str | None = None) -> list[dict[str, Any]]:
        """Earlier registrations of a serial: of any issuer when no key is given, else those
        agreeing on the issuer key, the name key, the registration-number key or the
        telephone key."""
        ...

    def serials_ending(self, tail: str) -> list[dict[str, Any]]:
        """Earlier registrations of long serials that end in ``tail``, of any issuer."""
        ...

    def issuer_serials(self, *, issuer_key: str | None, name_key: str | None, reg_key: str | None,
                       phone_key: str | None, other_than_seller: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` registrations of one issuer's serials, whatever their number,
        by sellers other than ``other_than_seller``."""
        ...

    def evidence_meta(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Seller, upload time, file (``blob``, ``media_type``) and fields of records, by id."""
        ...

    def issuer_uploads(self, *, name_key: str | None, reg_key: str | None, phone_key: str | None,
                       limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` issuer marks (tax key, name, registration and telephone keys of
        an upload) agreeing with any of the keys given."""
        ...

    def content_keys_printed_at(self, when: str, *, exclude: str) -> list[dict[str, Any]]:
        """Content keys (receipt number, its line, seller, upload time, issuer keys) of other
        analysed uploads printed at ``when`` (``<ISO date>|<HH:MM>``), oldest first."""
        ...

    def fingerprints_since(self, last_id: int, *, limit: int) -> list[Any]:
        """Page fingerprint rows with id > ``last_id``, oldest first."""
        ...

    def fingerprint_rows(self, ids: list[int]) -> list[Any]:
        """Page fingerprint rows by id."""
        ...

    def evidence_with(self, column: str, value: str, *, exclude: str) -> list[Any]:
        """Fingerprint rows of other uploads sharing a pixel hash, content key or date + total."""
        ...

    def same_file(self, sha256: str, *, exclude: str) -> list[str]:
        """Ids of other analysed uploads of exactly these bytes."""
        ...

    def file_of(self, evidence_id: str) -> tuple[str, str | None] | None:
        """(blob, claimed type) of an upload, or None."""
        ...


    def known_forgery_prints(self) -> list[dict[str, Any]]:
        """Page fingerprints of the uploads people confirmed as forgeries, with the decision."""
        ...


class Detector(Protocol):
    """The interface every detector module exposes (as a module-level instance)."""

    #: key of this detector in the record's ``checks``
    name: str

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult: ...


#: modules of the detectors that look at one upload alone, in the order they run
SINGLE_DOCUMENT = ("arithmetic", "identifiers", "dates_claims", "document_traces", "local_edits", "copy_move",
                  "amount_print", "crisp_print", "glyph_copies", "line_print")


def registered(modules: tuple[str, ...] = SINGLE_DOCUMENT) -> list[Detector]:
    """The module-level ``detector`` of each named detector module, in that order."""
    return [importlib.import_module(f"{__name__}.{m}").detector for m in modules]
