"""One fingerprint index per machine: a snapshot on disk that every worker memory-maps.

A snapshot file holds, for each of the three Hamming indexes of
:mod:`forensics.detectors.duplicates` (``phash``, ``dhash``, ``text``), the sorted arrays of a
compacted :class:`~forensics.index.HammingIndex` (hashes, ids, the multi-index tables) as of one
fingerprint id (``last_id``). A process maps the file read-only and wraps each part in a
:class:`~forensics.index.LayeredIndex`: the arrays are pages of the kernel's page cache, shared by
every process that maps the file, and nothing is sorted or built at start. Rows registered after
``last_id`` are caught up from ``page_fingerprints`` into each process's small private tail, as
before. So N workers hold one copy, and a worker starts in the time it takes to map a file.

Never a wrong answer:

- A snapshot is written to a temporary file and renamed over the old one: a reader sees the
  old file or the new one, whole. A process that maps the old file keeps it (its inode lives on
  until unmapped) and moves to the new one at its next catch-up, keeping its own rows past it.
- A snapshot is used only when it matches the store: the same store URL, the same hash
  algorithm versions, a store that has reached its ``last_id``, and a sample of its rows (the
  newest of each index among them) found in ``page_fingerprints`` with the same hashes. A
  missing, stale, foreign or damaged snapshot is ignored: the index is caught up from the
  store, as it was before snapshots.

Who writes it: ``forensics index build`` (from the store), and any worker whose tail passed
:attr:`Settings.index_snapshot_rows` rows (and a tenth of the snapshot), from its memory, in a
background thread, one writer per machine (a lock file).

File layout: the arrays, each at a 4096-byte boundary, then a JSON footer that names them, then
16 bytes: :data:`MAGIC` and the footer's length (little-endian uint64).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics.fingerprints import FINGERPRINT_VERSION, TEXT_HASH_VERSION, from_signed64
from forensics.index import HammingIndex, LayeredIndex
from forensics.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAGIC = b"FXFPIDX1"
FORMAT = 1
ALIGN = 4096
#: the indexes a snapshot holds and the ``page_fingerprints`` column of each
COLUMNS = {"phash": "phash", "dhash": "dhash", "text": "text_hash"}
#: rows of each index checked against the store before a snapshot is used (plus its newest)
PROBE_ROWS = 16
#: a worker's snapshot is rewritten when its tail is at least this fraction of the snapshot
REWRITE_FRACTION = 0.1


# -- where ---------------------------------------------------------------------------------------


def store_key(url: str) -> str:
    """The store's URL without its password: what a snapshot is for."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def snapshot_path(url: str, settings: Settings | None = None) -> Path | None:
    """Where the snapshot of the store at ``url`` lives; None when snapshots are off (or the
    store is in memory and no folder is set)."""
    from sqlalchemy.engine import make_url

    settings = settings or get_settings()
    if settings.index_dir.lower() == "off":
        return None
    key = store_key(url)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    if settings.index_dir:
        return Path(settings.index_dir) / f"fingerprints-{digest}.fpindex"
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
            return None
        return Path(u.database + ".fpindex")
    return Path.home() / ".cache" / "forensics" / "index" / f"fingerprints-{digest}.fpindex"


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime ns, size) of a file, None when it is missing: a rename changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


# -- writing -------------------------------------------------------------------------------------


def _probe(index: HammingIndex, rng: np.random.Generator) -> list[list[int]]:
    """(id, unsigned hash) of a sample of the index's rows, its newest among them."""
    ids, hashes, _, _ = index.parts()
    if len(ids) == 0:
        return []
    picks = set(rng.choice(len(ids), size=min(PROBE_ROWS, len(ids)), replace=False).tolist())
    picks.add(int(np.argmax(ids)))
    return [[int(ids[i]), int(hashes[i])] for i in sorted(picks)]


