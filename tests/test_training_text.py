"""training.text: pages of text rendered in other typefaces."""

from __future__ import annotations

import numpy as np

from training.text import rendered_pages


def test_rendered_text_pages_look_like_clean_pages():
    pages = rendered_pages(seed=0, n=3, h=64, w=96)
    assert [p.id for p in pages] == [-1, -2, -3]
    for p in pages:
        assert p.clean.shape == (64, 96) and p.dirty is p.clean
        assert p.clean.max() == 1.0 and p.clean.min() < 0.3  # white paper, dark ink
        assert 0.5 < (p.clean == 1.0).mean() < 0.98
    assert not np.array_equal(pages[0].clean, pages[1].clean)
    np.testing.assert_array_equal(rendered_pages(0, 1, 64, 96)[0].clean, pages[0].clean)
