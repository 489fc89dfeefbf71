"""What the route modules share: a router with the CSRF check, the app state, page rendering."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from forensics.web.auth import User, csrf_protect, request_conn

#: the request's store connection (see :func:`forensics.web.auth.request_conn`): routes pass it
#: to the store's reads and writes, which then share the transaction the user was checked in
RequestConn = Depends(request_conn, scope="function")


def make_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose every state-changing route checks the CSRF token (``kwargs`` go to
    :class:`~fastapi.APIRouter`: a prefix, more dependencies, documented responses)."""
    deps = [Depends(csrf_protect), *kwargs.pop("dependencies", [])]
    return APIRouter(dependencies=deps, **kwargs)


def web(request: Request) -> Any:
    """The app's :class:`~forensics.web.app.Web` state."""
    return request.app.state.web


def page(request: Request, template: str, user: User | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """Render a page for ``user`` (its CSRF token goes into every form and htmx request)."""
    return web(request).templates.TemplateResponse(
        request, template, {"user": user, "csrf": user.csrf if user else None, **context},
        status_code=status_code)
