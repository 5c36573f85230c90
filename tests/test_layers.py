"""The folders are the layers: production code and training never import the development
stand-in (`serving/`), training never imports the web package, and the shared model rules
(`tfmodel/`) import none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "api": {"serving", "training", "bench"},
    "training": {"serving", "api"},
    "tfmodel": {"serving", "api", "training", "bench"},
    "bench": {"serving"},
    "fuzz": {"serving"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every import in a module, function-local ones included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_the_layers_below(package):
    crossings = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
                 for path in sorted((ROOT / package).rglob("*.py"))}
    assert {module: names for module, names in crossings.items() if names} == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from serving.flags import parse_flags\n")
    assert "serving" in imported_packages(module)
