"""A real `dramatiq workers` fleet on Redis, scraped as Prometheus would: three uploads (one
hostile) move the counters by exactly that, the stage histograms count two OCR passes, /healthz
and /readyz answer, and the JSON log lines of an analysis carry its ids and no OCR text."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from forensics.store import Store
from tests.conftest import RECEIPT_LINES, free_port, simple_receipt
from tests.integration.test_workers import Workers, _env, submit, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for m in re.finditer(rf"^{name}(?:\{{([^}}]*)\}})? (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if labels.items() <= found.items():
            total += float(m.group(2))
    return total


def test_worker_metrics_and_json_logs_of_three_uploads(pg_settings, redis_url, blob_root, tmp_path: Path):
    port = free_port()
    env = _env(pg_settings, redis_url)
    env.update({"FORENSICS_METRICS_PORT": str(port), "FORENSICS_METRICS_HOST": "127.0.0.1",
                "FORENSICS_LOG_FORMAT": "json", "dramatiq_prom_db": str(tmp_path / "prom")})
    (tmp_path / "prom").mkdir()
    lines = RECEIPT_LINES
    simple_receipt(lines).save(blob_root / "a.png")
    simple_receipt(lines[:3] + ["RECEIPT NO: ZZ99887766", "TOTAL 12.00"], seed=5).save(blob_root / "b.png")
    # hostile: claims to be a PNG, is a truncated header with absurd dimensions
    (blob_root / "evil.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xea\x60\x00\x00\xea\x60\x08\x02")
    workers = Workers(env, tmp_path)
    try:
        workers.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = _get(port, "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail(f"no /healthz on port {port}:\n{workers.logs()}")
        before = _get(port, "/metrics")[1]
        assert _value(before, "forensics_uploads_total") == 0
        submit(env, blob_root / "a.png", "S-obs-1", "E-obs-a")
        submit(env, blob_root / "evil.png", "S-obs-2", "E-obs-evil")
        submit(env, blob_root / "b.png", "S-obs-3", "E-obs-b")
        store = Store(pg_settings.database_url)
        for eid in ("E-obs-a", "E-obs-b"):
            wait_for(store, eid, ("analyzed",), workers)
        evil = wait_for(store, "E-obs-evil", ("failed",), workers)
        code = evil["error"]["code"]

        # the counters move after the record is written: give the last message a moment to finish
        deadline = time.monotonic() + 20
        while _value(text := _get(port, "/metrics")[1], "dramatiq_messages_total") < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _value(text, "dramatiq_messages_total", queue_name="uploads", actor_name="analyze_upload") == 3
        assert _value(text, "forensics_uploads_total", outcome="analyzed") == 2
        assert _value(text, "forensics_uploads_total", outcome="failed") == 1
        assert _value(text, "forensics_uploads_total") == 3
        assert _value(text, "forensics_upload_failures_total", code=code) == 1
        assert _value(text, "forensics_upload_failures_total") == 1
        assert _value(text, "forensics_stage_seconds_count", stage="ocr") == 2
        assert _value(text, "forensics_stage_seconds_count", stage="linking") == 2
        assert _value(text, "forensics_stage_seconds_count", stage="decode") == 3
        assert _value(text, "forensics_ocr_page_seconds_count") == 2
        assert _value(text, "forensics_match_lock_wait_seconds_count") == 2
        assert _value(text, "forensics_match_lock_held_seconds_count") == 2
        assert _value(text, "forensics_worker_threads") == 1
        assert _value(text, "forensics_dead_letters") == 0
        assert _value(text, "forensics_probe_up", part="store") == 1
        assert _value(text, "forensics_probe_up", part="broker") == 1
        assert _value(text, "forensics_queue_messages", queue="uploads") == 0
        assert _value(text, "forensics_index_hashes", kind="phash") >= 1
        status, ready = _get(port, "/readyz")
        assert status == 200 and ready.startswith("store: ok"), ready
    finally:
        workers.stop_all()

    # the JSON log lines of one analysis: all parse, all carry its id, none carries its text
    reading = store.reading("E-obs-a")["text"]
    words = {w for w in re.findall(r"[A-Z]{5,}", reading.upper())} - {"TOTAL", "RECEIPT"}
    assert words, reading
    log_lines = [line for p in sorted(tmp_path.glob("worker*.log"))
                 for line in p.read_text(errors="replace").splitlines() if line.strip()]
    records = [json.loads(line) for line in log_lines if line.startswith("{")]
    # only dramatiq's supervising processes (boot, signals), which never load our code, log text
    others = [line for line in log_lines if not line.startswith("{")]
    assert all("[dramatiq.MainProcess]" in line or "[dramatiq.ForkProcess" in line for line in others), others
    mine = [r for r in records if r.get("evidence_id") == "E-obs-a"]
    assert mine and all(r["seller_id"] == "S-obs-1" and r.get("message_id") and r.get("stage") for r in mine)
    assert any(r["stage"] == "done" for r in mine)
    for line in log_lines:
        assert not any(w in line.upper() for w in words), line
