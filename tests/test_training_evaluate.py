"""training.evaluate: the CLI on a tiny set through exported models (scores on every input set,
false ink, worst windows, timing, tiling check)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.training_fixtures import write_dataset
from training import evaluate
from training.export import export_model
from training.model import build_baseline, build_unet
from training.pages import load_pages


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
        "--data", str(data), "--model", f"baseline_arch={root / 'base' / '1'}",
        f"model={root / 'unet' / '1'}", "--val-blocks", "1", "--out", str(out), "--windows", "3",
        "--grid-rows", "2", "--keras", f"model={root / 'unet.keras'}",
        f"baseline_arch={root / 'base.keras'}", "--margins", "0", "12", "13", "--tile", "32",
        "--ink-suite",
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
            assert scores["false_ink"] == sum(p["false_ink"] for p in scores["pages"].values())
    pages = load_pages(data, saved["pages"])
    do_nothing = np.sqrt(np.mean(np.concatenate([(p.dirty - p.clean).ravel() ** 2
                                                 for p in pages])))
    assert saved["sets"]["real"]["do_nothing"]["rmse"] == pytest.approx(do_nothing, rel=1e-6)
    assert saved["forward_ms"]["model"] > 0 and saved["forward_ms"]["baseline_arch"] > 0
    assert saved["keras_forward_ms"]["model"] > 0 and saved["keras_forward_ms"]["baseline_arch"] > 0
    gaps = saved["tiling_gap_8bit"]
    assert gaps["page"] == [104, 80] and gaps["12"] <= 1 < gaps["0"]  # a margin is needed
    assert "13" not in gaps  # not a multiple of the U-Net's 2: skipped, the scores kept
    assert report["sets"]["real"]["model"]["rmse"] == saved["sets"]["real"]["model"]["rmse"]
    assert "| real | model |" in (out / "table.md").read_text()
    ink = saved["ink_suite"]["model"]
    assert len(ink["pages"]) == ink["pages_below_98"] + sum(
        p["inner_kept"] >= 0.98 for p in ink["pages"].values())
    assert "**model**: share of the strokes' inner pixels" in (out / "ink_suite.md").read_text()
    with Image.open(out / "samples.png") as grid:
        assert grid.width > grid.height > 100
    assert saved["command"].startswith("python -m training.evaluate --data")
    assert saved["false_ink_definition"] == {"dark_below": 0.5, "target_ink_below": 0.75,
                                             "reach_px": 1, "connectivity": 8}
    for name in ("model", "baseline_arch"):
        windows = saved["worst_windows"][name]
        assert len(windows) == 3 and windows[0]["rmse"] >= windows[-1]["rmse"] > 0
        assert {w["page"] for w in windows} <= set(saved["pages"])
        with Image.open(out / f"worst_{name}.png") as grid:
            assert grid.height > grid.width  # three rows of three windows


def test_cli_refuses_an_empty_split(setup, capsys):
    root, data = setup
    with pytest.raises(SystemExit):
        evaluate.main(["--data", str(data), "--model", f"model={root / 'unet' / '1'}",
                       "--val-blocks", "7", "--out", str(Path(root) / "none"), "--no-timing"])
    assert "no labelled pages" in capsys.readouterr().err


def test_ink_maps_section_scores_held_out_pages_per_collection(setup, tmp_path):
    """--ink-data: F at 0.5 on the held-out real pages (each collection a row too) and on the
    photographed set, models beside doing nothing, Otsu and Sauvola; the worst pages' picture."""
    from tests.training_fixtures import write_ink_dataset
    from training.ink_suite import fmeasure

    root, data = setup
    names = [f"{c}_H{i:02d}" for c in ("A", "B") for i in range(1, 9)]
    ink = write_ink_dataset(tmp_path / "ink", names=names)
    out = tmp_path / "report"
    report = evaluate.main([
        "--data", str(data), "--model", f"model={root / 'unet' / '1'}", "--val-blocks", "1",
        "--out", str(out), "--windows", "0", "--no-timing", "--grid-rows", "1",
        "--ink-data", str(ink)])["ink_maps"]
    assert report["held_out"] == ["A_H03", "A_H08", "B_H03", "B_H08"]  # by page, per collection
    sets = report["sets"]
    assert set(sets) == {"real", "real:A", "real:B", "camera"}
    for row in sets.values():
        assert set(row) == {"do_nothing", "otsu", "sauvola", "model"}
    page = Image.open(ink / "noisy" / "A_H03.png").convert("L")
    gray = np.asarray(page, np.float32) / 255
    truth = np.asarray(Image.open(ink / "gt" / "A_H03.png")) < 128
    assert sets["real:A"]["do_nothing"]["pages"]["A_H03"] == pytest.approx(fmeasure(gray, truth))
    assert sets["real"]["model"]["f"] == pytest.approx(np.mean(
        [sets["real"]["model"]["pages"][n] for n in report["held_out"]]))
    assert len(report["worst_pages"]) == 4 and (out / "ink_worst.png").stat().st_size > 0
    assert "| real:B | 2 |" in (out / "ink_maps.md").read_text()
