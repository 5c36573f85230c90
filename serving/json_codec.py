"""JSON <-> tensors for `:predict`, with TF Serving's rules and error messages.

Behaviour follows tensorflow_serving/util/json_tensor.cc for the row format (`instances`), the one
its callers send (the columnar `inputs` format is refused): `{"b64": ...}` for string values, dense
shapes checked element by element, `_bytes` outputs written as `{"b64": ...}`, floats written in
the shortest form that round-trips (with a trailing `.0` on whole numbers) and NaN/Infinity as
bare tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from serving.errors import Code, ServingError, invalid_argument

# tensorflow/core/framework/types.proto enum values -> (numpy dtype, DataTypeString name): the
# types this model's signatures take (strings for encoded pages, floats for pixels).
DTYPES: dict[int, tuple[Any, str]] = {1: (np.float32, "float"), 2: (np.float64, "double"),
                                      7: (object, "string")}
DT_STRING = 7
_DEBUG_LIMIT = 256
_RAPIDJSON_MESSAGES = {"Expecting value": "Invalid value."}  # others keep Python's wording


def dtype_name(dtype: int) -> str:
    return DTYPES[dtype][1] if dtype in DTYPES else f"DataType({dtype})"


# --- parsing --------------------------------------------------------------------------------


def parse_json_object(body: bytes) -> dict[str, Any]:
    """ParseJson: one JSON object; text after it is ignored (rapidjson kParseStopWhenDoneFlag);
    NaN and Infinity are accepted."""
    text = body.decode("utf-8", errors="replace")  # bad bytes then fail to parse as JSON
    start = len(text) - len(text.lstrip())
    if start == len(text):
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        doc, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as error:
        reason = _RAPIDJSON_MESSAGES.get(error.msg, error.msg)
        raise invalid_argument("JSON Parse error: ", reason, " at offset: ", error.pos) from None
    if not isinstance(doc, dict):
        raise invalid_argument("JSON Value: ", debug_string(doc), " Is not object")
    return doc


def signature_name_of(doc: Mapping[str, Any]) -> str:
    """The optional `signature_name`; empty means the default signature."""
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument(
            "JSON Value: ", debug_string(doc),
            " not formatted correctly. 'signature_name' key must be a string value.",
        )
    return name


def decode_predict_inputs(
    doc: Mapping[str, Any], input_dtypes: Mapping[str, int], signature_name: str
) -> dict[str, np.ndarray]:
    """FillPredictRequestFromJson for row requests: tensors keyed by input name."""
    if not input_dtypes:
        raise invalid_argument("Failed to get input map for signature: ",
                               signature_name or "DEFAULT")
    if "inputs" in doc:
        raise invalid_argument("The columnar format ('inputs') is not served by the stand-in: "
                               "send 'instances'")
    if "instances" in doc:
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise invalid_argument("JSON Value: ", debug_string(doc),
                                   " Expecting 'instances' to be an list/array")
        if not instances:
            raise invalid_argument("JSON Value: ", debug_string(doc),
                                   " No values in 'instances' array")
        return _tensors_from_instances(instances, input_dtypes)
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def is_base64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _is_element_object(value: Any) -> bool:
    return isinstance(value, dict) and not is_base64_object(value)


def _tensors_from_instances(
    instances: list[Any], input_dtypes: Mapping[str, int]
) -> dict[str, np.ndarray]:
    """FillTensorMapFromInstancesList: rows become one batch tensor per input."""
    names = sorted(input_dtypes)
    if not isinstance(instances[0], dict) and len(names) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            "required as per tensorinfo_map"
        )
    objects = _is_element_object(instances[0])
    rows: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for index, element in enumerate(instances):
        if objects:
            if not _is_element_object(element):
                raise invalid_argument("Expecting object but got list at item ", index,
                                       " of input list")
            for key, value in element.items():
                try:
                    _add_row(rows, key, value, input_dtypes)
                except ServingError as error:
                    raise invalid_argument(
                        "Failed to process element: ", index, " key: ", key,
                        " of 'instances' list. Error: ", error.status_string(),
                    ) from None
            if set(element) != set(names):
                raise invalid_argument(
                    "Failed to process element: ", index, " of 'instances' list. JSON object: ",
                    debug_string(element), " keys must be equal to: ", ",".join(names),
                )
        else:
            if _is_element_object(element):
                raise invalid_argument("Expecting value/list but got object at item ", index,
                                       " of input list")
            try:
                _add_row(rows, names[0], element, input_dtypes)
            except ServingError as error:
                raise invalid_argument(
                    "Failed to process element: ", index, " of 'instances' list. Error: ",
                    error.status_string(),
                ) from None
    return {name: np.stack(parts) for name, parts in rows.items() if parts}


def _add_row(rows: dict[str, list[np.ndarray]], name: str, value: Any,
             input_dtypes: Mapping[str, int]) -> None:
    """AddInstanceItem: each row of one input must have the first row's size and shape."""
    if name not in input_dtypes:
        raise invalid_argument("JSON object: does not have named input: ", name)
    tensor = dense_tensor(value, input_dtypes[name])
    if rows[name]:
        first = rows[name][0]
        if first.size != tensor.size:
            raise invalid_argument("Expecting tensor size: ", first.size, " but got: ",
                                   tensor.size)
        if first.shape != tensor.shape:
            raise invalid_argument("Expecting shape ", _shape_text(first.shape), " but got: ",
                                   _shape_text(tensor.shape))
    rows[name].append(tensor)


