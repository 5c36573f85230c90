"""A durable local queue of log rows that MySQL has not taken yet.

One append-only JSON-lines file shared by all workers of the service, written under an exclusive
`flock` and fsync'd before the client gets its answer, so a row survives `kill -9` and power
loss. A separate offset file records how far replay has got; replaying a row twice is harmless
because the table's unique `request_id` makes the insert idempotent.

The spool is bounded (`max_bytes`): at the bound, and when the disk is full, `append` raises
OSError and the request is answered with code 8 instead of being served without its row. Row
counts live in a small file updated under the writers' lock, so /ready and /metrics read a
number, not the spool.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SpoolFull(OSError):
    """The spool holds `max_bytes` already; the row cannot wait here."""


class Spool:
    def __init__(self, directory: str | Path, max_bytes: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.path = self.directory / "pending.jsonl"
        self.offset_path = self.directory / "pending.offset"
        self.rejected_path = self.directory / "rejected.jsonl"
        self.counts_path = self.directory / "counts"
        self._lock_path = self.directory / "spool.lock"
        self._drain_lock_path = self.directory / "drain.lock"
        self._last_batch = (0, 0, 0)  # (start, end, lines) of the last read_batch
        with self._locked(self._lock_path):
            self._recount()  # the counts are not fsync'd: a crash may have left them behind

    def append(self, row: dict) -> None:
        """Returns once the row is on disk; raises OSError (SpoolFull at the bound, ENOSPC...).
        ASCII JSON: any text, lone surrogates included, can be written and read back."""
        line = (json.dumps(row, separators=(",", ":")) + "\n").encode()
        with self._locked(self._lock_path):
            if self.max_bytes and _size(self.path) + len(line) > self.max_bytes:
                raise SpoolFull(f"spool holds {_size(self.path)} of {self.max_bytes} bytes")
            _append_line(self.path, line)
            self._count(pending=1)

    def has_pending(self) -> bool:
        return _size(self.path) > 0

    def depth(self) -> int:
        """Rows still waiting."""
        return self._counts()[0]

    def rejected(self) -> int:
        """Rows set aside in rejected.jsonl."""
        return self._counts()[1]

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
            lines = 0
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
                    lines += 1
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        self._reject_raw(line)
                    if len(rows) >= limit:
                        break
            self._last_batch = (offset, end, lines)
            if not rows:
                self._commit_locked(end)
            return rows, end

    def commit(self, offset: int) -> None:
        """Marks everything before `offset` as stored; empties the file once all of it is."""
        with self._locked(self._lock_path):
            self._commit_locked(offset)

    def reject(self, row: object) -> None:
        """Keeps a row MySQL refused for good, or a line that is not a row, where an operator
        can find it."""
        with self._locked(self._lock_path):
            self._reject_raw((json.dumps(row) + "\n").encode())

    def _commit_locked(self, offset: int) -> None:
        start, end, lines = self._last_batch
        if (start, end) != (self._read_offset(), offset):
            lines = _count_lines(self.path, self._read_offset(), offset)
        self._count(pending=-lines)
        size = _size(self.path)
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
        self._count(rejected=1)

    def _counts(self) -> tuple[int, int]:
        try:
            pending, rejected = self.counts_path.read_text().split()
            return int(pending), int(rejected)
        except (FileNotFoundError, ValueError):
            return 0, 0

    def _count(self, pending: int = 0, rejected: int = 0) -> None:
        """Called under the writers' lock; replaced atomically so readers need no lock."""
        old_pending, old_rejected = self._counts()
        _replace(self.counts_path,
                 f"{max(0, old_pending + pending)} {old_rejected + rejected}\n".encode())

    def _recount(self) -> None:
        pending = _count_lines(self.path, self._read_offset(), None)
        _replace(self.counts_path,
                 f"{pending} {_count_lines(self.rejected_path, 0, None)}\n".encode())

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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _count_lines(path: Path, start: int, end: int | None) -> int:
    """Complete lines between two offsets (a torn last line has no newline yet)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return 0
    with handle:
        handle.seek(start)
        left = None if end is None else max(0, end - start)
        lines = 0
        while left is None or left > 0:
            chunk = handle.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            left = None if left is None else left - len(chunk)
        return lines


def _replace(path: Path, data: bytes) -> None:
    """Atomic, not durable: for what can be recomputed after a crash."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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
