"""Dirty/clean page pairs and the fixed block split (no augmentation here).

Pages are kept at native resolution: nothing in training resizes a whole page.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.imageops import read_gray

BLOCK_SIZE = 12
# Validation blocks, fixed so that every run is measured on the same unseen pages: one block of
# 540x258 pages (ids 50-60) and two of 540x420 pages (ids 122-132, 194-204), 24 pages in all.
# Whole blocks, because a block shares its typography and the exact clean page across backgrounds.
VAL_BLOCKS = (4, 10, 16)


def add_data_argument(parser: argparse.ArgumentParser, help: str = "dataset folder") -> None:
    """--data for every tool: the data set lives outside the project, so its path is always
    given (or `DDD_DATA` set), never assumed."""
    default = os.environ.get("DDD_DATA")
    parser.add_argument("--data", type=Path, default=default, required=default is None,
                        help=f"{help} (default: $DDD_DATA)")


@dataclass(frozen=True)
class Page:
    """One training page: float32 [H, W] arrays in [0, 1]; `clean` is None for unlabelled pages."""

    id: int
    dirty: np.ndarray
    clean: np.ndarray | None = None


def block_of(page_id: int) -> int:
    return (page_id - 1) // BLOCK_SIZE


def list_ids(data_dir: str | Path, subset: str = "train") -> list[int]:
    """Page ids present in a subset folder (`train`, `train_cleaned` or `test`), sorted."""
    return sorted(int(p.stem) for p in Path(data_dir, subset).glob("*.png") if p.stem.isdigit())


def load_pages(data_dir: str | Path, ids: Iterable[int] | None = None) -> list[Page]:
    """Loads dirty/clean pairs from `train/` and `train_cleaned/` (all labelled ids by default)."""
    data_dir = Path(data_dir)
    ids = list_ids(data_dir, "train_cleaned") if ids is None else list(ids)
    pages = []
    for page_id in ids:
        dirty = read_gray(data_dir / "train" / f"{page_id}.png")
        clean = read_gray(data_dir / "train_cleaned" / f"{page_id}.png")
        if dirty.shape != clean.shape:
            raise ValueError(f"page {page_id}: dirty {dirty.shape} != clean {clean.shape}")
        pages.append(Page(page_id, dirty, clean))
    return pages


def split_by_blocks(
    ids: Iterable[int], val_blocks: Sequence[int] = VAL_BLOCKS
) -> tuple[list[int], list[int]]:
    """(train ids, validation ids): whole blocks go to one side, so no block is on both."""
    ids = sorted(ids)
    val = [i for i in ids if block_of(i) in set(val_blocks)]
    train = [i for i in ids if block_of(i) not in set(val_blocks)]
    return train, val
