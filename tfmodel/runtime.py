"""TensorFlow, imported once, quietly, with its thread pools set: for every part that runs it
(in-process backend, CLI, local TF Serving stand-in, training and evaluation).

On a machine without a GPU, importing TensorFlow prints a screen of CUDA, XLA and absl messages
to the process's stderr (C++ code, before logging can be configured). They are captured and
shown only if the import fails, so a service's start-up reads as its own few lines.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from typing import Any

log = logging.getLogger(__name__)


def import_tensorflow(intra_op_threads: int = 0, inter_op_threads: int = 0) -> Any:
    """The `tensorflow` module; 0 threads leaves TensorFlow's own choice."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # oneDNN's own pool (a BFC allocator) never gives memory back: one large page left a
        # worker gigabytes above its baseline for good. malloc's is returned (pagework/memory.py).
        os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")
        with tempfile.TemporaryFile() as captured:
            saved = os.dup(2)
            sys.stderr.flush()
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except BaseException:
                os.dup2(saved, 2)
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
    import tensorflow as tf

    set_threads(tf, intra_op_threads, inter_op_threads)
    return tf


def set_threads(tf: Any, intra: int, inter: int) -> None:
    """Must run before TensorFlow's first op; later it can only warn."""
    try:
        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        log.warning("TensorFlow already initialised: thread settings left as they are")
