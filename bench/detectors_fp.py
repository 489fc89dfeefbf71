"""False-positive rate of each single-document detector on honest real receipts (SROIE dev).

Run by hand (not by CI)::

    .venv/bin/python bench/detectors_fp.py [--limit N] [--claims] [--verbose]
    .venv/bin/python bench/detectors_fp.py --pdfs          # the honest PDF invoices
    .venv/bin/python bench/detectors_fp.py --tampered 60   # recall on generated forgeries
    .venv/bin/python bench/detectors_fp.py --tampered-real 60  # recall on repainted real scans

Every receipt of ``../shared/datasets/sroie-dev`` is honest, so every finding of severity
``low`` or above is a false positive. Readings are cached under ``bench/out/readings/`` (shared
with ``bench/extraction.py``); the images are decoded again each run (cheap). With ``--claims``
the upload event claims the ground-truth total, date and merchant, as an honest seller would.

``--tampered-real N`` takes N of those scans whose total can be found on the page
(:func:`fixtures.realscans.find_total`), repaints the total raised 1.3-3x exactly like the
``tampered_total`` kind of ``bench/quality.py`` (seeded), JPEG-encodes it and reads it through
the pipeline's OCR; those readings are cached under ``bench/out/readings/tampered-real/`` keyed
by the edited image's sha256, so a rerun only pays for the detectors.

Prints one line per detector: runs, skips, failures, receipts flagged and the rate; the last
line is ``detectors_fp max_rate=… any_rate=…`` (any = receipts flagged by at least one).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: the honest receipts (read-only, outside the repository)
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
#: honest PDF invoices with embedded e-invoice XML (``--pdfs``)
INVOICES = ROOT.parent / "shared" / "datasets" / "invoices-pdf-dev"
#: readings cached between runs (git-ignored); the layout of bench/extraction.py's cache
CACHE = ROOT / "bench" / "out" / "readings" / "pipeline"
#: readings of the repainted real scans (``--tampered-real``), keyed by the JPEG's sha256
TAMPERED_CACHE = ROOT / "bench" / "out" / "readings" / "tampered-real"
#: seed of the ``--tampered-real`` set (which scans, factors, JPEG qualities)
TAMPERED_SEED = 20261123
#: the factor a forger raises the total by, as bench/quality.py's ``tampered_total``
RAISE = (1.3, 3.0)
#: JPEG qualities of an upload, as bench/quality.py
JPEG_QUALITY = (85, 95)
#: days between a receipt's true date and its honest upload
UPLOAD_DELAY_DAYS = 7
#: severities that count as flagging an upload
FLAGGING = ("low", "medium", "high")


def _reading(path: Path, document: Any, settings: Any) -> Any:
    if path.suffix.lower() == ".pdf":
        from forensics.ocr import read_document

        return read_document(document, settings)  # text layers: milliseconds, not cached
    target = CACHE / (path.name + ".pkl")
    if target.exists():
        with target.open("rb") as fh:
            return pickle.load(fh)[1]
    from dataclasses import replace

    from forensics.ocr import read_document

    reading = read_document(document, settings)
    slim = replace(document, pages=tuple(replace(p, image=None) for p in document.pages))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        pickle.dump((slim, reading), fh)
    return reading


def _claims(key: dict[str, str]) -> dict[str, str]:
    from forensics.fields.dates import parse_date

    out = {"merchant": key.get("company", ""), "total": key.get("total", "")}
    iso = parse_date(key.get("date", ""))
    if iso:
        out["date"] = iso
    return {k: v for k, v in out.items() if v}


def analyse_one(args: tuple[str, bool]) -> dict[str, Any]:
    """Run every single-document detector on one receipt; their statuses and findings."""
    name, with_claims = args
    from forensics.detectors import Analysis
    from forensics.documents import load_document
    from forensics.events import UploadEvent
    from forensics.fields import extract
    from forensics.pipeline import single_document_detectors
    from forensics.settings import Settings

    settings = Settings(ocr_langs="eng")
    path = SROIE / name if (SROIE / name).exists() else INVOICES / name
    document = load_document(path.read_bytes(), claimed_type=None, settings=settings)
    reading = _reading(path, document, settings)
    extraction = extract(reading, document)
    claimed: dict[str, str] = {}
    key_file = path.with_suffix(".key.json")
    key = json.loads(key_file.read_text()) if key_file.exists() else {}
    if with_claims:
        claimed = _claims(key)
    # honest sellers upload soon after buying: a week after the true date (now when unknown)
    uploaded = datetime.now(UTC)
    true_date = _claims(key).get("date")
    if true_date:
        uploaded = datetime.fromisoformat(true_date).replace(tzinfo=UTC) + timedelta(days=UPLOAD_DELAY_DAYS)
    event = UploadEvent(evidence_id=path.stem, seller_id="S", blob=name,
                        uploaded_at=uploaded, claimed=claimed)
    analysis = Analysis(event=event, document=document, reading=reading, extraction=extraction,
                        settings=settings)
    out: dict[str, Any] = {"name": name, "checks": {}, "findings": {}}
    for det in single_document_detectors():
        try:
            result = det.run(analysis, None)
        except Exception as exc:  # noqa: BLE001 - a crash is a result worth counting
            out["checks"][det.name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        out["checks"][det.name] = result.status
        out["findings"][det.name] = [f.to_json() for f in result.findings]
    return out


def tampered_one(seed: int) -> dict[str, Any]:
    """One generated receipt with a tampered total (fixtures.forgeries), JPEG-encoded as
    uploaded, through decode, OCR, extraction and every detector."""
    import io
    import random

    from fixtures.forgeries import tamper_total
    from fixtures.receipts import make_receipt_data, make_shop, render_receipt
    from forensics.detectors import Analysis
    from forensics.documents import load_document
    from forensics.events import UploadEvent
    from forensics.fields import extract
    from forensics.ocr import read_document
    from forensics.pipeline import single_document_detectors
    from forensics.settings import Settings

    rng = random.Random(seed)
    shop = make_shop(rng)
    data = make_receipt_data(shop, rng)
    img, truth = render_receipt(shop, data, rng)
    bad, _ = tamper_total(img, truth, rng)
    buf = io.BytesIO()
    bad.save(buf, "JPEG", quality=rng.randint(80, 95))
    settings = Settings(ocr_langs="eng+chi_sim" if shop.locale == "zh-CN" else "eng")
    document = load_document(buf.getvalue(), claimed_type=None, settings=settings)
    reading = read_document(document, settings)
    analysis = Analysis(
        event=UploadEvent(evidence_id=f"T{seed}", seller_id="S", blob="x",
                          uploaded_at=datetime(2026, 1, 1, tzinfo=UTC)),
        document=document, reading=reading, extraction=extract(reading, document),
        settings=settings)
    out: dict[str, Any] = {"name": f"seed{seed}:{shop.locale}", "checks": {}, "findings": {}}
    for det in single_document_detectors():
        result = det.run(analysis, None)
        out["checks"][det.name] = result.status
        out["findings"][det.name] = [f.to_json() for f in result.findings]
    return out


def cached_reading(data: bytes, document: Any, settings: Any, cache: Path = TAMPERED_CACHE) -> Any:
    """The pipeline's reading of ``data``, cached in ``cache`` by its sha256 (OCR is the slow
    part). bench/tampering.py reads its edited scans through it too."""
    import hashlib

    from forensics.ocr import read_document

    target = cache / (hashlib.sha256(data).hexdigest() + ".pkl")
    if target.exists():
        with target.open("rb") as fh:
            return pickle.load(fh)
    reading = read_document(document, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    # written aside and renamed: several processes (or worktrees sharing the cache) may read it
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as fh:
        pickle.dump(reading, fh)
    os.replace(partial, target)
    return reading


def tampered_real_one(args: tuple[str, int]) -> dict[str, Any]:
    """One real scan with its printed total repainted (raised 1.3-3x, ``edit_scan``), JPEG-encoded
    as uploaded, through decode, OCR (cached), extraction and every detector."""
    import io
    import random

    from PIL import Image

    from fixtures.realscans import edit_scan, find_total, new_amount_text, read_scan
    from forensics.detectors import Analysis
    from forensics.documents import load_document
    from forensics.events import UploadEvent
    from forensics.fields import extract
    from forensics.pipeline import single_document_detectors
    from forensics.settings import Settings

    name, seed = args
    rng = random.Random(seed)
    scan = read_scan(SROIE / name)
    span = find_total(scan.lines, scan.total)
    assert span is not None  # chosen by tampered_real_names
    new = new_amount_text(span.text, round(rng.uniform(*RAISE), 2))
    img, _ = edit_scan(Image.open(scan.image_path), scan.lines, {"total": (span, new)}, rng)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=rng.randint(*JPEG_QUALITY))
    data = buf.getvalue()
    settings = Settings(ocr_langs="eng")
    document = load_document(data, claimed_type=None, settings=settings)
    reading = cached_reading(data, document, settings)
    extraction = extract(reading, document)
    analysis = Analysis(
        event=UploadEvent(evidence_id=scan.name, seller_id="S", blob=name,
                          uploaded_at=datetime(2026, 1, 1, tzinfo=UTC)),
        document=document, reading=reading, extraction=extraction, settings=settings)
    total = extraction.fields.get("total")
    out: dict[str, Any] = {"name": f"{scan.name}:{span.text}->{new}", "checks": {}, "findings": {},
                           "extracted_total": total.value if total else None}
    for det in single_document_detectors():
        result = det.run(analysis, None)
        out["checks"][det.name] = result.status
        out["findings"][det.name] = [f.to_json() for f in result.findings]
    return out


def tampered_real_names(n: int) -> list[tuple[str, int]]:
    """``n`` scans (seeded pick) whose total is printed findably, each with its own seed."""
    import random

    from fixtures.realscans import find_total, read_scan

    rng = random.Random(TAMPERED_SEED)
    paths = sorted(SROIE.glob("*.jpg"))
    rng.shuffle(paths)
    chosen = []
    for path in paths:
        scan = read_scan(path)
        if len(chosen) < n and find_total(scan.lines, scan.total) is not None:
            chosen.append(path.name)
    return [(name, TAMPERED_SEED + i) for i, name in enumerate(chosen)]


def recall_real(n: int, verbose: bool) -> None:
    """Share of repainted real scans each detector (and any) flags."""
    with Pool(2) as pool:
        results = pool.map(tampered_real_one, tampered_real_names(n), chunksize=1)
    _print_recall(results, "tampered_real")
    if verbose:
        for r in results:
            flags = [f"{d}/{f['severity']}" for d, fs in r["findings"].items() for f in fs]
            print(f"    {r['name']} total={r['extracted_total']} arithmetic="
                  f"{r['checks'].get('arithmetic')} findings={flags}")
            for f in r["findings"].get("arithmetic", []):
                print(f"        [{f['severity']}] {f['message']}")


def _print_recall(results: list[dict[str, Any]], label: str) -> None:
    caught_any = set()
    for det in sorted({d for r in results for d in r["checks"]}):
        caught = [r["name"] for r in results
                  if any(f["severity"] in FLAGGING for f in r["findings"].get(det, []))]
        caught_any |= set(caught)
        print(f"{det:16s} caught={len(caught):3d}/{len(results)} recall={len(caught) / len(results):.3f}")
    missed = sorted({r["name"] for r in results} - caught_any)
    print("missed:", " ".join(missed))
    print(f"{label} recall_any={len(caught_any) / max(1, len(results)):.3f} n={len(results)}")


def recall(n: int) -> None:
    """Share of tampered-total receipts each detector (and any) flags."""
    with Pool(2) as pool:
        results = pool.map(tampered_one, range(n))
    _print_recall(results, "tampered_totals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--claims", action="store_true", help="claim the ground truth in the event")
    parser.add_argument("--verbose", action="store_true", help="print every flagging finding")
    parser.add_argument("--pdfs", action="store_true",
                        help="the honest PDF invoices instead of the receipt scans")
    parser.add_argument("--tampered", type=int, default=0,
                        help="instead: recall on N generated receipts with a tampered total")
    parser.add_argument("--tampered-real", type=int, default=0, metavar="N",
                        help="instead: recall on N real scans with their total repainted")
    args = parser.parse_args()
    if args.tampered:
        recall(args.tampered)
        return
    if args.tampered_real:
        recall_real(args.tampered_real, args.verbose)
        return
    names = sorted(p.name for p in (INVOICES.glob("*.pdf") if args.pdfs else SROIE.glob("*.jpg")))
    if args.limit:
        names = names[: args.limit]
    with Pool(2) as pool:
        results = pool.map(analyse_one, [(n, args.claims) for n in names], chunksize=4)
    detectors = sorted({d for r in results for d in r["checks"]})
    flagged_any = set()
    worst = 0.0
    for det in detectors:
        status = Counter(r["checks"].get(det, "absent").split(":")[0] for r in results)
        flagged = [r for r in results
                   if any(f["severity"] in FLAGGING for f in r["findings"].get(det, []))]
        info = sum(len(r["findings"].get(det, [])) for r in results) - sum(
            sum(f["severity"] in FLAGGING for f in r["findings"].get(det, [])) for r in results)
        flagged_any |= {r["name"] for r in flagged}
        rate = len(flagged) / max(1, len(results))
        worst = max(worst, rate)
        print(f"{det:16s} done={status.get('done', 0):3d} skipped={status.get('skipped', 0):3d} "
              f"failed={status.get('failed', 0):3d} flagged={len(flagged):3d} "
              f"rate={rate:.3f} info_findings={info}")
        if args.verbose:
            for r in flagged:
                for f in r["findings"][det]:
                    if f["severity"] in FLAGGING:
                        print(f"    {r['name']}: [{f['severity']}] {f['message']}")
            for r in results:
                if r["checks"].get(det, "").startswith("failed"):
                    print(f"    {r['name']}: {r['checks'][det]}")
    print(f"detectors_fp max_rate={worst:.3f} any_rate={len(flagged_any) / max(1, len(results)):.3f} "
          f"n={len(results)}")


if __name__ == "__main__":
    main()
