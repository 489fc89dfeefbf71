"""Investigators' commands: clusters, similar files, a seller's links, the graph export."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from forensics import graph_export, investigate
from forensics.cli_common import app, console, fail, open_store
from forensics.errors import BadInput, ExitCode
from forensics.settings import get_settings

clusters_app = typer.Typer(help="Duplicate and template clusters across sellers.", no_args_is_help=True)
app.add_typer(clusters_app, name="clusters")


@clusters_app.command("list")
def clusters_list(
    min_sellers: int = typer.Option(1, "--min-sellers", help="Only clusters spanning at least this many sellers."),
    kind: str | None = typer.Option(None, "--kind", help="duplicate (the same receipt) or template (cut from one scan)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List clusters, the widest across sellers first.

    Example: [bold]forensics clusters list --min-sellers 2 --kind template[/bold]
    """
    if kind not in (None, "duplicate", "template"):
        fail(f"--kind must be duplicate or template, not {kind!r}", ExitCode.bad_args)
    rows = investigate.list_clusters(open_store(get_settings()), kind=kind, min_sellers=min_sellers)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("cluster", "kind", "uploads", "sellers", "first seen", "last seen", title="Clusters")
    for r in rows:
        table.add_row(r["id"], r["kind"], str(r["size"]), str(r["sellers"]), str(r["first_seen"])[:19], str(r["last_seen"])[:19])
    console.print(table if rows else "No clusters.")


@clusters_app.command("show")
def clusters_show(
    cluster_id: str = typer.Argument(..., help="Cluster id, e.g. T1 or D3."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a cluster: members, sellers, the fields on which they differ, and differing boxes.

    Example: [bold]forensics clusters show T1[/bold]
    """
    detail = investigate.cluster_detail(open_store(get_settings()), cluster_id)
    if detail is None:
        fail(f"no cluster {cluster_id!r}", ExitCode.not_found)
    if as_json:
        console.print_json(json.dumps(detail, default=str))
        return
    console.print(f"[bold]{detail['id']}[/bold] {detail['kind']} cluster: {detail['size']} uploads from "
                  f"{detail['sellers'] if isinstance(detail['sellers'], int) else len(detail['sellers'])} seller(s)")
    t = Table("evidence", "seller", "uploaded", "verdict", "merchant", "serial", "date", "total")
    for m in detail["members"]:
        t.add_row(*(str(m.get(k) or "") for k in ("evidence_id", "seller_id", "uploaded_at", "verdict",
                                                   "merchant", "serial", "date", "total")))
    console.print(t)
    if detail["differing_fields"]:
        d = Table("field", *[m["evidence_id"] for m in detail["members"]], title="Fields that differ")
        for name, values in detail["differing_fields"].items():
            d.add_row(name, *(str(values.get(m["evidence_id"]) or "") for m in detail["members"]))
        console.print(d)
    for link in detail["links"]:
        boxes = f" differing boxes on {link['boxes_on']}: {link['boxes']}" if link["boxes"] else ""
        console.print(f"  {link['a']} ~ {link['b']}: {link['kind']} ({link['score']:.2f}){boxes}")


@clusters_app.command("export")
def clusters_export(
    fmt: str = typer.Option("graphml", "--format", "-f",
                            help="graphml (Gephi, yEd), gexf (Gephi), csv (edge list), neo4j (a zip of "
                                 "neo4j-admin import CSVs) or json (nodes and edges, held in memory)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of standard output."),
) -> None:
    """Export the graph of sellers, evidence, clusters and serials (every node and edge, stable ids).

    Example: [bold]forensics clusters export --format gexf --out links.gexf[/bold]
    """
    store = open_store(get_settings())
    if fmt == "json":
        text = json.dumps(investigate.graph(store), indent=1)
        if out:
            out.write_text(text, encoding="utf-8")
        else:
            print(text)
        return
    if fmt not in graph_export.WRITERS:
        fail(f"--format must be {', '.join(graph_export.WRITERS)} or json, not {fmt!r}", ExitCode.bad_args)
    if fmt == "neo4j" and out is None:
        fail("--format neo4j writes a zip: give --out FILE.zip", ExitCode.bad_args)
    size = 0
    with (out.open("wb") if out else nullcontext(sys.stdout.buffer)) as f:
        for chunk in graph_export.WRITERS[fmt](investigate.graph_parts(store)):
            f.write(chunk)
            size += len(chunk)
    if out:
        console.print(f"Wrote {size:,} bytes of {fmt} to {out}.")


@app.command()
def similar(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Any receipt or invoice file; it is not stored."),
    radius: int | None = typer.Option(None, "--radius", "-r", help="Hamming radius for hash candidates (default FORENSICS_HASH_RADIUS)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What on file looks like this file: hash candidates, each confirmed by alignment.

    Example: [bold]forensics similar suspicious.jpg --radius 12[/bold]
    """
    settings = get_settings()
    try:
        rows = investigate.similar(open_store(settings), settings, file.read_bytes(), radius=radius)
    except BadInput as exc:
        fail(f"{file} cannot be compared: {exc.message} ({exc.code})", ExitCode.bad_args)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    t = Table("evidence", "seller", "page", "their page", "pHash", "dHash", "relation", "score", title=f"Like {file.name}")
    for r in rows:
        t.add_row(r["evidence_id"], r["seller_id"], str(r["page"]), str(r["other_page"]), str(r["phash_distance"]),
                  str(r["dhash_distance"]), r.get("relation", ""), str(r.get("score", "")))
    console.print(t if rows else "Nothing on file looks like it.")


@app.command()
def seller(
    seller_id: str = typer.Argument(..., help="The seller id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A seller's evidence and every link from it to other sellers.

    Example: [bold]forensics seller S017[/bold]
    """
    rep = investigate.seller_report(open_store(get_settings()), seller_id)
    if not rep["evidence"]:
        fail(f"no evidence from seller {seller_id!r}", ExitCode.not_found)
    if as_json:
        console.print_json(json.dumps(rep))
        return
    t = Table("evidence", "status", "verdict", "risk", "uploaded", title=f"Seller {seller_id}")
    for e in rep["evidence"]:
        t.add_row(e["evidence_id"], e["status"], str(e["verdict"]), str(e["risk"]), str(e["uploaded_at"])[:19])
    console.print(t)
    if rep["links"]:
        lt = Table("evidence", "link", "other evidence", "other seller", "score", title="Links to other sellers")
        for link in rep["links"]:
            lt.add_row(link["evidence_id"], link["kind"], link["other_evidence"], link["other_seller"], f"{link['score']:.2f}")
        console.print(lt)
    else:
        console.print("No links to other sellers.")
