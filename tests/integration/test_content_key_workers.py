"""Content-key links on PostgreSQL: two workers end with the links one makes.

Each receipt and its cropped, turned re-upload are queued side by side, so with two workers the
two are analysed at once: whichever reaches the match lock second must find the other's
content key there (the lookup runs against the snapshot and again inside the lock).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.detectors import duplicates
from forensics.pipeline import analyse
from forensics.store import Store, registries
from tests.conftest import RECEIPT_LINES, simple_receipt
from tests.detectors.test_content_keys import _cropped_turned
from tests.integration.test_concurrency import _truncate, _with_workers, outcome

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: (receipt number, time, total) of the shop's receipts in the corpus
RECEIPTS = (("CS00012345", "20:49", "33.81"), ("CS00012346", "20:49", "12.40"),
            ("CS00012347", "20:53", "47.20"), ("CS00012348", "21:02", "8.90"))


def _events(blob_root: Path) -> list[dict]:
    events = []
    for i, (number, clock, total) in enumerate(RECEIPTS):
        lines = [ln.replace("CS00012345", number).replace("20:49", clock).replace("33.81", total)
                 for ln in RECEIPT_LINES]
        img = simple_receipt(lines, seed=i)
        img.save(blob_root / f"r{i}.png")
        _cropped_turned(img).save(blob_root / f"c{i}.jpg", quality=60)
        events.append({"evidence_id": f"R{i}", "seller_id": f"S{i}", "blob": f"r{i}.png",
                       "uploaded_at": f"2026-01-05T08:{i:02d}:00Z"})
        events.append({"evidence_id": f"C{i}", "seller_id": f"S{i + 10}", "blob": f"c{i}.jpg",
                       "uploaded_at": f"2026-01-05T08:{i:02d}:30Z"})
    return events


def _content_pairs(store: Store) -> set[tuple[str, str]]:
    with store.transaction() as conn:
        rels = registries.relations_of(conn, [f"R{i}" for i in range(len(RECEIPTS))])
    return {(r["a"], r["b"]) for r in rels if r["kind"] == "same_content" and "content_key" in (r["details"] or {})}


def test_two_workers_make_the_content_key_links_one_makes(pg_settings, redis_url, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    # this process's page-hash index of the session's database is stale once an earlier test
    # truncated it (ids restart): the serial run starts from an empty one, as a worker does
    monkeypatch.setattr(duplicates, "_indexes", {})
    events = _events(Path(pg_settings.blob_root))
    store = Store(pg_settings.database_url)
    for ev in events:
        analyse(ev, store, pg_settings)
    one = outcome(store)
    one_content = _content_pairs(store)
    # every receipt is linked to its own re-upload by content, and to nothing else by it
    assert one_content == {(f"C{i}", f"R{i}") for i in range(len(RECEIPTS))}
    _truncate(store)
    two = _with_workers(2, store, pg_settings, redis_url, events, tmp_path)
    assert _content_pairs(store) == one_content
    links = lambda pairs: {p for p in pairs if p[2] != "same_layout"}  # noqa: E731
    assert links(two[1]) == links(one[1])
    assert two[0] == one[0]
