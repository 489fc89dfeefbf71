"""People's decisions beside the machine's analysis: the review queue, decisions, and what they teach.

A decision writes ``reviews`` (the current one) and one ``audit_log`` row in the same
transaction and never touches the analysis (``evidence.verdict``, ``risk``, ``findings``).
``confirmed_forgery`` puts the upload in ``known_forgeries`` (its page fingerprints are matched
by :mod:`forensics.detectors.known_forgeries`); ``legitimate`` with "the shop's own template"
adds a ``template_allowlist`` entry (applied by :mod:`forensics.allowlist`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Text, cast, delete, func, insert, or_, select, update

from forensics.store.db import _iso
from forensics.store.people import audit
from forensics.store.schema import (
    evidence,
    issuer_marks,
    known_forgeries,
    page_fingerprints,
    reviews,
    template_allowlist,
)

if TYPE_CHECKING:  # pragma: no cover
    from forensics.store.db import Store

#: what a person may decide about an upload
STATUSES = ("confirmed_forgery", "legitimate", "needs_more_information")
#: reason codes offered with each decision (short, stable: they go into the export)
REASONS = {
    "confirmed_forgery": ("edited_fields", "reused_receipt", "template_forgery", "invalid_identifier",
                          "other"),
    "legitimate": ("shop_template", "ocr_misread", "same_seller_resubmission", "verified_with_shop",
                   "other"),
    "needs_more_information": ("unreadable", "ask_seller", "ask_shop", "other"),
}
#: review filters of the queue besides a status: ``open`` = undecided or needing more information
REVIEW_FILTERS = ("open", "undecided", "decided", "any", *STATUSES)
#: the queue counts matching uploads up to here; past it PostgreSQL's planner estimates the
#: number ("about 93,000") and SQLite says "more than 1,000" (an exact count walks every row)
COUNT_CAP = 1_000
#: the queue's columns: never the reading (OCR text) nor the fields
_QUEUE_COLUMNS = (evidence.c.evidence_id, evidence.c.seller_id, evidence.c.status, evidence.c.verdict,
                  evidence.c.risk, evidence.c.uploaded_at, evidence.c.findings,
                  reviews.c.status.label("review_status"), reviews.c.decided_by)


def _now() -> datetime:
    return datetime.now(UTC)


def review_of(conn: Connection, evidence_id: str) -> dict[str, Any] | None:
    """The record's ``review`` object (CONTRACT.md section 3): None until a person decides."""
    row = conn.execute(select(reviews).where(reviews.c.evidence_id == evidence_id)).first()
    if row is None:
        return None
    return {"status": row.status, "reason": row.reason, "comment": row.comment,
            "decided_by": row.decided_by, "decided_at": _iso(row.decided_at)}


def issuer_keys(conn: Connection, ids: list[str]) -> dict[str, set[str]]:
    """Each upload's issuer keys as ``kind:value`` strings (name, registration, tax id, telephone)."""
    out: dict[str, set[str]] = {}
    if not ids:
        return out
    rows = conn.execute(select(issuer_marks).where(issuer_marks.c.evidence_id.in_(ids))).all()
    for r in rows:
        keys = out.setdefault(r.evidence_id, set())
        for kind in ("name", "reg", "tax", "phone"):
            value = getattr(r, f"{kind}_key")
            if value:
                keys.add(f"{kind}:{value}")
    return out


def layout_hashes(conn: Connection, ids: list[str]) -> dict[str, int]:
    """Page-1 layout hash of each upload (signed, as stored)."""
    if not ids:
        return {}
    rows = conn.execute(select(page_fingerprints.c.evidence_id, page_fingerprints.c.layout_hash)
                        .where(page_fingerprints.c.evidence_id.in_(ids), page_fingerprints.c.page == 1)).all()
    return {r.evidence_id: r.layout_hash for r in rows}


def allowlist_entries(conn: Connection) -> list[dict[str, Any]]:
    """Active "shop's own template" entries (a short table: read whole)."""
    rows = conn.execute(select(template_allowlist).where(template_allowlist.c.removed_at.is_(None))
                        .order_by(template_allowlist.c.id)).all()
    return [{"id": r.id, "issuer_key": r.issuer_key, "layout_hash": r.layout_hash, "evidence_id": r.evidence_id,
             "audit_id": r.audit_id, "created_by": r.created_by, "created_at": _iso(r.created_at)} for r in rows]


