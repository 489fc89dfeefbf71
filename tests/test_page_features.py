"""Page features kept on disk: the same numbers as a fresh preparation, the same comparisons,
and pixels decoded only when a comparison needs them."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics import page_features
from forensics.alignment import compare_pages, prepare
from forensics.page_features import PageGone, PreparedPage
from tests.receipt_pages import edited_copy, make_shop, render_scan, reupload


def _from_disk(root: Path, sha: str, image: Image.Image, loads: list[int]) -> PreparedPage:
    page_features.save(root, sha, prepare(image))
    size, feats = page_features.load(root, sha)
    return PreparedPage(size, feats, load=lambda: loads.append(1) or image)


def test_kept_features_are_the_computed_ones(tmp_path: Path) -> None:
    a, _ = render_scan(make_shop(random.Random(3)), random.Random(3))
    fresh = prepare(a)
    page_features.save(tmp_path, "ab" * 32, fresh)
    size, (pts, desc) = page_features.load(tmp_path, "ab" * 32)
    assert size == a.size
    assert len(pts) > 100
    assert np.array_equal(pts, fresh.features[0]) and np.array_equal(desc, fresh.features[1])
    assert page_features.load(tmp_path, "cd" * 32) is None  # other pixels: nothing kept


@pytest.mark.parametrize("seed", (21, 22))
def test_comparisons_from_kept_features_are_the_same(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    shop = make_shop(rng)
    a, fields = render_scan(shop, rng)
    pairs = {"reupload": reupload(a, rng), "edited": edited_copy(a, fields, shop, rng)[0],
             "same_shop": render_scan(shop, rng)[0], "other_shop": render_scan(make_shop(rng), rng)[0]}
    for name, b in pairs.items():
        loads: list[int] = []
        kept = compare_pages(prepare(a), _from_disk(tmp_path, f"{seed:02d}{name}".ljust(64, "0"), b, loads))
        fresh = compare_pages(a, b)
        assert (kept.kind, kept.score, kept.differing_boxes, kept.details) == \
            (fresh.kind, fresh.score, fresh.differing_boxes, fresh.details), name
        # another shop's page is told apart by its features: its pixels are never decoded
        assert loads == ([] if fresh.details.get("registration", "").startswith("features: no match") else [1]), name
    assert compare_pages(a, pairs["other_shop"]).kind == "unrelated"


def test_a_damaged_or_missing_folder_is_only_a_cache(tmp_path: Path) -> None:
    a, _ = render_scan(make_shop(random.Random(5)), random.Random(5))
    sha = "ef" * 32
    page_features.save(tmp_path, sha, prepare(a))
    (path,) = tmp_path.rglob(f"{sha}-*.orb")
    path.write_bytes(path.read_bytes()[:-7])  # truncated
    assert page_features.load(tmp_path, sha) is None
    page_features.save(None, sha, prepare(a))  # no folder: nothing kept, no error
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    page_features.save(blocked, sha, prepare(a))  # cannot write: logged, no error
    assert page_features.load(blocked, sha) is None


def test_a_page_whose_file_is_gone_says_so() -> None:
    a, _ = render_scan(make_shop(random.Random(6)), random.Random(6))
    gone = PreparedPage(a.size, prepare(a).features, load=lambda: None)
    with pytest.raises(PageGone):
        compare_pages(prepare(reupload(a, random.Random(6))), gone)
