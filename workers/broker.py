"""Broker set-up from FORENSICS_BROKER_URL: the one module that knows which broker we use.

- empty: an in-process stub broker (``forensics ingest`` calls the pipeline directly);
- ``redis://…``: Redis, with a heartbeat so a killed worker's messages are re-queued;
- ``amqp://…``: RabbitMQ with publisher confirms (unacked messages of a dead worker come back
  at once when its connection drops).
"""

from __future__ import annotations

import os

import dramatiq
import dramatiq.worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from forensics.errors import MissingDependency
from forensics.settings import Settings

#: the queue upload events arrive on (CONTRACT.md section 1)
UPLOADS_QUEUE = "uploads"

# OCR tasks are long: a worker thread takes one message at a time, so a killed or slow worker
# holds back no more than the message it works on (dramatiq reads this global when each Worker
# is built, after our module is imported by `dramatiq workers`).
os.environ.setdefault("dramatiq_queue_prefetch", "1")
dramatiq.worker.QUEUE_PREFETCH = int(os.environ["dramatiq_queue_prefetch"])
# Tesseract's OpenMP threads fight each other on small machines; one per worker process.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def middleware(settings: Settings) -> list[dramatiq.Middleware]:
    """The middleware stack: dramatiq's defaults with our retry policy, and dead letters.

    dramatiq runs ``after_*`` hooks in reverse order, so DeadLetters stands before Retries to
    see the message after Retries decided to give up on it."""
    from workers.dead_letters import DeadLetters
    from workers.limits import MemoryLimit
    from workers.logs import UploadLogs

    return [
        UploadLogs(settings),
        MemoryLimit(settings),
        *_metrics_middleware(settings),
        DeadLetters(settings),
        AgeLimit(),
        # the per-page OCR timeout bounds real work; this bounds a stuck message
        TimeLimit(time_limit=int(settings.ocr_timeout * 1000 * settings.max_pages + 120_000)),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=settings.max_retries, min_backoff=settings.min_backoff_ms,
                max_backoff=settings.max_backoff_ms),
    ]


def _metrics_middleware(settings: Settings) -> list[dramatiq.Middleware]:
    """Prometheus metrics for real workers (a broker URL and FORENSICS_METRICS_PORT > 0); they
    stand before Retries to see whether it gave up on a message (like DeadLetters)."""
    if settings.metrics_port <= 0 or not settings.broker_url.strip():
        return []
    from workers.metrics import WorkerMetrics

    return [WorkerMetrics(settings)]


def make_broker(settings: Settings) -> dramatiq.Broker:
    """A broker for ``settings.broker_url`` (not yet made the global one)."""
    url = settings.broker_url.strip()
    mw = middleware(settings)
    if not url:
        return StubBroker(middleware=mw)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        class PromptRedisBroker(RedisBroker):
            """Redis polls an idle queue at most ``redis_poll_ms`` apart (dramatiq backs off to
            its worker timeout, a second, between polls: uploads waited that long)."""

            def consume(self, queue_name, prefetch=1, timeout=5000):  # noqa: ANN001, ANN202
                return super().consume(queue_name, prefetch, min(timeout, settings.redis_poll_ms))

        return PromptRedisBroker(url=url, middleware=mw, heartbeat_timeout=settings.redis_heartbeat_ms,
                                 maintenance_chance=settings.redis_maintenance_chance)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, middleware=mw, confirm_delivery=True)
    raise MissingDependency(
        f"FORENSICS_BROKER_URL {url!r} is not redis://, amqp:// or empty (in-process)."
    )


def setup_broker(settings: Settings) -> dramatiq.Broker:
    """Make the broker for these settings the process-wide one and declare our actors on it."""
    broker = make_broker(settings)
    dramatiq.set_broker(broker)
    from workers import actors

    actors.declare(broker)
    return broker
