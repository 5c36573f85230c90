"""Model status and metadata as TF Serving builds them: the real protos for gRPC, printed for REST.

See ToJsonString in tensorflow_serving/model_servers/http_rest_api_util.cc: status is
GetModelStatusResponse with default-valued fields printed; metadata is the ModelSpec and the
SignatureDefMap printed with proto field names, joined under `metadata.signature_def`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.model_manager import VersionState

_PRINT = {"indent": 1, "always_print_fields_with_no_presence": True}


def model_status_response(versions: list[tuple[int, VersionState]]) -> Any:
    from tensorflow_serving.apis import get_model_status_pb2

    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state in versions:
        entry = response.model_version_status.add()
        entry.version = version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
        entry.status.error_code = state.error_code  # enum accepts its name
        entry.status.error_message = state.error_message
    return response


def signature_def_map(signature_defs: Mapping[str, Any]) -> Any:
    from tensorflow_serving.apis import get_model_metadata_pb2

    signatures = get_model_metadata_pb2.SignatureDefMap()
    for key, signature in signature_defs.items():
        signatures.signature_def[key].CopyFrom(signature)
    return signatures


def model_status_json(versions: list[tuple[int, VersionState]]) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(model_status_response(versions), **_PRINT)


def model_metadata_json(name: str, version: int, signature_defs: Mapping[str, Any]) -> str:
    from google.protobuf import json_format
    from tensorflow_serving.apis import model_pb2

    spec = model_pb2.ModelSpec(name=name)
    spec.version.value = version
    options = {**_PRINT, "preserving_proto_field_name": True}
    return (
        '{\n"model_spec":' + json_format.MessageToJson(spec, **options)
        + ',\n"metadata": {"signature_def": '
        + json_format.MessageToJson(signature_def_map(signature_defs), **options) + "}\n}\n"
    )
