"""How long an idle Redis worker takes to start a message: ours vs dramatiq's default polling.

Run by hand, not by CI (needs a Redis; use a database of your own)::

    .venv/bin/python bench/idle_latency.py --redis redis://127.0.0.1:6379/14 [--samples 12]

One in-process dramatiq worker (one thread) per side, on its own queue of a throwaway actor that
notes when it starts. Each sample waits ``--idle`` seconds (long enough for dramatiq's backoff
to reach its ceiling), sends one message and measures send -> start. The two sides alternate
sample by sample in this run: the baseline is dramatiq's RedisBroker as it comes (idle polls up
to its worker timeout, 1 s, apart); ours is ``workers.broker.make_broker`` (``redis_poll_ms``).
The last line is ``idle_start_ms_p50=X p95=Y baseline_p50=Z baseline_p95=W ratio_p50=R``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import dramatiq  # noqa: E402
from dramatiq.brokers.redis import RedisBroker  # noqa: E402

from forensics.settings import Settings  # noqa: E402
from workers.broker import make_broker  # noqa: E402


class Side:
    """One broker, one worker, one actor that reports when it starts."""

    def __init__(self, name: str, broker: dramatiq.Broker) -> None:
        self.name = name
        self.broker = broker
        self.started = threading.Event()
        self.at = 0.0
        self.samples: list[float] = []

        def ping(_sent: float) -> None:
            self.at = time.perf_counter()
            self.started.set()

        self.actor = dramatiq.actor(ping, actor_name=f"bench_idle_{name}", queue_name=f"bench_idle_{name}",
                                    broker=broker, max_retries=0)
        self.worker = dramatiq.Worker(broker, worker_threads=1, queues={f"bench_idle_{name}"})

    def sample(self) -> None:
        self.started.clear()
        sent = time.perf_counter()
        self.actor.send(sent)
        if not self.started.wait(10):
            raise SystemExit(f"{self.name}: no start within 10 s")
        self.samples.append((self.at - sent) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis", default=os.environ.get("FORENSICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
                    help="a Redis database of your own")
    ap.add_argument("--samples", type=int, default=12, help="samples per side")
    ap.add_argument("--idle", type=float, default=3.0, help="seconds idle before each sample")
    args = ap.parse_args()
    settings = Settings(broker_url=args.redis)
    ours = Side("ours", make_broker(settings))
    base = Side("baseline", RedisBroker(url=args.redis))
    for side in (ours, base):
        side.broker.flush_all()
        side.worker.start()
    try:
        for _ in range(args.samples):
            for side in (ours, base):
                time.sleep(args.idle)
                side.sample()
    finally:
        for side in (ours, base):
            side.worker.stop()
            side.broker.close()

    def pct(xs: list[float], q: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]

    for side in (ours, base):
        print(f"{side.name:8s} send->start ms: p50={statistics.median(side.samples):.1f} "
              f"p95={pct(side.samples, 0.95):.1f} max={max(side.samples):.1f} (n={len(side.samples)})")
    p50, b50 = statistics.median(ours.samples), statistics.median(base.samples)
    print(f"idle_start_ms_p50={p50:.1f} p95={pct(ours.samples, 0.95):.1f} baseline_p50={b50:.1f} "
          f"baseline_p95={pct(base.samples, 0.95):.1f} ratio_p50={p50 / b50:.3f}")


if __name__ == "__main__":
    main()
