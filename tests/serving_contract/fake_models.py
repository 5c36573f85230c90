"""Model base paths for tests that do not need a real SavedModel."""

from __future__ import annotations

from pathlib import Path


def add_version(base: Path, version: int, content: bytes = b"graph") -> Path:
    """A numbered version folder as the exporter leaves it (saved_model.pb and variables/)."""
    folder = base / str(version)
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(content)
    return folder
