"""Investigators' queries over clusters, sellers and links (the CLI and the API call these)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from forensics.settings import Settings
from forensics.store import Store, investigations, registries
from forensics.store.schema import cluster_members, clusters, evidence, relations, serials


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def list_clusters(store: Store, *, kind: str | None = None, min_sellers: int = 1) -> list[dict[str, Any]]:
    """Clusters with at least ``min_sellers`` sellers, widest first."""
    with store.transaction() as conn:
        rows = registries.list_clusters(conn, kind=kind, min_sellers=min_sellers)
    return [{k: _iso(v) for k, v in r.items()} for r in rows]


#: the order of ``GET /api/v1/clusters`` (and ``clusters list``): widest first
WIDEST_FIRST = [("sellers", True), ("size", True), ("id", False)]
#: columns a cluster cursor may hold, and how a value of each is read back
_CURSOR_TYPES = {"sellers": int, "size": int, "id": str, "kind": str,
                 "first_seen": datetime.fromisoformat, "last_seen": datetime.fromisoformat}


def cluster_cursor(row: dict[str, Any], order: list[tuple[str, bool]]) -> str:
    """An opaque cursor that resumes ``order`` after ``row`` (base64url of its sort values)."""
    values = [_iso(row[name]) for name, _desc in order]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def read_cluster_cursor(cursor: str, order: list[tuple[str, bool]]) -> list[Any]:
    """The sort values in a cursor made by :func:`cluster_cursor` for ``order``; ValueError when
    it is not one."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError("wrong length")
        out = []
        for (name, _desc), v in zip(order, values, strict=True):
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise ValueError("wrong type")
            out.append(_CURSOR_TYPES[name](v))
        return out
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise ValueError("not a cursor of this list: pass the previous page's next as it was") from None


def cluster_page(store: Store, *, kind: str | None = None, min_sellers: int = 1,
                 order: list[tuple[str, bool]] | None = None, after: str | None = None, limit: int = 200,
                 count: bool = True, conn: Connection | None = None) -> dict[str, Any]:
    """Up to ``limit`` clusters in ``order`` (default: widest first) after cursor ``after``:
    ``rows``, ``next`` (the cursor of the next page, None at the end) and ``count`` (how many
    match in all, None unless ``count``). Raises ValueError for a cursor not of this order."""
    order = order or WIDEST_FIRST
    position = read_cluster_cursor(after, order) if after else None
    with store.joined(conn) as conn:
        rows, counted = investigations.cluster_rows(conn, kind=kind, min_sellers=min_sellers, order=order,
                                                    after=position, limit=limit + 1, count=count)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"rows": [{k: _iso(v) for k, v in r.items()} for r in rows], "count": counted,
            "next": cluster_cursor(rows[-1], order) if more and rows else None}


def cluster_detail(store: Store, cluster_id: str, conn: Connection | None = None) -> dict[str, Any] | None:
    """A cluster's members, sellers, the fields on which members differ, and differing boxes."""
    with store.joined(conn) as conn:
        detail = registries.cluster_detail(conn, cluster_id)
        hashes = investigations.first_page_hashes(conn, [m["evidence_id"] for m in detail["members"]]) if detail else {}
    if detail is None:
        return None
    members = detail["members"]
    names = sorted({n for m in members for n in (m["fields"] or {}) if n != "line_items"})
    differing = {}
    for n in names:
        values = {m["evidence_id"]: (m["fields"] or {}).get(n, {}).get("value") for m in members}
        if len({str(v) for v in values.values()}) > 1:
            differing[n] = values
    return {
        **{k: _iso(v) for k, v in detail["cluster"].items()},
        "members": [{"evidence_id": m["evidence_id"], "seller_id": m["seller_id"],
                     "uploaded_at": _iso(m["uploaded_at"]), "verdict": m["verdict"],
                     "merchant": (m["fields"] or {}).get("merchant", {}).get("value"),
                     "serial": (m["fields"] or {}).get("serial", {}).get("value"),
                     "date": (m["fields"] or {}).get("date", {}).get("value"),
                     "total": (m["fields"] or {}).get("total", {}).get("value"),
                     "page_hash": hashes.get(m["evidence_id"])} for m in members],
        "sellers": sorted({m["seller_id"] for m in members}),
        "differing_fields": differing,
        "links": [{"a": r["a"], "b": r["b"], "kind": r["kind"], "score": r["score"],
                   "boxes": (r.get("details") or {}).get("boxes", []),
                   "boxes_on": (r.get("details") or {}).get("boxes_on")} for r in detail["relations"]],
    }


