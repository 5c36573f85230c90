"""`python -m bench.modes`: what `cor` and `binaria` cost beside `cinza`, per page size, and how
large each answer is beside the page sent.

The three signatures of the highest version run in this process on the same colour pages
(bench/colour_pages.py, drawn at each size), taking turns in rounds so that drifting load on a
shared machine weighs on each alike; the table gives each mode's p50 as a ratio to `cinza`'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.colour_pages import colour_page
from bench.measure import Result, header, measure_interleaved, megapixels, row
from bench.pages import ROOT
from bench.report import add_load_args, start_run, write_report
from tfmodel.modes import MODES, signature
from tfmodel.versions import latest_version

SIZES = "540x420,1240x1754,2480x3508"  # a NoisyOffice page, A4 at 150 and at 300 DPI
LARGE = 4.0  # megapixels from which --large-requests applies


def mode_calls(model_base: Path) -> dict[str, Callable[[bytes], bytes]]:
    """Each mode's signature of the highest version: page bytes in, answer bytes out."""
    import tensorflow as tf  # heavy and optional (the `tf` extra): only the runs that need it

    signatures = tf.saved_model.load(str(latest_version(model_base))).signatures

    def call(mode: str) -> Callable[[bytes], bytes]:
        function = signatures[signature(mode)]
        return lambda page: function(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()[0]

    return {mode: call(mode) for mode in MODES}


def measure_size(calls: dict[str, Callable[[bytes], bytes]], size: str, count: int,
                 rounds: int) -> list[Result]:
    """One result per mode: latency, and the page's (sent) and the answer's kilobytes."""
    width, height = (int(v) for v in size.lower().split("x"))
    page = colour_page(width, height).png()
    answers = {mode: call(page) for mode, call in calls.items()}  # also the warm-up
    results = measure_interleaved(calls, [page], size=size, count=count,
                                  concurrency=1, time_limit=3600, rounds=rounds)
    return [replace(r, sent_kb=round(len(page) / 1024, 1),
                    received_kb=round(len(answers[r.target]) / 1024, 1)) for r in results]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "serving" / "models" /
                        "autoencoder", help="model base path (numbered versions)")
    parser.add_argument("--sizes", default=SIZES, help="comma-separated WxH")
    parser.add_argument("--requests", type=int, default=12, help="calls per mode and size")
    parser.add_argument("--large-requests", type=int, default=3,
                        help=f"calls per mode for pages of {LARGE:g} MP and more")
    parser.add_argument("--rounds", type=int, default=3, help="turns the modes take")
    parser.add_argument("--out", type=Path, help="JSON report (bench/report.py)")
    add_load_args(parser)
    args = parser.parse_args(argv)
    started = start_run(args, argv)
    calls = mode_calls(args.model_dir)
    print(header())
    results = []
    for size in args.sizes.split(","):
        count = args.large_requests if megapixels(size) >= LARGE else args.requests
        for result in measure_size(calls, size, count, min(args.rounds, count)):
            results.append(result)
            print(row(result))
    if args.out:
        write_report(args.out, "Output modes: cost and size beside cinza", results, started,
                     notes=["In this process, the highest version's signatures, one call at a "
                            "time, on synthetic colour pages (bench/colour_pages.py) drawn at "
                            "each size. `KB sent` is the PNG page, `KB back` the answer: "
                            "8-bit gray (cinza), RGB (cor), 1 bit (binaria)."],
                     reference="cinza")


if __name__ == "__main__":
    main()
