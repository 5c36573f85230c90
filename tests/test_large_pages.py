"""Large pages: tiled inference in the exported graph agrees with one whole-page pass, and big
scans go through the service at native resolution."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.conftest import build_tiny_denoiser, decode_clean, encode, page_array
from training.export import PageCleaner, export_model


def clean_with(cleaner: PageCleaner, page: np.ndarray) -> np.ndarray:
    x = tf.constant(page[np.newaxis, :, :, np.newaxis].astype(np.float32) / 255.0)
    y = cleaner.clean_float(x)[0, :, :, 0].numpy()
    return np.rint(np.clip(y, 0, 1) * 255).astype(np.int16)


@pytest.mark.parametrize("size", [(300, 200), (129, 257), (64, 64), (1, 700), (700, 3)])
def test_tiled_and_whole_page_agree_within_one_level(size):
    model = build_tiny_denoiser()
    page = page_array(*size, seed=5)
    whole = PageCleaner(model, multiple=2, margin=8, tile=64, max_single_pixels=10**9)
    tiled = PageCleaner(model, multiple=2, margin=8, tile=64, max_single_pixels=1)
    assert np.abs(clean_with(whole, page) - clean_with(tiled, page)).max() <= 1


def test_tiles_are_batched_and_cropped_exactly(tmp_path):
    """A page of 5x3 tiles plus ragged edges, cleaned 4 tiles at a time, keeps its size."""
    base = tmp_path / "autoencoder"
    export_model(build_tiny_denoiser(), base, multiple=2, margin=8, tile=64, tile_batch=4,
                 max_single_pixels=1, version=1)
    serve = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    page = page_array(5 * 64 + 17, 3 * 64 + 9, seed=2)
    png = serve(image_bytes=tf.constant([encode(Image.fromarray(page))]))["clean_png_bytes"]
    out = np.asarray(Image.open(io.BytesIO(png.numpy()[0])))
    assert out.shape == page.shape
    whole = PageCleaner(build_tiny_denoiser(), multiple=2, margin=8, tile=64,
                        max_single_pixels=10**9)
    assert np.abs(out.astype(np.int16) - clean_with(whole, page)).max() <= 1


def test_a4_scan_at_300_dpi_through_the_service(live):
    """2480x3508 (8.7 MP), above the single-pass limit: cleaned in tiles, size kept."""
    server, database = live
    image = encode(Image.fromarray(page_array(2480, 3508, seed=9)))
    response = server.clean(image)
    assert response.json()["codigo_retorno"] == 0
    assert decode_clean(response).size == (2480, 3508)
    row = database.row(response.headers["X-Request-ID"])
    assert (row["largura"], row["altura"]) == (2480, 3508)
