"""`python -m bench`: latency and throughput of the bare model, TF Serving and the API, in one run.

Targets, each measured on the same real pages at concurrency 1 and N:
  model      the SavedModel's serving_default signature in this process (bytes in, PNG out)
  forward    the `denoise` signature on decoded float pages (the network alone)
  serving    POST :predict to the local TF-Serving-compatible server
  direct     that server called directly over REST and gRPC, both signatures (bench/direct.py)
  api        POST /remove_background to the API under gunicorn, in-process model, MySQL logging
  api-serving  the same API calling the serving target over REST
  api-grpc   the same API calling the serving target over gRPC
  api-bf16   the `api` target with MIXED_PRECISION=bfloat16 (not in the default list: it needs a
             CPU with AVX512-BF16 or AMX)
  api-NAME   the `api` target serving another model folder (`--api-model NAME=DIR`), so that a
             candidate version is timed through the whole API beside the shipped one
The API targets run side by side and take turns in rounds, so that drifting load on a shared
machine weighs on each alike. Ratios to `model` at concurrency 1 are printed at the end.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from bench.direct import add_direct_args, ratios, run_direct
from bench.measure import Result, header, measure, measure_interleaved, megapixels, row
from bench.pages import add_source_args, load_pages
from bench.processes import running_api, running_model_server
from bench.report import add_load_args, start_run, write_report
from bench.rows import count_rows, create_database, drop_database
from tfmodel.versions import latest_version

TARGETS = ("forward", "model", "serving", "direct", "api", "api-serving", "api-grpc")
LOCAL_APIS = {"api": {}, "api-bf16": {"MIXED_PRECISION": "bfloat16"}}
SERVING_FLAGS = ["--rest_api_timeout_in_ms=900000"]  # A4 float pages over JSON take a while


def in_process_calls(model_base: Path) -> tuple[Callable[[bytes], None], Callable[[bytes], None]]:
    """(serving_default on bytes, denoise on pre-decoded floats) of the highest version."""
    import tensorflow as tf  # heavy and optional (the `tf` extra): only the runs that need it

    loaded = tf.saved_model.load(str(latest_version(model_base)))
    serve, denoise = loaded.signatures["serving_default"], loaded.signatures["denoise"]
    decoded: dict[bytes, tf.Tensor] = {}

    def model(page: bytes) -> None:
        serve(image_bytes=tf.constant([page]))["clean_png_bytes"].numpy()

    def forward(page: bytes) -> None:
        if page not in decoded:
            pixels = tf.io.decode_image(page, channels=1, expand_animations=False)
            decoded[page] = tf.cast(pixels, tf.float32)[tf.newaxis] / 255.0
        denoise(images=decoded[page])["clean"].numpy()

    return model, forward


def predict_call(url: str, session: requests.Session) -> Callable[[bytes], None]:
    endpoint = f"{url}/v1/models/autoencoder:predict"

    def call(page: bytes) -> None:
        body = {"signature_name": "serving_default",
                "instances": [{"b64": base64.b64encode(page).decode()}]}
        answer = session.post(endpoint, json=body, timeout=300)
        answer.raise_for_status()

    return call


def api_call(url: str, session: requests.Session) -> Callable[[bytes], None]:
    def call(page: bytes) -> None:
        answer = session.post(url + "/remove_background",
                              json={"imgb64_dirty": base64.b64encode(page).decode()}, timeout=300)
        if answer.status_code != 200 or answer.json()["codigo_retorno"] != 0:
            raise RuntimeError(f"API answered {answer.status_code}: {answer.text[:200]}")

    return call


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--sizes", default="540x420", help="page sizes, e.g. 540x420,2480x3508")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--requests", type=int, default=40, help="calls per target and level")
    parser.add_argument("--large-requests", type=int, default=8,
                        help="calls per target and level for pages over 1 MP")
    parser.add_argument("--concurrency", default="1,4", help="levels, e.g. 1,2,4,8")
    parser.add_argument("--time-limit", type=float, default=120, help="seconds per measurement")
    parser.add_argument("--api-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the API (e.g. WEB_CONCURRENCY=2)")
    parser.add_argument("--api-model", action="append", default=[], metavar="NAME=DIR",
                        help="also time the API serving this model folder, as target api-NAME")
    parser.add_argument("--rounds", type=int, default=4,
                        help="API targets take turns in this many rounds per level")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here (for "
                        "python -m bench.render)")
    add_direct_args(parser)
    add_load_args(parser)
    return parser.parse_args(argv)


class Run:
    """One benchmark run: the pages, the levels, and every result measured so far."""

    def __init__(self, args: argparse.Namespace, database: str) -> None:
        self.args = args
        self.levels = [int(c) for c in args.concurrency.split(",")]
        self.pages = {size: load_pages(args.data, size) for size in args.sizes.split(",")}
        self.api_env = {"MODEL_DIR": str(args.model_dir), "MYSQL_DATABASE": database,
                        **dict(item.split("=", 1) for item in args.api_env)}
        self.logs = Path(tempfile.mkdtemp(prefix="ddd-bench-"))
        self.session = requests.Session()
        self.results: list[Result] = []
        self.sent_to_api = 0

    def count(self, size: str) -> int:
        return self.args.requests if megapixels(size) <= 1 else self.args.large_requests

    def add(self, result: Result) -> None:
        self.results.append(result)
        print(row(result), flush=True)

    def target(self, name: str, call: Callable[[bytes], None]) -> None:
        """One target alone, each size at each level after two warm-up calls."""
        for size, sample in self.pages.items():
            for _ in range(2):
                call(sample[0])  # warm-up: first calls trace graphs and fill pools
            for level in self.levels:
                self.add(measure(call, sample, target=name, size=size, count=self.count(size),
                                 concurrency=level, time_limit=self.args.time_limit))

    def apis(self, apis: dict[str, dict[str, str]]) -> None:
        """The API targets side by side, measured in turns (see measure_interleaved)."""
        with contextlib.ExitStack() as stack:
            calls = {}
            for name, setting in apis.items():
                env = {**self.api_env, **setting, "SPOOL_DIR": str(self.logs / name)}
                api = stack.enter_context(running_api(env, self.logs / f"{name}.log"))
                calls[name] = api_call(api.url, self.session)
            for size, sample in self.pages.items():
                for call in calls.values():
                    for _ in range(2):
                        call(sample[0])  # warm-up: first calls trace graphs and fill pools
                for level in self.levels:
                    for result in measure_interleaved(
                            calls, sample, size=size, count=self.count(size), concurrency=level,
                            rounds=self.args.rounds, time_limit=self.args.time_limit):
                        self.add(result)
        self.sent_to_api += sum(_sent(self.results, name) for name in apis)

    def direct(self, serving) -> None:
        for result in run_direct(
                self.pages, rest=serving.url, grpc=serving.grpc, model="autoencoder",
                signatures=self.args.signatures.split(","), levels=self.levels,
                requests_small=self.args.direct_requests,
                requests_large=self.args.direct_large_requests, time_limit=self.args.time_limit):
            self.add(result)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = start_run(args, argv)
    model_apis = _model_apis(args.api_model)
    local_apis = {**LOCAL_APIS, **model_apis}
    targets = args.targets.split(",") + list(model_apis)
    database = create_database(f"ddd_bench_{uuid.uuid4().hex[:8]}")
    run = Run(args, database)
    print(json.dumps(started))
    print(header())
    if {"model", "forward"} & set(targets):
        model, forward = in_process_calls(args.model_dir)
        for name, call in (("forward", forward), ("model", model)):
            if name in targets:
                run.target(name, call)
    if {"serving", "direct", "api-serving", "api-grpc"} & set(targets):
        with running_model_server(args.model_dir, run.logs / "serving.log",
                                  extra=SERVING_FLAGS) as serving:
            if "serving" in targets:
                run.target("serving", predict_call(serving.url, run.session))
            if "direct" in targets:
                run.direct(serving)
            settings = {**local_apis, "api-serving": {"TF_SERVING_URL": serving.url},
                        "api-grpc": {"TF_SERVING_GRPC": serving.grpc}}
            run.apis({t: settings[t] for t in settings if t in targets})
    elif set(local_apis) & set(targets):
        run.apis({t: setting for t, setting in local_apis.items() if t in targets})
    print("\n".join([_ratios(run.results), ratios(run.results), _per_megapixel(run.results)]))
    if run.sent_to_api:
        notes = [_rows_check(database, run.sent_to_api, len(run.pages) * 2)]
        print(notes[0])
    else:
        notes = []
        drop_database(database)
    if args.out:
        write_report(args.out, "Latency and throughput: model, TF Serving, API", run.results,
                     started, notes, reference="model" if "model" in targets else "")


def _model_apis(items: list[str]) -> dict[str, dict[str, str]]:
    """`NAME=DIR` pairs as API targets that serve DIR (its highest version)."""
    apis = {}
    for item in items:
        name, _, folder = item.partition("=")
        if not name or not folder or not Path(folder).is_dir():
            raise SystemExit(f"--api-model {item!r}: expected NAME=DIR with DIR a model folder")
        apis[f"api-{name}"] = {"MODEL_DIR": str(Path(folder).resolve())}
    return apis


def _sent(results: list[Result], target: str) -> int:
    return sum(r.requests + r.errors for r in results if r.target == target)


def _rows_check(database: str, measured: int, warmups_per_target: int) -> str:
    """Every API call must have left exactly one row (warm-up calls included)."""
    rows, distinct = count_rows(database)
    drop_database(database)
    return (f"MySQL rows: {rows} ({distinct} distinct request ids) for {measured} measured API"
            f" calls + {warmups_per_target} warm-up calls per API target")


def _ratios(results: list[Result]) -> str:
    base = {(r.size, r.concurrency): r for r in results if r.target == "model"}
    lines = ["\nratios of p50 latency to the bare model (model = serving_default in-process):"]
    for r in results:
        ref = base.get((r.size, r.concurrency))
        if ref and r.target != "model" and ref.p50_ms:
            lines.append(f"  {r.target:12s} {r.size:10s} c={r.concurrency}:"
                         f" {r.p50_ms / ref.p50_ms:5.2f}x  (throughput {r.throughput_rps:.2f}"
                         f" vs {ref.throughput_rps:.2f} req/s)")
    api = {(r.size, r.concurrency): r for r in results if r.target == "api"}
    lines.append("\nAPI over TF Serving / in-process API (p50; the target is 1.1x at 540x420):")
    for r in results:
        ref = api.get((r.size, r.concurrency))
        if ref and r.target in ("api-serving", "api-grpc") and ref.p50_ms:
            lines.append(f"  {r.target:12s} {r.size:10s} c={r.concurrency}:"
                         f" {r.p50_ms / ref.p50_ms:5.2f}x  (throughput {r.throughput_rps:.2f}"
                         f" vs {ref.throughput_rps:.2f} req/s)")
    return "\n".join(lines)


def _per_megapixel(results: list[Result]) -> str:
    """Large pages against the pixel-proportional cost of the smallest size (c=1, p50)."""
    ones = [r for r in results if r.concurrency == 1]
    sizes = sorted({r.size for r in ones}, key=megapixels)
    lines = [f"\np50 per megapixel at c=1, relative to {sizes[0]}:"] if len(sizes) > 1 else []
    for target in dict.fromkeys(r.target for r in ones):
        rows = {r.size: r for r in ones if r.target == target}
        small = rows.get(sizes[0])
        for size in sizes[1:]:
            if small and size in rows and small.p50_ms:
                per_mp = rows[size].p50_ms / megapixels(size)
                lines.append(f"  {target:12s} {size:10s} {per_mp:8.1f} ms/MP = "
                             f"{per_mp / (small.p50_ms / megapixels(sizes[0])):.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
