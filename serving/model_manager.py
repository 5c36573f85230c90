"""Which versions of each model are served: discovery, loading, switching and unloading.

Follows TF Serving's file-system source and availability-preserving policy: numbered folders
under the base path are versions (tfmodel/versions.py); the latest is served (TF Serving's default
policy, the only one our configs use); a new version is loaded in the background, made AVAILABLE,
and only then is the version it replaces unloaded. A folder counts once its files did not change
between two polls, so a version that is still being copied is never served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serving.config_files import ModelConfig
from serving.errors import Code, ServingError, not_found
from serving.runner import VersionRunner
from tfmodel.versions import version_folders

log = logging.getLogger(__name__)

LoadFunction = Callable[[str, int, Path], VersionRunner]


@dataclass(frozen=True)
class VersionState:
    """A ModelVersionStatus: state name and the StatusProto's error code and message."""

    state: str
    error_code: str = "OK"
    error_message: str = ""


def _fingerprint(folder: Path) -> tuple:
    files = []
    for path in folder.rglob("*"):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        files.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(files))


class ModelManager:
    """The versions of one model. Requests read `_serving` (replaced whole, never mutated), so
    a switch of version is atomic for them; polls run one at a time."""

    def __init__(self, config: ModelConfig, load: LoadFunction) -> None:
        self.config = config
        self._load = load
        self._serving: dict[int, VersionRunner] = {}
        self._states: dict[int, VersionState] = {}
        self._seen: dict[int, tuple] = {}
        self._failed: dict[int, tuple] = {}
        self._poll_lock = threading.Lock()
        self._first_poll = True
        self._warned_empty = False

    @property
    def name(self) -> str:
        return self.config.name

    def poll(self) -> None:
        """One look at the base path: load what the policy wants, then unload the rest."""
        with self._poll_lock:
            present = {v: _fingerprint(folder)
                       for v, folder in version_folders(self.config.base_path).items()}
            ready = {
                v for v, fp in present.items()
                if v in self._serving or self._first_poll or self._seen.get(v) == fp
            }
            ready -= {v for v, fp in self._failed.items() if present.get(v) == fp}
            self._seen, self._first_poll = present, False
            self._warn_if_empty(present)
            aspired = {max(ready)} if ready else set()
            for version in sorted(aspired - set(self._serving), reverse=True):
                self._load_version(version, present[version])
            if aspired & set(self._serving):
                for version in sorted(set(self._serving) - aspired):
                    self._unload_version(version)

    def _warn_if_empty(self, present: dict[int, tuple]) -> None:
        if not present and not self._warned_empty:
            log.warning("No versions of servable %s found under base path %s", self.name,
                        self.config.base_path)
        self._warned_empty = not present

    def _load_version(self, version: int, fingerprint: tuple) -> None:
        path = Path(self.config.base_path) / str(version)
        log.info("Loading servable: {name: %s version: %d} from %s", self.name, version, path)
        self._states[version] = VersionState("LOADING")
        try:
            runner = self._load(self.name, version, path)
        except Exception as error:  # a bad version must not stop the poller or the server
            code = error.code.name if isinstance(error, ServingError) else Code.UNKNOWN.name
            self._states[version] = VersionState("END", code, str(error))
            self._failed[version] = fingerprint
            log.error("Loading servable {name: %s version: %d} failed: %s", self.name, version,
                      error)
            return
        self._serving = {**self._serving, version: runner}
        self._states[version] = VersionState("AVAILABLE")
        log.info("Successfully loaded servable version {name: %s version: %d}", self.name,
                 version)

    def _unload_version(self, version: int) -> None:
        self._states[version] = VersionState("UNLOADING")
        runner = self._serving[version]
        self._serving = {v: r for v, r in self._serving.items() if v != version}
        runner.close()
        self._states[version] = VersionState("END")
        log.info("Unloaded servable version {name: %s version: %d}", self.name, version)

    def unload_all(self) -> None:
        with self._poll_lock:
            for version in sorted(self._serving):
                self._unload_version(version)

    def runner_for(self, version: int | None = None) -> VersionRunner:
        """The runner a request names: the latest or a version (ServerCore's lookup)."""
        serving = self._serving
        if version is None:
            if not serving:
                raise not_found(f"Servable not found for request: Latest({self.name})")
            return serving[max(serving)]
        if version not in serving:
            raise not_found(f"Servable not found for request: Specific({self.name}, {version})")
        return serving[version]

    def status(self, version: int | None = None) -> list[tuple[int, VersionState]]:
        """GetModelStatusImpl: one version, or all known ones from the highest down."""
        states = dict(self._states)
        if version is not None:
            if version not in states:
                raise not_found(f"Could not find version {version} of model {self.name}")
            return [(version, states[version])]
        if not states:
            raise not_found(f"Could not find any versions of model {self.name}")
        return sorted(states.items(), reverse=True)


class ModelRegistry:
    """All configured models, and the thread that polls their base paths."""

    def __init__(self, managers: list[ModelManager], poll_wait_seconds: int) -> None:
        self._managers = {m.name: m for m in managers}
        self._poll_wait = poll_wait_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def runner_for(self, name: str, version: int | None = None) -> VersionRunner:
        manager = self._managers.get(name)
        if manager is not None:
            return manager.runner_for(version)
        request = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
        raise not_found(f"Servable not found for request: {request}")

    def status(self, name: str, version: int | None) -> list[tuple[int, VersionState]]:
        """An unknown model answers as one without versions, as TF Serving's state monitor does."""
        return self._managers.get(name, ModelManager(ModelConfig(name, ""), None)).status(version)

    def start(self) -> None:
        """Loads the initial versions now, then polls every --file_system_poll_wait_seconds
        (0 or less: that first poll is the only one)."""
        self.poll_all()
        if self._poll_wait > 0:
            self._thread = threading.Thread(target=self._poll_loop, name="fs-poll", daemon=True)
            self._thread.start()

    def poll_all(self) -> None:
        for manager in self._managers.values():
            try:
                manager.poll()
            except OSError as error:
                log.error("polling %s failed: %s", manager.config.base_path, error)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_wait):
            self.poll_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for manager in self._managers.values():
            manager.unload_all()
