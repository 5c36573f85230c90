"""The speed-quality frontier: held-out RMSE against milliseconds per megapixel, every model
timed in one run on one machine.

Points: every version under the model base path (figures from its card's `validation`
section), every candidate run given (figures from RUN/eval/report.json, timing through
RUN/export/1), and the baseline architecture (figures from the newest card that recorded it,
timed with fresh weights: the time of a network does not depend on its weights). Each point
is timed through its exported `denoise` signature (float page in) and `serving_default`
(PNG in, PNG out) on a 540x420 test page and an A4 300 DPI mosaic of test pages, in rounds
that visit every model in turn, so a busy machine slows them all alike; medians are reported.
ms per megapixel is that of `denoise` on the first size, per pixel of the page (the mirrored
margins and padding are part of the cost).

With `--mixed-precision bfloat16` every point also gets a twin run as TF Serving's
`--mixed_precision=bfloat16` runs it. The rewrite is process-wide, so the twins are loaded in a
child process and timed there, in the same rounds; a candidate twin's figures come from
RUN/eval-bfloat16/report.json (`training.evaluate --mixed-precision bfloat16`) when it exists.

    python -m training.frontier --data $D --run s2d16=runs/s2d16-val \\
        --plot docs/img/frontier.png --doc docs/model.md

Writes OUT/frontier.json and OUT/frontier.md, the plot, and (with --doc) the table between the
`<!-- frontier:begin -->` and `<!-- frontier:end -->` lines of that Markdown file, so a later
version is added by re-running the command.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf  # already loaded by training.export
from PIL import Image

from tfmodel.precision import enable
from tfmodel.runtime import import_tensorflow
from tfmodel.versions import version_folders
from training.card import SETS, validation_section
from training.export import DEFAULT_BASE, export_model
from training.imageops import read_gray
from training.model import build_baseline, size_multiple
from training.pages import add_data_argument, list_ids

BEGIN, END = "<!-- frontier:begin -->", "<!-- frontier:end -->"


@dataclass
class Point:
    """One model on the chart: where its figures come from and the folder that is timed."""

    name: str
    kind: str  # "version", "candidate" or "architecture"
    folder: Path
    architecture: str
    parameters: int
    figures: dict[str, float | None]
    source: str
    shipped: bool = False
    precision: str = ""  # "" float32, or the mixed precision it runs in
    ms: dict[str, float] = field(default_factory=dict)


def version_points(base: Path) -> list[Point]:
    """Every numbered version with a card, its figures from the card's validation section."""
    folders = version_folders(base)
    points = []
    for number, folder in sorted(folders.items()):
        card_path = base / f"{number}.card.json"
        if not card_path.exists():
            continue
        card = json.loads(card_path.read_text())
        validation = card.get("validation", {})
        points.append(Point(
            f"version {number}", "version", folder, card.get("architecture", "?"),
            card.get("parameters", 0), _figures(validation), f"{card_path.name} validation",
            shipped=number == max(folders)))
    return points


def run_point(name: str, run: Path) -> Point:
    """A candidate: a validation run exported to RUN/export/1 and scored in RUN/eval."""
    section = validation_section(run)
    card = json.loads((run / "export" / "1.card.json").read_text())
    return Point(name, "candidate", run / "export" / "1", card.get("architecture", "?"),
                 card.get("parameters", 0), _figures(section), f"{run}/eval/report.json")


def twin(point: Point, mode: str) -> Point:
    """`point` run in mixed precision `mode`; figures of its own evaluation where there is one."""
    evaluation = point.folder.parents[1] / f"eval-{mode}" if point.kind == "candidate" else None
    figures, source = {key: None for key in point.figures}, "not scored in " + mode
    if evaluation is not None and (evaluation / "report.json").exists():
        figures = _figures(validation_section(evaluation.parent, evaluation.name))
        source = f"{evaluation}/report.json"
    return Point(f"{point.name} {mode}", point.kind, point.folder, point.architecture,
                 point.parameters, figures, source, precision=mode)


