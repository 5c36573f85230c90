"""Base64 forms and the image format matrix: what goes to the model, at which size."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from pagework.codec import decode_base64, encode_png, normalise, png_size, read_page, to_data_url
from pagework.codes import ApiError, Code
from tests.conftest import decode_clean, encode, page_array

LIMIT = 40_000_000


def gray(width: int = 60, height: int = 40) -> Image.Image:
    return Image.fromarray(page_array(width, height))


def decoded(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.data)))


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes())


def transparent_png() -> bytes:
    rgba = Image.new("RGBA", (10, 4), (0, 0, 0, 0))  # fully transparent black
    rgba.putpixel((0, 0), (0, 0, 0, 255))
    return encode(rgba)


def sixteen_bit_png() -> bytes:
    pixels = np.array([[0, 32896, 65535]], dtype=np.uint16)
    return encode(Image.fromarray(pixels))


def animated(fmt: str) -> bytes:
    frames = [Image.new("L", (20, 10), value) for value in (10, 200, 90)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:])


def palette_with_transparency() -> bytes:
    image = gray(30, 20).convert("P")
    image.info["transparency"] = 0
    return encode(image, transparency=0)


# (id, bytes, expected size, passed to the model untouched)
FORMATS = [
    ("png-gray", encode(gray()), (60, 40), True),
    ("png-rgb", encode(gray().convert("RGB")), (60, 40), True),
    ("png-rgba", encode(gray().convert("RGBA")), (60, 40), False),
    ("png-la", encode(gray().convert("LA")), (60, 40), False),
    ("png-palette", encode(gray().convert("P")), (60, 40), False),
    ("png-palette-transparent", palette_with_transparency(), (30, 20), False),
    ("png-1bit", encode(gray().convert("1")), (60, 40), False),
    ("png-16bit", sixteen_bit_png(), (3, 1), False),
    ("png-interlaced", encode(gray(), optimize=False, interlace=1), (60, 40), True),
    ("jpeg-gray", encode(gray(), "JPEG"), (60, 40), True),
    ("jpeg-rgb", encode(gray().convert("RGB"), "JPEG"), (60, 40), True),
    ("jpeg-cmyk", encode(gray().convert("CMYK"), "JPEG"), (60, 40), False),
    ("jpeg-progressive", encode(gray(), "JPEG", progressive=True), (60, 40), True),
    ("jpeg-exif-rotated", with_orientation(gray(), 6), (40, 60), False),
    ("jpeg-exif-upright", with_orientation(gray(), 1), (60, 40), True),
    ("gif", encode(gray(), "GIF"), (60, 40), False),
    ("gif-animated", animated("GIF"), (20, 10), False),
    ("bmp", encode(gray(), "BMP"), (60, 40), False),
    ("bmp-rgb", encode(gray().convert("RGB"), "BMP"), (60, 40), False),
    ("tiff", encode(gray(), "TIFF"), (60, 40), False),
    ("tiff-multipage", animated("TIFF"), (20, 10), False),
    ("tiff-16bit", encode(Image.fromarray(np.full((5, 7), 65535, np.uint16)), "TIFF"),
     (7, 5), False),
    ("webp", encode(gray().convert("RGB"), "WEBP"), (60, 40), False),
    ("webp-lossless-rgba", encode(gray().convert("RGBA"), "WEBP", lossless=True), (60, 40), False),
]


@pytest.mark.parametrize(("data", "size", "untouched"), [f[1:] for f in FORMATS],
                         ids=[f[0] for f in FORMATS])
def test_format_matrix(data, size, untouched):
    page = read_page(data, LIMIT)
    assert (page.width, page.height) == size
    assert page.normalised is not untouched
    if untouched:
        assert page.data is data
    else:
        image = Image.open(io.BytesIO(page.data))
        assert (image.format, image.mode, image.size) == ("PNG", "L", size)


@pytest.mark.parametrize(("data", "size"), [(f[1], f[2]) for f in FORMATS],
                         ids=[f[0] for f in FORMATS])
def test_format_matrix_through_the_service(live, data, size):
    server, database = live
    response = server.clean(data)
    assert response.json()["codigo_retorno"] == 0, response.json()
    assert decode_clean(response).size == size
    row = database.row(response.headers["X-Request-ID"])
    assert (row["largura"], row["altura"]) == size


def test_alpha_is_composited_on_white():
    pixels = decoded(read_page(transparent_png(), LIMIT))
    assert pixels[0, 0] == 0 and pixels[0, 1] == 255 and pixels[3, 9] == 255


def test_sixteen_bit_keeps_its_full_range():
    assert decoded(read_page(sixteen_bit_png(), LIMIT)).tolist() == [[0, 128, 255]]


def test_first_frame_of_animations():
    for fmt in ("GIF", "TIFF"):
        assert decoded(read_page(animated(fmt), LIMIT)).max() == 10


def test_exif_rotation_is_applied():
    image = Image.new("L", (4, 2), 255)
    image.putpixel((0, 0), 0)  # dark top-left corner
    pixels = decoded(read_page(with_orientation(image, 6), LIMIT))  # 6: rotate 90° clockwise
    assert pixels.shape == (4, 2)
    assert pixels[0, 1] < 60 and pixels[0, 0] > 200


@pytest.mark.parametrize(("value", "expected"), [
    ("data:image/png;base64,QUJD", b"ABC"), ("data:;base64,QUJD", b"ABC"),
    ("data:application/octet-stream;base64,QUJD", b"ABC"),
    ("data:image/png;name=x.png;base64,QUJD", b"ABC"), (" QU\nJD\r\n", b"ABC"),
    ("QUJD", b"ABC"), ("QUI", b"AB"), ("QUI=", b"AB"),
])
def test_base64_forms(value, expected):
    assert decode_base64(value, 100) == expected


def test_urlsafe_base64():
    raw = bytes(range(256))
    assert decode_base64(base64.urlsafe_b64encode(raw).decode(), 1000) == raw


@pytest.mark.parametrize(("value", "code"), [
    (None, Code.BAD_IMAGE), (3, Code.BAD_IMAGE), ("", Code.BAD_IMAGE), ("Q", Code.BAD_IMAGE),
    ("QU=I", Code.BAD_IMAGE), ("data:image/png,QUJD", Code.BAD_IMAGE),
    ("QUJ\u00e9", Code.BAD_IMAGE), ("A" * 200, Code.TOO_LARGE),
])
def test_bad_base64(value, code):
    with pytest.raises(ApiError) as err:
        decode_base64(value, 100)
    assert err.value.code == code


def test_normalised_png_and_data_url_round_trip():
    png = encode_png(normalise(Image.open(io.BytesIO(encode(gray(33, 17).convert("RGB"), "BMP")))))
    assert png_size(png) == (33, 17)
    url = to_data_url(png)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png
    with pytest.raises(ValueError):
        png_size(b"GIF89a" + bytes(30))


def test_damaged_files_are_not_passed_through():
    png = encode(gray(200, 100))
    jpeg = encode(gray(200, 100), "JPEG")
    assert read_page(png, LIMIT).normalised is False
    assert read_page(jpeg, LIMIT).normalised is False
    flipped = bytearray(png)
    flipped[len(png) // 2] ^= 0xFF  # damaged inside IDAT: the CRC no longer matches
    for damaged in (png[:-12], bytes(flipped), jpeg[:-200]):
        try:
            page = read_page(damaged, LIMIT)
        except ApiError as err:
            assert err.code == Code.BAD_IMAGE
        else:  # Pillow made something of it: what goes to the model is its re-encoded PNG
            assert page.normalised and page.data[:8] == b"\x89PNG\r\n\x1a\n"
