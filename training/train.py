"""Train a denoiser on native-resolution patches; keep the checkpoint with the best validation RMSE.

    python -m training.train --model unet --name unet-val          # block split, validation
    python -m training.train --model unet --val-blocks --name ship  # all 120 pairs, fixed epochs

Every run writes runs/<name>/: config.json (resolved knobs), history.json, metrics.json,
loss_curve.png, model.keras (best on validation, or last without validation) and card.json (the
model card fields that `python -m training.export model.keras --card card.json` adds).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

# keras, tensorflow and training.model (keras) are imported in the functions: TensorFlow reads
# TF_ENABLE_ONEDNN_OPTS once, when it loads, and parse_args sets it from --onednn first.
from tfmodel.runtime import import_tensorflow
from training.denoisers import denoise_pages, keras_denoiser
from training.fonts import available_faces
from training.ink_pages import add_ink_argument, list_names, load_ink_pages, split_names
from training.input_sets import camera_pages, document_pages, robustness_pages
from training.metrics import score_pages
from training.pages import (
    VAL_BLOCKS,
    Page,
    add_data_argument,
    block_of,
    list_ids,
    load_pages,
    split_by_blocks,
)
from training.patches import PatchSampler, patch_dataset, with_teacher

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """All training knobs, in one place. Sets TensorFlow's oneDNN switch as a side effect, since
    TensorFlow reads it once, when it loads (which the architecture list below makes it do)."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--onednn", type=int, choices=[0, 1], default=1,
                       help="TensorFlow's oneDNN kernels (1.8x faster training steps on AVX2 "
                            "CPUs; the default on AVX-512 ones anyway)")
    known, _ = first.parse_known_args(argv)
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = str(known.onednn)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from training.model import BUILDERS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], parents=[first])
    add_data_argument(p, "dataset folder (README layout)")
    p.add_argument("--model", choices=sorted(BUILDERS), default="unet",
                   help="architecture (training.model.BUILDERS)")
    p.add_argument("--widths", type=int, nargs="+",
                   help="U-Net channels per level, finest first (default: the builder's)")
    p.add_argument("--io-kernel", type=int,
                   help="s2d_unet: kernel of its stride-2 input and output convs (default 2)")
    p.add_argument("--convs-per-level", type=int,
                   help="U-Nets: 3x3 convs per block at the coarse levels (default 2)")
    p.add_argument("--half-res-convs", type=int, nargs=2, metavar=("ENCODER", "DECODER"),
                   help="s2d_unet: convs of its finest (half-resolution) level (default 2 2)")
    p.add_argument("--full-res-head", type=int,
                   help="s2d_unet: channels of its full-resolution output conv (default 0: none)")
    p.add_argument("--subpixel-head", type=int,
                   help="s2d_unet: channels of its last half-resolution conv (default 0: none)")
    p.add_argument("--raw-skip", choices=["decoder", "head"],
                   help="s2d_unet: where the input blocks rejoin (default: nowhere)")
    p.add_argument("--epochs", type=int, default=60, help="epochs (an epoch = --steps batches)")
    p.add_argument("--steps", type=int, default=250, help="batches per epoch")
    p.add_argument("--patch", type=int, default=192, help="training patch side (native pixels)")
    p.add_argument("--batch", type=int, default=8, help="patches per batch")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (Adam)")
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument("--synthetic", type=float, default=0.4,
                   help="share of patches on synthetic backgrounds")
    p.add_argument("--overlay", type=float, default=0.3,
                   help="share of real patches darkened further by a synthetic field")
    p.add_argument("--scale", type=float, default=0.4,
                   help="share of patches resampled by 0.8-1.25x (other type sizes)")
    p.add_argument("--stroke", type=float, default=0.5,
                   help="share of synthetic patches with bolder or thinner strokes")
    p.add_argument("--rendered", type=float, default=0.5,
                   help="share of synthetic patches showing text rendered in other typefaces")
    p.add_argument("--engine", type=float, default=0.0,
                   help="share of all patches that are synthetic documents from the page engine "
                        "(any type size and weight, faint ink, solid marks, pen; training.scan)")
    p.add_argument("--camera", type=float, default=0.0,
                   help="share of page-engine patches photographed instead of scanned (small "
                        "type, cast shadows, falloff, gutters, blur: training.camera)")
    p.add_argument("--faded", type=float, default=0.0,
                   help="share of page-engine patches whose ink fades unevenly along strokes")
    p.add_argument("--verso", type=float, default=0.25,
                   help="share of page-engine scans with another page's ink showing through")
    add_ink_argument(p)
    p.add_argument("--mapped", type=float, default=0.0,
                   help="share of all patches from the real pages with ink maps (--ink-data; "
                        "every fifth page per collection is held out for validation)")
    p.add_argument("--paper-ratio", action="store_true",
                   help="unet: the page over its paper level as a second input channel")
    p.add_argument("--init",
                   help="warm start: initial weights from this network (a .keras file or an "
                        "exported version folder of the same architecture)")
    p.add_argument("--select", choices=["val_rmse", "val_score"], default="val_rmse",
                   help="validation figure that picks the kept epoch: real pages only, or "
                        "val_score = real pages + synthetic documents (needs --engine), plus "
                        "0.1 x (1 - F) on held-out ink-map pages and on photographed pages "
                        "when those are in training")
    p.add_argument("--teacher",
                   help="distil from this network: a .keras file or an exported version folder "
                        "(rebuilt from its card); its output is blended into every target")
    p.add_argument("--teacher-weight", type=float, default=0.5,
                   help="share of the teacher's output in each target (the rest: the clean page)")
    p.add_argument("--ema", type=float, default=0.999,
                   help="momentum of the weight average that is validated and shipped (0: off)")
    p.add_argument("--val-blocks", type=int, nargs="*", default=list(VAL_BLOCKS),
                   help="validation blocks; give none to train on every pair (no validation)")
    p.add_argument("--patience", type=int, default=20,
                   help="early stopping: epochs without a better validation RMSE")
    p.add_argument("--margin", type=int, default=32,
                   help="mirror margin used when validating whole pages (as in the export)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, patches and order")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    p.add_argument("--name", help="run folder name under --runs (default: model-seed)")
    p.add_argument("--runs", default=str(ROOT / "runs"), help="parent folder of run folders")
    p.add_argument("--reference-runs", nargs="*", default=[],
                   help="run folders whose validation metrics the model card quotes")
    p.add_argument("--verbose", type=int, default=1, help="Keras progress: 0 none, 1 bar, 2 line")
    return p.parse_args(argv)


