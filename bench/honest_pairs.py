"""Honest same-shop pairs: alignment over every pair of different SROIE receipts of one shop.

Run by hand, not by CI (needs ../shared/datasets/sroie-dev)::

    .venv/bin/python bench/honest_pairs.py                   # every pair (capped per shop)
    .venv/bin/python bench/honest_pairs.py --per-shop 10     # at most 10 pairs a shop

Two different receipts of one shop are the hard negative of :func:`forensics.alignment.compare_pages`:
they share the layout and, scanned on one scanner, part of the paper noise. Any pair classified
``same_image`` or ``edited_copy`` is a false link (an honest seller accused of a re-upload or an
edited template); the script lists them with their measures. The last line is
``pairs=… same_image=… edited_copy=… false_links=…``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from forensics.alignment import compare_pages  # noqa: E402
from forensics.fingerprints import normalise_merchant  # noqa: E402

#: the SROIE development scans (read-only, beside the repository)
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
#: kinds that link two uploads as one scan
FALSE_LINK_KINDS = ("same_image", "edited_copy")
#: measures printed for each false link
SHOWN = ("changed_fraction", "noise_corr", "ink_agreement", "boxes", "tolerant_boxes", "text_px", "exact_compare")


def shops(root: Path) -> dict[str, list[Path]]:
    """Scans grouped by their normalised company name (shops with two receipts or more)."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for key in sorted(root.glob("*.key.json")):
        company = json.loads(key.read_text()).get("company") or ""
        scan = key.with_name(key.name.replace(".key.json", ".jpg"))
        if company and scan.exists():
            groups[normalise_merchant(company)].append(scan)
    return {k: v for k, v in groups.items() if len(v) >= 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-shop", type=int, default=30, help="most pairs aligned per shop")
    args = ap.parse_args()
    if not SROIE.is_dir():
        sys.exit(f"needs {SROIE}")
    groups = shops(SROIE)
    kinds: Counter[str] = Counter()
    false_links = []
    started = time.time()
    for shop, scans in sorted(groups.items()):
        pages = {p: Image.open(p).convert("L") for p in scans}
        for a, b in itertools.islice(itertools.combinations(scans, 2), args.per_shop):
            rel = compare_pages(pages[b], pages[a])
            kinds[rel.kind] += 1
            if rel.kind in FALSE_LINK_KINDS:
                shown = {k: rel.details[k] for k in SHOWN if k in rel.details}
                false_links.append(f"{b.stem} -> {a.stem} ({shop}): {rel.kind} {rel.score} {shown}")
    for line in false_links:
        print(line)
    pairs = sum(kinds.values())
    print(f"{len(groups)} shops, {pairs} pairs in {time.time() - started:.0f} s: {dict(sorted(kinds.items()))}")
    print(f"pairs={pairs} same_image={kinds['same_image']} edited_copy={kinds['edited_copy']} "
          f"false_links={kinds['same_image'] + kinds['edited_copy']}")


if __name__ == "__main__":
    main()
