"""CPU per upload through the whole analysis, paired with a bare OCR or text extraction.

Run by hand, not by CI (needs PostgreSQL; makes and drops its own database)::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/ingest.py [--n 40] [--store 10000]
    OMP_THREAD_LIMIT=1 .venv/bin/python bench/ingest.py --pdf [--n 47]

Both sides run in CPU time (user + system), one core, interleaved upload by upload (which side
goes first alternates), in this run:

- receipts (default): ``analyse`` in this process (decode, OCR, fields, hashes, detectors,
  linking, store) against the bare ``tesseract IMAGE stdout --psm 6`` (its child CPU time), on
  the first N receipt scans of ../shared/datasets/sroie-dev (else generated receipts). Last
  line ``ingest_cpu_s_per_receipt=X tesseract_cli_cpu_s_per_receipt=Y ratio=Z``.
- ``--pdf``: ``analyse`` of the text PDFs of ../shared/datasets/invoices-pdf-dev against
  pypdfium2 reading their text layer alone; also the CPU of the full-page OCR the text-layer
  check ran before (up to 3 pages a file), to show ingest with it. Last line
  ``ingest_pages_per_cpu_s=X pypdfium2_pages_per_cpu_s=Y ratio=Z``.

The store is PostgreSQL holding ``--store`` records first (written directly, as bench/scale.py
writes them: real page hashes of sroie-dev perturbed, serials, issuer marks, relations; and,
as a real store holds, each record's reading: its scan's transcribed words); the database
server's CPU is not counted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
PDFS = ROOT.parent / "shared" / "datasets" / "invoices-pdf-dev"


def images(n: int, work: Path) -> list[Path]:
    if SROIE.is_dir():
        return sorted(SROIE.glob("*.jpg"))[:n]
    from fixtures.receipts import make_receipt_data, make_shop, render_receipt

    rng = random.Random(1)
    out = []
    for i in range(n):
        shop = make_shop(rng)
        img, _ = render_receipt(shop, make_receipt_data(shop, rng), rng)
        p = work / f"gen{i:03d}.jpg"
        img.convert("RGB").save(p, quality=90)
        out.append(p)
    return out


def add_readings(url: str, size: int, bases: list[dict]) -> None:
    """Give each stored record the reading a real store holds (written before its match lock):
    its base scan's words with boxes, from SROIE's transcription (``NAME.box.csv``), as if OCR
    had read them (confidence 0.9); the record i stands on ``bases[i % len(bases)]``, as
    ``scale.populate`` wrote it."""
    import io
    import json

    import psycopg
    from PIL import Image

    rows = []
    for b in bases:
        path = Path(b["path"])
        words = []
        for n, line in enumerate(path.with_suffix(".box.csv").read_text(errors="replace").splitlines()):
            parts = line.split(",", 8)
            if len(parts) != 9:
                continue
            xs, ys = [int(v) for v in parts[0:8:2]], [int(v) for v in parts[1:8:2]]
            for text in parts[8].split():
                words.append([text, min(xs), min(ys), max(xs), max(ys), 0.9, 0, n])
        width, height = Image.open(path).size
        pages = [{"page": 1, "source": "ocr", "engine": "transcribed", "width": width, "height": height,
                  "seconds": 0.0, "words": words}]
        text = " ".join(w[0] for w in words)
        rows.append((_copy_text(text), _copy_text(json.dumps(pages))))
    buf = io.StringIO()
    for i in range(size):
        text, pages = rows[i % len(rows)]
        buf.write(f"P{i:08d}\t{'0' * 64}\t{text}\t{pages}\n")
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY readings (evidence_id, sha256, text, pages) FROM STDIN") as copy:
            copy.write(buf.getvalue())


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslashes doubled; no tab or newline inside)."""
    return value.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tesseract_cpu(path: Path) -> float:
    before = child_cpu()
    subprocess.run(["tesseract", str(path), "stdout", "--psm", "6"], check=True, capture_output=True, timeout=120)
    return child_cpu() - before


def pdfium_cpu(path: Path) -> tuple[float, int]:
    import pypdfium2 as pdfium

    t0 = time.process_time()
    pdf = pdfium.PdfDocument(path.read_bytes())
    pages = len(pdf)
    for i in range(pages):
        tp = pdf[i].get_textpage()
        tp.get_text_range()
        tp.close()
    pdf.close()
    return time.process_time() - t0, pages


