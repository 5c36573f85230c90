"""Request and response pieces shared by the serving tests."""

from __future__ import annotations

import base64
import io

from PIL import Image

MODEL = "autoencoder"


def b64(data: bytes) -> dict[str, str]:
    """A binary value as TF Serving's REST API takes it: `{"b64": ...}`."""
    return {"b64": base64.b64encode(data).decode("ascii")}


def png_size(item: dict[str, str]) -> tuple[int, int]:
    """Size of a `{"b64": ...}` PNG from a response (it must be a PNG)."""
    image = Image.open(io.BytesIO(base64.b64decode(item["b64"])))
    assert image.format == "PNG"
    return image.size
