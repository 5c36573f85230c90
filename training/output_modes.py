"""The answer's modes beside grayscale, as graph functions the export puts in the SavedModel:
`cor` (the page's own colours on white, neutral paper) and `binaria` (a 1-bit PNG).

Both run the network on the page's darkest channel, not its luminance: a saturated orange
logo or a yellow stamp is as dark there as black type, so the network keeps it as ink (on
luminance it hollowed an orange disc). Paper, stains and coffee rings stay light in that
channel too and go, as in grayscale. Then:

- the paper's colour is estimated from the pixels the network calls paper, in 16-px cells,
  filled across solid ink, the brightest within two cells (a coffee ring under ink is not the
  paper), smoothed; the page divided by it is "balanced" (white paper);
- `cor`: where the network puts ink, a pixel of coloured ink takes the ink's balanced colour
  (so it is no lighter than printed and keeps hue and saturation; a stroke's edge pixels take
  the colour of the ink beside them, as the network draws strokes solid), a pixel of neutral
  ink the network's gray (black type as dark as in grayscale, exactly neutral, no fringes);
  where it puts paper, white;
- `binaria`: ink is the network's output below half of the paper's white, except light tints
  (highlighter bands, pale form boxes), which archives and OCR want as background.

Pixel work runs in strips of rows, so memory grows with a strip, not with the page.
"""

from __future__ import annotations

import tensorflow as tf

BLOCK = 16  # paper estimate's cell (px): fine enough to follow shadows and stains
STRIP = 256  # rows of pixel work at a time; a multiple of BLOCK
MIN_PAPER = BLOCK * BLOCK // 8  # paper pixels a cell needs to be measured
PAPER_FLOOR = 0.2  # darkest paper colour believed, so that division cannot blow up
# Saturation relative to white, (max - min) / (1 - min) of the ink's balanced colour: the same
# for an ink at any coverage. Below NEUTRAL the ink is gray, above COLOUR wholly coloured.
NEUTRAL, COLOUR = 0.2, 0.35
PAPER_LEVEL = 0.9  # network output (of paper's white) from which a pixel may be all paper
TINT = 0.8  # luminance from which a chromatic pixel is a tint (highlighter), not ink, in binaria
LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709, as libpng's gray conversion
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
IHDR_END = 33  # signature 8 + length 4 + type 4 + data 13 + CRC 4


def darkest_channel(rgb: tf.Tensor) -> tf.Tensor:
    """[H,W,3] uint8 -> [1,H,W,1] float in [0, 1]: the network's input for colour pages."""
    return tf.cast(tf.reduce_min(rgb, axis=-1), tf.float32)[tf.newaxis, :, :, tf.newaxis] / 255.0


def paper_white(levels: tf.Tensor) -> tf.Tensor:
    """The network's level for paper: the median of its light half (255 for a calibrated model)."""
    counts = tf.math.bincount(tf.cast(tf.reshape(levels, [-1]), tf.int32), minlength=256,
                              maxlength=256)[128:]
    total = tf.reduce_sum(counts)
    median = tf.argmax(tf.cast(tf.cumsum(counts) * 2 >= total, tf.int32), output_type=tf.int32)
    return tf.where(total > 0, tf.cast(median + 128, tf.float32), 255.0)


