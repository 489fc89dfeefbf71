"""Index snapshots: a memory-mapped base plus a private tail answers exactly like one index;
workers stand on the store's snapshot only when it matches the store, and never answer wrong."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, insert

import forensics.index as index_mod
from forensics import index_snapshot
from forensics.detectors.duplicates import _Indexes
from forensics.fingerprints import FINGERPRINT_VERSION, TEXT_HASH_VERSION, to_signed64
from forensics.index import HammingIndex, LayeredIndex
from forensics.settings import Settings, get_settings
from forensics.store import Store
from forensics.store.schema import evidence, page_fingerprints
from forensics.store.view import RegistryView


def brute(ids: np.ndarray, hashes: np.ndarray, query: int, radius: int) -> list[tuple[int, int]]:
    d = np.bitwise_count(hashes ^ np.uint64(query)).astype(np.int64)
    keep = d <= radius
    return sorted(zip(ids[keep].tolist(), d[keep].tolist(), strict=True), key=lambda t: (t[1], t[0]))


def brute_nearest(ids: np.ndarray, hashes: np.ndarray, query: int, k: int, maxd: int) -> list[tuple[int, int]]:
    return brute(ids, hashes, query, maxd)[:k]


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multi-index tables already for a few thousand items, so snapshots carry tables."""
    monkeypatch.setattr(index_mod, "MIN_TABLE_ITEMS", 256)
    monkeypatch.setattr(index_mod, "TAIL_MIN_MERGE", 300)


