"""analyse(upload, store) -> record: the one place that orders the steps.

upload -> document -> reading -> fields -> fingerprints -> findings -> verdict -> record.

The expensive, independent part (decoding, OCR, fields, fingerprints, single-document detectors)
runs outside any lock, so workers OCR in parallel. The linking part (matching this upload against
everything on file, registering it, updating clusters and the older records it links to) ends in
one exclusive transaction, so every upload is matched against every earlier one exactly once,
whatever the number of workers; its expensive steps run before, against a snapshot, and the
transaction reuses them (optimistic matching: the lock covers what arrived since).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
from sqlalchemy.exc import SQLAlchemyError

from forensics.allowlist import TemplateAllowlist
from forensics.detectors import Analysis
from forensics.documents import load_document
from forensics.errors import (
    BadInput,
    EvidenceConflict,
    FileTooLarge,
    ForensicsError,
    InternalError,
    InvalidEvent,
    TooExpensive,
    WorkerCrashed,
)
from forensics.events import UploadEvent, resolve_blob
from forensics.fields import extract
from forensics.fingerprints import fingerprint_page
from forensics.links import COPIED_RELATION_KINDS, LINK_CODES, link_findings, uploaded_later
from forensics.model import CheckResult, Document, Finding, Reading
from forensics.ocr import read_document
from forensics.settings import Settings
from forensics.store import Store, registries
from forensics.store.snapshot import CatchUpView, SnapshotView
from forensics.store.view import RegistryView
from forensics.verdict import verdict_of

# OpenCV's own thread pool: one thread, as Tesseract's OpenMP (OMP_THREAD_LIMIT): a worker runs one
# analysis per core, where the pool's hand-offs only add CPU (the pixel detectors took 3.5% less
# CPU on one thread, paired, same findings)
cv2.setNumThreads(1)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What :func:`analyse` did: the record, and whether it analysed anything new."""

    record: dict[str, Any]
    #: ``analyzed``, ``failed``, ``duplicate_delivery`` (already done with these bytes) or
    #: ``conflict`` (the evidence id is another seller's; nothing was written but the attempt)
    action: str
    seconds: float
    #: why the upload was refused, for ``conflict`` (``failed`` records carry their own error)
    error: dict[str, str] | None = None


def single_document_detectors() -> list[Any]:
    """Detectors that look at one upload alone, in the order they run (declared in
    :data:`forensics.detectors.SINGLE_DOCUMENT`)."""
    from forensics.detectors import registered

    return registered()


def linking_detectors() -> list[Any]:
    """Detectors that match an upload against everything on file (run under the match lock)."""
    from forensics.detectors import (
        content_keys,
        duplicates,
        issuer_identity,
        known_forgeries,
        serial_registry,
    )

    return [serial_registry.detector, issuer_identity.detector, content_keys.detector, duplicates.detector,
            known_forgeries.detector]


