"""The evidence store on SQLite and on real PostgreSQL: records, idempotency, clusters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from forensics.events import UploadEvent
from forensics.store import Store, registries

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):  # noqa: ANN001
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 's.db'}")
    else:
        s = Store(request.getfixturevalue("pg_settings").database_url)
    yield s
    s.close()


def ev(i: int, seller: str = "S1") -> UploadEvent:
    return UploadEvent(evidence_id=f"E{i}", seller_id=seller, blob=f"f{i}.jpg", uploaded_at=T0 + timedelta(minutes=i))


def analysed(store: Store, e: UploadEvent, sha: str) -> None:
    assert store.begin(e, sha)[0] == "analyse"
    with store.transaction(exclusive=True) as conn:
        store.write_analysis(conn, e.evidence_id, {"sha256": sha, "fields": {}, "own_findings": [], "findings": [],
                                                   "checks": {"ocr": "done"}, "verdict": "clean", "risk": 0}, None)


def test_same_bytes_again_is_done_other_bytes_archive(store: Store):
    e = ev(1)
    analysed(store, e, "aa")
    assert store.begin(e, "aa")[0] == "done"
    assert store.get("E1")["status"] == "analyzed"
    assert store.begin(e, "bb")[0] == "analyse"
    assert store.get("E1")["status"] == "pending" and store.get("E1")["verdict"] is None
    hist = store.history("E1")
    assert [h["sha256"] for h in hist] == ["aa"] and hist[0]["status"] == "analyzed"


def test_failed_record_touches_no_other(store: Store):
    analysed(store, ev(1), "aa")
    before = store.get("E1")
    store.save_failed(ev(2), None, "corrupt_file", "The file is truncated.")
    assert store.get("E1") == before
    rec = store.get("E2")
    assert rec["status"] == "failed" and rec["verdict"] == "error"
    assert rec["error"] == {"code": "corrupt_file", "message": "The file is truncated."}


def test_records_come_in_upload_order_across_batches(store: Store):
    for i in (3, 1, 2, 5, 4):
        analysed(store, ev(i), f"s{i}")
    assert [r["evidence_id"] for r in store.records(batch=2)] == ["E1", "E2", "E3", "E4", "E5"]
    assert store.count() == 5 and store.count(status="failed") == 0


def test_clusters_follow_relations_and_merge_keeping_the_oldest_id(store: Store):
    for i, seller in ((1, "S1"), (2, "S2"), (3, "S3"), (4, "S4")):
        analysed(store, ev(i, seller), f"s{i}")
    with store.transaction(exclusive=True) as conn:
        registries.add_relation(conn, "E1", "E2", "edited_copy", 0.9)
        registries.rebuild_clusters(conn, "E1")
        registries.add_relation(conn, "E3", "E4", "edited_copy", 0.9)
        registries.rebuild_clusters(conn, "E3")
        registries.add_relation(conn, "E4", "E3", "edited_copy", 0.95)  # same pair: one relation
        assert [c["id"] for c in registries.list_clusters(conn)] == ["T1", "T2"]
        registries.add_relation(conn, "E2", "E3", "edited_copy", 0.9)
        registries.rebuild_clusters(conn, "E2")
        clusters = registries.list_clusters(conn, min_sellers=2)
        assert [(c["id"], c["size"], c["sellers"]) for c in clusters] == [("T1", 4, 4)]
        assert len(registries.relations_of(conn, ["E3"])) == 2
    assert store.get("E4")["clusters"] == [{"kind": "template", "id": "T1", "size": 4, "sellers": 4}]


def test_changed_bytes_drop_links(store: Store):
    analysed(store, ev(1, "S1"), "a")
    analysed(store, ev(2, "S2"), "b")
    with store.transaction(exclusive=True) as conn:
        registries.add_relation(conn, "E1", "E2", "same_image", 1.0)
        registries.rebuild_clusters(conn, "E1")
    assert store.get("E2")["clusters"]
    action, touched = store.begin(ev(1, "S1"), "changed")
    assert action == "analyse" and touched == {"E2"}
    assert store.get("E2")["clusters"] == []


def test_dead_letters_round_trip(store: Store):
    store.add_dead_letter("m1", {"evidence_id": "E9"}, "StoreUnavailable: down", 5)
    store.add_dead_letter("m1", {"evidence_id": "E9"}, "StoreUnavailable: still down", 5)
    rows = store.dead_letters()
    assert len(rows) == 1 and rows[0]["error"].endswith("still down")
    store.mark_redriven([rows[0]["id"]])
    assert store.dead_letters() == [] and len(store.dead_letters(include_redriven=True)) == 1


def test_migrations_build_the_schema_the_code_declares(store: Store):
    # a column or index added to schema.py without its migration (or the reverse) shows here
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from forensics.store.schema import metadata

    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []
