"""The timed operations of the latency benchmark, for each stack, run inside an MPI job.

Every stack times the same loops the same way: ``warmup`` untimed iterations, a barrier,
then ``n`` timed iterations between two clock readings (``MPI_Wtime``). For mpi4numba the
loops and the clock readings are inside ``@numba.njit`` code; for mpi4py they are plain
Python over the buffer API with NumPy arrays; for C they are in ``latency.c``, called
through ctypes here (the same code is the program the launcher runs).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np

from ._latency_ops import OPS, P2P, PINGPONG_BYTES

Result = dict[str, float | None]


def buffers(op: str) -> tuple[np.ndarray, np.ndarray]:
    """Send and receive buffers of an operation (the same array where one is enough)."""
    if op in PINGPONG_BYTES:
        a = np.zeros(PINGPONG_BYTES[op], np.uint8)
        return a, a
    if op == "exchange":
        return np.zeros(8, np.uint8), np.zeros(8, np.uint8)
    return np.ones(1), np.zeros(1)


def _microseconds(MPI: Any, op: str, elapsed: float, n: int) -> float | None:
    """Per-operation time from this rank's ``elapsed``; collective over COMM_WORLD."""
    slowest = MPI.COMM_WORLD.reduce(elapsed, op=MPI.MAX, root=0)
    if MPI.COMM_WORLD.Get_rank() != 0:
        return None
    if op in P2P:
        return 1e6 * elapsed / n / (2 if op in PINGPONG_BYTES else 1)
    return 1e6 * slowest / n


def _each_op(
    MPI: Any, iterations: dict[str, int], measure: Callable[[str, np.ndarray, np.ndarray, int], float]
) -> Result:
    """µs of every operation (None: needs 2 processes), from this rank's seconds for ``n``
    timed iterations that ``measure(op, a, b, n)`` returns; meaningful on rank 0."""
    size = MPI.COMM_WORLD.Get_size()
    result: Result = {}
    for op in OPS:
        if op in P2P and size < 2:
            result[op] = None
            continue
        a, b = buffers(op)
        result[op] = _microseconds(MPI, op, measure(op, a, b, iterations[op]), iterations[op])
    return result


# --- mpi4numba: each kernel runs n iterations and returns the OR of the status codes ---


def _numba_kernels() -> tuple[dict[str, Callable], Callable]:
    import numba

    import mpi4numba

    @numba.njit
    def pingpong(a, b, n, rank):
        status = 0
        if rank == 0:
            for _ in range(n):
                status |= mpi4numba.send(a, 1, 0)
                status |= mpi4numba.recv(a, 1, 0)
        elif rank == 1:
            for _ in range(n):
                status |= mpi4numba.recv(a, 0, 0)
                status |= mpi4numba.send(a, 0, 0)
        return status

    @numba.njit
    def allreduce(a, b, n, rank):
        status = 0
        for _ in range(n):
            status |= mpi4numba.allreduce(a, b, mpi4numba.Operator.SUM)
        return status

    @numba.njit
    def bcast(a, b, n, rank):
        status = 0
        for _ in range(n):
            status |= mpi4numba.bcast(a, 0)
        return status

    @numba.njit
    def barrier(a, b, n, rank):
        status = 0
        for _ in range(n):
            status |= mpi4numba.barrier()
        return status

    @numba.njit
    def exchange(a, b, n, rank):
        status = 0
        if rank < 2:
            peer = 1 - rank
            for _ in range(n):
                sent, send_request = mpi4numba.isend(a, peer, 1)
                received, recv_request = mpi4numba.irecv(b, peer, 1)
                status |= sent | received | mpi4numba.waitall((send_request, recv_request))
        return status

    @numba.njit
    def timed(kernel, a, b, n, warmup, rank):
        status = kernel(a, b, warmup, rank) | mpi4numba.barrier()
        start = mpi4numba.wtime()
        status |= kernel(a, b, n, rank)
        return mpi4numba.wtime() - start, status

    kernels = {"allreduce": allreduce, "bcast": bcast, "barrier": barrier, "exchange": exchange}
    kernels.update(dict.fromkeys(PINGPONG_BYTES, pingpong))
    return kernels, timed


_NUMBA: tuple[dict[str, Callable], Callable] | None = None


