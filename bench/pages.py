"""Real pages for benchmarks: the data set's test pages, or mosaics of them for large sizes."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from training.pages import add_data_argument

ROOT = Path(__file__).resolve().parents[1]


def add_source_args(parser: argparse.ArgumentParser) -> None:
    """--data and --model-dir, the same defaults in every benchmark."""
    add_data_argument(parser, "data folder (its test/ pages are used)")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "serving" / "models" /
                        "autoencoder", help="model base path (numbered versions)")


def load_pages(data: Path, size: str, count: int = 8) -> list[bytes]:
    """PNG pages of `size` ("WxH"): test pages of that size when there are some, otherwise
    mosaics of test pages (a 300 DPI A4 scan is 2480x3508)."""
    width, height = (int(v) for v in size.lower().split("x"))
    sources = sorted((data / "test").glob("*.png"), key=lambda p: int(p.stem))
    if not sources:
        raise FileNotFoundError(f"no test pages in {data / 'test'}")
    exact = [p.read_bytes() for p in sources if _size(p) == (width, height)]
    if exact:
        return exact[:count]
    return [_mosaic(sources, width, height, start=i) for i in range(min(count, 3))]


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def _mosaic(sources: list[Path], width: int, height: int, start: int) -> bytes:
    canvas = np.full((height, width), 255, np.uint8)
    i = start
    for top in range(0, height, 420):
        for left in range(0, width, 540):
            with Image.open(sources[i % len(sources)]) as image:
                tile = np.asarray(image.convert("L"))
            i += 1
            h, w = min(tile.shape[0], height - top), min(tile.shape[1], width - left)
            canvas[top:top + h, left:left + w] = tile[:h, :w]
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "PNG")
    return buffer.getvalue()
