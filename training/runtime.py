"""TensorFlow's thread pools, set once per process by every training tool."""

from __future__ import annotations


def set_threads(intra: int, inter: int = 2) -> None:
    """Thread pools sized for this machine; a no-op once TensorFlow has started (e.g. inside a
    test session), where they can no longer change."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        pass
