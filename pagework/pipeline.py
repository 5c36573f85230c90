"""One page's way through the service: base64 → header checks → pixels → model → PNG.

The route, the CLI and the benchmarks all call this, so limits, codes and bytes are the same
everywhere. Errors are ApiError with the code the client gets; once the page's size is known it
rides along (`page_size`) for the log row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pagework.backends import BackendUnavailable, InvalidImage, ModelBackend, ModeUnavailable
from pagework.budget import PixelBudget
from pagework.codec import (
    TOO_LARGE_DETAIL,
    Page,
    check_header,
    decode_base64,
    png_size,
    prepare_page,
)
from pagework.codes import ApiError, Code
from pagework.config import Config
from pagework.memory import return_free_memory
from pagework.work import check_work
from tfmodel.modes import DEFAULT

log = logging.getLogger(__name__)
MODEL_DOWN_DETAIL = "o modelo não respondeu; tente novamente"
MODE_DETAIL = "a versão {version} do modelo não tem a saída {mode}; use saida cinza"
# Work (pixels) after which freed memory is given back to the system: more than a 540x420
# page's 0.38 M, whose memory the next page reuses.
LARGE_WORK = 500_000


@dataclass(frozen=True)
class Cleaned:
    png: bytes
    width: int
    height: int


def clean_text(value: object, backend: ModelBackend, config: Config,
               budget: PixelBudget, mode: str = DEFAULT) -> Cleaned:
    """The API's entry: the JSON value of imgb64_dirty."""
    return clean_bytes(decode_base64(value, config.max_image_bytes), backend, config, budget,
                       mode)


def clean_bytes(data: bytes, backend: ModelBackend, config: Config,
                budget: PixelBudget, mode: str = DEFAULT) -> Cleaned:
    """Encoded image bytes in, the cleaned page as PNG out, in an output mode (tfmodel/modes)."""
    if len(data) > config.max_image_bytes:
        raise ApiError(Code.TOO_LARGE, TOO_LARGE_DETAIL.format(max_bytes=config.max_image_bytes))
    header = check_header(data, config.max_pixels)
    size = (header.width, header.height)
    try:
        work = check_work(header.width, header.height, config.max_aspect_ratio,
                          config.max_work_pixels)
        with budget.hold(work):
            try:
                page = prepare_page(header, data, colour=mode != DEFAULT)
                size = (page.width, page.height)
                png = run_model(backend, page, mode)
            finally:
                if work > LARGE_WORK:
                    return_free_memory()
    except ApiError as err:
        err.page_size = size
        raise
    return Cleaned(png, page.width, page.height)


def run_model(backend: ModelBackend, page: Page, mode: str = DEFAULT) -> bytes:
    """The model's answer, checked to have the page's size."""
    try:
        png = backend.clean(page.data, mode)
    except InvalidImage as err:
        # The model's own message names graph nodes: it goes to the log, not to the client.
        log.info("model could not decode the %s image: %s", page.source_format, err)
        raise ApiError(Code.BAD_IMAGE, f"imagem {page.source_format} corrompida ou truncada"
                       ) from None
    except BackendUnavailable as err:
        log.warning("model backend unavailable: %s", err)
        raise ApiError(Code.MODEL_UNAVAILABLE, MODEL_DOWN_DETAIL) from None
    except ModeUnavailable as err:
        log.warning("output mode %s unavailable: %s", mode, err)
        raise ApiError(Code.MODE_UNAVAILABLE,
                       MODE_DETAIL.format(version=backend.version(), mode=mode)) from None
    if png_size(png) != (page.width, page.height):
        raise ApiError(Code.INTERNAL, "o modelo devolveu uma imagem de outro tamanho")
    return png
