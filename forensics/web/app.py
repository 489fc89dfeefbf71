"""The reviewer's web app: FastAPI, server-rendered pages (Jinja2), htmx for partial updates.

:func:`create_app` builds the app on one evidence store; ``forensics serve`` runs it with
uvicorn. Routes live in :mod:`forensics.web.routes`, one module per concern; each router carries
the CSRF check. Later route modules (the investigator pages, ``/api/v1``) are added to
:data:`ROUTERS` the same way.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from forensics.settings import Settings
from forensics.store import Store
from forensics.store.people import People
from forensics.store.reviews import Reviews
from forensics.web.auth import LoginRequired, LoginThrottle, SessionSigner
from forensics.web.images import PageImages

log = logging.getLogger(__name__)

HERE = Path(__file__).parent

#: every response's security headers: no inline script, no framing, no outside fetches
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass
class Web:
    """What every route needs: settings, the store and its people/review views, templates."""

    settings: Settings
    store: Store
    people: People
    reviews: Reviews
    signer: SessionSigner
    throttle: LoginThrottle
    templates: Jinja2Templates
    images: PageImages


#: what ``getattr`` finds on a plain dict: the only names for which ``row.name`` is not ``row["name"]``
_DICT_ATTRIBUTES = frozenset(dir(dict))


class PageEnvironment(Environment):
    """Jinja's environment, with ``row.name`` on a plain dict read as ``row["name"]`` at once.

    Jinja tries the attribute first and the item after the AttributeError; the pages read
    thousands of fields of row dicts (a queue page, a cluster list, a graph's edges), and that
    raised-and-caught error was their largest rendering cost. Same result: a dict's own
    attributes (``items``, ``get`` ...) still win, as in Jinja."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _templates() -> Jinja2Templates:
    env = PageEnvironment(loader=FileSystemLoader(HERE / "templates"),
                          autoescape=select_autoescape(("html", "svg"), default=True))
    from forensics.web import views

    env.filters.update(views.FILTERS)
    return Jinja2Templates(env=env)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The web app on ``settings``' store (migrated on start)."""
    from forensics.web.routes import ROUTERS

    store = store or Store(settings.database_url)
    key = settings.secret_key
    if not key:
        log.warning("FORENSICS_SECRET_KEY is not set: sessions use a random key and end when the app restarts")
        key = secrets.token_hex(32)
    app = FastAPI(title="proof-forensics", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    app.state.web = Web(settings=settings, store=store, people=People(store), reviews=Reviews(store),
                        signer=SessionSigner(key, settings.session_seconds),
                        throttle=LoginThrottle(settings.login_attempts), templates=_templates(),
                        images=PageImages(settings))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    # operators' endpoints, no login (Prometheus scrapes them; they carry route names, no data):
    # /metrics, /healthz, /readyz and per-request metrics
    from forensics.observability.http_metrics import instrument

    instrument(app, settings)
    from forensics.web.db_metrics import StoreWorkMiddleware, watch

    watch(store.engine)
    app.add_middleware(StoreWorkMiddleware)

    @app.middleware("http")
    async def request_id_and_headers(request: Request, call_next: Any) -> Response:
        request.state.request_id = uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_html(request) and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        headers = {"HX-Redirect": "/login"} if request.headers.get("hx-request") else {}
        return _error(request, 401, "login_required", "Log in first.", headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        codes = {400: "bad_request", 401: "login_required", 403: "forbidden", 404: "not_found",
                 413: "file_too_large", 429: "too_many_attempts", 503: "unavailable"}
        code = getattr(exc, "code", None) or codes.get(exc.status_code, "error")
        return _error(request, exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return _error(request, 422, "invalid_request", problems or "The request is not valid.", {})

    return app


def app_from_env() -> FastAPI:
    """The app on the environment's settings (``forensics serve --workers N`` imports this)."""
    from forensics.settings import get_settings

    return create_app(get_settings())


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "image/" not in request.headers.get("accept", "")[:6] \
        and not request.url.path.endswith((".jpg", ".png"))


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _error(request: Request, status: int, code: str, message: str, headers: dict[str, str]) -> Response:
    """JSON errors (CONTRACT 3b) for the API and images, a page for people."""
    if not _wants_html(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
    web: Web = request.app.state.web
    user = getattr(request.state, "user", None)
    return web.templates.TemplateResponse(request, "error.html", {"status": status, "message": message, "user": user},
                                          status_code=status, headers=headers)