def run_mpi4numba(MPI: Any, iterations: dict[str, int], warmup: int) -> Result:
    """Time every operation with mpi4numba; the result is meaningful on rank 0."""
    global _NUMBA
    if _NUMBA is None:
        _NUMBA = _numba_kernels()
    kernels, timed = _NUMBA
    rank = MPI.COMM_WORLD.Get_rank()

    def measure(op: str, a: np.ndarray, b: np.ndarray, n: int) -> float:
        elapsed, status = timed(kernels[op], a, b, n, warmup, rank)
        if status != 0:
            raise RuntimeError(f"mpi4numba {op}: MPI returned status {status}")
        return elapsed

    return _each_op(MPI, iterations, measure)


# --- mpi4py: the same loops in Python, buffer API ---


def _py_pingpong(comm: Any, a: np.ndarray, b: np.ndarray, n: int, rank: int) -> None:
    if rank == 0:
        for _ in range(n):
            comm.Send(a, 1, 0)
            comm.Recv(a, 1, 0)
    elif rank == 1:
        for _ in range(n):
            comm.Recv(a, 0, 0)
            comm.Send(a, 0, 0)


def _py_allreduce(comm: Any, a: np.ndarray, b: np.ndarray, n: int, rank: int) -> None:
    from mpi4py import MPI

    for _ in range(n):
        comm.Allreduce(a, b, MPI.SUM)


def _py_bcast(comm: Any, a: np.ndarray, b: np.ndarray, n: int, rank: int) -> None:
    for _ in range(n):
        comm.Bcast(a, 0)


def _py_barrier(comm: Any, a: np.ndarray, b: np.ndarray, n: int, rank: int) -> None:
    for _ in range(n):
        comm.Barrier()


def _py_exchange(comm: Any, a: np.ndarray, b: np.ndarray, n: int, rank: int) -> None:
    from mpi4py import MPI

    if rank < 2:
        peer = 1 - rank
        for _ in range(n):
            MPI.Request.Waitall([comm.Isend(a, peer, 1), comm.Irecv(b, peer, 1)])


_PY_KERNELS: dict[str, Callable] = {
    "allreduce": _py_allreduce,
    "bcast": _py_bcast,
    "barrier": _py_barrier,
    "exchange": _py_exchange,
    **dict.fromkeys(PINGPONG_BYTES, _py_pingpong),
}


def run_mpi4py(MPI: Any, iterations: dict[str, int], warmup: int) -> Result:
    """Time every operation with mpi4py; the result is meaningful on rank 0."""
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()

    def measure(op: str, a: np.ndarray, b: np.ndarray, n: int) -> float:
        kernel = _PY_KERNELS[op]
        kernel(comm, a, b, warmup, rank)
        comm.Barrier()
        start = MPI.Wtime()
        kernel(comm, a, b, n, rank)
        return MPI.Wtime() - start

    return _each_op(MPI, iterations, measure)


# --- C: latency.c as a shared library, in this job ---

_LIBRARY: ctypes.CDLL | None = None


def _c_library(MPI: Any) -> ctypes.CDLL:
    """Build (on rank 0 only, the others wait) and load the C baseline as a library."""
    global _LIBRARY
    if _LIBRARY is None:
        from ._cbuild import load_library

        library = load_library(MPI, OPS, "bench_op_name", flags=("-DBENCH_NO_MAIN",))
        library.bench_latency.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_double)]
        library.bench_latency.restype = ctypes.c_int
        _LIBRARY = library
    return _LIBRARY


def run_c(MPI: Any, iterations: dict[str, int], warmup: int) -> Result:
    """Time every operation with the C baseline in this job; meaningful on rank 0."""
    library = _c_library(MPI)
    usec = (ctypes.c_double * len(OPS))()
    small, large = iterations["pingpong_8"], iterations["pingpong_65536"]
    if library.bench_latency(small, large, warmup, usec) != 0:
        raise MemoryError("latency.c could not allocate its buffers")
    return {op: None if np.isnan(value) else value for op, value in zip(OPS, usec)}


RUNNERS: dict[str, Callable[[Any, dict[str, int], int], Result]] = {
    "C": run_c,
    "mpi4numba": run_mpi4numba,
    "mpi4py": run_mpi4py,
}
