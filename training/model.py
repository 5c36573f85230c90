"""Denoiser architectures: pure functions returning `keras.Model`s of standard layers only.

Each maps float32 [B, H, W, 1] in [0, 1] to the same shape for any H, W that are multiples of the
model's `multiple` (the export pads pages to that), so they export with `training.export` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops


def build_baseline(name: str = "baseline") -> keras.Model:
    """The original service's autoencoder (the widely copied Kaggle one), kept for comparison.

    Two 3x3 conv+pool stages and a sigmoid output; needs sizes that are multiples of 4.
    """
    inp = keras.Input((None, None, 1), name="image")
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(inp)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = layers.UpSampling2D()(x)
    out = layers.Conv2D(1, 3, activation="sigmoid", padding="same", name="clean")(x)
    return keras.Model(inp, out, name=name)


@keras.saving.register_keras_serializable(package="ddd")
class PaperRatio(layers.Layer):
    """The page divided by its estimated paper level: a stroke is the same input on a bright and
    on a dark page, in sun and in shadow.

    The paper level is the brightest of 4x4-averaged blocks within `reach` blocks, smoothed over
    as many: a local maximum (ink is darker than its paper), computed at a sixteenth of the
    pixels, so it costs little, and local (about 9 * `reach` px), so tiles with the export's
    margin agree with the whole page.
    """

    def __init__(self, reach: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.reach = reach

    def call(self, x):
        window = 2 * self.reach + 1
        blocks = ops.average_pool(x, 4, 4, padding="same")
        paper = ops.max_pool(blocks, window, 1, padding="same")
        paper = ops.average_pool(paper, window, 1, padding="same")
        paper = ops.repeat(ops.repeat(paper, 4, axis=1), 4, axis=2)  # back to full size,
        paper = ops.average_pool(paper, 7, 1, padding="same")  # without the blocks' steps
        shape = ops.shape(x)
        paper = paper[:, : shape[1], : shape[2]]  # sizes that are not multiples of 4
        return ops.clip(x / ops.maximum(paper, 0.03), 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reach": self.reach}


def build_unet(
    widths: Sequence[int] = (16, 24, 48, 64, 96),
    convs_per_level: int = 2,
    full_res_convs: tuple[int, int] = (1, 2),
    paper_ratio: bool = False,
    name: str = "unet",
) -> keras.Model:
    """A small U-Net with a residual output: clean = input + correction.

    Full resolution keeps few channels and few convs, (encoder, decoder) = `full_res_convs` (it
    dominates the cost; the decoder's second one sharpens strokes); the coarse levels are cheap
    and give the large receptive field that stains and shadows need.
    The residual output makes "leave the ink alone" the easy default, so the network only learns
    the background to remove. Needs sizes that are multiples of 2 ** (len(widths) - 1).
    `paper_ratio` adds the page over its paper level (`PaperRatio`) as a second input channel:
    contrast that does not depend on the page's exposure, for faint ink on dark paper.
    """
    inp = keras.Input((None, None, 1), name="image")
    x = inp
    if paper_ratio:
        x = layers.Concatenate()([inp, PaperRatio(name="paper_ratio")(inp)])
    x = layers.Rescaling(2.0, offset=-1.0)(x)  # centred input trains faster
    x = _trunk(x, widths, convs_per_level, full_res_convs)
    correction = layers.Conv2D(1, 1, name="correction")(x)
    out = layers.Add(name="clean")([inp, correction])
    return keras.Model(inp, out, name=name)


def build_s2d_unet(
    widths: Sequence[int] = (16, 32, 48, 64, 96),
    convs_per_level: int = 2,
    io_kernel: int = 2,
    half_res_convs: tuple[int, int] = (2, 2),
    full_res_head: int = 0,
    subpixel_head: int = 0,
    raw_skip: str = "",
    name: str = "s2d_unet",
) -> keras.Model:
    """The U-Net of `build_unet` with no full-resolution stage: each 2x2 block of pixels enters
    as one vector (a stride-2 conv, a learned space-to-depth) and leaves as four corrections
    (a stride-2 transposed conv, a learned depth-to-space) added to the input.

    Thin convs on full-resolution pages are memory-bound, so half resolution with the same
    channels costs far less time than its multiply-adds suggest, and every level sees twice as
    far. Widths should be multiples of 16 (oneDNN's AVX-512 blocks; 20 is as slow as 32), and
    so should every concatenation. Needs sizes that are multiples of 2 ** len(widths).
    Options, each measured in docs/model.md:
    - `io_kernel` 4: blocks overlap their neighbours on the way in and out.
    - `half_res_convs`: (encoder, decoder) convs of the finest level, the costliest.
    - `raw_skip` "decoder" or "head": the block vector before its ReLU joins the finest
      decoder level (with its skip) or the `subpixel_head` conv, so the way out sees the input
      pixels themselves, not only what several ReLU convs made of them.
    - `subpixel_head` > 0: a 3x3 conv to that many channels (a quarter per pixel of the block)
      before the way out.
    - `full_res_head` > 0: the blocks leave as that many channels per pixel (one of them the
      input pixel), and one 3x3 conv at full resolution makes the correction.
    """
    inp = keras.Input((None, None, 1), name="image")
    x = layers.Rescaling(2.0, offset=-1.0)(inp)
    blocks = layers.Conv2D(widths[0], io_kernel, strides=2, padding="same", name="blocks_in")(x)
    if raw_skip not in ("", "decoder", "head"):
        raise ValueError(f"raw_skip must be '', 'decoder' or 'head', not {raw_skip!r}")
    x = _trunk(layers.ReLU()(blocks), widths, convs_per_level, half_res_convs,
               [blocks] if raw_skip == "decoder" else [])
    if raw_skip == "head":
        x = layers.Concatenate()([x, blocks])
    if subpixel_head:
        x = layers.Conv2D(subpixel_head, 3, padding="same", activation="relu")(x)
    if full_res_head:
        x = layers.Conv2DTranspose(full_res_head - 1, io_kernel, strides=2, padding="same",
                                   activation="relu", name="blocks_out")(x)
        x = layers.Concatenate()([x, inp])
        x = layers.Conv2D(full_res_head, 3, padding="same", activation="relu")(x)
        correction = layers.Conv2D(1, 1, name="correction")(x)
    else:
        correction = layers.Conv2DTranspose(1, io_kernel, strides=2, padding="same",
                                            name="correction")(x)
    out = layers.Add(name="clean")([inp, correction])
    return keras.Model(inp, out, name=name)


def _trunk(x, widths: Sequence[int], convs_per_level: int, finest_convs: tuple[int, int],
           finest_extra: Sequence = ()):
    """Encoder (conv blocks, 2x2 max-pool down) and decoder (upsample, concatenate the skip and
    `finest_extra` at the finest level, conv blocks) of both U-Nets; `finest_convs` are the
    (encoder, decoder) convs of the finest level."""
    skips = []
    for level, width in enumerate(widths):
        if level:
            x = layers.MaxPooling2D()(x)
        x = _conv_block(x, width, convs_per_level if level else finest_convs[0])
        skips.append(x)
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D()(x)
        x = layers.Concatenate()([x, skips[level], *(finest_extra if level == 0 else [])])
        x = _conv_block(x, widths[level], convs_per_level if level else finest_convs[1])
    return x


def _conv_block(x, width: int, n: int):
    for _ in range(n):
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    return x


def transplant_weights(model: keras.Model, source: keras.Model) -> None:
    """Warm start from `source`, a network with fewer input channels in places: kernels are
    copied, and input channels `source` lacks start at zero, so the new network begins as
    `source` exactly."""
    target = model.get_weights()
    given = source.get_weights()
    if len(target) != len(given):
        raise ValueError(f"{len(given)} weight arrays for {len(target)}")
    for i, (new, old) in enumerate(zip(target, given, strict=True)):
        if new.shape == old.shape:
            target[i] = old
        elif new.ndim == 4 and new.shape[:2] == old.shape[:2] and new.shape[3] == old.shape[3]:
            target[i] = new * 0
            target[i][:, :, : old.shape[2], :] = old
        else:
            raise ValueError(f"weight {i}: {old.shape} does not fit {new.shape}")
    model.set_weights(target)


def size_multiple(model: keras.Model) -> int:
    """Size multiple a model needs: the product of its poolings' and strided convs' strides."""
    multiple = 1
    for layer in model.layers:
        if isinstance(layer, layers.MaxPooling2D | layers.Conv2D) and not isinstance(
            layer, layers.Conv2DTranspose
        ):
            multiple *= int(layer.strides[0])
    return multiple


BUILDERS = {"unet": build_unet, "s2d_unet": build_s2d_unet, "baseline": build_baseline}
