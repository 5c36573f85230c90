"""Real degraded pages with ink maps (the historical-ink folder): faint handwriting, aged and
textured paper, show-through, photographed letters; and their split by page.

Their targets are binary ink maps, not clean gray pages: they say where ink is (it must come out
dark) and where paper is (it must come out white), never how dark the ink should be.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.imageops import read_gray

HOLD_OUT_EVERY = 5  # every fifth page of each collection, by name, is held out for validation


@dataclass(frozen=True)
class MappedPage:
    """A page as captured (float32 [H, W] in [0, 1], gray as the API converts it) and its ink
    map (bool [H, W], True = ink)."""

    name: str
    dirty: np.ndarray
    ink: np.ndarray

    @property
    def collection(self) -> str:
        return self.name.rsplit("_", 1)[0]


def add_ink_argument(parser: argparse.ArgumentParser) -> None:
    """--ink-data: the folder lives outside the project, like the NoisyOffice data."""
    parser.add_argument("--ink-data", type=Path, default=os.environ.get("INK_DATA"),
                        help="historical-ink folder (noisy/ and gt/; default: $INK_DATA)")


def list_names(folder: str | Path) -> list[str]:
    return sorted(p.stem for p in Path(folder, "gt").glob("*.png"))


def split_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(train, held out) by whole page: every `HOLD_OUT_EVERY`-th page of each collection (the
    third, eighth, ...), so every collection is on both sides and no page is."""
    by_collection: dict[str, list[str]] = {}
    for name in sorted(names):
        by_collection.setdefault(name.rsplit("_", 1)[0], []).append(name)
    train, held = [], []
    for members in by_collection.values():
        for i, name in enumerate(members):
            (held if i % HOLD_OUT_EVERY == 2 else train).append(name)
    return train, held


def load_ink_pages(folder: str | Path, names: Iterable[str]) -> list[MappedPage]:
    folder = Path(folder)
    pages = []
    for name in names:
        dirty = read_gray(folder / "noisy" / f"{name}.png")
        ink = read_gray(folder / "gt" / f"{name}.png") < 0.5
        if dirty.shape != ink.shape:
            raise ValueError(f"{name}: page {dirty.shape} != ink map {ink.shape}")
        pages.append(MappedPage(name, dirty, ink))
    return pages

