"""Real workers on real brokers writing to real PostgreSQL.

Each test runs over Redis and RabbitMQ: an event is published by a separate process
(`forensics submit`), consumed by a real `dramatiq workers` process, and the record lands in
PostgreSQL. Duplicate deliveries leave one record; a worker killed with SIGKILL mid-task loses
nothing; bad input is recorded as failed and the worker goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forensics.settings import Settings
from forensics.store import Store
from forensics.store.schema import page_fingerprints, serials
from tests.conftest import RECEIPT_LINES, simple_receipt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
#: how long a test waits for a worker to finish a record, seconds
RECORD_TIMEOUT = 120


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request) -> str:  # noqa: ANN001
    return request.getfixturevalue(f"{request.param}_url")


def _env(settings: Settings, broker_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "FORENSICS_BROKER_URL": broker_url,
        "FORENSICS_DATABASE_URL": settings.database_url,
        "FORENSICS_BLOB_ROOT": settings.blob_root,
        # a killed Redis worker's messages come back after 2 s instead of a minute
        "FORENSICS_REDIS_HEARTBEAT_MS": "2000",
        "FORENSICS_REDIS_MAINTENANCE_CHANCE": "1000000",
        "FORENSICS_MIN_BACKOFF_MS": "200",
        "OMP_THREAD_LIMIT": "1",
        "PYTHONPATH": str(REPO),
    })
    return env


class Workers:
    """`dramatiq workers` processes started for a test, killed at its end."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = open(self.log_dir / f"worker{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "workers", "--processes", "1", "--threads", "1"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker*.log")))

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                self.kill(p, signal.SIGTERM)


@pytest.fixture
def workers(pg_settings: Settings, broker_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(_env(pg_settings, broker_url), tmp_path)
    yield w
    w.stop_all()


def submit(env: dict[str, str], file: Path, seller: str, evidence_id: str) -> None:
    """Publish from a separate process, as the marketplace would."""
    out = subprocess.run(
        [sys.executable, "-m", "forensics", "submit", str(file), "--seller", seller, "--evidence-id", evidence_id],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr + out.stdout


def wait_for(store: Store, evidence_id: str, statuses: tuple[str, ...], workers: Workers,
             timeout: float = RECORD_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = store.get(evidence_id)
        if rec and rec["status"] in statuses:
            return rec
        time.sleep(0.2)
    pytest.fail(f"{evidence_id} did not reach {statuses} in {timeout}s; last: {store.get(evidence_id)}\n"
                f"worker logs:\n{workers.logs()}")


def test_event_from_another_process_lands_in_postgres(pg_settings, workers, blob_root):
    simple_receipt(RECEIPT_LINES).save(blob_root / "r1.png")
    workers.start()
    submit(workers.env, blob_root / "r1.png", "S1", "E-int-1")
    store = Store(pg_settings.database_url)
    rec = wait_for(store, "E-int-1", ("analyzed",), workers)
    assert store.dialect == "postgresql"
    assert rec["media_type"] == "image/png" and rec["verdict"] in ("clean", "review", "likely_forgery")
    assert rec["checks"]["ocr"] == "done"
    assert "TOTAL" in store.reading("E-int-1")["text"].upper()


def test_duplicate_delivery_and_bad_input_leave_one_record_each(pg_settings, workers, blob_root):
    from workers.broker import setup_broker

    simple_receipt(RECEIPT_LINES).save(blob_root / "r1.png")
    (blob_root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    simple_receipt(RECEIPT_LINES[:5], seed=2).save(blob_root / "r2.png")
    settings = pg_settings.with_(broker_url=workers.env["FORENSICS_BROKER_URL"])
    broker = setup_broker(settings)
    from workers import actors

    event = {"evidence_id": "E-dup", "seller_id": "S1", "blob": "r1.png"}
    actors.send(event)
    actors.send(event)
    actors.send({"evidence_id": "E-bad", "seller_id": "S2", "blob": "broken.jpg"})
    actors.send({"evidence_id": "E-last", "seller_id": "S3", "blob": "r2.png"})
    broker.close()
    workers.start()
    store = Store(pg_settings.database_url)
    # one worker thread, prefetch 1: messages are handled in order, so E-last comes last
    wait_for(store, "E-last", ("analyzed",), workers)
    bad = store.get("E-bad")
    assert bad["status"] == "failed" and bad["error"]["code"] in ("corrupt_file", "unsupported_media")
    dup = store.get("E-dup")
    assert dup["status"] == "analyzed"
    codes = [f["code"] for f in dup["findings"]]
    assert len(codes) == len(set(codes))
    with store.transaction() as conn:
        pages = conn.execute(select(func.count()).select_from(page_fingerprints)
                             .where(page_fingerprints.c.evidence_id == "E-dup")).scalar_one()
        serial_rows = conn.execute(select(func.count()).select_from(serials)
                                   .where(serials.c.evidence_id == "E-dup")).scalar_one()
    assert pages == 1 and serial_rows <= 1
    assert store.count() == 3


def test_worker_killed_mid_task_loses_nothing(pg_settings, workers, blob_root):
    pages = [simple_receipt(RECEIPT_LINES, seed=i, size=30) for i in range(8)]
    pages[0].save(blob_root / "long.tiff", save_all=True, append_images=pages[1:])
    first = workers.start()
    submit(workers.env, blob_root / "long.tiff", "S1", "E-kill")
    store = Store(pg_settings.database_url)
    wait_for(store, "E-kill", ("pending",), workers, timeout=60)
    workers.kill(first)  # SIGKILL the whole worker process group mid-OCR
    assert store.get("E-kill")["status"] == "pending"
    workers.start()
    rec = wait_for(store, "E-kill", ("analyzed",), workers)
    assert rec["pages"] == 8


def test_idle_redis_consumer_polls_at_most_redis_poll_ms_apart(redis_url):
    """dramatiq backs off between polls of an idle queue up to the worker timeout it is given
    (a second by default); ours caps that at redis_poll_ms, so an idle worker starts promptly."""
    from forensics.settings import Settings
    from workers.broker import UPLOADS_QUEUE, make_broker

    broker = make_broker(Settings(broker_url=redis_url, redis_poll_ms=40))
    try:
        broker.declare_queue(UPLOADS_QUEUE)
        consumer = broker.consume(UPLOADS_QUEUE, prefetch=1, timeout=1000)
        assert consumer.timeout == 40
        assert next(consumer) is None  # an empty queue: one short backoff, no message
        consumer.close()
    finally:
        broker.close()
