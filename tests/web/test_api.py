"""The HTTP API (/api/v1) on SQLite and PostgreSQL: every route's answer and its refusals."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests.conftest import RECEIPT_LINES, simple_receipt

API = "/api/v1"


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _error(r, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


GETS = ["/evidence/W1", "/evidence", "/evidence/W1/pages/1.png", "/clusters", "/sellers/S1",
        "/serials/CS00012345", "/issuers/tax:001234567890", "/graph?seed=seller:S1", "/export?format=csv"]
INVESTIGATOR_ONLY = {"/clusters", "/sellers/S1", "/serials/CS00012345", "/issuers/tax:001234567890",
                     "/graph?seed=seller:S1", "/export?format=csv"}


@pytest.mark.parametrize("path", GETS)
def test_every_route_wants_a_token_and_its_role(api, path):
    _error(api.client.get(API + path), 401, "login_required")
    _error(api.client.get(API + path, headers={"Authorization": "Bearer fst_not-a-token"}), 401)
    r = api.client.get(API + path, headers=api.headers("reviewer"))
    if path in INVESTIGATOR_ONLY:
        _error(r, 403, "forbidden")
    else:
        assert r.status_code == 200, r.text
    assert api.client.get(API + path, headers=api.headers("admin")).status_code == 200


def test_posts_want_a_token_and_no_csrf_with_one(api):
    _error(api.client.post(f"{API}/evidence/W4/decisions", json={"status": "legitimate", "reason": "ocr_misread"}), 401)
    _error(api.client.post(f"{API}/similar", headers=api.headers("reviewer"),
                           files={"file": ("a.png", b"x", "image/png")}), 403, "forbidden")


def test_evidence_record_list_and_page(api):
    h = api.headers("reviewer")
    rec = api.client.get(f"{API}/evidence/W2", headers=h).json()
    assert rec["evidence_id"] == "W2" and rec["seller_id"] == "S2" and "review" in rec
    assert rec["status"] == "analyzed" and isinstance(rec["findings"], list)
    _error(api.client.get(f"{API}/evidence/NOPE", headers=h), 404, "not_found")
    first = api.client.get(f"{API}/evidence?limit=2", headers=h).json()
    assert len(first["rows"]) == 2 and first["next"] and first["count"] == 4
    rest = api.client.get(f"{API}/evidence", params={"limit": 2, "after": first["next"]}, headers=h).json()
    ids = [r["evidence_id"] for r in first["rows"] + rest["rows"]]
    assert sorted(ids) == ["W1", "W2", "W3", "W4"] and rest["next"] is None
    risks = [r["risk"] for r in first["rows"] + rest["rows"]]
    assert risks == sorted(risks, reverse=True)
    only = api.client.get(f"{API}/evidence?seller=S4", headers=h).json()
    assert [r["evidence_id"] for r in only["rows"]] == ["W4"]
    _error(api.client.get(f"{API}/evidence?verdict=bogus", headers=h), 422, "invalid_request")
    _error(api.client.get(f"{API}/evidence?since=yesterday", headers=h), 400)
    _error(api.client.get(f"{API}/evidence?limit=abc", headers=h), 422, "invalid_request")
    png = api.client.get(f"{API}/evidence/W1/pages/1.png", headers=h)
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size[0] > 300
    _error(api.client.get(f"{API}/evidence/W1/pages/2.png", headers=h), 404)
    _error(api.client.get(f"{API}/evidence/NOPE/pages/1.png", headers=h), 404)


def test_decisions_follow_the_pages_rules_and_are_audited(api):
    from forensics.store.people import People

    h = api.headers("reviewer")
    url = f"{API}/evidence/W3/decisions"
    _error(api.client.post(url, headers=h, json={"status": "legitimate", "reason": "edited_fields"}), 400, "bad_request")
    _error(api.client.post(url, headers=h, json={"status": "maybe"}), 422, "invalid_request")
    _error(api.client.post(f"{API}/evidence/NOPE/decisions", headers=h,
                           json={"status": "legitimate", "reason": "ocr_misread"}), 404)
    r = api.client.post(url, headers=h, json={"status": "legitimate", "reason": "ocr_misread", "comment": "ok"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "legitimate"
    assert api.client.get(f"{API}/evidence/W3", headers=h).json()["review"]["decided_by"] == "api-reviewer"
    rows = People(api.store).audit_rows(object_type="evidence", object_id="W3")
    assert [(a["action"], a["actor"]) for a in rows] == [("decide", "api-reviewer")]
    assert rows[0]["request_id"]


def test_clusters_pivots_and_seller(api):
    h = api.headers("investigator")
    clusters = api.client.get(f"{API}/clusters?min_sellers=2", headers=h).json()
    assert len(clusters) == 1 and clusters[0]["sellers"] == 2
    cid = clusters[0]["id"]
    assert api.client.get(f"{API}/clusters?min_sellers=3", headers=h).json() == []
    _error(api.client.get(f"{API}/clusters?kind=odd", headers=h), 422)
    detail = api.client.get(f"{API}/clusters/{cid}", headers=h).json()
    assert {m["evidence_id"] for m in detail["members"]} == {"W1", "W2"} and detail["sellers"] == ["S1", "S2"]
    assert "total" in detail["differing_fields"]
    _error(api.client.get(f"{API}/clusters/X999", headers=h), 404)
    serial = api.client.get(f"{API}/serials/CS00012345", headers=h).json()
    assert [s["seller_id"] for s in serial["sellers"]] == ["S1", "S2"]
    assert {u["evidence_id"] for u in serial["uploads"]} == {"W1", "W2"}
    _error(api.client.get(f"{API}/serials/ZZ0", headers=h), 404)
    for key in ("tax:001234567890", "001234567890"):
        issuer = api.client.get(f"{API}/issuers/{key}", headers=h).json()
        assert {u["evidence_id"] for u in issuer["uploads"]} == {"W1", "W2"}
    _error(api.client.get(f"{API}/issuers/tax:000", headers=h), 404)
    seller = api.client.get(f"{API}/sellers/S2", headers=h).json()
    assert seller["linked_sellers"] == ["S1"]
    _error(api.client.get(f"{API}/sellers/NOBODY", headers=h), 404)


def test_graph_from_a_seller(api):
    h = api.headers("investigator")
    g = api.client.get(f"{API}/graph?seed=seller:S1&hops=2&limit=500", headers=h).json()
    assert {n["id"] for n in g["nodes"]} == {"seller:S1", "seller:S2"} and not g["truncated"]
    (edge,) = g["edges"]
    assert {edge["source"], edge["target"]} == {"seller:S1", "seller:S2"}
    assert any(v.startswith("serial:") for v in edge["via"]) and any(v.startswith("cluster:") for v in edge["via"])
    capped = api.client.get(f"{API}/graph?seed=seller:S1&limit=1", headers=h).json()
    assert capped["truncated"] and [n["id"] for n in capped["nodes"]] == ["seller:S1"]
    alone = api.client.get(f"{API}/graph?seed=seller:S4", headers=h).json()
    assert [n["id"] for n in alone["nodes"]] == ["seller:S4"] and alone["edges"] == []
    _error(api.client.get(f"{API}/graph?seed=S1", headers=h), 400)
    _error(api.client.get(f"{API}/graph?seed=seller:S1&hops=9", headers=h), 422, "invalid_request")
    _error(api.client.get(f"{API}/graph?seed=seller:NOBODY", headers=h), 404)


def test_similar_finds_the_original_and_stores_nothing(api):
    h = api.headers("investigator")
    before = api.store.count()
    data = _png(simple_receipt(RECEIPT_LINES, seed=3))
    r = api.client.post(f"{API}/similar", headers=h, files={"file": ("q.png", data, "image/png")})
    assert r.status_code == 200, r.text
    found = {row["evidence_id"] for row in r.json()}
    assert {"W1", "W2"} <= found and "W4" not in found
    assert api.store.count() == before
    _error(api.client.post(f"{API}/similar", headers=h, files={"file": ("q.png", b"not an image", "image/png")}),
           400, "unsupported_media")
    _error(api.client.post(f"{API}/similar", headers=h, files={"file": ("q.png", b"", "image/png")}), 400, "empty_file")
    _error(api.client.post(f"{API}/similar", headers=h, files={"file": ("q.png", b"x" * 400_001, "image/png")}),
           413, "file_too_large")


def test_upload_is_stored_and_analysed_here_without_a_broker(api):
    h = api.headers("reviewer")
    data = _png(simple_receipt(RECEIPT_LINES[:6], seed=11))
    r = api.client.post(f"{API}/uploads", headers=h, files={"file": ("../../etc/x.png", data, "image/png")},
                        data={"seller_id": "S77", "claims": json.dumps({"total": "25.00"})})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status_url"] == f"{API}/evidence/{body['evidence_id']}" and r.headers["location"] == body["status_url"]
    rec = api.client.get(body["status_url"], headers=h).json()
    assert rec["seller_id"] == "S77" and rec["status"] == "analyzed" and rec["claimed"] == {"total": "25.00"}
    assert rec["blob"].startswith("api-uploads/") and ".." not in rec["blob"] and rec["blob"].endswith(".png")
    garbage = api.client.post(f"{API}/uploads", headers=h, files={"file": ("x.jpg", b"\xff\xd8 not a jpeg", "image/jpeg")},
                              data={"seller_id": "S78"})
    assert garbage.status_code == 202
    failed = api.client.get(garbage.json()["status_url"], headers=h).json()
    assert failed["status"] == "failed" and failed["error"]["code"]
    _error(api.client.post(f"{API}/uploads", headers=h, files={"file": ("x.png", data, "image/png")},
                           data={"seller_id": "bad seller id!"}), 400, "invalid_event")
    _error(api.client.post(f"{API}/uploads", headers=h, files={"file": ("x.png", data, "image/png")},
                           data={"seller_id": "S9", "claims": "{not json"}), 400, "invalid_event")
    _error(api.client.post(f"{API}/uploads", headers=h, files={"file": ("x.png", b"x" * 400_001, "image/png")},
                           data={"seller_id": "S9"}), 413, "file_too_large")
    _error(api.client.post(f"{API}/uploads", headers=h, data={"seller_id": "S9"}), 422)
    _error(api.client.post(f"{API}/uploads", files={"file": ("x.png", data, "image/png")}, data={"seller_id": "S9"}), 401)


def test_upload_without_a_reachable_broker_says_so(api, monkeypatch):
    s = api.client.app.state.web
    monkeypatch.setattr(s, "settings", s.settings.with_(broker_url="redis://127.0.0.1:1/0"))
    data = _png(simple_receipt(RECEIPT_LINES[:4], seed=12))
    r = api.client.post(f"{API}/uploads", headers=api.headers("reviewer"),
                        files={"file": ("x.png", data, "image/png")}, data={"seller_id": "S79"})
    err = _error(r, 503, "broker_unavailable")
    assert "127.0.0.1:1" in err["message"]


def test_page_hash_pivot(api):
    h = api.headers("investigator")
    detail = api.client.get(f"{API}/clusters/{api.client.get(f'{API}/clusters', headers=h).json()[0]['id']}",
                            headers=h).json()
    member = next(m for m in detail["members"] if m["page_hash"])
    pivot = api.client.get(f"{API}/page-hashes/{member['page_hash'].upper()}", headers=h).json()
    assert member["evidence_id"] in {u["evidence_id"] for u in pivot["uploads"]}
    assert pivot["page_hash"] == member["page_hash"]
    assert {s["seller_id"] for s in pivot["sellers"]} == {u["seller_id"] for u in pivot["uploads"]}
    for s in pivot["sellers"]:
        assert s["first_seen"] <= s["last_seen"] and s["uploads"] >= 1
    # the same rows as the investigator's page-hash page
    assert pivot == json.loads(json.dumps(__import__("forensics.investigate", fromlist=["x"])
                                          .page_hash_pivot(api.store, member["page_hash"])))
    _error(api.client.get(f"{API}/page-hashes/{'0' * 64}", headers=h), 404, "not_found")
    for bad in ("abc", "g" * 64, "0" * 65):
        _error(api.client.get(f"{API}/page-hashes/{bad}", headers=h), 400, "bad_request")
    _error(api.client.get(f"{API}/page-hashes/{member['page_hash']}"), 401, "login_required")
    _error(api.client.get(f"{API}/page-hashes/{member['page_hash']}", headers=api.headers("reviewer")), 403,
           "forbidden")
