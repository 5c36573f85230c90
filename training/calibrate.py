"""Fit the 8-bit output table of a trained denoiser on the pages it was trained on.

The network is trained on augmented patches (synthetic backgrounds, scanner jitter), so its
8-bit output levels are slightly off the gray levels of the real clean pages (faint text edges
come out too light, for example). The MSE-optimal fix of a pointwise output error is the mean
clean value seen at each output level: a 256-entry table, kept monotone so that darker stays
darker, applied after rounding in the exported graph (`training.export --calibration`). It is
fitted on the run's own training pages only, so the held-out blocks still measure it honestly.

    python -m training.calibrate runs/unet-val --data ../shared/data/noisyoffice-ddd
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfmodel.runtime import import_tensorflow
from training.denoisers import keras_denoiser
from training.pages import Page, add_data_argument, load_pages


def isotonic(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [weighted mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks[-1]
            blocks[-1] = [(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2]
    return np.concatenate([np.full(int(n), v) for v, _, n in blocks])


def fit_levels(outputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> np.ndarray:
    """Table uint8[256]: output level -> the monotone mean target level at that output.

    `outputs` are uint8 pages from the network, `targets` the clean pages in [0, 1]. Levels the
    pages never produce are interpolated between their neighbours (identity at the ends).
    """
    sums = np.zeros(256)
    counts = np.zeros(256)
    for out, target in zip(outputs, targets, strict=True):
        np.add.at(sums, out.ravel().astype(np.int64), np.asarray(target, np.float64).ravel())
        np.add.at(counts, out.ravel().astype(np.int64), 1)
    seen = np.flatnonzero(counts)
    if seen.size == 0:
        return np.arange(256, dtype=np.uint8)
    fitted = isotonic(sums[seen] / counts[seen] * 255.0, counts[seen])
    xs = np.concatenate([[0], seen, [255]])
    ys = np.concatenate([[min(0.0, fitted[0])], fitted, [max(255.0, fitted[-1])]])
    table = np.interp(np.arange(256), xs, ys)
    return np.clip(np.round(table), 0, 255).astype(np.uint8)


def apply_levels(page: np.ndarray, levels: np.ndarray) -> np.ndarray:
    return levels[page]


def pool_rmse(outputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> float:
    squared = sum(float(np.sum((o / 255.0 - t) ** 2)) for o, t in zip(outputs, targets,
                                                                      strict=True))
    return float(np.sqrt(squared / sum(t.size for t in targets)))


def network_levels(model, pages: Sequence[Page], *, multiple: int, margin: int) -> list[np.ndarray]:
    """uint8 outputs of a Keras model on whole pages, padded as the export pads them."""
    run = keras_denoiser(model, multiple=multiple, margin=margin)
    return [np.round(run(p.dirty[None, ..., None])[0, ..., 0] * 255).astype(np.uint8)
            for p in pages]


def calibrate_run(run: Path, data: str | Path, margin: int = 64, command: str = "") -> dict:
    """Fits the table for `run/model.keras` on the run's training pages; writes
    `run/calibration.json` (the table and the RMSE on those pages before and after)."""
    # TensorFlow loads here: --help and the quick-tier tests of the fit need none
    from training.model import load_network

    config = json.loads((run / "config.json").read_text())
    card = json.loads((run / "card.json").read_text())
    model = load_network(run / "model.keras")
    pages = load_pages(data, config["train_ids"])
    outputs = network_levels(model, pages, multiple=card["multiple"], margin=margin)
    targets = [p.clean for p in pages]
    levels = fit_levels(outputs, targets)
    result = {
        "levels": levels.tolist(),
        "fitted_on": {"pages": len(pages), "ids": config["train_ids"], "margin": margin},
        "train_rmse_before": pool_rmse(outputs, targets),
        "train_rmse_after": pool_rmse([apply_levels(o, levels) for o in outputs], targets),
        "command": command,
    }
    (run / "calibration.json").write_text(json.dumps(result) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder (config.json, card.json, model.keras)")
    add_data_argument(parser)
    parser.add_argument("--margin", type=int, default=64, help="mirror margin, as exported")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    args = parser.parse_args(argv)
    import_tensorflow(args.threads, 2)
    command = "python -m training.calibrate " + shlex.join(sys.argv[1:] if argv is None else argv)
    result = calibrate_run(Path(args.run), args.data, args.margin, command)
    print(json.dumps({k: v for k, v in result.items() if k not in ("levels", "fitted_on")}))
    return result


if __name__ == "__main__":
    main()