def analyse(event: UploadEvent | dict[str, Any], store: Store, settings: Settings,
            *, on_stage: Callable[[str], None] | None = None) -> Outcome:
    """Analyse one upload and write its evidence record.

    Bad input ends as a ``failed`` record (never raised); transient failures (store, OCR engine)
    raise :class:`~forensics.errors.TransientError` for the caller to retry. An event too broken
    to name its evidence id raises :class:`~forensics.errors.InvalidEvent`.
    """
    started = time.perf_counter()
    stage = on_stage or (lambda _s: None)
    if not isinstance(event, UploadEvent):
        try:
            event = UploadEvent.from_json(event)
        except InvalidEvent as exc:
            # an event that names a valid evidence and seller id is recorded as failed, unless
            # that id already has a record (a broken redelivery must not wipe a good record)
            partial = UploadEvent.partial(event)
            if partial is None or store.status_of(partial.evidence_id) is not None:
                raise
            return _fail(partial, store, None, exc, started)
    sha256: str | None = None
    try:
        path = resolve_blob(event.blob, settings.blob_root_path)
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            raise FileTooLarge(
                f"The file is {size:,} bytes; the limit is {settings.max_file_bytes:,} "
                "(FORENSICS_MAX_FILE_BYTES)."
            )
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
    except BadInput as exc:
        if store.seller_of(event.evidence_id) not in (None, event.seller_id):
            store.log_conflict(event, sha256)
            return _conflict(event, store, started)
        return _fail(event, store, sha256, exc, started)

    action, unlinked = store.begin(event, sha256, crash_limit=settings.worker_crash_limit)
    if action == "done":
        return Outcome(store.get(event.evidence_id) or {}, "duplicate_delivery", time.perf_counter() - started)
    if action == "conflict":
        return _conflict(event, store, started)
    if action == "crashed":
        return _fail(event, store, sha256, WorkerCrashed(
            f"Analysing this upload ended the worker {settings.worker_crash_limit} times (killed, or out of "
            "memory) without finishing; it is not tried again. FORENSICS_WORKER_CRASH_LIMIT sets how often."),
            started)
    try:
        return _analyse_new(event, store, settings, data, sha256, unlinked, started, stage)
    except MemoryError:
        return _fail(event, store, sha256, TooExpensive(
            "Analysing this upload needed more memory than a worker may use "
            "(FORENSICS_WORKER_MEMORY_MB); it was stopped."), started)
    except (ForensicsError, SQLAlchemyError):
        raise  # transient: the caller retries
    except Exception as exc:  # noqa: BLE001 - a bug must end as a record, not a pending one
        log.exception("analysis of %s crashed", event.evidence_id)
        return _fail(event, store, sha256, InternalError(
            f"The analysis crashed ({type(exc).__name__}: {exc}). This is a bug; the upload can be "
            "analysed again once it is fixed."), started)


def _analyse_new(event: UploadEvent, store: Store, settings: Settings, data: bytes, sha256: str,
                 unlinked: set[str], started: float, stage: Callable[[str], None]) -> Outcome:
    """Everything after :meth:`Store.begin` said the upload is new: the analysis proper."""
    checks: dict[str, str] = {}
    try:
        stage("decode")
        document = load_document(data, claimed_type=event.content_type, settings=settings)
        stage("ocr")
        reading = read_document(document, settings)
    except BadInput as exc:
        return _fail(event, store, sha256, exc, started)
    checks["ocr"] = _reading_status(reading)

    stage("fields")
    extraction = extract(reading, document)
    checks["fields"] = "done" if extraction.fields else "done: no fields found"
    own_reading = _reading_findings(reading, extraction)
    stage("fingerprints")
    imaged = [p for p in document.pages if p.image is not None]
    shas = document.pixel_sha256 if len(document.pixel_sha256) == len(imaged) else (None,) * len(imaged)
    words = {p.page: [w.text for w in p.words] for p in reading.pages}
    fingerprints = [fingerprint_page(p.number, p.image, pixel_sha=sha, words=words.get(p.number))
                    for p, sha in zip(imaged, shas, strict=True)]
    analysis = Analysis(event=event, document=document, reading=reading, extraction=extraction,
                        settings=settings, fingerprints=fingerprints)

    own: list[Finding] = list(_document_findings(document)) + own_reading
    stage("detectors")
    for det in single_document_detectors():
        result = _run_detector(det, analysis, store)
        checks[det.name] = result.status
        own.extend(result.findings)

    stage("linking")
    # Optimistic matching: the linking detectors first run outside any lock against what is
    # committed (a snapshot), which is where their expensive steps (page comparisons, second
    # readings, index searches) happen; Analysis.memo keeps those, the SnapshotView the answers
    # of its queries. The run inside the lock sees everything earlier, exactly as a serial run
    # would, from those answers plus what was registered since (store/snapshot.py), so the
    # lock pays for a few statements and for what arrived meanwhile.
    eid = event.evidence_id
    with store.transaction() as conn:
        snapshot = SnapshotView(RegistryView(store, conn))
        linked = {eid}
        found = []
        for det in linking_detectors():
            found.append((det, _run_detector(det, analysis, snapshot)))
            linked |= {rel["other"] for rel in found[-1][1].relations}
        early = _LinkState.before_lock(conn, linked)
        store.write_reading(conn, eid, _reading_json(reading, sha256))
    with store.transaction(exclusive=True) as conn:
        live = RegistryView(store, conn)
        view = CatchUpView(live, snapshot, evidence_id=eid, sha256=sha256)
        relations: list[dict[str, Any]] = []
        for det, earlier in found:
            # nothing changed since the snapshot: its results are the serial order's
            result = earlier if view.unchanged else _run_detector(det, analysis, view if view.usable else live)
            checks[det.name] = result.status
            own.extend(result.findings)
            relations.extend(result.relations)
        relations = _distinct(eid, relations)
        own_json = [f.to_json() for f in own if f.code not in LINK_CODES]
        values = {
            "sha256": sha256,
            "media_type": document.media_type,
            "pages": len(document.pages),
            "fields": {name: f.to_json() for name, f in extraction.fields.items()},
            "own_findings": own_json,
            "checks": checks,
            "document": _document_summary(document, extraction),
        }
        if view.usable and view.now["status"] == "pending":
            # no earlier analysis of this id registered anything (Store.begin forgets what one
            # did): registrations, relations and clusters are only added
            _link_new(conn, analysis, sha256, relations, values, early, unlinked, store, settings)
        else:
            _register(conn, analysis, sha256)
            for rel in relations:
                registries.add_relation(conn, eid, rel["other"], rel["kind"], float(rel["score"]), rel.get("details"))
                registries.join_clusters(conn, eid, rel["other"], rel["kind"])
            store.write_analysis(conn, eid, values, None)
            refresh_link_findings(conn, {eid} | unlinked, settings)
            refresh_new_links(conn, eid, relations, settings)
    stage("done")
    return Outcome(store.get(eid) or {}, "analyzed", time.perf_counter() - started)


