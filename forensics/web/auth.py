"""Who is asking: passwords (argon2), signed session cookies, CSRF tokens, roles, throttling.

The session is a cookie signed with HMAC-SHA256 (``FORENSICS_SECRET_KEY``), HttpOnly and
SameSite=Lax, carrying the user id, when it was issued and the session's CSRF token. Every
state-changing request must echo that token (form field ``csrf_token`` or header
``X-CSRF-Token``); programs use ``Authorization: Bearer <token>`` instead of a cookie, and so
need no CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Connection

from forensics.store.people import ROLES

#: name of the session cookie
SESSION_COOKIE = "forensics_session"
#: name of the cookie that carries the login form's CSRF token (before there is a session)
LOGIN_CSRF_COOKIE = "forensics_login_csrf"
#: methods that change nothing (no CSRF token needed)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: seconds a failed login counts against its account and address
THROTTLE_WINDOW = 60.0

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one's parameters are outdated)."""
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, hash_password(password) if _hasher.check_needs_rehash(password_hash) else None


def new_password() -> str:
    """A one-time password a person can type: 4 groups of 4 letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def new_token() -> str:
    """A new API token (shown once; only its sha256 is stored)."""
    return "fst_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class User:
    """The person (or program) behind a request."""

    id: int
    name: str
    role: str
    #: the session's CSRF token; None for a Bearer token (no cookie, no CSRF)
    csrf: str | None = None

    def may(self, role: str) -> bool:
        """Whether this user's role includes ``role`` (admin > investigator > reviewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)


class SessionSigner:
    """Signs and reads the session cookie."""

    def __init__(self, key: str, lifetime: int) -> None:
        self.key = hashlib.sha256(("forensics-session:" + key).encode()).digest()
        self.lifetime = lifetime

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def dump(self, uid: int, csrf: str) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps({"u": uid, "c": csrf, "t": int(time.time())}).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}"

    def load(self, cookie: str | None) -> dict[str, Any] | None:
        """The session in a cookie, or None when it is missing, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or time.time() - float(data.get("t", 0)) > self.lifetime:
            return None
        return data


class LoginThrottle:
    """Counts failed logins per account and per client address in a sliding window (per process)."""

    def __init__(self, limit: int, window: float = THROTTLE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def wait(self, *keys: str) -> float:
        """Seconds to wait before another attempt on any of ``keys`` (0: go ahead)."""
        now = time.monotonic()
        with self._lock:
            waits = [self.window - (now - q[0]) for k in keys if len(q := self._recent(k, now)) >= self.limit]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)


class LoginRequired(Exception):
    """Raised for a request without a valid login: pages redirect to /login, the rest get 401."""


def request_conn(request: Request) -> Iterator[Connection | None]:
    """One store transaction for the whole request on PostgreSQL, for the routes that ask for
    it (``RequestConn``, declared before the user parameter so that it opens first): the user
    is looked up and the page's rows read (or the decision written) on one pooled connection,
    committed when the route returns, before the response leaves (FastAPI's
    ``scope="function"``). Such a route passes the connection to every store call it makes (a
    second connection taken while this one is held could wait for the pool forever under
    load). None on SQLite, whose transactions each take the one writer lock: there every read
    keeps its own short transaction rather than holding the lock while the page renders."""
    store = request.app.state.web.store
    if store.dialect != "postgresql":
        yield None
        return
    with store.transaction() as conn:
        request.state.conn = conn
        try:
            yield conn
        finally:
            request.state.conn = None


def current_user(request: Request) -> User:
    """The logged-in user (session cookie or Bearer token); raises :class:`LoginRequired`.
    Looked up in the request's transaction when the route opened one (:func:`request_conn`)."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    web = request.app.state.web
    conn = getattr(request.state, "conn", None)
    header = request.headers.get("authorization", "")
    user: User | None = None
    if header.lower().startswith("bearer "):
        row = web.people.user_for_token(header[7:].strip(), conn=conn)
        if row:
            user = User(row["id"], row["name"], row["role"])
    else:
        session = web.signer.load(request.cookies.get(SESSION_COOKIE))
        if session:
            row = web.people.user_by_id(int(session["u"]), conn=conn)
            if row:
                user = User(row["id"], row["name"], row["role"], csrf=str(session["c"]))
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


def require(role: str):  # noqa: ANN201
    """A dependency that lets through users whose role includes ``role`` (403 otherwise)."""

    def check(user: User = Depends(current_user)) -> User:
        if not user.may(role):
            raise HTTPException(403, f"This page is for the {role} role; you are a {user.role}.")
        return user

    return check


async def csrf_protect(request: Request) -> None:
    """Refuse (403) a state-changing request whose CSRF token does not match its session's.

    Every router of the app carries this dependency, so no POST can forget it. The expected
    token is the one in the signed session cookie (no store lookup here: the route's own user
    dependency checks that the account still exists); a request with a Bearer token is not a
    browser's, has no ambient cookie to abuse, and needs none."""
    if request.method in SAFE_METHODS:
        return
    if request.url.path == "/login":
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    elif request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    else:
        session = request.app.state.web.signer.load(request.cookies.get(SESSION_COOKIE))
        if not session:
            raise LoginRequired()
        expected = str(session["c"])
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get("csrf_token")
    if not expected or not given or not hmac.compare_digest(str(given), expected):
        raise HTTPException(403, "Missing or wrong CSRF token: reload the page and try again.")
