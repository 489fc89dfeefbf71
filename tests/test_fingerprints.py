"""Page fingerprints: robust to re-uploads, apart for different receipts; content keys."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from forensics.fingerprints import (
    FINGERPRINT_VERSION,
    NORMAL_SIZE,
    content_key,
    fingerprint_page,
    from_signed64,
    hamming,
    normalise,
    normalise_page,
    pixel_sha256,
    to_signed64,
)
from tests.receipt_pages import edited_copy, make_shop, render_scan, reupload

#: candidate radius for same_image / edited_copy on the phash (see bench/fingerprints.py)
PHASH_RADIUS = 10


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_signed64_round_trip(value: int) -> None:
    signed = to_signed64(value)
    assert -(2**63) <= signed < 2**63
    assert from_signed64(signed) == value


def test_hamming() -> None:
    assert hamming(0, 2**64 - 1) == 64
    assert hamming(0b1011, 0b0001) == 2


@pytest.fixture(scope="module")
def receipts() -> list[tuple]:
    rng = random.Random(42)
    out = []
    for _ in range(6):
        shop = make_shop(rng)
        a, boxes = render_scan(shop, rng)
        out.append((shop, a, boxes, rng))
    return out


def test_fingerprint_fields_and_version(receipts: list[tuple]) -> None:
    _, a, _, _ = receipts[0]
    fp = fingerprint_page(1, a)
    assert fp.version == FINGERPRINT_VERSION and fp.page == 1
    for h in (fp.phash, fp.dhash, fp.layout_hash):
        assert 0 <= h < 2**64
    assert fp.pixel_sha256 == pixel_sha256(a)
    assert 0.01 < fp.ink_fraction < 0.6
    assert normalise_page(a).size == NORMAL_SIZE
    # deterministic: the stored hashes must not depend on anything but the pixels
    assert fingerprint_page(1, a.copy()) == fp


def test_reuploads_and_edited_copies_stay_within_the_candidate_radius(receipts: list[tuple]) -> None:
    for i, (shop, a, boxes, _) in enumerate(receipts):
        rng = random.Random(i)
        fa = fingerprint_page(1, a)
        for b in (reupload(a, rng), edited_copy(a, boxes, shop, rng)[0]):
            fb = fingerprint_page(1, b)
            assert hamming(fa.phash, fb.phash) <= PHASH_RADIUS
            assert fa.pixel_sha256 != fb.pixel_sha256


def test_different_receipts_are_mostly_outside_the_radius(receipts: list[tuple]) -> None:
    fps = [fingerprint_page(1, a) for _, a, _, _ in receipts]
    pairs = [(i, j) for i in range(len(fps)) for j in range(i + 1, len(fps))]
    far = sum(hamming(fps[i].phash, fps[j].phash) > 6 for i, j in pairs)
    assert far >= 0.8 * len(pairs)


def test_layout_hash_is_closer_for_one_shop_than_across_shops() -> None:
    rng = random.Random(7)
    same, other = [], []
    for _ in range(6):
        shop = make_shop(rng)
        a = fingerprint_page(1, render_scan(shop, rng)[0])
        b = fingerprint_page(1, render_scan(shop, rng)[0])
        c = fingerprint_page(1, render_scan(make_shop(rng), rng)[0])
        same.append(hamming(a.layout_hash, b.layout_hash))
        other.append(hamming(a.layout_hash, c.layout_hash))
    assert np.median(same) < np.median(other)


def test_normalisation_crops_a_dark_background_and_deskews(receipts: list[tuple]) -> None:
    _, a, _, _ = receipts[1]
    plain = fingerprint_page(1, a)
    # the receipt photographed on a dark table, slightly rotated
    table = Image.new("L", (a.width + 300, a.height + 260), 45)
    table.paste(a.rotate(1.5, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=45), (140, 110))
    norm = normalise(table)
    assert norm.paper_cropped
    assert abs(abs(norm.skew_deg) - 1.5) <= 0.5
    assert hamming(fingerprint_page(1, table).phash, plain.phash) <= PHASH_RADIUS


def test_blank_tiny_and_odd_mode_pages_do_not_crash() -> None:
    fp = fingerprint_page(1, Image.new("L", (300, 500), 250))
    assert fp.ink_fraction == 0.0
    for img in (Image.new("RGB", (1, 1)), Image.new("RGBA", (7, 3)), Image.new("P", (40, 90)),
                Image.new("L", (30, 20), 40)):
        assert 0 <= fingerprint_page(2, img).phash < 2**64


def test_content_key_needs_enough_fields() -> None:
    assert content_key(None, "TD01167104", None, None) is None
    assert content_key("Acme", None, "2019-01-02", None) is None
    k1 = content_key("ACME Sdn. Bhd.", "td-0116 7104", "2019-01-02", None)
    k2 = content_key("Acme", "TD01167104", "2019-01-02", None)
    assert k1 is not None and k1 == k2
    assert content_key("Acme", None, "2019-01-02", "12.3") == content_key("ACME", None, "2019-01-02", "12.30")
    assert content_key("Acme", None, "2019-01-02", "12.30") != content_key("Acme", None, "2019-01-02", "12.31")
    assert content_key(None, "X1", None, "bad total") is None


def test_darker_than_is_the_float_comparison_for_every_pair_of_levels() -> None:
    """The lookup-table comparison of two uint8 rasters answers exactly as float32 arithmetic
    (every ink level against every paper level), and other dtypes take the arithmetic itself."""
    from forensics.fingerprints import INK_CONTRAST, darker_than

    levels = np.repeat(np.arange(256, dtype=np.uint8), 256).reshape(256, 256)
    paper = np.ascontiguousarray(levels.T)
    expected = levels.astype(np.float32) < paper.astype(np.float32) * (1.0 - INK_CONTRAST)
    assert (darker_than(levels, paper) == expected).all()
    assert darker_than(levels, paper).sum() == expected.sum() > 0
    wide = levels.astype(np.int32)
    assert (darker_than(wide, paper) == expected).all()


def test_text_shingles_kept_per_word_are_the_pages_shingles() -> None:
    import hashlib
    import unicodedata

    from forensics import fingerprints as F

    def norm(value: str) -> str:  # the comparison form, written out
        text = "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c)).upper()
        return re.sub(r"[^0-9A-Z\u4e00-\u9fff]+", "", text)

    def shingles(words: list[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for word in words:
            w = norm(word)
            if len(w) >= 2:
                for i in range(max(1, len(w) - F.TEXT_SHINGLE + 1)):
                    g = w[i:i + F.TEXT_SHINGLE]
                    out[g] = F.TEXT_DIGIT_WEIGHT if any(c.isdigit() for c in g) else 1.0
        return out

    rng = random.Random(4)
    page = ["Rechnung", "Straße", "é1", "12", "x", "", "A-B-C", "3.50", "TOTAL", "Menge", "Ä"] * 3
    page += ["".join(rng.choice("ABCDEFGH0123456789.,-") for _ in range(rng.randint(1, 12))) for _ in range(80)]
    for _ in range(2):  # the second time from the kept words
        got = F._text_shingles(page)
        assert list(got.items()) == list(shingles(page).items())
        bits = {g: int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big") for g in got}
        assert all(F._feature_bits(g) == b for g, b in bits.items())
    assert F.text_hash_of(page) == F.text_hash_of(list(page))
