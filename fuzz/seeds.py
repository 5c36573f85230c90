"""Seed images: every allowed format in each mode it stores, with and without orientation
metadata (EXIF, PNG eXIf, XMP), animation and transparency: where the fuzzer starts mutating."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image, PngImagePlugin

MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "JPEG": ["L", "RGB", "CMYK"],
    "GIF": ["L", "P"],
    "BMP": ["1", "L", "P", "RGB"],
    "TIFF": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
}


def page(mode: str, width: int = 24, height: int = 16) -> Image.Image:
    rng = np.random.default_rng(0)
    gray = Image.fromarray(np.where(rng.random((height, width)) < 0.2, 30, 230).astype(np.uint8))
    if mode == "I;16":
        return Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    return gray.convert(mode)


def exif(orientation: int) -> bytes:
    data = Image.Exif()
    data[0x0112] = orientation
    return data.tobytes()


def save(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def seed_images() -> Iterator[tuple[str, bytes]]:
    for fmt, modes in MODES.items():
        for mode in modes:
            image = page(mode)
            yield f"{fmt}-{mode}", save(image, fmt)
            if fmt in ("JPEG", "TIFF", "WEBP", "PNG"):
                yield f"{fmt}-{mode}-exif6", save(image, fmt, exif=exif(6))
    xmp = PngImagePlugin.PngInfo()
    xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
                 '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff='
                 '"http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>')
    yield "PNG-L-xmp8", save(page("L"), "PNG", pnginfo=xmp)
    yield "PNG-P-transparency", save(page("P"), "PNG", transparency=0)
    yield "PNG-RGB-transparency", save(page("RGB"), "PNG", transparency=(230, 230, 230))
    frames = [page("L"), page("L").transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    yield "GIF-animated", save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    yield "TIFF-pages", save(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    yield "WEBP-lossy", save(page("RGB"), "WEBP", quality=50)
    yield "JPEG-progressive", save(page("L"), "JPEG", progressive=True)
