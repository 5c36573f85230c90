"""training.augment: stroke weight and scanner jitter."""

from __future__ import annotations

import numpy as np

from tests.training_fixtures import clean_page
from training.augment import stroke_weight


def test_stroke_weight_makes_ink_bolder_or_thinner():
    clean = clean_page(40, 52, 0).astype(np.float32) / 255
    ink = [float((stroke_weight(np.random.default_rng(s), clean) < 0.5).sum()) for s in range(12)]
    assert min(ink) < (clean < 0.5).sum() < max(ink)
