"""Duplicates and templates across uploads: hashes find candidates, content and pixels decide.

For each page: the same file or the same decoded pixels are certain; otherwise the perceptual
hashes (pHash, dHash of the normalised page) within :attr:`Settings.hash_radius`, the SimHash
of the words read on the page (crops that cut into the print move every pixel hash, not the
text) and the date + total give a short list of candidates, and each is confirmed by aligning
the two pages
(:func:`forensics.alignment.compare_pages`): ``same_image`` (a re-upload), ``edited_copy`` (one
scan, a few repainted boxes), ``same_layout`` (one shop's honest layout) or unrelated. Uploads
with the same content key (merchant, serial, date, total) are the same receipt whatever the
pixels say; uploads whose text layers or e-invoice XML (not OCR) state different serials or
dates are different documents whatever the pixels say (one template, or one visible page
carrying another invoice's data): at most ``same_layout``. An ``edited_copy`` whose differences
are a re-encoding's (:func:`reencoded`: a page re-saved changes every region a little, an edit
one region a lot) and whose uploads read no edited field apart (:func:`read_apart`) is
``same_image``. Two born-digital (text-layer) pages are compared by their PDF objects instead of
their pixels (:func:`forensics.page_objects.compare`: words and graphic objects at the same
places), in the same classes; a page whose render can show what its objects do not say, and a
text page against a scan, keep the alignment.

The in-memory Hamming indexes are per process; they catch up from ``page_fingerprints`` (the
truth, shared by every worker) inside the match lock before every query. A process stands on the
machine's memory-mapped snapshot when one matches the store (:mod:`forensics.index_snapshot`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from forensics import index_snapshot, page_features, page_objects, text_layers
from forensics.alignment import PageGone, PreparedPage, Relation, compare_pages, prepare
from forensics.detectors import Analysis, pdf_pages, remember
from forensics.detectors.reencoding import EDIT_FIELDS, read_apart, reencoded
from forensics.fingerprints import (
    FINGERPRINT_VERSION,
    TEXT_HASH_VERSION,
    TEXT_RADIUS,
    content_key,
    from_signed64,
    hamming,
    to_signed64,
)
from forensics.index import HammingIndex
from forensics.model import CheckResult
from forensics.store import registries

#: most hash candidates confirmed by alignment per page (nearest first); a popular shop's
#: layout can sit near thousands of pages, and alignment costs ~0.1 s a pair
MAX_CANDIDATES = 12
#: decoded (and prepared) pages of earlier uploads kept in memory for alignment
PAGE_CACHE_SIZE = 64
#: pages with less ink than this carry too little to hash meaningfully
MIN_INK_FRACTION = 0.002
#: a duplicate relation this strong ends the search for a page: the same file, identical
#: pixels, or an alignment finding one scan with agreeing content and paper noise (alignment
#: scores ``same_image`` 1.0 from a noise correlation of SAME_SCAN_CORR). The other candidates of
#: that page are mostly its other copies, already in its cluster; each would cost an alignment
CERTAIN_DUPLICATE = 1.0
#: relation kinds worth persisting from an alignment
LINK_KINDS = ("same_image", "edited_copy", "same_layout")
#: most text-hash candidates per page (nearest first): one shop's receipts share most of
#: their text, so only the very nearest are worth an alignment
TEXT_CANDIDATES = 4
#: pixel-hash neighbours beyond ``hash_radius`` aligned anyway (nearest first, at most
#: :data:`WIDE_PIXEL_RADIUS`): a 2-degree rotation plus a crop moves a re-upload's pHash/dHash
#: 12-20 bits from its original (bench/quality.py's SROIE re-uploads) while the original is
#: mostly still the nearest page; poor OCR then leaves neither text nor date + total to find
#: it by. One: each costs an alignment (~0.3 s) on every page; 3 would also reach the one
#: re-upload there whose original is third nearest, at twice the alignments an upload
NEAREST_PIXEL_CANDIDATES = 1
#: farthest pixel-hash distance (of 64 bits) a nearest neighbour may have (unrelated pages: ~32)
WIDE_PIXEL_RADIUS = 20
#: fingerprint rows read per catch-up query
CATCH_UP_BATCH = 100_000
#: field sources that state what a document is (not read by OCR)
RELIABLE_SOURCES = ("text_layer", "xml")
#: fields that name one document: two uploads stating different values are two documents
IDENTITY_FIELDS = ("serial", "date")



#: rows of the newest fingerprints kept apart per process, so a search repeated inside the
#: match lock scans only what arrived since the same search outside it
RECENT_ROWS = 200_000


@dataclass
class _Indexes:
    """One process's view of every stored fingerprint (phash, dhash, text hash), caught up by id.

    Fingerprint ids are given out inside the match lock and committed in order, so "every row
    up to ``last_id``" is a consistent snapshot of the registry whenever it is read."""

    last_id: int = 0
    phash: HammingIndex = field(default_factory=HammingIndex)
    dhash: HammingIndex = field(default_factory=HammingIndex)
    text: HammingIndex = field(default_factory=HammingIndex)
    #: per index name: chunks of (ids, hashes) added recently, oldest first ...
    recent: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    #: ... holding every row of that index with an id above this
    recent_from: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: stand on the machine's snapshot (forensics/index_snapshot.py) and keep it fresh; the
    #: identity of the snapshot file last looked at
    use_snapshots: bool = True
    snapshot_seen: Any = None

    def catch_up(self, view) -> int:  # noqa: ANN001
        """Add every fingerprint row stored since the last catch-up; returns ``last_id``."""
        with self.lock:
            index_snapshot.refresh(self, view)
            while True:
                rows = view.fingerprints_since(self.last_id, limit=CATCH_UP_BATCH)
                if not rows:
                    index_snapshot.after_catch_up(self, view)
                    return self.last_id
                cur = [r for r in rows if r.version == FINGERPRINT_VERSION]
                if cur:
                    ids = np.array([r.id for r in cur], dtype=np.int64)
                    self._add("phash", ids, np.array([from_signed64(r.phash) for r in cur], dtype=np.uint64))
                    self._add("dhash", ids, np.array([from_signed64(r.dhash) for r in cur], dtype=np.uint64))
                texts = [r for r in rows if r.text_version == TEXT_HASH_VERSION and r.text_hash is not None]
                if texts:
                    self._add("text", np.array([r.id for r in texts], dtype=np.int64),
                              np.array([from_signed64(r.text_hash) for r in texts], dtype=np.uint64))
                self.last_id = rows[-1].id

    def _add(self, name: str, ids: np.ndarray, hashes: np.ndarray) -> None:
        getattr(self, name).add(ids, hashes)
        chunks = self.recent.setdefault(name, [])
        chunks.append((ids, hashes))
        while len(chunks) > 1 and sum(len(c[0]) for c in chunks) > RECENT_ROWS:
            self.recent_from[name] = int(chunks.pop(0)[0][-1])

    def search(self, analysis: Analysis, name: str, value: int, radius: int) -> list[tuple[int, int]]:
        """(id, distance) of every stored hash within ``radius``, nearest first; repeated for
        one upload, only the rows added since the last time are scanned (same answer)."""
        key = ("search", name, value, radius)
        with self.lock:
            known = analysis.memo.get(key)
            if known is not None:
                upto, found = known
                extra = self._since(name, upto, value, radius)
                if extra is not None:
                    found = sorted(found + extra, key=lambda x: (x[1], x[0]))
                    analysis.memo[key] = (self.last_id, found)
                    return found
            found = getattr(self, name).search(value, radius)
            analysis.memo[key] = (self.last_id, found)
            return found

    def nearest(self, analysis: Analysis, name: str, value: int, k: int, max_distance: int) -> list[tuple[int, int]]:
        """The ``k`` nearest stored (id, distance) within ``max_distance``, by (distance, id);
        repeated for one upload, only rows added since are scanned (the k nearest of the old
        answer and the new rows are the k nearest of all)."""
        key = ("nearest", name, value, k, max_distance)
        with self.lock:
            known = analysis.memo.get(key)
            if known is not None:
                upto, found = known
                extra = self._since(name, upto, value, max_distance)
                if extra is not None:
                    found = sorted(found + extra, key=lambda x: (x[1], x[0]))[:k]
                    analysis.memo[key] = (self.last_id, found)
                    return found
            ids, dists = getattr(self, name).nearest(value, k, max_distance)
            found = list(zip(ids.tolist(), dists.tolist(), strict=True))
            analysis.memo[key] = (self.last_id, found)
            return found

    def _since(self, name: str, upto: int, value: int, radius: int) -> list[tuple[int, int]] | None:
        """Hits among rows with id > ``upto``; None when they are no longer all kept apart."""
        chunks = self.recent.get(name, [])
        if upto >= self.last_id or not chunks:
            return []
        if upto < self.recent_from.get(name, 0):
            return None
        ids = np.concatenate([c[0] for c in chunks])
        hashes = np.concatenate([c[1] for c in chunks])
        new = ids > upto
        d = np.bitwise_count(hashes[new] ^ np.uint64(value & 0xFFFFFFFFFFFFFFFF))
        hit = d <= radius
        return list(zip(ids[new][hit].tolist(), d[hit].astype(np.int64).tolist(), strict=True))


