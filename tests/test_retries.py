"""Transient failures retry with backoff; exhausted retries become dead letters; bad input never
retries. Runs a real dramatiq Worker on the in-process StubBroker with an injected OCR crash
(the one part that cannot be made to crash for real on demand)."""

from __future__ import annotations

from pathlib import Path

import dramatiq
import pytest
from dramatiq import Worker

from forensics.errors import OcrEngineError
from forensics.settings import get_settings
from forensics.store import Store
from tests.conftest import RECEIPT_LINES, simple_receipt


@pytest.fixture
def stub_env(tmp_path: Path, monkeypatch):  # noqa: ANN001
    root = tmp_path / "blobs"
    root.mkdir()
    monkeypatch.setenv("FORENSICS_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("FORENSICS_BLOB_ROOT", str(root))
    monkeypatch.setenv("FORENSICS_BROKER_URL", "")
    monkeypatch.setenv("FORENSICS_MAX_RETRIES", "2")
    monkeypatch.setenv("FORENSICS_MIN_BACKOFF_MS", "10")
    monkeypatch.setenv("FORENSICS_MAX_BACKOFF_MS", "50")
    get_settings.cache_clear()
    from workers import actors
    from workers.broker import setup_broker

    actors._stores.clear()
    broker = setup_broker(get_settings())
    worker = Worker(broker, worker_timeout=50)
    worker.start()
    yield root, broker
    worker.stop()
    broker.close()
    get_settings.cache_clear()
    actors._stores.clear()
    dramatiq.set_broker(dramatiq.brokers.stub.StubBroker())


def crash_ocr(monkeypatch, times: int) -> list[int]:  # noqa: ANN001
    """Make the OCR engine crash on its first ``times`` calls."""
    from forensics import ocr

    calls = []
    real = ocr.get_engine

    class Crashing:
        def __init__(self, engine):  # noqa: ANN001
            self.engine, self.name = engine, engine.name

        def words(self, image):  # noqa: ANN001
            calls.append(1)
            if len(calls) <= times:
                raise OcrEngineError("tesseract was killed (injected)")
            return self.engine.words(image)

    monkeypatch.setattr(ocr, "get_engine", lambda settings: Crashing(real(settings)))
    return calls


def test_engine_crash_is_retried_until_it_works(stub_env, monkeypatch):
    root, broker = stub_env
    simple_receipt(RECEIPT_LINES).save(root / "r.png")
    calls = crash_ocr(monkeypatch, times=2)
    from workers import actors

    actors.send({"evidence_id": "E1", "seller_id": "S1", "blob": "r.png"})
    broker.join("uploads", fail_fast=False)
    store = Store(get_settings().database_url)
    assert len(calls) == 3
    assert store.get("E1")["status"] == "analyzed"
    assert store.dead_letters() == []


def test_exhausted_retries_leave_a_dead_letter_and_a_pending_record(stub_env, monkeypatch):
    root, broker = stub_env
    simple_receipt(RECEIPT_LINES).save(root / "r.png")
    calls = crash_ocr(monkeypatch, times=99)
    from workers import actors

    actors.send({"evidence_id": "E1", "seller_id": "S1", "blob": "r.png"})
    broker.join("uploads", fail_fast=False)
    store = Store(get_settings().database_url)
    assert len(calls) == 3  # first try + 2 retries
    dead = store.dead_letters()
    assert len(dead) == 1 and dead[0]["evidence_id"] == "E1" and "OcrEngineError" in dead[0]["error"]
    assert store.get("E1")["status"] == "pending"  # not lost, not mistaken for analysed
    monkeypatch.undo()
    get_settings.cache_clear()


def test_bad_input_is_recorded_once_and_never_retried(stub_env, monkeypatch):
    root, broker = stub_env
    (root / "x.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 truncated")
    calls = crash_ocr(monkeypatch, times=0)
    from workers import actors

    actors.send({"evidence_id": "E1", "seller_id": "S1", "blob": "x.jpg"})
    actors.send({"evidence_id": "no good id", "seller_id": "S1", "blob": "x.jpg"})
    broker.join("uploads", fail_fast=False)
    store = Store(get_settings().database_url)
    assert calls == []
    assert store.get("E1")["status"] == "failed"
    dead = store.dead_letters()
    assert len(dead) == 1 and dead[0]["error"].startswith("invalid_event") and dead[0]["retries"] == 0
