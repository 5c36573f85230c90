"""Base64 and image checks: turn the client's string into bytes the model can decode, cheaply.

Every step is linear in the input and bounded: the data-URL header is looked for in a short
prefix only, and sizes are checked on the base64 length and the image header before any pixel is
decoded, so a pixel bomb costs a few kilobytes. Plain 8-bit PNG and JPEG pages with no
orientation go to the model untouched (the graph decodes them); every other form is normalised
here once, to an 8-bit grayscale PNG of the page as a browser shows it.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageOps

from pagework.codes import ApiError, Code
from pagework.completeness import IncompleteImage, check_jpeg_complete, open_whole

# The documented input formats; Pillow may open nothing else (no DDS, EPS, PSD, ...).
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
DATA_URL_HEAD = 256  # a data URL's header ("data:image/png;base64,") lies within this prefix
MEDIA_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.+-/;=")
_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")
_URLSAFE = str.maketrans("-_", "+/")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIF_ORIENTATION = 0x0112
# PNG chunks that may carry an orientation (EXIF, or XMP in an iTXt chunk), before or after
# the pixels: such a page is decoded here, where the orientation is applied.
PNG_ORIENTATION_CHUNKS = (b"eXIf", b"iTXt")
TOO_LARGE_DETAIL = "imagem maior que {max_bytes} bytes"
ROWS_PER_BLOCK = 256  # wide samples are converted to 8 bits a block of rows at a time


@dataclass(frozen=True)
class Page:
    """An image ready for the model: `data` is PNG or JPEG bytes the graph decodes, and
    width x height is the page as shown (orientation applied)."""

    data: bytes
    width: int
    height: int
    source_format: str
    normalised: bool


def decode_base64(value: object, max_bytes: int) -> bytes:
    """Accepts standard or URL-safe base64, a data URL, line breaks and missing padding."""
    if not isinstance(value, str):
        raise ApiError(Code.BAD_IMAGE, f"imgb64_dirty deve ser uma string, não {_json_type(value)}")
    text = strip_data_url(value.strip())
    text = text.translate(_WHITESPACE)
    if not text:
        raise ApiError(Code.BAD_IMAGE, "string base64 vazia")
    if len(text) // 4 * 3 > max_bytes:
        raise ApiError(Code.TOO_LARGE, TOO_LARGE_DETAIL.format(max_bytes=max_bytes))
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


def strip_data_url(text: str) -> str:
    """The payload of `data:[<media type>][;k=v]*;base64,<payload>`; other text as it is. Only
    the first DATA_URL_HEAD characters are looked at, whatever the length of the rest."""
    if text[:5].lower() != "data:":
        return text
    head = text[:DATA_URL_HEAD]
    comma = head.find(",")
    header = head[5:comma].lower() if comma >= 0 else ""
    if comma < 0 or not header.endswith(";base64"):
        raise ApiError(Code.BAD_IMAGE, "data URL sem ';base64,'")
    if not set(header) <= MEDIA_TYPE_CHARS:
        raise ApiError(Code.BAD_IMAGE, "cabeçalho de data URL inválido")
    return text[comma + 1:]


@dataclass(frozen=True)
class Header:
    """An image whose header passed the checks; no pixel decoded yet."""

    image: Image.Image
    width: int
    height: int
    source_format: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_page(data: bytes, max_pixels: int) -> Page:
    """Both steps at once, for callers that hold no pixel budget."""
    return prepare_page(check_header(data, max_pixels), data)


def check_header(data: bytes, max_pixels: int) -> Header:
    """The format and size from the header alone: a pixel bomb stops here."""
    image = open_image(data)
    width, height = image.size
    if width < 1 or height < 1:
        raise ApiError(Code.BAD_IMAGE, "imagem sem pixels")
    if width * height > max_pixels:
        raise ApiError(Code.TOO_LARGE, f"{width}x{height} excede {max_pixels} pixels")
    return Header(image, width, height, image.format or "?")


def prepare_page(header: Header, data: bytes, colour: bool = False) -> Page:
    """The bytes as they are when the graph decodes them right, else normalised here (to RGB
    with `colour`, for the modes that read colour); a page whose pixels are not all in its file
    is code 3 either way."""
    image, fmt = header.image, header.source_format
    try:
        if fmt == "JPEG":  # libjpeg fills missing pixels itself, in the graph and in Pillow
            check_jpeg_complete(data)
        if _passes_through(image, data):
            return Page(data, header.width, header.height, fmt, normalised=False)
        gray = normalise(image if fmt == "JPEG" else open_whole(data, ALLOWED_FORMATS), colour)
    except MemoryError:
        raise ApiError(Code.MODEL_UNAVAILABLE, "memória insuficiente agora; tente novamente"
                       ) from None
    except IncompleteImage:
        raise ApiError(Code.BAD_IMAGE, f"imagem {fmt} incompleta: parte dos pixels não está no"
                       " arquivo") from None
    except Exception:  # any failure to read pixels is the image's fault: code 3, never a 500
        raise ApiError(Code.BAD_IMAGE, f"imagem {fmt} corrompida ou truncada") from None
    return Page(encode_png(gray), gray.width, gray.height, fmt, normalised=True)


def open_image(data: bytes) -> Image.Image:
    """The image's header, read by Pillow with the allowed formats only."""
    try:
        return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError:
        raise ApiError(Code.TOO_LARGE, "imagem com pixels demais") from None
    except MemoryError:
        raise ApiError(Code.MODEL_UNAVAILABLE, "memória insuficiente agora; tente novamente"
                       ) from None
    except Exception:  # whatever a hostile header makes a plugin raise
        raise ApiError(Code.BAD_IMAGE, "os bytes não são uma imagem reconhecida "
                       f"({', '.join(ALLOWED_FORMATS)})") from None