def seller_report(store: Store, seller_id: str, conn: Connection | None = None) -> dict[str, Any]:
    """A seller's evidence and every link from it to other sellers' evidence."""
    with store.joined(conn) as conn:
        mine = conn.execute(
            select(evidence.c.evidence_id, evidence.c.status, evidence.c.verdict, evidence.c.risk,
                   evidence.c.uploaded_at).where(evidence.c.seller_id == seller_id)
            .order_by(evidence.c.uploaded_at)
        ).all()
        ids = [r.evidence_id for r in mine]
        rels = registries.relations_of(conn, ids)
        others = {r["a"] for r in rels} | {r["b"] for r in rels}
        meta = registries.evidence_meta(conn, others)
    links = []
    for r in rels:
        mine_id, other = (r["a"], r["b"]) if r["a"] in ids else (r["b"], r["a"])
        other_seller = meta.get(other, {}).get("seller_id")
        if other_seller and other_seller != seller_id:
            links.append({"evidence_id": mine_id, "other_evidence": other, "other_seller": other_seller,
                          "kind": r["kind"], "score": r["score"]})
    return {
        "seller_id": seller_id,
        "evidence": [{"evidence_id": r.evidence_id, "status": r.status, "verdict": r.verdict, "risk": r.risk,
                      "uploaded_at": _iso(r.uploaded_at)} for r in mine],
        "links": links,
        "linked_sellers": sorted({x["other_seller"] for x in links}),
    }


def candidate_pages(view: Any, analysis: Any, fp: Any, *, text_hash: int | None, date_total: str | None,
                    radius: int, exclude: str = "") -> list[int]:
    """Fingerprint row ids worth aligning with page ``fp``, best first: ingestion's own candidate
    search (pixel hashes within ``radius`` and the nearest beyond it, the text hash, the date and
    total). ``forensics similar`` and ``POST /api/v1/similar`` go through here and nowhere else;
    ``analysis`` only needs a ``memo`` dict (the search caches per upload there)."""
    from forensics.detectors.duplicates import _candidate_ids, indexes_for

    idx = indexes_for(view.url)
    idx.catch_up(view)
    return _candidate_ids(idx, analysis, view, fp, text_hash, date_total, exclude, radius)


def similar(store: Store, settings: Settings, data: bytes, *, radius: int | None = None,
            confirm: bool = True) -> list[dict[str, Any]]:
    """What on file looks like this file (not stored): ingestion's candidates, confirmed by alignment."""
    from types import SimpleNamespace

    from forensics.alignment import PageGone, compare_pages, prepare
    from forensics.detectors.duplicates import date_total_key, prepared_page
    from forensics.documents import load_document
    from forensics.fields import extract
    from forensics.fingerprints import fingerprint_page, from_signed64, hamming
    from forensics.ocr import read_document
    from forensics.store.view import RegistryView

    radius = settings.hash_radius if radius is None else radius
    doc = load_document(data, claimed_type=None, settings=settings)
    reading = read_document(doc, settings)
    dt_key = date_total_key(SimpleNamespace(extraction=extract(reading, doc)))
    words = {p.page: [w.text for w in p.words] for p in reading.pages}
    out: dict[tuple[str, int, int], dict[str, Any]] = {}
    with store.transaction() as conn:
        view = RegistryView(store, conn)
        memo = SimpleNamespace(memo={})
        for page in doc.pages:
            if page.image is None:
                continue
            fp = fingerprint_page(page.number, page.image, words=words.get(page.number))
            ids = candidate_pages(view, memo, fp, text_hash=fp.text_hash, date_total=dt_key, radius=radius)
            mine = None
            for row in registries.fingerprint_rows(conn, ids):
                entry = {"evidence_id": row.evidence_id, "seller_id": row.seller_id, "page": page.number,
                         "other_page": row.page,
                         "phash_distance": hamming(fp.phash, from_signed64(row.phash)),
                         "dhash_distance": hamming(fp.dhash, from_signed64(row.dhash))}
                if confirm:
                    # as ingestion compares: the earlier page prepared once (its kept features
                    # read), this page prepared once for all its candidates
                    mine = mine or prepare(page.image)
                    other = prepared_page(view, settings, row.evidence_id, row.page, row.pixel_sha256)
                    try:
                        rel = None if other is None else compare_pages(mine, other)
                    except PageGone:
                        rel = None
                    if rel is not None:
                        entry["relation"] = rel.kind
                        entry["score"] = round(float(rel.score), 3)
                out[(row.evidence_id, page.number, row.page)] = entry
    return sorted(out.values(), key=lambda e: (e["phash_distance"] + e["dhash_distance"], e["evidence_id"]))


