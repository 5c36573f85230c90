"""What every fuzzed call must satisfy: a known code for bad input, never code 7, never another
exception."""

from __future__ import annotations

import io

from PIL import Image

from pagework.codec import read_page
from pagework.codes import ApiError, Code

LIMITS = {"max_bytes": 25 * 1024 * 1024, "max_pixels": 4_000_000}  # small: fuzz inputs are small
INPUT_CODES = {Code.BAD_IMAGE, Code.TOO_LARGE, Code.MODEL_UNAVAILABLE}


def check_image(data: bytes) -> None:
    """read_page either gives a page the model can take, or an ApiError with an input code."""
    try:
        page = read_page(data, LIMITS["max_pixels"])
    except ApiError as err:
        assert err.code in INPUT_CODES, f"code {int(err.code)}: {err.detail}"
        return
    assert page.width >= 1 and page.height >= 1
    if page.normalised:
        with Image.open(io.BytesIO(page.data)) as png:
            assert (png.format, png.mode, png.size) == ("PNG", "L", (page.width, page.height))
    else:
        assert page.source_format in ("PNG", "JPEG")
