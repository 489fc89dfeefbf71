"""The ``analyze_upload`` actor: one upload event in, one evidence record written."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from forensics.errors import InvalidEvent
from forensics.settings import Settings, get_settings
from forensics.store import Store

log = logging.getLogger(__name__)

_stores: dict[str, Store] = {}


def store_for(settings: Settings) -> Store:
    """One store (connection pool) per process and database URL."""
    store = _stores.get(settings.database_url)
    if store is None:
        store = Store(settings.database_url)
        _stores[settings.database_url] = store
    return store


def analyze_upload(event: dict[str, Any]) -> None:
    """Analyse one upload event (CONTRACT.md section 1) and write its record.

    Bad input is recorded as a failed record, never retried. Transient failures (store down,
    OCR engine crash) raise, and dramatiq retries them with backoff. An event too broken to
    name its evidence is kept as a dead letter rather than dropped.
    """
    from forensics.pipeline import analyse
    from workers.metrics import StageClock, record_invalid_event, record_outcome

    settings = get_settings()
    store = store_for(settings)
    clock = StageClock()  # times the stages (metrics) and names them in the log context
    try:
        outcome = analyse(event, store, settings, on_stage=clock)
    except InvalidEvent as exc:
        record_invalid_event()
        message = dramatiq.middleware.CurrentMessage.get_current_message()
        message_id = message.message_id if message else f"invalid:{hash(repr(event))}"
        store.add_dead_letter(message_id, event if isinstance(event, dict) else {"raw": repr(event)},
                              f"invalid_event: {exc.message}", 0)
        log.warning("invalid upload event kept as dead letter %s: %s", message_id, exc.message)
        return
    log.info("evidence %s: %s (%s, %.2fs)", outcome.record.get("evidence_id"), outcome.action,
             outcome.record.get("verdict"), outcome.seconds)
    record_outcome(outcome, store, clock)


#: the declared actor, set by :func:`declare`
actor: dramatiq.Actor | None = None


def declare(broker: dramatiq.Broker) -> dramatiq.Actor:
    """Declare ``analyze_upload`` on queue ``uploads`` of ``broker``."""
    global actor
    from workers.broker import UPLOADS_QUEUE

    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    actor = dramatiq.actor(analyze_upload, actor_name="analyze_upload", queue_name=UPLOADS_QUEUE,
                           broker=broker)
    return actor


def send(event: dict[str, Any]) -> str:
    """Publish an upload event; returns the message id."""
    if actor is None:
        raise RuntimeError("call workers.broker.setup_broker(settings) first")
    return actor.send(event=event).message_id
