"""Export a trained denoiser as a versioned SavedModel for TF Serving and the in-process backend.

The serving signatures (one per output mode: `serving_default` is `cinza`, then `cor` and
`binaria`, see training/output_modes.py) take encoded image bytes and return PNG bytes of the
same size, so every pre- and post-processing step (decode, padding, tiling, clipping, colour,
encode) lives in the graph and behaves the same in-process and behind TensorFlow Serving.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfmodel.modes import SIGNATURES
from tfmodel.versions import version_folders
from training.card import ink_suite_section, validation_section, warm_starts
from training.model import BUILDERS, load_network
from training.output_modes import colour_and_ink, darkest_channel, encode_bitonal_png

DEFAULT_BASE = Path(__file__).resolve().parents[1] / "serving" / "models" / "autoencoder"


class PageCleaner(tf.Module):
    """Wraps a Keras denoiser (float [B,H,W,1] in [0,1] -> same shape) with serving logic.

    `multiple` is the size the network's pooling needs; `margin` is the mirrored context added on
    every side (and around every tile) so that tiled and whole-page results agree; pages above
    `max_single_pixels` are cleaned in `tile`x`tile` tiles, `tile_batch` at a time, which bounds
    memory for very large scans. `png_compression` is zlib's level for the answer: 3 encodes
    about twice as fast as the default 6 for 10-15 % more bytes (bench.stages measures it).
    `levels` is the 256-entry output table of `training.calibrate`, applied after rounding to
    8 bit (identity when None).
    """

    def __init__(
        self,
        model: Any,
        *,
        multiple: int,
        margin: int = 64,
        tile: int = 512,
        tile_batch: int = 1,
        max_single_pixels: int = 2_000_000,
        png_compression: int = 3,
        levels: Sequence[int] | None = None,
    ) -> None:
        super().__init__(name="page_cleaner")
        if tile % multiple or margin % multiple:
            raise ValueError("tile and margin must be multiples of the network's multiple")
        self.model = model
        self.multiple = multiple
        self.margin = margin
        self.tile = tile
        self.tile_batch = tile_batch
        self.max_single_pixels = max_single_pixels
        self.png_compression = png_compression
        self.calibrated = levels is not None
        table = range(256) if levels is None else levels
        if len(table) != 256:
            raise ValueError("levels must map all 256 output levels")
        # A variable, not a constant, so that a loaded version exposes its table (`.levels`).
        self.levels = tf.Variable(list(table), dtype=tf.uint8, trainable=False, name="levels")

    def _to_levels(self, y: tf.Tensor) -> tf.Tensor:
        """Clip, round to 8 bit, then the calibration table."""
        return tf.gather(self.levels, tf.cast(to_uint8(y), tf.int32))

    def _forward(self, x: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.model(x, training=False), tf.float32)

    def _whole(self, x: tf.Tensor) -> tf.Tensor:
        """One pass over a batch of equal-size pages: mirror-pad, run, crop."""
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        m = self.margin
        extra_h = _round_up(h + 2 * m, self.multiple) - (h + 2 * m)
        extra_w = _round_up(w + 2 * m, self.multiple) - (w + 2 * m)
        padded = pad_mirror(x, m, m + extra_h, m, m + extra_w)
        y = self._forward(padded)
        return y[:, m : m + h, m : m + w, :]

    def _tiled(self, x: tf.Tensor) -> tf.Tensor:
        """Cleans one page [1,H,W,1] tile by tile; each tile sees `margin` pixels of context."""
        h, w = tf.shape(x)[1], tf.shape(x)[2]
        t, m, b = self.tile, self.margin, self.tile_batch
        nh = (h + t - 1) // t
        nw = (w + t - 1) // t
        padded = pad_mirror(x, m, m + nh * t - h, m, m + nw * t - w)
        side = t + 2 * m
        tiles = tf.image.extract_patches(
            padded, sizes=[1, side, side, 1], strides=[1, t, t, 1], rates=[1, 1, 1, 1],
            padding="VALID",
        )
        n = nh * nw
        tiles = tf.reshape(tiles, [n, side, side, 1])
        groups = (n + b - 1) // b
        tiles = tf.pad(tiles, [[0, groups * b - n], [0, 0], [0, 0], [0, 0]])
        tiles = tf.reshape(tiles, [groups, b, side, side, 1])
        cleaned = tf.map_fn(
            lambda group: self._forward(group)[:, m : m + t, m : m + t, :],
            tiles,
            fn_output_signature=tf.TensorSpec([None, None, None, 1], tf.float32),
            parallel_iterations=1,
        )
        cleaned = tf.reshape(cleaned, [groups * b, t, t])[:n]
        grid = tf.reshape(cleaned, [nh, nw, t, t])
        page = tf.reshape(tf.transpose(grid, [0, 2, 1, 3]), [1, nh * t, nw * t, 1])
        return page[:, :h, :w, :]

    def clean_float(self, page: tf.Tensor) -> tf.Tensor:
        """Cleans one page [1,H,W,1]; large pages go through tiles."""
        pixels = tf.shape(page)[1] * tf.shape(page)[2]
        return tf.cond(
            pixels <= self.max_single_pixels,
            lambda: self._whole(page),
            lambda: self._tiled(page),
        )

    def _clean_encoded(self, image: tf.Tensor) -> tf.Tensor:
        pixels = tf.io.decode_image(image, channels=1, dtype=tf.uint8, expand_animations=False)
        x = tf.cast(pixels, tf.float32)[tf.newaxis] / 255.0
        y = self.clean_float(x)[0]
        return tf.io.encode_png(self._to_levels(y), compression=self.png_compression)

    def _colour_and_ink(self, image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The network on the page's darkest channel, then output_modes' two answers."""
        rgb = tf.io.decode_image(image, channels=3, dtype=tf.uint8, expand_animations=False)
        return colour_and_ink(rgb, self._to_levels(self.clean_float(darkest_channel(rgb))[0]))

    def _colour_encoded(self, image: tf.Tensor) -> tf.Tensor:
        colour, _ = self._colour_and_ink(image)
        return tf.io.encode_png(colour, compression=self.png_compression)

    def _bitonal_encoded(self, image: tf.Tensor) -> tf.Tensor:
        _, ink = self._colour_and_ink(image)
        return encode_bitonal_png(ink, self.png_compression)

    @staticmethod
    def _each(clean: Callable[[tf.Tensor], tf.Tensor], image_bytes: tf.Tensor
              ) -> dict[str, tf.Tensor]:
        return {"clean_png_bytes": tf.map_fn(clean, image_bytes, parallel_iterations=1,
                                             fn_output_signature=tf.TensorSpec([], tf.string))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """`cinza`, the default: an 8-bit grayscale PNG."""
        return self._each(self._clean_encoded, image_bytes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_colour(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """`cor`: an RGB PNG, the page's colours on white paper."""
        return self._each(self._colour_encoded, image_bytes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bitonal(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """`binaria`: a 1-bit PNG."""
        return self._each(self._bitonal_encoded, image_bytes)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32, name="images")])
    def denoise(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"clean": tf.cast(self._to_levels(self._whole(images)), tf.float32) / 255.0}


def _round_up(n: tf.Tensor, k: int) -> tf.Tensor:
    return (n + k - 1) // k * k


def to_uint8(y: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.round(tf.clip_by_value(y, 0.0, 1.0) * 255.0), tf.uint8)


def pad_mirror(x: tf.Tensor, top, bottom, left, right) -> tf.Tensor:
    """Mirror padding of any amount: SYMMETRIC mode repeated, since one pass pads at most the
    current size (pages can be 1 pixel wide)."""
    x = _pad_axis(x, top, bottom, axis=1)
    return _pad_axis(x, left, right, axis=2)


def _pad_axis(x: tf.Tensor, before, after, axis: int) -> tf.Tensor:
    def body(x, before, after):
        n = tf.shape(x)[axis]
        b, a = tf.minimum(before, n), tf.minimum(after, n)
        rows = [[0, 0]] * 4
        rows[axis] = [b, a]
        padded = tf.pad(x, tf.stack([tf.stack(r) for r in rows]), mode="SYMMETRIC")
        return padded, before - b, after - a

    x, _, _ = tf.while_loop(
        lambda x, before, after: (before > 0) | (after > 0),
        body,
        [x, tf.convert_to_tensor(before, tf.int32), tf.convert_to_tensor(after, tf.int32)],
        shape_invariants=[tf.TensorShape([None, None, None, 1]), tf.TensorShape([]),
                          tf.TensorShape([])],
    )
    return x


def next_version(base: Path) -> int:
    return max(version_folders(base, complete=False), default=0) + 1


def export_model(
    model: Any,
    base: str | Path = DEFAULT_BASE,
    *,
    multiple: int,
    version: int | None = None,
    card: dict[str, Any] | None = None,
    **cleaner_options: int,
) -> Path:
    """Writes `base/<version>/` (next integer by default) and `base/<version>.card.json`.

    The card sits beside the version folder: TF Serving only loads numeric folders, and a reader
    of the model folder sees what each version is without loading it.
    """
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    version = version or next_version(base)
    target = base / str(version)
    if target.exists():
        raise FileExistsError(f"{target} exists: versions are immutable")
    cleaner = PageCleaner(model, multiple=multiple, **cleaner_options)
    tmp = base / f".{version}.tmp"
    serve = {"cinza": cleaner.serve, "cor": cleaner.serve_colour, "binaria": cleaner.serve_bitonal}
    signatures = {SIGNATURES[mode]: function for mode, function in serve.items()}
    tf.saved_model.save(cleaner, str(tmp), signatures={**signatures, "denoise": cleaner.denoise})
    tmp.rename(target)  # TF Serving polls the folder: it must never see a half-written version
    model_card = {
        "name": base.name,
        "version": version,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__,
        "parameters": int(model.count_params()),
        "signatures": {
            "serving_default": "image_bytes: string[None] -> clean_png_bytes: string[None] "
                               "(saida cinza: 8-bit gray PNG)",
            "cor": "the same, saida cor: RGB PNG",
            "binaria": "the same, saida binaria: 1-bit PNG",
            "denoise": "images: float32[None,None,None,1] -> clean: float32 (same shape)",
        },
        "serving": {"multiple": multiple, **{k: getattr(cleaner, k) for k in
                    ("margin", "tile", "tile_batch", "max_single_pixels",
                                         "png_compression", "calibrated")}},
        **(card or {}),
    }
    (base / f"{version}.card.json").write_text(json.dumps(model_card, indent=2) + "\n")
    return target


def keras_from_export(version_dir: Path, builder: Callable, **kwargs):
    """The Keras network of `builder(**kwargs)` holding the weights of an exported version."""
    model = builder(**kwargs)
    reader = tf.train.load_checkpoint(str(version_dir / "variables" / "variables"))
    prefix = "model/_operations/{}/{}/.ATTRIBUTES/VARIABLE_VALUE"
    for index, layer in enumerate(model.operations):
        if layer.weights:
            names = ["_kernel" if w.name == "kernel" else w.name for w in layer.weights]
            layer.set_weights([reader.get_tensor(prefix.format(index, n)) for n in names])
    return model


# What export_model writes itself: a re-export's card keeps everything else of the old card.
OWN_CARD_KEYS = ("name", "version", "exported_at", "tensorflow", "parameters", "signatures",
                 "serving")


def reexport(version_dir: Path, base: str | Path, version: int | None = None) -> Path:
    """An exported version again, with today's signatures (e.g. the output modes), the same
    weights, output table and serving options, so its `serving_default` answers the same bytes.
    """
    model, card = _rebuilt(version_dir)
    loaded = tf.saved_model.load(str(version_dir))
    levels = [int(v) for v in loaded.levels.numpy()] if card["serving"]["calibrated"] else None
    options = {k: card["serving"][k] for k in ("margin", "tile", "tile_batch",
                                               "max_single_pixels", "png_compression")}
    kept = {k: v for k, v in card.items() if k not in OWN_CARD_KEYS}
    kept["reexported_from"] = {"version": card["version"], "exported_at": card["exported_at"],
                               "tensorflow": card["tensorflow"]}
    return export_model(model, base, multiple=card["serving"]["multiple"], version=version,
                        card=kept, levels=levels, **options)


def network_from(path: str | Path):
    """A Keras network from a .keras file, or rebuilt from an exported version folder and its
    card (a warm start, a teacher, or a version timed bare beside a new network)."""
    folder = Path(path)
    return _rebuilt(folder)[0] if folder.is_dir() else load_network(folder)


def _rebuilt(version_dir: Path):
    """(Keras network, card) of an exported version: the card names the builder."""
    card = json.loads(version_dir.with_name(f"{version_dir.name}.card.json").read_text())
    builder = BUILDERS[card["model"]]
    return keras_from_export(version_dir, builder, **card.get("builder_args", {})), card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="trained Keras model file (.keras), or an exported version "
                        "folder to export again with today's signatures (its weights, table, "
                        "serving options and card; the other options are ignored)")
    parser.add_argument("--base", default=str(DEFAULT_BASE),
                        help="model base path; the version folder is written under it")
    parser.add_argument("--version", type=int, help="version number (default: next integer)")
    parser.add_argument("--multiple", type=int,
                        help="size multiple the network needs (default: the card's, else 16)")
    parser.add_argument("--card", help="JSON file whose keys are added to the model card "
                        "(training.train writes RUN/card.json)")
    parser.add_argument("--tile", type=int, default=512,
                        help="tile side (px) for pages above --max-single-pixels")
    parser.add_argument("--margin", type=int, default=64,
                        help="mirrored context (px) around every page and tile; the smallest "
                             "keeping tiled within 1/255 of whole-page output (training.evaluate "
                             "--keras measures it)")
    parser.add_argument("--max-single-pixels", type=int, default=2_000_000,
                        help="largest page cleaned in one pass; larger ones go through tiles")
    parser.add_argument("--png-compression", type=int, default=3,
                        help="zlib level of the PNG answer, 0-9 (3: about twice as fast to "
                             "encode as 6 for 10-15%% more bytes)")
    parser.add_argument("--calibration", help="calibration.json of training.calibrate "
                        "(the output table; none: identity)")
    parser.add_argument("--validation", metavar="RUN",
                        help="validation run folder: the card's `validation` section is taken "
                             "from RUN/eval/report.json (training.evaluate of RUN's export), "
                             "RUN/metrics.json and RUN/calibration.json")
    parser.add_argument("--ink-suite", nargs=2, metavar=("REPORT", "NAME"),
                        help="training.ink_suite report.json and the model's name in it: the "
                             "card's `ink_suite` section")
    args = parser.parse_args(argv)
    if Path(args.model).is_dir():
        print(reexport(Path(args.model), args.base, args.version))
        return
    model = load_network(args.model)
    card = json.loads(Path(args.card).read_text()) if args.card else {}
    multiple = args.multiple or int(card.get("multiple", 16))
    levels = None
    if args.calibration:
        calibration = json.loads(Path(args.calibration).read_text())
        levels = calibration["levels"]
        card["calibration"] = {k: calibration[k] for k in calibration if k != "levels"}
    if args.validation:
        card["validation"] = validation_section(Path(args.validation), shipped=Path(args.model))
    chain = warm_starts(Path(args.model).parent)
    if chain:  # the recipe is every command of the chain, oldest first
        card.setdefault("training", {})["warm_starts"] = chain
    if args.ink_suite:
        card["ink_suite"] = ink_suite_section(Path(args.ink_suite[0]), args.ink_suite[1])
    path = export_model(
        model, args.base, multiple=multiple, version=args.version, card=card,
        tile=args.tile, margin=args.margin, max_single_pixels=args.max_single_pixels,
        png_compression=args.png_compression, levels=levels,
    )
    print(path)


if __name__ == "__main__":
    main()
