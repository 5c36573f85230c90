"""Evaluate exported denoisers at native resolution next to the simple baselines.

Models are measured through the exported SavedModel (`denoise` signature: the same padding,
clipping, 8-bit rounding and output table as serving), so the numbers describe what the service
returns. Writes a JSON report (per-page and overall RMSE, PSNR, SSIM and false ink per input
set), a before/after sample grid and, per model, a grid of its worst 64x64 windows.

    python -m training.evaluate --data $D --model v4=runs/s2d4-val/export/1 \
        v3=runs/unet3-val/export/1 --out runs/eval4 --grid docs/img/samples.png
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# tensorflow, keras, training.export and training.model (which load TensorFlow) and matplotlib
# are imported in the functions: --help is instant, and import_tensorflow sets TensorFlow's
# threads and allocator before it loads.
from tfmodel.precision import MODES
from tfmodel.precision import enable as enable_precision
from tfmodel.runtime import import_tensorflow
from training import metrics
from training.denoisers import (
    Denoiser,
    denoise_pages,
    do_nothing,
    keras_denoiser,
    median_subtract,
    median_threshold,
    saved_model_denoiser,
)
from training.ink_map_report import (
    BASELINES,
    camera_set,
    f_table,
    held_out_pages,
    score_sets,
    worst_pages_picture,
)
from training.ink_pages import add_ink_argument
from training.ink_suite import grid_table, run_suite, suite_outputs, suite_pages
from training.input_sets import input_sets
from training.metrics import score_pages, worst_windows
from training.pages import (
    VAL_BLOCKS,
    Page,
    add_data_argument,
    list_ids,
    load_pages,
    split_by_blocks,
)
from training.report_parts import named_paths, window_grid


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
    margin to ship is the smallest giving <= 1. Margins the export could not use (not
    multiples of `multiple`) are skipped with a message: evaluate calls this after its scoring,
    which a crash would throw away."""
    import tensorflow as tf

    from training.export import PageCleaner

    x = tf.constant(page[None, ..., None], tf.float32)
    gaps = {}
    for margin in margins:
        if margin % multiple:
            print(f"margin {margin} skipped: not a multiple of {multiple}", flush=True)
            continue
        whole = PageCleaner(model, multiple=multiple, margin=margin, tile=tile, levels=levels)
        tiled = PageCleaner(model, multiple=multiple, margin=margin, tile=tile,
                            max_single_pixels=0, levels=levels)
        a, b = (c._to_levels(c.clean_float(x)).numpy().astype(int) for c in (whole, tiled))
        gaps[margin] = int(np.abs(a - b).max())
    return gaps


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
    lines = ["| inputs | method | RMSE | PSNR (dB) | SSIM | false ink (per page) |",
             "|---|---|---|---|---|---|"]
    for set_name, rows in report.items():
        for name, s in rows.items():
            lines.append(f"| {set_name} | {name} | {s['rmse']:.4f} | {s['psnr']:.2f} | "
                         f"{s['ssim']:.4f} | {s['false_ink']} ({s['false_ink_per_page']:.2f}) |")
    return "\n".join(lines)


