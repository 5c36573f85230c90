"""`python -m bench.strips`: what thin and elongated pages cost the gunicorn-served API.

Sends one strip of each format (a few hundred bytes each) and a 540x420 page for scale to the
API as `make run` starts it (shipped model, real MariaDB), one at a time, and prints each
answer's code, its time and the worker's resident memory after it, then the memory once idle.
"""

from __future__ import annotations

import argparse
import base64
import io
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from bench.load import worker_rss_mib
from bench.processes import running_api
from bench.report import add_load_args, settle
from bench.rows import count_rows, create_database, drop_database

# (label, format, width, height): the largest strips each format can hold.
STRIPS = [
    ("page 540x420 PNG", "PNG", 540, 420),
    ("1x65535 PNG", "PNG", 1, 65535),
    ("65535x1 PNG", "PNG", 65535, 1),
    ("65500x2 JPEG", "JPEG", 65500, 2),
    ("2x65500 JPEG", "JPEG", 2, 65500),
    ("16383x4 WebP", "WEBP", 16383, 4),
    ("1x65535 GIF", "GIF", 1, 65535),
    ("65535x1 BMP", "BMP", 65535, 1),
    ("1x65535 TIFF", "TIFF", 1, 65535),
]


def strip(fmt: str, width: int, height: int) -> bytes:
    """A white page with a few dark pixels: compresses to almost nothing, as an attacker's."""
    pixels = np.full((height, width), 235, np.uint8)
    pixels[::97, ::97] = 20
    image = Image.fromarray(pixels).convert("RGB" if fmt in ("JPEG", "WEBP") else "L")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="serving/models/autoencoder")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request")
    parser.add_argument("--api-env", action="append", default=[], metavar="KEY=VALUE")
    add_load_args(parser)
    args = parser.parse_args(argv)
    settle(args)
    database = create_database(f"ddd_strips_{uuid.uuid4().hex[:8]}")
    logs = Path(tempfile.mkdtemp(prefix="ddd-strips-"))
    env = {"MODEL_DIR": str(Path(args.model_dir).resolve()), "MYSQL_DATABASE": database,
           "SPOOL_DIR": str(logs / "spool"), **dict(i.split("=", 1) for i in args.api_env)}
    try:
        with running_api(env, logs / "api.log") as api:
            print(f"worker RSS at start: {worker_rss_mib(api.popen.pid)} MiB", flush=True)
            for label, fmt, width, height in STRIPS:
                data = strip(fmt, width, height)
                body = {"imgb64_dirty": base64.b64encode(data).decode()}
                started = time.perf_counter()
                answer = requests.post(api.url + "/remove_background", json=body,
                                       timeout=args.timeout)
                seconds = time.perf_counter() - started
                payload = answer.json()
                print(f"{label:18} {len(data):6} bytes  code {payload['codigo_retorno']}"
                      f"  {seconds:6.2f} s  worker RSS {worker_rss_mib(api.popen.pid)} MiB"
                      f"  {payload.get('detalhe', '')}", flush=True)
            print(f"worker RSS idle at the end: {worker_rss_mib(api.popen.pid)} MiB")
        rows, distinct = count_rows(database)
        print(f"MySQL rows: {rows} ({distinct} distinct) for {len(STRIPS)} requests")
    finally:
        drop_database(database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
