"""Investigators' reads: pivots (serial, issuer, page hash), seller links for the graph, and the
whole graph in id order for exports. Read only; :mod:`forensics.investigate` shapes the results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, func, or_, select

from forensics.store.schema import (
    cluster_members,
    clusters,
    evidence,
    issuer_marks,
    page_fingerprints,
    relations,
    serials,
)

#: rows read per query while streaming an export (memory stays flat however large the store)
BATCH = 2_000
#: ids per IN (...) list (SQLite's bound-parameter limit is far above; PostgreSQL plans stay small)
IN_CHUNK = 500


def _chunks(values: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    items = list(values)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def serial_rows(conn: Connection, value: str) -> list[dict[str, Any]]:
    """Every registered use of serial ``value`` (any issuer), oldest upload first."""
    rows = conn.execute(
        select(serials.c.serial, serials.c.issuer_key, serials.c.evidence_id, serials.c.seller_id,
               serials.c.date, serials.c.total, serials.c.uploaded_at, evidence.c.verdict)
        .join(evidence, evidence.c.evidence_id == serials.c.evidence_id)
        .where(serials.c.serial == value).order_by(serials.c.uploaded_at, serials.c.evidence_id)).all()
    return [dict(r._mapping) for r in rows]


def issuer_rows(conn: Connection, key: str) -> list[dict[str, Any]]:
    """Every upload whose issuer marks carry ``key`` as tax, registration or name key (``tax:``,
    ``reg:`` or ``name:`` in front of it says which; the serial registry's issuer keys read so)."""
    kind, _, rest = key.partition(":")
    if kind == "tax" and rest:
        match = issuer_marks.c.tax_key == rest
    elif kind == "reg" and rest:
        match = issuer_marks.c.reg_key == rest
    elif kind == "name" and rest:
        match = issuer_marks.c.name_key == key
    else:
        match = or_(issuer_marks.c.tax_key == key, issuer_marks.c.reg_key == key, issuer_marks.c.name_key == key)
    rows = conn.execute(
        select(issuer_marks.c.evidence_id, issuer_marks.c.seller_id, issuer_marks.c.tax_key,
               issuer_marks.c.reg_key, issuer_marks.c.name_key, issuer_marks.c.uploaded_at, evidence.c.verdict)
        .join(evidence, evidence.c.evidence_id == issuer_marks.c.evidence_id)
        .where(match)
        .order_by(issuer_marks.c.uploaded_at, issuer_marks.c.evidence_id)).all()
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.evidence_id not in seen:
            seen.add(r.evidence_id)
            out.append(dict(r._mapping))
    return out


def page_hash_rows(conn: Connection, pixel_sha256: str) -> list[dict[str, Any]]:
    """Every page whose decoded pixels hash to ``pixel_sha256``."""
    rows = conn.execute(
        select(page_fingerprints.c.evidence_id, page_fingerprints.c.seller_id, page_fingerprints.c.page,
               evidence.c.uploaded_at, evidence.c.verdict)
        .join(evidence, evidence.c.evidence_id == page_fingerprints.c.evidence_id)
        .where(page_fingerprints.c.pixel_sha256 == pixel_sha256)
        .order_by(evidence.c.uploaded_at, page_fingerprints.c.evidence_id)).all()
    return [dict(r._mapping) for r in rows]


def seller_links(conn: Connection, sellers: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """(seller, other seller, via kind, via key) for every cluster, serial and issuer key that a
    seller of ``sellers`` shares with another seller."""
    mine = list(dict.fromkeys(sellers))
    mine_set = set(mine)
    out: set[tuple[str, str, str, str]] = set()

    def pairs(groups: dict[str, set[str]], kind: str) -> None:
        for key, who in groups.items():
            if len(who) < 2:
                continue
            for a in who & mine_set:
                for b in who:
                    if b != a:
                        out.add((a, b, kind, key))

    ids: set[str] = set()
    for part in _chunks(mine):
        ids |= {r.cluster_id for r in conn.execute(select(cluster_members.c.cluster_id).distinct()
                                                   .where(cluster_members.c.seller_id.in_(part)))}
    groups: dict[str, set[str]] = {}
    for part in _chunks(sorted(ids)):
        for r in conn.execute(select(cluster_members.c.cluster_id, cluster_members.c.seller_id).distinct()
                              .where(cluster_members.c.cluster_id.in_(part))):
            groups.setdefault(r.cluster_id, set()).add(r.seller_id)
    pairs(groups, "cluster")

    values: set[str] = set()
    for part in _chunks(mine):
        values |= {r.serial for r in conn.execute(select(serials.c.serial).distinct()
                                                  .where(serials.c.seller_id.in_(part)))}
    groups = {}
    for part in _chunks(sorted(values)):
        for r in conn.execute(select(serials.c.serial, serials.c.issuer_key, serials.c.seller_id).distinct()
                              .where(serials.c.serial.in_(part))):
            groups.setdefault(f"{r.issuer_key or ''}:{r.serial}", set()).add(r.seller_id)
    pairs(groups, "serial")

    keys: set[str] = set()
    for part in _chunks(mine):
        for r in conn.execute(select(issuer_marks.c.tax_key, issuer_marks.c.reg_key).distinct()
                              .where(issuer_marks.c.seller_id.in_(part))):
            keys |= {k for k in (r.tax_key, r.reg_key) if k}
    groups = {}
    for part in _chunks(sorted(keys)):
        for r in conn.execute(select(issuer_marks.c.tax_key, issuer_marks.c.reg_key, issuer_marks.c.seller_id)
                              .distinct().where(or_(issuer_marks.c.tax_key.in_(part), issuer_marks.c.reg_key.in_(part)))):
            for k in (r.tax_key, r.reg_key):
                if k in keys:
                    groups.setdefault(k, set()).add(r.seller_id)
    pairs(groups, "issuer")
    return sorted(out)


def _keyset(conn: Connection, table: Any, key: Any, columns: list[Any], batch: int) -> Iterator[Any]:
    last = None
    while True:
        q = select(*columns).order_by(key).limit(batch)
        if last is not None:
            q = q.where(key > last)
        rows = conn.execute(q).all()
        yield from rows
        if len(rows) < batch:
            return
        last = getattr(rows[-1], key.name)


def evidence_nodes(conn: Connection, batch: int = BATCH) -> Iterator[Any]:
    """(evidence_id, seller_id, verdict, risk) of every record, by evidence id, read in batches."""
    return _keyset(conn, evidence, evidence.c.evidence_id,
                   [evidence.c.evidence_id, evidence.c.seller_id, evidence.c.verdict, evidence.c.risk], batch)


def cluster_nodes(conn: Connection, batch: int = BATCH) -> Iterator[Any]:
    """(id, kind, size, sellers) of every cluster, by id."""
    return _keyset(conn, clusters, clusters.c.id, [clusters.c.id, clusters.c.kind, clusters.c.size,
                                                   clusters.c.sellers], batch)


def serial_links(conn: Connection, batch: int = BATCH) -> Iterator[Any]:
    """(id, serial, issuer_key, evidence_id) of every registered serial, by row id."""
    return _keyset(conn, serials, serials.c.id, [serials.c.id, serials.c.serial, serials.c.issuer_key,
                                                 serials.c.evidence_id], batch)


def member_links(conn: Connection, batch: int = BATCH) -> Iterator[Any]:
    """(cluster_id, evidence_id) of every cluster membership, by cluster then evidence id."""
    last: tuple[str, str] | None = None
    cols = [cluster_members.c.cluster_id, cluster_members.c.evidence_id]
    while True:
        q = select(*cols).order_by(*cols).limit(batch)
        if last is not None:
            q = q.where(or_(cluster_members.c.cluster_id > last[0],
                            (cluster_members.c.cluster_id == last[0]) & (cluster_members.c.evidence_id > last[1])))
        rows = conn.execute(q).all()
        yield from rows
        if len(rows) < batch:
            return
        last = (rows[-1].cluster_id, rows[-1].evidence_id)


def relation_links(conn: Connection, batch: int = BATCH) -> Iterator[Any]:
    """(id, a, b, kind, score) of every relation, by row id."""
    return _keyset(conn, relations, relations.c.id, [relations.c.id, relations.c.a, relations.c.b,
                                                     relations.c.kind, relations.c.score], batch)


def seller_exists(conn: Connection, seller_id: str) -> bool:
    """Whether any upload came from ``seller_id``."""
    return conn.execute(select(evidence.c.evidence_id).where(evidence.c.seller_id == seller_id).limit(1)).first() is not None


def first_page_hashes(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """The pixel sha256 of page 1 of each upload (those that have one)."""
    out: dict[str, str] = {}
    for part in _chunks(ids):
        for r in conn.execute(select(page_fingerprints.c.evidence_id, page_fingerprints.c.pixel_sha256)
                              .where(page_fingerprints.c.evidence_id.in_(part), page_fingerprints.c.page == 1)):
            if r.pixel_sha256:
                out[r.evidence_id] = r.pixel_sha256
    return out


def cluster_rows(conn: Connection, *, kind: str | None, min_sellers: int, sort: str, desc: bool,
                 limit: int) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` clusters by ``sort`` (a column of ``clusters``), and how many match."""
    q = select(clusters).where(clusters.c.sellers >= min_sellers)
    if kind:
        q = q.where(clusters.c.kind == kind)
    col = clusters.c[sort]
    order = [col.desc(), clusters.c.id.desc()] if desc else [col, clusters.c.id]
    rows = conn.execute(q.order_by(*order).limit(limit)).all()
    count = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    return [dict(r._mapping) for r in rows], int(count)
