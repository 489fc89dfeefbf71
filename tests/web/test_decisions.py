"""Decisions beside the analysis, and what they teach later analyses (store level, SQLite)."""

from __future__ import annotations

import json

import pytest
from PIL import ImageDraw
from typer.testing import CliRunner

from forensics.pipeline import analyse
from forensics.settings import get_settings
from forensics.store.people import People
from forensics.store.reviews import Reviews
from tests.conftest import RECEIPT_LINES, font, simple_receipt
from tests.web.corpus import ingest, write_corpus


@pytest.fixture
def pair(settings, blob_root):  # noqa: ANN001
    """W1 and its edited copy W2 (another seller), analysed; the other files written."""
    events = write_corpus(blob_root)
    store = ingest(events[:2], settings)
    return store, events


def _recopy(blob_root, name: str, total: str) -> None:  # noqa: ANN001
    """Another edited copy of w1.png: the total repainted."""
    img = simple_receipt(RECEIPT_LINES, seed=3)
    draw = ImageDraw.Draw(img)
    y = 50 + 9 * int(26 * 1.6)
    draw.rectangle((520, y - 2, 690, y + 32), fill=250)
    draw.text((40, y), f"TOTAL                      {total}", fill=20, font=font(26))
    img.save(blob_root / name)


def test_a_decision_is_kept_beside_the_analysis_and_survives_reanalysis(pair, settings):
    store, _ = pair
    before = store.get("W2")
    reviews = Reviews(store)
    review = reviews.decide("W2", "needs_more_information", "ask_seller", "  why  ", actor="rita",
                            role="reviewer", request_id="req-1")
    assert review["status"] == "needs_more_information" and review["comment"] == "why"
    after = store.get("W2")
    assert {k: after[k] for k in ("verdict", "risk", "findings")} == {k: before[k] for k in ("verdict", "risk", "findings")}
    assert after["review"]["decided_by"] == "rita"
    # another upload that refreshes W2's link findings keeps the decision
    analyse({"evidence_id": "W9", "seller_id": "S9", "blob": "w1.png"}, store, settings)
    assert store.get("W2")["review"] == after["review"]
    rows = People(store).audit_rows(object_type="evidence", object_id="W2")
    assert [r["action"] for r in rows] == ["decide"] and rows[0]["request_id"] == "req-1"
    with pytest.raises(ValueError, match="does not go with"):
        reviews.decide("W2", "legitimate", "edited_fields", None, actor="rita", role="reviewer")
    assert len(People(store).audit_rows(object_type="evidence", object_id="W2")) == 1


def test_confirmed_forgery_teaches_a_known_forgery_match(pair, settings, blob_root):
    store, _ = pair
    decision = Reviews(store).decide("W2", "confirmed_forgery", "edited_fields", None, actor="rita", role="reviewer")
    assert decision["status"] == "confirmed_forgery"
    audit_id = People(store).audit_rows(object_type="evidence", object_id="W2")[0]["id"]
    # the same forged file, re-encoded, from a third seller
    from PIL import Image

    Image.open(blob_root / "w2.png").convert("RGB").save(blob_root / "w2.jpg", quality=92)
    analyse({"evidence_id": "W5", "seller_id": "S5", "blob": "w2.jpg"}, store, settings)
    match = [f for f in store.get("W5")["findings"] if f["code"] == "known_forgery_match"]
    assert match and match[0]["severity"] == "high" and match[0]["related"] == ["W2"]
    assert f"decision #{audit_id}" in match[0]["message"] and "rita" in match[0]["message"]
    # an unrelated receipt matches nothing; a changed mind takes the upload out of the registry
    analyse({"evidence_id": "W4", "seller_id": "S4", "blob": "w4.png"}, store, settings)
    assert not [f for f in store.get("W4")["findings"] if f["code"] == "known_forgery_match"]
    Reviews(store).decide("W2", "legitimate", "other", "shop confirmed", actor="rita", role="reviewer")
    assert Reviews(store).known_forgeries() == []
    analyse({"evidence_id": "W6", "seller_id": "S6", "blob": "w2.jpg"}, store, settings)
    assert not [f for f in store.get("W6")["findings"] if f["code"] == "known_forgery_match"]


