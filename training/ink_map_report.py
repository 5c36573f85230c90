"""F-measure of "output below half of white" against ink maps: the held-out real pages of the
historical-ink folder, per collection, and synthetic photographed pages, for every model next
to doing nothing, Otsu and Sauvola (window 25, k 0.2); and a picture of the worst pages.

What users see on faded handwriting and phone photos is whether a stroke comes out dark, so
this is the figure the DIBCO contests and the outside check use, not RMSE.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.denoisers import Denoiser, denoise_pages, do_nothing
from training.ink_pages import MappedPage, list_names, load_ink_pages, split_names
from training.ink_suite import binarizer, fmeasure, otsu, sauvola
from training.input_sets import camera_pages
from training.pages import Page

BASELINES: dict[str, Denoiser] = {"do_nothing": do_nothing, "otsu": binarizer(otsu),
                                  "sauvola": binarizer(sauvola)}


def held_out_pages(folder: str | Path) -> list[MappedPage]:
    return load_ink_pages(folder, split_names(list_names(folder))[1])


def camera_set(seed: int = 2028, n: int = 24) -> list[MappedPage]:
    """Photographed pages from a seed training and its validation never use, as ink maps (the
    clean target below 0.5)."""
    return [MappedPage(f"camera_{-p.id - 100:02d}", p.dirty, p.clean < 0.5)
            for p in camera_pages(seed, n)]


def score_sets(denoisers: dict[str, Denoiser], sets: dict[str, Sequence[MappedPage]]) -> dict:
    """{set: {method: {"f": mean F, "pages": {name: F}}}}; the real set also per collection as
    sets of their own (`real:<collection>`)."""
    report: dict = {}
    for set_name, pages in sets.items():
        groups = {set_name: list(pages)}
        if set_name == "real":
            for page in pages:
                groups.setdefault(f"real:{page.collection}", []).append(page)
        scores = {name: {p.name: fmeasure(out, p.ink) for p, out in
                         zip(pages, denoise_pages(d, [Page(0, p.dirty) for p in pages]),
                             strict=True)}
                  for name, d in denoisers.items()}
        for group, members in groups.items():
            report[group] = {}
            for name in denoisers:
                by_page = {p.name: scores[name][p.name] for p in members}
                report[group][name] = {"f": float(np.mean(list(by_page.values()))),
                                       "pages": by_page}
            print(group, {k: round(v["f"], 1) for k, v in report[group].items()}, flush=True)
    return report


def f_table(report: dict) -> str:
    """Markdown: one row per set (and collection), one column per method."""
    methods = list(next(iter(report.values())))
    lines = ["| pages | count | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for group, row in report.items():
        best = max(row[m]["f"] for m in methods)
        cells = [f"**{row[m]['f']:.1f}**" if row[m]["f"] == best else f"{row[m]['f']:.1f}"
                 for m in methods]
        lines.append(f"| {group} | {len(row[methods[0]]['pages'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def worst_pages_picture(pages: Sequence[MappedPage], denoisers: dict[str, Denoiser],
                        scores: dict[str, float], path: str | Path, count: int = 4,
                        crop: int = 420) -> list[str]:
    """Rows of the `count` pages with the lowest `scores` (F per page name, as `score_sets`
    gives them): the page, each denoiser's output, the ink map; a `crop`-px square around the
    most ink. Returns the pages' names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worst = sorted(pages, key=lambda p: scores[p.name])[:count]
    columns = ["input", *denoisers, "ink map"]
    fig, axes = plt.subplots(len(worst), len(columns), figsize=(2.6 * len(columns),
                                                                2.6 * len(worst)),
                             dpi=100, squeeze=False)
    for r, page in enumerate(worst):
        y0, x0 = _inkiest(page.ink, crop)
        window = (slice(y0, y0 + crop), slice(x0, x0 + crop))
        images = [page.dirty, *(denoise_pages(d, [Page(0, page.dirty)])[0]
                                for d in denoisers.values()), 1.0 - page.ink]
        for c, image in enumerate(images):
            ax = axes[r][c]
            ax.imshow(image[window], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(columns) - 1 and c > 0:
                ax.set_xlabel(f"F {fmeasure(image, page.ink):.1f}", fontsize=8)
            if r == 0:
                ax.set_title(columns[c], fontsize=10)
        axes[r][0].set_ylabel(page.name, fontsize=8)
    fig.tight_layout(pad=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, pil_kwargs={"optimize": True})
    plt.close(fig)
    return [p.name for p in worst]


def _inkiest(ink: np.ndarray, crop: int) -> tuple[int, int]:
    """Top-left corner of the `crop` square (on a coarse grid) holding the most ink."""
    h, w = ink.shape
    best, corner = -1.0, (0, 0)
    for y in range(0, max(1, h - crop + 1), max(1, crop // 4)):
        for x in range(0, max(1, w - crop + 1), max(1, crop // 4)):
            amount = float(ink[y : y + crop, x : x + crop].sum())
            if amount > best:
                best, corner = amount, (y, x)
    return corner
