"""Dead letters: messages whose transient failures outlived every retry stay visible.

dramatiq keeps such messages in its own dead-letter queue (Redis ``*.XQ``, RabbitMQ ``*.XQ``)
for a week; this middleware also writes them to the evidence store, where
``forensics dead-letters list`` shows them and ``forensics dead-letters redrive`` sends them again.
"""

from __future__ import annotations

import logging

import dramatiq

from forensics.settings import Settings

log = logging.getLogger(__name__)


class DeadLetters(dramatiq.Middleware):
    """Record a message in the store once Retries gave up on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        if exception is None or not message.failed:
            return
        event = message.kwargs.get("event") if isinstance(message.kwargs, dict) else None
        try:
            from workers.actors import store_for

            store_for(self.settings).add_dead_letter(
                message.message_id, event if isinstance(event, dict) else {"raw": repr(event)},
                f"{type(exception).__name__}: {exception}", int(message.options.get("retries", 0)),
            )
        except Exception:  # noqa: BLE001 - the store may be what is down; dramatiq's XQ keeps it
            log.exception("could not record dead letter %s in the store", message.message_id)
