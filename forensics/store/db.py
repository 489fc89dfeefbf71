"""Engine set-up, migrations and the :class:`Store` of evidence records."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import OperationalError

from forensics.errors import StoreUnavailable
from forensics.events import UploadEvent
from forensics.store import registries
from forensics.store.schema import (
    cluster_members,
    clusters,
    dead_letters,
    evidence,
    evidence_conflicts,
    evidence_history,
    readings,
)

MIGRATIONS = Path(__file__).parent / "migrations"

#: PostgreSQL advisory lock key that serialises the "match and register" step across workers
MATCH_LOCK_KEY = int.from_bytes(hashlib.sha256(b"forensics.match").digest()[:7], "big")

#: how long SQLite waits for another writer before failing, milliseconds
SQLITE_BUSY_TIMEOUT_MS = 60_000


def now() -> datetime:
    return datetime.now(UTC)


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and writer-serialising transactions."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # noqa: ANN001
            # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: one writer at a time,
            # decided at the start of the transaction rather than at its first write
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if ":memory:" not in url and url != "sqlite://":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)


def alembic_config(url: str):  # noqa: ANN201
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe from several processes)."""
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # two workers starting together must not both create the tables
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MATCH_LOCK_KEY + 1})")
        cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


class Store:
    """Evidence records and everything that links them, behind plain methods."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = connect(url)
        if migrate:
            try:
                upgrade(self.engine)
            except (OperationalError, SAInterfaceError) as exc:
                raise StoreUnavailable(f"Cannot reach the evidence store at {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions -------------------------------------------------------------------------

    #: each is called as ``observer(seconds_waited, seconds_held)`` after every exclusive
    #: transaction of every store in the process (the workers turn it into metrics)
    lock_observers: ClassVar[list[Callable[[float, float], None]]] = []

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Connection]:
        """A transaction; ``exclusive`` also serialises it against every other worker's
        exclusive transaction (the match-and-register step must see every earlier upload)."""
        asked = time.perf_counter()
        got: float | None = None
        try:
            with self.engine.begin() as conn:
                if exclusive and conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MATCH_LOCK_KEY})")
                got = time.perf_counter()  # SQLite's BEGIN IMMEDIATE waited inside begin()
                yield conn
        except (OperationalError, SAInterfaceError) as exc:
            if getattr(exc, "connection_invalidated", False) or _is_unavailable(exc):
                raise StoreUnavailable(f"The evidence store failed: {exc.orig}") from exc
            raise
        finally:
            if exclusive and got is not None:
                for observe in self.lock_observers:
                    observe(got - asked, time.perf_counter() - got)

    @contextmanager
    def joined(self, conn: Connection | None) -> Iterator[Connection]:
        """``conn`` when the caller holds a transaction already (the web app's one per request,
        which commits when the request's work is done), else a new :meth:`transaction`."""
        if conn is not None:
            yield conn
            return
        with self.transaction() as own:
            yield own

    # -- records ------------------------------------------------------------------------------

    def status_of(self, evidence_id: str, conn: Connection | None = None) -> tuple[str, str | None] | None:
        """(status, sha256) of a record, or None when there is none."""
        q = select(evidence.c.status, evidence.c.sha256).where(evidence.c.evidence_id == evidence_id)
        if conn is not None:
            row = conn.execute(q).first()
        else:
            with self.transaction() as c:
                row = c.execute(q).first()
        return (row.status, row.sha256) if row else None

    def begin(self, event: UploadEvent, sha256: str | None, *,
              crash_limit: int = 0) -> tuple[str, set[str]]:
        """Register that an upload is being analysed; say what to do with it.

        Returns (``done``, …) when this evidence id was already analysed with these bytes (a
        duplicate delivery: nothing to do); (``conflict``, …) when the id is another seller's
        (the record is kept as it is, the attempt is logged in ``evidence_conflicts``);
        (``crashed``, …) when the upload was started ``crash_limit`` times already without an
        analysis ever finishing (each start ended its worker: killed, out of memory); else
        (``analyse``, ids). A record whose bytes changed is archived to ``evidence_history`` and
        its links dropped; ``ids`` are the uploads it was linked to, whose findings the caller
        must refresh.
        """
        with self.transaction() as conn:
            row = conn.execute(select(evidence).where(evidence.c.evidence_id == event.evidence_id)).first()
            values = {
                "seller_id": event.seller_id,
                "blob": event.blob,
                "uploaded_at": event.uploaded_at,
                "listing_id": event.listing_id,
                "brand": event.brand,
                "claimed": event.claimed or None,
                "claimed_type": event.content_type,
                "updated_at": now(),
            }
            if row is None:
                conn.execute(
                    insert(evidence).values(
                        evidence_id=event.evidence_id, status="pending", sha256=sha256, attempts=1, **values
                    )
                )
                return "analyse", set()
            if row.seller_id != event.seller_id:
                _log_conflict(conn, event, sha256)
                return "conflict", set()
            if row.status in ("analyzed", "failed") and row.sha256 == sha256 and sha256 is not None:
                return "done", set()
            if crash_limit and row.status == "pending" and row.sha256 == sha256 and row.attempts >= crash_limit:
                return "crashed", set()
            touched: set[str] = set()
            if row.status in ("analyzed", "failed") and row.sha256 != sha256:
                conn.execute(
                    insert(evidence_history).values(
                        evidence_id=event.evidence_id,
                        sha256=row.sha256,
                        record=self._record_from_row(conn, row),
                        archived_at=now(),
                    )
                )
                touched = registries.forget_evidence(conn, event.evidence_id)
            conn.execute(
                update(evidence)
                .where(evidence.c.evidence_id == event.evidence_id)
                .values(status="pending", sha256=sha256, attempts=evidence.c.attempts + 1, **values)
            )
            return "analyse", touched

    def seller_of(self, evidence_id: str) -> str | None:
        """The seller an evidence id belongs to (its first upload's), or None when it is new."""
        with self.transaction() as conn:
            return conn.execute(select(evidence.c.seller_id)
                                .where(evidence.c.evidence_id == evidence_id)).scalar_one_or_none()

    def log_conflict(self, event: UploadEvent, sha256: str | None) -> None:
        """Keep an upload refused because its evidence id is another seller's."""
        with self.transaction() as conn:
            _log_conflict(conn, event, sha256)

    def save_failed(self, event: UploadEvent, sha256: str | None, code: str, message: str,
                    *, checks: dict[str, str] | None = None, document: dict[str, Any] | None = None) -> None:
        """Record that an upload could not be analysed (bad input). Touches no other record."""
        with self.transaction() as conn:
            exists = conn.execute(
                select(evidence.c.evidence_id).where(evidence.c.evidence_id == event.evidence_id)
            ).first()
            values = {
                "seller_id": event.seller_id,
                "blob": event.blob,
                "uploaded_at": event.uploaded_at,
                "listing_id": event.listing_id,
                "brand": event.brand,
                "claimed": event.claimed or None,
                "claimed_type": event.content_type,
                "status": "failed",
                "verdict": "error",
                "risk": None,
                "sha256": sha256,
                "error_code": code,
                "error_message": message,
                "fields": {},
                "own_findings": [],
                "findings": [],
                "checks": checks or {},
                "document": document,
                "analyzed_at": now(),
                "analyzer_version": _analyzer_version(),
                "updated_at": now(),
            }
            if document:
                values["media_type"] = document.get("media_type")
                values["pages"] = document.get("pages")
            if exists:
                conn.execute(update(evidence).where(evidence.c.evidence_id == event.evidence_id).values(**values))
            else:
                conn.execute(insert(evidence).values(evidence_id=event.evidence_id, attempts=1, **values))

    def write_analysis(self, conn: Connection, evidence_id: str, values: dict[str, Any],
                       reading: dict[str, Any] | None) -> None:
        """Store a completed analysis inside the caller's (exclusive) transaction."""
        conn.execute(self.analysis_update(evidence_id, values))
        if reading is not None:
            self.write_reading(conn, evidence_id, reading)

    @staticmethod
    def analysis_update(evidence_id: str, values: dict[str, Any]) -> Any:
        """The UPDATE that stores a completed analysis (for the caller to run with others)."""
        return (update(evidence).where(evidence.c.evidence_id == evidence_id)
                .values(status="analyzed", error_code=None, error_message=None, analyzed_at=now(),
                        analyzer_version=_analyzer_version(), updated_at=now(), **values))

    def write_reading(self, conn: Connection, evidence_id: str, reading: dict[str, Any]) -> None:
        """Store what was read on a document (its text and words), replacing an earlier reading;
        the pipeline writes it before the match lock (it is this upload's alone)."""
        conn.execute(readings.delete().where(readings.c.evidence_id == evidence_id))
        conn.execute(insert(readings).values(evidence_id=evidence_id, **reading))

    def get(self, evidence_id: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """The evidence record (CONTRACT.md section 3), or None (in ``conn``'s transaction when given)."""
        with self.joined(conn) as conn:
            row = conn.execute(select(evidence).where(evidence.c.evidence_id == evidence_id)).first()
            return self._record_from_row(conn, row) if row else None

    def reading(self, evidence_id: str) -> dict[str, Any] | None:
        """What was read on the document (text and words), or None."""
        with self.transaction() as conn:
            row = conn.execute(select(readings).where(readings.c.evidence_id == evidence_id)).first()
            return {"text": row.text, "pages": row.pages, "sha256": row.sha256} if row else None

    def history(self, evidence_id: str) -> list[dict[str, Any]]:
        """What happened to an id before its current record, oldest first: earlier analyses of
        other bytes (``kind`` ``earlier_bytes``, the archived record) and uploads refused because
        the id is another seller's (``kind`` ``conflict``)."""
        with self.transaction() as conn:
            rows = conn.execute(
                select(evidence_history.c.record, evidence_history.c.archived_at)
                .where(evidence_history.c.evidence_id == evidence_id)
                .order_by(evidence_history.c.id)
            ).all()
            refused = conn.execute(
                select(evidence_conflicts).where(evidence_conflicts.c.evidence_id == evidence_id)
                .order_by(evidence_conflicts.c.id)
            ).all()
        out = [dict(r.record, kind="earlier_bytes", archived_at=_iso(r.archived_at)) for r in rows]
        out += [{"kind": "conflict", "seller_id": r.seller_id, "sha256": r.sha256, "event": r.event,
                 "archived_at": _iso(r.attempted_at)} for r in refused]
        return sorted(out, key=lambda h: h["archived_at"] or "")

    def records(self, *, seller_id: str | None = None, status: str | None = None,
                batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every record in upload order, fetched in batches (export of millions stays flat)."""
        last: tuple[datetime, str] | None = None
        while True:
            with self.transaction() as conn:
                q = select(evidence).order_by(evidence.c.uploaded_at, evidence.c.evidence_id).limit(batch)
                if seller_id:
                    q = q.where(evidence.c.seller_id == seller_id)
                if status:
                    q = q.where(evidence.c.status == status)
                if last is not None:
                    q = q.where(
                        (evidence.c.uploaded_at > last[0])
                        | ((evidence.c.uploaded_at == last[0]) & (evidence.c.evidence_id > last[1]))
                    )
                rows = conn.execute(q).all()
                out = [self._record_from_row(conn, r) for r in rows]
            if not rows:
                return
            yield from out
            last = (rows[-1].uploaded_at, rows[-1].evidence_id)

    def verdicts(self, evidence_ids: Iterable[str], *, batch: int = 500) -> dict[str, str | None]:
        """The current verdict of each of some records, by id (one query per ``batch`` ids)."""
        ids = list(evidence_ids)
        out: dict[str, str | None] = {}
        with self.transaction() as conn:
            for i in range(0, len(ids), batch):
                q = select(evidence.c.evidence_id, evidence.c.verdict).where(evidence.c.evidence_id.in_(ids[i:i + batch]))
                out.update({r.evidence_id: r.verdict for r in conn.execute(q)})
        return out

    def count(self, *, status: str | None = None) -> int:
        with self.transaction() as conn:
            q = select(func.count()).select_from(evidence)
            if status:
                q = q.where(evidence.c.status == status)
            return int(conn.execute(q).scalar_one())

    def _record_from_row(self, conn: Connection, row: Any) -> dict[str, Any]:
        member_of = conn.execute(
            select(clusters)
            .join(cluster_members, cluster_members.c.cluster_id == clusters.c.id)
            .where(cluster_members.c.evidence_id == row.evidence_id)
            .order_by(clusters.c.id)
        ).all()
        error = {"code": row.error_code, "message": row.error_message} if row.error_code else None
        record: dict[str, Any] = {
            "evidence_id": row.evidence_id,
            "seller_id": row.seller_id,
            "status": row.status,
            "verdict": row.verdict if row.status != "pending" else None,
            "risk": row.risk,
            "sha256": row.sha256,
            "media_type": row.media_type,
            "pages": row.pages,
            "fields": row.fields or {},
            "findings": row.findings or [],
            "checks": row.checks or {},
            "clusters": [
                {"kind": c.kind, "id": c.id, "size": c.size, "sellers": c.sellers} for c in member_of
            ],
            "error": error,
            "analyzed_at": _iso(row.analyzed_at),
            "analyzer_version": row.analyzer_version,
            "uploaded_at": _iso(row.uploaded_at),
            "blob": row.blob,
        }
        for key in ("listing_id", "brand", "claimed_type"):
            if getattr(row, key):
                record[key] = getattr(row, key)
        if row.claimed:
            record["claimed"] = row.claimed
        if row.document:
            record["document"] = row.document
        if row.status == "pending":
            # how long it has waited, for a reviewer who opens it while work is in flight
            record["pending"] = {"since": _iso(row.updated_at), "attempts": row.attempts}
        from forensics.store.reviews import review_of  # people's decision, beside the analysis

        record["review"] = review_of(conn, row.evidence_id)
        return record

    # -- dead letters -------------------------------------------------------------------------

    def add_dead_letter(self, message_id: str, event: dict[str, Any], error: str, retries: int) -> None:
        """Keep a message whose retries are exhausted, so an operator can see and re-drive it."""
        with self.transaction() as conn:
            exists = conn.execute(
                select(dead_letters.c.id).where(dead_letters.c.message_id == message_id)
            ).first()
            values = {"event": event, "error": error[:4000], "retries": retries, "failed_at": now(),
                      "redriven_at": None, "evidence_id": (event or {}).get("evidence_id")}
            if exists:
                conn.execute(update(dead_letters).where(dead_letters.c.id == exists.id).values(**values))
            else:
                conn.execute(insert(dead_letters).values(message_id=message_id, **values))

    def dead_letters(self, *, include_redriven: bool = False) -> list[dict[str, Any]]:
        with self.transaction() as conn:
            q = select(dead_letters).order_by(dead_letters.c.id)
            if not include_redriven:
                q = q.where(dead_letters.c.redriven_at.is_(None))
            rows = conn.execute(q).all()
        return [
            {"id": r.id, "message_id": r.message_id, "evidence_id": r.evidence_id, "event": r.event,
             "error": r.error, "retries": r.retries, "failed_at": _iso(r.failed_at),
             "redriven_at": _iso(r.redriven_at)}
            for r in rows
        ]

    def mark_redriven(self, ids: list[int]) -> None:
        with self.transaction() as conn:
            conn.execute(update(dead_letters).where(dead_letters.c.id.in_(ids)).values(redriven_at=now()))


def _log_conflict(conn: Connection, event: UploadEvent, sha256: str | None) -> None:
    conn.execute(insert(evidence_conflicts).values(
        evidence_id=event.evidence_id, seller_id=event.seller_id, sha256=sha256,
        event=event.to_json(), attempted_at=now()))


def _is_unavailable(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("connection", "could not connect", "server closed", "terminat", "timeout"))


def _analyzer_version() -> str:
    from forensics import ANALYZER_VERSION

    return ANALYZER_VERSION