def graph(store: Store) -> dict[str, list[dict[str, Any]]]:
    """The graph of sellers, evidence, clusters and serials: nodes and edges."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    with store.transaction() as conn:
        for r in conn.execute(select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.verdict,
                                     evidence.c.risk)).all():
            nodes[f"evidence:{r.evidence_id}"] = {"type": "evidence", "label": r.evidence_id,
                                                  "verdict": r.verdict or "", "risk": r.risk or 0}
            nodes.setdefault(f"seller:{r.seller_id}", {"type": "seller", "label": r.seller_id})
            edges.append({"source": f"seller:{r.seller_id}", "target": f"evidence:{r.evidence_id}", "kind": "uploaded"})
        for c in conn.execute(select(clusters)).all():
            nodes[f"cluster:{c.id}"] = {"type": "cluster", "label": c.id, "kind": c.kind}
        for m in conn.execute(select(cluster_members)).all():
            edges.append({"source": f"evidence:{m.evidence_id}", "target": f"cluster:{m.cluster_id}", "kind": "member_of"})
        for s in conn.execute(select(serials.c.serial, serials.c.issuer_key, serials.c.evidence_id)).all():
            key = f"serial:{s.issuer_key or ''}:{s.serial}"
            nodes.setdefault(key, {"type": "serial", "label": s.serial, "issuer": s.issuer_key or ""})
            edges.append({"source": f"evidence:{s.evidence_id}", "target": key, "kind": "has_serial"})
        for r in conn.execute(select(relations)).all():
            edges.append({"source": f"evidence:{r.a}", "target": f"evidence:{r.b}", "kind": r.kind,
                          "score": round(float(r.score), 3)})
    return {"nodes": [{"id": k, **v} for k, v in nodes.items()], "edges": edges}


# -- pivots --------------------------------------------------------------------------------------


def _pivot(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Uploads sharing one thing, and per seller its first and last upload and count."""
    sellers: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = sellers.setdefault(r["seller_id"], {"seller_id": r["seller_id"], "uploads": 0,
                                                "first_seen": r["uploaded_at"], "last_seen": r["uploaded_at"]})
        s["uploads"] += 1
        s["first_seen"] = min(s["first_seen"], r["uploaded_at"])
        s["last_seen"] = max(s["last_seen"], r["uploaded_at"])
    return {"uploads": [{k: _iso(v) for k, v in r.items()} for r in rows],
            "sellers": [{k: _iso(v) for k, v in s.items()} for s in sorted(sellers.values(), key=lambda s: s["first_seen"])]}


def serial_pivot(store: Store, value: str, conn: Connection | None = None) -> dict[str, Any]:
    """Every upload and seller that printed serial ``value`` (any issuer)."""
    with store.joined(conn) as conn:
        rows = investigations.serial_rows(conn, value)
    return {"serial": value, "issuers": sorted({r["issuer_key"] or "" for r in rows}), **_pivot(rows)}


def issuer_pivot(store: Store, key: str, conn: Connection | None = None) -> dict[str, Any]:
    """Every upload and seller whose document names issuer ``key`` (tax, registration or name key)."""
    with store.joined(conn) as conn:
        rows = investigations.issuer_rows(conn, key)
    return {"issuer": key, **_pivot(rows)}


def page_hash_pivot(store: Store, pixel_sha256: str, conn: Connection | None = None) -> dict[str, Any]:
    """Every upload and seller with a page of exactly these decoded pixels."""
    with store.joined(conn) as conn:
        rows = investigations.page_hash_rows(conn, pixel_sha256)
    return {"page_hash": pixel_sha256, **_pivot(rows)}


