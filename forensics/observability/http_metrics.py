"""HTTP metrics and health endpoints for the web app, mounted in one line::

    from forensics.observability.http_metrics import instrument
    instrument(app, settings)          # /metrics, /healthz, /readyz and per-request metrics

Requests are counted by route *template* (``/api/v1/evidence/{evidence_id}``, never the filled-in
path: one series per route, not per evidence id), method and status; latency is a histogram by
route and method. Under several web processes (``uvicorn --workers N``) set
``PROMETHEUS_MULTIPROC_DIR`` to a folder shared by them before start-up, and /metrics sums them
(prometheus-client's multiprocess mode); with one process the default registry is used.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from forensics.settings import Settings

#: request latency buckets, seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: the route label of requests that matched no route (so scanners cannot mint series)
UNMATCHED = "<unmatched>"

REQUESTS = Counter("forensics_http_requests_total", "HTTP requests by route, method and status.",
                   ["route", "method", "status"])
LATENCY = Histogram("forensics_http_request_seconds", "Seconds to answer an HTTP request.",
                    ["route", "method"], buckets=LATENCY_BUCKETS)


def _route_of(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class MetricsMiddleware:
    """Pure ASGI middleware: counts each HTTP request once it is answered (streaming-safe)."""

    def __init__(self, app: Any, *, skip: tuple[str, ...] = ("/metrics", "/healthz", "/readyz")) -> None:
        self.app = app
        self.skip = skip

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.skip:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route, method = _route_of(scope), scope.get("method", "GET")
            REQUESTS.labels(route, method, str(status["code"])).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)


def metrics_text() -> tuple[bytes, str]:
    """The exposition text of this process (or of every process sharing the multiprocess folder)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def instrument(app: Any, settings: Settings | None = None, *, readiness: bool = True) -> Any:
    """Add request metrics, ``GET /metrics``, ``GET /healthz`` and (with ``readiness``) ``GET
    /readyz`` (store, broker, OCR answer: 200, else 503 with a line per failing part) to a FastAPI
    app. Returns the app."""
    from fastapi.responses import PlainTextResponse, Response

    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = metrics_text()
        return Response(body, media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    if readiness:
        @app.get("/readyz", include_in_schema=False)
        def readyz() -> PlainTextResponse:
            from forensics.observability.health import check_all
            from forensics.settings import get_settings

            checks = check_all(settings or get_settings())
            ok = all(c.ok for c in checks)
            return PlainTextResponse("".join(c.line() + "\n" for c in checks), status_code=200 if ok else 503)

    return app
