"""A careful forger against the single-document detectors, on real scans split by merchant.

Run by hand (not by CI; needs ../shared/datasets; OCR of every edited scan, ~1 s each, cached)::

    .venv/bin/python bench/tampering.py                      # both halves, every kind
    .venv/bin/python bench/tampering.py --half held-out      # the half nobody tunes on
    .venv/bin/python bench/tampering.py --half tune --limit 30 --kinds copy_move

The SROIE dev receipts are split by merchant (:mod:`bench.halves`), so a shop's receipts never
sit on both sides. Tune on ``tune``; quote ``held-out``.

For each scan of a half: the honest scan as it is, and one edit of each kind of
:mod:`fixtures.careful` (totals lowered and raised in a non-DejaVu font or with glyphs cut from
the same receipt, on paper cloned from the receipt; another amount of the receipt pasted over
the total; one item and every copy of the total raised alike), JPEG re-saved at quality 60-95.
Each goes through decoding, OCR (readings cached under ``bench/out/readings/careful/`` by the
image's sha256, the honest ones shared with ``bench/detectors_fp.py``), field extraction and
every single-document detector; the verdict is computed from their findings alone (no store,
no links).

A record is *flagged* when that verdict is not ``clean``; *at the edit* when a flagging finding's
box (or a number it names) overlaps an edited region. Per detector, ``alone`` is the share of
honest scans whose verdict that detector's findings alone would make not clean.
The last line per half: ``HALF honest_flagged=… max_alone=… KIND=flagged/at_edit …``.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import random
import sys
from collections import defaultdict
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import halves  # noqa: E402
from bench.detectors_fp import cached_reading  # noqa: E402

#: the honest receipts (read-only, outside the repository)
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
#: readings of honest scans (bench/detectors_fp.py's cache) and of edited ones
HONEST_CACHE = ROOT / "bench" / "out" / "readings" / "pipeline"
EDITED_CACHE = ROOT / "bench" / "out" / "readings" / "careful"
#: seed of the edits (which amounts, factors, fonts, JPEG qualities)
SEED = 20261206
#: JPEG quality of the re-save after the edit
JPEG_QUALITY = (60, 95)
HALVES = halves.HALVES


def split() -> dict[str, list[str]]:
    """The SROIE scan names of each half (:mod:`bench.halves`)."""
    return {h: [p.name for p in ps] for h, ps in halves.split(SROIE).items()}


def _reading(data: bytes, document: Any, settings: Any, honest_name: str | None) -> Any:

    if honest_name is not None and (HONEST_CACHE / (honest_name + ".pkl")).exists():
        with (HONEST_CACHE / (honest_name + ".pkl")).open("rb") as fh:
            return pickle.load(fh)[1]
    return cached_reading(data, document, settings, EDITED_CACHE)


def _overlaps(a: Any, b: Any) -> bool:
    return bool(a) and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def analyse(args: tuple[str, str]) -> dict[str, Any]:
    """One scan as ``kind`` (``honest`` or a kind of fixtures.careful) through the detectors."""
    from PIL import Image

    from fixtures import careful
    from fixtures.realscans import read_scan
    from forensics.detectors import Analysis
    from forensics.documents import load_document
    from forensics.events import UploadEvent
    from forensics.fields import extract
    from forensics.pipeline import single_document_detectors
    from forensics.settings import Settings
    from forensics.verdict import verdict_of

    name, kind = args
    settings = Settings(ocr_langs="eng")
    scan = read_scan(SROIE / name)
    regions: tuple[Any, ...] = ()
    if kind == "honest":
        data = (SROIE / name).read_bytes()
    else:
        rng = random.Random(f"{SEED}:{name}:{kind}")
        made = careful.make(kind, Image.open(scan.image_path), scan.lines, scan.total, rng)
        if made is None:
            return {"name": name, "kind": kind, "skipped": True}
        img, edit = made
        regions = edit.regions
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=rng.randint(*JPEG_QUALITY))
        data = buf.getvalue()
    document = load_document(data, claimed_type=None, settings=settings)
    reading = _reading(data, document, settings, name if kind == "honest" else None)
    extraction = extract(reading, document)
    analysis = Analysis(event=UploadEvent(evidence_id=scan.name, seller_id="S", blob=name,
                                          uploaded_at=datetime(2026, 1, 1, tzinfo=UTC)),
                        document=document, reading=reading, extraction=extraction, settings=settings)
    findings: dict[str, list[dict[str, Any]]] = {}
    checks: dict[str, str] = {}
    for det in single_document_detectors():
        try:
            result = det.run(analysis, None)
        except Exception as exc:  # noqa: BLE001 - a crash is a result worth counting
            checks[det.name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        checks[det.name] = result.status
        findings[det.name] = [f.to_json() for f in result.findings]
    everything = [f for fs in findings.values() for f in fs]
    _risk, verdict = verdict_of(everything, checks, settings)
    alone = {d: verdict_of(fs, {}, settings)[1] != "clean" for d, fs in findings.items()}
    # a finding points at the edit with its box, or with a box it names (numbers, a copy's source)
    at_edit = any(
        _overlaps(f.get("box"), r) or _overlaps((f.get("evidence") or {}).get("source_box"), r)
        or any(_overlaps(n.get("box"), r) for n in (f.get("evidence") or {}).get("numbers", []))
        for f in everything if f.get("severity") != "info" for r in regions)
    return {"name": name, "kind": kind, "verdict": verdict, "alone": alone, "at_edit": at_edit,
            "codes": sorted({f["code"] for f in everything if f.get("severity") != "info"})}


def report(half: str, results: list[dict[str, Any]], verbose: bool) -> None:
    """Print one half's table and summary line."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if not r.get("skipped"):
            by_kind[r["kind"]].append(r)
    honest = by_kind.get("honest", [])
    print(f"== {half}: {len(honest)} honest scans")
    summary = []
    if honest:
        flagged = [r for r in honest if r["verdict"] != "clean"]
        print(f"  honest            flagged={len(flagged):3d}/{len(honest)} rate={len(flagged) / len(honest):.3f}")
        worst = 0.0
        for det in sorted({d for r in honest for d in r["alone"]}):
            n = sum(r["alone"].get(det, False) for r in honest)
            worst = max(worst, n / len(honest))
            print(f"    {det:16s} alone={n:3d} rate={n / len(honest):.3f}")
        if verbose:
            for r in flagged:
                print(f"    flagged honest {r['name']}: {r['codes']}")
        summary += [f"honest_flagged={len(flagged) / len(honest):.3f}", f"max_alone={worst:.3f}"]
    for kind, rs in sorted(by_kind.items()):
        if kind == "honest":
            continue
        flagged = [r for r in rs if r["verdict"] != "clean"]
        at = [r for r in flagged if r["at_edit"]]
        codes: dict[str, int] = defaultdict(int)
        for r in flagged:
            for c in r["codes"]:
                codes[c] += 1
        print(f"  {kind:22s} n={len(rs):3d} flagged={len(flagged) / len(rs):.3f} at_edit={len(at) / len(rs):.3f} "
              f"codes={dict(sorted(codes.items(), key=lambda kv: -kv[1]))}")
        summary.append(f"{kind}={len(flagged) / len(rs):.2f}/{len(at) / len(rs):.2f}")
        if verbose:
            print("    missed: " + " ".join(r["name"] for r in rs if r["verdict"] == "clean"))
    print(f"{half} " + " ".join(summary))


def main() -> None:
    from fixtures import careful

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=(*HALVES, "both"), default="both")
    parser.add_argument("--limit", type=int, default=0, help="first N scans of each half")
    parser.add_argument("--kinds", default=",".join(careful.KINDS),
                        help=f"comma-separated kinds (default all: {','.join(careful.KINDS)})")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    kinds = ["honest", *[k for k in args.kinds.split(",") if k]]
    by_half = split()
    for half in HALVES if args.half == "both" else (args.half,):
        names = by_half[half][: args.limit or None]
        with Pool(args.jobs) as pool:
            results = pool.map(analyse, [(n, k) for n in names for k in kinds], chunksize=1)
        report(half, results, args.verbose)


if __name__ == "__main__":
    main()
