"""training.page_engine, training.scan, training.fonts: synthetic documents and their scans."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tests.training_fixtures import write_dataset
from training.fonts import available_faces
from training.input_sets import document_pages
from training.page_engine import PAPER, Ink, Sheet, render_page, restore
from training.pages import load_pages
from training.patches import PatchSampler
from training.scan import real_backgrounds, scan


def test_faces_cover_every_style():
    faces = available_faces()
    for group in (faces.regular, faces.bold, faces.italic, faces.handwriting):
        assert group and all(path.exists() for path in group)


def test_restore_keeps_black_and_makes_faint_ink_readable():
    assert restore(1.0) == 1.0 and restore(0.0) == 0.0
    levels = [restore(d) for d in np.linspace(0, 1, 21)]
    assert levels == sorted(levels)
    assert 1 - restore(0.55) < 0.25  # ink at 0.45 of the paper's white comes out dark
    # every ink comes out darker than half of white, down to a tenth of the paper's contrast
    assert all(1 - restore(d) < 0.5 for d in np.linspace(0.1, 1, 10))


def test_clean_and_printed_pages_share_their_geometry():
    for seed in range(6):
        clean, printed = render_page(np.random.default_rng(seed), 200, 240)
        assert clean.shape == printed.shape == (200, 240)
        assert np.array_equal(clean < 1.0, printed > 0.0)  # ink in one is ink in the other
        assert np.all(1.0 - clean >= printed - 1e-6)  # restored ink at least as dark


def test_render_page_is_deterministic_per_seed():
    a, b, c = (render_page(np.random.default_rng(s), 96, 96) for s in (4, 4, 5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_pages_hold_wide_strokes_and_faint_ink():
    """What version 3 never saw: ink more than 10 px across, and ink lighter than 0.5."""
    widest, faint = 0.0, 0
    for seed in range(24):
        clean, printed = render_page(np.random.default_rng(seed), 256, 256)
        widest = max(widest, ndimage.distance_transform_edt(clean < 0.5).max())
        faint += int(np.any((printed > 0.2) & (printed < 0.5)))
    assert widest > 5
    assert faint >= 3


def test_knocked_out_text_erases_the_ink_under_it():
    sheet = Sheet(40, 80)
    ink = Ink(1.0)
    sheet.rectangle([0, 0, 79, 39], ink)
    sheet.rectangle([20, 10, 40, 20], PAPER)
    clean, printed = sheet.arrays(0.0)
    assert clean[15, 30] == 1.0 and printed[15, 30] == 0.0
    assert clean[5, 5] == 0.0 and printed[5, 5] == 1.0


def test_scan_puts_ink_on_paper_and_leaves_bare_paper_alone():
    rng = np.random.default_rng(0)
    paper = np.full((64, 64), 0.7, np.float32)
    printed = np.zeros((64, 64), np.float32)
    printed[20:40, 20:40] = 1.0
    for _ in range(10):
        dirty = scan(rng, printed, paper)
        assert dirty[22:38, 22:38].mean() < 0.7 * 0.5  # ink, even speckled, is dark
        assert abs(dirty[2, 2] - 0.7) < 0.02


def test_real_backgrounds_hold_paper_not_ink(tmp_path):
    pages = load_pages(write_dataset(tmp_path / "ddd"))
    for page, paper in zip(pages, real_backgrounds(pages), strict=True):
        white = page.clean >= 0.98
        np.testing.assert_array_equal(paper[white], page.dirty[white])
        assert paper[~white].mean() > page.dirty[~white].mean()


def test_sampler_engine_patches(tmp_path):
    pages = load_pages(write_dataset(tmp_path / "ddd"))
    a, b = (PatchSampler(pages, 24, seed=2, engine=1.0) for _ in range(2))
    for _ in range(5):
        (dirty, clean, _), (dirty_b, _, _) = a.sample(), b.sample()
        np.testing.assert_array_equal(dirty, dirty_b)
        assert dirty.shape == clean.shape == (24, 24)
        assert dirty.min() >= 0.0 and dirty.max() <= 1.0
        assert clean.max() <= 1.0


def test_document_pages_are_fixed_and_labelled():
    pages = document_pages(seed=1, n=2, h=64, w=80)
    assert [p.id for p in pages] == [-1, -2]
    again = document_pages(seed=1, n=2, h=64, w=80)
    np.testing.assert_array_equal(pages[1].dirty, again[1].dirty)
    assert all(p.dirty.shape == p.clean.shape == (64, 80) for p in pages)
