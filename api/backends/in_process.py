"""The exported SavedModel, loaded once per worker process."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from api.backends import BackendUnavailable, InvalidImage
from serving.model_versions import latest_version

__all__ = ["InProcessBackend", "latest_version"]  # latest_version: for benchmarks and tests

log = logging.getLogger(__name__)


class InProcessBackend:
    kind = "in-process"

    def __init__(self, model_dir: str, version: str = "", *, intra_op_threads: int = 0,
                 inter_op_threads: int = 0) -> None:
        import tensorflow as tf

        self._tf = tf
        _set_threads(tf, intra_op_threads, inter_op_threads)
        base = Path(model_dir)
        path = base / version if version else latest_version(base)
        self._version = path.name
        self._loaded = tf.saved_model.load(str(path))
        self._serve = self._loaded.signatures["serving_default"]
        self.clean(_blank_png())  # trace and allocate now, not on the first client's request
        log.info("loaded SavedModel %s (version %s)", path, self._version)

    def clean(self, image: bytes) -> bytes:
        tf = self._tf
        try:
            out = self._serve(image_bytes=tf.constant([image]))["clean_png_bytes"]
        except tf.errors.InvalidArgumentError as err:
            raise InvalidImage(err.message.splitlines()[0]) from None
        except tf.errors.OpError as err:
            raise BackendUnavailable(err.message.splitlines()[0]) from None
        return out.numpy()[0]

    def version(self) -> str:
        return self._version

    def status(self) -> dict[str, object]:
        return {"ready": True, "backend": self.kind, "version": self._version}

    def close(self) -> None:
        pass


def _set_threads(tf, intra: int, inter: int) -> None:
    try:
        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        log.warning("TensorFlow already initialised: thread settings left as they are")


def _blank_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (32, 32), 255).save(buffer, "PNG")
    return buffer.getvalue()
