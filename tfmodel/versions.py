"""Numbered SavedModel versions under a model base path: the one rule that the in-process backend,
the exporter and the model server all read the model folder by (no TensorFlow needed).

A version is a folder named by ASCII digits only (TF Serving's file-system source); it is complete
once it holds saved_model.pb. Exports in progress (`.3.tmp`) and cards (`3.card.json`) are not.
"""

from __future__ import annotations

import re
from pathlib import Path

_VERSION_NAME = re.compile(r"[0-9]+")


def version_folders(base: str | Path, complete: bool = True) -> dict[int, Path]:
    """Version number -> folder; with `complete`, only folders that hold saved_model.pb."""
    try:
        entries = list(Path(base).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {int(p.name): p for p in entries
            if _VERSION_NAME.fullmatch(p.name) and p.is_dir()
            and (not complete or (p / "saved_model.pb").is_file())}


def latest_version(base: str | Path) -> Path:
    """The highest complete version folder: what TF Serving serves by default."""
    folders = version_folders(base)
    if not folders:
        raise FileNotFoundError(f"no SavedModel version under {base}")
    return folders[max(folders)]
