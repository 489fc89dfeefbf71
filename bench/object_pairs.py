"""Text-layer page pairs: the pixel alignment's class against the PDF-object comparison's.

Every pair of text-layer pages the linking step would align (same page shape, not told apart
by :func:`forensics.text_layers.screen`): the 47 invoices-pdf-dev PDFs, plus generated invoices
(``--synth N``: N templates, each with a second invoice of other values, an edited copy with
one amount changed in the PDF, and an identical re-issue). Prints the confusion matrix
(rows: alignment, columns: objects), the pairs that differ, and CPU per pair of each::

    .venv/bin/python bench/object_pairs.py [--synth 6] [--limit 47]

Last line: ``pairs=… agree=… align_ms=… objects_ms=…``.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"


def _synth(n: int) -> list[tuple[str, bytes]]:
    from dataclasses import replace
    from decimal import Decimal

    from fixtures.invoices import make_invoice_data, render_invoice_pdf
    from fixtures.shops import make_shop

    out = []
    for i in range(n):
        rng = random.Random(1000 + i)
        shop, data = make_invoice_data(make_shop(rng, rng.choice(("de-DE", "en-GB", "fr-FR"))), rng)
        _, other = make_invoice_data(shop, random.Random(2000 + i))
        edited = replace(data, total=data.total + Decimal("100.00"))
        for tag, d in (("a", data), ("b", other), ("edit", edited), ("again", data)):
            pdf, _ = render_invoice_pdf(shop, d, einvoice_xml=False, producer=None, rng=random.Random(i))
            out.append((f"synth{i}-{tag}", pdf))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synth", type=int, default=6)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()

    from forensics import page_objects, text_layers
    from forensics.alignment import compare_pages, prepare
    from forensics.documents import load_document
    from forensics.settings import Settings

    settings = Settings.from_env({})
    files = [(p.name, p.read_bytes()) for p in sorted((DATASETS / "invoices-pdf-dev").glob("*.pdf"))]
    files = files[: args.limit] + _synth(args.synth)
    pages = []
    for name, data in files:
        for p in load_document(data, claimed_type="application/pdf", settings=settings).pages:
            if p.text_words:
                words = [(w.text, w.box) for w in p.text_words]
                pages.append((name, p, words))
    prepared: dict[int, object] = {}
    inks: dict[int, object] = {}

    def ink(page):  # noqa: ANN001, ANN202 - each page's ink once, as the pipeline keeps it
        if id(page) not in inks:
            inks[id(page)] = page_objects.layout_ink(page.image)
        return inks[id(page)]
    cache_path = ROOT / "bench" / "out" / "object_pairs_pixels.pkl"
    cache = pickle.loads(cache_path.read_bytes()) if cache_path.exists() else {}
    confusion: Counter[tuple[str, str]] = Counter()
    differ = []
    t_align = t_obj = 0.0
    n = 0
    for i, (na, pa, wa) in enumerate(pages):
        for nb, pb, wb in pages[:i]:
            if na == nb or text_layers.screen(wa, pa.image.size, wb, pb.image.size) is not None:
                continue
            if abs(pa.width - pb.width) > 0.01 * pa.width or abs(pa.height - pb.height) > 0.01 * pa.height:
                continue
            key = (na, pa.number, hashlib.sha1(pa.image.tobytes()).hexdigest(), nb, pb.number, hashlib.sha1(pb.image.tobytes()).hexdigest())
            if key not in cache:
                t = time.process_time()
                if id(pa) not in prepared:
                    prepared[id(pa)] = prepare(pa.image)
                if id(pb) not in prepared:
                    prepared[id(pb)] = prepare(pb.image)
                cache[key] = compare_pages(prepared[id(pa)], prepared[id(pb)])
                cache[key].details["cpu_s"] = time.process_time() - t
            pix = cache[key]
            t_align += pix.details["cpu_s"]
            t = time.process_time()
            obj = (page_objects.compare(wa, pa.graphics, wb, pb.graphics, pb.image.size,
                                        lambda pa=pa, pb=pb: page_objects.ink_agreement(ink(pa), ink(pb)))
                   if pa.graphics is not None and pb.graphics is not None else None)
            t_obj += time.process_time() - t
            n += 1
            got = obj.kind if obj is not None else "pixels"
            confusion[(pix.kind, got)] += 1
            if got != pix.kind:
                differ.append(f"{na}#{pa.number} vs {nb}#{pb.number}: pixels {pix.kind} "
                              f"{pix.differing_boxes} {({k: pix.details.get(k) for k in ('ink_agreement', 'changed_fraction', 'boxes')})}"
                              f" | objects {got} {obj.differing_boxes if obj else ''} {obj.details if obj else ''}")
            elif got == "edited_copy":
                print(f"edited both: {na} vs {nb}: pixels {pix.differing_boxes} objects {obj.differing_boxes}")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_bytes(pickle.dumps(cache))
    kinds = ("same_image", "edited_copy", "same_layout", "unrelated", "pixels")
    print(f"{'pixels/objects':18}" + "".join(f"{k:>13}" for k in kinds))
    for k in kinds[:-1]:
        print(f"{k:18}" + "".join(f"{confusion[(k, o)]:13d}" for o in kinds))
    print("\n".join(differ))
    agree = sum(v for (a, b), v in confusion.items() if a == b)
    print(f"pairs={n} agree={agree} align_ms={1000 * t_align / max(1, n):.1f} "
          f"objects_ms={1000 * t_obj / max(1, n):.2f}")


if __name__ == "__main__":
    main()
