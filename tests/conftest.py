"""Shared fixtures: settings on a temporary store, real services, small generated documents.

A test that needs a real service (PostgreSQL, Redis, RabbitMQ) skips with a clear reason on a
machine without it, and FAILS when ``CI=true``: in CI a missing service is never a silent skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from forensics.settings import Settings  # noqa: E402

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: where the real services listen on this machine (override for another machine)
POSTGRES_URL = os.environ.get("FORENSICS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FORENSICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: the tests' own RabbitMQ virtual host: they purge queues, which must never be production's
#: (vhost "/" holds the real `uploads` queue); created with rabbitmqctl when it is missing
RABBITMQ_TEST_VHOST = "forensics_test"
RABBITMQ_URL = os.environ.get("FORENSICS_TEST_RABBITMQ_URL", f"amqp://guest:guest@127.0.0.1:5672/{RABBITMQ_TEST_VHOST}")

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def need_service(name: str, exc: BaseException) -> None:
    """Skip on a laptop, fail in CI."""
    message = f"{name} is not reachable: {exc}"
    if CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def blob_root(tmp_path: Path) -> Path:
    root = tmp_path / "blobs"
    root.mkdir()
    return root


@pytest.fixture
def settings(tmp_path: Path, blob_root: Path) -> Settings:
    """Embedded defaults: SQLite in a temporary folder, in-process, pytesseract or tesserocr."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'forensics.db'}", blob_root=str(blob_root))


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI as a user runs it on embedded defaults: SQLite in tmp_path, in-process, the blob
    root a fresh folder (returned)."""
    root = tmp_path / "blobs"
    root.mkdir(exist_ok=True)
    monkeypatch.setenv("FORENSICS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("FORENSICS_BLOB_ROOT", str(root))
    monkeypatch.setenv("FORENSICS_BROKER_URL", "")
    from forensics.settings import get_settings

    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (for a server a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database named ``prefix`` plus this process and a random tag, dropped at
    the end; skips on a laptop without PostgreSQL, fails in CI."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001
        need_service("PostgreSQL", exc)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_postgres_database("forensics_test") as url:
        yield url


@pytest.fixture
def pg_settings(postgres_url: str, blob_root: Path) -> Iterator[Settings]:
    """Settings on the session's PostgreSQL database, emptied before each test."""
    from sqlalchemy import create_engine, text

    from forensics.store import Store
    from forensics.store.schema import metadata

    Store(postgres_url).close()  # migrate
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    # this process's page-hash index of the database is stale once its ids restart: start each
    # test from an empty one, as a fresh worker would
    from forensics.detectors import duplicates

    duplicates._indexes.clear()
    yield Settings(database_url=postgres_url, blob_root=str(blob_root))


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.flushdb()
        client.close()
    except Exception as exc:  # noqa: BLE001
        need_service("Redis", exc)
    return REDIS_URL


def _ensure_rabbitmq_vhost(url: str) -> None:
    """Create the test vhost (and give the URL's user rights on it) with rabbitmqctl, which
    needs the machine's RabbitMQ node and root: as on this machine and in CI."""
    import subprocess
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    vhost, user = unquote(parts.path.lstrip("/")) or "/", parts.username or "guest"
    if vhost == "/":
        return
    for args in (["add_vhost", vhost], ["set_permissions", "-p", vhost, user, ".*", ".*", ".*"]):
        subprocess.run(["rabbitmqctl", *args], capture_output=True, timeout=60, check=False)


@pytest.fixture(scope="session")
def _rabbitmq_vhost() -> str:
    """The tests' vhost exists (made once per session)."""
    import subprocess

    try:
        _ensure_rabbitmq_vhost(RABBITMQ_URL)
    except (OSError, subprocess.SubprocessError):
        pass  # no rabbitmqctl here: the vhost must exist already, or rabbitmq_url says it is missing
    return RABBITMQ_URL


@pytest.fixture
def rabbitmq_url(_rabbitmq_vhost: str) -> str:
    try:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL + "?connection_attempts=1&socket_timeout=3"))
        ch = conn.channel()
        for q in ("uploads", "uploads.DQ", "uploads.XQ"):
            try:
                ch.queue_purge(q)
            except Exception:  # noqa: BLE001 - a queue that does not exist yet has nothing to purge
                ch = conn.channel()
        conn.close()
    except Exception as exc:  # noqa: BLE001
        need_service("RabbitMQ", exc)
    return RABBITMQ_URL


def font(size: int, mono: bool = True) -> ImageFont.FreeTypeFont:
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def simple_receipt(lines: list[str], *, width: int = 700, size: int = 26, seed: int = 0) -> Image.Image:
    """A plain receipt-like page: black text lines on white with a little noise."""
    import numpy as np

    height = 60 + len(lines) * int(size * 1.6) + 60
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    f = font(size)
    y = 50
    for line in lines:
        draw.text((40, y), line, fill=20, font=f)
        y += int(size * 1.6)
    rng = np.random.default_rng(seed)
    arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 3, (height, width)).astype(np.int16)
    return Image.fromarray(arr.clip(0, 255).astype("uint8"), "L")


RECEIPT_LINES = [
    "KEDAI RUNCIT MAJU JAYA",
    "12, JALAN MERAH 3, 81100 JOHOR",
    "GST REG NO: 001234567890",
    "RECEIPT NO: CS00012345",
    "DATE: 19/10/2018  TIME: 20:49",
    "MILO 1KG        2 x 12.50  25.00",
    "SUGAR 2KG       1 x  6.90   6.90",
    "SUBTOTAL                   31.90",
    "GST 6%                      1.91",
    "TOTAL                      33.81",
    "CASH                       50.00",
    "CHANGE                     16.19",
]


@pytest.fixture
def receipt_image() -> Image.Image:
    return simple_receipt(RECEIPT_LINES)
