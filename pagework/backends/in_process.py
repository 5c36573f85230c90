"""The exported SavedModel, loaded once per worker process."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image

from pagework.backends.base import BackendUnavailable, InvalidImage, ModeUnavailable
from tfmodel import precision
from tfmodel.modes import DEFAULT, SIGNATURES
from tfmodel.runtime import import_tensorflow
from tfmodel.versions import latest_version

__all__ = ["InProcessBackend", "latest_version"]  # latest_version: for benchmarks and tests

log = logging.getLogger(__name__)


class InProcessBackend:
    kind = "in-process"

    def __init__(self, model_dir: str, version: str = "", *, intra_op_threads: int = 0,
                 inter_op_threads: int = 0, mixed_precision: str = "") -> None:
        if mixed_precision and (reason := precision.unsupported_reason()):
            raise ValueError(f"MIXED_PRECISION={mixed_precision}: {reason}; bfloat16 would be "
                             "several times slower than float32 here, so leave it empty")
        tf = import_tensorflow(intra_op_threads, inter_op_threads)
        precision.enable(tf, mixed_precision)
        self.mixed_precision = mixed_precision
        self._tf = tf
        base = Path(model_dir)
        path = base / version if version else latest_version(base)
        self._version = path.name
        self._loaded = tf.saved_model.load(str(path))
        # mode -> signature; versions exported before the modes have `serving_default` only
        self._serve = {mode: self._loaded.signatures[key] for mode, key in SIGNATURES.items()
                       if key in self._loaded.signatures}
        self.clean(_blank_png())  # trace and allocate now, not on the first client's request
        log.info("loaded SavedModel %s (version %s%s)", path, self._version,
                 f", {mixed_precision} mixed precision" if mixed_precision else "")

    def clean(self, image: bytes, mode: str = DEFAULT) -> bytes:
        tf = self._tf
        if mode not in self._serve:
            raise ModeUnavailable(f"version {self._version} has no {SIGNATURES[mode]} signature")
        try:
            out = self._serve[mode](image_bytes=tf.constant([image]))["clean_png_bytes"]
        except tf.errors.InvalidArgumentError as err:
            raise InvalidImage(err.message.splitlines()[0]) from None
        except tf.errors.OpError as err:
            raise BackendUnavailable(err.message.splitlines()[0]) from None
        return out.numpy()[0]

    def version(self) -> str:
        return self._version

    def status(self) -> dict[str, object]:
        return {"ready": True, "backend": self.kind, "version": self._version,
                "mixed_precision": self.mixed_precision or "float32"}

    def close(self) -> None:
        pass


def _blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (32, 32), 255).save(buffer, "PNG")
    return buffer.getvalue()
