"""Publishing upload events from outside a worker (the CLI, the API): one place that validates
an event with the worker's own rules and says plainly when the broker cannot be reached."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from forensics.errors import BrokerUnavailable
from forensics.events import UploadEvent
from forensics.settings import Settings


def safe_broker_url(url: str) -> str:
    """The broker URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def _connection_errors() -> tuple[type[BaseException], ...]:
    import dramatiq.errors

    # dramatiq 2 renamed ConnectionError (the old name warns until it is removed in 3)
    name = "BrokerConnectionError" if hasattr(dramatiq.errors, "BrokerConnectionError") else "ConnectionError"
    errors: list[type[BaseException]] = [getattr(dramatiq.errors, name), OSError]
    try:
        import redis.exceptions

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        import pika.exceptions

        errors += [pika.exceptions.AMQPError]
    except ImportError:  # pragma: no cover - pika is a dependency
        pass
    return tuple(errors)


@contextmanager
def publisher(settings: Settings) -> Iterator[Callable[[dict[str, Any]], str]]:
    """Yield ``send(event) -> message id`` on ``settings.broker_url``.

    Each event is validated with :meth:`UploadEvent.from_json` first (what the worker would
    refuse is never published: :class:`~forensics.errors.InvalidEvent`); a broker that cannot be
    reached raises :class:`~forensics.errors.BrokerUnavailable` naming the URL."""
    errors = _connection_errors()
    where = safe_broker_url(settings.broker_url)
    try:
        from workers.broker import setup_broker

        broker = setup_broker(settings)
    except errors as exc:
        raise BrokerUnavailable(f"Cannot reach the broker at {where}: {exc}") from exc
    from workers import actors

    def send(event: dict[str, Any]) -> str:
        UploadEvent.from_json(event)
        try:
            return actors.send(event)
        except errors as exc:
            raise BrokerUnavailable(f"Cannot reach the broker at {where}: {exc}") from exc

    try:
        yield send
    finally:
        try:
            broker.close()
        except errors:  # closing a connection that never opened
            pass
