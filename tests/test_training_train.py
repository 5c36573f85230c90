"""training.train CLI on a tiny set: run folder contents, block split, determinism, and the
hand-over to the export CLI (card fields and multiple come from the run)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.training_fixtures import TINY_TRAINING, write_dataset
from training import train
from training.pages import block_of

TINY = [*TINY_TRAINING, "--epochs", "2", "--steps", "3"]  # two epochs: a history to compare


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("train") / "ddd")


def _run(data, runs, name, *extra):
    return train.main(["--data", str(data), "--runs", str(runs), "--name", name, *TINY, *extra])


def test_run_folder_holds_config_metrics_curve_model_and_card(data, tmp_path):
    metrics = _run(data, tmp_path, "a", "--val-blocks", "1")
    run = tmp_path / "a"
    config = json.loads((run / "config.json").read_text())
    assert {block_of(i) for i in config["val_ids"]} == {1}
    assert not {block_of(i) for i in config["train_ids"]} & {1}
    assert config["epochs"] == 2 and config["patch"] == 16
    assert metrics["epochs_run"] == 2 and 1 <= metrics["best_epoch"] <= 2
    assert 0 < metrics["val_rmse"] < 1 and 0 < metrics["val_unseen_rmse"] < 1
    assert json.loads((run / "metrics.json").read_text()) == metrics
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_rmse"]) == 2
    assert metrics["val_rmse"] == min(history["val_rmse"])
    with Image.open(run / "loss_curve.png") as curve:
        assert curve.format == "PNG" and curve.width > 300
    card = json.loads((run / "card.json").read_text())
    assert card["training_data"]["pairs"] == len(config["train_ids"])
    assert card["validation"]["val_rmse"] == metrics["val_rmse"]
    assert card["multiple"] == 2 and "training.train" in card["training"]["command"]


def test_same_seed_same_run(data, tmp_path):
    a = _run(data, tmp_path, "a", "--val-blocks", "1", "--seed", "7")
    b = _run(data, tmp_path, "b", "--val-blocks", "1", "--seed", "7")
    history = [json.loads((tmp_path / n / "history.json").read_text()) for n in "ab"]
    for h in history:
        assert len(h.pop("epoch_seconds")) == 2  # wall times differ; everything else is equal
    assert history[0] == history[1]
    assert a["val_rmse"] == b["val_rmse"]


def test_all_pairs_run_exports_with_its_card(data, tmp_path):
    from training.export import main as export_main

    _run(data, tmp_path, "ref", "--val-blocks", "1")
    _run(data, tmp_path, "ship", "--val-blocks", "--reference-runs", str(tmp_path / "ref"))
    run = tmp_path / "ship"
    card = json.loads((run / "card.json").read_text())
    assert card["training_data"]["pairs"] == 24  # every tiny pair, no validation
    assert card["validation"]["val_rmse"] is None
    assert "ref" in card["validation"]["reference_runs"]
    base = tmp_path / "models"
    export_main([str(run / "model.keras"), "--card", str(run / "card.json"), "--base", str(base),
                 "--margin", "8", "--tile", "32"])
    exported = json.loads((base / "1.card.json").read_text())
    assert (base / "1" / "saved_model.pb").exists()
    assert exported["serving"]["multiple"] == 2 and exported["serving"]["margin"] == 8
    assert exported["training_data"]["pairs"] == 24


def test_a_teacher_from_a_keras_file_or_an_exported_version(data, tmp_path):
    """Distillation runs from either form of teacher, and the card names it."""
    from training.export import export_model
    from training.model import build_unet

    teacher = build_unet(widths=(4, 8))
    teacher.save(tmp_path / "teacher.keras")
    export_model(teacher, tmp_path / "models", multiple=2, margin=8, version=1,
                 card={"model": "unet", "builder_args": {"widths": [4, 8]}})
    sources = {"file": tmp_path / "teacher.keras", "folder": tmp_path / "models" / "1"}
    for name, source in sources.items():
        metrics = _run(data, tmp_path, name, "--val-blocks", "1", "--teacher", str(source),
                       "--teacher-weight", "0.5")
        card = json.loads((tmp_path / name / "card.json").read_text())
        assert card["training"]["teacher"] == {"network": str(source), "weight": 0.5}
        assert 0 < metrics["val_rmse"] < 1


def test_builder_arguments_go_to_the_card(data, tmp_path):
    """The card holds what rebuilds the network (training.export.keras_from_export needs it)."""
    metrics = _run(data, tmp_path, "s2d", "--val-blocks", "1", "--model", "s2d_unet",
                   "--io-kernel", "4")
    card = json.loads((tmp_path / "s2d" / "card.json").read_text())
    assert card["builder_args"] == {"widths": [4, 8], "io_kernel": 4}
    assert card["architecture"] == metrics["architecture"] == "s2d_unet[4, 8], io_kernel 4"
    assert card["multiple"] == 4 and len(card["training"]["epoch_seconds"]) == 2


def test_engine_run_warm_starts_and_keeps_the_epoch_with_the_best_score(data, tmp_path):
    """--engine mixes page-engine documents in, validates on held-out synthetic documents too,
    and --select val_score keeps the epoch best on real pages plus documents; --init starts
    from another run's weights (the version-5 recipe)."""
    _run(data, tmp_path, "first", "--val-blocks", "1")
    metrics = _run(data, tmp_path, "second", "--val-blocks", "1", "--engine", "0.5",
                   "--select", "val_score", "--init", str(tmp_path / "first" / "model.keras"))
    history = json.loads((tmp_path / "second" / "history.json").read_text())
    for real, docs, score in zip(history["val_rmse"], history["val_docs_rmse"],
                                 history["val_score"], strict=True):
        assert score == pytest.approx(real + docs)
    assert metrics["best_epoch"] == 1 + history["val_score"].index(min(history["val_score"]))
    config = json.loads((tmp_path / "second" / "config.json").read_text())
    assert config["init"].endswith("first/model.keras") and config["engine"] == 0.5
    card = json.loads((tmp_path / "second" / "card.json").read_text())
    assert "page engine" in card["training_data"]["augmentation"]


