"""Benchmark: HammingIndex range search against a plain numpy full scan, in the same run.

Random 64-bit hashes (the spread-out case multi-index hashing is built for) at each size, radius
4, 8 and 10, one thread. The plain scan is the obvious one-liner
``np.flatnonzero(np.bitwise_count(h ^ q) <= r)`` over the whole array. The last line is::

    index_query_ms_10M=X ratio_vs_scan=Y memory_bytes_per_hash=Z

for radius 10 at the largest size (named after 10M; the size actually used is printed above).

    OMP_NUM_THREADS=1 python bench/index.py                 # 1M and 10M
    python bench/index.py --sizes 100000,1000000 --queries 50
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,10000000", help="comma-separated index sizes")
    ap.add_argument("--queries", type=int, default=100, help="queries per radius and size")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--radii", default="4,8,10",
                    help="comma-separated radii (20: the duplicates detector's nearest-page search)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    radii = tuple(int(r) for r in args.radii.split(","))
    results = {s: run(s, args.queries, args.seed, radii) for s in sizes}
    if 10 not in radii:
        return
    idx_ms, scan_ms, bph = results[max(sizes)][10]
    print(f"index_query_ms_10M={idx_ms:.3f} ratio_vs_scan={idx_ms / scan_ms:.3f} memory_bytes_per_hash={bph:.1f}")


if __name__ == "__main__":
    main()