def setup_tf(seed: int, threads: int):
    """Seeds, thread pools and deterministic kernels, before any op runs."""
    import keras
    import tensorflow as tf

    import_tensorflow(threads, 2)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return keras, tf


def builder_args(args: argparse.Namespace) -> dict:
    """Keyword arguments of the architecture's builder that differ from its defaults (the card
    keeps them, so the network can be rebuilt from an exported version)."""
    chosen = {"widths": list(args.widths) if args.widths else None, "io_kernel": args.io_kernel,
              "convs_per_level": args.convs_per_level,
              "half_res_convs": list(args.half_res_convs) if args.half_res_convs else None,
              "full_res_head": args.full_res_head, "subpixel_head": args.subpixel_head,
              "raw_skip": args.raw_skip, "paper_ratio": args.paper_ratio or None}
    return {key: value for key, value in chosen.items() if value is not None}


def describe(args: argparse.Namespace) -> str:
    """The architecture in a few words, e.g. `unet[16, 24, 48, 64, 96]`."""
    from training.model import BUILDERS

    defaults = {name: parameter.default for name, parameter in
                inspect.signature(BUILDERS[args.model]).parameters.items()}
    chosen = {**defaults, **builder_args(args)}
    text = args.model + (str(list(chosen["widths"])) if "widths" in chosen else "")
    if chosen.get("io_kernel", 2) != 2:
        text += f", io_kernel {chosen['io_kernel']}"
    if chosen.get("convs_per_level", 2) != 2:
        text += f", convs_per_level {chosen['convs_per_level']}"
    if list(chosen.get("half_res_convs", (2, 2))) != [2, 2]:
        text += f", half_res_convs {list(chosen['half_res_convs'])}"
    for option in ("full_res_head", "subpixel_head", "raw_skip", "paper_ratio"):
        if chosen.get(option):
            text += f", {option} {chosen[option]}"
    return text


def build_model(args: argparse.Namespace):
    from training.model import BUILDERS

    return BUILDERS[args.model](**builder_args(args))


def learning_rate(args: argparse.Namespace):
    """Linear warm-up then cosine decay to zero: the last epoch's weights are settled, which is
    what the all-data run (no validation to pick from) ships."""
    import keras

    total = args.epochs * args.steps
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total - args.warmup), warmup_target=args.lr,
        warmup_steps=args.warmup,
    )


def saturating_mse(y_true, y_pred):
    """MSE that does not punish overshoot where the target sits at a bound: the export clips to
    [0, 1], so white paper predicted at 1.03 is exactly right. Plain MSE pulls the paper to
    just under 1, and that bias survives 8-bit rounding on most of a page."""
    from keras import ops

    return ops.mean(_saturating_error(y_true, y_pred), axis=(1, 2, 3))


