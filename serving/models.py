"""The served versions of each model: loading, running a signature, polling for new versions,
and the status TF Serving reports (GetModelStatusResponse, printed as JSON for REST).

As TF Serving's file-system source and default policy: numbered folders under the base path are
versions (tfmodel/versions.py: complete once saved_model.pb is there, which the exporter writes
last), the latest is served, and a new one is loaded and made AVAILABLE before the old one is
unloaded (END in status). Signatures are called through `tf.saved_model.load(...).signatures`,
as an in-process caller calls them, so results match calling the SavedModel byte for byte.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2

from serving.config_files import ModelConfig
from serving.errors import Code, ServingError, not_found
from tfmodel.versions import version_folders

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
CODES = {code.value[0]: code for code in grpc.StatusCode}  # TensorFlow's error codes are gRPC's
State = get_model_status_pb2.ModelVersionStatus.State


class Servable:
    """One loaded version; its calls run on the server's shared pool (--rest_api_num_threads)."""

    def __init__(self, name: str, version: int, path: Path, pool: Executor) -> None:
        self.name, self.version, self._pool = name, version, pool
        self._loaded = tf.saved_model.load(str(path))  # keeps the functions' variables alive
        self.signatures = dict(self._loaded.signatures)

    def input_dtypes(self, signature: str) -> dict[str, tf.DType]:
        return {k: v.dtype for k, v in self.signatures[signature].structured_input_signature[1]
                .items()}

    def predict(self, signature: str, inputs: dict[str, np.ndarray],
                timeout: float | None) -> dict[str, np.ndarray]:
        """Past the timeout the caller gets DEADLINE_EXCEEDED (the call itself cannot be
        interrupted and finishes in the background)."""
        future = self._pool.submit(self._run, signature, inputs)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise ServingError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded") from None

    def _run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Graph errors keep their TensorFlow code (an undecodable image is INVALID_ARGUMENT)."""
        dtypes = self.input_dtypes(signature)
        try:
            outputs = self.signatures[signature](
                **{k: tf.constant(v, dtype=dtypes[k]) for k, v in inputs.items()})
        except tf.errors.OpError as error:
            raise ServingError(CODES.get(error.error_code, Code.UNKNOWN), error.message) from None
        except (TypeError, ValueError) as error:  # binding or conversion refused the inputs
            raise ServingError(Code.INVALID_ARGUMENT, str(error)) from None
        return {k: v.numpy() for k, v in outputs.items()}


class Model:
    """The versions of one model. Requests read `_serving` (replaced whole, never mutated), so a
    switch of version is atomic for them."""

    def __init__(self, config: ModelConfig, pool: Executor) -> None:
        self.name, self.base_path, self._pool = config.name, config.base_path, pool
        self._serving: dict[int, Servable] = {}
        self.states: dict[int, tuple[int, str]] = {}  # version -> (State, error message)

    def poll(self) -> None:
        """Loads the latest complete version if it is new (a failed one is not retried), then
        unloads the one it replaces."""
        versions = version_folders(self.base_path)
        if not versions:
            return
        latest = max(versions)
        if latest in self.states:
            return
        log.info("Loading servable: {name: %s version: %d}", self.name, latest)
        self.states[latest] = (State.LOADING, "")
        try:
            servable = Servable(self.name, latest, versions[latest], self._pool)
        except Exception as error:  # a bad version must not stop the poller or the server
            self.states[latest] = (State.END, str(error))
            log.error("Loading servable {name: %s version: %d} failed: %s", self.name, latest,
                      error)
            return
        old, self._serving = self._serving, {latest: servable}
        self.states[latest] = (State.AVAILABLE, "")
        for version in old:
            self.states[version] = (State.END, "")
        log.info("Successfully loaded servable version {name: %s version: %d}", self.name, latest)

    def servable(self, version: int | None) -> Servable:
        """The version a request names, or the latest (ServerCore's lookup and its messages)."""
        serving = self._serving
        if version is None and serving:
            return serving[max(serving)]
        if version in serving:
            return serving[version]
        request = (f"Latest({self.name})" if version is None
                   else f"Specific({self.name}, {version})")
        raise not_found(f"Servable not found for request: {request}")

    def status(self, version: int | None) -> get_model_status_pb2.GetModelStatusResponse:
        """GetModelStatusImpl: one version, or all known ones from the highest down."""
        if version is not None and version not in self.states:
            raise not_found(f"Could not find version {version} of model {self.name}")
        if not self.states:
            raise not_found(f"Could not find any versions of model {self.name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        for number in sorted(self.states, reverse=True):
            if version in (None, number):
                state, error = self.states[number]
                entry = response.model_version_status.add(version=number, state=state)
                entry.status.error_code = "UNKNOWN" if error else "OK"
                entry.status.error_message = error
        return response


def status_json(response: get_model_status_pb2.GetModelStatusResponse) -> str:
    """As TF Serving prints it for REST (ToJsonString in http_rest_api_util.cc)."""
    return json_format.MessageToJson(response, indent=1, always_print_fields_with_no_presence=True)


class Registry:
    """All configured models, and the thread that polls their base paths."""

    def __init__(self, configs: list[ModelConfig], pool: Executor, poll_seconds: int) -> None:
        self._models = {c.name: Model(c, pool) for c in configs}
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()

    def model(self, name: str) -> Model:
        """An unknown model answers as one without versions, as TF Serving's state monitor."""
        return self._models.get(name) or Model(ModelConfig(name, ""), None)

    def start(self) -> None:
        """The initial versions now, then a poll every --file_system_poll_wait_seconds (0 or
        less: that first poll is the only one)."""
        self._poll_all()
        if self._poll_seconds > 0:
            threading.Thread(target=self._poll_loop, name="fs-poll", daemon=True).start()

    def _poll_all(self) -> None:
        for model in self._models.values():
            model.poll()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self._poll_all()

    def stop(self) -> None:
        self._stop.set()
