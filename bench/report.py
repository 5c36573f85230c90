"""The one result format of the benchmarks: a JSON file of results stamped with the date, the
machine, the commit and the command, which `python -m bench.render` turns into the docs' tables."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    """The checked-out commit, `-dirty` when tracked files differ from it."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=False).stdout.strip()
        except OSError:  # no git on this machine (a bare install from an archive)
            return ""

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def stamp(argv: list[str] | None = None) -> dict[str, object]:
    """Where and when a run happened: what a reader needs to weigh its figures."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    args = sys.argv[1:] if argv is None else argv
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} vCPU {cpu_model()}, {memory:.0f} GiB",
            "python": platform.python_version(),
            "commit": commit(),
            "load_average": round(os.getloadavg()[0], 2),
            "command": f"python -m {Path(sys.argv[0]).parent.name}."
                       f"{Path(sys.argv[0]).stem} {shlex.join(args)}".replace(".__main__", "")}


def write_report(path: Path, title: str, results: list, started: dict[str, object],
                 notes: list[str] | None = None, reference: str = "") -> None:
    """Results (dataclasses or dicts) with the stamp taken at the start and the load at the end;
    the rendered table gives each p50 as a ratio to the `reference` target's."""
    rows = [asdict(r) if is_dataclass(r) else r for r in results]
    report = {"title": title, "stamp": {**started, "load_average_end":
                                        round(os.getloadavg()[0], 2)},
              "reference": reference, "notes": notes or [], "results": rows}
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
