"""`python -m bench.runtimes`: the same weights in TensorFlow, TFLite (XNNPACK) and ONNX Runtime.

The network is rebuilt from its builder and given the exported SavedModel's weights (read from
its checkpoint, layer by layer), then timed on the same page in each runtime, in one run, with the
largest difference from TensorFlow's output. TFLite needs a fixed input shape here (Keras 3's
dynamic UpSampling2D lowers to ops TFLite lacks), so each size gets its own conversion.
ONNX needs `pip install tf2onnx onnxruntime 'onnx<1.23'` (not project dependencies; a newer onnx
wants a protobuf that TensorFlow 2.19 refuses).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from bench.pages import add_source_args, load_pages
from bench.report import add_load_args, settle
from tfmodel.versions import latest_version


def timed(call: Callable[[np.ndarray], np.ndarray], x: np.ndarray, repeats: int
          ) -> tuple[float, np.ndarray]:
    """Median milliseconds of `call(x)` after one warm-up call, and its output."""
    out = call(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1000, out


def compare(model, x: np.ndarray, threads: int, repeats: int
            ) -> list[tuple[str, float, np.ndarray]]:
    """(runtime, ms, output) for each runtime that is installed."""
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False))
    rows = [("tensorflow", *timed(lambda x: function(tf.constant(x)).numpy(), x, repeats)),
            ("tflite-xnnpack", *timed(tflite_call(model, x.shape, threads), x, repeats))]
    try:
        rows.append(("onnxruntime", *timed(onnx_call(model, threads), x, repeats)))
    except ImportError as err:
        print(f"  (onnxruntime skipped: {err}; pip install tf2onnx onnxruntime 'onnx<1.23')")
    return rows


def tflite_call(model, shape: tuple[int, ...], threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import keras
    import tensorflow as tf

    inp = keras.Input(shape[1:], batch_size=1)
    fixed = keras.Model(inp, model(inp))
    interpreter = tf.lite.Interpreter(
        model_content=tf.lite.TFLiteConverter.from_keras_model(fixed).convert(),
        num_threads=threads)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def call(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(sink["index"])

    return call


def onnx_call(model, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    function = tf.function(lambda x: model(x, training=False))
    proto, _ = tf2onnx.convert.from_function(
        function, input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32, name="x")],
        opset=17)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def main(argv: list[str] | None = None) -> None:
    # TensorFlow and the training modules (which import it): heavy, and only for this run.
    import tensorflow as tf

    from training.export import keras_from_export
    from training.model import BUILDERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--builder", default="unet", help="training.model builder name")
    parser.add_argument("--builder-args", default="{}", help="its keyword arguments, as JSON")
    parser.add_argument("--sizes", default="544x432,1024x1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    add_load_args(parser)
    args = parser.parse_args(argv)
    settle(args)

    version = latest_version(args.model_dir)
    builder = BUILDERS[args.builder]
    model = keras_from_export(version, builder, **json.loads(args.builder_args))
    denoise = tf.saved_model.load(str(version)).signatures["denoise"]
    print(f"model {version}: {model.count_params()} parameters; {args.threads} threads")
    print(f"{'size':>10s} {'runtime':>14s} {'ms':>8s} {'vs TF':>6s} {'max |diff| vs TF':>17s}")
    for size in args.sizes.split(","):
        page = np.asarray(tf.io.decode_png(load_pages(args.data, size, count=1)[0], channels=1))
        x = (page.astype(np.float32) / 255.0)[np.newaxis]
        exported = denoise(images=tf.constant(x))["clean"].numpy()
        rows = compare(model, x, args.threads, args.repeats)
        reference = np.clip(rows[0][2], 0, 1)
        inner = np.abs(reference - exported)[:, 64:-64, 64:-64].max()
        print(f"{size:>10s}  rebuilt network vs exported `denoise`, 64 px from the edges:"
              f" {inner:.2e}")
        for name, ms, out in rows:
            diff = np.abs(np.clip(out, 0, 1) - reference).max()
            print(f"{size:>10s} {name:>14s} {ms:8.1f} {ms / rows[0][1]:6.2f}"
                  f" {diff * 255:12.3f}/255")


if __name__ == "__main__":
    main()
