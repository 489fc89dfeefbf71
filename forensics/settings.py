"""Configuration: one typed object, read from the environment once.

No other module reads ``os.environ``; they take a :class:`Settings` (or call :func:`get_settings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Every knob, with a working default. Environment name: ``FORENSICS_`` + upper-case name."""

    #: evidence store, any SQLAlchemy URL
    database_url: str = "sqlite:///./forensics.db"
    #: ``redis://…`` or ``amqp://…``; empty means in-process
    broker_url: str = ""
    #: the only folder uploads are read from
    blob_root: str = "."
    #: Tesseract languages, e.g. ``eng+chi_sim``
    ocr_langs: str = "eng"
    #: ``auto`` (tesserocr when importable, else pytesseract), ``tesserocr`` or ``pytesseract``
    ocr_engine: str = "auto"
    #: largest accepted upload, bytes
    max_file_bytes: int = 25 * 1024 * 1024
    #: largest accepted page, pixels (decompression bombs are refused before decoding)
    max_pixels: int = 40_000_000
    #: most pages analysed in one document
    max_pages: int = 20
    #: OCR time limit per page, seconds
    ocr_timeout: float = 60.0
    #: work budget of one document (decoding, OCR of every page), seconds; past it the upload
    #: ends ``too_expensive`` and the worker moves on
    document_timeout: float = 180.0
    #: DPI at which PDF pages without a text layer are rendered for OCR
    render_dpi: int = 300
    #: most pixels one PDF page is rendered at (a larger page is rendered at a lower DPI);
    #: an A4 page at 300 DPI is 8.7 million
    render_max_pixels: int = 16_000_000
    #: most pixels of all pages of one document together, checked before rendering or OCR
    #: (about 17 A4 pages at 300 DPI); a larger document ends ``too_expensive`` at once
    max_document_pixels: int = 150_000_000
    #: address-space limit of each worker process, MiB (0: none); an upload that needs more
    #: ends ``too_expensive`` instead of the kernel's OOM killer ending the worker
    worker_memory_mb: int = 4096
    #: an upload whose analysis was started this many times without finishing (each time its
    #: worker died) ends ``worker_crashed`` instead of killing workers for ever (0: no limit)
    worker_crash_limit: int = 3
    #: risk at or above which the verdict is ``review``
    review_risk: int = 30
    #: risk at or above which the verdict is ``likely_forgery``
    forgery_risk: int = 70
    #: Hamming radius for perceptual-hash candidates (64-bit hashes)
    hash_radius: int = 10
    #: folder of the fingerprint index snapshots that every worker on a machine memory-maps
    #: (``forensics index build`` writes one); empty: next to a SQLite store's file, else
    #: ``~/.cache/forensics/index``; ``off``: none (each process catches up from the store)
    index_dir: str = ""
    #: a worker rewrites the snapshot (in the background, one writer per machine) once this many
    #: fingerprints arrived after it, and at least a tenth of it; 0: only the command writes it
    index_snapshot_rows: int = 100_000
    #: retries for transient failures before a message is dead-lettered
    max_retries: int = 5
    #: first retry backoff, milliseconds (doubles each time)
    min_backoff_ms: int = 1000
    #: longest retry backoff, milliseconds
    max_backoff_ms: int = 60_000
    #: Redis broker: a worker silent this long is dead and its in-flight messages are
    #: re-queued (a SIGKILLed worker loses nothing), milliseconds
    redis_heartbeat_ms: int = 15_000
    #: Redis broker: per-million chance that a fetch also runs that re-queueing maintenance
    #: (every worker process polls its delay queue every ``redis_poll_ms``, busy or not, so
    #: 10000 runs it about once a second per process; it costs a lookup of dead workers' heartbeats)
    redis_maintenance_chance: int = 10_000
    #: Redis broker: longest pause between polls of an idle queue, milliseconds (dramatiq's
    #: default, 1000, left an idle worker a median 427 ms behind a new upload; an idle worker
    #: now fetches up to 20 times a second, each with the maintenance chance above)
    redis_poll_ms: int = 50

    #: show tracebacks of internal errors in the CLI (they are one line otherwise)
    debug: bool = False
    #: workers: port of the Prometheus metrics and /healthz, /readyz endpoints (0: off)
    metrics_port: int = 9191
    #: address the workers' metrics endpoint binds to
    metrics_host: str = "0.0.0.0"
    #: who serves that endpoint: each ``dramatiq workers`` process (``worker``) or the
    #: ``forensics worker`` supervisor for its whole fleet (``supervisor``; it sets this for its
    #: children, so that one port answers for every slot and outlives a killed one)
    metrics_served_by: str = "worker"
    #: log lines as ``text`` (for people) or ``json`` (one object a line, for log collectors)
    log_format: str = "text"
    #: log level name (``DEBUG``, ``INFO``, ``WARNING``)
    log_level: str = "INFO"

    #: signs the web app's session cookies; empty: a random key per process (sessions end
    #: when the app restarts). Set it for several app processes or restarts
    secret_key: str = ""
    #: web app: how long a login lasts, seconds
    session_seconds: int = 12 * 3600
    #: web app: failed logins per account or client address within a minute before refusing
    login_attempts: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``FORENSICS_*`` variables; unknown or empty ones keep their defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("FORENSICS_" + f.name.upper())
            if raw is None or raw == "":
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = raw.lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some values changed (tests, CLI options)."""
        return replace(self, **changes)

    @property
    def blob_root_path(self) -> Path:
        return Path(self.blob_root).resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
