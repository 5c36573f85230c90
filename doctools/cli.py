"""`remove-background clean IN... -o OUTDIR`: cleans image files, scanned PDFs, multi-page TIFFs or
whole folders, with the model in this process (the service's own steps from pagework/, so the PNG
bytes are the API's) or through a running service. An image gives a PNG; a PDF gives a PDF and a
multi-page TIFF a TIFF, of the same pages.

Exit status: 0 every page cleaned, 1 some failed (listed at the end), 2 nothing to do or bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from doctools.cleaners import Cleaner, DocumentError, LocalCleaner, PageFailed, RemoteCleaner
from doctools.tiff_pages import frame_count
from pagework.config import from_env
from tfmodel.modes import DEFAULT, MODES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
INPUT_SUFFIXES = IMAGE_SUFFIXES | {".pdf"}
PDF_EXTRA = "PDF pages need the pdf extra: pip install -e '.[pdf]' (make setup installs it)"


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path
    document: bool = False  # a PDF or multi-page TIFF, cleaned page by page into its own format


@dataclass(frozen=True)
class Failure:
    source: Path
    code: int | None  # the API's codigo_retorno; None when no answer came (I/O, network)
    message: str
    detail: str = ""
    request_id: str = ""
    page: int | None = None  # 1-based, in a PDF or multi-page TIFF

    def describe(self) -> str:
        code = f"code {self.code}" if self.code is not None else "no code"
        where = f"{self.source}, page {self.page}" if self.page else f"{self.source}"
        text = f"{where}: {code}, {self.message}"
        text += f" ({self.detail})" if self.detail else ""
        return text + (f" [request {self.request_id}]" if self.request_id else "")


class UsageError(Exception):
    """Nothing was cleaned: exit status 2, like argparse's own errors."""


def document_suffix(path: Path) -> str | None:
    """The suffix a document keeps when cleaned (.pdf, or a TIFF's own when it has several
    pages); None for a file the image path cleans into a PNG."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return ".pdf"
    if suffix in (".tif", ".tiff") and frame_count(path) > 1:
        return path.suffix
    return None


def job_for(source: Path, target: Path) -> Job:
    """`target` without its suffix: the job gives it .png, or the document's own suffix."""
    suffix = document_suffix(source)
    return Job(source, target.with_suffix(suffix or ".png"), document=suffix is not None)


def collect_jobs(inputs: Iterable[Path], outdir: Path) -> list[Job]:
    """Files as given; folders searched recursively for images and PDFs, subfolders mirrored in
    OUTDIR."""
    jobs = []
    out = outdir.resolve()
    for item in inputs:
        if item.is_dir():
            for path in sorted(item.rglob("*")):
                if (path.suffix.lower() in INPUT_SUFFIXES and path.is_file()
                        and out not in path.resolve().parents):
                    jobs.append(job_for(path, outdir / path.relative_to(item)))
        elif item.is_file():
            jobs.append(job_for(item, outdir / item.name))
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


def run_document(cleaner: Cleaner, job: Job, workers: int, quiet: bool) -> list[Failure]:
    """One PDF or multi-page TIFF, its pages `workers` at a time, with a progress bar of its own."""
    try:
        from doctools.document_jobs import clean_document  # the pdf extra, only when a PDF comes
    except ImportError:
        return [Failure(job.source, None, PDF_EXTRA)]
    with tqdm(total=None, unit="page", desc=job.source.name, disable=quiet or None,
              file=sys.stderr) as bar:
        failed = 0

        def on_page(ok: bool) -> None:
            nonlocal failed
            failed += not ok
            if failed:
                bar.set_postfix(failed=failed)
            bar.update()

        try:
            outcome = clean_document(cleaner, job.source, job.target,
                                     max_pixels=from_env().max_pixels, workers=workers,
                                     on_page=on_page, on_start=bar.reset)
        except DocumentError as err:
            return [Failure(job.source, None, str(err))]
    if outcome.kept:
        pages = ", ".join(str(index + 1) for index in outcome.kept)
        print(f"{job.source}: page(s) {pages} hold no scanned image, kept as they were",
              file=sys.stderr)
    if outcome.failed:
        print(f"{job.source}: {len(outcome.failed)} of {outcome.pages} pages failed"
              + (", kept as they were" if outcome.cleaned else "; nothing written"),
              file=sys.stderr)
    return [Failure(job.source, err.code, err.message, err.detail, err.request_id, index + 1)
            for index, err in outcome.failed]


def command_clean(args: argparse.Namespace) -> int:
    jobs = collect_jobs(args.inputs, args.output)
    if not jobs:
        raise UsageError("no images or PDFs found")
    check_collisions(jobs)
    if args.url:
        cleaner: Cleaner = RemoteCleaner(args.url, args.api_key, args.timeout, args.saida)
    else:
        cleaner = LocalCleaner(args.model_dir, args.saida)
    workers = args.workers or (4 if args.url else 1)
    images = [job for job in jobs if not job.document]
    failures = run_jobs(cleaner, images, workers, args.quiet) if images else []
    for job in jobs:
        if job.document:
            failures += run_document(cleaner, job, workers, args.quiet)
    failed_files = {failure.source for failure in failures}
    print(f"{len(jobs) - len(failed_files)} of {len(jobs)} files cleaned into {args.output}",
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
        "clean", help="clean images, scanned PDFs, multi-page TIFFs or folders into OUTDIR",
        description="Writes OUTDIR/<name>.png for every input image, OUTDIR/<name>.pdf for a "
                    "PDF and OUTDIR/<name>.tif for a multi-page TIFF, with the same pages, each "
                    "cleaned at the resolution of its scan (folders: recursively, subfolders "
                    "mirrored). Failed pages are listed at the end; exit status 1.")
    clean.add_argument("inputs", nargs="+", type=Path, metavar="IN",
                       help="files, or folders searched for " + ", ".join(sorted(INPUT_SUFFIXES)))
    clean.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR",
                       help="folder for the cleaned files (created if missing)")
    clean.add_argument("--saida", choices=MODES, default=DEFAULT,
                       help="cinza: 8-bit gray pages (default); cor: the page's colours on white "
                            "paper (RGB); binaria: black and white (1-bit PNG; CCITT G4 in PDFs "
                            "and TIFFs)")
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
