"""The investigator's part of ``/api/v1``: clusters, pivots, similar files, the seller graph and
the whole-graph exports. Every route needs the investigator (or admin) role."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict

from forensics import graph_export, investigate
from forensics.errors import BadInput
from forensics.web.auth import User, require
from forensics.web.routes.api import SEED, ApiError, errors, read_limited, router
from forensics.web.routes.common import RequestConn, web

#: the most hops and nodes a graph request may ask for
MAX_HOPS, MAX_NODES = 4, 5_000
#: cluster kinds
KINDS = ("duplicate", "template")
#: a page hash: the sha256 of a page's decoded pixels, in hex
PAGE_HASH = re.compile(r"[0-9a-f]{64}")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Cluster(Open):
    id: str
    kind: str
    size: int
    sellers: int | list[str]


class ClusterDetail(Open):
    id: str
    kind: str
    members: list[dict[str, Any]]
    sellers: list[str]
    differing_fields: dict[str, Any]


class Pivot(Open):
    uploads: list[dict[str, Any]]
    sellers: list[dict[str, Any]]


class SellerReport(Open):
    seller_id: str
    evidence: list[dict[str, Any]]
    links: list[dict[str, Any]]
    linked_sellers: list[str]


class Graph(Open):
    seed: str
    truncated: bool
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


def _store(request: Request) -> Any:
    return web(request).store


#: clusters per page of ``GET /clusters`` unless ``limit`` says otherwise, and the most it may ask
CLUSTER_PAGE, MAX_CLUSTER_PAGE = 500, 1_000
_NEXT_HEADERS = {
    "Link": {"description": 'The next page, RFC 8288: `</api/v1/clusters?...&after=CURSOR>; rel="next"` '
                           "(absent on the last page).", "schema": {"type": "string"}},
    "X-Next-Cursor": {"description": "The cursor to pass as `after` for the next page (absent on the last "
                                     "page).", "schema": {"type": "string"}},
}


@router.get("/clusters", response_model=list[Cluster],
            responses={200: {"headers": _NEXT_HEADERS, "description": "One page of clusters."}, **errors(400)})
def list_clusters(request: Request, response: Response, kind: Literal[KINDS] | None = None,  # type: ignore[valid-type]
                  min_sellers: int = Query(1, ge=1, le=1_000_000),
                  after: str | None = Query(None, description="The previous page's cursor (its `X-Next-Cursor`)"),
                  limit: int = Query(CLUSTER_PAGE, ge=1, le=MAX_CLUSTER_PAGE),
                  conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """Clusters with at least ``min_sellers`` sellers, widest first (sellers, then uploads, then
    id: a stable order), ``limit`` at a time. When more follow, the ``X-Next-Cursor`` header
    holds the cursor to pass as ``after`` and ``Link`` the next page's URL (keyset pagination:
    pages stay consistent while clusters are added)."""
    if kind and kind not in KINDS:
        raise ApiError(400, "bad_request", f"kind must be one of {', '.join(KINDS)}")
    try:
        found = investigate.cluster_page(_store(request), kind=kind or None, min_sellers=min_sellers, after=after,
                                         limit=limit, count=False, conn=conn)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"after: {exc}") from None
    if found["next"]:
        query = urlencode({k: v for k, v in {"kind": kind, "min_sellers": min_sellers, "limit": limit,
                                             "after": found["next"]}.items() if v})
        response.headers["Link"] = f'</api/v1/clusters?{query}>; rel="next"'
        response.headers["X-Next-Cursor"] = found["next"]
    return found["rows"]


@router.get("/clusters/{cluster_id}", response_model=ClusterDetail, responses=errors(404))
def get_cluster(request: Request, cluster_id: str, conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """A cluster's members, sellers, the fields on which they differ, and its links."""
    detail = investigate.cluster_detail(_store(request), cluster_id, conn=conn)
    if detail is None:
        raise ApiError(404, "not_found", f"No cluster {cluster_id!r}.")
    return detail


