"""Shared fixtures: a small real SavedModel with the production signatures, and page images."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("DDD_DATA", ROOT.parent / "shared" / "data" / "noisyoffice-ddd"))


def build_tiny_denoiser():
    """A two-level conv net with a skip and a residual output: the shape of the real model,
    small enough to export in seconds. Needs sizes that are multiples of 2."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    down = keras.layers.MaxPooling2D()(x)
    down = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(down)
    up = keras.layers.UpSampling2D()(down)
    x = keras.layers.Concatenate()([x, up])
    x = keras.layers.Conv2D(1, 3, padding="same")(x)
    return keras.Model(inp, keras.layers.Add()([inp, x]), name="tiny_denoiser")


@pytest.fixture(scope="session")
def tiny_model_base(tmp_path_factory) -> Path:
    """Model base path holding version 1 of the tiny denoiser, exported like the real one."""
    from training.export import export_model

    base = tmp_path_factory.mktemp("models") / "autoencoder"
    export_model(build_tiny_denoiser(), base, multiple=2, margin=8, tile=64, version=1)
    return base


def page_array(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A grey page with dark 'text' strokes and a stain, as uint8 [height, width]."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 230, np.uint8)
    page[rng.random((height, width)) < 0.05] = 30
    yy, xx = np.mgrid[0:height, 0:width]
    stain = ((yy - height / 2) ** 2 + (xx - width / 3) ** 2) < (min(width, height) / 4) ** 2
    page[stain] = (page[stain] * 0.7).astype(np.uint8)
    return page


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def page_png(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return encode(Image.fromarray(page_array(width, height, seed)))
