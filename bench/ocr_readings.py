"""The OCR readings of ``--ref``'s code against this tree's, receipt by receipt: the gate of a
change to forensics/ocr that claims to leave every reading as it was.

Run by hand (not by CI; needs ../shared/datasets and a git checkout)::

    OMP_THREAD_LIMIT=1 .venv/bin/python bench/ocr_readings.py [--n 30] [--ref main]

The ref's tree (``git archive REF``) is unpacked into a temporary folder and each side reads the
first N receipt scans of ../shared/datasets/sroie-dev in a process of its own (``read_document``,
as ingest reads them, one Tesseract API per process), one side after the other; every page's
words (text, box, confidence, block, line), source, size and engine must be equal. A difference
is printed and fails the run. The last line is
``ocr_cpu_s_old=X new=Y ratio=Y/X identical=N/N`` (CPU of the two runs: not paired, a rough guide).
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
ROOT = Path(__file__).resolve().parent.parent
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"

#: what the child process runs: read the scans with the forensics package under ``root``
READ = """
import os, pickle, sys, time
root, out, n, sroie = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, root)
from pathlib import Path
import forensics
assert forensics.__file__.startswith(root), forensics.__file__
from forensics.documents import load_document
from forensics.ocr import get_engine, read_document
from forensics.settings import Settings
settings = Settings(blob_root="/")
get_engine(settings)
readings, spent = {}, 0.0
for path in sorted(Path(sroie).glob("*.jpg"))[:n]:
    doc = load_document(path.read_bytes(), claimed_type=None, settings=settings)
    t0 = time.process_time()
    reading = read_document(doc, settings)
    spent += time.process_time() - t0
    readings[path.name] = [(p.page, p.source, p.width, p.height, p.engine,
                            [(w.text, w.box, w.confidence, w.block, w.line) for w in p.words])
                           for p in reading.pages]
with open(out, "wb") as f:
    pickle.dump((readings, spent), f)
"""


def read_with(root: Path, n: int, out: Path) -> tuple[dict, float]:
    """The readings of the first ``n`` scans by the code under ``root``, and their OCR CPU s."""
    subprocess.run([sys.executable, "-c", READ, str(root), str(out), str(n), str(SROIE)], check=True,
                   env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    with open(out, "rb") as f:
        return pickle.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=30, help="first N receipt scans")
    ap.add_argument("--ref", default="main", help="git ref of the old OCR code")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_root = Path(tmp) / "ref"
        old_root.mkdir()
        archive = Path(tmp) / "ref.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), args.ref], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(old_root, filter="data")
        old, old_cpu = read_with(old_root, args.n, Path(tmp) / "old.pkl")
        new, new_cpu = read_with(ROOT, args.n, Path(tmp) / "new.pkl")
    same = 0
    for name, pages in old.items():
        if new.get(name) == pages:
            same += 1
        else:
            print(f"DIFFERENT {name}")
    print(f"ocr_cpu_s_old={old_cpu:.2f} new={new_cpu:.2f} ratio={new_cpu / max(old_cpu, 1e-9):.3f} "
          f"identical={same}/{len(old)}")
    if same != len(old) or set(new) != set(old):
        sys.exit(1)


if __name__ == "__main__":
    main()
