"""Logging in and out."""

from __future__ import annotations

import secrets

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from forensics.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    User,
    current_user,
    verify_password,
)
from forensics.web.routes.common import make_router, page, web

router = make_router()


def _safe_next(target: str | None) -> str:
    # only paths of this app: never another site (an open redirect)
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, login_csrf=token, next=_safe_next(next), error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


@router.post("/login", include_in_schema=False)
def login(request: Request, name: str = Form(...), password: str = Form(...),
          next: str = Form("/queue")) -> Response:
    w = web(request)
    client = request.client.host if request.client else "?"
    keys = (f"user:{name.lower()}", f"addr:{client}")
    wait = w.throttle.wait(*keys)
    if wait > 0:
        raise HTTPException(429, f"Too many failed logins: wait {int(wait) + 1} seconds and try again.",
                            headers={"Retry-After": str(int(wait) + 1)})
    row = w.people.user(name)
    ok, rehash = verify_password(row["password_hash"], password) if row else (False, None)
    if not row or not ok:
        w.throttle.failed(*keys)
        w.people.record_audit(actor=name[:64], role="-", action="login_failed", object_type="user",
                              object_id=name[:128], request_id=request.state.request_id)
        response = page(request, "login.html", None, login_csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                        next=_safe_next(next), error="Wrong name or password.", status_code=401)
        return response
    w.throttle.succeeded(*keys)
    if rehash:
        w.people.rehash(row["id"], rehash)
    csrf = secrets.token_urlsafe(24)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, w.signer.dump(row["id"], csrf), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=w.settings.session_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    current_user(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    user: User = current_user(request)
    return RedirectResponse("/queue" if user else "/login", status_code=303)
