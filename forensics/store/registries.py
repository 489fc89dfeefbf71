"""Registries that link uploads: page fingerprints, serials, confirmed relations and clusters.

All functions take a :class:`~sqlalchemy.Connection` inside the caller's transaction, so a
worker's whole "match and register" step commits or rolls back as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)

from forensics.store.schema import (
    cluster_members,
    clusters,
    counters,
    evidence,
    issuer_marks,
    page_fingerprints,
    relations,
    serials,
)

#: relation kinds that make two uploads one duplicate cluster (the same receipt)
DUPLICATE_KINDS = ("same_file", "same_image", "same_content")
#: relation kinds that make uploads one template cluster (cut from one scan)
TEMPLATE_KINDS = ("edited_copy",)
#: cluster kind -> (relation kinds, id prefix)
CLUSTER_KINDS = {"duplicate": (DUPLICATE_KINDS, "D"), "template": (TEMPLATE_KINDS, "T")}
#: counter of deletions of registrations (an upload forgotten or registered again)
FORGOTTEN_COUNTER = "registry_forgotten"


def _now() -> datetime:
    return datetime.now(UTC)


# -- fingerprints ------------------------------------------------------------------------------


def add_fingerprints(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(page_fingerprints), rows)


def fingerprints_since(conn: Connection, last_id: int, *, limit: int = 100_000) -> list[Any]:
    """Fingerprint rows with id > last_id (how an in-memory index catches up)."""
    return conn.execute(
        select(
            page_fingerprints.c.id,
            page_fingerprints.c.evidence_id,
            page_fingerprints.c.seller_id,
            page_fingerprints.c.page,
            page_fingerprints.c.version,
            page_fingerprints.c.phash,
            page_fingerprints.c.dhash,
            page_fingerprints.c.layout_hash,
            page_fingerprints.c.text_version,
            page_fingerprints.c.text_hash,
        )
        .where(page_fingerprints.c.id > last_id)
        .order_by(page_fingerprints.c.id)
        .limit(limit)
    ).all()


def fingerprint_rows(conn: Connection, ids: Iterable[int]) -> list[Any]:
    ids = list(ids)
    if not ids:
        return []
    return conn.execute(select(page_fingerprints).where(page_fingerprints.c.id.in_(ids))).all()


def evidence_with(conn: Connection, column: str, value: str, *, exclude: str) -> list[Any]:
    """Fingerprint rows of other uploads sharing a file hash, pixel hash or content key."""
    col = page_fingerprints.c[column]
    return conn.execute(
        select(page_fingerprints).where(and_(col == value, page_fingerprints.c.evidence_id != exclude))
        .order_by(page_fingerprints.c.id)
    ).all()


# -- serials -----------------------------------------------------------------------------------


def register_serial(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(serials).values(**row))


def _same_issuer(issuer_key: str | None, name_key: str | None, reg_key: str | None,
                 phone_key: str | None) -> list[Any]:
    """Conditions that a registration is of the issuer these keys name (any one suffices)."""
    same: list[Any] = []
    if issuer_key is not None:
        same.append(serials.c.issuer_key == issuer_key)
    if name_key is not None:
        same += [serials.c.name_key == name_key, serials.c.issuer_key == name_key]
    if reg_key is not None:
        same.append(serials.c.reg_key == reg_key)
    if phone_key is not None:
        same.append(serials.c.phone_key == phone_key)
    return same


def serial_uses(conn: Connection, issuer_key: str | None, serial: str, *, name_key: str | None = None,
                reg_key: str | None = None, phone_key: str | None = None) -> list[dict[str, Any]]:
    """Earlier registrations of ``serial``: of any issuer when no key is given, else those whose
    issuer key is ``issuer_key``, or whose name key is ``name_key`` (also registered with it as
    their issuer key), or whose registration-number key is ``reg_key``, or whose telephone key
    is ``phone_key``."""
    q = select(serials).where(serials.c.serial == serial)
    same = _same_issuer(issuer_key, name_key, reg_key, phone_key)
    if same:
        q = q.where(or_(*same))
    return [dict(r._mapping) for r in conn.execute(q.order_by(serials.c.id)).all()]


def issuer_serials(conn: Connection, *, issuer_key: str | None, name_key: str | None,
                   reg_key: str | None, phone_key: str | None, other_than_seller: str,
                   limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` registrations, whatever their serial, of the issuer these keys
    name, by sellers other than ``other_than_seller``; none when no key is given."""
    same = _same_issuer(issuer_key, name_key, reg_key, phone_key)
    if not same:
        return []
    q = (select(serials).where(and_(or_(*same), serials.c.seller_id != other_than_seller))
         .order_by(serials.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in conn.execute(q).all()]


def serials_ending(conn: Connection, tail: str) -> list[dict[str, Any]]:
    """Registrations of long serials whose last characters are ``tail``, of any issuer."""
    q = select(serials).where(serials.c.serial_tail == tail).order_by(serials.c.id)
    return [dict(r._mapping) for r in conn.execute(q).all()]


# -- issuer marks -----------------------------------------------------------------------------


def register_issuer(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(issuer_marks).values(**row))


def issuer_uploads(conn: Connection, *, name_key: str | None, reg_key: str | None,
                   phone_key: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` marks agreeing on the name, registration or telephone key (any one);
    none when no key is given."""
    same = []
    if name_key is not None:
        same.append(issuer_marks.c.name_key == name_key)
    if reg_key is not None:
        same.append(issuer_marks.c.reg_key == reg_key)
    if phone_key is not None:
        same.append(issuer_marks.c.phone_key == phone_key)
    if not same:
        return []
    q = select(issuer_marks).where(or_(*same)).order_by(issuer_marks.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(q).all()]


# -- relations ---------------------------------------------------------------------------------


def add_relation(conn: Connection, a: str, b: str, kind: str, score: float,
                 details: dict[str, Any] | None = None) -> None:
    """Record a confirmed link (stored once per unordered pair and kind)."""
    a, b = sorted((a, b))
    exists = conn.execute(
        select(relations.c.id).where(and_(relations.c.a == a, relations.c.b == b, relations.c.kind == kind))
    ).first()
    if exists:
        conn.execute(update(relations).where(relations.c.id == exists.id).values(score=score, details=details))
    else:
        conn.execute(insert(relations).values(a=a, b=b, kind=kind, score=score, details=details,
                                              created_at=_now()))


def relations_of(conn: Connection, evidence_ids: Iterable[str]) -> list[dict[str, Any]]:
    ids = list(evidence_ids)
    if not ids:
        return []
    rows = conn.execute(
        select(relations).where(or_(relations.c.a.in_(ids), relations.c.b.in_(ids))).order_by(relations.c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def relations_with_sellers(conn: Connection, evidence_id: str,
                           kinds: Iterable[str] | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The relations of one upload (of some kinds only, if given) and the seller of every
    upload on their other side: what its link findings are made of, without loading the
    other records. Each relation also carries ``other_uploaded_at`` (which of the two came
    first: an original is told it was copied, not accused)."""
    kinds = None if kinds is None else sorted(set(kinds))
    out: list[dict[str, Any]] = []
    sellers: dict[str, str] = {}
    for mine, theirs in ((relations.c.a, relations.c.b), (relations.c.b, relations.c.a)):
        q = (select(relations, evidence.c.seller_id.label("other_seller"),
                    evidence.c.uploaded_at.label("other_uploaded_at"))
             .join(evidence, evidence.c.evidence_id == theirs).where(mine == evidence_id))
        if kinds is not None:
            q = q.where(relations.c.kind.in_(kinds))
        for r in conn.execute(q).all():
            row = dict(r._mapping)
            sellers[r.b if r.a == evidence_id else r.a] = row.pop("other_seller")
            out.append(row)
    out.sort(key=lambda r: r["id"])
    return out, sellers


def sellers_and_times(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Seller and upload time of some records, by id (what link findings need of the other side)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = conn.execute(select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.uploaded_at)
                        .where(evidence.c.evidence_id.in_(ids))).all()
    return {r.evidence_id: {"seller_id": r.seller_id, "uploaded_at": r.uploaded_at} for r in rows}


def findings_state(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Seller, upload time, status, own findings, checks and current findings of some records, by id."""
    ids = list(ids)
    if not ids:
        return {}
    rows = conn.execute(
        select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.uploaded_at, evidence.c.status,
               evidence.c.own_findings, evidence.c.checks, evidence.c.findings)
        .where(evidence.c.evidence_id.in_(ids))
    ).all()
    return {r.evidence_id: dict(r._mapping) for r in rows}


def set_findings(conn: Connection, evidence_id: str, findings: list[dict[str, Any]], risk: int,
                 verdict: str) -> None:
    conn.execute(update(evidence).where(evidence.c.evidence_id == evidence_id)
                 .values(findings=findings, risk=risk, verdict=verdict))


def evidence_meta(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """seller, upload time, file, fields and own findings of some records, by id."""
    ids = list(ids)
    if not ids:
        return {}
    rows = conn.execute(
        select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.uploaded_at, evidence.c.fields,
               evidence.c.own_findings, evidence.c.checks, evidence.c.status, evidence.c.blob,
               evidence.c.media_type)
        .where(evidence.c.evidence_id.in_(ids))
    ).all()
    return {r.evidence_id: dict(r._mapping) for r in rows}


def clear_registrations(conn: Connection, evidence_id: str) -> None:
    """Drop an upload's fingerprints, serial and issuer mark before (re-)registering them, so a message
    delivered twice and analysed twice still registers once."""
    gone = 0
    for table in (page_fingerprints, serials, issuer_marks):
        gone += conn.execute(delete(table).where(table.c.evidence_id == evidence_id)).rowcount or 0
    if gone:
        count_forgotten(conn)


def count_forgotten(conn: Connection) -> None:
    """Count that registrations were deleted: a snapshot taken before no longer holds only rows
    that still exist, so a match under the lock must not be answered from it
    (:mod:`forensics.store.snapshot`)."""
    upsert = _upsert(conn)
    stmt = upsert(counters).values(name=FORGOTTEN_COUNTER, value=1)
    conn.execute(stmt.on_conflict_do_update(index_elements=[counters.c.name],
                                            set_={"value": counters.c.value + 1}))


def _upsert(conn: Connection):  # noqa: ANN202
    """The dialect's INSERT with ON CONFLICT (PostgreSQL and SQLite both have it)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    return upsert


def forget_evidence(conn: Connection, evidence_id: str) -> set[str]:
    """Drop what an earlier analysis registered for an id (its bytes changed).

    Returns the other evidence ids whose relations were removed, so the caller can refresh them.
    """
    touched = {r["a"] if r["b"] == evidence_id else r["b"] for r in relations_of(conn, [evidence_id])}
    clear_registrations(conn, evidence_id)
    count_forgotten(conn)  # its relations and cluster memberships go too
    conn.execute(delete(relations).where(or_(relations.c.a == evidence_id, relations.c.b == evidence_id)))
    for cluster_id in conn.execute(
        select(cluster_members.c.cluster_id).where(cluster_members.c.evidence_id == evidence_id)
    ).scalars().all():
        conn.execute(delete(cluster_members).where(and_(cluster_members.c.cluster_id == cluster_id,
                                                        cluster_members.c.evidence_id == evidence_id)))
        _refresh_cluster_counts(conn, cluster_id)
    for other in touched:
        rebuild_clusters(conn, other)
    return touched


# -- clusters ----------------------------------------------------------------------------------


def _component(conn: Connection, start: str, kinds: tuple[str, ...]) -> set[str]:
    """Every upload connected to ``start`` through relations of ``kinds``."""
    seen = {start}
    frontier = [start]
    while frontier:
        rows = conn.execute(
            select(relations.c.a, relations.c.b).where(
                and_(relations.c.kind.in_(kinds), or_(relations.c.a.in_(frontier), relations.c.b.in_(frontier)))
            )
        ).all()
        nxt = []
        for a, b in rows:
            for x in (a, b):
                if x not in seen:
                    seen.add(x)
                    nxt.append(x)
        frontier = nxt
    return seen


def rebuild_clusters(conn: Connection, evidence_id: str) -> list[str]:
    """Bring the clusters containing ``evidence_id`` in line with the relations (incremental:
    only its connected components are touched). Merged clusters keep the oldest id."""
    out = []
    for kind, (rel_kinds, prefix) in CLUSTER_KINDS.items():
        members = _component(conn, evidence_id, rel_kinds)
        existing = conn.execute(
            select(cluster_members.c.cluster_id)
            .join(clusters, clusters.c.id == cluster_members.c.cluster_id)
            .where(and_(clusters.c.kind == kind, cluster_members.c.evidence_id.in_(members)))
            .distinct()
        ).scalars().all()
        existing = sorted(existing, key=lambda cid: int(cid[1:]))
        if len(members) < 2:
            for cid in existing:
                conn.execute(delete(cluster_members).where(and_(
                    cluster_members.c.cluster_id == cid, cluster_members.c.evidence_id == evidence_id)))
                _refresh_cluster_counts(conn, cid)
            continue
        if existing:
            cluster_id = existing[0]
            for other in existing[1:]:
                conn.execute(delete(cluster_members).where(cluster_members.c.cluster_id == other))
                conn.execute(delete(clusters).where(clusters.c.id == other))
        else:
            cluster_id = _next_cluster_id(conn, prefix)
            conn.execute(insert(clusters).values(id=cluster_id, kind=kind, size=0, sellers=0,
                                                 first_seen=_now(), last_seen=_now(), updated_at=_now()))
        conn.execute(delete(cluster_members).where(cluster_members.c.cluster_id == cluster_id))
        meta = evidence_meta(conn, members)
        conn.execute(insert(cluster_members), [
            {"cluster_id": cluster_id, "evidence_id": m, "seller_id": meta[m]["seller_id"]}
            for m in sorted(members) if m in meta
        ])
        _refresh_cluster_counts(conn, cluster_id)
        out.append(cluster_id)
    return out


def _next_cluster_id(conn: Connection, prefix: str) -> str:
    """The next id of a cluster kind, from its counter (one row, whatever the number of clusters)."""
    name = "cluster_" + prefix
    value = conn.execute(update(counters).where(counters.c.name == name)
                         .values(value=counters.c.value + 1).returning(counters.c.value)).scalar()
    if value is None:  # a store created before the counters: start after the ids on file
        ids = conn.execute(select(clusters.c.id).where(clusters.c.id.like(prefix + "%"))).scalars().all()
        value = max((int(i[1:]) for i in ids), default=0) + 1
        conn.execute(insert(counters).values(name=name, value=value))
    return f"{prefix}{value}"


def join_clusters(conn: Connection, a: str, b: str, relation_kind: str) -> None:
    """Put ``a`` and ``b`` in one cluster of the kind a new relation of ``relation_kind`` makes:
    a new cluster, one joining the other's, or the union of two (the older id stays). Touches
    the two uploads' memberships, and the members of the younger cluster when two merge."""
    for kind, (rel_kinds, prefix) in CLUSTER_KINDS.items():
        if relation_kind not in rel_kinds or a == b:
            continue
        rows = conn.execute(
            select(cluster_members.c.evidence_id, cluster_members.c.cluster_id)
            .join(clusters, clusters.c.id == cluster_members.c.cluster_id)
            .where(and_(clusters.c.kind == kind, cluster_members.c.evidence_id.in_([a, b])))
        ).all()
        of = {r.evidence_id: r.cluster_id for r in rows}
        ca, cb = of.get(a), of.get(b)
        if ca is not None and ca == cb:
            continue
        if ca is None and cb is None:
            keep = _next_cluster_id(conn, prefix)
            conn.execute(insert(clusters).values(id=keep, kind=kind, size=0, sellers=0, first_seen=_now(),
                                                 last_seen=_now(), updated_at=_now()))
            _add_members(conn, keep, [a, b])
        elif ca is None or cb is None:
            keep = ca or cb
            _add_members(conn, keep, [b if ca else a])
        else:
            keep, gone = sorted((ca, cb), key=lambda cid: int(cid[1:]))
            conn.execute(update(cluster_members).where(cluster_members.c.cluster_id == gone)
                         .values(cluster_id=keep))
            conn.execute(delete(clusters).where(clusters.c.id == gone))
        _refresh_cluster_counts(conn, keep)


def _add_members(conn: Connection, cluster_id: str, ids: list[str]) -> None:
    rows = conn.execute(select(evidence.c.evidence_id, evidence.c.seller_id)
                        .where(evidence.c.evidence_id.in_(ids))).all()
    if rows:
        conn.execute(insert(cluster_members), [
            {"cluster_id": cluster_id, "evidence_id": r.evidence_id, "seller_id": r.seller_id} for r in rows])


def _refresh_cluster_counts(conn: Connection, cluster_id: str) -> None:
    """Size, sellers and first/last upload of a cluster, by one aggregate query (no rows to Python)."""
    row = conn.execute(
        select(func.count(), func.count(func.distinct(cluster_members.c.seller_id)),
               func.min(evidence.c.uploaded_at), func.max(evidence.c.uploaded_at))
        .select_from(cluster_members.join(evidence, evidence.c.evidence_id == cluster_members.c.evidence_id))
        .where(cluster_members.c.cluster_id == cluster_id)
    ).one()
    size, sellers, first, last = row
    if size < 2:
        conn.execute(delete(cluster_members).where(cluster_members.c.cluster_id == cluster_id))
        conn.execute(delete(clusters).where(clusters.c.id == cluster_id))
        return
    conn.execute(update(clusters).where(clusters.c.id == cluster_id).values(
        size=size, sellers=sellers, first_seen=first, last_seen=last, updated_at=_now()))


def list_clusters(conn: Connection, *, kind: str | None = None, min_sellers: int = 1) -> list[dict[str, Any]]:
    q = select(clusters).where(clusters.c.sellers >= min_sellers)
    if kind:
        q = q.where(clusters.c.kind == kind)
    rows = conn.execute(q.order_by(clusters.c.sellers.desc(), clusters.c.size.desc(), clusters.c.id)).all()
    return [dict(r._mapping) for r in rows]


def cluster_detail(conn: Connection, cluster_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(clusters).where(clusters.c.id == cluster_id)).first()
    if row is None:
        return None
    members = conn.execute(
        select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.uploaded_at, evidence.c.fields,
               evidence.c.verdict)
        .join(cluster_members, cluster_members.c.evidence_id == evidence.c.evidence_id)
        .where(cluster_members.c.cluster_id == cluster_id)
        .order_by(evidence.c.uploaded_at, evidence.c.evidence_id)
    ).all()
    ids = [m.evidence_id for m in members]
    rels = [r for r in relations_of(conn, ids) if r["a"] in ids and r["b"] in ids]
    return {"cluster": dict(row._mapping), "members": [dict(m._mapping) for m in members], "relations": rels}


def count_rows(conn: Connection, table) -> int:  # noqa: ANN001
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# -- matching outside the lock: marks, what arrived since, batched writes ----------------------


def register(conn: Connection, fingerprints: list[dict[str, Any]], serial: dict[str, Any] | None,
             mark: dict[str, Any] | None, *, relations_of_new: tuple[str, list[dict[str, Any]]] | None = None,
             then: Any = None, also: tuple[Any, ...] = ()) -> None:
    """Add an upload's fingerprints, serial and issuer mark, and (``relations_of_new``: the
    upload's id and its relations, for an upload that has none yet) its relations; ``then`` is
    a statement of the same step (the record's UPDATE), ``also`` other registries' inserts (a
    content key). On PostgreSQL all of it is one statement (each insert a data-modifying WITH
    of ``then``); else one statement each."""
    writes: list[Any] = [stmt for stmt in also if stmt is not None]
    if fingerprints:
        writes.append(insert(page_fingerprints).values(fingerprints))
    if serial is not None:
        writes.append(insert(serials).values(**serial))
    if mark is not None:
        writes.append(insert(issuer_marks).values(**mark))
    if relations_of_new is not None and relations_of_new[1]:
        evidence_id, rels = relations_of_new
        at = _now()
        rows = []
        for rel in rels:
            a, b = sorted((evidence_id, rel["other"]))
            rows.append({"a": a, "b": b, "kind": rel["kind"], "score": float(rel["score"]),
                         "details": rel.get("details"), "created_at": at})
        writes.append(insert(relations).values(rows))
    if then is not None and conn.dialect.name == "postgresql":
        for i, stmt in enumerate(writes):
            then = then.add_cte(stmt.cte(f"write_{i}"))
        conn.execute(then)
        return
    for stmt in writes + ([then] if then is not None else []):
        conn.execute(stmt)


def join_new_upload(conn: Connection, evidence_id: str, seller_id: str,
                    links: dict[str, dict[str, str]]) -> None:
    """Put a new upload (in no cluster yet) into the clusters its relations make: ``links`` is
    relation kind -> {other upload: its seller}. Per cluster kind, the upload and the others
    not in one yet join the oldest cluster among the others' (the younger ones merge into it),
    or a new one: what :func:`join_clusters` pair by pair ends with, in a few statements."""
    by_cluster: dict[str, dict[str, str]] = {}
    for kind, (rel_kinds, _prefix) in CLUSTER_KINDS.items():
        for rk in rel_kinds:
            by_cluster.setdefault(kind, {}).update({o: s for o, s in links.get(rk, {}).items() if o != evidence_id})
    by_cluster = {k: v for k, v in by_cluster.items() if v}
    if not by_cluster:
        return
    everyone = sorted({o for v in by_cluster.values() for o in v})
    rows = conn.execute(
        select(cluster_members.c.evidence_id, cluster_members.c.cluster_id, clusters.c.kind)
        .join(clusters, clusters.c.id == cluster_members.c.cluster_id)
        .where(cluster_members.c.evidence_id.in_(everyone))
    ).all()
    for kind, others in sorted(by_cluster.items()):
        of = {r.evidence_id: r.cluster_id for r in rows if r.kind == kind}
        existing = sorted({of[o] for o in others if o in of}, key=lambda cid: int(cid[1:]))
        joining = {evidence_id: seller_id, **{o: s for o, s in others.items() if o not in of}}
        if existing:
            keep, gone = existing[0], existing[1:]
            if gone:
                conn.execute(update(cluster_members).where(cluster_members.c.cluster_id.in_(gone))
                             .values(cluster_id=keep))
                conn.execute(delete(clusters).where(clusters.c.id.in_(gone)))
        else:
            keep = _next_cluster_id(conn, CLUSTER_KINDS[kind][1])
            conn.execute(insert(clusters).values(id=keep, kind=kind, size=0, sellers=0, first_seen=_now(),
                                                 last_seen=_now(), updated_at=_now()))
        conn.execute(insert(cluster_members), [
            {"cluster_id": keep, "evidence_id": e, "seller_id": s} for e, s in sorted(joining.items())])
        _count_members(conn, keep)


def _count_members(conn: Connection, cluster_id: str) -> None:
    """Size, sellers and first/last upload of a cluster that grew, in one UPDATE."""
    members = cluster_members.join(evidence, evidence.c.evidence_id == cluster_members.c.evidence_id)
    of = cluster_members.c.cluster_id == cluster_id

    def agg(expr):  # noqa: ANN001, ANN202
        return select(expr).select_from(members).where(of).scalar_subquery()

    conn.execute(update(clusters).where(clusters.c.id == cluster_id).values(
        size=agg(func.count()), sellers=agg(func.count(func.distinct(cluster_members.c.seller_id))),
        first_seen=agg(func.min(evidence.c.uploaded_at)), last_seen=agg(func.max(evidence.c.uploaded_at)),
        updated_at=_now()))


def relations_with_sellers_of(conn: Connection, evidence_ids: Iterable[str],
                              kinds: Iterable[str] | None = None) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """:func:`relations_with_sellers` for several uploads at once (two queries whatever their
    number): each one's relations (of ``kinds`` only, if given) by id order, and the seller of
    every upload on their other sides."""
    ids = sorted(set(evidence_ids))
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    sellers: dict[str, str] = {}
    if not ids:
        return out, sellers
    kinds = None if kinds is None else sorted(set(kinds))
    sides = []
    for side, (mine, theirs) in enumerate(((relations.c.a, relations.c.b), (relations.c.b, relations.c.a))):
        q = (select(relations, evidence.c.seller_id.label("other_seller"),
                    evidence.c.uploaded_at.label("other_uploaded_at"), literal(side).label("side"))
             .join(evidence, evidence.c.evidence_id == theirs).where(mine.in_(ids)))
        if kinds is not None:
            q = q.where(relations.c.kind.in_(kinds))
        sides.append(q)
    for r in conn.execute(union_all(*sides)).all():  # one round trip for both sides
        row = dict(r._mapping)
        me, other = (r.a, r.b) if row.pop("side") == 0 else (r.b, r.a)
        sellers[other] = row.pop("other_seller")
        out[me].append(row)
    for rels in out.values():
        rels.sort(key=lambda r: r["id"])
    return out, sellers


def set_findings_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """:func:`set_findings` for several records in one executemany (``evidence_id``,
    ``findings``, ``risk``, ``verdict`` each)."""
    if not rows:
        return
    from sqlalchemy import bindparam

    conn.execute(update(evidence).where(evidence.c.evidence_id == bindparam("eid")).values(
        findings=bindparam("f"), risk=bindparam("r"), verdict=bindparam("v")),
        [{"eid": r["evidence_id"], "f": r["findings"], "r": r["risk"], "v": r["verdict"]} for r in rows])