def test_ink_map_run_validates_f_on_held_out_pages(data, tmp_path):
    """--mapped with --ink-data trains on ink-map pages too and logs the F-measure on the held-out
    ones (and on photographed pages with --camera) into val_score; --paper-ratio warm-starts
    from a plain U-Net."""
    from tests.training_fixtures import write_ink_dataset

    ink = write_ink_dataset(tmp_path / "ink")
    _run(data, tmp_path, "plain", "--val-blocks", "1")
    metrics = _run(data, tmp_path, "ink", "--val-blocks", "1", "--engine", "0.3", "--camera",
                   "0.5", "--faded", "0.5", "--mapped", "0.5", "--ink-data", str(ink),
                   "--paper-ratio", "--select", "val_score",
                   "--init", str(tmp_path / "plain" / "model.keras"))
    history = json.loads((tmp_path / "ink" / "history.json").read_text())
    for i, score in enumerate(history["val_score"]):
        expected = (history["val_rmse"][i] + history["val_docs_rmse"][i]
                    + 0.1 * (1 - history["val_ink_f"][i] / 100)
                    + 0.1 * (1 - history["val_camera_f"][i] / 100))
        assert score == pytest.approx(expected)
    assert 0 <= metrics["val_ink_f"] <= 100
    assert metrics["builder_args"] == {"widths": [4, 8], "paper_ratio": True}
    card = json.loads((tmp_path / "ink" / "card.json").read_text())
    assert card["training_data"]["ink_maps"]["held_out"] == ["A_H03"]  # B has two pages
    assert card["validation"]["val_ink_f"] == metrics["val_ink_f"]