def known_forgery_prints(conn: Connection) -> list[dict[str, Any]]:
    """Page fingerprints of every upload confirmed as a forgery, with the decision that put it there."""
    rows = conn.execute(
        select(page_fingerprints.c.evidence_id, page_fingerprints.c.page, page_fingerprints.c.version,
               page_fingerprints.c.phash, page_fingerprints.c.dhash, page_fingerprints.c.pixel_sha256,
               page_fingerprints.c.file_sha256, page_fingerprints.c.content_key,
               known_forgeries.c.decided_by, known_forgeries.c.decided_at, known_forgeries.c.reason,
               known_forgeries.c.audit_id)
        .join(known_forgeries, known_forgeries.c.evidence_id == page_fingerprints.c.evidence_id)
        .order_by(page_fingerprints.c.evidence_id, page_fingerprints.c.page)
    ).all()
    return [dict(r._mapping, decided_at=_iso(r.decided_at)) for r in rows]


class Reviews:
    """The review queue and decisions of one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- queue --------------------------------------------------------------------------------

    def _filtered(self, q: Any, *, verdict: str | None, code: str | None, seller: str | None,
                  review: str, since: datetime | None, until: datetime | None) -> Any:
        q = q.select_from(evidence.outerjoin(reviews, reviews.c.evidence_id == evidence.c.evidence_id))
        if verdict == "error":
            q = q.where(evidence.c.verdict == "error")
        else:
            q = q.where(evidence.c.risk.is_not(None), evidence.c.status == "analyzed")
            if verdict == "flagged":
                q = q.where(evidence.c.verdict.in_(("review", "likely_forgery")))
            elif verdict:
                q = q.where(evidence.c.verdict == verdict)
        if code:
            # findings is JSON text on both back ends; the serialiser writes '"code": "x"'
            q = q.where(cast(evidence.c.findings, Text).like(f'%"code": "{_like_escape(code)}"%', escape="\\"))
        if seller:
            q = q.where(evidence.c.seller_id == seller)
        if since:
            q = q.where(evidence.c.uploaded_at >= since)
        if until:
            q = q.where(evidence.c.uploaded_at < until)
        if review == "open":
            q = q.where(or_(reviews.c.status.is_(None), reviews.c.status == "needs_more_information"))
        elif review == "undecided":
            q = q.where(reviews.c.status.is_(None))
        elif review == "decided":
            q = q.where(reviews.c.status.is_not(None))
        elif review in STATUSES:
            q = q.where(reviews.c.status == review)
        return q

    def queue(self, *, verdict: str | None = None, code: str | None = None, seller: str | None = None,
              review: str = "open", since: datetime | None = None, until: datetime | None = None,
              after: tuple[int | None, str] | None = None, limit: int = 50,
              conn: Connection | None = None) -> dict[str, Any]:
        """One page of the queue, highest risk first (then evidence id, descending), keyset-paginated.

        ``after`` is the (risk, evidence id) of the last row of the previous page. Rows carry no
        reading and no fields: the strongest finding in words, the number of linked uploads.
        Returns ``{"rows", "next", "count", "count_capped", "count_estimated"}``.
        """
        filters = dict(verdict=verdict, code=code, seller=seller, review=review, since=since, until=until)
        q = self._filtered(select(*_QUEUE_COLUMNS), **filters)
        with self.store.joined(conn) as conn:
            if verdict == "error":  # no risk: by evidence id
                q = q.order_by(evidence.c.evidence_id)
                if after:
                    q = q.where(evidence.c.evidence_id > after[1])
                rows = conn.execute(q.limit(limit + 1)).all()
            else:
                rows = _walk(conn, q, (after[0], after[1]) if after and after[0] is not None else None, limit + 1)
            counting = self._filtered(select(evidence.c.evidence_id), **filters)
            counted = counting.limit(COUNT_CAP + 1).subquery()
            count = int(conn.execute(select(func.count()).select_from(counted)).scalar_one())
            capped = count > COUNT_CAP
            estimated = capped and conn.dialect.name == "postgresql"
            count = max(COUNT_CAP, _planner_rows(conn, counting)) if estimated else min(count, COUNT_CAP)
        more = len(rows) > limit
        rows = rows[:limit]
        out = [_queue_row(r) for r in rows]
        nxt = (rows[-1].risk, rows[-1].evidence_id) if more and rows else None
        return {"rows": out, "next": nxt, "count": count, "count_capped": capped and not estimated,
                "count_estimated": estimated}

    def next_after(self, evidence_id: str, risk: int | None, conn: Connection | None = None) -> str | None:
        """The open upload after this one in queue order (wrapping to the top), or None."""
        with self.store.joined(conn) as conn:
            return self._next(conn, evidence_id, risk)

    def _next(self, conn: Connection, evidence_id: str, risk: int | None) -> str | None:
        base = self._filtered(select(evidence.c.evidence_id), verdict=None, code=None, seller=None,
                              review="open", since=None, until=None)
        base = base.where(evidence.c.evidence_id != evidence_id)
        rows = _walk(conn, base, (risk, evidence_id), 1) if risk is not None else []
        rows = rows or _walk(conn, base, None, 1)  # past the end: from the top
        return rows[0].evidence_id if rows else None

    def briefs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Seller, verdict, risk, pages and upload time of some uploads (the related-uploads strip)."""
        with self.store.transaction() as conn:
            return _briefs(conn, ids)

    def evidence_page(self, evidence_id: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """Everything the evidence page shows, read in one transaction: ``record``, ``pages``
        (the reading's page sizes, without its text), ``archived`` (earlier analyses),
        ``audit`` (people's actions on it, oldest first), ``briefs`` of the related uploads and
        ``next`` (the next open upload of the queue). None when there is no such upload."""
        from forensics.store.people import audit_rows
        from forensics.store.schema import evidence_history, readings

        with self.store.joined(conn) as conn:
            row = conn.execute(select(evidence).where(evidence.c.evidence_id == evidence_id)).first()
            if row is None:
                return None
            record = self.store._record_from_row(conn, row)  # the record exactly as Store.get has it
            pages = conn.execute(select(readings.c.pages).where(readings.c.evidence_id == evidence_id)).scalar()
            archived = conn.execute(select(evidence_history.c.record, evidence_history.c.archived_at)
                                    .where(evidence_history.c.evidence_id == evidence_id)
                                    .order_by(evidence_history.c.id)).all()
            related = list(dict.fromkeys(r for f in record.get("findings") or [] for r in f.get("related") or []
                                         if r != evidence_id))
            return {
                "record": record,
                "pages": [{k: p.get(k) for k in ("page", "width", "height", "source")} for p in pages or []],
                "archived": [dict(a.record, archived_at=_iso(a.archived_at)) for a in archived],
                "audit": list(reversed(audit_rows(conn, object_type="evidence", object_id=evidence_id))),
                "briefs": _briefs(conn, related),
                "next": self._next(conn, evidence_id, record.get("risk")),
            }

    def review(self, evidence_id: str) -> dict[str, Any] | None:
        with self.store.transaction() as conn:
            return review_of(conn, evidence_id)

    # -- decisions ----------------------------------------------------------------------------

    def decide(self, evidence_id: str, status: str, reason: str, comment: str | None, *, actor: str,
               role: str, request_id: str | None = None, own_template: bool = False,
               conn: Connection | None = None) -> dict[str, Any]:
        """Record a person's decision with its audit row, in one transaction.

        ``confirmed_forgery`` registers the upload as a known forgery; another decision takes it
        out again. ``own_template`` (with ``legitimate``) allowlists the upload's layout for its
        issuer. Raises ValueError for an unknown status or reason, a missing upload, or a
        template entry on an upload whose issuer or layout was not read. In ``conn``'s
        transaction when given (the caller commits it, or rolls it back on its error).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown decision {status!r}: use one of {', '.join(STATUSES)}")
        if reason not in REASONS[status]:
            raise ValueError(f"reason {reason!r} does not go with {status}: use one of {', '.join(REASONS[status])}")
        if own_template and status != "legitimate":
            raise ValueError("only a legitimate upload can be marked as the shop's own template")
        comment = (comment or "").strip()[:2000] or None
        with self.store.joined(conn) as conn:
            if conn.execute(select(evidence.c.evidence_id).where(evidence.c.evidence_id == evidence_id)).first() is None:
                raise ValueError(f"no evidence {evidence_id!r}")
            before = review_of(conn, evidence_id)
            at = _now()
            after: dict[str, Any] = {"status": status, "reason": reason, "comment": comment}
            template = None
            if own_template:
                template = self._template_of(conn, evidence_id)
                after["template_allowlist"] = {"issuer_key": template[0]}
            if status == "confirmed_forgery":
                after["known_forgery"] = True
            elif before and before["status"] == "confirmed_forgery":
                after["known_forgery"] = False
            audit_id = audit(conn, actor=actor, role=role, action="decide", object_type="evidence",
                             object_id=evidence_id, before=before, after=after, reason=reason,
                             request_id=request_id)
            values = {"status": status, "reason": reason, "comment": comment, "decided_by": actor,
                      "decided_at": at, "audit_id": audit_id}
            if before is None:
                conn.execute(insert(reviews).values(evidence_id=evidence_id, **values))
            else:
                conn.execute(update(reviews).where(reviews.c.evidence_id == evidence_id).values(**values))
            conn.execute(delete(known_forgeries).where(known_forgeries.c.evidence_id == evidence_id))
            if status == "confirmed_forgery":
                conn.execute(insert(known_forgeries).values(evidence_id=evidence_id, audit_id=audit_id,
                                                            decided_by=actor, decided_at=at, reason=reason))
            if template is not None:
                conn.execute(insert(template_allowlist).values(
                    issuer_key=template[0], layout_hash=template[1], evidence_id=evidence_id, audit_id=audit_id,
                    created_by=actor, created_at=at))
            return review_of(conn, evidence_id) or {}

    def _template_of(self, conn: Connection, evidence_id: str) -> tuple[str, int]:
        keys = issuer_keys(conn, [evidence_id]).get(evidence_id, set())
        layout = layout_hashes(conn, [evidence_id]).get(evidence_id)
        # the merchant's name is how a reviewer thinks of "the shop"; the other keys stand in
        for kind in ("name:", "reg:", "tax:", "phone:"):
            key = next((k for k in sorted(keys) if k.startswith(kind)), None)
            if key:
                break
        if not key or layout is None:
            raise ValueError("this upload's shop (name, registration, tax id or telephone) or page layout "
                             "was not read, so its template cannot be allowlisted")
        return key, layout

    # -- what decisions teach -----------------------------------------------------------------

    def allowlist(self) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            return allowlist_entries(conn)

    def remove_allowlist(self, entry_id: int, *, actor: str, role: str, request_id: str | None = None) -> bool:
        """Take a "shop's own template" entry out (kept, marked removed; audited)."""
        with self.store.transaction() as conn:
            row = conn.execute(select(template_allowlist).where(template_allowlist.c.id == entry_id,
                                                                template_allowlist.c.removed_at.is_(None))).first()
            if row is None:
                return False
            conn.execute(update(template_allowlist).where(template_allowlist.c.id == entry_id)
                         .values(removed_by=actor, removed_at=_now()))
            audit(conn, actor=actor, role=role, action="allowlist_remove", object_type="evidence",
                  object_id=row.evidence_id, before={"template_allowlist": {"id": entry_id, "issuer_key": row.issuer_key}},
                  after=None, request_id=request_id)
        return True

    def known_forgeries(self) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            rows = conn.execute(select(known_forgeries).order_by(known_forgeries.c.decided_at.desc())).all()
        return [dict(r._mapping, decided_at=_iso(r.decided_at)) for r in rows]


#: the queue's order: highest risk first, then evidence id (both descending, so that the keyset
#: pages walk the ``ix_evidence_queue`` index backwards, see :func:`_walk`)
_QUEUE_ORDER = (evidence.c.risk.desc(), evidence.c.evidence_id.desc())


def _briefs(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = conn.execute(select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.verdict, evidence.c.risk,
                               evidence.c.pages, evidence.c.uploaded_at, evidence.c.status)
                        .where(evidence.c.evidence_id.in_(ids))).all()
    return {r.evidence_id: {"evidence_id": r.evidence_id, "seller_id": r.seller_id, "verdict": r.verdict,
                            "risk": r.risk, "pages": r.pages, "status": r.status,
                            "uploaded_at": _iso(r.uploaded_at)} for r in rows}


def _walk(conn: Connection, q: Any, after: tuple[int, str] | None, limit: int) -> list[Any]:
    """Rows of ``q`` in queue order after (risk, evidence id): the rest of that risk, then the
    lower risks. Two plain range conditions rather than one row-value comparison, for which
    PostgreSQL's planner guesses one row and then sorts the whole remainder instead of walking
    the index."""
    q = q.order_by(*_QUEUE_ORDER)
    if after is None:
        return conn.execute(q.limit(limit)).all()
    risk, evidence_id = after
    rows = conn.execute(q.where(evidence.c.risk == risk, evidence.c.evidence_id < evidence_id).limit(limit)).all()
    if len(rows) < limit:
        rows += conn.execute(q.where(evidence.c.risk < risk).limit(limit - len(rows))).all()
    return rows


def _planner_rows(conn: Connection, query: Any) -> int:
    """PostgreSQL's estimate of how many rows ``query`` returns (no rows are read)."""
    sql = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', "")


#: severity order, strongest last
_SEVERITY = {"info": 0, "low": 1, "medium": 2, "high": 3}


def _queue_row(r: Any) -> dict[str, Any]:
    findings = r.findings or []
    strongest = max(findings, key=lambda f: (_SEVERITY.get(f.get("severity"), 0), float(f.get("score") or 0)),
                    default=None)
    linked = {x for f in findings for x in f.get("related") or []} - {r.evidence_id}
    return {"evidence_id": r.evidence_id, "seller_id": r.seller_id, "status": r.status, "verdict": r.verdict,
            "risk": r.risk, "uploaded_at": _iso(r.uploaded_at),
            "strongest": ({"code": strongest["code"], "severity": strongest.get("severity"),
                           "message": strongest.get("message", "")} if strongest else None),
            "linked": len(linked), "review_status": r.review_status, "decided_by": r.decided_by}
