"""training.pages: loading pairs and the block split (no leakage)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.training_fixtures import TINY_IDS, write_dataset
from training.pages import block_of, list_ids, load_pages, split_by_blocks


def test_block_of_follows_the_readme():
    assert [block_of(i) for i in (1, 12, 13, 24, 25, 216)] == [0, 0, 1, 1, 2, 17]


def test_load_pages_reads_pairs_in_unit_range(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    assert list_ids(data_dir, "train_cleaned") == TINY_IDS
    assert list_ids(data_dir, "test") == [1]
    pages = load_pages(data_dir, [2, 3])
    assert [p.id for p in pages] == [2, 3]
    for p in pages:
        assert p.dirty.shape == p.clean.shape == (40, 52)
        assert p.dirty.dtype == np.float32
        assert 0.0 <= p.clean.min() < 0.3 and p.clean.max() == 1.0
        assert p.dirty.mean() < p.clean.mean()  # the stain darkens


def test_load_pages_rejects_mismatched_pair(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(data_dir / "train" / "2.png")
    with pytest.raises(ValueError, match="page 2"):
        load_pages(data_dir, [2])


def test_split_keeps_whole_blocks_apart(tmp_path):
    data_dir = write_dataset(tmp_path / "ddd")
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
