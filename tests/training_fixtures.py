"""A tiny data set in the real layout, for the training tests (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from training.pages import block_of

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



TINY_TRAINING = ["--widths", "4", "8", "--epochs", "1", "--steps", "2", "--patch", "16",
                 "--batch", "2", "--warmup", "1", "--margin", "4", "--verbose", "0"]


def validated_run(root: Path, data: Path, name: str, *train_args: str) -> Path:
    """A tiny validation run on block 1 taken through calibrate, export (to RUN/export/1) and
    evaluate (to RUN/eval), the commands docs/model.md runs; returns the run folder."""
    from training import calibrate, evaluate, export, train

    train.main(["--data", str(data), "--runs", str(root), "--name", name, "--val-blocks", "1",
                *TINY_TRAINING, *train_args])
    run = root / name
    calibrate.main([str(run), "--data", str(data), "--margin", "8"])
    export.main([str(run / "model.keras"), "--base", str(run / "export"), "--card",
                 str(run / "card.json"), "--calibration", str(run / "calibration.json"),
                 "--margin", "8", "--tile", "32"])
    evaluate.main(["--data", str(data), "--model", f"{name}={run / 'export' / '1'}",
                   "--val-blocks", "1", "--out", str(run / "eval"), "--no-timing",
                   "--windows", "0"])
    return run


def write_ink_dataset(root: Path, names=("A_H01", "A_H02", "A_H03", "B_H01", "B_H02"),
                      size=(40, 52)) -> Path:
    """Tiny historical-ink folder: noisy/NAME.png (RGB, faint ink on tinted paper) and
    gt/NAME.png (0 ink, 255 paper)."""
    for sub in ("noisy", "gt"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    h, w = size
    for n, name in enumerate(names):
        ink = clean_page(h, w, seed=n) < 128
        gray = np.where(ink, 120, 170).astype(np.uint8)
        Image.fromarray(np.stack([gray, gray, gray - 20], -1)).save(root / "noisy" / f"{name}.png")
        Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).save(root / "gt" / f"{name}.png")
    return root
