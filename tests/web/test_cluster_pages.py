"""Keyset pages of clusters (``GET /api/v1/clusters`` and the clusters page) on SQLite and
PostgreSQL: every cluster exactly once, in the documented order, with ties on every sort column;
refused cursors and limits. Clusters are written directly (no analysis) so that there are many."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from forensics import investigate
from forensics.settings import Settings
from forensics.store import Store
from forensics.store.schema import clusters
from tests.conftest import fresh_postgres_database

API = "/api/v1"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """A store of 37 clusters with many ties (sellers 1-3, sizes 2-4, 5 distinct days), served."""
    from fastapi.testclient import TestClient

    from forensics.store.people import People
    from forensics.web.app import create_app
    from forensics.web.auth import hash_password, new_token

    with _url(request.param, tmp_path_factory) as url:
        store = Store(url)
        rng = random.Random(7)
        start = datetime(2024, 3, 1, tzinfo=UTC)
        rows = [{"id": f"{'T' if k % 3 else 'D'}{k}", "kind": "template" if k % 3 else "duplicate",
                 "size": rng.randint(2, 4), "sellers": rng.randint(1, 3),
                 "first_seen": start + timedelta(days=rng.randrange(5)),
                 "last_seen": start + timedelta(days=10 + rng.randrange(5)), "updated_at": start}
                for k in range(1, 38)]
        with store.transaction() as conn:
            conn.execute(insert(clusters), rows)
        people = People(store)
        tokens = {}
        for role in ("reviewer", "investigator"):
            people.add_user(f"c-{role}", role, hash_password(secrets.token_hex(8)))
            tokens[role] = new_token()
            people.add_token(f"c-{role}", tokens[role])
        settings = Settings(database_url=url, secret_key=secrets.token_hex(16))
        with TestClient(create_app(settings, store)) as client:
            yield client, store, tokens, rows
        store.close()


def _url(backend: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN202
    from contextlib import nullcontext

    if backend == "sqlite":
        return nullcontext(f"sqlite:///{tmp_path_factory.mktemp('clusters-db') / 'c.db'}")
    return fresh_postgres_database("forensics_web_clusters")


def _walk(client, token: str, query: str) -> tuple[list[str], int]:  # noqa: ANN001
    """Follow X-Next-Cursor to the end; return the ids in order and the number of pages."""
    ids, after, pages = [], None, 0
    while True:
        r = client.get(f"{API}/clusters?{query}" + (f"&after={after}" if after else ""),
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        pages += 1
        ids += [c["id"] for c in r.json()]
        after = r.headers.get("x-next-cursor")
        assert ("link" in r.headers) == (after is not None)
        if after is None:
            return ids, pages
        assert r.headers["link"].endswith('>; rel="next"') and f"after={after}" in r.headers["link"]
        assert len(r.json()) == int(query.split("limit=")[1].split("&")[0])


def test_api_pages_hold_every_cluster_once_widest_first(app):
    client, _store, tokens, rows = app
    expected = [r["id"] for r in sorted(rows, key=lambda r: (-r["sellers"], -r["size"], r["id"]))]
    for limit in (1, 5, 36, 37):
        ids, pages = _walk(client, tokens["investigator"], f"limit={limit}")
        assert ids == expected
        assert pages == -(-len(rows) // limit)
    wide = [r["id"] for r in sorted(rows, key=lambda r: (-r["sellers"], -r["size"], r["id"]))
            if r["sellers"] >= 2 and r["kind"] == "template"]
    assert _walk(client, tokens["investigator"], "min_sellers=2&kind=template&limit=4")[0] == wide
    # without a limit: the default page (here: all of them, no cursor)
    r = client.get(f"{API}/clusters", headers={"Authorization": f"Bearer {tokens['investigator']}"})
    assert [c["id"] for c in r.json()] == expected and "x-next-cursor" not in r.headers


def test_api_refuses_bad_cursors_limits_and_roles(app):
    client, _store, tokens, _rows = app
    h = {"Authorization": f"Bearer {tokens['investigator']}"}
    for bad in ("nope", "W10", "WyJhIl0", "WzEsMiwzLDRd"):  # not base64 JSON; ["a"]; [1,2,3,4]
        r = client.get(f"{API}/clusters?limit=2&after={bad}", headers=h)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", (bad, r.text)
    for limit in (0, 1001):
        assert client.get(f"{API}/clusters?limit={limit}", headers=h).status_code == 422
    assert client.get(f"{API}/clusters").status_code == 401
    r = client.get(f"{API}/clusters", headers={"Authorization": f"Bearer {tokens['reviewer']}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("sort,desc", [("first_seen", True), ("last_seen", False), ("sellers", False),
                                       ("size", True), ("id", True), ("id", False)])
def test_store_pages_in_any_sort_order(app, sort, desc):
    _client, store, _tokens, rows = app
    order = [(sort, desc)] + ([("id", desc)] if sort != "id" else [])
    expected = [r["id"] for r in sorted(rows, key=lambda r: (r[sort], r["id"]), reverse=desc)]
    ids, after = [], None
    while True:
        page = investigate.cluster_page(store, order=order, after=after, limit=6)
        assert page["count"] == len(rows)
        ids += [r["id"] for r in page["rows"]]
        after = page["next"]
        if after is None:
            break
    assert ids == expected
    with pytest.raises(ValueError):  # a cursor of another order
        investigate.cluster_page(store, order=investigate.WIDEST_FIRST, after=investigate.cluster_cursor(rows[0], order))


def test_clusters_page_links_its_next_page(app, monkeypatch):
    import re

    from forensics.store.people import People
    from forensics.web.auth import hash_password
    from forensics.web.routes import investigator
    from tests.web.conftest import ADMIN

    client, store, _tokens, rows = app
    monkeypatch.setattr(investigator, "CLUSTER_ROWS", 10)
    if People(store).user(ADMIN[0]) is None:
        People(store).add_user(ADMIN[0], "admin", hash_password(ADMIN[1]))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"name": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
    seen, url, pages = [], "/clusters?sort=id&desc=false", 0
    while url:
        html = client.get(url).text
        pages += 1
        seen += re.findall(r'data-cluster="([^"]+)"', html)
        more = re.search(r'<a class="more" href="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == sorted(r["id"] for r in rows) and pages == 4
    assert client.get("/clusters?after=garbage").status_code == 400
