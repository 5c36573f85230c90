"""TensorFlow Serving's REST API (`:predict` with `{"b64": ...}` strings); needs no TensorFlow.

See TF Serving's api_rest.md: a string input is sent as {"b64": ...} and an output whose name
ends in `_bytes` comes back the same way.
"""

from __future__ import annotations

import base64
import logging
import random
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pagework.backends.base import (
    BackendUnavailable,
    InvalidImage,
    ModeUnavailable,
    missing_signature,
)
from pagework.backends.version_cache import VersionCache
from tfmodel.modes import DEFAULT, signature

log = logging.getLogger(__name__)


class TFServingBackend:
    kind = "tf-serving"

    def __init__(self, url: str, model_name: str, version: str = "", *, timeout: float = 60.0,
                 pool_size: int = 32) -> None:
        self.model_url = f"{url.rstrip('/')}/v1/models/{model_name}"
        versioned = f"{self.model_url}/versions/{version}" if version else self.model_url
        self.predict_url = versioned + ":predict"
        self.status_url = versioned
        self.timeout = timeout
        self._connect_timeout = min(3.0, timeout)
        self._session = requests.Session()
        # One retry, and only for connections that never reached the server: safe for POST.
        retry = Retry(total=1, connect=1, read=0, status=0, other=0, allowed_methods=None,
                      backoff_factor=0.1, raise_on_status=False)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._versions = VersionCache(self._available_version, version)

    def clean(self, image: bytes, mode: str = DEFAULT) -> bytes:
        payload = {"signature_name": signature(mode),
                   "instances": [{"b64": base64.b64encode(image).decode("ascii")}]}
        response = self._predict(payload)
        if response.status_code == 400:
            # With batching, another client's undecodable image fails the whole batch: try once
            # more, a few milliseconds later, before blaming this image.
            time.sleep(random.uniform(0.01, 0.05))
            response = self._predict(payload)
        if response.status_code == 400:
            error = _error_text(response)
            raise (ModeUnavailable if missing_signature(error) else InvalidImage)(error)
        if response.status_code != 200:
            raise BackendUnavailable(f"TF Serving HTTP {response.status_code}:"
                                     f" {_error_text(response)}")
        try:
            prediction = response.json()["predictions"][0]
            return base64.b64decode(prediction["b64"] if isinstance(prediction, dict)
                                    else prediction["clean_png_bytes"]["b64"])
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise BackendUnavailable(f"unexpected TF Serving answer: {err!r}") from None

    def _predict(self, payload: dict) -> requests.Response:
        try:
            return self._session.post(self.predict_url, json=payload,
                                      timeout=(self._connect_timeout, self.timeout))
        except requests.RequestException as err:
            raise BackendUnavailable(f"TF Serving did not answer: {type(err).__name__}") from None

    def version(self) -> str:
        """The version TF Serving reports AVAILABLE (cached, see VersionCache)."""
        return self._versions.get()

    def _available_version(self) -> str:
        try:
            response = self._session.get(self.status_url,
                                         timeout=(self._connect_timeout, min(5.0, self.timeout)))
            states = response.json()["model_version_status"] if response.ok else []
        except (requests.RequestException, ValueError, KeyError) as err:
            raise BackendUnavailable(str(err)) from None
        available = [s["version"] for s in states if s.get("state") == "AVAILABLE"]
        return max(available, key=int, default="")

    def status(self) -> dict[str, object]:
        try:
            version = self._available_version()
        except BackendUnavailable as err:
            return {"ready": False, "backend": self.kind, "url": self.model_url,
                    "error": str(err)}
        self._versions.set(version)
        return {"ready": bool(version), "backend": self.kind, "url": self.model_url,
                "version": version}

    def close(self) -> None:
        self._session.close()


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:300]
    except ValueError:
        return response.text[:300]
