"""Export round trip of each U-Net of training.model: bytes in -> PNG bytes out, same size,
values in range; tiles agree with the whole page when the margin covers the receptive radius."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pagework.codec import png_is_plain
from tests.training_fixtures import clean_page
from tfmodel.modes import SIGNATURES
from training.denoisers import keras_denoiser, saved_model_denoiser
from training.evaluate import receptive_radius
from training.export import export_model, reexport
from training.model import build_s2d_unet, build_unet
from training.output_modes import encode_bitonal_png

MARGIN = 24  # > receptive radius of the tiny U-Net below (checked in a test)


@pytest.fixture(scope="module", params=["unet", "s2d_unet"])
def tiny_unet(request):
    """Each architecture of training.model that ships, tiny; both need multiples of 4."""
    import keras

    keras.utils.set_random_seed(0)
    if request.param == "unet":
        return build_unet(widths=(4, 8, 8), name="tiny_unet")
    return build_s2d_unet(widths=(4, 8), name="tiny_s2d_unet")


@pytest.fixture(scope="module")
def exported(tiny_unet, tmp_path_factory):
    """Version 1 cleans whole pages; version 2 is the same network forced to tile."""
    base = tmp_path_factory.mktemp("models") / "autoencoder"
    export_model(tiny_unet, base, multiple=4, margin=MARGIN, tile=32, version=1,
                 card={"validation": {"val_rmse": 0.5}})
    export_model(tiny_unet, base, multiple=4, margin=MARGIN, tile=32, version=2,
                 max_single_pixels=100)
    return base


def test_signatures_are_what_tf_serving_clients_call(exported):
    """The SignatureDefs TF Serving reads from saved_model.pb (and shows as metadata): page bytes
    in and PNG bytes out for any batch, and float pages of any size for `denoise`."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel.FromString((exported / "1" / "saved_model.pb")
                                                        .read_bytes())
    (graph,) = [g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags]
    denoise = graph.signature_def["denoise"]
    shape = lambda info: [d.size for d in info.tensor_shape.dim]  # noqa: E731
    assert set(graph.signature_def) == {*SIGNATURES.values(), "denoise", "__saved_model_init_op"}
    for key in SIGNATURES.values():  # one per output mode, the same inputs and outputs
        serving = graph.signature_def[key]
        assert serving.method_name == "tensorflow/serving/predict"
        assert (serving.inputs["image_bytes"].dtype, shape(serving.inputs["image_bytes"])) == \
            (7, [-1])
        assert list(serving.outputs) == ["clean_png_bytes"]
        assert serving.outputs["clean_png_bytes"].dtype == 7  # DT_STRING
    assert denoise.method_name == "tensorflow/serving/predict"
    assert (denoise.inputs["images"].dtype, shape(denoise.inputs["images"])) == \
        (1, [-1, -1, -1, 1])  # DT_FLOAT
    assert denoise.outputs["clean"].dtype == 1


def _page(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(width)
    page = clean_page(height, width, 0).astype(np.float32) * rng.uniform(0.6, 1.0, (height, width))
    return Image.fromarray(page.astype(np.uint8))


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _serve(base, version: int, payloads: list[bytes], signature: str = "serving_default"
           ) -> list[Image.Image]:
    return [Image.open(io.BytesIO(b)) for b in _answers(base, version, payloads, signature)]


def _answers(base, version: int, payloads: list[bytes], signature: str = "serving_default"
             ) -> list[bytes]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(base / str(version)))
    out = loaded.signatures[signature](image_bytes=tf.constant(payloads))
    return list(out["clean_png_bytes"].numpy())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_bytes_in_png_out_same_size(exported, fmt):
    pages = [_page(541, 259), _page(37, 5)]
    outputs = _serve(exported, 1, [_encode(p, fmt) for p in pages])
    for page, out in zip(pages, outputs, strict=True):
        assert out.format == "PNG" and out.mode == "L"
        assert out.size == page.size
        assert np.asarray(out).std() > 0  # a picture, not a constant


def test_card_beside_the_version(exported):
    import json

    card = json.loads((exported / "1.card.json").read_text())
    assert card["version"] == 1 and card["validation"]["val_rmse"] == 0.5
    assert card["serving"]["margin"] == MARGIN and card["parameters"] > 0


def test_denoise_signature_matches_training_validation(exported, tiny_unet):
    """The numpy page logic used for validation while training gives the exported numbers."""
    x = np.asarray(_page(541, 259), np.float32)[None, ..., None] / 255
    exported_out = saved_model_denoiser(exported / "1")(x)
    keras_out = keras_denoiser(tiny_unet, multiple=4, margin=MARGIN)(x)
    assert exported_out.shape == x.shape
    assert exported_out.min() >= 0.0 and exported_out.max() <= 1.0
    assert np.abs(exported_out - keras_out).max() <= 1 / 255 + 1e-6


