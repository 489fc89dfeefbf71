"""What broke when a new user tried the README (issue: hardening), each reproduced here.

Bad manifest rows, paths outside the blob root, records in flight, the CLI's exit codes, ids
claimed by another seller, blank pages, documents too expensive to read, workers that died on an
upload, and progress off a terminal.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from fixtures.bad_inputs import many_pages_pdf
from forensics.cli import app
from forensics.cli_common import BatchProgress
from forensics.events import UploadEvent
from forensics.pipeline import analyse
from forensics.settings import Settings, get_settings
from forensics.store import Store
from tests.conftest import RECEIPT_LINES, simple_receipt

runner = CliRunner()


@pytest.fixture
def env(cli_env: Path) -> Path:
    return cli_env


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(result) -> str:  # noqa: ANN001
    """The error a command printed: one line on standard error, no traceback."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and "Traceback" not in result.output, result.output
    assert lines[-1].startswith("error:"), result.stderr
    return lines[-1]


# -- manifests ----------------------------------------------------------------------------------


def test_a_row_without_a_path_is_recorded_and_the_batch_goes_on(env: Path):
    simple_receipt(RECEIPT_LINES).save(env / "r1.png")
    (env / "M.csv").write_text("evidence_id,seller_id,path\nM1,S1,r1.png\nM2,S1\n,S9,r1.png\nM3,S2,r1.png\n")
    result = invoke("ingest", str(env / "M.csv"), "--json")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 4
    assert summary["outcomes"]["invalid_event"] == 1 and summary["outcomes"]["invalid_row"] == 1
    store = Store(get_settings().database_url)
    m2 = store.get("M2")
    assert m2["status"] == "failed" and m2["error"]["code"] == "invalid_event" and "blob" in m2["error"]["message"]
    assert store.get("M3")["status"] == "analyzed"  # the row after the bad ones ran
    assert {p["evidence_id"] for p in summary["problems"]} == {"M2", "line 4"}


def test_a_latin1_manifest_is_read(env: Path):
    simple_receipt(RECEIPT_LINES).save(env / "r1.png")
    (env / "M.csv").write_bytes("evidence_id,seller_id,path,brand\nL1,S1,r1.png,Caf\xe9 Cr\xe8me\n".encode("latin-1"))
    result = invoke("ingest", str(env / "M.csv"))
    assert result.exit_code == 0, result.output
    assert "not UTF-8" in result.stderr
    assert Store(get_settings().database_url).get("L1")["brand"] == "Café Crème"


