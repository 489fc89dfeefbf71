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

Then, at the largest size, the machine's snapshot (``forensics/index_snapshot.py``): the index
is written as a snapshot (as phash, dhash and text index: the file a store of that many pages
has), and a SQLite store is made that holds the rows the snapshot's check samples plus
``--tail`` rows registered after it. ``--workers`` processes are started one after the other,
each as a worker does it: import the duplicates detector, ``_Indexes.catch_up`` (map the
snapshot, check it against the store, catch up the tail) and answer one k-nearest query;
``start_s`` is the wall time from spawning the process to that answer (Python's start and
imports included). Then every process touches every page of the index (a full scan of the three
indexes and a read of their tables: a long-running worker's worst case) and its
``/proc/PID/smaps_rollup`` is read with all of them alive: ``Private_*`` is what that process
alone holds (its heap, its tail; pages of the mapped file or of libraries that only it maps
count here too), ``Pss`` its fair share of the shared pages. The baseline, in the same run: one
process that loads the same snapshot into private memory (``np.array`` copies: what each worker
held before snapshots, without the minutes of catching up 10M rows from the store).

Last line: ``knn_ms_10M=X radius20_list_ms_10M=Y scan_knn_ms_10M=Z ratio_vs_scan=X/Z
start_s_10M=S start_cpu_s_10M=C extra_worker_mb=M`` (S, C: mean wall and CPU seconds to the
first answer; M: the mean private MB of the snapshot workers; the load average is printed
beside it, as wall times on a loaded machine are mostly waiting).

    python bench/index.py --real --sizes 1000000,10000000 --queries 30 --workers 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from forensics.index import HammingIndex, scan  # noqa: E402

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


def run_real(sizes: list[int], queries: int, seed: int, workers: int = 0,
             tail: int = 10_000) -> tuple[dict[int, tuple[float, float, float]], tuple[float, float, float] | None]:
    rng = np.random.default_rng(seed)
    real = real_hashes()
    pair = np.bitwise_count(real[:, None] ^ real[None, :])[np.triu_indices(len(real), 1)].astype(int)
    halves = pair // 2
    print(f"real pages: {len(real)}; pHash distance between real pages p5={np.percentile(pair, 5):.0f} "
          f"p50={np.percentile(pair, 50):.0f} p95={np.percentile(pair, 95):.0f}")
    out = {}
    snap = None
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
        if size == max(sizes) and workers > 0:
            snap = snapshot_workers(index, hashes, real, halves, rng, workers, tail)
    return out, snap


# -- the machine's snapshot: worker start and memory -------------------------------------------


def _smaps(pid: int) -> dict[str, float]:
    """MB of each field of /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


def _store_for(path: str, snapshot, tail_hashes: np.ndarray) -> str:  # noqa: ANN001
    """A SQLite store holding the rows the snapshot's check samples and ``tail_hashes`` after it."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from forensics.fingerprints import FINGERPRINT_VERSION, TEXT_HASH_VERSION, to_signed64
    from forensics.store import Store
    from forensics.store.schema import evidence, page_fingerprints

    url = f"sqlite:///{path}"
    store = Store(url)
    rows = {}
    for probe in (m["probe"] for m in snapshot.footer["indexes"].values()):
        for fid, value in probe:
            rows[fid] = value  # the three indexes are one set of hashes here
    last = snapshot.last_id
    rows.update({last + 1 + i: int(h) for i, h in enumerate(tail_hashes)})
    now = datetime.now(UTC)
    with store.transaction(exclusive=True) as conn:
        conn.execute(insert(evidence), [{"evidence_id": f"E{fid}", "seller_id": "S", "status": "analyzed",
                                         "blob": "x", "uploaded_at": now, "attempts": 1, "updated_at": now}
                                        for fid in rows])
        conn.execute(insert(page_fingerprints), [
            {"id": fid, "evidence_id": f"E{fid}", "seller_id": "S", "page": 1, "version": FINGERPRINT_VERSION,
             "phash": to_signed64(h), "dhash": to_signed64(h), "layout_hash": 0, "text_hash": to_signed64(h),
             "text_version": TEXT_HASH_VERSION} for fid, h in rows.items()])
    store.close()
    return url


def child(spec: str) -> None:
    """One worker process (``--child``): start on the snapshot, answer, touch, report, wait."""
    t0 = time.perf_counter()
    conf = json.loads(spec)
    os.environ["FORENSICS_INDEX_DIR"] = conf["dir"]
    os.environ["FORENSICS_INDEX_SNAPSHOT_ROWS"] = "0"
    from forensics.detectors.duplicates import _Indexes
    from forensics.store import Store
    from forensics.store.view import RegistryView

    imports = time.perf_counter() - t0
    store = Store(conf["url"], migrate=False)
    if conf["mode"] == "copy":  # the baseline: the same arrays, private to this process
        from forensics import index_snapshot
        from forensics.index import HammingIndex

        snap = index_snapshot.read_snapshot(index_snapshot.snapshot_path(conf["url"]))
        indexes = {}
        for name, ix in snap.indexes.items():
            ids, hashes, layout, tables = ix.parts()
            indexes[name] = HammingIndex.frozen(np.array(ids), np.array(hashes), layout,
                                                [(np.array(p), np.array(o)) for p, o in tables])
        del snap
    else:
        idx = _Indexes()
        with store.transaction() as conn:
            idx.catch_up(RegistryView(store, conn))
        assert type(idx.phash).__name__ == "LayeredIndex", "the snapshot was not used"
        indexes = {"phash": idx.phash, "dhash": idx.dhash, "text": idx.text}
    ids, dists = indexes["phash"].nearest(int(conf["query"]), 5, 20)
    ready = time.perf_counter() - t0
    cpu = time.process_time()
    print(json.dumps({"ready_s": ready, "imports_s": imports, "cpu_s": cpu, "answer": ids.tolist()}),
          flush=True)
    for ix in indexes.values():  # touch every page: a long-running worker's worst case
        base = getattr(ix, "base", ix)
        scan(base._hashes, 0, 0)
        for perm, offsets in base._tables:
            perm.sum(dtype=np.uint64)
            offsets.sum(dtype=np.uint64)
        base._ids.sum(dtype=np.int64)
    print("touched", flush=True)
    sys.stdin.readline()


def snapshot_workers(index: HammingIndex, hashes: np.ndarray, real: np.ndarray, halves: np.ndarray,
                     rng: np.random.Generator, workers: int, tail: int) -> tuple[float, float, float]:
    """Start ``workers`` processes on a snapshot of ``index``; (mean start s, mean private MB,
    mean CPU s to the first answer)."""
    from forensics import index_snapshot

    size = len(hashes)
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        os.environ["FORENSICS_INDEX_DIR"] = tmp
        from forensics.settings import get_settings

        get_settings.cache_clear()
        url = f"sqlite:///{tmp}/store.db"
        t0 = time.perf_counter()
        path = index_snapshot.write_snapshot(index_snapshot.snapshot_path(url), url, size - 1,
                                             {"phash": index, "dhash": index, "text": index})
        write_s = time.perf_counter() - t0
        snap = index_snapshot.read_snapshot(path)
        _store_for(f"{tmp}/store.db", snap, perturbed(rng, real, halves, tail))
        del snap
        print(f"snapshot: {path.stat().st_size / 1e6:.0f} MB written in {write_s:.1f} s; "
              f"store: {tail} rows after it", flush=True)
        query = int(real[0]) ^ 0b1011
        procs, starts, cpus = [], [], []
        for mode in ["copy"] + ["snapshot"] * workers:
            spec = json.dumps({"dir": tmp, "url": url, "mode": mode, "query": query})
            t0 = time.perf_counter()
            p = subprocess.Popen([sys.executable, __file__, "--child", spec], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            first = json.loads(p.stdout.readline())
            wall = time.perf_counter() - t0
            assert p.stdout.readline().strip() == "touched"
            procs.append((mode, p))
            if mode == "snapshot":
                starts.append(wall)
                cpus.append(first["cpu_s"])
            print(f"  {mode:8s} pid={p.pid} start_s={wall:.2f} (in-process {first['ready_s']:.2f} of which "
                  f"imports {first['imports_s']:.2f}; cpu {first['cpu_s']:.2f}) answer={first['answer']}",
                  flush=True)
        private = []
        for mode, p in procs:
            m = _smaps(p.pid)
            priv = m["Private_Clean"] + m["Private_Dirty"]
            if mode == "snapshot":
                private.append(priv)
            print(f"  {mode:8s} pid={p.pid} rss_mb={m['Rss']:.0f} pss_mb={m['Pss']:.0f} "
                  f"private_mb={priv:.0f} (dirty {m['Private_Dirty']:.0f}, anon {m['Anonymous']:.0f}) "
                  f"shared_mb={m['Shared_Clean'] + m['Shared_Dirty']:.0f}", flush=True)
        for _, p in procs:
            p.stdin.write("\n")
            p.stdin.flush()
            p.wait()
    return float(np.mean(starts)), float(np.mean(private)), float(np.mean(cpus))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,10000000", help="comma-separated index sizes")
    ap.add_argument("--queries", type=int, default=100, help="queries per radius and size")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--radii", default="4,8,10",
                    help="comma-separated radii (20: the duplicates detector's nearest-page search)")
    ap.add_argument("--real", action="store_true", help="real, skewed page hashes; k-nearest queries")
    ap.add_argument("--workers", type=int, default=3,
                    help="--real: worker processes started on the snapshot at the largest size (0: none)")
    ap.add_argument("--tail", type=int, default=10_000, help="--real: rows registered after the snapshot")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        child(args.child)
        return
    if args.real:
        res, snap = run_real(sizes, args.queries, args.seed, args.workers, args.tail)
        knn, wide, sc = res[max(sizes)]
        extra = (f" start_s_10M={snap[0]:.2f} start_cpu_s_10M={snap[2]:.2f} extra_worker_mb={snap[1]:.1f}"
                 if snap else "")
        print(f"knn_ms_10M={knn:.3f} radius20_list_ms_10M={wide:.3f} scan_knn_ms_10M={sc:.3f} "
              f"ratio_vs_scan={knn / sc:.3f}{extra}  (load average {os.getloadavg()[0]:.2f})")
        return
    radii = tuple(int(r) for r in args.radii.split(","))
    results = {s: run(s, args.queries, args.seed, radii) for s in sizes}
    if 10 not in radii:
        return
    idx_ms, scan_ms, bph = results[max(sizes)][10]
    print(f"index_query_ms_10M={idx_ms:.3f} ratio_vs_scan={idx_ms / scan_ms:.3f} memory_bytes_per_hash={bph:.1f}")


if __name__ == "__main__":
    main()
