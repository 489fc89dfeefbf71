"""Measure page fingerprints and pairwise confirmation on generated (and real) receipts.

Over N generated pairs of each relation class (same_file, same_image re-upload, edited_copy,
same_layout = honest receipts of one shop, unrelated = different shops) it prints the
distribution of phash / dhash / layout-hash distances per class, the confusion matrix of
:func:`forensics.alignment.compare_pages` and its time per pair. With ``--sroie DIR`` (default:
../shared/datasets/sroie-dev when present) it also hashes the real SROIE receipts and reports
distances between honest receipts of the same shop vs different shops.

    python bench/fingerprints.py --pairs 40
    python bench/fingerprints.py --pairs 10 --no-sroie
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from itertools import combinations

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from forensics.alignment import KINDS, compare_pages  # noqa: E402
from forensics.fingerprints import fingerprint_page, hamming  # noqa: E402
from tests.receipt_pages import (  # noqa: E402
    edited_copy,
    make_shop,
    render_scan,
    reupload,
)

DEFAULT_SROIE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "sroie-dev")


def make_pairs(kind: str, n: int, seed: int) -> list[tuple[Image.Image, Image.Image, bytes | None]]:
    rng = random.Random(f"{seed}-{kind}")
    out = []
    for _ in range(n):
        shop = make_shop(rng)
        a, fields = render_scan(shop, rng)
        if kind == "same_file":
            out.append((a, a, None))
        elif kind == "same_image":
            out.append((a, reupload(a, rng), None))
        elif kind == "edited_copy":
            out.append((a, edited_copy(a, fields, shop, rng, degrade=rng.random() < 0.5)[0], None))
        elif kind == "same_layout":
            out.append((a, render_scan(shop, rng)[0], None))
        else:
            out.append((a, render_scan(make_shop(rng), rng)[0], None))
    return out


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def make_pairs_fixtures(kind: str, n: int, seed: int) -> list[tuple[Image.Image, Image.Image, bytes | None]]:
    """The same classes from the project's own document generator (fixtures/)."""
    from decimal import Decimal

    from fixtures import forgeries, receipts, shops

    rng = random.Random(f"fx-{seed}-{kind}")
    out = []
    for _ in range(n):
        shop = shops.make_shop(rng)
        img, truth = receipts.render_receipt(shop, receipts.make_receipt_data(shop, rng), rng)
        a = _jpeg(img, rng.randint(85, 95))
        if kind == "same_file":
            b = a
        elif kind == "same_image":
            b = Image.open(io.BytesIO(forgeries.reupload(a, rng)))
        elif kind == "edited_copy":
            new_total = (Decimal(truth.total) * Decimal("1.7")).quantize(Decimal("0.01"))
            changes = {"total": f"{new_total}"}
            if rng.random() < 0.5:
                changes["date"] = forgeries.shifted_date(truth, rng.randint(1, 40))
            edited, _ = forgeries.edited_copy(a, truth, changes, rng)
            b = _jpeg(edited, rng.randint(70, 92))
        elif kind == "same_layout":
            img2, _ = receipts.render_receipt(shop, receipts.make_receipt_data(shop, rng), rng)
            b = _jpeg(img2, rng.randint(85, 95))
        else:
            other = shops.make_shop(rng)
            img2, _ = receipts.render_receipt(other, receipts.make_receipt_data(other, rng), rng)
            b = _jpeg(img2, rng.randint(85, 95))
        out.append((a, b, None))
    return out


def pct(values: list[int]) -> str:
    if not values:
        return "-"
    q = np.percentile(values, [0, 5, 50, 95, 100])
    return "min {:.0f} p5 {:.0f} med {:.0f} p95 {:.0f} max {:.0f}".format(*q)


def synthetic(n: int, seed: int, generator: str) -> None:
    confusion: dict[str, Counter[str]] = {}
    dists: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    times: list[float] = []
    cpu: list[float] = []
    for kind in KINDS:
        confusion[kind] = Counter()
        make = make_pairs_fixtures if generator == "fixtures" else make_pairs
        for a, b, _ in make(kind, n, seed):
            fa, fb = fingerprint_page(1, a), fingerprint_page(1, b)
            for name in ("phash", "dhash", "layout_hash"):
                dists[kind][name].append(hamming(getattr(fa, name), getattr(fb, name)))
            t0, c0 = time.perf_counter(), time.process_time()
            same = kind == "same_file"
            rel = compare_pages(a, b, a_sha="x" if same else "a", b_sha="x" if same else "b")
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            confusion[kind][rel.kind] += 1
    print(f"\nHash distances over {n} generated pairs per class ({generator} generator)")
    for kind in KINDS:
        for name in ("phash", "dhash", "layout_hash"):
            print(f"  {kind:12s} {name:11s} {pct(dists[kind][name])}")
    print("\nCandidate rates (fraction of pairs within radius)")
    for name, radii in (("phash", (6, 10, 14)), ("dhash", (6, 10, 14)), ("layout_hash", (8, 12, 16))):
        for r in radii:
            row = " ".join(f"{k}={np.mean(np.array(dists[k][name]) <= r):.2f}" for k in KINDS)
            print(f"  {name:11s} r<={r:2d}: {row}")
    print("\ncompare_pages confusion (rows: truth, columns: predicted)")
    print("  " + " " * 12 + "".join(f"{k:>13s}" for k in KINDS))
    for kind in KINDS:
        print(f"  {kind:12s}" + "".join(f"{confusion[kind][k]:13d}" for k in KINDS))
    print(f"compare_pages ms/pair: median {1000 * np.median(times):.1f} "
          f"p95 {1000 * np.percentile(times, 95):.1f} (cpu, all threads: median "
          f"{1000 * np.median(cpu):.1f}); same_file pairs included (0 ms)")


