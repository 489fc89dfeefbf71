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
carrying another invoice's data): at most ``same_layout``.

The in-memory Hamming indexes are per process; they catch up from ``page_fingerprints`` (the
truth, shared by every worker) inside the match lock before every query.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from sqlalchemy import select

from forensics.alignment import compare_pages
from forensics.detectors import Analysis
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
from forensics.store.schema import evidence

log = logging.getLogger(__name__)

#: most hash candidates confirmed by alignment per page (nearest first); a popular shop's
#: layout can sit near thousands of pages, and alignment costs ~0.1 s a pair
MAX_CANDIDATES = 12
#: decoded pages of earlier uploads kept in memory for alignment
PAGE_CACHE_SIZE = 64
#: pages with less ink than this carry too little to hash meaningfully
MIN_INK_FRACTION = 0.002
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


@dataclass
class _Indexes:
    """One process's view of every stored fingerprint (phash, dhash, text hash), caught up by id."""

    last_id: int = 0
    phash: HammingIndex = field(default_factory=HammingIndex)
    dhash: HammingIndex = field(default_factory=HammingIndex)
    text: HammingIndex = field(default_factory=HammingIndex)

    def catch_up(self, conn) -> None:  # noqa: ANN001
        while True:
            rows = registries.fingerprints_since(conn, self.last_id, limit=CATCH_UP_BATCH)
            if not rows:
                return
            cur = [r for r in rows if r.version == FINGERPRINT_VERSION]
            if cur:
                ids = np.array([r.id for r in cur], dtype=np.int64)
                self.phash.add(ids, np.array([from_signed64(r.phash) for r in cur], dtype=np.uint64))
                self.dhash.add(ids, np.array([from_signed64(r.dhash) for r in cur], dtype=np.uint64))
            texts = [r for r in rows if r.text_version == TEXT_HASH_VERSION and r.text_hash is not None]
            if texts:
                self.text.add(np.array([r.id for r in texts], dtype=np.int64),
                              np.array([from_signed64(r.text_hash) for r in texts], dtype=np.uint64))
            self.last_id = rows[-1].id


_indexes: dict[str, _Indexes] = {}
_page_cache: OrderedDict[tuple[str, str, int], Any] = OrderedDict()


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


def page_image(view: Any, settings: Any, evidence_id: str, page: int):  # noqa: ANN202
    """The decoded page of an earlier upload (re-read from its blob), or None if gone."""
    from forensics.documents import load_document
    from forensics.errors import ForensicsError
    from forensics.events import resolve_blob

    key = (view.store.url, evidence_id, page)
    if key in _page_cache:
        _page_cache.move_to_end(key)
        return _page_cache[key]
    row = view.conn.execute(select(evidence.c.blob, evidence.c.claimed_type)
                            .where(evidence.c.evidence_id == evidence_id)).first()
    image = None
    if row is not None:
        try:
            path = resolve_blob(row.blob, settings.blob_root_path)
            doc = load_document(path.read_bytes(), claimed_type=None, settings=settings)
            image = doc.pages[page - 1].image if page <= len(doc.pages) else None
        except (ForensicsError, OSError) as exc:
            log.warning("cannot re-read %s page %d for alignment: %s", evidence_id, page, exc)
    _page_cache[key] = image
    if len(_page_cache) > PAGE_CACHE_SIZE:
        _page_cache.popitem(last=False)
    return image


def _candidate_ids(idx: _Indexes, conn, fp: Any, text_hash: int | None,  # noqa: ANN001
                   dt_key: str | None, me: str, radius: int) -> list[int]:
    """Fingerprint ids worth aligning with page ``fp``, best first: the nearest by text (the
    most specific source, and the one crops cannot move), then by pixel hash, then the pages
    sharing the date and total, then the few nearest by pixel hash beyond the radius."""
    # one search per hash reaches both the radius and the nearest pages beyond it
    near: dict[int, int] = {}
    for index, value in ((idx.phash, fp.phash), (idx.dhash, fp.dhash)):
        for fid, dist in index.search(value, max(radius, WIDE_PIXEL_RADIUS)):
            near[fid] = min(dist, near.get(fid, 99))
    by_distance = sorted(near, key=lambda i: (near[i], i))
    ordered: list[int] = []
    if text_hash is not None:
        ordered += [fid for fid, _ in idx.text.search(text_hash, TEXT_RADIUS)[:TEXT_CANDIDATES]]
    ordered += [fid for fid in by_distance if near[fid] <= radius]
    if fp.page == 1 and dt_key:
        ordered += [row.id for row in registries.evidence_with(conn, "date_total_key", dt_key, exclude=me)]
    seen = set(ordered)
    nearest = [fid for fid in by_distance if fid not in seen]
    if nearest:  # other uploads' pages only (this upload's own rows exist when re-analysed)
        rows = registries.fingerprint_rows(conn, nearest[: NEAREST_PIXEL_CANDIDATES + 8])
        others = {r.id for r in rows if r.evidence_id != me}
        ordered += [fid for fid in nearest if fid in others][:NEAREST_PIXEL_CANDIDATES]
    return list(dict.fromkeys(ordered))


