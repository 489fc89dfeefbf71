"""compare_pages: every relation class on generated receipts, and the edited boxes."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from forensics.alignment import KINDS, Relation, compare_pages
from tests.receipt_pages import edited_copy, make_shop, render_scan, reupload

SEEDS = (11, 12, 13)


def overlaps(a: tuple, b: tuple, pad: int = 4) -> bool:
    return a[0] <= b[2] + pad and b[0] <= a[2] + pad and a[1] <= b[3] + pad and b[1] <= a[3] + pad


def test_same_file_by_sha() -> None:
    img = Image.new("L", (100, 100), 255)
    rel = compare_pages(img, img, a_sha="x", b_sha="x")
    assert rel == Relation("same_file", 1.0, (), {"evidence": "sha256"})
    assert rel.kind in KINDS


@pytest.mark.parametrize("seed", SEEDS)
def test_reupload_is_same_image(seed: int) -> None:
    rng = random.Random(seed)
    a, _ = render_scan(make_shop(rng), rng)
    rel = compare_pages(a, reupload(a, rng), a_sha="a", b_sha="b")
    assert rel.kind == "same_image", rel.details
    assert rel.differing_boxes == ()
    assert 0.0 <= rel.score <= 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_edited_copy_reports_the_repainted_boxes(seed: int) -> None:
    rng = random.Random(seed)
    shop = make_shop(rng)
    a, fields = render_scan(shop, rng)
    b, edited = edited_copy(a, fields, shop, rng, degrade=seed % 2 == 0)
    rel = compare_pages(a, b)
    assert rel.kind == "edited_copy", rel.details
    assert rel.details["noise_corr"] > 0.25
    # every reported box lies on an edited field, and every edited field is reported
    assert all(any(overlaps(box, e) for e in edited) for box in rel.differing_boxes)
    assert all(any(overlaps(box, e) for box in rel.differing_boxes) for e in edited)


@pytest.mark.parametrize("seed", SEEDS)
def test_honest_receipts_of_one_shop_are_same_layout(seed: int) -> None:
    rng = random.Random(seed)
    shop = make_shop(rng)
    a, _ = render_scan(shop, rng)
    b, _ = render_scan(shop, rng)
    rel = compare_pages(a, b)
    assert rel.kind == "same_layout", rel.details
    assert abs(rel.details["noise_corr"]) < 0.1  # independent scans: independent noise


@pytest.mark.parametrize("seed", SEEDS)
def test_other_shops_are_unrelated(seed: int) -> None:
    rng = random.Random(seed)
    a, _ = render_scan(make_shop(rng), rng)
    b, _ = render_scan(make_shop(rng), rng)
    assert compare_pages(a, b).kind == "unrelated"


def test_blank_pages_do_not_crash() -> None:
    a = Image.new("L", (400, 700), 240)
    b = Image.new("RGB", (300, 500), (250, 250, 250))
    assert compare_pages(a, b).kind in KINDS
    assert compare_pages(Image.new("L", (1, 1)), a).kind == "unrelated"
    assert compare_pages(Image.new("L", (200, 5)), Image.new("L", (5, 200))).kind == "unrelated"
