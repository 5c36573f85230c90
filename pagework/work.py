"""What a page costs the model: the pixels the exported graph really runs the network on.

The graph (training/export.py) mirror-pads `margin` pixels on every side, rounds up to the
network's `multiple`, and runs pages of up to `max_single_pixels` in one pass, larger ones in
`tile`-pixel tiles that each carry the margin. So a 1x65535 strip costs 144x65664 pixels in a
single pass (more than an A4 page's largest pass, many times over), while width x height says
65535. Limits and the pixel budget count this work; pages whose shape multiplies it are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from pagework.codes import ApiError, Code


@dataclass(frozen=True)
class Geometry:
    """How the exported graph cuts a page; the shipped versions' `serving` card entries."""

    multiple: int = 16
    margin: int = 64
    tile: int = 512
    max_single_pixels: int = 2_000_000


SHIPPED = Geometry()
SHAPE_DETAIL = ("página {width}x{height}: a proporção entre os lados passa de {ratio:g}:1 "
                "(estreita ou alongada demais)")
WORK_DETAIL = "página {width}x{height} custaria ao modelo {work} pixels; o máximo é {limit}"


def work_pixels(width: int, height: int, geometry: Geometry = SHIPPED) -> int:
    """Pixels the network runs on for a width x height page, margins and rounding included."""
    g = geometry
    if width * height <= g.max_single_pixels:
        return _round_up(height + 2 * g.margin, g.multiple) * \
            _round_up(width + 2 * g.margin, g.multiple)
    tiles = -(-height // g.tile) * -(-width // g.tile)
    return tiles * (g.tile + 2 * g.margin) ** 2


def check_work(width: int, height: int, max_aspect_ratio: float, max_work: int) -> int:
    """The page's work, or code 9 (shape) / code 4 (work over the limit) before any pixel is
    decoded."""
    if max(width, height) > max_aspect_ratio * min(width, height):
        raise ApiError(Code.PAGE_SHAPE, SHAPE_DETAIL.format(width=width, height=height,
                                                           ratio=max_aspect_ratio))
    work = work_pixels(width, height)
    if work > max_work:
        raise ApiError(Code.TOO_LARGE, WORK_DETAIL.format(width=width, height=height, work=work,
                                                          limit=max_work))
    return work


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k
