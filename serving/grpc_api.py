"""TF Serving's gRPC API on the generated servicers of `tensorflow_serving.apis`: TF Serving's
method names, messages and status codes, so its own clients work unchanged.

PredictionService.Predict and ModelService.GetModelStatus, what the API and bench.direct call;
the other methods (GetModelMetadata, Classify, Regress, MultiInference,
HandleReloadConfigRequest) answer UNIMPLEMENTED. Checks and messages follow predict_impl.cc,
predict_util.cc, get_model_status_impl.cc, server_core.cc and grpc_status_util.cc.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.errors import Code, ServingError, invalid_argument
from serving.flags import ServerOptions
from serving.model_manager import ModelRegistry
from serving.runner import VersionRunner
from serving.servable import DEFAULT_SIGNATURE
from serving.status_json import model_status_response

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2**31 - 1  # builder.SetMaxMessageSize(kint32max) in server.cc
_PACKED_FIELDS = {np.dtype(np.float32): 5, np.dtype(np.float64): 6}  # float_val, double_val


def _rpc(method):
    """A ServingError (or a bug) ends the call with its status, cut as ToGRPCStatus cuts it."""

    @functools.wraps(method)
    def call(self, request, context: grpc.ServicerContext):
        try:
            return method(self, request, context)
        except ServingError as error:
            failure = error
        except Exception as error:  # a bug must still end the call with a status, and be logged
            log.exception("%s failed", method.__name__)
            failure = ServingError(Code.INTERNAL, str(error))
        message = failure.message
        if len(message) > 1024:
            message = message[:1024] + "...TRUNCATED"
        context.abort(grpc.StatusCode[failure.code.name], message)

    return call


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    @_rpc
    def Predict(self, request, context):
        runner = runner_for_spec(self.registry, request)
        key = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = runner.servable.signature_defs.get(key)
        if signature is None:
            raise ServingError(Code.FAILED_PRECONDITION,
                               f'Serving signature key "{key}" not found.')
        outputs = runner.predict(key, input_arrays(signature, request.inputs),
                                 context.time_remaining())
        response = predict_pb2.PredictResponse()
        response.model_spec.name, response.model_spec.signature_name = runner.servable.name, key
        response.model_spec.version.value = runner.servable.version
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(tensor_proto(value))
        return response

class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    @_rpc
    def GetModelStatus(self, request, context):
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        return model_status_response(self.registry.status(spec.name, version))


def runner_for_spec(registry: ModelRegistry, request) -> VersionRunner:
    """The version a request's ModelSpec names: the latest or a number (labels are not
    served)."""
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    spec = request.model_spec
    if not spec.name:
        raise invalid_argument("ModelSpec has no name specified.")
    choice = spec.WhichOneof("version_choice")
    if choice == "version_label":
        raise invalid_argument("Unrecognized servable version label: ", spec.version_label)
    return registry.runner_for(spec.name, spec.version.value if choice == "version" else None)


def input_arrays(signature, inputs) -> dict[str, np.ndarray]:
    """VerifyRequestInputsSize and GetInputValues: the request's tensors, by alias."""
    import tensorflow as tf

    sent, expected = set(inputs), set(signature.inputs)
    keys = lambda names: "{" + ",".join(sorted(names)) + "}"  # noqa: E731
    if len(sent) != len(expected):
        raise invalid_argument(
            f"input size does not match signature: {len(sent)}!={len(expected)} len("
            f"{keys(sent)}) != len({keys(expected)}). Sent extra: {keys(sent - expected)}. "
            f"Missing but required: {keys(expected - sent)}.")
    arrays = {}
    for alias, proto in inputs.items():
        if alias not in expected:
            raise invalid_argument(f"input tensor alias not found in signature: {alias}. "
                                   f"Inputs expected to be in the set {keys(expected)}.")
        try:
            arrays[alias] = tf.make_ndarray(proto)
        except (TypeError, ValueError):
            raise invalid_argument("tensor parsing error: ", alias) from None
    return arrays


def tensor_proto(value: np.ndarray):
    """As TF Serving fills outputs by default (AsProtoField): strings in string_val, floats in
    float_val, written as one packed field that protobuf parses in C (not float by float)."""
    import tensorflow as tf

    number = _PACKED_FIELDS.get(value.dtype)
    if number is None:
        return tf.make_tensor_proto(value)
    proto = tf.make_tensor_proto(np.zeros((0,), value.dtype))
    proto.tensor_shape.CopyFrom(tf.TensorShape(value.shape).as_proto())
    data, size = np.ascontiguousarray(value, value.dtype.newbyteorder("<")).tobytes(), b""
    length = len(data)
    while length > 0x7F:  # the field's length as a protobuf varint
        size, length = size + bytes([length & 0x7F | 0x80]), length >> 7
    proto.MergeFromString(bytes([number << 3 | 2]) + size + bytes([length]) + data)
    return proto


def make_grpc_server(registry: ModelRegistry, options: ServerOptions) -> grpc.Server:
    """Both services on --port, TF Serving's message limit, then
    --grpc_channel_arguments (`key=value,...`, ints as ints), which cannot change that limit: the
    first value of an argument counts, as SetMaxMessageSize overrides them in TF Serving."""
    arguments = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    for item in filter(None, options.grpc_channel_arguments.split(",")):
        key, _, value = item.partition("=")
        arguments.append((key, int(value) if value.lstrip("-").isdigit() else value))
    server = grpc.server(ThreadPoolExecutor(options.grpc_max_threads, thread_name_prefix="grpc"),
                         options=arguments)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(registry), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(registry), server)
    address = f"{options.grpc_host}:{options.port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError as error:  # a taken port: the start-up fails, as TF Serving's does
        raise OSError(f"Failed to bind gRPC to {address}: {error}") from None
    return server
