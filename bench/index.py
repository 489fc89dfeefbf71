"""Benchmark: HammingIndex range search against a plain numpy full scan, in the same run.

Random 64-bit hashes (the spread-out case multi-index hashing is built for) at each size, radius
4, 8 and 10, one thread. The plain scan is the obvious one-liner
``np.flatnonzero(np.bitwise_count(h ^ q) <= r)`` over the whole array. The last line is::

    index_query_ms_10M=X ratio_vs_scan=Y memory_bytes_per_hash=Z

for radius 10 at the largest size (named after 10M; the size actually used is printed above).

    OMP_NUM_THREADS=1 python bench/index.py                 # 1M and 10M
    python bench/index.py --sizes 100000,1000000 --queries 50

``--real``: the hashes ingestion searches. pHashes of the receipt scans of
../shared/datasets/sroie-dev, perturbed to each size with the skew measured on real pairs (each
stored hash is a real page's with every bit flipped with probability d/64, d drawn from half the
distances between real pages: stored pages cluster around real layouts). Queries are re-uploads
as ingestion sees them: a real page with 0-20 bits flipped. Per query, one thread:

- ``knn``: ``HammingIndex.nearest(q, 5, 20)`` (the duplicates detector's wide search);
- ``radius20_list``: what that search was before: ``HammingIndex.search(q, 20)`` turned into a
  list of (id, distance), sorted;
- ``scan_knn``: the baseline: a full numpy popcount and ``argpartition`` for the 5 nearest.

Last line: ``knn_ms_10M=X radius20_list_ms_10M=Y scan_knn_ms_10M=Z ratio_vs_scan=X/Z``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from forensics.index import HammingIndex  # noqa: E402

RADII = (4, 8, 10)


def plain_scan(hashes: np.ndarray, query: np.uint64, radius: int) -> np.ndarray:
    """The baseline: one full-array popcount per query."""
    return np.flatnonzero(np.bitwise_count(hashes ^ query) <= radius)


def _queries(rng: np.random.Generator, hashes: np.ndarray, count: int) -> np.ndarray:
    """Half stored hashes with a few bits flipped (near hits exist), half fresh random."""
    picks = hashes[rng.integers(0, len(hashes), count // 2)].copy()
    for i in range(len(picks)):
        for b in rng.choice(64, size=int(rng.integers(0, 9)), replace=False):
            picks[i] ^= np.uint64(1) << np.uint64(b)
    fresh = rng.integers(0, 2**63, count - len(picks), dtype=np.int64).view(np.uint64) * np.uint64(2)
    fresh |= rng.integers(0, 2, len(fresh)).astype(np.uint64)
    return np.concatenate([picks, fresh])


def run(size: int, queries: int, seed: int, radii: tuple[int, ...] = RADII) -> dict[int, tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size, dtype=np.uint64, endpoint=False)
    index = HammingIndex()
    t0 = time.perf_counter()
    index.add(np.arange(size, dtype=np.int64), hashes)
    build_s = time.perf_counter() - t0
    bph = index.nbytes / size
    print(f"size={size} build_s={build_s:.2f} bytes_per_hash={bph:.1f}")
    qs = _queries(rng, hashes, queries)
    out = {}
    for radius in radii:
        scan_s = idx_s = 0.0
        hits = 0
        methods: dict[str, int] = {}
        for q in qs:
            t0 = time.perf_counter()
            base = plain_scan(hashes, q, radius)
            scan_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            found = index.search(int(q), radius)
            idx_s += time.perf_counter() - t0
            methods[index.last_method] = methods.get(index.last_method, 0) + 1
            if sorted(i for i, _ in found) != base.tolist():
                raise SystemExit(f"MISMATCH size={size} radius={radius} query={int(q)}")
            hits += len(found)
        idx_ms = idx_s * 1000 / len(qs)
        scan_ms = scan_s * 1000 / len(qs)
        out[radius] = (idx_ms, scan_ms, bph)
        print(
            f"  radius={radius:2d} index_ms={idx_ms:7.3f} scan_ms={scan_ms:7.3f} "
            f"ratio_vs_scan={idx_ms / scan_ms:.3f} hits/query={hits / len(qs):.1f} "
            f"methods={methods}"
        )
    return out


def real_hashes() -> np.ndarray:
    from PIL import Image

    from forensics.fingerprints import fingerprint_page

    root = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "sroie-dev")
    files = sorted(f for f in os.listdir(root) if f.endswith(".jpg"))
    if not files:
        raise SystemExit(f"--real needs the receipt scans in {root}")
    return np.array([fingerprint_page(1, Image.open(os.path.join(root, f)).convert("L")).phash for f in files],
                    dtype=np.uint64)


def perturbed(rng: np.random.Generator, real: np.ndarray, halves: np.ndarray, size: int) -> np.ndarray:
    out = np.empty(size, dtype=np.uint64)
    weights = (np.uint64(1) << np.arange(64, dtype=np.uint64))
    for start in range(0, size, 1 << 20):
        n = min(1 << 20, size - start)
        p = rng.choice(halves, n) / 64.0
        bits = rng.random((n, 64)) < p[:, None]
        masks = (bits.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
        out[start:start + n] = real[rng.integers(0, len(real), n)] ^ masks
    return out


def run_real(sizes: list[int], queries: int, seed: int) -> dict[int, tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    real = real_hashes()
    pair = np.bitwise_count(real[:, None] ^ real[None, :])[np.triu_indices(len(real), 1)].astype(int)
    halves = pair // 2
    print(f"real pages: {len(real)}; pHash distance between real pages p5={np.percentile(pair, 5):.0f} "
          f"p50={np.percentile(pair, 50):.0f} p95={np.percentile(pair, 95):.0f}")
    out = {}
    for size in sizes:
        hashes = perturbed(rng, real, halves, size)
        index = HammingIndex()
        t0 = time.perf_counter()
        index.add(np.arange(size, dtype=np.int64), hashes)
        build_s = time.perf_counter() - t0
        qs = real[rng.integers(0, len(real), queries)].copy()
        for i in range(len(qs)):
            for b in rng.choice(64, size=int(rng.integers(0, 21)), replace=False):
                qs[i] ^= np.uint64(1) << np.uint64(b)
        knn_s = wide_s = scan_s = 0.0
        methods: dict[str, int] = {}
        for q in qs:
            t0 = time.process_time()
            ids, dists = index.nearest(int(q), 5, 20)
            knn_s += time.process_time() - t0
            methods[index.last_method] = methods.get(index.last_method, 0) + 1
            t0 = time.process_time()
            wide = index.search(int(q), 20)
            wide_s += time.process_time() - t0
            t0 = time.process_time()
            d = np.bitwise_count(hashes ^ q)
            part = np.argpartition(d, 5)[:5]
            scan_s += time.process_time() - t0
            want = sorted((int(d[i]), int(i)) for i in np.flatnonzero(d <= np.sort(d[part])[-1]))[:5]
            want = [(i, dd) for dd, i in want if dd <= 20]
            if list(zip(ids.tolist(), dists.tolist(), strict=True)) != want or wide[:len(want)] != want:
                raise SystemExit(f"MISMATCH size={size} query={int(q)}")
        n = len(qs)
        out[size] = (1000 * knn_s / n, 1000 * wide_s / n, 1000 * scan_s / n)
        print(f"size={size} build_s={build_s:.2f} bytes_per_hash={index.nbytes / size:.1f} knn_ms={out[size][0]:.3f} "
              f"radius20_list_ms={out[size][1]:.3f} scan_knn_ms={out[size][2]:.3f} methods(last step)={methods}",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,10000000", help="comma-separated index sizes")
    ap.add_argument("--queries", type=int, default=100, help="queries per radius and size")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--radii", default="4,8,10",
                    help="comma-separated radii (20: the duplicates detector's nearest-page search)")
    ap.add_argument("--real", action="store_true", help="real, skewed page hashes; k-nearest queries")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.real:
        res = run_real(sizes, args.queries, args.seed)
        knn, wide, sc = res[max(sizes)]
        print(f"knn_ms_10M={knn:.3f} radius20_list_ms_10M={wide:.3f} scan_knn_ms_10M={sc:.3f} "
              f"ratio_vs_scan={knn / sc:.3f}")
        return
    radii = tuple(int(r) for r in args.radii.split(","))
    results = {s: run(s, args.queries, args.seed, radii) for s in sizes}
    if 10 not in radii:
        return
    idx_ms, scan_ms, bph = results[max(sizes)][10]
    print(f"index_query_ms_10M={idx_ms:.3f} ratio_vs_scan={idx_ms / scan_ms:.3f} memory_bytes_per_hash={bph:.1f}")


if __name__ == "__main__":
    main()