def test_paths_outside_the_blob_root_are_refused_naming_the_root(env: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    simple_receipt(RECEIPT_LINES).save(outside / "outside.png")
    (env / "link.png").symlink_to(outside / "outside.png")
    (outside / "M.csv").write_text("evidence_id,seller_id,path\nO1,S1,outside.png\n")
    (env / "M.csv").write_text("evidence_id,seller_id,path\nO2,S1,link.png\n")
    assert invoke("ingest", str(outside / "M.csv")).exit_code == 3
    assert invoke("ingest", str(env / "M.csv")).exit_code == 3
    store = Store(get_settings().database_url)
    for eid in ("O1", "O2"):
        error = store.get(eid)["error"]
        assert error["code"] == "blob_outside_root", error
        assert str(env) in error["message"] and "FORENSICS_BLOB_ROOT" in error["message"]
    assert store.reading("O1") is None  # never read


def test_progress_off_a_terminal_prints_lines():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    with BatchProgress("ingest", 7, console=console, every_rows=3, every_seconds=3600) as progress:
        for i in range(7):
            progress.advance(failed=i == 0)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("ingest: 3/7 done, 1 failed") and "rows/s" in lines[0] and "eta" in lines[0]
    assert lines[-1].startswith("ingest: 7/7 done, 1 failed")
    assert len(lines) == 3


# -- records in every state ---------------------------------------------------------------------


def test_show_renders_a_pending_record_and_says_it_waits(env: Path):
    store = Store(get_settings().database_url)
    event = UploadEvent.from_json({"evidence_id": "P1", "seller_id": "S1", "blob": "x.png"})
    store.begin(event, "0" * 64)
    result = invoke("show", "P1")
    assert result.exit_code == 0, result.output
    assert "pending" in result.stdout and "since" in result.stdout and "redeliver" in result.stdout
    assert json.loads(invoke("show", "P1", "--json").stdout)["pending"]["attempts"] == 1


def test_show_renders_markup_like_text_as_text(env: Path):
    lines = ["[bold]SHOP[/] [/red] LTD", "RECEIPT NO: [/]12345", *RECEIPT_LINES[4:]]
    simple_receipt(lines).save(env / "m.png")
    assert invoke("ingest", _manifest(env, [("K1", "S1", "m.png")])).exit_code == 0
    for status_args in (["show", "K1"], ["show", "K1", "--text"]):
        result = invoke(*status_args)
        assert result.exit_code == 0, result.output


def test_a_blank_page_is_not_clean(env: Path):
    Image.new("L", (800, 1200), 250).save(env / "blank.png")
    invoke("ingest", _manifest(env, [("B1", "S1", "blank.png")]))
    rec = Store(get_settings().database_url).get("B1")
    assert rec["status"] == "analyzed" and rec["verdict"] == "review"
    assert "nothing_read" in {f["code"] for f in rec["findings"]}
    out = invoke("show", "B1").stdout
    assert "Nothing in this document calls for a reviewer" not in out and "No text could be read" in " ".join(out.split())


# -- exit codes ---------------------------------------------------------------------------------


def test_unknown_ids_and_bad_arguments_exit_non_zero_with_one_line(env: Path, tmp_path: Path):
    (env / "README.md").write_text("# not a receipt\n")
    cases = [
        (["seller", "NOPE"], 4), (["seller", "NOPE", "--json"], 4),
        (["clusters", "list", "--kind", "bogus"], 2), (["clusters", "show", "T999"], 4),
        (["dead-letters", "redrive", "99"], 4), (["show", "nope"], 4),
        (["similar", str(env / "README.md")], 2),
        (["export", "-o", str(tmp_path / "missing" / "dir" / "x.jsonl")], 2),
        (["export", "--format", "xml"], 2),
    ]
    for args, code in cases:
        result = invoke(*args)
        assert result.exit_code == code, (args, result.output)
        one_line_error(result)


def test_submit_refuses_what_the_worker_would_refuse(env: Path):
    simple_receipt(RECEIPT_LINES).save(env / "r.png")
    bad = [
        ["--evidence-id", "E'; DROP TABLE evidence;--"],
        ["--claim", "total"],
        ["--claim", "total=abc"],
        ["--claim", "currency=euro"],
        ["--claim", "totl=12.50"],
    ]
    for extra in bad:
        result = invoke("submit", str(env / "r.png"), "--seller", "S1", *extra)
        assert result.exit_code == 2, (extra, result.output)
        one_line_error(result)
    assert Store(get_settings().database_url).count() == 0  # nothing was analysed or published


def test_submit_with_the_broker_down_says_which_url(env: Path, monkeypatch):  # noqa: ANN001
    simple_receipt(RECEIPT_LINES).save(env / "r.png")
    monkeypatch.setenv("FORENSICS_BROKER_URL", "redis://:secret@127.0.0.1:9/0")
    get_settings.cache_clear()
    from forensics.cli import main

    monkeypatch.setattr("sys.argv", ["forensics", "submit", str(env / "r.png"), "--seller", "S1"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 6


def test_the_worker_and_submit_share_one_rule_for_claims():
    with pytest.raises(Exception) as info:
        UploadEvent.from_json({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png", "claimed": {"total": "abc"}})
    assert getattr(info.value, "code", "") == "invalid_event"
    ok = UploadEvent.from_json({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png",
                                "claimed": {"total": "RM 1,234.50", "date": "15/03/2024", "x": "y"}})
    assert ok.claimed == {"total": "RM 1,234.50", "date": "15/03/2024"}


# -- one id, one seller -------------------------------------------------------------------------


def test_an_id_from_another_seller_is_a_conflict_and_the_first_record_stays(settings: Settings, blob_root: Path):
    simple_receipt(RECEIPT_LINES).save(blob_root / "a.png")
    simple_receipt(RECEIPT_LINES[:6], seed=3).save(blob_root / "b.png")
    store = Store(settings.database_url)
    first = analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png"}, store, settings).record
    outcome = analyse({"evidence_id": "E1", "seller_id": "S2", "blob": "b.png"}, store, settings)
    assert outcome.action == "conflict" and outcome.error["code"] == "evidence_conflict"
    assert "S1" in outcome.error["message"] and "S2" in outcome.error["message"]
    again = analyse({"evidence_id": "E1", "seller_id": "S2", "blob": "missing.png"}, store, settings)
    assert again.action == "conflict"
    now = store.get("E1")
    assert now["seller_id"] == "S1" and now["sha256"] == first["sha256"] and now["status"] == "analyzed"
    assert now["findings"] == first["findings"]
    conflicts = [h for h in store.history("E1") if h["kind"] == "conflict"]
    assert [h["seller_id"] for h in conflicts] == ["S2", "S2"]


# -- budgets ------------------------------------------------------------------------------------


def test_a_document_too_expensive_to_read_fails_at_once(settings: Settings, blob_root: Path):
    (blob_root / "huge.pdf").write_bytes(many_pages_pdf(20, (14400, 14400)))
    store = Store(settings.database_url)
    rec = analyse({"evidence_id": "H1", "seller_id": "S1", "blob": "huge.pdf"}, store, settings).record
    assert rec["status"] == "failed" and rec["error"]["code"] == "too_expensive"
    assert "FORENSICS_MAX_DOCUMENT_PIXELS" in rec["error"]["message"]
    # one huge page alone is within the budget: rendered at a lower DPI, under render_max_pixels
    (blob_root / "one.pdf").write_bytes(many_pages_pdf(1, (14400, 14400)))
    one = analyse({"evidence_id": "H2", "seller_id": "S1", "blob": "one.pdf"}, store,
                  settings.with_(render_max_pixels=2_000_000)).record
    assert one["status"] == "analyzed"


def test_reading_past_the_document_time_budget_fails(settings: Settings, blob_root: Path):
    pages = [simple_receipt(RECEIPT_LINES[:4], seed=i) for i in range(3)]
    pages[0].save(blob_root / "three.tiff", save_all=True, append_images=pages[1:])
    store = Store(settings.database_url)
    rec = analyse({"evidence_id": "T1", "seller_id": "S1", "blob": "three.tiff"}, store,
                  settings.with_(document_timeout=0.0)).record
    assert rec["error"]["code"] == "too_expensive" and "FORENSICS_DOCUMENT_TIMEOUT" in rec["error"]["message"]


def test_running_out_of_memory_ends_as_too_expensive(settings: Settings, blob_root: Path, monkeypatch):  # noqa: ANN001
    # fault injection (the way OCRmyPDF's tests simulate an OOM): the allocation that fails
    simple_receipt(RECEIPT_LINES).save(blob_root / "r.png")

    def no_memory(*_a, **_k):  # noqa: ANN002, ANN003
        raise MemoryError

    monkeypatch.setattr("forensics.pipeline.extract", no_memory)
    store = Store(settings.database_url)
    rec = analyse({"evidence_id": "M1", "seller_id": "S1", "blob": "r.png"}, store, settings).record
    assert rec["status"] == "failed" and rec["error"]["code"] == "too_expensive"


def test_an_upload_that_keeps_killing_its_worker_ends_failed(settings: Settings, blob_root: Path):
    import hashlib

    simple_receipt(RECEIPT_LINES).save(blob_root / "r.png")
    sha = hashlib.sha256((blob_root / "r.png").read_bytes()).hexdigest()
    store = Store(settings.database_url)
    event = UploadEvent.from_json({"evidence_id": "K1", "seller_id": "S1", "blob": "r.png"})
    for _ in range(settings.worker_crash_limit):  # each start died before it could finish
        assert store.begin(event, sha)[0] == "analyse"
    rec = analyse(event, store, settings).record
    assert rec["status"] == "failed" and rec["error"]["code"] == "worker_crashed"


def test_the_memory_limit_is_applied_in_a_child_process(tmp_path: Path):
    import subprocess
    import sys

    code = ("import resource; from workers.limits import apply_memory_limit; apply_memory_limit(2048); "
            "print(resource.getrlimit(resource.RLIMIT_AS)[0]); "
            "import numpy\ntry:\n    numpy.ones(3 * 1024**3, dtype='uint8')\nexcept MemoryError:\n    print('refused')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1], env=dict(os.environ))
    assert out.stdout.split() == [str(2048 * 1024 * 1024), "refused"], out.stderr


def test_a_worker_inside_another_program_leaves_its_memory_limit_alone():
    import resource

    import dramatiq

    from workers.broker import make_broker

    before = resource.getrlimit(resource.RLIMIT_AS)
    broker = make_broker(Settings(worker_memory_mb=1024))  # the in-process stub broker
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    worker.stop()
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def _manifest(root: Path, rows: list[tuple[str, str, str]]) -> str:
    path = root / "M.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["evidence_id", "seller_id", "path"])
        w.writerows(rows)
    return str(path)
