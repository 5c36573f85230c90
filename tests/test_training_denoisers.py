"""training.denoisers: the simple baselines whiten paper and keep ink."""

from __future__ import annotations

import numpy as np
import pytest

from training import denoisers


def test_median_baselines_whiten_the_background_and_keep_ink():
    page = np.full((1, 30, 30, 1), 0.7, np.float32)
    page[0, 10:13, 5:25] = 0.1  # a stroke on grey paper
    for method in (denoisers.median_subtract, denoisers.median_threshold):
        out = method(page)
        assert out.shape == page.shape
        assert out[0, 0, 0, 0] == pytest.approx(1.0)
        assert out[0, 11, 15, 0] < 0.5


def test_denoise_pages_returns_one_page_per_page():
    from training.pages import Page

    pages = [Page(1, np.zeros((4, 6), np.float32)), Page(2, np.ones((3, 5), np.float32))]
    outputs = denoisers.denoise_pages(denoisers.do_nothing, pages)
    assert [o.shape for o in outputs] == [(4, 6), (3, 5)]