_indexes: dict[str, _Indexes] = {}
_page_cache: OrderedDict[tuple[Any, ...], list | None] = OrderedDict()
#: earlier pages' stored readings by fingerprint row: a row is one registration of a page, made
#: after its reading was written; a re-analysis writes another reading and registers anew
_reading_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def indexes_for(url: str) -> _Indexes:
    return _indexes.setdefault(url, _Indexes())


def fingerprint_rows(analysis: Analysis, sha256: str | None) -> list[dict[str, Any]]:
    """Rows this upload adds to ``page_fingerprints``."""
    key = _content_key(analysis)
    date_total = date_total_key(analysis)
    return [
        {
            "evidence_id": analysis.event.evidence_id,
            "seller_id": analysis.event.seller_id,
            "page": fp.page,
            "version": fp.version,
            "phash": to_signed64(fp.phash),
            "dhash": to_signed64(fp.dhash),
            "layout_hash": to_signed64(fp.layout_hash),
            "pixel_sha256": fp.pixel_sha256,
            "file_sha256": sha256,
            "content_key": key if fp.page == 1 else None,
            "date_total_key": date_total if fp.page == 1 else None,
            "text_hash": None if fp.text_hash is None else to_signed64(fp.text_hash),
            "text_version": None if fp.text_hash is None else TEXT_HASH_VERSION,
            "scan": analysis.memo.get(("scan", fp.page)),
        }
        for fp in analysis.fingerprints or []
    ]


