"""The SROIE dev receipts split by merchant into a half to tune on and a half to measure on.

A shop's receipts never sit on both sides: the split is by the key's company name, upper-cased
and stripped of all but letters and digits, hashed (sha256; even first byte: ``tune``, odd:
``held-out``). Tune on ``tune``; quote ``held-out``. Shared by the benchmarks that take
``--half``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

#: the two halves, in the order the benchmarks print them
HALVES = ("tune", "held-out")


def merchant_key(company: str) -> str:
    """The company name of a key reduced to upper-case letters and digits."""
    return re.sub(r"[^A-Z0-9]", "", company.upper())


def half_of(company: str) -> str:
    """``tune`` or ``held-out``: a deterministic split by merchant."""
    return HALVES[hashlib.sha256(merchant_key(company).encode()).digest()[0] % 2]


def split(sroie: Path) -> dict[str, list[Path]]:
    """The SROIE scans (``NAME.jpg`` beside ``NAME.key.json``) of each half, sorted."""
    out: dict[str, list[Path]] = {h: [] for h in HALVES}
    for path in sorted(sroie.glob("*.jpg")):
        key = json.loads(path.with_suffix(".key.json").read_text(encoding="utf-8"))
        out[half_of(key.get("company", ""))].append(path)
    return out


def select(paths: list[Path], half: str | None) -> list[Path]:
    """``paths`` of one half (``tune``/``held-out``), or all of them for None/``both``."""
    if half in (None, "both"):
        return paths
    keep = {p.name for p in split(paths[0].parent)[half]} if paths else set()
    return [p for p in paths if p.name in keep]
