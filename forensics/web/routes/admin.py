"""Admin pages: accounts, the "shop's own template" allowlist, the audit log."""

from __future__ import annotations

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from forensics.store.people import ROLES
from forensics.web.auth import User, hash_password, new_password, require
from forensics.web.routes.common import make_router, page, web

router = make_router()


@router.get("/admin/users", include_in_schema=False)
def users_page(request: Request, user: User = Depends(require("admin"))) -> Response:
    return page(request, "admin_users.html", user, users=web(request).people.list_users(), roles=ROLES)


@router.post("/admin/users", include_in_schema=False)
def add_user(request: Request, name: str = Form(...), role: str = Form(...),
             user: User = Depends(require("admin"))) -> Response:
    s = web(request)
    password = new_password()
    try:
        s.people.add_user(name.strip(), role, hash_password(password), actor=user.name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    # shown once, on this response only: it is not stored anywhere in clear
    return page(request, "admin_users.html", user, users=s.people.list_users(), roles=ROLES,
                created={"name": name.strip(), "role": role, "password": password})


@router.get("/admin/allowlist", include_in_schema=False)
def allowlist_page(request: Request, user: User = Depends(require("admin"))) -> Response:
    s = web(request)
    return page(request, "admin_allowlist.html", user, entries=s.reviews.allowlist(),
                forgeries=s.reviews.known_forgeries())


@router.post("/admin/allowlist/{entry_id}/remove", include_in_schema=False)
def remove_entry(request: Request, entry_id: int, user: User = Depends(require("admin"))) -> Response:
    if not web(request).reviews.remove_allowlist(entry_id, actor=user.name, role=user.role,
                                                 request_id=request.state.request_id):
        raise HTTPException(404, f"No active allowlist entry {entry_id}.")
    return RedirectResponse("/admin/allowlist", status_code=303)


@router.get("/admin/audit", include_in_schema=False)
def audit_page(request: Request, user: User = Depends(require("admin"))) -> Response:
    return page(request, "admin_audit.html", user, rows=web(request).people.audit_rows(limit=300))
