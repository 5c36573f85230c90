"""JSON <-> tensors for `:predict` in the row format (`instances`), the one its callers send, as
tensorflow_serving/util/json_tensor.cc writes them: `{"b64": ...}` for bytes in and for `_bytes`
outputs, floats in the shortest form that round-trips (`.0` on whole numbers), NaN and Infinity
as bare tokens. Other malformed requests are refused with a message of the stand-in's own."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from serving.errors import invalid_argument


def parse_request(body: bytes) -> tuple[str, list[Any]]:
    """The signature name (empty: the default) and the instances of a `:predict` body."""
    try:
        doc = json.loads(body.decode("utf-8", errors="replace") or "null")
    except json.JSONDecodeError as error:
        raise invalid_argument(f"JSON Parse error: {error}") from None
    if not isinstance(doc, dict):
        raise invalid_argument("JSON Parse error: the body is not a JSON object")
    if "instances" not in doc:
        raise invalid_argument("Missing 'inputs' or 'instances' key (the stand-in serves only "
                               "'instances')")
    signature, instances = doc.get("signature_name", ""), doc["instances"]
    if not isinstance(signature, str) or not isinstance(instances, list) or not instances:
        raise invalid_argument("wanted a string 'signature_name' and a non-empty 'instances'")
    return signature, instances


def instances_to_tensors(instances: list[Any], dtypes: Mapping[str, tf.DType]
                         ) -> dict[str, np.ndarray]:
    """One batch tensor per input; a row is a bare value when the signature has one input, else
    an object keyed by input name."""
    names = sorted(dtypes)
    rows = [row if isinstance(row, dict) and "b64" not in row else {names[0]: row}
            for row in instances]
    if any(sorted(row) != names for row in rows):
        raise invalid_argument(f"each instance must give exactly the inputs {','.join(names)}")
    try:
        return {name: np.stack([_value(row[name], dtypes[name]) for row in rows])
                for name in names}
    except (ValueError, TypeError) as error:  # ragged rows, a string for a float, ...
        raise invalid_argument(f"instances do not fit the signature: {error}") from None


def _value(value: Any, dtype: tf.DType) -> np.ndarray:
    if dtype != tf.string:
        if isinstance(value, (str, dict)):
            raise TypeError(f"{json.dumps(value)[:64]} is not of expected type: {dtype.name}")
        return np.asarray(value, dtype.as_numpy_dtype)
    if isinstance(value, dict):
        try:
            return np.asarray(base64.b64decode(value["b64"] + "=" * (-len(value["b64"]) % 4),
                                               validate=True), object)
        except (binascii.Error, TypeError):
            raise invalid_argument("Unable to base64 decode") from None
    if not isinstance(value, str):
        raise TypeError(f"{json.dumps(value)[:64]} is not of expected type: string")
    return np.asarray(value.encode(), object)


def predictions_json(outputs: Mapping[str, np.ndarray]) -> str:
    """`{"predictions": [...]}`: one output written bare per row, several as objects."""
    names = sorted(outputs)
    rows = []
    for index in range(len(outputs[names[0]])):
        values = {n: _json(outputs[n][index], n.endswith("_bytes")) for n in names}
        rows.append(values[names[0]] if len(names) == 1 else
                    "{" + ", ".join(f"{json.dumps(n)}: {values[n]}" for n in names) + "}")
    return '{"predictions": [' + ", ".join(rows) + "]}"


def _json(value: Any, b64: bool) -> str:
    if isinstance(value, np.ndarray):
        if value.ndim:
            return "[" + ", ".join(_json(item, b64) for item in value) + "]"
        value = value[()]
    if isinstance(value, bytes):
        return ('{"b64": "' + base64.b64encode(value).decode() + '"}' if b64
                else json.dumps(value.decode("utf-8", errors="replace")))
    if isinstance(value, np.floating):
        return format_decimal(float(value), 64 if value.dtype == np.float64 else 32)
    return str(value)


def format_decimal(value: float, bits: int = 32) -> str:
    """WriteDecimal: six significant digits when they round-trip, else max_digits10; `.0` added
    to whole numbers not in exponent form; NaN, Infinity and -Infinity as tokens."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = f"{value:g}"
    as_read = np.float32(float(text)) if bits == 32 else float(text)
    if as_read != (np.float32(value) if bits == 32 else value):
        text = f"{value:.{9 if bits == 32 else 17}g}"
    return text if "." in text or "e" in text else text + ".0"
