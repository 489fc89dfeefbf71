"""How long a killed worker's message waits before another worker starts it again, per broker.

Run by hand (needs PostgreSQL, Redis and RabbitMQ on this machine)::

    .venv/bin/python bench/redelivery.py [--runs 3]

One supervised worker (`forensics worker --processes 1`) takes a long upload (an 8-page TIFF);
when its record is `pending` the worker process is SIGKILLed; the supervisor starts a new one at
once. The delay measured is from the kill to the moment the upload's analysis starts again (its
record's attempt count goes up), with the shipped defaults (FORENSICS_REDIS_HEARTBEAT_MS,
FORENSICS_REDIS_MAINTENANCE_CHANCE). Last line: ``redelivery_s redis=X rabbitmq=Y`` (medians).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.chaos import BROKERS, POSTGRES  # noqa: E402
from workers.supervisor import cpu_ticks, worker_processes  # noqa: E402


def once(broker: str) -> float:
    import psycopg

    from forensics.settings import Settings
    from forensics.store import Store
    from tests.conftest import RECEIPT_LINES, simple_receipt
    from workers.publish import publisher

    url = BROKERS[broker]
    if broker == "rabbitmq":
        for cmd in (["add_vhost", url.rsplit("/", 1)[1]], ["set_permissions", "-p", url.rsplit("/", 1)[1], "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", *cmd], capture_output=True, check=False)
    name = f"forensics_redeliver_{secrets.token_hex(3)}"
    admin = psycopg.connect(POSTGRES, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    db_url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    blobs = Path(tempfile.mkdtemp(prefix="redeliver-"))
    pages = [simple_receipt(RECEIPT_LINES, seed=i, size=30) for i in range(8)]
    pages[0].save(blobs / "long.tiff", save_all=True, append_images=pages[1:])
    env = dict(os.environ, FORENSICS_BROKER_URL=url, FORENSICS_DATABASE_URL=db_url,
               FORENSICS_BLOB_ROOT=str(blobs), OMP_THREAD_LIMIT="1", PYTHONPATH=str(ROOT))
    store = Store(db_url)
    fleet = subprocess.Popen([sys.executable, "-m", "forensics", "worker", "--processes", "1"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with publisher(Settings(database_url=db_url, broker_url=url, blob_root=str(blobs))) as send:
            send({"evidence_id": "R1", "seller_id": "S1", "blob": "long.tiff"})
        while (store.get("R1") or {}).get("status") != "pending":
            time.sleep(0.05)
        os.kill(max(worker_processes(fleet.pid), key=cpu_ticks), signal.SIGKILL)
        killed = time.monotonic()
        while store.get("R1")["status"] == "pending" and store.get("R1")["pending"]["attempts"] < 2:
            time.sleep(0.05)
        return time.monotonic() - killed
    finally:
        os.killpg(fleet.pid, signal.SIGTERM)
        fleet.wait(timeout=60)
        store.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    medians = {}
    for broker in ("redis", "rabbitmq"):
        delays = [once(broker) for _ in range(args.runs)]
        print(f"{broker}: " + ", ".join(f"{d:.1f}s" for d in delays))
        medians[broker] = statistics.median(delays)
    print(f"redelivery_s redis={medians['redis']:.1f} rabbitmq={medians['rabbitmq']:.1f}")


if __name__ == "__main__":
    main()
