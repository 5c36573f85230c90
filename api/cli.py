"""`remove-background clean IN... -o OUTDIR`: cleans image files or whole folders, with the model in
this process (the API's own steps, so the PNG bytes are the API's) or through a running service.

Exit status: 0 every page cleaned, 1 some failed (listed at the end), 2 nothing to do or bad usage.
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import requests
from tqdm import tqdm

from api.backends import build_backend
from api.budget import PixelBudget
from api.codes import ApiError, Code
from api.config import from_env
from api.pipeline import clean_bytes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
PNG_DATA_URL = "data:image/png;base64,"


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass(frozen=True)
class Failure:
    source: Path
    code: int | None  # the API's codigo_retorno; None when no answer came (I/O, network)
    message: str
    detail: str = ""
    request_id: str = ""

    def describe(self) -> str:
        code = f"code {self.code}" if self.code is not None else "no code"
        text = f"{self.source}: {code}, {self.message}"
        text += f" ({self.detail})" if self.detail else ""
        return text + (f" [request {self.request_id}]" if self.request_id else "")


class UsageError(Exception):
    """Nothing was cleaned: exit status 2, like argparse's own errors."""


class PageFailed(Exception):
    def __init__(self, code: int | None, message: str, detail: str = "",
                 request_id: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.detail, self.request_id = code, message, detail, request_id


class Cleaner(Protocol):
    def clean(self, data: bytes) -> bytes:
        """PNG bytes of the cleaned page; raises PageFailed."""


# What each code means for someone cleaning files (the API's messages speak of its JSON key).
FILE_PROBLEMS: dict[int, str] = {
    Code.BAD_REQUEST: "the service refused the request",
    Code.MISSING_KEY: "the service refused the request",
    Code.BAD_IMAGE: "not a readable image (PNG, JPEG, GIF, BMP, TIFF or WebP), or damaged",
    Code.TOO_LARGE: "too large (over MAX_IMAGE_BYTES or MAX_PIXELS)",
    Code.MODEL_UNAVAILABLE: "the model did not answer; try again",
    Code.UNAUTHORIZED: "the service wants an API key (--api-key)",
    Code.INTERNAL: "internal error of the service",
    Code.LOG_UNAVAILABLE: "the service could not log the request; try again",
}


class LocalCleaner:
    """The API's own pipeline without HTTP, with the backend the service would build."""

    def __init__(self, model_dir: str | None) -> None:
        config = from_env()
        self.config = replace(config, model_dir=model_dir) if model_dir else config
        self.backend = build_backend(self.config)
        self.budget = PixelBudget(max(self.config.pixel_budget, self.config.max_pixels),
                                  self.config.pixel_budget_wait)

    def clean(self, data: bytes) -> bytes:
        try:
            return clean_bytes(data, self.backend, self.config, self.budget).png
        except ApiError as err:
            raise PageFailed(int(err.code), FILE_PROBLEMS[err.code], err.detail) from None


class RemoteCleaner:
    """POST /remove_background on a running service, one HTTP session per worker thread."""

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        self.endpoint = url.rstrip("/") + "/remove_background"
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.timeout = timeout
        self._local = threading.local()

    def clean(self, data: bytes) -> bytes:
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        body = {"imgb64_dirty": base64.b64encode(data).decode("ascii")}
        try:
            response = session.post(self.endpoint, json=body, headers=self.headers,
                                    timeout=self.timeout)
            answer = response.json()
        except requests.RequestException as err:
            raise PageFailed(None, "service unreachable", str(err)) from None
        except ValueError:
            raise PageFailed(None, f"not an API answer (HTTP {response.status_code})") from None
        request_id = response.headers.get("X-Request-ID", "")
        if not isinstance(answer, dict):
            raise PageFailed(None, f"not an API answer (HTTP {response.status_code})")
        code = answer.get("codigo_retorno")
        if code != 0:
            raise PageFailed(code, FILE_PROBLEMS.get(code, str(answer.get("mensagem", ""))),
                             answer.get("detalhe", ""), request_id)
        return base64.b64decode(answer["imgb64_clean"].removeprefix(PNG_DATA_URL))


def collect_jobs(inputs: Iterable[Path], outdir: Path) -> list[Job]:
    """Files as given; folders searched recursively for images, subfolders mirrored in OUTDIR."""
    jobs = []
    out = outdir.resolve()
    for item in inputs:
        if item.is_dir():
            for path in sorted(item.rglob("*")):
                if (path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
                        and out not in path.resolve().parents):
                    jobs.append(Job(path, outdir / path.relative_to(item).with_suffix(".png")))
        elif item.is_file():
            jobs.append(Job(item, outdir / f"{item.stem}.png"))
        else:
            raise UsageError(f"{item}: no such file or folder")
    return jobs


def check_collisions(jobs: Sequence[Job]) -> None:
    """Two inputs (say page.jpg and page.png) would write one output: refuse before writing."""
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise UsageError(f"{seen[job.target]} and {job.source} would both be written to "
                             f"{job.target}")
        seen[job.target] = job.source


def clean_file(cleaner: Cleaner, job: Job) -> Failure | None:
    try:
        data = job.source.read_bytes()
    except OSError as err:
        return Failure(job.source, None, "cannot read the file", err.strerror or str(err))
    try:
        png = cleaner.clean(data)
    except PageFailed as err:
        return Failure(job.source, err.code, err.message, err.detail, err.request_id)
    job.target.parent.mkdir(parents=True, exist_ok=True)
    partial = job.target.with_name(job.target.name + ".part")
    partial.write_bytes(png)
    partial.replace(job.target)  # never a half-written page under the final name
    return None


def run_jobs(cleaner: Cleaner, jobs: Sequence[Job], workers: int, quiet: bool) -> list[Failure]:
    failures = []
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(jobs), unit="page", disable=quiet or None, file=sys.stderr) as bar:
        futures = [pool.submit(clean_file, cleaner, job) for job in jobs]
        for future in as_completed(futures):
            failure = future.result()
            if failure:
                failures.append(failure)
                bar.set_postfix(failed=len(failures))
            bar.update()
    return sorted(failures, key=lambda failure: str(failure.source))


