"""Model status as TF Serving builds it: GetModelStatusResponse for gRPC, and the same message
printed with default-valued fields for REST (ToJsonString in http_rest_api_util.cc)."""

from __future__ import annotations

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2

from serving.model_manager import VersionState


def model_status_response(versions: list[tuple[int, VersionState]]
                          ) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state in versions:
        entry = response.model_version_status.add()
        entry.version = version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
        entry.status.error_code = state.error_code  # enum accepts its name
        entry.status.error_message = state.error_message
    return response


def model_status_json(versions: list[tuple[int, VersionState]]) -> str:
    return json_format.MessageToJson(model_status_response(versions), indent=1,
                                     always_print_fields_with_no_presence=True)
