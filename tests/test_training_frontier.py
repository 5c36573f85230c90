"""training.frontier on tiny models: every version, candidate run and the baseline architecture
becomes a timed row and a point; the doc's frontier section is replaced, the rest kept."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from tests.training_fixtures import validated_run, write_dataset
from training import frontier
from training.export import export_model
from training.model import build_s2d_unet, build_unet


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("frontier")
    data = write_dataset(root / "ddd")
    base = root / "models"
    figures = {"val_rmse": 0.03, "val_unseen_rmse": 0.05, "val_jpeg_q40_rmse": 0.06}
    export_model(build_unet(widths=(4, 8)), base, multiple=2, margin=8, version=1,
                 card={"architecture": "unet[4, 8]", "validation": figures})
    export_model(build_s2d_unet(widths=(4, 8)), base, multiple=4, margin=8, version=2, card={
        "architecture": "s2d_unet[4, 8]",
        "validation": {**figures, "val_rmse": 0.02, "val_false_ink": 3,
                       "baseline_architecture_same_budget": {"val_rmse": 0.07}}})
    run = validated_run(root, data, "cand", "--model", "s2d_unet")
    return root, data, base, run


def test_every_model_is_timed_and_tabled(setup):
    root, data, base, run = setup
    doc = root / "model.md"
    doc.write_text("intro\n<!-- frontier:begin -->\nold table\n<!-- frontier:end -->\noutro\n")
    points = frontier.main(["--data", str(data), "--base", str(base), "--run", f"cand={run}",
                            "--sizes", "52x40", "130x90", "--rounds", "2", "--large-rounds", "1",
                            "--out", str(root / "out"), "--doc", str(doc)])
    names = [p.name for p in points]
    assert names == ["version 1", "version 2", "cand", "baseline architecture"]
    assert [p.shipped for p in points] == [False, True, False, False]
    report = json.loads(run.joinpath("eval", "report.json").read_text())
    by_name = {p.name: p for p in points}
    assert by_name["cand"].figures["val_rmse"] == report["sets"]["real"]["cand"]["rmse"]
    assert by_name["baseline architecture"].figures["val_rmse"] == 0.07
    assert by_name["version 2"].figures["val_false_ink"] == 3
    for p in points:
        assert set(p.ms) == {"denoise 52x40", "serving_default 52x40", "denoise 130x90",
                             "serving_default 130x90"}
        assert all(ms > 0 for ms in p.ms.values())
    text = doc.read_text()
    assert text.startswith("intro\n<!-- frontier:begin -->\n| model |") and "old table" not in text
    assert text.endswith("<!-- frontier:end -->\noutro\n")
    assert "| **version 2 (shipped)** | s2d_unet[4, 8] |" in text
    assert "(1.00x)" in text.split("version 2 (shipped)")[1].split("\n")[0]
    assert (root / "out" / "frontier.md").read_text().strip() in text
    saved = json.loads((root / "out" / "frontier.json").read_text())
    assert saved["command"].startswith("python -m training.frontier") and len(saved["points"]) == 4
    with Image.open(root / "out" / "frontier.png") as chart:
        assert chart.width > chart.height > 200


def test_a_doc_without_the_markers_is_refused(setup, tmp_path):
    doc = tmp_path / "plain.md"
    doc.write_text("no section here\n")
    with pytest.raises(ValueError, match="frontier"):
        frontier.splice(doc, "table")


def test_mixed_precision_twins_run_in_a_child_with_the_rewrite_on(setup, tmp_path):
    root, data, base, run = setup
    scored = frontier.run_point("cand", run)
    assert frontier.twin(scored, "bfloat16").figures["val_rmse"] is None  # not scored yet
    shutil.copytree(run / "eval", run / "eval-bfloat16")
    twin = frontier.twin(scored, "bfloat16")
    assert (twin.name, twin.precision, twin.folder) == ("cand bfloat16", "bfloat16", scored.folder)
    assert twin.figures == scored.figures and twin.source.endswith("eval-bfloat16/report.json")
    shutil.rmtree(run / "eval-bfloat16")
    pages = frontier.test_pages(data, ["52x40"])
    worker = frontier.TwinWorker([twin], pages, threads=1)
    try:
        assert worker.options.get("auto_mixed_precision_onednn_bfloat16") is True
        assert worker("cand bfloat16", "serving_default 52x40") > 0
    finally:
        worker.close()
    assert worker.process.exitcode == 0
