"""The benchmarks' one result format and its renderer: docs/performance.md is exactly what
`python -m bench.render` makes of the committed reports, so no figure is typed by hand."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from bench.measure import Result
from bench.render import LoadedReport, render, render_report
from bench.report import add_load_args, commit, loaded, settle, stamp, write_report

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "performance.md"


def page_sources() -> list[Path]:
    sources = re.search(r"python -m bench\.render (.+?) -o docs/performance\.md",
                        PAGE.read_text().replace("\n", " "))
    assert sources, "docs/performance.md does not name the reports it was made from"
    return [Path(p) for p in sources.group(1).split()]


def test_performance_page_is_the_render_of_its_reports():
    assert PAGE.read_text() == render(page_sources(), root=ROOT)


def test_no_table_on_the_performance_page_was_measured_under_load():
    stamps = {str(p): json.loads((ROOT / p).read_text())["stamp"] for p in page_sources()}
    assert {path: why for path, s in stamps.items() if (why := loaded(s))} == {}


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


def load_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_load_args(parser)
    return parser.parse_args(argv)


def test_a_benchmark_on_a_loaded_machine_waits_for_it_to_settle():
    loads, slept = iter([5.0, 3.1, 1.2]), []
    assert settle(load_args("--load-wait", "60"), load=lambda: next(loads), sleep=slept.append,
                  vcpus=2) is False
    assert slept == [15.0, 15.0]


def test_a_load_that_does_not_settle_stops_the_benchmark_with_a_message():
    slept: list[float] = []
    with pytest.raises(SystemExit, match=r"load average 5.00 is above the machine's 2 vCPUs "
                       r"and did not settle in 20 s.*--force-load"):
        settle(load_args("--load-wait", "20"), load=lambda: 5.0, sleep=slept.append, vcpus=2)
    assert slept == [15.0, 5.0]


def test_forced_on_a_loaded_machine_the_stamp_and_the_page_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    forced = settle(load_args("--force-load"), load=lambda: 5.0, sleep=pytest.fail, vcpus=2)
    assert forced is True
    path = tmp_path / "loaded.json"
    write_report(path, "Memory", [{"size": "540x420", "peak_mib": 909}],
                 stamp([], forced_under_load=forced))
    assert "forced on a loaded machine" in loaded(json.loads(path.read_text())["stamp"])
    with pytest.raises(LoadedReport, match=r"loaded.json: forced on a loaded machine"):
        render([path])
    assert "**Measured under load (forced on a loaded machine" in render([path],
                                                                          allow_loaded=True)


@pytest.mark.parametrize(("start", "end", "why"), [
    (0.5, 1.9, ""),
    (5.99, 7.58, "load average 5.99 at the start and 7.58 at the end, above 2 vCPUs"),
    (2.3, 1.79, "load average 2.3 at the start, above 2 vCPUs"),
])
def test_a_stamp_is_loaded_when_its_load_average_passes_the_vcpu_count(start, end, why):
    """Reports from before the stamp named its vCPUs give them in the machine's name."""
    assert loaded({"machine": "2 vCPU AMD EPYC, 24 GiB", "load_average": start,
                   "load_average_end": end}) == why
