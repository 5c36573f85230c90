"""One loaded model version: its SignatureDefs and a call that runs a signature on numpy inputs.

Signatures are called through `tf.saved_model.load(...).signatures`, the same functions an
in-process caller uses, so results match calling the SavedModel directly byte for byte. The
SignatureDefs shown by the metadata API are read from saved_model.pb itself, as TF Serving does.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.errors import Code, ServingError

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
_GRAPH_ERROR_HEADER = re.compile(
    r"^Graph execution error:\s*\n\s*\nDetected at node .*?\n<stack traces unavailable>\n",
    re.DOTALL,
)
_EAGER_OP_SUFFIX = re.compile(r" \[Op:__inference_[^\]]*\]$")


@dataclass
class Servable:
    """A model version ready to run; `signature_defs` holds every SignatureDef of the meta
    graph (TF Serving's metadata lists `__saved_model_init_op` too)."""

    name: str
    version: int
    path: Path
    signature_defs: dict[str, Any]
    functions: dict[str, Any]
    module: Any = None  # the loaded SavedModel: its functions need its variables alive

    def input_dtypes(self, signature_name: str) -> dict[str, int]:
        return {k: v.dtype for k, v in self.signature_defs[signature_name].inputs.items()}

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs one signature; graph errors keep their TensorFlow code (bad image -> 400)."""
        import tensorflow as tf

        function = self.functions.get(signature_name)
        if function is None:
            raise ServingError(Code.FAILED_PRECONDITION,
                               f'Serving signature key "{signature_name}" not found.')
        dtypes = self.input_dtypes(signature_name)
        try:
            feeds = {k: tf.constant(v, dtype=tf.dtypes.as_dtype(dtypes[k])) for k, v in
                     inputs.items()}
            outputs = function(**feeds)
        except tf.errors.OpError as error:
            raise ServingError(Code(error.error_code), clean_op_message(error.message)) from None
        except (TypeError, ValueError) as error:  # binding or conversion refused the feeds
            raise ServingError(Code.INVALID_ARGUMENT, str(error)) from None
        return {k: v.numpy() for k, v in outputs.items()}


def clean_op_message(message: str) -> str:
    """Drops the eager runtime's wrapping so the text reads like a Session::Run error."""
    return _EAGER_OP_SUFFIX.sub("", _GRAPH_ERROR_HEADER.sub("", message)).strip()


def read_signature_defs(path: Path, tag: str = SERVE_TAG) -> dict[str, Any]:
    """The SignatureDef map of the meta graph tagged `serve` in saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ServingError(Code.NOT_FOUND,
                       f"Could not find meta graph def matching supplied tags: {{ {tag} }}")


def load_servable(name: str, version: int, path: Path) -> Servable:
    import tensorflow as tf

    signature_defs = read_signature_defs(path)
    loaded = tf.saved_model.load(str(path), tags=[SERVE_TAG])
    return Servable(name, version, path, signature_defs, dict(loaded.signatures), loaded)
