"""Base64 and image checks: turn the client's string into bytes the model can decode, cheaply.

Sizes are checked on the base64 length and on the image header, before any pixel is decoded, so
a pixel bomb costs a few kilobytes. Plain 8-bit PNG and JPEG pages go to the model untouched (the
graph decodes them); every other form is normalised here once, to an 8-bit grayscale PNG.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from api.codes import ApiError, Code

DATA_URL = re.compile(r"^data:[\w.+-]*/?[\w.+-]*((?:;[\w.+-]+=[\w.+-]+)*);base64,", re.IGNORECASE)
_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")
_URLSAFE = str.maketrans("-_", "+/")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIF_ORIENTATION = 0x0112
# What hostile bytes make Pillow raise while reading a header or pixels.
PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError,
              TypeError, ZeroDivisionError)


@dataclass(frozen=True)
class Page:
    """An image ready for the model: `data` is PNG or JPEG bytes the graph decodes."""

    data: bytes
    width: int
    height: int
    source_format: str
    normalised: bool


def decode_base64(value: object, max_bytes: int) -> bytes:
    """Accepts standard or URL-safe base64, a data URL, line breaks and missing padding."""
    if not isinstance(value, str):
        raise ApiError(Code.BAD_IMAGE, f"imgb64_dirty deve ser uma string, não {_json_type(value)}")
    text = value.strip()
    match = DATA_URL.match(text)
    if match:
        text = text[match.end():]
    elif text[:5].lower() == "data:":
        raise ApiError(Code.BAD_IMAGE, "data URL sem ';base64,'")
    text = text.translate(_WHITESPACE)
    if not text:
        raise ApiError(Code.BAD_IMAGE, "string base64 vazia")
    if len(text) // 4 * 3 > max_bytes:
        raise ApiError(Code.TOO_LARGE, f"imagem maior que {max_bytes} bytes")
    if not text.isascii():
        raise ApiError(Code.BAD_IMAGE, "caracteres fora do alfabeto base64")
    text = text.translate(_URLSAFE)
    if len(text) % 4 == 1:
        raise ApiError(Code.BAD_IMAGE, "comprimento inválido para base64")
    text += "=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as err:
        raise ApiError(Code.BAD_IMAGE, f"base64 inválido: {err}") from None


def read_page(data: bytes, max_pixels: int) -> Page:
    """Reads the header, checks the size, and normalises only what the graph cannot decode."""
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except Image.DecompressionBombError:
        raise ApiError(Code.TOO_LARGE, f"imagem com mais de {max_pixels} pixels") from None
    except PIL_ERRORS:
        raise ApiError(Code.BAD_IMAGE, "os bytes não são uma imagem reconhecida") from None
    if width < 1 or height < 1:
        raise ApiError(Code.BAD_IMAGE, "imagem sem pixels")
    if width * height > max_pixels:
        raise ApiError(Code.TOO_LARGE, f"{width}x{height} excede {max_pixels} pixels")
    try:
        orientation = _orientation(image)
    except PIL_ERRORS:
        raise ApiError(Code.BAD_IMAGE, "metadados EXIF ilegíveis") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    fmt = image.format or "?"
    if _model_decodes(image, orientation) and looks_complete(data, fmt):
        return Page(data, width, height, fmt, normalised=False)
    try:
        png = normalise(image)
    except PIL_ERRORS:
        raise ApiError(Code.BAD_IMAGE, f"imagem {fmt} corrompida ou truncada") from None
    return Page(png, width, height, fmt, normalised=True)


def _orientation(image: Image.Image) -> int:
    """EXIF orientation where it sits in the header (PNG keeps it after the pixels: ignored)."""
    if image.format not in ("JPEG", "TIFF", "WEBP", "MPO"):
        return 1
    value = image.getexif().get(EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _model_decodes(image: Image.Image, orientation: int) -> bool:
    """TF's decoders take 8-bit gray/RGB PNG and JPEG as they are; alpha, palettes, 16-bit,
    CMYK and EXIF rotation need Pillow."""
    return (
        image.format in ("PNG", "JPEG")
        and image.mode in ("L", "RGB")
        and orientation == 1
        and "transparency" not in image.info
    )


def looks_complete(data: bytes, fmt: str) -> bool:
    """Cheap integrity check of bytes passed through undecoded: PNG chunk CRCs up to IEND, a JPEG
    end marker. With TF Serving's batching one undecodable image fails every request batched with
    it, so damaged files must take the Pillow path, which refuses them here."""
    if fmt == "JPEG":
        return data.rfind(b"\xff\xd9", max(0, len(data) - 65536)) != -1
    view, position = memoryview(data), 8
    while position + 12 <= len(data):
        length = int.from_bytes(view[position:position + 4], "big")
        end = position + 12 + length
        if end > len(data):
            return False
        stored = int.from_bytes(view[end - 4:end], "big")
        if zlib.crc32(view[position + 4:end - 4]) != stored:
            return False
        if view[position + 4:position + 8] == b"IEND":
            return True
        position = end
    return False


def normalise(image: Image.Image) -> bytes:
    """First frame, EXIF orientation applied, alpha composited on white, 8-bit gray PNG."""
    image.seek(0)
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = _to_8bit(np.asarray(image), sixteen_bit=image.mode.startswith("I;16"))
    elif image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        gray = Image.alpha_composite(white, rgba).convert("L")
    elif image.mode == "CMYK":
        gray = image.convert("RGB").convert("L")
    else:
        gray = image.convert("L")
    buffer = io.BytesIO()
    gray.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _to_8bit(pixels: np.ndarray, sixteen_bit: bool) -> Image.Image:
    """16-bit samples scaled to 0..255; 32-bit ones too when they exceed 255 (Pillow may open a
    16-bit PNG as mode I); float ones in [0, 1] stretched."""
    wide = pixels.astype(np.float32)
    if sixteen_bit or pixels.dtype.kind in "ui" and wide.max(initial=0) > 255:
        wide = wide / 257.0
    elif pixels.dtype.kind == "f" and wide.max(initial=0) <= 1.0:
        wide = wide * 255.0
    return Image.fromarray(np.clip(np.rint(wide), 0, 255).astype(np.uint8))


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, without decoding."""
    if png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def to_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _json_type(value: object) -> str:
    names = {type(None): "null", bool: "booleano", int: "número", float: "número",
             dict: "objeto", list: "lista"}
    return names.get(type(value), type(value).__name__)
