"""training.backgrounds: synthetic fields darken, composites keep ink darker than paper."""

from __future__ import annotations

import numpy as np

from tests.training_fixtures import clean_page
from training.backgrounds import composite, synthetic_background


def test_synthetic_background_is_a_darkening_field():
    rng = np.random.default_rng(0)
    fields = [synthetic_background(rng, 64, 80) for _ in range(20)]
    for f in fields:
        assert f.shape == (64, 80) and f.dtype == np.float32
        assert f.min() >= 0.08 and f.max() <= 1.0
    assert np.std([f.mean() for f in fields]) > 0.02  # they differ from one another


def test_composite_keeps_ink_darker_than_paper():
    rng = np.random.default_rng(1)
    clean = clean_page(40, 52, 0).astype(np.float32) / 255
    dirty = composite(rng, clean, np.full((40, 52), 0.8, np.float32))
    assert dirty[clean < 0.2].mean() < dirty[clean == 1.0].mean() - 0.4
    assert dirty.max() <= 0.8 + 1e-6
