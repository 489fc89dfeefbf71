"""The content-key registry: what each receipt says it is, looked up by when it was printed.

One row per upload whose receipt number, date and time of day were read
(:mod:`forensics.detectors.content_keys` builds it): the printed date and minute
(``<ISO date>|<HH:MM>``, the indexed lookup), the number as normalised with OCR's confidence in
it and the line it was read on, the total when read with confidence, and the issuer keys the serial registry uses (tax id or name,
name, registration number, telephone), so that a later upload stating the same receipt is
checked for the same issuer and number without another query.

Functions take a connection inside the caller's transaction (the match lock's), like
:mod:`forensics.store.registries`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from forensics.store.schema import content_keys, evidence

#: columns a registration carries besides its id
COLUMNS = ("evidence_id", "seller_id", "uploaded_at", "printed_at", "serial", "serial_confidence",
           "serial_line", "total", "issuer_key", "name_key", "reg_key", "phone_key")


def register(conn: Connection, evidence_id: str, row: dict[str, Any] | None) -> None:
    """Replace what ``evidence_id`` registered with ``row`` (None: nothing), so an upload
    analysed twice (redelivered, or its bytes changed) is registered once, as last read."""
    conn.execute(delete(content_keys).where(content_keys.c.evidence_id == evidence_id))
    if row is not None:
        conn.execute(insert_row(row))


def insert_row(row: dict[str, Any] | None) -> Any:
    """The INSERT registering ``row`` (None: nothing to register), for an upload registered for
    the first time (:func:`forensics.store.registries.register` runs it with the others)."""
    return None if row is None else insert(content_keys).values(**{k: row.get(k) for k in COLUMNS})


def printed_at(conn: Connection, when: str, *, exclude: str) -> list[dict[str, Any]]:
    """Registrations printed at ``when`` (``<ISO date>|<HH:MM>``) by analysed uploads other
    than ``exclude``, oldest first (an upload being analysed again, or failed, is not matched)."""
    q = (select(*(content_keys.c[c] for c in ("id", *COLUMNS)))
         .join(evidence, evidence.c.evidence_id == content_keys.c.evidence_id)
         .where(and_(content_keys.c.printed_at == when,
                     content_keys.c.evidence_id != exclude,
                     evidence.c.status == "analyzed"))
         .order_by(content_keys.c.id))
    return [dict(r._mapping) for r in conn.execute(q).all()]
