"""Two workers analysing one corpus concurrently on PostgreSQL end with the same clusters as one.

The matching step runs under a PostgreSQL advisory lock, so whichever upload commits second is
compared with the first, whatever the interleaving; the clusters (as sets of members) and the
linked pairs must not depend on the number of workers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures.corpus import build_demo_corpus
from forensics.pipeline import analyse
from forensics.store import Store
from forensics.store.schema import metadata
from tests.integration.test_workers import Workers, _env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def outcome(store: Store) -> tuple[set, set]:
    """(clusters as (kind, members), linked pairs with kind) of everything in the store."""
    with store.transaction() as conn:
        members = conn.execute(text(
            "SELECT c.kind, m.cluster_id, m.evidence_id FROM clusters c JOIN cluster_members m ON m.cluster_id = c.id"
        )).all()
        pairs = conn.execute(text("SELECT a, b, kind FROM relations")).all()
    clusters: dict[str, tuple[str, set]] = {}
    for kind, cid, eid in members:
        clusters.setdefault(cid, (kind, set()))[1].add(eid)
    return {(k, frozenset(m)) for k, m in clusters.values()}, {tuple(p) for p in pairs}


def test_two_workers_make_the_same_clusters_as_one(pg_settings, redis_url, tmp_path: Path):
    corpus = build_demo_corpus(Path(pg_settings.blob_root), seed=5)
    settings = pg_settings.with_(blob_root=str(corpus.out_dir))
    store = Store(settings.database_url)
    events = []
    for e in corpus.evidence:
        events.append({"evidence_id": e.evidence_id, "seller_id": e.seller_id, "blob": e.path,
                       "uploaded_at": e.uploaded_at, "content_type": e.content_type})
    for ev in events:
        analyse(ev, store, settings)
    one_clusters, one_pairs = outcome(store)
    assert any(kind == "template" for kind, _ in one_clusters)

    with store.transaction() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
                          + " RESTART IDENTITY CASCADE"))
    from workers.broker import setup_broker

    broker = setup_broker(settings.with_(broker_url=redis_url))
    from workers import actors

    for ev in events:
        actors.send(ev)
    broker.close()
    w = Workers(_env(settings, redis_url), tmp_path)
    try:
        w.start()
        w.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if store.count(status="analyzed") + store.count(status="failed") == len(events):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"two workers did not finish in time:\n{w.logs()}")
    finally:
        w.stop_all()
    two_clusters, two_pairs = outcome(store)
    assert two_clusters == one_clusters
    # every link between two uploads is found whichever of them reaches the match lock first;
    # "same_layout" pairs are not all: the nearest page by pixel hash is aligned even beyond the
    # hash radius (duplicates.NEAREST_PIXEL_CANDIDATES), and which page is nearest depends on
    # what is on file yet. On a loaded machine two workers swapped arrivals and made four more.
    links = lambda pairs: {p for p in pairs if p[2] != "same_layout"}  # noqa: E731
    assert links(two_pairs) == links(one_pairs)
    assert any(p[2] == "same_layout" for p in two_pairs)
