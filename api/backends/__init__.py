"""Model backends: the SavedModel's signatures in this process, or TF Serving over REST or gRPC.

All take encoded image bytes and an output mode and return PNG bytes of the same size, so the
route does not care which one runs. A mode is a signature of the SavedModel (tfmodel/modes.py).
"""

from __future__ import annotations

from typing import Protocol

from api.config import Config
from tfmodel.modes import DEFAULT


class InvalidImage(Exception):
    """The model could not decode the image (truncated or corrupt data)."""


class BackendUnavailable(Exception):
    """The model cannot answer now (server down, timeout, not loaded)."""


class ModeUnavailable(Exception):
    """The served version has no signature for this output mode (exported before the modes)."""


def missing_signature(message: str) -> bool:
    """TF Serving's words for a signature the version lacks: `Serving signature name: "cor" not
    found in signature def` (REST) or `Serving signature key "cor" not found.` (gRPC)."""
    text = message.lower()
    return "signature" in text and "not found" in text


class ModelBackend(Protocol):
    kind: str

    def clean(self, image: bytes, mode: str = DEFAULT) -> bytes:
        """PNG bytes of the cleaned page in `mode`; raises InvalidImage, BackendUnavailable or
        ModeUnavailable."""

    def version(self) -> str:
        """The model version that answers, for the log."""

    def status(self) -> dict[str, object]:
        """Readiness detail; must include "ready": bool."""

    def close(self) -> None: ...


def build_backend(config: Config) -> ModelBackend:
    """TF Serving over gRPC when TF_SERVING_GRPC is set, else over REST when TF_SERVING_URL is;
    otherwise the SavedModel in this process (the imports are deferred so that the TF Serving
    modes run without TensorFlow installed)."""
    if config.tf_serving_grpc:
        from api.backends.tf_serving_grpc import TFServingGrpcBackend

        return TFServingGrpcBackend(
            config.tf_serving_grpc, config.model_name, config.model_version,
            timeout=config.tf_serving_timeout, lb_policy=config.tf_serving_grpc_lb_policy,
        )
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
        mixed_precision=config.mixed_precision,
    )