def _strips(x: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor, value: int) -> tf.Tensor:
    """[H,W,C] padded with `value` to [n, STRIP, cols, C] for map_fn."""
    h, w = tf.shape(x)[0], tf.shape(x)[1]
    padded = tf.pad(x, [[0, rows - h], [0, cols - w], [0, 0]], constant_values=value)
    return tf.reshape(padded, [rows // STRIP, STRIP, cols, tf.shape(x)[2]])


def _padded_size(h: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return (h + STRIP - 1) // STRIP * STRIP, (w + BLOCK - 1) // BLOCK * BLOCK


def paper_blocks(rgb: tf.Tensor, levels: tf.Tensor, white: tf.Tensor) -> tf.Tensor:
    """[H/16, W/16, 3] float: the paper's colour per cell, from pixels the network calls paper
    and whose neighbours are paper too (ink halos would darken it)."""
    rows, cols = _padded_size(tf.shape(rgb)[0], tf.shape(rgb)[1])
    rgb_strips = _strips(rgb, rows, cols, 0)
    paper_strips = _strips(tf.cast(tf.cast(levels, tf.float32) >= 0.98 * white, tf.uint8),
                           rows, cols, 0)

    def sums(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        colour, paper = args
        mask = -tf.nn.max_pool2d(-tf.cast(paper, tf.float32)[tf.newaxis], 3, 1, "SAME")[0]
        values = tf.concat([tf.cast(colour, tf.float32) / 255.0 * mask, mask], axis=-1)
        cells = tf.reshape(values, [STRIP // BLOCK, BLOCK, cols // BLOCK, BLOCK, 4])
        return tf.reduce_sum(cells, axis=[1, 3])

    cells = tf.map_fn(sums, (rgb_strips, paper_strips),
                      fn_output_signature=tf.TensorSpec([STRIP // BLOCK, None, 4], tf.float32))
    cells = tf.reshape(cells, [rows // BLOCK, cols // BLOCK, 4])
    count = cells[..., 3:]
    known = tf.cast(count >= MIN_PAPER, tf.float32)
    colour = cells[..., :3] / tf.maximum(count, 1.0)
    # The brightest paper within two cells: a thin stain or ring under an ink would else tint it.
    brightest = tf.nn.max_pool2d(_fill(colour, known)[tf.newaxis], 5, 1, "SAME")[0]
    return tf.maximum(_smooth(brightest), PAPER_FLOOR)


def _fill(colour: tf.Tensor, known: tf.Tensor) -> tf.Tensor:
    """Cells without paper (solid ink, a logo) take the mean of their measured neighbours, ring
    by ring; a page without any paper is taken as white."""

    def grow(colour: tf.Tensor, known: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        total = _box3(colour * known)
        weight = _box3(known)
        reached = tf.cast(weight > 0, tf.float32)
        colour = known * colour + (1 - known) * total / tf.maximum(weight, 1e-6)
        return colour, tf.maximum(known, reached)

    colour, known = tf.while_loop(
        lambda colour, known: tf.reduce_any(known == 0) & tf.reduce_any(known > 0),
        grow, [colour, known])
    return known * colour + (1 - known)


def _box3(x: tf.Tensor) -> tf.Tensor:
    """3x3 sum over [H,W,C] (zero outside)."""
    return tf.nn.avg_pool2d(x[tf.newaxis], 3, 1, "SAME")[0] * 9.0


def _smooth(x: tf.Tensor) -> tf.Tensor:
    """3x3 mean that counts only cells inside the map."""
    return _box3(x) / _box3(tf.ones_like(x[..., :1]))


def _lerp_axis(cells: tf.Tensor, start: tf.Tensor, size: tf.Tensor, axis: int) -> tf.Tensor:
    """Bilinear resampling of a cell map along one axis, for pixels start..start+size: cell i's
    centre is pixel i*BLOCK + BLOCK/2, the map's edges are held."""
    n = tf.shape(cells)[axis]
    f = (tf.cast(tf.range(start, start + size), tf.float32) + 0.5) / BLOCK - 0.5
    f = tf.clip_by_value(f, 0.0, tf.cast(n - 1, tf.float32))
    low = tf.cast(tf.floor(f), tf.int32)
    high = tf.minimum(low + 1, n - 1)
    t = f - tf.cast(low, tf.float32)
    shape = [-1 if a == axis else 1 for a in range(3)]
    t = tf.reshape(t, shape)
    return tf.gather(cells, low, axis=axis) * (1 - t) + tf.gather(cells, high, axis=axis) * t


def compose(rgb: tf.Tensor, levels: tf.Tensor, white: tf.Tensor,
            blocks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """([H,W,3] uint8 colour answer, [H,W] bool ink of the bitonal answer)."""
    h, w = tf.shape(rgb)[0], tf.shape(rgb)[1]
    rows, cols = _padded_size(h, w)
    inputs = (_strips(rgb, rows, cols, 255), _strips(levels, rows, cols, 255),
              tf.range(0, rows, STRIP))

    def strip(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        colour, level, top = args
        paper = _lerp_axis(_lerp_axis(blocks, top, STRIP, 0), 0, cols, 1)
        balanced = tf.clip_by_value(tf.cast(colour, tf.float32) / 255.0 / paper, 0.0, 1.0)
        gray = tf.minimum(tf.cast(level, tf.float32) / white, 1.0)
        low = tf.reduce_min(balanced, axis=-1, keepdims=True)
        # How much of the pixel is ink: its darkening by the network relative to the page's
        # own, and wholly ink from half of the paper's white down (where binaria says ink too).
        ink = tf.clip_by_value(tf.maximum((1 - gray) / tf.maximum(1 - low, 1 / 255),
                                          (PAPER_LEVEL - gray) / (PAPER_LEVEL - 0.5)), 0.0, 1.0)
        # A stroke's edge pixels blend its ink with the paper, and the network draws strokes
        # solid: they take the ink's own colour, each channel's darkest around them. Whether
        # that ink is coloured is asked of it too, not of a pale edge pixel (where JPEG's colour
        # noise would pass for ink beside black type).
        solid = -tf.nn.max_pool2d(-balanced[tf.newaxis], 3, 1, "SAME")[0]
        solid_low = tf.reduce_min(solid, axis=-1, keepdims=True)
        saturation = (tf.reduce_max(solid, axis=-1, keepdims=True) - solid_low) / \
            tf.maximum(1 - solid_low, 0.1)
        chromatic = tf.clip_by_value((saturation - NEUTRAL) / (COLOUR - NEUTRAL), 0.0, 1.0)
        out = chromatic * (1 - ink * (1 - solid)) + (1 - chromatic) * gray
        luma = tf.reduce_sum(balanced * LUMA, axis=-1, keepdims=True)
        tint = (chromatic > 0.5) & (luma >= TINT)
        bitonal = (gray < 0.5) & ~tint
        return (tf.cast(tf.round(out * 255.0), tf.uint8), bitonal[..., 0])

    out, ink = tf.map_fn(strip, inputs, fn_output_signature=(
        tf.TensorSpec([STRIP, None, 3], tf.uint8), tf.TensorSpec([STRIP, None], tf.bool)))
    return (tf.reshape(out, [rows, cols, 3])[:h, :w], tf.reshape(ink, [rows, cols])[:h, :w])


def colour_and_ink(rgb: tf.Tensor, levels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The two answers from the page [H,W,3] uint8 and the network's levels [H,W,1] uint8."""
    white = paper_white(levels)
    return compose(rgb, levels, white, paper_blocks(rgb, levels, white))


def encode_bitonal_png(ink: tf.Tensor, compression: int) -> tf.Tensor:
    """A 1-bit grayscale PNG (ink 0, paper 1) of [H,W] bool. TF encodes 8-bit PNGs only, but a
    row of bits packed 8 to a byte filters and compresses exactly as an 8-bit row of W/8 pixels,
    so the 8-bit encoding of the packed rows is rewritten to say 1 bit and width W."""
    h, w = tf.shape(ink)[0], tf.shape(ink)[1]
    bytes_wide = (w + 7) // 8
    paper = tf.pad(tf.cast(~ink, tf.int32), [[0, 0], [0, bytes_wide * 8 - w]], constant_values=1)
    packed = tf.reduce_sum(tf.reshape(paper, [h, bytes_wide, 8]) * [128, 64, 32, 16, 8, 4, 2, 1],
                           axis=-1)
    png = tf.io.encode_png(tf.cast(packed, tf.uint8)[..., tf.newaxis], compression=compression)
    ihdr = tf.concat([_be32(w), _be32(h), tf.constant([1, 0, 0, 0, 0], tf.int64)], axis=0)
    crc = _crc32(tf.concat([tf.constant(list(b"IHDR"), tf.int64), ihdr], axis=0))
    return tf.strings.join([PNG_HEAD, _to_bytes(ihdr), _to_bytes(_be32(crc)),
                            tf.strings.substr(png, IHDR_END, tf.strings.length(png) - IHDR_END)])


def _be32(n: tf.Tensor) -> tf.Tensor:
    n = tf.cast(n, tf.int64)
    return tf.stack([tf.bitwise.bitwise_and(tf.bitwise.right_shift(n, s), 255)
                     for s in (24, 16, 8, 0)])


def _to_bytes(values: tf.Tensor) -> tf.Tensor:
    table = tf.constant([bytes([i]) for i in range(256)])
    return tf.strings.reduce_join(tf.gather(table, values))


def _crc32(data: tf.Tensor) -> tf.Tensor:
    """PNG's CRC-32 of the 17 IHDR bytes (TF has no CRC op for strings); unrolled at trace."""
    table = tf.constant([_crc_entry(i) for i in range(256)], tf.int64)
    crc = tf.constant(0xFFFFFFFF, tf.int64)
    for i in range(17):
        index = tf.bitwise.bitwise_and(tf.bitwise.bitwise_xor(crc, data[i]), 255)
        crc = tf.bitwise.bitwise_xor(tf.gather(table, index), tf.bitwise.right_shift(crc, 8))
    return tf.bitwise.bitwise_xor(crc, 0xFFFFFFFF)


def _crc_entry(n: int) -> int:
    for _ in range(8):
        n = (n >> 1) ^ 0xEDB88320 if n & 1 else n >> 1
    return n
