"""training.input_sets: held-out inputs on unseen backgrounds and JPEG keep their targets."""

from __future__ import annotations

import numpy as np

from tests.training_fixtures import write_dataset
from training.input_sets import camera_pages, jpeg_pages, robustness_pages
from training.pages import load_pages


def test_robustness_and_jpeg_pages_keep_targets(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    pages = load_pages(data_dir, [2, 3])
    for made in (robustness_pages(pages, seed=1), jpeg_pages(pages, quality=30)):
        for original, page in zip(pages, made, strict=True):
            assert page.id == original.id and page.clean is original.clean
            assert page.dirty.shape == original.dirty.shape
            assert not np.array_equal(page.dirty, original.dirty)
    again = robustness_pages(pages, seed=1)
    np.testing.assert_array_equal(again[0].dirty, robustness_pages(pages, seed=1)[0].dirty)


def test_camera_pages_are_fixed_photographs_with_clean_targets():
    pages, again = camera_pages(seed=3, n=2, side=64), camera_pages(seed=3, n=2, side=64)
    assert [p.id for p in pages] == [-101, -102]
    for page, twin in zip(pages, again, strict=True):
        np.testing.assert_array_equal(page.dirty, twin.dirty)
        assert page.dirty.shape == page.clean.shape == (64, 64)
        assert page.dirty.mean() < page.clean.mean()  # shadowed, dimmed paper