def check_keras_models(paths: dict[str, str], pages: Sequence[Page], margins: Sequence[int],
                       tile: int = 512, timing: bool = True) -> dict:
    """Bare forward-pass times of Keras models on the largest page (same run, same page), and the
    tiled-vs-whole gaps of the first model on a 2x2 mosaic of pages (tiles must cut text)."""
    from training.export import network_from
    from training.model import size_multiple

    models = {k: network_from(v) for k, v in paths.items()}
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
    parser.add_argument("--model", nargs="+", required=True, metavar="NAME=VERSION_DIR",
                        help="exported version folders (SavedModel) to score, in report order")
    parser.add_argument("--split", choices=["val", "train", "all"], default="val",
                        help="labelled pages to score (val = the fixed validation blocks)")
    parser.add_argument("--val-blocks", type=int, nargs="*", default=list(VAL_BLOCKS),
                        help="blocks of the validation split")
    parser.add_argument("--seed", type=int, default=2024,
                        help="seed of the unseen synthetic backgrounds (training never uses it)")
    parser.add_argument("--out", default="runs/eval", help="folder for report.json, table.md "
                        "and the grids")
    parser.add_argument("--grid", help="sample grid PNG path (default: OUT/samples.png)")
    parser.add_argument("--grid-rows", type=int, default=4, help="pages in the sample grid")
    parser.add_argument("--windows", type=int, default=8,
                        help="worst windows per model in OUT/worst_<name>.png (0: none)")
    parser.add_argument("--window-size", type=int, default=64, help="side of those windows (px)")
    parser.add_argument("--no-timing", action="store_true", help="skip forward-pass timing")
    parser.add_argument("--keras", nargs="*", default=[], metavar="NAME=MODEL",
                        help="Keras models (.keras files or exported version folders) to time "
                             "bare (page padded to the multiple only) and, for the first, to "
                             "check tiled against whole-page output per margin")
    parser.add_argument("--margins", type=int, nargs="*", default=[16, 32, 48, 64, 96],
                        help="margins for the tiling check")
    parser.add_argument("--tile", type=int, default=512, help="tile side for the tiling check")
    parser.add_argument("--ink-suite", action="store_true",
                        help="also score the models on training.ink_suite's pages (bold and "
                             "large type, faint ink, solid marks): OUT/ink_suite.md")
    add_ink_argument(parser)
    parser.add_argument("--ink-picture",
                        help="PNG of the held-out ink pages the first model does worst on, "
                             "before and after (needs --ink-data; default: OUT/ink_worst.png)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument("--mixed-precision", choices=MODES, default="",
                        help="run the exported models as TF Serving's --mixed_precision does "
                        "(default: float32)")
    args = parser.parse_args(argv)

    import_tensorflow(args.threads, 2)
    if args.mixed_precision:
        import tensorflow as tf

        enable_precision(tf, args.mixed_precision)
    pages = select_pages(Path(args.data), args.split, args.val_blocks)
    if not pages:
        parser.error(f"no labelled pages in split {args.split!r}")
    models = named_paths(args.model)
    denoisers: dict[str, Denoiser] = {
        "do_nothing": do_nothing, "median_subtract": median_subtract,
        "median_threshold": median_threshold,
        **{name: saved_model_denoiser(path) for name, path in models.items()},
    }
    report = {
        "command": "python -m training.evaluate " + shlex.join(sys.argv[1:] if argv is None
                                                               else argv),
        "data": str(args.data), "split": args.split, "pages": [p.id for p in pages],
        "val_blocks": args.val_blocks, "models": models,
        "mixed_precision": args.mixed_precision or "float32",
        "false_ink_definition": false_ink_definition(),
        "sets": evaluate(denoisers, pages, args.seed),
    }
    if not args.no_timing:
        page = max(pages, key=lambda p: p.dirty.size).dirty
        report["forward_ms"] = {"page": list(page.shape[::-1]),
                                **{k: time_forward(denoisers[k], page) for k in models}}
        print("forward ms (exported denoise):", report["forward_ms"], flush=True)
    if args.keras:
        report.update(check_keras_models(named_paths(args.keras), pages, args.margins,
                                         args.tile, timing=not args.no_timing))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.windows:
        report["worst_windows"] = write_worst_windows(
            {k: denoisers[k] for k in models}, pages, out, args.windows, args.window_size)
    if args.ink_data:
        report["ink_maps"] = ink_map_section({k: denoisers[k] for k in models}, args.ink_data,
                                             out, args.ink_picture)
    if args.ink_suite:
        ink_pages = suite_pages()
        report["ink_suite"] = run_suite(
            suite_outputs({k: denoisers[k] for k in models}, ink_pages), ink_pages)
        (out / "ink_suite.md").write_text(grid_table(report["ink_suite"], ink_pages) + "\n")
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "table.md").write_text(summary_table(report["sets"]) + "\n")
    grid_pages = pages[:: max(1, len(pages) // args.grid_rows)][: args.grid_rows]
    columns = {"dirty": [p.dirty for p in grid_pages]}
    columns.update({k: denoise_pages(denoisers[k], grid_pages) for k in models})
    columns["clean target"] = [p.clean for p in grid_pages]
    sample_grid(columns, args.grid or out / "samples.png")
    print(summary_table(report["sets"]))
    return report


def ink_map_section(models: dict[str, Denoiser], folder: Path, out: Path,
                    picture: str | None) -> dict:
    """F at 0.5 on the held-out real ink-map pages (per collection) and on photographed pages,
    models next to the binarization baselines: OUT/ink_maps.md and the worst pages' picture."""
    sets = {"real": held_out_pages(folder), "camera": camera_set()}
    report = score_sets({**BASELINES, **models}, sets)
    (out / "ink_maps.md").write_text(f_table(report) + "\n")
    first = next(iter(models))  # the pages it does worst on
    worst = worst_pages_picture(sets["real"], {"sauvola": BASELINES["sauvola"], **models},
                                report["real"][first]["pages"],
                                path=picture or out / "ink_worst.png")
    print(f_table(report), flush=True)
    return {"held_out": [p.name for p in sets["real"]], "sets": report, "worst_pages": worst}


def false_ink_definition() -> dict:
    return {"dark_below": metrics.DARK, "target_ink_below": metrics.INK,
            "reach_px": metrics.REACH, "connectivity": 8}


def write_worst_windows(denoisers: dict[str, Denoiser], pages: Sequence[Page], out: Path,
                        count: int, size: int) -> dict[str, list[dict]]:
    """OUT/worst_<name>.png per model, on the real pages; returns the windows it drew."""
    found = {}
    for name, denoiser in denoisers.items():
        outputs = denoise_pages(denoiser, pages)
        windows = worst_windows(outputs, pages, size=size, count=count)
        window_grid(windows, outputs, pages, out / f"worst_{name}.png",
                    f"{name}: worst {size}x{size} windows of {len(pages)} pages")
        found[name] = [{"page": pages[w.page].id, "y": w.y, "x": w.x, "rmse": w.rmse}
                       for w in windows]
    return found


if __name__ == "__main__":
    main()
