"""Duplicates' candidate search over an in-memory index that still holds deleted rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import delete, insert

from forensics.detectors import duplicates
from forensics.fingerprints import FINGERPRINT_VERSION, TEXT_HASH_VERSION, to_signed64
from forensics.store import Store
from forensics.store.schema import evidence, page_fingerprints
from forensics.store.view import RegistryView

RADIUS = 8


def _flip(rng: random.Random, value: int, bits: int) -> int:
    for b in rng.sample(range(64), bits):
        value ^= 1 << b
    return value


def _register(store: Store, rows: list[tuple[str, int, int, int]]) -> None:
    """One single-page upload per (evidence id, phash, dhash, text hash)."""
    now = datetime.now(UTC)
    with store.transaction(exclusive=True) as conn:
        conn.execute(insert(evidence), [{"evidence_id": eid, "seller_id": "S", "status": "analyzed", "blob": "x",
                                         "uploaded_at": now, "attempts": 1, "updated_at": now}
                                        for eid, *_ in rows])
        conn.execute(insert(page_fingerprints), [
            {"evidence_id": eid, "seller_id": "S", "page": 1, "version": FINGERPRINT_VERSION,
             "phash": to_signed64(ph), "dhash": to_signed64(dh), "layout_hash": 0,
             "text_hash": to_signed64(tx), "text_version": TEXT_HASH_VERSION} for eid, ph, dh, tx in rows])


def _ids_of(store: Store, prefix: str) -> list[int]:
    with store.transaction() as conn:
        return [r.id for r in RegistryView(store, conn).fingerprints_since(0, limit=10_000)
                if r.evidence_id.startswith(prefix)]


def test_deleted_fingerprints_never_push_a_real_candidate_out(tmp_path) -> None:  # noqa: ANN001
    rng = random.Random(5)
    ph, dh, tx = (rng.getrandbits(64) for _ in range(3))
    far = lambda: rng.getrandbits(64)  # noqa: E731  (~32 bits from anything)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        # registered first (lower ids), nearest by every hash: uploads analysed again since
        # (their rows deleted); 30 exact copies outnumber the text candidates and the cut of
        # the comparisons, 12 at pixel distance 12 the nearest beyond the radius
        _register(store, [(f"OLD{i}", ph, dh, tx) for i in range(30)]
                  + [(f"OLDW{i}", _flip(rng, ph, 12), far(), far()) for i in range(12)])
        # the real candidates, one per source: by text, by pixel hash, the nearest beyond
        _register(store, [("REAL_TEXT", far(), far(), _flip(rng, tx, 1)),
                          ("REAL_PIX", _flip(rng, ph, 1), far(), far()),
                          ("REAL_WIDE", _flip(rng, ph, 15), far(), far())])
        old = duplicates._Indexes(use_snapshots=False)
        with store.transaction() as conn:
            old.catch_up(RegistryView(store, conn))  # a worker's index, before the deletion
        with store.transaction(exclusive=True) as conn:
            conn.execute(delete(evidence).where(evidence.c.evidence_id.like("OLD%")))
            conn.execute(delete(page_fingerprints).where(page_fingerprints.c.evidence_id.like("OLD%")))
        fresh = duplicates._Indexes(use_snapshots=False)
        fp = SimpleNamespace(page=1, phash=ph, dhash=dh)
        with store.transaction() as conn:
            view = RegistryView(store, conn)
            fresh.catch_up(view)
            old.catch_up(view)
            want = duplicates._candidate_ids(fresh, SimpleNamespace(memo={}), view, fp, tx, None, "ME", RADIUS)
            got = duplicates._candidate_ids(old, SimpleNamespace(memo={}), view, fp, tx, None, "ME", RADIUS)
            cut = duplicates.live_rows(view, got, duplicates.MAX_CANDIDATES * 2, set())
            live = {r.id for r in view.fingerprint_rows(got)}
        real = _ids_of(store, "REAL")
        assert sorted(want) == sorted(real)  # the control: a fresh index proposes each of them
        assert [i for i in got if i in live] == want  # what the store still has: a fresh index's answer
        assert [r.id for r in cut] == want[: duplicates.MAX_CANDIDATES * 2]
    finally:
        store.close()
