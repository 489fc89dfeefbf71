"""HammingIndex: exact range search against brute force, on random and skewed hashes."""

from __future__ import annotations

import numpy as np
import pytest

import forensics.index as index_mod
from forensics.index import HammingIndex, scan


def brute(ids: np.ndarray, hashes: np.ndarray, query: int, radius: int) -> list[tuple[int, int]]:
    d = np.bitwise_count(hashes ^ np.uint64(query)).astype(np.int64)
    keep = d <= radius
    return sorted(zip(ids[keep].tolist(), d[keep].tolist(), strict=True), key=lambda t: (t[1], t[0]))


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the multi-index tables already for a few thousand items (fast tests)."""
    monkeypatch.setattr(index_mod, "MIN_TABLE_ITEMS", 256)
    monkeypatch.setattr(index_mod, "TAIL_MIN_MERGE", 500)


def flipped(rng: np.random.Generator, base: np.ndarray, max_bits: int) -> np.ndarray:
    out = base.copy()
    for i in range(len(out)):
        for b in rng.choice(64, size=int(rng.integers(0, max_bits + 1)), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(b)
    return out


def queries(rng: np.random.Generator, hashes: np.ndarray, n: int) -> list[int]:
    near = flipped(rng, hashes[rng.integers(0, len(hashes), n)], 8)
    far = rng.integers(0, 2**64, n, dtype=np.uint64)
    return [int(q) for q in np.concatenate([near, far])]


@pytest.mark.usefixtures("small_tables")
def test_exact_on_random_hashes_for_every_radius() -> None:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**64, 5000, dtype=np.uint64)
    ids = rng.permutation(5000).astype(np.int64) * 7 - 100
    idx = HammingIndex()
    idx.add(ids, hashes)
    assert len(idx) == 5000
    methods = set()
    for radius in range(0, 13):
        for q in queries(rng, hashes, 6):
            assert idx.search(q, radius) == brute(ids, hashes, q, radius)
            methods.add(idx.last_method)
    assert "mih" in methods  # the multi-index path was exercised, not only the scan


@pytest.mark.usefixtures("small_tables")
def test_exact_on_skewed_hashes_and_guard_falls_back_to_scan() -> None:
    rng = np.random.default_rng(2)
    # real page hashes are skewed: a few layouts, many near-equal hashes, some exact repeats
    centres = rng.integers(0, 2**64, 5, dtype=np.uint64)
    hashes = flipped(rng, centres[rng.integers(0, 5, 4000)], 3)
    hashes[:300] = centres[0]
    ids = np.arange(4000, dtype=np.int64)
    idx = HammingIndex()
    idx.add(ids, hashes)
    methods = set()
    for radius in (0, 2, 4, 8, 10, 12):
        for q in [int(centres[0]), int(centres[3])] + queries(rng, hashes, 3):
            assert idx.search(q, radius) == brute(ids, hashes, q, radius)
            methods.add(idx.last_method)
    assert "scan:guard" in methods


@pytest.mark.usefixtures("small_tables")
def test_incremental_adds_merge_and_stay_exact() -> None:
    rng = np.random.default_rng(3)
    idx = HammingIndex()
    all_ids, all_hashes = [], []
    next_id = 0
    for batch in (1, 7, 300, 1, 900, 50, 2000, 3):
        h = rng.integers(0, 2**64, batch, dtype=np.uint64)
        i = np.arange(next_id, next_id + batch, dtype=np.int64)
        next_id += batch
        idx.add(i, h)
        all_ids.append(i)
        all_hashes.append(h)
        ids, hashes = np.concatenate(all_ids), np.concatenate(all_hashes)
        assert len(idx) == len(ids)
        for q in queries(rng, hashes, 3):
            assert idx.search(q, 9) == brute(ids, hashes, q, 9)
    assert len(idx._hashes) > 0  # some adds were merged into the sorted main part


def test_signed_storage_and_large_ids_round_trip() -> None:
    rng = np.random.default_rng(4)
    hashes = rng.integers(0, 2**64, 100, dtype=np.uint64)
    ids = np.arange(100, dtype=np.int64) + 2**40  # beyond int32: kept as int64
    idx = HammingIndex()
    idx.add(ids, hashes.view(np.int64))  # as read back from a BIGINT column
    idx._merge()
    q = int(hashes[5])
    assert idx.search(q, 0) == [(2**40 + 5, 0)]
    assert idx._ids.dtype == np.int64


def test_empty_index_and_bad_input() -> None:
    idx = HammingIndex()
    assert idx.search(123, 10) == []
    assert len(idx) == 0 and idx.nbytes == 0
    with pytest.raises(ValueError):
        idx.add(np.arange(3), np.zeros(2, dtype=np.uint64))


def test_scan_matches_brute_force_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_mod, "SCAN_BLOCK", 64)
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 2**64, 1000, dtype=np.uint64)
    q = int(hashes[10])
    pos, dist = scan(hashes, q, 20)
    expect = np.bitwise_count(hashes ^ np.uint64(q))
    assert pos.tolist() == np.flatnonzero(expect <= 20).tolist()
    assert dist.tolist() == expect[expect <= 20].tolist()


def test_memory_per_hash_is_small() -> None:
    rng = np.random.default_rng(6)
    n = 1 << 18  # large enough for the 4-table layout to be built
    idx = HammingIndex()
    idx.add(np.arange(n, dtype=np.int64), rng.integers(0, 2**64, n, dtype=np.uint64))
    idx._merge()
    assert idx._tables
    assert idx.nbytes / n <= 28


@pytest.mark.usefixtures("small_tables")
@pytest.mark.parametrize("skewed", [False, True])
def test_k_nearest_is_exact_with_ties_broken_by_id(skewed: bool) -> None:
    rng = np.random.default_rng(5)
    if skewed:
        centres = rng.integers(0, 2**64, 4, dtype=np.uint64)
        hashes = flipped(rng, centres[rng.integers(0, 4, 3000)], 6)
    else:
        hashes = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    ids = rng.permutation(3000).astype(np.int64)
    idx = HammingIndex()
    idx.add(ids[:2500], hashes[:2500])
    idx.add(ids[2500:], hashes[2500:])  # some in the unsorted tail
    for q in queries(rng, hashes, 5):
        for k, max_d in ((1, 64), (5, 20), (9, 20), (40, 12), (3, 2)):
            got_ids, got_d = idx.nearest(q, k, max_d)
            want = brute(ids, hashes, q, max_d)[:k]
            assert list(zip(got_ids.tolist(), got_d.tolist(), strict=True)) == want
