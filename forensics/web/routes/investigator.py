"""The investigator's pages: clusters, a cluster with its timeline, pivots (serial, issuer,
seller, page hash), the seller graph and "similar to this file". Role investigator or admin;
every pivot links to the reviewer's evidence pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from forensics import investigate
from forensics.errors import BadInput
from forensics.web import drawing
from forensics.web.auth import User, require
from forensics.web.routes.common import RequestConn, make_router, page, web

router = make_router()

investigator = require("investigator")

#: columns the clusters list sorts by
SORTS = ("sellers", "size", "first_seen", "last_seen", "id")
#: clusters per page of the list (keyset pages; the API pages the same way)
CLUSTER_ROWS = 50
#: the graph page's default node cap and the most it may draw
GRAPH_NODES, MAX_GRAPH_NODES = 60, 500


@router.get("/clusters", include_in_schema=False)
def clusters_page(request: Request, kind: str | None = None, min_sellers: int = Query(1, ge=1, le=1_000_000),
                  sort: str = "sellers", desc: bool = True, after: str | None = None,
                  conn: Any = RequestConn, user: User = Depends(investigator)) -> Response:
    if kind and kind not in ("duplicate", "template"):
        raise HTTPException(400, "kind must be duplicate or template")
    if sort not in SORTS:
        raise HTTPException(400, f"sort must be one of {', '.join(SORTS)}")
    order = [(sort, desc)] + ([("id", desc)] if sort != "id" else [])
    try:
        found = investigate.cluster_page(web(request).store, kind=kind or None, min_sellers=min_sellers,
                                         order=order, after=after, limit=CLUSTER_ROWS, conn=conn)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    filters = {"kind": kind or "", "min_sellers": min_sellers, "sort": sort, "desc": "true" if desc else "false"}
    more_url = f"/clusters?{urlencode({**filters, 'after': found['next']})}" if found["next"] else None
    return page(request, "clusters.html", user, rows=found["rows"], count=found["count"], kind=kind or "",
                min_sellers=min_sellers, sort=sort, desc=desc, sorts=SORTS, more_url=more_url,
                first_url=f"/clusters?{urlencode(filters)}" if after else None)


@router.get("/clusters/{cluster_id}", include_in_schema=False)
def cluster_page(request: Request, cluster_id: str, conn: Any = RequestConn,
                 user: User = Depends(investigator)) -> Response:
    detail = investigate.cluster_detail(web(request).store, cluster_id, conn=conn)
    if detail is None:
        raise HTTPException(404, f"No cluster {cluster_id!r}.")
    return page(request, "cluster.html", user, c=detail, timeline=drawing.timeline(detail["members"]))


def _pivot_page(request: Request, user: User, what: str, value: str, pivot: dict[str, Any],
                extra: dict[str, Any] | None = None) -> Response:
    if not pivot["uploads"]:
        raise HTTPException(404, f"No upload shares {what} {value!r}.")
    return page(request, "pivot.html", user, what=what, value=value, p=pivot, extra=extra or {})


@router.get("/serials/{value}", include_in_schema=False)
def serial_page(request: Request, value: str, conn: Any = RequestConn, user: User = Depends(investigator)) -> Response:
    return _pivot_page(request, user, "serial", value, investigate.serial_pivot(web(request).store, value, conn=conn))


@router.get("/issuers/{key}", include_in_schema=False)
def issuer_page(request: Request, key: str, conn: Any = RequestConn, user: User = Depends(investigator)) -> Response:
    return _pivot_page(request, user, "issuer", key, investigate.issuer_pivot(web(request).store, key, conn=conn))


@router.get("/page-hashes/{value}", include_in_schema=False)
def page_hash_page(request: Request, value: str, conn: Any = RequestConn,
                   user: User = Depends(investigator)) -> Response:
    value = value.strip().lower()
    return _pivot_page(request, user, "page hash", value,
                       investigate.page_hash_pivot(web(request).store, value, conn=conn))


@router.get("/sellers/{seller_id}", include_in_schema=False)
def seller_page(request: Request, seller_id: str, user: User = Depends(investigator)) -> Response:
    report = investigate.seller_report(web(request).store, seller_id)
    if not report["evidence"]:
        raise HTTPException(404, f"No uploads from seller {seller_id!r}.")
    return page(request, "seller.html", user, s=report)


def _graph(request: Request, seed: str, expand: list[str], hops: int, limit: int, conn: Any = None) -> dict[str, Any]:
    g = investigate.seller_graph(web(request).store, seed, hops=hops, limit=limit, expand=expand, conn=conn)
    if not g["known"]:
        raise HTTPException(404, f"No uploads from seller {seed!r}.")
    return {"g": g, "svg": drawing.seller_graph(g, expand, hops, limit), "seed": seed, "expand": expand,
            "hops": hops, "limit": limit}


@router.get("/graph", include_in_schema=False)
def graph_page(request: Request, seed: str | None = None, expand: list[str] = Query([]),
               hops: int = Query(2, ge=1, le=4), limit: int = Query(GRAPH_NODES, ge=2, le=MAX_GRAPH_NODES),
               conn: Any = RequestConn, user: User = Depends(investigator)) -> Response:
    ctx = _graph(request, seed.strip(), expand, hops, limit, conn) if seed and seed.strip() else {
        "g": None, "seed": "", "hops": hops, "limit": limit}
    return page(request, "graph.html", user, **ctx)


@router.get("/graph/svg", include_in_schema=False)
def graph_fragment(request: Request, seed: str, expand: list[str] = Query([]),
                   hops: int = Query(2, ge=1, le=4), limit: int = Query(GRAPH_NODES, ge=2, le=MAX_GRAPH_NODES),
                   conn: Any = RequestConn, user: User = Depends(investigator)) -> Response:
    """The graph with one more node expanded (htmx swaps it in place of the old one)."""
    return page(request, "_graph.html", user, **_graph(request, seed, expand, hops, limit, conn))


@router.get("/similar", include_in_schema=False)
def similar_form(request: Request, user: User = Depends(investigator)) -> Response:
    return page(request, "similar.html", user, rows=None)


@router.post("/similar", include_in_schema=False)
def similar_results(request: Request, file: UploadFile = File(...), user: User = Depends(investigator)) -> Response:
    s = web(request)
    data = file.file.read(s.settings.max_file_bytes + 1)
    error = None
    rows: list[dict[str, Any]] = []
    if len(data) > s.settings.max_file_bytes:
        error = f"The file is over the limit of {s.settings.max_file_bytes:,} bytes (FORENSICS_MAX_FILE_BYTES)."
    elif not data:
        error = "The file is empty."
    else:
        try:
            rows = investigate.similar(s.store, s.settings, data)
        except BadInput as exc:
            error = f"{exc.message} ({exc.code})"
    return page(request, "similar.html", user, rows=rows, error=error, name=file.filename or "the file",
                status_code=400 if error else 200)
