"""A durable local queue of log rows that MySQL has not taken yet.

One append-only JSON-lines file shared by all workers of the service, written under an exclusive
`flock` and fsync'd before the client gets its answer, so a row survives `kill -9` and power
loss. A separate offset file records how far replay has got; replaying a row twice is harmless
because the table's unique `request_id` makes the insert idempotent.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "pending.jsonl"
        self.offset_path = self.directory / "pending.offset"
        self.rejected_path = self.directory / "rejected.jsonl"
        self._lock_path = self.directory / "spool.lock"
        self._drain_lock_path = self.directory / "drain.lock"

    def append(self, row: dict) -> None:
        """Returns once the row is on disk."""
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._locked(self._lock_path):
            _append_line(self.path, line)

    def has_pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def depth(self) -> int:
        """Rows still waiting (reads the file: for readiness reports, not the hot path)."""
        with self._locked(self._lock_path):
            if not self.path.exists():
                return 0
            with self.path.open("rb") as handle:
                handle.seek(self._read_offset())
                return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))

    def rejected(self) -> int:
        try:
            with self.rejected_path.open("rb") as handle:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        except FileNotFoundError:
            return 0

    @contextmanager
    def draining(self) -> Iterator[bool]:
        """True for the one process that may replay now; the others skip this round."""
        with self._drain_lock_path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_batch(self, limit: int) -> tuple[list[dict], int]:
        """The next rows in order and the offset after them; unreadable lines go to rejected."""
        with self._locked(self._lock_path):
            offset = self._read_offset()
            rows, end = [], offset
            try:
                handle = self.path.open("rb")
            except FileNotFoundError:
                return [], offset
            with handle:
                handle.seek(offset)
                for line in handle:
                    if not line.endswith(b"\n"):
                        # Appends complete under the lock we hold: this tail is from a writer
                        # that died mid-write. Keep it for a human, then drop it from the queue.
                        self._reject_raw(line)
                        os.truncate(self.path, end)
                        break
                    end += len(line)
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        self._reject_raw(line)
                    if len(rows) >= limit:
                        break
            if not rows:
                self._commit_locked(end)
            return rows, end

    def commit(self, offset: int) -> None:
        """Marks everything before `offset` as stored; empties the file once all of it is."""
        with self._locked(self._lock_path):
            self._commit_locked(offset)

    def reject(self, row: dict) -> None:
        """Keeps a row MySQL refused for good where an operator can find it."""
        self._reject_raw((json.dumps(row, ensure_ascii=False) + "\n").encode())

    def _commit_locked(self, offset: int) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        if offset >= size:
            if size:
                os.truncate(self.path, 0)
            offset = 0
        _write_atomically(self.offset_path, str(offset).encode())

    def _read_offset(self) -> int:
        try:
            return int(self.offset_path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _reject_raw(self, line: bytes) -> None:
        _append_line(self.rejected_path, line if line.endswith(b"\n") else line + b"\n")

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # close a line torn by a crash, so this one stays readable
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if size == 0:
        _fsync_dir(path.parent)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
