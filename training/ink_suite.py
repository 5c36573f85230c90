"""Ink preservation: does the model keep every stroke of type and marks that NoisyOffice lacks?

Pages of text in four common faces, regular and bold, 16-96 px, black and faint ink (0.45 of
the paper's white), plus solid marks (redaction bars, discs, logos, rings, knocked-out labels),
on stained paper. Per page: the share of the strokes' inner pixels that stay dark (output below
0.5), the letters that come back hollow, false ink, and the F-measure of the output thresholded
at 0.5 against the ink, next to Otsu and Sauvola. Seeds and texts are the suite's own, not the
page engine's training stream.

    python -m training.ink_suite --model v3=serving/models/autoencoder/3 v5=runs/unet5/export/1 \
        --out runs/ink
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from tfmodel.runtime import import_tensorflow
from training.backgrounds import blotch, synthetic_background
from training.denoisers import Denoiser, denoise_pages, do_nothing, saved_model_denoiser
from training.fonts import available_faces, font
from training.input_sets import document_pages
from training.metrics import DARK, false_ink, worst_windows
from training.page_engine import restore
from training.pages import Page
from training.report_parts import named_paths, window_grid

SIZES = (16, 24, 36, 54, 80, 96)
INKS = {"black": 1.0, "faint": 0.55}  # printed darkness; faint = 0.45 of the paper's white
FACES = ("DejaVuSans", "DejaVuSerif", "LiberationSans-Regular", "LiberationSerif-Regular")
BOLD = {"DejaVuSans": "DejaVuSans-Bold", "DejaVuSerif": "DejaVuSerif-Bold",
        "LiberationSans-Regular": "LiberationSans-Bold",
        "LiberationSerif-Regular": "LiberationSerif-Bold"}
TEXT = ("Quarterly Report 2026 Invoice No. 48213 Total Due Signature Received Approved "
        "Hamburg Bold Heading Summary of Accounts Pay to the order of Delivery Address")
HOLLOW_BELOW = 0.9  # a letter whose inner pixels are less than 90 % dark comes back hollow


@dataclass(frozen=True)
class InkPage:
    """A suite page: the dirty input, the clean target and where its ink is."""

    name: str
    kind: str  # "text" or "marks"
    weight: str
    size: int
    ink: str
    dirty: np.ndarray
    clean: np.ndarray
    coverage: np.ndarray  # ink coverage in [0, 1]

    @property
    def page(self) -> Page:
        return Page(0, self.dirty, self.clean)


def _face(name: str):
    for group in (available_faces().regular, available_faces().bold):
        for path in group:
            if path.stem == name:
                return path
    return None


def _paper(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    field = synthetic_background(rng, h, w) * rng.uniform(0.75, 0.95)
    for _ in range(2):
        field *= blotch(rng, h, w)
    return np.clip(field, 0.08, 1.0)


def _finish(name, kind, weight, size, ink, coverage, rng) -> InkPage:
    darkness = INKS[ink]
    h, w = coverage.shape
    dirty = _paper(rng, h, w) * (1.0 - 0.95 * darkness * coverage)
    clean = 1.0 - restore(darkness) * coverage
    q = np.round(np.clip(dirty, 0, 1) * 255) / 255
    return InkPage(name, kind, weight, size, ink, q.astype(np.float32),
                   clean.astype(np.float32), coverage)


def text_page(face_path: Path, size: int, ink: str, weight: str,
              rng: np.random.Generator) -> InkPage:
    step = int(size * 1.3)
    w, h = 900, int(np.clip(4 * step + size, 260, 640))
    image = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(image)
    words = TEXT.split()
    face = font(face_path, size)
    y, start = size // 3, int(rng.integers(len(words)))
    while y + size < h:
        line = " ".join(words[(start + i) % len(words)] for i in range(12))
        draw.text((size // 2, y), line, font=face, fill=255)
        y, start = y + step, start + 5
    coverage = np.asarray(image, np.float32) / 255.0
    return _finish(f"{face_path.stem} {weight} {size}px {ink}", "text", weight, size, ink,
                   coverage, rng)


def marks_page(ink: str, rng: np.random.Generator) -> InkPage:
    image = Image.new("L", (900, 420), 0)
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 40, 240, 100], fill=255)  # redaction bar 200x60
    draw.rectangle([300, 30, 700, 90], fill=255)  # wide bar with a knocked-out label
    draw.text((320, 38), "CONFIDENTIAL", font=font(_face("DejaVuSans") or
                                                   available_faces().bold[0], 40), fill=0)
    draw.ellipse([60, 180, 140, 260], fill=255)  # 80 px disc (a logo)
    draw.ellipse([200, 160, 360, 320], fill=255)  # 160 px disc
    draw.ellipse([420, 170, 560, 310], outline=255, width=18)  # thick ring (a stamp)
    star = [(690 + r * np.cos(a), 240 + r * np.sin(a))
            for a, r in zip(np.linspace(0, 2 * np.pi, 11)[:-1], [80, 35] * 5, strict=True)]
    draw.polygon(star, fill=255)
    draw.rectangle([790, 150, 860, 380], fill=255)  # tall bar
    draw.rectangle([40, 350, 700, 362], fill=255)  # 12 px rule
    coverage = np.asarray(image, np.float32) / 255.0
    return _finish(f"solid marks {ink}", "marks", "solid", 0, ink, coverage, rng)


@functools.cache
def suite_pages(seed: int = 31) -> tuple[InkPage, ...]:
    """Every face x weight x size x ink, and the marks in both inks (same pages every run, so
    made once per process)."""
    rng = np.random.default_rng(seed)
    pages = []
    for name in FACES:
        for weight, path in (("regular", _face(name)), ("bold", _face(BOLD[name]))):
            if path is None:
                continue
            for size in SIZES:
                for ink in INKS:
                    pages.append(text_page(path, size, ink, weight, rng))
    pages += [marks_page(ink, rng) for ink in INKS]
    if len(pages) <= 2:
        raise RuntimeError("no DejaVu or Liberation faces: install them (make fonts)")
    return tuple(pages)


def otsu(x: np.ndarray) -> np.ndarray:
    hist, edges = np.histogram(x, 256, (0.0, 1.0))
    p = hist / hist.sum()
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
    return np.where(x > edges[int(np.argmax(between)) + 1], 1.0, 0.0).astype(np.float32)


def sauvola(x: np.ndarray, window: int = 25, k: float = 0.2, r: float = 0.5) -> np.ndarray:
    mean = ndimage.uniform_filter(x.astype(np.float64), window, mode="reflect")
    sq = ndimage.uniform_filter(x.astype(np.float64) ** 2, window, mode="reflect")
    std = np.sqrt(np.maximum(sq - mean**2, 0))
    return np.where(x > mean * (1 + k * (std / r - 1)), 1.0, 0.0).astype(np.float32)


def binarizer(method) -> Denoiser:
    return lambda x: np.stack([method(p) for p in x[..., 0]])[..., None]


def fmeasure(output: np.ndarray, ink: np.ndarray) -> float:
    """F-measure (percent) of `output < 0.5` against the ink mask."""
    found = output < DARK
    tp = float(np.sum(found & ink))
    if tp == 0:
        return 0.0
    precision, recall = tp / found.sum(), tp / ink.sum()
    return 100 * 2 * precision * recall / (precision + recall)


def score(page: InkPage, output: np.ndarray) -> dict:
    solid = page.coverage >= 0.99
    inner = ndimage.binary_erosion(solid, np.ones((3, 3), bool))
    inner = inner if inner.any() else solid
    kept = output < DARK
    letters, count = ndimage.label(page.coverage >= 0.5, np.ones((3, 3), int))
    inner_per = ndimage.sum(inner, letters, range(1, count + 1))
    kept_per = ndimage.sum(inner & kept, letters, range(1, count + 1))
    big = inner_per >= 12
    return {
        "inner_kept": float(np.mean(kept[inner])),
        "letters": int(big.sum()),
        "hollow_letters": int(np.sum(kept_per[big] < HOLLOW_BELOW * inner_per[big])),
        "false_ink": false_ink(output, page.clean),
        "fmeasure": fmeasure(output, page.coverage >= 0.5),
    }


def suite_outputs(denoisers: dict[str, Denoiser], pages: Sequence[InkPage]) -> dict:
    """{denoiser: its output for every page}, run once for the scores and the grids."""
    return {name: denoise_pages(d, [p.page for p in pages]) for name, d in denoisers.items()}


def run_suite(outputs: dict[str, list[np.ndarray]], pages: Sequence[InkPage]) -> dict:
    """{denoiser: {"pages": {name: scores}, summary figures}} from `suite_outputs`."""
    report = {}
    for name, results in outputs.items():
        per = {p.name: score(p, y) for p, y in zip(pages, results, strict=True)}
        kept = [s["inner_kept"] for s in per.values()]
        report[name] = {
            "pages_below_98": int(sum(k < 0.98 for k in kept)),
            "worst_page": min(per, key=lambda n: per[n]["inner_kept"]),
            "worst_inner_kept": float(min(kept)),
            "mean_inner_kept": float(np.mean(kept)),
            "hollow_letters": int(sum(s["hollow_letters"] for s in per.values())),
            "letters": int(sum(s["letters"] for s in per.values())),
            "false_ink": int(sum(s["false_ink"] for s in per.values())),
            "fmeasure": float(np.mean([s["fmeasure"] for s in per.values()])),
            "pages": per,
        }
        print(f"{name:>12}: below 98 % {report[name]['pages_below_98']}/{len(pages)}, worst "
              f"{report[name]['worst_inner_kept']:.3f} ({report[name]['worst_page']}), hollow "
              f"{report[name]['hollow_letters']}, false ink {report[name]['false_ink']}, "
              f"F {report[name]['fmeasure']:.1f}", flush=True)
    return report


def grid_table(report: dict, pages: Sequence[InkPage]) -> str:
    """Markdown: inner ink kept per size x weight x ink (mean over faces), per model."""
    models = [m for m in report if m not in ("otsu", "sauvola", "do_nothing")]
    head = "| weight | ink | " + " | ".join(f"{s} px" for s in SIZES) + " | marks |"
    lines = []
    for model in models:
        lines += [f"\n**{model}**: share of the strokes' inner pixels kept dark\n", head,
                  "|---|---|" + "---|" * (len(SIZES) + 1)]
        per = report[model]["pages"]
        for weight in ("regular", "bold"):
            for ink in INKS:
                cells = []
                for size in SIZES:
                    vals = [per[p.name]["inner_kept"] for p in pages
                            if p.weight == weight and p.ink == ink and p.size == size]
                    cells.append(f"{np.mean(vals):.1%}" if vals else "")
                marks = [per[p.name]["inner_kept"] for p in pages
                         if p.kind == "marks" and p.ink == ink]
                cells.append(f"{marks[0]:.1%}" if marks and weight == "bold" else "")
                lines.append(f"| {weight} | {ink} | " + " | ".join(cells) + " |")
    summary = ["| method | pages below 98 % | worst page (inner kept) | hollow letters | "
               "false ink | F-measure at 0.5 |", "|---|---|---|---|---|---|"]
    for name, s in report.items():
        summary.append(f"| {name} | {s['pages_below_98']}/{len(pages)} | {s['worst_page']} "
                       f"({s['worst_inner_kept']:.1%}) | {s['hollow_letters']} of {s['letters']}"
                       f" | {s['false_ink']} | {s['fmeasure']:.1f} |")
    return "\n".join(summary + lines)


def documents_fmeasure(denoisers: dict[str, Denoiser], seed: int = 2026, n: int = 24) -> dict:
    """F-measure at 0.5 on synthetic documents (faint, pen and solid ink; aged paper,
    bleed-through) against their ink (target below 0.5), per method."""
    pages = document_pages(seed=seed, n=n)
    out = {}
    for name, denoiser in denoisers.items():
        outputs = denoise_pages(denoiser, pages)
        out[name] = float(np.mean([fmeasure(y, p.clean < DARK)
                                   for y, p in zip(outputs, pages, strict=True)]))
    return out


def before_after(pages: Sequence[InkPage], denoisers: dict[str, Denoiser], path: Path,
                 rows: Sequence[str] = ("DejaVuSans-Bold bold 80px black",
                                        "DejaVuSerif-Bold bold 54px faint"),
                 box: tuple[int, int] = (230, 620)) -> None:
    """A picture for the README: crops of suite pages, input then each model's output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [p for name in rows for p in pages if p.name == name]
    fig, axes = plt.subplots(len(chosen), 1 + len(denoisers),
                             figsize=(3.1 * (1 + len(denoisers)), 1.35 * len(chosen)),
                             dpi=110, squeeze=False)
    for row, page in zip(axes, chosen, strict=True):
        crop = (slice(0, box[0]), slice(0, box[1]))
        images = {"input": page.dirty}
        images.update({k: d(page.dirty[None, ..., None])[0, ..., 0] for k, d in
                       denoisers.items()})
        for ax, (title, image) in zip(row, images.items(), strict=True):
            ax.imshow(image[crop], cmap="gray", vmin=0, vmax=1, interpolation="antialiased")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{title}: {page.name}", fontsize=7)
    fig.tight_layout(pad=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, pil_kwargs={"optimize": True})
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, metavar="NAME=VERSION_DIR")
    parser.add_argument("--out", default="runs/ink", help="folder for report.json, table.md, "
                        "worst_<name>.png")
    parser.add_argument("--windows", type=int, default=8, help="worst windows per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--picture", help="write the README's before/after picture here")
    args = parser.parse_args(argv)
    import_tensorflow(args.threads, 2)
    pages = suite_pages()
    models = named_paths(args.model)
    denoisers = {"do_nothing": do_nothing, "otsu": binarizer(otsu),
                 "sauvola": binarizer(sauvola),
                 **{k: saved_model_denoiser(v) for k, v in models.items()}}
    outputs = suite_outputs(denoisers, pages)
    report = run_suite(outputs, pages)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in models:
        windows = worst_windows(outputs[name], [p.page for p in pages], size=96,
                                count=args.windows)
        window_grid(windows, outputs[name], [p.page for p in pages], out / f"worst_{name}.png",
                    f"{name}: worst 96x96 windows of the ink suite ({len(pages)} pages)")
    documents = documents_fmeasure(denoisers)
    print("F-measure at 0.5 on synthetic documents:", documents, flush=True)
    if args.picture:
        before_after(pages, {k: denoisers[k] for k in models}, Path(args.picture))
    meta = {"command": "python -m training.ink_suite " + shlex.join(
        sys.argv[1:] if argv is None else argv), "models": models,
        "pages": [p.name for p in pages]}
    (out / "report.json").write_text(json.dumps(
        {**meta, "results": report, "documents_fmeasure": documents}, indent=2) + "\n")
    table = grid_table(report, pages) + "\n\nF-measure at 0.5 on 24 synthetic documents: " + \
        ", ".join(f"{k} {v:.1f}" for k, v in documents.items())
    (out / "table.md").write_text(table + "\n")
    print(table)
    return report


if __name__ == "__main__":
    main()
