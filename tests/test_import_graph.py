"""No import circle among release/ modules: every import counts (top-level, inside functions, TYPE_CHECKING), read
from the source with `ast`, so a circle hidden behind a lazy import fails too, with its path."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

RELEASE = REPO_ROOT / "release"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def release_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(RELEASE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The release modules `name` imports (`from release import x` counts as release.x when x is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    owners = {_owner(f, modules) for f in found if f.split(".")[0] == "release"}
    return {o for o in owners if o is not None and o != name}


def _owner(dotted: str, modules: dict[str, Path]) -> str | None:
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_reports_the_path() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_resolve_to_modules() -> None:
    modules = release_modules()
    # `from release import catalogue`, `from release.build import report`, `from release.build.apply import ...`
    wanted = {"release.catalogue", "release.build.report", "release.build.apply"}
    assert imports_of("release.build.run", modules["release.build.run"], modules) >= wanted


def test_no_import_circle_among_release_modules() -> None:
    modules = release_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " → ".join(cycle or [])
