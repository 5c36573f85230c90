"""Status codes as TensorFlow Serving reports them, and their HTTP mapping.

The mapping is `ToHTTPStatusCode` in tensorflow_serving/model_servers/http_server.cc.
"""

from __future__ import annotations

import enum


class Code(enum.IntEnum):
    """absl/TensorFlow canonical status codes (tensorflow/core/protobuf/error_codes.proto)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


HTTP_STATUS = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


class ServingError(Exception):
    """A failed request: the code picks the HTTP status, the message goes in `{"error": ...}`."""

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
