"""The stacks of the ``suite`` benchmark inside one MPI job: C, mpi4numba, mpi4py, numba-mpi.

:class:`Stacks` owns the buffers every stack shares (allocated and touched once, so no
stack pays for first-touch page faults) and runs one (stack, op, size) measurement,
returning this rank's seconds as ``suite.c`` defines them. C is ``suite.c`` built with
mpicc as a shared library (on rank 0, cached) and called through ctypes; mpi4py runs the
same loops in Python over its buffer API.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._suite_plan import COLLECTIVES, OPS, REDUCTIONS

SOURCE = Path(__file__).with_name("suite.c")
CODE = {op: code for code, op in enumerate(OPS)}  # the op numbers of suite.c


def load_c_library(MPI: Any) -> ctypes.CDLL | str:
    """The C library (rank 0 builds ``suite.c`` with mpicc, every rank loads), or why there is none."""
    from ._cbuild import BuildError, load_library

    try:
        library = load_library(MPI, OPS, "suite_op_name", source=SOURCE)
    except BuildError as exc:
        return str(exc).splitlines()[0]
    library.suite_run.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
    ]
    library.suite_run.restype = ctypes.c_double
    return library


def import_numba_mpi(MPI: Any) -> Any | str:
    """numba-mpi's kernel module, or why it cannot be used; the same answer on every rank."""
    try:
        from . import _suite_numbampi

        module: Any = _suite_numbampi
        error = ""
    except Exception as exc:  # not installed, or its import failed (e.g. no libmpi found)
        module, error = None, f"{type(exc).__name__}: {exc}"
    errors = [e for e in MPI.COMM_WORLD.allgather(error) if e]
    return errors[0] if errors else module