def test_tiles_agree_with_whole_page_when_margin_covers_the_radius(exported, tiny_unet):
    assert receptive_radius(tiny_unet, size=96) <= MARGIN
    payload = [_encode(_page(150, 70), "PNG")]
    whole = np.asarray(_serve(exported, 1, payload)[0], np.int16)
    tiled = np.asarray(_serve(exported, 2, payload)[0], np.int16)
    assert np.abs(whole - tiled).max() <= 1


def test_calibration_table_is_applied_after_rounding(tiny_unet, tmp_path):
    """An inverting table turns the PNG into 255 - the uncalibrated PNG, pixel for pixel, and
    `denoise` gives the same levels; the card says the version is calibrated."""
    import json

    inverted = list(range(255, -1, -1))
    export_model(tiny_unet, tmp_path, multiple=4, margin=MARGIN, version=1)
    export_model(tiny_unet, tmp_path, multiple=4, margin=MARGIN, version=2, levels=inverted)
    payload = [_encode(_page(61, 45), "PNG")]
    plain = np.asarray(_serve(tmp_path, 1, payload)[0], np.int16)
    calibrated = np.asarray(_serve(tmp_path, 2, payload)[0], np.int16)
    assert np.array_equal(calibrated, 255 - plain)
    x = np.asarray(_page(61, 45), np.float32)[None, ..., None] / 255
    denoised = saved_model_denoiser(tmp_path / "2")(x)[0, ..., 0]
    assert np.array_equal(np.rint(denoised * 255).astype(np.int16), calibrated)
    cards = [json.loads((tmp_path / f"{v}.card.json").read_text()) for v in (1, 2)]
    assert [c["serving"]["calibrated"] for c in cards] == [False, True]


@pytest.mark.parametrize("version", [1, 2], ids=["whole", "tiled"])
def test_output_modes_answer_rgb_and_one_bit_pages(exported, version):
    """`cor` is an RGB PNG and `binaria` a 1-bit PNG of the page's size, whole and in tiles, for
    colour and gray pages of any size."""
    colour = Image.merge("RGB", [_page(541, 259), _page(541, 259).transpose(Image.FLIP_LEFT_RIGHT),
                                 _page(541, 259)])
    pages = [colour, _page(37, 5), Image.new("L", (1, 1), 9)]
    payloads = [_encode(p, "PNG") for p in pages]
    for out, page in zip(_serve(exported, version, payloads, "cor"), pages, strict=True):
        assert (out.format, out.mode, out.size) == ("PNG", "RGB", page.size)
    for out, page in zip(_serve(exported, version, payloads, "binaria"), pages, strict=True):
        assert (out.format, out.mode, out.size) == ("PNG", "1", page.size)


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (8, 2), (9, 5), (333, 17)])
def test_bitonal_png_holds_exactly_the_ink(size):
    """The 8-bit encoding of packed bits, relabelled 1-bit: any width, CRCs intact."""
    import tensorflow as tf

    width, height = size
    ink = np.random.default_rng(width).random((height, width)) < 0.3
    png = encode_bitonal_png(tf.constant(ink), 3).numpy()
    assert png_is_plain(png)
    image = Image.open(io.BytesIO(png))
    assert (image.mode, image.size) == ("1", size)
    assert np.array_equal(~np.asarray(image), ink)


def test_reexport_adds_modes_and_keeps_the_grayscale_bytes(tmp_path):
    """A version exported again (training.export VERSION_DIR) has the same weights, table and
    options: its serving_default answers the same bytes, and its card says where it came from."""
    import json

    import keras

    keras.utils.set_random_seed(1)
    model = build_unet(widths=(4, 8, 8), name="tiny_unet")
    card = {"model": "unet", "builder_args": {"widths": [4, 8, 8], "name": "tiny_unet"}}
    export_model(model, tmp_path / "old", multiple=4, margin=MARGIN, tile=32, version=3,
                 card=card, levels=[min(255, v + 9) for v in range(256)])
    reexport(tmp_path / "old" / "3", tmp_path / "new", version=3)
    payloads = [_encode(_page(150, 70), "PNG"), _encode(_page(61, 45), "JPEG")]
    assert _answers(tmp_path / "old", 3, payloads) == _answers(tmp_path / "new", 3, payloads)
    again = json.loads((tmp_path / "new" / "3.card.json").read_text())
    assert again["reexported_from"]["version"] == 3 and again["builder_args"] == \
        card["builder_args"]
    assert again["serving"]["calibrated"] and again["serving"]["tile"] == 32
