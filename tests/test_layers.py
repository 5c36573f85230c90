"""The folders are the layers. Bottom up: the model rules (`tfmodel/`); the page work every entry
point shares (`pagework/`); the HTTP service (`api/`, its request log in `api/log/`) and the
document tools (`doctools/`) beside each other; the OCRmyPDF plugin (`ddd_ocrmypdf/`) on the
tools. No arrow runs back up or sideways, nothing in production imports the development stand-in
(`serving/`), and no module imports itself round a circle, function-local imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tfmodel", "pagework", "api", "doctools", "ddd_ocrmypdf", "training", "serving",
            "bench", "fuzz", "tests")
TOOLS = {"serving", "training", "bench", "fuzz"}
FORBIDDEN = {
    "tfmodel": {"pagework", "api", "doctools", "ddd_ocrmypdf"} | TOOLS,
    "pagework": {"api", "doctools", "ddd_ocrmypdf"} | TOOLS,
    "api": {"doctools", "ddd_ocrmypdf"} | TOOLS,
    "doctools": {"api", "ddd_ocrmypdf"} | TOOLS,
    "ddd_ocrmypdf": {"api"} | TOOLS,
    "training": {"serving", "pagework", "api", "doctools", "ddd_ocrmypdf", "bench", "fuzz"},
    "bench": {"serving"},
    "fuzz": {"serving"},
}
SERVICE_MODULES = 16  # the most `api/` may hold at its top level (issue 37)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import statement, function-local ones included, relative ones
    resolved: `import a.b` gives ("a.b", []), `from a import b, c` gives ("a", ["b", "c"])."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                name = module_name(path)
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((base, [alias.name for alias in node.names]))
    return found


def imported_names(path: Path) -> set[str]:
    """Every module an import may name (`from a import b` gives `a` and `a.b`)."""
    return {f"{base}.{n}" for base, names in imports(path) for n in names} | {
        base for base, _ in imports(path)}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every import in a module."""
    return {name.split(".")[0] for name in imported_names(path)}


def sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "models" not in p.parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the project's modules it imports: `from a import b` names `a.b` if that is a
    module, else `a`."""
    paths = {module_name(p): p for package in PACKAGES for p in sources(package)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for base, names in imports(path):
            targets |= {f"{base}.{n}" if f"{base}.{n}" in paths else base for n in names or [""]}
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_the_layers_below(package):
    crossings = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
                 for path in sources(package)}
    assert {module: names for module, names in crossings.items() if names} == {}


def test_the_request_log_imports_nothing_of_the_service_above_it():
    above = {str(path.relative_to(ROOT)): sorted(
        name for name in imported_names(path)
        if name.startswith("api.") and not name.startswith("api.log"))
        for path in sources("api/log")}
    assert {module: names for module, names in above.items() if names} == {}


def test_no_import_circle_anywhere():
    graph = import_graph()
    assert len(graph) > 100
    assert circles(graph) == []


def test_the_service_folder_is_small_and_holds_no_document_code():
    modules = sorted(p.name for p in (ROOT / "api").glob("*.py"))
    assert len(modules) <= SERVICE_MODULES, modules
    document_code = {"pypdfium2", "pikepdf", "img2pdf", "tqdm", "doctools"}
    assert {p.name for p in sources("api") if imported_packages(p) & document_code} == set()


def test_the_checks_see_a_forbidden_import_and_a_circle(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from serving.flags import parse_flags\n")
    assert "serving" in imported_packages(module)
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
