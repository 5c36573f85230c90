"""Evaluate exported denoisers at native resolution next to the simple baselines.

Models are measured through the exported SavedModel (`denoise` signature: the same padding,
clipping and 8-bit rounding as serving), so the numbers describe what the service returns.
Writes a JSON report (per-page and overall RMSE, PSNR, SSIM per input set) and a before/after
sample grid PNG.

    python -m training.evaluate --model serving/models/autoencoder/1 \
        --baseline runs/baseline-val/export/1 --out runs/eval --grid docs/img/samples.png
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from training.data import (
    VAL_BLOCKS,
    Page,
    add_data_argument,
    jpeg_pages,
    list_ids,
    load_pages,
    robustness_pages,
    split_by_blocks,
    to_uint8,
)

Denoiser = Callable[[np.ndarray], np.ndarray]  # float32 [B, H, W, 1] -> same shape, 8-bit steps


def set_threads(intra: int, inter: int = 2) -> None:
    """TensorFlow thread pools sized for this machine; a no-op once TensorFlow has started
    (e.g. inside a test session), where they can no longer change."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        pass


# --- metrics ---------------------------------------------------------------------------------


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(20 * np.log10(1.0 / max(rmse(a, b), 1e-8)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with the standard 11x11 Gaussian window (tf.image.ssim), pixel range [0, 1];
    the window shrinks for images smaller than that."""
    import tensorflow as tf

    pair = [tf.constant(np.asarray(x, np.float32)[..., None]) for x in (a, b)]
    return float(tf.image.ssim(*pair, max_val=1.0, filter_size=min(11, *np.shape(a))))


def score_pages(
    outputs: Sequence[np.ndarray], pages: Sequence[Page], with_ssim: bool = True
) -> dict:
    """Per-page RMSE/PSNR/SSIM and overall figures; overall RMSE pools every pixel of every page
    (the Kaggle metric), so large pages weigh more."""
    per_page = {
        str(p.id): {"rmse": rmse(y, p.clean), "psnr": psnr(y, p.clean),
                    "ssim": ssim(y, p.clean) if with_ssim else float("nan")}
        for y, p in zip(outputs, pages, strict=True)
    }
    squared = sum(float(np.sum((np.asarray(y, np.float64) - p.clean) ** 2))
                  for y, p in zip(outputs, pages, strict=True))
    pixels = sum(p.clean.size for p in pages)
    overall = float(np.sqrt(squared / pixels))
    return {
        "rmse": overall,
        "psnr": float(20 * np.log10(1.0 / max(overall, 1e-8))),
        "ssim": float(np.mean([m["ssim"] for m in per_page.values()])),
        "mean_page_rmse": float(np.mean([m["rmse"] for m in per_page.values()])),
        "pages": per_page,
    }


# --- denoisers -------------------------------------------------------------------------------


def do_nothing(x: np.ndarray) -> np.ndarray:
    return x


def median_filter(page: np.ndarray, size: int) -> np.ndarray:
    """Median over a size x size window (mirror edges), numpy only."""
    r = size // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(page, r, mode="symmetric"),
                                                       (size, size))
    return np.median(windows.reshape(*page.shape, -1), axis=-1)


def median_subtract(x: np.ndarray, size: int = 21) -> np.ndarray:
    """Median-filter background subtraction: the page minus its local median, on white."""
    out = np.stack([np.clip(p - median_filter(p, size) + 1.0, 0, 1) for p in x[..., 0]])
    return to_uint8(out[..., None]) / np.float32(255.0)


def median_threshold(x: np.ndarray, size: int = 11, threshold: float = 0.1) -> np.ndarray:
    """A stronger variant: a pixel clearly darker than the local median is ink and kept as is,
    everything else becomes white paper."""
    out = np.stack([np.where(p < median_filter(p, size) - threshold, p, 1.0) for p in x[..., 0]])
    return out[..., None].astype(np.float32)


def keras_denoiser(model, *, multiple: int, margin: int) -> Denoiser:
    """The export's page logic in numpy around a Keras model (used for validation while
    training): mirror margin, pad to the multiple, run, crop, clip and round to 8 bit."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[1:3]
        extra_h = -(h + 2 * margin) % multiple
        extra_w = -(w + 2 * margin) % multiple
        padded = np.pad(
            x, [(0, 0), (margin, margin + extra_h), (margin, margin + extra_w), (0, 0)],
            mode="symmetric",
        )
        y = forward(tf.constant(padded, tf.float32)).numpy()
        return to_uint8(y[:, margin : margin + h, margin : margin + w]) / np.float32(255.0)

    return run


def saved_model_denoiser(path: str | Path) -> Denoiser:
    """The exported `denoise` signature of a SavedModel version folder."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["denoise"]

    def run(x: np.ndarray) -> np.ndarray:
        y = signature(images=tf.constant(x, tf.float32))["clean"].numpy()
        return to_uint8(y) / np.float32(255.0)  # the graph already rounds; keep the dtype exact

    run.loaded = loaded  # keep the restored object alive with its functions
    return run


def receptive_radius(
    model, size: int = 256, threshold: float = 0.0, image: np.ndarray | None = None
) -> int:
    """How far (px, Chebyshev) an output pixel looks: the extent of the input gradient of the
    centre pixel above `threshold` x its peak. threshold=0 gives the reach of the weights; a
    small one (e.g. 1e-3 on a real page) the effective radius that the export's margin needs."""
    import tensorflow as tf

    if image is None:
        image = np.random.default_rng(0).random((size, size), np.float32)
    x = tf.constant(image[None, ..., None], tf.float32)
    c = size // 2
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=False)[0, c, c, 0]
    grad = np.abs(tape.gradient(y, x).numpy()[0, ..., 0])
    ys, xs = np.nonzero(grad > threshold * grad.max())
    return int(max(np.abs(ys - c).max(), np.abs(xs - c).max()))


