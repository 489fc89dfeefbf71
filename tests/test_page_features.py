"""Page features kept on disk: the same numbers as a fresh preparation, the same comparisons,
and pixels decoded only when a comparison needs them."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
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


def _opencv_ratio_matches(query: np.ndarray, train: np.ndarray, ratio: float) -> list[tuple[int, int]]:
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query, train, k=2)
    return [(p[0].queryIdx, p[0].trainIdx) for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]


@pytest.mark.parametrize("seed", (31, 32))
def test_ratio_matches_are_opencvs(seed: int) -> None:
    """faiss' search gives the pairs OpenCV's matcher gives: on a re-upload's features (many
    true pairs), on another shop's (few), and on descriptors with exact ties and duplicates."""
    rng = random.Random(seed)
    a, _ = render_scan(make_shop(rng), rng)
    other, _ = render_scan(make_shop(rng), rng)
    da = prepare(a).features[1]
    for b in (reupload(a, rng), other):
        db = prepare(b).features[1]
        q, t = page_features.ratio_matches(db, da, 0.8)
        assert list(zip(q.tolist(), t.tolist(), strict=True)) == _opencv_ratio_matches(db, da, 0.8)
    assert len(page_features.ratio_matches(prepare(reupload(a, rng)).features[1], da, 0.8)[0]) > 100
    np_rng = np.random.default_rng(seed)
    train = np_rng.integers(0, 256, (50, 32), dtype=np.uint8)
    train[10] = train[11]  # a duplicated descriptor: its twin ties and fails the ratio test
    query = np.concatenate([train[:20], np_rng.integers(0, 256, (30, 32), dtype=np.uint8)])
    q, t = page_features.ratio_matches(query, train, 0.8)
    assert list(zip(q.tolist(), t.tolist(), strict=True)) == _opencv_ratio_matches(query, train, 0.8)
    assert 10 not in q.tolist() and 11 not in q.tolist() and 0 in q.tolist()
