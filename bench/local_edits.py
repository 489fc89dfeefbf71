"""Recall and false-alarm rate of the local_edits detector on real repainted scans.

Run by hand (not by CI; needs the quality set built by ``bench/quality.py`` and, for the SROIE
negatives, the readings cached by ``bench/detectors_fp.py``)::

    .venv/bin/python bench/local_edits.py                 # quality set + all sroie-dev scans
    .venv/bin/python bench/local_edits.py --no-sroie      # the quality set only
    .venv/bin/python bench/local_edits.py --verbose       # every finding and every miss

No OCR is run: the words are the stored readings (``readings`` table of the quality set's
``quality.db``; the pickled pipeline readings for sroie-dev), the pixels are decoded with
:func:`forensics.documents.load_document` exactly as the pipeline does.

- recall: a repainted upload (kinds ``tampered_total``, ``invalid_tax_id``, ``serial_reuse``,
  ``edited_copy``) counts as found when a ``local_edit`` finding's box overlaps one of its
  ``edited_boxes``; a finding elsewhere on it is a false alarm on that upload.
- rate: the share of honest uploads (``honest``, ``victim``, ``reupload`` and every sroie-dev
  scan) with any ``local_edit`` finding.

The last line is ``local_edits recall=… honest_rate=… reupload_rate=… sroie_rate=…``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sqlite3
import sys
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: the labelled set written by bench/quality.py (read only)
QUALITY = ROOT / "bench" / "out" / "quality"
#: honest receipt scans (read only, outside the repository)
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
#: pipeline readings of the sroie-dev scans cached by bench/detectors_fp.py
SROIE_READINGS = ROOT / "bench" / "out" / "readings" / "pipeline"
#: kinds whose upload carries repainted boxes
REPAINTED = ("tampered_total", "invalid_tax_id", "serial_reuse", "edited_copy")
#: kinds that are honest scans (a reupload is one re-encoded whole)
HONEST = ("honest", "victim", "reupload")


def _page_reading(page: dict[str, Any]) -> Any:
    from forensics.model import PageReading, Word

    words = tuple(Word(w[0], (w[1], w[2], w[3], w[4]), w[5], w[6], w[7]) for w in page["words"])
    return PageReading(page["page"], page["source"], words, page["width"], page["height"],
                       page.get("engine", ""), page.get("seconds", 0.0))


def _overlaps(a: Any, b: Any) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def judge(task: tuple[str, str, Path, Any, list[Any]]) -> dict[str, Any]:
    """Run the detector on one upload; its status, findings and whether they hit the edits."""
    from forensics.detectors.local_edits import detector
    from forensics.documents import load_document
    from forensics.settings import Settings

    ident, kind, path, reading, edited = task
    settings = Settings()
    document = load_document(path.read_bytes(), claimed_type=None, settings=settings)
    analysis = _analysis(document, reading, settings)
    started = time.perf_counter()
    result = detector.run(analysis, None)
    found = [f for f in result.findings if f.code == "local_edit"]
    return {"id": ident, "kind": kind, "status": result.status,
            "seconds": time.perf_counter() - started,
            "hits": sum(any(_overlaps(f.box, e) for e in edited) for f in found),
            "findings": [(f.box, f.evidence.get("text"), f.evidence.get("anomalies")) for f in found],
            "edited": edited}


def _analysis(document: Any, reading: Any, settings: Any) -> Any:
    from datetime import UTC, datetime

    from forensics.detectors import Analysis
    from forensics.events import UploadEvent
    from forensics.model import Extraction

    event = UploadEvent("B", "S", "b.jpg", uploaded_at=datetime(2026, 1, 1, tzinfo=UTC))
    return Analysis(event, document, reading, Extraction({}), settings)


def quality_tasks() -> list[tuple[str, str, Path, Any, list[Any]]]:
    """The quality set's scans with their stored readings and edited boxes."""
    from forensics.model import Reading

    truth = json.loads((QUALITY / "truth.json").read_text())
    db = sqlite3.connect(QUALITY / "quality.db")
    rows = dict(db.execute("select evidence_id, pages from readings").fetchall())
    out = []
    for ev in truth["evidence"]:
        if ev["kind"] not in REPAINTED + HONEST or ev["evidence_id"] not in rows:
            continue
        pages = json.loads(rows[ev["evidence_id"]])
        reading = Reading(tuple(_page_reading(p) for p in pages))
        out.append((ev["evidence_id"], ev["kind"], QUALITY / ev["path"], reading,
                    [tuple(b) for b in ev.get("edited_boxes", [])]))
    return out


def sroie_tasks() -> list[tuple[str, str, Path, Any, list[Any]]]:
    """Every sroie-dev scan whose pipeline reading is cached (all honest)."""
    out = []
    for path in sorted(SROIE.glob("*.jpg")):
        cached = SROIE_READINGS / (path.name + ".pkl")
        if cached.exists():
            with cached.open("rb") as fh:
                out.append((path.stem, "sroie", path, pickle.load(fh)[1], []))
    return out


def _rate(results: list[dict[str, Any]], kinds: tuple[str, ...]) -> tuple[int, int]:
    sel = [r for r in results if r["kind"] in kinds]
    return sum(bool(r["findings"]) for r in sel), len(sel)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-sroie", action="store_true", help="skip the sroie-dev negatives")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--verbose", action="store_true", help="print every finding and miss")
    ap.add_argument("--json", type=Path, help="write every result to this file")
    args = ap.parse_args()

    tasks = quality_tasks() + ([] if args.no_sroie else sroie_tasks())
    started = time.perf_counter()
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            results = pool.map(judge, tasks, chunksize=4)
    else:
        results = [judge(t) for t in tasks]
    wall = time.perf_counter() - started

    statuses = Counter(r["status"].split(":")[0] for r in results)
    print(f"uploads={len(results)} statuses={dict(statuses)} wall={wall:.0f}s "
          f"per_upload={sum(r['seconds'] for r in results) / max(1, len(results)):.2f}s")
    for kind in REPAINTED:
        sel = [r for r in results if r["kind"] == kind]
        found = sum(r["hits"] > 0 for r in sel)
        stray = sum(len(r["findings"]) - r["hits"] for r in sel)
        print(f"{kind:16s} found {found}/{len(sel)}  findings off the edit: {stray}")
    for kind in HONEST + ("sroie",):
        flagged, n = _rate(results, (kind,))
        if n:
            print(f"{kind:16s} flagged {flagged}/{n}")
    if args.verbose:
        for r in results:
            if r["findings"] or (r["kind"] in REPAINTED and not r["hits"]):
                print(r["id"], r["kind"], r["status"][:60], "edited", r["edited"], r["findings"])
    if args.json:
        args.json.write_text(json.dumps(results, default=str, indent=1))

    pos = [r for r in results if r["kind"] in REPAINTED]
    recall = sum(r["hits"] > 0 for r in pos) / max(1, len(pos))
    honest, reup, sroie = (f / max(1, n) for f, n in
                           (_rate(results, k) for k in (("honest", "victim"), ("reupload",), ("sroie",))))
    print(f"local_edits recall={recall:.3f} honest_rate={honest:.3f} reupload_rate={reup:.3f} "
          f"sroie_rate={sroie:.3f}")


if __name__ == "__main__":
    main()