def _passes_through(image: Image.Image, data: bytes) -> bool:
    """TF's decoders take 8-bit gray/RGB PNG and JPEG as they are, but know nothing of
    orientation, alpha, palettes, 16-bit or CMYK: those need Pillow."""
    if image.mode not in ("L", "RGB") or "transparency" in image.info:
        return False
    if image.format == "PNG":
        return png_is_plain(data)
    if image.format == "JPEG":
        try:
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        except Exception:  # unreadable metadata: let the Pillow path decide
            return False
        return orientation == 1 and jpeg_looks_complete(data)
    return False


def jpeg_looks_complete(data: bytes) -> bool:
    """An end marker near the end. With TF Serving's batching one undecodable image fails every
    request batched with it, so damaged files must take the Pillow path, which refuses them."""
    return data.rfind(b"\xff\xd9", max(0, len(data) - 65536)) != -1


def png_is_plain(data: bytes) -> bool:
    """Chunk CRCs intact up to IEND and no chunk that may hold an orientation."""
    view, position = memoryview(data), 8
    while position + 12 <= len(data):
        length = int.from_bytes(view[position:position + 4], "big")
        end = position + 12 + length
        if end > len(data):
            return False
        kind = bytes(view[position + 4:position + 8])
        if kind in PNG_ORIENTATION_CHUNKS:
            return False
        if zlib.crc32(view[position + 4:end - 4]) != int.from_bytes(view[end - 4:end], "big"):
            return False
        if kind == b"IEND":
            return True
        position = end
    return False


def normalise(image: Image.Image, colour: bool = False) -> Image.Image:
    """First frame, orientation applied as browsers do, alpha composited on white, 8-bit gray
    (or RGB with `colour`, gray pages staying gray).

    The orientation is EXIF's (JPEG, PNG eXIf, TIFF, WebP), or else XMP's tiff:Orientation, as
    Pillow's exif_transpose reads them once the whole file is loaded."""
    image.seek(0)
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _to_8bit(image)
    target = "RGB" if colour and image.mode not in ("1", "L", "LA") else "L"
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        with_alpha = image.convert(target + "A")
        *pixels, alpha = with_alpha.split()
        del with_alpha
        return Image.composite(Image.merge(target, pixels), Image.new(target, image.size, "white"),
                               alpha)
    if image.mode == "CMYK":
        return image.convert("RGB").convert(target)
    return image.convert(target)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit samples scaled to 0..255 (32-bit ones too when they exceed 255: Pillow may open a
    16-bit PNG as mode I; float ones in [0, 1] stretched), a block of rows at a time, so that a
    10 MP page costs its 8-bit copy and a block, not several wide copies of itself."""
    width, height = image.size
    low, high = image.getextrema()
    sixteen = image.mode.startswith("I;16")
    scale = 1 / 257 if image.mode == "I" and high > 255 else \
        255.0 if image.mode == "F" and high <= 1.0 else 1.0
    out = np.empty((height, width), np.uint8)
    for top in range(0, height, ROWS_PER_BLOCK):
        block = np.asarray(image.crop((0, top, width, min(height, top + ROWS_PER_BLOCK))))
        if sixteen:
            out[top:top + len(block)] = _sixteen_to_eight()[block.astype(np.uint16)]
            continue
        wide = block.astype(np.float32) * scale
        np.clip(np.rint(wide, out=wide), 0, 255, out=wide)
        out[top:top + len(block)] = wide
    return Image.fromarray(out)


@cache
def _sixteen_to_eight() -> np.ndarray:
    """round(v / 257) for every 16-bit value."""
    return np.rint(np.arange(65536, dtype=np.float64) / 257).astype(np.uint8)


def encode_png(gray: Image.Image) -> bytes:
    buffer = io.BytesIO()
    gray.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


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
