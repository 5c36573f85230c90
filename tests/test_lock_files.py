"""The API image installs from hashed lock files (`make lock`): each holds every requirement
pyproject.toml names for it, pinned to a version its range allows, with hashes, and the Dockerfile
installs nothing else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"requirements.lock": None, "docker/protoc.lock": "dev"}  # file -> pyproject extra


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes), from uv's `name==version \\` + `--hash=` lines."""
    entries: dict[str, tuple[str, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if match := re.match(r"([A-Za-z0-9._-]+)==([^\s;]+)", line):
            name = canonicalize_name(match.group(1))
            entries[name] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[name]
            entries[name] = (version, hashes + 1)
    return entries


def wanted(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    if extra is None:
        return [Requirement(r) for r in project["dependencies"]]
    return [Requirement(r) for r in project["optional-dependencies"][extra]
            if r.startswith("grpcio-tools")]  # the build stage's one tool


@pytest.mark.parametrize(("lock", "extra"), LOCKS.items())
def test_every_requirement_is_locked_in_range_with_hashes(lock, extra):
    entries = locked(ROOT / lock)
    for requirement in wanted(extra):
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{name} missing from {lock}: run `make lock`"
        assert requirement.specifier.contains(entries[name][0]), (name, entries[name])
    assert all(hashes for _, hashes in entries.values()), lock


def test_the_dockerfile_installs_from_the_locks_only():
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    installs = re.findall(r"pip install [^&\n]*", text)
    assert all("--require-hashes" in command for command in installs), installs
    assert sorted(command.split()[-1].rsplit("/", 1)[-1] for command in installs) == \
        sorted(Path(lock).name for lock in LOCKS)
