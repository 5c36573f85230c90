"""REST routing details that need control over the model: timeouts, path forms.

Each case follows tensorflow_serving/model_servers/http_rest_api_util.cc (path regexes, version
parsing) and http_server.cc (DEADLINE_EXCEEDED -> 504).
The model is a fake that echoes, run through the real runner, manager and WSGI app.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pytest
from werkzeug.test import Client

from serving.config_files import ModelConfig
from serving.model_manager import ModelManager, ModelRegistry
from serving.rest_api import RestApi
from serving.runner import VersionRunner
from tests.serving_contract.fake_models import add_version
from tests.serving_contract.payloads import MODEL


def echo_signature():
    from tensorflow.core.protobuf import meta_graph_pb2

    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    signature.inputs["x"].dtype = 1
    signature.outputs["y"].dtype = 1
    return signature


@dataclass
class EchoServable:
    """Returns its input plus its version; a closed `gate` holds every call until it opens."""

    name: str
    version: int
    gate: threading.Event | None = None
    signature_defs: dict = field(default_factory=lambda: {"serving_default": echo_signature()})

    def input_dtypes(self, signature_name: str) -> dict[str, int]:
        return {"x": 1}

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.gate is not None:
            self.gate.wait(30)
        if (inputs["x"] < 0).any():
            raise RuntimeError("the model crashed")
        return {"y": inputs["x"] + self.version}


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(4) as executor:
        yield executor


def client_for(tmp_path, pool, gate: threading.Event | None = None, **api_options) -> Client:
    for version in (1, 2):
        add_version(tmp_path, version)
    config = ModelConfig(MODEL, str(tmp_path))
    manager = ModelManager(config, lambda name, version, path: VersionRunner(
        EchoServable(name, version, gate), pool))
    registry = ModelRegistry([manager], poll_wait_seconds=0)
    registry.start()
    return Client(RestApi(registry, **{"timeout_ms": 5000, **api_options}))


def test_slow_model_call_answers_504_at_the_rest_timeout(tmp_path, pool):
    """The model call cannot finish before the gate opens, after the answer: 504 came from the
    timeout, not from a slow model returning."""
    gate = threading.Event()
    client = client_for(tmp_path, pool, gate, timeout_ms=100)
    try:
        answer = client.post(f"/v1/models/{MODEL}:predict", json={"instances": [1.0]})
    finally:
        gate.set()
    assert (answer.status_code, answer.json) == (504, {"error": "Deadline Exceeded"})


def test_unexpected_failure_is_a_json_500(tmp_path, pool):
    answer = client_for(tmp_path, pool).post(f"/v1/models/{MODEL}:predict",
                                             json={"instances": [-1.0]})
    assert (answer.status_code, answer.json) == (500, {"error": "Internal error: the model "
                                                                "crashed"})


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("POST", f"/v1/models/{MODEL}/versions/99999999999999999999:predict", 400,
     "Failed to convert version: 99999999999999999999 to numeric."),
    ("POST", f"/v1/models/{MODEL}/versions/1/labels/stable:predict", 400, "Malformed request"),
    ("POST", f"/v1/models/{MODEL}/labels/stable:predict", 400, "Malformed request"),  # no labels
    ("POST", f"/v1/models/{MODEL}/versions/1:predict", 404,
     f"Servable not found for request: Specific({MODEL}, 1)"),  # only the latest is served
    ("POST", f"/v1/models/{MODEL}/version/1:predict", 400, "Malformed request"),
    ("POST", f"/v1/models/{MODEL}/metadata", 400, "Malformed request"),
    ("PUT", f"/v1/models/{MODEL}", 400, f"Malformed request: PUT /v1/models/{MODEL}"),
    ("GET", "/v1/foo", 400, "Malformed request: GET /v1/foo"),
])
def test_malformed_paths(tmp_path, pool, method, path, status, message):
    answer = client_for(tmp_path, pool).open(path, method=method, json={"instances": [1.0]})
    assert answer.status_code == status
    assert message in answer.json["error"]


def test_paths_are_case_insensitive_and_names_percent_decoded(tmp_path, pool):
    client = client_for(tmp_path, pool)
    answer = client.post(f"/V1/MODELS/{MODEL}/VERSIONS/2:PREDICT", json={"instances": [1.0]})
    assert answer.json == {"predictions": [3.0]}
    encoded = "".join(f"%{ord(c):02x}" for c in MODEL)
    assert client.get(f"/v1/models/{encoded}").status_code == 200

