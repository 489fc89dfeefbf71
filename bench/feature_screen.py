"""Does skipping the phase-correlation fallback for feature-rich pages change any comparison?

Run by hand, not by CI::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/feature_screen.py --half tune [--same-shop 60] [--reuploads 40]

On one half of ../shared/datasets/sroie-dev (``bench/halves.py``): random pairs of receipts of
the same shop, and re-uploads of random receipts (``tests.receipt_pages.reupload``: crop,
rotation, rescale, JPEG), each compared by :func:`forensics.alignment.compare_pages` as it is
(two pages of at least ``RICH_KEYPOINTS`` keypoints that do not register by features are
unrelated) and with the fallback for every page (the rule before). Prints the count of each
(class, before, now).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from PIL import Image  # noqa: E402

from bench import halves  # noqa: E402
from forensics import alignment  # noqa: E402
from tests.receipt_pages import reupload  # noqa: E402

SROIE = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "sroie-dev"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", default="tune", choices=halves.HALVES)
    ap.add_argument("--same-shop", type=int, default=60)
    ap.add_argument("--reuploads", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    paths = halves.split(SROIE)[args.half]
    rng = random.Random(args.seed)
    by_shop: dict[str, list[Path]] = defaultdict(list)
    for p in paths:
        by_shop[halves.merchant_key(json.loads(p.with_suffix(".key.json").read_text()).get("company", ""))].append(p)
    pairs = [("same_shop", a, b) for v in by_shop.values() for i, a in enumerate(v) for b in v[i + 1:]]
    rng.shuffle(pairs)
    pairs = pairs[:args.same_shop] + [("reupload", p, None) for p in rng.sample(paths, args.reuploads)]
    rich = alignment.RICH_KEYPOINTS
    out: Counter = Counter()
    for cls, a, b in pairs:
        ia = Image.open(a).convert("L")
        ib = reupload(ia, rng) if b is None else Image.open(b).convert("L")
        now = alignment.compare_pages(ia, ib).kind
        alignment.RICH_KEYPOINTS = 10**9  # the fallback for every page
        before = alignment.compare_pages(ia, ib).kind
        alignment.RICH_KEYPOINTS = rich
        out[(cls, before, now)] += 1
    for (cls, before, now), n in sorted(out.items()):
        print(f"{cls:10s} before={before:12s} now={now:12s} {n}")
    changed = sum(n for (_c, b, w), n in out.items() if b != w)
    print(f"half={args.half} pairs={sum(out.values())} changed={changed}")


if __name__ == "__main__":
    main()