def command_clean(args: argparse.Namespace) -> int:
    jobs = collect_jobs(args.inputs, args.output)
    if not jobs:
        raise UsageError("no images found")
    check_collisions(jobs)
    if args.url:
        cleaner: Cleaner = RemoteCleaner(args.url, args.api_key, args.timeout)
    else:
        cleaner = LocalCleaner(args.model_dir)
    workers = args.workers or (4 if args.url else 1)
    failures = run_jobs(cleaner, jobs, workers, args.quiet)
    print(f"{len(jobs) - len(failures)} of {len(jobs)} pages cleaned into {args.output}",
          file=sys.stderr)
    for failure in failures:
        print(f"  failed: {failure.describe()}", file=sys.stderr)
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remove-background",
        description="Removes stains, folds and shadows from scanned text pages.")
    commands = parser.add_subparsers(dest="command", required=True)
    clean = commands.add_parser(
        "clean", help="clean image files or folders into OUTDIR",
        description="Writes OUTDIR/<name>.png for every input image (folders: recursively, "
                    "subfolders mirrored). Failed pages are listed at the end; exit status 1.")
    clean.add_argument("inputs", nargs="+", type=Path, metavar="IN",
                       help="image files, or folders searched for "
                            + ", ".join(sorted(IMAGE_SUFFIXES)))
    clean.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR",
                       help="folder for the cleaned PNGs (created if missing)")
    clean.add_argument("--url", help="send pages to a running service (e.g. "
                                     "http://localhost:3030) instead of loading the model here")
    clean.add_argument("--api-key", default=from_env().api_key,
                       help="X-API-Key for --url (default: $API_KEY)")
    clean.add_argument("--workers", type=int, metavar="N",
                       help="pages at a time (default: 1 in this process, the model uses every "
                            "core; 4 with --url)")
    clean.add_argument("--model-dir", metavar="DIR",
                       help="base path of numbered SavedModel versions (default: $MODEL_DIR or "
                            "serving/models/autoencoder)")
    clean.add_argument("--timeout", type=float, default=120.0,
                       help="seconds per page with --url (default: 120)")
    clean.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    clean.set_defaults(run=command_clean)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        return args.run(args)
    except UsageError as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
