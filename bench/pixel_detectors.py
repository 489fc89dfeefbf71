"""The pixel detectors (copy_move, local_edits, glyph_copies, line_print) of ``main`` against this tree's,
side by side.

Run by hand (not by CI; needs ../shared/datasets and a git checkout)::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/pixel_detectors.py [--limit 40] [--ref main]

The "old" detectors are the modules of ``--ref`` (``git show REF:forensics/detectors/...``),
written to a temporary directory and imported from there for the run, with the helper modules
they import (``HELPERS``: page maps, copy noise, amount and crisp print, copy_move's constants) also taken from ``--ref``
so that a change to a helper is compared too; the "new" ones are this tree's. Pages: the first ``--limit`` SROIE receipts of the ``tune`` half (:mod:`bench.halves`),
honest, and each careful forgery of :mod:`fixtures.careful` made from them exactly as
``bench/tampering.py`` makes it (same seed, same JPEG re-save; its OCR readings are cached
under ``bench/out/readings``, so a first run OCRs). On every upload both versions run on the
same decoded pages and the same reading, interleaved (which runs first alternates), each with
a fresh memo (so the page maps are made inside the timed call, as in the pipeline), and their
CPU time (``time.process_time``) is summed. Their results must be identical: status and every
finding (code, severity, score, message, page, box, evidence); a difference is printed and
fails the run. The last line is
``pixel_detectors_cpu_s_old=X new=Y ratio=Y/X identical=N/N``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import tampering  # noqa: E402

#: the detectors compared, by module name under forensics/detectors/
MODULES = ("copy_move", "local_edits", "glyph_copies", "line_print")
#: the modules they import that are also taken from the ref, in import order (a module the ref
#: does not have is skipped: the ref's detectors cannot import it)
HELPERS = ("page_maps", "copy_noise", "amount_print", "crisp_print")


def old_modules(ref: str, tmp: Path) -> dict[str, ModuleType]:
    """The detector modules as they are at git ``ref``, imported from copies in ``tmp``, each
    importing the ref's own helpers and detectors (``from forensics.detectors.X`` rewritten to
    the copy of X)."""
    out = {}
    loaded: list[str] = []
    for name in (*HELPERS, *MODULES):
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:forensics/detectors/{name}.py"],
                               capture_output=True, text=True)
        if shown.returncode != 0 and name in HELPERS:
            continue
        shown.check_returncode()
        source = shown.stdout
        for dep in loaded:
            source = re.sub(rf"^from forensics\.detectors\.{dep} import", f"from _old_{dep} import", source,
                            flags=re.MULTILINE)
        loaded.append(name)
        path = tmp / f"_old_{name}.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"_old_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        if name in MODULES:
            out[name] = module
    return out


def uploads(limit: int) -> list[tuple[str, str, Any]]:
    """(scan name, kind, Analysis) of the tune half's first ``limit`` scans, honest and forged."""
    from PIL import Image

    from fixtures import careful
    from fixtures.realscans import read_scan
    from forensics.detectors import Analysis
    from forensics.documents import load_document
    from forensics.events import UploadEvent
    from forensics.fields import extract
    from forensics.settings import Settings

    settings = Settings(ocr_langs="eng")
    out = []
    for name in tampering.split()["tune"][:limit]:
        scan = read_scan(tampering.SROIE / name)
        for kind in ("honest", *careful.KINDS):
            if kind == "honest":
                data = (tampering.SROIE / name).read_bytes()
            else:  # exactly as bench/tampering.py makes it
                rng = random.Random(f"{tampering.SEED}:{name}:{kind}")
                made = careful.make(kind, Image.open(scan.image_path), scan.lines, scan.total, rng)
                if made is None:
                    continue
                buf = io.BytesIO()
                made[0].convert("RGB").save(buf, "JPEG", quality=rng.randint(*tampering.JPEG_QUALITY))
                data = buf.getvalue()
            document = load_document(data, claimed_type=None, settings=settings)
            reading = tampering._reading(data, document, settings, name if kind == "honest" else None)
            analysis = Analysis(event=UploadEvent(evidence_id=scan.name, seller_id="S", blob=name,
                                                  uploaded_at=datetime(2026, 1, 1, tzinfo=UTC)),
                                document=document, reading=reading, extraction=extract(reading, document),
                                settings=settings)
            out.append((name, kind, analysis))
    return out


def outcome(result: Any) -> tuple[str, list[dict[str, Any]]]:
    """What must not change: the status and every finding in full."""
    return result.status, [f.to_json() for f in result.findings]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=40, help="first N scans of the tune half")
    ap.add_argument("--ref", default="main", help="git ref of the old detectors")
    args = ap.parse_args()
    import importlib

    new = {name: importlib.import_module(f"forensics.detectors.{name}") for name in MODULES}
    with tempfile.TemporaryDirectory() as tmp:
        old = old_modules(args.ref, Path(tmp))
        todo = uploads(args.limit)
        spent: dict[tuple[str, str], float] = defaultdict(float)
        identical = 0
        for i, (name, kind, analysis) in enumerate(todo):
            same = True
            for det in MODULES:
                results = {}
                order = ("old", "new") if (i + MODULES.index(det)) % 2 == 0 else ("new", "old")
                for version in order:
                    module = old[det] if version == "old" else new[det]
                    fresh = dataclasses.replace(analysis, memo={})
                    t0 = time.process_time()
                    results[version] = outcome(module.detector.run(fresh, None))
                    spent[(det, version)] += time.process_time() - t0
                if results["old"] != results["new"]:
                    same = False
                    print(f"DIFFERENT {det} on {name} ({kind}):\n  old {results['old']}\n  new {results['new']}")
            identical += same
    print(f"{len(todo)} uploads ({args.limit} tune scans, honest and careful forgeries); CPU s, old -> new:")
    for det in MODULES:
        o, n = spent[(det, "old")], spent[(det, "new")]
        print(f"  {det:12s} {o:7.2f} -> {n:7.2f}  ({o / len(todo):.3f} -> {n / len(todo):.3f} per upload, "
              f"ratio {n / max(o, 1e-9):.2f})")
    total_old = sum(v for (_, version), v in spent.items() if version == "old")
    total_new = sum(v for (_, version), v in spent.items() if version == "new")
    print(f"pixel_detectors_cpu_s_old={total_old:.2f} new={total_new:.2f} "
          f"ratio={total_new / max(total_old, 1e-9):.3f} identical={identical}/{len(todo)}")
    if identical != len(todo):
        sys.exit(1)


if __name__ == "__main__":
    main()
