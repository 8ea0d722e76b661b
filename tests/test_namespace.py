"""One list of names: the package namespace is the public modules' ``__all__``, and the
README's table and the reference pages show exactly those names."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re

import mpi4numba

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mpi4numba"
MODULES = {name: importlib.import_module(f"mpi4numba.{name}") for name in mpi4numba.PUBLIC_MODULES}
EXPORTED = {name: module for module in MODULES for name in MODULES[module].__all__}
# names of the package that are no routine or constant of MPI
PACKAGE_ONLY = {"__version__"}


def test_public_modules_are_the_package_files():
    files = {path.stem for path in PACKAGE.glob("*.py") if not path.stem.startswith("_")}
    assert set(mpi4numba.PUBLIC_MODULES) == files


def test_namespace_is_the_modules_all():
    assert set(mpi4numba.__all__) == set(EXPORTED) | PACKAGE_ONLY
    for module in MODULES.values():
        assert len(set(module.__all__)) == len(module.__all__), module.__name__
    for name, module in EXPORTED.items():
        assert getattr(mpi4numba, name) is getattr(MODULES[module], name), name


def test_namespace_read_without_importing_agrees():
    """``__init__`` reads each ``__all__`` from the source (importing would start MPI)."""
    for module in MODULES:
        assert mpi4numba._declared_names(module) == list(MODULES[module].__all__)


def readme_names() -> set[str]:
    """The names in the README's table, ``scatter(v)`` read as scatter and scatterv
    (``scatter(v)_init`` as scatter_init and scatterv_init),
    ``win_lock(_all)`` as win_lock and win_lock_all, ``ERR_*`` as a pattern."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## What is there", 1)[1].split("\n\n", 2)[1]
    names = set()
    for row in table.splitlines()[2:]:
        cell = row.split("|")[2]
        for written in re.findall(r"`([^`]+)`", cell):
            match = re.fullmatch(r"(\w+)\((\w+)\)(\w*)", written)  # scatter(v)_init: scatter_init, scatterv_init
            names |= {match[1] + match[3], match[1] + match[2] + match[3]} if match else {written}
    return names


def test_readme_table_lists_the_namespace():
    names = readme_names()
    patterns = {name[:-1] for name in names if name.endswith("*")}
    listed = names - {p + "*" for p in patterns}
    namespace = set(mpi4numba.__all__) - PACKAGE_ONLY
    assert listed - namespace == set(), "in the README but not in mpi4numba"
    missing = {name for name in namespace - listed if not name.startswith(tuple(patterns))}
    assert missing == set(), "in mpi4numba but not in the README's table"
    for pattern in patterns:
        assert any(name.startswith(pattern) for name in namespace), pattern


def test_reference_pages_show_every_name():
    """Each public module has one reference page; a name shows there as a member with a
    docstring of its own (rendered by mkdocstrings) or is named in the page's text."""
    pages = {}
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        for module in re.findall(r"^::: mpi4numba\.(\w+)$", page.read_text(), re.M):
            assert module not in pages, f"{module} is on {pages.get(module)} and {page.name}"
            pages[module] = page
    assert set(pages) == set(MODULES)
    for name, module in EXPORTED.items():
        value = getattr(MODULES[module], name)
        documented = (inspect.isroutine(value) or inspect.isclass(value)) and bool(inspect.getdoc(value))
        text = pages[module].read_text()
        named = f"`{name}`" in text or f"`{name.split('_')[0]}_*`" in text
        assert documented or named, f"{name} ({module}) is not shown on {pages[module].name}"
