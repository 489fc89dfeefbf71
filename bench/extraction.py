"""Field-extraction benchmark: SROIE task-3 style on receipt scans, embedded-XML truth on PDFs.

Run by hand (not by CI)::

    .venv/bin/python bench/extraction.py            # through the CLI: ingest + export
    .venv/bin/python bench/extraction.py --direct   # load_document + read_document + extract,
                                                    # with readings cached under bench/out/
    BENCH_READER=pipeline ... --direct   # forensics.documents + forensics.ocr (what production
                                         # runs; the default). BENCH_READER=fallback: plain
                                         # pytesseract psm 6 here, for comparison.
    ... --misses                         # every miss, with its cause (OCR or rules)

Delete bench/out/readings/<reader>/ after changing OCR preprocessing or engine settings: the
cache does not know about them.

Scoring (SROIE task 3): company and address compared after upper-casing and removing all
whitespace (the ground truth is typed as printed, but with its own spacing after commas);
date as a calendar date; total as a number. Hmean is the harmonic mean of precision (over the
fields we predicted) and recall (over the ground-truth fields).

PDFs: invoice number, issue date, grand total and seller VAT id against the embedded XML
(Factur-X / ZUGFeRD), counted over the fields the XML states. Two figures:

- ``pdf_accuracy``: the record's main values. The extractor makes the embedded XML's value the
  main one when the XML states it, so this measures what a consumer of the record gets (and is
  near 1 by construction for PDFs that carry an XML; it still catches a broken XML reader).
- ``pdf_text_accuracy``: the visible text's reading only (``alternatives[name]["text"]``, or
  the main value when it did not come from the XML): the honest measure of our text rules, as
  on a PDF without an XML. A few files print values that differ from their own XML (another
  date, a reused invoice layout), so it cannot reach 1; credit notes of type 381 state a
  positive total in the XML and print a negative one.

The last line printed is ``sroie_hmean=… pdf_accuracy=… pdf_text_accuracy=…``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from collections import Counter
from decimal import Decimal, InvalidOperation
from multiprocessing import Pool
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import halves  # noqa: E402

#: the development data sets (read-only, outside the repository)
DATASETS = ROOT.parent / "shared" / "datasets"
#: where readings are cached between runs (git-ignored)
CACHE = ROOT / "bench" / "out" / "readings"
#: SROIE key fields that are scored
SROIE_KEYS = ("company", "date", "address", "total")
#: our field name for each SROIE key
SROIE_FIELD = {"company": "merchant", "date": "date", "address": "merchant_address", "total": "total"}
#: PDF fields scored against the embedded XML
PDF_KEYS = ("serial", "date", "total", "merchant_tax_id")


# --------------------------------------------------------------------------- readings


def _fallback_ocr(path: Path) -> Any:
    """A Reading made with pytesseract directly, for when forensics.ocr is not importable."""
    import pytesseract
    from PIL import Image

    from forensics.model import PageReading, Reading, Word

    image = Image.open(path).convert("L")
    data = pytesseract.image_to_data(image, config="--psm 6", output_type=pytesseract.Output.DICT)
    words = []
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        x, y, w, h = data["left"][i], data["top"][i], data["width"][i], data["height"][i]
        words.append(
            Word(
                text,
                (x, y, x + w, y + h),
                conf / 100.0,
                block=data["block_num"][i] * 100 + data["par_num"][i],
                line=data["line_num"][i],
            )
        )
    page = PageReading(1, "ocr", tuple(words), image.width, image.height, engine="pytesseract-psm6")
    return Reading((page,))


#: ``pipeline`` (forensics.documents + forensics.ocr) or ``fallback`` (pytesseract psm 6 here)
READER = os.environ.get("BENCH_READER", "pipeline")


def _load(path: Path) -> tuple[Any, Any]:
    """(document, reading) through the library's stages, or the local OCR fallback."""
    from forensics.settings import Settings

    settings = Settings(ocr_langs="eng")
    if READER == "pipeline" or path.suffix.lower() == ".pdf":
        from forensics.documents import load_document
        from forensics.ocr import read_document

        document = load_document(path.read_bytes(), claimed_type=None, settings=settings)
        return document, read_document(document, settings)
    return None, _fallback_ocr(path)


