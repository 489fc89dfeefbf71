from __future__ import annotations

import numpy as np
import pytest

from forensics.detectors import page_maps


@pytest.mark.parametrize("shape", [(64, 48), (69, 61), (7, 13), (1, 1)])
def test_text_free_blocks_are_the_jpeg_blocks_without_any_text(shape):
    rng = np.random.default_rng(shape[1])
    near_ink = rng.random(shape) < 0.01
    free = page_maps._text_free_blocks(near_ink)
    assert free.shape == shape and free.dtype == bool
    k = page_maps.JPEG_BLOCK
    for i in range(0, shape[0], k):
        for j in range(0, shape[1], k):
            block = free[i:i + k, j:j + k]
            assert block.all() != near_ink[i:i + k, j:j + k].any() and (block.all() or not block.any())


@pytest.mark.parametrize("k", [2, 4, 8])
def test_block_reduce_gives_each_blocks_least_and_greatest(k):
    values = np.random.default_rng(k).integers(0, 255, size=(21, 30)).astype(np.float64)
    lo, hi = page_maps.block_reduce(values, np.minimum, k), page_maps.block_reduce(values, np.maximum, k)
    assert lo.shape == hi.shape == (-(-21 // k), -(-30 // k))
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            block = values[i * k:(i + 1) * k, j * k:(j + 1) * k]
            assert lo[i, j] == block.min() and hi[i, j] == block.max()


def test_the_shared_maps_give_copy_move_the_maps_it_makes_alone():
    # the 3x3 mean and the blur kept on the page maps are those page_noise makes without them
    import cv2
    from PIL import Image

    from forensics.detectors.copy_noise import page_noise

    rng = np.random.default_rng(3)
    page = np.clip(rng.normal(200, 20, size=(90, 70)), 0, 255).astype(np.uint8)
    page[30:50, 10:60] = 40
    image = Image.fromarray(page)
    maps = page_maps.page_maps(image)
    alone, shared = page_noise(image), page_noise(image, maps)
    for name in ("residual", "blurred", "usable", "cells"):
        assert np.array_equal(getattr(alone, name), getattr(shared, name)), name
    assert maps.gaussian(1.0) is maps.gaussian(1.0)
    assert np.array_equal(maps.gaussian(2.0), cv2.GaussianBlur(page.astype(np.float32), (0, 0), 2.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spread_and_percentile_are_numpys_to_the_bit(dtype):
    rng = np.random.default_rng(7)
    for n in range(300):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 90))
        page = rng.normal(120, 40, (h + 6, w + 6))
        if n % 3 == 0:
            page = page.round()  # grey levels: ties at the order statistics
        box = page.astype(dtype)[2:2 + h, 3:3 + w]  # a strided slice, as a word's box is
        assert page_maps.spread(box) == float(box.std())
        for q in (2, 50, 90, 98):
            assert page_maps.percentile(box, q) == float(np.percentile(box, q))


def test_runs_are_the_true_stretches_of_a_mask():
    rng = np.random.default_rng(5)
    for n in range(60):
        mask = rng.random(n) < rng.random()
        found = page_maps.runs(mask)
        again = np.zeros(n, dtype=bool)
        for start, end in found:
            assert start < end and not again[start:end].any()
            again[start:end] = True
        assert np.array_equal(again, mask)
        assert all(b < c for (_, b), (c, _) in zip(found, found[1:], strict=False))  # apart, in order