def full_ocr_cpu(path: Path, settings) -> float:  # noqa: ANN001
    """CPU of what the text-layer check did before: OCR of up to 3 text pages in full."""
    from forensics.documents import load_document
    from forensics.ocr import read_page

    doc = load_document(path.read_bytes(), claimed_type=None, settings=settings)
    t0 = time.process_time()
    for page in [p for p in doc.pages if p.has_text_layer and p.image is not None][:3]:
        read_page(page.number, page.image, settings)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="number of uploads")
    ap.add_argument("--store", type=int, default=10_000, help="records in the store before the uploads")
    ap.add_argument("--pdf", action="store_true", help="text PDFs against pypdfium2's text extraction")
    ap.add_argument("--engine", default="auto", help="FORENSICS_OCR_ENGINE for the ingest side")
    ap.add_argument("--profile", type=Path, default=None,
                    help="write cProfile statistics of the ingest side to this file (pstats)")
    args = ap.parse_args()
    import psycopg
    import scale

    from forensics.detectors.duplicates import indexes_for
    from forensics.pipeline import analyse
    from forensics.settings import Settings
    from forensics.store import Store
    from forensics.store.view import RegistryView

    admin = psycopg.connect(scale.POSTGRES, autocommit=True)
    url = scale.new_database(admin)
    work = tempfile.mkdtemp(prefix="forensics-ingest-")
    try:
        Store(url).close()
        # the index snapshot and the kept page features (:mod:`forensics.page_features`) of this run
        settings = Settings(database_url=url, blob_root="/", ocr_engine=args.engine, index_dir=work)
        if args.store and SROIE.is_dir():
            scans = sorted(SROIE.glob("*.jpg"))
            bases = scale.real_bases(scans[60:160], settings)
            scale.populate(url, args.store, bases, scale.measured_skew(bases), random.Random(5),
                           scale.page_features.folder(url, settings))
            add_readings(url, args.store, bases)
        store = Store(url, migrate=False)
        with store.transaction() as conn:  # worker start, not per upload
            indexes_for(url).catch_up(RegistryView(store, conn))
        with tempfile.TemporaryDirectory() as tmp:
            files = sorted(PDFS.glob("*.pdf"))[:args.n] if args.pdf else images(args.n, Path(tmp))
            ours, base, pages, removed = 0.0, 0.0, 0, 0.0
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
            for i, p in enumerate(files):
                def mine(i=i, p=p) -> float:  # noqa: ANN001
                    t0 = time.process_time()
                    if profiler is not None:
                        profiler.enable()
                    analyse({"evidence_id": f"B{i:05d}", "seller_id": f"S{i % 7}", "blob": str(p),
                             "uploaded_at": "2025-01-01T00:00:00Z"}, store, settings)
                    if profiler is not None:
                        profiler.disable()
                    return time.process_time() - t0
                if args.pdf:
                    other = lambda p=p: pdfium_cpu(p)  # noqa: E731
                else:
                    other = lambda p=p: (tesseract_cpu(p), 1)  # noqa: E731
                if i % 2:
                    b, n = other()
                    o = mine()
                else:
                    o = mine()
                    b, n = other()
                ours += o
                base += b
                pages += n
                if args.pdf:
                    removed += full_ocr_cpu(p, settings)
            if profiler is not None:
                profiler.dump_stats(str(args.profile))
        store.close()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"uploads: {len(files)} ({pages} pages) from {'invoices-pdf-dev' if args.pdf else 'sroie-dev'}; "
          f"store held {args.store} records; engine {args.engine}; CPU time, one core, interleaved")
    if args.pdf:
        print(f"forensics ingest: {pages / ours:.2f} pages per CPU second; pypdfium2 text only: {pages / base:.1f}; "
              f"ingest with the full-page OCR the text-layer check used to run: {pages / (ours + removed):.2f} "
              f"(speed-up {(ours + removed) / ours:.2f}x)")
        print(f"ingest_pages_per_cpu_s={pages / ours:.2f} pypdfium2_pages_per_cpu_s={pages / base:.1f} "
              f"ratio={(pages / ours) / (pages / base):.4f}")
    else:
        print(f"bare tesseract CLI (psm 6): {base / len(files):.3f} CPU s/receipt; forensics ingest "
              f"(everything, in process): {ours / len(files):.3f} CPU s/receipt")
        print(f"ingest_cpu_s_per_receipt={ours / len(files):.3f} tesseract_cli_cpu_s_per_receipt="
              f"{base / len(files):.3f} ratio={ours / base:.2f}")


if __name__ == "__main__":
    main()
