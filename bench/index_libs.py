"""Benchmark: HammingIndex against faiss' binary indexes and usearch, on the same real, skewed hashes.

The hashes and queries of ``bench/index.py --real`` (pHashes of ../shared/datasets/sroie-dev's
scans perturbed to the size with the skew measured on real pairs; queries are real pages with
0-20 bits flipped). For each index: build time, resident memory it added (VmRSS before and
after the build, the hashes already resident), k=5 nearest per query (CPU time, one thread) and
recall against the exact answer. Recall is tie-aware: the share of the 5 returned whose distance
is at most the exact 5th distance (any of several pages at that distance is a right answer).

- ``HammingIndex.nearest(q, 5)`` (exact; the reference answer comes from it and is checked
  against a full numpy scan on the first queries);
- faiss ``IndexBinaryFlat`` (exact, a full scan), ``IndexBinaryMultiHash`` (multi-index hashing,
  approximate for k-nearest: it finds what lies within ``nflip`` bits in one of its chunks),
  ``IndexBinaryHNSW`` (a graph);
- usearch ``Index(metric="hamming", dtype="b1")`` (a graph).

The graphs are built at ``--graph-size`` (default 1M; one thread builds 10M in tens of minutes
on this machine), the others at ``--size``. Not project dependencies: install them into the
venv to run this (``pip install faiss-cpu usearch``).

    python bench/index_libs.py --size 10000000 --graph-size 1000000 --queries 30

Last line: ``ours_ms=… flat_ms=… multihash_ms=… multihash_recall=… hnsw_ms=… hnsw_recall=…
usearch_ms=… usearch_recall=…`` (each at the size it was built at).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
    # large frees go back to the OS at once, so VmRSS after a build is what the index holds,
    # not the build's scratch arrays kept by malloc (read at start: run again with it set)
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "131072"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from index import perturbed, real_hashes  # noqa: E402

from forensics.index import HammingIndex  # noqa: E402

K = 5


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def as_bytes(h: np.ndarray) -> np.ndarray:
    """uint64 hashes as the (n, 8) uint8 codes faiss and usearch take (same Hamming distances)."""
    return np.ascontiguousarray(h).view(np.uint8).reshape(-1, 8)


def recall(found_d: np.ndarray, exact_d: np.ndarray) -> float:
    return float(np.sum(np.sort(found_d)[:K] <= exact_d[K - 1])) / K


def measure(name: str, size: int, build, search, qs: np.ndarray, exact: list[np.ndarray]) -> tuple[float, float]:  # noqa: ANN001
    before = rss_mb()
    t0 = time.process_time()
    index = build()
    build_s = time.process_time() - t0
    added = rss_mb() - before
    ms, rec = 0.0, 0.0
    for i, want in enumerate(exact):
        t0 = time.process_time()
        d = search(index, i)
        ms += time.process_time() - t0
        rec += recall(np.asarray(d, dtype=np.int64), want)
    ms, rec = 1000 * ms / len(qs), rec / len(qs)
    own = f" (arrays {index.nbytes / size:.1f} B/hash)" if isinstance(index, HammingIndex) else ""
    print(f"{name:10s} size={size:>9d} build_cpu_s={build_s:7.1f} rss_added_mb={added:7.0f} "
          f"({added * 2**20 / size:5.1f} B/hash){own} knn5_ms={ms:8.3f} recall={rec:.3f}", flush=True)
    del index
    return ms, rec


def compare_at(size: int, h: np.ndarray, qs: np.ndarray, *, big: bool, graph: bool,
               skip: set[str]) -> dict[str, tuple[float, float]]:
    """Build and query each index that runs at this size."""
    import faiss
    from usearch.index import Index

    res: dict[str, tuple[float, float]] = {}
    codes = as_bytes(h)
    ref = HammingIndex()
    ref.add(np.arange(size, dtype=np.int64), h)
    exact = [ref.nearest(int(q), K)[1] for q in qs]
    for q, want in list(zip(qs, exact, strict=True))[:3]:  # the reference itself, against numpy
        assert np.array_equal(np.sort(np.bitwise_count(h ^ q))[:K], want)
    del ref
    cq = as_bytes(qs)

    def ours() -> HammingIndex:
        ix = HammingIndex()
        ix.add(np.arange(size, dtype=np.int64), h)
        return ix

    def faiss_search(ix, i: int) -> np.ndarray:  # noqa: ANN001
        d, _ = ix.search(cq[i:i + 1], K)
        return d[0]

    def flat():  # noqa: ANN202
        ix = faiss.IndexBinaryFlat(64)
        ix.add(codes)
        return ix

    def multihash():  # noqa: ANN202
        ix = faiss.IndexBinaryMultiHash(64, 3, 21)
        ix.nflip = 2
        ix.add(codes)
        return ix

    def hnsw():  # noqa: ANN202
        ix = faiss.IndexBinaryHNSW(64, 16)
        ix.hnsw.efConstruction = 40
        ix.add(codes)
        ix.hnsw.efSearch = 64
        return ix

    def usearch():  # noqa: ANN202
        ix = Index(ndim=64, metric="hamming", dtype="b1", connectivity=16)
        ix.add(np.arange(size, dtype=np.uint64), codes, threads=1)
        return ix

    def usearch_search(ix, i: int) -> np.ndarray:  # noqa: ANN001
        m = ix.search(cq[i], K, threads=1)
        return np.asarray(m.distances)

    runs = [("ours", big or graph, ours, lambda ix, i: ix.nearest(int(qs[i]), K)[1]),
            ("flat", big, flat, faiss_search), ("multihash", big, multihash, faiss_search),
            ("hnsw", graph, hnsw, faiss_search), ("usearch", graph, usearch, usearch_search)]
    for name, here, build, search in runs:
        if here and name not in skip:
            res[f"{name}@{size}"] = measure(f"{name}", size, build, search, qs, exact)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000_000)
    ap.add_argument("--graph-size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip", default="", help="comma-separated: ours,flat,multihash,hnsw,usearch")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    real = real_hashes()
    pair = np.bitwise_count(real[:, None] ^ real[None, :])[np.triu_indices(len(real), 1)].astype(int)
    hashes = perturbed(rng, real, pair // 2, args.size)
    qs = real[rng.integers(0, len(real), args.queries)].copy()
    for i in range(len(qs)):
        for b in rng.choice(64, size=int(rng.integers(0, 21)), replace=False):
            qs[i] ^= np.uint64(1) << np.uint64(b)
    print(f"faiss {faiss.__version__}; {args.size} hashes, {args.queries} queries, k={K}, one thread; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    res: dict[str, tuple[float, float]] = {}
    for size in sorted({args.size, args.graph_size}):
        res.update(compare_at(size, hashes[:size], qs, big=size == args.size, graph=size == args.graph_size,
                              skip=skip))
    line = []
    for key, (ms, rec) in res.items():
        line.append(f"{key.replace('@', '_ms@')}={ms:.3f}")
        line.append(f"{key.replace('@', '_recall@')}={rec:.3f}")
    print(" ".join(line) + f"  (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
