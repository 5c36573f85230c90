"""What every model backend is and raises: the backends import this, not the package that
chooses among them."""

from __future__ import annotations

from typing import Protocol


class InvalidImage(Exception):
    """The model could not decode the image (truncated or corrupt data)."""


class BackendUnavailable(Exception):
    """The model cannot answer now (server down, timeout, not loaded)."""


class ModelBackend(Protocol):
    kind: str

    def clean(self, image: bytes) -> bytes:
        """PNG bytes of the cleaned page; raises InvalidImage or BackendUnavailable."""

    def version(self) -> str:
        """The model version that answers, for the log."""

    def status(self) -> dict[str, object]:
        """Readiness detail; must include "ready": bool."""

    def close(self) -> None: ...