def tiling_gaps(
    model, multiple: int, margins: Sequence[int], page: np.ndarray, tile: int = 512,
    levels: Sequence[int] | None = None,
) -> dict[int, int]:
    """{margin: largest 8-bit difference between tiled and whole-page cleaning of `page`}, run
    through the export's own PageCleaner (with its calibration table `levels`, if any): the
    margin to ship is the smallest giving <= 1."""
    import tensorflow as tf

    from training.export import PageCleaner

    x = tf.constant(page[None, ..., None], tf.float32)
    gaps = {}
    for margin in margins:
        whole = PageCleaner(model, multiple=multiple, margin=margin, tile=tile, levels=levels)
        tiled = PageCleaner(model, multiple=multiple, margin=margin, tile=tile,
                            max_single_pixels=0, levels=levels)
        a, b = (c._to_levels(c.clean_float(x)).numpy().astype(int) for c in (whole, tiled))
        gaps[margin] = int(np.abs(a - b).max())
    return gaps


def denoise_pages(denoiser: Denoiser, pages: Sequence[Page]) -> list[np.ndarray]:
    """Runs pages through a denoiser one at a time (pages differ in size), returns [H, W]."""
    return [denoiser(p.dirty[None, ..., None])[0, ..., 0] for p in pages]


# --- report pieces ---------------------------------------------------------------------------


def input_sets(pages: Sequence[Page], seed: int) -> dict[str, list[Page]]:
    """The real pages, plus two checks on inputs whose backgrounds are not in the data."""
    return {
        "real": list(pages),
        "synthetic_unseen": robustness_pages(pages, seed=seed),
        "jpeg_q40": jpeg_pages(pages, quality=40),
    }


