"""A page whose pixels are not all in its file is code 3, whichever decoder would have filled the
gap (libjpeg paints it gray, Pillow leaves it as it was); whole pages still pass."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from tests.conftest import encode, page_array
from tests.test_routes import assert_answer

PAGE = Image.fromarray(page_array(200, 160))


def exif(orientation: int) -> bytes:
    data = Image.Exif()
    data[0x0112] = orientation
    return data.tobytes()


def cut_with_end_marker(jpeg: bytes, fraction: float = 0.6) -> bytes:
    return jpeg[: int(len(jpeg) * fraction)] + b"\xff\xd9"


def jpeg_taller_than_its_data(jpeg: bytes) -> bytes:
    """The frame header (SOF0 or SOF2) claims twice the rows the scan holds."""
    sof = max(jpeg.find(b"\xff\xc0"), jpeg.find(b"\xff\xc2"))
    height = int.from_bytes(jpeg[sof + 5:sof + 7], "big")
    return jpeg[:sof + 5] + (2 * height).to_bytes(2, "big") + jpeg[sof + 7:]


def png_taller_than_its_data(png: bytes) -> bytes:
    """IHDR claims twice the rows, with a correct CRC: only the pixel data is short."""
    ihdr = bytearray(png[8:33])
    ihdr[12:16] = struct.pack(">I", 2 * struct.unpack(">I", ihdr[12:16])[0])
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return png[:8] + bytes(ihdr) + png[33:]


def gif_taller_than_its_data(gif: bytes) -> bytes:
    data = bytearray(gif)
    frame = data.find(b",", 13)  # the image descriptor
    for at in (8, frame + 7):  # the logical screen's height and the frame's
        data[at:at + 2] = struct.pack("<H", 2 * struct.unpack("<H", data[at:at + 2])[0])
    return bytes(data)


JPEG = encode(PAGE, "JPEG", quality=90)
JPEG_RGB = encode(PAGE.convert("RGB"), "JPEG", quality=90)
PROGRESSIVE = encode(PAGE, "JPEG", progressive=True)
RESTARTS = encode(PAGE, "JPEG", restart_marker_blocks=4)
ROTATED = encode(PAGE, "JPEG", exif=exif(6))  # decoded by Pillow, not the graph
PALETTE_PNG = encode(PAGE.convert("P"))  # decoded by Pillow
GRAY_PNG = encode(PAGE)  # decoded by the graph
GIF = encode(PAGE.convert("P"), "GIF")

INCOMPLETE = {
    "jpeg-cut-60-end-marker": cut_with_end_marker(JPEG),
    "jpeg-rgb-cut-30-end-marker": cut_with_end_marker(JPEG_RGB, 0.3),
    "jpeg-claims-twice-its-height": jpeg_taller_than_its_data(JPEG),
    "progressive-cut-end-marker": cut_with_end_marker(PROGRESSIVE, 0.9),
    "progressive-claims-twice": jpeg_taller_than_its_data(PROGRESSIVE),
    "restart-markers-cut": cut_with_end_marker(RESTARTS, 0.99),
    "rotated-jpeg-cut": cut_with_end_marker(ROTATED),
    "palette-png-claims-twice": png_taller_than_its_data(PALETTE_PNG),
    "gray-png-claims-twice": png_taller_than_its_data(GRAY_PNG),
    "gif-claims-twice": gif_taller_than_its_data(GIF),
}
WHOLE = {"jpeg": JPEG, "jpeg-rgb": JPEG_RGB, "progressive": PROGRESSIVE, "restarts": RESTARTS,
         "rotated": ROTATED, "palette-png": PALETTE_PNG, "gray-png": GRAY_PNG, "gif": GIF,
         "jpeg-with-bytes-after-its-end": JPEG + b"trailing"}


@pytest.mark.parametrize("image", INCOMPLETE.values(), ids=INCOMPLETE.keys())
def test_a_page_with_missing_pixels_is_code_3(live, image):
    server, database = live
    response = server.clean(image)
    assert_answer(response, 3)
    assert database.row(response.headers["X-Request-ID"])["codigo_retorno"] == 3


@pytest.mark.parametrize("image", WHOLE.values(), ids=WHOLE.keys())
def test_whole_pages_still_pass(live, image):
    server, _ = live
    assert_answer(server.clean(image), 0)
