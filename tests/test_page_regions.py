"""page_regions.component_stats: OpenCV's labels and stats, made from the set pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from forensics.page_regions import component_stats, components


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (64, 48), (240, 180)])
@pytest.mark.parametrize("share", [0.0, 0.002, 0.05, 0.6, 0.999, 1.0])
def test_component_stats_are_opencvs(shape, share):
    # sparse specks, dilated runs, dense masks, masks set along their edges, none and all set
    rng = np.random.default_rng(int(share * 1000) + shape[0])
    specks = (rng.random(shape) < share).astype(np.uint8)
    framed = specks.copy()
    framed[0], framed[:, 0], framed[-1] = 1, 1, 255
    for mask in (specks, cv2.dilate(specks, np.ones((1, 9), np.uint8)), framed, specks * 255):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        got = component_stats(mask)
        assert got[0] == n and np.array_equal(got[1], labels) and np.array_equal(got[2], stats)
        assert got[2].dtype == stats.dtype


def test_components_of_a_mask_are_in_page_coordinates():
    mask = np.zeros((50, 60), np.uint8)
    mask[10:14, 20:30] = 1
    mask[30, 40:43] = 1
    n, stats = components(mask)
    assert n == 3 and stats[1:].tolist() == [[20, 10, 10, 4, 40], [40, 30, 3, 1, 3]]


def test_labelled_components_label_each_set_pixel_from_the_box_corner():
    from forensics.page_regions import labelled_components

    mask = np.zeros((50, 60), np.uint8)
    mask[10:14, 20:30] = 1
    mask[30, 40:43] = 1
    n, stats, labels, (x, y) = labelled_components(mask)
    assert (n, x, y) == (3, 20, 10) and stats[1:].tolist() == components(mask)[1][1:].tolist()
    assert labels[12 - y, 25 - x] == 1 and labels[30 - y, 41 - x] == 2 and labels[0, 15] == 0
    assert labelled_components(np.zeros((5, 5), np.uint8))[0] == 1
