"""The module graph: no import cycles among fastscan's modules (imports at module level; those
inside functions or under ``TYPE_CHECKING`` do not run at import), and no module below the
package facade imports names from it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "python" / "fastscan"


def _module(path: Path) -> str:
    parts = ["fastscan", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of the module-level imports of fastscan modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, list[str]]] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fastscan"):
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names if a.name.startswith("fastscan"))
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for target, names in _imports(path):
            for name in names or [""]:
                sub = f"{target}.{name}" if name else target
                graph[mod].add(sub if sub in modules else target)
            # Importing `a.b.c` runs the `a.b` package's __init__ first (unless the importer
            # is inside that package, which its __init__ may import in turn).
            parts = target.split(".")
            for i in range(2, len(parts)):
                package = ".".join(parts[:i])
                if package != mod and not mod.startswith(package + "."):
                    graph[mod].add(package)
    return graph


def test_no_import_cycles() -> None:
    graph = _graph()
    packages = {m for m in graph if (PACKAGE / Path(*m.split(".")[1:]) / "__init__.py").exists()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt in packages and nxt != node and node.startswith(nxt + "."):
                continue  # a module of a package importing that package's own facade: below
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif state.get(nxt) is None and nxt in graph:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_no_module_imports_names_from_the_facade() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        mod = _module(path)
        for target, names in _imports(path):
            if target == "fastscan" and path.name != "__init__.py":
                facade = [n for n in names if n not in ("_fastscan", "__version__")]
                if facade:
                    offenders.append(f"{mod}: from fastscan import {', '.join(facade)}")
    assert offenders == []
