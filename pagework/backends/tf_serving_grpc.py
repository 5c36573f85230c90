"""TensorFlow Serving's gRPC API (PredictionService.Predict on the output mode's signature, the
page's bytes as a DT_STRING tensor); needs no TensorFlow: messages from
pagework/backends/tf_serving_protos.py.

One channel per process, made on first use: gunicorn forks its workers after importing the app,
and a gRPC channel must not cross a fork. gRPC keeps one HTTP/2 connection per server address;
with a DNS name that resolves to several serving replicas (a headless service, compose --scale),
the `round_robin` policy (TF_SERVING_GRPC_LB_POLICY) connects to every address and spreads calls.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time

import grpc

from pagework.backends.base import (
    BackendUnavailable,
    InvalidImage,
    ModeUnavailable,
    missing_signature,
)
from pagework.backends.tf_serving_protos import GET_MODEL_STATUS, PREDICT, messages
from pagework.backends.version_cache import VersionCache
from tfmodel.modes import DEFAULT, signature

DT_STRING = 7
AVAILABLE = 30  # ModelVersionStatus.State.AVAILABLE
# A server that comes back is found within about two seconds (gRPC's default backoff grows to
# 120 s); answers of any size are taken (gRPC's default limit is 4 MiB).
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 200),
                   ("grpc.max_reconnect_backoff_ms", 2000), ("grpc.max_receive_message_length", -1)]
# Tried once more: UNAVAILABLE (connection lost or refused, server restarting) and, with batching
# on, INVALID_ARGUMENT (another client's undecodable image fails the whole batch).
RETRIED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INVALID_ARGUMENT)
RECONNECT_WAIT = 3.0  # seconds; above the reconnect backoff's 2 s ceiling


class TFServingGrpcBackend:
    kind = "tf-serving-grpc"

    def __init__(self, target: str, model_name: str, version: str = "", *,
                 timeout: float = 60.0, lb_policy: str = "round_robin") -> None:
        self.target = target
        self.model_name = model_name
        self.timeout = timeout
        self._pinned = int(version) if version else None
        self._messages = messages()  # a missing descriptor set fails at start, not per call
        self._options = [*CHANNEL_OPTIONS, ("grpc.service_config",
                                      json.dumps({"loadBalancingConfig": [{lb_policy: {}}]}))]
        self._channel: grpc.Channel | None = None
        self._owner = 0  # pid of the process that made the channel
        self._lock = threading.Lock()
        self._versions = VersionCache(self._available_version, version)

    def clean(self, image: bytes, mode: str = DEFAULT) -> bytes:
        request = self._message("PredictRequest")
        self._spec(request.model_spec).signature_name = signature(mode)
        tensor = request.inputs["image_bytes"]
        tensor.dtype = DT_STRING
        tensor.tensor_shape.dim.add(size=1)
        tensor.string_val.append(image)
        response = self._call(PREDICT, request, "PredictResponse", self.timeout)
        try:
            return response.outputs["clean_png_bytes"].string_val[0]
        except IndexError:
            raise BackendUnavailable("unexpected TF Serving answer: no clean_png_bytes") from None

    def _call(self, method: str, request, response_type: str, timeout: float):
        """One call within `timeout` seconds, tried twice for RETRIED codes."""
        deadline = time.monotonic() + timeout
        channel = self._channel_here()
        call = channel.unary_unary(
            method, request_serializer=type(request).SerializeToString,
            response_deserializer=self._messages[f"tensorflow.serving.{response_type}"].FromString)
        for attempt in (1, 2):
            try:
                return call(request, timeout=max(0.001, deadline - time.monotonic()))
            except grpc.RpcError as error:
                code, details = error.code(), (error.details() or "")[:300]
                if attempt == 1 and code in RETRIED and time.monotonic() < deadline:
                    self._pause_before_retry(channel, code, deadline)
                    continue
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    raise InvalidImage(details) from None
                if code == grpc.StatusCode.FAILED_PRECONDITION and missing_signature(details):
                    raise ModeUnavailable(details) from None
                raise BackendUnavailable(f"TF Serving gRPC {code.name}: {details}") from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    @staticmethod
    def _pause_before_retry(channel: grpc.Channel, code: grpc.StatusCode, deadline: float) -> None:
        """A lost connection gets up to RECONNECT_WAIT seconds to come back (a restarted server
        is found without waiting out a reconnect backoff); a failed batch a few milliseconds."""
        if code != grpc.StatusCode.UNAVAILABLE:
            time.sleep(random.uniform(0.01, 0.05))
            return
        ready = grpc.channel_ready_future(channel)
        try:
            ready.result(timeout=max(0.0, min(RECONNECT_WAIT, deadline - time.monotonic())))
        except grpc.FutureTimeoutError:
            ready.cancel()

    def _channel_here(self) -> grpc.Channel:
        """This process's channel (a forked worker makes its own; it never uses the parent's)."""
        with self._lock:
            if self._channel is None or self._owner != os.getpid():
                self._channel = grpc.insecure_channel(self.target, options=self._options)
                self._owner = os.getpid()
            return self._channel

    def _message(self, name: str):
        return self._messages[f"tensorflow.serving.{name}"]()

    def _spec(self, spec):
        spec.name = self.model_name
        if self._pinned is not None:
            spec.version.value = self._pinned
        return spec

    def version(self) -> str:
        """The version TF Serving reports AVAILABLE (cached, see VersionCache)."""
        return self._versions.get()

    def _available_version(self) -> str:
        request = self._message("GetModelStatusRequest")
        self._spec(request.model_spec)
        try:
            response = self._call(GET_MODEL_STATUS, request, "GetModelStatusResponse",
                                  min(5.0, self.timeout))
        except InvalidImage as err:  # no image in this call: the server refused the request
            raise BackendUnavailable(str(err)) from None
        available = [s.version for s in response.model_version_status if s.state == AVAILABLE]
        return str(max(available)) if available else ""

    def status(self) -> dict[str, object]:
        try:
            version = self._available_version()
        except BackendUnavailable as err:
            return {"ready": False, "backend": self.kind, "target": self.target,
                    "error": str(err)}
        self._versions.set(version)
        return {"ready": bool(version), "backend": self.kind, "target": self.target,
                "version": version}

    def close(self) -> None:
        with self._lock:
            if self._channel is not None and self._owner == os.getpid():
                self._channel.close()
            self._channel = None
