"""The JSON <-> tensor codec in the forms its callers send and read (the API's `{"b64": ...}`
pages, bench.direct's float pixels), written as tensorflow_serving/util/json_tensor.cc writes
them (cases from json_tensor_test.cc)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from serving.errors import Code, ServingError
from serving.json_codec import format_decimal, instances_to_tensors, parse_request, predictions_json


def test_b64_pages_plain_or_named_are_one_batch_of_bytes():
    signature, instances = parse_request(
        b'{"signature_name": "serving_default", "instances": [{"b64": "aGVsbG8="}, '
        b'{"image_bytes": {"b64": "d29ybGQ"}}]}')
    tensors = instances_to_tensors(instances, {"image_bytes": tf.string})
    assert signature == "serving_default"
    assert tensors["image_bytes"].tolist() == [b"hello", b"world"]  # padding optional


def test_float_rows_are_batched_and_nan_is_read():
    _, instances = parse_request(b'{"instances": [[[0.5], [NaN]], [[1], [-Infinity]]]}')
    pixels = instances_to_tensors(instances, {"images": tf.float32})["images"]
    assert pixels.dtype == np.float32 and pixels.shape == (2, 2, 1)
    assert np.isnan(pixels[0, 1, 0]) and pixels[1, 1, 0] == -np.inf


@pytest.mark.parametrize(("body", "message"), [
    (b"", "JSON Parse error"), (b'{"instances": [1,', "JSON Parse error"),
    (b"[1, 2]", "JSON Parse error"),
    (b'{"signature_name": "x"}', "Missing 'inputs' or 'instances' key"),
    (b'{"instances": [[[0.5]], [[0.5], [0.5]]]}', "do not fit the signature"),
    (b'{"instances": ["x"]}', "not of expected type: float"),
    (b'{"instances": [{"pixels": [0.5]}]}', "exactly the inputs images"),
])
def test_malformed_requests_are_invalid_argument(body, message):
    with pytest.raises(ServingError) as error:
        instances_to_tensors(parse_request(body)[1], {"images": tf.float32})
    assert error.value.code == Code.INVALID_ARGUMENT
    assert message in error.value.message


def test_bad_base64_is_invalid_argument():
    with pytest.raises(ServingError, match="Unable to base64 decode"):
        instances_to_tensors([{"b64": "@@@"}], {"image_bytes": tf.string})


def test_bytes_outputs_are_base64_objects_and_floats_tf_servings_decimals():
    assert predictions_json({"clean_png_bytes": np.array([b"hi"], dtype=object)}) == \
        '{"predictions": [{"b64": "aGk="}]}'
    floats = np.array([[9000000, 999999, 0.5], [np.nan, 3e-05, -np.inf]], np.float32)
    assert predictions_json({"clean": floats}) == \
        '{"predictions": [[9e+06, 999999.0, 0.5], [NaN, 3e-05, -Infinity]]}'


@pytest.mark.parametrize(("value", "bits", "text"), [
    (0.2, 32, "0.2"), (1.0, 32, "1.0"), (-2.0, 64, "-2.0"), (1e-7, 32, "1e-07"),
    (555557.5, 32, "555557.5"), (0.1 + 0.2, 64, "0.30000000000000004"),
])
def test_decimals_are_shortest_round_trip_text(value, bits, text):
    value = float(np.float32(value)) if bits == 32 else value
    assert format_decimal(value, bits) == text
