"""Benchmark: the reviewer's web app over HTTP on PostgreSQL with 100,000 records.

Writes a fresh PostgreSQL database directly (no OCR): evidence rows with fields, findings,
checks and document summaries of realistic size, one page fingerprint each, readings (words
with boxes) for the uploads the evidence route opens. Serves the app with ``forensics serve``
in its own process, logs in 8 clients (threads, one session each) and has each request, in
turn, the queue page, an evidence page, a decision (POST with its CSRF token), the investigator's
clusters list, a cluster page, a serial pivot, the graph of a seller 2 hops out (on 3,000
clusters, a serial and an issuer mark per record) and the login page (the baseline: a template
with no store query), interleaved. The app runs with ``--workers 2`` (one process per core of
the machine it was written on) unless told otherwise. Prints p50/p95 per route, each route's
p50 as a ratio to the baseline's, the SQL statements and store connections per request of each
route (the app's ``/metrics`` counters, ``PROMETHEUS_MULTIPROC_DIR`` shared by its processes),
then, from a pass with one client and one route at a time, the app's CPU per request of each
route (user + system time of its processes, /proc) and its ratio to the baseline's; last::

    web_p95_ms=X      (the worst p95 of queue, evidence and decision, as before the investigator's routes)

    python bench/web.py                               # 100,000 records, 8 clients, 50 rounds
    python bench/web.py --records 20000 --rounds 20 --keep
    python bench/web.py --reuse forensics_bench_web_12345   # the database a --keep run left
    FORENSICS_BENCH_POSTGRES_URL=postgresql://root@127.0.0.1:5432/test python bench/web.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from statistics import quantiles

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import httpx  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from forensics.store import Store  # noqa: E402
from forensics.store.people import People  # noqa: E402
from forensics.store.schema import (  # noqa: E402
    cluster_members,
    clusters,
    evidence,
    issuer_marks,
    page_fingerprints,
    readings,
    serials,
)
from forensics.web.auth import hash_password  # noqa: E402

ADMIN_URL = os.environ.get("FORENSICS_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
#: rows per INSERT batch
BATCH = 2000
#: uploads that get a reading (the evidence route opens only these)
WITH_READING = 5000
CODES = [("serial_reuse", "high"), ("edited_copy", "high"), ("duplicate_upload", "high"),
         ("amounts_inconsistent", "medium"), ("invalid_identifier", "low"), ("local_edit", "medium"),
         ("same_layout_cross_seller", "info"), ("claim_mismatch", "medium"), ("pdf_editor", "low")]
CHECKS = ("ocr", "fields", "arithmetic", "identifiers", "dates_claims", "document_traces", "local_edits",
          "serial_registry", "issuer_identity", "duplicates", "known_forgery")


def _box(rng: random.Random) -> list[int]:
    x, y = rng.randint(20, 500), rng.randint(20, 1500)
    return [x, y, x + rng.randint(40, 200), y + rng.randint(14, 30)]


def _record(i: int, rng: random.Random, start: datetime) -> dict:
    eid = f"B{i:07d}"
    roll = rng.random()
    n = 0 if roll < 0.75 else rng.randint(1, 4)
    findings = []
    for _ in range(n):
        code, sev = rng.choice(CODES)
        related = [f"B{rng.randrange(i + 1):07d}" for _ in range(rng.randint(0, 3))]
        f = {"code": code, "severity": sev, "score": round(rng.uniform(0.5, 1), 3),
             "message": f"The {code.replace('_', ' ')} check found that serial CS{rng.randrange(10**8):08d} of "
                        f"this shop also appears on evidence {', '.join(related) or 'none'} uploaded by other sellers.",
             "related": related}
        if rng.random() < 0.5:
            f["page"], f["box"] = 1, _box(rng)
        findings.append(f)
    risk = 0 if not findings else rng.randint(20, 99)
    verdict = "clean" if risk < 30 else "review" if risk < 70 else "likely_forgery"
    fields = {name: {"value": f"{name}-{rng.randrange(10**6)}", "raw": f"{name} {rng.randrange(10**6)}",
                     "confidence": round(rng.uniform(0.5, 1), 2), "page": 1, "box": _box(rng)}
              for name in ("merchant", "merchant_address", "serial", "date", "time", "total", "subtotal", "tax",
                           "currency", "payment_method")}
    return {"evidence_id": eid, "seller_id": f"S{rng.randrange(20000):05d}", "status": "analyzed",
            "verdict": verdict, "risk": risk, "sha256": secrets.token_hex(32), "media_type": "image/jpeg",
            "claimed_type": None, "pages": 1, "blob": f"uploads/{eid}.jpg",
            "uploaded_at": start + timedelta(seconds=i * 30), "listing_id": None, "brand": None, "claimed": None,
            "fields": fields, "own_findings": findings, "findings": findings,
            "checks": {c: "done" for c in CHECKS}, "document": {"media_type": "image/jpeg", "pages": 1,
                                                                "size_bytes": rng.randint(80_000, 900_000),
                                                                "image_meta": {"exif_software": "camera"}},
            "error_code": None, "error_message": None, "attempts": 1, "analyzed_at": start,
            "analyzer_version": "bench", "updated_at": start}


def _signed(rng: random.Random) -> int:
    return rng.randrange(-(2**63), 2**63)


def fill(store: Store, records: int, seed: int) -> list[str]:
    """Write ``records`` rows directly; return the ids that have a reading."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    with_reading = []
    for lo in range(0, records, BATCH):
        rows = [_record(i, rng, start) for i in range(lo, min(records, lo + BATCH))]
        prints = [{"evidence_id": r["evidence_id"], "seller_id": r["seller_id"], "page": 1, "version": "fp1",
                   "phash": _signed(rng), "dhash": _signed(rng), "layout_hash": _signed(rng),
                   "pixel_sha256": secrets.token_hex(32), "file_sha256": r["sha256"], "content_key": None,
                   "date_total_key": None, "text_hash": _signed(rng), "text_version": "t1"} for r in rows]
        reads = []
        for r in rows[: max(0, WITH_READING - len(with_reading))]:
            words = [[f"w{k}", *_box(rng), 0.9, 1, k // 6] for k in range(120)]
            reads.append({"evidence_id": r["evidence_id"], "sha256": r["sha256"],
                          "text": " ".join(w[0] for w in words),
                          "pages": [{"page": 1, "source": "ocr", "engine": "bench", "width": 1000, "height": 1800,
                                     "seconds": 0.9, "words": words}]})
            with_reading.append(r["evidence_id"])
        with store.transaction() as conn:
            conn.execute(insert(evidence), rows)
            conn.execute(insert(page_fingerprints), prints)
            if reads:
                conn.execute(insert(readings), reads)
    with store.transaction() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(f"wrote {records} records in {time.perf_counter() - t0:.1f} s", flush=True)
    return with_reading


def fill_links(store: Store, clusters_n: int, seed: int) -> dict[str, list[str]]:
    """Clusters (a few uploads from different sellers each), a serial per upload (one shared by
    each cluster's members) and an issuer mark per upload (5,000 issuers): what the investigator's
    routes read. Returns cluster ids, shared serials and sellers in clusters to request."""
    rng = random.Random(seed + 1)
    t0 = time.perf_counter()
    with store.transaction() as conn:
        rows = conn.execute(select(evidence.c.evidence_id, evidence.c.seller_id, evidence.c.uploaded_at)
                            .order_by(evidence.c.evidence_id)).all()
    now = datetime.now(UTC)
    shared: dict[str, tuple[str, str]] = {}
    out: dict[str, list[str]] = {"clusters": [], "serials": [], "sellers": []}
    cl_rows, member_rows = [], []
    for k in range(clusters_n):
        members = rng.sample(rows, rng.randint(2, 6))
        cid = f"{'T' if k % 2 else 'D'}{k + 1}"
        times = [m.uploaded_at for m in members]
        cl_rows.append({"id": cid, "kind": "template" if k % 2 else "duplicate", "size": len(members),
                        "sellers": len({m.seller_id for m in members}), "first_seen": min(times),
                        "last_seen": max(times), "updated_at": now})
        serial = f"CX{k:08d}"
        for m in members:
            member_rows.append({"cluster_id": cid, "evidence_id": m.evidence_id, "seller_id": m.seller_id})
            shared[m.evidence_id] = (serial, f"tax:T{k % 5000:05d}")
        out["clusters"].append(cid)
        out["serials"].append(serial)
        out["sellers"].append(members[0].seller_id)
    member_rows = list({(r["cluster_id"], r["evidence_id"]): r for r in member_rows}.values())
    serial_rows, mark_rows = [], []
    for r in rows:
        serial, issuer = shared.get(r.evidence_id, (f"CS{r.evidence_id}", f"tax:T{rng.randrange(5000):05d}"))
        serial_rows.append({"issuer_key": issuer, "serial": serial, "evidence_id": r.evidence_id,
                            "seller_id": r.seller_id, "date": "2024-01-02", "total": "12.50",
                            "uploaded_at": r.uploaded_at, "serial_tail": serial[-6:]})
        mark_rows.append({"evidence_id": r.evidence_id, "seller_id": r.seller_id, "tax_key": issuer[4:],
                          "uploaded_at": r.uploaded_at})
    with store.transaction() as conn:
        conn.execute(insert(clusters), cl_rows)
        for lo in range(0, len(member_rows), BATCH):
            conn.execute(insert(cluster_members), member_rows[lo:lo + BATCH])
        for lo in range(0, len(serial_rows), BATCH):
            conn.execute(insert(serials), serial_rows[lo:lo + BATCH])
            conn.execute(insert(issuer_marks), mark_rows[lo:lo + BATCH])
        conn.exec_driver_sql("ANALYZE")
    print(f"wrote {clusters_n} clusters ({len(member_rows)} members), {len(serial_rows)} serials and issuer "
          f"marks in {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{task}/children").read().split()]
        except (OSError, ValueError):
            continue
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _login(base: str, name: str, password: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert r.status_code == 200 and csrf, (r.status_code, r.text[:200])
    return client, csrf.group(1)


#: the reviewer's routes (their worst p95 is the last line, as before)
REVIEW_ROUTES = ("queue", "evidence", "decision")
#: the investigator's routes
INVESTIGATOR_ROUTES = ("clusters", "cluster", "serial pivot", "graph 2 hops")


#: each route's template as the app's metrics label it (method, path)
ROUTE_LABELS = {"login page (baseline)": ("GET", "/login"), "queue": ("GET", "/queue"),
                "evidence": ("GET", "/evidence/{evidence_id}"),
                "decision": ("POST", "/evidence/{evidence_id}/decision"), "clusters": ("GET", "/clusters"),
                "cluster": ("GET", "/clusters/{cluster_id}"), "serial pivot": ("GET", "/serials/{value}"),
                "graph 2 hops": ("GET", "/graph")}


def _request(route: str, client: httpx.Client, anon: httpx.Client, csrf: str, rng: random.Random,
             ids: list[str], links: dict[str, list[str]]) -> httpx.Response:
    eid = rng.choice(ids)
    k = rng.randrange(len(links["clusters"]))
    if route == "clusters":
        return client.get("/clusters?min_sellers=2")
    if route == "cluster":
        return client.get(f"/clusters/{links['clusters'][k]}")
    if route == "serial pivot":
        return client.get(f"/serials/{links['serials'][k]}")
    if route == "graph 2 hops":
        return client.get(f"/graph?seed={links['sellers'][k]}&hops=2")
    if route == "queue":
        return client.get("/queue")
    if route == "evidence":
        return client.get(f"/evidence/{eid}")
    if route == "decision":
        return client.post(f"/evidence/{eid}/decision",
                           data={"status": "needs_more_information", "reason": "ask_seller",
                                 "comment": "bench", "csrf_token": csrf, "then": "stay"},
                           follow_redirects=False)
    return anon.get("/login")


def run_clients(base: str, users: list[tuple[str, str]], ids: list[str], rounds: int,
                seed: int, links: dict[str, list[str]], routes: tuple[str, ...] = tuple(ROUTE_LABELS)
                ) -> dict[str, list[float]]:
    """Each client does ``rounds`` rounds of every route, in an order that rotates per round."""
    times: dict[str, list[float]] = {r: [] for r in routes}
    lock = threading.Lock()
    errors: list[str] = []

    def client_loop(k: int, name: str, password: str) -> None:
        rng = random.Random(seed + k)
        client, csrf = _login(base, name, password)
        anon = httpx.Client(base_url=base, timeout=60)  # the baseline, kept alive like the others
        order = list(times)
        for n in range(rounds):
            for route in order[n % len(order):] + order[: n % len(order)]:
                t0 = time.perf_counter()
                try:
                    r = _request(route, client, anon, csrf, rng, ids, links)
                except httpx.TransportError as exc:  # a kept-alive connection the server closed
                    errors.append(f"{route}: {type(exc).__name__}")
                    continue
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code not in (200, 303):
                    errors.append(f"{route}: {r.status_code}")
                with lock:
                    times[route].append(ms)
        client.close()
        anon.close()

    threads = [threading.Thread(target=client_loop, args=(k, *u)) for k, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"{len(errors)} error(s), e.g. {errors[:3]}")
    return times


def _store_work(base: str) -> dict[tuple[str, str], list[float]]:
    """(method, route) -> [requests, SQL statements, connection checkouts] so far, from /metrics."""
    out: dict[tuple[str, str], list[float]] = {}
    names = {"forensics_http_requests_total": 0, "forensics_http_db_statements_total": 1,
             "forensics_http_db_checkouts_total": 2}
    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        m = re.match(r'(\w+)\{(.*)\} ([0-9.e+]+)$', line)
        if not m or m.group(1) not in names:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        key = (labels.get("method", ""), labels.get("route", ""))
        out.setdefault(key, [0.0, 0.0, 0.0])[names[m.group(1)]] += float(m.group(3))
    return out


def solo(base: str, user: tuple[str, str], ids: list[str], links: dict[str, list[str]], n: int,
         seed: int, server_pid: int) -> dict[str, tuple[float, float]]:
    """One client, one route at a time, ``n`` requests each: the app's CPU ms per request of each
    route and its wall p50 with nothing else running from this benchmark."""
    out = {}
    rng = random.Random(seed)
    client, csrf = _login(base, *user)
    anon = httpx.Client(base_url=base, timeout=60)
    for route in ROUTE_LABELS:
        walls = []
        cpu0 = _cpu_seconds(server_pid)
        for _ in range(n):
            t0 = time.perf_counter()
            _request(route, client, anon, csrf, rng, ids, links)
            walls.append((time.perf_counter() - t0) * 1000)
        out[route] = ((_cpu_seconds(server_pid) - cpu0) / n * 1000, quantiles(walls, n=100)[49])
    client.close()
    anon.close()
    return out


def against(bases: dict[str, str], pids: dict[str, int], user: tuple[str, str], ids: list[str],
            links: dict[str, list[str]], n: int, seed: int, blocks: int = 4) -> dict[str, dict[str, float]]:
    """The same one-client pass on two apps serving one database (this tree's and another's),
    interleaved in ``blocks`` per route (A, B, A, B ...) so that the machine's load falls on both
    alike: the app's CPU ms per request of each route on each side."""
    clients = {side: _login(base, *user) for side, base in bases.items()}
    anon = {side: httpx.Client(base_url=base, timeout=60) for side, base in bases.items()}
    out: dict[str, dict[str, float]] = {}
    for route in ROUTE_LABELS:
        cpu = dict.fromkeys(bases, 0.0)
        for b in range(blocks):
            for side in bases:
                rng = random.Random(seed + b)  # both sides get the same requests
                client, csrf = clients[side]
                c0 = _cpu_seconds(pids[side])
                for _ in range(max(1, n // blocks)):
                    _request(route, client, anon[side], csrf, rng, ids, links)
                cpu[side] += _cpu_seconds(pids[side]) - c0
        out[route] = {side: v / (blocks * max(1, n // blocks)) * 1000 for side, v in cpu.items()}
    for client, _csrf in clients.values():
        client.close()
    for c in anon.values():
        c.close()
    return out


def _serve(env: dict[str, str], port: int, workers: int, tree: str | None = None) -> subprocess.Popen:
    if tree:
        env = {**env, "PYTHONPATH": tree}
    proc = subprocess.Popen([sys.executable, "-m", "forensics", "serve", "--port", str(port), "--workers", str(workers)],
                            env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=50, help="rounds of every route per client")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--clusters", type=int, default=3000, help="clusters written beside the records")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database (and its ids, for --reuse)")
    ap.add_argument("--reuse", metavar="DATABASE", help="run on a database an earlier --keep run left (no fill)")
    ap.add_argument("--solo", type=int, default=40,
                    help="requests per route of the one-client pass that measures CPU per request (0: none)")
    ap.add_argument("--workers", type=int, default=2, help="app processes (forensics serve --workers)")
    ap.add_argument("--against", metavar="TREE", help="also serve the app from another source tree (e.g. a "
                    "`git archive` of an earlier commit) on the same database and compare CPU per request")
    args = ap.parse_args()

    import psycopg

    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    name = args.reuse or f"forensics_bench_web_{os.getpid()}"
    saved = os.path.join(tempfile.gettempdir(), f"{name}.json")
    if not args.reuse:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    server = None
    metrics_dir = tempfile.TemporaryDirectory(prefix="bench-web-metrics-")
    users = [(f"bench{k}", f"bench-pass-{k}") for k in range(args.clients)]
    try:
        store = Store(url)
        if args.reuse:
            with open(saved) as f:
                ids, links = (lambda d: (d["ids"], d["links"]))(json.load(f))
        else:
            ids = fill(store, args.records, args.seed)
            links = fill_links(store, args.clusters, args.seed)
            if args.keep:
                with open(saved, "w") as f:
                    json.dump({"ids": ids, "links": links}, f)
        people = People(store)
        for u, p in users:
            if people.user(u) is None:
                people.add_user(u, "investigator", hash_password(p))
        store.close()
        with psycopg.connect(url, autocommit=True) as vac:  # the steady state: visibility map set, stats fresh
            vac.execute("VACUUM ANALYZE")
        port = _free_port()
        env = {**os.environ, "FORENSICS_DATABASE_URL": url, "FORENSICS_SECRET_KEY": secrets.token_hex(16),
               "FORENSICS_LOGIN_ATTEMPTS": "1000", "PROMETHEUS_MULTIPROC_DIR": metrics_dir.name}
        server = _serve(env, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        run_clients(base, users[:1], ids, 2, args.seed, links)  # warm up: imports, template compilation, pool
        work0 = _store_work(base)
        cpu0, server0, load0 = os.times(), _cpu_seconds(server.pid), os.getloadavg()[0]
        t0 = time.perf_counter()
        times = run_clients(base, users, ids, args.rounds, args.seed, links)
        wall = time.perf_counter() - t0
        total = sum(len(v) for v in times.values())
        server_cpu = _cpu_seconds(server.pid) - server0
        load1 = os.getloadavg()[0]
        work1 = _store_work(base)
        alone = solo(base, users[0], ids, links, args.solo, args.seed, server.pid) if args.solo else {}
        ab = {}
        if args.against:
            other_port = _free_port()
            other = _serve({**env, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-web-other-")},
                           other_port, args.workers, args.against)
            try:
                run_clients(f"http://127.0.0.1:{other_port}", users[:1], ids, 2, args.seed, links)  # warm up
                ab = against({"this": base, "other": f"http://127.0.0.1:{other_port}"},
                             {"this": server.pid, "other": other.pid}, users[0], ids, links, args.solo or 40,
                             args.seed)
            finally:
                other.terminate()
                other.wait(10)
        print(f"{args.records} records, {args.clients} concurrent clients, {total} requests in {wall:.1f} s "
              f"({total / wall:.0f}/s); app CPU {server_cpu:.1f} s ({server_cpu / total * 1000:.1f} ms a "
              f"request), client CPU {os.times().user - cpu0.user:.1f} s; load average "
              f"{load0:.1f} -> {load1:.1f} on {os.cpu_count()} cores")
        base_p50 = quantiles(times["login page (baseline)"], n=100)[49]
        worst = worst_inv = 0.0
        base_cpu = alone.get("login page (baseline)", (float("nan"), 0.0))[0]
        print(f"{'route':22} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'p50/base':>8} {'queries':>8} {'checkouts':>9}"
              f" {'solo CPU ms':>11} {'CPU/base':>8} {'solo p50':>8}")
        for route, ms in times.items():
            q = quantiles(ms, n=100)
            if route in REVIEW_ROUTES:
                worst = max(worst, q[94])
            elif route in INVESTIGATOR_ROUTES:
                worst_inv = max(worst_inv, q[94] / (2 if route == "graph 2 hops" else 1))
            label = ROUTE_LABELS[route]
            before, after = work0.get(label, [0.0] * 3), work1.get(label, [0.0] * 3)
            n = max(after[0] - before[0], 1)
            cpu, p50 = alone.get(route, (float("nan"), float("nan")))
            print(f"{route:22} {len(ms):5d} {q[49]:7.1f} {q[94]:7.1f} {q[49] / base_p50:8.2f} "
                  f"{(after[1] - before[1]) / n:8.1f} {(after[2] - before[2]) / n:9.1f} {cpu:11.1f} "
                  f"{cpu / base_cpu if base_cpu else float('nan'):8.1f} {p50:8.1f}")
        print("queries, checkouts: SQL statements and store connections per request (the app's /metrics);")
        print(f"solo: one client, {args.solo} requests of one route at a time (app CPU per request, as a ratio to "
              f"the login page's in the same pass, and wall p50)")
        if ab:
            print(f"app CPU ms per request, this tree vs {args.against} (one client, interleaved blocks):")
            for route, v in ab.items():
                print(f"  {route:22} {v['this']:6.1f} vs {v['other']:6.1f}  ({v['this'] / v['other']:.2f}x)")
        print(json.dumps({"records": args.records, "clients": args.clients, "workers": args.workers,
                          "investigator_p95_over_target": round(worst_inv / 150, 2)}))
        print(f"web_p95_ms={worst:.1f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if not args.keep and not args.reuse:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        metrics_dir.cleanup()


if __name__ == "__main__":
    main()
