"""training.card: the card's `validation` section comes from a validation run's files, produced
by the documented commands (train, calibrate, export, evaluate), never typed in."""

from __future__ import annotations

import json

import pytest

from tests.training_fixtures import validated_run, write_dataset
from training import export
from training.card import validation_section, warm_starts


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """A validation run taken through calibrate, export and evaluate, as docs/model.md runs it."""
    root = tmp_path_factory.mktemp("card")
    data = write_dataset(root / "ddd")
    return root, data, validated_run(root, data, "candidate")


def test_section_carries_the_evaluated_figures_and_commands(validated):
    _, _, run = validated
    report = json.loads((run / "eval" / "report.json").read_text())
    section = validation_section(run)
    sets = report["sets"]
    assert section["val_rmse"] == sets["real"]["candidate"]["rmse"]
    assert section["val_unseen_rmse"] == sets["synthetic_unseen"]["candidate"]["rmse"]
    assert section["val_jpeg_q40_rmse"] == sets["jpeg_q40"]["candidate"]["rmse"]
    assert section["val_false_ink"] == sets["real"]["candidate"]["false_ink"]
    assert section["blocks"] == [1] and section["ids"] == report["pages"]
    assert section["run"]["command"].startswith("python -m training.train")
    assert section["run"]["calibration"].startswith("python -m training.calibrate")
    assert section["run"]["evaluation"].startswith("python -m training.evaluate")
    assert section["same_evaluation"] == {}


def test_export_writes_the_section_into_the_card(validated):
    root, _, run = validated
    base = root / "shipped"
    export.main([str(run / "model.keras"), "--base", str(base), "--card", str(run / "card.json"),
                 "--validation", str(run), "--margin", "8", "--tile", "32"])
    card = json.loads((base / "1.card.json").read_text())
    own = validation_section(run, shipped=run / "model.keras")
    assert card["validation"] == json.loads(json.dumps(own))
    assert own["note"].startswith("measured on the shipped weights themselves")
    assert "saw every pair" in validation_section(run)["note"]  # a twin run's figures
    assert card["serving"]["margin"] == 8


def test_a_warm_start_is_disclosed(validated, tmp_path):
    _, _, run = validated
    config = json.loads((run / "config.json").read_text())
    assert "warm-started" not in validation_section(run)["note"]
    first = tmp_path / "first"
    first.mkdir()
    (first / "config.json").write_text(json.dumps({"init": "serving/models/x/3"}))
    (first / "metrics.json").write_text(json.dumps({"command": "python -m training.train A"}))
    (run / "config.json").write_text(json.dumps({**config, "init": str(first / "model.keras")}))
    try:
        assert warm_starts(run) == [
            {"network": str(first / "model.keras"), "command": "python -m training.train A"},
            {"network": "serving/models/x/3"}]
        assert "warm-started from serving/models/x/3" in validation_section(run)["note"]
    finally:
        (run / "config.json").write_text(json.dumps(config))


def test_a_report_without_the_runs_export_is_refused(validated, tmp_path):
    _, data, run = validated
    other = tmp_path / "run"
    (other / "eval").mkdir(parents=True)
    for name in ("metrics.json", "config.json"):
        (other / name).write_text((run / name).read_text())
    (other / "eval" / "report.json").write_text((run / "eval" / "report.json").read_text())
    with pytest.raises(ValueError, match="exactly one export"):
        validation_section(other)
