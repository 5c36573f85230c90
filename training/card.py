"""The model card's `validation` section, built from a validation run's own files.

A shipped model has seen every labelled page, so its quality is measured on a twin: the same
recipe trained without the validation blocks, calibrated on its training pages, exported and
scored by `training.evaluate`. This reads that twin's files, so no figure is copied by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

SETS = {"real": "val_rmse", "synthetic_unseen": "val_unseen_rmse", "jpeg_q40": "val_jpeg_q40_rmse"}


def validation_section(run: Path, evaluation: str = "eval", shipped: Path | None = None) -> dict:
    """Figures of validation run `run` (a training.train folder holding `eval/report.json`;
    `evaluation` names another such folder, e.g. one scored in bfloat16). `shipped` is the
    exported network: when it is the run's own, the note says the figures are its own."""
    report = json.loads((run / evaluation / "report.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    name = _model_of_run(report, run, evaluation)
    real = report["sets"]["real"][name]
    if shipped is not None and Path(shipped).resolve().is_relative_to(run.resolve()):
        note = (f"measured on the shipped weights themselves: run {run.name} trained without "
                f"blocks {report['val_blocks']}, its output table fitted on its training pages, "
                "exported and scored on the held-out pages (native resolution, 8-bit output, "
                "training.evaluate)")
    else:
        note = (f"measured by run {run.name}: the same recipe trained without blocks "
                f"{report['val_blocks']}, its output table fitted on its own training pages, "
                "exported and scored on the unseen pages (native resolution, 8-bit output, "
                "training.evaluate); the shipped weights then saw every pair")
    chain = warm_starts(run)
    if chain:
        note += (f"; warm-started from {chain[-1]['network']}, whose training saw every pair, "
                 "so the real-scan figures are not fully held out (the synthetic sets are)")
    section = {
        "note": note,
        "blocks": report["val_blocks"],
        "ids": report["pages"],
        **{key: report["sets"][set_name][name]["rmse"] for set_name, key in SETS.items()},
        "val_false_ink": real["false_ink"],
        "val_false_ink_per_page": real["false_ink_per_page"],
        "false_ink_definition": report.get("false_ink_definition"),
        "val_rmse_without_calibration": metrics.get("val_rmse"),
        "run": {
            "command": metrics["command"],
            "best_epoch": metrics["best_epoch"],
            "wall_minutes": metrics["wall_minutes"],
            "train_ids": len(config["train_ids"]),
            "evaluation": report.get("command"),
        },
        "same_evaluation": {
            other: {key: report["sets"][set_name][other]["rmse"] for set_name, key in SETS.items()}
            | {"val_false_ink": report["sets"]["real"][other]["false_ink"]}
            for other in report["models"] if other != name
        },
    }
    calibration = run / "calibration.json"
    if calibration.exists():
        section["run"]["calibration"] = json.loads(calibration.read_text()).get("command")
    for key in ("forward_ms", "tiling_gap_8bit"):
        if key in report:
            section[key] = report[key]
    return section


def warm_starts(run: Path) -> list[dict]:
    """The networks `run` was warm-started from, nearest first, following each run's
    config.json `init` back to a network that is not a run (an exported version)."""
    chain, seen = [], set()
    config_path = run / "config.json"
    while config_path.exists() and config_path not in seen:
        seen.add(config_path)
        init = json.loads(config_path.read_text()).get("init")
        if not init:
            break
        source = Path(init)
        folder = source.parent if source.suffix == ".keras" else source
        metrics = folder / "metrics.json"
        chain.append({"network": init, **({"command": json.loads(metrics.read_text())["command"]}
                                          if metrics.exists() else {})})
        config_path = folder / "config.json"
    return chain


def _model_of_run(report: dict, run: Path, evaluation: str) -> str:
    """The report's model exported from `run` (its version folder lies inside the run)."""
    inside = [name for name, path in report["models"].items()
              if Path(path).resolve().is_relative_to(run.resolve())]
    if len(inside) != 1:
        raise ValueError(f"{run}/{evaluation}/report.json should score exactly one export of "
                         f"{run}, found {inside or 'none'}")
    return inside[0]


def ink_suite_section(report_path: Path, model: str) -> dict:
    """Summary of `model` in a training.ink_suite report (figures as measured, with the command)."""
    report = json.loads(report_path.read_text())
    result = report["results"][model]
    return {
        "command": report["command"],
        "pages": len(report["pages"]),
        **{key: result[key] for key in ("pages_below_98", "worst_page", "worst_inner_kept",
                                        "mean_inner_kept", "hollow_letters", "letters",
                                        "false_ink", "fmeasure")},
        "documents_fmeasure": report["documents_fmeasure"][model],
        "baselines_fmeasure": {k: report["results"][k]["fmeasure"]
                               for k in ("otsu", "sauvola") if k in report["results"]},
    }