def _saturating_error(y_true, y_pred):
    from keras import ops

    error = y_pred - y_true
    past_white = ops.logical_and(y_true >= 1.0, error > 0)
    past_black = ops.logical_and(y_true <= 0.0, error < 0)
    error = ops.where(ops.logical_or(past_white, past_black), ops.zeros_like(error), error)
    return ops.square(error)


INK_DARK = 0.3  # an ink-map pixel of ink is right once the output is this dark
INK_WEIGHT = 2.0  # ink is a few percent of a page: its misses count double
SOFT_F_WEIGHT = 0.02


def page_loss(y_true, y_pred):
    """Per patch: `saturating_mse` against a clean gray target, or, where the target is an ink
    map (channel 1), "ink is dark, paper is white": squared shortfall of ink above `INK_DARK`
    (twice weighted) and of paper below 1, plus 1 - a soft F-measure of "output below 0.5"."""
    from keras import ops

    target, is_map = y_true[..., :1], y_true[..., 1:]
    gray = _saturating_error(target, y_pred)
    ink = ops.cast(target < 0.5, y_pred.dtype)
    hinge = ink * INK_WEIGHT * ops.square(ops.relu(y_pred - INK_DARK)) + (
        1.0 - ink) * ops.square(ops.relu(1.0 - y_pred))
    pixels = ops.mean(ops.where(is_map > 0, hinge, gray), axis=(1, 2, 3))
    found = ops.sigmoid((0.5 - y_pred) * 25.0)
    hits = ops.sum(found * ink, axis=(1, 2, 3))
    soft_f = 2.0 * hits / (ops.sum(found, axis=(1, 2, 3)) + ops.sum(ink, axis=(1, 2, 3)) + 1.0)
    mapped = ops.max(is_map, axis=(1, 2, 3))
    return pixels + SOFT_F_WEIGHT * mapped * (1.0 - soft_f)


def make_validation_callback(keras, model, val_sets: dict, multiple: int, margin: int,
                             ink_sets: dict | None = None):
    """Adds `val_rmse` (and one entry per extra set; per `ink_sets` entry the F-measure of
    "output below 0.5" against the ink, averaged per group of pages, then over groups; and
    `val_score`: real pages plus synthetic documents plus 0.1 x (1 - F) per ink set) to the
    epoch logs, measured on whole pages exactly as the export runs them; callbacks after it
    (checkpoint, early stop) read them."""
    from training.ink_suite import fmeasure

    denoiser = keras_denoiser(model, multiple=multiple, margin=margin)
    ink_sets = ink_sets or {}

    class PageValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for key, pages in val_sets.items():
                outputs = denoise_pages(denoiser, pages)
                logs[key] = score_pages(outputs, pages, with_ssim=False)["rmse"]
            for key, (pages, inks, groups) in ink_sets.items():
                outputs = denoise_pages(denoiser, pages)
                scores: dict[str, list[float]] = {}
                for output, ink, group in zip(outputs, inks, groups, strict=True):
                    scores.setdefault(group, []).append(fmeasure(output, ink))
                logs[key] = float(np.mean([np.mean(v) for v in scores.values()]))
            logs["val_score"] = logs["val_rmse"] + logs.get("val_docs_rmse", 0.0) + sum(
                0.1 * (1 - logs[key] / 100) for key in ink_sets)
            print(" - ".join(f"{k} {logs[k]:.4f}" for k in [*val_sets, *ink_sets, "val_score"]),
                  flush=True)

    return PageValidation()


def ink_validation_sets(args: argparse.Namespace, held_names: list[str]) -> dict:
    """{log key: (pages, ink masks, groups)}: the held-out real ink-map pages (centre crops of
    at most 768 px, so an epoch's check stays short; grouped by collection, so that each
    counts the same whatever its page count) and synthetic photographed pages."""
    sets = {}
    if held_names:
        held = load_ink_pages(args.ink_data, held_names)
        crops = [_centre(p.dirty, 768) for p in held]
        inks = [_centre(p.ink, 768) for p in held]
        sets["val_ink_f"] = ([Page(-201 - i, c, None) for i, c in enumerate(crops)], inks,
                             [p.collection for p in held])
    if args.camera:
        pages = camera_pages(seed=2027, n=12)
        sets["val_camera_f"] = (pages, [p.clean < 0.5 for p in pages], ["camera"] * len(pages))
    return sets


