"""The graph of sellers, uploads, clusters and serials written as GraphML, GEXF, an edge-list CSV
or the CSV set of ``neo4j-admin database import``, streamed piece by piece.

Node ids are stable across exports: ``seller:S1``, ``evidence:E1``, ``cluster:T1``,
``serial:<issuer key>:<serial>``. Every node and edge is written: there is no cap.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape, quoteattr

#: export formats and their media types
FORMATS = {"graphml": "application/graphml+xml", "gexf": "application/gexf+xml", "csv": "text/csv",
           "neo4j": "application/zip"}
#: file name extension of each format's download
EXTENSIONS = {"graphml": "graphml", "gexf": "gexf", "csv": "csv", "neo4j": "zip"}
#: node attributes (every node has the keys it uses; absent ones are left out)
NODE_ATTRS = ("type", "label", "verdict", "risk", "kind", "issuer", "size", "sellers")
#: edge attributes
EDGE_ATTRS = ("kind", "score")
#: Neo4j label of each node type
NEO4J_LABELS = {"seller": "Seller", "evidence": "Evidence", "cluster": "Cluster", "serial": "Serial"}

#: a source of the graph: call with "nodes" or "edges" for an iterator of dicts, in a stable order
Parts = Callable[[str], Iterator[dict[str, Any]]]


def _lines(items: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """Join small strings into chunks of about ``size`` bytes."""
    buf: list[str] = []
    n = 0
    for s in items:
        buf.append(s)
        n += len(s)
        if n >= size:
            yield "".join(buf).encode()
            buf, n = [], 0
    if buf:
        yield "".join(buf).encode()


def graphml(parts: Parts) -> Iterator[bytes]:
    """GraphML (Gephi, yEd, networkx)."""
    def gen() -> Iterator[str]:
        yield '<?xml version="1.0" encoding="UTF-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        for k in NODE_ATTRS:
            yield f'<key id="n_{k}" for="node" attr.name="{k}" attr.type="string"/>\n'
        for k in EDGE_ATTRS:
            yield f'<key id="e_{k}" for="edge" attr.name="{k}" attr.type="string"/>\n'
        yield '<graph id="forensics" edgedefault="undirected">\n'
        for n in parts("nodes"):
            data = "".join(f'<data key="n_{k}">{escape(str(n[k]))}</data>' for k in NODE_ATTRS if k in n)
            yield f"<node id={quoteattr(n['id'])}>{data}</node>\n"
        for i, e in enumerate(parts("edges")):
            data = "".join(f'<data key="e_{k}">{escape(str(e[k]))}</data>' for k in EDGE_ATTRS if k in e)
            yield f"<edge id=\"e{i}\" source={quoteattr(e['source'])} target={quoteattr(e['target'])}>{data}</edge>\n"
        yield "</graph>\n</graphml>\n"
    return _lines(gen())


def gexf(parts: Parts) -> Iterator[bytes]:
    """GEXF 1.2 (Gephi's own format; the version networkx and Gephi both read)."""
    def gen() -> Iterator[str]:
        yield ('<?xml version="1.0" encoding="UTF-8"?>\n<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2">\n'
               '<meta><creator>proof-forensics</creator></meta>\n<graph mode="static" defaultedgetype="undirected">\n'
               '<attributes class="node">')
        attrs = [k for k in NODE_ATTRS if k != "label"]
        yield "".join(f'<attribute id="{i}" title="{k}" type="string"/>' for i, k in enumerate(attrs))
        yield '</attributes>\n<attributes class="edge"><attribute id="0" title="kind" type="string"/></attributes>\n<nodes>\n'
        for n in parts("nodes"):
            values = "".join(f'<attvalue for="{i}" value={quoteattr(str(n[k]))}/>' for i, k in enumerate(attrs) if k in n)
            yield f"<node id={quoteattr(n['id'])} label={quoteattr(str(n.get('label', n['id'])))}><attvalues>{values}</attvalues></node>\n"
        yield "</nodes>\n<edges>\n"
        for i, e in enumerate(parts("edges")):
            weight = f' weight="{float(e["score"])}"' if "score" in e else ""
            yield (f"<edge id=\"{i}\" source={quoteattr(e['source'])} target={quoteattr(e['target'])}{weight}>"
                   f"<attvalues><attvalue for=\"0\" value={quoteattr(str(e['kind']))}/></attvalues></edge>\n")
        yield "</edges>\n</graph>\n</gexf>\n"
    return _lines(gen())


def _csv_rows(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow(row)
        yield buf.getvalue()


def edge_csv(parts: Parts) -> Iterator[bytes]:
    """One row per edge: source, target, kind, score."""
    return _lines(_csv_rows(["source", "target", "kind", "score"],
                            ([e["source"], e["target"], e["kind"], e.get("score", "")] for e in parts("edges"))))


class _Sink(io.RawIOBase):
    """A write-only stream that hands out what was written since the last call (zipfile writes
    to it without seeking: entries get data descriptors)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.chunks.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def neo4j(parts: Parts) -> Iterator[bytes]:
    """A zip of ``nodes.csv``, ``relationships.csv`` and ``import.sh`` for
    ``neo4j-admin database import full`` (header syntax ``:ID``, ``:LABEL``, ``:START_ID``,
    ``:END_ID``, ``:TYPE``)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        attrs = [k for k in NODE_ATTRS if k not in ("type",)]
        with zf.open("nodes.csv", "w") as f:
            header = ["id:ID", *[f"{k}:int" if k in ("risk", "size", "sellers") else k for k in attrs], ":LABEL"]
            rows = ([n["id"], *[n.get(k, "") for k in attrs], NEO4J_LABELS[n["type"]]] for n in parts("nodes"))
            for chunk in _lines(_csv_rows(header, rows)):
                f.write(chunk)
                yield sink.take()
        with zf.open("relationships.csv", "w") as f:
            rows = ([e["source"], e["target"], e["kind"].upper(), e.get("score", "")] for e in parts("edges"))
            for chunk in _lines(_csv_rows([":START_ID", ":END_ID", ":TYPE", "score:float"], rows)):
                f.write(chunk)
                yield sink.take()
        zf.writestr("import.sh", "#!/bin/sh\n# load into an empty database named forensics\n"
                    "neo4j-admin database import full --nodes=nodes.csv --relationships=relationships.csv forensics\n")
    yield sink.take()


#: the writer of each format
WRITERS = {"graphml": graphml, "gexf": gexf, "csv": edge_csv, "neo4j": neo4j}
