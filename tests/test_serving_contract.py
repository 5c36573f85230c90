"""Black-box REST contract of TensorFlow Serving, run against the local stand-in and, when
TF_SERVING_TEST_URL is set, against a real TF Serving serving `autoencoder` with our signatures.

Expected behaviour comes from TF Serving's documentation and source (tensorflow/serving):
g3doc/api_rest.md (URLs, the row format, b64, error bodies), model_servers/
http_rest_api_handler.cc + http_rest_api_util.cc (routing, status JSON),
http_server.cc (status code -> HTTP code), util/json_tensor.cc (request/response JSON and its
error messages), model_servers/get_model_status_impl.cc and core/basic_manager.cc (not-found
messages). Only the server start-up differs between the two targets.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import page_png
from tests.serving_contract.payloads import MODEL, b64, png_size

PAGES = [page_png(64, 48), page_png(45, 33, seed=1), page_png(30, 70, seed=2)]


@dataclass
class Target:
    url: str
    http: requests.Session

    @property
    def model_url(self) -> str:
        return f"{self.url}/v1/models/{MODEL}"

    def post(self, suffix: str, body: object = None, data: bytes | None = None):
        return self.http.post(self.model_url + suffix, json=body, data=data, timeout=60)

    def get(self, suffix: str = ""):
        return self.http.get(self.model_url + suffix, timeout=60)

    def served_version(self) -> str:
        statuses = self.get().json()["model_version_status"]
        return max((s for s in statuses if s["state"] == "AVAILABLE"),
                   key=lambda s: int(s["version"]))["version"]


@pytest.fixture(scope="module", params=["local stand-in", "TF Serving"])
def target(request) -> Iterator[Target]:
    if request.param == "TF Serving":
        url = os.environ.get("TF_SERVING_TEST_URL")
        if not url:
            pytest.skip("TF_SERVING_TEST_URL is not set: the contract ran against the local "
                        "stand-in only")
    else:
        url = request.getfixturevalue("local_serving").url
    with requests.Session() as http:
        yield Target(url.rstrip("/"), http)


def error_of(answer: requests.Response) -> str:
    """Errors are `{"error": message}` and nothing else, as JSON (api_rest.md)."""
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert list(body) == ["error"]
    return body["error"]


# --- model status -------------------------------------------------------------------------


def test_status_lists_the_served_version_as_available(target):
    version = target.served_version()
    answer = target.get()
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    newest = answer.json()["model_version_status"][0]
    assert newest == {"version": version, "state": "AVAILABLE",
                      "status": {"error_code": "OK", "error_message": ""}}


def test_status_of_one_version(target):
    version = target.served_version()
    answer = target.get(f"/versions/{version}")
    assert answer.status_code == 200
    assert answer.json() == {"model_version_status": [
        {"version": version, "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]}


@pytest.mark.parametrize(("path", "status", "message"), [
    (f"/v1/models/{MODEL}/versions/999999", 404,
     f"Could not find version 999999 of model {MODEL}"),
    ("/v1/models/nosuchmodel", 404, "Could not find any versions of model nosuchmodel"),
    ("/v1/models", 400, "Missing model name in request."),
    (f"/v1/models/{MODEL}:predict", 400, f"Malformed request: GET /v1/models/{MODEL}:predict"),
])
def test_bad_gets_get_tf_serving_status_and_error(target, path, status, message):
    answer = target.http.get(target.url + path, timeout=60)
    assert answer.status_code == status
    assert error_of(answer) == message


# --- predict --------------------------------------------------------------------------------


def test_predict_row_format_b64_in_and_out(target):
    answer = target.post(":predict", {"instances": [b64(PAGES[0])]})
    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    assert len(predictions) == 1
    assert png_size(predictions[0]) == (64, 48)


def test_predict_row_format_with_named_input_and_signature(target):
    plain = target.post(":predict", {"instances": [b64(PAGES[1])]}).json()
    named = target.post(":predict", {"signature_name": "serving_default",
                                     "instances": [{"image_bytes": b64(PAGES[1])}]})
    assert named.status_code == 200
    assert named.json() == plain
    assert png_size(plain["predictions"][0]) == (45, 33)


def test_predict_batch_of_several_instances_keeps_order(target):
    answer = target.post(":predict", {"instances": [b64(p) for p in PAGES]})
    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    assert [png_size(p) for p in predictions] == [(64, 48), (45, 33), (30, 70)]
    for page, batched in zip(PAGES, predictions, strict=True):
        alone = target.post(":predict", {"instances": [b64(page)]}).json()["predictions"][0]
        assert batched == alone


def test_predict_on_explicit_version(target):
    version = target.served_version()
    answer = target.post(f"/versions/{version}:predict", {"instances": [b64(PAGES[0])]})
    assert answer.status_code == 200
    assert png_size(answer.json()["predictions"][0]) == (64, 48)


def test_predict_float_signature_returns_nested_lists(target):
    page = [[[0.5], [0.25], [0.75], [1.0]]] * 4  # one 4x4x1 image
    answer = target.post(":predict", {"signature_name": "denoise", "instances": [page]})
    assert answer.status_code == 200
    (clean,) = answer.json()["predictions"]
    assert len(clean) == 4 and all(len(row) == 4 for row in clean)
    assert all(len(pixel) == 1 and 0.0 <= pixel[0] <= 1.0 for row in clean for pixel in row)


NOT_AN_IMAGE = b64(b"this is not an image")
# What the API's backend and bench.direct can meet: the status decides (400: the image, else the
# server), the message is logged. Other malformed requests are refused with the stand-in's own
# words (tests/test_serving_json_codec.py).
BAD_REQUESTS = [
    # (id, url suffix, JSON body or raw bytes, HTTP status, text the error message contains)
    ("unknown-version", "/versions/999999:predict", {"instances": [NOT_AN_IMAGE]}, 404,
     f"Servable not found for request: Specific({MODEL}, 999999)"),
    ("unknown-signature", ":predict", {"signature_name": "nope", "instances": [NOT_AN_IMAGE]},
     400, 'Serving signature name: "nope" not found in signature def'),
    ("malformed-json", ":predict", b'{"instances": [', 400, "JSON Parse error"),
    ("missing-instances-and-inputs", ":predict", {"signature_name": "serving_default"}, 400,
     "Missing 'inputs' or 'instances' key"),
    ("non-image-bytes", ":predict", {"instances": [NOT_AN_IMAGE]}, 400,
     "Unknown image file format"),
    ("bad-base64", ":predict", {"instances": [{"b64": "@@@not base64@@@"}]}, 400,
     "Unable to base64 decode"),
]


@pytest.mark.parametrize(("suffix", "body", "status", "message"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS])
def test_bad_requests_get_tf_serving_status_and_error(target, suffix, body, status, message):
    if isinstance(body, bytes):
        answer = target.post(suffix, data=body)
    else:
        answer = target.post(suffix, body)
    assert answer.status_code == status
    assert message in error_of(answer)


def test_predict_on_unknown_model_is_404(target):
    answer = target.http.post(f"{target.url}/v1/models/nosuchmodel:predict",
                              json={"instances": [NOT_AN_IMAGE]}, timeout=60)
    assert answer.status_code == 404
    assert error_of(answer) == "Servable not found for request: Latest(nosuchmodel)"


def test_http10_status_request_is_answered_and_closed(target):
    """The compose health check speaks HTTP/1.0 over bash's /dev/tcp and reads to EOF."""
    host, port = target.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET /v1/models/{MODEL} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.")
    assert b" 200 " in received.split(b"\r\n", 1)[0]
    assert b'"AVAILABLE"' in received