def _centre(x: np.ndarray, side: int) -> np.ndarray:
    y0, x0 = max(0, (x.shape[0] - side) // 2), max(0, (x.shape[1] - side) // 2)
    return x[y0 : y0 + side, x0 : x0 + side]


def epoch_timer(keras):
    """Adds `epoch_seconds` (wall time of the epoch, validation included) to the epoch logs."""

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs["epoch_seconds"] = time.time() - self.started

    return EpochTimer()


def plot_history(history: dict[str, list[float]], path: Path, title: str) -> None:
    """Training loss (as RMSE on patches) and validation RMSE per epoch, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax.plot(epochs, np.sqrt(history["loss"]), label="train loss as RMSE (augmented patches)")
    for key, label in (("val_rmse", "validation RMSE (real pages)"),
                       ("val_unseen_rmse", "validation RMSE (unseen synthetic backgrounds)")):
        if key in history:
            ax.plot(epochs, history[key], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def model_card(args, metrics: dict, train_ids: list[int], val_ids: list[int],
               ink_split: tuple[list[str], list[str]] = ([], [])) -> dict:
    """Card fields for the export: data, validation figures (this run's or the quoted runs'),
    the command that reproduces the model."""
    reference = {}
    for folder in args.reference_runs:
        ref = json.loads((Path(folder) / "metrics.json").read_text())
        reference[Path(folder).name] = {k: ref.get(k) for k in
                                        ("model", "val_rmse", "val_unseen_rmse", "best_epoch",
                                         "val_blocks", "parameters", "wall_minutes")}
    return {
        "model": args.model,
        "architecture": metrics["architecture"],
        "builder_args": metrics["builder_args"],
        "multiple": metrics["multiple"],
        "training_data": {
            "source": "NoisyOffice via Kaggle 'Denoising Dirty Documents' (CC BY 4.0): "
                      "dirty/clean 8-bit grayscale pages at native resolution",
            "pairs": len(train_ids), "ids": train_ids,
            "blocks": sorted({block_of(i) for i in train_ids}),
            "augmentation": f"{args.patch}px patches, flips, {args.scale:.0%} resampled "
                            f"0.8-1.25x, {args.synthetic:.0%} on synthetic backgrounds (stains, "
                            "rings, folds, wrinkles, crumples, shadows, tints; bolder/thinner "
                            f"strokes; {args.rendered:.0%} of them text rendered in 16 other "
                            "typefaces), brightness/contrast/gamma, blur, noise, JPEG"
                            + (f"; {args.engine:.0%} of all patches synthetic documents from the "
                               "page engine (training.page_engine, training.scan): "
                               f"{available_faces().count} faces incl. handwriting, 6-40 pt at "
                               "100-600 DPI, bold runs, headings, faint and pencil ink restored "
                               "to readable, solid marks, tables, pen strokes; real, procedural "
                               "and aged paper, bleed-through" if args.engine else "")
                            + (f"; {args.camera:.0%} of those photographed (small type, cast "
                               "shadows, falloff, gutters, page edges, blur) and "
                               f"{args.faded:.0%} with ink fading along its strokes"
                               if args.engine and (args.camera or args.faded) else ""),
            **({"ink_maps": {
                "source": "historical-ink: 91 real degraded pages from five public "
                          "binarization collections (DIBCO 2019 A, MCS 2019, MSI 2015, Nabuco, "
                          "PHIBD 2019) with their authors' ink maps; targets: ink dark, paper "
                          "white",
                "share": args.mapped, "pages": len(ink_split[0]), "held_out": ink_split[1],
                "loss": "ink above 0.3 and paper below 1 squared (ink twice), plus "
                        f"{SOFT_F_WEIGHT} x (1 - soft F-measure of output below 0.5)"}}
               if ink_split[0] else {}),
        },
        "validation": {
            "blocks": args.val_blocks, "ids": val_ids,
            "val_rmse": metrics.get("val_rmse"), "val_unseen_rmse": metrics.get("val_unseen_rmse"),
            **{key: metrics[key] for key in ("val_docs_rmse", "val_ink_f", "val_camera_f",
                                             "val_score") if key in metrics},
            "reference_runs": reference,
        },
        "training": {"epochs": metrics["epochs_run"], "wall_minutes": metrics["wall_minutes"],
                     "epoch_seconds": metrics["epoch_seconds"], "seed": args.seed,
                     "command": metrics["command"],
                     **({"teacher": {"network": args.teacher, "weight": args.teacher_weight}}
                        if args.teacher else {})},
    }


def main(argv: list[str] | None = None) -> dict:
    # oneDNN kernels (--onednn, set by parse_args): TensorFlow's default depends on the CPU, and
    # it leaves them off on AVX2 machines, where they make a training step 1.8x faster
    # (convolution gradients). Only here: for whole-page inference the default kernels are
    # faster there, so serving and evaluation keep the default. No effect once TensorFlow is
    # loaded (tests).
    args = parse_args(argv)
    keras, tf = setup_tf(args.seed, args.threads)
    from training.model import size_multiple

    ids = list_ids(args.data, "train_cleaned")
    train_ids, val_ids = split_by_blocks(ids, args.val_blocks)
    train_pages = load_pages(args.data, train_ids)
    val_pages = load_pages(args.data, val_ids)
    run = Path(args.runs) / (args.name or f"{args.model}-seed{args.seed}")
    run.mkdir(parents=True, exist_ok=True)
    command = "python -m training.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    config = {**vars(args), "data": str(args.data), "ink_data": str(args.ink_data or ""),
              "train_ids": train_ids, "val_ids": val_ids,
              "command": command, "tensorflow": tf.__version__,
              "onednn": str(args.onednn)}
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    # training.export loads TensorFlow: here, after setup_tf set its options
    from training.export import network_from
    from training.model import transplant_weights

    model = build_model(args)
    if args.init:
        transplant_weights(model, network_from(args.init))
    multiple = size_multiple(model)
    optimizer = keras.optimizers.Adam(learning_rate(args), use_ema=args.ema > 0,
                                      ema_momentum=args.ema or 0.99)
    model.compile(optimizer=optimizer, loss=page_loss)
    ink_split = (split_names(list_names(args.ink_data)) if args.mapped and args.ink_data
                 else ([], []))
    ink_train = load_ink_pages(args.ink_data, ink_split[0]) if ink_split[0] else []
    sampler = PatchSampler(train_pages, args.patch, seed=args.seed, synthetic=args.synthetic,
                           overlay=args.overlay, scale=args.scale, stroke=args.stroke,
                           rendered=args.rendered, engine=args.engine, camera=args.camera,
                           faded=args.faded, ink_pages=ink_train, mapped=args.mapped,
                           verso=args.verso)
    # The weight average goes into the model at each epoch end, so validation, checkpoint and
    # the final weights are the averaged ones (steadier than the last step's).
    callbacks = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if args.ema > 0 else []
    if val_pages:
        val_sets = {"val_rmse": val_pages, "val_unseen_rmse": robustness_pages(val_pages)}
        if args.engine:
            val_sets["val_docs_rmse"] = document_pages(seed=2025)
        callbacks += [
            make_validation_callback(keras, model, val_sets, multiple, args.margin,
                                     ink_validation_sets(args, ink_split[1])),
            keras.callbacks.ModelCheckpoint(str(run / "model.keras"), monitor=args.select,
                                            mode="min", save_best_only=True),
            keras.callbacks.EarlyStopping(monitor=args.select, mode="min",
                                          patience=args.patience, restore_best_weights=True),
        ]
    callbacks += [epoch_timer(keras), keras.callbacks.CSVLogger(str(run / "history.csv"))]
    start = time.time()
    patches = patch_dataset(sampler, args.batch)
    if args.teacher:
        patches = with_teacher(patches, network_from(args.teacher), args.teacher_weight)
    fit = model.fit(patches, epochs=args.epochs,
                    steps_per_epoch=args.steps, callbacks=callbacks, verbose=args.verbose,
                    shuffle=False)
    wall = (time.time() - start) / 60
    if not val_pages:
        model.save(run / "model.keras")
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    (run / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    best = int(np.argmin(history[args.select])) if val_pages else len(history["loss"]) - 1
    metrics = {
        "model": args.model,
        "architecture": describe(args),
        "builder_args": builder_args(args),
        "parameters": int(model.count_params()),
        "multiple": multiple,
        "epochs_run": len(history["loss"]),
        "best_epoch": best + 1,
        "train_loss_rmse": math.sqrt(history["loss"][best]),
        "val_blocks": args.val_blocks,
        "wall_minutes": round(wall, 1),
        "epoch_seconds": [round(t) for t in history["epoch_seconds"]],
        "command": command,
    }
    for key in ("val_rmse", "val_unseen_rmse", "val_docs_rmse", "val_ink_f", "val_camera_f",
                "val_score"):
        if key in history:
            metrics[key] = history[key][best]
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    card = model_card(args, metrics, train_ids, val_ids, ink_split)
    (run / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    plot_history(history, run / "loss_curve.png", f"{metrics['architecture']}, run {run.name}")
    print(json.dumps({k: metrics[k] for k in metrics if k != "command"}), flush=True)
    return metrics


if __name__ == "__main__":
    main()
