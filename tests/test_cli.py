"""The `forensics` command as a user runs it, on embedded defaults (SQLite, in-process)."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from forensics.cli import app
from forensics.settings import get_settings
from tests.conftest import RECEIPT_LINES, simple_receipt

runner = CliRunner()

#: every command and sub-command a user can call
COMMANDS = [["ingest"], ["export"], ["show"], ["submit"], ["demo"], ["similar"], ["seller"],
            ["db", "upgrade"], ["dead-letters", "list"], ["dead-letters", "redrive"],
            ["clusters", "list"], ["clusters", "show"], ["clusters", "export"], ["worker"],
            ["serve"], ["users", "add"], ["users", "token"], ["users", "reset"], ["users", "list"]]


@pytest.fixture
def env(cli_env: Path) -> Path:
    return cli_env


def run(*args: str, ok: tuple[int, ...] = (0,), stream: str = "stdout") -> str:
    """Run the command as a user would; return its standard output (or ``stream``: "stderr",
    or "output" for both interleaved as a terminal shows them)."""
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code in ok, result.output
    return getattr(result, stream)


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_explains_itself_with_an_example(cmd):
    out = run(*cmd, "--help", stream="output")
    assert "Example" in out, out


def _corpus(root: Path) -> Path:
    original = simple_receipt(RECEIPT_LINES)
    original.save(root / "r1.png")
    # the same receipt re-encoded and slightly rescaled by another seller
    w, h = original.size
    original.resize((int(w * 0.9), int(h * 0.9))).convert("RGB").save(root / "r1-copy.jpg", quality=70)
    other = [line.replace("CS00012345", "CS00099881").replace("33.81", "12.00") for line in RECEIPT_LINES[:4]]
    simple_receipt(other + ["TOTAL 12.00"], seed=5).save(root / "r2.png")
    (root / "junk.pdf").write_bytes(b"<html><body>not a pdf</body></html>")
    rows = [
        ("E1", "S1", "r1.png"), ("E2", "S2", "r1-copy.jpg"), ("E3", "S3", "r2.png"),
        ("E4", "S4", "junk.pdf"), ("E5", "S5", "missing.jpg"), ("bad id!", "S6", "r2.png"),
    ]
    manifest = root / "MANIFEST.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["evidence_id", "seller_id", "path"])
        w.writerows(rows)
    return manifest


def test_ingest_export_show_and_investigate(env: Path, tmp_path: Path):
    manifest = _corpus(env)
    out = run("ingest", str(manifest), ok=(3,))  # some rows failed: exit 3, batch completed
    assert "E5" in out and "blob_not_found" in out and "invalid_event" in out
    # E1 was clean at its turn; the re-upload E2 linked to it changed its verdict: said at the end
    assert "changed 1 verdict(s); the batch ends with" in " ".join(out.split()), out

    jsonl = tmp_path / "records.jsonl"
    run("export", "--format", "jsonl", "--out", str(jsonl))
    records = {r["evidence_id"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
    assert list(records) == ["E1", "E2", "E3", "E4", "E5"]  # file order = upload order
    for r in records.values():
        assert {"evidence_id", "seller_id", "status", "verdict", "risk", "sha256", "media_type", "pages",
                "fields", "findings", "checks", "clusters", "error", "analyzed_at", "analyzer_version"} <= set(r)
    assert records["E4"]["status"] == "failed" and records["E4"]["error"]["code"] == "unsupported_media"
    assert records["E5"]["error"]["code"] == "blob_not_found"
    # the re-upload is linked both ways, naming the counterpart
    dup = {f["code"]: f for f in records["E2"]["findings"]}
    assert "E1" in dup["duplicate_upload"]["related"]
    assert "E2" in {x for f in records["E1"]["findings"] for x in f["related"]}
    assert records["E1"]["clusters"] and records["E1"]["clusters"][0]["kind"] == "duplicate"
    assert records["E3"]["verdict"] != "likely_forgery"
    assert not any(f["code"] in ("duplicate_upload", "edited_copy") for f in records["E3"]["findings"])

    out = run("export", "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert [r["evidence_id"] for r in rows] == ["E1", "E2", "E3", "E4", "E5"]

    out = run("show", "E2")
    assert "duplicate_upload" in out and "Fields" in out and "Checks" in out
    assert json.loads(run("show", "E1", "--json"))["evidence_id"] == "E1"
    run("show", "nope", ok=(4,))

    clusters = json.loads(run("clusters", "list", "--min-sellers", "2", "--json"))
    assert len(clusters) == 1 and clusters[0]["sellers"] == 2
    detail = json.loads(run("clusters", "show", clusters[0]["id"], "--json"))
    assert {m["evidence_id"] for m in detail["members"]} == {"E1", "E2"}
    graphml = tmp_path / "g.graphml"
    run("clusters", "export", "--format", "graphml", "--out", str(graphml))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    nodes = {n.get("id") for n in ET.parse(graphml).getroot().iterfind(".//g:node", ns)}
    assert {"seller:S1", "evidence:E2", f"cluster:{clusters[0]['id']}"} <= nodes

    rep = json.loads(run("seller", "S2", "--json"))
    assert rep["linked_sellers"] == ["S1"]
    sim = json.loads(run("similar", str(env / "r1.png"), "--json"))
    assert {"E1", "E2"} <= {s["evidence_id"] for s in sim}
    assert all(s["relation"] in ("same_image", "same_file", "edited_copy", "same_layout", "unrelated") for s in sim)

    dead = json.loads(run("dead-letters", "list", "--json"))
    assert len(dead) == 1 and "invalid_event" in dead[0]["error"]


def test_ingest_again_is_idempotent(env: Path, tmp_path: Path):
    manifest = _corpus(env)
    run("ingest", str(manifest), ok=(3,))
    first = run("export")
    out = run("ingest", str(manifest), "--json", ok=(3,))
    # E1-E3 analysed and E4 failed with the same bytes are not redone; E5 (no file) fails again
    assert json.loads(out)["outcomes"].get("duplicate_delivery") == 4
    assert json.loads(out)["changed_by_later_uploads"] == 0  # nothing analysed, nothing changed
    second = run("export")
    # E5 is re-attempted (its file may have arrived since), so only E1-E4 must be unchanged
    strip = lambda text: [r for r in map(json.loads, text.splitlines()) if r["evidence_id"] != "E5"]  # noqa: E731
    assert strip(first) == strip(second)


def test_same_id_other_bytes_keeps_history(env: Path):
    simple_receipt(RECEIPT_LINES).save(env / "a.png")
    Image.new("L", (400, 600), 255).save(env / "b.png")
    for name in ("a.png", "b.png"):
        (env / "M.csv").write_text(f"evidence_id,seller_id,path\nE1,S1,{name}\n")
        run("ingest", str(env / "M.csv"))
    from forensics.store import Store

    store = Store(get_settings().database_url)
    assert store.count() == 1
    hist = store.history("E1")
    assert len(hist) == 1 and hist[0]["sha256"] != store.get("E1")["sha256"]


def test_enqueue_without_broker_says_what_to_do(env: Path):
    (env / "M.csv").write_text("evidence_id,seller_id,path\nE1,S1,a.png\n")
    out = run("ingest", str(env / "M.csv"), "--enqueue", ok=(2,), stream="stderr")
    assert "FORENSICS_BROKER_URL" in out


def test_manifest_without_required_columns(env: Path):
    (env / "M.csv").write_text("id,path\n1,a.png\n")
    result = runner.invoke(app, ["ingest", str(env / "M.csv")])
    assert result.exit_code == 2 and "evidence_id" in result.output
