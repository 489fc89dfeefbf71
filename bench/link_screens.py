"""Could a cheap screen reject a candidate page before the full alignment? Measured per class.

Run by hand, not by CI (OCR and alignments of real scans; ~10 min for a half at load 15)::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/link_screens.py --half tune [--unrelated 150] [--workers 2]

On one half of ../shared/datasets/sroie-dev (``bench/halves.py``), every receipt is read and
fingerprinted as ingestion does, and so is a re-upload of it (``fixtures.forgeries.reupload``:
crop, rotation, rescale, JPEG). Pairs: each receipt with its re-upload (``reupload``), every two
receipts of one shop (``same_shop``, with the kind the full alignment gives them), and
``--unrelated`` pairs of different shops that the candidate search would propose (text hash
within ``TEXT_RADIUS`` or a pixel hash within ``WIDE_PIXEL_RADIUS``). Per class it prints the
distribution of three screens, each of which would have to reject unrelated pairs without ever
rejecting a re-upload or a pair the alignment links:

- ``hashes``: the sum of the four hash distances (pHash, dHash, layout, text);
- ``shingles``: the share of 3-character shingles of the words read that both pages have (of
  the smaller set; pages with fewer than ``MIN_TEXT_SHINGLES`` are left out);
- ``orb_small``: RANSAC inliers of ORB features on a raster of ``--screen-pixels`` (the full
  alignment registers 1 Mpx rasters with 1200 features).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import sys
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"

import numpy as np  # noqa: E402

SCREEN_PIXELS = 250_000


def _read(path: str) -> dict:
    """Fingerprints and words of a receipt and of its re-upload."""
    from PIL import Image

    from fixtures.forgeries import reupload
    from forensics.documents import load_document
    from forensics.fingerprints import fingerprint_page
    from forensics.ocr import read_document
    from forensics.settings import Settings

    settings = Settings()
    out = {}
    p = Path(path)
    for tag in ("orig", "re"):
        data = p.read_bytes() if tag == "orig" else reupload(Image.open(p).convert("L"), random.Random(p.name))
        doc = load_document(data, claimed_type=None, settings=settings)
        words = [w.text for w in read_document(doc, settings).pages[0].words]
        fp = fingerprint_page(1, doc.pages[0].image, words=words)
        out[tag] = {"hashes": (fp.phash, fp.dhash, fp.layout_hash, fp.text_hash), "words": words, "data": data}
    return out


def _small_orb(image) -> tuple:  # noqa: ANN001
    import cv2

    from forensics.page_features import work_raster

    arr = work_raster(image).arr
    s = min(1.0, float(np.sqrt(SCREEN_PIXELS / arr.size)))
    small = cv2.resize(arr, (round(arr.shape[1] * s), round(arr.shape[0] * s)), interpolation=cv2.INTER_AREA)
    return cv2.ORB_create(nfeatures=500, fastThreshold=12).detectAndCompute(small, None)


def _pair(job: tuple) -> tuple:
    """(class, alignment kind, small-raster ORB inliers) of one pair of page bytes."""
    import cv2
    from PIL import Image

    from forensics.alignment import MATCH_RATIO, RANSAC_PX, compare_pages

    cls, a, b = job
    ia, ib = (Image.open(io.BytesIO(x)).convert("L") for x in (a, b))
    (ka, da), (kb, db) = _small_orb(ia), _small_orb(ib)
    inliers = 0
    if da is not None and db is not None and len(ka) >= 2 and len(kb) >= 2:
        good = [p[0] for p in cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(db, da, k=2)
                if len(p) == 2 and p[0].distance < MATCH_RATIO * p[1].distance]
        if len(good) >= 3:
            _, inl = cv2.estimateAffinePartial2D(np.float32([kb[m.queryIdx].pt for m in good]),
                                                 np.float32([ka[m.trainIdx].pt for m in good]),
                                                 method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
            inliers = 0 if inl is None else int(inl.sum())
    return cls, compare_pages(ia, ib).kind, inliers


def _shingles(words: list[str]) -> set[str]:
    out = set()
    for w in words:
        t = re.sub(r"[^0-9A-Z]", "", w.upper())
        out.update(t[i:i + 3] for i in range(len(t) - 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", default="tune", choices=("tune", "held-out"))
    ap.add_argument("--unrelated", type=int, default=150)
    ap.add_argument("--limit", type=int, default=None, help="first N receipts of the half")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import halves

    from forensics.detectors.duplicates import WIDE_PIXEL_RADIUS
    from forensics.fingerprints import MIN_TEXT_SHINGLES, TEXT_RADIUS, hamming

    paths = halves.split(SROIE)[args.half][:args.limit]
    shop = {p.name: halves.merchant_key(json.loads(p.with_suffix(".key.json").read_text()).get("company", ""))
            for p in paths}
    with Pool(args.workers) as pool:
        read = dict(zip([p.name for p in paths], pool.map(_read, [str(p) for p in paths], chunksize=2), strict=True))
    pairs = [("reupload", read[n]["orig"], read[n]["re"]) for n in read]
    names = sorted(read)
    unrelated = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            x, y = read[a]["orig"], read[b]["orig"]
            if shop[a] == shop[b]:
                pairs.append(("same_shop", x, y))
                continue
            hx, hy = x["hashes"], y["hashes"]
            text = hx[3] is not None and hy[3] is not None and hamming(hx[3], hy[3]) <= TEXT_RADIUS
            if text or min(hamming(hx[0], hy[0]), hamming(hx[1], hy[1])) <= WIDE_PIXEL_RADIUS:
                unrelated.append(("unrelated", x, y))
    pairs += random.Random(args.seed).sample(unrelated, min(args.unrelated, len(unrelated)))
    with Pool(args.workers) as pool:
        aligned = pool.map(_pair, [(c, x["data"], y["data"]) for c, x, y in pairs], chunksize=2)
    table: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (cls, x, y), (_, kind, inliers) in zip(pairs, aligned, strict=True):
        key = (cls, kind)
        hx, hy = x["hashes"], y["hashes"]
        if hx[3] is not None and hy[3] is not None:
            table[key]["hashes"].append(sum(hamming(u, v) for u, v in zip(hx, hy, strict=True)))
        sx, sy = _shingles(x["words"]), _shingles(y["words"])
        if min(len(sx), len(sy)) >= MIN_TEXT_SHINGLES:
            table[key]["shingles"].append(len(sx & sy) / min(len(sx), len(sy)))
        table[key]["orb_small"].append(inliers)
    print(f"half={args.half} receipts={len(paths)} pairs={len(pairs)} (unrelated candidates: {len(unrelated)})")
    for (cls, kind), screens in sorted(table.items()):
        for name, vals in screens.items():
            v = np.array(vals, dtype=float)
            print(f"{cls:10s} {kind:12s} {name:10s} n={len(v):4d} min={v.min():7.3f} "
                  f"p5={np.percentile(v, 5):7.3f} p50={np.percentile(v, 50):7.3f} "
                  f"p95={np.percentile(v, 95):7.3f} max={v.max():7.3f}")


if __name__ == "__main__":
    main()
