"""The one result format of the benchmarks: a JSON file of results stamped with the date, the
machine, the commit and the command, which `python -m bench.render` turns into the docs' tables."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD_WAIT = 600.0  # seconds a benchmark waits by default for a loaded machine to settle
LOAD_POLL = 15.0


def add_load_args(parser: argparse.ArgumentParser) -> None:
    """Every benchmark's guard against measuring somebody else's work."""
    parser.add_argument("--load-wait", type=float, default=LOAD_WAIT, metavar="SECONDS",
                        help="when the load average is above the vCPU count, wait up to this "
                        f"long for it to settle, then stop (default {LOAD_WAIT:.0f})")
    parser.add_argument("--force-load", action="store_true",
                        help="run on a loaded machine anyway: the report's stamp says so, and "
                        "bench.render refuses it unless --allow-loaded")


def settle(args: argparse.Namespace, load: Callable[[], float] = lambda: os.getloadavg()[0],
           sleep: Callable[[float], None] = time.sleep, vcpus: int | None = None) -> bool:
    """Waits (at most --load-wait seconds) until the load average is at most the vCPU count.
    True when the run goes ahead on a loaded machine because --force-load says so; stops with
    a message when the load does not settle."""
    vcpus = vcpus or os.cpu_count() or 1
    waited = 0.0
    while (now := load()) > vcpus:
        if args.force_load:
            print(f"load average {now:.2f} on {vcpus} vCPUs: running anyway (--force-load); "
                  "the report's stamp says so", file=sys.stderr, flush=True)
            return True
        if waited >= args.load_wait:
            raise SystemExit(
                f"load average {now:.2f} is above the machine's {vcpus} vCPUs and did not "
                f"settle in {waited:.0f} s: the figures would measure the other work. Run on a "
                "quiet machine, raise --load-wait, or pass --force-load (the report then says so)")
        if not waited:
            print(f"load average {now:.2f} on {vcpus} vCPUs: waiting up to "
                  f"{args.load_wait:.0f} s for it to settle", file=sys.stderr, flush=True)
        step = min(LOAD_POLL, args.load_wait - waited)
        sleep(step)
        waited += step
    return False


def start_run(args: argparse.Namespace, argv: list[str] | None = None) -> dict[str, object]:
    """The stamp of a run that begins once the machine is quiet (or is forced to begin)."""
    forced = settle(args)
    return stamp(argv, forced_under_load=forced)


def loaded(stamp: dict[str, object]) -> str:
    """Why a report's figures are not to be trusted as a quiet machine's, or "": forced on a
    loaded machine, or a load average above the vCPU count at the start or the end."""
    vcpus = stamp.get("vcpus") or int(re.match(r"\d+", str(stamp["machine"]))[0])
    if stamp.get("forced_under_load"):
        return f"forced on a loaded machine (--force-load, {vcpus} vCPUs)"
    high = [f"{value} at the {when}" for when, key in (("start", "load_average"),
                                                        ("end", "load_average_end"))
            if (value := stamp.get(key)) is not None and float(value) > vcpus]
    return f"load average {' and '.join(high)}, above {vcpus} vCPUs" if high else ""


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


def stamp(argv: list[str] | None = None, forced_under_load: bool = False) -> dict[str, object]:
    """Where and when a run happened: what a reader needs to weigh its figures."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    args = sys.argv[1:] if argv is None else argv
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} vCPU {cpu_model()}, {memory:.0f} GiB",
            "python": platform.python_version(),
            "commit": commit(),
            "vcpus": os.cpu_count(),
            "load_average": round(os.getloadavg()[0], 2),
            **({"forced_under_load": True} if forced_under_load else {}),
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
    if why := loaded(report["stamp"]):
        print(f"{path}: measured under load ({why}); bench.render refuses it unless "
              "--allow-loaded", file=sys.stderr, flush=True)
