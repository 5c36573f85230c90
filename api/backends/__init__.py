"""Model backends: the SavedModel's `serving_default` signature in this process, or TF Serving.

Both take encoded image bytes and return PNG bytes of the same size, so the route does not care
which one runs.
"""

from __future__ import annotations

from typing import Protocol

from api.config import Config


class InvalidImage(Exception):
    """The model could not decode the image (truncated or corrupt data)."""


class BackendUnavailable(Exception):
    """The model cannot answer now (server down, timeout, not loaded)."""


class ModelBackend(Protocol):
    kind: str

    def clean(self, image: bytes) -> bytes:
        """PNG bytes of the cleaned page; raises InvalidImage or BackendUnavailable."""

    def version(self) -> str:
        """The model version that answers, for the log."""

    def status(self) -> dict[str, object]:
        """Readiness detail; must include "ready": bool."""

    def close(self) -> None: ...


def build_backend(config: Config) -> ModelBackend:
    """TF Serving when TF_SERVING_URL is set; otherwise the SavedModel in this process (the
    import is deferred so that the TF Serving mode runs without TensorFlow installed)."""
    if config.tf_serving_url:
        from api.backends.tf_serving import TFServingBackend

        return TFServingBackend(
            config.tf_serving_url, config.model_name, config.model_version,
            timeout=config.tf_serving_timeout,
        )
    from api.backends.in_process import InProcessBackend

    return InProcessBackend(
        config.model_dir, config.model_version,
        intra_op_threads=config.tf_intra_op_threads, inter_op_threads=config.tf_inter_op_threads,
    )
