"""The ``>>>`` examples of every docstring in the package, run as doctests on every rank.

One test per module that has examples, found by walking the package (modules moved into
subpackages are found where they are). A module is imported only if its source holds
``>>>`` (the walk imports packages only, to look inside them). Each docstring's examples run
in a copy of its module's globals, as the standard ``doctest`` module runs them; the public
modules' examples import what they use themselves, so they can be pasted into an interpreter.

Every rank runs every example in the same order, so an example may call collectives. Its
printed output must be the same on every rank and at every job size. An example that fails
on one rank leaves the others in step: doctest goes on with the next examples (collectives
included), then the test fails and the suite aborts the job (see ``conftest.py``).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import sys

import pytest

import mpi4numba
from mpi4numba._core.ccall import usable

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    """Names of the package's modules whose source holds ``>>>`` (read without importing them)."""
    names = []
    for info in pkgutil.walk_packages(mpi4numba.__path__, "mpi4numba."):
        spec = info.module_finder.find_spec(info.name)
        if spec is None or spec.loader is None or not spec.has_location or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, encoding="utf-8") as source:
            if ">>>" in source.read():
                names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()
# their examples make windows over user memory (skipped, with the reason, where the library refuses that)
WINDOW_MODULES = {"mpi4numba.window", "mpi4numba.rma"}
# examples of MPI-4 routines, by the routine they need: left out where the library lacks it
# (Open MPI 4.1) or mpi4numba refuses it there (Intel MPI 2021's persistent collectives)
NEEDS = {
    "mpi4numba.partitioned.parrived": "MPI_Parrived",
    "mpi4numba.partitioned.precv_init": "MPI_Parrived",
    "mpi4numba.partitioned": "MPI_Psend_init",
    "mpi4numba.p2p.isendrecv": "MPI_Isendrecv",
}
# the persistent collectives (barrier_init ... neighbor_alltoallv_init), beside their non-blocking forms
PERSISTENT = re.compile(r"mpi4numba\.(nonblocking|ireductions|neighbor)\.\w+_init$")


def _needs_missing(test_name: str) -> str | None:
    """The MPI-4 routine a docstring's examples need and this library cannot give, if any."""
    for prefix, routine in NEEDS.items():
        if (test_name == prefix or test_name.startswith(prefix + ".")) and not usable(routine):
            return routine
    if PERSISTENT.match(test_name) and not usable("MPI_Allreduce_init"):
        return "MPI_Allreduce_init"
    return None


class _Finder(doctest.DocTestFinder):
    """Reports the lines of the module's source for routines made by ``@api`` too (their
    code object is the wrapper's, in another file): the docstring after their ``def``."""

    def _find_lineno(self, obj, source_lines):
        if inspect.isfunction(obj) and source_lines is not None:
            module = sys.modules.get(obj.__module__)
            if module is not None and obj.__code__.co_filename != getattr(module, "__file__", None):
                lines = iter(enumerate(source_lines))
                for _, line in lines:
                    if line.lstrip().startswith(f"def {obj.__name__}("):
                        break
                for number, line in lines:
                    if re.match(r"\s*\w*(\"|')", line):  # the docstring's first line, as doctest finds it
                        return number
        return super()._find_lineno(obj, source_lines)


def test_modules_are_found():
    """The walk sees the package's public and private modules (also in private subpackages)."""
    assert "mpi4numba.comm" in MODULES and "mpi4numba.window" in MODULES
    assert any("._" in name for name in MODULES)


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.win_create) if name in WINDOW_MODULES else name for name in MODULES]
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    tests = [test for test in _Finder().find(module, name) if test.examples]
    assert tests, f"{name} has '>>>' in its source but doctest finds no examples"
    left_out = [test.name for test in tests if _needs_missing(test.name)]
    tests = [test for test in tests if not _needs_missing(test.name)]
    if not tests:
        pytest.skip(f"the MPI library lacks (or gets wrong) {_needs_missing(left_out[0])}: {len(left_out)} left out")
    if left_out:
        print(f"\n{name}: {len(left_out)} docstrings left out, their MPI-4 routines not usable here")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    argv, path = sys.argv[:], sys.path[:]  # examples of the program runner set them as python does
    try:
        for test in tests:
            runner.run(test, out=report.append)
    finally:
        sys.argv[:], sys.path[:] = argv, path
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} examples failed in {name}:\n" + "".join(report)