def write_snapshot(path: Path, url: str, last_id: int, indexes: dict[str, HammingIndex]) -> Path:
    """Write a snapshot of ``indexes`` (compacted here) as of fingerprint id ``last_id``,
    atomically: a temporary file in the same folder, fsync'ed, renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng()
    footer: dict[str, Any] = {"format": FORMAT, "store": store_key(url), "last_id": int(last_id),
                              "fingerprint_version": FINGERPRINT_VERSION,
                              "text_hash_version": TEXT_HASH_VERSION, "written_at": time.time(),
                              "indexes": {}}
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "wb") as f:
            for name in COLUMNS:
                index = indexes[name]
                index.compact()
                ids, hashes, layout, tables = index.parts()
                arrays = {"ids": ids, "hashes": hashes}
                for t, (perm, offsets) in enumerate(tables):
                    arrays[f"perm{t}"], arrays[f"offsets{t}"] = perm, offsets
                meta: dict[str, Any] = {"layout": layout, "probe": _probe(index, rng), "arrays": {}}
                for key, arr in arrays.items():
                    arr = np.ascontiguousarray(arr)
                    f.seek(0, os.SEEK_END)
                    offset = -(-f.tell() // ALIGN) * ALIGN
                    f.seek(offset)
                    f.write(memoryview(arr).cast("B"))
                    meta["arrays"][key] = {"offset": offset, "dtype": arr.dtype.str, "length": len(arr)}
                footer["indexes"][name] = meta
            blob = json.dumps(footer).encode()
            f.seek(0, os.SEEK_END)
            f.write(blob)
            f.write(MAGIC + len(blob).to_bytes(8, "little"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
    return path


# -- reading -------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """A mapped snapshot: its footer and one frozen index per name (views of the mapping)."""

    path: Path
    identity: tuple[int, int, int]
    footer: dict[str, Any]
    indexes: dict[str, HammingIndex]

    @property
    def last_id(self) -> int:
        return int(self.footer["last_id"])


def read_snapshot(path: Path) -> Snapshot | None:
    """Map a snapshot read-only; None (and a warning) when it is missing or not a whole,
    readable snapshot of the current hash versions."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_size < 16:
            raise ValueError("too short")
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        log.warning("index snapshot %s unreadable: %s", path, exc)
        return None
    finally:
        os.close(fd)  # the mapping keeps the file
    try:
        if mm[-16:-8] != MAGIC:
            raise ValueError("no snapshot trailer")
        size = int.from_bytes(mm[-8:], "little")
        footer = json.loads(mm[len(mm) - 16 - size:len(mm) - 16])
        if footer.get("format") != FORMAT:
            raise ValueError(f"format {footer.get('format')!r}")
        if (footer["fingerprint_version"], footer["text_hash_version"]) != (FINGERPRINT_VERSION, TEXT_HASH_VERSION):
            raise ValueError("written for other hash versions")
        indexes = {}
        for name in COLUMNS:
            meta = footer["indexes"][name]
            arrays = {}
            for key, a in meta["arrays"].items():
                dtype = np.dtype(a["dtype"])
                if a["offset"] + a["length"] * dtype.itemsize > len(mm) - 16 - size:
                    raise ValueError(f"{name}.{key} runs past the data")
                arrays[key] = np.frombuffer(mm, dtype=dtype, count=a["length"], offset=a["offset"])
            tables = [(arrays[f"perm{t}"], arrays[f"offsets{t}"]) for t in range(max(len(meta["layout"]) - 1, 0))]
            indexes[name] = HammingIndex.frozen(arrays["ids"], arrays["hashes"], meta["layout"], tables)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("index snapshot %s ignored: %s", path, exc)
        return None
    return Snapshot(path, (st.st_ino, st.st_mtime_ns, st.st_size), footer, indexes)


def mismatch(snapshot: Snapshot, view: Any) -> str | None:
    """Why ``snapshot`` is not a snapshot of the store ``view`` reads (None: it is)."""
    if snapshot.footer["store"] != store_key(view.url):
        return "written for another store"
    last_id = snapshot.last_id
    if last_id > 0 and not view.fingerprints_since(last_id - 1, limit=1):
        return f"the store has no fingerprint from id {last_id} on (restored or recreated?)"
    probes = {name: snapshot.footer["indexes"][name]["probe"] for name in COLUMNS}
    ids = sorted({i for probe in probes.values() for i, _ in probe})
    rows = {r.id: r for r in view.fingerprint_rows(ids)} if ids else {}
    if ids and not rows:
        return "none of its sampled rows is in the store"
    for name, probe in probes.items():
        for fid, value in probe:
            row = rows.get(fid)
            if row is None:
                continue  # deleted since (an upload analysed again): harmless
            stored = getattr(row, COLUMNS[name])
            current = (row.version == FINGERPRINT_VERSION if name != "text"
                       else row.text_version == TEXT_HASH_VERSION)
            if not current or stored is None or from_signed64(stored) != value:
                return f"row {fid} differs in the store"
    return None


# -- the workers' side -----------------------------------------------------------------------------


