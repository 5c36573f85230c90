"""The stand-in pages the compose checks send when the NoisyOffice data is absent."""

from pathlib import Path

import numpy as np
from PIL import Image

from bench.pages import load_pages
from bench.synthetic_pages import SIZES, write_pages


def test_pages_have_the_data_sets_sizes_ink_and_stains(tmp_path: Path) -> None:
    paths = write_pages(tmp_path, 4)
    assert [p.name for p in paths] == ["1.png", "2.png", "3.png", "4.png"]
    sizes = set()
    for path in paths:
        with Image.open(path) as image:
            assert image.mode == "L"
            sizes.add(image.size)
            page = np.asarray(image, np.float32) / 255
        assert (page < 0.3).mean() > 0.01, "no dark ink"
        assert page.std() > 0.05 and page.max() < 1.0, "a blank or background-free page"
    assert sizes == set(SIZES)
    # the benchmarks' loader reads them as it reads the data set's test folder
    assert len(load_pages(tmp_path, "540x420")) == 2
