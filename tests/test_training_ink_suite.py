"""training.ink_suite: the ink-preservation measures catch hollow letters and erased marks."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from training.ink_suite import fmeasure, marks_page, otsu, sauvola, score, suite_pages


def test_the_clean_target_keeps_every_stroke():
    page = marks_page("faint", np.random.default_rng(0))
    result = score(page, page.clean)
    assert result["inner_kept"] == 1.0 and result["hollow_letters"] == 0
    assert result["false_ink"] == 0 and result["fmeasure"] > 99


def test_hollowed_marks_are_counted():
    """Version 3's failure: solid marks come back as outlines."""
    page = marks_page("black", np.random.default_rng(0))
    solid = page.coverage >= 0.5
    outline = solid & ~ndimage.binary_erosion(solid, iterations=4)
    result = score(page, np.where(outline, 0.0, 1.0).astype(np.float32))
    assert result["inner_kept"] < 0.3
    assert result["hollow_letters"] >= 5


def test_suite_covers_sizes_weights_inks_and_marks():
    pages = suite_pages()
    assert {p.size for p in pages if p.kind == "text"} == {16, 24, 36, 54, 80, 96}
    assert {p.weight for p in pages} == {"regular", "bold", "solid"}
    assert {p.ink for p in pages} == {"black", "faint"}
    faint = next(p for p in pages if p.ink == "faint" and p.kind == "text")
    assert faint.dirty[faint.coverage >= 0.99].min() > 0.2  # faint really is faint
    assert faint.clean[faint.coverage >= 0.99].max() < 0.25  # and its target is dark


def test_binarizers_and_fmeasure():
    page = marks_page("black", np.random.default_rng(1))
    ink = page.coverage >= 0.5
    for method in (otsu, sauvola):
        out = method(page.dirty)
        assert set(np.unique(out)) <= {0.0, 1.0}
        assert fmeasure(out, ink) > 50
    assert fmeasure(np.ones_like(page.dirty), ink) == 0.0