def _items(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (id, hash) a plain index or a layered index's tail holds."""
    if isinstance(index, LayeredIndex):
        return index.tail_items()
    return index.items()


def refresh(idx: Any, view: Any) -> None:
    """Put ``idx`` (a :class:`~forensics.detectors.duplicates._Indexes`, under its lock) on the
    store's snapshot when a usable one is newer than what it stands on: at a process's first
    catch-up, a snapshot up to ``last_id`` replaces catching up those rows from the store;
    later, a newer snapshot replaces the rows it holds (its own rows past it stay). One ``stat``
    when nothing changed."""
    path = snapshot_path(view.url) if idx.use_snapshots else None
    if path is None:
        return
    ident = file_identity(path)
    if ident is None or ident == idx.snapshot_seen:
        return
    snap = read_snapshot(path)
    if snap is None:
        idx.snapshot_seen = ident
        return
    based_on = idx.phash.base_last_id if isinstance(idx.phash, LayeredIndex) else 0
    if snap.last_id <= based_on:
        idx.snapshot_seen = ident
        return
    if idx.last_id and snap.last_id > idx.last_id:
        return  # newer than this process: it catches up past it first (the next call uses it)
    reason = mismatch(snap, view)
    idx.snapshot_seen = ident
    if reason is not None:
        log.warning("index snapshot %s not used: %s", path, reason)
        return
    for name in COLUMNS:
        old = getattr(idx, name)
        if idx.last_id == 0:
            new = LayeredIndex(snap.indexes[name], snap.last_id)
        elif isinstance(old, LayeredIndex):
            new = old.rebase(snap.indexes[name], snap.last_id)
        else:
            new = LayeredIndex(snap.indexes[name], snap.last_id)
            ids, hashes = old.items()
            keep = ids > snap.last_id
            new.add(ids[keep], hashes[keep])
        setattr(idx, name, new)
    idx.last_id = max(idx.last_id, snap.last_id)
    log.info("index snapshot %s in use: %d fingerprints up to id %d", path, len(idx.phash), snap.last_id)


#: one writer thread per process at a time ...
_writing = threading.Lock()
#: ... started at most every RETRY_SECONDS (another process may hold the machine's lock, a
#: write may fail)
_last_start = -1e9
RETRY_SECONDS = 60.0


def after_catch_up(idx: Any, view: Any, settings: Settings | None = None) -> threading.Thread | None:
    """Start rewriting the snapshot from ``idx`` (under its lock) in a background thread when its
    tail passed :attr:`Settings.index_snapshot_rows` rows and a tenth of the snapshot, unless a
    writer is already busy on this machine. Returns the thread (tests join it)."""
    global _last_start
    refresh(idx, view)  # a snapshot newer than this process was when it began catching up
    settings = settings or get_settings()
    if not idx.use_snapshots or settings.index_snapshot_rows <= 0 or idx.last_id == 0:
        return None
    if time.monotonic() - _last_start < RETRY_SECONDS:
        return None
    base = len(idx.phash.base) if isinstance(idx.phash, LayeredIndex) else 0
    tail = len(idx.phash) - base
    if tail < max(settings.index_snapshot_rows, REWRITE_FRACTION * base):
        return None
    path = snapshot_path(view.url, settings)
    if path is None or not _writing.acquire(blocking=False):
        return None
    _last_start = time.monotonic()
    try:
        parts = {name: _parts_of(getattr(idx, name)) for name in COLUMNS}
        thread = threading.Thread(target=_write_from_memory, name="index-snapshot", daemon=True,
                                  args=(path, view.url, idx.last_id, parts))
        thread.start()
    except BaseException:
        _writing.release()
        raise
    return thread


def _parts_of(index: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (ids, hashes) chunks that make up ``index`` now (read-only; copied later)."""
    if isinstance(index, LayeredIndex):
        ids, hashes, _, _ = index.base.parts()
        return [(ids, hashes), index.tail_items()]
    return [index.items()]


def _write_from_memory(path: Path, url: str, last_id: int,
                       parts: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> None:
    try:
        with _machine_lock(path) as got:
            if not got:
                return
            current = read_snapshot(path)
            if current is not None and current.last_id >= last_id:
                return
            indexes = {}
            for name, chunks in parts.items():
                index = HammingIndex()
                index.add(np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]))
                indexes[name] = index
            t0 = time.monotonic()
            write_snapshot(path, url, last_id, indexes)
            log.info("index snapshot %s written: up to id %d in %.1f s", path, last_id, time.monotonic() - t0)
    except Exception:  # a background thread: log, never take the worker down
        log.exception("index snapshot %s not written", path)
    finally:
        _writing.release()


@contextlib.contextmanager
def _machine_lock(path: Path):  # noqa: ANN202
    """An exclusive, non-blocking lock on ``<path>.lock``: one writer per machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


# -- the command's side ----------------------------------------------------------------------------


def build(store: Any, path: Path | None = None) -> tuple[Path, int, int]:
    """Write the snapshot of ``store`` from ``page_fingerprints`` (every current row); returns
    (path, fingerprints, last id). Waits for a worker that is writing one."""
    from forensics.detectors.duplicates import _Indexes
    from forensics.store.view import RegistryView

    path = path or snapshot_path(store.url)
    if path is None:
        raise ValueError("index snapshots are off (FORENSICS_INDEX_DIR=off) or the store is in memory")
    fresh = _Indexes(use_snapshots=False)  # from the store itself, not the snapshot it replaces
    with store.transaction() as conn:
        fresh.catch_up(RegistryView(store, conn))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        write_snapshot(path, store.url, fresh.last_id, {n: getattr(fresh, n) for n in COLUMNS})
    finally:
        os.close(fd)
    return path, len(fresh.phash), fresh.last_id
