"""Status codes as TensorFlow Serving reports them, and their HTTP mapping.

The codes are absl's canonical ones, numbered as gRPC's (so a gRPC status carries them as they
are); the HTTP mapping is `ToHTTPStatusCode` in tensorflow_serving/model_servers/http_server.cc.
"""

from __future__ import annotations

import enum

import grpc

Code = enum.IntEnum("Code", {status.name: status.value[0] for status in grpc.StatusCode})

# OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS,
# PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE,
# UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED
HTTP_STATUS = dict(zip(sorted(Code), (200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400,
                                      501, 500, 503, 500, 401), strict=True))


class ServingError(Exception):
    """A failed request: the code picks the gRPC status and the HTTP status, the message goes in
    the gRPC details or in `{"error": ...}`."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = Code(code)
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def status_string(self) -> str:
        """absl::Status::ToString(), which TF Serving embeds in some nested messages."""
        return f"{self.code.name}: {self.message}"


def invalid_argument(*parts: object) -> ServingError:
    return ServingError(Code.INVALID_ARGUMENT, "".join(str(p) for p in parts))


def not_found(*parts: object) -> ServingError:
    return ServingError(Code.NOT_FOUND, "".join(str(p) for p in parts))
