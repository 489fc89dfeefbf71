"""Graph exports (GraphML, GEXF, edge CSV, Neo4j import CSVs), each read back: over the API on
both back ends and from the CLI."""

from __future__ import annotations

import csv
import io
import zipfile

import networkx as nx
from typer.testing import CliRunner

API = "/api/v1"


def _expected(api) -> tuple[set[str], int]:  # noqa: ANN001
    """Node ids and edge count of the store, from the same parts the writers read."""
    from forensics import investigate

    parts = investigate.graph_parts(api.store)
    return {n["id"] for n in parts("nodes")}, sum(1 for _ in parts("edges"))


def _get(api, fmt: str):  # noqa: ANN001, ANN202
    r = api.client.get(f"{API}/export?format={fmt}", headers=api.headers("investigator"))
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    return r


def test_graphml_and_gexf_read_back_with_networkx(api):
    nodes, edges = _expected(api)
    assert {"seller:S1", "evidence:W1", "serial:tax:001234567890:CS00012345"} <= nodes
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        g = reader(io.BytesIO(_get(api, fmt).content))
        assert set(g.nodes) == nodes, fmt
        # a multigraph could keep parallel edges; ours are read as a simple graph: compare pairs
        kinds = {d.get("kind") for _, _, d in g.edges(data=True)}
        assert {"uploaded", "member_of", "has_serial"} <= kinds, fmt
        if fmt == "graphml":
            assert g.nodes["evidence:W1"]["type"] == "evidence" and g.nodes["seller:S2"]["label"] == "S2"
        else:
            assert g.nodes["evidence:W1"]["label"] == "W1" and g.nodes["evidence:W1"]["type"] == "evidence"
    rows = list(csv.DictReader(io.StringIO(_get(api, "csv").text)))
    assert len(rows) == edges and {r["kind"] for r in rows} >= {"uploaded", "member_of"}
    assert {r["source"] for r in rows} | {r["target"] for r in rows} <= nodes


def test_neo4j_import_set_is_consistent(api):
    nodes, edges = _expected(api)
    zf = zipfile.ZipFile(io.BytesIO(_get(api, "neo4j").content))
    assert set(zf.namelist()) == {"nodes.csv", "relationships.csv", "import.sh"}
    node_rows = list(csv.reader(io.StringIO(zf.read("nodes.csv").decode())))
    header, body = node_rows[0], node_rows[1:]
    assert header[0] == "id:ID" and header[-1] == ":LABEL" and "risk:int" in header
    assert {r[0] for r in body} == nodes and len(body) == len(nodes)  # ids unique: import refuses duplicates
    assert {r[-1] for r in body} == {"Seller", "Evidence", "Cluster", "Serial"}
    rel_rows = list(csv.reader(io.StringIO(zf.read("relationships.csv").decode())))
    assert rel_rows[0] == [":START_ID", ":END_ID", ":TYPE", "score:float"]
    assert len(rel_rows) - 1 == edges
    assert all(r[0] in nodes and r[1] in nodes and r[2].isupper() for r in rel_rows[1:])
    assert "neo4j-admin database import full" in zf.read("import.sh").decode()


def test_exports_are_stable_and_refuse_unknown_formats(api):
    assert _get(api, "graphml").content == _get(api, "graphml").content
    r = api.client.get(f"{API}/export?format=dot", headers=api.headers("investigator"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_cli_export_writes_each_format(api, tmp_path, monkeypatch):
    from forensics.cli import app
    from forensics.settings import get_settings

    monkeypatch.setenv("FORENSICS_DATABASE_URL", api.settings.database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        nodes, _ = _expected(api)
        for fmt in ("gexf", "graphml", "neo4j"):
            out = tmp_path / f"g.{fmt}"
            result = runner.invoke(app, ["clusters", "export", "--format", fmt, "--out", str(out)])
            assert result.exit_code == 0, result.output
        assert set(nx.read_gexf(tmp_path / "g.gexf").nodes) == nodes
        assert set(nx.read_graphml(tmp_path / "g.graphml").nodes) == nodes
        assert zipfile.ZipFile(tmp_path / "g.neo4j").testzip() is None
        bad = runner.invoke(app, ["clusters", "export", "--format", "dot"])
        assert bad.exit_code != 0 and "must be" in bad.output
    finally:
        get_settings.cache_clear()


def test_batched_reads_walk_every_row(api):
    """The exports read in keyset batches: a batch of one row reads the same rows as one batch."""
    from forensics.store import investigations as inv

    with api.store.transaction() as conn:
        for read in (inv.evidence_nodes, inv.cluster_nodes, inv.serial_links, inv.member_links, inv.relation_links):
            whole = [tuple(r) for r in read(conn, 100_000)]
            assert [tuple(r) for r in read(conn, 1)] == whole and whole, read.__name__
