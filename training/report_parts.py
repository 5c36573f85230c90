"""What the evaluation and the ink suite both report: NAME=PATH model arguments and the grid of a
model's worst windows (in a module of its own so neither report imports the other)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.metrics import Window, false_ink_mask
from training.pages import Page


def window_grid(windows: Sequence[Window], outputs: Sequence[np.ndarray], pages: Sequence[Page],
                path: str | Path, title: str) -> None:
    """Rows of windows (dirty, output with false ink in red, clean target), each labelled with
    its page and RMSE: where a model fails, at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(windows), 3, figsize=(5.4, 1.9 * len(windows)), dpi=100,
                             squeeze=False)
    for row, win in zip(axes, windows, strict=True):
        page, out = pages[win.page], outputs[win.page]
        crop = (slice(win.y, win.y + win.size), slice(win.x, win.x + win.size))
        marked = np.repeat(out[crop][..., None], 3, axis=-1)
        labels, _ = false_ink_mask(out, page.clean)
        marked[labels[crop] > 0] = (1.0, 0.0, 0.0)
        titles = (f"page {page.id} at ({win.y}, {win.x})", f"output, RMSE {win.rmse:.3f}",
                  "clean target")
        for ax, image, label in zip(row, (page.dirty[crop], marked, page.clean[crop]), titles,
                                    strict=True):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, pil_kwargs={"optimize": True})
    plt.close(fig)


def named_paths(items: Sequence[str]) -> dict[str, str]:
    """NAME=PATH arguments as an ordered dict."""
    pairs = [item.split("=", 1) for item in items]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"expected NAME=PATH, got {items}")
    return dict(pairs)
