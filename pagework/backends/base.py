"""What every model backend is and raises: the backends import this, not the package that
chooses among them."""

from __future__ import annotations

from typing import Protocol

from tfmodel.modes import DEFAULT


class InvalidImage(Exception):
    """The model could not decode the image (truncated or corrupt data)."""


class BackendUnavailable(Exception):
    """The model cannot answer now (server down, timeout, not loaded)."""


class ModeUnavailable(Exception):
    """The served version has no signature for this output mode (exported before the modes)."""


def missing_signature(message: str) -> bool:
    """TF Serving's words for a signature the version lacks: `Serving signature name: "cor" not
    found in signature def` (REST) or `Serving signature key "cor" not found.` (gRPC)."""
    text = message.lower()
    return "signature" in text and "not found" in text


class ModelBackend(Protocol):
    kind: str

    def clean(self, image: bytes, mode: str = DEFAULT) -> bytes:
        """PNG bytes of the cleaned page in `mode`; raises InvalidImage, BackendUnavailable or
        ModeUnavailable."""

    def version(self) -> str:
        """The model version that answers, for the log."""

    def status(self) -> dict[str, object]:
        """Readiness detail; must include "ready": bool."""

    def close(self) -> None: ...
