"""Whether every pixel of a page is in its file.

Decoders fill in what a file lacks instead of failing: libjpeg meets an end marker in the middle
of the pixel data (a file cut short, or a header claiming more rows than were sent) and paints
the rest gray, and Pillow's PNG and GIF decoders stop where the data stops and leave the rest of
the picture as it was. Such pages were cleaned and served as whole ones. Each check decodes
twice with different filling: the pixels that are in the file come out the same both times.
"""

from __future__ import annotations

import io

from PIL import Image

JPEG_END = b"\xff\xd9"
_NOISE = bytes([0x55, 0xAA, 0x93]) * 64
# Entropy-coded noise, and every restart marker each followed by more: a scan that lacks data
# decodes this in its place, where a complete one never reads it.
JPEG_FILLER = _NOISE + b"".join(bytes([0xFF, 0xD0 + n]) + _NOISE for n in range(8))
ROWS_PER_BLOCK = 256  # compared a block of rows at a time: no whole copy of either picture


class IncompleteImage(Exception):
    """Some of the page's pixels are not in its file."""


def check_jpeg_complete(data: bytes) -> None:
    """Decoded once as sent (up to its last end marker), once with noise before that marker:
    the same picture only if no pixel was missing. Pillow's errors propagate."""
    end = data.rfind(JPEG_END)
    pixels = data[:end] if end > 0 else data
    if not same_pixels(_jpeg_gray(pixels + JPEG_END), _jpeg_gray(pixels + JPEG_FILLER + JPEG_END)):
        raise IncompleteImage("JPEG")


def _jpeg_gray(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=["JPEG"])
    image.draft("L", image.size)  # libjpeg's own gray output: the luma is enough to compare
    image.load()
    return image


def open_whole(data: bytes, formats: tuple[str, ...]) -> Image.Image:
    """The image with its first frame decoded, checked to have been filled by the file alone:
    decoded over a black and over a white picture, the two must be equal."""
    image = _decode_over(data, formats, 0)
    if not same_pixels(image, _decode_over(data, formats, 255)):
        raise IncompleteImage(image.format or "?")
    return image


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    width, height = a.size
    if (a.mode, a.size) != (b.mode, b.size):
        return False
    return all(a.crop(box).tobytes() == b.crop(box).tobytes() for box in (
        (0, top, width, min(height, top + ROWS_PER_BLOCK))
        for top in range(0, height, ROWS_PER_BLOCK)))


def _decode_over(data: bytes, formats: tuple[str, ...], value: int) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=formats)
    image.seek(0)
    prepare = image.load_prepare

    def prepare_filled() -> None:  # the picture the decoder writes into, filled first
        prepare()
        bands = image.im.bands  # filled in place: a palette image keeps its palette
        image.im.paste(value if bands == 1 else (value,) * bands, (0, 0, *image.im.size))

    image.load_prepare = prepare_filled
    image.load()
    return image
