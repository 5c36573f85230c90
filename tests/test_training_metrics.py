"""training.metrics: RMSE/PSNR/SSIM on known values, false ink on constructed pages with known
counts, and the worst windows."""

from __future__ import annotations

import numpy as np
import pytest

from training import metrics
from training.pages import Page


def test_metrics_on_known_values():
    a = np.zeros((8, 8), np.float32)
    b = np.full((8, 8), 0.1, np.float32)
    assert metrics.rmse(a, a) == 0.0
    assert metrics.rmse(a, b) == pytest.approx(0.1, rel=1e-6)
    assert metrics.psnr(a, b) == pytest.approx(20.0, rel=1e-6)
    page = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    assert metrics.ssim(page, page) == pytest.approx(1.0, abs=1e-6)
    assert metrics.ssim(page, 1 - page) < 0


def test_overall_rmse_pools_pixels_of_all_pages():
    pages = [Page(1, np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)),
             Page(2, np.zeros((2, 6), np.float32), np.ones((2, 6), np.float32))]
    scores = metrics.score_pages([p.dirty for p in pages], pages)
    assert scores["pages"]["1"]["rmse"] == 0.0 and scores["pages"]["2"]["rmse"] == 1.0
    assert scores["rmse"] == pytest.approx(np.sqrt(12 / 16))
    assert scores["mean_page_rmse"] == pytest.approx(0.5)


def text_page() -> np.ndarray:
    """White 40x60 page with two ink strokes."""
    clean = np.ones((40, 60), np.float32)
    clean[10:13, 5:30] = 0.0
    clean[25:28, 10:50] = 0.1
    return clean


def test_a_perfect_output_has_no_false_ink():
    clean = text_page()
    assert metrics.false_ink(clean, clean) == 0


def test_specks_away_from_ink_are_counted_once_each():
    clean = text_page()
    out = clean.copy()
    out[2, 50] = 0.3                # one pixel speck
    out[33:36, 40:44] = 0.2         # a blob of 12 pixels: one component
    out[5, 5] = out[6, 6] = 0.4     # diagonal neighbours: one component (8-connected)
    out[36, 10] = 0.6               # grey but not dark: not counted
    assert metrics.false_ink(out, clean) == 3
    labels, count = metrics.false_ink_mask(out, clean)
    assert count == 3 and labels.max() == 3
    assert labels[2, 50] and labels[34, 41] and labels[5, 5] == labels[6, 6] and not labels[36, 10]


def test_dark_pixels_touching_target_ink_are_not_false_ink():
    clean = text_page()
    out = clean.copy()
    out[13, 5:30] = 0.2             # a stroke one pixel too thick: touches ink
    out[9, 30] = 0.2                # diagonal to the stroke's corner (10, 29): not false
    out[14, 40] = 0.2               # 11 px from the nearest ink: false
    out[24, 4:9] = 0.2              # ends 2 px short of the stroke at (25, 10): false at reach 1
    assert metrics.false_ink(out, clean) == 2
    assert metrics.false_ink(out, clean, reach=2) == 1  # only (14, 40) is left


def test_ink_threshold_decides_what_counts_as_target_ink():
    clean = np.ones((20, 20), np.float32)
    clean[10, 5:15] = 0.8           # very faint printing: not ink at the default 0.75
    out = clean.copy()
    out[10, 5:15] = 0.3
    assert metrics.false_ink(out, clean) == 1
    assert metrics.false_ink(out, clean, ink=0.85) == 0


def test_score_pages_sums_false_ink_over_pages():
    clean = text_page()
    speckled = clean.copy()
    speckled[2, 50] = speckled[38, 2] = 0.0
    pages = [Page(1, clean, clean), Page(2, clean, clean)]
    scores = metrics.score_pages([clean, speckled], pages, with_ssim=False)
    assert scores["pages"]["1"]["false_ink"] == 0 and scores["pages"]["2"]["false_ink"] == 2
    assert scores["false_ink"] == 2 and scores["false_ink_per_page"] == 1.0


def test_worst_windows_find_the_damaged_spots_across_pages():
    clean = np.ones((150, 200), np.float32)
    a, b = clean.copy(), clean.copy()
    a[100:110, 180:190] = 0.0       # inside four windows of the grid (rows 64/86, cols 128/136)
    b[5:25, 5:25] = 0.5
    pages = [Page(1, clean, clean), Page(2, clean, clean)]
    windows = metrics.worst_windows([a, b], pages, size=64, count=2)
    assert [(w.page, w.y, w.x) for w in windows] == [(0, 64, 128), (1, 0, 0)]  # no repeats
    assert windows[0].rmse == pytest.approx(np.sqrt(100 / 64**2))
    assert windows[1].rmse == pytest.approx(np.sqrt(400 * 0.25 / 64**2))
    small = [Page(3, np.ones((20, 30), np.float32), np.ones((20, 30), np.float32))]
    assert metrics.worst_windows([small[0].clean], small, size=64)[0].y == 0
