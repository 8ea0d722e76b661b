"""MPI inside a benchmark's job: started through mpi4numba, and the name of its thread level.

Shared by ``latency`` and ``suite``, whose stacks all run at the one thread level the job
was started with. Nothing is imported from mpi4numba or mpi4py until MPI is started, so
that a job can set ``MPI4NUMBA_THREAD_LEVEL`` first.
"""

from __future__ import annotations

from typing import Any

LEVEL_NAMES = ("single", "funneled", "serialized", "multiple")  # MPI_THREAD_* in order


def start_mpi(numba: bool) -> Any:
    """Initialise MPI (through mpi4numba, at its thread level, when ``numba``); mpi4py's MPI."""
    if numba:
        import mpi4numba

        mpi4numba.initialized()
    from mpi4py import MPI

    return MPI


def thread_level(MPI: Any) -> str:
    """Name of the thread level MPI provides."""
    values = (MPI.THREAD_SINGLE, MPI.THREAD_FUNNELED, MPI.THREAD_SERIALIZED, MPI.THREAD_MULTIPLE)
    return dict(zip(values, LEVEL_NAMES))[MPI.Query_thread()]
