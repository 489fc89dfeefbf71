"""Cost per upload against the size of the store, and the match lock, on PostgreSQL.

Run by hand, not by CI (needs PostgreSQL; makes and drops its own databases)::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/scale.py [--sizes 1000,100000,1000000] [--uploads 50]

1. Real page hashes: the first ``--bases`` receipt scans of ../shared/datasets/sroie-dev (after
   the uploads) are fingerprinted (pHash, dHash, layout hash; text hash of their ground-truth
   words). The skew is measured on them: the Hamming distances between real pages.
2. Stores of each size are written directly (COPY): every stored page is a real page's hashes
   with as many bits flipped as a distance drawn from half the measured real-pair distances
   (so stored pages cluster around real layouts, as a popular shop's receipts do); its blob is
   that real page (so alignments re-read a real image), but its pixels' sha256 is its own, so
   linking treats every stored page as another image (decoded for itself, compared for
   itself); that page's alignment features are kept on disk for each record (hard links), as a
   worker keeps them when it first prepares a page (``--no-kept-features``: none, every
   candidate page decoded and featured for each comparison, as before they were kept);
   ``--scan-labels``: the copies of one real page are registered as copies of one scan
   (``page_fingerprints.scan``, the base's pixel sha256), as the pipeline registers a page it
   found certainly the same scan as an earlier one: a store where each of the real pages is one
   scan uploaded again and again, rather than (the default) a popular shop's many receipts,
   which are other scans whose comparisons only the reused blob makes ``same_image``;
   serials, issuer marks (merchant keys drawn Zipf-like from 2,000 shops), date + total keys
   and 1% ``same_layout`` relations.
3. The same ``--uploads`` real uploads go into each store through ``analyse`` in this process,
   interleaved (each upload into every store in turn, the order alternating):
   the first receipt scans of sroie-dev, one in five a re-upload (rotated 1 degree, JPEG q70) of
   a stored real page. Measured per upload: CPU seconds of this process (the database server's
   CPU is not included), page alignments run, and for the match lock: seconds held (wall), this
   process's CPU seconds while holding it, SQL statements sent while holding it. The index
   catch-up of a fresh process (worker start) is done apart, before the uploads.
4. On the middle size, ``--rounds`` times, interleaved: the uploads by one worker process, then
   by two (forked, sharing the lock, each taking the next upload as a fleet's workers take the
   next message; before 2026-12-08 each took a fixed half and the run waited for the slower
   half), wall time each, the uploads removed between;
   the lock figures of the two-worker runs. Wall time on a shared machine is noisy: the load
   average is printed at the start, after each round and at the end.

The last line is ``cpu_ratio_1M_vs_1k=X lock_p95_ms=Y workers2_speedup=Z`` (X: CPU per upload
at the largest size over the smallest; Y: lock held p95 at the largest size; Z: one worker's
wall time over two workers', summed over the rounds).
"""

from __future__ import annotations