def _cache_key() -> str:
    """The reader, plus the language data when TESSDATA_PREFIX points elsewhere, plus
    ``BENCH_CACHE_TAG`` (a name for an OCR variant being measured against the default)."""
    key = READER
    if prefix := os.environ.get("TESSDATA_PREFIX"):
        key += f"-{hashlib.sha1(prefix.encode()).hexdigest()[:8]}"
    if tag := os.environ.get("BENCH_CACHE_TAG"):
        key += f"-{tag}"
    return key


def cached(path: Path) -> tuple[Any, Any]:
    """(document, reading) for one file, from the cache when present."""
    target = CACHE / _cache_key() / (path.name + ".pkl")
    if target.exists():
        with target.open("rb") as fh:
            return pickle.load(fh)
    document, reading = _load(path)
    # the page rasters are large and not needed to re-run extraction
    slim = _slim(document)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        pickle.dump((slim, reading), fh)
    return slim, reading


def _slim(document: Any) -> Any:
    if document is None:
        return None
    from dataclasses import replace

    return replace(document, pages=tuple(replace(p, image=None) for p in document.pages))


def _warm(path: str) -> str:
    cached(Path(path))
    return path


def warm_cache(paths: list[Path], workers: int = 2) -> None:
    """Read every file once (both cores) so that later runs only re-run extraction."""
    todo = [str(p) for p in paths if not (CACHE / _cache_key() / (p.name + ".pkl")).exists()]
    if not todo:
        return
    with Pool(workers) as pool:
        for i, _ in enumerate(pool.imap_unordered(_warm, todo), 1):
            if i % 20 == 0:
                print(f"  read {i}/{len(todo)}", file=sys.stderr)


# --------------------------------------------------------------------------- scoring


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", str(text).upper())


def _gt_date(text: str) -> str | None:
    from forensics.fields.dates import parse_date

    return parse_date(text)


def _num(text: Any) -> Decimal | None:
    try:
        return Decimal(re.sub(r"[^\d.\-]", "", str(text)))
    except InvalidOperation:
        return None


def sroie_match(key: str, truth: str, predicted: Any) -> bool:
    """SROIE task-3 comparison of one key."""
    if key in ("company", "address"):
        return _fold(truth) == _fold(predicted)
    if key == "date":
        return _gt_date(truth) == predicted
    return _num(truth) == _num(predicted)


def pdf_truth(path: Path) -> dict[str, str]:
    """Invoice number, issue date, grand total and seller VAT id from the embedded XML."""
    import xml.etree.ElementTree as ET

    import pypdf

    xml = None
    for name, blobs in pypdf.PdfReader(str(path)).attachments.items():
        if name.lower() in ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"):
            xml = blobs[0]
    if xml is None:
        return {}
    root = ET.fromstring(xml)
    out: dict[str, str] = {}
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        parent_path = tag
        if tag in ("ExchangedDocument", "HeaderExchangedDocument"):
            for c in el:
                if c.tag.endswith("}ID") and "serial" not in out:
                    out["serial"] = (c.text or "").strip()
                if c.tag.endswith("IssueDateTime"):
                    for d in c.iter():
                        if d.tag.endswith("DateTimeString"):
                            t = d.text.strip()
                            out["date"] = f"{t[:4]}-{t[4:6]}-{t[6:8]}"
        if tag == "GrandTotalAmount" and "total" not in out:
            out["total"] = el.text.strip()
        if tag == "SellerTradeParty":
            for reg in el.iter():
                if reg.tag.endswith("}ID") and reg.get("schemeID") == "VA":
                    out["merchant_tax_id"] = re.sub(r"\s", "", reg.text or "")
        del parent_path
    return out