def dense_tensor(value: Any, dtype: int) -> np.ndarray:
    """GetDenseTensorShape + FillTensorProto: the shape comes from the first element at each
    level, and every leaf must sit at that depth with lists of that size."""
    if dtype not in DTYPES:
        raise ServingError(Code.UNIMPLEMENTED, f"Conversion of JSON Value: {debug_string(value)} "
                           f"to type: {dtype_name(dtype)}")
    shape: list[int] = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    flat: list[Any] = []
    _fill(value, 0, shape, dtype, flat)
    array = np.empty(len(flat), dtype=DTYPES[dtype][0])
    array[:] = flat
    return array.reshape(shape)


def _fill(value: Any, level: int, shape: list[int], dtype: int, flat: list[Any]) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(
                "JSON Value: ", debug_string(value), " found at incorrect level: ", level + 1,
                " in the JSON DOM. Expected at level: ", rank,
            )
        flat.append(_scalar(value, dtype))
        return
    if level >= rank:
        raise invalid_argument("Encountered list at unexpected level: ", level, " expected < ",
                               rank)
    if len(value) != shape[level]:
        raise invalid_argument(
            "Encountered list at unexpected size: ", len(value), " at level: ", level,
            " expected size: ", shape[level],
        )
    for item in value:
        _fill(item, level + 1, shape, dtype, flat)


def _scalar(value: Any, dtype: int) -> Any:
    """AddValueToTensor / JsonDecodeBase64Object for one leaf value."""
    if isinstance(value, dict):
        if dtype != DT_STRING:
            raise _type_error(value, dtype)
        if not is_base64_object(value):
            raise invalid_argument("JSON Value: ", debug_string(value),
                                   " not formatted correctly for base64 data")
        return decode_base64(value["b64"])
    if dtype == DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(value, dtype)
    return float(value)


def decode_base64(text: str) -> bytes:
    """absl::Base64Unescape: standard alphabet, padding optional."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


def _type_error(value: Any, dtype: int) -> ServingError:
    return invalid_argument("JSON Value: ", debug_string(value), " Type: ", json_type(value),
                            " is not of expected type: ", dtype_name(dtype))


def json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def debug_string(value: Any) -> str:
    """JsonValueToDebugString: the value as JSON, cut at 256 bytes (errors only)."""
    return json.dumps(value, separators=(",", ":"))[:_DEBUG_LIMIT]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


# --- writing --------------------------------------------------------------------------------


def encode_predict_outputs(outputs: Mapping[str, np.ndarray]) -> str:
    """MakeJsonFromTensors for row requests: `{"predictions": ...}`, one output written bare,
    several as objects keyed by name."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    writers = {name: _writer(outputs[name].dtype, name) for name in names}
    batch = _batch_size(outputs, names)
    rows = []
    for index in range(batch):
        values = {n: _value_json(outputs[n][index], writers[n]) for n in names}
        if len(names) == 1:
            rows.append(values[names[0]])
        else:
            rows.append("{" + ", ".join(json.dumps(n) + ": " + values[n] for n in names) + "}")
    return '{"predictions": [' + ", ".join(rows) + "]}"


def _batch_size(outputs: Mapping[str, np.ndarray], names: list[str]) -> int:
    """Row format needs every output batched to the same 0th dimension."""
    batch = None
    for name in names:
        tensor = outputs[name]
        if tensor.ndim == 0:
            raise invalid_argument("Tensor name: ", name, " has no shape information ")
        if batch is not None and tensor.shape[0] != batch:
            raise invalid_argument("Tensor name: ", name, " has inconsistent batch size: ",
                                   tensor.shape[0], " expecting: ", batch)
        batch = tensor.shape[0]
    return batch or 0


def _value_json(value: Any, writer) -> str:
    if not isinstance(value, np.ndarray):
        return writer(value)
    if value.ndim == 0:
        return writer(value[()])
    if value.ndim == 1:
        return "[" + ", ".join(writer(v) for v in value) + "]"
    return "[" + ", ".join(_value_json(sub, writer) for sub in value) + "]"


def _writer(dtype: np.dtype, name: str):
    """How one element is written; strings of `_bytes` outputs become `{"b64": ...}`."""
    if dtype.kind == "O":
        if name.endswith("_bytes"):
            return lambda v: '{"b64": "' + base64.b64encode(v).decode("ascii") + '"}'
        return lambda v: json.dumps(v.decode("utf-8", errors="replace"))
    if dtype.kind == "f":
        bits = 64 if dtype == np.float64 else 32
        return lambda v: format_decimal(float(v), bits)
    return lambda v: str(int(v))


def format_decimal(value: float, bits: int = 32) -> str:
    """WriteDecimal: six significant digits when they round-trip, else max_digits10; `.0` added
    to whole numbers not in exponent form; NaN, Infinity and -Infinity as tokens."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = f"{value:g}"
    if not _round_trips(text, value, bits):
        text = f"{value:.{9 if bits == 32 else 17}g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _round_trips(text: str, value: float, bits: int) -> bool:
    if bits == 32:
        return np.float32(float(text)) == np.float32(value)
    return float(text) == value