def seller_graph(store: Store, seed: str, *, hops: int = 2, limit: int = 500,
                 expand: list[str] | tuple[str, ...] = (), conn: Connection | None = None) -> dict[str, Any]:
    """Sellers linked through shared clusters, serials and issuers, ``hops`` out from ``seed``,
    plus the direct links of each seller in ``expand`` (one hop more from where it was drawn).

    Stops adding sellers at ``limit`` nodes and says so (``truncated``, and per node whether it has
    links not drawn: ``more``), so a caller can expand a node rather than lose rows silently."""
    nodes: dict[str, int] = {seed: 0}
    # what each seller shares, with everyone who shares it; fetched once per seller (a group
    # fetched for one seller is complete, so it also serves its other members' walks)
    groups: dict[tuple[str, str], set[str]] = {}
    of_seller: dict[str, set[tuple[str, str]]] = {}
    fetched: set[str] = set()

    def fetch(conn: Any, sellers: list[str]) -> None:
        todo = [x for x in sellers if x not in fetched]
        if not todo:
            return
        for g, who in investigations.shared_groups(conn, todo).items():
            if g not in groups:
                groups[g] = who
                for x in who:
                    of_seller.setdefault(x, set()).add(g)
        fetched.update(todo)

    def walk(conn: Any, start: list[str], depth: int) -> None:
        frontier = start
        for _ in range(depth):
            # once the cap is reached, the last pass below finds who has links beyond it
            if not frontier or len(nodes) >= limit:
                return
            fetch(conn, frontier)
            nxt: list[str] = []
            for a in sorted(frontier):
                for b in sorted({x for g in of_seller.get(a, ()) for x in groups[g]} - {a}):
                    if b not in nodes and len(nodes) < limit:
                        nodes[b] = nodes[a] + 1
                        nxt.append(b)
            frontier = nxt

    with store.joined(conn) as conn:
        known = investigations.seller_exists(conn, seed)
        walk(conn, [seed], hops)
        for e in expand:
            if e in nodes:
                walk(conn, [e], 1)
        # every group of every drawn seller: the edges among them, and who has more beyond (of
        # the groups not read whole during the walk, only their drawn members and size)
        seen = {g: (who.intersection(nodes), len(who)) for g, who in groups.items()}
        rest = [n for n in nodes if n not in fetched]
        if rest:
            for g, found in investigations.shared_within(conn, rest, nodes).items():
                seen.setdefault(g, found)
    edges: dict[tuple[str, str], set[str]] = {}
    more: set[str] = set()
    for (kind, key), (members, size) in seen.items():
        inside = sorted(members)
        if not inside:
            continue
        if len(inside) < size:
            more.update(inside)
        for i, a in enumerate(inside):
            for b in inside[i + 1:]:
                edges.setdefault((a, b), set()).add(f"{kind}:{key}")
    truncated = len(nodes) >= limit and bool(more)
    return {"seed": seed, "known": known, "hops": hops, "limit": limit, "truncated": truncated,
            "nodes": [{"id": f"seller:{n}", "seller_id": n, "hop": d, "more": n in more} for n, d in nodes.items()],
            "edges": [{"source": f"seller:{a}", "target": f"seller:{b}", "via": sorted(v)}
                      for (a, b), v in sorted(edges.items())]}


def graph_parts(store: Store) -> Any:
    """The whole graph for :mod:`forensics.graph_export`: ``parts("nodes")`` and ``parts("edges")``
    iterate it in id order, reading in batches (nothing is capped; memory stays flat apart from
    the set of seller and serial ids already written)."""

    def parts(which: str) -> Any:
        with store.transaction() as conn:
            if which == "nodes":
                sellers: set[str] = set()
                for r in investigations.evidence_nodes(conn):
                    yield {"id": f"evidence:{r.evidence_id}", "type": "evidence", "label": r.evidence_id,
                           "verdict": r.verdict or "", "risk": r.risk or 0}
                    if r.seller_id not in sellers:
                        sellers.add(r.seller_id)
                        yield {"id": f"seller:{r.seller_id}", "type": "seller", "label": r.seller_id}
                for c in investigations.cluster_nodes(conn):
                    yield {"id": f"cluster:{c.id}", "type": "cluster", "label": c.id, "kind": c.kind,
                           "size": c.size, "sellers": c.sellers}
                seen: set[str] = set()
                for s in investigations.serial_links(conn):
                    key = f"serial:{s.issuer_key or ''}:{s.serial}"
                    if key not in seen:
                        seen.add(key)
                        yield {"id": key, "type": "serial", "label": s.serial, "issuer": s.issuer_key or ""}
                return
            for r in investigations.evidence_nodes(conn):
                yield {"source": f"seller:{r.seller_id}", "target": f"evidence:{r.evidence_id}", "kind": "uploaded"}
            for m in investigations.member_links(conn):
                yield {"source": f"evidence:{m.evidence_id}", "target": f"cluster:{m.cluster_id}", "kind": "member_of"}
            for s in investigations.serial_links(conn):
                yield {"source": f"evidence:{s.evidence_id}", "target": f"serial:{s.issuer_key or ''}:{s.serial}",
                       "kind": "has_serial"}
            for r in investigations.relation_links(conn):
                yield {"source": f"evidence:{r.a}", "target": f"evidence:{r.b}", "kind": r.kind,
                       "score": round(float(r.score), 3)}

    return parts
