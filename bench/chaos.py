"""Chaos run of the supervised worker fleet: uploads keep arriving while workers are SIGKILLed.

Run by hand, not by CI (minutes; needs PostgreSQL and Redis or RabbitMQ on this machine)::

    .venv/bin/python bench/chaos.py [--broker redis|rabbitmq|both] [--n 200] [--processes 3]
                                    [--kill-every 20] [--hostile 0.1]

For each broker: a fresh PostgreSQL database, `forensics worker --processes P` (the shipped
supervisor), N uploads published at once — receipt scans of ../shared/datasets/sroie-dev when
present (else generated receipts), with a share of hostile files from fixtures/bad_inputs.py
mixed in, the 20-page PDF of 5 m pages among them — and every K seconds one worker process (the
busiest) killed with SIGKILL, as the OOM killer would. It prints uploads sent, records analysed,
failed by code, lost (sent but never recorded: must be 0), duplicated registrations or findings
(must be 0), how long after each kill a new worker was ready (from the fleet's log), the longest
time with no worker process alive, and p50/p95 seconds from publish to record. Last line per
broker: ``chaos broker=B sent=N analyzed=A failed=F lost=L duplicated=D back_max_s=X
no_consumer_max_s=Y p95_s=Z``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from workers.supervisor import cpu_ticks, worker_processes  # noqa: E402

SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
POSTGRES = "postgresql://root@127.0.0.1:5432/test"
BROKERS = {"redis": "redis://127.0.0.1:6379/9", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/forensics_chaos"}


def corpus(root: Path, n: int, hostile: float, rng: random.Random) -> list[tuple[str, str]]:
    """(evidence id, blob) for N uploads; about ``hostile`` of them bad input."""
    from fixtures.bad_inputs import bad_input_corpus

    bad = [c for c in bad_input_corpus() if c.expect != "ok"]
    scans = sorted(SROIE.glob("*.jpg")) if SROIE.is_dir() else []
    out = []
    n_bad = max(1, round(n * hostile))
    bad_slots = set(rng.sample(range(n), n_bad))
    expensive = next(c for c in bad if c.name == "pdf_20_huge_pages")
    for i in range(n):
        eid = f"C{i:04d}"
        if i in bad_slots:
            case = expensive if i == min(bad_slots) else rng.choice(bad)
            name = f"{eid}-{case.filename}"
            (root / name).write_bytes(case.data)
        elif scans:
            name = f"{eid}.jpg"
            shutil.copyfile(scans[i % len(scans)], root / name)
        else:
            from tests.conftest import RECEIPT_LINES, simple_receipt

            name = f"{eid}.png"
            simple_receipt(RECEIPT_LINES, seed=i).save(root / name)
        out.append((eid, name))
    return out


def run(broker: str, args: argparse.Namespace) -> str:
    import psycopg

    from forensics.settings import Settings
    from forensics.store import Store
    from workers.publish import publisher

    url = BROKERS[broker]
    if broker == "rabbitmq":
        vhost = url.rsplit("/", 1)[1]
        for cmd in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", *cmd], capture_output=True, check=False)
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        for q in ("uploads", "uploads.DQ", "uploads.XQ"):
            try:
                ch.queue_purge(q)
            except Exception:  # noqa: BLE001
                ch = conn.channel()
        conn.close()
    else:
        import redis

        redis.Redis.from_url(url).flushdb()
    name = f"forensics_chaos_{secrets.token_hex(3)}"
    admin = psycopg.connect(POSTGRES, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    db_url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    blobs = work / "blobs"
    blobs.mkdir()
    rng = random.Random(args.seed)
    uploads = corpus(blobs, args.n, args.hostile, rng)
    settings = Settings(database_url=db_url, broker_url=url, blob_root=str(blobs))
    store = Store(db_url)
    env = dict(os.environ, FORENSICS_BROKER_URL=url, FORENSICS_DATABASE_URL=db_url,
               FORENSICS_BLOB_ROOT=str(blobs), OMP_THREAD_LIMIT="1", PYTHONPATH=str(ROOT))
    log_path = work / "fleet.log"
    log = log_path.open("wb")
    fleet = subprocess.Popen([sys.executable, "-m", "forensics", "worker", "--processes", str(args.processes)],
                             cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    published: dict[str, float] = {}
    kills: list[float] = []
    stop = threading.Event()
    no_consumer = {"longest": 0.0, "since": None, "seen": False}

    def watch() -> None:
        next_kill = time.monotonic() + args.kill_every
        while not stop.is_set():
            alive = worker_processes(fleet.pid)
            now = time.monotonic()
            no_consumer["seen"] = no_consumer["seen"] or bool(alive)
            if not alive and no_consumer["seen"]:
                no_consumer["since"] = no_consumer["since"] or now
                no_consumer["longest"] = max(no_consumer["longest"], now - no_consumer["since"])
            else:
                no_consumer["since"] = None
            if now >= next_kill and alive:
                victim = max(alive, key=cpu_ticks)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills.append(time.time())
                except ProcessLookupError:
                    pass
                next_kill = now + args.kill_every
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        time.sleep(3)  # the fleet boots
        watcher.start()
        with publisher(settings) as send:
            for eid, blob in uploads:
                send({"evidence_id": eid, "seller_id": f"S{rng.randrange(40):02d}", "blob": blob,
                      "uploaded_at": datetime.now(UTC).isoformat()})
                published[eid] = time.time()
        deadline = time.monotonic() + args.timeout
        last_line = 0.0
        while time.monotonic() < deadline:
            done = store.count(status="analyzed") + store.count(status="failed")
            if done >= len(uploads) or time.monotonic() - last_line >= 15:
                print(f"{broker}: {done}/{len(uploads)} recorded, {len(kills)} kill(s)", flush=True)
                last_line = time.monotonic()
            if done >= len(uploads):
                break
            time.sleep(2)
    finally:
        stop.set()
        watcher.join(timeout=5)
        os.killpg(fleet.pid, signal.SIGTERM)
        try:
            fleet.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(fleet.pid, signal.SIGKILL)
        log.close()

    records = {r["evidence_id"]: r for r in store.records()}
    status = Counter(r["status"] for r in records.values())
    failed = Counter((r.get("error") or {}).get("code") for r in records.values() if r["status"] == "failed")
    lost = sorted(set(published) - {e for e, r in records.items() if r["status"] in ("analyzed", "failed")})
    from sqlalchemy import func, select

    from forensics.store.schema import page_fingerprints

    with store.transaction() as conn:
        registered = dict(conn.execute(select(page_fingerprints.c.evidence_id, func.count())
                                       .group_by(page_fingerprints.c.evidence_id)).all())
    duplicated = [e for e, r in records.items()
                  if (r["status"] == "analyzed" and registered.get(e, 0) > (r.get("pages") or 0))
                  or len({(f["code"], f["message"]) for f in r["findings"]}) != len(r["findings"])]
    latency = sorted(_ts(r["analyzed_at"]) - published[e] for e, r in records.items()
                     if r.get("analyzed_at") and e in published)
    # "Worker process is ready for action", in dramatiq's log format or ours
    ready = [_log_ts(m.group(1)) for line in log_path.read_text(errors="replace").splitlines()
             if "Worker process is ready" in line
             and (m := re.search(r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3})", line))]
    back = [min((r - k for r in ready if r > k), default=float("inf")) for k in kills]
    p50 = statistics.median(latency) if latency else float("nan")
    p95 = latency[int(0.95 * (len(latency) - 1))] if latency else float("nan")
    print(f"{broker}: sent {len(published)}, analyzed {status['analyzed']}, failed {status['failed']} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(failed.items()))}), lost {len(lost)} {lost[:5]}, "
          f"duplicated {len(duplicated)} {duplicated[:5]}")
    print(f"{broker}: {len(kills)} kill(s); a new worker ready after "
          + (", ".join(f"{b:.1f}s" for b in back) or "-")
          + f"; longest time with no worker process {no_consumer['longest']:.1f}s; publish->record p50 {p50:.1f}s p95 {p95:.1f}s")
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    store.close()
    shutil.rmtree(work, ignore_errors=True)
    return (f"chaos broker={broker} sent={len(published)} analyzed={status['analyzed']} failed={status['failed']} "
            f"lost={len(lost)} duplicated={len(duplicated)} back_max_s={max(back, default=0):.1f} "
            f"no_consumer_max_s={no_consumer['longest']:.1f} p95_s={p95:.1f}")


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _log_ts(text: str) -> float:
    """A log line's local time stamp, as seconds since the epoch."""
    return datetime.strptime(text.replace("T", " ").replace(".", ","), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", choices=["redis", "rabbitmq", "both"], default="both")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--kill-every", type=float, default=20.0)
    ap.add_argument("--hostile", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for every record")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    lines = [run(b, args) for b in (["redis", "rabbitmq"] if args.broker == "both" else [args.broker])]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
