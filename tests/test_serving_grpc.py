"""Black-box gRPC contract of TensorFlow Serving, run against the local stand-in and, when
TF_SERVING_GRPC_TEST_TARGET (host:port) is set, against a real TF Serving serving `autoencoder`
with our signatures. Clients are tensorflow-serving-api's own stubs.

Expected behaviour comes from tensorflow/serving 2.19.1: apis/*.proto (services, messages),
model_servers/server.cc (message size limit), prediction_service_impl.cc, predict_impl.cc and
servables/tensorflow/predict_util.cc (Predict checks and messages, outputs as proto fields),
get_model_status_impl.cc, server_core.cc (ModelSpec lookup) and
grpc_status_util.cc (status codes pass through unchanged).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import numpy as np
import pytest
from PIL import Image

from tests.conftest import page_array, page_png
from tests.serving_contract.payloads import MODEL

PAGES = [page_png(64, 48), page_png(45, 33, seed=1), page_png(30, 70, seed=2)]
A4 = (2480, 3508)  # a 300 DPI A4 scan, width x height
UNLIMITED = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


@dataclass
class Target:
    prediction: object  # PredictionServiceStub
    model: object  # ModelServiceStub

    def status(self, name: str = MODEL, version: int | None = None):
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        return self.model.GetModelStatus(request, timeout=60)

    def served_version(self) -> int:
        return max(s.version for s in self.status().model_version_status
                   if s.state == 30)  # AVAILABLE

    def predict(self, request, timeout: float = 120):
        return self.prediction.Predict(request, timeout=timeout)


@pytest.fixture(scope="module", params=["local stand-in", "TF Serving"])
def target(request) -> Iterator[Target]:
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    if request.param == "TF Serving":
        address = os.environ.get("TF_SERVING_GRPC_TEST_TARGET")
        if not address:
            pytest.skip("TF_SERVING_GRPC_TEST_TARGET is not set: the gRPC contract ran against "
                        "the local stand-in only")
    else:
        address = request.getfixturevalue("local_serving").grpc
    with grpc.insecure_channel(address, options=UNLIMITED) as channel:
        yield Target(prediction_service_pb2_grpc.PredictionServiceStub(channel),
                     model_service_pb2_grpc.ModelServiceStub(channel))


def predict_request(signature: str = "serving_default", name: str = MODEL, **inputs):
    """A PredictRequest; each input is an ndarray (bytes objects for strings)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return request


def pages_request(*pages: bytes, **spec):
    return predict_request(image_bytes=np.array(pages, dtype=object), **spec)