def baseline_point(versions: Sequence[Point], base: Path, scratch: Path) -> Point | None:
    """The original service's architecture, exported with fresh weights for timing; its
    held-out figures are the newest card's record of it (same budget and data mix)."""
    for point in reversed(versions):
        card = json.loads((base / f"{point.folder.name}.card.json").read_text())
        recorded = card.get("validation", {}).get("baseline_architecture_same_budget")
        if recorded:
            model = build_baseline()
            folder = export_model(model, scratch, multiple=size_multiple(model), version=1)
            return Point("baseline architecture", "architecture", folder, "baseline",
                         model.count_params(), _figures(recorded),
                         f"{point.folder.name}.card.json validation."
                         "baseline_architecture_same_budget")
    return None


def _figures(section: dict) -> dict[str, float | None]:
    keys = [*SETS.values(), "val_false_ink"]
    return {key: section.get(key) for key in keys}


def test_pages(data: Path, sizes: Sequence[str]) -> dict[str, bytes]:
    """PNG pages to time, one per "WxH" size: a test page of that size if the data has one,
    otherwise a mosaic of test pages (e.g. 2480x3508, an A4 page at 300 DPI)."""
    sources = [(read_gray(data / "test" / f"{i}.png") * 255).round().astype(np.uint8)
               for i in list_ids(data, "test")]
    pages = {}
    for size in sizes:
        width, height = _size(size)
        exact = [page for page in sources if page.shape == (height, width)]
        pages[size] = _png(exact[0] if exact else _mosaic(sources, width, height))
    return pages


def _size(size: str) -> tuple[int, int]:
    width, height = (int(v) for v in size.lower().split("x"))
    return width, height


def _mosaic(sources: Sequence[np.ndarray], width: int, height: int) -> np.ndarray:
    canvas = np.full((height, width), 255, np.uint8)
    i = 0
    step_y, step_x = sources[0].shape
    for top in range(0, height, step_y):
        for left in range(0, width, step_x):
            tile = sources[i % len(sources)]
            i += 1
            h, w = min(tile.shape[0], height - top), min(tile.shape[1], width - left)
            canvas[top : top + h, left : left + w] = tile[:h, :w]
    return canvas


