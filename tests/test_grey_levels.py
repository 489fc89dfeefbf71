"""grey_levels: grey-level counts and their order statistics, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from forensics import grey_levels


@pytest.mark.parametrize("exact_up_to", [1 << 24, 10])
@pytest.mark.parametrize("masked", [False, True])
def test_the_grey_counts_are_bincounts(monkeypatch, exact_up_to, masked):
    monkeypatch.setattr(grey_levels, "EXACT_HISTOGRAM", exact_up_to)  # 10: the bincount path
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, size=(301, 203)).astype(np.uint8)[1:-2, 3:]
    mask = rng.random(grey.shape) < 0.3 if masked else None
    counts = grey_levels.grey_counts(grey, mask)
    want = np.bincount((grey[mask] if masked else grey).reshape(-1), minlength=256)
    assert counts.dtype == np.int64 and np.array_equal(counts, want)


def test_order_stats_are_the_sorted_values():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 256, size=997).astype(np.uint8)
    ranks = (0, 1, 498, 996)
    got = grey_levels.order_stats(grey_levels.grey_counts(values.reshape(1, -1)), ranks)
    assert got == tuple(int(v) for v in np.sort(values)[list(ranks)])
