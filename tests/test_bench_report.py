"""The benchmarks' one result format and its renderer: docs/performance.md is exactly what
`python -m bench.render` makes of the committed reports, so no figure is typed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.measure import Result
from bench.render import render, render_report
from bench.report import commit, stamp, write_report

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "performance.md"


def test_performance_page_is_the_render_of_its_reports():
    sources = re.search(r"python -m bench\.render (.+?) -o docs/performance\.md",
                        PAGE.read_text().replace("\n", " "))
    assert sources, "docs/performance.md does not name the reports it was made from"
    paths = [ROOT / p for p in sources.group(1).split()]
    assert PAGE.read_text() == render([p.relative_to(ROOT) for p in paths], root=ROOT)


def test_report_round_trip_names_its_run_and_gives_ratios(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    results = [Result("model", "540x420", 1, 10, 0, 100.0, 120.0, 130.0, 101.0, 9.5),
               Result("api", "540x420", 1, 10, 0, 113.0, 140.0, 150.0, 115.0, 8.4)]
    path = tmp_path / "run.json"
    write_report(path, "A run", results, stamp(["--requests", "10"]), ["all rows found"],
                 reference="model")
    report = json.loads(path.read_text())
    assert set(report["stamp"]) >= {"date", "machine", "commit", "load_average",
                                    "load_average_end", "command"}
    assert report["stamp"]["command"].endswith("--requests 10")
    text = render_report(report)
    assert "| api | 540x420 | 1 | 10 | 0 | 113.0 | 140.0 | 8.4 | 1.13x |" in text
    assert report["stamp"]["commit"] in text and "- all rows found" in text


def test_other_benchmarks_rows_render_one_column_per_key(tmp_path):
    path = tmp_path / "memory.json"
    write_report(path, "Memory", [{"size": "540x420", "peak_mib": 909},
                                  {"size": "2480x3508", "peak_mib": 1012, "tiles": 48}], stamp([]))
    text = render_report(json.loads(path.read_text()))
    assert "| size | peak_mib | tiles |\n|---|---|---|\n| 540x420 | 909 |  |\n" in text


def test_a_machine_without_git_stamps_the_commit_unknown(monkeypatch):
    """A bare install from an archive has no git: the stamp says so instead of crashing."""
    monkeypatch.setenv("PATH", "/nonexistent")
    assert commit() == "unknown"
