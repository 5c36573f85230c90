"""training.imageops: resampling and the JPEG round trip."""

from __future__ import annotations

import numpy as np

from tests.training_fixtures import clean_page
from training.imageops import jpeg, resize


def test_resize_keeps_flat_paper_white():
    patch = np.ones((30, 30), np.float32)
    patch[10:20, 12:14] = 0.0
    out = resize(patch, 24)
    assert out.shape == (24, 24) and out[0, 0] == 1.0 and out.min() < 0.3


def test_jpeg_round_trip_changes_little():
    x = clean_page(40, 52, 0).astype(np.float32) / 255
    y = jpeg(x, 90)
    assert y.shape == x.shape and 0 < np.abs(y - x).mean() < 0.05
