"""Run the suite under mpiexec: every rank runs every test; a failure anywhere aborts the job.

Rank 0 reports as usual; other ranks stay quiet unless a test fails there. A failing test
prints its traceback with the rank and calls MPI_Abort, because the other ranks may be
blocked in a collective waiting for the failed one (the job must end, never hang).
Tests marked ``driver`` launch their own mpiexec jobs and run in a plain pytest process.
"""

from __future__ import annotations

import functools
import os
import sys

os.environ.setdefault("NUMBA_NRT_STATS", "1")

import pytest


def _under_mpiexec() -> bool:
    return any(key in os.environ for key in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_SIZE"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if not _under_mpiexec():
        return
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() != 0:
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)


def pytest_runtest_logreport(report):
    if not report.failed or not _under_mpiexec():
        return
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    if world.Get_size() > 1:
        sys.stderr.write(f"\n[rank {world.Get_rank()}] FAILED {report.nodeid}\n{report.longreprtext}\n")
        sys.stderr.flush()
        world.Abort(1)


def pytest_collection_modifyitems(config, items):
    """Under Numba's debugging mode (NUMBA_DISABLE_JIT=1) the tests of compiled code itself
    (typing errors, allocations, compiled functions' attributes) do not apply."""
    import numba

    if not numba.config.DISABLE_JIT:
        return
    skip = pytest.mark.skip(reason="about compiled code; NUMBA_DISABLE_JIT=1 compiles nothing of the tests")
    for item in items:
        if "jit_only" in item.keywords:
            item.add_marker(skip)


@functools.cache
def _win_create_refusal() -> str | None:
    """Why this MPI library makes no window over user memory here (asked once, with
    MPI_Win_create on COMM_SELF), or None."""
    from mpi4py import MPI

    from mpi4numba._core.onesided import win_create_refusal

    return win_create_refusal(MPI)


def pytest_runtest_setup(item):
    """Tests marked ``win_create`` are skipped, with the library's reason and what to use
    instead, where the library refuses windows over user memory on ``COMM_SELF`` (Open MPI 4
    at thread level multiple, the level mpi4py initialises MPI at here: it then makes such
    windows only over 2 or more processes of a node, and the tests make both kinds). Every
    rank decides alike."""
    if item.get_closest_marker("win_create") is not None and "driver" not in item.keywords:
        reason = _win_create_refusal()
        if reason:
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _synchronise_ranks(request):
    """Keep ranks in step between tests so that messages of one test never meet another's."""
    if "driver" in request.keywords or not _under_mpiexec():
        yield
        return
    from mpi4py import MPI

    MPI.COMM_WORLD.Barrier()
    yield
    MPI.COMM_WORLD.Barrier()


@pytest.fixture(params=["auto", "pack", "datatype"])
def strided_mode(request):
    """Each way a strided array crosses MPI (``mpi4numba.set_strided``), in turn; a test that
    names this fixture runs once per mode (the mode is read at run time: nothing recompiles)."""
    import mpi4numba

    previous = mpi4numba.set_strided(request.param)
    yield request.param
    mpi4numba.set_strided(previous)


@pytest.fixture
def datatype_mode():
    """Strided arrays through derived datatypes: for tests of that path itself."""
    import mpi4numba

    previous = mpi4numba.set_strided("datatype")
    yield
    mpi4numba.set_strided(previous)
