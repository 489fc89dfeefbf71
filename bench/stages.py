"""CPU per analysis stage of one upload, without a profiler (cProfile's overhead triples the
share of pure-Python steps such as the text layer or the field rules).

Run by hand::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/stages.py [--pdf] [--n 20]

Each stage of ``analyse`` up to the linking step (decode, OCR or text layer, fields,
fingerprints, every single-document detector) is timed in CPU seconds (``time.process_time``)
on the first N receipt scans of ../shared/datasets/sroie-dev (``--pdf``: the invoices-pdf-dev
PDFs), against an empty SQLite store. The linking step depends on what the store holds: see
``bench/ingest.py --profile``. The last line is ``stages_cpu_s_per_upload=X`` (their sum).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--pdf", action="store_true", help="the invoice PDFs instead of the receipt scans")
    args = ap.parse_args()
    from forensics.detectors import Analysis
    from forensics.documents import load_document
    from forensics.events import UploadEvent
    from forensics.fields import extract
    from forensics.fingerprints import fingerprint_page
    from forensics.ocr import get_engine, read_document
    from forensics.pipeline import _run_detector, single_document_detectors
    from forensics.settings import Settings
    from forensics.store import Store

    files = sorted((DATASETS / ("invoices-pdf-dev" if args.pdf else "sroie-dev")).glob("*.pdf" if args.pdf else "*.jpg"))
    files = files[: args.n]
    spent: dict[str, float] = defaultdict(float)
    pages = 0
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/s.db", blob_root="/")
        store = Store(settings.database_url)
        get_engine(settings)  # the engine is made once per process, not per upload

        def timed(name: str, fn):  # noqa: ANN001, ANN202
            t0 = time.process_time()
            out = fn()
            spent[name] += time.process_time() - t0
            return out

        for i, path in enumerate(files):
            data = path.read_bytes()
            doc = timed("decode", lambda data=data: load_document(data, claimed_type=None, settings=settings))
            pages += len(doc.pages)
            reading = timed("ocr/text layer", lambda doc=doc: read_document(doc, settings))
            extraction = timed("fields", lambda reading=reading, doc=doc: extract(reading, doc))
            words = {p.page: [w.text for w in p.words] for p in reading.pages}
            imaged = [p for p in doc.pages if p.image is not None]
            fps = timed("fingerprints", lambda imaged=imaged, words=words, doc=doc: [
                fingerprint_page(p.number, p.image, pixel_sha=sha, words=words.get(p.number))
                for p, sha in zip(imaged, doc.pixel_sha256, strict=False)])
            event = UploadEvent.from_json({"evidence_id": f"S{i:05d}", "seller_id": "s", "blob": str(path),
                                           "uploaded_at": "2025-01-01T00:00:00Z"})
            analysis = Analysis(event=event, document=doc, reading=reading, extraction=extraction,
                                settings=settings, fingerprints=fps)
            for det in single_document_detectors():
                timed(f"detector {det.name}", lambda det=det, analysis=analysis: _run_detector(det, analysis, store))
        store.close()
    total = sum(spent.values())
    print(f"{len(files)} {'PDFs' if args.pdf else 'receipts'} ({pages} pages); CPU s per upload by stage:")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s} {s / len(files):7.3f}  ({100 * s / total:4.1f}%)")
    print(f"stages_cpu_s_per_upload={total / len(files):.3f}")


if __name__ == "__main__":
    main()