import argparse
import io
import itertools
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
POSTGRES = os.environ.get("FORENSICS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from forensics import page_features  # noqa: E402
from forensics.fingerprints import (  # noqa: E402
    FINGERPRINT_VERSION,
    TEXT_HASH_VERSION,
    fingerprint_page,
    text_hash_of,
    to_signed64,
)
from forensics.settings import Settings  # noqa: E402
from forensics.store import Store  # noqa: E402

T0 = datetime(2023, 1, 1, tzinfo=UTC)


class TimedStore(Store):
    """A store that notes, for each exclusive (match-lock) transaction, how long it is held
    (wall), this process's CPU seconds meanwhile, and the SQL statements it sends."""

    def __init__(self, url: str, **kw) -> None:  # noqa: ANN003
        super().__init__(url, **kw)
        self.held: list[float] = []
        self.held_cpu: list[float] = []
        self.statements: list[int] = []
        self._counting: list[int] | None = None
        from sqlalchemy import event

        @event.listens_for(self.engine, "before_cursor_execute")
        def _count(*_a) -> None:  # noqa: ANN002
            if self._counting is not None:
                self._counting[0] += 1

    @contextmanager
    def transaction(self, *, exclusive: bool = False):  # noqa: ANN201
        if not exclusive:
            with super().transaction() as conn:
                yield conn
            return
        with super().transaction(exclusive=True) as conn:
            t0, c0 = time.perf_counter(), time.process_time()  # after the lock is taken: held, not waited
            self._counting = [0]
            try:
                yield conn
            finally:
                stmts, self._counting = self._counting[0], None
        self.held.append(time.perf_counter() - t0)
        self.held_cpu.append(time.process_time() - c0)
        self.statements.append(stmts)


def words_of(box_csv: Path) -> list[str]:
    out = []
    for line in box_csv.read_text(errors="replace").splitlines():
        parts = line.split(",", 8)
        if len(parts) == 9:
            out.extend(parts[8].split())
    return out


def real_bases(files: list[Path], settings: Settings) -> list[dict]:
    """Each real page as ingestion decodes it: its hashes and pixels' sha256; and, as a worker
    keeps them when it first prepares a page for comparisons, its alignment features on disk
    (:mod:`forensics.page_features`; the folder beside the index snapshot in ``settings``)."""
    from forensics.documents import load_page_image

    folder = page_features.folder(POSTGRES, settings)
    bases = []
    for p in files:
        image = load_page_image(p.read_bytes(), 1, settings=settings)
        fp = fingerprint_page(1, image)
        page_features.save(folder, fp.pixel_sha256, page_features.prepare(image))
        bases.append({"path": str(p), "phash": fp.phash, "dhash": fp.dhash, "layout": fp.layout_hash,
                      "pixels": fp.pixel_sha256, "text": text_hash_of(words_of(p.with_suffix(".box.csv")))})
    return bases


def measured_skew(bases: list[dict]) -> np.ndarray:
    """Hamming distances (pHash) between every pair of real pages."""
    h = np.array([b["phash"] for b in bases], dtype=np.uint64)
    d = np.bitwise_count(h[:, None] ^ h[None, :])
    return d[np.triu_indices(len(h), 1)].astype(int)


def flip(rng: random.Random, value: int, bits: int) -> int:
    for b in rng.sample(range(64), bits):
        value ^= 1 << b
    return value


def new_database(admin) -> str:  # noqa: ANN001
    name = f"forensics_scale_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES.rsplit("/", 1)[0] + "/" + name


#: COPY's null
NULL = "\\N"


def populate(url: str, size: int, bases: list[dict], skew: np.ndarray, rng: random.Random,
             features: Path | None = None, *, scans: bool = False) -> None:
    """Write ``size`` analysed single-page records with their registrations, by COPY. Each
    record's page is its own image as far as linking knows (a pixel sha256 of its own), though
    its blob is its base's; ``features``: the folder of kept page features, where each record
    gets its base's features (a hard link), as the worker that first prepared it kept them;
    ``scans``: each record is registered as a copy of its base's scan (the label the pipeline
    gives a page it found certainly the same scan as an earlier one)."""
    import psycopg

    from forensics.page_features import kept_path

    shops = [f"shop{i:04d}" for i in range(2000)]
    cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(shops))))
    half = [max(0, int(x) // 2) for x in skew]
    ev, fp, se, im, rel = (io.StringIO() for _ in range(5))
    for i in range(size):
        b = bases[i % len(bases)]
        eid, seller = f"P{i:08d}", f"S{rng.randrange(size // 20 + 1):06d}"
        at = (T0 + timedelta(seconds=i)).isoformat()
        shop = rng.choices(shops, cum_weights=cum)[0]
        ev.write(f"{eid}\t{seller}\tanalyzed\tclean\t0\t{rng.getrandbits(256):064x}\timage/jpeg\t1\t{b['path']}\t{at}\t"
                 f"{{}}\t[]\t[]\t{{}}\t1\t{at}\n")
        pixels = f"{rng.getrandbits(256):064x}"
        if features is not None:
            target = kept_path(features, pixels)
            target.parent.mkdir(exist_ok=True)
            os.link(kept_path(features, b["pixels"]), target)
        text = NULL if b["text"] is None else str(to_signed64(flip(rng, b["text"], rng.choice(half))))
        text_version = NULL if b["text"] is None else TEXT_HASH_VERSION
        date_total = f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}|{rng.randrange(1, 500)}.{rng.randrange(100):02d}"
        fp.write(f"{eid}\t{seller}\t1\t{FINGERPRINT_VERSION}\t{to_signed64(flip(rng, b['phash'], rng.choice(half)))}\t"
                 f"{to_signed64(flip(rng, b['dhash'], rng.choice(half)))}\t{to_signed64(b['layout'])}\t"
                 f"{pixels}\t{rng.getrandbits(256):064x}\t{date_total}\t{text}\t{text_version}\t"
                 f"{b['pixels'] if scans else NULL}\n")
        serial = f"INV{rng.randrange(10**7):07d}"
        se.write(f"name:{shop}\t{serial}\t{eid}\t{seller}\t\\N\t\\N\t{at}\t{serial[-6:]}\tname:{shop}\t\\N\t\\N\n")
        im.write(f"{eid}\t{seller}\t\\N\tname:{shop}\t\\N\t\\N\t{at}\n")
        if i and rng.random() < 0.01:
            other = f"P{rng.randrange(i):08d}"
            a, c = sorted((eid, other))
            rel.write(f"{a}\t{c}\tsame_layout\t0.5\t\\N\t{at}\n")
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table, cols, buf in (
            ("evidence", "evidence_id, seller_id, status, verdict, risk, sha256, media_type, pages, blob, "
             "uploaded_at, fields, own_findings, findings, checks, attempts, updated_at", ev),
            ("page_fingerprints", "evidence_id, seller_id, page, version, phash, dhash, layout_hash, "
             "pixel_sha256, file_sha256, date_total_key, text_hash, text_version, scan", fp),
            ("serials", "issuer_key, serial, evidence_id, seller_id, date, total, uploaded_at, serial_tail, "
             "name_key, reg_key, phone_key", se),
            ("issuer_marks", "evidence_id, seller_id, tax_key, name_key, reg_key, phone_key, uploaded_at", im),
            ("relations", "a, b, kind, score, details, created_at", rel),
        ):
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
        cur.execute("ANALYZE")


def make_uploads(files: list[Path], bases: list[dict], work: Path, rng: random.Random) -> list[str]:
    """Paths of the uploads: receipt scans, one in five a re-upload of a stored real page."""
    out = []
    for i, p in enumerate(files):
        if i % 5 == 4:
            src = Image.open(bases[rng.randrange(len(bases))]["path"]).convert("L")
            q = work / f"reupload{i:03d}.jpg"
            src.rotate(1.0, expand=True, fillcolor=245).save(q, quality=70)
            out.append(str(q))
        else:
            out.append(str(p))
    return out


def event(i: int, path: str, tag: str) -> dict:
    return {"evidence_id": f"U{tag}{i:04d}", "seller_id": f"US{i % 9}", "blob": path,
            "uploaded_at": (T0 + timedelta(days=400, seconds=i)).isoformat()}


def analyse_all(url: str, settings: Settings, uploads: Iterable[tuple[int, str]], tag: str,
                profile: str | None = None) -> dict[str, list[float]]:
    """:func:`analyse_interleaved` into one store."""
    return analyse_interleaved([(url, settings)], uploads, tag, profile)[url]


def analyse_interleaved(targets: list[tuple[str, Settings]], uploads: Iterable[tuple[int, str]], tag: str,
                        profile: str | None = None) -> dict[str, dict[str, list[float]]]:
    """Each upload into every store of ``targets`` in turn (the order alternating upload by
    upload, so a change in the machine's load falls on every store alike), in this process.
    Per store and upload: CPU seconds (``cpu``), and for its match-lock transaction the seconds
    held (``held``), this process's CPU seconds meanwhile (``held_cpu``) and SQL statements
    sent (``statements``); page alignments run per upload (``aligned``) and what they found
    (``outcomes``). ``profile``: write a cProfile of the uploads into the last store there."""
    from forensics.detectors import duplicates
    from forensics.pipeline import analyse
    from forensics.store.view import RegistryView

    stores = {}
    for url, _ in targets:
        stores[url] = TimedStore(url, migrate=False)
        with stores[url].transaction() as conn:  # worker start: the in-memory index catches up
            duplicates.indexes_for(url).catch_up(RegistryView(stores[url], conn))
    out = {url: {"cpu": [], "aligned": [], "outcomes": {}} for url, _ in targets}
    real_compare = duplicates.compare_pages
    current: list = [None]

    def counted(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        rel = real_compare(*a, **kw)
        # another shop's page told apart by features alone, or a full comparison and its kind
        kind = "by_features" if rel.details.get("registration", "").startswith("features: no match") else rel.kind
        current[0]["aligned"][-1] += 1
        current[0]["outcomes"][kind] = current[0]["outcomes"].get(kind, 0.0) + 1
        return rel

    duplicates.compare_pages = counted
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    try:
        for n, (i, path) in enumerate(uploads):
            order = targets if n % 2 == 0 else targets[::-1]
            for url, settings in order:
                current[0] = r = out[url]
                r["aligned"].append(0)
                profiled = prof is not None and url == targets[-1][0]
                t0 = time.process_time()
                if profiled:
                    prof.enable()
                analyse(event(i, path, tag), stores[url], settings)
                if profiled:
                    prof.disable()
                r["cpu"].append(time.process_time() - t0)
    finally:
        duplicates.compare_pages = real_compare
        for store in stores.values():
            store.close()
    if prof is not None:
        prof.dump_stats(profile)
    for url, store in stores.items():
        out[url].update(held=store.held, held_cpu=store.held_cpu,
                        statements=[float(x) for x in store.statements],
                        aligned=[float(x) for x in out[url]["aligned"]])
    return out


def _child(args: tuple) -> dict[str, list[float]]:
    return analyse_all(*args)


#: the next upload to take (shared by forked workers; set before they fork)
_NEXT: Any = None


def _taken(uploads: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """The uploads in their order, each to whichever worker asks first: a fleet's workers each
    take the next message off the queue, so none waits for another's share."""
    while True:
        with _NEXT.get_lock():
            k = _NEXT.value
            _NEXT.value += 1
        if k >= len(uploads):
            return
        yield uploads[k]


def _taking_child(args: tuple) -> dict[str, list[float]]:
    url, settings, uploads, tag = args
    return analyse_all(url, settings, _taken(uploads), tag)


def remove_uploads(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM relations WHERE a LIKE 'U%' OR b LIKE 'U%'")
        conn.execute("DELETE FROM cluster_members WHERE evidence_id LIKE 'U%'")
        conn.execute("DELETE FROM clusters c WHERE NOT EXISTS (SELECT 1 FROM cluster_members m WHERE m.cluster_id = c.id)")
        conn.execute("DELETE FROM evidence WHERE evidence_id LIKE 'U%'")


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def summary(r: dict[str, list[float]]) -> str:
    """One line of the per-upload figures of :func:`analyse_all`."""
    cpu, held, held_cpu, stmts = r["cpu"], r["held"], r["held_cpu"], r["statements"]
    outcomes = r.get("outcomes") or {}
    found = f"({' '.join(f'{k}={v / len(cpu):.2f}' for k, v in sorted(outcomes.items()))}) " if outcomes else ""
    return (f"cpu_per_upload_s p50={statistics.median(cpu):.3f} mean={statistics.mean(cpu):.3f} "
            f"aligned_per_upload={statistics.mean(r['aligned']):.2f} {found}"
            f"lock_held_ms p50={1000 * statistics.median(held):.1f} p95={1000 * pct(held, 0.95):.1f} "
            f"max={1000 * max(held):.1f} lock_cpu_ms p50={1000 * statistics.median(held_cpu):.1f} "
            f"p95={1000 * pct(held_cpu, 0.95):.1f} statements_under_lock mean={statistics.mean(stmts):.1f} "
            f"max={max(stmts):.0f}")


def main() -> None:
    global _NEXT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000,1000000", help="stored pages per store")
    ap.add_argument("--uploads", type=int, default=50)
    ap.add_argument("--bases", type=int, default=150, help="real pages the stored hashes derive from")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=2,
                    help="one-worker and two-worker runs on the middle store, interleaved")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the uploads into the last store of --sizes")
    ap.add_argument("--no-kept-features", action="store_true",
                    help="no page features kept on disk (index_dir=off): the stored pages are "
                         "decoded and featured for every comparison, the cost before they were kept")
    ap.add_argument("--scan-labels", action="store_true",
                    help="register the stored copies of one real page as one scan (each real page a "
                         "scan uploaded again and again): a re-upload is compared with one copy, not each")
    args = ap.parse_args()
    import psycopg

    if not SROIE.is_dir():
        sys.exit(f"needs the receipt scans in {SROIE}")
    scans = sorted(SROIE.glob("*.jpg"))
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="forensics-scale-"))
    # the index snapshots and the kept page features in a folder of this run ("off": neither,
    # so every candidate page is decoded and prepared again, as before features were kept)
    settings = Settings(blob_root="/", broker_url="", index_dir="off" if args.no_kept_features else str(work))
    bases = real_bases(scans[args.uploads:args.uploads + args.bases], settings)
    skew = measured_skew(bases)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"real pages: {len(bases)}; pHash distance between real pages: p5={np.percentile(skew, 5):.0f} "
          f"p50={np.percentile(skew, 50):.0f} p95={np.percentile(skew, 95):.0f}")
    sizes = [int(s) for s in args.sizes.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # still drop the databases
    admin = psycopg.connect(POSTGRES, autocommit=True)
    urls: list[str] = []
    results = {}
    one_s: list[float] = []
    two_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        uploads = list(enumerate(make_uploads(scans[:args.uploads], bases, Path(tmp), rng)))
        try:
            fill_s = {}
            for size in sizes:
                url = new_database(admin)
                urls.append(url)
                Store(url).close()
                t0 = time.perf_counter()
                populate(url, size, bases, skew, random.Random(args.seed + size), page_features.folder(url, settings),
                         scans=args.scan_labels)
                fill_s[size] = time.perf_counter() - t0
            # the same uploads into every store, interleaved upload by upload
            by_url = analyse_interleaved([(u, settings.with_(database_url=u)) for u in urls], uploads, "a",
                                         args.profile)
            for size, url in zip(sizes, urls, strict=True):
                results[size] = by_url[url]
                print(f"size={size:8d} written_s={fill_s[size]:6.1f} {summary(results[size])}", flush=True)
            mid = urls[len(urls) // 2]
            s_mid = settings.with_(database_url=mid)
            for rnd in range(args.rounds):
                # each run in fresh processes (a worker start each), the uploads removed between
                remove_uploads(mid)
                t0 = time.perf_counter()
                with multiprocessing.get_context("fork").Pool(1) as pool:
                    one = pool.map(_child, [(mid, s_mid, uploads, f"b{rnd}")])
                one_s.append(time.perf_counter() - t0)
                remove_uploads(mid)
                t0 = time.perf_counter()
                _NEXT = multiprocessing.get_context("fork").Value("i", 0)
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    parts = pool.map(_taking_child, [(mid, s_mid, uploads, f"c{rnd}")] * 2)
                two_s.append(time.perf_counter() - t0)
                both = {k: parts[0][k] + parts[1][k] for k in parts[0] if k != "outcomes"}
                print(f"size={sizes[len(sizes) // 2]} round {rnd + 1}: one worker {one_s[-1]:.1f} s "
                      f"({summary(one[0])}), two workers {two_s[-1]:.1f} s "
                      f"({summary(both)}); load average {os.getloadavg()[0]:.2f}", flush=True)
        finally:
            for url in urls:
                admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            admin.close()
            shutil.rmtree(work, ignore_errors=True)
    lo, hi = min(sizes), max(sizes)
    ratio = statistics.mean(results[hi]["cpu"]) / statistics.mean(results[lo]["cpu"])
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"cpu_ratio_1M_vs_1k={ratio:.3f} lock_p95_ms={1000 * pct(results[hi]['held'], 0.95):.1f} "
          f"workers2_speedup={sum(one_s) / sum(two_s) if two_s else float('nan'):.3f}")


if __name__ == "__main__":
    main()
