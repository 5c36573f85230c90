"""training.patches: the patch sampler (shapes, targets, determinism, the mix) and its dataset."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training_fixtures import write_dataset, write_ink_dataset
from training.ink_pages import MappedPage, load_ink_pages
from training.pages import load_pages
from training.patches import PatchSampler, patch_dataset, with_teacher


def test_patch_sampler_shapes_ranges_and_targets(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    pages = load_pages(data_dir)
    sampler = PatchSampler(pages, size=16, seed=3, scale=0.0, stroke=0.0)
    cleans = {p.id: p.clean for p in pages}
    for _ in range(30):
        dirty, clean, _ = sampler.sample()
        assert dirty.shape == clean.shape == (16, 16)
        assert dirty.dtype == clean.dtype == np.float32
        assert dirty.min() >= 0.0 and dirty.max() <= 1.0
        assert np.allclose(dirty * 255, np.round(dirty * 255), atol=1e-3)  # 8-bit input
        # the target is an untouched crop of some clean page, possibly flipped
        assert any(_contains(page, c) for page in cleans.values()
                   for c in (clean, clean[::-1], clean[:, ::-1], clean[::-1, ::-1]))


def _contains(page: np.ndarray, patch: np.ndarray) -> bool:
    windows = np.lib.stride_tricks.sliding_window_view(page, patch.shape)
    return bool(np.any(np.all(windows == patch, axis=(-2, -1))))


def test_patch_sampler_is_deterministic_per_seed(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    pages = load_pages(data_dir)
    a, b, c = (PatchSampler(pages, 16, seed=s) for s in (5, 5, 6))
    batch_a, batch_b, batch_c = (next(s.batches(4)) for s in (a, b, c))
    np.testing.assert_array_equal(batch_a[0], batch_b[0])
    np.testing.assert_array_equal(batch_a[1], batch_b[1])
    assert not np.array_equal(batch_a[0], batch_c[0])
    assert batch_a[0].shape == (4, 16, 16, 1)


def test_patch_sampler_mixes_real_and_synthetic_inputs(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    pages = load_pages(data_dir)
    real = PatchSampler(pages, 16, seed=0, synthetic=0.0, overlay=0.0, scale=0.0, jitter=False)
    dirties = {p.id: p.dirty for p in pages}
    for _ in range(10):
        dirty, _, _ = real.sample()
        assert any(_contains(d, x) for d in dirties.values()
                   for x in (dirty, dirty[::-1], dirty[:, ::-1], dirty[::-1, ::-1]))
    synthetic = PatchSampler(pages, 16, seed=0, synthetic=1.0, jitter=False)
    dirty, _, _ = synthetic.sample()
    assert not any(_contains(d, dirty) for d in dirties.values())


def test_scale_and_stroke_jitter_keep_targets_in_range(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    sampler = PatchSampler(load_pages(data_dir), 24, seed=1, scale=1.0, stroke=1.0, synthetic=1.0)
    for _ in range(20):
        dirty, clean, _ = sampler.sample()
        assert dirty.shape == clean.shape == (24, 24)
        assert clean.min() >= 0.0 and clean.max() <= 1.0


def test_sampler_uses_rendered_text_only_for_synthetic_patches(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    pages = load_pages(data_dir)
    sampler = PatchSampler(pages, 16, seed=0, synthetic=1.0, rendered=1.0, text_pages=2,
                           scale=0.0, stroke=0.0)
    cleans = [p.clean for p in pages]
    _, clean, _ = sampler.sample()
    assert not any(_contains(c, clean) for c in cleans)
    assert any(_contains(t.clean, c) for t in sampler.text
               for c in (clean, clean[::-1], clean[:, ::-1], clean[::-1, ::-1]))


def test_patch_sampler_rejects_patches_larger_than_pages(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    with pytest.raises(ValueError, match="exceeds"):
        PatchSampler(load_pages(data_dir, [2]), size=48)


def test_patch_dataset_batches(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    ds = patch_dataset(PatchSampler(load_pages(data_dir), 16, seed=0), batch=3)
    x, y = next(iter(ds))
    assert x.shape == (3, 16, 16, 1) and y.shape == (3, 16, 16, 2)
    assert np.all(y[..., 1] == 0)  # no ink maps without ink pages


def test_with_teacher_blends_a_mirror_padded_teacher_into_the_targets():
    """A 3x3 box-filter teacher: next to the patch edge its output is the mean over mirrored
    pixels, as the export pads pages; the target is the weighted blend, clipped to [0, 1]."""
    import keras
    import tensorflow as tf

    inp = keras.Input((None, None, 1))
    box = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    teacher = keras.Model(inp, box(inp))
    box.set_weights([np.full((3, 3, 1, 1), 1 / 9, np.float32)])
    rng = np.random.default_rng(0)
    x = rng.random((2, 8, 8, 1)).astype(np.float32)
    y = np.concatenate([rng.random((2, 8, 8, 1)), np.zeros((2, 8, 8, 1))], -1).astype(np.float32)
    y[1, ..., 1] = 1.0  # the second target is an ink map: left as it is
    blended = with_teacher(tf.data.Dataset.from_tensors((x, y)), teacher, weight=0.25, margin=4)
    got_x, got_y = next(iter(blended))
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="symmetric")
    mean = sum(padded[:, i : i + 8, j : j + 8] for i in range(3) for j in range(3)) / 9
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_allclose(got_y[0, ..., :1], 0.75 * y[0, ..., :1] + 0.25 * mean[0],
                               atol=1e-6)
    np.testing.assert_array_equal(got_y[1], y[1])
    np.testing.assert_array_equal(got_y[..., 1], y[..., 1])


def test_mapped_patches_are_real_crops_with_binary_targets(tmp_path):
    pages = load_pages(write_dataset(tmp_path / "ddd"))
    ink_pages = load_ink_pages(write_ink_dataset(tmp_path / "ink"), ["A_H01", "A_H02"])
    sampler = PatchSampler(pages, 24, seed=4, ink_pages=ink_pages, mapped=1.0)
    for _ in range(12):
        dirty, target, is_map = sampler.sample()
        assert is_map and dirty.shape == target.shape == (24, 24)
        assert set(np.unique(target)) <= {0.0, 1.0}
        ink = target == 0
        assert ink.any() and dirty[ink].mean() < dirty[~ink].mean()  # the map follows the page
    x, y = next(sampler.batches(3))
    assert np.all(y[..., 1] == 1)


def test_short_real_pages_are_mirror_padded_to_the_patch(tmp_path):
    folder = write_ink_dataset(tmp_path / "ink", size=(12, 40))
    sampler = PatchSampler(load_pages(write_dataset(tmp_path / "ddd")), 24, seed=0,
                           ink_pages=load_ink_pages(folder, ["A_H01"]), mapped=1.0)
    assert sampler.sample()[0].shape == (24, 24)


def test_each_ink_collection_is_drawn_as_often_whatever_its_page_count(tmp_path):
    """Four pages of one collection (all ink) and one of another (no ink): half of the mapped
    patches come from each collection, not four in five from the larger."""
    pages = load_pages(write_dataset(tmp_path / "ddd"))
    page = np.full((40, 52), 0.5, np.float32)
    inked = [MappedPage(f"A_H{i:02d}", page, np.ones_like(page, bool)) for i in range(1, 5)]
    sampler = PatchSampler(pages, 24, seed=9, mapped=1.0,
                           ink_pages=[*inked, MappedPage("B_H01", page, np.zeros_like(page, bool))])
    from_b = sum(sampler.mapped_page()[1].min() == 1.0 for _ in range(300))
    assert 110 < from_b < 190