@dataclass
class _LinkState:
    """What the locked step needs of the store that the snapshot's transaction can read: the
    allowlist's entries, and the seller and upload time of this upload and of those it links to."""

    allowlist_entries: list[dict[str, Any]]
    who: dict[str, dict[str, Any]]

    @classmethod
    def before_lock(cls, conn, ids: set[str]) -> _LinkState:  # noqa: ANN001
        """Read in the snapshot's transaction, for this upload and those it linked to there."""
        from forensics.store import reviews

        return cls(reviews.allowlist_entries(conn), registries.sellers_and_times(conn, ids))

    def of(self, conn, ids: set[str]) -> dict[str, dict[str, Any]]:  # noqa: ANN001
        """Seller and upload time of ``ids`` (asking the store for those not known yet)."""
        missing = ids - set(self.who)
        if missing:
            self.who.update(registries.sellers_and_times(conn, missing))
        return {i: self.who[i] for i in ids if i in self.who}


def _distinct(evidence_id: str, relations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One relation per other upload and kind, as stored one by one (the last one's score and
    details, in the place of the first); none with the upload itself."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for rel in relations:
        if rel["other"] != evidence_id:
            out[(rel["other"], rel["kind"])] = rel
    return list(out.values())


def _link_new(conn, analysis: Analysis, sha256: str, relations: list[dict[str, Any]],  # noqa: ANN001, PLR0913
              values: dict[str, Any], early: _LinkState, unlinked: set[str], store: Store,
              settings: Settings) -> None:
    """The locked step's writes for an upload registered for the first time: a few statements
    (one multi-row insert per registry and for the relations, the clusters joined at once, the
    record with its link findings in one UPDATE, older records refreshed in one batch)."""
    from forensics.detectors import content_keys, duplicates, issuer_identity, serial_registry
    from forensics.store import content_keys as content_key_store

    eid = analysis.event.evidence_id
    who = early.of(conn, {eid} | {r["other"] for r in relations})
    kinds: dict[str, set[str] | None] = dict.fromkeys(unlinked)
    for rel in relations:
        other = rel["other"]
        if rel["kind"] in COPIED_RELATION_KINDS and _later_than(who, eid, other):
            kinds[other] = None  # told it was copied: that one finding names every later copy
        elif other not in kinds or kinds[other] is not None:
            kinds.setdefault(other, set()).update(_same_finding_kinds(rel["kind"]))  # type: ignore[union-attr]
    fingerprints, mark = duplicates.fingerprint_rows(analysis, sha256), issuer_identity.issuer_mark(analysis)
    allow = TemplateAllowlist()
    if early.allowlist_entries:
        # the others are registered; this upload's keys and layout are those it is about to register
        allow = TemplateAllowlist.load(conn, set(kinds))
        allow.keys[eid] = {f"{k}:{mark[k + '_key']}" for k in ("name", "reg", "tax", "phone")
                           if mark is not None and mark[k + "_key"]}
        for row in fingerprints:
            if row["page"] == 1:
                allow.layouts[eid] = row["layout_hash"]
    stored = [{"id": i, "a": min(eid, r["other"]), "b": max(eid, r["other"]), "kind": r["kind"],
               "score": float(r["score"]), "details": r.get("details")} for i, r in enumerate(relations)]
    fresh = [f.to_json() for f in link_findings(eid, stored, who)]
    judged = _with_verdict(eid, values, fresh, settings, allow)
    del judged["evidence_id"]
    registries.register(conn, fingerprints, serial_registry.registry_row(analysis), mark,
                        relations_of_new=(eid, relations),
                        then=store.analysis_update(eid, {**values, **judged}),
                        also=(content_key_store.insert_row(content_keys.registry_row(analysis)),))
    links: dict[str, dict[str, str]] = {}
    for rel in relations:
        if rel["other"] in who:
            links.setdefault(rel["kind"], {})[rel["other"]] = who[rel["other"]]["seller_id"]
    registries.join_new_upload(conn, eid, who[eid]["seller_id"], links)
    _refresh_many(conn, kinds, settings, allow)


def _later_than(who: dict[str, dict[str, Any]], new_id: str, other: str) -> bool:
    """Whether ``new_id`` was uploaded after ``other`` (as link findings decide it)."""
    return other in who and new_id in who and uploaded_later(who, other, new_id)


def refresh_link_findings(conn, evidence_ids: set[str], settings: Settings) -> None:  # noqa: ANN001
    """Recompute findings, risk and verdict of records from their own findings plus the
    findings all their links imply."""
    allow = TemplateAllowlist.load(conn, evidence_ids)
    _refresh_many(conn, dict.fromkeys(evidence_ids), settings, allow)


def refresh_new_links(conn, new_id: str, relations: list[dict[str, Any]], settings: Settings) -> None:  # noqa: ANN001
    """How older records learn of a newer upload: each record ``new_id`` links to gets the link
    findings of the relation kinds that changed recomputed, from its relations of those kinds
    only; its other findings stay as stored."""
    kinds: dict[str, set[str] | None] = {}
    for rel in relations:
        if rel["other"] != new_id:
            kinds.setdefault(rel["other"], set()).update(_same_finding_kinds(rel["kind"]))  # type: ignore[union-attr]
    allow = TemplateAllowlist.load(conn, set(kinds))
    _refresh_many(conn, kinds, settings, allow)


def _same_finding_kinds(kind: str) -> tuple[str, ...]:
    """The relation kinds that make one link finding together with ``kind``."""
    return registries.DUPLICATE_KINDS if kind in registries.DUPLICATE_KINDS else (kind,)


def _refresh_many(conn, kinds: dict[str, set[str] | None], settings: Settings,  # noqa: ANN001
                  allow: TemplateAllowlist) -> None:
    """Link findings of each record in ``kinds`` from its relations (of those kinds only,
    keeping its stored link findings of other kinds; all when None), then risk and verdict, in
    a few statements whatever the number of records. Link findings come in the order of their
    codes, whichever way they were computed. ``allow`` is the allowlist as it applies to them."""
    state = {eid: me for eid, me in registries.findings_state(conn, kinds).items() if me["status"] == "analyzed"}
    groups: dict[tuple[str, ...] | None, list[str]] = {}
    for eid in sorted(state):
        groups.setdefault(None if kinds[eid] is None else tuple(sorted(kinds[eid])), []).append(eid)
    out: dict[str, dict[str, Any]] = {}
    again: list[str] = []
    for group, ids in groups.items():
        rels, sellers = registries.relations_with_sellers_of(conn, ids, group)
        for eid in ids:
            fresh = _link_findings_of(eid, state[eid], rels[eid], sellers)
            if group is not None and any(f["code"] == "copied_by_later_upload" for f in fresh):
                again.append(eid)  # an original's one finding names every later copy, of whatever kind
                continue
            if group is not None:
                codes = {f["code"] for f in fresh}
                fresh += [f for f in state[eid]["findings"] or []
                          if f.get("code") in LINK_CODES and f.get("code") not in codes]
            out[eid] = _with_verdict(eid, state[eid], fresh, settings, allow)
    if again:
        rels, sellers = registries.relations_with_sellers_of(conn, again)
        for eid in again:
            out[eid] = _with_verdict(eid, state[eid], _link_findings_of(eid, state[eid], rels[eid], sellers),
                                     settings, allow)
    registries.set_findings_many(conn, [out[eid] for eid in sorted(out)])


def _link_findings_of(eid: str, me: dict[str, Any], rels: list[dict[str, Any]],
                      sellers: dict[str, str]) -> list[dict[str, Any]]:
    when = {(r["b"] if r["a"] == eid else r["a"]): r.get("other_uploaded_at") for r in rels}
    others = {(r["b"] if r["a"] == eid else r["a"]) for r in rels}
    meta = {eid: {"seller_id": me["seller_id"], "uploaded_at": me.get("uploaded_at")},
            **{o: {"seller_id": sellers[o], "uploaded_at": when.get(o)} for o in others if o in sellers}}
    return [f.to_json() for f in link_findings(eid, rels, meta)]


def _with_verdict(eid: str, me: dict[str, Any], fresh: list[dict[str, Any]], settings: Settings,
                  allow: TemplateAllowlist) -> dict[str, Any]:
    findings = list(me["own_findings"] or []) + sorted(fresh, key=lambda f: f["code"])
    # a layout a reviewer said is the shop's own template drops to information (decisions teach)
    findings = allow.soften(eid, findings)
    risk, verdict = verdict_of(findings, me["checks"] or {}, settings)
    return {"evidence_id": eid, "findings": findings, "risk": risk, "verdict": verdict}


def _fail(event: UploadEvent, store: Store, sha256: str | None, exc: ForensicsError, started: float,
          checks: dict[str, str] | None = None, document: Document | None = None) -> Outcome:
    log.info("evidence %s failed: %s (%s)", event.evidence_id, exc.message, exc.code)
    store.save_failed(event, sha256, exc.code, exc.message, checks=checks)
    return Outcome(store.get(event.evidence_id) or {}, "failed", time.perf_counter() - started)


def _conflict(event: UploadEvent, store: Store, started: float) -> Outcome:
    """The evidence id is another seller's: the first record is kept (the attempt is already
    logged in the store); say so."""
    owner = store.seller_of(event.evidence_id)
    message = (f"Evidence id {event.evidence_id} belongs to seller {owner}; seller {event.seller_id} "
               "cannot upload under it. The first record is kept and this attempt is logged.")
    log.warning("evidence %s refused: %s", event.evidence_id, message)
    return Outcome(store.get(event.evidence_id) or {}, "conflict", time.perf_counter() - started,
                   error={"code": EvidenceConflict.code, "message": message})


def _run_detector(det: Any, analysis: Analysis, view: Any) -> CheckResult:
    """Run one detector; a crash is its check's failure, never the upload's."""
    try:
        return det.run(analysis, view)
    except ForensicsError as exc:
        if not isinstance(exc, BadInput):
            raise
        return CheckResult.failed(exc.message)
    except Exception as exc:  # noqa: BLE001 - a detector bug must not lose the record
        log.exception("detector %s crashed on %s", det.name, analysis.event.evidence_id)
        return CheckResult.failed(f"{type(exc).__name__}: {exc}")


def _reading_status(reading: Reading) -> str:
    sources = {p.source for p in reading.pages}
    if sources == {"text_layer"}:
        return "skipped: PDF text layer used"
    words = sum(len(p.words) for p in reading.pages)
    return "done" if words else "done: no text found"


def _document_findings(document: Document) -> list[Finding]:
    out = []
    if document.type_mismatch:
        out.append(Finding(
            code="content_type_mismatch",
            severity="low",
            score=0.5,
            message=(f"The upload was declared as {document.claimed_type} but its bytes are "
                     f"{document.media_type}."),
            evidence={"claimed": document.claimed_type, "sniffed": document.media_type},
        ))
    if document.pdf and document.pdf.has_javascript:
        out.append(Finding(
            code="pdf_javascript",
            severity="medium",
            score=0.6,
            message="The PDF carries JavaScript, which receipts and invoices do not need (it was not run).",
        ))
    return out


def _reading_findings(reading: Reading, extraction: Any) -> list[Finding]:
    """Nothing read is not evidence of honesty: a document with no text and no fields is for a
    person to look at (a blank page, a photo of something else, an image too poor to read)."""
    words = sum(len(p.words) for p in reading.pages)
    if words or extraction.fields:
        return []
    return [Finding(
        code="nothing_read",
        severity="medium",
        score=0.6,
        message=("No text could be read on this document and no field was found, so none of the checks "
                 "that rest on its content could vouch for it: look at it yourself (a blank page, a "
                 "picture of something else, or a scan too poor to read)."),
    )]


def _document_summary(document: Document, extraction: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"media_type": document.media_type, "pages": len(document.pages),
                           "size_bytes": document.size_bytes}
    if document.claimed_type:
        out["claimed_type"] = document.claimed_type
    if document.image_meta:
        out["image_meta"] = dict(document.image_meta)
    if document.pdf:
        p = document.pdf
        out["pdf"] = {"producer": p.producer, "creator": p.creator, "created": p.created,
                      "modified": p.modified, "incremental_updates": p.incremental_updates,
                      "has_javascript": p.has_javascript, "embedded_files": list(p.embedded_files),
                      "einvoice": p.einvoice_name}
    if extraction.alternatives:
        out["alternatives"] = {name: {src: f.to_json() for src, f in alts.items()}
                               for name, alts in extraction.alternatives.items()}
    return out


def _reading_json(reading: Reading, sha256: str | None) -> dict[str, Any]:
    return {
        "sha256": sha256 or "",
        "text": reading.text,
        "pages": [
            {"page": p.page, "source": p.source, "engine": p.engine, "width": p.width, "height": p.height,
             "seconds": p.seconds,
             "words": [[w.text, *w.box, round(w.confidence, 3), w.block, w.line] for w in p.words]}
            for p in reading.pages
        ],
    }


def _register(conn, analysis: Analysis, sha256: str | None) -> None:  # noqa: ANN001
    """Put this upload's fingerprints, serial and issuer mark in the registries for later uploads."""
    from forensics.detectors import content_keys, duplicates, issuer_identity, serial_registry
    from forensics.store import content_keys as content_key_store

    registries.clear_registrations(conn, analysis.event.evidence_id)
    content_key_store.register(conn, analysis.event.evidence_id, content_keys.registry_row(analysis))
    registries.add_fingerprints(conn, duplicates.fingerprint_rows(analysis, sha256))
    row = serial_registry.registry_row(analysis)
    if row is not None:
        registries.register_serial(conn, row)
    mark = issuer_identity.issuer_mark(analysis)
    if mark is not None:
        registries.register_issuer(conn, mark)

