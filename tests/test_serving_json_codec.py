"""The JSON <-> tensor codec, case by case from tensorflow_serving/util/json_tensor_test.cc
(requests: SingleUnnamedTensor*, MultipleNamedTensor*, *Errors; responses: FromJson*)."""

from __future__ import annotations

import numpy as np
import pytest

from serving.errors import Code, ServingError
from serving.json_codec import (
    decode_predict_inputs,
    encode_predict_outputs,
    format_decimal,
    parse_json_object,
    signature_name_of,
)

DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7


def decode(doc: dict, dtypes: dict[str, int]) -> dict[str, np.ndarray]:
    return decode_predict_inputs(doc, dtypes, "")


def test_single_unnamed_tensor_rows_are_batched():
    tensors = decode({"instances": [[1, 2], [3, 4.5], [5, 6]]}, {"default": DT_FLOAT})
    np.testing.assert_array_equal(tensors["default"], [[1, 2], [3, 4.5], [5, 6]])
    assert tensors["default"].dtype == np.float32


def test_base64_scalars_and_lists_decode_to_bytes():
    tensors = decode({"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]},
                        {"default": DT_STRING})
    assert tensors["default"].tolist() == [b"hello", b"world"]
    tensors = decode({"instances": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]},
                        {"default": DT_STRING})
    assert tensors["default"].shape == (2, 1)


def test_multiple_named_tensors_in_rows():
    tensors = decode({"instances": [{"x": [1.5, 2], "tag": "a"}, {"x": [3, 4], "tag": "b"}]},
                        {"x": DT_FLOAT, "tag": DT_STRING})
    np.testing.assert_array_equal(tensors["x"], np.array([[1.5, 2], [3, 4]], np.float32))
    assert tensors["tag"].tolist() == [b"a", b"b"]


def test_json_parse_accepts_nan_and_stops_after_the_object():
    doc = parse_json_object(b'{"instances": [NaN, Infinity, -Infinity]} trailing')
    values = decode(doc, {"x": DT_FLOAT})["x"]
    assert np.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf


@pytest.mark.parametrize(("doc", "dtypes", "message"), [
    ({"signature_name": 5, "instances": [[1, 2]]}, {"d": DT_FLOAT}, "must be a string value"),
    ({"instances": [[1, 2]], "inputs": [[1, 2]]}, {"d": DT_FLOAT}, "columnar format"),
    ({"inputs": [1]}, {"d": DT_FLOAT}, "columnar format ('inputs') is not served"),
    ({"instances": [[1, 2], [3, 4], [5, 6, 7]]}, {"d": DT_FLOAT}, "Expecting tensor size"),
    ({"instances": [[1, 2], [3, 4], [[5, 6]]]}, {"d": DT_FLOAT}, "Expecting shape"),
    ({"instances": [1, [1]]}, {"d": DT_FLOAT}, "Expecting shape"),
    ({"instances": [[1, 2], ["a", "b"]]}, {"d": DT_FLOAT}, "not of expected type: float"),
    ({"instances": [True]}, {"d": DT_FLOAT}, "Type: True is not of expected type: float"),
    ({"instances": [[1, [2]]]}, {"d": DT_FLOAT}, "Encountered list at unexpected level"),
    ({"instances": [[[1], 2]]}, {"d": DT_FLOAT}, "found at incorrect level"),
    ({"instances": [{"x": 1, "y": 2}, [1]]}, {"x": DT_FLOAT, "y": DT_FLOAT},
     "Expecting object but got list"),
    ({"instances": [1, {"x": 1}]}, {"x": DT_FLOAT}, "Expecting value/list but got object"),
    ({"instances": [1, 2]}, {"x": DT_FLOAT, "y": DT_FLOAT}, "instances is a plain list"),
    ({"instances": [{"x": 1}]}, {"x": DT_FLOAT, "y": DT_FLOAT}, "keys must be equal to: x,y"),
    ({"instances": [{"b64": "aGVsbG8=", "x": 1}]}, {"x": DT_STRING},
     "does not have named input: b64"),
    ({"instances": [{"b64": 5}]}, {"x": DT_STRING}, "does not have named input: b64"),
    ({"instances": [{"b64": "aGVsbG8="}]}, {"x": DT_FLOAT}, "not of expected type: float"),
    ({"instances": [{"b64": "%%%"}]}, {"x": DT_STRING}, "Unable to base64 decode"),
])
def test_malformed_requests_are_invalid_argument(doc, dtypes, message):
    with pytest.raises(ServingError) as error:
        signature_name_of(doc)
        decode(doc, dtypes)
    assert error.value.code == Code.INVALID_ARGUMENT
    assert message in error.value.message


@pytest.mark.parametrize(("body", "message"), [
    (b"", "JSON Parse error: The document is empty"),
    (b"  \n", "JSON Parse error: The document is empty"),
    (b"instances = [1, 2]", "JSON Parse error: Invalid value. at offset: 0"),
    (b'{"instances": [1,', "JSON Parse error"),
    (b"[1, 2]", "Is not object"),
    (b"\xff\xfe", "JSON Parse error"),
])
def test_unparsable_bodies(body, message):
    with pytest.raises(ServingError, match=message.replace("[", r"\[")):
        parse_json_object(body)


def test_row_response_single_float_tensor_six_digit_precision():
    tensor = np.array([[9000000, 999999, 0.5], [0.0003, 0.00003, 555557.5]], np.float32)
    assert encode_predict_outputs({"float_tensor": tensor}) == \
        '{"predictions": [[9e+06, 999999.0, 0.5], [0.0003, 3e-05, 555557.5]]}'


def test_row_response_non_finite_floats_are_tokens():
    tensor = np.array([[np.nan, np.inf], [3, -np.inf]], np.float32)
    assert encode_predict_outputs({"float_tensor": tensor}) == \
        '{"predictions": [[NaN, Infinity], [3.0, -Infinity]]}'


def test_bytes_suffix_outputs_are_base64_objects_and_others_plain_strings():
    outputs = {"str_tensor_bytes": np.array([[b"hello", b"world"], [b"tf", b"serving"]],
                                            dtype=object),
               "label": np.array([b"a", b"b"], dtype=object)}
    assert encode_predict_outputs(outputs) == (
        '{"predictions": [{"label": "a", "str_tensor_bytes": [{"b64": "aGVsbG8="}, '
        '{"b64": "d29ybGQ="}]}, {"label": "b", "str_tensor_bytes": [{"b64": "dGY="}, '
        '{"b64": "c2VydmluZw=="}]}]}'
    )
    assert encode_predict_outputs({"clean_png_bytes": np.array([b"hi"], dtype=object)}) == \
        '{"predictions": [{"b64": "aGk="}]}'


def test_row_response_errors():
    with pytest.raises(ServingError, match="inconsistent batch size"):
        encode_predict_outputs({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(ServingError, match="no shape information"):
        encode_predict_outputs({"a": np.array(1.0)})
    with pytest.raises(ServingError, match="empty tensor map"):
        encode_predict_outputs({})


@pytest.mark.parametrize(("value", "bits", "text"), [
    (0.2, 32, "0.2"), (1.0, 32, "1.0"), (-2.0, 64, "-2.0"), (1e-7, 32, "1e-07"),
    (555557.5, 32, "555557.5"), (0.1 + 0.2, 64, "0.30000000000000004"),
])
def test_decimals_are_shortest_round_trip_text(value, bits, text):
    value = float(np.float32(value)) if bits == 32 else value
    assert format_decimal(value, bits) == text
