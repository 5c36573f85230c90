"""Stand-in test pages for a clone without the NoisyOffice data: rendered text composited on
synthetic stains, folds and shadows, in the data set's two page sizes.

The compose checks need real-looking PNG pages to send; a user who cloned the project alone
has none, and the stack should still be tested end to end. Figures measured on these pages are
not comparable with the data set's, so the scripts say which pages they used.

    python -m bench.synthetic_pages OUT --count 8    # writes OUT/test/1.png ... 8.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from training.backgrounds import composite, synthetic_background
from training.text import render_text_page, text_faces

SIZES = ((540, 420), (540, 258))  # the NoisyOffice test pages' two sizes, (width, height)


def write_pages(out: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` dirty pages as OUT/test/<n>.png, alternating the two sizes."""
    rng = np.random.default_rng(seed)
    faces = text_faces()
    if not faces:
        raise RuntimeError("no typefaces: matplotlib's fonts are needed (make setup installs them)")
    folder = out / "test"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(1, count + 1):
        width, height = SIZES[n % len(SIZES)]
        clean = render_text_page(rng, height, width, faces[n % len(faces)])
        dirty = composite(rng, clean, synthetic_background(rng, height, width))
        path = folder / f"{n}.png"
        Image.fromarray(np.round(np.clip(dirty, 0, 1) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder that gets test/<n>.png")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = write_pages(args.out, args.count, args.seed)
    print(f"{len(paths)} synthetic pages in {args.out / 'test'}")


if __name__ == "__main__":
    main()
