"""What the linking detectors may see of the store: named read queries on one transaction.

Detectors get a :class:`RegistryView`, never a connection (only ``forensics/store`` writes SQL).
The same view serves the optimistic run outside the match lock (a plain transaction: what is
committed) and the run inside it (the exclusive transaction: everything earlier).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from forensics.store import registries
from forensics.store.schema import evidence, readings


class RegistryView:
    """Read-only registry queries inside one transaction of ``store``."""

    def __init__(self, store: Any, conn: Connection) -> None:
        self.store = store
        self.conn = conn

    @property
    def url(self) -> str:
        """The store's URL: in-memory indexes are kept per store."""
        return self.store.url

    # -- serials and issuers ------------------------------------------------------------------

    def serial_uses(self, issuer_key: str | None, serial: str, *, name_key: str | None = None,
                    reg_key: str | None = None, phone_key: str | None = None) -> list[dict[str, Any]]:
        return registries.serial_uses(self.conn, issuer_key, serial, name_key=name_key, reg_key=reg_key,
                                      phone_key=phone_key)

    def serials_ending(self, tail: str) -> list[dict[str, Any]]:
        return registries.serials_ending(self.conn, tail)

    def issuer_serials(self, *, issuer_key: str | None, name_key: str | None, reg_key: str | None,
                       phone_key: str | None, other_than_seller: str, limit: int) -> list[dict[str, Any]]:
        return registries.issuer_serials(self.conn, issuer_key=issuer_key, name_key=name_key,
                                         reg_key=reg_key, phone_key=phone_key,
                                         other_than_seller=other_than_seller, limit=limit)

    def evidence_meta(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return registries.evidence_meta(self.conn, ids)

    def known_forgery_prints(self) -> list[dict[str, Any]]:
        """Fingerprints of uploads a reviewer confirmed as forgeries (the known-forgery registry)."""
        from forensics.store import reviews

        return reviews.known_forgery_prints(self.conn)

    def issuer_uploads(self, *, name_key: str | None, reg_key: str | None, phone_key: str | None,
                       limit: int) -> list[dict[str, Any]]:
        return registries.issuer_uploads(self.conn, name_key=name_key, reg_key=reg_key,
                                         phone_key=phone_key, limit=limit)

    def content_keys_printed_at(self, when: str, *, exclude: str) -> list[dict[str, Any]]:
        """Content keys (receipt number, its line, issuer keys) of other analysed uploads
        printed at ``when`` (``<ISO date>|<HH:MM>``), oldest first."""
        from forensics.store import content_keys

        return content_keys.printed_at(self.conn, when, exclude=exclude)

    # -- page fingerprints --------------------------------------------------------------------

    def fingerprints_since(self, last_id: int, *, limit: int) -> list[Any]:
        """Fingerprint rows with id > ``last_id``, oldest first (how an in-memory index catches up)."""
        return registries.fingerprints_since(self.conn, last_id, limit=limit)

    def fingerprint_rows(self, ids: list[int]) -> list[Any]:
        return registries.fingerprint_rows(self.conn, ids)

    def evidence_with(self, column: str, value: str, *, exclude: str) -> list[Any]:
        """Fingerprint rows of other uploads sharing a file hash, pixel hash or content key."""
        return registries.evidence_with(self.conn, column, value, exclude=exclude)

    def same_file(self, sha256: str, *, exclude: str) -> list[str]:
        """Ids of other analysed uploads of exactly these bytes."""
        return list(self.conn.execute(select(evidence.c.evidence_id).where(
            (evidence.c.sha256 == sha256) & (evidence.c.evidence_id != exclude)
            & (evidence.c.status == "analyzed"))).scalars().all())

    def file_of(self, evidence_id: str) -> tuple[str, str | None] | None:
        """(blob, claimed type) of an upload, to re-read its pages; None when it is gone."""
        row = self.conn.execute(select(evidence.c.blob, evidence.c.claimed_type)
                                .where(evidence.c.evidence_id == evidence_id)).first()
        return (row.blob, row.claimed_type) if row else None

    def page_reading(self, evidence_id: str, page: int) -> dict[str, Any] | None:
        """One page of an upload's stored reading (``source``, ``width``, ``height``, ``words`` as
        ``[text, x0, y0, x1, y1, confidence, block, line]``), or None when it is not stored."""
        pages = self.conn.execute(select(readings.c.pages)
                                  .where(readings.c.evidence_id == evidence_id)).scalar_one_or_none()
        return next((p for p in pages or () if p.get("page") == page), None)
