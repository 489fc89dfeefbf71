"""Work per upload that does not grow with the store, and matching outside the lock.

- clusters are merged by union (the older id stays) and new ids come from a counter;
- an older record's link findings are refreshed from the relation kinds that changed, and end
  exactly as a full recompute from all its relations would make them;
- the linking detectors' expensive steps run once per upload (before the lock), and an upload
  registered between the snapshot and the lock is still matched.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from forensics.detectors import duplicates
from forensics.events import UploadEvent
from forensics.pipeline import analyse, refresh_link_findings, refresh_new_links
from forensics.store import Store, registries
from forensics.store.schema import cluster_members
from tests.conftest import RECEIPT_LINES, simple_receipt

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _records(store: Store, n: int, sellers: int = 3) -> list[str]:
    ids = []
    for i in range(n):
        eid = f"E{i:03d}"
        store.begin(UploadEvent(eid, f"S{i % sellers}", f"b{i}", uploaded_at=T0 + timedelta(minutes=i)), f"{i:064x}")
        with store.transaction() as conn:
            store.write_analysis(conn, eid, {"own_findings": [], "checks": {}, "fields": {}}, None)
        ids.append(eid)
    return ids


def _clusters(store: Store) -> dict[str, set[str]]:
    with store.transaction() as conn:
        rows = conn.execute(select(cluster_members.c.cluster_id, cluster_members.c.evidence_id)).all()
    out: dict[str, set[str]] = {}
    for cid, eid in rows:
        out.setdefault(cid, set()).add(eid)
    return out


def test_clusters_merge_by_union_and_take_ids_from_a_counter(settings):
    store = Store(settings.database_url)
    a, b, c, d, e, f = _records(store, 6)
    with store.transaction(exclusive=True) as conn:
        for x, y in ((a, b), (c, d)):
            registries.add_relation(conn, x, y, "same_image", 1.0)
            registries.join_clusters(conn, x, y, "same_image")
    assert _clusters(store) == {"D1": {a, b}, "D2": {c, d}}
    with store.transaction(exclusive=True) as conn:
        registries.add_relation(conn, b, c, "same_file", 1.0)
        registries.join_clusters(conn, b, c, "same_file")  # two clusters become one: D1 stays
        registries.add_relation(conn, e, f, "same_content", 0.9)
        registries.join_clusters(conn, e, f, "same_content")  # D2 is gone, but never given out again
        registries.add_relation(conn, a, e, "edited_copy", 0.8)
        registries.join_clusters(conn, a, e, "edited_copy")  # another kind: a template cluster
        registries.join_clusters(conn, a, d, "same_image")  # already together: nothing changes
    got = _clusters(store)
    assert got == {"D1": {a, b, c, d}, "D3": {e, f}, "T1": {a, e}}
    detail = {cl["id"]: cl for cl in _list(store)}
    assert detail["D1"]["size"] == 4 and detail["D1"]["sellers"] == 3
    # the union is what rebuilding the connected components from the relations makes
    with store.transaction(exclusive=True) as conn:
        for x in (a, e):
            registries.rebuild_clusters(conn, x)
    assert _clusters(store) == got


def _list(store: Store) -> list[dict]:
    with store.transaction() as conn:
        return registries.list_clusters(conn)


def test_link_findings_refreshed_incrementally_equal_a_full_recompute(settings):
    store = Store(settings.database_url)
    ids = _records(store, 14, sellers=4)
    rng = random.Random(3)
    kinds = ["same_image", "same_file", "same_content", "edited_copy", "same_layout", "serial_reuse",
             "serial_conflict"]
    # uploads arrive in order; each links to a few earlier ones, as the pipeline writes them
    for i, new in enumerate(ids[1:], start=1):
        rels = []
        for other in rng.sample(ids[:i], min(i, rng.randint(1, 4))):
            kind = rng.choice(kinds)
            rels.append({"other": other, "kind": kind, "score": round(rng.random(), 2),
                         "details": {"serial": "INV-7", "fields": ["date"]} if kind.startswith("serial") else {}})
        with store.transaction(exclusive=True) as conn:
            for rel in rels:
                registries.add_relation(conn, new, rel["other"], rel["kind"], rel["score"], rel["details"])
            refresh_link_findings(conn, {new}, settings)
            refresh_new_links(conn, new, rels, settings)
    incremental = {eid: store.get(eid) for eid in ids}
    assert any(len(r["findings"]) >= 3 for r in incremental.values())
    with store.transaction(exclusive=True) as conn:
        refresh_link_findings(conn, set(ids), settings)
    for eid in ids:
        full = store.get(eid)
        assert (full["findings"], full["risk"], full["verdict"]) == (
            incremental[eid]["findings"], incremental[eid]["risk"], incremental[eid]["verdict"]), eid


def test_expensive_comparisons_run_once_per_upload_not_again_under_the_lock(settings, blob_root, monkeypatch):
    calls = []
    real = duplicates.compare_pages
    monkeypatch.setattr(duplicates, "compare_pages", lambda a, b: calls.append(1) or real(a, b))
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    img.rotate(0.5, expand=True, fillcolor=250).convert("RGB").save(blob_root / "b.jpg", quality=70)
    store = Store(settings.database_url)
    analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png"}, store, settings)
    assert calls == []
    analyse({"evidence_id": "E2", "seller_id": "S2", "blob": "b.jpg"}, store, settings)
    dup = [f for f in store.get("E2")["findings"] if f["code"] == "duplicate_upload"]
    assert dup and dup[0]["related"] == ["E1"]
    assert calls == [1]  # aligned before the lock; the run under it reused the comparison


class RacingStore(Store):
    """A store that runs something just before the next exclusive transaction begins: another
    worker registering an upload between this one's snapshot and its lock."""

    before_lock = None

    def transaction(self, *, exclusive: bool = False):  # noqa: ANN201
        if exclusive and self.before_lock is not None:
            run, self.before_lock = self.before_lock, None
            run()
        return super().transaction(exclusive=exclusive)


def test_upload_registered_after_the_snapshot_is_still_matched_under_the_lock(settings, blob_root):
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    img.rotate(0.5, expand=True, fillcolor=250).convert("RGB").save(blob_root / "b.jpg", quality=70)
    store = RacingStore(settings.database_url)
    # E2's snapshot is taken on an empty store; E1 registers before E2 takes the lock
    store.before_lock = lambda: analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png"}, store, settings)
    analyse({"evidence_id": "E2", "seller_id": "S2", "blob": "b.jpg"}, store, settings)
    e1, e2 = store.get("E1"), store.get("E2")
    # E2's event was received first (its uploaded_at is earlier): E2 is the original that E1
    # copied, and reads so (CONTRACT.md section 3)
    assert [f["related"] for f in e2["findings"] if f["code"] == "copied_by_later_upload"] == [["E1"]]
    assert [f["related"] for f in e1["findings"] if f["code"] == "duplicate_upload"] == [["E2"]]
    assert [c["kind"] for c in e2["clusters"]] == ["duplicate"]
