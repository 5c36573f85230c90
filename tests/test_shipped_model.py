"""The committed model: its card, a sane result on a real page, and tiles that do not show.

These run on the version under serving/models/autoencoder (what `make run` serves); the other
tests use a tiny model so that they do not depend on training.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pagework.backends.in_process import latest_version
from tests.conftest import DATA_DIR, ROOT
from training.export import PageCleaner, keras_from_export
from training.ink_suite import score, suite_pages
from training.model import BUILDERS

BASE = ROOT / "serving" / "models" / "autoencoder"


@pytest.fixture(scope="module")
def shipped():
    """(version folder, model card) of the committed model."""
    try:
        version = latest_version(BASE)
    except FileNotFoundError:
        pytest.fail(f"no model committed under {BASE}: `make run` would not start")
    card = json.loads((BASE / f"{version.name}.card.json").read_text())
    return version, card


@pytest.fixture(scope="module")
def serve(shipped):
    """The shipped version's serving_default, loaded once for the module."""
    return tf.saved_model.load(str(shipped[0])).signatures["serving_default"]


def data_page(folder: str, page_id: int) -> np.ndarray:
    path = DATA_DIR / folder / f"{page_id}.png"
    if not path.exists():
        pytest.skip(f"data set not found at {DATA_DIR} (set DDD_DATA)")
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def test_card_describes_the_version(shipped):
    version, card = shipped
    assert card["version"] == int(version.name)
    data = card["training_data"]
    assert data["pairs"] == len(data["ids"])
    if "shipped weights themselves" in card["validation"]["note"]:  # its own held-out pages
        assert not set(data["ids"]) & set(card["validation"]["ids"])
    else:  # a twin run measured the recipe; the shipped weights saw every pair
        assert data["pairs"] == 120
    assert 0 < card["validation"]["val_rmse"] < 0.05
    assert card["training"]["command"].startswith("python -m training.train")
    signatures = tf.saved_model.load(str(version)).signatures
    assert {"serving_default", "denoise"} <= set(signatures)


def test_cleans_a_real_page_far_better_than_doing_nothing(serve):
    """An export sanity check (the page was seen in training; quality is measured on held-out
    blocks by training.evaluate): a broken scale, crop or PNG step would fail it."""
    dirty, clean = data_page("train", 50), data_page("train_cleaned", 50)
    png = serve(image_bytes=tf.constant([(DATA_DIR / "train" / "50.png").read_bytes()]))
    out = np.asarray(Image.open(io.BytesIO(png["clean_png_bytes"].numpy()[0])))
    assert out.shape == dirty.shape and out.dtype == np.uint8

    def rmse(a: np.ndarray) -> float:
        return float(np.sqrt(np.mean((a / 255.0 - clean / 255.0) ** 2)))

    assert rmse(out) < 0.03 < rmse(dirty) / 3


def test_tiles_do_not_show_on_a_large_page(shipped):
    """A 2x2 mosaic of real pages, cleaned in tiles with the exported margin, matches one
    whole-page pass within one 8-bit level of the network's output, and within two after the
    calibration table (which stretches dark levels by up to ~1.3): seams are invisible."""
    version, card = shipped
    model = keras_from_export(version, BUILDERS[card["model"]], **card.get("builder_args", {}))
    assert model.count_params() == card["parameters"]
    pages = [data_page("test", i) for i in (1, 4, 7, 10)]
    h, w = min(p.shape[0] for p in pages), min(p.shape[1] for p in pages)
    mosaic = np.block([[pages[0][:h, :w], pages[1][:h, :w]], [pages[2][:h, :w], pages[3][:h, :w]]])
    x = tf.constant(mosaic[None, :, :, None].astype(np.float32) / 255.0)
    options = {k: card["serving"][k] for k in ("multiple", "margin", "tile")}
    loaded = tf.saved_model.load(str(version))
    # the calibration table (versions exported before training.calibrate have none)
    levels = loaded.levels.numpy() if hasattr(loaded, "levels") else np.arange(256)

    def network(max_single_pixels: int) -> np.ndarray:
        cleaner = PageCleaner(model, max_single_pixels=max_single_pixels, **options)
        y = np.rint(np.clip(cleaner.clean_float(x)[0, :, :, 0].numpy(), 0, 1) * 255)
        return y.astype(np.int64)

    whole, tiled = network(10**9), network(1)
    exported = np.rint(loaded.signatures["denoise"](images=x)["clean"][0, :, :, 0].numpy() * 255)
    assert np.abs(levels[whole].astype(int) - exported).max() <= 1
    assert np.abs(whole - tiled).max() <= 1
    assert np.abs(levels[whole].astype(int) - levels[tiled]).max() <= (2 if card["serving"].get(
        "calibrated") else 1)


@pytest.mark.parametrize("name", ["DejaVuSans-Bold bold 96px black",
                                  "LiberationSerif-Bold bold 80px faint",
                                  "DejaVuSans regular 54px faint", "solid marks black",
                                  "solid marks faint"])
def test_keeps_bold_type_faint_ink_and_solid_marks(serve, name):
    """Version 3 returned bold type and solid marks as hollow outlines and washed faint ink out
    (issue 27). Through serving_default, with the PNG bytes a client sends, the strokes' inner
    pixels stay dark and no letter comes back hollow."""
    pages = {p.name: p for p in suite_pages()}
    if name not in pages:
        pytest.skip(f"{name.split()[0]} not installed (make fonts)")
    page = pages[name]
    sent = io.BytesIO()
    Image.fromarray(np.round(page.dirty * 255).astype(np.uint8)).save(sent, "PNG")
    png = serve(image_bytes=tf.constant([sent.getvalue()]))["clean_png_bytes"].numpy()[0]
    out = np.asarray(Image.open(io.BytesIO(png)), np.float32) / 255.0
    result = score(page, out)
    assert result["inner_kept"] >= 0.98, result
    assert result["hollow_letters"] == 0, result
