"""Store work per HTTP request: SQL statements run and connections checked out, by route.

Two counters beside :mod:`forensics.observability.http_metrics`' request counter, so that
``statements_total / requests_total`` of a route is its queries per request (an N+1 shows as a
number that grows with the page) and ``checkouts_total / requests_total`` its transactions per
request. ``bench/web.py`` reads them from ``/metrics``. Counting is a SQLAlchemy event on the
store's engine and a per-request tally in a context variable (route handlers run in a thread
pool that copies the context, so they add to the same tally).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Engine, event

STATEMENTS = Counter("forensics_http_db_statements_total", "SQL statements run while answering HTTP requests.",
                     ["route", "method"])
CHECKOUTS = Counter("forensics_http_db_checkouts_total",
                    "Store connections checked out while answering HTTP requests.", ["route", "method"])

#: [statements, checkouts] of the request being answered (None outside a request)
_tally: ContextVar[list[int] | None] = ContextVar("forensics_db_tally", default=None)


def _on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    tally = _tally.get()
    # transaction control is not a query (SQLite's BEGIN IMMEDIATE goes through here, while
    # PostgreSQL's BEGIN is the driver's own): count what reads or writes rows
    if tally is not None and not statement.startswith("BEGIN"):
        tally[0] += 1


def _on_checkout(*_args: Any) -> None:
    tally = _tally.get()
    if tally is not None:
        tally[1] += 1


def watch(engine: Engine) -> None:
    """Count ``engine``'s statements and pool checkouts towards the request being answered."""
    if not event.contains(engine, "before_cursor_execute", _on_statement):
        event.listen(engine, "before_cursor_execute", _on_statement)
        event.listen(engine.pool, "checkout", _on_checkout)


class StoreWorkMiddleware:
    """Pure ASGI middleware: starts a tally per HTTP request and adds it to the counters by route."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tally = [0, 0]
        token = _tally.set(tally)
        try:
            await self.app(scope, receive, send)
        finally:
            _tally.reset(token)
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = scope.get("method", "GET")
            if tally[0]:
                STATEMENTS.labels(route, method).inc(tally[0])
            if tally[1]:
                CHECKOUTS.labels(route, method).inc(tally[1])