class Duplicates:
    """Links this upload to earlier uploads of the same receipt or cut from the same scan."""

    name = "duplicates"

    def run(self, analysis: Analysis, view: Any) -> CheckResult:
        fps = analysis.fingerprints or []
        if not fps:
            return CheckResult.skipped("no page image to fingerprint")
        me = analysis.event.evidence_id
        settings = analysis.settings
        conn = view.conn
        idx = indexes_for(view.store.url)
        idx.catch_up(conn)
        relations: dict[tuple[str, str], dict[str, Any]] = {}
        my_identity = _reliable({k: f.to_json() for k, f in analysis.extraction.fields.items()
                                 if k in IDENTITY_FIELDS})
        identities: dict[str, dict[str, str]] = {}

        def conflict(other: str) -> list[str]:
            if not my_identity:
                return []
            if other not in identities:
                meta = view.evidence_meta([other]).get(other, {})
                identities[other] = _reliable(meta.get("fields") or {})
            return identity_conflict(my_identity, identities[other])

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
        for row in conn.execute(select(evidence.c.evidence_id).where(
                (evidence.c.sha256 == sha) & (evidence.c.evidence_id != me) & (evidence.c.status == "analyzed"))).all():
            link(row.evidence_id, "same_file", 1.0, {"sha256": sha})
        key = _content_key(analysis)
        if key:
            for row in registries.evidence_with(conn, "content_key", key, exclude=me):
                link(row.evidence_id, "same_content", 0.9, {"fields": ["merchant", "serial", "date", "total"]})

        dt_key = date_total_key(analysis)
        aligned = 0
        for fp in fps:
            for row in registries.evidence_with(conn, "pixel_sha256", fp.pixel_sha256, exclude=me):
                link(row.evidence_id, "same_image", 1.0, {"pixels": "identical", "page": fp.page})
            if fp.ink_fraction < MIN_INK_FRACTION:
                continue
            ids = _candidate_ids(idx, conn, fp, fp.text_hash, dt_key, me, settings.hash_radius)
            rank = {fid: i for i, fid in enumerate(ids)}
            rows = registries.fingerprint_rows(conn, ids[: MAX_CANDIDATES * 2])
            rows = sorted((r for r in rows if r.evidence_id != me), key=lambda r: rank[r.id])
            mine = analysis.document.pages[fp.page - 1].image
            done_pairs: set[str] = set()
            for r in rows:
                if r.evidence_id in done_pairs or len(done_pairs) >= MAX_CANDIDATES:
                    continue
                done_pairs.add(r.evidence_id)
                if (r.evidence_id, "duplicate") in relations and relations[(r.evidence_id, "duplicate")]["score"] >= 1.0:
                    continue
                other = page_image(view, settings, r.evidence_id, r.page)
                if other is None or mine is None:
                    continue
                rel = compare_pages(mine, other)
                aligned += 1
                if rel.kind in LINK_KINDS:
                    link(r.evidence_id, rel.kind, float(rel.score), _link_details(me, fp, r, rel))
        status = "done" if aligned == 0 else f"done: {aligned} candidate page(s) aligned"
        return CheckResult(status=status, relations=tuple(relations.values()))


def _link_details(me: str, fp: Any, r: Any, rel: Any) -> dict[str, Any]:
    """What a confirmed alignment stores: pages, hash distances, differing boxes."""
    distance = {"phash": hamming(fp.phash, from_signed64(r.phash)),
                "dhash": hamming(fp.dhash, from_signed64(r.dhash))}
    if fp.text_hash is not None and r.text_hash is not None and r.text_version == TEXT_HASH_VERSION:
        distance["text"] = hamming(fp.text_hash, from_signed64(r.text_hash))
    details: dict[str, Any] = {"page": fp.page, "other_page": r.page, "hash_distance": distance}
    if rel.differing_boxes:
        details["boxes"] = [list(b) for b in rel.differing_boxes]
        details["boxes_on"] = me
    return details


detector = Duplicates()
