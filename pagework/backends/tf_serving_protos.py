"""TF Serving's gRPC messages without TensorFlow: classes built at run time from a descriptor set
that grpcio-tools' protoc makes from the .proto files in pagework/protos/ (copied unchanged from
TensorFlow and TensorFlow Serving 2.19.1: Predict, GetModelStatus and what they import).

The classes live in a private descriptor pool, so they never clash with TensorFlow's own in one
process (tests load both). The API image makes the descriptor set at build time (Dockerfile); a
checkout makes it on first use, with grpcio-tools from the dev extra. Standard library and
protobuf only: the Dockerfile runs `python pagework/backends/tf_serving_protos.py` without the API's
dependencies.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PROTOS = Path(__file__).resolve().parents[1] / "protos"
DESCRIPTOR_SET = PROTOS / "tf_serving.binpb"  # generated: not in git
PREDICT = "/tensorflow.serving.PredictionService/Predict"
GET_MODEL_STATUS = "/tensorflow.serving.ModelService/GetModelStatus"


def build_descriptor_set(out: Path = DESCRIPTOR_SET) -> Path:
    """protoc --include_imports over every .proto under pagework/protos; written atomically."""
    from grpc_tools import protoc  # the `dev` extra; images build the set in their own stage

    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    handle, partial = tempfile.mkstemp(dir=out.parent, suffix=".partial")
    os.close(handle)
    status = protoc.main(["protoc", f"-I{PROTOS}", f"-I{files('grpc_tools') / '_proto'}",
                          "--include_imports", f"--descriptor_set_out={partial}", *sources])
    if status != 0:
        os.unlink(partial)
        raise RuntimeError(f"protoc failed ({status}) on {PROTOS}")
    os.chmod(partial, 0o644)  # mkstemp made it private; the API runs as another user
    os.replace(partial, out)
    return out


@functools.cache
def messages() -> dict[str, type]:
    """Message classes by full name, e.g. messages()["tensorflow.serving.PredictRequest"]."""
    if not DESCRIPTOR_SET.exists():
        build_descriptor_set()
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file
    return message_factory.GetMessages(files, pool=descriptor_pool.DescriptorPool())


if __name__ == "__main__":
    print(build_descriptor_set(Path(sys.argv[1]) if len(sys.argv) > 1 else DESCRIPTOR_SET))
