"""Investigators' reads: pivots (serial, issuer, page hash), seller links for the graph, and the
whole graph in id order for exports. Read only; :mod:`forensics.investigate` shapes the results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal,
    or_,
    select,
    union,
)

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


def _one_of(column: Any, name: str, postgresql: bool) -> Any:
    """``column`` is one of the list parameter ``name``: ``= ANY(array)`` on PostgreSQL (one
    statement text whatever the list's length, so the driver's parse cache and the server's
    prepared statements serve every call), an expanding ``IN`` elsewhere."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


def _shared_rows(postgresql: bool) -> Any:
    """(kind, key, seller_id) of every seller sharing a cluster, serial or issuer key with a
    seller in the list parameter ``part``: each kind a self-join from the sellers' rows to
    the rows sharing their key, walked on the (seller, key) and (key, seller) indexes."""
    m1, m2 = cluster_members.alias("m1"), cluster_members.alias("m2")
    s1, s2 = serials.alias("s1"), serials.alias("s2")
    t1, t2 = issuer_marks.alias("t1"), issuer_marks.alias("t2")
    clusters_q = (select(literal("cluster").label("kind"), m2.c.cluster_id.label("key"), m2.c.seller_id)
                  .select_from(m1.join(m2, m2.c.cluster_id == m1.c.cluster_id))
                  .where(_one_of(m1.c.seller_id, "part", postgresql)))
    serials_q = (select(literal("serial").label("kind"),
                        (func.coalesce(s2.c.issuer_key, "") + ":" + s2.c.serial).label("key"), s2.c.seller_id)
                 .select_from(s1.join(s2, (s2.c.serial == s1.c.serial)
                                      & (func.coalesce(s2.c.issuer_key, "") == func.coalesce(s1.c.issuer_key, ""))))
                 .where(_one_of(s1.c.seller_id, "part", postgresql)))
    tax_q = (select(literal("issuer").label("kind"), t2.c.tax_key.label("key"), t2.c.seller_id)
             .select_from(t1.join(t2, t2.c.tax_key == t1.c.tax_key))
             .where(_one_of(t1.c.seller_id, "part", postgresql), t1.c.tax_key.is_not(None)))
    reg_q = (select(literal("issuer").label("kind"), t2.c.reg_key.label("key"), t2.c.seller_id)
             .select_from(t1.join(t2, t2.c.reg_key == t1.c.reg_key))
             .where(_one_of(t1.c.seller_id, "part", postgresql), t1.c.reg_key.is_not(None)))
    return union(clusters_q, serials_q, tax_q, reg_q).subquery()


def _shared_statements(postgresql: bool) -> dict[str, Any]:
    rows = _shared_rows(postgresql)
    sized = select(rows.c.kind, rows.c.key, rows.c.seller_id,
                   func.count().over(partition_by=(rows.c.kind, rows.c.key)).label("size")).subquery()
    return {
        # every (kind, key, seller) sharing something with the sellers in ``part``
        "rows": select(rows.c.kind, rows.c.key, rows.c.seller_id),
        # the members in ``among`` of each group a seller in ``part`` belongs to, with the
        # group's size (a window over the whole group, counted before the filter)
        "among": select(sized.c.kind, sized.c.key, sized.c.seller_id, sized.c.size)
        .where(_one_of(sized.c.seller_id, "among", postgresql)),
    }


#: the statements of shared_groups / shared_within, built once per back end (SQLAlchemy then
#: reuses their compiled form from its cache)
_SHARED = {True: _shared_statements(True), False: _shared_statements(False)}


def shared_groups(conn: Connection, sellers: Iterable[str]) -> dict[tuple[str, str], set[str]]:
    """Every cluster, serial and issuer key that a seller of ``sellers`` has, with *all* the
    sellers that share it: ``(kind, key) -> sellers`` (kind ``cluster``, ``serial`` keyed
    ``issuer:serial``, or ``issuer`` keyed by the tax or registration id). One statement per
    chunk of sellers, de-duplicated by the database."""
    out: dict[tuple[str, str], set[str]] = {}
    for part in _chunks(dict.fromkeys(sellers)):
        for kind, key, seller in conn.execute(_SHARED[conn.dialect.name == "postgresql"]["rows"], {"part": part}):
            out.setdefault((kind, key), set()).add(seller)
    return out


def shared_within(conn: Connection, sellers: Iterable[str], among: Iterable[str]
                  ) -> dict[tuple[str, str], tuple[set[str], int]]:
    """Like :func:`shared_groups`, but of each group only its members in ``among`` and how many
    sellers it has in all: what a drawn graph needs (its edges, and who has links beyond it)
    without reading every member of a crowded issuer. One statement per chunk of sellers (and
    of ``among``). A group with no member in ``among`` is left out."""
    among = list(dict.fromkeys(among))
    statement = _SHARED[conn.dialect.name == "postgresql"]["among"]
    out: dict[tuple[str, str], tuple[set[str], int]] = {}
    for part in _chunks(dict.fromkeys(sellers)):
        for chunk in _chunks(among):
            for kind, key, seller, size in conn.execute(statement, {"part": part, "among": chunk}):
                out.setdefault((kind, key), (set(), int(size)))[0].add(seller)
    return out


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


def cluster_rows(conn: Connection, *, kind: str | None, min_sellers: int, order: list[tuple[str, bool]],
                 after: list[Any] | None, limit: int, count: bool = True) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` clusters in ``order`` (columns of ``clusters``, each with "descending";
    the last must be ``id``, which makes the order total) after the row whose values of those
    columns are ``after`` (keyset pagination: no OFFSET), and how many match in all (``count``)."""
    q = select(clusters).where(clusters.c.sellers >= min_sellers)
    if kind:
        q = q.where(clusters.c.kind == kind)
    counted = None
    if count:
        counted = int(conn.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    if after is not None:
        # (c1, c2, ..., id) beyond the cursor, column by column: c1 beyond, or c1 equal and c2 beyond, ...
        ors, equal = [], []
        for (name, desc), value in zip(order, after, strict=True):
            col = clusters.c[name]
            ors.append(and_(*equal, col < value if desc else col > value))
            equal.append(col == value)
        q = q.where(or_(*ors))
    cols = [clusters.c[name].desc() if desc else clusters.c[name] for name, desc in order]
    rows = conn.execute(q.order_by(*cols).limit(limit)).all()
    return [dict(r._mapping) for r in rows], counted