def sroie(folder: str) -> None:
    paths = sorted(glob.glob(os.path.join(folder, "*.jpg")))
    if not paths:
        print(f"\nno SROIE receipts in {folder}")
        return
    fps, shops = [], []
    t0 = time.perf_counter()
    for p in paths:
        with open(p, "rb") as fh:
            data = fh.read()
        fps.append(fingerprint_page(1, Image.open(io.BytesIO(data))))
        with open(p[:-4] + ".key.json", encoding="utf-8") as fh:
            shops.append(json.load(fh).get("company", "").strip().upper())
    ms = 1000 * (time.perf_counter() - t0) / len(paths)
    print(f"\nSROIE: {len(paths)} real receipts, {len(set(shops))} shops, {ms:.1f} ms/page to fingerprint")
    same: dict[str, list[int]] = defaultdict(list)
    diff: dict[str, list[int]] = defaultdict(list)
    for i, j in combinations(range(len(fps)), 2):
        target = same if shops[i] == shops[j] else diff
        for name in ("phash", "dhash", "layout_hash"):
            target[name].append(hamming(getattr(fps[i], name), getattr(fps[j], name)))
    for name in ("phash", "dhash", "layout_hash"):
        print(f"  same shop  {name:11s} {pct(same[name])}  (n={len(same[name])})")
        print(f"  other shop {name:11s} {pct(diff[name])}  (n={len(diff[name])})")
    for name in ("phash", "dhash", "layout_hash"):
        for r in (4, 6, 8, 10, 12, 16):
            s = np.mean(np.array(same[name]) <= r)
            d = np.mean(np.array(diff[name]) <= r)
            print(f"  {name:11s} r<={r:2d}: same-shop pairs {s:.3f}  other-shop pairs {d:.4f}")
    # the figure the issue quotes: receipts with at least one other-shop receipt within radius
    for name in ("phash", "dhash"):
        for r in (4, 10):
            flagged = 0
            for i in range(len(fps)):
                if any(shops[j] != shops[i] and hamming(getattr(fps[i], name), getattr(fps[j], name)) <= r
                       for j in range(len(fps)) if j != i):
                    flagged += 1
            print(f"  {name} r<={r}: {flagged / len(fps):.3f} of receipts have an other-shop hash neighbour")


def sroie_pairs(folder: str, limit: int, seed: int) -> None:
    """compare_pages on real receipts: honest same-shop pairs, and simulated re-uploads."""
    from fixtures.forgeries import reupload as fx_reupload

    paths = sorted(glob.glob(os.path.join(folder, "*.jpg")))
    shops = {}
    for p in paths:
        with open(p[:-4] + ".key.json", encoding="utf-8") as fh:
            shops[p] = json.load(fh).get("company", "").strip().upper()
    same = [(p, q) for p, q in combinations(paths, 2) if shops[p] == shops[q]]
    rng = random.Random(seed)
    rng.shuffle(same)
    kinds: Counter[str] = Counter()
    times = []
    for p, q in same[:limit]:
        a, b = Image.open(p), Image.open(q)
        c0 = time.process_time()
        kinds[compare_pages(a, b).kind] += 1
        times.append(time.process_time() - c0)
    n = sum(kinds.values())
    flagged = kinds["same_image"] + kinds["edited_copy"]
    print(f"\nSROIE honest same-shop pairs through compare_pages: {dict(kinds)}; "
          f"flagged as copies {flagged}/{n} = {flagged / max(n, 1):.3f}; "
          f"cpu ms/pair median {1000 * np.median(times):.0f}")
    re_kinds: Counter[str] = Counter()
    for p in rng.sample(paths, min(limit, len(paths))):
        a = Image.open(p)
        b = Image.open(io.BytesIO(fx_reupload(a, rng)))
        re_kinds[compare_pages(a, b).kind] += 1
    n = sum(re_kinds.values())
    found = re_kinds["same_image"] + re_kinds["edited_copy"]
    print(f"SROIE simulated re-uploads (fixtures.forgeries.reupload): {dict(re_kinds)}; "
          f"found {found}/{n} = {found / max(n, 1):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=30, help="generated pairs per class")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sroie", default=DEFAULT_SROIE)
    ap.add_argument("--no-sroie", action="store_true")
    ap.add_argument("--sroie-pairs", type=int, default=150,
                    help="real same-shop pairs (and re-uploads) to run through compare_pages")
    ap.add_argument("--generator", choices=("mini", "fixtures", "both"), default="both",
                    help="tests/receipt_pages.py (mini) or the project's fixtures/ generator")
    args = ap.parse_args()
    for gen in ("mini", "fixtures") if args.generator == "both" else (args.generator,):
        synthetic(args.pairs, args.seed, gen)
    if not args.no_sroie and os.path.isdir(args.sroie):
        sroie(args.sroie)
        sroie_pairs(args.sroie, args.sroie_pairs, args.seed)


if __name__ == "__main__":
    main()
