"""Fuzzes page shape x format with the shipped model: what a page may cost is its work.

    python -m fuzz.shapes [libFuzzer flags, e.g. -max_total_time=1800 var/fuzz/shapes]

The input picks a format, a mode, a width and a height (1 to 65535, at most ENCODED pixels
encoded) and a pattern; the page goes through the service's own pipeline (header checks, work,
budget, decode, the in-process model). Findings:
- a refusal that is not code 3, 4 or 9, or that takes more than REFUSE_SECONDS;
- an accepted page whose work exceeds MAX_WORK, or whose CPU time (all threads: the load of a
  shared machine does not count) exceeds SECONDS + the work at SECONDS_PER_WORK_PIXEL (a page
  that costs more than its computed work, as strips did);
- the worker's memory, after the page, more than RSS_OVER_BASELINE_MIB above its baseline.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import atheris

from fuzz import run

with atheris.instrument_imports(include=["pagework"]):
    import numpy as np
    from PIL import Image

    from pagework.backends import build_backend
    from pagework.budget import PixelBudget
    from pagework.codes import ApiError, Code
    from pagework.config import from_env
    from pagework.pipeline import clean_bytes
    from pagework.work import work_pixels

FORMATS = [("PNG", ("L", "P", "RGBA", "1")), ("JPEG", ("L", "RGB")), ("GIF", ("P",)),
           ("BMP", ("L", "RGB")), ("TIFF", ("L", "RGB")), ("WEBP", ("RGB",))]
MAX_SIDE = {"JPEG": 65500, "WEBP": 16383}
ENCODED = 4_000_000  # pixels the harness encodes at most (encoding is the harness's own cost)
MAX_WORK = 4_000_000  # the service's MAX_WORK_PIXELS here: an accepted page runs in seconds
REFUSE_SECONDS = 2.0
SECONDS, SECONDS_PER_WORK_PIXEL = 5.0, 4e-6  # CPU; ~0.6 us a work pixel on 2 idle cores
RSS_OVER_BASELINE_MIB = 500
REFUSALS = {Code.BAD_IMAGE, Code.TOO_LARGE, Code.PAGE_SHAPE}


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
               ) / 1024


class Shapes:
    def __init__(self) -> None:
        self.config = from_env().with_overrides({"max_work_pixels": MAX_WORK,
                                                 "log_level": "ERROR"})
        self.backend = build_backend(self.config)
        self.budget = PixelBudget(self.config.pixel_budget, 0)
        clean_bytes(page("PNG", "L", 540, 420, 0), self.backend, self.config, self.budget)
        self.baseline = rss_mib()

    def check(self, data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        fmt, modes = FORMATS[fdp.ConsumeIntInRange(0, len(FORMATS) - 1)]
        mode = modes[fdp.ConsumeIntInRange(0, len(modes) - 1)]
        width = fdp.ConsumeIntInRange(1, MAX_SIDE.get(fmt, 65535))
        height = fdp.ConsumeIntInRange(1, max(1, min(MAX_SIDE.get(fmt, 65535),
                                                     ENCODED // width)))
        image = page(fmt, mode, width, height, fdp.ConsumeIntInRange(0, 255))
        started, cpu = time.monotonic(), time.process_time()
        try:
            clean_bytes(image, self.backend, self.config, self.budget)
        except ApiError as err:
            seconds = time.monotonic() - started
            assert err.code in REFUSALS or err.code == Code.MODEL_UNAVAILABLE, (err.code, err)
            if err.code != Code.BAD_IMAGE:  # a decode error may come after decoding
                assert seconds < REFUSE_SECONDS, (fmt, width, height, err.code, seconds)
            return
        finally:
            assert rss_mib() < self.baseline + RSS_OVER_BASELINE_MIB, (fmt, width, height,
                                                                       rss_mib(), self.baseline)
        seconds = time.process_time() - cpu
        work = work_pixels(width, height)
        assert work <= MAX_WORK, (fmt, width, height, work)
        assert seconds < SECONDS + work * SECONDS_PER_WORK_PIXEL, (fmt, width, height, seconds)


def page(fmt: str, mode: str, width: int, height: int, seed: int) -> bytes:
    """A light page with a sparse pattern: small files, as an attacker's would be."""
    pixels = np.full((height, width), 235, np.uint8)
    pixels[seed % 7::7 + seed % 13, seed % 5::5 + seed % 11] = seed % 64
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


def main() -> None:
    run(Shapes().check)


if __name__ == "__main__":
    main()
