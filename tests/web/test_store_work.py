"""Store work per request, counted by the app's own counters (``forensics.web.db_metrics``), on
SQLite and PostgreSQL: one pooled connection per request on PostgreSQL, a fixed number of SQL
statements per page whatever it shows (a budget per page: a query per row shown would break it)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

#: route -> (method, path template as the metrics label it, at most this many statements)
BUDGET = {
    "/queue": ("GET", "/queue", 5),
    # the record, its clusters, review, reading, history, audit, related uploads' briefs, and the
    # next open upload (up to three steps of the queue's walk)
    "/evidence/W1": ("GET", "/evidence/{evidence_id}", 11),
    "/evidence/W2": ("GET", "/evidence/{evidence_id}", 11),
    "/clusters?min_sellers=1": ("GET", "/clusters", 3),
    "/serials/CS00012345": ("GET", "/serials/{value}", 3),
    "/graph?seed=S1&hops=3": ("GET", "/graph", 6),
    "/api/v1/clusters": ("GET", "/api/v1/clusters", 2),
}


def _work(method: str, route: str) -> tuple[float, float, float]:
    labels = {"method": method, "route": route}
    return tuple(REGISTRY.get_sample_value(name, labels) or 0.0 for name in (
        "forensics_http_requests_total", "forensics_http_db_statements_total", "forensics_http_db_checkouts_total"))


def _measure(api, method: str, path: str, route: str, n: int = 3, **kwargs) -> tuple[float, float]:  # noqa: ANN001
    """Statements and connection checkouts per request of ``n`` requests."""
    before = _work(method, route)
    for _ in range(n):
        r = api.client.request(method, path, headers=api.headers("admin"), follow_redirects=False, **kwargs)
        assert r.status_code in (200, 303), (path, r.status_code, r.text[:300])
    after = _work(method, route)
    return (after[1] - before[1]) / n, (after[2] - before[2]) / n


@pytest.mark.parametrize("path", list(BUDGET))
def test_each_page_has_a_fixed_statement_budget_and_one_connection(api, path):
    method, route, most = BUDGET[path]
    statements, checkouts = _measure(api, method, path, route)
    assert 1 <= statements <= most, (path, statements)
    if api.backend == "postgresql":
        assert checkouts == 1, (path, checkouts)
    else:  # SQLite: each read keeps its own short transaction (the writer lock is not held while rendering)
        assert checkouts >= 1


def test_cluster_page_and_decision_budget(api):
    cid = api.client.get("/api/v1/clusters", headers=api.headers("admin")).json()[0]["id"]
    statements, checkouts = _measure(api, "GET", f"/clusters/{cid}", "/clusters/{cluster_id}")
    assert statements <= 6 and (checkouts == 1 or api.backend == "sqlite")
    statements, checkouts = _measure(api, "POST", "/evidence/W3/decision", "/evidence/{evidence_id}/decision",
                                     data={"status": "needs_more_information", "reason": "ask_seller"})
    assert statements <= 9 and (checkouts == 1 or api.backend == "sqlite")


def test_every_page_answers_with_a_pool_of_one_connection(api):
    """A route holding the request's connection must not ask the pool for a second one (under
    load every connection would be held by a request waiting for another): with a pool of one,
    such a route would wait out the pool timeout and fail."""
    if api.backend != "postgresql":
        pytest.skip("the request transaction is PostgreSQL's (SQLite keeps short ones)")
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine

    from forensics.store import Store
    from forensics.web.app import create_app

    store = Store(api.store.url, migrate=False)
    store.engine.dispose()
    store.engine = create_engine(api.store.url.replace("postgresql://", "postgresql+psycopg://"),
                                 pool_size=1, max_overflow=0, pool_timeout=3)
    h = api.headers("admin")
    cid = api.client.get("/api/v1/clusters", headers=h).json()[0]["id"]
    paths = [*BUDGET, f"/clusters/{cid}", f"/api/v1/clusters/{cid}", "/api/v1/evidence/W1", "/api/v1/evidence",
             "/api/v1/sellers/S1", "/api/v1/serials/CS00012345", "/api/v1/graph?seed=seller:S1",
             "/evidence/W1/compare/W2", "/sellers/S1", "/admin/audit"]
    try:
        with TestClient(create_app(api.settings, store)) as client:
            for path in paths:
                r = client.get(path, headers=h)
                assert r.status_code == 200, (path, r.status_code, r.text[:200])
            r = client.post("/evidence/W3/decision", headers=h, follow_redirects=False,
                            data={"status": "needs_more_information", "reason": "ask_seller", "then": "next"})
            assert r.status_code == 303, r.text[:200]
            r = client.post("/api/v1/evidence/W3/decisions", headers=h,
                            json={"status": "needs_more_information", "reason": "ask_shop"})
            assert r.status_code == 201, r.text[:200]
    finally:
        store.close()
