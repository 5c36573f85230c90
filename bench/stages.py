"""`python -m bench.stages`: where one request's time goes, stage by stage, per page size.

Runs the service's own functions in this process, in the order a request meets them: JSON
parse, base64 decode, header checks (`pagework.codec.read_page`), the model call (the SavedModel's
`serving_default`: PNG decode, network, PNG encode, all in the graph; decode and encode are also
timed alone), base64 of the answer, the JSON answer, and the MySQL insert (a throw-away
database). Medians of --repeats runs after one warm-up.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from api.log.store import LogRecord, Store
from bench.pages import add_source_args, load_pages
from bench.report import add_load_args, start_run, write_report
from bench.rows import create_database, drop_database
from pagework.backends.in_process import InProcessBackend
from pagework.codec import decode_base64, read_page, to_data_url
from pagework.config import from_env
from pagework.pipeline import run_model


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def stages(page: bytes, backend, store, max_bytes: int, max_pixels: int, repeats: int,
           png_compression: int = -1) -> dict[str, float]:
    """Median milliseconds per stage for one page."""
    import tensorflow as tf  # heavy and optional (the `tf` extra): only the runs that need it

    body = json.dumps({"imgb64_dirty": base64.b64encode(page).decode()})
    text = json.loads(body)["imgb64_dirty"]
    data = decode_base64(text, max_bytes)
    checked = read_page(data, max_pixels)
    clean = run_model(backend, checked)
    pixels = tf.io.decode_png(clean)
    url = to_data_url(clean)
    answer = {"codigo_retorno": 0, "mensagem": "Imagem processada com sucesso",
              "imgb64_clean": url}

    def insert() -> None:
        store.insert(LogRecord(uuid.uuid4().hex, datetime.now(UTC), 0, text, url,
                               checked.width, checked.height, 1.0, backend.version()))

    return {
        "json parse": median_ms(lambda: json.loads(body), repeats),
        "base64 decode": median_ms(lambda: decode_base64(text, max_bytes), repeats),
        "header checks": median_ms(lambda: read_page(data, max_pixels), repeats),
        "model call": median_ms(lambda: run_model(backend, checked), repeats),
        "  of which PNG decode": median_ms(lambda: tf.io.decode_image(checked.data), repeats),
        "  of which PNG encode": median_ms(lambda: tf.io.encode_png(pixels, png_compression),
                                            repeats),
        "base64 encode": median_ms(lambda: to_data_url(clean), repeats),
        "json answer": median_ms(lambda: json.dumps(answer), repeats),
        "mysql insert": median_ms(insert, repeats),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--sizes", default="540x420,2480x3508")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the report as JSON here (for "
                        "python -m bench.render)")
    add_load_args(parser)
    args = parser.parse_args(argv)
    started = start_run(args, argv)
    rows: list[dict[str, object]] = []

    cfg = from_env()
    database = create_database(f"bench_stages_{uuid.uuid4().hex[:8]}")
    backend = InProcessBackend(str(args.model_dir), intra_op_threads=cfg.tf_intra_op_threads,
                               inter_op_threads=cfg.tf_inter_op_threads)
    store = Store.from_config(cfg, database=database, pool_size=1)
    card = args.model_dir / f"{backend.version()}.card.json"
    serving = json.loads(card.read_text()).get("serving", {}) if card.exists() else {}
    try:
        if not store.ping():
            raise SystemExit(f"MySQL is not answering: {store.last_error}")
        for size in args.sizes.split(","):
            page = load_pages(args.data, size, count=1)[0]
            times = stages(page, backend, store, cfg.max_image_bytes, cfg.max_pixels,
                           args.repeats, serving.get("png_compression", -1))
            total = sum(v for k, v in times.items() if not k.startswith(" "))
            print(f"\n{size} ({len(page) / 1e6:.2f} MB PNG), model version {backend.version()}")
            print("| stage | ms | share |\n|---|---|---|")
            for name, ms in times.items():
                print(f"| {name} | {ms:.1f} | {ms / total:.0%} |")
            print(f"| total | {total:.1f} | 100% |")
            rows += [{"size": size, "stage": name, "ms": round(ms, 1),
                      "share": f"{ms / total:.0%}"} for name, ms in times.items()]
    finally:
        backend.close()
        drop_database(database)
    if args.out:
        write_report(args.out, "Where the time of a request goes (medians)", rows, started)


if __name__ == "__main__":
    main()
