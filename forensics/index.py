"""Exact Hamming-space range search over 64-bit page hashes.

:class:`HammingIndex` answers "every stored hash within distance ``r`` of this one", exactly.
Two methods, picked per query:

- **Multi-index hashing** (Norouzi et al.): the hashes are cut into ``m`` chunks; if two hashes
  differ in at most ``r`` bits, at least one chunk differs in at most ``r // m`` bits
  (pigeonhole). Each chunk has a table (items sorted by that chunk, plus a bucket-offset array),
  so a query enumerates the few chunk values within ``r // m`` bits, gathers their buckets and
  verifies the candidates with a full popcount. On spread-out hashes this touches thousands of
  items instead of millions.
- **Chunked scan** with ``np.bitwise_count``: the exact fallback for small indexes and for
  queries whose buckets explode (real perceptual hashes are skewed: many near-white pages share
  chunk values), where gathering candidates would cost more than reading everything.

Adds are cheap: new items go to an unsorted tail that is scanned, and the tail is merged into the
sorted main part (tables rebuilt) only when it has grown to a fraction of the main part, so the
rebuild cost is amortised. Everything runs in the calling thread; no thread pools.

Memory (at 10M items): 8 bytes for the hash, 4 (or 8) for the id, 4 per secondary table for its
permutation and a small bucket-offset array per table: about 22 bytes per hash with 3 tables.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

#: items per block of the chunked scan (1 MB of hashes: amortises per-call overhead, scratch
#: arrays stay in cache)
SCAN_BLOCK = 1 << 17
#: below this many items the main part is only scanned (tables would not pay for themselves)
MIN_TABLE_ITEMS = 1 << 18
#: from this many items on, 3 tables of ~21 bits (their 2^21-entry offset arrays cost <= 2
#: bytes per hash from here); below, 4 tables of 16 bits
THREE_TABLE_ITEMS = 1 << 23
#: the tail (unsorted recent adds) is merged once it exceeds this many items ...
TAIL_MIN_MERGE = 1 << 15
#: ... or this fraction of the main part, whichever is larger (amortises the rebuild)
TAIL_MERGE_FRACTION = 0.125
#: fall back to the scan when multi-index candidates exceed this fraction of the main part:
#: a random gather costs several times a sequential scan step (skewed-hash guard)
CANDIDATE_GUARD_FRACTION = 0.05

#: radii tried in turn by :meth:`HammingIndex.nearest` before its ``max_distance``
KNN_RADII = (4, 8, 12, 16)

_U64 = np.uint64
_INT32_MAX = np.iinfo(np.int32).max
_INT32_MIN = np.iinfo(np.int32).min


def as_items(ids: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Some items as (int64 ids, uint64 hashes), converted only where needed; signed hashes
    (BIGINT storage) are reinterpreted bit for bit."""
    ids = np.asarray(ids)
    hashes = np.asarray(hashes)
    if ids.shape != hashes.shape or ids.ndim != 1:
        raise ValueError("ids and hashes must be 1-d arrays of the same length")
    if hashes.dtype != _U64:
        if hashes.dtype.kind == "i":  # signed storage (BIGINT columns): reinterpret bits
            hashes = hashes.astype(np.int64).view(_U64)
        else:
            hashes = hashes.astype(_U64)
    return ids.astype(np.int64, copy=False), hashes


@lru_cache(maxsize=64)
def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit value with at most ``radius`` bits set (the chunk neighbourhood)."""
    masks = [0]
    for k in range(1, min(radius, width) + 1):
        for bits in itertools.combinations(range(width), k):
            masks.append(sum(1 << b for b in bits))
    out = np.array(masks, dtype=np.int64)
    out.setflags(write=False)
    return out


def _layout(n: int) -> list[tuple[int, int]]:
    """(shift, width) of each chunk, table 0 first (the top bits, so the main sort serves it)."""
    widths = [22, 21, 21] if n >= THREE_TABLE_ITEMS else [16, 16, 16, 16]
    out = []
    top = 64
    for w in widths:
        top -= w
        out.append((top, w))
    return out


def smallest(ids: np.ndarray, dists: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest (distance, id) pairs, in that order (ties broken by id)."""
    if len(ids) > k:
        # every pair at or below the k-th smallest distance, then an exact order of those few
        cut = np.partition(dists, k - 1)[k - 1]
        keep = dists <= cut
        ids, dists = ids[keep], dists[keep]
    order = np.lexsort((ids, dists))[:k]
    return ids[order], dists[order]


