"""Model backends: the SavedModel's signatures in this process, or TF Serving over REST or gRPC.

All take encoded image bytes and an output mode and return PNG bytes of the same size, so the
route does not care which one runs. A mode is a signature of the SavedModel (tfmodel/modes.py).
"""

from __future__ import annotations

from pagework.backends.base import BackendUnavailable, InvalidImage, ModelBackend, ModeUnavailable
from pagework.config import Config

__all__ = ["BackendUnavailable", "InvalidImage", "ModeUnavailable", "ModelBackend",
           "build_backend"]


def build_backend(config: Config) -> ModelBackend:
    """TF Serving over gRPC when TF_SERVING_GRPC is set, else over REST when TF_SERVING_URL is;
    otherwise the SavedModel in this process (the imports are deferred so that the TF Serving
    modes run without TensorFlow installed)."""
    if config.tf_serving_grpc:
        from pagework.backends.tf_serving_grpc import TFServingGrpcBackend

        return TFServingGrpcBackend(
            config.tf_serving_grpc, config.model_name, config.model_version,
            timeout=config.tf_serving_timeout, lb_policy=config.tf_serving_grpc_lb_policy,
        )
    if config.tf_serving_url:
        from pagework.backends.tf_serving import TFServingBackend

        return TFServingBackend(
            config.tf_serving_url, config.model_name, config.model_version,
            timeout=config.tf_serving_timeout,
        )
    from pagework.backends.in_process import InProcessBackend

    return InProcessBackend(
        config.model_dir, config.model_version,
        intra_op_threads=config.tf_intra_op_threads, inter_op_threads=config.tf_inter_op_threads,
        mixed_precision=config.mixed_precision,
    )
