"""Detectors: one module per signal family, all with the same small interface.

A detector takes the :class:`Analysis` of one upload and a read-only :class:`StoreView` of what
is already on file, and returns a :class:`~forensics.model.CheckResult` (its findings and its
check status). Detectors never call each other; :mod:`forensics.pipeline` runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass
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


class StoreView(Protocol):
    """Read-only queries a detector may make of the evidence store."""

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


    def known_forgery_prints(self) -> list[dict[str, Any]]:
        """Page fingerprints of the uploads people confirmed as forgeries, with the decision."""
        ...


class Detector(Protocol):
    """The interface every detector module exposes (as a module-level instance)."""

    #: key of this detector in the record's ``checks``
    name: str

    def run(self, analysis: Analysis, store: StoreView) -> CheckResult: ...
