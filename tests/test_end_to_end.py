"""End to end on embedded defaults: a generated corpus through `forensics ingest` and `export`,
and the bad-input corpus through the pipeline in one process that must survive all of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.bad_inputs import bad_input_corpus
from fixtures.corpus import build_demo_corpus
from forensics.cli import app
from forensics.pipeline import analyse
from forensics.settings import Settings, get_settings
from forensics.store import Store

#: kinds a reviewer must be sent to, and the finding codes that may send them
FLAGGED_KINDS = {"reupload", "edited_copy", "serial_reuse", "tampered_total", "invoice_edited", "fapiao_bad_tax_id"}


@pytest.fixture(scope="module")
def demo_records(tmp_path_factory) -> tuple[dict, dict]:  # noqa: ANN001
    tmp = tmp_path_factory.mktemp("e2e")
    corpus = build_demo_corpus(tmp / "demo", seed=11)
    # as `forensics demo` reads it: the corpus has Chinese fapiao
    env = {"FORENSICS_DATABASE_URL": f"sqlite:///{tmp / 'e2e.db'}", "FORENSICS_BLOB_ROOT": str(tmp / "demo"),
           "FORENSICS_BROKER_URL": "", "FORENSICS_OCR_LANGS": "eng+chi_sim"}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["ingest", str(corpus.manifest)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out = runner.invoke(app, ["export", "--format", "jsonl"], catch_exceptions=False).output
    finally:
        mp.undo()
        get_settings.cache_clear()
    records = {r["evidence_id"]: r for r in map(json.loads, out.splitlines())}
    return records, {e.evidence_id: e for e in corpus.evidence}


def test_every_upload_has_a_complete_record(demo_records):
    records, truth = demo_records
    assert set(records) == set(truth)
    for r in records.values():
        assert r["status"] == "analyzed", r
        assert r["checks"]["ocr"] and r["checks"]["duplicates"] and r["checks"]["serial_registry"]
        for f in r["findings"]:
            assert f["message"].endswith(".") and f["severity"] in ("info", "low", "medium", "high")


def test_copies_are_linked_to_their_counterparts(demo_records):
    records, truth = demo_records
    for eid, t in truth.items():
        if t.kind in ("reupload", "edited_copy", "serial_reuse"):
            related = {x for f in records[eid]["findings"] if f["severity"] != "info" for x in f["related"]}
            assert set(t.related) <= related, (eid, t.kind, records[eid]["findings"])
            assert records[eid]["verdict"] != "clean"


def test_forgeries_are_flagged_and_honest_receipts_are_not(demo_records):
    records, truth = demo_records
    for eid, t in truth.items():
        verdict = records[eid]["verdict"]
        if t.kind in FLAGGED_KINDS:
            assert verdict in ("review", "likely_forgery"), (eid, t.kind, records[eid]["findings"])
        elif t.kind in ("honest", "invoice", "fapiao"):
            if t.related:  # an honest original whose copy was uploaded later is linked, by design
                continue
            assert verdict == "clean", (eid, t.kind, records[eid]["findings"])


def test_templates_form_one_cluster_across_sellers(demo_records):
    records, truth = demo_records
    copies = [eid for eid, t in truth.items() if t.kind == "edited_copy"]
    ids = {c["id"] for eid in copies for c in records[eid]["clusters"] if c["kind"] == "template"}
    assert len(ids) == 1
    cluster = next(c for c in records[copies[0]]["clusters"] if c["kind"] == "template")
    assert cluster["size"] == len(copies) and cluster["sellers"] == len({truth[e].seller_id for e in copies})


def test_bad_inputs_end_as_failed_records_and_the_process_lives_on(tmp_path: Path):
    root = tmp_path / "blobs"
    root.mkdir()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bad.db'}", blob_root=str(root))
    store = Store(settings.database_url)
    cases = bad_input_corpus(settings.max_file_bytes)
    for i, case in enumerate(cases):
        (root / f"{i}-{case.filename}").write_bytes(case.data)
    for i, case in enumerate(cases):
        event = {"evidence_id": f"B{i}", "seller_id": "S1", "blob": f"{i}-{case.filename}"}
        if case.claimed_type:
            event["content_type"] = case.claimed_type
        analyse(event, store, settings)
    for i, case in enumerate(cases):
        rec = store.get(f"B{i}")
        if case.expect == "ok":
            assert rec["status"] == "analyzed", (case, rec["error"])
            if case.media_type:
                assert rec["media_type"] == case.media_type
        else:
            assert rec["status"] == "failed" and rec["error"]["code"] == case.expect, (case, rec["error"])
            assert rec["error"]["message"] and rec["verdict"] == "error"
    mismatch = [store.get(f"B{i}") for i, c in enumerate(cases)
                if c.expect == "ok" and c.claimed_type and c.media_type and c.claimed_type != c.media_type]
    assert mismatch and all("content_type_mismatch" in {f["code"] for f in r["findings"]} for r in mismatch)
    # the outside-root and missing-file blobs of the contract
    analyse({"evidence_id": "X1", "seller_id": "S1", "blob": "../../etc/passwd"}, store, settings)
    analyse({"evidence_id": "X2", "seller_id": "S1", "blob": "nope.jpg"}, store, settings)
    assert store.get("X1")["error"]["code"] == "blob_outside_root"
    assert store.get("X2")["error"]["code"] == "blob_not_found"


def test_the_pipeline_runs_opencv_on_one_thread():
    # a fresh process: OpenCV starts with a thread per core, the pipeline's import leaves one
    import subprocess
    import sys

    code = "import cv2; n = cv2.getNumThreads(); import forensics.pipeline; print(n, cv2.getNumThreads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"OPENCV_FOR_THREADS_NUM": "2", "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["2", "1"]
