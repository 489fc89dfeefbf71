"""Health checks: does the store, the broker, the OCR engine answer?

Shared by ``forensics health`` (one line each) and the readiness endpoints (/readyz) of the
workers and the web app. Each check is short and bounded (connect timeouts of a few seconds) and
returns a :class:`Check`; none raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from forensics.settings import Settings

#: seconds a check waits for a service to answer before calling it down
CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    """One part's answer: ``ok``, a line for people, and how long it took."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        """``store: ok (postgresql, 12 ms)`` or ``broker: FAILED — …``."""
        if self.ok:
            return f"{self.name}: ok ({self.detail}, {self.seconds * 1000:.0f} ms)"
        return f"{self.name}: FAILED - {self.detail}"


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _timed(name: str, probe: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - any failure of the probe is the part's failure
        message = getattr(exc, "message", None) or (
            str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}")
        return Check(name, False, " ".join(str(message).split()), time.perf_counter() - started)
    return Check(name, True, detail, time.perf_counter() - started)


def check_store(settings: Settings) -> Check:
    """The evidence store answers a query (its schema is not migrated by this check)."""

    def probe() -> str:
        from sqlalchemy import text

        from forensics.store.db import connect

        url = settings.database_url
        engine = connect(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return engine.dialect.name
        except Exception as exc:
            orig = getattr(exc, "orig", exc)
            raise RuntimeError(f"cannot reach the evidence store at {_redact(url)}: {orig} "
                               "(check FORENSICS_DATABASE_URL)") from exc
        finally:
            engine.dispose()

    return _timed("store", probe)


def check_broker(settings: Settings) -> Check:
    """The broker accepts a connection (Redis PING, RabbitMQ connection open)."""

    def probe() -> str:
        url = settings.broker_url.strip()
        if not url:
            return "in-process, no broker configured"
        try:
            if url.startswith(("redis://", "rediss://", "unix://")):
                import redis

                client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                              socket_timeout=CONNECT_TIMEOUT)
                try:
                    client.ping()
                finally:
                    client.close()
                return "redis"
            if url.startswith(("amqp://", "amqps://")):
                import pika

                sep = "&" if "?" in url else "?"
                params = pika.URLParameters(
                    f"{url}{sep}connection_attempts=1&socket_timeout={CONNECT_TIMEOUT:g}"
                    f"&blocked_connection_timeout={CONNECT_TIMEOUT:g}")
                pika.BlockingConnection(params).close()
                return "rabbitmq"
        except Exception as exc:
            raise RuntimeError(f"cannot reach the broker at {_redact(url)}: "
                               f"{type(exc).__name__} {exc} (check FORENSICS_BROKER_URL)") from exc
        raise RuntimeError(f"FORENSICS_BROKER_URL {_redact(url)!r} is not redis://, amqp:// or empty")

    return _timed("broker", probe)


def check_ocr(settings: Settings) -> Check:
    """The OCR engine starts with the configured languages and reads a tiny generated image."""

    def probe() -> str:
        from PIL import Image, ImageDraw

        from forensics.ocr import get_engine

        engine = get_engine(settings)
        img = Image.new("L", (120, 40), 255)
        ImageDraw.Draw(img).text((10, 12), "OK 42", fill=0)
        engine.words(img)  # what it reads from a 10-pixel font does not matter: that it answers
        return f"{engine.name}, {settings.ocr_langs}"

    return _timed("ocr", probe)


def check_all(settings: Settings) -> list[Check]:
    """Store, broker and OCR, in that order."""
    return [check_store(settings), check_broker(settings), check_ocr(settings)]