@router.get("/sellers/{seller_id}", response_model=SellerReport, responses=errors(404))
def get_seller(request: Request, seller_id: str, conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """A seller's uploads and every link from them to other sellers' uploads."""
    report = investigate.seller_report(_store(request), seller_id, conn=conn)
    if not report["evidence"]:
        raise ApiError(404, "not_found", f"No uploads from seller {seller_id!r}.")
    return report


@router.get("/serials/{value}", response_model=Pivot, responses=errors(404))
def get_serial(request: Request, value: str, conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """Every upload and seller that printed this serial, with each seller's first and last upload."""
    pivot = investigate.serial_pivot(_store(request), value, conn=conn)
    if not pivot["uploads"]:
        raise ApiError(404, "not_found", f"No upload carries serial {value!r}.")
    return pivot


@router.get("/issuers/{key}", response_model=Pivot, responses=errors(404))
def get_issuer(request: Request, key: str, conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """Every upload and seller naming this issuer (its tax or registration id, or name key)."""
    pivot = investigate.issuer_pivot(_store(request), key, conn=conn)
    if not pivot["uploads"]:
        raise ApiError(404, "not_found", f"No upload names issuer {key!r}.")
    return pivot


@router.get("/page-hashes/{page_hash}", response_model=Pivot, responses=errors(400, 404))
def get_page_hash(request: Request, page_hash: str = Path(..., description="sha256 of a page's decoded pixels "
                                                                            "(64 hex digits), as `page_hash` of a "
                                                                            "cluster member"),
                  conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """Every upload and seller with a page of exactly these decoded pixels (the same file
    re-encoded, renamed or stripped of its metadata), with each seller's first and last upload:
    the page-hash pivot page's query."""
    value = page_hash.strip().lower()
    if not PAGE_HASH.fullmatch(value):
        raise ApiError(400, "bad_request", "A page hash is the sha256 of a page's pixels: 64 hex digits.")
    pivot = investigate.page_hash_pivot(_store(request), value, conn=conn)
    if not pivot["uploads"]:
        raise ApiError(404, "not_found", f"No upload has a page with pixel hash {value}.")
    return pivot


@router.post("/similar", response_model=list[dict[str, Any]], responses=errors(400, 413))
def similar(request: Request, file: UploadFile = File(..., description="Any receipt or invoice; it is not stored."),
            user: User = Depends(require("investigator"))) -> Any:
    """What on file looks like this file (ingestion's candidate search, confirmed by alignment)."""
    data = read_limited(request, file)
    s = web(request)
    try:
        return investigate.similar(s.store, s.settings, data)
    except BadInput as exc:
        raise ApiError(400, exc.code, exc.message) from None


@router.get("/graph", response_model=Graph, responses=errors(400, 404))
def graph(request: Request, seed: str = Query(..., description="seller:<seller id>", examples=["seller:S1"]),
          hops: int = Query(2, ge=1, le=MAX_HOPS), limit: int = Query(500, ge=1, le=MAX_NODES),
          expand: list[str] = Query([], description="Sellers whose direct links to add (a node's `more`)"),
          conn: Any = RequestConn, user: User = Depends(require("investigator"))) -> Any:
    """Sellers linked through shared clusters, serials and issuers, ``hops`` out from ``seed``
    (``seller:<id>``); ``truncated`` says the node cap was reached, a node's ``more`` that it
    has links not drawn (ask again with that node as the seed)."""
    m = SEED.match(seed)
    if not m:
        raise ApiError(400, "bad_request", "seed must be seller:<seller id>, e.g. seller:S1")
    g = investigate.seller_graph(_store(request), m.group(1), hops=hops, limit=limit, expand=expand, conn=conn)
    if not g["known"]:
        raise ApiError(404, "not_found", f"No uploads from seller {m.group(1)!r}.")
    return g


@router.get("/export", response_class=StreamingResponse, responses={
    200: {"content": {t: {} for t in dict.fromkeys(graph_export.FORMATS.values())},
          "description": "The whole graph, streamed."}, **errors(400)})
def export(request: Request, format: Literal[tuple(graph_export.WRITERS)] = "graphml",  # type: ignore[valid-type]  # noqa: A002
           user: User = Depends(require("investigator"))) -> Any:
    """The whole graph of sellers, uploads, clusters and serials (stable ids, nothing capped):
    graphml, gexf (Gephi), csv (edge list) or neo4j (a zip for ``neo4j-admin database import``)."""
    if format not in graph_export.WRITERS:
        raise ApiError(400, "bad_request", f"format must be one of {', '.join(graph_export.WRITERS)}")
    body = graph_export.WRITERS[format](investigate.graph_parts(_store(request)))
    name = f"forensics-graph.{graph_export.EXTENSIONS[format]}"
    return StreamingResponse(body, media_type=graph_export.FORMATS[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
