"""SVG drawn on the server for the investigator's pages: a cluster's timeline (upload times per
seller beside the dates printed on the documents) and the seller graph. No script, no inline
style (the CSP forbids both): presentation attributes and classes from app.css only."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

#: timeline geometry, px
TL_WIDTH, TL_ROW, TL_LEFT, TL_RIGHT, TL_TOP = 900, 34, 110, 20, 30
#: graph canvas, px
G_SIZE, G_RING, G_NODE = 640, 120, 16


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        if isinstance(value, datetime):
            d = value
        elif len(str(value)) == 10:
            d = datetime.combine(date.fromisoformat(str(value)), datetime.min.time())
        else:
            d = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def timeline(members: list[dict[str, Any]]) -> Markup:
    """One row per seller: a dot at each upload time, a square at the date printed on that
    upload, joined by a line (a long line pointing back in time shows backdating)."""
    sellers = sorted({m["seller_id"] for m in members})
    points = [(m, _when(m.get("uploaded_at")), _when(m.get("date"))) for m in members]
    times = [t for _, up, printed in points for t in (up, printed) if t]
    if not times:
        return Markup('<p class="empty">No upload times or printed dates to draw.</p>')
    lo, hi = min(times), max(times)
    span = max((hi - lo).total_seconds(), 86400.0)
    usable = TL_WIDTH - TL_LEFT - TL_RIGHT

    def x(t: datetime) -> float:
        return round(TL_LEFT + usable * (t - lo).total_seconds() / span, 1)

    height = TL_TOP + TL_ROW * len(sellers) + 24
    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{TL_WIDTH}" height="{height}" '
           f'viewBox="0 0 {TL_WIDTH} {height}" role="img" aria-label="Upload times and printed dates per seller">']
    out.append(f'<text class="axis" x="{TL_LEFT}" y="16">{lo:%Y-%m-%d}</text>'
               f'<text class="axis" x="{TL_WIDTH - TL_RIGHT}" y="16" text-anchor="end">{hi:%Y-%m-%d}</text>')
    for row, seller in enumerate(sellers):
        y = TL_TOP + TL_ROW * row + TL_ROW // 2
        out.append(f'<g class="tl-row" data-seller={quoteattr(seller)}>'
                   f'<text class="seller" x="4" y="{y + 4}">{escape(seller)}</text>'
                   f'<line class="lane" x1="{TL_LEFT}" y1="{y}" x2="{TL_WIDTH - TL_RIGHT}" y2="{y}"/>')
        for m, up, printed in points:
            if m["seller_id"] != seller:
                continue
            eid = escape(m["evidence_id"])
            if up and printed:
                out.append(f'<line class="gap" x1="{x(printed)}" y1="{y}" x2="{x(up)}" y2="{y}"/>')
            if printed:
                out.append(f'<rect class="printed" x="{x(printed) - 5}" y="{y - 5}" width="10" height="10">'
                           f'<title>{eid}: printed {printed:%Y-%m-%d}</title></rect>')
            if up:
                out.append(f'<a href="/evidence/{eid}"><circle class="upload" cx="{x(up)}" cy="{y}" r="6" '
                           f'data-evidence="{eid}"><title>{eid}: uploaded {up:%Y-%m-%d %H:%M}</title></circle></a>')
        out.append("</g>")
    legend_y = height - 8
    out.append(f'<circle class="upload" cx="{TL_LEFT}" cy="{legend_y - 4}" r="5"/>'
               f'<text class="axis" x="{TL_LEFT + 10}" y="{legend_y}">uploaded</text>'
               f'<rect class="printed" x="{TL_LEFT + 90}" y="{legend_y - 9}" width="10" height="10"/>'
               f'<text class="axis" x="{TL_LEFT + 106}" y="{legend_y}">date printed on the document</text></svg>')
    return Markup("".join(out))


def graph_url(seed: str, expand: list[str], hops: int, limit: int, *, fragment: bool = False) -> str:
    """The URL of the graph page (or its SVG fragment) for a seed and expanded sellers."""
    query = urlencode([("seed", seed), *(("expand", e) for e in expand), ("hops", hops), ("limit", limit)])
    return f"/graph/{'svg' if fragment else ''}?{query}".replace("/?", "?")


def seller_graph(g: dict[str, Any], expand: list[str], hops: int, limit: int) -> Markup:
    """Sellers on rings by distance from the seed; a click on a node with links not drawn
    (``more``) fetches the graph with that node expanded (htmx), or follows the link without it."""
    by_ring: dict[int, list[dict[str, Any]]] = {}
    for n in g["nodes"]:
        by_ring.setdefault(n["hop"], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    rings = max(by_ring, default=0)
    size = max(G_SIZE, 2 * (G_RING * rings + 60))
    c = size / 2
    for ring, nodes in sorted(by_ring.items()):
        nodes.sort(key=lambda n: n["seller_id"])
        for i, n in enumerate(nodes):
            angle = 2 * math.pi * i / max(len(nodes), 1) + ring * 0.4
            r = G_RING * ring
            pos[n["id"]] = (round(c + r * math.cos(angle), 1), round(c + r * math.sin(angle), 1))
    out = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
           f'viewBox="0 0 {size} {size}" role="img" aria-label="Sellers linked to {escape(g["seed"])}">']
    for e in g["edges"]:
        (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
        via = escape(", ".join(e["via"]))
        kinds = " ".join(sorted({v.split(":", 1)[0] for v in e["via"]}))
        out.append(f'<line class="edge {kinds}" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"><title>{via}</title></line>')
    for n in g["nodes"]:
        x, y = pos[n["id"]]
        sid = n["seller_id"]
        cls = "node seed" if n["hop"] == 0 else ("node more" if n["more"] else "node")
        if n["more"] and sid not in expand:
            target = [*expand, sid]
            page_url = quoteattr(graph_url(g["seed"], target, hops, limit))
            link = (f' href={page_url}'
                    f' hx-get={quoteattr(graph_url(g["seed"], target, hops, limit, fragment=True))}'
                    f' hx-target="#graph" hx-swap="outerHTML" hx-push-url={page_url}')
            title = f"{sid}: more links — click to expand"
        else:
            link = f' href={quoteattr("/sellers/" + sid)}'
            title = f"{sid}: open the seller's page"
        out.append(f'<a class="node-link"{link} data-seller={quoteattr(sid)}>'
                   f'<circle class="{cls}" cx="{x}" cy="{y}" r="{G_NODE}"><title>{escape(title)}</title></circle>'
                   f'<text class="label" x="{x}" y="{y + G_NODE + 14}" text-anchor="middle">{escape(sid)}</text></a>')
    out.append("</svg>")
    return Markup("".join(out))
