"""The output table of training.calibrate: the mean target per level, monotone, and applied by
the exported graph after rounding (so the PNG and the `denoise` signature agree)."""

from __future__ import annotations

import numpy as np

from training.calibrate import fit_levels, isotonic, pool_rmse


def test_isotonic_pools_violators_by_weight():
    fitted = isotonic(np.array([1.0, 3.0, 2.0, 4.0]), np.array([1.0, 1.0, 3.0, 1.0]))
    assert np.allclose(fitted, [1.0, 2.25, 2.25, 4.0])
    assert np.all(np.diff(isotonic(np.random.default_rng(0).random(50), np.ones(50))) >= 0)


def test_perfect_outputs_give_the_identity():
    page = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(fit_levels([page], [page / 255.0]), np.arange(256))


def test_a_systematic_error_is_undone_and_the_rmse_falls():
    """Outputs that are too light by a curve (faint text): the table maps them back."""
    rng = np.random.default_rng(1)
    target = rng.integers(0, 256, (64, 64))
    output = np.round(255 * (target / 255.0) ** 0.8).astype(np.uint8)
    levels = fit_levels([output], [target / 255.0])
    assert np.all(np.diff(levels.astype(int)) >= 0)
    assert pool_rmse([levels[output]], [target / 255.0]) < 0.25 * pool_rmse([output],
                                                                             [target / 255.0])


def test_unseen_levels_are_interpolated_monotonically():
    output = np.array([[50, 200]], np.uint8)
    levels = fit_levels([output], [np.array([[40, 210]]) / 255.0])
    assert levels[50] == 40 and levels[200] == 210 and levels[0] == 0 and levels[255] == 255
    assert np.all(np.diff(levels.astype(int)) >= 0)
