"""Seconds per receipt: `forensics ingest` (the whole analysis) vs the bare `tesseract` CLI.

Run by hand, not by CI::

    .venv/bin/python bench/ingest.py [--n 40] [--engine auto|tesserocr|pytesseract]

Uses the first N receipt scans of ../shared/datasets/sroie-dev when present, else generated
receipts (fixtures). Both sides run on one core (OMP_THREAD_LIMIT=1), sequentially, on the same
images, in this run; the baseline is `tesseract IMAGE stdout --psm 6` per image, which is what a
bare OCR costs including its process start-up. The last line is
``ingest_s_per_receipt=X tesseract_cli_s_per_receipt=Y ratio=Z``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
ROOT = Path(__file__).resolve().parent.parent
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"


def images(n: int, work: Path) -> list[Path]:
    if SROIE.is_dir():
        return sorted(SROIE.glob("*.jpg"))[:n]
    sys.path.insert(0, str(ROOT))
    import random

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="number of receipts")
    ap.add_argument("--engine", default="auto", help="FORENSICS_OCR_ENGINE for the ingest side")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        imgs = images(args.n, work)
        started = time.perf_counter()
        for p in imgs:
            subprocess.run(["tesseract", str(p), "stdout", "--psm", "6"], check=True,
                           capture_output=True, timeout=120)
        cli_s = (time.perf_counter() - started) / len(imgs)

        manifest = work / "MANIFEST.csv"
        with manifest.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["evidence_id", "seller_id", "path"])
            for i, p in enumerate(imgs):
                w.writerow([f"B{i:04d}", f"S{i % 7}", str(p)])
        env = dict(os.environ, FORENSICS_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
                   FORENSICS_BLOB_ROOT="/", FORENSICS_OCR_ENGINE=args.engine, FORENSICS_BROKER_URL="")
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "forensics", "ingest", str(manifest), "--json"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        ingest_s = (time.perf_counter() - started) / len(imgs)
        if run.returncode not in (0, 3):
            sys.exit(f"ingest failed: {run.stderr[-2000:]}")
    print(f"receipts: {len(imgs)} from {'sroie-dev' if SROIE.is_dir() else 'generated fixtures'}; "
          f"engine {args.engine}; one core")
    print(f"bare tesseract CLI (psm 6, OCR only):       {cli_s:.3f} s/receipt")
    print(f"forensics ingest (decode, OCR, fields, hashes, detectors, linking, store, process start): "
          f"{ingest_s:.3f} s/receipt")
    print(f"ingest_s_per_receipt={ingest_s:.3f} tesseract_cli_s_per_receipt={cli_s:.3f} ratio={ingest_s / cli_s:.2f}")


if __name__ == "__main__":
    main()
