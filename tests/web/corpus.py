"""A few small generated uploads for the web app's tests: an original, an edited copy of it at
another seller, a receipt whose text and claim carry markup, and an unrelated clean receipt."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageDraw

from forensics.pipeline import analyse
from forensics.settings import Settings
from forensics.store import Store
from tests.conftest import RECEIPT_LINES, font, simple_receipt

#: text a forger could get OCR'd or claimed: the pages must show it as text, never run it
MARKUP = "<script>alert(1)</script>"

OTHER_SHOP = [
    "TOKO BUKU SINAR PAGI",
    "88 JALAN BATU 2, 50480 KUALA LUMPUR",
    "RECEIPT NO: TB00077001",
    "DATE: 02/03/2019  TIME: 11:05",
    "NOTEBOOK A5     3 x  4.20  12.60",
    "PEN BLUE        2 x  1.50   3.00",
    "TOTAL                      15.60",
    "CASH                       20.00",
]

MARKUP_SHOP = [
    "<script>alert(1)</script> MART",
    "7 JALAN HIJAU, 40100 SHAH ALAM",
    "RECEIPT NO: MK00031337",
    "DATE: 14/08/2019  TIME: 09:12",
    "TEA BOX         1 x  8.80   8.80",
    "TOTAL                       8.80",
]


def write_corpus(root: Path) -> list[dict]:
    """Write the files under ``root``; return their upload events in upload order."""
    original = simple_receipt(RECEIPT_LINES, seed=3)
    original.save(root / "w1.png")
    copy = original.copy()
    draw = ImageDraw.Draw(copy)
    y = 50 + RECEIPT_LINES.index(next(ln for ln in RECEIPT_LINES if ln.startswith("TOTAL"))) * int(26 * 1.6)
    draw.rectangle((520, y - 2, 690, y + 32), fill=250)
    draw.text((40, y), "TOTAL                      93.81", fill=20, font=font(26))
    copy.save(root / "w2.png")
    simple_receipt(MARKUP_SHOP, seed=5).save(root / "w3.png")
    simple_receipt(OTHER_SHOP, seed=8).save(root / "w4.png")
    return [
        {"evidence_id": "W1", "seller_id": "S1", "blob": "w1.png", "uploaded_at": "2024-05-01T10:00:00Z"},
        {"evidence_id": "W2", "seller_id": "S2", "blob": "w2.png", "uploaded_at": "2024-05-02T10:00:00Z"},
        {"evidence_id": "W3", "seller_id": "S3", "blob": "w3.png", "uploaded_at": "2024-05-03T10:00:00Z",
         "claimed": {"merchant": MARKUP, "total": "18.80"}},
        {"evidence_id": "W4", "seller_id": "S4", "blob": "w4.png", "uploaded_at": "2024-05-04T10:00:00Z"},
    ]


def ingest(events: list[dict], settings: Settings) -> Store:
    """Analyse the events in order into ``settings``' store."""
    store = Store(settings.database_url)
    for e in events:
        analyse(e, store, settings)
    return store