def _png(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG")
    return buffer.getvalue()


def calls(folder: Path, pages: dict[str, bytes]) -> dict[str, Callable[[], object]]:
    """{"denoise 540x420": call, "serving_default 540x420": call, ...} for one SavedModel."""
    loaded = tf.saved_model.load(str(folder))
    denoise, serve = loaded.signatures["denoise"], loaded.signatures["serving_default"]
    out = {}
    for size, png in pages.items():
        pixels = tf.cast(tf.io.decode_png(png, channels=1), tf.float32)[tf.newaxis] / 255.0
        payload = tf.constant([png])
        out[f"denoise {size}"] = lambda x=pixels: denoise(images=x)["clean"].numpy()
        out[f"serving_default {size}"] = \
            lambda p=payload: serve(image_bytes=p)["clean_png_bytes"].numpy()
    out["_loaded"] = loaded  # keeps the restored functions alive
    return out


class TwinWorker:
    """The mixed-precision twins' calls, in a child process that turned the rewrite on; each
    call returns the milliseconds measured there."""

    def __init__(self, points: Sequence[Point], pages: dict[str, bytes], threads: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        folders = {p.name: (p.folder, p.precision) for p in points}
        self.process = context.Process(target=_twin_calls, args=(child, folders, pages, threads),
                                       daemon=True)
        self.process.start()
        self.options = self.connection.recv()  # the child's grappler options, once loaded

    def __call__(self, name: str, target: str) -> float:
        self.connection.send((name, target))
        return self.connection.recv()

    def close(self) -> None:
        self.connection.send(None)
        self.process.join(60)


def _twin_calls(connection, folders: dict[str, tuple[Path, str]], pages: dict[str, bytes],
                threads: int) -> None:
    import_tensorflow(threads, 2)
    for mode in {mode for _, mode in folders.values()}:
        enable(tf, mode)
    loaded = {name: calls(folder, pages) for name, (folder, _) in folders.items()}
    connection.send(tf.config.optimizer.get_experimental_options())
    while (job := connection.recv()) is not None:
        name, target = job
        connection.send(_timed(loaded[name][target]))


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - started)


def time_points(points: Sequence[Point], pages: dict[str, bytes], rounds: int,
                large_rounds: int, threads: int) -> None:
    """Fills `point.ms` with medians over rounds; each round visits every point in turn."""
    local = {p.name: calls(p.folder, pages) for p in points if not p.precision}
    twins = [p for p in points if p.precision]
    worker = TwinWorker(twins, pages, threads) if twins else None
    timers: dict[str, Callable[[str], float]] = {
        **{name: (lambda target, fns=fns: _timed(fns[target])) for name, fns in local.items()},
        **{p.name: (lambda target, name=p.name: worker(name, target)) for p in twins},
    }
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for target in (t for t in next(iter(local.values())) if not t.startswith("_")):
            for timer in timers.values():  # warm-up: traces and allocates
                timer(target)
            n = rounds if target.endswith(next(iter(pages))) else large_rounds
            for _ in range(n):
                for point in points:
                    samples.setdefault((point.name, target), []).append(
                        timers[point.name](target))
            print(target, {p.name: round(float(np.median(samples[(p.name, target)])), 1)
                           for p in points}, flush=True)
    finally:
        if worker:
            worker.close()
    for point in points:
        point.ms = {t: float(np.median(v)) for (n, t), v in samples.items() if n == point.name}


def ms_per_megapixel(point: Point) -> float:
    """Time per page pixel of `denoise` on the first (smallest) page size."""
    target = next(t for t in point.ms if t.startswith("denoise"))
    width, height = _size(target.split()[-1])
    return point.ms[target] / (width * height / 1e6)


def table(points: Sequence[Point]) -> str:
    """Markdown table, fastest first; times relative to the shipped version in brackets."""
    shipped = next((p for p in points if p.shipped), points[0])
    targets = list(shipped.ms)
    head = ("| model | architecture | parameters | held-out RMSE: real | unseen synthetic | "
            "JPEG q40 | false ink (24 pages) | ms/MP | "
            + " | ".join(f"`{t.split()[0]}` {t.split()[1]} ms" for t in targets) + " |")
    lines = [head, "|" + "---|" * (8 + len(targets))]
    for p in sorted(points, key=ms_per_megapixel):
        f = p.figures

        def num(key: str, digits: int = 4, f=f) -> str:
            return "" if f.get(key) is None else f"{f[key]:.{digits}f}"

        def ms(target: str, p=p) -> str:
            return f"{p.ms[target]:.1f} ({p.ms[target] / shipped.ms[target]:.2f}x)"

        name = f"**{p.name} (shipped)**" if p.shipped else p.name
        ink = "" if f.get("val_false_ink") is None else str(f["val_false_ink"])
        lines.append(
            f"| {name} | {p.architecture} | {p.parameters:,} | {num('val_rmse')} | "
            f"{num('val_unseen_rmse')} | {num('val_jpeg_q40_rmse')} | {ink} | "
            f"{ms_per_megapixel(p):.0f} | " + " | ".join(ms(t) for t in targets) + " |")
    return "\n".join(lines)


def plot(points: Sequence[Point], path: Path, title: str) -> None:
    """Held-out RMSE (real scans) against ms per megapixel; the shipped version starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    colours = {"version": "tab:blue", "candidate": "tab:orange", "architecture": "tab:gray"}
    shown = [p for p in points if p.figures.get("val_rmse") is not None]
    xs = {p.name: ms_per_megapixel(p) for p in shown}
    span = max(xs.values()) - min(xs.values()) or 1.0
    for p in shown:
        x, y = xs[p.name], p.figures["val_rmse"]
        # neighbours' labels stacked in the order of their points, so none covers another
        near = sorted((q for q in shown if abs(xs[q.name] - x) < 0.1 * span),
                      key=lambda q: q.figures["val_rmse"])
        dy = 10 * (near.index(p) - (len(near) - 1) / 2)
        ax.scatter([x], [y], s=160 if p.shipped else 40, marker="*" if p.shipped else "o",
                   edgecolors=colours[p.kind], zorder=3,
                   facecolors="none" if p.precision else colours[p.kind])
        ax.annotate(p.name + (" (shipped)" if p.shipped else ""), (x, y), fontsize=7,
                    xytext=(6, dy), textcoords="offset points", va="center")
    for kind, colour in colours.items():
        ax.scatter([], [], color=colour, label={"version": "shipped versions",
                                                "candidate": "candidates (validation runs)",
                                                "architecture": "baseline architecture"}[kind])
    if any(p.precision for p in shown):
        ax.scatter([], [], edgecolors="black", facecolors="none",
                   label="hollow: the same model in mixed precision")
    ax.set_yscale("log")
    ax.set_xlabel("ms per megapixel (exported `denoise`, one page, one run)")
    ax.set_ylabel("held-out RMSE (real scans, blocks 4/10/16)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def splice(doc: Path, text: str) -> None:
    """Replaces the lines between the frontier markers of `doc` with `text`."""
    content = doc.read_text()
    start, end = content.find(BEGIN), content.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{doc} has no {BEGIN} ... {END} section")
    doc.write_text(content[: start + len(BEGIN)] + "\n" + text + "\n" + content[end:])


def main(argv: list[str] | None = None) -> list[Point]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser, "data folder (its test/ pages are timed)")
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE,
                        help="model base path: every numbered version with a card is a point")
    parser.add_argument("--run", nargs="*", default=[], metavar="NAME=RUN",
                        help="candidate validation runs (RUN/export/1 and RUN/eval/report.json)")
    parser.add_argument("--sizes", nargs="+", default=["540x420", "2480x3508"],
                        help="page sizes timed, WxH; the first gives ms per megapixel")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds, first size")
    parser.add_argument("--large-rounds", type=int, default=3, help="timing rounds, other sizes")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument("--mixed-precision", choices=["bfloat16"],
                        help="also time every point in this mixed precision (a twin each)")
    parser.add_argument("--out", type=Path, default=Path("runs/frontier"),
                        help="folder for frontier.json and frontier.md")
    parser.add_argument("--plot", type=Path, help="chart PNG (default: OUT/frontier.png)")
    parser.add_argument("--doc", type=Path,
                        help="Markdown file whose frontier section gets the table")
    args = parser.parse_args(argv)

    import_tensorflow(args.threads, 2)
    versions = version_points(args.base)
    candidates = [run_point(name, Path(run)) for name, run in
                  (item.split("=", 1) for item in args.run)]
    with tempfile.TemporaryDirectory() as scratch:
        extra = baseline_point(versions, args.base, Path(scratch))
        points = [*versions, *candidates, *([extra] if extra else [])]
        if args.mixed_precision:
            points += [twin(p, args.mixed_precision) for p in points]
        time_points(points, test_pages(args.data, args.sizes), args.rounds, args.large_rounds,
                    args.threads)
    command = "python -m training.frontier " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = table(points) + (f"\n\nTimed in one run of `{command}`: medians of "
                            f"{args.rounds} rounds ({args.sizes[0]}) and {args.large_rounds} "
                            f"(other sizes), "
                            f"{args.threads} threads; figures from: "
                            + "; ".join(f"{p.name}: {p.source}" for p in points) + ".")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "frontier.md").write_text(text + "\n")
    (args.out / "frontier.json").write_text(json.dumps(
        {"command": command, "points": [asdict(p) | {"folder": str(p.folder)} for p in points]},
        indent=2) + "\n")
    plot(points, args.plot or args.out / "frontier.png", "held-out RMSE vs time, one run")
    if args.doc:
        splice(args.doc, text)
    print(text)
    return points


if __name__ == "__main__":
    main()
