"""numba-mpi loops of the ``suite`` benchmark (imported only when ``numba_mpi`` is).

The kernels of :mod:`._suite_numba`, written with numba-mpi's calls. numba-mpi works on
``COMM_WORLD`` only, has no ``alltoall`` (:data:`MISSING`) and knows uint8, int32, int64,
float64 and complex dtypes (the suite uses uint8 and int32). Its ``isend``/``irecv``
return a new request array per call (a preallocated one cannot be passed), so the window
loop copies each handle into one preallocated array for ``waitall``. Not cached: numba-mpi
calls MPI through ctypes function pointers, whose addresses differ between processes.
"""

from __future__ import annotations

import numba
import numba_mpi as nm

MISSING = {"alltoall": "numba-mpi has no alltoall"}


@numba.njit
def _timed(start, i, warmup):
    return nm.wtime() - start if i >= warmup else 0.0


@numba.njit
def latency(a, b, ack, requests, n, warmup, window, rank):
    status = nm.barrier()
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = nm.wtime()
        if rank == 0:
            status |= nm.send(a, 1, 1)
            status |= nm.recv(b, 1, 1)
        elif rank == 1:
            status |= nm.recv(b, 0, 1)
            status |= nm.send(a, 0, 1)
    return nm.wtime() - start, status


@numba.njit
def bw(a, b, ack, requests, n, warmup, window, rank):
    status = nm.barrier()
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = nm.wtime()
        if rank == 0:
            for j in range(window):
                code, request = nm.isend(a, 1, 100)
                requests[j] = request[0]
                status |= code
            status |= nm.waitall(requests)
            status |= nm.recv(ack, 1, 101)
        elif rank == 1:
            for j in range(window):
                code, request = nm.irecv(b, 0, 100)
                requests[j] = request[0]
                status |= code
            status |= nm.waitall(requests)
            status |= nm.send(ack, 0, 101)
    return nm.wtime() - start, status


@numba.njit
def allreduce(a, b, ack, requests, n, warmup, window, rank):
    status, total = nm.barrier(), 0.0
    for i in range(warmup + n):
        start = nm.wtime()
        status |= nm.allreduce(a, b, nm.Operator.SUM)
        total += _timed(start, i, warmup)
        status |= nm.barrier()
    return total, status


@numba.njit
def bcast(a, b, ack, requests, n, warmup, window, rank):
    status, total = nm.barrier(), 0.0
    for i in range(warmup + n):
        start = nm.wtime()
        status |= nm.bcast(a, 0)
        total += _timed(start, i, warmup)
        status |= nm.barrier()
    return total, status


@numba.njit
def reduce(a, b, ack, requests, n, warmup, window, rank):
    status, total = nm.barrier(), 0.0
    for i in range(warmup + n):
        start = nm.wtime()
        status |= nm.reduce(a, b, nm.Operator.SUM, 0)
        total += _timed(start, i, warmup)
        status |= nm.barrier()
    return total, status


@numba.njit
def allgather(a, b, ack, requests, n, warmup, window, rank):
    status, total = nm.barrier(), 0.0
    for i in range(warmup + n):
        start = nm.wtime()
        status |= nm.allgather(a, b, a.size)
        total += _timed(start, i, warmup)
        status |= nm.barrier()
    return total, status


@numba.njit
def barrier(a, b, ack, requests, n, warmup, window, rank):
    status, total = nm.barrier(), 0.0
    for i in range(warmup + n):
        start = nm.wtime()
        status |= nm.barrier()
        total += _timed(start, i, warmup)
        status |= nm.barrier()
    return total, status


KERNELS = {"latency": latency, "bw": bw, "allreduce": allreduce, "bcast": bcast, "reduce": reduce,
           "allgather": allgather, "barrier": barrier}
