"""The package's layers: each imports only from the layers below it, and nothing forms a cycle.

Read from the sources (every ``import``, also inside functions), so that a late import
cannot hide an edge. The layers, bottom to top (see docs/contributing.md):

0. ``_abi``: the ABI tables of the MPI implementations;
1. ``_core``: start-up, cache key, handles, C prototypes, native types;
2. ``_support``: ``@api``, validation, datatypes, buffers, lowering vocabulary;
3. the public modules (``comm``, ``p2p`` ...), which do not import each other;
4. the package itself, ``__main__`` and ``_tools``;
5. ``bench``: the public API only.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "mpi4numba"
LAYERS = {"_abi": 0, "_core": 1, "_support": 2, "_tools": 4, "bench": 5}
PUBLIC, ENTRY = 3, 4
# modules of a layer may import one another, except the public modules (each stands alone)
INTERNAL_IMPORTS = {0, 1, 2, ENTRY, 5}
# the only imports by name, each of a module in its own layer: the public modules named in
# __init__.PUBLIC_MODULES, and the benchmark chosen on the command line
DYNAMIC_IMPORTS = {"mpi4numba", "mpi4numba.bench"}


def module_name(path: pathlib.Path) -> str:
    parts = ["mpi4numba", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return ENTRY
    return LAYERS.get(parts[1], PUBLIC)


def is_package(module: str) -> bool:
    return SOURCES[module].name == "__init__.py"


def imports(module: str) -> set[str]:
    """The mpi4numba modules that ``module`` imports, anywhere in its source."""
    tree = ast.parse(SOURCES[module].read_text(), str(SOURCES[module]))
    package = module if is_package(module) else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # "from . import x" names a module when x is one
            names = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in SOURCES else origin for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in SOURCES:  # mpi4numba.x.attribute -> mpi4numba.x
                name = name.rpartition(".")[0]
            if name.startswith("mpi4numba") and name != module:
                found.add(name)
    return found


GRAPH = {module: imports(module) for module in SOURCES}


def describe(module: str) -> str:
    return f"{module} (layer {layer(module)})"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_imports_only_from_below(module):
    for target in sorted(GRAPH[module]):
        if target == "mpi4numba" and layer(module) > ENTRY:
            continue  # bench: the public namespace
        here, there = layer(module), layer(target)
        allowed = there < here or (there == here and here in INTERNAL_IMPORTS)
        assert allowed, f"{describe(module)} imports {describe(target)}"
        if here == 5:
            assert there >= PUBLIC, f"the benchmarks use the public API only: {module} imports {target}"


def test_no_import_cycle():
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join([*path, module])
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            visit(target, [*path, module])
        state[module] = "done"
        order.append(module)

    for module in sorted(GRAPH):
        visit(module, [])
    assert len(order) == len(GRAPH)


def _dynamic_imports(module: str):
    tree = ast.parse(SOURCES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called.endswith(("import_module", "__import__")):
                yield node, called


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_import_by_name(module):
    """``import_module("mpi4numba.x")`` is an edge the checks above cannot see."""
    for node, _called in _dynamic_imports(module):
        text = ast.unparse(node)
        assert "mpi4numba." not in text, f"{module}: {text}"
        target = ast.unparse(node.args[0]) if node.args else ""
        if module in DYNAMIC_IMPORTS:
            assert "__name__" in text, f"{module}: {text} (only submodules of {module} by name)"
        else:
            assert target.startswith(("'", '"')) and not target.strip("'\"").startswith("."), (
                f"{module} imports by name: {text}"
            )


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_private_name_crosses_modules(module):
    """What one module offers another is a public name (or a module); a private one is
    a detail of its own module."""
    tree = ast.parse(SOURCES[module].read_text())
    package = module if is_package(module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            origin = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                public = not alias.name.startswith("_") or alias.name.endswith("__")  # __version__ too
                is_module = f"{origin}.{alias.name}" in SOURCES
                assert public or is_module, f"{module} imports {origin}.{alias.name}"


def test_the_check_sees_late_imports():
    """The parser finds imports inside functions, and relative ones from subpackages."""
    assert "mpi4numba._core.runtime" in GRAPH["mpi4numba._core.numbacache"]
    assert "mpi4numba._core.runtime" in GRAPH["mpi4numba._tools.info"]
    assert "mpi4numba._support.api" in GRAPH["mpi4numba.p2p"]
