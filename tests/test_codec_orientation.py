"""Orientation metadata: one rule for every format and mode (issue 15, class 4).

The page a browser shows is the page cleaned: EXIF orientation (JPEG, PNG eXIf before or after
the pixels, TIFF, WebP) or XMP's tiff:Orientation is applied, and the answer and the row have the
rotated size. Expected pages are computed here with numpy from the EXIF definitions, not with
Pillow's own transpose.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from pagework.codec import read_page
from tests.conftest import decode_clean, encode

LIMIT = 40_000_000
WIDTH, HEIGHT, BLOCK = 32, 16, 8

# EXIF 0x0112: how the stored pixels must be turned to show the page upright.
TRANSFORMS = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.T,
    6: lambda a: np.rot90(a, -1),  # 90° clockwise
    7: lambda a: np.rot90(a, 2).T,
    8: lambda a: np.rot90(a, 1),  # 90° counter-clockwise
}


def chiral_page() -> np.ndarray:
    """Black 8x8 blocks in a J shape on white: every one of the 8 orientations looks different."""
    page = np.full((HEIGHT, WIDTH), 255, np.uint8)
    for row, col in ((0, 0), (0, 1), (0, 2), (1, 0)):
        page[row * BLOCK:(row + 1) * BLOCK, col * BLOCK:(col + 1) * BLOCK] = 0
    return page


def in_mode(page: np.ndarray, mode: str) -> Image.Image:
    """The page in `mode`, every pixel still pure black or white (alpha opaque)."""
    gray = Image.fromarray(page)
    if mode == "1":
        return gray.convert("1")
    if mode == "I;16":
        return Image.fromarray(page.astype(np.uint16) * 257)
    if mode == "P":
        return gray.convert("P")
    return gray.convert(mode)


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def xmp_packet(orientation: int) -> str:
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
            '22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
            f'tiff:Orientation="{orientation}"/></rdf:RDF></x:xmpmeta>')


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def png_exif_after_pixels(image: Image.Image, orientation: int) -> bytes:
    """A valid PNG whose eXIf chunk follows IDAT (allowed; read only once pixels are loaded)."""
    plain = encode(image, "PNG")
    end = plain.rindex(b"IEND") - 4
    return plain[:end] + png_chunk(b"eXIf", exif_bytes(orientation)[6:]) + plain[end:]


def encoded(kind: str, mode: str, orientation: int) -> bytes:
    image = in_mode(chiral_page(), mode)
    if kind == "jpeg":
        return encode(image, "JPEG", exif=exif_bytes(orientation), quality=95)
    if kind == "png-exif":
        return encode(image, "PNG", exif=exif_bytes(orientation))
    if kind == "png-exif-after-idat":
        return png_exif_after_pixels(image, orientation)
    if kind == "png-xmp":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp_packet(orientation))
        return encode(image, "PNG", pnginfo=info)
    if kind == "tiff":
        return encode(image, "TIFF", exif=exif_bytes(orientation))
    if kind == "webp":
        return encode(image, "WEBP", exif=exif_bytes(orientation), lossless=True)
    raise AssertionError(kind)


PNG_MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]
CASES = ([("jpeg", mode) for mode in ("L", "RGB", "CMYK")]
         + [(kind, mode) for kind in ("png-exif", "png-exif-after-idat", "png-xmp")
            for mode in PNG_MODES]
         + [("tiff", mode) for mode in PNG_MODES + ["CMYK"]]
         + [("webp", mode) for mode in ("RGB", "RGBA")])
MATRIX = [pytest.param(kind, mode, orientation, id=f"{kind}-{mode}-{orientation}")
          for kind, mode in CASES for orientation in TRANSFORMS]


def as_shown(pixels: np.ndarray) -> np.ndarray:
    """Black or white, whatever a lossy format did to the edges."""
    return np.where(pixels < 128, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("kind", "mode", "orientation"), MATRIX)
def test_page_is_the_page_as_shown(kind, mode, orientation):
    page = read_page(encoded(kind, mode, orientation), LIMIT)
    assert (page.height, page.width) == TRANSFORMS[orientation](chiral_page()).shape
    pixels = np.asarray(Image.open(io.BytesIO(page.data)).convert("L"))
    if kind == "jpeg":  # lossy: compare the blocks, not the edges
        pixels = as_shown(pixels)
    # Exactly one of the eight orientations matches: the right one (the J shape tells them apart).
    assert [o for o, turn in TRANSFORMS.items()
            if np.array_equal(pixels, turn(chiral_page()))] == [orientation]


# Through the service, one case per container (how the metadata is carried), each with a turn
# that swaps width and height: the matrix above proved every mode and orientation in the codec.
HTTP_CASES = [pytest.param(kind, mode, orientation, id=f"{kind}-{mode}-{orientation}")
              for kind, mode, orientation in [
                  ("jpeg", "RGB", 6), ("png-exif", "P", 8), ("png-exif-after-idat", "LA", 5),
                  ("png-xmp", "I;16", 7), ("tiff", "CMYK", 6), ("webp", "RGBA", 8)]]


@pytest.mark.parametrize(("kind", "mode", "orientation"), HTTP_CASES)
def test_service_answers_the_page_as_shown(live, kind, mode, orientation):
    server, database = live
    response = server.clean(encoded(kind, mode, orientation))
    assert response.status_code == 200, response.text
    expected = TRANSFORMS[orientation](chiral_page())
    assert decode_clean(response).size == (expected.shape[1], expected.shape[0])
    row = database.row(response.headers["X-Request-ID"])
    assert (row["altura"], row["largura"]) == expected.shape
    assert row["imgb64_dirty"] == base64.b64encode(encoded(kind, mode, orientation)).decode()