def flipped(rng: np.random.Generator, base: np.ndarray, max_bits: int) -> np.ndarray:
    out = base.copy()
    for i in range(len(out)):
        for b in rng.choice(64, size=int(rng.integers(0, max_bits + 1)), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(b)
    return out


def hash_sets(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random hashes and skewed ones (a few layouts, near-equal pages, exact repeats)."""
    centres = rng.integers(0, 2**64, 4, dtype=np.uint64)
    return {"random": rng.integers(0, 2**64, n, dtype=np.uint64),
            "skewed": flipped(rng, centres[rng.integers(0, 4, n)], 4)}


def queries(rng: np.random.Generator, hashes: np.ndarray, n: int) -> list[int]:
    near = flipped(rng, hashes[rng.integers(0, len(hashes), n)], 10)
    return [int(q) for q in np.concatenate([near, rng.integers(0, 2**64, n // 2, dtype=np.uint64)])]


def snapshot_of(tmp_path: Path, ids: np.ndarray, hashes: np.ndarray, name: str = "s") -> index_snapshot.Snapshot:
    parts = {}
    for n in index_snapshot.COLUMNS:
        idx = HammingIndex()
        idx.add(ids, hashes)
        parts[n] = idx
    path = index_snapshot.write_snapshot(tmp_path / f"{name}.fpindex", "sqlite:///x.db", int(ids.max()), parts)
    snap = index_snapshot.read_snapshot(path)
    assert snap is not None
    return snap


@pytest.mark.usefixtures("small_tables")
@pytest.mark.parametrize("kind", ["random", "skewed"])
def test_snapshot_plus_tail_answers_exactly_like_brute_force(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(11)
    hashes = hash_sets(rng, 4000)[kind]
    ids = np.arange(1, 4001, dtype=np.int64)
    split = 3000
    snap = snapshot_of(tmp_path, ids[:split], hashes[:split])
    base = snap.indexes["phash"]
    assert not base._hashes.flags.writeable  # a view of the read-only mapping, not a copy
    assert base._tables  # the multi-index tables came from the file, not rebuilt
    layered = LayeredIndex(base, split)
    for start in range(split, 4000, 250):  # the tail grows in batches, past its own merges
        layered.add(ids[start:start + 250], hashes[start:start + 250])
    assert len(layered) == 4000
    methods = set()
    for q in queries(rng, hashes, 12):
        for radius in (0, 3, 8, 12, 20):
            assert layered.search(q, radius) == brute(ids, hashes, q, radius)
            methods.add(layered.last_method)
        for k in (1, 5, 40):
            got = layered.nearest(q, k, 20)
            assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == brute_nearest(ids, hashes, q, k, 20)
    assert "mih" in methods or kind == "skewed"


@pytest.mark.usefixtures("small_tables")
def test_snapshot_rebuilt_while_a_reader_holds_the_old_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    hashes = hash_sets(rng, 3000)["skewed"]
    ids = np.arange(1, 3001, dtype=np.int64)
    old = snapshot_of(tmp_path, ids[:1000], hashes[:1000])
    reader = LayeredIndex(old.indexes["phash"], 1000)
    reader.add(ids[1000:2500], hashes[1000:2500])
    # the snapshot is rewritten (renamed over the file the reader maps) with more rows
    new = snapshot_of(tmp_path, ids[:2000], hashes[:2000])
    assert new.identity != old.identity and new.path == old.path
    qs = queries(rng, hashes, 10)
    for q in qs:  # the old mapping still reads whole
        assert reader.search(q, 12) == brute(ids[:2500], hashes[:2500], q, 12)
    moved = reader.rebase(new.indexes["phash"], 2000)
    assert moved.tail_len == 500
    moved.add(ids[2500:], hashes[2500:])
    for q in qs:
        assert moved.search(q, 12) == brute(ids, hashes, q, 12)
        got = moved.nearest(q, 5, 20)
        assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == brute_nearest(ids, hashes, q, 5, 20)


def test_damaged_or_foreign_files_are_not_snapshots(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    hashes = rng.integers(0, 2**64, 500, dtype=np.uint64)
    snap = snapshot_of(tmp_path, np.arange(1, 501), hashes)
    data = snap.path.read_bytes()
    cut = tmp_path / "cut.fpindex"
    cut.write_bytes(data[: len(data) // 2])  # a half-written file (never renamed in place)
    assert index_snapshot.read_snapshot(cut) is None
    junk = tmp_path / "junk.fpindex"
    junk.write_bytes(b"not a snapshot at all")
    assert index_snapshot.read_snapshot(junk) is None
    assert index_snapshot.read_snapshot(tmp_path / "missing.fpindex") is None


# -- against a store ---------------------------------------------------------------------------


@pytest.fixture
def snap_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    folder = tmp_path / "index"
    monkeypatch.setenv("FORENSICS_INDEX_DIR", str(folder))
    monkeypatch.setenv("FORENSICS_INDEX_SNAPSHOT_ROWS", "0")
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def fill(store: Store, rng: np.random.Generator, n: int, *, start: int = 0) -> None:
    """``n`` uploads of one page each, with skewed hashes (some without a text hash)."""
    now = datetime.now(UTC)
    centres = rng.integers(0, 2**64, 3, dtype=np.uint64)
    ph = flipped(rng, centres[rng.integers(0, 3, n)], 5)
    dh = flipped(rng, centres[rng.integers(0, 3, n)][::-1].copy(), 5)
    tx = rng.integers(0, 2**64, n, dtype=np.uint64)
    with store.transaction(exclusive=True) as conn:
        conn.execute(insert(evidence), [
            {"evidence_id": f"E{start + i}", "seller_id": f"S{i % 7}", "status": "analyzed", "blob": "x",
             "uploaded_at": now, "attempts": 1, "updated_at": now} for i in range(n)])
        conn.execute(insert(page_fingerprints), [
            {"evidence_id": f"E{start + i}", "seller_id": f"S{i % 7}", "page": 1, "version": FINGERPRINT_VERSION,
             "phash": to_signed64(int(ph[i])), "dhash": to_signed64(int(dh[i])), "layout_hash": 0,
             "text_hash": None if i % 5 == 0 else to_signed64(int(tx[i])),
             "text_version": None if i % 5 == 0 else TEXT_HASH_VERSION} for i in range(n)])


def caught_up(store: Store, **kw) -> _Indexes:  # noqa: ANN003
    idx = _Indexes(**kw)
    with store.transaction() as conn:
        idx.catch_up(RegistryView(store, conn))
    return idx


def same_answers(a: _Indexes, b: _Indexes, rng: np.random.Generator) -> None:
    for name in ("phash", "dhash", "text"):
        ids, hashes = getattr(b, name).items()
        for q in queries(rng, hashes, 6):
            assert getattr(a, name).search(q, 10) == getattr(b, name).search(q, 10) == brute(ids, hashes, q, 10)
            ga, gb = getattr(a, name).nearest(q, 5, 20), getattr(b, name).nearest(q, 5, 20)
            assert ga[0].tolist() == gb[0].tolist() and ga[1].tolist() == gb[1].tolist()


@pytest.mark.usefixtures("small_tables")
def test_workers_stand_on_the_snapshot_and_catch_up_the_rest(tmp_path: Path, snap_dir: Path) -> None:
    rng = np.random.default_rng(14)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        fill(store, rng, 1000)
        early = caught_up(store)  # started before there was any snapshot
        assert not isinstance(early.phash, LayeredIndex)
        fill(store, rng, 200, start=1000)
        path, count, last_id = index_snapshot.build(store)
        assert path.parent == snap_dir and count == 1200 and last_id == 1200
        fill(store, rng, 300, start=1200)  # registered after the snapshot: the tail
        worker = caught_up(store)
        plain = caught_up(store, use_snapshots=False)
        assert isinstance(worker.phash, LayeredIndex) and worker.phash.base_last_id == 1200
        assert worker.phash.tail_len == 300 and worker.last_id == plain.last_id == 1500
        assert len(worker.text) == len(plain.text) < 1500
        same_answers(worker, plain, rng)

        # the snapshot is rebuilt while this worker maps the old one: it moves on at its next
        # catch-up, keeping only its rows past the new snapshot
        fill(store, rng, 100, start=1500)
        index_snapshot.build(store)
        fill(store, rng, 50, start=1600)
        with store.transaction() as conn:
            worker.catch_up(RegistryView(store, conn))
        assert worker.phash.base_last_id == 1600 and worker.phash.tail_len == 50
        with store.transaction() as conn:
            plain.catch_up(RegistryView(store, conn))
            early.catch_up(RegistryView(store, conn))
        same_answers(worker, plain, rng)
        # a process that started before any snapshot moves onto one too (its private copy goes)
        assert isinstance(early.phash, LayeredIndex) and early.phash.tail_len == 50
        same_answers(early, plain, rng)
    finally:
        store.close()


@pytest.mark.usefixtures("small_tables")
def test_a_snapshot_that_does_not_match_the_store_is_ignored(tmp_path: Path, snap_dir: Path) -> None:
    rng = np.random.default_rng(15)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        fill(store, rng, 800)
        index_snapshot.build(store)
        # the store is recreated under the same URL with other pages: the old file must not serve it
        with store.transaction(exclusive=True) as conn:
            conn.execute(delete(page_fingerprints))
            conn.execute(delete(evidence))
        fill(store, rng, 900, start=5000)
        worker = caught_up(store)
        assert not isinstance(worker.phash, LayeredIndex)
        same_answers(worker, caught_up(store, use_snapshots=False), rng)
    finally:
        store.close()
    # a store that is behind its snapshot (restored from an older backup) is not served by it
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        fill(other, rng, 600)
        index_snapshot.build(other)
        with other.transaction(exclusive=True) as conn:
            conn.execute(delete(page_fingerprints).where(page_fingerprints.c.id > 500))
        worker = caught_up(other)
        assert not isinstance(worker.phash, LayeredIndex) and len(worker.phash) == 500
    finally:
        other.close()


@pytest.mark.usefixtures("small_tables")
def test_a_worker_rewrites_the_snapshot_when_its_tail_has_grown(tmp_path: Path, snap_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_snapshot, "_last_start", -1e9)
    rng = np.random.default_rng(16)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        fill(store, rng, 700)
        settings = Settings(database_url=store.url, index_dir=str(snap_dir), index_snapshot_rows=500)
        writer = caught_up(store)  # no snapshot yet: everything is this process's tail
        with store.transaction() as conn:
            thread = index_snapshot.after_catch_up(writer, RegistryView(store, conn), settings)
        assert thread is not None
        thread.join(60)
        path = index_snapshot.snapshot_path(store.url)
        snap = index_snapshot.read_snapshot(path)
        assert snap is not None and snap.last_id == 700
        assert not [p for p in os.listdir(snap_dir) if ".tmp-" in p]  # no temporary file left
        fill(store, rng, 20, start=700)
        reader = caught_up(store)
        assert isinstance(reader.phash, LayeredIndex) and reader.phash.tail_len == 20
        same_answers(reader, caught_up(store, use_snapshots=False), rng)
        # below the threshold nothing is written
        with store.transaction() as conn:
            monkeypatch.setattr(index_snapshot, "_last_start", -1e9)
            assert index_snapshot.after_catch_up(reader, RegistryView(store, conn), settings) is None
    finally:
        store.close()


def test_where_snapshots_live() -> None:
    s = Settings()
    assert index_snapshot.snapshot_path("sqlite:////data/f.db", s) == Path("/data/f.db.fpindex")
    assert index_snapshot.snapshot_path("sqlite://", s) is None
    pg = index_snapshot.snapshot_path("postgresql://u:secret@h/db", s)
    assert pg is not None and "secret" not in str(pg)
    assert pg == index_snapshot.snapshot_path("postgresql://u:other@h/db", s)  # the password is no part of it
    assert index_snapshot.snapshot_path("sqlite:////data/f.db", s.with_(index_dir="off")) is None
    assert index_snapshot.snapshot_path("sqlite:////data/f.db", s.with_(index_dir="/srv/ix")).parent == Path("/srv/ix")


def test_the_commands_build_and_check_the_snapshot(tmp_path: Path, snap_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from forensics.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FORENSICS_DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    for cmd in (["index", "build"], ["index", "status"]):
        assert "Example" in runner.invoke(app, [*cmd, "--help"]).output
    missing = runner.invoke(app, ["index", "status"])
    assert missing.exit_code == 1 and "no snapshot" in missing.output
    store = Store(url)
    fill(store, np.random.default_rng(17), 50)
    store.close()
    built = runner.invoke(app, ["index", "build"])
    assert built.exit_code == 0, built.output
    assert "50 page fingerprints up to id 50" in built.output
    status = runner.invoke(app, ["index", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert '"usable": true' in status.output and '"last_id": 50' in status.output


def test_a_new_worker_on_the_snapshot_finds_the_original_of_a_reupload(settings: Settings, blob_root: Path,
                                                                       snap_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the pipeline: the only way to the original is the nearest-pixel-hash query, and the
    process that analyses the re-upload stands on a snapshot written after the original."""
    from forensics.detectors import duplicates
    from forensics.pipeline import analyse
    from tests.conftest import RECEIPT_LINES, simple_receipt

    monkeypatch.setattr(duplicates, "TEXT_CANDIDATES", 0)
    monkeypatch.setattr(duplicates, "_indexes", {})
    settings = settings.with_(hash_radius=0)
    img = simple_receipt([ln for ln in RECEIPT_LINES if not ln.startswith(("DATE", "TOTAL", "RECEIPT"))])
    img.save(blob_root / "a.png")
    turned = img.rotate(1.5, expand=True, fillcolor=250)
    turned.resize((turned.width * 9 // 10, turned.height * 9 // 10)).convert("RGB").save(blob_root / "b.jpg",
                                                                                        quality=60)
    store = Store(settings.database_url)
    try:
        analyse({"evidence_id": "E1", "seller_id": "S1", "blob": "a.png"}, store, settings)
        assert index_snapshot.build(store)[1] == 1
        monkeypatch.setattr(duplicates, "_indexes", {})  # a new worker process
        analyse({"evidence_id": "E2", "seller_id": "S2", "blob": "b.jpg"}, store, settings)
        idx = duplicates.indexes_for(store.url)
        assert isinstance(idx.phash, LayeredIndex) and len(idx.phash.base) == 1
        dup = [f for f in store.get("E2")["findings"] if f["code"] == "duplicate_upload"]
        assert dup and dup[0]["related"] == ["E1"], store.get("E2")["findings"]
    finally:
        store.close()
