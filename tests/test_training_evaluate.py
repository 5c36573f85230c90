"""training.evaluate: metrics, baselines, and the CLI on a tiny set through exported models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_training_data import write_dataset
from training import evaluate
from training.data import load_pages
from training.export import export_model
from training.model import build_baseline, build_unet


def test_metrics_on_known_values():
    a = np.zeros((8, 8), np.float32)
    b = np.full((8, 8), 0.1, np.float32)
    assert evaluate.rmse(a, a) == 0.0
    assert evaluate.rmse(a, b) == pytest.approx(0.1, rel=1e-6)
    assert evaluate.psnr(a, b) == pytest.approx(20.0, rel=1e-6)
    page = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    assert evaluate.ssim(page, page) == pytest.approx(1.0, abs=1e-6)
    assert evaluate.ssim(page, 1 - page) < 0


def test_overall_rmse_pools_pixels_of_all_pages():
    from training.data import Page

    pages = [Page(1, np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)),
             Page(2, np.zeros((2, 6), np.float32), np.ones((2, 6), np.float32))]
    scores = evaluate.score_pages([p.dirty for p in pages], pages)
    assert scores["pages"]["1"]["rmse"] == 0.0 and scores["pages"]["2"]["rmse"] == 1.0
    assert scores["rmse"] == pytest.approx(np.sqrt(12 / 16))
    assert scores["mean_page_rmse"] == pytest.approx(0.5)


def test_median_baselines_whiten_the_background_and_keep_ink():
    page = np.full((1, 30, 30, 1), 0.7, np.float32)
    page[0, 10:13, 5:25] = 0.1  # a stroke on grey paper
    for method in (evaluate.median_subtract, evaluate.median_threshold):
        out = method(page)
        assert out.shape == page.shape
        assert out[0, 0, 0, 0] == pytest.approx(1.0)
        assert out[0, 11, 15, 0] < 0.5


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny dataset and two exported models (a U-Net and the baseline architecture)."""
    root = tmp_path_factory.mktemp("eval")
    data = write_dataset(root / "ddd")
    unet, baseline = build_unet(widths=(4, 8)), build_baseline()
    unet.save(root / "unet.keras")
    baseline.save(root / "base.keras")
    export_model(unet, root / "unet", multiple=2, margin=8, tile=32, version=1)
    export_model(baseline, root / "base", multiple=4, margin=8, tile=32, version=1)
    return root, data


def test_cli_reports_every_method_on_every_set(setup):
    root, data = setup
    out = root / "report"
    report = evaluate.main([
        "--data", str(data), "--model", str(root / "unet" / "1"),
        "--baseline", str(root / "base" / "1"), "--val-blocks", "1", "--out", str(out),
        "--grid-rows", "2", "--keras", f"model={root / 'unet.keras'}",
        f"baseline_arch={root / 'base.keras'}", "--margins", "0", "12", "--tile", "32",
    ])
    saved = json.loads((out / "report.json").read_text())
    assert saved["pages"] == [14, 15, 17, 18, 20, 21, 23, 24]
    assert set(saved["sets"]) == {"real", "synthetic_unseen", "jpeg_q40"}
    methods = {"do_nothing", "median_subtract", "median_threshold", "baseline_arch", "model"}
    for rows in saved["sets"].values():
        assert set(rows) == methods
        for scores in rows.values():
            assert len(scores["pages"]) == 8
            assert 0.0 <= scores["rmse"] <= 1.0 and -1.0 <= scores["ssim"] <= 1.0
    pages = load_pages(data, saved["pages"])
    do_nothing = np.sqrt(np.mean(np.concatenate([(p.dirty - p.clean).ravel() ** 2
                                                 for p in pages])))
    assert saved["sets"]["real"]["do_nothing"]["rmse"] == pytest.approx(do_nothing, rel=1e-6)
    assert saved["forward_ms"]["model"] > 0 and saved["forward_ms"]["baseline_arch"] > 0
    assert saved["keras_forward_ms"]["model"] > 0 and saved["keras_forward_ms"]["baseline_arch"] > 0
    gaps = saved["tiling_gap_8bit"]
    assert gaps["page"] == [104, 80] and gaps["12"] <= 1 < gaps["0"]  # a margin is needed
    assert report["sets"]["real"]["model"]["rmse"] == saved["sets"]["real"]["model"]["rmse"]
    assert "| real | model |" in (out / "table.md").read_text()
    with Image.open(out / "samples.png") as grid:
        assert grid.width > grid.height > 100


def test_cli_refuses_an_empty_split(setup, capsys):
    root, data = setup
    with pytest.raises(SystemExit):
        evaluate.main(["--data", str(data), "--model", str(root / "unet" / "1"),
                       "--val-blocks", "7", "--out", str(Path(root) / "none"), "--no-timing"])
    assert "no labelled pages" in capsys.readouterr().err
