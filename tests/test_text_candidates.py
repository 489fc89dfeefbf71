"""The text candidate source of the duplicates detector, the identity veto, and alignment of a
re-upload at the quality bench's worst parameters."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageEnhance

from fixtures.forgeries import reupload
from forensics.alignment import compare_pages
from forensics.detectors.duplicates import _reliable, identity_conflict
from forensics.fingerprints import TEXT_RADIUS, hamming, text_hash_of
from forensics.pipeline import analyse
from forensics.store import Store
from tests.conftest import RECEIPT_LINES, simple_receipt
from tests.receipt_pages import make_shop, render_scan

#: the words of one receipt, and the same receipt read again with a few OCR slips
WORDS = " ".join(RECEIPT_LINES * 2).split()


def _misread(words: list[str], rng: random.Random, n: int) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), n):
        w = out[i]
        j = rng.randrange(len(w))
        out[i] = w[:j] + rng.choice("O0l1I5S8B") + w[j + 1:]
    return out


def test_text_hash_is_close_for_a_rereading_and_far_for_other_numbers() -> None:
    rng = random.Random(3)
    base = text_hash_of(WORDS)
    assert base is not None
    again = text_hash_of(_misread(WORDS, rng, 4))
    assert again is not None and hamming(base, again) <= TEXT_RADIUS // 2
    # another receipt of the same shop: same header, other numbers
    other = [w.replace("12345", "98071").replace("33.81", "47.20").replace("19/10/2018", "03/02/2019")
             .replace("25.00", "12.50").replace("16.19", "2.80").replace("31.90", "44.53")
             for w in WORDS]
    assert hamming(base, text_hash_of(other)) > hamming(base, again)


def test_too_little_text_gives_no_text_hash() -> None:
    assert text_hash_of(["TOTAL", "3.50"]) is None
    assert text_hash_of([]) is None


def test_text_stated_serials_or_dates_that_differ_are_a_conflict() -> None:
    def fields(serial: str, date: str, source: str) -> dict:
        return {"serial": {"value": serial, "source": source}, "date": {"value": date, "source": source}}

    a = _reliable(fields("RE-2019/507", "2019-06-10", "xml"))
    assert identity_conflict(a, _reliable(fields("RE-2019/508", "2019-06-10", "text_layer"))) == ["serial"]
    assert identity_conflict(a, _reliable(fields("RE 2019 507", "2020-11-21", "xml"))) == ["date"]
    assert identity_conflict(a, _reliable(fields("RE-2019/507", "2019-06-10", "text_layer"))) == []
    # OCR readings never veto: a misread digit is no proof of another document
    assert identity_conflict(a, _reliable(fields("RE-2019/508", "2019-06-10", "ocr"))) == []


def _worst_reupload(img: Image.Image, seed: int) -> bytes:
    """The bench's re-upload (fixtures.forgeries) pinned at its worst: JPEG 55, x0.7, 4% crop
    of every side, 2 degrees."""
    rng = random.Random(seed)
    return reupload(img, rng, jpeg_quality=(55, 55), scale=(0.7, 0.7), crop=0.04, rotate=2.0)


@pytest.mark.parametrize("shop_seed", (21, 22, 23))
def test_alignment_confirms_a_reupload_at_the_worst_bench_parameters(shop_seed: int) -> None:
    # the pipeline's direction: the new upload (the re-upload) against the page on file
    rng = random.Random(shop_seed)
    a, _ = render_scan(make_shop(rng), rng)
    for seed in (1, 2, 3):
        b = Image.open(io.BytesIO(_worst_reupload(a, seed)))
        rel = compare_pages(b, a)
        assert rel.kind == "same_image", (seed, rel.details)


def test_alignment_of_the_original_against_its_worst_reupload() -> None:
    # the sharp original as A: compared at the re-upload's lower resolution, A's fine detail
    # that the 0.7x copy cannot have is no repainted box
    rng = random.Random(21)
    a, _ = render_scan(make_shop(rng), rng)
    b = Image.open(io.BytesIO(_worst_reupload(a, 1)))
    assert compare_pages(a, b).kind == "same_image"


def test_reupload_found_by_its_text_when_pixels_and_fields_cannot(settings, blob_root) -> None:  # noqa: ANN001
    # no date: the date+total key cannot propose the pair; radius 0: nor the pixel hashes
    lines = [ln for ln in RECEIPT_LINES if not ln.startswith(("TOTAL", "DATE"))]
    img = simple_receipt(lines)
    img.save(blob_root / "a.png")
    # crop into the print on the left and top, turn, shrink, brighten, re-encode
    w, h = img.size
    cut = img.crop((int(w * 0.04), int(h * 0.03), w, h)).rotate(1.2, expand=True, fillcolor=250)
    cut = ImageEnhance.Brightness(cut.resize((cut.width * 9 // 10, cut.height * 9 // 10))).enhance(1.05)
    cut.convert("RGB").save(blob_root / "b.jpg", quality=70)
    store = Store(settings.database_url)
    for eid, seller, name in (("E1", "S1", "a.png"), ("E2", "S2", "b.jpg")):
        analyse({"evidence_id": eid, "seller_id": seller, "blob": name}, store, settings.with_(hash_radius=0))
    rec = store.get("E2")
    assert not rec["fields"].get("date"), rec["fields"]  # so no date+total key
    dup = [f for f in rec["findings"] if f["code"] == "duplicate_upload"]
    assert dup and dup[0]["related"] == ["E1"], rec["findings"]
    # the older record learns of the newer one too
    assert "copied_by_later_upload" in {f["code"] for f in store.get("E1")["findings"]}
