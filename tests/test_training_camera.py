"""training.camera: light fields stay in (0, 1], shadows are as hard or soft as drawn, and
faded ink keeps its strokes where they were."""

from __future__ import annotations

import numpy as np

from training.camera import beyond_page, camera_blur, camera_light, cast_shadow, fade, gutter


def test_light_fields_are_transmissions_that_darken():
    for seed in range(8):
        rng = np.random.default_rng(seed)
        for make in (cast_shadow, gutter, beyond_page, camera_light):
            field = make(rng, 48, 64)
            assert field.shape == (48, 64)
            assert field.min() > 0.0 and field.max() <= 1.0 + 1e-6
            assert field.mean() < 1.0


def test_shadows_come_with_hard_and_soft_edges():
    """The largest step between neighbours: a hard-edged shadow jumps, a soft one does not."""
    steps = []
    for seed in range(40):
        shadow = cast_shadow(np.random.default_rng(seed), 96, 96)
        steps.append(max(np.abs(np.diff(shadow, axis=0)).max(),
                         np.abs(np.diff(shadow, axis=1)).max()))
    assert max(steps) > 0.15 and min(steps) < 0.05


def test_fade_lightens_ink_unevenly_but_keeps_every_stroke():
    rng = np.random.default_rng(3)
    printed = np.zeros((64, 64), np.float32)
    printed[10:54, 30:33] = 1.0
    faded = fade(rng, printed)
    stroke = faded[printed > 0]
    assert np.all(faded[printed == 0] == 0)
    assert np.all(stroke >= 0.1 - 1e-6) and stroke.max() - stroke.min() > 0.05


def test_camera_blur_keeps_the_ink_in_place():
    rng = np.random.default_rng(0)
    page = np.ones((32, 32), np.float32)
    page[14:18, 14:18] = 0.0
    for _ in range(6):
        blurred = camera_blur(rng, page)
        assert blurred.shape == page.shape
        assert blurred[16, 16] < 0.6 and blurred[2, 2] > 0.99