def floats_request(pixels: np.ndarray):
    """`denoise` on float pixels in [0, 1], [1, H, W, 1]: sent as tensor_content."""
    request = predict_request("denoise", images=pixels.astype(np.float32))
    assert request.inputs["images"].tensor_content  # packed bytes, not one float at a time
    return request


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def failure(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


# --- ModelService.GetModelStatus --------------------------------------------------------------


def test_status_lists_the_served_version_as_available(target):
    from tensorflow_serving.apis import get_model_status_pb2

    version = target.served_version()
    newest = target.status().model_version_status[0]
    available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert (newest.version, newest.state) == (version, available)
    assert (newest.status.error_code, newest.status.error_message) == (0, "")
    (one,) = target.status(version=version).model_version_status
    assert one == newest


@pytest.mark.parametrize(("name", "version", "message"), [
    ("nosuchmodel", None, "Could not find any versions of model nosuchmodel"),
    (MODEL, 999999, f"Could not find version 999999 of model {MODEL}"),
])
def test_status_of_unknown_model_or_version_is_not_found(target, name, version, message):
    assert failure(lambda: target.status(name, version)) == (grpc.StatusCode.NOT_FOUND, message)


def test_status_without_model_spec_is_invalid_argument(target):
    from tensorflow_serving.apis import get_model_status_pb2

    request = get_model_status_pb2.GetModelStatusRequest()
    assert failure(lambda: target.model.GetModelStatus(request, timeout=60)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


# --- PredictionService.Predict ----------------------------------------------------------------


def test_predict_bytes_in_png_out(target):
    answer = target.predict(pages_request(PAGES[0]))
    assert (answer.model_spec.name, answer.model_spec.signature_name,
            answer.model_spec.version.value) == (MODEL, "serving_default", target.served_version())
    clean = answer.outputs["clean_png_bytes"]
    assert clean.dtype == 7 and [d.size for d in clean.tensor_shape.dim] == [1]
    (png,) = clean.string_val
    assert png_size(png) == (64, 48)


def test_empty_signature_name_is_the_default_signature(target):
    plain = target.predict(pages_request(PAGES[1], signature=""))
    assert plain.model_spec.signature_name == "serving_default"
    assert plain.outputs["clean_png_bytes"] == \
        target.predict(pages_request(PAGES[1])).outputs["clean_png_bytes"]


def test_batch_of_several_pages_keeps_order(target):
    batched = target.predict(pages_request(*PAGES)).outputs["clean_png_bytes"].string_val
    assert [png_size(p) for p in batched] == [(64, 48), (45, 33), (30, 70)]
    for page, png in zip(PAGES, batched, strict=True):
        assert target.predict(pages_request(page)).outputs["clean_png_bytes"].string_val == [png]


def test_predict_on_explicit_version(target):
    request = pages_request(PAGES[0])
    request.model_spec.version.value = target.served_version()
    assert target.predict(request).model_spec.version.value == target.served_version()


def test_float_signature_answers_floats(target):
    """TF Serving fills float_val, the stand-in tensor_content: clients read both alike."""
    import tensorflow as tf

    pixels = page_array(40, 30, seed=5)[np.newaxis, :, :, np.newaxis] / 255.0
    clean = tf.make_ndarray(target.predict(floats_request(pixels)).outputs["clean"])
    assert clean.dtype == np.float32 and clean.shape == (1, 30, 40, 1)
    assert ((clean >= 0) & (clean <= 1)).all()


@pytest.mark.parametrize("signature", ["serving_default", "denoise"])
def test_a4_pages_pass_the_message_size_limits(target, signature):
    """A 300 DPI A4 page: a 35 MB float tensor each way for `denoise`, far above gRPC's 4 MiB
    default, which TF Serving lifts to 2 GiB."""
    pixels = page_array(*A4, seed=7)
    if signature == "denoise":
        answer = target.predict(floats_request(pixels[np.newaxis, :, :, np.newaxis] / 255.0), 600)
        import tensorflow as tf

        assert tf.make_ndarray(answer.outputs["clean"]).size == A4[0] * A4[1]
    else:
        png = io.BytesIO()
        Image.fromarray(pixels).save(png, "PNG")
        answer = target.predict(pages_request(png.getvalue()), 600)
        assert png_size(answer.outputs["clean_png_bytes"].string_val[0]) == A4


def signature_request(name: str):
    return pages_request(PAGES[0], signature=name)


def spec_request(**spec):
    request = pages_request(PAGES[0])
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    return request


def without_spec():
    request = pages_request(PAGES[0])
    request.ClearField("model_spec")
    return request


def corrupt_floats():
    request = floats_request(np.zeros((1, 4, 4, 1)))
    request.inputs["images"].tensor_content = b"\0" * 10  # 16 floats promised, 2.5 sent
    return request


# The status code is what the API's gRPC backend acts on (INVALID_ARGUMENT: the image, else the
# server); TF Serving's words are pinned where the stand-in says them too.
BAD_PREDICTS = [
    # (id, request builder, status code, text the details contain)
    ("unknown-model", lambda: spec_request(name="nosuchmodel"), grpc.StatusCode.NOT_FOUND,
     "Servable not found for request: Latest(nosuchmodel)"),
    ("unknown-version", lambda: spec_request(version=999999), grpc.StatusCode.NOT_FOUND,
     f"Servable not found for request: Specific({MODEL}, 999999)"),
    ("no-model-name", lambda: spec_request(name=""), grpc.StatusCode.INVALID_ARGUMENT,
     "ModelSpec has no name specified."),
    ("no-model-spec", without_spec, grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"),
    ("unknown-signature", lambda: signature_request("nope"),
     grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
    ("no-inputs", lambda: predict_request(), grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("extra-input", lambda: predict_request(image_bytes=np.array([PAGES[0]], dtype=object),
                                            extra=np.array([1.0])),
     grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("wrong-input-name", lambda: predict_request(pixels=np.array([PAGES[0]], dtype=object)),
     grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("not-an-image", lambda: pages_request(b"this is not an image"),
     grpc.StatusCode.INVALID_ARGUMENT, "Unknown image file format"),
    ("truncated-png", lambda: pages_request(page_png(200, 100)[:300]),
     grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("floats-for-bytes", lambda: predict_request(image_bytes=np.array([0.5], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("corrupt-tensor", corrupt_floats, grpc.StatusCode.INVALID_ARGUMENT, ""),
]


@pytest.mark.parametrize(("build", "code", "message"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD_PREDICTS])
def test_bad_predicts_get_tf_serving_status_codes(target, build, code, message):
    got_code, details = failure(lambda: target.predict(build()))
    assert got_code == code
    assert message.lower() in details.lower()


def test_deadline_shorter_than_the_call_is_deadline_exceeded(target):
    request = pages_request(page_png(1200, 900, seed=3))
    assert failure(lambda: target.predict(request, timeout=0.001))[0] == \
        grpc.StatusCode.DEADLINE_EXCEEDED


# --- the stand-in only ------------------------------------------------------------------------


def test_grpc_answers_are_byte_identical_to_rest_and_in_process(local_serving, tiny_model_base):
    import base64

    import requests
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    serve = tf.saved_model.load(str(tiny_model_base / "1")).signatures["serving_default"]
    rest = requests.post(f"{local_serving.url}/v1/models/{MODEL}:predict",
                         json={"instances": [{"b64": base64.b64encode(p).decode()} for p in PAGES]},
                         timeout=60).json()["predictions"]
    with grpc.insecure_channel(local_serving.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        served = stub.Predict(pages_request(*PAGES), timeout=60).outputs["clean_png_bytes"]
    for page, png, over_rest in zip(PAGES, served.string_val, rest, strict=True):
        assert png == base64.b64decode(over_rest["b64"])
        assert png == serve(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()[0]
