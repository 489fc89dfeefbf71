"""Metrics measured when Prometheus scrapes, not counted by workers: what the store and the
broker hold right now (dead letters, fingerprints on file, queue depth and age, consumers).

Each probe is bounded by short timeouts; a probe that fails reports ``forensics_probe_up`` 0
for its part and leaves its other metrics out of that scrape (absent, never a made-up zero).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from forensics.settings import Settings

log = logging.getLogger(__name__)

#: seconds a probe waits for the store or the broker
PROBE_TIMEOUT = 3
#: dramatiq's Redis key namespace (RedisBroker's default)
REDIS_NAMESPACE = "dramatiq"


class ScrapeCollector(Collector):
    """Store and broker state at scrape time, for one fleet's settings."""

    _stores: dict[str, object] = {}

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("forensics_probe_up", "1 when the scrape-time probe of a part answered.",
                               labels=["part"])
        try:
            yield from self._store_metrics()
            up.add_metric(["store"], 1)
        except Exception as exc:  # noqa: BLE001
            log.warning("store probe failed: %s", exc)
            up.add_metric(["store"], 0)
        if self.settings.broker_url.strip():
            try:
                yield from self._queue_metrics()
                up.add_metric(["broker"], 1)
            except Exception as exc:  # noqa: BLE001
                log.warning("broker probe failed: %s", exc)
                up.add_metric(["broker"], 0)
        yield up

    def _store(self):  # noqa: ANN202
        from forensics.store import Store

        url = self.settings.database_url
        if url not in self._stores:
            self._stores[url] = Store(url, migrate=False)
        return self._stores[url]

    def _store_metrics(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from forensics.store.schema import dead_letters, page_fingerprints

        with self._store().transaction() as conn:
            waiting = conn.execute(select(func.count()).select_from(dead_letters)
                                   .where(dead_letters.c.redriven_at.is_(None))).scalar_one()
            last_id = conn.execute(select(func.max(page_fingerprints.c.id))).scalar_one() or 0
        yield GaugeMetricFamily("forensics_dead_letters", "Dead letters in the store not yet re-driven.",
                                value=waiting)
        yield GaugeMetricFamily("forensics_fingerprints_last_id",
                                "Newest fingerprint row in the store (index catch-up lag = this minus "
                                "forensics_index_last_fingerprint_id).", value=last_id)

    def _queue_metrics(self) -> Iterator[GaugeMetricFamily]:
        from workers.broker import UPLOADS_QUEUE

        url = self.settings.broker_url.strip()
        depth = GaugeMetricFamily("forensics_queue_messages", "Messages waiting in a queue.", labels=["queue"])
        consumers = GaugeMetricFamily("forensics_queue_consumers",
                                      "Consumers of a queue (RabbitMQ) or live broker connections seen "
                                      "within the heartbeat timeout (Redis).", labels=["queue"])
        if url.startswith(("amqp://", "amqps://")):
            for queue, count, cons in _rabbitmq_counts(url, [UPLOADS_QUEUE, f"{UPLOADS_QUEUE}.DQ",
                                                               f"{UPLOADS_QUEUE}.XQ"]):
                depth.add_metric([queue], count)
                if queue == UPLOADS_QUEUE:
                    consumers.add_metric([queue], cons)
            yield depth
            yield consumers
            return
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT)
        try:
            ns = REDIS_NAMESPACE
            for queue in (UPLOADS_QUEUE, f"{UPLOADS_QUEUE}.DQ"):
                depth.add_metric([queue], client.llen(f"{ns}:{queue}"))
            depth.add_metric([f"{UPLOADS_QUEUE}.XQ"], client.zcard(f"{ns}:{UPLOADS_QUEUE}.XQ"))
            now_ms = time.time() * 1000
            live = client.zcount(f"{ns}:__heartbeats__", now_ms - self.settings.redis_heartbeat_ms, "+inf")
            consumers.add_metric([UPLOADS_QUEUE], live)
            age = GaugeMetricFamily("forensics_queue_oldest_age_seconds",
                                    "Age of the oldest message waiting (Redis; 0 when empty).", labels=["queue"])
            oldest = client.lindex(f"{ns}:{UPLOADS_QUEUE}", 0)
            seconds = 0.0
            if oldest is not None:
                raw = client.hget(f"{ns}:{UPLOADS_QUEUE}.msgs", oldest)
                if raw:
                    seconds = max(0.0, now_ms - json.loads(raw)["message_timestamp"]) / 1000
            age.add_metric([UPLOADS_QUEUE], seconds)
        finally:
            client.close()
        yield depth
        yield consumers
        yield age


def _rabbitmq_counts(url: str, queues: list[str]) -> list[tuple[str, int, int]]:
    """(queue, messages, consumers) of each existing queue, by passive declaration."""
    import pika

    sep = "&" if "?" in url else "?"
    conn = pika.BlockingConnection(pika.URLParameters(
        f"{url}{sep}connection_attempts=1&socket_timeout={PROBE_TIMEOUT}"))
    out = []
    try:
        for queue in queues:
            channel = conn.channel()
            try:
                ok = channel.queue_declare(queue, passive=True)
                out.append((queue, ok.method.message_count, ok.method.consumer_count))
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing to count
                continue
    finally:
        conn.close()
    return out