def pdf_match(key: str, truth: str, predicted: Any) -> bool:
    if key == "total":
        return _num(truth) == _num(predicted)
    return _fold(truth) == _fold(predicted)


# --------------------------------------------------------------------------- runs


def direct_records(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """name -> {field: value} via load_document + read_document (cached) + extract."""
    from forensics.fields import extract

    warm_cache(paths)
    out = {}
    for p in paths:
        document, reading = cached(p)
        extraction = extract(reading, document)
        out[p.name] = {k: f.value for k, f in extraction.fields.items()}
        out[p.name]["_text"] = _text_values(
            {k: (f.value, f.source) for k, f in extraction.fields.items()},
            {k: alts["text"].value for k, alts in extraction.alternatives.items() if "text" in alts},
        )
        out[p.name]["_reading"] = reading
    return out


def _text_values(main: dict[str, tuple[Any, str]], text_alts: dict[str, Any]) -> dict[str, Any]:
    """The visible text's value of every field: its ``text`` alternative, else a non-XML main value."""
    out = {k: v for k, (v, source) in main.items() if source != "xml"}
    out.update(text_alts)
    return out


def pipeline_records(root: Path, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """name -> {field: value} through `forensics ingest` and `forensics export`."""
    exe = ROOT / ".venv" / "bin" / "forensics"
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "MANIFEST.csv"
        # the manifest's paths are relative to its folder: point at the data through a link
        (Path(tmp) / "data").symlink_to(root)
        with manifest.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["evidence_id", "seller_id", "path"])
            for i, p in enumerate(paths):
                w.writerow([f"E{i:05d}", "S0", f"data/{p.name}"])
        env = dict(os.environ, FORENSICS_DATABASE_URL=f"sqlite:///{tmp}/x.db", FORENSICS_BLOB_ROOT=str(root))
        subprocess.run([str(exe), "ingest", str(manifest)], env=env, check=False, cwd=tmp)
        out_file = Path(tmp) / "out.jsonl"
        subprocess.run([str(exe), "export", "--format", "jsonl", "--out", str(out_file)], env=env, check=True, cwd=tmp)
        by_id = {}
        for line in out_file.read_text().splitlines():
            rec = json.loads(line)
            fields = rec.get("fields") or {}
            alts = (rec.get("document") or {}).get("alternatives") or {}
            values = {k: v.get("value") for k, v in fields.items()}
            values["_text"] = _text_values(
                {k: (v.get("value"), v.get("source", "ocr")) for k, v in fields.items()},
                {k: a["text"].get("value") for k, a in alts.items() if "text" in a},
            )
            by_id[rec["evidence_id"]] = values
    return {p.name: by_id.get(f"E{i:05d}", {}) for i, p in enumerate(paths)}


def score_sroie(records: dict[str, dict[str, Any]], root: Path, show_misses: bool) -> float:
    tp = n_pred = n_gt = 0
    per = Counter()
    causes = Counter()
    for name, rec in records.items():
        gt = json.loads((root / name.replace(".jpg", ".key.json")).read_text())
        reading = rec.get("_reading")
        for key in SROIE_KEYS:
            if not gt.get(key):
                continue
            n_gt += 1
            pred = rec.get(SROIE_FIELD[key])
            if pred is not None:
                n_pred += 1
            ok = pred is not None and sroie_match(key, gt[key], pred)
            tp += ok
            per[key] += ok
            if not ok and reading is not None:
                cause = _cause(key, gt[key], reading)
                causes[(key, cause)] += 1
                if show_misses:
                    print(f"MISS {name} {key} [{cause}] truth={gt[key]!r} got={pred!r}")
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gt if n_gt else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    n = len(records)
    print(f"SROIE ({n} receipts): " + " ".join(f"{k}={per[k] / n:.3f}" for k in SROIE_KEYS))
    print(f"SROIE precision={precision:.3f} recall={recall:.3f} hmean={hmean:.3f}")
    if causes:
        print("SROIE misses by cause: " + ", ".join(f"{k}/{c}={v}" for (k, c), v in sorted(causes.items())))
    return hmean


def score_sroie_serials(records: dict[str, dict[str, Any]], root: Path, show_misses: bool) -> float:
    """Receipt numbers, which SROIE's key does not give: the truth is the number printed after a
    serial label on the dataset's own transcribed lines (``fixtures.realscans.find_serial``, the
    same finder the forgery generator uses), compared after OCR-confusion normalisation."""
    import re

    from fixtures.realscans import find_serial as printed_serial
    from fixtures.realscans import read_scan
    from forensics.fields.serials import normalise_serial

    def fold(value: str) -> str:
        return re.sub(r"[^0-9A-Z]", "", normalise_serial(value))

    n = exact = wrong = spurious = 0
    for name, rec in records.items():
        span = printed_serial(read_scan(root / name).lines)
        got = rec.get("serial")
        if span is None:
            spurious += got is not None
            continue
        n += 1
        if got is not None and fold(str(got)) == fold(span.text):
            exact += 1
            continue
        wrong += got is not None
        if show_misses:
            print(f"MISS {name} serial truth={span.text!r} got={got!r}")
    rate = exact / n if n else 0.0
    print(f"SROIE serials (printed on {n} receipts): exact={rate:.3f} wrong={wrong} absent={n - exact - wrong}; "
          f"read on receipts with no labelled number: {spurious}")
    return rate


def _cause(key: str, truth: str, reading: Any) -> str:
    """``ocr`` when the OCR text does not contain the answer at all, else ``rules``."""
    text = _fold(reading.text)
    if key == "date":
        from forensics.fields.dates import find_dates

        iso = _gt_date(truth)
        return "rules" if any(d.iso == iso for d in find_dates(reading.text)) else "ocr"
    if key == "total":
        from forensics.fields.amounts import find_amounts

        return "rules" if any(a.value == _num(truth) for a in find_amounts(reading.text)) else "ocr"
    return "rules" if _fold(truth) in text else "ocr"


def score_pdf(records: dict[str, dict[str, Any]], root: Path, show_misses: bool) -> tuple[float, float]:
    """(accuracy of the main values, accuracy of the visible text's values) over the XML's fields."""
    ok = ok_text = total = 0
    per = Counter()
    per_text = Counter()
    counts = Counter()
    for name, rec in records.items():
        truth = pdf_truth(root / name)
        text_values = rec.get("_text") or {}
        for key in PDF_KEYS:
            if key not in truth or not truth[key]:
                continue
            total += 1
            counts[key] += 1
            hit = rec.get(key) is not None and pdf_match(key, truth[key], rec[key])
            hit_text = text_values.get(key) is not None and pdf_match(key, truth[key], text_values[key])
            ok += hit
            ok_text += hit_text
            per[key] += hit
            per_text[key] += hit_text
            if not hit and show_misses:
                print(f"MISS {name} {key} truth={truth[key]!r} got={rec.get(key)!r}")
            if not hit_text and show_misses:
                print(f"MISS-TEXT {name} {key} truth={truth[key]!r} text={text_values.get(key)!r}")
    print(f"PDF ({len(records)} files), main values: " + " ".join(f"{k}={per[k]}/{counts[k]}" for k in PDF_KEYS))
    print(f"PDF ({len(records)} files), visible text: " + " ".join(f"{k}={per_text[k]}/{counts[k]}" for k in PDF_KEYS))
    if not total:
        return 0.0, 0.0
    return ok / total, ok_text / total


def gt_text_reading(box_csv: Path) -> Any:
    """A Reading made of the SROIE organisers' own OCR (``NAME.box.csv``: four corners and the
    text of each segment): segments whose vertical centres lie within half a segment's height
    of each other are one line; each segment's words share its box in proportion to length."""
    from forensics.model import PageReading, Reading, Word

    segs = []
    for row in csv.reader(box_csv.read_text(encoding="utf-8", errors="replace").splitlines()):
        if len(row) < 9 or not ",".join(row[8:]).strip():
            continue
        xs, ys = [int(float(v)) for v in row[0:8:2]], [int(float(v)) for v in row[1:8:2]]
        segs.append((min(xs), min(ys), max(xs), max(ys), ",".join(row[8:]).strip()))
    segs.sort(key=lambda s: ((s[1] + s[3]) / 2, s[0]))
    words, line, last_c, last_h = [], -1, None, 0.0
    for x0, y0, x1, y1, text in segs:
        c, h = (y0 + y1) / 2, max(y1 - y0, 1)
        if last_c is None or abs(c - last_c) > 0.5 * min(h, last_h):
            line += 1
            last_c, last_h = c, h
        tokens = text.split()
        span = max(sum(len(t) for t in tokens) + len(tokens) - 1, 1)
        x = float(x0)
        for t in tokens:
            w = (x1 - x0) * len(t) / span
            words.append(Word(t, (int(x), y0, max(int(x + w), int(x) + 1), y1), 1.0, block=0, line=line))
            x += w + (x1 - x0) / span
    width = max((w.box[2] for w in words), default=1) + 10
    height = max((w.box[3] for w in words), default=1) + 10
    words.sort(key=lambda w: (w.line, w.box[0]))
    return Reading((PageReading(1, "ocr", tuple(words), width, height, engine="sroie-box-csv"),))


def gt_text_records(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """name -> {field: value}: our rules on the organisers' OCR text (no image, no OCR of ours)."""
    from forensics.fields import extract

    out = {}
    for p in paths:
        reading = gt_text_reading(p.with_suffix(".box.csv"))
        out[p.name] = {k: f.value for k, f in extract(reading, None).fields.items()}
        out[p.name]["_reading"] = reading
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--direct", action="store_true", help="call the library directly, with the reading cache")
    ap.add_argument("--misses", action="store_true", help="print every miss with its cause")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--half", choices=("tune", "held-out", "both"), default="both",
                    help="SROIE receipts of one half of the split by merchant (bench/halves.py)")
    ap.add_argument("--gt-text", action="store_true",
                    help="also score the rules alone on the organisers' OCR text (NAME.box.csv), "
                         "the input of SROIE task 3, whose best entries scored about 0.89")
    args = ap.parse_args()
    sroie = DATASETS / "sroie-dev"
    pdfs = DATASETS / "invoices-pdf-dev"
    s_paths = halves.select(sorted(sroie.glob("*.jpg")), args.half)[: args.limit or None]
    p_paths = sorted(pdfs.glob("*.pdf"))[: args.limit or None]
    run = direct_records if args.direct else None
    if run is None:
        s_rec = pipeline_records(sroie, s_paths)
        p_rec = pipeline_records(pdfs, p_paths)
    else:
        s_rec, p_rec = run(s_paths), run(p_paths)
    if args.gt_text:
        print("SROIE rules alone, on the organisers' OCR lines (the competition's task-3 input):")
        gt_hmean = score_sroie(gt_text_records(s_paths), sroie, args.misses)
        print(f"sroie_hmean_on_given_text={gt_hmean:.3f}")
    hmean = score_sroie(s_rec, sroie, args.misses)
    score_sroie_serials(s_rec, sroie, args.misses)
    pdf_acc, pdf_text_acc = score_pdf(p_rec, pdfs, args.misses)
    print(f"sroie_hmean={hmean:.3f} pdf_accuracy={pdf_acc:.3f} pdf_text_accuracy={pdf_text_acc:.3f}")


if __name__ == "__main__":
    main()