def time_forward(denoiser: Denoiser, page: np.ndarray, repeats: int = 20) -> float:
    """Median wall time (ms) of one page after three warm-up calls."""
    x = page[None, ..., None].astype(np.float32)
    for _ in range(3):
        denoiser(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        denoiser(x)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def sample_grid(
    columns: dict[str, Sequence[np.ndarray]], path: str | Path, crop: tuple[int, int] = (210, 270)
) -> None:
    """Rows of page crops, one column per stage (e.g. dirty, baseline, ours, clean), with labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(columns)
    rows = len(columns[names[0]])
    fig, axes = plt.subplots(rows, len(names), figsize=(2.7 * len(names), 2.2 * rows), dpi=100,
                             squeeze=False)
    for c, name in enumerate(names):
        for r, image in enumerate(columns[name]):
            ax = axes[r][c]
            ax.imshow(image[: crop[0], : crop[1]], cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=10)
    fig.tight_layout(pad=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, pil_kwargs={"optimize": True})
    plt.close(fig)


def select_pages(data_dir: Path, split: str, val_blocks: Sequence[int]) -> list[Page]:
    ids = list_ids(data_dir, "train_cleaned")
    train, val = split_by_blocks(ids, val_blocks)
    return load_pages(data_dir, {"val": val, "train": train, "all": ids}[split])


def evaluate(
    denoisers: dict[str, Denoiser], pages: Sequence[Page], seed: int = 2024
) -> dict[str, dict[str, dict]]:
    """{input set: {denoiser: scores}}, every denoiser on every input set."""
    report: dict[str, dict[str, dict]] = {}
    for set_name, inputs in input_sets(pages, seed).items():
        report[set_name] = {}
        for name, denoiser in denoisers.items():
            report[set_name][name] = score_pages(denoise_pages(denoiser, inputs), inputs)
            print(f"{set_name:>16} {name:>14}  RMSE {report[set_name][name]['rmse']:.4f}  "
                  f"SSIM {report[set_name][name]['ssim']:.4f}", flush=True)
    return report


def summary_table(report: dict[str, dict[str, dict]]) -> str:
    """Markdown table: one row per (input set, denoiser)."""
    lines = ["| inputs | method | RMSE | PSNR (dB) | SSIM |", "|---|---|---|---|---|"]
    for set_name, rows in report.items():
        for name, s in rows.items():
            lines.append(f"| {set_name} | {name} | {s['rmse']:.4f} | {s['psnr']:.2f} | "
                         f"{s['ssim']:.4f} |")
    return "\n".join(lines)


def check_keras_models(paths: dict[str, str], pages: Sequence[Page], margins: Sequence[int],
                       tile: int = 512, timing: bool = True) -> dict:
    """Bare forward-pass times of Keras models on the largest page (same run, same page), and the
    tiled-vs-whole gaps of the first model on a 2x2 mosaic of pages (tiles must cut text)."""
    import keras

    from training.model import size_multiple

    models = {k: keras.models.load_model(v, compile=False) for k, v in paths.items()}
    page = max(pages, key=lambda p: p.dirty.size).dirty
    out: dict = {}
    if timing:
        out["keras_forward_ms"] = {"page": list(page.shape[::-1])}
        for name, model in models.items():
            out["keras_forward_ms"][name] = time_forward(
                keras_denoiser(model, multiple=size_multiple(model), margin=0), page)
        print("forward ms (bare Keras):", out["keras_forward_ms"], flush=True)
    first = next(iter(models.values()))
    quad = [p.dirty for p in pages if p.dirty.shape == page.shape][:4]
    quad += [page] * (4 - len(quad))
    mosaic = np.block([[quad[0], quad[1]], [quad[2], quad[3]]])
    out["tiling_gap_8bit"] = {
        "page": list(mosaic.shape[::-1]), "model": next(iter(paths)),
        **tiling_gaps(first, size_multiple(first), margins, mosaic, tile),
    }
    print("tiled vs whole, largest 8-bit difference per margin:", out["tiling_gap_8bit"],
          flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--model", required=True, help="exported version folder (SavedModel)")
    parser.add_argument("--baseline", help="exported baseline-architecture version folder")
    parser.add_argument("--split", choices=["val", "train", "all"], default="val",
                        help="labelled pages to score (val = the fixed validation blocks)")
    parser.add_argument("--val-blocks", type=int, nargs="*", default=list(VAL_BLOCKS),
                        help="blocks of the validation split")
    parser.add_argument("--seed", type=int, default=2024,
                        help="seed of the unseen synthetic backgrounds (training never uses it)")
    parser.add_argument("--out", default="runs/eval", help="folder for report.json")
    parser.add_argument("--grid", help="sample grid PNG path (default: OUT/samples.png)")
    parser.add_argument("--grid-rows", type=int, default=4, help="pages in the sample grid")
    parser.add_argument("--no-timing", action="store_true", help="skip forward-pass timing")
    parser.add_argument("--keras", nargs="*", default=[], metavar="NAME=MODEL.keras",
                        help="Keras models to time bare (page padded to the multiple only) and, "
                             "for the first, to check tiled against whole-page output per margin")
    parser.add_argument("--margins", type=int, nargs="*", default=[16, 32, 48, 64, 96],
                        help="margins for the tiling check")
    parser.add_argument("--tile", type=int, default=512, help="tile side for the tiling check")
    args = parser.parse_args(argv)

    set_threads(2)
    pages = select_pages(Path(args.data), args.split, args.val_blocks)
    if not pages:
        parser.error(f"no labelled pages in split {args.split!r}")
    models = {"baseline_arch": args.baseline, "model": args.model}
    denoisers: dict[str, Denoiser] = {
        "do_nothing": do_nothing, "median_subtract": median_subtract,
        "median_threshold": median_threshold,
    }
    denoisers.update({k: saved_model_denoiser(v) for k, v in models.items() if v})
    report = {
        "data": str(args.data), "split": args.split, "pages": [p.id for p in pages],
        "val_blocks": args.val_blocks, "models": {k: v for k, v in models.items() if v},
        "sets": evaluate(denoisers, pages, args.seed),
    }
    if not args.no_timing:
        page = max(pages, key=lambda p: p.dirty.size).dirty
        report["forward_ms"] = {
            "page": list(page.shape[::-1]),
            **{k: time_forward(denoisers[k], page) for k in models if models[k]},
        }
        print("forward ms (exported denoise):", report["forward_ms"], flush=True)
    if args.keras:
        report.update(check_keras_models(dict(k.split("=", 1) for k in args.keras), pages,
                                         args.margins, args.tile, timing=not args.no_timing))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "table.md").write_text(summary_table(report["sets"]) + "\n")
    grid_pages = pages[:: max(1, len(pages) // args.grid_rows)][: args.grid_rows]
    columns = {"dirty": [p.dirty for p in grid_pages]}
    for k in ("baseline_arch", "model"):
        if k in denoisers:
            columns[k] = denoise_pages(denoisers[k], grid_pages)
    columns["clean target"] = [p.clean for p in grid_pages]
    sample_grid(columns, args.grid or out / "samples.png")
    print(summary_table(report["sets"]))
    return report


if __name__ == "__main__":
    main()