def test_shop_template_allowlist_softens_later_layout_matches_until_removed(pair, settings, blob_root):
    store, _ = pair
    reviews = Reviews(store)
    reviews.decide("W1", "legitimate", "shop_template", None, actor="rita", role="reviewer", own_template=True)
    [entry] = reviews.allowlist()
    assert entry["issuer_key"].startswith("name:") and entry["evidence_id"] == "W1"
    _recopy(blob_root, "w7.png", "71.81")
    analyse({"evidence_id": "W7", "seller_id": "S7", "blob": "w7.png"}, store, settings)
    edited = [f for f in store.get("W7")["findings"] if f["code"] == "edited_copy"]
    assert edited and edited[0]["severity"] == "info", edited
    assert f"decision #{entry['audit_id']}" in edited[0]["message"]
    assert reviews.remove_allowlist(entry["id"], actor="adam", role="admin")
    assert reviews.allowlist() == []
    _recopy(blob_root, "w8.png", "72.81")
    analyse({"evidence_id": "W8", "seller_id": "S8", "blob": "w8.png"}, store, settings)
    edited = [f for f in store.get("W8")["findings"] if f["code"] == "edited_copy"]
    assert edited and edited[0]["severity"] == "high", edited
    actions = [r["action"] for r in People(store).audit_rows(object_type="evidence", object_id="W1")]
    assert actions == ["allowlist_remove", "decide"]


def test_template_allowlist_needs_a_legitimate_decision(pair):
    store, _ = pair
    with pytest.raises(ValueError, match="only a legitimate"):
        Reviews(store).decide("W1", "confirmed_forgery", "other", None, actor="r", role="reviewer", own_template=True)
    assert Reviews(store).allowlist() == [] and store.get("W1")["review"] is None


def test_queue_is_keyset_paginated_and_filtered(pair, settings):
    store, events = pair
    ingest(events[2:], settings)
    reviews = Reviews(store)
    first = reviews.queue(review="any", limit=2)
    assert first["count"] == 4 and first["next"]
    second = reviews.queue(review="any", limit=2, after=first["next"])
    ids = [r["evidence_id"] for r in first["rows"] + second["rows"]]
    assert sorted(ids) == ["W1", "W2", "W3", "W4"] and second["next"] is None
    assert all("text" not in r and "fields" not in r for r in first["rows"])
    # the original of the edited copy says it was copied (CONTRACT.md section 3)
    assert {r["evidence_id"] for r in reviews.queue(code="edited_copy")["rows"]} == {"W2"}
    assert {r["evidence_id"] for r in reviews.queue(code="copied_by_later_upload")["rows"]} == {"W1"}
    assert [r["evidence_id"] for r in reviews.queue(seller="S4", review="any")["rows"]] == ["W4"]
    assert {r["evidence_id"] for r in reviews.queue(verdict="flagged")["rows"]} == {"W1", "W2"}
    reviews.decide("W1", "legitimate", "other", None, actor="r", role="reviewer")
    assert "W1" not in {r["evidence_id"] for r in reviews.queue()["rows"]}
    assert [r["evidence_id"] for r in reviews.queue(review="legitimate")["rows"]] == ["W1"]


def test_cli_users_tokens_and_the_review_in_show_json(pair, settings, monkeypatch):
    store, _ = pair
    monkeypatch.setenv("FORENSICS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FORENSICS_BLOB_ROOT", settings.blob_root)
    get_settings.cache_clear()
    from forensics.cli import app
    from forensics.web.auth import verify_password

    runner = CliRunner()
    try:
        out = runner.invoke(app, ["users", "add", "alice", "--role", "investigator"], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        password = out.output.rsplit(":", 1)[1].strip()
        user = People(store).user("alice")
        assert user["role"] == "investigator" and password not in user["password_hash"]
        assert verify_password(user["password_hash"], password)[0]
        again = runner.invoke(app, ["users", "add", "alice"])
        assert again.exit_code == 2 and "already exists" in again.output
        bad_role = runner.invoke(app, ["users", "add", "bob", "--role", "root"])
        assert bad_role.exit_code == 2
        token = runner.invoke(app, ["users", "token", "alice"], catch_exceptions=False).output.strip()
        assert token.startswith("fst_") and People(store).user_for_token(token)["name"] == "alice"
        assert People(store).user_for_token(token + "x") is None
        Reviews(store).decide("W2", "confirmed_forgery", "edited_fields", "<b>x</b>", actor="alice", role="investigator")
        shown = json.loads(runner.invoke(app, ["show", "W2", "--json"], catch_exceptions=False).output)
        assert shown["review"]["status"] == "confirmed_forgery" and shown["review"]["decided_by"] == "alice"
        exported = runner.invoke(app, ["export", "--format", "jsonl"], catch_exceptions=False).output
        records = {r["evidence_id"]: r for r in map(json.loads, exported.splitlines())}
        assert records["W1"]["review"] is None and records["W2"]["review"]["reason"] == "edited_fields"
        assert "Example" in runner.invoke(app, ["serve", "--help"]).output
    finally:
        get_settings.cache_clear()
