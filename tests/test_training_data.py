"""training.data: loading, the block split (no leakage), synthetic backgrounds, patch sampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from training.data import (
    PatchSampler,
    block_of,
    composite,
    jpeg,
    jpeg_pages,
    list_ids,
    load_pages,
    patch_dataset,
    rendered_pages,
    resize,
    robustness_pages,
    split_by_blocks,
    stroke_weight,
    synthetic_background,
)

# Ids as in the real data: N mod 3 in {0, 2}; blocks 0, 1 and 2 (ids 1-36).
TINY_IDS = [i for i in range(1, 37) if i % 3 != 1]


def clean_page(h: int, w: int, seed: int) -> np.ndarray:
    """White page with dark 'text' bars, uint8."""
    rng = np.random.default_rng(seed)
    page = np.full((h, w), 255, np.uint8)
    for row in range(4, h - 6, 9):
        for x0 in range(2, w - 8, 11):
            if rng.random() < 0.8:
                page[row : row + 5, x0 : x0 + rng.integers(3, 9)] = rng.integers(0, 60)
    return page


def write_dataset(root: Path, ids=TINY_IDS, size=(40, 52)) -> Path:
    """Tiny dataset in the README layout: dirty = clean under a darker stain."""
    for sub in ("train", "train_cleaned", "test"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    for i in ids:
        clean = clean_page(h, w, seed=i % 3 + 10 * block_of(i))
        stain = 0.6 + 0.3 * np.exp(-((yy - h / 2) ** 2 + (xx - (i * 7) % w) ** 2) / 200.0)
        dirty = np.round(clean * (1 - stain + 0.6)).clip(0, 255).astype(np.uint8)
        Image.fromarray(clean).save(root / "train_cleaned" / f"{i}.png")
        Image.fromarray(dirty).save(root / "train" / f"{i}.png")
    Image.fromarray(clean_page(h, w, 99)).save(root / "test" / "1.png")
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "ddd")


def test_block_of_follows_the_readme():
    assert [block_of(i) for i in (1, 12, 13, 24, 25, 216)] == [0, 0, 1, 1, 2, 17]


def test_load_pages_reads_pairs_in_unit_range(data_dir):
    assert list_ids(data_dir, "train_cleaned") == TINY_IDS
    assert list_ids(data_dir, "test") == [1]
    pages = load_pages(data_dir, [2, 3])
    assert [p.id for p in pages] == [2, 3]
    for p in pages:
        assert p.dirty.shape == p.clean.shape == (40, 52)
        assert p.dirty.dtype == np.float32
        assert 0.0 <= p.clean.min() < 0.3 and p.clean.max() == 1.0
        assert p.dirty.mean() < p.clean.mean()  # the stain darkens


def test_load_pages_rejects_mismatched_pair(data_dir):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(data_dir / "train" / "2.png")
    with pytest.raises(ValueError, match="page 2"):
        load_pages(data_dir, [2])


def test_split_keeps_whole_blocks_apart(data_dir):
    ids = list_ids(data_dir, "train_cleaned")
    train, val = split_by_blocks(ids, val_blocks=[1])
    assert val == [14, 15, 17, 18, 20, 21, 23, 24]
    assert sorted(train + val) == ids
    assert not {block_of(i) for i in train} & {block_of(i) for i in val}


def test_default_split_of_the_real_layout():
    real_ids = [i for i in range(1, 217) if i % 3 != 1 and block_of(i) not in (2, 8, 14)]
    train, val = split_by_blocks(real_ids)
    assert len(real_ids) == 120 and len(val) == 24 and len(train) == 96
    assert {block_of(i) for i in val} == {4, 10, 16}


@settings(max_examples=50, deadline=None)
@given(ids=st.sets(st.integers(1, 400), max_size=60),
       val_blocks=st.sets(st.integers(0, 33), max_size=6))
def test_split_never_leaks(ids, val_blocks):
    train, val = split_by_blocks(ids, list(val_blocks))
    assert sorted(train + val) == sorted(ids)
    assert all(block_of(i) in val_blocks for i in val)
    assert not {block_of(i) for i in train} & {block_of(i) for i in val}


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


def test_patch_sampler_shapes_ranges_and_targets(data_dir):
    pages = load_pages(data_dir)
    sampler = PatchSampler(pages, size=16, seed=3, scale=0.0, stroke=0.0)
    cleans = {p.id: p.clean for p in pages}
    for _ in range(30):
        dirty, clean = sampler.sample()
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


def test_patch_sampler_is_deterministic_per_seed(data_dir):
    pages = load_pages(data_dir)
    a, b, c = (PatchSampler(pages, 16, seed=s) for s in (5, 5, 6))
    batch_a, batch_b, batch_c = (next(s.batches(4)) for s in (a, b, c))
    np.testing.assert_array_equal(batch_a[0], batch_b[0])
    np.testing.assert_array_equal(batch_a[1], batch_b[1])
    assert not np.array_equal(batch_a[0], batch_c[0])
    assert batch_a[0].shape == (4, 16, 16, 1)


def test_patch_sampler_mixes_real_and_synthetic_inputs(data_dir):
    pages = load_pages(data_dir)
    real = PatchSampler(pages, 16, seed=0, synthetic=0.0, overlay=0.0, scale=0.0, jitter=False)
    dirties = {p.id: p.dirty for p in pages}
    for _ in range(10):
        dirty, _ = real.sample()
        assert any(_contains(d, x) for d in dirties.values()
                   for x in (dirty, dirty[::-1], dirty[:, ::-1], dirty[::-1, ::-1]))
    synthetic = PatchSampler(pages, 16, seed=0, synthetic=1.0, jitter=False)
    dirty, _ = synthetic.sample()
    assert not any(_contains(d, dirty) for d in dirties.values())


def test_scale_and_stroke_jitter_keep_targets_in_range(data_dir):
    sampler = PatchSampler(load_pages(data_dir), 24, seed=1, scale=1.0, stroke=1.0, synthetic=1.0)
    for _ in range(20):
        dirty, clean = sampler.sample()
        assert dirty.shape == clean.shape == (24, 24)
        assert clean.min() >= 0.0 and clean.max() <= 1.0


def test_stroke_weight_makes_ink_bolder_or_thinner():
    clean = clean_page(40, 52, 0).astype(np.float32) / 255
    ink = [float((stroke_weight(np.random.default_rng(s), clean) < 0.5).sum()) for s in range(12)]
    assert min(ink) < (clean < 0.5).sum() < max(ink)


def test_rendered_text_pages_look_like_clean_pages():
    pages = rendered_pages(seed=0, n=3, h=64, w=96)
    assert [p.id for p in pages] == [-1, -2, -3]
    for p in pages:
        assert p.clean.shape == (64, 96) and p.dirty is p.clean
        assert p.clean.max() == 1.0 and p.clean.min() < 0.3  # white paper, dark ink
        assert 0.5 < (p.clean == 1.0).mean() < 0.98
    assert not np.array_equal(pages[0].clean, pages[1].clean)
    np.testing.assert_array_equal(rendered_pages(0, 1, 64, 96)[0].clean, pages[0].clean)


def test_sampler_uses_rendered_text_only_for_synthetic_patches(data_dir):
    pages = load_pages(data_dir)
    sampler = PatchSampler(pages, 16, seed=0, synthetic=1.0, rendered=1.0, text_pages=2,
                           scale=0.0, stroke=0.0)
    cleans = [p.clean for p in pages]
    _, clean = sampler.sample()
    assert not any(_contains(c, clean) for c in cleans)
    assert any(_contains(t.clean, c) for t in sampler.text
               for c in (clean, clean[::-1], clean[:, ::-1], clean[::-1, ::-1]))


def test_resize_keeps_flat_paper_white():
    patch = np.ones((30, 30), np.float32)
    patch[10:20, 12:14] = 0.0
    out = resize(patch, 24)
    assert out.shape == (24, 24) and out[0, 0] == 1.0 and out.min() < 0.3


def test_patch_sampler_rejects_patches_larger_than_pages(data_dir):
    with pytest.raises(ValueError, match="exceeds"):
        PatchSampler(load_pages(data_dir, [2]), size=48)


def test_patch_dataset_batches(data_dir):
    ds = patch_dataset(PatchSampler(load_pages(data_dir), 16, seed=0), batch=3)
    x, y = next(iter(ds))
    assert x.shape == y.shape == (3, 16, 16, 1)


def test_robustness_and_jpeg_pages_keep_targets(data_dir):
    pages = load_pages(data_dir, [2, 3])
    for made in (robustness_pages(pages, seed=1), jpeg_pages(pages, quality=30)):
        for original, page in zip(pages, made, strict=True):
            assert page.id == original.id and page.clean is original.clean
            assert page.dirty.shape == original.dirty.shape
            assert not np.array_equal(page.dirty, original.dirty)
    again = robustness_pages(pages, seed=1)
    np.testing.assert_array_equal(again[0].dirty, robustness_pages(pages, seed=1)[0].dirty)


def test_jpeg_round_trip_changes_little():
    x = clean_page(40, 52, 0).astype(np.float32) / 255
    y = jpeg(x, 90)
    assert y.shape == x.shape and 0 < np.abs(y - x).mean() < 0.05