def _content_key(analysis: Analysis) -> str | None:
    """The content key, only when it includes a serial: merchant, date and total alone are
    shared by honest receipts (two coffees at one shop on one day)."""
    v = analysis.extraction.value
    if not v("serial"):
        return None
    return content_key(v("merchant"), v("serial"), v("date"), v("total"))


def date_total_key(analysis: Analysis) -> str | None:
    """``<date>|<total>`` when both were read: not proof of anything (two coffees on one day),
    only a reason to align two pages whose hashes drifted apart."""
    v = analysis.extraction.value
    date, total = v("date"), v("total")
    if not date or not total:
        return None
    try:
        amount = Decimal(str(total)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return f"{date}|{abs(amount)}"


def _reliable(fields: dict[str, Any]) -> dict[str, str]:
    """The identity fields (serial, date) stated by a text layer or XML (not OCR), normalised."""
    out = {}
    for name in IDENTITY_FIELDS:
        f = fields.get(name) or {}
        if f.get("source") in RELIABLE_SOURCES and f.get("value"):
            out[name] = re.sub(r"[^0-9A-Z]", "", str(f["value"]).upper())
    return out


def identity_conflict(mine: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """Identity fields both documents state reliably, with different values."""
    return [k for k in IDENTITY_FIELDS if k in mine and k in theirs and mine[k] != theirs[k]]


def page_image(view: Any, settings: Any, evidence_id: str, page: int, pixel_sha256: str | None = None):  # noqa: ANN202
    """The decoded page of an earlier upload (re-read from its blob), or None if gone. Kept in
    a small cache by its pixels' sha256 (the fingerprint row's): an id analysed again with other
    bytes, or a store whose ids restart, never gets another file's pixels."""
    from forensics.documents import load_page_image

    entry = _cached_page(view, evidence_id, page, pixel_sha256)
    if entry[0] is None:
        entry[0] = pdf_pages.read_earlier(view, settings, evidence_id,
                                          lambda data: load_page_image(data, page, settings=settings)) or False
    return entry[0] or None


def prepared_page(view: Any, settings: Any, evidence_id: str, page: int, pixel_sha256: str | None = None):  # noqa: ANN202
    """:func:`page_image` ready for comparisons (:func:`forensics.alignment.prepare`), or None;
    kept in the same cache: a popular shop's pages are candidates of many uploads, and their
    working raster and features are the same every time. Features a worker kept on disk
    (:mod:`forensics.page_features`) are read instead of preparing the page: its pixels are
    decoded only when a comparison needs them, not to reject another shop's page."""
    entry = _cached_page(view, evidence_id, page, pixel_sha256)
    if entry[1] is None:
        root = page_features.folder(view.url, settings)
        if (kept := page_features.load(root, pixel_sha256)) is not None:
            entry[1] = PreparedPage(kept[0], kept[1])
        elif (image := page_image(view, settings, evidence_id, page, pixel_sha256)) is not None:
            entry[1] = prepare(image)
            page_features.save(root, pixel_sha256, entry[1])
        else:
            return None
    # the cache outlives this view: its image, if still unread, is read through this one
    return entry[1].reading_with(lambda: page_image(view, settings, evidence_id, page, pixel_sha256))


def _cached_page(view: Any, evidence_id: str, page: int, pixel_sha256: str | None) -> list:
    """[image (False: gone) or None, prepared page or None] of an earlier upload's page."""
    return pdf_pages.cached(_page_cache, (view.url, evidence_id, page, pixel_sha256), lambda: [None, None],
                            PAGE_CACHE_SIZE)


def _candidate_ids(idx: _Indexes, analysis: Analysis, view: Any, fp: Any, text_hash: int | None,
                   dt_key: str | None, me: str, radius: int) -> list[int]:
    """Fingerprint ids worth aligning with page ``fp``, best first: the nearest by text (the
    most specific source, and the one crops cannot move), then by pixel hash, then the pages
    sharing the date and total, then the few nearest by pixel hash beyond the radius (at most
    :data:`WIDE_PIXEL_RADIUS`): a k-nearest query, not a scan of that wide radius.

    The in-memory indexes never forget an id whose row was deleted since (an upload analysed
    again with other bytes, a record removed); the store is the truth. Wherever a list is cut
    (the text candidates here, the nearest beyond the radius, :func:`live_rows` for the
    comparisons) the ids are checked against the store first, so a deleted row never takes a
    real candidate's place: the answer is a freshly built index's."""
    gone = _gone(analysis, view)
    near: dict[int, int] = {}
    for name, value in (("phash", fp.phash), ("dhash", fp.dhash)):
        for fid, dist in idx.search(analysis, name, value, radius):
            if fid not in gone:
                near[fid] = min(dist, near.get(fid, 99))
    ordered: list[int] = []
    if text_hash is not None:
        hits = [fid for fid, _ in idx.search(analysis, "text", text_hash, TEXT_RADIUS) if fid not in gone]
        if len(hits) > TEXT_CANDIDATES:
            hits = [r.id for r in live_rows(view, hits, TEXT_CANDIDATES, gone)]
        ordered += hits[:TEXT_CANDIDATES]
    ordered += sorted(near, key=lambda i: (near[i], i))
    if fp.page == 1 and dt_key:
        ordered += [row.id for row in view.evidence_with("date_total_key", dt_key, exclude=me)]
    seen = set(ordered)
    # the first few pages by (nearest of the two distances, id) that are not candidates yet:
    # each is among the k nearest of the hash that gives its distance, for k this large (the
    # deleted ids met among them make k larger by as many: they may sit before any of them)
    window = NEAREST_PIXEL_CANDIDATES + 8
    while True:
        k = window + len(seen) + len(gone)
        wide: dict[int, int] = {}
        for name, value in (("phash", fp.phash), ("dhash", fp.dhash)):
            for fid, dist in idx.nearest(analysis, name, value, k, WIDE_PIXEL_RADIUS):
                wide[fid] = min(dist, wide.get(fid, 99))
        nearest = [fid for fid in sorted(wide, key=lambda i: (wide[i], i)) if fid not in seen and fid not in gone]
        if not nearest:
            break
        asked = nearest[:window]
        rows = view.fingerprint_rows(asked)
        missing = set(asked) - {r.id for r in rows}
        if not missing:
            # other uploads' pages only (this upload's own rows exist when re-analysed)
            others = {r.id for r in rows if r.evidence_id != me}
            ordered += [fid for fid in nearest if fid in others][:NEAREST_PIXEL_CANDIDATES]
            break
        gone |= missing
    return list(dict.fromkeys(ordered))


def live_rows(view: Any, ids: list[int], n: int, gone: set[int]) -> list[Any]:
    """The fingerprint rows of the first ``n`` of ``ids`` the store still has, in that order;
    the ids found deleted are added to ``gone``. One query when none is (the usual case), one
    more per round of deleted ones."""
    out: list[Any] = []
    rest = [i for i in ids if i not in gone]
    while rest and len(out) < n:
        asked, rest = rest[: n - len(out)], rest[n - len(out):]
        found = {r.id: r for r in view.fingerprint_rows(asked)}
        gone.update(i for i in asked if i not in found)
        out += [found[i] for i in asked if i in found]
    return out


def _gone(analysis: Analysis, view: Any) -> set[int]:
    """Fingerprint ids of this upload's index answers that ``view`` found deleted from the
    store, kept while the upload is analysed through that view. Not in the process's index,
    nor across views: the index may hold rows another thread caught up that this view's
    transaction does not see yet (the run under the lock answers these from its snapshot's
    reads, without a query)."""
    return analysis.memo.setdefault(("fingerprints_gone", id(view)), (view, set()))[1]


class Duplicates:
    """Links this upload to earlier uploads of the same receipt or cut from the same scan."""

    name = "duplicates"

    def run(self, analysis: Analysis, view: Any) -> CheckResult:
        fps = analysis.fingerprints or []
        if not fps:
            return CheckResult.skipped("no page image to fingerprint")
        me = analysis.event.evidence_id
        settings = analysis.settings
        idx = indexes_for(view.url)
        idx.catch_up(view)
        relations: dict[tuple[str, str], dict[str, Any]] = {}
        my_identity = _reliable({k: f.to_json() for k, f in analysis.extraction.fields.items()
                                 if k in IDENTITY_FIELDS})
        my_fields = {k: f.to_json() for k, f in analysis.extraction.fields.items() if k in EDIT_FIELDS}
        other_fields: dict[str, dict[str, Any]] = {}

        def fields_of(other: str) -> dict[str, Any]:
            if other not in other_fields:
                other_fields[other] = view.evidence_meta([other]).get(other, {}).get("fields") or {}
            return other_fields[other]

        def conflict(other: str) -> list[str]:
            return identity_conflict(my_identity, _reliable(fields_of(other))) if my_identity else []

        def link(other: str, kind: str, score: float, details: dict[str, Any]) -> None:
            if other == me:
                return
            if kind in ("same_image", "edited_copy") and (differ := conflict(other)):
                # born-digital documents of one template can be pixel-alike (even identical,
                # when one visible page carries another invoice's XML); a different number or
                # date stated by both text layers / XMLs means different documents, not a copy
                kind, details = "same_layout", {**details, "differing_fields": differ}
            key = (other, "duplicate" if kind in registries.DUPLICATE_KINDS else kind)
            if key not in relations or relations[key]["score"] < score:
                relations[key] = {"other": other, "kind": kind, "score": score, "details": details}

        sha = analysis.document.sha256
        for other in view.same_file(sha, exclude=me):
            link(other, "same_file", 1.0, {"sha256": sha})
        key = _content_key(analysis)
        if key:
            for row in view.evidence_with("content_key", key, exclude=me):
                link(row.evidence_id, "same_content", 0.9, {"fields": ["merchant", "serial", "date", "total"]})

        dt_key = date_total_key(analysis)
        aligned = 0
        for fp in fps:
            # scans this page is certainly a copy of (label -> the upload that showed it):
            # pages of these scans are the same scan as this page without a comparison
            same_scan: dict[str, str] = {}
            identical = view.evidence_with("pixel_sha256", fp.pixel_sha256, exclude=me)
            for row in identical:
                link(row.evidence_id, "same_image", 1.0, {"pixels": "identical", "page": fp.page})
                if _certain(relations, row.evidence_id) and (label := scan_of(row)):
                    same_scan.setdefault(label, row.evidence_id)
            analysis.memo[("scan", fp.page)] = min(same_scan, default=None)
            if fp.ink_fraction < MIN_INK_FRACTION or any(_certain(relations, row.evidence_id) for row in identical):
                continue  # nothing to hash, or a certain duplicate of this page is known already
            ids = _candidate_ids(idx, analysis, view, fp, fp.text_hash, dt_key, me, settings.hash_radius)
            rank = {fid: i for i, fid in enumerate(ids)}
            rows = live_rows(view, ids, MAX_CANDIDATES * 2, _gone(analysis, view))
            rows = sorted((r for r in rows if r.evidence_id != me), key=lambda r: rank[r.id])
            mine = analysis.document.pages[fp.page - 1].image
            my_text = remember(analysis, ("text_layer", fp.page), lambda page=fp.page: _text_layer(analysis, page))
            done_pairs: set[str] = set()
            for r in rows:
                if r.evidence_id in done_pairs or len(done_pairs) >= MAX_CANDIDATES:
                    continue
                done_pairs.add(r.evidence_id)
                if (r.evidence_id, "duplicate") in relations and relations[(r.evidence_id, "duplicate")]["score"] >= 1.0:
                    continue
                if mine is None:
                    continue
                if (via := same_scan.get(scan_of(r) or "")) is not None:
                    # that page is a copy of a scan this page certainly is (registered so when it
                    # was found to be): the same scan, as its comparison would find
                    link(r.evidence_id, "same_image", 1.0, {**_link_details(me, fp, r, None), "same_scan_as": via})
                    continue
                rel = _compared(analysis, view, fp, r, my_text)
                if rel is None:
                    continue
                aligned += 1
                if reencoded(rel) and not read_apart(my_fields, fields_of(r.evidence_id)):
                    rel = Relation("same_image", rel.score, (), {**rel.details, "reencoded": True})
                if rel.kind in LINK_KINDS:
                    link(r.evidence_id, rel.kind, float(rel.score), _link_details(me, fp, r, rel))
                if (rel.kind == "same_image" and rel.score >= CERTAIN_DUPLICATE and _certain(relations, r.evidence_id)
                        and (label := scan_of(r))):
                    same_scan.setdefault(label, r.evidence_id)
                # no early stop at a certain duplicate: which candidate comes first depends on what
                # is on file yet, so two workers would stop at other places than one. Skipping the
                # pages of a scan this page certainly is does not: each candidate is still linked,
                # as its comparison would link it, whichever of them is compared
            analysis.memo[("scan", fp.page)] = min(same_scan, default=None)
        status = "done" if aligned == 0 else f"done: {aligned} candidate page(s) aligned"
        return CheckResult(status=status, relations=tuple(relations.values()))


def scan_of(row: Any) -> str | None:
    """The label of the scan a fingerprint row's page is a copy of (its own pixels' sha256 when
    it is the first of its scan), or None when its pixels were not hashed."""
    return row.scan or row.pixel_sha256


def _certain(relations: dict[tuple[str, str], dict[str, Any]], other: str) -> bool:
    """Is ``other`` already a certain duplicate of this upload (the same file, identical pixels,
    or one scan whose content and paper noise agree: score :data:`CERTAIN_DUPLICATE`)?"""
    rel = relations.get((other, "duplicate"))
    return rel is not None and rel["score"] >= CERTAIN_DUPLICATE


def _text_layer(analysis: Analysis, page: int) -> Any:
    """(size, [(text, box), ...], the words placed for :func:`forensics.text_layers.screen`) of
    this upload's page when its PDF text layer was read, else None."""
    for p in analysis.reading.pages:
        if p.page == page and p.source == "text_layer":
            size, words = (p.width, p.height), [(w.text, w.box) for w in p.words]
            return size, words, text_layers.placed_layer(words, size)
    return None


def _compared(analysis: Analysis, view: Any, fp: Any, r: Any, my_text: Any) -> Any:
    """:func:`_compare` of this upload's page ``fp`` with candidate row ``r``, kept in the
    upload's memo (the run inside the match lock reuses the one against the snapshot), as are
    this page's preparations, made only when a comparison needs them. The fingerprint row's id
    names one registration of that page: a re-upload with other bytes registers anew, so a
    comparison is never reused across them. A scanned page is compared by its pixels alone:
    earlier pages with the same pixels (a template passed between sellers, uploaded again and
    again) are one comparison, whose answer each of them gets."""
    settings, page = analysis.settings, analysis.document.pages[fp.page - 1]

    def prepared() -> PreparedPage:
        return remember(analysis, ("prepared", fp.page),
                        lambda: _prepare_kept(view, settings, page.image, fp.pixel_sha256))

    def layout_ink() -> Any:
        return remember(analysis, ("layout_ink", fp.page), lambda: page_objects.layout_ink(page.image))

    def objects() -> Any:
        return remember(analysis, ("object_page", fp.page), lambda: page_objects.ObjectPage(my_text[1], page.graphics))

    same = r.pixel_sha256 if my_text is None and r.pixel_sha256 else r.id
    return remember(analysis, ("compare", fp.page, same),
                    lambda: _compare(view, settings, prepared, r, my_text, page, layout_ink, objects))


def _compare(view: Any, settings: Any, mine: Any, r: Any, my_text: Any = None, my_page: Any = None,
             my_ink: Any = None, my_objects: Any = None) -> Any:
    """Align this page (``mine()``: this page prepared for comparisons) with an earlier upload's page;
    None when that page cannot be re-read.
    A text-layer page is first compared with the other page's reading
    (:func:`_text_layer_screen`): different documents are unrelated without a pixel alignment;
    then, against another text-layer page, by both pages' PDF objects
    (:func:`forensics.detectors.pdf_pages.by_objects`). The pixels decide what neither can."""
    if my_text is not None:
        theirs = _stored_reading(view, r)
        if (verdict := _text_layer_screen(my_text, theirs, view, r)) is not None:
            return Relation("unrelated", verdict[0], (), verdict[1])
        if (rel := pdf_pages.by_objects(view, settings, my_text, my_page, r, theirs, my_ink, my_objects)) is not None:
            return rel
    other = prepared_page(view, settings, r.evidence_id, r.page, r.pixel_sha256)
    if other is None:
        return None
    try:
        return compare_pages(mine(), other)
    except PageGone:  # its features were kept, its file is gone since
        return None


def _stored_reading(view: Any, r: Any) -> Any:
    """The stored reading of candidate row ``r``'s page (``view.page_reading``), kept by the row:
    a popular template's page is a candidate of many uploads, and its reading is the same each
    time while that registration stands."""
    return pdf_pages.cached(_reading_cache, (view.url, r.id), lambda: view.page_reading(r.evidence_id, r.page),
                            PAGE_CACHE_SIZE)


def _prepare_kept(view: Any, settings: Any, image: Any, pixel_sha256: str | None) -> PreparedPage:
    """This upload's page prepared for its comparisons, its features kept for later uploads'."""
    page = prepare(image)
    page_features.save(page_features.folder(view.url, settings), pixel_sha256, page)
    return page


def _text_layer_screen(my_text: Any, theirs: Any, view: Any, r: Any) -> tuple[float, dict] | None:
    """A text-layer page against candidate row ``r``'s stored reading ``theirs`` alone: against
    another text layer by words and boxes (:func:`forensics.text_layers.screen`; its words
    placed once for the many later uploads it meets, :func:`pdf_pages.stored_layer`), against a
    scan by the words OCR read on it (:func:`forensics.text_layers.screen_scan`); (score,
    details) when they are unrelated, None when the pixels must decide."""
    if theirs is None:
        return None
    if theirs.get("source") == "text_layer":
        words, placed = pdf_pages.stored_layer(view, r, theirs, my_text[0])
        return text_layers.screen(my_text[1], my_text[0], words, (theirs["width"], theirs["height"]), my_text[2],
                                  placed)
    if theirs.get("source") != "ocr":
        return None
    return text_layers.screen_scan([text for text, _ in my_text[1]], [(w[0], w[5]) for w in theirs["words"]])


def _link_details(me: str, fp: Any, r: Any, rel: Any | None) -> dict[str, Any]:
    """What a confirmed alignment stores: pages, hash distances, differing boxes."""
    distance = {"phash": hamming(fp.phash, from_signed64(r.phash)),
                "dhash": hamming(fp.dhash, from_signed64(r.dhash))}
    if fp.text_hash is not None and r.text_hash is not None and r.text_version == TEXT_HASH_VERSION:
        distance["text"] = hamming(fp.text_hash, from_signed64(r.text_hash))
    details: dict[str, Any] = {"page": fp.page, "other_page": r.page, "hash_distance": distance}
    if rel is None:
        return details
    if rel.details.get("reencoded"):
        details["reencoded"] = True  # the alignment's boxes were a re-encoding's (:func:`reencoded`)
    if rel.differing_boxes:
        details["boxes"] = [list(b) for b in rel.differing_boxes]
        details["boxes_on"] = me
    return details


detector = Duplicates()
