"""training.model: builders are pure, accept any page size (with the export's padding), and use
only standard Keras layers (so a .keras file loads without custom objects)."""

from __future__ import annotations

import numpy as np
import pytest

from training.denoisers import keras_denoiser
from training.evaluate import receptive_radius
from training.model import BUILDERS, build_baseline, build_s2d_unet, build_unet, size_multiple


@pytest.fixture(scope="module")
def unet():
    return build_unet(widths=(4, 8, 8), name="tiny_unet")


def test_multiples(unet):
    assert size_multiple(unet) == 4
    assert size_multiple(build_unet()) == 16
    assert size_multiple(build_baseline()) == 4
    assert size_multiple(build_s2d_unet()) == 32  # the 2x2 blocks, then four poolings
    assert size_multiple(build_s2d_unet(widths=(8, 8))) == 4


def test_builders_are_pure():
    a, b = build_unet(widths=(4, 8)), build_unet(widths=(4, 8))
    assert a is not b and a.count_params() == b.count_params()
    assert [w.shape for w in a.weights] == [w.shape for w in b.weights]


@pytest.mark.parametrize("builder", [build_baseline, lambda: build_unet(widths=(4, 8, 8)),
                                     lambda: build_s2d_unet(widths=(4, 8)),
                                     lambda: build_s2d_unet(widths=(4, 8), io_kernel=4),
                                     lambda: build_s2d_unet(widths=(8, 8), half_res_convs=(1, 1)),
                                     lambda: build_s2d_unet(widths=(4, 8), full_res_head=4),
                                     lambda: build_s2d_unet(widths=(4, 8), subpixel_head=16),
                                     lambda: build_s2d_unet(widths=(4, 8), raw_skip="head",
                                                            subpixel_head=16),
                                     lambda: build_s2d_unet(widths=(4, 8), raw_skip="decoder")])
@pytest.mark.parametrize("shape", [(48, 64), (32, 96)])
def test_models_keep_the_size_of_aligned_pages(builder, shape):
    model = builder()
    x = np.random.default_rng(0).random((2, *shape, 1), np.float32)
    assert model(x).shape == (2, *shape, 1)


@pytest.mark.parametrize("size", [(259, 541), (1, 1), (17, 3)])
def test_odd_page_sizes_come_back_the_same_size(unet, size):
    x = np.random.default_rng(1).random((1, *size, 1), np.float32)
    y = keras_denoiser(unet, multiple=4, margin=8)(x)
    assert y.shape == x.shape
    assert y.min() >= 0.0 and y.max() <= 1.0
    np.testing.assert_allclose(y * 255, np.round(y * 255), atol=1e-3)


@pytest.mark.parametrize("builder", [build_unet, build_s2d_unet,
                                     lambda widths: build_s2d_unet(widths, full_res_head=4),
                                     lambda widths: build_s2d_unet(widths, subpixel_head=8)])
def test_unet_output_is_residual(builder):
    """With the correction layer zeroed the U-Net returns its input unchanged."""
    model = builder(widths=(4, 8))
    layer = model.get_layer("correction")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(2).random((1, 16, 24, 1), np.float32)
    np.testing.assert_allclose(model(x), x, atol=1e-6)


def test_keras_file_round_trip_without_custom_objects(unet, tmp_path):
    import keras

    path = tmp_path / "m.keras"
    unet.save(path)
    loaded = keras.models.load_model(path, compile=False)
    x = np.random.default_rng(3).random((1, 16, 20, 1), np.float32)
    np.testing.assert_allclose(loaded(x), unet(x), atol=1e-6)


@pytest.mark.parametrize("options", [{"io_kernel": 2}, {"io_kernel": 4}, {"subpixel_head": 16},
                                     {"raw_skip": "head", "subpixel_head": 16},
                                     {"raw_skip": "decoder"}])
def test_s2d_unet_corrects_each_pixel_of_a_block_separately(options):
    """The transposed conv gives the four pixels of a 2x2 block their own corrections: a
    one-pixel dot changes the output differently at each pixel of its block."""
    import keras

    keras.utils.set_random_seed(4)
    model = build_s2d_unet(widths=(8, 8), **options)
    x = np.ones((1, 16, 16, 1), np.float32)
    x[0, 8, 8, 0] = 0.0
    correction = np.asarray(model(x))[0, 8:10, 8:10, 0] - x[0, 8:10, 8:10, 0]
    assert len(np.unique(np.round(correction, 6))) == 4


def test_half_res_convs_set_the_finest_levels_depth():
    from keras import layers

    def convs(model):
        return sum(type(layer) is layers.Conv2D for layer in model.layers)

    assert convs(build_s2d_unet(widths=(8, 8))) - convs(
        build_s2d_unet(widths=(8, 8), half_res_convs=(1, 1))) == 2


def test_every_builder_builds_with_its_defaults():
    for name, builder in BUILDERS.items():
        model = builder()
        assert model.count_params() > 10_000, name


def test_receptive_radius_bounds_what_the_output_sees():
    """Baseline: five 3x3 convs over two pool levels reach at most 1+2+4+2+1 (+ pooling) px."""
    radius = receptive_radius(build_baseline(), size=64)
    assert 8 <= radius <= 16
    assert receptive_radius(build_unet(widths=(4, 8, 8, 8)), size=128) > radius


def test_paper_ratio_sees_the_same_stroke_on_bright_and_dark_paper():
    """The second channel is the page over its paper level: halving the exposure leaves it as
    it was (away from where paper is darker than the floor)."""
    from training.model import PaperRatio

    rng = np.random.default_rng(5)
    page = np.where(rng.random((1, 64, 80, 1)) < 0.05, 0.6, 0.95).astype(np.float32)
    ratio = PaperRatio()
    bright, dark = ratio(page).numpy(), ratio(page * 0.5).numpy()
    np.testing.assert_allclose(bright, dark, atol=1e-5)
    assert bright[page > 0.9].mean() > 0.95 and bright[page < 0.7].mean() < 0.7


def test_transplant_starts_the_paper_ratio_unet_as_the_plain_one(tmp_path):
    """Warm start from a one-channel U-Net: the new channel's weights start at zero, so the
    output is the source's exactly; the .keras file reloads with the layer registered."""
    import keras

    from training.model import transplant_weights

    source = build_unet(widths=(4, 8))
    model = build_unet(widths=(4, 8), paper_ratio=True)
    transplant_weights(model, source)
    x = np.random.default_rng(6).random((1, 16, 24, 1), np.float32)
    np.testing.assert_allclose(model(x), source(x), atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        transplant_weights(build_unet(widths=(4, 12)), source)
