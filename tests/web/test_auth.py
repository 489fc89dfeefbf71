"""Sessions, CSRF, roles and throttling without a browser (the app through httpx)."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from forensics.store.people import People
from forensics.web.app import create_app
from forensics.web.auth import LoginThrottle, SessionSigner, hash_password, verify_password


def test_passwords_are_argon2_and_verify():
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$") and "correct" not in h
    assert verify_password(h, "correct horse")[0] and not verify_password(h, "wrong")[0]
    assert not verify_password("not a hash", "x")[0]


def test_session_cookie_is_signed_and_expires():
    signer = SessionSigner("k1", lifetime=60)
    cookie = signer.dump(7, "tok")
    assert signer.load(cookie)["u"] == 7
    payload, mac = cookie.rsplit(".", 1)
    assert signer.load(payload.replace(payload[2], "A" if payload[2] != "A" else "B") + "." + mac) is None
    assert SessionSigner("k2", lifetime=60).load(cookie) is None
    assert SessionSigner("k1", lifetime=-1).load(cookie) is None
    assert signer.load(None) is None and signer.load("garbage") is None


def test_throttle_refuses_after_the_limit_and_forgets_on_success():
    t = LoginThrottle(limit=3, window=60)
    for _ in range(3):
        assert t.wait("user:a") == 0
        t.failed("user:a", "addr:x")
    assert t.wait("user:a") > 0 and t.wait("addr:x") > 0 and t.wait("user:b") == 0
    t.succeeded("user:a")
    assert t.wait("user:a") == 0
    short = LoginThrottle(limit=1, window=0.05)
    short.failed("k")
    time.sleep(0.06)
    assert short.wait("k") == 0


@pytest.fixture
def client(settings):  # noqa: ANN001
    app = create_app(settings.with_(secret_key="test", login_attempts=3))
    People(app.state.web.store).add_user("rita", "reviewer", hash_password("pw-rita"))
    with TestClient(app) as c:
        yield c


def _login(client, name: str, password: str):  # noqa: ANN001, ANN202
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=False)


def test_login_needs_its_csrf_token_and_is_throttled(client):
    assert client.post("/login", data={"name": "rita", "password": "pw-rita"}).status_code == 403
    for _ in range(3):
        assert _login(client, "rita", "nope").status_code == 401
    refused = _login(client, "rita", "pw-rita")
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_session_cookie_flags_roles_and_bearer_tokens(client):
    ok = _login(client, "rita", "pw-rita")
    assert ok.status_code == 303 and ok.headers["location"] == "/queue"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/queue").status_code == 200
    assert client.get("/admin/users").status_code == 403
    # a login form's "next" never leaves the app
    for target in ("//elsewhere.example/x", "https://elsewhere.example/", "/evidence/W1"):
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        sent = client.post("/login", data={"name": "rita", "password": "pw-rita", "csrf_token": token,
                                           "next": target}, follow_redirects=False)
        assert sent.headers["location"] == (target if target.startswith("/e") else "/queue")
    people = People(client.app.state.web.store)
    people.add_token("rita", "fst_test-token")
    client.cookies.clear()
    assert client.get("/queue", follow_redirects=False).status_code == 303
    bearer = {"Authorization": "Bearer fst_test-token"}
    assert client.get("/queue", headers=bearer).status_code == 200
    wrong = {"Authorization": "Bearer wrong"}
    assert client.get("/queue", headers=wrong, follow_redirects=False).status_code == 303
    assert client.get("/evidence/W1/pages/1.jpg", headers=wrong).status_code == 401
    assert client.get("/evidence/NOPE", headers=bearer).status_code == 404
