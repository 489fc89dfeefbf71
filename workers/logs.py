"""Structured logs in worker processes: the format from ``FORENSICS_LOG_FORMAT``, and every line
logged while a message is processed carries its ``message_id``, ``evidence_id`` and ``seller_id``
(the ``stage`` is added by the analysis' stage callback, see ``workers/metrics.py``)."""

from __future__ import annotations

import contextvars
import threading

import dramatiq

from forensics.observability.logs import bind, configure_logging, unbind
from forensics.settings import Settings


class UploadLogs(dramatiq.Middleware):
    """Format the process's logs; bind each message's upload context around its processing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tokens = threading.local()

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure_logging(self.settings.log_format, self.settings.log_level)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        event = message.kwargs.get("event") if isinstance(message.kwargs, dict) else None
        event = event if isinstance(event, dict) else {}
        # ids only, and only when they are short strings: the event is untrusted input
        ids = {k: v for k in ("evidence_id", "seller_id")
               if isinstance(v := event.get(k), str) and len(v) <= 128}
        token: contextvars.Token = bind(message_id=message.message_id, stage="received", **ids)
        self._tokens.token = token

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        token = getattr(self._tokens, "token", None)
        if token is not None:
            self._tokens.token = None
            try:
                unbind(token)
            except ValueError:  # bound in another context (never in dramatiq's worker threads)
                pass

    after_skip_message = after_process_message
