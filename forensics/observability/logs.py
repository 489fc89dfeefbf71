"""Structured logs: one JSON object a line, each carrying the upload it is about.

:func:`log_context` binds ``evidence_id``, ``seller_id``, ``message_id`` and ``stage`` to the
current thread (contextvars), and a filter copies them onto every record logged meanwhile, from
any module. :func:`configure_logging` installs the formatter named by ``FORENSICS_LOG_FORMAT``.

Never log OCR text or file contents: messages carry ids, codes, counts and seconds. The JSON
formatter keeps only the fields listed in :data:`CONTEXT_FIELDS` and a few standard ones, so an
``extra=`` of something else never leaks into the output by accident.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

#: the context every line of an upload's analysis carries
CONTEXT_FIELDS = ("evidence_id", "seller_id", "message_id", "stage")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "forensics_log_context", default=None)


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Bind context fields (None values are left out) for the lines logged inside the block."""
    bound = {k: str(v) for k, v in values.items() if v is not None}
    token = _context.set({**(_context.get() or {}), **bound})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**values: Any) -> contextvars.Token:
    """Bind context fields until :func:`unbind` (for hooks that open and close in two calls)."""
    return _context.set({k: str(v) for k, v in values.items() if v is not None})


def unbind(token: contextvars.Token) -> None:
    """Restore the context as it was before :func:`bind`."""
    _context.reset(token)


def set_stage(stage: str) -> None:
    """Name the analysis stage for the lines that follow (within the current :func:`log_context`)."""
    current = _context.get() or {}
    if current:
        # mutate a copy: the dict may be shared with an enclosing context
        _context.set({**current, "stage": stage})


def current_context() -> dict[str, str]:
    """The context fields bound now."""
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copy the bound context onto each record (as attributes), so any formatter can use it."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the upload context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.processName and record.processName != "MainProcess":
            out["process"] = record.processName
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines; the upload context in brackets when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if getattr(record, k, None))
        return f"{line} [{ctx}]" if ctx else line


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter for ``FORENSICS_LOG_FORMAT`` (``json`` or ``text``)."""
    fmt = (log_format or "text").lower()
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"FORENSICS_LOG_FORMAT must be 'json' or 'text', not {log_format!r}.")


def configure_logging(log_format: str, level: str = "INFO", *, stream: Any = None) -> None:
    """Make every handler of the root logger (or a new one on stderr) use our format and context.

    Works with handlers someone else installed (dramatiq's worker processes log through a pipe
    to their parent): their formatter is replaced and our filter added, nothing else changes.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(stream or sys.stderr))
    formatter = formatter_for(log_format)
    for handler in root.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
    root.setLevel(level.upper())
