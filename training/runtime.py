"""TensorFlow's thread pools for the training tools, set by the project's one TensorFlow setup
(`api.tf_runtime`), so training, evaluation and the service start TensorFlow the same way."""

from __future__ import annotations

from api.tf_runtime import import_tensorflow


def set_threads(intra: int, inter: int = 2) -> None:
    """Before TensorFlow's first op; once it has started (e.g. inside a test session) the pools
    can no longer change and are left as they are."""
    import_tensorflow(intra, inter)
