"""Cleaning one page's encoded bytes: with the model in this process (the API's own pipeline, so
the PNG bytes and the codes are the API's) or through a running service's POST /remove_background.
The CLI, its PDF and TIFF paths and the OCRmyPDF plugin all clean through these."""

from __future__ import annotations

import base64
import threading
from dataclasses import replace
from typing import Protocol

import requests

from pagework.backends import build_backend
from pagework.budget import PixelBudget
from pagework.codes import ApiError, Code
from pagework.config import from_env
from pagework.pipeline import clean_bytes
from tfmodel.modes import DEFAULT

PNG_DATA_URL = "data:image/png;base64,"


class DocumentError(Exception):
    """Nothing in this document (a PDF, a multi-page TIFF) can be cleaned; the message says why
    in the user's terms."""


class PageFailed(Exception):
    def __init__(self, code: int | None, message: str, detail: str = "",
                 request_id: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.detail, self.request_id = code, message, detail, request_id


class Cleaner(Protocol):
    mode: str  # the output mode of every page (tfmodel/modes.py)

    def clean(self, data: bytes) -> bytes:
        """PNG bytes of the cleaned page; raises PageFailed."""


# What each code means for someone cleaning files (the API's messages speak of its JSON key).
FILE_PROBLEMS: dict[int, str] = {
    Code.BAD_REQUEST: "the service refused the request",
    Code.MISSING_KEY: "the service refused the request",
    Code.BAD_IMAGE: "not a readable image (PNG, JPEG, GIF, BMP, TIFF or WebP), or damaged",
    Code.TOO_LARGE: "too large (over MAX_IMAGE_BYTES or MAX_PIXELS)",
    Code.MODEL_UNAVAILABLE: "the model did not answer; try again",
    Code.UNAUTHORIZED: "the service wants an API key (--api-key)",
    Code.INTERNAL: "internal error of the service",
    Code.LOG_UNAVAILABLE: "the service could not log the request; try again",
    Code.PAGE_SHAPE: "page proportions not supported (one side over MAX_ASPECT_RATIO times the "
                     "other)",
    Code.BAD_MODE: "the service does not know this output mode (--saida)",
    Code.MODE_UNAVAILABLE: "the model version has no such output mode (exported before the "
                           "modes): use --saida cinza, or a newer model",
}


class LocalCleaner:
    """The API's own pipeline without HTTP, with the backend the service would build."""

    def __init__(self, model_dir: str | None, mode: str = DEFAULT) -> None:
        self.mode = mode
        config = from_env()
        self.config = replace(config, model_dir=model_dir) if model_dir else config
        self.backend = build_backend(self.config)
        self.budget = PixelBudget(max(self.config.pixel_budget, self.config.max_pixels),
                                  self.config.pixel_budget_wait)

    def clean(self, data: bytes) -> bytes:
        try:
            return clean_bytes(data, self.backend, self.config, self.budget, self.mode).png
        except ApiError as err:
            raise PageFailed(int(err.code), FILE_PROBLEMS[err.code], err.detail) from None


class RemoteCleaner:
    """POST /remove_background on a running service, one HTTP session per worker thread."""

    def __init__(self, url: str, api_key: str, timeout: float, mode: str = DEFAULT) -> None:
        self.mode = mode
        self.endpoint = url.rstrip("/") + "/remove_background"
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.timeout = timeout
        self._local = threading.local()

    def clean(self, data: bytes) -> bytes:
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        body = {"imgb64_dirty": base64.b64encode(data).decode("ascii")}
        if self.mode != DEFAULT:  # a service from before the modes still answers cinza pages
            body["saida"] = self.mode
        try:
            response = session.post(self.endpoint, json=body, headers=self.headers,
                                    timeout=self.timeout)
            answer = response.json()
        except requests.RequestException as err:
            raise PageFailed(None, "service unreachable", str(err)) from None
        except ValueError:
            raise PageFailed(None, f"not an API answer (HTTP {response.status_code})") from None
        request_id = response.headers.get("X-Request-ID", "")
        if not isinstance(answer, dict):
            raise PageFailed(None, f"not an API answer (HTTP {response.status_code})")
        code = answer.get("codigo_retorno")
        if code != 0:
            raise PageFailed(code, FILE_PROBLEMS.get(code, str(answer.get("mensagem", ""))),
                             answer.get("detalhe", ""), request_id)
        return base64.b64decode(answer["imgb64_clean"].removeprefix(PNG_DATA_URL))