class Stacks:
    """Buffers for sizes up to ``max_size`` and the runners of the stacks in this job."""

    def __init__(
        self, MPI: Any, max_size: int, window: int, c_library: ctypes.CDLL | None, numba_mpi: Any | None
    ) -> None:
        import mpi4numba

        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.rank, self.nprocs = self.comm.Get_rank(), self.comm.Get_size()
        self.window = window
        length = -(-max(4, max_size) * self.nprocs // 4) * 4  # whole int32 elements
        self.a, self.b = np.ones(length, np.uint8), np.ones(length, np.uint8)  # touched now
        self.ack = np.zeros(4, np.uint8)
        self.requests = mpi4numba.request_array(window)
        self.c_library, self.numba_mpi = c_library, numba_mpi
        if numba_mpi is not None:
            self.nm_requests = np.zeros(window, numba_mpi.nm.RequestType)
        self.allocations: float | None = None  # NRT allocations per iteration, last mpi4numba run
        self.runners: dict[str, Callable[[str, int, int, int], float]] = {
            "C": self._run_c,
            "mpi4numba": self._run_mpi4numba,
            "mpi4py": self._run_mpi4py,
            "numba-mpi": self._run_numba_mpi,
        }

    def views(self, op: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Send and receive arrays of ``op`` at ``size`` bytes (per process)."""
        if op in REDUCTIONS:
            return self.a.view(np.int32)[: size // 4], self.b.view(np.int32)[: size // 4]
        total = size * self.nprocs
        if op == "alltoall":
            return self.a[:total], self.b[:total]
        return self.a[:size], self.b[: total if op == "allgather" else size]

    def run(self, stack: str, op: str, size: int, n: int, warmup: int) -> float:
        """Seconds on this rank for ``n`` timed iterations of ``op`` (see suite.c)."""
        return self.runners[stack](op, size, n, warmup)

    def compile(self, ops: list[str]) -> None:
        """Compile the njit kernels of ``ops`` before timing. mpi4numba's are shared out
        among the ranks (one per core), each writing Numba's cache, and then every rank
        loads the rest from that cache; numba-mpi's cannot be cached: each rank compiles."""
        import numba

        from . import _suite_numba

        own, shared = [], []
        for op in ops:
            a, b = self.views(op, 4)
            shared.append((_suite_numba.KERNELS[op], self._kernel_args(a, b, self.requests, 1, 0)))
            shared.append((_suite_numba.arguments, self._kernel_args(a, b, self.requests, 1, 0)))
            if self.numba_mpi is not None and op in self.numba_mpi.KERNELS:
                own.append((self.numba_mpi.KERNELS[op], self._kernel_args(a, b, self.nm_requests, 1, 0)))
        shared = list(
            {(id(kernel), tuple(map(numba.typeof, args))): (kernel, args) for kernel, args in shared}.values()
        )  # each signature once
        workers = max(1, min(self.nprocs, os.cpu_count() or 1))
        for index, (kernel, args) in enumerate(shared):
            if index % workers == self.rank:
                kernel.compile(tuple(map(numba.typeof, args)))
        self.comm.Barrier()
        for kernel, args in shared + own:
            kernel.compile(tuple(map(numba.typeof, args)))
        self.comm.Barrier()

    def _kernel_args(self, a: np.ndarray, b: np.ndarray, requests: np.ndarray, n: int, warmup: int) -> tuple:
        return (a, b, self.ack, requests, n, warmup, self.window, self.rank)

    def _run_njit(
        self, kernels: dict[str, Any], requests: np.ndarray, op: str, size: int, n: int, warmup: int
    ) -> float:
        a, b = self.views(op, size)
        seconds, status = kernels[op](*self._kernel_args(a, b, requests, n, warmup))
        if status != 0:
            raise RuntimeError(f"{op} {size} B: MPI returned status {status}")
        return seconds

    def _run_mpi4numba(self, op: str, size: int, n: int, warmup: int) -> float:
        import numba

        from . import _suite_numba

        if not numba.config.NRT_STATS:
            return self._run_njit(_suite_numba.KERNELS, self.requests, op, size, n, warmup)
        # diagnostics (NUMBA_NRT_STATS=1): heap allocations per loop iteration, less the
        # ones made once per call for passing the arrays in (measured on a no-op kernel)
        from numba.core.runtime import rtsys

        a, b = self.views(op, size)
        before = rtsys.get_allocation_stats().alloc
        _suite_numba.arguments(*self._kernel_args(a, b, self.requests, n, warmup))
        per_call = rtsys.get_allocation_stats().alloc - before
        before = rtsys.get_allocation_stats().alloc
        seconds = self._run_njit(_suite_numba.KERNELS, self.requests, op, size, n, warmup)
        self.allocations = (rtsys.get_allocation_stats().alloc - before - per_call) / (n + warmup)
        return seconds

    def _run_numba_mpi(self, op: str, size: int, n: int, warmup: int) -> float:
        return self._run_njit(self.numba_mpi.KERNELS, self.nm_requests, op, size, n, warmup)

    def _run_c(self, op: str, size: int, n: int, warmup: int) -> float:
        a, b = self.views(op, size)
        status = ctypes.c_int(0)
        seconds = self.c_library.suite_run(
            CODE[op], a.ctypes.data, b.ctypes.data, size, n, warmup, self.window, ctypes.byref(status)
        )
        if status.value != 0:
            raise RuntimeError(f"C {op} {size} B: status {status.value}")
        return seconds

    def _run_mpi4py(self, op: str, size: int, n: int, warmup: int) -> float:
        a, b = self.views(op, size)
        if op in COLLECTIVES:
            return _py_collective(self.MPI, self.comm, op, a, b, n, warmup)
        return _py_point_to_point(self.MPI, self.comm, op, a, b, self.ack, n, warmup, self.window, self.rank)


# --- mpi4py: the loops of suite.c in Python, buffer API with NumPy arrays ---


def _py_point_to_point(
    MPI: Any,
    comm: Any,
    op: str,
    a: np.ndarray,
    b: np.ndarray,
    ack: np.ndarray,
    n: int,
    warmup: int,
    window: int,
    rank: int,
) -> float:
    wtime, waitall = MPI.Wtime, MPI.Request.Waitall
    comm.Barrier()
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = wtime()
        if op == "latency":
            if rank == 0:
                comm.Send(a, 1, 1)
                comm.Recv(b, 1, 1)
            elif rank == 1:
                comm.Recv(b, 0, 1)
                comm.Send(a, 0, 1)
        elif rank == 0:
            waitall([comm.Isend(a, 1, 100) for _ in range(window)])
            comm.Recv(ack, 1, 101)
        elif rank == 1:
            waitall([comm.Irecv(b, 0, 100) for _ in range(window)])
            comm.Send(ack, 0, 101)
    return wtime() - start


def _py_collective(MPI: Any, comm: Any, op: str, a: np.ndarray, b: np.ndarray, n: int, warmup: int) -> float:
    # the bound method and its arguments are looked up once: the loop pays what a user's
    # comm.Allreduce(a, b, MPI.SUM) pays, and no extra Python frame
    method, args = {
        "allreduce": (comm.Allreduce, (a, b, MPI.SUM)),
        "bcast": (comm.Bcast, (a, 0)),
        "reduce": (comm.Reduce, (a, b, MPI.SUM, 0)),
        "allgather": (comm.Allgather, (a, b)),
        "alltoall": (comm.Alltoall, (a, b)),
        "barrier": (comm.Barrier, ()),
    }[op]
    wtime, barrier = MPI.Wtime, comm.Barrier
    barrier()
    total = 0.0
    for i in range(warmup + n):
        start = wtime()
        method(*args)
        elapsed = wtime() - start
        if i >= warmup:
            total += elapsed
        barrier()
    return total
