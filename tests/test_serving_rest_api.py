"""REST details that need control over the server's insides: the timeout and a bug's answer.
The timeout follows http_server.cc (DEADLINE_EXCEEDED -> 504), on the tiny real model."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.test import Client

from serving.config_files import ModelConfig
from serving.models import Registry
from serving.rest_api import RestApi
from tests.conftest import page_png
from tests.serving_contract.payloads import MODEL, b64


def test_model_call_past_the_rest_timeout_answers_504(tiny_model_base):
    """The only model thread is held until after the answer: 504 came from the timeout, not from
    a slow model returning."""
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        registry = Registry([ModelConfig(MODEL, str(tiny_model_base))], pool, 0)
        registry.start()
        pool.submit(gate.wait, 30)
        try:
            answer = Client(RestApi(registry, timeout_ms=100)).post(
                f"/v1/models/{MODEL}:predict", json={"instances": [b64(page_png())]})
        finally:
            gate.set()
    assert (answer.status_code, answer.json) == (504, {"error": "Deadline Exceeded"})


class BrokenRegistry:
    def model(self, name: str):
        raise RuntimeError("the model crashed")


def test_unexpected_failure_is_a_json_500():
    answer = Client(RestApi(BrokenRegistry(), timeout_ms=0)).get(f"/v1/models/{MODEL}")
    assert (answer.status_code, answer.json) == (500, {"error": "Internal error: the model "
                                                                "crashed"})


@pytest.mark.parametrize(("method", "path"), [
    ("POST", f"/v1/models/{MODEL}/labels/stable:predict"),  # labels are not served
    ("POST", f"/v1/models/{MODEL}/metadata"), ("PUT", f"/v1/models/{MODEL}"), ("GET", "/v1/foo"),
])
def test_other_paths_are_malformed_requests(method, path):
    answer = Client(RestApi(BrokenRegistry(), timeout_ms=0)).open(path, method=method)
    assert (answer.status_code, answer.json) == (400, {"error": f"Malformed request: {method} "
                                                                f"{path}"})
