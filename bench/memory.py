"""`python -m bench.memory`: peak resident memory and time of the model process per page size.

Each size runs in a fresh subprocess (so one size's peak does not hide another's): it loads the
SavedModel, cleans one page through `serving_default` (as the API and TF Serving do), and reports
RSS after loading, the peak (VmHWM) and the time per call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.pages import add_source_args
from bench.processes import ROOT
from bench.report import add_load_args, start_run, write_report

CHILD = r"""
import json, sys, time
from pathlib import Path
import tensorflow as tf
from bench.pages import load_pages
from tfmodel.versions import latest_version

def vm(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024

model_dir, data, size, repeats = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
page = load_pages(data, size, count=1)[0]
serve = tf.saved_model.load(str(latest_version(Path(model_dir)))).signatures["serving_default"]
loaded = vm("VmRSS:")
times = []
for _ in range(repeats + 1):
    started = time.perf_counter()
    serve(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()
    times.append(time.perf_counter() - started)
width, height = (int(v) for v in size.split("x"))
print(json.dumps({"size": size, "megapixels": round(width * height / 1e6, 2),
                  "rss_loaded_mib": round(loaded), "peak_mib": round(vm("VmHWM:")),
                  "first_s": round(times[0], 3),
                  "s": round(sorted(times[1:])[len(times[1:]) // 2], 3)}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--sizes", default="540x420,1240x1754,2480x3508")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the report as JSON here (for "
                        "python -m bench.render)")
    add_load_args(parser)
    args = parser.parse_args(argv)
    started = start_run(args, argv)
    rows = []
    for size in args.sizes.split(","):
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.model_dir), str(args.data),
                              size, str(args.repeats)], cwd=ROOT, capture_output=True, text=True,
                             env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
                             check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    base = rows[0]
    print(f"\n{'size':>10s} {'MP':>6s} {'RSS loaded':>10s} {'peak MiB':>9s} {'s/page':>7s}"
          f" {'s/MP':>6s} {'vs first size per MP':>21s}")
    for row in rows:
        per_mp = row["s"] / row["megapixels"]
        print(f"{row['size']:>10s} {row['megapixels']:6.2f} {row['rss_loaded_mib']:10d}"
              f" {row['peak_mib']:9d} {row['s']:7.3f} {per_mp:6.3f}"
              f" {per_mp / (base['s'] / base['megapixels']):20.2f}x")
    if args.out:
        write_report(args.out, "Memory: one process, peak resident (MiB) and seconds a page",
                     rows, started)


if __name__ == "__main__":
    main()
