"""TF Serving's gRPC API on the generated servicers of `tensorflow_serving.apis`, so its own
clients work unchanged: PredictionService.Predict and ModelService.GetModelStatus, what the API
and bench.direct call (the servicers' other methods answer UNIMPLEMENTED). Checks and messages
follow predict_impl.cc, predict_util.cc, get_model_status_impl.cc and server_core.cc.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.errors import Code, ServingError, invalid_argument
from serving.models import DEFAULT_SIGNATURE, Registry

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2**31 - 1  # builder.SetMaxMessageSize(kint32max) in server.cc


def _rpc(method):
    """A ServingError (or a bug) ends the call with its status."""

    @functools.wraps(method)
    def call(self, request, context: grpc.ServicerContext):
        try:
            return method(self, request, context)
        except ServingError as error:
            failure = error
        except Exception as error:  # a bug must still end the call with a status, and be logged
            log.exception("%s failed", method.__name__)
            failure = ServingError(Code.INTERNAL, str(error))
        context.abort(failure.code, failure.message[:1024])

    return call


def _model_spec(request):
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    spec = request.model_spec
    return spec, spec.version.value if spec.HasField("version") else None


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @_rpc
    def Predict(self, request, context):
        spec, version = _model_spec(request)
        if not spec.name:
            raise invalid_argument("ModelSpec has no name specified.")
        servable = self.registry.model(spec.name).servable(version)
        key = spec.signature_name or DEFAULT_SIGNATURE
        if key not in servable.signatures:
            raise ServingError(Code.FAILED_PRECONDITION,
                               f'Serving signature key "{key}" not found.')
        expected = set(servable.input_dtypes(key))
        if set(request.inputs) != expected:
            raise invalid_argument(f"input size does not match signature: sent "
                                   f"{sorted(request.inputs)}, wanted {sorted(expected)}")
        try:
            inputs = {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()}
        except (TypeError, ValueError):
            raise invalid_argument("tensor parsing error") from None
        outputs = servable.predict(key, inputs, context.time_remaining())
        response = predict_pb2.PredictResponse()
        response.model_spec.name, response.model_spec.signature_name = spec.name, key
        response.model_spec.version.value = servable.version
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @_rpc
    def GetModelStatus(self, request, context):
        spec, version = _model_spec(request)
        return self.registry.model(spec.name).status(version)


def make_grpc_server(registry: Registry, host: str, port: int) -> grpc.Server:
    """Both services on host:port, with TF Serving's message size limit."""
    server = grpc.server(ThreadPoolExecutor(16, thread_name_prefix="grpc"),
                         options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                                  ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(registry), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(registry), server)
    try:
        server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as error:  # a taken port: the start-up fails, as TF Serving's does
        raise OSError(f"Failed to bind gRPC to {host}:{port}: {error}") from None
    return server