def scan(hashes: np.ndarray, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and distances of every hash within ``radius`` of ``query`` (chunked scan)."""
    n = len(hashes)
    q = _U64(query)
    block = min(SCAN_BLOCK, max(n, 1))
    xbuf = np.empty(block, dtype=_U64)
    dbuf = np.empty(block, dtype=np.uint8)
    mbuf = np.empty(block, dtype=bool)
    r = np.uint8(min(radius, 64))
    pos_parts: list[np.ndarray] = []
    dist_parts: list[np.ndarray] = []
    for start in range(0, n, block):
        stop = min(start + block, n)
        k = stop - start
        x, d, m = xbuf[:k], dbuf[:k], mbuf[:k]
        np.bitwise_xor(hashes[start:stop], q, out=x)
        np.bitwise_count(x, out=d)
        np.less_equal(d, r, out=m)
        hit = np.flatnonzero(m)
        if len(hit):
            pos_parts.append(hit + start)
            dist_parts.append(d[hit].copy())
    if not pos_parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint8)
    return np.concatenate(pos_parts), np.concatenate(dist_parts)


class HammingIndex:
    """Exact range search over (id, 64-bit hash) pairs; see the module docstring."""

    def __init__(self) -> None:
        self._ids = np.empty(0, dtype=np.int32)  # main part, in hash order
        self._hashes = np.empty(0, dtype=_U64)  # main part, sorted
        self._layout: list[tuple[int, int]] = []
        #: per secondary table: (permutation into main, bucket offsets)
        self._tables: list[tuple[np.ndarray, np.ndarray]] = []
        self._tail_ids: list[np.ndarray] = []
        self._tail_hashes: list[np.ndarray] = []
        self._tail_len = 0
        #: how the last query was answered (``mih``, ``scan`` or ``scan:guard``), for benchmarks
        self.last_method = ""
        #: a frozen index (its arrays memory-mapped from a snapshot) takes no adds
        self._frozen = False

    def __len__(self) -> int:
        return len(self._hashes) + self._tail_len

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (ids, hashes, tables, tail)."""
        total = self._ids.nbytes + self._hashes.nbytes
        total += sum(p.nbytes + o.nbytes for p, o in self._tables)
        total += sum(a.nbytes for a in self._tail_ids) + sum(a.nbytes for a in self._tail_hashes)
        return total

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Add items; ``ids`` int64 (stored as int32 while they fit), ``hashes`` uint64."""
        if self._frozen:
            raise ValueError("a frozen index takes no adds (add to a LayeredIndex's tail)")
        ids, hashes = as_items(ids, hashes)
        if len(ids) == 0:
            return
        self._tail_ids.append(ids.copy())
        self._tail_hashes.append(hashes.copy())
        self._tail_len += len(ids)
        if self._tail_len > max(TAIL_MIN_MERGE, int(len(self._hashes) * TAIL_MERGE_FRACTION)):
            self._merge()

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """Every stored (ids int64, hashes uint64), in no particular order."""
        tail_ids, tail_hashes = self._tail()
        return (np.concatenate([self._ids.astype(np.int64), tail_ids]),
                np.concatenate([self._hashes, tail_hashes]))

    def compact(self) -> None:
        """Fold every pending add into the sorted main part (before its arrays are saved)."""
        if self._tail_len:
            self._merge()

    def parts(self) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]], list[tuple[np.ndarray, np.ndarray]]]:
        """(ids, sorted hashes, chunk layout, per secondary table (permutation, offsets)) of the
        main part: what a snapshot saves. Call :meth:`compact` first."""
        if self._tail_len:
            raise ValueError("compact() the index before taking its parts")
        return self._ids, self._hashes, list(self._layout), list(self._tables)

    @classmethod
    def frozen(cls, ids: np.ndarray, hashes: np.ndarray, layout: list[tuple[int, int]],
               tables: list[tuple[np.ndarray, np.ndarray]]) -> HammingIndex:
        """An index over :meth:`parts` saved earlier (read-only arrays, e.g. memory-mapped): no
        copy is made and nothing is rebuilt; it takes no adds."""
        if len(ids) != len(hashes) or len(tables) != max(len(layout) - 1, 0):
            raise ValueError("inconsistent index parts")
        out = cls()
        out._ids, out._hashes = ids, hashes
        out._layout = [(int(s), int(w)) for s, w in layout]
        out._tables = list(tables)
        out._frozen = True
        return out

    def _tail(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._tail_hashes) > 1:
            self._tail_ids = [np.concatenate(self._tail_ids)]
            self._tail_hashes = [np.concatenate(self._tail_hashes)]
        if not self._tail_hashes:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=_U64)
        return self._tail_ids[0], self._tail_hashes[0]

    def _merge(self) -> None:
        """Fold the tail into the sorted main part and rebuild the tables."""
        tail_ids, tail_hashes = self._tail()
        hashes = np.concatenate([self._hashes, tail_hashes])
        ids = np.concatenate([self._ids.astype(np.int64), tail_ids])
        order = np.argsort(hashes)
        self._hashes = hashes[order]
        ids = ids[order]
        del order, hashes
        fits32 = len(ids) == 0 or (ids.min() >= _INT32_MIN and ids.max() <= _INT32_MAX)
        self._ids = ids.astype(np.int32) if fits32 else ids
        self._tail_ids, self._tail_hashes, self._tail_len = [], [], 0
        self._build_tables()

    def _build_tables(self) -> None:
        n = len(self._hashes)
        self._tables = []
        self._layout = []
        if n < MIN_TABLE_ITEMS:
            return
        self._layout = _layout(n)
        for shift, width in self._layout[1:]:
            keys = ((self._hashes >> _U64(shift)) & _U64((1 << width) - 1)).astype(np.uint32)
            perm = np.argsort(keys).astype(np.uint32)
            counts = np.bincount(keys, minlength=1 << width)
            offsets = np.zeros((1 << width) + 1, dtype=np.uint32)
            np.cumsum(counts, out=offsets[1:])
            self._tables.append((perm, offsets))

    def search(self, query: int, radius: int) -> list[tuple[int, int]]:
        """Every stored (id, distance) with distance <= ``radius``, nearest first."""
        ids, dists = self.search_arrays(query, radius)
        return list(zip(ids.tolist(), dists.tolist(), strict=True))

    def search_arrays(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` as arrays (ids int64, distances int64), by (distance, id)."""
        if radius < 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        query = int(query) & 0xFFFFFFFFFFFFFFFF
        pos, dist = self._search_main(query, radius)
        ids = [self._ids[pos].astype(np.int64)]
        dists = [dist]
        tail_ids, tail_hashes = self._tail()
        if len(tail_hashes):
            tpos, tdist = scan(tail_hashes, query, radius)
            ids.append(tail_ids[tpos])
            dists.append(tdist)
        all_ids = np.concatenate(ids)
        all_d = np.concatenate(dists).astype(np.int64)
        order = np.lexsort((all_ids, all_d))
        return all_ids[order], all_d[order]

    def nearest(self, query: int, k: int, max_distance: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored (ids, distances) within ``max_distance``, by (distance, id):
        exact. Range searches of growing radius stop as soon as ``k`` are found, so a page with
        close neighbours never pays for the wide radius, and no more than ``k`` leave numpy."""
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        ids = dists = np.empty(0, dtype=np.int64)
        for radius in [r for r in KNN_RADII if r < max_distance] + [max_distance]:
            ids, dists = self._range_unsorted(query, radius)
            if len(ids) >= k:
                break
        return smallest(ids, dists, k)

    def _range_unsorted(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        query = int(query) & 0xFFFFFFFFFFFFFFFF
        pos, dist = self._search_main(query, radius)
        ids = [self._ids[pos].astype(np.int64)]
        dists = [dist.astype(np.int64)]
        tail_ids, tail_hashes = self._tail()
        if len(tail_hashes):
            tpos, tdist = scan(tail_hashes, query, radius)
            ids.append(tail_ids[tpos])
            dists.append(tdist.astype(np.int64))
        return np.concatenate(ids), np.concatenate(dists)

    def _search_main(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._hashes)
        if not self._layout or radius >= 64:
            self.last_method = "scan"
            return scan(self._hashes, query, radius)
        sub = radius // len(self._layout)
        guard = int(n * CANDIDATE_GUARD_FRACTION)
        starts_parts: list[np.ndarray] = []
        lens_parts: list[np.ndarray] = []
        total = 0
        for t, (shift, width) in enumerate(self._layout):
            chunk = (query >> shift) & ((1 << width) - 1)
            # sorted keys make the bucket lookups walk memory in order
            keys = np.sort(chunk ^ _flip_masks(width, sub))
            if t == 0:
                # table 0 is the main sort order itself: bucket bounds by binary search
                low = keys.astype(_U64) << _U64(shift)
                high = low | _U64((1 << shift) - 1)
                starts = np.searchsorted(self._hashes, low, side="left")
                stops = np.searchsorted(self._hashes, high, side="right")
            else:
                offsets = self._tables[t - 1][1]
                starts = offsets[keys].astype(np.int64)
                stops = offsets[keys + 1].astype(np.int64)
            lens = stops - starts
            total += int(lens.sum())
            if total > guard:
                self.last_method = "scan:guard"
                return scan(self._hashes, query, radius)
            starts_parts.append(starts)
            lens_parts.append(lens)
        cands = [
            self._expand(t, s, ln) for t, (s, ln) in enumerate(zip(starts_parts, lens_parts, strict=True))
        ]
        pos = np.concatenate(cands)
        dist = np.bitwise_count(self._hashes[pos] ^ _U64(query))
        keep = dist <= radius
        # an item can sit in the buckets of several tables: dedupe the (few) survivors only
        pos, first = np.unique(pos[keep], return_index=True)
        self.last_method = "mih"
        return pos, dist[keep][first]

    def _expand(self, table: int, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Main-part positions of every item in the given buckets of one table."""
        nz = lens > 0
        starts, lens = starts[nz], lens[nz]
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        # run-length expansion: position i of run j is starts[j] + (i - first index of run j)
        run_first = np.cumsum(lens) - lens
        idx = np.arange(total, dtype=np.int64) + np.repeat(starts - run_first, lens)
        if table == 0:
            return idx
        return self._tables[table - 1][0][idx].astype(np.int64)


class LayeredIndex:
    """A frozen base (a snapshot's arrays, memory-mapped and shared by every process that maps
    them) plus a small private :class:`HammingIndex` of the items added since: the same
    queries, the same exact answers as one index holding both.

    The tail's items are also kept as added, so :meth:`rebase` can move onto a newer base."""

    def __init__(self, base: HammingIndex, base_last_id: int) -> None:
        self.base = base
        #: every item of the base has an id at most this
        self.base_last_id = base_last_id
        self.tail = HammingIndex()
        self._tail_items: list[tuple[np.ndarray, np.ndarray]] = []
        self.last_method = ""

    def __len__(self) -> int:
        return len(self.base) + len(self.tail)

    @property
    def nbytes(self) -> int:
        """Bytes of the base (shared pages) and of the tail (private)."""
        return self.base.nbytes + self.tail.nbytes

    @property
    def tail_len(self) -> int:
        return len(self.tail)

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        ids, hashes = as_items(ids, hashes)
        if len(ids) == 0:
            return
        self.tail.add(ids, hashes)
        self._tail_items.append((ids.copy(), hashes.copy()))

    def tail_items(self) -> tuple[np.ndarray, np.ndarray]:
        """Every item added since the base, as (ids, hashes)."""
        if not self._tail_items:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=_U64)
        if len(self._tail_items) > 1:
            self._tail_items = [(np.concatenate([i for i, _ in self._tail_items]),
                                 np.concatenate([h for _, h in self._tail_items]))]
        return self._tail_items[0]

    def rebase(self, base: HammingIndex, base_last_id: int) -> LayeredIndex:
        """The same items over a newer base holding every item up to ``base_last_id`` (and this
        base's): the tail keeps only what came after it."""
        ids, hashes = self.tail_items()
        out = LayeredIndex(base, base_last_id)
        keep = ids > base_last_id
        out.add(ids[keep], hashes[keep])
        return out

    def search(self, query: int, radius: int) -> list[tuple[int, int]]:
        """Every stored (id, distance) with distance <= ``radius``, nearest first."""
        ids, dists = self.search_arrays(query, radius)
        return list(zip(ids.tolist(), dists.tolist(), strict=True))

    def search_arrays(self, query: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`HammingIndex.search_arrays` over base and tail together."""
        ids, dists = self.base.search_arrays(query, radius)
        self.last_method = self.base.last_method
        if len(self.tail):
            tids, tdists = self.tail.search_arrays(query, radius)
            ids, dists = np.concatenate([ids, tids]), np.concatenate([dists, tdists])
            order = np.lexsort((ids, dists))
            ids, dists = ids[order], dists[order]
        return ids, dists

    def nearest(self, query: int, k: int, max_distance: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`HammingIndex.nearest` over base and tail: the k nearest of each part hold
        the k nearest of both."""
        ids, dists = self.base.nearest(query, k, max_distance)
        self.last_method = self.base.last_method
        if len(self.tail) and k > 0:
            tids, tdists = self.tail.nearest(query, k, max_distance)
            ids, dists = smallest(np.concatenate([ids, tids]), np.concatenate([dists, tdists]), k)
        return ids, dists