def test_paths_outside_v1_are_plain_404(target):
    answer = target.http.get(f"{target.url}/healthz", timeout=60)
    assert answer.status_code == 404


# --- the stand-in only ----------------------------------------------------------------------


def test_results_are_byte_identical_to_the_savedmodel_in_process(local_serving,
                                                                 tiny_model_base):
    import tensorflow as tf

    serve = tf.saved_model.load(str(tiny_model_base / "1")).signatures["serving_default"]
    answer = requests.post(f"{local_serving.url}/v1/models/{MODEL}:predict",
                           json={"instances": [b64(p) for p in PAGES]}, timeout=60)
    served = [base64.b64decode(p["b64"]) for p in answer.json()["predictions"]]
    for page, png in zip(PAGES, served, strict=True):
        in_process = serve(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()[0]
        assert png == in_process


def test_log_names_both_apis_and_stays_quiet_per_request(local_serving):
    """TF Serving's start-up lines; no access-log line per request (load tests must not flood
    stderr)."""
    requests.get(f"{local_serving.url}/v1/models/{MODEL}", timeout=60)
    log = local_serving.log_text()
    assert f"Running gRPC ModelServer at {local_serving.grpc} ..." in log
    assert f"Exporting HTTP/REST API at:{local_serving.url.removeprefix('http://')} ..." in log
    assert "GET /v1/models" not in log
